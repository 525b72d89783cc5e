"""eFI (Clegg 2016) per deficit on hand-built patients: code lists, value rules, polypharmacy."""

from __future__ import annotations

from datetime import date

import pytest
from helpers.core_tables import add_patient, events, features_on, insert, new_core_db

from foundation.warehouse import query_model

D = date(2024, 6, 30)

# One code per code-based deficit, from efi_deficits_snomed.csv, each in no other deficit's list.
DEFICIT_CODES = {
    "activity-limitation": "21134002",  # Disability
    "anaemia": "3978000",  # Warm autoimmune hemolytic anemia
    "arthritis": "3723001",  # Arthritis
    "atrial-fibrillation": "5370000",  # Atrial flutter
    "stroke-tia": "1508000",  # Intracerebral hemorrhage
    "ckd": "29738008",  # Proteinuria
    "diabetes": "4855003",  # Retinopathy due to diabetes mellitus
    "dizziness": "7956006",  # Psychogenic vertigo
    "dyspnoea": "60845006",  # Dyspnea on exertion
    "falls": "1912002",  # Fall
    "foot-problems": "47850008",  # Hard corn
    "fragility-fracture": "5913000",  # Fracture of neck of femur
    "hearing-loss": "6012004",  # Hearing aid
    "heart-failure": "10633002",  # Acute congestive heart failure
    "heart-valve-disease": "48724000",  # Mitral valve regurgitation
    "housebound": "160689007",  # Housebound
    "hypertension": "1201005",  # Benign essential hypertension
    "hypotension": "3006004",  # Disturbance of consciousness
    "chd": "1755008",  # Old myocardial infarction
    "cognitive-problems": "281004",  # Dementia associated with alcoholism
    "mobility-problems": "8510008",  # Reduced mobility
    "osteoporosis": "14651005",  # Drug-induced osteoporosis
    "parkinsons": "4223005",  # Parkinsonism caused by drug
    "peptic-ulcer": "3483000",  # Chronic peptic ulcer with perforation
    "pvd": "81817003",  # Atherosclerosis of aorta
    "care-requirement": "160733006",  # Nursing or other home
    "respiratory-disease": "10713006",  # Diffuse interstitial rheumatoid disease of lung
    "skin-ulcer": "324007",  # Plaster ulcer
    "sleep-disturbance": "3745000",  # Sleep-wake schedule disorder
    "social-vulnerability": "33553000",  # Widowed
    "thyroid-disorders": "3716002",  # Goiter
    "urinary-incontinence": "22220005",  # Genuine stress incontinence
    "urinary-system-disease": "11441004",  # Prostatism
    "vision-problems": "264008",  # Blind hypertensive eye
    "weight-loss": "64379006",  # Decrease in appetite
}

ALL_DEFICIT_COLUMNS = [f"efi_{slug.replace('-', '_')}" for slug in DEFICIT_CODES] + [
    "efi_polypharmacy"
]


def _column(slug: str) -> str:
    return f"efi_{slug.replace('-', '_')}"


@pytest.mark.parametrize(("slug", "code"), sorted(DEFICIT_CODES.items()))
def test_each_code_based_deficit_counts_once_when_recorded_on_or_before_d(
    slug: str, code: str
) -> None:
    con = new_core_db()
    add_patient(con, "on_d")
    add_patient(con, "before")
    add_patient(con, "after")
    insert(con, "core_gp_events", events("on_d", ("2024-06-30", code)))
    insert(con, "core_gp_events", events("before", ("2001-02-03", code), ("2020-01-01", code)))
    insert(con, "core_gp_events", events("after", ("2024-07-01", code)))
    rows = features_on(con, D)
    for pid, expected in (("on_d", 1), ("before", 1), ("after", 0)):
        row = rows[pid]
        assert row[_column(slug)] == expected, pid
        assert row["efi_deficit_count"] == expected
        assert sum(row[c] for c in ALL_DEFICIT_COLUMNS) == expected
        assert row["efi"] == pytest.approx(expected / 36)


