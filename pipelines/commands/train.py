"""`casefinder train`: build the training set, fit, calibrate, evaluate and register a model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from foundation.errors import CasefinderError
from foundation.settings import load_settings
from pipelines.commands.options import add_dask_address, iso_date

NAME = "train"
HELP = (
    "build the training set, fit, calibrate and evaluate a risk model, and register it if it "
    "passes the quality gate"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings = load_settings()
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=settings.warehouse,
        help="DuckDB warehouse file (default: %(default)s)",
    )
    parser.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        help="as-of date (default: the latest snapshot's extract date); the 12 "
        "monthly index dates end one horizon before it",
    )
    parser.add_argument(
        "--horizon-days",
        type=int,
        default=settings.horizon_days,
        help="outcome horizon in days (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=settings.seed,
        help="random seed for folds and LightGBM (default: %(default)s)",
    )
    parser.add_argument(
        "--search", action="store_true", help="run the bounded hyperparameter search (8 trials)"
    )
    parser.add_argument(
        "--calibration",
        choices=("sigmoid", "isotonic"),
        default="sigmoid",
        help="calibration method (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="LightGBM threads (default: %(default)s; results depend on it)",
    )
    add_dask_address(parser, settings.dask_address, "the fit data-parallel with lightgbm.dask")


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def run(args: argparse.Namespace) -> int:
    # deferred: prefect and lightgbm are only needed when the training flow runs
    from pipelines.flows.train import train

    if args.horizon_days < 1:
        raise CasefinderError("--horizon-days must be at least 1")
    if not Path(args.warehouse).exists():
        raise CasefinderError(
            f"warehouse {args.warehouse} does not exist: run `casefinder ingest` first"
        )
    settings = load_settings()
    result = train(
        warehouse=Path(args.warehouse),
        as_of=args.as_of,
        horizon_days=args.horizon_days,
        seed=args.seed,
        search=args.search,
        calibration=args.calibration,
        n_jobs=args.threads,
        opt_out_types=tuple(settings.opt_out_policy["model_training"]),
        dask_address=args.dask_address,
    )
    m = result["metrics"]
    out = sys.stdout
    out.write(f"registered model {result['version']} (as of {result['as_of']})\n")
    if result["fit"].get("trainer") == "lightgbm.dask":
        out.write(f"trained with lightgbm.dask on {args.dask_address}\n")
    ts = result["training_set"]
    out.write(
        f"training set: {ts['sample_rows']} rows, {ts['sample_patients']} patients, "
        f"{ts['sample_outcomes']} outcomes, {ts['excluded_opt_out_patients']} patients "
        f"excluded by opt-out\n"
    )
    for cohort in ("overall", "housebound"):
        out.write(
            f"{cohort} hold-out (n={m.get(f'{cohort}.n')}): AUROC model "
            f"{_fmt(m.get(f'{cohort}.model.auroc'))}, eFI {_fmt(m.get(f'{cohort}.efi.auroc'))}, "
            f"HFRS {_fmt(m.get(f'{cohort}.hfrs.auroc'))}, logistic "
            f"{_fmt(m.get(f'{cohort}.logistic.auroc'))}; calibration slope "
            f"{_fmt(m.get(f'{cohort}.model.calibration_slope'))}; Brier "
            f"{_fmt(m.get(f'{cohort}.model.brier'))}\n"
        )
    # deferred: lightgbm and scikit-learn (models.registry) are only needed after training
    from models.registry import models_dir

    card = models_dir(Path(args.warehouse)) / result["version"] / "model_card.html"
    out.write(f"model card: {card}\n")
    return 0
