"""`casefinder features`: export the feature table at an index date, or describe the features."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from foundation.errors import CasefinderError
from pipelines.commands.options import iso_date as _date

NAME = "features"
HELP = (
    "export the feature table at an index date (one row per patient alive and registered) "
    "to Parquet, or print the feature dictionary with --describe"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `casefinder features`."""
    parser.add_argument("--warehouse", type=Path, help="the DuckDB warehouse file")
    parser.add_argument(
        "--as-of",
        type=_date,
        help="index date D (YYYY-MM-DD); default: the extract date of the latest snapshot",
    )
    parser.add_argument("--out", type=Path, help="the Parquet file to write")
    parser.add_argument(
        "--describe",
        action="store_true",
        help="print the feature dictionary (name, unit, description, SQL, code lists) and exit",
    )
    parser.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="format of --describe (default: text)",
    )


def _latest_extract_date(warehouse: Path) -> date:
    """The extract date of the warehouse's latest loaded snapshot (the default `--as-of`)."""
    # deferred: duckdb is only needed when features are built, not for --help
    import duckdb

    from foundation.warehouse import connect

    with connect(warehouse, read_only=True) as con:
        try:
            rows = con.execute(
                "select extract_date from audit.snapshots where extract_date is not null "
                "order by loaded_at desc, snapshot_id desc limit 1"
            ).fetchall()
        except duckdb.CatalogException:
            rows = []
    if not rows or rows[0][0] is None:
        raise CasefinderError("--as-of is required: the warehouse records no extract date")
    return rows[0][0]


def run(args: argparse.Namespace) -> int:
    """Describe the features, or build them at `--as-of` and write `--out`."""
    # deferred: the feature dictionary is only read for --describe and builds
    from features import docs

    if args.describe:
        text = docs.markdown() if args.format == "markdown" else docs.text()
        sys.stdout.write(text)
        return 0
    if args.warehouse is None:
        raise CasefinderError("--warehouse is required (or use --describe)")
    if args.out is None:
        raise CasefinderError("--out is required (or use --describe)")
    if not args.warehouse.exists():
        raise CasefinderError(
            f"warehouse {args.warehouse} does not exist: run `casefinder ingest` first"
        )
    if args.out.suffix.lower() != ".parquet":
        raise CasefinderError(f"--out {args.out} must end in .parquet")
    as_of = args.as_of or _latest_extract_date(args.warehouse)

    # deferred: prefect and duckdb are only needed when features are built
    from features.build import export_features
    from foundation.warehouse import connect
    from pipelines.flows.feature_build import build_features

    build_features(warehouse=args.warehouse, index_dates=[as_of])
    with connect(args.warehouse) as con:
        rows = export_features(con, as_of, args.out)
    sys.stdout.write(f"features at {as_of.isoformat()}: {rows} patients -> {args.out}\n")
    return 0
