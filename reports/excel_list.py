"""The Excel workbook of one neighbourhood's list: list sheet, summary, left the list, notes."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any

import xlsxwriter

from reports.lists import (
    CHANGE_VALUES,
    COLUMN_NOTES,
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


def write_workbook(nl: NeighbourhoodList, path: Path) -> Path:
    """Write `nl` as an .xlsx at `path`; its first sheet holds the CSV's rows and columns."""
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

    ws = wb.add_worksheet("List")
    for c, name in enumerate(LIST_COLUMNS):
        _text(ws, 0, c, name, bold)
        ws.set_column(c, c, COLUMN_WIDTHS.get(name, max(10, len(name) + 2)))
        ws.write_comment(0, c, COLUMN_NOTES[name])
    for r, row in enumerate(nl.rows, start=1):
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
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(nl.rows), 1), len(LIST_COLUMNS) - 1)

    ws2 = wb.add_worksheet("Summary")
    ws2.set_column(0, 0, 60)
    ws2.set_column(1, 3, 14)
    _text(ws2, 0, 0, f"{nl.name} ({nl.code}): proactive care list, {nl.as_of.isoformat()}", title)
    r = 2
    _text(ws2, r, 0, "Patients on the list", bold)
    ws2.write_number(r, 1, len(nl.rows))
    r += 1
    _text(ws2, r, 0, "Model version")
    _text(ws2, r, 1, nl.model_version)
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
    for c, name in enumerate(left_cols):
        _text(ws3, 0, c, name, bold)
        ws3.set_column(c, c, 18)
    for r, item in enumerate(nl.left, start=1):
        for c, name in enumerate(left_cols):
            value = item[name]
            if isinstance(value, int):
                ws3.write_number(r, c, value)
            else:
                _text(ws3, r, c, value)
    ws3.freeze_panes(1, 0)

    ws4 = wb.add_worksheet("Column notes")
    _text(ws4, 0, 0, "column", bold)
    _text(ws4, 0, 1, "meaning", bold)
    ws4.set_column(0, 0, 20)
    ws4.set_column(1, 1, 100)
    for r, name in enumerate(LIST_COLUMNS, start=1):
        _text(ws4, r, 0, name)
        _text(ws4, r, 1, COLUMN_NOTES[name])
    wb.close()
    return path
