"""The `train` flow: training set -> fit -> calibrate -> evaluate -> quality gate -> register."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from models import workflow
from models.registry import models_dir, new_staging_dir
from pipelines.flows.scaleout import dask_client
from pipelines.settings import load_settings


@task(name="resolve-as-of", cache_policy=NO_CACHE)
def resolve_as_of(warehouse: Path, as_of: date | None) -> date:
    return workflow.resolve_as_of(warehouse, as_of)


@task(name="open-staging", cache_policy=NO_CACHE)
def open_staging(warehouse: Path) -> Path:
    return new_staging_dir(models_dir(warehouse))


@task(name="build-training-set", cache_policy=NO_CACHE)
def build_training_set(
    warehouse: Path, staging: Path, as_of: date, horizon_days: int, opt_out_types: tuple[str, ...]
) -> dict[str, Any]:
    return workflow.prepare_training_set(warehouse, staging, as_of, horizon_days, opt_out_types)


@task(name="fit", cache_policy=NO_CACHE)
def fit(warehouse: Path, staging: Path, seed: int, search: bool, n_jobs: int) -> dict[str, Any]:
    return workflow.fit_model(warehouse, staging, seed, search=search, n_jobs=n_jobs)


@task(name="fit-on-dask", cache_policy=NO_CACHE)
def fit_on_dask(
    warehouse: Path, staging: Path, seed: int, search: bool, n_jobs: int, dask_address: str
) -> dict[str, Any]:
    """`fit`, data-parallel over the workers of the Dask cluster at `dask_address`."""
    with dask_client(dask_address) as client:
        return workflow.fit_model(
            warehouse, staging, seed, search=search, n_jobs=n_jobs, client=client
        )


@task(name="calibrate", cache_policy=NO_CACHE)
def calibrate(
    warehouse: Path, staging: Path, seed: int, method: str, population: str
) -> dict[str, Any]:
    return workflow.calibrate_model(warehouse, staging, seed, method=method, population=population)


@task(name="evaluate", cache_policy=NO_CACHE)
def evaluate(warehouse: Path, staging: Path, seed: int) -> dict[str, Any]:
    return workflow.evaluate_model(warehouse, staging, seed)


@task(name="quality-gate", cache_policy=NO_CACHE)
def quality_gate(
    staging: Path, min_auroc_gain: float | None, slope_range: tuple[float, float] | None
) -> None:
    workflow.check_gate(staging, min_auroc_gain, slope_range)


@task(name="register", cache_policy=NO_CACHE)
def register(warehouse: Path, staging: Path) -> str:
    return workflow.register_model(warehouse, staging, models_dir(warehouse))


@task(name="discard-staging", cache_policy=NO_CACHE)
def discard_staging(staging: Path) -> None:
    workflow.discard_staging(staging)


@flow(name="train")
def train(
    warehouse: Path,
    as_of: date | None = None,
    horizon_days: int = 365,
    seed: int = 42,
    search: bool = False,
    calibration: str = "sigmoid",
    calibration_population: str = "housebound",
    n_jobs: int = 2,
    min_auroc_gain: float | None = None,
    slope_range: tuple[float, float] | None = None,
    opt_out_types: tuple[str, ...] | None = None,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """Train, evaluate and (if it passes the quality gate) register a risk model.

    Returns the version and headline metrics only; raises `QualityGateError` when the model
    fails the gate (housebound hold-out AUROC at least `min_auroc_gain` above eFI alone and
    calibration slope within `slope_range`; None = the defaults in `models.evaluate`, 0.03 and
    0.8-1.2); nothing is registered then. With `dask_address` (default:
    CASEFINDER_DASK_ADDRESS) the trees are grown with `lightgbm.dask` on that cluster
    (models/dask_train.py; hold-out AUROC within 0.02 of one process), and the registered
    model's `params.trainer` says so.
    """
    settings = load_settings()
    if opt_out_types is None:
        opt_out_types = tuple(settings.opt_out_policy["model_training"])
    dask_address = dask_address or settings.dask_address
    day = resolve_as_of(warehouse, as_of)
    staging = open_staging(warehouse)
    try:
        counts = build_training_set(warehouse, staging, day, horizon_days, opt_out_types)
        if dask_address:
            fitted = fit_on_dask(warehouse, staging, seed, search, n_jobs, dask_address)
        else:
            fitted = fit(warehouse, staging, seed, search, n_jobs)
        calibrated = calibrate(warehouse, staging, seed, calibration, calibration_population)
        metrics = evaluate(warehouse, staging, seed)
        quality_gate(staging, min_auroc_gain, slope_range)
        version = register(warehouse, staging)
    finally:
        discard_staging(staging)
    return {
        "version": version,
        "as_of": day.isoformat(),
        "training_set": counts,
        "fit": fitted,
        "calibration": calibrated,
        "metrics": metrics,
    }
