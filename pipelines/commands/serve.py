"""`casefinder serve`: run the weekly job on a schedule (Monday 06:00 Europe/London by default)."""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from foundation.errors import CasefinderError
from pipelines.flows.deploy import (
    DEFAULT_CRON,
    DEFAULT_TIMEZONE,
    DEPLOYMENT_NAME,
    deployment_parameters,
    serve_flow,
)

NAME = "serve"
HELP = (
    "serve the weekly run as a Prefect deployment with a cron schedule (default Monday "
    "06:00 Europe/London); needs a Prefect server (PREFECT_API_URL)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `casefinder serve`."""
    parser.add_argument("--extracts", type=Path, required=True, help="the extract set folder")
    # dest is not `warehouse`: the CLI locks `args.warehouse` for a command's whole duration,
    # but `serve` only waits; each run it starts takes the warehouse lock itself.
    parser.add_argument(
        "--warehouse",
        dest="warehouse_file",
        type=Path,
        required=True,
        help="the DuckDB warehouse file",
    )
    parser.add_argument("--out", type=Path, required=True, help="where lists and reports go")
    parser.add_argument(
        "--cron", default=DEFAULT_CRON, help=f'cron schedule (default: "{DEFAULT_CRON}")'
    )
    parser.add_argument(
        "--timezone",
        default=DEFAULT_TIMEZONE,
        help=f"time zone of the schedule (default: {DEFAULT_TIMEZONE})",
    )
    parser.add_argument(
        "--name", default=DEPLOYMENT_NAME, help=f"deployment name (default: {DEPLOYMENT_NAME})"
    )
    parser.add_argument(
        "--paused", action="store_true", help="register the schedule paused (runs only on demand)"
    )


def _validate(args: argparse.Namespace) -> None:
    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CasefinderError(f"--timezone: unknown time zone {args.timezone!r}") from None
    if len(args.cron.split()) != 5:
        raise CasefinderError(f"--cron: expected 5 fields (m h dom mon dow), got {args.cron!r}")
    if not args.extracts.is_dir():
        raise CasefinderError(f"--extracts: {args.extracts} is not a folder")


def run(args: argparse.Namespace) -> int:
    """Register the deployment and serve it until interrupted (Ctrl-C pauses the schedule)."""
    _validate(args)
    # deferred: prefect is only needed when serving, not for --help
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise CasefinderError(
            "no Prefect server: run `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (see docs/data-engineer.md)"
        )
    # deferred: the weekly flow (prefect, lightgbm) is only needed to serve
    from pipelines.flows.weekly import weekly_run

    # Runs inherit this process's environment, so CASEFINDER_* settings (the notify webhook,
    # the Dask address) set where `serve` starts apply to every run it starts.
    accepted = set(inspect.signature(weekly_run.fn).parameters)
    params = deployment_parameters(args.extracts, args.warehouse_file, args.out)
    params = {k: v for k, v in params.items() if k in accepted}
    sys.stderr.write(
        f"casefinder: serving {args.name} ({args.cron!r}, {args.timezone}); Ctrl-C to stop\n"
    )
    serve_flow(weekly_run, params, args.cron, args.timezone, args.name, paused=args.paused)
    return 0
