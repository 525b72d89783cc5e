"""Index dates, patient folds, the bounded training sample and subgroup labels."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from models.training_set import (
    age_band,
    assign_folds,
    ethnic_group,
    imd_quintile,
    index_dates_for,
    minus_months,
    sample_people,
)


def test_twelve_monthly_index_dates_end_one_horizon_before_as_of():
    dates = index_dates_for(date(2026, 11, 1), 365)
    assert len(dates) == 12
    assert dates[-1] == date(2025, 11, 1)
    assert dates[0] == date(2024, 12, 1)
    assert dates == sorted(dates)


def test_shorter_horizon_moves_the_dates_later():
    assert index_dates_for(date(2026, 11, 1), 90)[-1] == date(2026, 8, 3)


def test_month_end_is_clamped():
    assert minus_months(date(2025, 3, 31), 1) == date(2025, 2, 28)
    assert minus_months(date(2024, 3, 31), 1) == date(2024, 2, 29)
    assert minus_months(date(2025, 1, 15), 13) == date(2023, 12, 15)


def test_bad_plan_is_refused():
    with pytest.raises(ValueError):
        index_dates_for(date(2026, 1, 1), 0)


def test_folds_split_people_not_rows_and_are_seeded():
    ids = [f"p{i:05d}" for i in range(5000)]
    repeated = ids * 3  # three index dates
    folds = assign_folds(pl.Series(repeated), seed=42)
    per_person = (
        pl.DataFrame({"id": repeated, "fold": folds}).group_by("id").agg(pl.col("fold").n_unique())
    )
    assert per_person["fold"].max() == 1  # nobody is in two folds
    shares = {f: float(np.mean(folds == f)) for f in ("fit", "valid", "calib")}
    assert shares["fit"] == pytest.approx(0.6, abs=0.03)
    assert shares["valid"] == pytest.approx(0.2, abs=0.03)
    np.testing.assert_array_equal(folds, assign_folds(pl.Series(repeated), seed=42))
    assert not np.array_equal(folds, assign_folds(pl.Series(repeated), seed=43))


def test_subgroup_labels():
    assert [age_band(a) for a in (50, 65, 74, 75, 84, 85, None)] == [
        "<65",
        "65-74",
        "65-74",
        "75-84",
        "75-84",
        "85+",
        "unknown",
    ]
    assert imd_quintile(1) == "1 (most deprived)"
    assert imd_quintile(4) == "2"
    assert imd_quintile(10) == "5 (least deprived)"
    assert imd_quintile(None) == "unknown"
    assert [ethnic_group(c) for c in ("A", "D", "H", "M", "S", "Z", "99", None)] == [
        "White",
        "Mixed",
        "Asian",
        "Black",
        "Other",
        "not stated/known",
        "not stated/known",
        "not stated/known",
    ]


def _people_rows(n_people: int = 2000, dates: int = 9, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = [f"p{i:05d}" for i in range(n_people)] * dates
    outcome = rng.random(len(ids)) < 0.25
    candidates = rng.random(len(ids)) < 0.7  # e.g. the fit fold at development dates
    return ids, outcome, candidates


def test_sample_keeps_whole_people_the_outcome_rate_and_the_bound():
    ids, outcome, candidates = _people_rows()
    mask = sample_people(ids, outcome, candidates, 5000, seed=42)
    assert mask.sum() <= 5000 and mask.sum() > 4900
    assert not (mask & ~candidates).any()  # only candidate rows
    rows = pl.DataFrame({"id": ids, "cand": candidates, "kept": mask}).filter(pl.col("cand"))
    assert rows.group_by("id").agg(pl.col("kept").n_unique())["kept"].max() == 1  # whole people
    assert outcome[mask].mean() == pytest.approx(outcome[candidates].mean(), abs=0.01)


def test_sample_is_seeded_and_all_rows_when_under_the_bound():
    ids, outcome, candidates = _people_rows()
    a = sample_people(ids, outcome, candidates, 5000, seed=42)
    np.testing.assert_array_equal(a, sample_people(pl.Series(ids), outcome, candidates, 5000, 42))
    assert not np.array_equal(a, sample_people(ids, outcome, candidates, 5000, seed=43))
    np.testing.assert_array_equal(sample_people(ids, outcome, candidates, None, 42), candidates)
    np.testing.assert_array_equal(
        sample_people(ids, outcome, candidates, int(candidates.sum()), 42), candidates
    )


def test_sample_of_no_rows_is_refused():
    ids, outcome, candidates = _people_rows(50, 2)
    with pytest.raises(ValueError, match="at least one row"):
        sample_people(ids, outcome, candidates, 0, seed=42)
