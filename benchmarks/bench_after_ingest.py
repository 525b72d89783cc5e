"""Benchmark the weekly run after ingest, task by task, on a copy of one warehouse.

Usage:
    .venv/bin/python -m benchmarks.bench_after_ingest --source DIR --work DIR --as-of 2026-11-16 \
        [--profile FILE]

`--source` is the folder of a warehouse that `casefinder run` has ingested and registered a
model beside (`wh.duckdb`, `models/`, the key file): it is copied into `--work` first (not
timed), so every run starts from the same state. Then each task of `weekly_run` after ingest
runs in order, as the flow runs it but without the Prefect server (each task's function):
the publication check, every feature model, the cohort, scoring with reasons and evidence,
the list tables, the banners, the staged lists and reports, the commit and the audit copy.
Prints wall and CPU seconds per task and per stage (CPU seconds are the steadier figure on
a shared machine); `--profile` writes a cProfile of the timed part.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import shutil
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from features.build import MODELS
from foundation.settings import load_settings
from pipelines.flows import feature_build, publish, score, weekly
from reports.capacity import PlanSettings

# Left behind in the source folder by its own run; not part of the warehouse state.
NOT_COPIED = ("out", "logs", "prefect")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def copy_warehouse(source: Path, work: Path) -> None:
    """A fresh copy of the warehouse folder (without outputs, logs and lock files)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for item in source.iterdir():
        if item.name in NOT_COPIED or item.name.endswith((".lock", ".wal")):
            continue
        if item.is_dir():
            shutil.copytree(item, work / item.name)
        else:
            shutil.copy2(item, work / item.name)


def after_ingest(warehouse: Path, out: Path, day: date) -> list[tuple[str, float, float]]:
    """Run the weekly flow's tasks after ingest in order; (task, wall s, CPU s) each."""
    settings = load_settings()
    times: list[tuple[str, float, float]] = []

    def step(name: str, fn: Callable[..., Any], *args: Any) -> Any:
        wall, cpu = time.perf_counter(), _cpu()
        result = fn(*args)
        times.append((name, time.perf_counter() - wall, _cpu() - cpu))
        return result

    step("start:clean-stale-staging", weekly.clean_stale_staging.fn, warehouse, out)
    step("start:registered-model", weekly.registered_model.fn, warehouse)
    step("start:check-publication", weekly.check_publication.fn, warehouse, out, day, None, False)
    params = {"hfrs_lookback_years": 2}
    step("features:check-core-tables", feature_build.check_core_tables.fn, warehouse)
    step("features:load-codelists", feature_build.load_codelists_task.fn, warehouse)
    step("features:write-index-dates", feature_build.write_index_dates.fn, warehouse, [day])
    for name in MODELS:
        step(f"features:{name}", feature_build.build_feature_model.fn, warehouse, name, params)
    policy = settings.opt_out_policy
    version = step("score:resolve-model-version", score.resolve_model_version.fn, warehouse, None)
    step(
        "score:build-score-cohort",
        score.build_score_cohort.fn,
        warehouse,
        day,
        tuple(policy["direct_care_lists"]),
    )
    step(
        "score:score-and-explain",
        score.score_and_explain.fn,
        warehouse,
        day,
        version,
        settings.risk_tiers,
    )
    plan = PlanSettings(
        capacity=None,
        review_window_days=settings.review_window_days,
        rise_threshold=settings.change_threshold,
        tier_order=tuple(name for name, _ in settings.risk_tiers),
    )
    step(
        "publish:build-list-tables",
        publish.build_list_tables.fn,
        warehouse,
        day,
        settings.change_threshold,
        plan,
    )
    banners = step("publish:week-banners", publish.week_banners.fn, warehouse, day, out)
    lists_staging, manifest = step(
        "publish:stage-lists", publish.stage_lists.fn, warehouse, day, out, banners
    )
    reports_staging, _summary, _checks = step(
        "publish:stage-reports", publish.stage_reports.fn, warehouse, day, out, manifest, None, []
    )
    step(
        "publish:commit-publication",
        publish.commit_publication.fn,
        warehouse,
        day,
        out,
        lists_staging,
        reports_staging,
        manifest,
    )
    step("publish:keep-audit-copy", weekly.keep_audit_copy.fn, warehouse)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    copy_warehouse(args.source, args.work)
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    times = after_ingest(args.work / "wh.duckdb", args.work / "out", args.as_of)
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(args.profile))
    stages: dict[str, list[float]] = {}
    for name, wall, cpu in times:
        print(f"{name:40s} {wall:8.2f} s wall {cpu:8.2f} s CPU")
        stage = stages.setdefault(name.split(":")[0], [0.0, 0.0])
        stage[0] += wall
        stage[1] += cpu
    for name, (wall, cpu) in stages.items():
        print(f"{name:40s} {wall:8.2f} s wall {cpu:8.2f} s CPU")
    total = [sum(w for _, w, _ in times), sum(c for _, _, c in times)]
    print(f"{'after ingest':40s} {total[0]:8.2f} s wall {total[1]:8.2f} s CPU")
    (args.work / "times.json").write_text(
        json.dumps({"tasks": times, "stages": stages, "total": total}, indent=1),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
