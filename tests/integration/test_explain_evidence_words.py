"""Integration: evidence reaches `explain` (JSON, text, HTML) in the clinician's words.

One patient's hospital spells, A&E attendances and community contacts go through the real
evidence SQL and scoring; what `explain` shows is then read back as a person would.
"""

from __future__ import annotations

import html
from datetime import date

import numpy as np
import pytest
from helpers.core_tables import (
    ELECTIVE_METHODS,
    EMERGENCY_METHODS,
    add_patient,
    insert,
    new_core_db,
)

from features.codelists import load_codelists
from foundation.warehouse import query_model
from models.explain import explain_patient
from models.scoring import ScoredRows, write_scored
from pipelines.commands.explain import render_html, render_text

AS_OF = date(2026, 11, 16)
TIERS = (("very_high", 0.70), ("high", 0.50), ("moderate", 0.30), ("low", 0.0))
NAMES = [
    "n_emergency_admissions_365d",
    "n_elective_admissions_365d",
    "n_ae_unplanned_365d",
    "n_community_contacts_90d",
    "efi",
    "hfrs",
]
VALUES = [2.0, 1.0, 2.0, 1.0, 11 / 36, 12.299999999999999]


def _attendance(attendance_id: str, day: str, **columns: str) -> dict:
    """One unplanned A&E attendance of p1 at 10:00 on `day`."""
    return {
        "attendance_id": attendance_id,
        "patient_id": "p1",
        "arrival_datetime": f"{day} 10:00",
        "is_planned": False,
        **columns,
    }


@pytest.fixture(scope="module")
def doc():
    con = new_core_db()
    load_codelists(con)
    add_patient(con, "p1", nhs_number="9434765919")
    insert(
        con,
        "core_acute_spells",
        [
            {
                "spell_id": "s1",
                "patient_id": "p1",
                "admission_date": "2026-09-01",
                "discharge_date": "2026-09-05",
                "admission_method": "21",
                "primary_diagnosis": "J189",
            },
            {
                "spell_id": "s2",
                "patient_id": "p1",
                "admission_date": "2026-06-01",
                "discharge_date": "2026-06-03",
                "admission_method": "2A",
                "primary_diagnosis": "S7200",  # UK 5th character: S72.0's description
            },
            {
                "spell_id": "s3",
                "patient_id": "p1",
                "admission_date": "2026-03-01",
                "discharge_date": "2026-03-02",
                "admission_method": "11",
                "primary_diagnosis": "R074",
            },
        ],
    )
    insert(
        con,
        "core_acute_diagnoses",
        [
            {
                "spell_id": "s1",
                "patient_id": "p1",
                "admission_date": "2026-09-01",
                "diagnosis_position": 2,
                "icd10_code": "F001",
            }
        ],
    )
    insert(
        con,
        "core_ae_attendances",
        [
            # 1912002 Fall is in the falls code list; 29857009 is in none
            _attendance("a1", "2026-10-01", chief_complaint_snomed="1912002"),
            _attendance("a2", "2026-08-01", chief_complaint_snomed="29857009"),
        ],
    )
    insert(
        con,
        "core_community_contacts",
        [
            {
                "contact_id": "c1",
                "patient_id": "p1",
                "contact_datetime": "2026-11-01 09:00",
                "team_type": "district_nursing",
            }
        ],
    )
    con.execute(
        "create table features.feat_patients as select 'p1' as patient_id,"
        " date '2026-11-16' as index_date, 'NB01' as neighbourhood_code"
    )
    rows = ScoredRows(
        patient_ids=["p1"],
        values=np.array([VALUES]),
        raw_score=np.array([1.55]),
        risk_score=np.array([0.8]),
        # five reasons at most: eFI (the smallest) is a feature, not a reason
        contributions=np.array([[0.5, 0.4, 0.3, 0.2, 0.05, 0.1]]),
        base_value=np.array([0.0]),
    )
    write_scored(con, "test-model", NAMES, AS_OF, rows, TIERS)
    explained = explain_patient(con, "p1", AS_OF)
    con.close()
    assert explained is not None
    return {"nhs_number": "9434765919", **explained}


