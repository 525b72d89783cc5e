"""Staging folders: held while their run lives; only those of ended runs are cleaned up."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from foundation import staging
from models.registry import clean_stale_staging as clean_models
from models.registry import new_staging_dir
from reports.publish import clean_stale_folders, clean_stale_staging, staging_dir, staging_path

AS_OF = date(2026, 11, 16)

# A child that creates and holds a staging folder, says so, then waits to be killed.
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from foundation.staging import create_held

    create_held(Path(sys.argv[1]))
    print("holding", flush=True)
    sys.stdin.readline()
    """
)


def _folder_with_a_file(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "proactive_care_list.csv").write_text("rank,nhs_number\n", encoding="utf-8")
    return path


@pytest.fixture
def other_live_run() -> Iterator[list[int]]:
    """Hold folders as another live run would: a separate open descriptor with the flock."""
    fds: list[int] = []
    yield fds
    for fd in fds:
        os.close(fd)


def _hold_elsewhere(path: Path, fds: list[int]) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fds.append(fd)


def _start_holder(path: Path) -> subprocess.Popen[str]:
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_folder_nobody_holds_is_removed(tmp_path: Path) -> None:
    _folder_with_a_file(tmp_path / ".tmp-2026-11-16-4242")
    assert staging.remove_abandoned(tmp_path, (".tmp-",)) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_folder_held_by_a_live_run_is_kept(tmp_path: Path, other_live_run: list[int]) -> None:
    live = _folder_with_a_file(tmp_path / ".tmp-2026-11-16-4242")
    _hold_elsewhere(live, other_live_run)
    assert staging.remove_abandoned(tmp_path, (".tmp-",)) == 0
    assert (live / "proactive_care_list.csv").exists()


def test_this_process_s_own_folder_is_kept_until_released(tmp_path: Path) -> None:
    mine = staging.create_held(tmp_path / ".tmp-2026-11-16-1")
    assert staging.owns(mine)
    assert staging.remove_abandoned(tmp_path, (".tmp-",)) == 0
    assert mine.is_dir()
    staging.release(mine)
    assert not staging.owns(mine)
    assert staging.remove_abandoned(tmp_path, (".tmp-",)) == 1


def test_only_the_named_prefixes_are_touched(tmp_path: Path) -> None:
    for name in ("2026-11-16", ".rejected", "N1", ".tmpfile-not-ours"):
        _folder_with_a_file(tmp_path / name)
    (tmp_path / ".tmp-a-file").write_text("x", encoding="utf-8")
    assert staging.remove_abandoned(tmp_path, (".tmp-",)) == 0
    assert len(list(tmp_path.iterdir())) == 5


def test_a_symbolic_link_is_never_followed(tmp_path: Path) -> None:
    precious = _folder_with_a_file(tmp_path / "precious")
    parent = tmp_path / "lists"
    parent.mkdir()
    (parent / ".tmp-2026-11-16-1").symlink_to(precious, target_is_directory=True)
    assert staging.remove_abandoned(parent, (".tmp-",)) == 0
    assert (precious / "proactive_care_list.csv").exists()


def test_a_killed_run_s_folder_is_removed_and_a_live_one_is_not(tmp_path: Path) -> None:
    killed = _start_holder(tmp_path / ".staging-killed")
    live = _start_holder(tmp_path / ".staging-live")
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
        assert staging.remove_abandoned(tmp_path, (".staging-",)) == 1
        assert [p.name for p in tmp_path.iterdir()] == [".staging-live"]
    finally:
        for proc in (killed, live):
            if proc.poll() is None:
                proc.communicate("\n", timeout=60)


def test_the_clean_up_logs_counts_not_names(tmp_path: Path, caplog) -> None:
    _folder_with_a_file(tmp_path / "lists" / ".tmp-2026-11-16-4242")
    with caplog.at_level(logging.INFO):
        clean_stale_folders(tmp_path / "lists")
    assert "1 staging folder(s) removed" in caplog.text
    assert "4242" not in caplog.text and "2026-11-16" not in caplog.text


def test_discard_leaves_another_run_s_folder_alone(tmp_path: Path) -> None:
    theirs = _folder_with_a_file(tmp_path / ".tmp-2026-11-16-1")
    staging.discard(theirs)
    assert theirs.is_dir()


# --- where the clean-up happens ------------------------------------------------------------


def test_a_new_model_staging_folder_sweeps_stale_ones_first(tmp_path: Path) -> None:
    root = tmp_path / "models"
    _folder_with_a_file(root / ".staging-0123456789ab")
    _folder_with_a_file(root / ".rejected" / "0123")
    _folder_with_a_file(root / "2026-11-16-abcdef01")
    fresh = new_staging_dir(root)
    try:
        names = sorted(p.name for p in root.iterdir())
        assert names == sorted([".rejected", "2026-11-16-abcdef01", fresh.name])
        assert clean_models(root) == 0  # the fresh one is held by this process
    finally:
        staging.discard(fresh)
    assert not fresh.exists()


def test_a_new_publication_staging_folder_sweeps_stale_ones_first(tmp_path: Path) -> None:
    lists = tmp_path / "out" / "lists"
    _folder_with_a_file(lists / ".tmp-2026-11-09-4242")
    _folder_with_a_file(lists / "2026-11-09" / "N1")
    fresh = staging_dir(lists, AS_OF)
    try:
        assert fresh == staging_path(lists, AS_OF)
        assert sorted(p.name for p in lists.iterdir()) == sorted(["2026-11-09", fresh.name])
    finally:
        staging.discard(fresh)


def test_a_publication_renamed_away_by_a_killed_run_is_put_back(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    _folder_with_a_file(lists / ".old-2026-11-16-4242" / "N1")
    assert clean_stale_folders(lists) == {"removed": 0, "restored": 1}
    assert (lists / "2026-11-16" / "N1" / "proactive_care_list.csv").exists()


def test_a_renamed_away_publication_already_replaced_is_removed(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    _folder_with_a_file(lists / ".old-2026-11-16-4242" / "N1")
    _folder_with_a_file(lists / "2026-11-16" / "N1")
    assert clean_stale_folders(lists) == {"removed": 1, "restored": 0}
    assert [p.name for p in lists.iterdir()] == ["2026-11-16"]


def test_every_publication_folder_under_out_is_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for name in ("lists", "reports", "pseudonymised"):
        _folder_with_a_file(out / name / ".tmp-2026-11-16-4242")
    assert clean_stale_staging(out) == 3
    assert sorted(p.name for p in out.rglob(".*")) == []
    assert clean_stale_staging(tmp_path / "missing") == 0
