"""Environment faults: a clear message and nothing half-written (hazard log H9, H7).

Locked warehouse, warehouse from a newer or older casefinder, corrupt Parquet, a folder that
cannot be written, a full disk, a bad key file, bad settings. The command-line runs go through
the real entry point in a child process (`helpers.cli_process`). Unwritable folders and full
disks use small tmpfs mounts when the tests run as root (`mount -t tmpfs -o size=...`);
without root an unwritable folder falls back to `chmod`, and the disk-full test is skipped
with its reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import pytest
from helpers.cli_process import (
    Sandbox,
    assert_clean_failure,
    run_casefinder,
    run_many,
)
from helpers.extract_set import write_extract_set

from foundation import warehouse as wh
from foundation.errors import CasefinderError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(prefect_api: dict[str, str]) -> dict[str, str]:
    """This worker's Prefect server for the module's children (tests/conftest.py)."""
    return prefect_api


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _snapshots(warehouse: Path) -> list[tuple]:
    return _query(warehouse, "select snapshot_id, status from audit.snapshots order by 1")


def _core_counts(warehouse: Path) -> dict[str, int]:
    tables = _query(
        warehouse,
        "select table_name from duckdb_tables() where schema_name = 'core' order by 1",
    )
    return {t: _query(warehouse, f"select count(*) from core.{t}")[0][0] for (t,) in tables}


def _ingest(extracts: Path, warehouse: Path) -> list[str]:
    return ["ingest", "--extracts", str(extracts), "--warehouse", str(warehouse)]


def _versioned_warehouse(path: Path, version: str) -> Path:
    con = wh.connect(path)
    con.execute("create table audit.probe as select 42 as n")
    con.execute("update audit.warehouse_meta set value = ? where key = 'schema_version'", [version])
    con.close()
    return path


@contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A small tmpfs at `path` (root only); always unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0700" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({mounted.stderr.strip()[:80]}); needs root")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


# --- in-process: the version check ---------------------------------------------------------


def test_newer_warehouse_is_refused_in_process(tmp_path: Path) -> None:
    path = _versioned_warehouse(tmp_path / "w.duckdb", str(wh.WAREHOUSE_SCHEMA_VERSION + 1))
    before = _sha(path)
    for read_only in (False, True):
        with pytest.raises(CasefinderError, match=r"newer|differs"):
            wh.connect(path, read_only=read_only)
    assert _sha(path) == before
    # The refused connection was closed: the file can be opened again at once.
    duckdb.connect(str(path)).close()


def test_unreadable_version_is_refused(tmp_path: Path) -> None:
    path = _versioned_warehouse(tmp_path / "w.duckdb", "banana")
    with pytest.raises(CasefinderError, match="not a number"):
        wh.connect(path)


def test_older_warehouse_is_migrated_in_one_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _versioned_warehouse(tmp_path / "w.duckdb", str(wh.WAREHOUSE_SCHEMA_VERSION))
    current = wh.WAREHOUSE_SCHEMA_VERSION

    def add_column(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("alter table audit.probe add column m integer default 7")

    monkeypatch.setattr(wh, "WAREHOUSE_SCHEMA_VERSION", current + 1)
    monkeypatch.setattr(wh, "MIGRATIONS", {current: add_column})
    con = wh.connect(path)
    try:
        assert con.execute("select n, m from audit.probe").fetchall() == [(42, 7)]
        version = con.execute(
            "select value from audit.warehouse_meta where key = 'schema_version'"
        ).fetchone()
        assert version == (str(current + 1),)
    finally:
        con.close()


def test_failed_migration_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _versioned_warehouse(tmp_path / "w.duckdb", str(wh.WAREHOUSE_SCHEMA_VERSION))
    current = wh.WAREHOUSE_SCHEMA_VERSION

    def half_then_fail(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("drop table audit.probe")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(wh, "WAREHOUSE_SCHEMA_VERSION", current + 1)
    monkeypatch.setattr(wh, "MIGRATIONS", {current: half_then_fail})
    with pytest.raises(RuntimeError):
        wh.connect(path)
    monkeypatch.undo()
    con = wh.connect(path)
    try:
        assert con.execute("select n from audit.probe").fetchall() == [(42,)]
        version = con.execute(
            "select value from audit.warehouse_meta where key = 'schema_version'"
        ).fetchone()
        assert version == (str(current),)
    finally:
        con.close()


# --- through the command line ------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    from foundation.locking import warehouse_lock
    with warehouse_lock(sys.argv[1]):
        other = duckdb.connect(sys.argv[2])  # another program holding the file itself
        print("holding", flush=True)
        sys.stdin.readline()
        other.close()
    """
)


