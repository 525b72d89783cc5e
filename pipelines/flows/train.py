"""The `train` flow: training set -> fit -> calibrate -> evaluate -> quality gate -> register."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from foundation.errors import ModelNotFitError, QualityGateError
from foundation.settings import DEFAULT_HORIZON_DAYS, DEFAULT_OPT_OUT_POLICY, DEFAULT_SEED
from models import workflow
from models.registry import models_dir, new_staging_dir
from pipelines.flows.scaleout import dask_client


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


@task(name="check-trainable", cache_policy=NO_CACHE)
def check_trainable(warehouse: Path, seed: int) -> str:
    """Why the training set cannot train and evaluate a model ('' when it can)."""
    return workflow.trainability(warehouse, seed)


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
) -> str:
    """Why the model failed the quality gate ('' when it passed); recorded in its metrics."""
    return workflow.gate_failure(staging, min_auroc_gain, slope_range)


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
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    seed: int = DEFAULT_SEED,
    search: bool = False,
    calibration: str = "sigmoid",
    calibration_population: str = "housebound",
    n_jobs: int = 2,
    min_auroc_gain: float | None = None,
    slope_range: tuple[float, float] | None = None,
    opt_out_types: tuple[str, ...] = DEFAULT_OPT_OUT_POLICY["model_training"],
    dask_address: str | None = None,
    raise_unfit: bool = True,
) -> dict[str, Any]:
    """Train, evaluate and (if it passes the quality gate) register a risk model.

    Returns the version and headline metrics only. When the training set cannot train and
    evaluate a model (no rows, one outcome class in a fold, no housebound people in the
    hold-out) or the model fails the gate (housebound hold-out AUROC at least `min_auroc_gain`
    above eFI alone and a calibration slope whose 95% CI reaches `slope_range`; None = the
    defaults in `models.evaluate`, 0.03 and 0.8-1.2), nothing is registered and it raises
    `ModelNotFitError` (`QualityGateError` for the gate); with `raise_unfit=False` it returns
    `version` None and the reason in `unfit` instead (the weekly run then ranks by the
    fallback score). With `dask_address` the trees are grown with `lightgbm.dask` on that
    cluster (models/dask_train.py; hold-out AUROC within 0.02 of one process), and the
    registered model's `params.trainer` says so.

    Horizon, seed, opt-out types and Dask address come from the caller's settings
    (foundation/settings.py; the defaults are its defaults); the flow reads no environment.
    """
    day = resolve_as_of(warehouse, as_of)
    staging = open_staging(warehouse)
    result: dict[str, Any] = {"version": None, "as_of": day.isoformat(), "unfit": ""}
    try:
        result["training_set"] = build_training_set(
            warehouse, staging, day, horizon_days, opt_out_types
        )
        unfit = check_trainable(warehouse, seed)
        if not unfit:
            if dask_address:
                fitted = fit_on_dask(warehouse, staging, seed, search, n_jobs, dask_address)
            else:
                fitted = fit(warehouse, staging, seed, search, n_jobs)
            result["fit"] = fitted
            result["calibration"] = calibrate(
                warehouse, staging, seed, calibration, calibration_population
            )
            result["metrics"] = evaluate(warehouse, staging, seed)
            gate = quality_gate(staging, min_auroc_gain, slope_range)
            if gate:
                if raise_unfit:
                    raise QualityGateError(gate)
                unfit = gate
            else:
                result["version"] = register(warehouse, staging)
    finally:
        discard_staging(staging)
    if unfit and raise_unfit:
        raise ModelNotFitError(f"no model trained: {unfit}")
    result["unfit"] = unfit
    return result
