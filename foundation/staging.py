"""Hidden staging folders held by their live process, and the clean-up of those of ended runs."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from foundation.errors import CasefinderError

log = logging.getLogger("casefinder.staging")

# Staging folders this process created and still owns, by path: an open folder descriptor
# with an exclusive flock on it (None where the file system cannot lock folders). The
# operating system drops the lock when the process ends, even on SIGKILL, so a folder nobody
# holds belongs to a run that has ended. The lock follows the folder through a rename (it is
# on the folder itself, not its name).
_held: dict[Path, int | None] = {}
_held_guard = threading.Lock()

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _try_lock(path: Path) -> int | None:
    """An open descriptor of `path` holding its flock, or None when it cannot be taken.

    None when another open descriptor (a live run, or this process elsewhere) holds the
    folder, when `path` is a symbolic link or gone, or when the file system cannot lock
    folders: in every doubt, the folder is treated as in use.
    """
    try:
        fd = os.open(path, _FOLDER_FLAGS)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def create_held(path: Path) -> Path:
    """Make the new folder `path` and hold it until `release` (or the end of the process).

    Raises:
        CasefinderError: the folder was taken away between its creation and its lock (a
            clean-up by another run in that instant); running again is safe.
    """
    path.mkdir()
    try:
        fd = os.open(path, _FOLDER_FLAGS)
    except FileNotFoundError:
        fd = None
    if fd is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            fd = None
        except OSError:  # the file system cannot lock folders: own it without a lock
            os.close(fd)
            log.debug("folder locks are not supported under %s", path.parent.name)
            with _held_guard:
                _held[path] = None
            return path
    if fd is None:
        raise CasefinderError(
            f"staging folder {path.name} was taken by a clean-up as it was created; run again"
        )
    with _held_guard:
        _held[path] = fd
    return path


def owns(path: Path) -> bool:
    """True when this process created the staging folder `path` and has not let go of it."""
    with _held_guard:
        return path in _held


def release(path: Path) -> None:
    """Let go of a staging folder this process holds (after renaming it into place)."""
    with _held_guard:
        fd = _held.pop(path, None)
    if fd is not None:
        os.close(fd)


def discard(path: Path) -> None:
    """Delete a staging folder of this process and let go of it; another's is left alone."""
    if not owns(path):
        return
    shutil.rmtree(path, ignore_errors=True)
    release(path)


@contextmanager
def holding(path: Path) -> Iterator[Path]:
    """Hold the existing folder `path` for the block (e.g. while it is renamed away)."""
    fd = _try_lock(path)
    try:
        yield path
    finally:
        if fd is not None:
            os.close(fd)


def abandoned(parent: Path, prefixes: tuple[str, ...]) -> Iterator[Path]:
    """Each folder of `parent` named `<prefix>...` that no live process holds.

    The folder stays locked while the caller handles it (during the `yield`), so no run can
    take it meanwhile. Symbolic links and plain files are never yielded.
    """
    if not parent.is_dir():
        return
    for path in sorted(parent.iterdir()):
        if not path.name.startswith(prefixes) or path.is_symlink() or not path.is_dir():
            continue
        fd = _try_lock(path)
        if fd is None:
            continue
        try:
            yield path
        finally:
            os.close(fd)


def remove_abandoned(parent: Path, prefixes: tuple[str, ...]) -> int:
    """Delete the staging folders of ended runs in `parent`; return how many went.

    Only folders named `<prefix>...` that no live process holds are removed; the log says how
    many, never which (their names carry dates and process ids, their files patient data).
    """
    removed = 0
    for path in abandoned(parent, prefixes):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed += 1
    if removed:
        log.info("removed %d staging folder(s) left by ended runs in %s/", removed, parent.name)
    return removed