def test_locked_warehouse_is_refused_with_one_line(tmp_path: Path, server: dict[str, str]) -> None:
    """Another casefinder run (lock file) or another program (DuckDB's own file lock)."""
    extracts = write_extract_set(tmp_path / "extracts")
    by_run = wh.connect(tmp_path / "a" / "warehouse.duckdb")
    by_run.close()
    by_program = wh.connect(tmp_path / "b" / "warehouse.duckdb")
    by_program.close()
    a, b = tmp_path / "a" / "warehouse.duckdb", tmp_path / "b" / "warehouse.duckdb"
    before = {a: _sha(a), b: _sha(b)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(a), str(b)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        results = run_many(
            [("run", _ingest(extracts, a)), ("program", _ingest(extracts, b))],
            Sandbox(tmp_path / "sandbox"),
            env=server,
        )
    finally:
        holder.communicate("\n", timeout=60)
    for name, path in (("run", a), ("program", b)):
        line = assert_clean_failure(results[name], [path.name])
        assert "in use" in line or "lock" in line, line
        assert _sha(path) == before[path], f"{name}: the locked warehouse was changed"


def test_newer_and_older_warehouses_are_refused_and_left_untouched(
    tmp_path: Path, server: dict[str, str]
) -> None:
    extracts = write_extract_set(tmp_path / "extracts")
    newer = _versioned_warehouse(
        tmp_path / "newer" / "warehouse.duckdb", str(wh.WAREHOUSE_SCHEMA_VERSION + 1)
    )
    # version 0 predates every migration (version 1 is migrated: test_raw_store)
    older = _versioned_warehouse(tmp_path / "older" / "warehouse.duckdb", "0")
    before = {newer: _sha(newer), older: _sha(older)}
    results = run_many(
        [("newer", _ingest(extracts, newer)), ("older", _ingest(extracts, older))],
        Sandbox(tmp_path / "sandbox"),
        env=server,
    )
    assert "newer" in assert_clean_failure(results["newer"], ["schema version"])
    assert "older" in assert_clean_failure(results["older"], ["schema version"])
    for path, sha in before.items():
        assert _sha(path) == sha, f"{path.parent.name} warehouse was changed"
        # Only the lock file and the log appear: the key is created only once the warehouse
        # is accepted.
        extra = {p.name for p in path.parent.iterdir()} - {"warehouse.duckdb"}
        assert extra <= {"warehouse.duckdb.lock", "logs"}, extra


def _corrupt(kind: str, path: Path) -> None:
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "garbage":
        path.write_bytes(data[:4] + bytes(len(data) - 8) + data[-4:])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "not_parquet":
        path.write_bytes(b"nhs_number,event_date\n9990000018,2025-01-01\n")


CORRUPTIONS = ("truncated", "garbage", "empty", "not_parquet")


def test_corrupt_parquet_is_refused_and_nothing_is_loaded(
    tmp_path: Path, server: dict[str, str]
) -> None:
    """A good week loads; then each corrupt week is refused and the good one stays intact."""
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    good = write_extract_set(tmp_path / "good", fmt="parquet")
    invocations = [("good", _ingest(good, warehouse))]
    for i, kind in enumerate(CORRUPTIONS):
        bad = write_extract_set(tmp_path / kind, fmt="parquet", extract_date=date(2026, 11, 23 + i))
        _corrupt(kind, bad / "gp_events.parquet")
        invocations.append((kind, _ingest(bad, warehouse)))
    # Learn the good state first, then run the corrupt weeks.
    sandbox = Sandbox(tmp_path / "sandbox")
    first = run_many(invocations[:1], sandbox, env=server)
    assert first["good"].returncode == 0, first["good"].stderr[-2000:]
    snapshots, counts = _snapshots(warehouse), _core_counts(warehouse)
    results = run_many(invocations[1:], sandbox, env=server)
    for kind in CORRUPTIONS:
        assert_clean_failure(results[kind], ["gp_events.parquet"])
    assert _snapshots(warehouse) == snapshots
    assert _core_counts(warehouse) == counts


def test_corrupt_key_file_stops_the_run_and_is_not_replaced(
    tmp_path: Path, server: dict[str, str]
) -> None:
    extracts = write_extract_set(tmp_path / "extracts")
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    key = warehouse.parent / "casefinder.key"
    key.parent.mkdir(parents=True)
    key.write_text("this is not a key\n", encoding="ascii")
    key.chmod(0o600)
    result = run_casefinder(_ingest(extracts, warehouse), Sandbox(tmp_path / "sandbox"), env=server)
    assert_clean_failure(result, ["key file"])
    assert key.read_text(encoding="ascii") == "this is not a key\n"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CASEFINDER_HORIZON_DAYS", "a year"),
        ("CASEFINDER_OPT_OUT_DIRECT_CARE_LISTS", "tpye1"),
        ("CASEFINDER_PSEUDONYM_KEY", "not-hex"),
    ],
)
def test_bad_setting_gives_one_line(
    tmp_path: Path, variable: str, value: str, server: dict[str, str]
) -> None:
    extracts = write_extract_set(tmp_path / "extracts")
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    result = run_casefinder(
        _ingest(extracts, warehouse), Sandbox(tmp_path / "sandbox"), env={**server, variable: value}
    )
    line = assert_clean_failure(result, [variable])
    assert value not in line or variable.endswith("OPT_OUT_DIRECT_CARE_LISTS")
    assert not any(p.suffix == ".duckdb" for p in warehouse.parent.glob("*")) or (
        not _snapshots(warehouse)
    )


