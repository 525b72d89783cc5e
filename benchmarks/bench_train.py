"""Benchmark `casefinder train` at ICS scale: wall time and peak memory of the whole command.

Generates (`casefinder synth`) and ingests (`casefinder ingest`) an extract set of
`--patients` people unless `--warehouse` points at one already ingested, then runs
`casefinder train` as a subprocess and reports its wall time, CPU seconds (user + system,
its whole process tree), the largest resident set size of any one process in the tree
(getrusage: the `casefinder` process, not the Prefect server beside it), the 1-minute load
average when it started, and the per-step timings the registry recorded. Training writes
feature tables into the warehouse and a model folder beside it: point `--warehouse` at a copy.

Usage: `python -m benchmarks.bench_train --patients 1000000 --work /tmp/bench-train`
Targets (issue 5): 1,000,000 patients, 12 index dates, <= 10 minutes, <= 12 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CASEFINDER = str(BIN / "casefinder")

_WRAPPER = (
    "import json, os, resource, subprocess, sys, time\n"
    "load = os.getloadavg()[0]\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "wall = time.perf_counter() - t\n"
    "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'rc': p.returncode, 'wall_s': wall, 'cpu_s': r.ru_utime + r.ru_stime,\n"
    "                  'peak_rss_mb': r.ru_maxrss / 1024, 'load_1m': load,\n"
    "                  'stdout': p.stdout, 'stderr': p.stderr[-4000:]}))\n"
)


def measure(cmd: list[str]) -> dict:
    """Run `cmd` in a wrapper process; return rc, wall and CPU seconds, peak RSS (MB), the
    load average at the start, and the output."""
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/train"))
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=None,
        help="an already ingested warehouse (skips synth and ingest)",
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    warehouse = args.warehouse
    if warehouse is None:
        extracts = args.work / "extracts" / f"ics-{args.patients}"
        warehouse = args.work / "wh" / "warehouse.duckdb"
        if not extracts.exists():
            t = time.perf_counter()
            subprocess.run(
                [
                    CASEFINDER,
                    "synth",
                    "--out",
                    str(extracts),
                    "--patients",
                    str(args.patients),
                    "--seed",
                    str(args.seed),
                ],
                check=True,
            )
            print(f"synth: {time.perf_counter() - t:.0f} s", flush=True)
        if not warehouse.exists():
            t = time.perf_counter()
            subprocess.run(
                [CASEFINDER, "ingest", "--extracts", str(extracts), "--warehouse", str(warehouse)],
                check=True,
            )
            print(f"ingest: {time.perf_counter() - t:.0f} s", flush=True)

    result = measure(
        [CASEFINDER, "train", "--warehouse", str(warehouse), "--threads", str(args.threads)]
    )
    print(result["stdout"], end="")
    if result["rc"] not in (0, 2):
        print(result["stderr"], file=sys.stderr)
        return 1
    if result["rc"] == 2:
        print(result["stderr"].strip().splitlines()[-1])
    timings = {}
    models_dir = Path(warehouse).resolve().parent / "models"
    metas = sorted(models_dir.glob("*/metadata.json"), key=lambda p: p.stat().st_mtime)
    if metas and result["rc"] == 0:
        meta = json.loads(metas[-1].read_text())
        timings = meta.get("timings_s", {})
        counts = meta.get("training_counts", {})
        print(
            f"training rows: {counts.get('sample_rows')}, feature rows (12 dates): "
            f"{counts.get('feature_rows')}, best iteration: "
            f"{meta.get('params', {}).get('best_iteration')}"
        )
    rejected = sorted(models_dir.glob(".rejected/*/timings.json"), key=lambda p: p.stat().st_mtime)
    if rejected and result["rc"] == 2:  # the gate refused the model: its timings are kept
        timings = json.loads(rejected[-1].read_text())
    print(
        f"train wall: {result['wall_s']:.0f} s (target <= 600 s); CPU: {result['cpu_s']:.0f} s; "
        f"peak RSS: {result['peak_rss_mb'] / 1024:.2f} GB (target <= 12 GB); "
        f"load average at start: {result['load_1m']:.1f}; steps: {timings}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
