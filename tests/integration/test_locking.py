"""The warehouse lock: a second run on the same warehouse fails at once, across real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from foundation.errors import WarehouseBusyError
from foundation.locking import lock_path, warehouse_lock

# A holder process: takes the lock, writes a row to the warehouse, says "locked", then waits
# for a line on stdin (or to be killed) before it lets go.
HOLDER = textwrap.dedent(
    """
    import sys
    from foundation.locking import warehouse_lock
    from foundation.warehouse import connect

    with warehouse_lock(sys.argv[1]):
        con = connect(sys.argv[1])
        con.execute("create table if not exists audit.probe (n integer)")
        con.execute("insert into audit.probe values (1)")
        con.close()
        print("locked", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
    """
)

# A second run as the CLI would do it: take the lock first, only then open the warehouse.
SECOND_RUN = textwrap.dedent(
    """
    import sys
    from foundation.errors import WarehouseBusyError
    from foundation.locking import warehouse_lock
    from foundation.warehouse import connect

    try:
        with warehouse_lock(sys.argv[1]):
            con = connect(sys.argv[1])
            con.execute("insert into audit.probe values (2)")
            con.close()
    except WarehouseBusyError as exc:
        print(exc)
        sys.exit(2)
    """
)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    warehouse = tmp_path / "warehouse.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        yield proc, warehouse
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


def test_second_process_fails_fast_with_clear_message(holder) -> None:
    proc, warehouse = holder
    second = subprocess.run(
        [sys.executable, "-c", SECOND_RUN, str(warehouse)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    message = second.stdout.strip()
    assert "being used by another casefinder run" in message
    assert f"pid {proc.pid}" in message
    assert "started 20" in message


def test_in_process_attempt_raises_while_other_process_holds(holder) -> None:
    proc, warehouse = holder
    with pytest.raises(WarehouseBusyError, match=f"pid {proc.pid}"), warehouse_lock(warehouse):
        pass  # pragma: no cover - never reached


def test_warehouse_intact_after_refused_run_and_lock_free_after_release(holder) -> None:
    proc, warehouse = holder
    with pytest.raises(WarehouseBusyError), warehouse_lock(warehouse):
        pass  # pragma: no cover
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "released"
    assert proc.wait(timeout=60) == 0
    with warehouse_lock(warehouse):
        con = duckdb.connect(str(warehouse), read_only=True)
        assert con.execute("select list(n) from audit.probe").fetchone()[0] == [1]
        con.close()


def test_killed_holder_leaves_no_stale_lock(holder) -> None:
    proc, warehouse = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert lock_path(warehouse).exists()
    with warehouse_lock(warehouse) as path:
        assert path == lock_path(warehouse)
        con = duckdb.connect(str(warehouse))
        assert con.execute("select count(*) from audit.probe").fetchone()[0] == 1
        con.close()


def test_reentrant_in_one_process_and_released_after(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with warehouse_lock(warehouse), warehouse_lock(warehouse):
        # Still held after the inner block ends: another process is refused.
        refused = subprocess.run(
            [sys.executable, "-c", TRY_LOCK, str(warehouse)], capture_output=True, timeout=60
        )
        assert refused.returncode == 2
    taken = subprocess.run(
        [sys.executable, "-c", TRY_LOCK, str(warehouse)], capture_output=True, timeout=60
    )
    assert taken.returncode == 0


TRY_LOCK = textwrap.dedent(
    """
    import sys
    from foundation.errors import WarehouseBusyError
    from foundation.locking import warehouse_lock

    try:
        with warehouse_lock(sys.argv[1]):
            pass
    except WarehouseBusyError:
        sys.exit(2)
    """
)


@pytest.mark.slow
def test_weekly_flow_refuses_a_held_warehouse_before_touching_it(
    prefect_harness: None, holder, tmp_path: Path
) -> None:
    """A deployment run (no CLI around it) takes the lock itself, first thing."""
    from helpers.extract_set import write_extract_set

    from pipelines.flows.weekly import weekly_run

    proc, warehouse = holder
    before = warehouse.read_bytes()
    extracts = write_extract_set(tmp_path / "extracts")
    state = weekly_run(
        extracts=extracts, warehouse=warehouse, out=tmp_path / "out", return_state=True
    )
    assert state.is_failed()
    assert "being used by another casefinder run" in state.message
    assert f"pid {proc.pid}" in state.message
    assert warehouse.read_bytes() == before
    assert not (tmp_path / "out").exists()
