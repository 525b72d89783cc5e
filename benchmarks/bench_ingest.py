"""Benchmark ingest of a (1,000,000-patient) extract set against DuckDB reading the same files.

Usage:
    .venv/bin/python -m benchmarks.bench_ingest --extracts /tmp/bench1m/extracts \
        --workdir /tmp/bench1m/work

Generate the set first if needed (minutes; not timed):
    .venv/bin/python -c "from pathlib import Path; from synthetic import generate; \
        generate(Path('/tmp/bench1m/extracts'), patients=1_000_000, seed=11)"

Phases run in separate processes so each peak memory (ru_maxrss) is its own:
  baseline  DuckDB alone: `select count(*) from read_csv(...)` (or read_parquet) per file
  ingest    discover + load in one transaction (raw, rules, quarantine, core, audit)
            + GX validation and Data Docs, without the Prefect server
  raw-write the floor of landing, per CSV file of the set (`--files`, default the two
            largest): DuckDB counting it, inserting its rows as text into a table of a
            fresh database file (no row number), and the same insert with
            `row_number() over ()`, as ingest lands it (that window makes the insert
            single-threaded). Nothing of casefinder runs here.
Budget (issue 3): ingest <= 3 x baseline, peak memory <= 6 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from foundation.contract import FILES


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU time of this process (user + system): less sensitive than wall time to a busy box."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def baseline(extracts: Path) -> dict:
    """DuckDB reading every file of the set once (count(*)), in seconds."""
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    cpu_start = _cpu_seconds()
    started = time.perf_counter()
    rows = {}
    for path in sorted(extracts.iterdir()):
        if path.suffix == ".csv":
            sql = "select count(*) from read_csv(?, header = true, all_varchar = true)"
        elif path.suffix == ".parquet":
            sql = "select count(*) from read_parquet(?)"
        else:
            continue
        rows[path.stem] = con.execute(sql, [str(path)]).fetchone()[0]
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": _cpu_seconds() - cpu_start,
        "rows": rows,
        "peak_mb": _peak_mb(),
    }


def ingest(extracts: Path, workdir: Path) -> dict:
    """The ingest steps of the flow, timed one by one."""
    # deferred: casefinder loads in the ingest phase only: the baseline's peak is DuckDB's
    from foundation.warehouse import connect
    from pipelines.ingest.extracts import discover
    from pipelines.ingest.load import load_extract_set
    from pipelines.ingest.validation import validate_snapshot

    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = workdir / "warehouse.duckdb"
    for stale in (warehouse, workdir / "warehouse.duckdb.wal"):
        stale.unlink(missing_ok=True)
    times = {}
    cpu_start = _cpu_seconds()
    started = time.perf_counter()
    extract_set = discover(extracts)
    times["discover"] = time.perf_counter() - started
    t = time.perf_counter()
    with connect(warehouse) as con:
        result = load_extract_set(con, extract_set, b"b" * 32)
    times["load"] = time.perf_counter() - t
    t = time.perf_counter()
    report = validate_snapshot(
        warehouse, result.snapshot_id, result.extract_date, workdir / "reports"
    )
    times["validate_gx"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - started
    return {
        "seconds": times,
        "files": {
            name: {
                "read": c.read,
                "loaded": c.loaded,
                "quarantined": c.quarantined,
                "duplicates": c.duplicates,
            }
            for name, c in result.files.items()
        },
        "cpu_seconds": _cpu_seconds() - cpu_start,
        "gx_mismatches": list(report.mismatches),
        "peak_mb": _peak_mb(),
    }


def _timed(con: duckdb.DuckDBPyConnection, sql: str) -> dict:
    """Wall and CPU seconds of one statement and the checkpoint that writes it to disk."""
    cpu, wall = _cpu_seconds(), time.perf_counter()
    con.execute(sql)
    con.execute("checkpoint")
    return {
        "seconds": round(time.perf_counter() - wall, 2),
        "cpu_seconds": round(_cpu_seconds() - cpu, 2),
    }


def raw_write(extracts: Path, workdir: Path, files: list[str]) -> dict:
    """Count vs insert (without, then with a row number) for each CSV file, in seconds."""
    workdir.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in files:
        path = extracts / f"{name}.csv"
        columns = FILES[name].column_names
        struct = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in columns) + "}"
        reader = (
            f"read_csv('{path}', header = true, auto_detect = false, columns = {struct}, "
            "strict_mode = true, parallel = true)"
        )
        figures = {}
        for variant, select in (
            ("count", None),
            ("insert", f"select *, 0 from {reader}"),
            ("insert_row_number", f"select *, row_number() over () from {reader}"),
        ):
            database = workdir / f"raw-write-{name}.duckdb"
            database.unlink(missing_ok=True)
            con = duckdb.connect(str(database))
            con.execute("set enable_progress_bar = false")
            con.execute("set preserve_insertion_order = true")
            if select is None:
                figures[variant] = _timed(con, f"select count(*) from {reader}")
            else:
                con.execute(
                    f"create table landed ({', '.join(f'{c} varchar' for c in columns)}, "
                    "_row_number bigint)"
                )
                figures[variant] = _timed(con, f"insert into landed {select}")
            con.close()
            database.unlink(missing_ok=True)
        results[name] = figures
    return results


def _phase(name: str, args: argparse.Namespace) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_ingest",
            "--phase",
            name,
            "--extracts",
            str(args.extracts),
            "--workdir",
            str(args.workdir),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extracts", type=Path, default=Path("/tmp/bench1m/extracts"))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench1m/work"))
    parser.add_argument("--phase", choices=("baseline", "ingest", "raw-write"))
    parser.add_argument("--files", nargs="+", default=["gp_events", "gp_medications"])
    args = parser.parse_args()
    if args.phase == "raw-write":
        print(json.dumps(raw_write(args.extracts, args.workdir, args.files), indent=2))
        return
    if args.phase == "baseline":
        print(json.dumps(baseline(args.extracts)))
        return
    if args.phase == "ingest":
        print(json.dumps(ingest(args.extracts, args.workdir)))
        return
    base = _phase("baseline", args)
    run = _phase("ingest", args)
    ratio = run["seconds"]["total"] / base["seconds"]
    load_ratio = run["seconds"]["load"] / base["seconds"]
    print(json.dumps({"baseline": base, "ingest": run}, indent=2))
    print(
        f"duckdb read: {base['seconds']:.1f} s; ingest: {run['seconds']['total']:.1f} s "
        f"(load {run['seconds']['load']:.1f} s, GX {run['seconds']['validate_gx']:.1f} s); "
        f"ratio {ratio:.2f} (load only {load_ratio:.2f}); budget 3.0; "
        f"peak memory {run['peak_mb'] / 1024:.2f} GB (budget 6 GB); "
        f"CPU time {base['cpu_seconds']:.1f} s vs {run['cpu_seconds']:.1f} s "
        f"(ratio {run['cpu_seconds'] / base['cpu_seconds']:.2f})"
    )


if __name__ == "__main__":
    main()
