"""Scale-out with Dask: the task runner and client, and the per-neighbourhood fan-outs of
scoring and list staging (one Prefect task per neighbourhood on the DaskTaskRunner)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE

from foundation.errors import CasefinderError
from foundation.settings import DASK_LOCAL, check_dask_address
from foundation.staging import create_held, discard, remove_abandoned
from foundation.warehouse import connect
from models import registry, scoring
from reports import distributed as distributed_lists
from reports.publish import fsync_tree, staging_dir

# Scoring workers hand their rows back through Parquet files in a hidden folder of this name
# beside the warehouse (removed once `scores.*` is written).
HANDOVER_PREFIX = ".score-handover-"

# `--dask-address local` (or CASEFINDER_DASK_ADDRESS=local): a LocalCluster on this machine.
LOCAL = DASK_LOCAL
LOCAL_CLUSTER_KWARGS: dict[str, Any] = {
    "n_workers": 2,
    "threads_per_worker": 1,
    "processes": True,
    "dashboard_address": None,
    # The scheduler's HTTP endpoint (health checks; no dashboard) on a free loopback port,
    # so that two local clusters on one machine do not both want port 8787.
    "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"},
}


def dask_task_runner(address: str, n_workers: int | None = None) -> Any:
    """A prefect-dask `DaskTaskRunner`: on the scheduler at `address` (`tcp://host:8786`), or
    on a temporary `distributed.LocalCluster` when `address` is `local`."""
    # deferred: dask (prefect_dask) is only needed when a run is scaled out
    from prefect_dask import DaskTaskRunner

    address = check_dask_address(address)
    if address == LOCAL:
        kwargs = dict(LOCAL_CLUSTER_KWARGS)
        if n_workers:
            kwargs["n_workers"] = n_workers
        return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=kwargs)
    return DaskTaskRunner(address=address)


@contextmanager
def dask_client(address: str) -> Iterator[Any]:
    """A `distributed.Client` of the scheduler at `address`, or of a temporary LocalCluster
    (2 worker processes) when `address` is `local`; closed on exit (for `lightgbm.dask`)."""
    # deferred: dask (distributed) is only needed when a run is scaled out
    from distributed import Client, LocalCluster

    address = check_dask_address(address)
    if address == LOCAL:
        with LocalCluster(**LOCAL_CLUSTER_KWARGS) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address)
    except OSError as exc:
        raise CasefinderError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        yield client


@task(name="listed-neighbourhoods", cache_policy=NO_CACHE)
def listed_neighbourhoods(warehouse: Path, as_of: date) -> list[str]:
    """The neighbourhoods with listed patients at `as_of` (one scoring task each)."""
    with connect(warehouse, read_only=True) as con:
        return scoring.listed_neighbourhoods(con, as_of)


@task(name="open-score-handover", cache_policy=NO_CACHE)
def open_score_handover(warehouse: Path) -> Path:
    """A new owner-only folder beside the warehouse for the workers' scored rows, held by
    this process (foundation/staging.py); those of ended runs are removed first."""
    parent = Path(warehouse).parent
    remove_abandoned(parent, (HANDOVER_PREFIX,))
    handover = create_held(parent / f"{HANDOVER_PREFIX}{uuid.uuid4().hex[:12]}")
    handover.chmod(0o700)
    return handover


@task(name="discard-score-handover", cache_policy=NO_CACHE)
def discard_score_handover(handover: Path) -> None:
    """Remove the handover folder (its rows are in the warehouse, or the run failed)."""
    discard(handover)


@task(name="score-neighbourhood", cache_policy=NO_CACHE)
def score_neighbourhood(
    warehouse: Path, as_of: date, version: str, handover: Path, code: str, part: int
) -> dict[str, Any]:
    """Score and explain one neighbourhood's listed patients (on a worker) into a Parquet file.

    The worker reads the warehouse read-only and the registered model from its folder; task
    parameters and results are paths, codes and counts, never patient rows.
    """
    model = registry.load(warehouse, version)
    path = Path(handover) / f"part-{part:05d}.parquet"
    with connect(warehouse, read_only=True) as con:
        rows = scoring.score_neighbourhoods(con, model, as_of, [code], path)
    return {"path": str(path), "rows": rows}


@task(name="write-scores", cache_policy=NO_CACHE)
def write_scores(
    warehouse: Path,
    as_of: date,
    version: str,
    paths: list[str],
    risk_tiers: tuple[tuple[str, float], ...],
) -> int:
    """Write the workers' scored rows to `scores.*` in one transaction, as one process does."""
    model = registry.load(warehouse, version)
    with connect(warehouse) as con:
        return scoring.write_scored_parts(con, model, as_of, [Path(p) for p in paths], risk_tiers)


