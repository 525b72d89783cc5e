"""Weekly capacity and review feedback: the cut (`lists.list_plan`), its counts and the store.

OUTPUTS.md "Weekly capacity and review feedback". The returned files are read by
`pipelines/ingest/feedback.py`; this module owns the warehouse side: the store's tables
(`sql/lists/list_review_outcomes.sql`, `sql/lists/list_feedback_files.sql`), the cut
(`sql/lists/list_plan.sql`) and what the run summary and report say about them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from foundation.settings import (
    DEFAULT_CHANGE_THRESHOLD,
    DEFAULT_REVIEW_WINDOW_DAYS,
    DEFAULT_RISK_TIERS,
)
from foundation.warehouse import apply_ddl, build_model, table_exists

# The outcomes a team may return (OUTPUTS.md), and those that take a patient off later lists.
REVIEW_OUTCOMES = (
    "reviewed_plan_updated",
    "reviewed_no_action",
    "already_under_care",
    "not_appropriate",
    "declined",
    "died",
    "moved_away",
)
GONE_OUTCOMES = ("died", "moved_away")
# The outcome counted as a true positive in the run report's PPV in practice.
PLAN_UPDATED = "reviewed_plan_updated"
STORE_TABLES = ("list_review_outcomes", "list_feedback_files")


@dataclass(frozen=True)
class PlanSettings:
    """What the cut needs: capacities (None: no capacity file this week) and its rules."""

    capacity: Mapping[str, int] | None = None
    review_window_days: int = DEFAULT_REVIEW_WINDOW_DAYS
    # A patient reviewed within the window comes back into the cut when the score rose by
    # this much since the reviewed list: the list's `change` threshold.
    rise_threshold: float = DEFAULT_CHANGE_THRESHOLD
    tier_order: Sequence[str] = field(default=tuple(name for name, _ in DEFAULT_RISK_TIERS))


def ensure_store(con: duckdb.DuckDBPyConnection) -> None:
    """Create the review-outcome store's tables when missing."""
    con.execute("create schema if not exists lists")
    apply_ddl(con, STORE_TABLES)


def known_neighbourhoods(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every neighbourhood the warehouse knows: its practices' and its published lists'."""
    codes = {
        code
        for (code,) in con.execute(
            "select distinct neighbourhood_code from core.core_practices"
            " where neighbourhood_code is not null"
        ).fetchall()
    }
    if table_exists(con, "audit", "publications"):
        codes |= {
            code
            for (code,) in con.execute(
                "select distinct neighbourhood_code from audit.publications"
            ).fetchall()
        }
    return codes


def build_plan(
    con: duckdb.DuckDBPyConnection, as_of: date, plan: PlanSettings | None = None
) -> int:
    """Build `lists.list_capacity` and `lists.list_plan` (after `lists.list_week`); rows of
    the plan."""
    plan = plan or PlanSettings()
    capacity = dict(plan.capacity or {})
    params = {
        "as_of": as_of,
        "capacity_neighbourhoods": list(capacity),
        "capacity_reviews": [int(n) for n in capacity.values()],
        "review_window_days": int(plan.review_window_days),
        "rise_threshold": float(plan.rise_threshold),
        "tier_order": list(plan.tier_order),
    }
    build_model(con, "list_capacity", params)
    return build_model(con, "list_plan", params)


def this_week_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per neighbourhood given a capacity: patients with `this_week = true` (0 for an empty
    list). A neighbourhood missing here had no capacity: its count is null, not 0."""
    rows = con.execute(
        "select c.neighbourhood_code, count(p.patient_id) filter (where p.this_week)"
        " from lists.list_capacity c"
        " left join lists.list_plan p on p.neighbourhood_code = c.neighbourhood_code"
        " group by 1"
    ).fetchall()
    return {code: int(n) for code, n in rows}


def feedback_block(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, int]:
    """run_summary.json's `feedback`: returned files read by the run(s) at `as_of`, reviews
    recorded from them and rows rejected (a patient not on the file's list); plus
    `duplicates`, reviews already recorded from another copy."""
    if not table_exists(con, "lists", "list_feedback_files"):
        return {"files": 0, "recorded": 0, "rejected": 0, "duplicates": 0}
    row = con.execute(
        "select count(*), coalesce(sum(n_recorded), 0), coalesce(sum(n_rejected), 0),"
        " coalesce(sum(n_duplicate), 0) from lists.list_feedback_files where recorded_as_of = ?",
        [as_of],
    ).fetchone()
    files, recorded, rejected, duplicates = (int(x) for x in (row or (0, 0, 0, 0)))
    return {"files": files, "recorded": recorded, "rejected": rejected, "duplicates": duplicates}


def review_report(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, Any]:
    """The run report's review section: outcomes recorded by this run and in all, and the
    PPV in practice (share of reviews that led to a plan update; None without reviews), and
    the patients kept off this week's lists because the team reported them died or moved."""
    outcomes = {name: {"this_run": 0, "all": 0} for name in REVIEW_OUTCOMES}
    off_lists = 0
    if table_exists(con, "lists", "list_review_outcomes"):
        for outcome, this_run, total in con.execute(
            "select review_outcome, count(*) filter (where recorded_as_of = ?), count(*)"
            " from lists.list_review_outcomes where review_date <= ? group by 1",
            [as_of, as_of],
        ).fetchall():
            outcomes[outcome] = {"this_run": int(this_run), "all": int(total)}
        if table_exists(con, "scores", "score_cohort"):
            row = con.execute(
                "select count(*) from scores.score_cohort c where c.as_of = ? and c.is_listed"
                " and c.patient_id in (select patient_id from lists.list_review_outcomes"
                " where review_outcome in ('died', 'moved_away') and publication_as_of < ?)",
                [as_of, as_of],
            ).fetchone()
            off_lists = int(row[0]) if row else 0

    def ppv(key: str) -> float | None:
        n = sum(v[key] for v in outcomes.values())
        return outcomes[PLAN_UPDATED][key] / n if n else None

    return {
        "outcomes": outcomes,
        "recorded_this_run": sum(v["this_run"] for v in outcomes.values()),
        "recorded_all": sum(v["all"] for v in outcomes.values()),
        "ppv_this_run": ppv("this_run"),
        "ppv_all": ppv("all"),
        "off_lists": off_lists,
        "feedback": feedback_block(con, as_of),
    }
