"""The self-contained HTML page of one neighbourhood's list (offline, no external resources)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from reports.lists import (
    CHANGE_VALUES,
    COLUMN_NOTES,
    STANDARD_LABELS,
    NeighbourhoodList,
    standards_summary,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
PROFILE_SECTIONS = (
    ("Risk tier", "tier", ("very_high", "high", "moderate", "low")),
    ("Frailty (eFI)", "frailty", ("severe", "moderate", "mild", "fit")),
    ("Residence", "residence", ("care home", "own home")),
)


def environment() -> Environment:
    """The Jinja2 environment of the report templates, autoescaping HTML."""
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        trim_blocks=False,
        lstrip_blocks=False,
    )


def json_for_script(data: Any) -> str:
    """JSON safe inside an HTML <script> element (no `</script>`, no `<!--`)."""
    text = json.dumps(data, sort_keys=True, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _histogram(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts = [0] * 10
    for row in rows:
        counts[min(int(float(row["risk_score"]) * 10), 9)] += 1
    top = max(counts) or 1
    return [
        {
            "count": c,
            "height": round(100 * c / top),
            "label": f"{i / 10:.1f}-{(i + 1) / 10:.1f}",
            "short": f".{i}" if i else "0",
        }
        for i, c in enumerate(counts)
    ]


def _changes(nl: NeighbourhoodList) -> list[dict[str, Any]]:
    counts = {k: sum(1 for r in nl.rows if r["change"] == k) for k in CHANGE_VALUES}
    counts["left"] = len(nl.left)
    top = max(counts.values()) or 1
    return [
        {"key": k, "label": k, "count": c, "height": round(100 * c / top)}
        for k, c in counts.items()
    ]


def render_page(nl: NeighbourhoodList) -> str:
    """The page's HTML text."""
    previous_as_of = nl.previous_as_of
    standards = standards_summary(nl.standards)
    weeks = [
        {
            "week_end": u["week_end"],
            "ucr": f"{u['n_met']}/{u['n_referrals']}",
            "reab": f"{r['n_met']}/{r['n_referrals']}",
        }
        for u, r in zip(
            standards["ucr_2h"]["weeks"], standards["reablement_2d"]["weeks"], strict=True
        )
    ]
    summary = {
        "neighbourhood_code": nl.code,
        "as_of": nl.as_of.isoformat(),
        "rows": len(nl.rows),
        "left": len(nl.left),
        "profile": nl.profile,
    }
    template = environment().get_template("list.html")
    return template.render(
        nl=nl,
        as_of=nl.as_of.isoformat(),
        previous_as_of=previous_as_of.isoformat() if previous_as_of else None,
        histogram=_histogram(nl.rows),
        changes=_changes(nl),
        profile_sections=PROFILE_SECTIONS,
        standards=standards,
        standard_labels=STANDARD_LABELS,
        standard_weeks=weeks,
        column_notes=COLUMN_NOTES,
        summary_json=json_for_script(summary),
    )


def write_page(nl: NeighbourhoodList, path: Path) -> Path:
    """Write the page to `path` (UTF-8)."""
    path.write_text(render_page(nl), encoding="utf-8")
    return path
