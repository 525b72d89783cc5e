"""Benchmark `casefinder synth`: wall time, CPU time, peak memory and rows per second.

Usage:
    .venv/bin/python -m benchmarks.bench_synth --patients 1000000 --out /tmp/cf-bench/synth

Runs the command as a subprocess and samples the resident memory of its whole process tree
(the command and its worker processes) every 0.2 s: the sum at the worst moment is the peak
that matters for the 8 GB budget. `ru_maxrss` of the children (the largest single process)
is reported too. Prints one Markdown table row. Budget: 1,000,000 patients in <= 10 minutes
and <= 8 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

HEADER = (
    "| patients | format | workers | wall s | CPU s | peak tree RSS GB | max process RSS GB "
    "| rows written | rows/s | machine |\n|---|---|---|---|---|---|---|---|---|---|"
)


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def run(patients: int, out: Path, fmt: str, workers: int | None) -> dict[str, object]:
    """Run synth once; return the measurements."""
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "pipelines.cli", "synth", "--out", str(out)]
    cmd += ["--patients", str(patients), "--seed", "1", "--format", fmt]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(ps))
        time.sleep(0.2)
    wall = time.perf_counter() - start
    stdout, stderr = proc.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.stderr.write(stderr.decode(errors="replace")[-3000:])
        raise SystemExit(f"synth failed with exit code {proc.returncode}")
    manifest = json.loads((out / "manifest.json").read_text())
    rows = sum(f["rows"] for f in manifest["files"].values())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "patients": patients,
        "format": fmt,
        "workers": workers if workers is not None else "default",
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "peak_tree_gb": round(peak / 1024**3, 2),
        "max_process_gb": round(after.ru_maxrss / 1024**2, 2),
        "rows": rows,
        "rows_per_s": round(rows / wall),
        "files": {k: v["rows"] for k, v in manifest["files"].items()},
        "stdout": stdout.decode(errors="replace"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/synth"))
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    m = run(args.patients, args.out, args.format, args.workers)
    machine = f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / 1024**3:.0f} GB, "
    machine += f"load {psutil.getloadavg()[0]:.1f}, {platform.python_version()}"
    print(HEADER)
    print(
        f"| {m['patients']:,} | {m['format']} | {m['workers']} | {m['wall_s']} | {m['cpu_s']} "
        f"| {m['peak_tree_gb']} | {m['max_process_gb']} | {m['rows']:,} | {m['rows_per_s']:,} "
        f"| {machine} |"
    )
    print(json.dumps(m["files"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
