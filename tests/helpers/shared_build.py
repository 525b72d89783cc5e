"""Things built once per `make test` and shared by its pytest-xdist workers (synthetic extract
sets, a published weekly run with its trained model), so that a test which is not about
generating or training starts from a copy instead of building its own.

The first worker to ask for a thing builds it in the run's shared temporary folder while
holding a file lock; the others wait for the lock and read what it recorded (the pytest-xdist
pattern for a session fixture run once). A build that failed is started again by the next
test that asks. Whatever is shared is read-only for the tests: they copy what they change.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import synthetic


def shared_root(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The folder both workers see (the parent of each worker's own); in one process (no
    xdist, `worker_id` "master") the session's own folder, never one shared across runs."""
    base = tmp_path_factory.getbasetemp()
    return (base if worker_id == "master" else base.parent) / "shared-builds"


def built_once(root: Path, name: str, build: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """What `build(folder)` returned (JSON data), `build` having run once for all workers in a
    fresh `root/name/build` folder."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / "built.json"
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            if (folder / "build").exists():  # a build that failed: start again
                shutil.rmtree(folder / "build")
            found = build(folder / "build")
            done.write_text(json.dumps(found), encoding="utf-8")
        return json.loads(done.read_text(encoding="utf-8"))


def synthetic_set(root: Path, patients: int, seed: int, extract_date: date) -> Path:
    """A synthetic extract set as `casefinder synth` writes it by default (CSV, with its
    defects), generated once per run for these arguments; read-only."""
    name = f"synth-{patients}-{seed}-{extract_date.isoformat()}"

    def build(folder: Path) -> dict[str, Any]:
        extracts = folder / "extracts"
        synthetic.generate(
            extracts, patients=patients, seed=seed, extract_date=extract_date, fmt="csv"
        )
        return {"extracts": str(extracts)}

    return Path(built_once(root, name, build)["extracts"])


def copy_warehouse(warehouse: Path, folder: Path) -> Path:
    """A copy of everything a run keeps beside `warehouse` (the DuckDB file, its raw store,
    pseudonymisation key, model registry, logs) in `folder`; returns the copy's file."""
    shutil.copytree(warehouse.parent, folder)
    return folder / warehouse.name
