"""The Excel workbook of one neighbourhood's list: list sheet, summary, left the list, notes."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any

import xlsxwriter

from reports.lists import (
    CHANGE_VALUES,
    LEFT_REASONS,
    LIST_COLUMNS,
    STANDARD_LABELS,
    NeighbourhoodList,
    standards_summary,
)
from reports.safety import escape_formula

TIER_COLOURS = {
    "very_high": "#F4B6B6",
    "high": "#F9D5A7",
    "moderate": "#FFF2B3",
    "low": "#D9EAD3",
}
COLUMN_WIDTHS = {"reasons": 80, "given_name": 14, "family_name": 16, "model_version": 22}


def _text(ws: Any, row: int, col: int, value: Any, fmt: Any = None) -> None:
    """Write text as a string cell (never a formula), escaped against formula injection."""
    ws.write_string(row, col, escape_formula(None if value is None else str(value)), fmt)


def _banners(ws: Any, banners: list[str], fmt: Any, last_col: int) -> int:
    """Write the week's warnings at the top of a sheet, one merged row each, then a blank
    row; return the first row free below them (0 when there are none)."""
    for r, text in enumerate(banners):
        ws.merge_range(r, 0, r, last_col, "", fmt)
        _text(ws, r, 0, text, fmt)
        ws.set_row(r, 48)
    return len(banners) + 1 if banners else 0


def write_workbook(nl: NeighbourhoodList, path: Path) -> Path:
    """Write `nl` as an .xlsx at `path`; its first sheet holds the CSV's rows and columns.

    In a week with warnings (`nl.banners`), every sheet opens with them, one merged row each,
    and its content starts below them (on the list sheet, the header row)."""
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    # A fixed creation time keeps the file a function of its content.
    wb.set_properties(
        {
            "title": f"Proactive care list {nl.code} {nl.as_of.isoformat()}",
            "created": datetime.combine(nl.as_of, time()),
        }
    )
    bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    tier_formats = {t: wb.add_format({"bg_color": c}) for t, c in TIER_COLOURS.items()}
    title = wb.add_format({"bold": True, "font_size": 14})
    pct = wb.add_format({"num_format": "0%"})
    warn = wb.add_format(
        {
            "bold": True,
            "font_color": "#9C0006",
            "bg_color": "#FFC7CE",
            "border": 2,
            "text_wrap": True,
            "valign": "top",
        }
    )

    notes = nl.column_notes
    ws = wb.add_worksheet("List")
    head = _banners(ws, nl.banners, warn, min(len(LIST_COLUMNS) - 1, 12))
    for c, name in enumerate(LIST_COLUMNS):
        _text(ws, head, c, name, bold)
        ws.set_column(c, c, COLUMN_WIDTHS.get(name, max(10, len(name) + 2)))
        ws.write_comment(head, c, notes[name])
    for r, row in enumerate(nl.rows, start=head + 1):
        tier_fmt = tier_formats.get(row["risk_tier"])
        for c, name in enumerate(LIST_COLUMNS):
            value = row[name]
            fmt = tier_fmt if name in ("risk_tier", "risk_score", "rank") else None
            if value is None:
                ws.write_blank(r, c, None, fmt)
            elif isinstance(value, bool):
                _text(ws, r, c, "true" if value else "false", fmt)
            elif isinstance(value, (int, float)):
                ws.write_number(r, c, value, fmt)
            else:
                _text(ws, r, c, value, fmt)
    ws.freeze_panes(head + 1, 0)
    ws.autofilter(head, 0, head + max(len(nl.rows), 1), len(LIST_COLUMNS) - 1)

    ws2 = wb.add_worksheet("Summary")
    ws2.set_column(0, 0, 60)
    ws2.set_column(1, 3, 14)
    top = _banners(ws2, nl.banners, warn, 3)
    _text(ws2, top, 0, f"{nl.name} ({nl.code}): proactive care list, {nl.as_of.isoformat()}", title)
    r = top + 2
    _text(ws2, r, 0, "Patients on the list", bold)
    ws2.write_number(r, 1, len(nl.rows))
    r += 1
    _text(ws2, r, 0, "Model version")
    _text(ws2, r, 1, nl.model_version or "none: ranked by the fallback points score")
    r += 2
    sections = (
        ("Risk tier", "tier", ("very_high", "high", "moderate", "low")),
        ("Frailty (eFI category)", "frailty", ("severe", "moderate", "mild", "fit", "unknown")),
        ("Residence", "residence", ("care home", "own home")),
        ("Change since the last list", "change", CHANGE_VALUES),
    )
    for label, key, order in sections:
        _text(ws2, r, 0, label, bold)
        _text(ws2, r, 1, "patients", bold)
        r += 1
        counts = nl.profile.get(key, {})
        for category in order:
            if category in counts or key != "frailty" or category != "unknown":
                _text(ws2, r, 0, category)
                ws2.write_number(r, 1, counts.get(category, 0))
                r += 1
        r += 1
    _text(ws2, r, 0, "Left the list since the last one", bold)
    r += 1
    for reason in LEFT_REASONS:
        _text(ws2, r, 0, reason)
        ws2.write_number(r, 1, sum(1 for x in nl.left if x["reason"] == reason))
        r += 1
    r += 1
    _text(ws2, r, 0, "Service standards, last 12 weeks", bold)
    _text(ws2, r, 1, "referrals", bold)
    _text(ws2, r, 2, "met", bold)
    _text(ws2, r, 3, "share met", bold)
    r += 1
    for key, s in standards_summary(nl.standards).items():
        _text(ws2, r, 0, STANDARD_LABELS[key])
        ws2.write_number(r, 1, s["n_referrals"])
        ws2.write_number(r, 2, s["n_met"])
        if s["share_met"] is None:
            _text(ws2, r, 3, "no referrals")
        else:
            ws2.write_number(r, 3, s["share_met"], pct)
        r += 1
    r += 1
    _text(ws2, r, 0, "Week ending", bold)
    _text(ws2, r, 1, "UCR 2h met", bold)
    _text(ws2, r, 2, "Reablement 2d met", bold)
    r += 1
    summary = standards_summary(nl.standards)
    for ucr, reab in zip(
        summary["ucr_2h"]["weeks"], summary["reablement_2d"]["weeks"], strict=True
    ):
        _text(ws2, r, 0, ucr["week_end"])
        _text(ws2, r, 1, f"{ucr['n_met']} of {ucr['n_referrals']}")
        _text(ws2, r, 2, f"{reab['n_met']} of {reab['n_referrals']}")
        r += 1

    ws3 = wb.add_worksheet("Left the list")
    left_cols = (
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth",
        "previous_rank",
        "reason",
    )
    top = _banners(ws3, nl.banners, warn, len(left_cols) - 1)
    for c, name in enumerate(left_cols):
        _text(ws3, top, c, name, bold)
        ws3.set_column(c, c, 18)
    for r, item in enumerate(nl.left, start=top + 1):
        for c, name in enumerate(left_cols):
            value = item[name]
            if isinstance(value, int):
                ws3.write_number(r, c, value)
            else:
                _text(ws3, r, c, value)
    ws3.freeze_panes(top + 1, 0)

    ws4 = wb.add_worksheet("Column notes")
    ws4.set_column(0, 0, 20)
    ws4.set_column(1, 1, 100)
    top = _banners(ws4, nl.banners, warn, 1)
    _text(ws4, top, 0, "column", bold)
    _text(ws4, top, 1, "meaning", bold)
    for r, name in enumerate(LIST_COLUMNS, start=top + 1):
        _text(ws4, r, 0, name)
        _text(ws4, r, 1, notes[name])
    wb.close()
    return path
