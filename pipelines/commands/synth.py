"""`casefinder synth`: write a synthetic extract set (contract 1.1) with its truth files."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines.commands.options import iso_date as _iso_date
from synthetic import generate
from synthetic.params import DEFAULT_DEFECT_RATE, DEFAULT_EXTRACT_DATE

NAME = "synth"
HELP = "write a synthetic ICS extract set (contract 1.1) and its truth files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder to write the extracts to")
    parser.add_argument(
        "--patients", type=int, default=50_000, help="simulated population size (default 50000)"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--extract-date",
        type=_iso_date,
        default=DEFAULT_EXTRACT_DATE,
        help=f"the day the data are cut, YYYY-MM-DD (default {DEFAULT_EXTRACT_DATE})",
    )
    parser.add_argument(
        "--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)"
    )
    parser.add_argument(
        "--defect-rate",
        type=float,
        default=DEFAULT_DEFECT_RATE,
        help=f"share of rows given a defect (default {DEFAULT_DEFECT_RATE})",
    )
    parser.add_argument("--clean", action="store_true", help="inject no defects")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes simulating chunks of patients (default: up to 2; output is the same)",
    )
    parser.add_argument(
        "--truth-dir",
        type=Path,
        default=None,
        help="where truth files go (default: OUT/../truth/<name of OUT>)",
    )


def describe(result: object) -> list[str]:
    """Lines summarising a `SynthResult` for the terminal."""
    lines = [f"extract set written to {result.out_dir} ({result.fmt}, as of {result.extract_date})"]
    for name, rows in result.rows.items():
        lines.append(f"  {name:<22} {rows:>12,} rows")
    lines.append(f"manifest: {result.manifest}")
    lines.append(
        f"truth:    {result.truth_dir} (latent_risk.csv, defects.csv: {result.defects:,} defects)"
    )
    return lines


def run(args: argparse.Namespace) -> int:
    result = generate(
        args.out,
        patients=args.patients,
        seed=args.seed,
        extract_date=args.extract_date,
        fmt=args.format,
        defect_rate=0.0 if args.clean else args.defect_rate,
        truth_dir=args.truth_dir,
        workers=args.workers,
    )
    print("\n".join(describe(result)))
    return 0
