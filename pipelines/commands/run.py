"""`casefinder run`: the weekly job (ingest, features, train when needed, score, publish)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from pipelines.commands.options import iso_date
from pipelines.errors import CasefinderError
from pipelines.settings import load_settings

NAME = "run"
HELP = (
    "the weekly job: ingest the extracts, build features at the as-of date, train when no "
    "model is registered (or --retrain), score and publish the lists per neighbourhood"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings = load_settings()
    parser.add_argument(
        "--extracts",
        type=Path,
        default=settings.extracts_dir,
        help="folder holding one extract set (default: %(default)s)",
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=settings.warehouse,
        help="DuckDB warehouse file (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=settings.out_dir,
        help="output folder for lists/ and reports/ (default: %(default)s)",
    )
    parser.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        help="list date (default: extract_date from the extract set's manifest)",
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="train and register a new model even when one is registered",
    )


def weekly(
    extracts: Path, warehouse: Path, out: Path, as_of: date | None, retrain: bool
) -> dict[str, Any]:
    """Run the weekly flow after checking the paths."""
    from pipelines.flows.weekly import weekly_run

    if not extracts.is_dir():
        raise CasefinderError(f"--extracts {extracts} is not a folder")
    if out.exists() and not out.is_dir():
        raise CasefinderError(f"--out {out} exists and is not a folder")
    return weekly_run(extracts=extracts, warehouse=warehouse, out=out, as_of=as_of, retrain=retrain)


def print_result(result: dict[str, Any], out: TextIO | None = None) -> None:
    """Tell the user what was published and where."""
    out = out or sys.stdout
    cohort = result["cohort"]
    if result.get("trained"):
        out.write(f"trained and registered model {result['trained']}\n")
    out.write(
        f"as of {result['as_of']}: {cohort['housebound']} housebound, "
        f"{cohort['excluded_opt_out']} excluded by opt-out, {cohort['excluded_other']} "
        f"excluded otherwise, {cohort['listed']} listed in {result['neighbourhoods']} "
        f"neighbourhoods (model {result['model_version']})\n"
    )
    for code, item in sorted(result["lists"].items()):
        out.write(f"  {code}: {item['rows']} patients\n")
    out.write(f"run summary and report: {result['reports_dir']}\n")
    out.write(f"lists: {result['lists_dir']}\n")


def run(args: argparse.Namespace) -> int:
    result = weekly(
        Path(args.extracts), Path(args.warehouse), Path(args.out), args.as_of, args.retrain
    )
    print_result(result)
    return 0