# observation code, sex, value, expected deficit (or None for no deficit)
VALUE_CASES = [
    ("barthel 18", "273302005", "2", 18.0, "activity-limitation"),
    ("barthel 19", "273302005", "2", 19.0, None),
    ("Hb male 129 g/L", "1022431000000105", "1", 129.0, "anaemia"),
    ("Hb male 130 g/L", "1022431000000105", "1", 130.0, None),
    ("Hb male 12.9 g/dL", "1022431000000105", "1", 12.9, "anaemia"),
    ("Hb male 13.0 g/dL", "1022431000000105", "1", 13.0, None),
    ("Hb female 114 g/L", "271026005", "2", 114.0, "anaemia"),
    ("Hb female 115 g/L", "271026005", "2", 115.0, None),
    ("Hb female 125 g/L", "1022431000000105", "2", 125.0, None),
    ("Hb female 11.4 g/dL", "1022431000000105", "2", 11.4, "anaemia"),
    ("Hb female 11.5 g/dL", "1022431000000105", "2", 11.5, None),
    ("Hb sex unknown 90 g/L", "1022431000000105", "9", 90.0, None),
    ("eGFR 59", "1011481000000105", "2", 59.0, "ckd"),
    ("eGFR 60", "1020291000000106", "2", 60.0, None),
    ("urine ACR 3.1", "1023491000000104", "2", 3.1, "ckd"),
    ("urine ACR 3.0", "1023491000000104", "2", 3.0, None),
    ("urine ACR measurement 3.1", "271075006", "2", 3.1, "ckd"),
    ("urine PCR 50.1", "1028731000000100", "2", 50.1, "ckd"),
    ("urine PCR 50", "1028731000000100", "2", 50.0, None),
    ("urine protein/creatinine index 51", "1030991000000102", "2", 51.0, "ckd"),
    ("urine protein/creatinine index 50", "401095009", "2", 50.0, None),
    ("urine albumin 20.1", "1003301000000109", "2", 20.1, "ckd"),
    ("urine albumin 20", "271000000", "2", 20.0, None),
    ("urine microalbumin 3.1", "1010251000000109", "2", 3.1, "ckd"),
    ("urine microalbumin 3", "46716003", "2", 3.0, None),
    ("24h urine protein output 151", "1016051000000101", "2", 151.0, "ckd"),
    ("24h urine protein output 150", "1016051000000101", "2", 150.0, None),
    ("24h urine protein excretion test 400", "1028571000000106", "2", 400.0, "ckd"),
    ("falls in 12 months 1", "408594007", "2", 1.0, "falls"),
    ("falls in 12 months 0", "408594007", "2", 0.0, None),
    ("ABPM diastolic 86", "314462001", "2", 86.0, "hypertension"),
    ("ABPM diastolic 85", "314462001", "2", 85.0, None),
    ("ABPM systolic 136", "314449000", "2", 136.0, "hypertension"),
    ("ABPM systolic 135", "314449000", "2", 135.0, None),
    ("6CIT 8", "1085151000000108", "2", 8.0, "cognitive-problems"),
    ("6CIT 7", "1085151000000108", "2", 7.0, None),
    ("hip T-score -2.5", "1036881000000108", "2", -2.5, "osteoporosis"),
    ("hip T-score -2.4", "1036881000000108", "2", -2.4, None),
    ("ABPI 0.94", "446841001", "2", 0.94, "pvd"),
    ("ABPI 0.95", "446841001", "2", 0.95, None),
    ("TSH 0.35", "1022791000000101", "2", 0.35, "thyroid-disorders"),
    ("TSH 0.36", "1022791000000101", "2", 0.36, None),
    ("TSH 5.6", "1022791000000101", "2", 5.6, "thyroid-disorders"),
    ("TSH 5.5", "1022791000000101", "2", 5.5, None),
    ("TSH level 0.3", "1027151000000105", "2", 0.3, "thyroid-disorders"),
    ("serum TSH measurement 6", "313440008", "2", 6.0, "thyroid-disorders"),
    ("MUST 1", "870431003", "2", 1.0, "weight-loss"),
    ("MUST 0", "444297006", "2", 0.0, None),
    ("CHADS2 0 (any AF score)", "1085111000000109", "2", 0.0, "atrial-fibrillation"),
    ("CHADS2 3 (any AF score)", "763008007", "2", 3.0, "atrial-fibrillation"),
    # CHA2DS2-VASc (735258002) is not the published CHADS2 rule (Read 38DE. / CTV3 XaP9J)
    ("CHA2DS2-VASc 4 is not a CHADS2 score", "735258002", "2", 4.0, None),
]


@pytest.mark.parametrize(
    ("label", "code", "sex", "value", "deficit"), VALUE_CASES, ids=[c[0] for c in VALUE_CASES]
)
def test_value_rules_on_latest_value(
    label: str, code: str, sex: str, value: float, deficit: str | None
) -> None:
    con = new_core_db()
    add_patient(con, "p", sex=sex)
    insert(con, "core_gp_events", events("p", ("2023-01-10", code, value)))
    row = features_on(con, D)["p"]
    expected_count = 0 if deficit is None else 1
    assert row["efi_deficit_count"] == expected_count, label
    if deficit is not None:
        assert row[_column(deficit)] == 1, label


