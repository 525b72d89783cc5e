"""Shared end-to-end fixtures, built once per `make test` and shared by its workers
(`helpers.shared_build`): one small published weekly run, whose warehouse holds a trained and
registered model, for the tests that read it or start from a copy of it; and synthetic
extract sets by size, seed and extract date."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from helpers.cli_process import Sandbox, run_casefinder_gate_off
from helpers.shared_build import built_once, shared_root, synthetic_set

PATIENTS = 600
SEED = 13
EXTRACT_DATE = "2026-11-23"


@pytest.fixture(scope="session")
def shared_builds(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The folder the workers share their builds in (helpers.shared_build)."""
    return shared_root(tmp_path_factory, worker_id)


@pytest.fixture(scope="session")
def synthetic_extracts(shared_builds: Path) -> Callable[[int, int, date], Path]:
    """`synthetic_extracts(patients, seed, extract_date)`: a synthetic extract set as
    `casefinder synth` writes it, generated once per run; read-only (copy to change it)."""
    return lambda patients, seed, extract_date: synthetic_set(
        shared_builds, patients, seed, extract_date
    )


def _publish(root: Path, extracts: Path, env: dict[str, str]) -> dict:
    """One published `casefinder run` of `extracts` under `root` (quality gate off:
    `helpers.cli_process.GATE_OFF_PRELUDE`), which trains and registers a model; what the
    readers need, as JSON data."""
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
        "patients": PATIENTS,
        "seed": SEED,
        "nhs_number": first["nhs_number"],
        "run_stderr": ran.stderr,
    }


@pytest.fixture(scope="session")
def small_publication(
    shared_builds: Path,
    synthetic_extracts: Callable[[int, int, date], Path],
    request: pytest.FixtureRequest,
) -> dict:
    """One published small run (600 synthetic patients as of 2026-11-23), read-only for the
    tests: they copy what they change (`helpers.shared_build.copy_warehouse`). Its warehouse
    folder holds the registered model, so a copy runs the weekly job without training."""
    extracts = synthetic_extracts(PATIENTS, SEED, date.fromisoformat(EXTRACT_DATE))
    found = built_once(
        shared_builds,
        "small-publication",
        lambda root: _publish(root, extracts, request.getfixturevalue("prefect_api")),
    )
    return {
        k: Path(v) if k in {"root", "extracts", "warehouse", "out"} else v for k, v in found.items()
    }
