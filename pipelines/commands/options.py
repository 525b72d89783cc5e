"""Option types shared by the `casefinder` commands."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from foundation.errors import CasefinderError
from foundation.settings import check_dask_address


def iso_date(text: str) -> date:
    """argparse type for a `YYYY-MM-DD` date: a bad value is a one-line usage error (exit 2)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_extract_set(parser: argparse.ArgumentParser) -> None:
    """`--extracts DIR` (required) and `--as-of D` (default: the manifest's extract_date)."""
    parser.add_argument(
        "--extracts", type=Path, required=True, help="the extract set folder (contract v1.1)"
    )
    parser.add_argument(
        "--as-of",
        type=iso_date,
        help="the as-of date (YYYY-MM-DD); default: extract_date from manifest.json",
    )


def dask_address(text: str) -> str:
    """argparse type for `--dask-address`: `local` or a scheduler address (tcp://host:8786)."""
    try:
        return check_dask_address(text)
    except CasefinderError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_dask_address(parser: argparse.ArgumentParser, default: str | None, does: str) -> None:
    """The `--dask-address` option; `does` says what runs on Dask for this command."""
    parser.add_argument(
        "--dask-address",
        type=dask_address,
        default=default,
        metavar="ADDRESS",
        help=(
            f"run {does} on Dask: a scheduler address (tcp://host:8786) or 'local' for a "
            "2-process cluster on this machine (default: CASEFINDER_DASK_ADDRESS, else one "
            "process; see docs/data-engineer.md)"
        ),
    )
