"""Prefect flows `publish` and `publish-pseudonymised`: staged files, audit, renames (wiring)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from foundation.settings import (
    DEFAULT_CHANGE_THRESHOLD,
    DEFAULT_OPT_OUT_POLICY,
    DEFAULT_REVIEW_WINDOW_DAYS,
    DEFAULT_RISK_TIERS,
)
from foundation.warehouse import connect
from pipelines.flows.scaleout import dask_task_runner, stage_lists_distributed
from reports import banners as list_banners
from reports import pseudonymised as pseudo
from reports import publish as pub
from reports.capacity import PlanSettings
from reports.run_report import Check


@task(name="build-list-tables", cache_policy=NO_CACHE)
def build_list_tables(
    warehouse: Path, as_of: date, change_threshold: float, plan: PlanSettings
) -> dict[str, int]:
    """Build `lists.list_week`, `list_left_week`, `list_profile`, `list_service_standards`,
    and `list_plan` (this week's review cut under `plan`)."""
    with connect(warehouse) as con:
        return pub.build_list_models(con, as_of, change_threshold, plan)


@task(name="week-banners", cache_policy=NO_CACHE)
def week_banners(warehouse: Path, as_of: date, out: Path) -> list[str]:
    """The warnings every list page and sheet shows this week (fallback ranking, data quality)."""
    with connect(warehouse) as con:
        return list_banners.week_banners(con, as_of, out / "reports")


@task(name="stage-lists", cache_policy=NO_CACHE)
def stage_lists(
    warehouse: Path, as_of: date, out: Path, banners: list[str]
) -> tuple[Path, dict[str, Any]]:
    """Write every neighbourhood's CSV, XLSX and HTML into a hidden staging folder."""
    with connect(warehouse) as con:
        return pub.stage_lists(con, as_of, out, banners)


@task(name="stage-reports", cache_policy=NO_CACHE)
def stage_reports(
    warehouse: Path,
    as_of: date,
    out: Path,
    manifest: dict[str, Any],
    data_docs: str | None,
    run_warnings: list[Check],
) -> tuple[Path, dict[str, Any], list[Check]]:
    """Write `run_summary.json` and `run_report.html` into a hidden staging folder; return
    them with the report's checks."""
    with connect(warehouse) as con:
        return pub.stage_reports(con, as_of, out, manifest, data_docs, run_warnings)


@task(name="commit-publication", cache_policy=NO_CACHE)
def commit_publication(
    warehouse: Path,
    as_of: date,
    out: Path,
    lists_staging: Path,
    reports_staging: Path,
    manifest: dict[str, Any],
) -> Path:
    """Record the publication and rename the staged folders into place, all or nothing."""
    with connect(warehouse) as con:
        return pub.commit_publication(con, as_of, out, lists_staging, reports_staging, manifest)


@task(name="discard-staging", cache_policy=NO_CACHE)
def discard_staging(out: Path, as_of: date) -> None:
    """Remove this process's staging folders after a failure."""
    for parent in (out / "lists", out / "reports"):
        pub.discard_staging(parent, as_of)


@flow(name="publish")
def publish(
    warehouse: Path,
    out: Path,
    as_of: date,
    data_docs: str | None = None,
    dask_address: str | None = None,
    run_warnings: list[Check] | None = None,
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
    capacity: dict[str, int] | None = None,
    review_window_days: int = DEFAULT_REVIEW_WINDOW_DAYS,
    risk_tiers: tuple[tuple[str, float], ...] = DEFAULT_RISK_TIERS,
) -> dict[str, Any]:
    """Publish the lists of every neighbourhood at `as_of` under `out` (see OUTPUTS.md).

    `capacity` (neighbourhood code -> weekly reviews; None: no capacity file) marks the
    patients to review this week, skipping those reviewed less than `review_window_days` ago
    unless their score rose by `rise_threshold` or their tier rose (reports/capacity.py).

    `data_docs` is the Great Expectations Data Docs index of the ingest, linked from the
    run report; `run_warnings` (a rejected retraining) head its list of warnings. With
    `dask_address` each neighbourhood's files are staged by its own task on Dask
    (pipelines/flows/scaleout.py). `change_threshold` (CASEFINDER_CHANGE_THRESHOLD) is the score
    move that makes a listed patient `up` / `down`.
    """
    plan = PlanSettings(
        capacity=capacity,
        review_window_days=review_window_days,
        rise_threshold=change_threshold,
        tier_order=tuple(name for name, _ in risk_tiers),
    )
    tables = build_list_tables(warehouse, as_of, change_threshold, plan)
    banners = week_banners(warehouse, as_of, out)
    try:
        if dask_address:
            lists_staging, manifest = stage_lists_distributed.with_options(
                task_runner=dask_task_runner(dask_address)
            )(warehouse, as_of, out, banners)
        else:
            lists_staging, manifest = stage_lists(warehouse, as_of, out, banners)
        reports_staging, summary, checks = stage_reports(
            warehouse, as_of, out, manifest, data_docs, list(run_warnings or [])
        )
        final = commit_publication(warehouse, as_of, out, lists_staging, reports_staging, manifest)
    except BaseException:
        discard_staging(out, as_of)
        raise
    return {
        "as_of": as_of.isoformat(),
        "lists_dir": str(final),
        "reports_dir": str(out / "reports" / as_of.isoformat()),
        "neighbourhoods": len(manifest),
        "listed": tables["list_week"],
        "left": tables["list_left_week"],
        "cohort": summary["cohort"],
        "lists": {
            code: {
                "rows": m["rows"],
                "this_week": summary["lists"][code]["this_week"],
                "folder": m["folder"],
            }
            for code, m in manifest.items()
        },
        "feedback": summary["feedback"],
        # The run report's checks (`reports.run_report.Check`), for the caller's final state.
        "checks": checks,
    }


@task(name="build-pseudonymised-table", cache_policy=NO_CACHE)
def build_pseudonymised_table(warehouse: Path, as_of: date, opt_out_types: tuple[str, ...]) -> int:
    """Build `lists.list_pseudonymised` (every housebound patient, published or why not)."""
    with connect(warehouse) as con:
        return pseudo.build_pseudonymised_table(con, as_of, opt_out_types)


@task(name="stage-pseudonymised", cache_policy=NO_CACHE)
def stage_pseudonymised(
    warehouse: Path, as_of: date, out: Path, opt_out_types: tuple[str, ...]
) -> tuple[Path, dict[str, Any]]:
    """Write the analyst CSV and its summary into a hidden staging folder."""
    with connect(warehouse) as con:
        return pseudo.stage(con, as_of, out, opt_out_types)


@task(name="commit-pseudonymised", cache_policy=NO_CACHE)
def commit_pseudonymised(
    warehouse: Path, as_of: date, out: Path, staging: Path, summary: dict[str, Any]
) -> Path:
    """Record the analyst publication and rename it into place, all or nothing."""
    with connect(warehouse) as con:
        return pseudo.commit(con, as_of, out, staging, summary)


@task(name="discard-pseudonymised-staging", cache_policy=NO_CACHE)
def discard_pseudonymised_staging(out: Path, as_of: date) -> None:
    """Remove this process's analyst staging folder after a failure."""
    pub.discard_staging(out / pseudo.FOLDER, as_of)


@flow(name="publish-pseudonymised")
def publish_pseudonymised(
    warehouse: Path,
    out: Path,
    as_of: date,
    opt_out_types: tuple[str, ...] = DEFAULT_OPT_OUT_POLICY[pseudo.PURPOSE],
) -> dict[str, Any]:
    """Publish the pseudonymised analyst file at `as_of` under `out/pseudonymised/<as_of>/`.

    Keyed by `patient_id`; no NHS number, name, date of birth or small-area code. Opt-out
    types come from the caller's `analyst_outputs` policy (docs/governance.md). Returns the
    folder and counts only; direct-care lists are not written.
    """
    opt_out_types = tuple(opt_out_types)
    build_pseudonymised_table(warehouse, as_of, opt_out_types)
    try:
        staging, summary = stage_pseudonymised(warehouse, as_of, out, opt_out_types)
        final = commit_pseudonymised(warehouse, as_of, out, staging, summary)
    except BaseException:
        discard_pseudonymised_staging(out, as_of)
        raise
    return {
        "as_of": as_of.isoformat(),
        "pseudonymised_dir": str(final),
        "model_version": summary["model_version"],
        "cohort": summary["cohort"],
        "rows": summary["rows"],
        "opt_out_types": list(opt_out_types),
    }
