"""`casefinder check`: validate an extract set against the contract without writing a warehouse."""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import TextIO

from foundation.errors import ExtractError
from foundation.privacy import redact
from foundation.settings import load_settings
from pipelines.commands.options import add_extract_set

NAME = "check"
HELP = (
    "validate an extract set against the contract without writing a warehouse: per file "
    "the rows read, each rule failed with its count and an example (non-identifying columns "
    "only), control totals, and the files that would stop a run (exit 2 when one would)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `casefinder check`."""
    add_extract_set(parser)
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default) or json for scripts",
    )


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def write_text(report: dict, out: TextIO) -> None:
    """The report for people: a table of counts, then each file's failed rules and stop."""
    share = report["max_rejected_share"]
    out.write(
        f"extract set {report['extracts']} as of {report['as_of']} (contract "
        f"v{report['contract_version']}); a run stops when more than {share:.0%} of a "
        "file's rows are rejected\n"
    )
    out.write(
        f"{'file':<28}{'read':>10}{'loaded':>10}{'quarantined':>13}{'duplicates':>12}"
        f"{'control total':>15}\n"
    )
    for item in report["files"].values():
        out.write(
            f"{item['source_file']:<28}{_count(item['read']):>10}{_count(item['loaded']):>10}"
            f"{_count(item['quarantined']):>13}{_count(item['duplicates']):>12}"
            f"{_count(item['control_total']):>15}\n"
        )
    for item in report["files"].values():
        notes = []
        if item["header_only"]:
            notes.append("  header only, no data rows: present and valid")
        if item["extra_columns"]:
            notes.append(f"  unknown columns ignored: {', '.join(item['extra_columns'])}")
        for rule in item["rules_failed"]:
            example = f", e.g. {rule['example']!r}" if rule["example"] is not None else ""
            notes.append(f"  {rule['rule']}: {rule['rows']} rows ({rule['reason']}){example}")
        if notes:
            out.write(f"{item['source_file']}:\n" + "\n".join(notes) + "\n")
    if report["stops"]:
        out.write("would stop a run:\n")
        out.writelines(f"  {line}\n" for line in report["stops"])
    else:
        out.write("a run would go ahead: no file would stop it\n")


def run(args: argparse.Namespace) -> int:
    """Check the extract set, print the report, and exit 2 when a run would stop."""
    # deferred: duckdb (pipelines.ingest.check) is only needed when a check runs, not for --help
    from pipelines.ingest.check import check_extract_set

    settings = load_settings()
    report = check_extract_set(args.extracts, args.as_of, settings.max_rejected_share)
    data = report.as_dict()
    if args.format == "json":
        sys.stdout.write(redact(json.dumps(data, indent=2)) + "\n")
    else:
        buffer = io.StringIO()
        write_text(data, buffer)
        sys.stdout.write(redact(buffer.getvalue()))
    stops = report.stops
    if stops:
        more = f" ({len(stops) - 1} more files would stop it too)" if len(stops) > 1 else ""
        raise ExtractError(stops[0] + more)
    return 0
