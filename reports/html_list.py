"""The self-contained HTML page of one neighbourhood's list (offline, no external resources)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from reports.horizon import ranked_by
from reports.lists import (
    CHANGE_VALUES,
    STANDARD_LABELS,
    NeighbourhoodList,
    standards_summary,
    this_week_first,
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


_NO_REASON = (
    '<p class="muted">No single factor stands out: the score comes from many small '
    "contributions.</p>"
)


def _e(value: Any) -> str:
    """HTML-escaped text of a value (quotes too: safe in attributes); None is empty."""
    return "" if value is None else escape(str(value), quote=True)


def _num(value: Any, missing: str = "") -> str:
    return missing if value is None else _e(value)


def patient_rows(nl: NeighbourhoodList, rows: list[dict[str, Any]]) -> Markup:
    """Table rows: per patient of `rows` a row and a hidden detail row with reasons and
    evidence (shown when printed).

    Built here rather than in the template because it is most of the page (thousands of
    rows); every value goes through `html.escape`, as autoescaping would.
    """
    out: list[str] = []
    for row in rows:
        reasons = nl.reasons.get(row["_patient_id"], [])
        flags = "".join(
            f'<span class="flag">{label}</span>'
            for key, label in (
                ("in_hospital", "in hospital"),
                ("on_caseload", "on caseload"),
                ("care_home_resident", "care home"),
            )
            if row[key] == "true"
        )
        if row.get("caseload_team"):
            flags += f'<span class="muted">{_e(row["caseload_team"])}</span>'
        if row.get("last_review_outcome"):
            flags += (
                f'<span class="flag">reviewed {_e(row.get("last_review_date") or "")}:'
                f" {_e(str(row['last_review_outcome']).replace('_', ' '))}</span>"
            )
        was = row.get("_previous_rank")
        moved = row.get("score_change")  # None when new
        age = row.get("age")
        practice = row.get("practice_name") or row["practice_code"]
        name = f"{row['family_name']} {row['given_name']}".lower()
        out.append(
            f'<tr class="patient" data-rank="{_e(row["rank"])}" data-name="{_e(name)}"'
            f' data-practice="{_e(row["practice_code"])}" data-score="{_e(row["risk_score"])}"'
            f' data-change="{_e(row["change"])}" data-tier="{_e(row["risk_tier"])}"'
            f' data-efi="{_num(row["efi"], "-1")}" data-hfrs="{_num(row["hfrs"], "-1")}"'
            f' data-hospital="{_e(row["in_hospital"])}" data-caseload="{_e(row["on_caseload"])}"'
            f' data-carehome="{_e(row["care_home_resident"])}">\n'
            f'<td class="num">{_e(row["rank"])}</td><td>{_e(row["nhs_number"])}</td>'
            f"<td>{_e(row['family_name'])}, {_e(row['given_name'])}</td>"
            f'<td class="date">{_e(row["date_of_birth"])}'
            + (f' <span class="muted">({_e(age)})</span>' if age not in (None, "") else "")
            + f'</td><td title="{_e(row["practice_code"])}">{_e(practice)}</td>'
            f'<td class="num">{float(row["risk_score"]):.2f}</td>'
            f'<td><span class="tier tier-{_e(row["risk_tier"])}">{_e(row["risk_tier"])}</span></td>'
            f'<td class="chg-{_e(row["change"])}">{_e(row["change"])}'
            + (f' <span class="muted">(was {_e(was)})</span>' if was else "")
            + (f' <span class="muted">{float(moved):+.2f}</span>' if moved is not None else "")
            + f"</td><td>{flags}</td>"
            f'<td class="num">{_num(row["efi"])}'
            + (
                f' <span class="muted">{_e(row["efi_category"])}</span>'
                if row["efi_category"]
                else ""
            )
            + f'</td><td class="num">{_num(row["hfrs"])}'
            + (f' <span class="muted">{_e(row["hfrs_band"])}</span>' if row["hfrs_band"] else "")
            + "</td>"
            f'<td class="col-reasons"><button type="button" class="expand"'
            f' aria-expanded="false">reasons ({len(reasons)})</button></td>\n</tr>\n'
            '<tr class="detail" hidden><td colspan="12">\n'
        )
        if reasons:
            out.append('<ol class="reasons">\n')
            for reason in reasons:
                out.append(f'<li><span class="reason">{_e(reason.text)}</span>')
                if reason.evidence:
                    out.append(
                        '<table class="evidence"><tr><th>date</th><th>source</th>'
                        "<th>code</th><th>term</th></tr>\n"
                    )
                    out.extend(
                        f"<tr><td>{_e(ev.date)}</td><td>{_e(ev.source)}</td>"
                        f"<td>{_e(ev.code)}</td><td>{_e(ev.term)}</td></tr>"
                        for ev in reason.evidence
                    )
                    out.append("</table>")
                out.append("</li>\n")
            out.append("</ol>")
        else:
            out.append(_NO_REASON)
        out.append("\n</td></tr>\n")
    return Markup("".join(out))  # every value above is escaped


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
    this_week, rest = this_week_first(nl.rows)
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
        column_notes=nl.column_notes,
        ranked_by=ranked_by(nl.model_version, nl.horizon_days),
        this_week=patient_rows(nl, this_week),
        n_this_week=len(this_week),
        rest=patient_rows(nl, rest),
        n_rest=len(rest),
        summary_json=json_for_script(summary),
    )


def write_page(nl: NeighbourhoodList, path: Path) -> Path:
    """Write the page to `path` (UTF-8)."""
    path.write_text(render_page(nl), encoding="utf-8")
    return path
