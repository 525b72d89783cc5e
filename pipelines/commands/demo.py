"""`casefinder demo`: generate a synthetic ICS, then run the weekly job on it."""

from __future__ import annotations

import argparse
from pathlib import Path

from foundation.settings import load_settings
from pipelines.commands.run import print_result, weekly
from pipelines.commands.synth import describe
from synthetic import generate

NAME = "demo"
HELP = (
    "generate a synthetic ICS under OUT/extracts (50,000 patients) and run the weekly job on "
    "it: warehouse OUT/warehouse.duckdb, lists under OUT/lists, reports under OUT/reports"
)
DEMO_PATIENTS = 50_000
DEMO_SEED = 42


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help="demo folder (default: data/demo under the data dir)"
    )


def make_demo_extracts(out: Path) -> object:
    """Write the demo's synthetic extract set to `out/extracts` (truth in `out/truth`)."""
    return generate(out / "extracts", patients=DEMO_PATIENTS, seed=DEMO_SEED)


def run(args: argparse.Namespace) -> int:
    out = args.out if args.out is not None else load_settings().data_dir / "demo"
    result = make_demo_extracts(out)
    print("\n".join(describe(result)), flush=True)
    outcome = weekly(
        extracts=out / "extracts",
        warehouse=out / "warehouse.duckdb",
        out=out,
        as_of=None,
        retrain=False,
    )
    print_result(outcome)
    print(f"open the lists: {outcome['lists_dir']}/<neighbourhood>/proactive_care_list.html")
    return 0
