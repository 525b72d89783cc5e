"""`casefinder demo`: generate a small synthetic ICS to try casefinder on."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "demo"
HELP = "generate a synthetic ICS under OUT/extracts (20,000 patients) to try casefinder on"
DEMO_PATIENTS = 20_000
DEMO_SEED = 42


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help="demo folder (default: data/demo under the data dir)"
    )


def make_demo_extracts(out: Path) -> object:
    """Write the demo's synthetic extract set to `out/extracts` (truth in `out/truth`)."""
    from synthetic import generate

    return generate(out / "extracts", patients=DEMO_PATIENTS, seed=DEMO_SEED)


def run(args: argparse.Namespace) -> int:
    from pipelines.commands.synth import describe
    from pipelines.settings import load_settings

    out = args.out if args.out is not None else load_settings().data_dir / "demo"
    result = make_demo_extracts(out)
    print("\n".join(describe(result)))
    return 0
