"""Benchmark ingest step by step: wall and CPU seconds of each step of `load_extract_set`.

Usage:
    .venv/bin/python -m benchmarks.bench_ingest_steps --extracts DIR --work DIR

Loads the extract set into a new warehouse in `--work` (emptied first) as `casefinder ingest`
does, without Prefect, then validates it with Great Expectations. Each step of every file's
load (landing, duplicates, rules, quarantine, counting) and each `core` table is timed by
wrapping the function that does it; the totals are summed over files. CPU seconds are the
steadier figure on a shared machine. Identifiers never reach the output: counts and seconds
only.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foundation.warehouse import connect, ensure_layers
from pipelines.ingest import load
from pipelines.ingest.extracts import discover
from pipelines.ingest.validation import validate_snapshot

# The functions of `pipelines.ingest.load` whose time is a step of every file's load.
STEPS = (
    "land_file",
    "known_values",
    "find_duplicates",
    "find_failures",
    "write_quarantine",
    "count_load",
    "keep_pseudonyms",
    "refresh_raw_view",
)
KEY = b"benchmark-key-not-a-secret-32-by"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(totals: dict[str, list[float]], label: str, function: Callable[..., Any]) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), _cpu()
        try:
            return function(*args, **kwargs)
        finally:
            totals[label][0] += time.perf_counter() - started
            totals[label][1] += _cpu() - cpu

    return wrapper


def instrument(totals: dict[str, list[float]]) -> None:
    """Time every step, and every `core` table under its own name."""
    for name in STEPS:
        setattr(load, name, _timed(totals, name, getattr(load, name)))
    build_model = load.build_model

    def core_table(con: Any, name: str, *args: Any, **kwargs: Any) -> int:
        return _timed(totals, f"core {name}", build_model)(con, name, *args, **kwargs)

    load.build_model = core_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extracts", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    instrument(totals)
    warehouse = args.work / "warehouse.duckdb"
    phases: list[tuple[str, float, float]] = []
    started, cpu = time.perf_counter(), _cpu()
    extract_set = discover(args.extracts)
    phases.append(("discover (checksums, headers)", time.perf_counter() - started, _cpu() - cpu))
    started, cpu = time.perf_counter(), _cpu()
    with connect(warehouse) as con:
        ensure_layers(con)
        result = load.load_extract_set(con, extract_set, KEY)
    phases.append(("load (one transaction)", time.perf_counter() - started, _cpu() - cpu))
    started, cpu = time.perf_counter(), _cpu()
    report = validate_snapshot(
        warehouse, result.snapshot_id, result.extract_date, args.work / "docs"
    )
    phases.append(("Great Expectations", time.perf_counter() - started, _cpu() - cpu))
    rows = sum(counts.read for counts in result.files.values())
    print(f"{rows:,} rows read; GX mismatches: {len(report.mismatches)}")
    print(f"{'step':<34} {'wall s':>8} {'CPU s':>8}")
    for label, wall, cpu_s in phases:
        print(f"{label:<34} {wall:>8.1f} {cpu_s:>8.1f}")
    for label, (wall, cpu_s) in totals.items():
        print(f"  {label:<32} {wall:>8.1f} {cpu_s:>8.1f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:,.0f} MB")


if __name__ == "__main__":
    main()
