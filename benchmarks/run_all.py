"""`make bench`: time every stage of the weekly job at ICS scale and write a Markdown table.

Each stage runs as its own `casefinder` subprocess so wall time and peak memory (the child's
maximum resident set size, from `getrusage`) are measured the way an operator would see them.
Usage: `python -m benchmarks.run_all --sizes 100000 1000000 --out benchmarks/results.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CASEFINDER = str(BIN / "casefinder")
PYTHON = sys.executable


@dataclass(frozen=True)
class Measurement:
    """One stage at one size."""

    stage: str
    patients: int
    wall_s: float
    peak_rss_mb: float
    records: int | None = None
    note: str = ""

    @property
    def records_per_s(self) -> float | None:
        if not self.records or self.wall_s <= 0:
            return None
        return self.records / self.wall_s


def run_isolated(cmd: list[str]) -> tuple[float, float, str]:
    """Run `cmd` under a tiny wrapper; return (wall s, peak RSS MB of it and its children, stdout).

    The wrapper's RUSAGE_CHILDREN maximum is the largest resident set of any process the stage
    started and waited for (the stage itself, or Prefect's temporary server).
    """
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "out, err = p.communicate()\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "sys.stderr.write(err.decode(errors='replace')[-3000:])\n"
        "print(json.dumps({'wall': time.perf_counter() - t, 'peak_mb': peak,"
        " 'rc': p.returncode, 'out': out.decode(errors='replace')[-5000:]}))\n"
    )
    proc = subprocess.run(
        [PYTHON, "-c", wrapper, *cmd], capture_output=True, text=True, cwd=ROOT, check=False
    )
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise RuntimeError(f"benchmark wrapper failed: {proc.stderr[-2000:]}") from None
    if result["rc"] != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed ({result['rc']}): {proc.stderr[-2000:]}")
    return float(result["wall"]), float(result["peak_mb"]), str(result["out"])


def count_rows(extracts: Path) -> dict[str, int]:
    """Data rows per file, from the manifest's control totals."""
    manifest = json.loads((extracts / "manifest.json").read_text())
    return {name: int(spec["rows"]) for name, spec in manifest["files"].items()}


def duckdb_raw_read(extracts: Path) -> tuple[float, float]:
    """DuckDB alone reading every file of the set (`select count(*) from read_csv(...)`)."""
    script = (
        "import duckdb, sys, pathlib\n"
        "con = duckdb.connect()\n"
        "for f in sorted(pathlib.Path(sys.argv[1]).iterdir()):\n"
        "    if f.suffix == '.csv':\n"
        "        con.execute('select count(*) from read_csv(?, all_varchar=true)', [str(f)])"
        ".fetchall()\n"
        "    elif f.suffix == '.parquet':\n"
        "        con.execute('select count(*) from read_parquet(?)', [str(f)]).fetchall()\n"
    )
    wall, peak, _ = run_isolated([PYTHON, "-c", script, str(extracts)])
    return wall, peak


def bench_size(patients: int, work: Path, seed: int = 7) -> list[Measurement]:
    """Every stage at one size, in pipeline order, on a fresh working folder."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    extracts, warehouse, out = work / "extracts", work / "warehouse.duckdb", work / "out"
    results: list[Measurement] = []

    def stage(name: str, cmd: list[str], records: int | None = None, note: str = "") -> str:
        wall, peak, stdout = run_isolated(cmd)
        results.append(Measurement(name, patients, wall, peak, records, note))
        print(f"  {name:<32} {wall:8.1f} s {peak:8.0f} MB", file=sys.stderr, flush=True)
        return stdout

    stage(
        "synth",
        [
            CASEFINDER,
            "synth",
            "--out",
            str(extracts),
            "--patients",
            str(patients),
            "--seed",
            str(seed),
        ],
        records=patients,
    )
    rows = count_rows(extracts)
    total_rows = sum(rows.values())
    raw_wall, raw_peak = duckdb_raw_read(extracts)
    results.append(
        Measurement("duckdb raw read (reference)", patients, raw_wall, raw_peak, total_rows)
    )
    stage(
        "ingest",
        [CASEFINDER, "ingest", "--extracts", str(extracts), "--warehouse", str(warehouse)],
        records=total_rows,
    )
    manifest = json.loads((extracts / "manifest.json").read_text())
    as_of = manifest["extract_date"]
    stage(
        "features (one date)",
        [
            CASEFINDER,
            "features",
            "--warehouse",
            str(warehouse),
            "--as-of",
            as_of,
            "--out",
            str(work / "features.parquet"),
        ],
        records=patients,
    )
    stage(
        "train (12 index dates)",
        [CASEFINDER, "train", "--warehouse", str(warehouse), "--as-of", as_of],
        records=patients * 12,
    )
    stage(
        "weekly run, model registered",
        [
            CASEFINDER,
            "run",
            "--extracts",
            str(extracts),
            "--warehouse",
            str(warehouse),
            "--out",
            str(out),
        ],
        records=patients,
        note="ingest recognises the loaded set; features, score, publish",
    )
    fresh = work / "fresh.duckdb"
    stage(
        "weekly run with training",
        [
            CASEFINDER,
            "run",
            "--extracts",
            str(extracts),
            "--warehouse",
            str(fresh),
            "--out",
            str(work / "out2"),
        ],
        records=patients,
        note="fresh warehouse: ingest, features, train, score, publish",
    )
    return results


def to_markdown(results: list[Measurement]) -> str:
    """The results as a Markdown table, with the machine it ran on."""
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {date.today().isoformat()}.",
        "",
        "| patients | stage | wall (s) | peak memory (MB) | records/s | note |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        rate = f"{r.records_per_s:,.0f}" if r.records_per_s else ""
        lines.append(
            f"| {r.patients:,} | {r.stage} | {r.wall_s:.1f} | {r.peak_rss_mb:,.0f} | {rate} "
            f"| {r.note} |"
        )
    by_key = {(r.patients, r.stage): r for r in results}
    lines += ["", "| patients | ingest / DuckDB raw read |", "|---:|---:|"]
    for patients in sorted({r.patients for r in results}):
        ingest = by_key.get((patients, "ingest"))
        raw = by_key.get((patients, "duckdb raw read (reference)"))
        if ingest and raw:
            lines.append(f"| {patients:,} | {ingest.wall_s / raw.wall_s:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = parser.parse_args(argv)
    results: list[Measurement] = []
    for size in args.sizes:
        print(f"{size:,} patients", file=sys.stderr, flush=True)
        results += bench_size(size, args.work / str(size))
    args.out.write_text(to_markdown(results))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
