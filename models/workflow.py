"""The training steps the `train` flow wires: each reads the warehouse and a staging folder."""

# ruff: noqa: N806  (scikit-learn convention: X is the feature matrix)

from __future__ import annotations

import json
import logging
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import lightgbm as lgb
import numpy as np
import polars as pl

from features import dictionary
from foundation.errors import ModelNotFitError, QualityGateError
from foundation.staging import release
from foundation.warehouse import connect
from models import evaluate as ev
from models.baselines import SingleScoreBaseline, logistic_baseline
from models.calibrate import Calibrator
from models.registry import register
from models.train import (
    SEARCH_SPACE,
    RiskClassifier,
    RiskModel,
    housebound_weight_for,
    search_hyperparameters,
    settings_for,
)
from models.training_set import (
    MAX_FIT_ROWS,
    assign_folds,
    build_training_set,
    latest_extract_date,
    load_training_arrays,
    sample_people,
    subgroup_labels,
)

log = logging.getLogger("casefinder.models.workflow")

TIMINGS_FILE = "timings.json"
FIT_FILE = "fit.json"
METRICS_FILE = "metrics.json"
SAMPLE_FILE = "training_set.json"
# The logistic-regression baseline is fitted on a seeded sample of at most this many fit-fold
# rows: a baseline, so a sample is plenty (1,000,000 patients: 3.6 s instead of 10.4 s for
# 300,000 rows; hold-out AUROC 0.748 overall either way, housebound 0.8426 vs 0.8430).
LOGISTIC_MAX_ROWS = 150_000
MIN_CALIBRATION_EVENTS = 50


def model_feature_names() -> list[str]:
    """The model's columns, in order, from the feature dictionary."""
    return list(dictionary.model_feature_names())


