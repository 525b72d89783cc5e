"""Benchmark scoring, explaining and publishing an ICS of `--patients` with a registered model.

Usage:
    .venv/bin/python -m benchmarks.bench_publish --patients 1000000 --work /tmp/bench-publish

Setup (not timed): synthesise and ingest a base extract set of `--base` patients, build
features at its extract date and fit + register a model (quality gate thresholds opened:
this measures throughput, not model quality); then clone the base population (features, identity
and the core records the evidence models read) until it holds `--patients` people.
Timed, in a separate process so its peak memory is its own: the score and publish steps
exactly as `weekly_run` runs them (cohort, predict, TreeSHAP on the listed patients,
reasons, evidence, list tables, CSV/XLSX/HTML per neighbourhood, run summary and report,
audit, atomic rename), without the Prefect server.
Budget (issue 6): <= 120 s and <= 8 GB for 1,000,000 patients.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from features.build import build_features
from foundation.settings import configure_prefect_environment, load_settings
from foundation.warehouse import build_model, connect
from models import workflow
from models.registry import load, models_dir, new_staging_dir
from models.scoring import score_cohort
from reports import publish as pub
from synthetic import generate

EXTRACT_DATE = date(2026, 11, 16)
# Core tables cloned with the population (those the evidence and list models read).
CLONED_CORE = (
    "core_patient_identity",
    "core_patients",
    "core_gp_events",
    "core_gp_medications",
    "core_acute_spells",
    "core_acute_diagnoses",
    "core_ae_attendances",
    "core_community_contacts",
    "core_social_care_services",
    "core_opt_outs",
    "core_caseload",
)


# A distinct (not check-digit valid) 10-digit number per clone; benchmarks only.
_FAKE_NHS = (
    "lpad(cast((cast(substr(nhs_number, 1, 9) as bigint) * 31 + k) % 1000000000 as varchar),"
    " 9, '0') || substr(nhs_number, 10, 1) as nhs_number"
)


def setup(work: Path, base: int) -> Path:
    """A warehouse with `base` synthetic patients, features at the extract date and a model."""
    # deferred: prefect is only needed by the setup phase, after main() configured it
    from pipelines.flows.ingest import ingest

    extracts = work / "extracts"
    warehouse = work / "base.duckdb"
    if warehouse.exists():
        return warehouse
    generate(extracts, patients=base, seed=3, extract_date=EXTRACT_DATE, fmt="parquet")
    ingest(extracts, warehouse, EXTRACT_DATE)
    staging = new_staging_dir(models_dir(warehouse))
    workflow.prepare_training_set(warehouse, staging, EXTRACT_DATE, 365, ("type1", "ndoo"))
    workflow.fit_model(warehouse, staging, 42, search=False, n_jobs=2)
    workflow.calibrate_model(warehouse, staging, 42, method="sigmoid")
    workflow.evaluate_model(warehouse, staging, 42)
    # Throughput, not model quality: the gate runs (and records itself) with open thresholds.
    workflow.check_gate(staging, min_auroc_gain=-1.0, slope_range=(0.0, 100.0))
    workflow.register_model(warehouse, staging, models_dir(warehouse))
    return warehouse


def scale(base_warehouse: Path, work: Path, patients: int) -> Path:
    """Copy the base warehouse and clone its population until it has about `patients`."""
    target = work / f"scaled-{patients}.duckdb"
    if target.exists():
        target.unlink()
    shutil.copy(base_warehouse, target)
    with connect(target) as con:
        build_features(con, [EXTRACT_DATE])
        # Size by people alive and registered at the extract date (the ICS's list size).
        n = con.execute(
            "select count(*) from features.feat_patients where index_date = ?", [EXTRACT_DATE]
        ).fetchone()[0]
        copies = max(1, -(-patients // n))
        for table in CLONED_CORE:
            cols = [r[0] for r in con.execute(f"describe core.{table}").fetchall()]
            select = ", ".join(
                "patient_id || '-' || k as patient_id"
                if c == "patient_id"
                else _FAKE_NHS
                if c == "nhs_number"
                else c
                for c in cols
            )
            con.execute(
                f"insert into core.{table} select {select} from core.{table}"
                f" cross join (select unnest(range(1, {copies})) as k)"
            )
        cols = [r[0] for r in con.execute("describe features.feat_patients").fetchall()]
        select = ", ".join(
            "patient_id || '-' || k as patient_id" if c == "patient_id" else c for c in cols
        )
        con.execute(
            f"insert into features.feat_patients select {select} from features.feat_patients"
            f" cross join (select unnest(range(1, {copies})) as k) where index_date = ?",
            [EXTRACT_DATE],
        )
        total = con.execute(
            "select count(*) from features.feat_patients where index_date = ?", [EXTRACT_DATE]
        ).fetchone()[0]
    print(f"scaled warehouse: {total} patients alive and registered ({copies} copies)")
    return target


def timed(warehouse: Path, out: Path) -> dict:
    """Score, explain and publish (the timed phase); timings and peak memory."""
    settings = load_settings()
    t: dict[str, float] = {}
    start = time.perf_counter()
    with connect(warehouse) as con:
        model = load(warehouse)
        s = time.perf_counter()
        housebound = build_model(
            con,
            "score_cohort",
            {
                "as_of": EXTRACT_DATE,
                "opt_out_types": list(settings.opt_out_policy["direct_care_lists"]),
            },
        )
        t["cohort"] = time.perf_counter() - s
        s = time.perf_counter()
        scored = score_cohort(con, model, EXTRACT_DATE, settings.risk_tiers)
        t["score_explain_reasons_evidence"] = time.perf_counter() - s
        s = time.perf_counter()
        pub.build_list_models(con, EXTRACT_DATE)
        t["list_tables"] = time.perf_counter() - s
        s = time.perf_counter()
        lists_staging, manifest = pub.stage_lists(con, EXTRACT_DATE, out)
        t["files"] = time.perf_counter() - s
        s = time.perf_counter()
        reports_staging, _summary, _checks = pub.stage_reports(con, EXTRACT_DATE, out, manifest)
        t["reports"] = time.perf_counter() - s
        s = time.perf_counter()
        pub.commit_publication(con, EXTRACT_DATE, out, lists_staging, reports_staging, manifest)
        t["commit"] = time.perf_counter() - s
    total = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss / 1024 / 1024
    return {
        "housebound": housebound,
        "scored": scored,
        "neighbourhoods": len(manifest),
        "seconds": round(total, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "steps": {k: round(v, 1) for k, v in t.items()},
        "peak_gb": round(peak, 2),
        "budget": {"seconds": 120, "peak_gb": 8},
        "within_budget": total <= 120 and peak <= 8,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--base", type=int, default=20_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-publish"))
    parser.add_argument("--phase", choices=("all", "timed"), default="all")
    parser.add_argument("--warehouse", type=Path, default=None)
    args = parser.parse_args()

    configure_prefect_environment(load_settings())
    if args.phase == "timed":
        print(json.dumps(timed(args.warehouse, args.work / "out")))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    base = setup(args.work, args.base)
    scaled = scale(base, args.work, args.patients)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_publish",
            "--phase",
            "timed",
            "--warehouse",
            str(scaled),
            "--work",
            str(args.work),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        return 1
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["patients"] = args.patients
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
