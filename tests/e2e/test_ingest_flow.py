"""The `ingest` flow and command on a tiny extract set: load, Data Docs, reload, fatal error."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from helpers.cli_process import Sandbox, error_lines, run_casefinder
from helpers.extract_set import DEFAULT_ROWS, write_extract_set

from pipelines.cli import main


@pytest.mark.slow
def test_ingest_flow_loads_validates_and_is_idempotent(
    prefect_harness: None, tmp_path: Path
) -> None:
    from pipelines.flows.ingest import ingest

    events = [*DEFAULT_ROWS["gp_events"], {**DEFAULT_ROWS["gp_events"][0], "snomed_code": "x"}]
    extracts = write_extract_set(tmp_path / "extracts", {"gp_events": events})
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    result = ingest(extracts=extracts, warehouse=warehouse)
    assert result["already_loaded"] is False
    assert result["extracts"]["gp_events"]["quarantined"] == 1
    assert result["quarantine_by_rule"] == {"gp_events": {"snomed_code_format": 1}}
    assert result["validation_mismatches"] == []
    docs = Path(result["data_docs"])
    assert docs.is_file()
    assert docs.is_relative_to(tmp_path / "wh" / "reports" / "2026-11-16")
    assert result["core_rows"]["core_patients"] == 6
    text = json.dumps(result)
    for patient in DEFAULT_ROWS["gp_patients"]:
        assert patient["nhs_number"] not in text
        assert patient["given_name"] not in text

    again = ingest(extracts=extracts, warehouse=warehouse, docs_dir=tmp_path / "docs2")
    assert again["already_loaded"] is True
    assert again["snapshot_id"] == result["snapshot_id"]
    assert again["extracts"] == result["extracts"]


@pytest.mark.slow
def test_ingest_command_prints_reconciliation_and_one_line_errors(
    prefect_harness: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extracts = write_extract_set(tmp_path / "extracts")
    warehouse = tmp_path / "warehouse.duckdb"
    assert main(["ingest", "--extracts", str(extracts), "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    assert "snapshot 1 as of 2026-11-16: loaded" in out
    assert "gp_patients                    6         6            0           0" in out

    broken = write_extract_set(tmp_path / "broken", {"ae_attendances": None})
    code = main(["ingest", "--extracts", str(broken), "--warehouse", str(warehouse)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert errors == [
        f"casefinder: error: missing required file ae_attendances "
        f"(ae_attendances.csv or ae_attendances.parquet) in {broken}"
    ]


def _dd_mm_yyyy_events() -> list[dict]:
    """gp_events with every date but the last written DD/MM/YYYY (4 of 5 rows fail)."""
    rows = [dict(r) for r in DEFAULT_ROWS["gp_events"]]
    for row in rows[:-1]:
        year, month, day = row["event_date"].split("-")
        row["event_date"] = f"{day}/{month}/{year}"
    return rows


MOSTLY_REJECTED_LINE = (
    "casefinder: error: gp_events.csv: 80.0% of rows rejected (4 of 5; the limit is 50%), "
    "mostly by rule event_date_format ('event_date is a date written YYYY-MM-DD', "
    "e.g. '01/06/2025'); the run stops before anything is trained, scored or published "
    "(the rows and their reasons are in quarantine.rejected_rows; "
    "limit: CASEFINDER_MAX_REJECTED_SHARE)"
)


def _assert_loaded_and_quarantined_with_reasons(warehouse: Path) -> None:
    """What was loaded and quarantined stays, with the reasons, for the data engineer."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        quarantined = con.execute(
            "select rule, reason, count(*) from quarantine.rejected_rows "
            "where file = 'gp_events' group by all"
        ).fetchall()
        loaded = con.execute(
            "select file, rows_read, rows_loaded, rows_quarantined from audit.loads "
            "where file in ('gp_events', 'gp_patients') order by file"
        ).fetchall()
    finally:
        con.close()
    assert quarantined == [("event_date_format", "event_date is a date written YYYY-MM-DD", 4)]
    assert loaded == [("gp_events", 5, 1, 4), ("gp_patients", 6, 6, 0)]


@pytest.mark.slow
def test_a_mostly_rejected_file_stops_ingest_after_loading_it(
    prefect_harness: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extracts = write_extract_set(tmp_path / "extracts", {"gp_events": _dd_mm_yyyy_events()})
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    code = main(["ingest", "--extracts", str(extracts), "--warehouse", str(warehouse)])
    captured = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in captured.err
    assert captured.err.splitlines()[-1] == MOSTLY_REJECTED_LINE
    assert "snapshot" not in captured.out  # no reconciliation table: the run stopped
    _assert_loaded_and_quarantined_with_reasons(warehouse)


@pytest.mark.slow
def test_a_mostly_rejected_file_stops_the_weekly_run_before_training(
    tmp_path: Path, prefect_api: dict[str, str]
) -> None:
    """A real `casefinder run` child, on this worker's Prefect server (tests/conftest.py)."""
    extracts = write_extract_set(tmp_path / "extracts", {"gp_events": _dd_mm_yyyy_events()})
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    out = tmp_path / "out"
    args = ["run", "--extracts", extracts, "--warehouse", warehouse, "--out", out]
    result = run_casefinder(args, Sandbox(tmp_path / "sandbox"), env=prefect_api)
    assert result.returncode == 2
    # Neither casefinder's nor Prefect's traceback: the one line, naming file, rule, share.
    assert "Traceback" not in result.stderr
    assert error_lines(result.stderr) == [MOSTLY_REJECTED_LINE]
    for patient in DEFAULT_ROWS["gp_patients"]:
        assert patient["nhs_number"] not in result.stdout + result.stderr
    # Nothing trained, scored or published.
    assert not (warehouse.parent / "models").exists() or not any(
        (warehouse.parent / "models").iterdir()
    )
    assert not (out / "lists").exists()
    assert not (out / "reports").exists()
    _assert_loaded_and_quarantined_with_reasons(warehouse)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_header_only_file_goes_through_the_ingest_flow(
    prefect_harness: None, tmp_path: Path, fmt: str
) -> None:
    from pipelines.flows.ingest import ingest

    extracts = write_extract_set(tmp_path / "extracts", {"acute_spells": []}, fmt=fmt)
    result = ingest(extracts=extracts, warehouse=tmp_path / "wh" / "warehouse.duckdb")
    assert result["extracts"]["acute_spells"]["read"] == 0
    assert result["extracts"]["gp_events"]["loaded"] == len(DEFAULT_ROWS["gp_events"])
    assert result["core_rows"]["core_acute_spells"] == 0
    assert result["validation_mismatches"] == []
