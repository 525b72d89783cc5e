"""Publications are never silently replaced.

On a copy of the session's small publication (tests/e2e/conftest.py):
- the same week run again (same extract checksums, same model) changes nothing, byte for byte;
- the same as-of from changed extracts stops before publishing: exit 2, one line naming the
  as-of, the published files untouched;
- with `--republish` it replaces the publication, keeps the replaced one in the audit trail
  (`audit.replaced_publications`) and the new run report names its snapshot, model and
  extract checksums.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from helpers.cli_process import Sandbox, assert_clean_failure, run_casefinder

pytestmark = pytest.mark.slow


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def copy(
    small_publication: dict, prefect_api: dict, tmp_path_factory: pytest.TempPathFactory
) -> dict:
    root = tmp_path_factory.mktemp("republish")
    shutil.copytree(small_publication["warehouse"].parent, root / "wh")
    shutil.copytree(small_publication["out"], root / "out")
    return {
        **small_publication,
        "env": prefect_api,
        "root": root,
        "warehouse": root / "wh" / small_publication["warehouse"].name,
        "out": root / "out",
    }


def _run(copy: dict, extracts: Path, name: str, *extra: str):
    return run_casefinder(
        [
            "run",
            "--extracts",
            extracts,
            "--warehouse",
            copy["warehouse"],
            "--out",
            copy["out"],
            *extra,
        ],
        Sandbox(copy["root"] / name),
        env=copy["env"],
    )


@pytest.fixture(scope="module")
def changed_extracts(copy: dict) -> Path:
    """The same extract date, one patient's record changed (a resupplied extract)."""
    changed = copy["root"] / "changed"
    shutil.copytree(copy["extracts"], changed)
    path = changed / "gp_events.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")  # one event fewer
    manifest = json.loads((changed / "manifest.json").read_text(encoding="utf-8"))
    totals = manifest.get("files", {}).get("gp_events", {})
    if "rows" in totals:  # the control total follows the resupplied file
        totals["rows"] -= 1
    (changed / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return changed


def test_the_same_week_again_changes_nothing(copy: dict) -> None:
    before = _digests(copy["out"])
    result = _run(copy, copy["extracts"], "again")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "already published" in result.stdout, result.stdout
    assert _digests(copy["out"]) == before


def test_changed_extracts_for_a_published_as_of_stop_before_publishing(
    copy: dict, changed_extracts: Path
) -> None:
    before = _digests(copy["out"])
    result = _run(copy, changed_extracts, "changed")
    line = assert_clean_failure(result, [copy["as_of"], "already published", "--republish"])
    assert result.stderr.strip().splitlines()[-1] == line
    assert _digests(copy["out"]) == before


def test_republish_replaces_and_keeps_the_replaced_in_the_audit_trail(
    copy: dict, changed_extracts: Path
) -> None:
    con = duckdb.connect(str(copy["warehouse"]), read_only=True)
    try:
        old = con.execute(
            "select distinct snapshot_id, model_version from audit.publications where as_of = ?",
            [copy["as_of"]],
        ).fetchall()
    finally:
        con.close()
    assert len(old) == 1
    result = _run(copy, changed_extracts, "republish", "--republish")
    assert result.returncode == 0, result.stderr[-3000:]
    con = duckdb.connect(str(copy["warehouse"]), read_only=True)
    try:
        kept = con.execute(
            "select distinct snapshot_id, model_version from audit.replaced_publications"
            " where as_of = ?",
            [copy["as_of"]],
        ).fetchall()
        new = con.execute(
            "select distinct snapshot_id from audit.publications where as_of = ?",
            [copy["as_of"]],
        ).fetchall()
    finally:
        con.close()
    assert kept == old
    assert new != [(old[0][0],)]
    report = (copy["out"] / "reports" / copy["as_of"] / "run_report.html").read_text(
        encoding="utf-8"
    )
    assert f"snapshot {old[0][0]}" in report
    assert str(old[0][1]) in report
    assert "gp_events.csv" in report or "gp_events" in report
