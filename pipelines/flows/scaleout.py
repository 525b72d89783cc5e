"""Scale-out with Dask: a DaskTaskRunner and per-neighbourhood list staging mapped over it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE

from pipelines.errors import CasefinderError
from pipelines.warehouse import connect

# `--dask-address local` (or CASEFINDER_DASK_ADDRESS=local): a LocalCluster on this machine.
LOCAL = "local"
LOCAL_CLUSTER_KWARGS: dict[str, Any] = {
    "n_workers": 2,
    "threads_per_worker": 1,
    "processes": True,
    "dashboard_address": None,
}


def dask_task_runner(address: str, n_workers: int | None = None) -> Any:
    """A prefect-dask `DaskTaskRunner`: on the scheduler at `address` (`tcp://host:8786`), or
    on a temporary `distributed.LocalCluster` when `address` is `local`."""
    from prefect_dask import DaskTaskRunner

    if address == LOCAL:
        kwargs = dict(LOCAL_CLUSTER_KWARGS)
        if n_workers:
            kwargs["n_workers"] = n_workers
        return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=kwargs)
    if "://" not in address:
        raise CasefinderError(
            f"Dask address {address!r} is not a scheduler address like tcp://host:8786 "
            f"(or {LOCAL!r} for a cluster on this machine)"
        )
    return DaskTaskRunner(address=address)


@task(name="neighbourhood-folders", cache_policy=NO_CACHE)
def neighbourhood_folders(warehouse: Path) -> dict[str, str]:
    """Every neighbourhood that gets a list, with its folder name."""
    from reports.distributed import neighbourhood_folders as folders

    with connect(warehouse, read_only=True) as con:
        return folders(con)


@task(name="stage-neighbourhood-list", cache_policy=NO_CACHE)
def stage_neighbourhood_list(
    warehouse: Path, as_of: date, staging: Path, code: str
) -> dict[str, Any]:
    """Write one neighbourhood's CSV, XLSX and HTML into the staging folder (on a worker).

    Passes and returns paths, codes and checksums only: the worker reads its own rows from
    the warehouse (read-only), so no identifier crosses the task boundary.
    """
    from reports.distributed import stage_one_list

    with connect(warehouse, read_only=True) as con:
        return stage_one_list(con, as_of, staging, code)


@flow(name="stage-lists-distributed")
def stage_lists_distributed(warehouse: Path, as_of: date, out: Path) -> tuple[Path, dict]:
    """`reports.publish.stage_lists`, one task per neighbourhood on the flow's task runner.

    Run it with `.with_options(task_runner=dask_task_runner(address))`. The staging folder
    must be on storage every Dask worker can write (the same machine, or a shared mount),
    and no process may hold the warehouse open for writing meanwhile (workers read it).
    """
    from reports.publish import fsync_tree, staging_dir

    codes = list(neighbourhood_folders(warehouse))
    staging = staging_dir(Path(out) / "lists", as_of)
    futures = stage_neighbourhood_list.map(
        unmapped(warehouse), unmapped(as_of), unmapped(staging), codes
    )
    manifest = {code: f.result() for code, f in zip(codes, futures, strict=True)}
    fsync_tree(staging)
    return staging, manifest