def test_af_score_without_a_value_still_counts() -> None:
    con = new_core_db()
    add_patient(con, "p")
    insert(con, "core_gp_events", events("p", ("2023-01-10", "763007002")))
    assert features_on(con, D)["p"]["efi_atrial_fibrillation"] == 1


def _value_deficits(con) -> set[tuple[str, str]]:
    rows = con.execute(
        "select patient_id, deficit_slug from features.int_efi_value_deficits"
    ).fetchall()
    return {(pid, slug) for pid, slug in rows}


def test_copd_exacerbation_count_rule_and_its_code_list_membership() -> None:
    # Rule: COPD exacerbations in the last 12 months >= 1 (latest value on or before D).
    # 723245007 is also in the respiratory disease code list (mapped by gm-sde), so any
    # record of it gives the deficit even with a count of 0: the value rule adds nothing today.
    con = new_core_db()
    for pid in ("one", "zero", "one_then_zero", "one_after_d"):
        add_patient(con, pid)
    copd = "723245007"
    insert(con, "core_gp_events", events("one", ("2023-01-10", copd, 1)))
    insert(con, "core_gp_events", events("zero", ("2023-01-10", copd, 0)))
    insert(
        con,
        "core_gp_events",
        events("one_then_zero", ("2022-01-10", copd, 2), ("2023-01-10", copd, 0)),
    )
    insert(con, "core_gp_events", events("one_after_d", ("2024-07-01", copd, 3)))
    rows = features_on(con, D)
    assert _value_deficits(con) == {("one", "respiratory-disease")}
    assert {pid: rows[pid]["efi_respiratory_disease"] for pid in rows} == {
        "one": 1,
        "zero": 1,
        "one_then_zero": 1,
        "one_after_d": 0,
    }
    assert all(
        rows[pid]["efi_deficit_count"] == rows[pid]["efi_respiratory_disease"] for pid in rows
    )


def test_evidence_shows_a_rule_observation_once_with_its_value() -> None:
    # 723245007 is in the respiratory code list and is the COPD rule's observation: one row
    con = new_core_db()
    add_patient(con, "p")
    insert(
        con,
        "core_gp_events",
        events("p", ("2023-01-10", "723245007", 2), ("2023-02-10", "1028731000000100", 60)),
    )
    features_on(con, D)
    rows = query_model(con, "evid_gp_records", {"as_of": D, "patient_ids": ["p"]}).fetchall()
    got = sorted((r[2], r[5], r[6]) for r in rows)
    assert got == [
        ("efi_ckd", "1028731000000100", "Urine protein/creatinine ratio: 60.0"),
        (
            "efi_respiratory_disease",
            "723245007",
            "Number of chronic obstructive pulmonary disease exacerbations in past year: 2.0",
        ),
    ]


def test_urine_pcr_rule_reads_the_latest_value_on_or_before_d() -> None:
    con = new_core_db()
    for pid in ("recovered", "worsened", "abnormal_after_d"):
        add_patient(con, pid)
    pcr = "1028731000000100"
    index = "1030991000000102"  # urine protein/creatinine index: the same observation
    insert(
        con,
        "core_gp_events",
        events("recovered", ("2022-01-01", pcr, 80), ("2023-01-01", index, 20)),
    )
    insert(
        con,
        "core_gp_events",
        events("worsened", ("2022-01-01", index, 20), ("2023-01-01", pcr, 80)),
    )
    insert(
        con,
        "core_gp_events",
        events("abnormal_after_d", ("2023-01-01", pcr, 20), ("2024-07-01", pcr, 80)),
    )
    rows = features_on(con, D)
    assert {pid: rows[pid]["efi_ckd"] for pid in rows} == {
        "recovered": 0,
        "worsened": 1,
        "abnormal_after_d": 0,
    }
    assert _value_deficits(con) == {("worsened", "ckd")}


def test_each_ckd_value_rule_is_judged_on_its_own_latest_value() -> None:
    # a normal ACR after an abnormal microalbumin does not clear the microalbumin rule
    con = new_core_db()
    add_patient(con, "p")
    insert(
        con,
        "core_gp_events",
        events("p", ("2022-01-01", "1010251000000109", 5), ("2023-01-01", "1023491000000104", 1)),
    )
    assert features_on(con, D)["p"]["efi_ckd"] == 1


