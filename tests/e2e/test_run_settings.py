"""End to end: `casefinder run` trains with CASEFINDER_HORIZON_DAYS and CASEFINDER_SEED (the
settings the command line resolves once and passes to the weekly flow), and the published
pages and sheets say the registered model's horizon.

One small synthetic extract set; a first run with a 183-day horizon, then a retraining of the
same warehouse, as of the same date, with another seed. The quality gate is off (as in
`helpers.cli_process.GATE_OFF_PRELUDE`): a few hundred patients cannot pass it.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest

pytestmark = pytest.mark.slow

N_PATIENTS = 600
SYNTH_SEED = 13
DAY = date(2026, 11, 23)


def _run(args: list[str]) -> str:
    from pipelines.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    assert code == 0, err.getvalue()[-2000:]
    return out.getvalue()


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
    prefect_harness: None,
    synthetic_extracts: Callable[[int, int, date], Path],
) -> dict[str, Any]:
    from models import evaluate
    from models.registry import latest_version

    root = tmp_path_factory.mktemp("run-settings")
    extracts = synthetic_extracts(N_PATIENTS, SYNTH_SEED, DAY)  # shared, read-only
    warehouse, out = root / "wh" / "warehouse.duckdb", root / "out"
    command = ["run", "--extracts", str(extracts), "--warehouse", str(warehouse)]
    command += ["--out", str(out)]
    mp = pytest.MonkeyPatch()
    # The gate off, as helpers.cli_process.GATE_OFF_PRELUDE does for a subprocess.
    mp.setattr(evaluate, "quality_gate", lambda *args, **kwargs: [])
    mp.delenv("CASEFINDER_SEED", raising=False)
    mp.setenv("CASEFINDER_HORIZON_DAYS", "183")
    try:
        _run(command)
        first = latest_version(warehouse)
        lists = out / "lists" / DAY.isoformat()
        pages = {
            p.parent.name: p.read_text(encoding="utf-8")
            for p in lists.glob("*/proactive_care_list.html")
        }
        books = sorted(lists.glob("*/proactive_care_list.xlsx"))
        notes = [_risk_score_note(book) for book in books]
        mp.setenv("CASEFINDER_SEED", "7")
        _run([*command, "--retrain", "--republish"])
        second = latest_version(warehouse)
    finally:
        mp.undo()
    return {
        "warehouse": warehouse,
        "first": first,
        "second": second,
        "pages": pages,
        "notes": notes,
    }


def _risk_score_note(book_path: Path) -> str:
    sheet = openpyxl.load_workbook(book_path)["Column notes"]
    return next(str(row[1]) for row in sheet.iter_rows(values_only=True) if row[0] == "risk_score")


def test_the_run_registers_a_model_with_the_horizon_of_the_setting(runs):
    from foundation.warehouse import connect
    from models.registry import show

    assert runs["first"], "no model registered"
    assert show(runs["warehouse"], runs["first"])["horizon_days"] == 183
    with connect(runs["warehouse"], read_only=True) as con:
        recorded = con.execute(
            "select horizon_days from registry.models where model_version = ?", [runs["first"]]
        ).fetchone()
    assert recorded == (183,)


def test_the_pages_and_sheets_say_the_horizon_of_the_registered_model(runs):
    assert runs["pages"] and runs["notes"]
    for name, page in runs["pages"].items():
        assert "death within 6 months." in page, name
        assert "within 12 months" not in page, name
    for note in runs["notes"]:
        assert "death in 6 months" in note
        assert "12 months" not in note


def test_the_seed_setting_changes_the_model_and_nothing_else(runs):
    from models.registry import show

    first, second = show(runs["warehouse"], runs["first"]), show(runs["warehouse"], runs["second"])
    assert (first["params"]["seed"], second["params"]["seed"]) == (42, 7)
    assert second["version"] != first["version"]
    assert second["model_sha256"] != first["model_sha256"]
    # the same data, as-of date and horizon: only the seed differs
    assert (second["as_of"], second["horizon_days"]) == (first["as_of"], first["horizon_days"])
    assert second["extract_checksums"] == first["extract_checksums"]
