"""Point-in-time correctness: for every feature family, records after D change nothing at D."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import duckdb
import pytest
from helpers.core_tables import add_patient, events, features_at, insert, new_core_db

from features.dictionary import FAMILIES, FEATURES

D = date(2024, 6, 30)
LATER = date(2025, 6, 30)  # a later index date at which the "after D" records do count
P = "p1"


def _history(con: duckdb.DuckDBPyConnection) -> None:
    """A patient with records of every kind before D (so every family has something to lose)."""
    add_patient(con, P, birth_month="1938-04-01", lsoa_code="E01000001")
    insert(con, "core_lsoa_imd", [{"lsoa_code": "E01000001", "imd_decile": 3}])
    insert(
        con,
        "core_gp_events",
        events(
            P,
            ("2020-01-01", "160689007"),  # housebound
            ("2021-03-01", "1912002"),  # fall (eFI falls; falls code)
            ("2024-02-01", "1912002"),
            ("2022-01-01", "1011481000000105", 52.0),  # eGFR 52
            ("2023-05-01", "763264000", 6.0),  # CFS 6
            ("2019-01-01", "105529008"),  # lives alone
            ("2019-01-01", "304253006"),  # not for resuscitation
        ),
    )
    insert(
        con,
        "core_gp_medications",
        [
            {"patient_id": P, "issue_date": "2024-03-01", "bnf_code": f"0{i}01000A0AAAAAA"}
            for i in range(1, 5)
        ],
    )
    insert(
        con,
        "core_acute_spells",
        [
            {
                "spell_id": "s1",
                "patient_id": P,
                "admission_date": "2024-05-01",
                "discharge_date": "2024-05-08",
                "admission_method": "21",
            },
            {
                "spell_id": "s2",
                "patient_id": P,
                "admission_date": "2024-06-25",
                "discharge_date": None,
                "admission_method": "22",
            },
        ],
    )
    insert(
        con,
        "core_acute_diagnoses",
        [
            {
                "spell_id": "s1",
                "patient_id": P,
                "admission_date": "2024-05-01",
                "diagnosis_position": 1,
                "icd10_code": "F001",
            }
        ],
    )
    insert(
        con,
        "core_ae_attendances",
        [
            {
                "attendance_id": "a1",
                "patient_id": P,
                "arrival_datetime": "2024-05-01 10:00",
                "is_planned": False,
                "accommodation_status_snomed": "160734000",
            }
        ],
    )
    insert(
        con,
        "core_community_contacts",
        [
            {
                "contact_id": "c1",
                "patient_id": P,
                "referral_id": "r1",
                "contact_datetime": "2024-06-01 09:00",
                "team_type": "urgent_community_response",
            }
        ],
    )
    insert(
        con,
        "core_social_care_services",
        [
            {
                "patient_id": P,
                "service_type": "home_care",
                "start_date": "2023-01-01",
                "end_date": None,
                "planned_hours_per_week": 7.5,
            }
        ],
    )
    insert(con, "core_caseload", [{"patient_id": P, "team": "t1", "start_date": "2024-01-01"}])


def _after_demographics(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("update core.core_patients set date_of_death = date '2024-07-10'")
    add_patient(con, "newcomer", registration_start_date="2024-07-01")


def _after_circumstances(con: duckdb.DuckDBPyConnection) -> None:
    insert(
        con,
        "core_gp_events",
        events(
            P,
            ("2024-07-01", "760661000000106"),  # no longer housebound
            ("2024-07-02", "248171000000108"),  # lives in care home
            ("2024-07-03", "304252001"),  # for resuscitation
            ("2024-07-04", "763264000", 9.0),  # CFS 9
            ("2024-07-05", "133932002"),  # carer
            ("2024-07-05", "276039008"),  # no carer
            ("2024-07-06", "52448006"),  # dementia
        ),
    )
    insert(
        con,
        "core_ae_attendances",
        [
            {
                "attendance_id": "a9",
                "patient_id": P,
                "arrival_datetime": "2024-07-09 08:00",
                "is_planned": True,
                "accommodation_status_snomed": "1234567",
            }
        ],
    )
    insert(con, "core_caseload", [{"patient_id": P, "team": "t2", "start_date": "2024-07-01"}])
    con.execute("update core.core_caseload set end_date = date '2024-08-01' where team = 't1'")
    con.execute(
        "update core.core_acute_spells set discharge_date = date '2024-07-02' where spell_id = 's2'"
    )


def _after_efi(con: duckdb.DuckDBPyConnection) -> None:
    insert(
        con,
        "core_gp_events",
        events(
            P,
            ("2024-07-01", "1201005"),  # hypertension
            ("2024-07-01", "3723001"),  # arthritis
            ("2024-07-02", "1011481000000105", 80.0),  # a normal eGFR after D
            ("2024-07-03", "273302005", 10.0),  # Barthel 10
        ),
    )
    insert(
        con,
        "core_gp_medications",
        [{"patient_id": P, "issue_date": "2024-07-01", "bnf_code": "0901000A0AAAAAA"}],
    )


def _after_hfrs(con: duckdb.DuckDBPyConnection) -> None:
    insert(
        con,
        "core_acute_spells",
        [
            {
                "spell_id": "s9",
                "patient_id": P,
                "admission_date": "2024-07-01",
                "discharge_date": "2024-07-05",
                "admission_method": "11",
            }
        ],
    )
    insert(
        con,
        "core_acute_diagnoses",
        [
            {
                "spell_id": "s9",
                "patient_id": P,
                "admission_date": "2024-07-01",
                "diagnosis_position": i,
                "icd10_code": code,
            }
            for i, code in enumerate(["G819", "W19", "R296"], start=1)
        ],
    )


def _after_acute(con: duckdb.DuckDBPyConnection) -> None:
    insert(
        con,
        "core_acute_spells",
        [
            {
                "spell_id": "s7",
                "patient_id": P,
                "admission_date": "2024-07-01",
                "discharge_date": "2024-07-10",
                "admission_method": "21",
            },
            {
                "spell_id": "s8",
                "patient_id": P,
                "admission_date": "2024-08-01",
                "discharge_date": "2024-08-02",
                "admission_method": "12",
            },
        ],
    )
    con.execute(
        "update core.core_acute_spells set discharge_date = date '2024-07-05' where spell_id = 's2'"
    )


def _after_urgent_care(con: duckdb.DuckDBPyConnection) -> None:
    insert(
        con,
        "core_ae_attendances",
        [
            {
                "attendance_id": f"a{i}",
                "patient_id": P,
                "arrival_datetime": f"2024-07-0{i} 23:59",
                "is_planned": False,
            }
            for i in range(2, 5)
        ],
    )
    insert(con, "core_gp_events", events(P, ("2024-07-01", "40104005"), ("2024-07-02", "1912002")))


def _after_community(con: duckdb.DuckDBPyConnection) -> None:
    insert(
        con,
        "core_community_contacts",
        [
            {
                "contact_id": "c2",
                "patient_id": P,
                "referral_id": "r1",
                "contact_datetime": "2024-07-01 00:00",
                "team_type": "urgent_community_response",
            },
            {
                "contact_id": "c3",
                "patient_id": P,
                "referral_id": "r2",
                "contact_datetime": "2024-07-02 10:00",
                "team_type": "reablement",
            },
            {
                "contact_id": "c4",
                "patient_id": P,
                "referral_id": "r3",
                "contact_datetime": "2024-07-03 10:00",
                "team_type": "district_nursing",
                "is_attended": False,
            },
        ],
    )


def _after_social_care(con: duckdb.DuckDBPyConnection) -> None:
    insert(
        con,
        "core_social_care_services",
        [
            {
                "patient_id": P,
                "service_type": "reablement",
                "start_date": "2024-07-01",
                "planned_hours_per_week": 10.0,
            },
            {"patient_id": P, "service_type": "nursing_care", "start_date": "2024-08-01"},
        ],
    )
    con.execute(
        "update core.core_social_care_services set end_date = date '2024-07-15' "
        "where service_type = 'home_care'"
    )


def _after_medicines(con: duckdb.DuckDBPyConnection) -> None:
    insert(
        con,
        "core_gp_medications",
        [
            {"patient_id": P, "issue_date": "2024-07-01", "bnf_code": f"1{i}01000A0AAAAAA"}
            for i in range(0, 4)
        ],
    )


AFTER_D: dict[str, Callable[[duckdb.DuckDBPyConnection], None]] = {
    "demographics": _after_demographics,
    "circumstances": _after_circumstances,
    "efi": _after_efi,
    "hfrs": _after_hfrs,
    "acute": _after_acute,
    "urgent_care": _after_urgent_care,
    "community": _after_community,
    "social_care": _after_social_care,
    "medicines": _after_medicines,
}


def test_every_family_has_a_point_in_time_case() -> None:
    assert set(AFTER_D) == set(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_ignores_events_after_index_date(family: str) -> None:
    con = new_core_db()
    _history(con)
    before = features_at(con, D, LATER)
    AFTER_D[family](con)
    after = features_at(con, D, LATER)
    # nothing at D moved, in any column, for anyone
    assert {k: v for k, v in after.items() if k[1] == D} == {
        k: v for k, v in before.items() if k[1] == D
    }
    # ... while the same records do change this family's features at a later date
    columns = [f.name for f in FEATURES if f.family == family]
    if family == "demographics":
        assert (P, LATER) not in after  # died after D: gone from the later cohort
        assert ("newcomer", LATER) in after
        return
    changed = [c for c in columns if after[(P, LATER)][c] != before[(P, LATER)][c]]
    assert changed, f"the {family} records after D never mattered: the test proves nothing"


def test_history_gives_the_expected_values_at_d() -> None:
    con = new_core_db()
    _history(con)
    row = features_at(con, D)[(P, D)]
    expected = {
        "age": 86,
        "imd_decile": 3,
        "housebound": True,
        "is_care_home_resident": True,  # A&E accommodation status: nursing home
        "lives_alone": True,
        "has_dnacpr": True,
        "cfs_latest": 6.0,
        "on_caseload": True,
        "in_hospital": True,
        "efi_falls": 1,
        "efi_ckd": 1,
        "efi_housebound": 1,
        "efi_deficit_count": 4,  # falls, CKD (eGFR 52), housebound, lives alone (social)
        "hfrs": 7.1,
        "n_emergency_admissions_30d": 1,
        "n_emergency_admissions_90d": 2,
        "emergency_bed_days_365d": 7 + 5,
        "days_since_last_emergency_discharge": 53,
        "n_ae_unplanned_90d": 1,
        "n_falls_365d": 1,
        "n_contacts_urgent_community_response_90d": 1,
        "n_ucr_referrals_365d": 1,
        "social_care_hours_per_week": 7.5,
        "has_home_care": True,
        "n_distinct_medicines_12m": 4,
        "efi_polypharmacy": 0,
    }
    assert {k: row[k] for k in expected} == expected
