"""Crash safety: `kill -9` during each stage of the weekly run, then run again.

For each stage (ingest, train, features, score, publish) a real `casefinder run` process is
stopped with SIGKILL (to its whole process group) in the middle of the stage, with partial
work on disk; then a plain `casefinder run` on the same warehouse and output folder must
complete, duplicate nothing, leave no stray files, and publish lists equal, byte for byte,
to those of an uninterrupted run. Hazard log H2, H7.

Where the kill lands: the child runs the real CLI (`pipelines.cli.main`) with one internal
function wrapped (`KILL_POINTS`): when that function is reached inside the named stage, the
wrapper writes a marker file and waits; the test sees the marker and sends SIGKILL. The kill
is external and real; the hook only makes its timing deterministic (no sleeps, no races).
All processes share one Prefect server (`helpers.cli_process.prefect_server`), and the model
quality gate is off (`helpers.cli_process.GATE_OFF_PRELUDE`: a small synthetic population
cannot pass it; it has its own tests).
"""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from helpers.cli_process import (
    GATE_OFF_PRELUDE,
    Sandbox,
    child_env,
    prefect_server,
    run_casefinder,
    run_casefinder_gate_off,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

PATIENTS = 800
SEED = 5
# One deployment, one key: with a key per warehouse, pseudonyms (and so the order of the
# training rows and the fitted model) would differ between the runs being compared.
KEY = {"CASEFINDER_PSEUDONYM_KEY": "5eed" * 16}


@dataclass(frozen=True)
class KillPoint:
    """Kill inside weekly stage `stage` at the `nth` call of `module.function`."""

    name: str
    stage: str  # the name of the stage in pipelines.flows.weekly
    module: str
    function: str
    when: str  # "before" or "after" the call
    nth: int = 1


KILL_POINTS = (
    # Mid-transaction: four files landed in raw, nothing committed.
    KillPoint("ingest", "ingest", "pipelines.ingest.load", "load_file", "after", 4),
    # Model fitted and calibrated in the staging folder, not registered.
    KillPoint("train", "train", "models.workflow", "calibrate_model", "after"),
    # Three feature models rebuilt at the as-of date, the rest not.
    KillPoint("features", "build_features", "features.build", "build_one", "after", 3),
    # Scores written, the flow not finished.
    KillPoint("score", "score", "models.scoring", "score_cohort", "after"),
    # Reports folder renamed into place inside the open transaction; lists not yet.
    KillPoint("publish", "publish", "reports.publish", "_swap_in", "after"),
)

# The child: wrap the weekly stages to know which one is running, wrap the kill point, then
# run the real command line. argv: stage module function when nth marker -- CLI args...
CRASH_DRIVER = textwrap.dedent(
    """
    import importlib, sys, threading
    from pathlib import Path

    stage, module, function, when, nth, marker = sys.argv[1:7]
    cli_args = sys.argv[8:]
    nth = int(nth)
    current = {"stage": None}
    calls = {"n": 0}

    import pipelines.flows.weekly as weekly

    def stage_wrapper(name, original):
        def wrapped(*args, **kwargs):
            current["stage"] = name
            try:
                return original(*args, **kwargs)
            finally:
                current["stage"] = None
        return wrapped

    for name in ("ingest", "train", "build_features", "score", "publish"):
        setattr(weekly, name, stage_wrapper(name, getattr(weekly, name)))

    def halt():
        Path(marker).write_text("reached", encoding="utf-8")
        threading.Event().wait(900)  # the test kills us here
        raise SystemExit("not killed")

    target = importlib.import_module(module)
    original = getattr(target, function)

    def hooked(*args, **kwargs):
        if current["stage"] == stage:
            calls["n"] += 1
        armed = current["stage"] == stage and calls["n"] == nth
        if armed and when == "before":
            halt()
        result = original(*args, **kwargs)
        if armed and when == "after":
            halt()
        return result

    setattr(target, function, hooked)
    from pipelines.cli import main
    raise SystemExit(main(cli_args))
    """
)


@dataclass(frozen=True)
class Paths:
    extracts: Path
    warehouse: Path
    out: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The children's environment: one shared Prefect server and the deployment's key."""
    with prefect_server(tmp_path_factory.mktemp("prefect-server")) as url:
        yield {"PREFECT_API_URL": url, **KEY}


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory, server: dict[str, str]) -> Path:
    root = tmp_path_factory.mktemp("crash-extracts")
    result = run_casefinder(
        [
            "synth",
            "--out",
            root / "extracts",
            "--patients",
            PATIENTS,
            "--seed",
            SEED,
            "--truth-dir",
            root / "truth",
        ],
        Sandbox(root / "sandbox"),
        env=server,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "extracts"


def _run_args(paths: Paths) -> list[str]:
    return [
        "run",
        "--extracts",
        str(paths.extracts),
        "--warehouse",
        str(paths.warehouse),
        "--out",
        str(paths.out),
    ]


def _paths(root: Path, extracts: Path) -> Paths:
    return Paths(extracts, root / "wh" / "warehouse.duckdb", root / "out")


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, extracts: Path, server: dict[str, str]
) -> Paths:
    """An uninterrupted run."""
    root = tmp_path_factory.mktemp("reference")
    paths = _paths(root, extracts)
    result = run_casefinder_gate_off(
        _run_args(paths),
        Sandbox(root / "sandbox"),
        env=server,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return paths


def _files(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones included) -> sha256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _warehouse_facts(warehouse: Path) -> dict[str, object]:
    """Counts that a duplicated stage would change."""
    one = lambda sql: _query(warehouse, sql)[0][0]  # noqa: E731
    return {
        "snapshots": _query(warehouse, "select status, count(*) from audit.snapshots group by 1"),
        "models": one("select count(*) from registry.models"),
        "scores": one("select count(*) from scores.scores"),
        "distinct scores": one(
            "select count(*) from (select distinct as_of, patient_id, model_version"
            " from scores.scores)"
        ),
        "list entries": one("select count(*) from lists.list_entries"),
        "publications": one("select count(*) from audit.publications"),
        "feature rows": one("select count(*) from features.feat_patients"),
        "core patients": one("select count(*) from core.core_patients"),
    }


def _xlsx_cells(out: Path) -> dict[str, list[tuple]]:
    """The first sheet's cell values of every list workbook (the files carry a timestamp)."""
    import openpyxl

    cells = {}
    for path in sorted(out.glob("lists/*/*/proactive_care_list.xlsx")):
        if any(part.startswith(".") for part in path.relative_to(out).parts):
            continue  # a hidden staging folder: not published (see the stray-files test)
        book = openpyxl.load_workbook(path, read_only=True)
        try:
            cells[str(path.relative_to(out))] = list(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()
    return cells


def _list_rows(out: Path) -> dict[str, list[list[str]]]:
    rows = {}
    for path in sorted(out.glob("lists/*/*/proactive_care_list.csv")):
        if any(part.startswith(".") for part in path.relative_to(out).parts):
            continue
        with path.open(encoding="utf-8", newline="") as fh:
            rows[str(path.relative_to(out))] = list(csv.reader(fh))
    return rows


def _kill_during(point: KillPoint, paths: Paths, sandbox: Sandbox, server: dict[str, str]) -> str:
    """Start a run with the kill point armed, SIGKILL its process group there; return its log."""
    marker = sandbox.root / "reached"
    log_path = sandbox.root / "crashed-run.log"
    sandbox.make()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                GATE_OFF_PRELUDE + CRASH_DRIVER,
                point.stage,
                point.module,
                point.function,
                point.when,
                str(point.nth),
                str(marker),
                "--",
                *_run_args(paths),
            ],
            cwd=sandbox.cwd,
            env=child_env(sandbox, server),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(
                lambda: marker.exists() or proc.poll() is not None,
                f"the run to reach {point.name}",
                deadline_s=1800,
            )
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    assert marker.exists(), f"the run ended ({proc.returncode}) before {point.name}: {text[-2000:]}"
    assert proc.returncode == -signal.SIGKILL
    return text


@dataclass(frozen=True)
class Outcome:
    """A run killed at a point, then run again."""

    paths: Paths
    rerun: subprocess.CompletedProcess[str]
    visible_after_kill: list[str]


@pytest.fixture(scope="module")
def outcomes(
    tmp_path_factory: pytest.TempPathFactory, extracts: Path, server: dict[str, str]
) -> Callable[[KillPoint], Outcome]:
    """Kill at a point and run again, once per point for the module (two tests read it)."""
    cache: dict[str, Outcome] = {}

    def get(point: KillPoint) -> Outcome:
        if point.name not in cache:
            root = tmp_path_factory.mktemp(f"kill-{point.name}")
            paths = _paths(root, extracts)
            _kill_during(point, paths, Sandbox(root / "crash-sandbox"), server)
            visible = [
                str(path.relative_to(paths.out))
                for path in paths.out.rglob("proactive_care_list.*")
                if not any(part.startswith(".") for part in path.relative_to(paths.out).parts)
            ]
            rerun = run_casefinder_gate_off(
                _run_args(paths), Sandbox(root / "rerun-sandbox"), env=server, timeout=1800
            )
            cache[point.name] = Outcome(paths, rerun, visible)
        return cache[point.name]

    return get


def _visible(files: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in files.items() if not any(p.startswith(".") for p in k.split("/"))}


@pytest.mark.parametrize("point", KILL_POINTS, ids=[p.name for p in KILL_POINTS])
def test_kill_during_stage_then_rerun(
    point: KillPoint, outcomes: Callable[[KillPoint], Outcome], reference: Paths
) -> None:
    outcome = outcomes(point)
    paths = outcome.paths
    # Nothing of an unfinished publication was visible after the kill.
    assert outcome.visible_after_kill == [], f"{point.name}: visible after the kill"

    assert outcome.rerun.returncode == 0, outcome.rerun.stderr[-3000:]
    assert "Traceback" not in outcome.rerun.stderr

    # The lists equal those of the uninterrupted run, byte for byte (CSV), cell for cell
    # (the workbooks carry a creation time).
    ref_files, got_files = _visible(_files(reference.out)), _visible(_files(paths.out))
    csvs = sorted(k for k in ref_files if k.startswith("lists/") and k.endswith(".csv"))
    assert csvs, "the reference run published no list"
    assert {k: got_files.get(k) for k in csvs} == {k: ref_files[k] for k in csvs}, (
        "lists differ from the uninterrupted run"
    )
    assert _xlsx_cells(paths.out) == _xlsx_cells(reference.out)
    # The same visible files, nothing duplicated in the warehouse.
    assert sorted(got_files) == sorted(ref_files)
    assert _warehouse_facts(paths.warehouse) == _warehouse_facts(reference.warehouse)


@pytest.mark.parametrize("point", KILL_POINTS, ids=[p.name for p in KILL_POINTS])
def test_no_stray_files_after_kill_and_rerun(
    point: KillPoint, outcomes: Callable[[KillPoint], Outcome], reference: Paths
) -> None:
    """No half-done folder (staging, renamed-away) is left in the output or model folders."""
    outcome = outcomes(point)
    assert outcome.rerun.returncode == 0, outcome.rerun.stderr[-3000:]
    assert sorted(_files(outcome.paths.out)) == sorted(_files(reference.out))
    assert sorted(p.name for p in outcome.paths.out.rglob(".*")) == []
    models = outcome.paths.warehouse.parent / "models"
    ref_models = reference.warehouse.parent / "models"
    assert sorted(p.name for p in models.iterdir()) == sorted(p.name for p in ref_models.iterdir())


def test_rerun_is_idempotent(
    tmp_path: Path, extracts: Path, reference: Paths, server: dict[str, str]
) -> None:
    """The same week again after a complete run: same lists, nothing added."""
    import shutil

    paths = _paths(tmp_path, extracts)
    shutil.copytree(reference.warehouse.parent, paths.warehouse.parent)
    shutil.copytree(reference.out, paths.out)
    before_files = _files(paths.out)
    before_facts = _warehouse_facts(paths.warehouse)
    again = run_casefinder_gate_off(
        _run_args(paths),
        Sandbox(tmp_path / "sandbox"),
        env=server,
        timeout=1800,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    csvs = {k: v for k, v in before_files.items() if k.endswith(".csv") and k.startswith("lists/")}
    after = _files(paths.out)
    assert {k: after.get(k) for k in csvs} == csvs
    assert sorted(after) == sorted(before_files)
    assert _warehouse_facts(paths.warehouse) == before_facts
    assert _list_rows(paths.out) == _list_rows(reference.out)
