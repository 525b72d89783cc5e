"""`casefinder ingest`: load and validate one extract set into the DuckDB warehouse."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from foundation.settings import load_settings
from pipelines.commands.options import add_extract_set

NAME = "ingest"
HELP = "load and validate one extract set into the DuckDB warehouse"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `casefinder ingest`."""
    add_extract_set(parser)
    parser.add_argument(
        "--warehouse", type=Path, required=True, help="the DuckDB warehouse file (created)"
    )
    parser.add_argument(
        "--docs-dir",
        type=Path,
        help="where GX Data Docs go (default: reports/<as_of>/ beside the warehouse)",
    )


def format_table(result: dict) -> str:
    """A short per-file reconciliation table."""
    lines = [f"{'file':<22}{'read':>10}{'loaded':>10}{'quarantined':>13}{'duplicates':>12}"]
    for name, row in sorted(result.get("extracts", {}).items()):
        lines.append(
            f"{name:<22}{row['read']:>10}{row['loaded']:>10}"
            f"{row['quarantined']:>13}{row['duplicates']:>12}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the `ingest` flow and print its reconciliation table."""
    for name in ("great_expectations", "httpx"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    # deferred: prefect and great_expectations are only needed when the ingest flow runs
    from pipelines.flows.ingest import ingest

    settings = load_settings().for_run()
    result = ingest(
        extracts=args.extracts,
        warehouse=args.warehouse,
        as_of=args.as_of,
        docs_dir=args.docs_dir,
        max_rejected_share=settings.max_rejected_share,
        key_file=settings.key_file,
        pseudonym_key=settings.pseudonym_key,
    )
    state = "loaded"
    if result["already_loaded"]:
        state = "already loaded (same checksums): nothing changed"
    print(f"snapshot {result['snapshot_id']} as of {result['as_of']}: {state}")
    print(format_table(result))
    if result.get("data_docs"):
        print(f"data docs: {result['data_docs']}")
    for problem in result.get("validation_mismatches", []):
        print(f"warning: {problem}")
    return 0
