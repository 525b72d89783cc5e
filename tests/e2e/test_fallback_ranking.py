"""End to end: a site whose first model fails the quality gate still gets its lists, ranked by
the fallback points score, and is told so (OUTPUTS.md, "When no model is fit to rank")."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest

pytestmark = pytest.mark.slow

# The extract set of the session's small publication (tests/e2e/conftest.py), shared.
N_PATIENTS = 600
SEED = 13
DAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def fallback_run(
    tmp_path_factory: pytest.TempPathFactory,
    prefect_harness: None,
    synthetic_extracts: Callable[[int, int, date], Path],
) -> dict[str, Any]:
    from models import evaluate
    from pipelines.cli import main

    root = tmp_path_factory.mktemp("fallback")
    extracts = synthetic_extracts(N_PATIENTS, SEED, DAY)  # read-only
    mp = pytest.MonkeyPatch()
    mp.setattr(evaluate, "GATE_MIN_AUROC_GAIN", 1.0)  # no model can beat eFI by 1.0
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            [
                "run",
                "--extracts",
                str(extracts),
                "--warehouse",
                str(root / "wh" / "warehouse.duckdb"),
                "--out",
                str(root / "out"),
            ]
        )
    mp.undo()
    return {"root": root, "code": code, "out": out.getvalue(), "err": err.getvalue()}


def test_the_run_publishes_ranked_by_the_fallback_and_exits_0(fallback_run):
    from models.registry import latest_version

    assert fallback_run["code"] == 0, fallback_run["err"][-2000:]
    assert "Traceback" not in fallback_run["err"]
    assert "ranked by the fallback points score: model not registered" in fallback_run["out"]
    assert latest_version(fallback_run["root"] / "wh" / "warehouse.duckdb") is None
    reports = fallback_run["root"] / "out" / "reports" / DAY.isoformat()
    summary = json.loads((reports / "run_summary.json").read_text(encoding="utf-8"))
    assert summary["ranking"]["method"] == "fallback"
    assert summary["ranking"]["reason"].startswith("model not registered: housebound AUROC")
    assert summary["model_version"] == ""
    report = (reports / "run_report.html").read_text(encoding="utf-8")
    first = report[report.index('id="breached"') :].split("<li>")[1]
    assert "lists ranked by the fallback points score, not a model" in first


def test_every_list_is_ranked_and_bannered(fallback_run):
    lists = fallback_run["root"] / "out" / "lists" / DAY.isoformat()
    folders = sorted(p for p in lists.iterdir() if p.is_dir())
    assert folders
    scores: list[float] = []
    for folder in folders:
        with (folder / "proactive_care_list.csv").open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert all(r["model_version"] == "" for r in rows)
        ranked = [float(r["risk_score"]) for r in rows]
        assert ranked == sorted(ranked, reverse=True)
        scores += ranked
        page = (folder / "proactive_care_list.html").read_text(encoding="utf-8")
        assert 'role="alert">Ranked by a points score, not by the risk model' in page
        book = openpyxl.load_workbook(folder / "proactive_care_list.xlsx")
        for sheet in book.worksheets:
            assert str(sheet["A1"].value).startswith("Ranked by a points score"), sheet.title
    # not a constant: the points tell the listed patients apart
    assert len(scores) > 10 and len(set(scores)) > len(scores) / 2
