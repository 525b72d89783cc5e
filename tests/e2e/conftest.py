"""Shared end-to-end fixtures: one small published weekly run for the tests that read it."""

from __future__ import annotations

import csv
from collections.abc import Iterator

import pytest
from helpers.cli_process import (
    Sandbox,
    prefect_server,
    run_casefinder_gate_off,
    synth_extracts,
)

PATIENTS = 600
SEED = 13
EXTRACT_DATE = "2026-11-23"


@pytest.fixture(scope="session")
def small_publication(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A Prefect server, a small synthetic extract set and one published `casefinder run`
    (quality gate off: `helpers.cli_process.GATE_OFF_PRELUDE`). Tests copy what they change."""
    root = tmp_path_factory.mktemp("published")
    with prefect_server(root / "server") as url:
        env = {"PREFECT_API_URL": url}
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
        yield {
            "root": root,
            "env": env,
            "extracts": extracts,
            "warehouse": warehouse,
            "out": out,
            "as_of": EXTRACT_DATE,
            "nhs_number": first["nhs_number"],
            "run_stderr": ran.stderr,
        }