@flow(name="score-distributed")
def score_distributed(
    warehouse: Path, as_of: date, version: str, risk_tiers: tuple[tuple[str, float], ...]
) -> int:
    """`models.scoring.score_cohort`, one task per neighbourhood on the flow's task runner.

    Run it with `.with_options(task_runner=dask_task_runner(address))`. Workers read the
    warehouse read-only and write their rows to a handover folder beside it (so it must be
    on storage every worker can reach at the same path); this process then writes `scores.*`
    in one transaction. Returns the patients scored.
    """
    warehouse = Path(warehouse).resolve()  # workers may start in another folder
    codes = listed_neighbourhoods(warehouse, as_of)
    handover = open_score_handover(warehouse)
    try:
        futures = score_neighbourhood.map(
            unmapped(warehouse),
            unmapped(as_of),
            unmapped(version),
            unmapped(handover),
            codes,
            list(range(len(codes))),
        )
        parts = [f.result() for f in futures]
        return write_scores(warehouse, as_of, version, [p["path"] for p in parts], risk_tiers)
    finally:
        discard_score_handover(handover)


@task(name="neighbourhood-folders", cache_policy=NO_CACHE)
def neighbourhood_folders(warehouse: Path) -> dict[str, str]:
    """Every neighbourhood that gets a list, with its folder name."""
    with connect(warehouse, read_only=True) as con:
        return distributed_lists.neighbourhood_folders(con)


@task(name="stage-neighbourhood-list", cache_policy=NO_CACHE)
def stage_neighbourhood_list(
    warehouse: Path, as_of: date, staging: Path, code: str, banners: list[str]
) -> dict[str, Any]:
    """Write one neighbourhood's CSV, XLSX and HTML into the staging folder (on a worker).

    Passes and returns paths, codes and checksums only: the worker reads its own rows from
    the warehouse (read-only), so no identifier crosses the task boundary.
    """
    with connect(warehouse, read_only=True) as con:
        return distributed_lists.stage_one_list(con, as_of, staging, code, banners)


@flow(name="stage-lists-distributed")
def stage_lists_distributed(
    warehouse: Path, as_of: date, out: Path, banners: list[str] | None = None
) -> tuple[Path, dict]:
    """`reports.publish.stage_lists`, one task per neighbourhood on the flow's task runner.

    Run it with `.with_options(task_runner=dask_task_runner(address))`. The staging folder
    must be on storage every Dask worker can write (the same machine, or a shared mount),
    and no process may hold the warehouse open for writing meanwhile (workers read it).
    """
    warehouse = Path(warehouse).resolve()  # workers may start in another folder
    codes = list(neighbourhood_folders(warehouse))
    staging = staging_dir(Path(out).resolve() / "lists", as_of)
    futures = stage_neighbourhood_list.map(
        unmapped(warehouse),
        unmapped(as_of),
        unmapped(staging),
        codes,
        unmapped(list(banners or [])),
    )
    manifest = {code: f.result() for code, f in zip(codes, futures, strict=True)}
    fsync_tree(staging)
    return staging, manifest
