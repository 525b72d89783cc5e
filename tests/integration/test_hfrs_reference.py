"""HFRS (Gilbert 2018): worked examples, window, bands, comorbidipy, NHS Digital artificial HES."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pandas
import polars as pl
import pytest
from helpers.core_tables import (
    add_patient,
    features_at,
    features_on,
    insert,
    insert_frame,
    new_core_db,
)

D = date(2024, 6, 30)
# tests/data by path, not `from conftest import`: tests/e2e has a conftest.py of its own.
TEST_DATA = Path(__file__).resolve().parents[1] / "data"
HES_DIR = TEST_DATA / "nhs-artificial-hes"


def _spell(con, pid: str, spell_id: str, admitted: str, *codes: str) -> None:
    insert(
        con,
        "core_acute_spells",
        [
            {
                "spell_id": spell_id,
                "patient_id": pid,
                "admission_date": admitted,
                "admission_method": "21",
            }
        ],
    )
    insert(
        con,
        "core_acute_diagnoses",
        [
            {
                "spell_id": spell_id,
                "patient_id": pid,
                "admission_date": admitted,
                "diagnosis_position": i,
                "icd10_code": code,
            }
            for i, code in enumerate(codes, start=1)
        ],
    )


def test_published_worked_examples() -> None:
    con = new_core_db()
    for pid in ("one_spell", "two_spells", "same_category_twice"):
        add_patient(con, pid)
    # F00.1 + G81.9 in one admission = 7.1 + 4.4
    _spell(con, "one_spell", "s1", "2024-03-01", "F001", "G819")
    # F00 in one admission and W19 in another within 2 years = 7.1 + 3.2
    _spell(con, "two_spells", "s2", "2023-01-10", "F00")
    _spell(con, "two_spells", "s3", "2024-05-10", "W19")
    # F00.1 and F001 (normalised alike) and F00 in another spell: category F00 once
    _spell(con, "same_category_twice", "s4", "2023-05-01", "F001", "F001")
    _spell(con, "same_category_twice", "s5", "2024-01-01", "F00")
    rows = features_on(con, D)
    assert rows["one_spell"]["hfrs"] == 11.5
    assert rows["two_spells"]["hfrs"] == 10.3
    assert rows["same_category_twice"]["hfrs"] == 7.1
    assert rows["one_spell"]["hfrs_band"] == "intermediate"
    assert rows["same_category_twice"]["n_hfrs_categories"] == 1


def test_two_year_lookback_is_d_minus_2_years_exclusive_to_d_inclusive() -> None:
    con = new_core_db()
    for pid in ("on_start", "day_after_start", "on_d", "after_d"):
        add_patient(con, pid)
    _spell(con, "on_start", "a", "2022-06-30", "F00")  # D - 2 years: outside
    _spell(con, "day_after_start", "b", "2022-07-01", "F00")  # inside
    _spell(con, "on_d", "c", "2024-06-30", "F00")  # inside
    _spell(con, "after_d", "d", "2024-07-01", "F00")  # the future: outside
    rows = features_on(con, D)
    assert {pid: r["hfrs"] for pid, r in rows.items()} == {
        "on_start": 0.0,
        "day_after_start": 7.1,
        "on_d": 7.1,
        "after_d": 0.0,
    }


@pytest.mark.parametrize(
    ("codes", "score", "band"),
    [
        ((), 0.0, "low"),
        (("Z91", "G81"), 4.9, "low"),
        (("Z73", "G81"), 5.0, "intermediate"),
        (("R11", "N39", "G81", "F00"), 15.0, "intermediate"),
        (("R29", "G81", "F00"), 15.1, "high"),
    ],
)
def test_bands_at_their_boundaries(codes: tuple[str, ...], score: float, band: str) -> None:
    con = new_core_db()
    add_patient(con, "p")
    if codes:
        _spell(con, "p", "s", "2024-01-01", *codes)
    row = features_on(con, D)["p"]
    assert (row["hfrs"], row["hfrs_band"]) == (score, band)


def _comorbidipy():
    """comorbidipy 0.5.0 with the pandas 3 shim it needs (docs: ECOSYSTEM.md)."""
    pandas.core.common.SettingWithCopyWarning = getattr(  # type: ignore[attr-defined]
        pandas.errors,
        "SettingWithCopyWarning",
        type("SettingWithCopyWarning", (Warning,), {}),
    )
    import comorbidipy

    return comorbidipy


def _random_spells(n_spells: int, n_patients: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Random spells and diagnoses: HFRS codes, other real-looking codes, X fillers."""
    rng = random.Random(seed)
    weights = pl.read_csv("features/codelists/hfrs_icd10_weights.csv")["icd10_3char"].to_list()
    other = ["I10", "E11", "J44", "K21", "C50", "Z00", "M54", "B95", "O72", "S72"]
    spells, diagnoses = [], []
    start = date(2020, 1, 1)
    for s in range(n_spells):
        pid = f"p{rng.randrange(n_patients):05d}"
        admitted = start + timedelta(days=rng.randrange(5 * 365))
        spells.append(
            {
                "spell_id": f"s{s}",
                "patient_id": pid,
                "admission_date": admitted,
                "admission_method": "21",
                "is_emergency": True,
                "is_elective": False,
            }
        )
        for pos in range(1, rng.randint(1, 20) + 1):
            cat = rng.choice(weights) if rng.random() < 0.5 else rng.choice(other)
            code = cat + rng.choice(["", "0", "1", "9", "X"])
            diagnoses.append(
                {
                    "spell_id": f"s{s}",
                    "patient_id": pid,
                    "admission_date": admitted,
                    "diagnosis_position": pos,
                    "icd10_code": code,
                    "icd10_3char": code[:3],
                }
            )
    return pl.DataFrame(spells), pl.DataFrame(diagnoses)