def _write_json(path: Path, data: Any) -> None:
    path.write_text(
        json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _record_time(staging: Path, step: str, started: float) -> None:
    """Add one step's wall time (seconds) to `timings.json` in the staging folder."""
    path = staging / TIMINGS_FILE
    timings = _read_json(path) if path.exists() else {}
    timings[step] = round(time.perf_counter() - started, 2)
    _write_json(path, timings)


def resolve_as_of(warehouse: Path, as_of: date | None) -> date:
    """The given as-of date, or the extract date of the warehouse's latest snapshot."""
    if as_of is not None:
        return as_of
    con = connect(warehouse, read_only=True)
    try:
        return latest_extract_date(con)
    finally:
        con.close()


def prepare_training_set(
    warehouse: Path,
    staging: Path,
    as_of: date,
    horizon_days: int,
    opt_out_types: tuple[str, ...],
) -> dict[str, Any]:
    """Build features at the 12 index dates, outcomes and the cohort sample; return counts."""
    started = time.perf_counter()
    con = connect(warehouse)
    try:
        counts = build_training_set(con, as_of, horizon_days, opt_out_types)
        counts["provenance"] = data_provenance(con)
    finally:
        con.close()
    staging.mkdir(parents=True, exist_ok=True)
    _write_json(staging / SAMPLE_FILE, counts)
    _record_time(staging, "training_set", started)
    return {k: v for k, v in counts.items() if k != "provenance"}


def data_provenance(con: Any) -> dict[str, Any]:
    """Latest snapshot id and the sha256 of every extract file loaded in it (audit tables)."""
    try:
        snap = con.execute(
            "select snapshot_id, extract_date, extracts_dir_name from audit.snapshots "
            "order by loaded_at desc, snapshot_id desc limit 1"
        ).fetchone()
    except duckdb.CatalogException:
        return {"snapshot_ids": [], "extract_checksums": {}}
    if snap is None:
        return {"snapshot_ids": [], "extract_checksums": {}}
    try:
        rows = con.execute(
            "select file, sha256 from audit.loads where snapshot_id = ? order by file",
            [snap[0]],
        ).fetchall()
    except duckdb.CatalogException:
        rows = []
    return {
        "snapshot_ids": [str(snap[0])],
        "extract_date": str(snap[1]) if snap[1] is not None else None,
        "extracts_dir_name": snap[2],
        "extract_checksums": {str(f): str(s) for f, s in rows},
    }


def _load(
    warehouse: Path, seed: int, names: list[str]
) -> tuple[np.ndarray, pl.DataFrame, np.ndarray]:
    """The training sample's float32 feature matrix, its other columns and each row's fold."""
    con = connect(warehouse, read_only=True)
    try:
        X, frame = load_training_arrays(con, names)
    finally:
        con.close()
    return X, frame, assign_folds(frame["person_key"], seed)


def _y(frame: pl.DataFrame) -> np.ndarray:
    return frame["outcome"].cast(pl.Int32).to_numpy()


def _masks(frame: pl.DataFrame, folds: np.ndarray) -> dict[str, np.ndarray]:
    dev = (frame["period"] == "development").to_numpy()
    return {
        "fit": dev & (folds == "fit"),
        "valid": dev & (folds == "valid"),
        "calib": dev & (folds == "calib"),
        # temporal hold-out, among people whose rows never trained the trees
        "holdout": ~dev & (folds != "fit"),
    }


def _one_class(y: np.ndarray, what: str) -> str:
    """Why rows `y` cannot train or evaluate a model ('' when they hold both outcomes)."""
    if len(y) == 0:
        return f"the {what} rows are empty: too little data to train"
    if y.min() == y.max():
        held = "no emergency admission or death" if y.max() == 0 else "only outcomes"
        return (
            f"the {what} rows ({len(y)}) hold {held} (one outcome class): too little data to train"
        )
    return ""


def _need_both_classes(y: np.ndarray, what: str) -> None:
    reason = _one_class(y, what)
    if reason:
        raise ModelNotFitError(reason)


def trainability(warehouse: Path, seed: int) -> str:
    """Why the training set cannot train, calibrate and evaluate a model ('' when it can).

    The checks the later steps need, made up front so that an unusable training set (no rows,
    no outcomes, a fold without events, no housebound people in the hold-out) is a reason to
    report, not an error in the middle of fitting.
    """
    con = connect(warehouse, read_only=True)
    try:
        _, frame = load_training_arrays(con, [])
    finally:
        con.close()
    if frame.height == 0:
        return "no training rows: nobody aged 65+ or housebound at the index dates"
    m = _masks(frame, assign_folds(frame["person_key"], seed))
    y = _y(frame)
    for what, fold in (
        ("training", "fit"),
        ("validation", "valid"),
        ("calibration", "calib"),
        ("hold-out", "holdout"),
    ):
        reason = _one_class(y[m[fold]], what)
        if reason:
            return reason
    housebound = frame["housebound"].fill_null(False).cast(pl.Boolean).to_numpy()
    if not (housebound & m["holdout"]).any():
        return (
            "no housebound patients in the hold-out: the model cannot be evaluated on the "
            "people it would rank"
        )
    return ""


def fit_model(
    warehouse: Path,
    staging: Path,
    seed: int,
    search: bool = False,
    n_jobs: int = 2,
    client: Any = None,
    max_fit_rows: int | None = MAX_FIT_ROWS,
) -> dict[str, Any]:
    """Fit LightGBM on the fit fold, early-stopped on the validation fold (optionally after a
    bounded search); write `model.txt`; return the settings and best iteration. With a Dask
    `client`, the final fit runs data-parallel on its workers (`lightgbm.dask`,
    models/dask_train.py); a search still runs here.

    The trees grow on at most `max_fit_rows` fit-fold rows (`sample_people`: whole people,
    stratified by outcome, seeded; None = all); the sample is recorded in `fit.json`."""
    started = time.perf_counter()
    names = model_feature_names()
    X, frame, folds = _load(warehouse, seed, names)
    m = _masks(frame, folds)
    y = _y(frame)
    fit_rows = sample_people(frame["person_key"], y, m["fit"], max_fit_rows, seed)
    X_fit, y_fit = X[fit_rows], y[fit_rows]
    X_valid, y_valid = X[m["valid"]], y[m["valid"]]
    del X  # only the fit and validation rows are needed from here on
    _need_both_classes(y_fit, "training")
    _need_both_classes(y_valid, "validation")
    sample = {
        "max_fit_rows": max_fit_rows,
        "fit_rows_available": int(m["fit"].sum()),
        "fit_rows_used": int(fit_rows.sum()),
        "fit_patients_used": int(frame["patient_id"].filter(pl.Series(fit_rows)).n_unique()),
        "method": (
            "all fit-fold rows"
            if fit_rows.sum() == m["fit"].sum()
            else "whole people by a seeded SHA-256 of the person key, stratified by any outcome, "
            "the same rate in both strata (no weights needed)"
        ),
    }
    if sample["fit_rows_used"] < sample["fit_rows_available"]:
        log.info(
            "training sample: %d of %d fit-fold rows (at most %d)",
            sample["fit_rows_used"],
            sample["fit_rows_available"],
            max_fit_rows,
        )
    # shallower, more regularised trees for a small fit fold (`settings_for`)
    base = RiskClassifier(random_state=seed, n_jobs=n_jobs, **settings_for(len(y_fit)))
    # housebound rows weigh more in a small fit fold (`housebound_weight_for`; not on Dask,
    # which is for large sites)
    hb_weight = housebound_weight_for(len(y_fit)) if client is None else 1.0
    weights: dict[str, Any] = {}
    if hb_weight != 1.0:
        housebound = frame["housebound"].fill_null(False).cast(pl.Boolean).to_numpy()
        weights = {
            "sample_weight": np.where(housebound[fit_rows], hb_weight, 1.0),
            "eval_sample_weight": np.where(housebound[m["valid"]], hb_weight, 1.0),
        }
    trials: list[dict[str, Any]] = []
    if search:
        best, trials = search_hyperparameters(
            X_fit, y_fit, X_valid, y_valid, feature_names=names, base=base, **weights
        )
        base.set_params(**best)
    trainer = base
    if client is not None:
        # deferred: dask (models.dask_train) is only needed when training on a cluster
        from models.dask_train import DaskRiskClassifier

        trainer = DaskRiskClassifier.like(base, client)
    est = trainer.fit(X_fit, y_fit, eval_X=X_valid, eval_y=y_valid, feature_names=names, **weights)
    staging.mkdir(parents=True, exist_ok=True)
    (staging / "model.txt").write_text(est.booster_.model_to_string(), encoding="utf-8")
    info = {
        "estimator": "lightgbm.LGBMClassifier (casefinder RiskClassifier)",
        "trainer": "lightgbm",
        "settings": base.get_params(),
        "lightgbm_params": est.lightgbm_params(),
        "best_iteration": est.best_iteration_,
        "valid_logloss": est.valid_logloss_,
        "search": {"enabled": search, "space": _space() if search else None, "trials": trials},
        "rows": {**{k: int(v.sum()) for k, v in m.items()}, "fit": sample["fit_rows_used"]},
        "sample": sample,
        "housebound_weight": hb_weight,
        "seed": seed,
    }
    if client is not None:
        info.update(est.provenance())
    _write_json(staging / FIT_FILE, info)
    _record_time(staging, "fit", started)
    return {
        "trainer": info["trainer"],
        "best_iteration": est.best_iteration_,
        "valid_logloss": est.valid_logloss_,
        "rows": info["rows"],
    }


def _space() -> dict[str, list[Any]]:
    return {k: list(v) for k, v in SEARCH_SPACE.items()}


def _staged_model(staging: Path, names: list[str], calibrator: Calibrator | None) -> RiskModel:
    booster = lgb.Booster(model_file=str(staging / "model.txt"))
    return RiskModel(booster, calibrator or Calibrator(), names)


def calibrate_model(
    warehouse: Path,
    staging: Path,
    seed: int,
    method: str = "sigmoid",
    population: str = "housebound",
) -> dict[str, Any]:
    """Fit the calibrator on the calibration fold (people not used to grow the trees).

    `population="housebound"` (default) fits it on the housebound rows of the fold: the lists
    publish probabilities for housebound people, and housebound status is not a model feature,
    so a map fitted on the whole 65+ cohort under-predicts for them. With fewer than
    `MIN_CALIBRATION_EVENTS` outcomes or non-outcomes there, all rows of the fold are used.
    """
    started = time.perf_counter()
    if population not in ("housebound", "all"):
        raise ValueError("calibration population must be 'housebound' or 'all'")
    names = model_feature_names()
    X, frame, folds = _load(warehouse, seed, names)
    mask = _masks(frame, folds)["calib"]
    used = "all"
    if population == "housebound":
        hb_mask = mask & frame["housebound"].fill_null(False).cast(pl.Boolean).to_numpy()
        y_hb = _y(frame)[hb_mask]
        if min(int(y_hb.sum()), int(len(y_hb) - y_hb.sum())) >= MIN_CALIBRATION_EVENTS:
            mask, used = hb_mask, "housebound"
        else:
            log.warning(
                "too few housebound outcomes in the calibration fold (%d rows): calibrating on "
                "the whole cohort",
                len(y_hb),
            )
    y = _y(frame)[mask]
    _need_both_classes(y, "calibration")
    raw = _staged_model(staging, names, None).raw_score(X[mask])
    cal = Calibrator(method=method).fit(raw, y)
    data = {**cal.to_dict(), "population": used}
    _write_json(staging / "calibrator.json", data)
    _record_time(staging, "calibrate", started)
    return {
        "method": method,
        "population": used,
        "n": cal.n_samples_,
        "n_positive": cal.n_positive_,
    }


def evaluate_model(warehouse: Path, staging: Path, seed: int) -> dict[str, Any]:
    """Metrics on the temporal hold-out for the model and the baselines (eFI alone, HFRS alone,
    logistic regression), overall and housebound, with subgroups; writes `metrics.json`."""
    started = time.perf_counter()
    names = model_feature_names()
    X, frame, folds = _load(warehouse, seed, names)
    m = _masks(frame, folds)
    y = _y(frame)
    cal = Calibrator.from_json((staging / "calibrator.json").read_text(encoding="utf-8"))
    model = _staged_model(staging, names, cal)
    hold = frame.filter(pl.Series(m["holdout"]))
    X_hold = X[m["holdout"]]
    y_hold = y[m["holdout"]]
    _need_both_classes(y_hold, "hold-out")
    scores: dict[str, np.ndarray] = {"model": model.predict_proba(X_hold)[:, 1]}
    calib = frame.filter(pl.Series(m["calib"]))
    for col in ("efi", "hfrs"):
        base = SingleScoreBaseline(col).fit(calib[col].cast(pl.Float64).to_numpy(), y[m["calib"]])
        scores[col] = base.predict_proba(hold[col].cast(pl.Float64).to_numpy())[:, 1]
    fit_rows = np.flatnonzero(m["fit"])
    if len(fit_rows) > LOGISTIC_MAX_ROWS:  # a baseline: a seeded subsample is plenty
        rng = np.random.default_rng(seed)
        fit_rows = np.sort(rng.choice(fit_rows, LOGISTIC_MAX_ROWS, replace=False))
    # float64 for scikit-learn's solver, as before the matrix became float32
    lr = logistic_baseline(seed).fit(X[fit_rows].astype(np.float64), y[fit_rows])
    del X
    scores["logistic"] = lr.predict_proba(X_hold.astype(np.float64))[:, 1]
    housebound = hold["housebound"].fill_null(False).cast(pl.Boolean).to_numpy()
    metrics = ev.evaluate(
        y_hold,
        scores,
        cohorts={"overall": np.ones(len(y_hold), dtype=bool), "housebound": housebound},
        groups=subgroup_labels(hold),
        clusters=hold["person_key"].to_numpy(),
    )
    metrics["holdout"] = {
        "rows": len(y_hold),
        "patients": int(hold["patient_id"].n_unique()),
        "index_dates": sorted({d.isoformat() for d in hold["index_date"].to_list()}),
        "definition": "latest index dates; people in the validation and calibration folds only",
    }
    metrics["scorers"] = {
        "model": "LightGBM, calibrated",
        "efi": "eFI alone (1-D logistic map fitted on the calibration fold)",
        "hfrs": "HFRS alone (1-D logistic map fitted on the calibration fold)",
        "logistic": "L2 logistic regression on the same features (fit fold)",
    }
    _write_json(staging / METRICS_FILE, metrics)
    _record_time(staging, "evaluate", started)
    return headline(metrics)


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a log line or the CLI shows."""
    out: dict[str, Any] = {}
    for cohort, scorers in metrics["cohorts"].items():
        for scorer, vals in scorers.items():
            out[f"{cohort}.{scorer}.auroc"] = vals["auroc"]
        out[f"{cohort}.model.calibration_slope"] = scorers["model"]["calibration_slope"]
        out[f"{cohort}.model.brier"] = scorers["model"]["brier"]
        out[f"{cohort}.n"] = scorers["model"]["n"]
    return out


def check_gate(
    staging: Path,
    min_auroc_gain: float | None = None,
    slope_range: tuple[float, float] | None = None,
) -> None:
    """Apply the quality gate to the staged metrics, record the result in `metrics.json`, and
    raise `QualityGateError` (one line) when the model failed it."""
    failure = gate_failure(staging, min_auroc_gain, slope_range)
    if failure:
        raise QualityGateError(failure)


def gate_failure(
    staging: Path,
    min_auroc_gain: float | None = None,
    slope_range: tuple[float, float] | None = None,
) -> str:
    """Apply the quality gate to the staged metrics and record the result in `metrics.json`;
    return why the model failed it (one line), or '' when it passed."""
    metrics = _read_json(staging / METRICS_FILE)
    gain = ev.GATE_MIN_AUROC_GAIN if min_auroc_gain is None else min_auroc_gain
    low, high = ev.GATE_SLOPE_RANGE if slope_range is None else slope_range
    failures = ev.quality_gate(metrics, gain, (low, high))
    metrics["gate"] = {
        "failures": failures,
        "passed": not failures,
        "min_auroc_gain_over_efi": gain,
        "slope_range": [low, high],
        "cohort": ev.GATE_COHORT,
    }
    _write_json(staging / METRICS_FILE, metrics)
    return "model not registered: " + "; ".join(failures) if failures else ""


def register_model(warehouse: Path, staging: Path, models_dir: Path) -> str:
    """Register the staged model (files, model card, `registry.models` row); return its version."""
    return register(warehouse, staging, models_dir)


def discard_staging(staging: Path) -> None:
    """Clean up after a run: nothing when the model was registered (the folder moved); an
    evaluated but rejected model keeps its metrics under `models/.rejected/`; else delete."""
    try:
        if not staging.exists():
            return
        if (staging / METRICS_FILE).exists():
            rejected = staging.parent / ".rejected" / staging.name.removeprefix(".staging-")
            rejected.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(rejected)
            log.info("rejected model's metrics kept in %s", rejected)
            return
        shutil.rmtree(staging, ignore_errors=True)
    finally:
        release(staging)
