"""Unit tests of the synthetic generator's parts: NHS numbers, geography, ICD-10 text, defects,
hazard shapes and per-person draws."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from foundation.contract import nhs_check_digit, nhs_number_is_valid
from synthetic import params
from synthetic.defects import (
    DUPLICATE_ROW,
    INVALID_NHS_NUMBER,
    UNKNOWN_PRACTICE_CODE,
    UNPARSEABLE_DATE,
    inject_rows,
    row_defect_kinds,
)
from synthetic.extracts import _icd10_text, _number_text, lexsort, nhs_text
from synthetic.population import build_geography, check_digits, nhs_numbers
from synthetic.reference import load_reference
from synthetic.simulate import housebound_rate, personal_uniforms, saturate


def test_check_digits_agree_with_the_contract() -> None:
    first_nine = np.array([943476591, 987654432, 999000000, 999123456, 401023213])
    expected = [nhs_check_digit(str(x).zfill(9)) for x in first_nine]
    got = [None if c == 10 else int(c) for c in check_digits(first_nine)]
    assert got == expected


def test_nhs_numbers_are_valid_distinct_sorted_and_in_the_test_range() -> None:
    numbers = nhs_numbers(5_000, np.random.default_rng(1))
    text = [str(n) for n in numbers]
    assert len(set(text)) == 5_000
    assert text == sorted(text)
    assert all(t.startswith("999") and len(t) == 10 for t in text)
    assert all(nhs_number_is_valid(t) for t in text)


def test_spaced_and_hyphenated_nhs_numbers_stay_valid() -> None:
    written = nhs_text(np.array([9990001618] * 2_000), np.arange(2_000), 0).to_list()
    forms = {w for w in written}
    assert {"9990001618", "999 000 1618", "999-000-1618"} <= forms
    assert all(nhs_number_is_valid(w) for w in written)


@pytest.mark.parametrize("patients", [100, 50_000, 1_000_000])
def test_geography_has_enough_practices_and_neighbourhoods(patients: int) -> None:
    geo = build_geography(patients, np.random.default_rng(0), load_reference())
    assert geo.practice_code.size >= max(12, patients // 10_000)
    assert np.unique(geo.practice_neighbourhood).size >= 6
    assert all(re.fullmatch(r"[A-Z]\d{5}", c) for c in geo.practice_code)
    assert len(set(geo.practice_code)) == geo.practice_code.size
    assert set(geo.lsoa_imd) <= set(range(1, 11))


def test_messy_icd10_forms_normalise_back_to_the_code() -> None:
    vocab = np.array(["I500", "R69X", "F000", "S720"])
    idx = np.array([0, 0, 1, 2, 2, 3, 3, 1, -1])
    style = np.array([0, 1, 1, 2, 3, 4, 5, 3, 0])
    text = _icd10_text(vocab, idx, style).tolist()
    assert text[0] == "I500"
    assert text[1] == "I50.0"
    assert text[2] == "R69"
    assert text[3] in {"F000D", "F000A"}
    assert text[4] == "F000-"
    assert text[5].strip() == "S720" and text[5] != "S720"
    assert text[6] == "S7200"
    assert text[-1] is None

    def normalise(code: str) -> str:
        c = code.strip().upper().replace(".", "").rstrip("-")
        c = re.sub(r"[DA]$", "", c) if len(c) == 5 and c[3].isdigit() else c
        return c

    assert [normalise(t)[:3] for t in text[:-1]] == [
        "I50",
        "I50",
        "R69",
        "F00",
        "F00",
        "S72",
        "S72",
        "R69",
    ]


def _tiny_patients(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "nhs_number": ["9990001618"] * n,
            "given_name": [f"Name{i}" for i in range(n)],
            "family_name": ["Smith"] * n,
            "date_of_birth": ["1940-03-02"] * n,
            "sex": ["2"] * n,
            "ethnic_category": ["A"] * n,
            "lsoa_code": ["E01000001"] * n,
            "practice_code": ["A81001"] * n,
            "registration_start_date": ["2001-01-01"] * n,
            "registration_end_date": [None] * n,
            "date_of_death": [None] * n,
        },
        schema_overrides={"registration_end_date": pl.Utf8, "date_of_death": pl.Utf8},
    )


def test_row_defects_are_where_the_truth_says_and_nowhere_else() -> None:
    df = _tiny_patients(400)
    out, defects = inject_rows("gp_patients", df, 0.1, np.random.default_rng(5), "Y99999")
    kinds = {d.kind for d in defects}
    assert kinds == {INVALID_NHS_NUMBER, UNPARSEABLE_DATE, UNKNOWN_PRACTICE_CODE, DUPLICATE_ROW}
    n_dup = sum(d.kind == DUPLICATE_ROW for d in defects)
    assert out.height == 400 + n_dup
    assert 25 <= len(defects) <= 55  # about 10% of 400
    rows = out.rows(named=True)
    flagged = {d.row for d in defects}
    for d in defects:
        row = rows[d.row - 1]
        if d.kind == INVALID_NHS_NUMBER:
            assert not nhs_number_is_valid(row["nhs_number"])
        elif d.kind == UNPARSEABLE_DATE:
            assert d.column == "date_of_birth"
            assert not re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["date_of_birth"])
        elif d.kind == UNKNOWN_PRACTICE_CODE:
            assert row["practice_code"] == "Y99999"
        else:
            assert row == rows[d.row - 2]  # an exact copy of the row before it
    for i, row in enumerate(rows, start=1):
        if i not in flagged:
            assert nhs_number_is_valid(row["nhs_number"])
            assert row["date_of_birth"] == "1940-03-02"
            assert row["practice_code"] == "A81001"


def test_no_defects_at_rate_zero_and_none_in_reference_files() -> None:
    df = _tiny_patients(50)
    out, defects = inject_rows("gp_patients", df, 0.0, np.random.default_rng(5), "Y99999")
    assert defects == [] and out.equals(df)
    assert row_defect_kinds("practices") == ()
    assert row_defect_kinds("lsoa_imd") == ()


def test_emergency_hazard_saturates_under_its_ceiling_and_is_linear_when_small() -> None:
    rate = np.array([0.01, 0.1, 1.0, 3.0, 10.0, 100.0])
    bent = saturate(rate)
    assert np.all(np.diff(bent) > 0)
    assert np.all(bent < params.EMERGENCY_CEILING) and np.all(bent <= rate)
    assert bent[0] == pytest.approx(rate[0], rel=0.01)
    assert bent[-1] > 0.99 * params.EMERGENCY_CEILING


def test_personal_uniforms_depend_on_the_person_only() -> None:
    pid = np.array([0, 1, 2, 50_000, 999_999], dtype=np.int64)
    u = personal_uniforms(pid, 11)
    assert u.shape == (5, 11) and np.all((u >= 0) & (u < 1))
    assert np.array_equal(u[3], personal_uniforms(np.array([50_000]), 11)[0])
    assert len({tuple(row) for row in u.round(12)}) == 5
    many = personal_uniforms(np.arange(20_000), 4).ravel()
    assert abs(many.mean() - 0.5) < 0.01 and abs((many < 0.1).mean() - 0.1) < 0.01


def test_becoming_housebound_is_for_the_frail_and_more_so_with_age() -> None:
    phi = np.array([-3.0, -1.0, 0.5, 0.5])
    age = np.array([80.0, 80.0, 60.0, 90.0])
    rate = housebound_rate(phi, age)
    assert rate[0] < rate[1] < rate[3] and rate[2] < rate[3]
    assert np.all(rate <= params.HOUSEBOUND_MAX)


def test_packed_lexsort_orders_rows_exactly_as_numpy_lexsort() -> None:
    rng = np.random.default_rng(11)
    for n in (0, 1, 7, 500):
        value = rng.choice([np.nan, 0.0, -0.0, 1.5, -2.0, 7.25], n)
        day = rng.integers(-30, 30, n)
        person = rng.integers(0, 4, n)
        assert lexsort((value, day, person)).tolist() == np.lexsort((value, day, person)).tolist()
    wide = rng.integers(0, 2**40, (2, 300))  # 80 bits: too wide to pack, still right
    assert lexsort((wide[0], wide[1])).tolist() == np.lexsort((wide[0], wide[1])).tolist()


def test_numbers_are_written_whole_or_to_one_decimal_and_nan_is_empty() -> None:
    values = np.array([3.0, 2.5, np.nan, 118.04, -0.0, 72.0])
    assert _number_text(values).to_list() == ["3", "2.5", None, "118.0", "0", "72"]
    assert _number_text(np.array([np.nan, np.nan])).to_list() == [None, None]
