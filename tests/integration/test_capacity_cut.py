"""Integration: the weekly capacity cut (`sql/lists/list_plan.sql`) on literal list rows."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from reports.capacity import PlanSettings, build_plan, ensure_store, this_week_counts

WEEK1 = date(2026, 11, 16)
WEEK2 = WEEK1 + timedelta(days=7)

# This week's list: (neighbourhood, rank, patient, score, tier)
WEEK2_LIST = [
    ("N1", 1, "a", 0.80, "very_high"),
    ("N1", 2, "b", 0.62, "high"),  # reviewed last week, score up 0.02: skipped
    ("N1", 3, "c", 0.58, "high"),  # reviewed last week, tier rose: back in
    ("N1", 4, "d", 0.56, "high"),  # reviewed last week, score up exactly 0.05: back in
    ("N1", 5, "e", 0.40, "moderate"),  # reviewed 90 days ago: outside the window
    ("N1", 6, "f", 0.35, "moderate"),
    ("N2", 1, "g", 0.90, "very_high"),
    ("N2", 2, "h", 0.70, "very_high"),
]
# The list the reviews came from: (as_of, neighbourhood, rank, patient, score, tier)
HISTORY = [
    (WEEK1, "N1", 1, "b", 0.60, "high"),
    (WEEK1, "N1", 2, "c", 0.49, "moderate"),
    (WEEK1, "N1", 3, "d", 0.51, "high"),
    (WEEK1 - timedelta(days=91), "N1", 1, "e", 0.40, "moderate"),
]
# (list as_of, neighbourhood, patient, outcome, review date)
REVIEWS = [
    (WEEK1, "N1", "b", "not_appropriate", WEEK1 + timedelta(days=2)),
    (WEEK1, "N1", "c", "reviewed_no_action", WEEK1 + timedelta(days=1)),
    (WEEK1, "N1", "d", "declined", WEEK1),
    (WEEK1 - timedelta(days=91), "N1", "e", "reviewed_plan_updated", WEEK1 - timedelta(days=90)),
]


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema lists")
    ensure_store(con)
    con.execute(
        "create table lists.list_week (as_of date, neighbourhood_code varchar, rank integer,"
        " patient_id varchar, risk_score double, risk_tier varchar)"
    )
    con.executemany(
        "insert into lists.list_week values (?, ?, ?, ?, ?, ?)",
        [[WEEK2, *row] for row in WEEK2_LIST],
    )
    con.execute(
        "create table lists.list_entries (as_of date, neighbourhood_code varchar, rank integer,"
        " patient_id varchar, risk_score double, risk_tier varchar)"
    )
    con.executemany("insert into lists.list_entries values (?, ?, ?, ?, ?, ?)", HISTORY)
    con.executemany(
        "insert into lists.list_review_outcomes values"
        " (?, ?, ?, ?, ?, 'f.csv', 'sha', 2, 'lead', current_timestamp, ?)",
        [[*row, WEEK2] for row in REVIEWS],
    )
    yield con
    con.close()


def _plan(con, **settings) -> dict[str, tuple]:
    build_plan(con, WEEK2, PlanSettings(**settings))
    return {
        r[0]: r[1:]
        for r in con.execute(
            "select patient_id, this_week, last_review_outcome, last_review_date"
            " from lists.list_plan"
        ).fetchall()
    }


def _this_week(plan: dict[str, tuple]) -> list[str]:
    return sorted(p for p, (this_week, *_) in plan.items() if this_week)


def test_the_highest_ranked_eligible_patients_fill_the_capacity(con):
    plan = _plan(con, capacity={"N1": 3, "N2": 1})
    # b (reviewed 5 days ago, score up only 0.02) is skipped; c's tier rose; d's score rose
    # by the threshold exactly.
    assert _this_week(plan) == ["a", "c", "d", "g"]
    assert plan["b"][0] is False and plan["h"][0] is False
    assert this_week_counts(con) == {"N1": 3, "N2": 1}


def test_a_capacity_larger_than_the_eligible_marks_every_eligible_patient(con):
    plan = _plan(con, capacity={"N1": 25, "N2": 0})
    assert _this_week(plan) == ["a", "c", "d", "e", "f"]
    assert this_week_counts(con) == {"N1": 5, "N2": 0}


def test_without_a_capacity_this_week_is_empty(con):
    plan = _plan(con, capacity={"N1": 2})
    assert plan["g"][0] is None and plan["h"][0] is None
    assert this_week_counts(con) == {"N1": 2}  # N2 had no capacity: no count
    plan = _plan(con)
    assert {v[0] for v in plan.values()} == {None}


def test_a_capacity_for_a_neighbourhood_with_an_empty_list_counts_0(con):
    _plan(con, capacity={"N1": 1, "N9": 4})
    assert this_week_counts(con) == {"N1": 1, "N9": 0}


def test_the_window_and_the_rise_are_settings(con):
    # A one-day window: every review is old, so nobody is skipped.
    assert _this_week(_plan(con, capacity={"N1": 3}, review_window_days=1)) == ["a", "b", "c"]
    # A 120-day window and a rise of 0.1: e is now recent, d's 0.05 is not enough.
    plan = _plan(con, capacity={"N1": 6}, review_window_days=120, rise_threshold=0.1)
    assert _this_week(plan) == ["a", "c", "f"]


def test_the_last_review_is_shown_for_every_reviewed_patient(con):
    plan = _plan(con, capacity={"N1": 1})
    assert plan["b"][1:] == ("not_appropriate", WEEK1 + timedelta(days=2))
    assert plan["e"][1:] == ("reviewed_plan_updated", WEEK1 - timedelta(days=90))
    assert plan["a"][1:] == (None, None)
