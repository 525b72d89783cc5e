"""End to end: two weeks of `casefinder run` on a synthetic population (the same people a
week later). Week 1 is the session's small publication (tests/e2e/conftest.py: no capacity
file, so this_week empty; its warehouse holds the model it trained), copied; the largest
neighbourhood's team returns its week-1 list (`died`, `not_appropriate`, a stranger's row)
into the feedback folder, and week 2 runs on the copy with `--capacity` (3, 0 and 25: fewer
than, none of, and more than the eligible patients) and `--feedback`.

The lists of a few hundred synthetic patients are short, so the capacities follow their
sizes; exact counts on long lists are in tests/integration/test_review_feedback.py. The
model quality gate is off (`helpers.cli_process.GATE_OFF_PRELUDE`): a small population
cannot pass it, and this test is about the lists.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.cli_process import Sandbox, run_casefinder_gate_off
from helpers.published import read_lists
from helpers.shared_build import copy_warehouse

pytestmark = pytest.mark.slow

WEEK1 = date(2026, 11, 23)  # the small publication's as-of date
WEEK2 = WEEK1 + timedelta(days=7)
CAPACITIES = (3, 0, 25)
TIERS = ("very_high", "high", "moderate", "low")


def _run(root: Path, extracts: Path, week: date, env: dict[str, str], *extra: Any) -> str:
    ran = run_casefinder_gate_off(
        [
            "run",
            "--extracts",
            extracts,
            "--warehouse",
            root / "wh" / "warehouse.duckdb",
            "--out",
            root / "out",
            *extra,
        ],
        Sandbox(root / week.isoformat()),
        env=env,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return ran.stdout


def _summary(root: Path, week: date) -> dict[str, Any]:
    path = root / "out" / "reports" / week.isoformat() / "run_summary.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _return_list(rows: list[dict[str, str]], path: Path, stranger: str) -> None:
    """The team's copy: rank 1 died, rank 2 not appropriate, and a stranger's row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, [*rows[0], "review_outcome", "review_date"])
        writer.writeheader()
        outcomes = {"1": "died", "2": "not_appropriate"}
        for row in rows:
            writer.writerow({**row, "review_outcome": outcomes.get(row["rank"], "")})
        writer.writerow({"nhs_number": stranger, "review_outcome": "declined"})


@pytest.fixture(scope="module")
def weeks(
    tmp_path_factory: pytest.TempPathFactory,
    prefect_api: dict[str, str],
    small_publication: dict,
    synthetic_extracts: Callable[[int, int, date], Path],
) -> Iterator[dict[str, Any]]:
    """Week 1 copied from the small publication, week 2 run on the copy (on this worker's
    Prefect server, tests/conftest.py)."""
    assert small_publication["as_of"] == WEEK1.isoformat()
    root = tmp_path_factory.mktemp("capacity-weeks")
    copy_warehouse(small_publication["warehouse"], root / "wh")
    shutil.copytree(small_publication["out"], root / "out")
    # The same people a week later.
    extracts = synthetic_extracts(small_publication["patients"], small_publication["seed"], WEEK2)
    week1 = read_lists(root / "out", WEEK1)
    team, zero, other = sorted(week1, key=lambda c: (-len(week1[c]), c))[:3]
    capacity = dict(zip((team, zero, other), CAPACITIES, strict=True))
    lines = ["neighbourhood_code,weekly_reviews", *(f"{c},{n}" for c, n in capacity.items())]
    (root / "capacity.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    stranger = week1[other][0]["nhs_number"]
    _return_list(week1[team], root / "returned" / f"{team} reviewed.csv", stranger)
    stdout = _run(
        root,
        extracts,
        WEEK2,
        prefect_api,
        "--capacity",
        root / "capacity.csv",
        "--feedback",
        root / "returned",
    )
    yield {
        "root": root,
        "capacity": capacity,
        "team": team,
        "other": other,
        "stranger": stranger,
        "week1": week1,
        "week2": read_lists(root / "out", WEEK2),
        "stdout": stdout,
    }


def _marked(rows: list[dict[str, str]]) -> list[str]:
    return [r["rank"] for r in rows if r["this_week"] == "true"]


def test_without_a_capacity_this_week_is_empty(weeks):
    summary = _summary(weeks["root"], WEEK1)
    for code, rows in weeks["week1"].items():
        assert {r["this_week"] for r in rows} <= {""}, code
        assert summary["lists"][code]["this_week"] is None
    assert summary["feedback"]["files"] == 0


def test_week_2_counts_are_exact_and_take_the_top_of_each_list(weeks):
    summary = _summary(weeks["root"], WEEK2)
    team = weeks["team"]
    for code, rows in weeks["week2"].items():
        n = weeks["capacity"].get(code)
        if n is None:
            assert {r["this_week"] for r in rows} <= {""}, code
            assert summary["lists"][code]["this_week"] is None
            continue
        # Eligible: everyone but a patient reviewed last week whose risk has not risen.
        eligible = [
            r["rank"] for r in rows if r["last_review_outcome"] == "" or r["this_week"] == "true"
        ]
        held_back = [r for r in rows if r["last_review_outcome"] and r["this_week"] != "true"]
        assert all(r["last_review_outcome"] == "not_appropriate" for r in held_back)
        assert code == team or not held_back
        assert _marked(rows) == eligible[:n], code
        assert summary["lists"][code]["this_week"] == min(n, len(eligible))
    assert summary["lists"][team]["this_week"] == 3


def test_the_teams_feedback_shapes_week_2(weeks):
    team, other = weeks["team"], weeks["other"]
    died, not_appropriate = (r["nhs_number"] for r in weeks["week1"][team][:2])
    week2 = {r["nhs_number"]: r for r in weeks["week2"][team]}
    assert died not in week2
    page = (
        weeks["root"] / "out" / "lists" / WEEK2.isoformat() / team / "proactive_care_list.html"
    ).read_text(encoding="utf-8")
    assert "reported died/moved away by the team" in page
    reviewed = week2.get(not_appropriate)
    if reviewed is not None:
        assert reviewed["last_review_outcome"] == "not_appropriate"
        assert reviewed["last_review_date"] == WEEK1.isoformat()
        before = weeks["week1"][team][1]
        risen = TIERS.index(reviewed["risk_tier"]) < TIERS.index(before["risk_tier"]) or (
            round(float(reviewed["risk_score"]) - float(before["risk_score"]), 4) >= 0.05
        )
        if not risen:  # reviewed last week and no riskier since: not asked for again
            assert reviewed["this_week"] == "false"
    # The stranger's row changed nothing in the other neighbourhood.
    assert {r["last_review_outcome"] for r in weeks["week2"][other]} == {""}
    assert weeks["stranger"] not in week2
    summary = _summary(weeks["root"], WEEK2)
    assert summary["feedback"] == {"files": 1, "recorded": 2, "rejected": 1, "duplicates": 0}
    report = (weeks["root"] / "out" / "reports" / WEEK2.isoformat() / "run_report.html").read_text(
        encoding="utf-8"
    )
    assert "PPV in practice" in report
    assert "1 returned list(s), 2 review(s) recorded, 1 row(s) rejected" in weeks["stdout"]
