"""`casefinder check`: an extract set checked with ingest's own rules, in memory, no warehouse."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import duckdb
import pytest
from helpers.extract_set import DEFAULT_ROWS, NHS, write_extract_set

from foundation.audit import quarantine_by_rule
from foundation.warehouse import ensure_layers
from pipelines.cli import main
from pipelines.ingest.check import check_extract_set
from pipelines.ingest.extracts import discover
from pipelines.ingest.load import load_extract_set

IDENTIFIERS = [
    value
    for row in DEFAULT_ROWS["gp_patients"]
    for value in (row["nhs_number"], row["given_name"], row["date_of_birth"])
]


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory and a temporary folder of the test's own, for `check` to run in."""
    for folder in ("cwd", "tmp"):
        (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.delenv("CASEFINDER_MAX_REJECTED_SHARE", raising=False)
    return tmp_path


def _check(extracts: Path, capsys: pytest.CaptureFixture[str], *options: str):
    code = main(["check", "--extracts", str(extracts), *options])
    captured = capsys.readouterr()
    for value in IDENTIFIERS:
        assert value not in captured.out + captured.err
    return code, captured.out, captured.err


def _dd_mm_yyyy(rows: list[dict]) -> list[dict]:
    """Every event date but the last written DD/MM/YYYY, as a converted extract might."""
    rows = copy.deepcopy(rows)
    for row in rows[:-1]:
        year, month, day = row["event_date"].split("-")
        row["event_date"] = f"{day}/{month}/{year}"
    return rows


def test_a_good_set_would_run_and_no_warehouse_file_appears(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extracts = write_extract_set(sandbox / "extracts")
    code, out, err = _check(extracts, capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("extract set extracts as of 2026-11-16 (contract v1.1)")
    row = next(line for line in lines if line.startswith("gp_patients.csv"))
    assert row.split() == ["gp_patients.csv", "6", "6", "0", "0", "6"]
    assert lines[-1] == "a run would go ahead: no file would stop it"
    written = [p for p in sandbox.rglob("*") if p.suffix in (".duckdb", ".wal", ".tmp")]
    assert written == []
    assert list((sandbox / "tmp").iterdir()) == []
    assert list((sandbox / "cwd").rglob("*.duckdb*")) == []


def test_dates_written_dd_mm_yyyy_would_stop_a_run(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _dd_mm_yyyy(DEFAULT_ROWS["gp_events"])
    extracts = write_extract_set(sandbox / "extracts", {"gp_events": events})
    code, out, err = _check(extracts, capsys)
    assert code == 2
    assert "Traceback" not in err
    assert err.splitlines() == [
        "casefinder: error: gp_events.csv: 80.0% of rows rejected (4 of 5; the limit is 50%), "
        "mostly by rule event_date_format ('event_date is a date written YYYY-MM-DD', "
        "e.g. '01/06/2025'); a run would stop before anything is trained, scored or published"
    ]
    assert "  event_date_format: 4 rows (event_date is a date written YYYY-MM-DD), " in out
    assert "would stop a run:\n  gp_events.csv: 80.0% of rows rejected" in out


def test_json_names_each_failed_rule_with_its_count_example_and_control_total(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = copy.deepcopy(DEFAULT_ROWS["gp_events"])
    long_code = "not-a-code-" + "9" * 100
    events.append({**events[1], "snomed_code": long_code})
    events.append({**events[1], "nhs_number": "9990000019"})  # fails the check digit
    events[0]["site_notes"] = "free text"  # an unknown column
    extracts = write_extract_set(sandbox / "extracts", {"gp_events": events})
    code, out, _ = _check(extracts, capsys, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["would_run"] is True
    assert report["stops"] == []
    assert report["max_rejected_share"] == 0.5
    events_report = report["files"]["gp_events"]
    assert {k: events_report[k] for k in ("read", "loaded", "quarantined", "control_total")} == {
        "read": 7,
        "loaded": 5,
        "quarantined": 2,
        "control_total": 7,
    }
    assert events_report["extra_columns"] == ["site_notes"]
    failed = {r["rule"]: (r["rows"], r["example"]) for r in events_report["rules_failed"]}
    # An example for a code (its first 40 characters); none for an NHS number.
    assert failed == {"snomed_code_format": (1, long_code[:40]), "nhs_number_format": (1, None)}
    assert "9990000019" not in out
    assert report["files"]["gp_patients"]["rules_failed"] == []


def test_check_counts_each_rule_as_ingest_quarantines(tmp_path: Path) -> None:
    patients = copy.deepcopy(DEFAULT_ROWS["gp_patients"])
    patients[1]["sex"] = "M"
    patients[2]["practice_code"] = "Z99999"
    spells = copy.deepcopy(DEFAULT_ROWS["acute_spells"])
    spells[0]["discharge_date"] = "2026-03-01"  # before its admission
    spells.append({**spells[1], "spell_id": "S0009", "admission_method": "2"})
    extracts = write_extract_set(
        tmp_path / "set", {"gp_patients": patients, "acute_spells": spells}
    )
    con = duckdb.connect()
    ensure_layers(con)
    loaded = load_extract_set(con, discover(extracts), b"k" * 32)
    ingested = quarantine_by_rule(con, loaded.snapshot_id)
    report = check_extract_set(extracts, None, 0.5)
    checked = {f.file: {r.rule: r.rows for r in f.failures} for f in report.files if f.failures}
    assert checked == ingested
    assert set(checked["gp_patients"]) == {"sex_in_vocabulary", "practice_exists"}


def test_a_header_only_file_is_reported_not_fatal_unless_its_control_total_says_otherwise(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extracts = write_extract_set(sandbox / "extracts", {"acute_spells": []})
    code, out, _ = _check(extracts, capsys, "--format", "json")
    assert code == 0
    spells = json.loads(out)["files"]["acute_spells"]
    assert (spells["read"], spells["header_only"], spells["stops_run"]) == (0, True, False)

    manifest = json.loads((extracts / "manifest.json").read_text())
    manifest["files"]["acute_spells"]["rows"] = 3
    (extracts / "manifest.json").write_text(json.dumps(manifest))
    code, out, err = _check(extracts, capsys)
    assert code == 2
    assert err.splitlines() == [
        "casefinder: error: acute_spells.csv has 0 data rows, fewer than its control total "
        "of 3 in manifest.json (truncated?)"
    ]
    # The other files are still checked and reported.
    row = next(line for line in out.splitlines() if line.startswith("gp_events.csv"))
    assert row.split() == ["gp_events.csv", "5", "5", "0", "0", "5"]
    assert "  acute_spells.csv has 0 data rows" in out


def test_the_limit_is_a_setting(
    sandbox: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _dd_mm_yyyy(DEFAULT_ROWS["gp_events"])
    extracts = write_extract_set(sandbox / "extracts", {"gp_events": events})
    monkeypatch.setenv("CASEFINDER_MAX_REJECTED_SHARE", "0.9")
    code, out, _ = _check(extracts, capsys)
    assert code == 0
    assert "a run stops when more than 90% of a file's rows are rejected" in out
    monkeypatch.setenv("CASEFINDER_MAX_REJECTED_SHARE", "half")
    code, _, err = _check(extracts, capsys)
    assert code == 2
    assert err.splitlines() == [
        "casefinder: error: CASEFINDER_MAX_REJECTED_SHARE must be a share between 0 and 1 "
        "(e.g. 0.5)"
    ]


def test_a_missing_required_column_is_one_line(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{k: v for k, v in r.items() if k != "snomed_code"} for r in DEFAULT_ROWS["gp_events"]]
    extracts = write_extract_set(sandbox / "extracts", {"gp_events": rows})
    code, out, err = _check(extracts, capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "casefinder: error: gp_events.csv: missing required column snomed_code"
    ]
    assert NHS[0] not in err


def test_an_as_of_after_the_extract_date_is_refused(
    sandbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extracts = write_extract_set(sandbox / "extracts")
    code, out, err = _check(extracts, capsys, "--as-of", "2026-12-01")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "casefinder: error: --as-of 2026-12-01 is after the extract set's extract_date "
        "2026-11-16 (manifest.json): the data have not reached that day"
    ]
    code, out, _ = _check(extracts, capsys, "--as-of", "2026-11-09")
    assert code == 0
    assert "as of 2026-11-09" in out.splitlines()[0]
