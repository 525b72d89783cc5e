"""End to end: two weeks of `casefinder run --capacity ... --feedback ...` on a synthetic
population (the same people a week later), capacities 10, 0 and 25, and one
neighbourhood's returned list (`died`, `not_appropriate`, a stranger's row) shaping week 2.

The model quality gate is off (`helpers.cli_process.GATE_OFF_PRELUDE`): a small population
cannot pass it, and this test is about the lists.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.cli_process import Sandbox, run_casefinder_gate_off, synth_extracts
from helpers.published import read_lists

pytestmark = pytest.mark.slow

PATIENTS = 1500
SEED = 11
WEEK1 = date(2026, 11, 16)
WEEK2 = WEEK1 + timedelta(days=7)
CAPACITIES = (10, 0, 25)


def _run(root: Path, week: date, name: str, *extra: Any) -> str:
    ran = run_casefinder_gate_off(
        [
            "run",
            "--extracts",
            root / "extracts" / week.isoformat(),
            "--warehouse",
            root / "wh" / "warehouse.duckdb",
            "--out",
            root / "out",
            "--capacity",
            root / "capacity.csv",
            *extra,
        ],
        Sandbox(root / name),
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return ran.stdout


def _summary(root: Path, week: date) -> dict[str, Any]:
    path = root / "out" / "reports" / week.isoformat() / "run_summary.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("capacity-weeks")
    for week in (WEEK1, WEEK2):
        folder = root / "extracts" / week.isoformat()
        synth_extracts(folder, Sandbox(root / f"synth-{week}"), PATIENTS, SEED, week.isoformat())
    # Capacities 10, 0 and 25 for the first three neighbourhoods of the practices extract.
    with (root / "extracts" / WEEK1.isoformat() / "practices.csv").open(encoding="utf-8") as fh:
        hoods = sorted({r["neighbourhood_code"] for r in csv.DictReader(fh)})[:3]
    capacity = dict(zip(hoods, CAPACITIES, strict=True))
    lines = ["neighbourhood_code,weekly_reviews", *(f"{c},{n}" for c, n in capacity.items())]
    (root / "capacity.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _run(root, WEEK1, "week1")
    week1 = read_lists(root / "out", WEEK1)
    # The first neighbourhood's team returns its list: rank 1 died, rank 2 not appropriate,
    # and a row for the third neighbourhood's top patient (a stranger to this list).
    team, _, other = hoods
    stranger = week1[other][0]["nhs_number"]
    feedback = root / "returned"
    feedback.mkdir()
    rows = week1[team]
    with (feedback / f"{team} reviewed.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, [*rows[0], "review_outcome", "review_date"])
        writer.writeheader()
        outcomes = {"1": "died", "2": "not_appropriate"}
        for row in rows:
            writer.writerow({**row, "review_outcome": outcomes.get(row["rank"], "")})
        writer.writerow({"nhs_number": stranger, "review_outcome": "declined"})
    stdout = _run(root, WEEK2, "week2", "--feedback", feedback)
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


def _marked(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if r["this_week"] == "true"]


@pytest.mark.parametrize("week", [WEEK1, WEEK2])
def test_this_week_counts_are_exact(weeks, week):
    lists = weeks["week1" if week == WEEK1 else "week2"]
    summary = _summary(weeks["root"], week)
    for code, rows in lists.items():
        n = weeks["capacity"].get(code)
        if n is None:
            assert {r["this_week"] for r in rows} <= {""}, code
            assert summary["lists"][code]["this_week"] is None
            continue
        # Patients never reviewed are all eligible; a reviewed one may be (its risk rose).
        never_reviewed = sum(1 for r in rows if r["last_review_outcome"] == "")
        assert min(n, never_reviewed) <= len(_marked(rows)) <= min(n, len(rows)), code
        if week == WEEK1:
            assert never_reviewed == len(rows)
        assert summary["lists"][code]["this_week"] == len(_marked(rows))


def test_with_no_reviews_yet_the_top_of_each_list_is_asked_for(weeks):
    for code, n in weeks["capacity"].items():
        rows = weeks["week1"][code]
        assert [r["rank"] for r in _marked(rows)] == [
            str(i) for i in range(1, min(n, len(rows)) + 1)
        ]


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
        risen = reviewed["risk_tier"] != before["risk_tier"] or (
            round(float(reviewed["risk_score"]) - float(before["risk_score"]), 4) >= 0.05
        )
        if not risen:
            assert reviewed["this_week"] == "false"
    # The stranger's row changed nothing in the other neighbourhood.
    others = {r["nhs_number"]: r for r in weeks["week2"][other]}
    assert {r["last_review_outcome"] for r in others.values()} == {""}
    assert weeks["stranger"] not in week2
    summary = _summary(weeks["root"], WEEK2)
    assert summary["feedback"]["files"] == 1
    assert summary["feedback"]["recorded"] == 2
    assert summary["feedback"]["rejected"] == 1
    report = (weeks["root"] / "out" / "reports" / WEEK2.isoformat() / "run_report.html").read_text(
        encoding="utf-8"
    )
    assert "PPV in practice" in report
    assert "1 returned list(s), 2 review(s) recorded, 1 row(s) rejected" in weeks["stdout"]
