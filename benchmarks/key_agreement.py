"""Whether the lists agree whoever holds the key: one extract set, fresh warehouses, N keys."""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

from scipy.stats import spearmanr

CASEFINDER = Path(sys.executable).with_name("casefinder")


def _key(n: int) -> str:
    return hashlib.sha256(f"casefinder-key-agreement:{n}".encode()).hexdigest()


def run_with_key(extracts: Path, work: Path, key_hex: str) -> tuple[dict[str, float], dict]:
    """`casefinder run` into a fresh warehouse under `key_hex`: NHS number -> risk score, and
    how the lists were ranked (`ranking` and `model_version` of run_summary.json)."""
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CASEFINDER_PSEUDONYM_KEY": key_hex}
    args = [str(CASEFINDER), "run", "--extracts", str(extracts)]
    args += ["--warehouse", str(work / "warehouse.duckdb"), "--out", str(work / "out")]
    with (work / "run.log").open("w", encoding="utf-8") as log:
        subprocess.run(args, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    scores: dict[str, float] = {}
    for path in sorted((work / "out" / "lists").glob("*/*/proactive_care_list.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            scores.update({r["nhs_number"]: float(r["risk_score"]) for r in csv.DictReader(fh)})
    summary = json.loads(next((work / "out" / "reports").glob("*/run_summary.json")).read_text())
    return scores, {"ranking": summary["ranking"], "model_version": summary["model_version"]}


def agreement(runs: list[dict[str, float]]) -> list[dict[str, float]]:
    """Spearman correlation of the scores of every pair of runs over the patients both list."""
    out = []
    for (i, a), (j, b) in itertools.combinations(enumerate(runs), 2):
        common = sorted(set(a) & set(b))
        rho = spearmanr([a[k] for k in common], [b[k] for k in common]).statistic
        out.append({"runs": f"{i + 1}-{j + 1}", "patients": len(common), "spearman": rho})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--extracts", type=Path, required=True, help="one extract set")
    parser.add_argument("--work", type=Path, required=True, help="folder for the warehouses")
    parser.add_argument("--keys", type=int, default=3, help="how many keys (default 3)")
    args = parser.parse_args(argv)
    runs = [run_with_key(args.extracts, args.work / f"key{n}", _key(n)) for n in range(args.keys)]
    result = {"runs": [info for _, info in runs], "pairs": agreement([s for s, _ in runs])}
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
