"""`explain` is an audit tool for read-only users: no lock, nothing written, works during a run.

One small weekly run publishes (the session's `small_publication`, tests/e2e/conftest.py).
Then `explain` runs as a clinician would:
- as the unprivileged user `nobody` (`setpriv`), on a read-only copy of the warehouse file
  in a folder that user cannot write: it answers, and the folder is unchanged;
- while a run is in progress: the test holds the run's lock and a DuckDB write connection
  as a run does, and `explain` answers from the last completed publication (the audit copy
  beside the warehouse), takes no lock and leaves the folder unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from helpers.cli_process import (
    CASEFINDER,
    Sandbox,
    child_env,
    tree,
)

from foundation.locking import lock_path, run_in_progress, warehouse_lock

pytestmark = pytest.mark.slow

EXTRACT_DATE = "2026-11-23"


@pytest.fixture(scope="module")
def published(small_publication: dict) -> dict:
    """The shared small publication (tests/e2e/conftest.py)."""
    assert small_publication["as_of"] == EXTRACT_DATE
    return small_publication


def _explain(args: list, sandbox: Sandbox, prefix: list[str] | None = None):
    return subprocess.run(
        [*(prefix or []), str(CASEFINDER), "explain", *map(str, args)],
        cwd=sandbox.make().cwd,
        env=child_env(sandbox, {"HOME": str(sandbox.root)}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture
def read_only_copy(published: dict) -> Iterator[Path]:
    """The warehouse file alone, in a folder everyone can read and nobody but root can write."""
    folder = Path(tempfile.mkdtemp(prefix="casefinder-ro-", dir="/tmp"))
    try:
        copy = folder / "warehouse.duckdb"
        shutil.copy2(published["warehouse"], copy)
        copy.chmod(0o444)
        folder.chmod(0o555)
        yield copy
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


def _as_nobody() -> list[str]:
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0:
        return []  # already not root: run as this user
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot run explain as an unprivileged user")
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def test_explain_as_an_unprivileged_user_on_a_read_only_copy(
    published: dict, read_only_copy: Path, tmp_path: Path
) -> None:
    sandbox = Sandbox(Path(tempfile.mkdtemp(prefix="casefinder-nobody-", dir="/tmp")))
    try:
        sandbox.make()
        for p in (sandbox.root, sandbox.cwd, sandbox.prefect_home):
            p.chmod(0o777)
        before = tree(read_only_copy.parent)
        number = published["nhs_number"]
        in_groups = [number[:3], number[3:6], number[6:]]  # as docs/clinician.md types it
        result = _explain(
            [
                *in_groups,
                "--warehouse",
                read_only_copy,
                "--format",
                "json",
            ],
            sandbox,
            prefix=_as_nobody(),
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        doc = json.loads(result.stdout)
        assert doc["nhs_number"] == published["nhs_number"]
        assert doc["as_of"] == EXTRACT_DATE
        assert tree(read_only_copy.parent) == before
        # Nothing else either: no Prefect home, no ./data, no log file.
        assert not any(sandbox.prefect_home.iterdir())
        assert sorted(p.name for p in sandbox.cwd.iterdir()) == []
    finally:
        shutil.rmtree(sandbox.root, ignore_errors=True)


def test_explain_during_a_run_answers_from_the_last_publication(
    published: dict, tmp_path: Path
) -> None:
    folder = tmp_path / "wh"
    shutil.copytree(published["warehouse"].parent, folder)
    warehouse = folder / published["warehouse"].name
    with warehouse_lock(warehouse):
        assert run_in_progress(warehouse)
        writer = duckdb.connect(str(warehouse))  # a run has the file open for writing
        try:
            writer.execute("create or replace table audit.in_progress as select 1 as x")
            before = tree(warehouse.parent)
            lock_text = lock_path(warehouse).read_text(encoding="utf-8")
            result = _explain(
                [published["nhs_number"], "--warehouse", warehouse, "--format", "json"],
                Sandbox(tmp_path / "during"),
            )
            after = tree(warehouse.parent)
            lock_after = lock_path(warehouse).read_text(encoding="utf-8")
        finally:
            writer.close()
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout)
    assert (doc["nhs_number"], doc["as_of"]) == (published["nhs_number"], EXTRACT_DATE)
    assert doc["features"] and doc["history"]
    assert after == before
    assert lock_after == lock_text
    assert not run_in_progress(warehouse)


def test_explain_during_a_first_run_says_so_in_one_line(published: dict, tmp_path: Path) -> None:
    """No completed publication kept yet: one line, exit 2, nothing written."""
    folder = tmp_path / "first"
    folder.mkdir()
    warehouse = folder / "warehouse.duckdb"
    shutil.copy2(published["warehouse"], warehouse)
    with warehouse_lock(warehouse):
        result = _explain(
            [published["nhs_number"], "--warehouse", warehouse], Sandbox(tmp_path / "s")
        )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("casefinder: error: ") and "being written" in last, last
    assert published["nhs_number"] not in result.stderr
