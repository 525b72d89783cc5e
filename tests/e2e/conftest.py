"""Shared end-to-end fixtures: one small published weekly run for the tests that read it,
built once per `make test` and shared by its workers."""

from __future__ import annotations

import csv
import fcntl
import json
import shutil
from pathlib import Path

import pytest
from helpers.cli_process import (
    Sandbox,
    run_casefinder_gate_off,
    synth_extracts,
)

PATIENTS = 600
SEED = 13
EXTRACT_DATE = "2026-11-23"


def _publish(root: Path, env: dict[str, str]) -> dict:
    """A small synthetic extract set and one published `casefinder run` under `root` (quality
    gate off: `helpers.cli_process.GATE_OFF_PRELUDE`); what the readers need, as JSON data."""
    extracts = root / "extracts"
    synth_extracts(extracts, Sandbox(root / "synth"), PATIENTS, SEED, EXTRACT_DATE, env)
    warehouse, out = root / "wh" / "warehouse.duckdb", root / "out"
    ran = run_casefinder_gate_off(
        ["run", "--extracts", extracts, "--warehouse", warehouse, "--out", out],
        Sandbox(root / "run"),
        env=env,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    lists = sorted((out / "lists" / EXTRACT_DATE).glob("*/proactive_care_list.csv"))
    with lists[0].open(newline="", encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    return {
        "root": str(root),
        "extracts": str(extracts),
        "warehouse": str(warehouse),
        "out": str(out),
        "as_of": EXTRACT_DATE,
        "nhs_number": first["nhs_number"],
        "run_stderr": ran.stderr,
    }


@pytest.fixture(scope="session")
def small_publication(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, request: pytest.FixtureRequest
) -> dict:
    """One published small run, read-only for the tests: they copy what they change.

    Under pytest-xdist the first worker to ask builds it in the run's shared temporary folder
    while holding a lock; the others wait for the lock and read what it recorded, so the
    workers share one build (the pytest-xdist pattern for a session fixture run once)."""
    if worker_id == "master":  # one process: nothing to share
        root = tmp_path_factory.mktemp("published")
        return _paths(_publish(root, request.getfixturevalue("prefect_api")))
    shared = tmp_path_factory.getbasetemp().parent / "small-publication"
    shared.mkdir(exist_ok=True)
    done = shared / "published.json"
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            if (shared / "root").exists():  # a build that failed: start again
                shutil.rmtree(shared / "root")
            found = _publish(shared / "root", request.getfixturevalue("prefect_api"))
            done.write_text(json.dumps(found), encoding="utf-8")
        return _paths(json.loads(done.read_text(encoding="utf-8")))


def _paths(found: dict) -> dict:
    return {
        k: Path(v) if k in {"root", "extracts", "warehouse", "out"} else v for k, v in found.items()
    }