@pytest.mark.slow
def test_matches_comorbidipy_on_10000_random_spells_at_three_index_dates() -> None:
    comorbidipy = _comorbidipy()
    n_patients = 2500
    spells, diagnoses = _random_spells(10_000, n_patients, seed=20261122)
    con = new_core_db()
    for i in range(n_patients):
        add_patient(con, f"p{i:05d}")
    insert_frame(con, "core_acute_spells", spells)
    insert_frame(con, "core_acute_diagnoses", diagnoses)
    dates = [date(2022, 12, 31), date(2023, 9, 15), D]
    rows = features_at(con, *dates)
    for d in dates:
        in_window = diagnoses.filter(
            (pl.col("admission_date") > date(d.year - 2, d.month, d.day))
            & (pl.col("admission_date") <= d)
        )
        ref = comorbidipy.hfrs(
            in_window.select(
                pl.col("patient_id").alias("id"), pl.col("icd10_code").alias("code")
            ).to_pandas(),
            id="id",
            code="code",
        )
        expected = dict(zip(ref["id"], ref["hfrs"], strict=True))
        mismatches = [
            pid
            for i in range(n_patients)
            if abs(rows[(pid := f"p{i:05d}", d)]["hfrs"] - expected.get(pid, 0.0)) > 1e-9
        ]
        assert mismatches == [], f"{len(mismatches)} patients differ at {d}"
        assert sum(v > 0 for v in expected.values()) > 1000  # the comparison is not vacuous


def test_matches_expected_per_patient_values_on_nhs_artificial_hes() -> None:
    episodes = pl.read_csv(HES_DIR / "apc_episodes.csv", infer_schema=False)
    expected = pl.read_csv(HES_DIR / "hfrs_expected_per_patient.csv")
    con = new_core_db()
    patients = episodes["PSEUDO_HESID"].unique().to_list()
    insert_frame(
        con,
        "core_patients",
        pl.DataFrame({"patient_id": patients}).with_columns(
            birth_month=pl.lit(date(1800, 1, 1)),
            sex=pl.lit("2"),
            practice_code=pl.lit("A81001"),
            registration_start_date=pl.lit(date(1800, 1, 1)),
        ),
    )
    long = (
        episodes.unpivot(
            index=["EPIKEY", "PSEUDO_HESID", "ADMIDATE"],
            on=[f"DIAG_4_{i:02d}" for i in range(1, 21)],
            variable_name="position",
            value_name="code",
        )
        .drop_nulls("code")
        .select(
            pl.col("EPIKEY").alias("spell_id"),
            pl.col("PSEUDO_HESID").alias("patient_id"),
            pl.col("ADMIDATE").str.to_date().alias("admission_date"),
            pl.col("position").str.slice(7).cast(pl.Int32).alias("diagnosis_position"),
            pl.col("code").str.strip_chars().str.to_uppercase().alias("icd10_code"),
        )
        .with_columns(icd10_3char=pl.col("icd10_code").str.slice(0, 3))
    )
    insert_frame(con, "core_acute_diagnoses", long)
    # no lookback window in the reference: an index date after every episode, 1000-year lookback
    rows = features_on(con, date(2100, 1, 1), hfrs_lookback_years=1000)
    got = {pid: row["hfrs"] for pid, row in rows.items()}
    want = dict(zip(expected["PSEUDO_HESID"], expected["hfrs_simple_distinct3char"], strict=True))
    assert len(want) == 994
    assert set(got) == set(want)
    differ = [pid for pid in want if abs(got[pid] - want[pid]) > 1e-9]
    assert differ == []
    assert sum(v > 0 for v in want.values()) > 100