def test_a_later_normal_value_replaces_an_abnormal_one() -> None:
    con = new_core_db()
    add_patient(con, "recovered")  # eGFR 45 then 75: no CKD by value at D
    add_patient(con, "worsened")  # eGFR 75 then 45: CKD
    add_patient(con, "same_day")  # two values on the latest day, one abnormal: CKD
    add_patient(con, "future")  # eGFR 75, then 45 after D: no CKD at D
    egfr = "1011481000000105"
    insert(
        con,
        "core_gp_events",
        events("recovered", ("2022-01-01", egfr, 45), ("2023-01-01", egfr, 75)),
    )
    insert(
        con,
        "core_gp_events",
        events("worsened", ("2022-01-01", egfr, 75), ("2023-01-01", egfr, 45)),
    )
    insert(
        con,
        "core_gp_events",
        events("same_day", ("2023-01-01", egfr, 75), ("2023-01-01", egfr, 45)),
    )
    insert(
        con, "core_gp_events", events("future", ("2023-01-01", egfr, 75), ("2024-07-01", egfr, 45))
    )
    rows = features_on(con, D)
    assert {pid: rows[pid]["efi_ckd"] for pid in rows} == {
        "recovered": 0,
        "worsened": 1,
        "same_day": 1,
        "future": 0,
    }
    # ... and at an earlier date, the earlier abnormal value still holds
    assert features_on(con, date(2022, 6, 1))["recovered"]["efi_ckd"] == 1


def test_a_code_and_a_value_rule_for_one_deficit_count_it_once() -> None:
    con = new_core_db()
    add_patient(con, "p")
    insert(
        con,
        "core_gp_events",
        events("p", ("2020-01-01", "29738008"), ("2023-01-01", "1011481000000105", 30)),
    )
    row = features_on(con, D)["p"]
    assert (row["efi_ckd"], row["efi_deficit_count"]) == (1, 1)


def _issue(pid: str, day: str, bnf_code: str) -> dict:
    return {"patient_id": pid, "issue_date": day, "bnf_code": bnf_code}


def test_polypharmacy_needs_five_distinct_chemical_substances_in_12_months() -> None:
    con = new_core_db()
    for pid in ("five", "four_twice", "window_edge", "after_d"):
        add_patient(con, pid)
    substances = ["0212000B0", "0205051R0", "0601022B0", "0407010H0", "0103050P0"]
    # five: 5 distinct substances (two presentations of the first) -> polypharmacy
    five = [_issue("five", "2024-01-05", s + "AAAAAA") for s in substances]
    five.append(_issue("five", "2024-02-05", substances[0] + "BBBBBB"))
    # four_twice: 4 substances, one in two presentations -> 4 distinct, no polypharmacy
    four = [_issue("four_twice", "2024-01-05", s + "AAAAAA") for s in substances[:4]]
    four.append(_issue("four_twice", "2024-01-05", substances[0] + "CCCCCC"))
    # window_edge: the fifth issued on D - 12 months exactly (outside (D-12m, D]) -> 4
    edge = [_issue("window_edge", "2024-01-05", s + "AAAAAA") for s in substances[:4]]
    edge.append(_issue("window_edge", "2023-06-30", substances[4] + "AAAAAA"))
    # after_d: the fifth issued the day after D -> 4
    late = [_issue("after_d", "2024-01-05", s + "AAAAAA") for s in substances[:4]]
    late.append(_issue("after_d", "2024-07-01", substances[4] + "AAAAAA"))
    insert(con, "core_gp_medications", five + four + edge + late)
    rows = features_on(con, D)
    got = {pid: (r["efi_polypharmacy"], r["n_distinct_medicines_12m"]) for pid, r in rows.items()}
    assert got == {"five": (1, 5), "four_twice": (0, 4), "window_edge": (0, 4), "after_d": (0, 4)}
    # one day after the edge issue leaves the window, it was inside it the day before D - 12m
    assert features_on(con, date(2024, 6, 29))["window_edge"]["efi_polypharmacy"] == 1


@pytest.mark.parametrize(
    ("n_deficits", "category"),
    [
        (0, "fit"),
        (4, "fit"),
        (5, "mild"),
        (8, "mild"),
        (9, "moderate"),
        (12, "moderate"),
        (13, "severe"),
        (35, "severe"),
    ],
)
def test_efi_is_deficits_over_36_with_published_categories(n_deficits: int, category: str) -> None:
    con = new_core_db()
    add_patient(con, "p")
    codes = list(DEFICIT_CODES.values())[:n_deficits]
    insert(con, "core_gp_events", events("p", *[("2020-05-05", c) for c in codes]))
    row = features_on(con, D)["p"]
    assert row["efi_deficit_count"] == n_deficits
    assert row["efi"] == pytest.approx(n_deficits / 36)
    assert row["efi_category"] == category


def test_codes_outside_the_lists_count_nothing() -> None:
    con = new_core_db()
    add_patient(con, "p")
    # codes that are in no eFI list
    insert(
        con, "core_gp_events", events("p", ("2020-01-01", "999999999"), ("2020-01-01", "123456"))
    )
    assert features_on(con, D)["p"]["efi_deficit_count"] == 0