def _evidence(doc, feature):
    (reason,) = [r for r in doc["reasons"] if r["feature"] == feature]
    return [(e["code"], e["term"]) for e in reason["evidence"]]


def test_an_admission_reads_kind_then_diagnosis_code_and_description(doc):
    assert _evidence(doc, "n_emergency_admissions_365d") == [
        ("J18.9", "Emergency admission: J18.9 Pneumonia, unspecified"),
        ("S72.00", "Emergency admission: S72.00 Fracture of neck of femur"),
    ]
    assert _evidence(doc, "n_elective_admissions_365d") == [
        ("R07.4", "Elective admission: R07.4 Chest pain, unspecified"),
    ]


def test_no_evidence_code_is_an_administrative_code(doc):
    codes = {e["code"] for r in doc["reasons"] for e in r["evidence"]}
    assert codes.isdisjoint({*EMERGENCY_METHODS, *ELECTIVE_METHODS, "district_nursing"})
    assert _evidence(doc, "n_community_contacts_90d") == [
        ("", "Community contact: district nursing")
    ]


def test_an_ae_attendance_names_its_chief_complaint_where_a_code_list_does(doc):
    assert _evidence(doc, "n_ae_unplanned_365d") == [
        ("1912002", "Unplanned A&E attendance: Fall"),
        ("29857009", "Unplanned A&E attendance: chief complaint 29857009"),
    ]


def test_hfrs_diagnoses_keep_the_code_list_term_with_a_dotted_code(doc):
    assert _evidence(doc, "hfrs") == [("F00.1", "Dementia in Alzheimer's disease (HFRS 7.1)")]


def test_json_keeps_numbers_rounded_only_past_float_noise(doc):
    values = {f["name"]: f["value"] for f in doc["features"]}
    assert values["efi"] == 0.3056
    assert values["hfrs"] == 12.3
    assert values["n_emergency_admissions_365d"] == 2


def test_text_and_html_show_the_same_words_and_rounded_values(doc):
    text = render_text(doc)
    page = html.unescape(render_html(doc))
    for reason in doc["reasons"]:
        assert reason["text"] in text
        assert reason["text"] in page
        for e in reason["evidence"]:
            assert e["term"] in text
            assert f"<td>{e['code']}</td><td>{e['term']}</td>" in page
    efi_line = next(line for line in text.splitlines() if "[efi]" in line)
    assert "0.31" in efi_line and "Electronic Frailty Index (Clegg 2016)" in efi_line
    assert "0.3055" not in text and "0.3055" not in page
    assert "Electronic Frailty Index (Clegg 2016)" in page
    assert ">0.31<" in page and ">12.3<" in page


def test_a_social_care_package_is_named_in_words_without_a_code():
    con = new_core_db()
    add_patient(con, "p1")
    insert(
        con,
        "core_social_care_services",
        [
            {
                "patient_id": "p1",
                "service_type": "home_care",
                "start_date": "2026-01-01",
                "planned_hours_per_week": 10.0,
            },
            {
                "patient_id": "p1",
                "service_type": "nursing_care",
                "start_date": "2026-02-01",
                "planned_hours_per_week": 7.5,
            },
        ],
    )
    rows = query_model(con, "evid_social_care", {"as_of": AS_OF, "patient_ids": ["p1"]}).fetchall()
    con.close()
    found = {(r[2], r[5], r[6]) for r in rows}  # feature, code, term
    assert ("has_home_care", None, "Home care, 10 hours a week") in found
    assert ("has_care_home_placement", None, "Nursing care, 7.5 hours a week") in found


def test_an_ae_accommodation_status_says_where_the_patient_lives():
    con = new_core_db()
    load_codelists(con)
    add_patient(con, "p1")
    insert(
        con,
        "core_ae_attendances",
        [_attendance("a1", "2026-10-01", accommodation_status_snomed="160734000")],
    )
    rows = query_model(con, "evid_gp_records", {"as_of": AS_OF, "patient_ids": ["p1"]}).fetchall()
    con.close()
    assert [(r[2], r[5], r[6]) for r in rows] == [
        ("is_care_home_resident", "160734000", "A&E accommodation status: Lives in a nursing home")
    ]
