"""Prefect artifacts and the final state of a run, built from counts only (no identifiers)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed

from foundation.privacy import redact
from foundation.warehouse import connect
from pipelines.notify import WARNING_STATE_NAME
from reports.run_report import model_metrics, run_warning

# The model metrics shown in the run-summary artifact (the run report shows them all).
HEADLINE = ("auroc", "auprc", "brier", "calibration_slope", "calibration_intercept", "n")


class _CheckLike(Protocol):
    name: str
    value: Any
    threshold: Any
    breached: bool
    message: str


def _md_escape(value: object) -> str:
    return redact(str(value)).replace("|", "\\|").replace("\n", " ")


def run_summary_markdown(
    summary: Mapping[str, Any], checks: Sequence[_CheckLike], report: str | None = None
) -> str:
    """A Markdown page for the Prefect UI: status, breached checks, counts, model, lists."""
    bad = [c for c in checks if c.breached]
    lines = [
        f"# casefinder run {_md_escape(summary.get('as_of', '?'))}",
        "",
        f"**{WARNING_STATE_NAME}**: {len(bad)} threshold(s) breached."
        if bad
        else "**Completed**: no threshold breached.",
        "",
    ]
    for c in bad:
        lines.append(f"- {_md_escape(c.message)}")
    if bad:
        lines.append("")
    ranking = summary.get("ranking") or {}
    if ranking.get("method") == "fallback":
        lines.append(
            f"- ranked by the fallback points score: {_md_escape(ranking.get('reason', ''))}"
        )
    lines += [
        f"- model version: `{_md_escape(summary.get('model_version') or 'none')}`",
        f"- code version: `{_md_escape(summary.get('code_version') or 'unknown')}`",
    ]
    if report:
        lines.append(f"- run report: `{_md_escape(report)}`")
    extracts = summary.get("extracts") or {}
    if extracts:
        lines += [
            "",
            "## Ingest",
            "",
            "| file | read | loaded | quarantined | duplicates |",
            "|---|---:|---:|---:|---:|",
        ]
        for name in sorted(extracts):
            e = extracts[name]
            lines.append(
                f"| {_md_escape(name)} | {e.get('read', '')} | {e.get('loaded', '')} | "
                f"{e.get('quarantined', '')} | {e.get('duplicates', '')} |"
            )
    cohort = summary.get("cohort") or {}
    if cohort:
        lines += ["", "## Cohort", "", "| | patients |", "|---|---:|"]
        lines += [f"| {_md_escape(k).replace('_', ' ')} | {v} |" for k, v in cohort.items()]
    metrics = summary.get("model_metrics") or {}
    if metrics:
        lines += ["", "## Model metrics", "", "| metric | value |", "|---|---:|"]
        lines += [
            f"| {_md_escape(k)} | {v:.4g} |"
            for k, v in sorted(metrics.items())
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
    lists = summary.get("lists") or {}
    if lists:
        lines += ["", "## Lists", "", "| neighbourhood | rows |", "|---|---:|"]
        lines += [f"| {_md_escape(k)} | {v.get('rows', '')} |" for k, v in sorted(lists.items())]
    return "\n".join(lines) + "\n"


def ingest_table(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per extract file: read, loaded, quarantined, duplicates (counts only)."""
    return [
        {
            "file": name,
            "read": e.get("read"),
            "loaded": e.get("loaded"),
            "quarantined": e.get("quarantined"),
            "duplicates": e.get("duplicates"),
        }
        for name, e in sorted((summary.get("extracts") or {}).items())
    ]


def lists_table(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per neighbourhood: rows published."""
    return [
        {"neighbourhood": name, "rows": info.get("rows")}
        for name, info in sorted((summary.get("lists") or {}).items())
    ]


def checks_table(checks: Sequence[_CheckLike]) -> list[dict[str, Any]]:
    """Every check with its value, threshold and whether it was breached."""
    return [
        {
            "check": c.name,
            "value": c.value,
            "threshold": c.threshold,
            "breached": c.breached,
            "message": redact(c.message),
        }
        for c in checks
    ]


def publish_run_artifacts(
    summary: Mapping[str, Any], checks: Sequence[_CheckLike], report: str | None = None
) -> list[UUID]:
    """Create the run's Prefect artifacts (Markdown summary; tables of ingest counts, list
    sizes and checks). Call inside a flow or task run so they attach to it."""
    ids = [
        create_markdown_artifact(
            run_summary_markdown(summary, checks, report),
            key="casefinder-run-summary",
            description="casefinder weekly run: status, counts, model, lists",
        )
    ]
    for key, rows, description in (
        ("casefinder-ingest-counts", ingest_table(summary), "rows per extract file"),
        ("casefinder-list-sizes", lists_table(summary), "patients listed per neighbourhood"),
        ("casefinder-run-checks", checks_table(checks), "thresholds and whether breached"),
    ):
        if rows:
            ids.append(create_table_artifact(rows, key=key, description=description))
    return ids


def final_state(checks: Sequence[_CheckLike], data: Any = None, report: str | None = None) -> Any:
    """The flow's final state: "Completed with warnings" when any check is breached.

    Return it from the flow (`return final_state(checks, summary)`): the caller still gets
    `data`, and the state name drives the warning notification.
    """
    bad = [c for c in checks if c.breached]
    where = f" See {report}." if report else ""
    if bad:
        names = ", ".join(c.name for c in bad[:5]) + (" ..." if len(bad) > 5 else "")
        return Completed(
            name=WARNING_STATE_NAME,
            message=redact(f"{len(bad)} threshold(s) breached: {names}.{where}"),
            data=data,
        )
    return Completed(message=f"All checks passed.{where}", data=data)


# --- what the weekly flow adds around `publish` -----------------------------------------


def retraining_rejected(message: str, kept: str) -> Any:
    """The warning of a `--retrain` whose model failed the quality gate: the week's lists are
    scored with the registered model `kept` instead, and the run ends "Completed with
    warnings" (a notification is sent). A `reports.run_report.Check`, like the report's."""
    return run_warning(
        "retraining",
        "rejected",
        "quality gate",
        f"retraining rejected ({message}); scored with the registered model {kept}",
    )


@task(name="run-artifacts", cache_policy=NO_CACHE)
def run_artifacts(warehouse: Path, out: Path, as_of: date, checks: list[Any]) -> int:
    """Prefect artifacts summarising the published run (counts only)."""
    folder = Path(out) / "reports" / as_of.isoformat()
    summary = json.loads((folder / "run_summary.json").read_text(encoding="utf-8"))
    with connect(warehouse, read_only=True) as con:
        metrics = model_metrics(con, summary.get("model_version"))
    summary["model_metrics"] = {
        k: v for k, v in metrics.items() if ".model." in k and k.rsplit(".", 1)[-1] in HEADLINE
    }
    return len(publish_run_artifacts(summary, checks, str(folder / "run_report.html")))