def test_unwritable_warehouse_folder_gives_one_line(tmp_path: Path, server: dict[str, str]) -> None:
    extracts = write_extract_set(tmp_path / "extracts")
    # A path under a regular file: cannot be created by anyone, root included.
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder\n", encoding="utf-8")
    results: dict[str, object] = {}
    if os.geteuid() == 0:
        with tmpfs(tmp_path / "ro", "1m", read_only=True) as ro:
            results = run_many(
                [
                    ("read_only", _ingest(extracts, ro / "wh" / "warehouse.duckdb")),
                    ("under_file", _ingest(extracts, blocker / "warehouse.duckdb")),
                ],
                Sandbox(tmp_path / "sandbox"),
                env=server,
            )
            assert list(ro.iterdir()) == []
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        results = run_many(
            [
                ("read_only", _ingest(extracts, locked / "wh" / "warehouse.duckdb")),
                ("under_file", _ingest(extracts, blocker / "warehouse.duckdb")),
            ],
            Sandbox(tmp_path / "sandbox"),
            env=server,
        )
    named = {"read_only": ("read-only", "ermission", "locked"), "under_file": ("blocker",)}
    for name, result in results.items():
        line = assert_clean_failure(result, [])  # type: ignore[arg-type]
        assert any(word in line for word in named[name]), (name, line)
    assert blocker.read_text(encoding="utf-8") == "a file, not a folder\n"


def test_disk_full_gives_one_line_and_keeps_the_last_good_load(
    tmp_path: Path, server: dict[str, str]
) -> None:
    """Load week 1 on a small file system, fill it, load week 2: refused, week 1 intact."""
    week1 = write_extract_set(tmp_path / "week1")
    week2 = write_extract_set(tmp_path / "week2", extract_date=date(2026, 11, 23))
    sandbox = Sandbox(tmp_path / "sandbox")
    with tmpfs(tmp_path / "small", "64m") as small:
        warehouse = small / "wh" / "warehouse.duckdb"
        first = run_many([("week1", _ingest(week1, warehouse))], sandbox, env=server)
        assert first["week1"].returncode == 0, first["week1"].stderr[-2000:]
        snapshots, counts = _snapshots(warehouse), _core_counts(warehouse)
        filler = small / "filler"
        with filler.open("wb") as fh:  # fill the file system to the last few blocks
            try:
                while True:
                    fh.write(b"\0" * (1 << 20))
                    fh.flush()
            except OSError:
                pass
        second = run_many([("week2", _ingest(week2, warehouse))], sandbox, env=server)
        line = assert_clean_failure(second["week2"], [])
        assert "space" in line, line
        filler.unlink()
        assert _snapshots(warehouse) == snapshots
        assert _core_counts(warehouse) == counts
        summary = json.dumps({"snapshots": snapshots})
        assert "loading" not in summary


def test_corrected_extract_for_the_same_date_loads(tmp_path: Path, server: dict[str, str]) -> None:
    """A supplier resends this week's extract with one row corrected: it loads as a new snapshot."""
    from helpers.extract_set import DEFAULT_ROWS

    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    first = write_extract_set(tmp_path / "first")
    events = [dict(r) for r in DEFAULT_ROWS["gp_events"]]
    events[1]["numeric_value"] = "35"
    corrected = write_extract_set(tmp_path / "corrected", overrides={"gp_events": events})
    results = run_many(
        [("first", _ingest(first, warehouse)), ("corrected", _ingest(corrected, warehouse))],
        Sandbox(tmp_path / "sandbox"),
        env=server,
    )
    assert results["first"].returncode == 0, results["first"].stderr[-2000:]
    assert results["corrected"].returncode == 0, results["corrected"].stderr[-2000:]
    assert [s for s, status in _snapshots(warehouse) if status == "loaded"] == [1, 2]
