"""One run per warehouse: an exclusive, non-blocking file lock beside the warehouse file."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from foundation.errors import WarehouseBusyError

log = logging.getLogger("casefinder.locking")

# Locks this process already holds, by lock-file path: nested runs (the weekly flow calling
# the ingest flow) re-enter instead of blocking themselves. flock conflicts between two
# open() calls even inside one process, so the process keeps one handle per lock file.
_held: dict[Path, tuple[IO[str], int]] = {}
_held_guard = threading.Lock()


def lock_path(warehouse: Path | str) -> Path:
    """The lock file of a warehouse: `<warehouse>.lock` (e.g. `warehouse.duckdb.lock`)."""
    warehouse = Path(warehouse).resolve()
    return warehouse.with_name(warehouse.name + ".lock")


def _holder(path: Path) -> str:
    """Who holds the lock, as written by the holder: `pid N, started T`."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    return f"pid {info.get('pid', '?')}, started {info.get('started', '?')}"


@contextmanager
def warehouse_lock(warehouse: Path | str) -> Iterator[Path]:
    """Hold the warehouse for one casefinder run, or fail at once if another run holds it.

    Uses `fcntl.flock(LOCK_EX | LOCK_NB)` on `<warehouse>.lock`. The operating system drops
    the lock when the holder exits, even if it is killed, so a stale lock file never blocks
    the next run. Re-entrant within one process.

    Raises:
        WarehouseBusyError: another process holds the lock (message names its pid and start).
    """
    path = lock_path(warehouse)
    with _held_guard:
        if path in _held:
            handle, depth = _held[path]
            _held[path] = (handle, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield path
        finally:
            _release(path)
        return

    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise WarehouseBusyError(
            f"warehouse {Path(warehouse)} is being used by another casefinder run "
            f"({_holder(path)}); wait for it to finish, then run again. "
            "Nothing was changed by this run."
        ) from None
    handle.seek(0)
    handle.truncate()
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    handle.write(json.dumps({"pid": os.getpid(), "started": started}))
    handle.flush()
    with _held_guard:
        _held[path] = (handle, 1)
    log.info("holding the warehouse lock %s", path.name)
    try:
        yield path
    finally:
        _release(path)


def _release(path: Path) -> None:
    with _held_guard:
        handle, depth = _held[path]
        if depth > 1:
            _held[path] = (handle, depth - 1)
            return
        del _held[path]
    # Clear the holder details before unlocking; the file itself stays (removing it could
    # let two runs lock two different files of the same name).
    handle.seek(0)
    handle.truncate()
    handle.flush()
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    handle.close()


def run_in_progress(warehouse: Path | str) -> bool:
    """Whether a casefinder run holds the warehouse lock now, found without taking it.

    Reads the kernel's table of file locks (`/proc/locks`) for a lock on `<warehouse>.lock`;
    where that table cannot be read, trusts the holder's pid written in the file. Never opens
    the lock file for writing: `explain` uses it on warehouses its user cannot write.
    """
    path = lock_path(warehouse)
    try:
        st = path.stat()
    except OSError:
        return False
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        table = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return _holder_alive(path)
    for line in table.splitlines():
        fields = line.split()
        if "FLOCK" in fields and any(f == wanted for f in fields):
            return True
    return False


def _holder_alive(path: Path) -> bool:
    try:
        pid = int(json.loads(path.read_text(encoding="utf-8") or "{}").get("pid", 0))
    except (OSError, ValueError, TypeError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
