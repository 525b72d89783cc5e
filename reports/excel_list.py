"""The Excel workbook of one neighbourhood's list: list sheet, summary, left the list, notes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_range

from reports.capacity import REVIEW_OUTCOMES
from reports.columns import LIST
from reports.lists import (
    CHANGE_VALUES,
    LEFT_REASONS,
    LIST_COLUMNS,
    STANDARD_LABELS,
    NeighbourhoodList,
    standards_summary,
    this_week_first,
)
from reports.safety import escape_formula

TIER_COLOURS = {
    "very_high": "#F4B6B6",
    "high": "#F9D5A7",
    "moderate": "#FFF2B3",
    "low": "#D9EAD3",
}

# The review outcomes a team records on its returned copy (reports/capacity.py, OUTPUTS.md
# "Weekly capacity and review feedback") are the drop-down of the `review_outcome` column.
# Two empty columns after the list's own for the team to fill in; the feedback reader finds
# them by these header names.
REVIEW_COLUMNS = ("review_outcome", "review_date")
REVIEW_NOTES = {
    "review_outcome": "for the team to fill in: the outcome of the review, chosen from the "
    "drop-down (" + ", ".join(REVIEW_OUTCOMES) + ")",
    "review_date": "for the team to fill in: the date of the review (empty: the list's date)",
}

# How each column is typed in Excel. The CSV's text (`true`, `2026-11-16`) stays as it is;
# here a date is a date cell, a flag a boolean and a number a number with a format. The list's
# columns are typed by their declaration (reports/columns.py); the other sheets' own columns
# are named here. A column named nowhere is a number when its value is one, else text.
DATE_FORMAT = "dd/mm/yyyy"
DATE_COLUMNS = frozenset(
    {c.name for c in LIST if c.kind == "date"} | {"review_date", "week_end", "previous_as_of"}
)
FLAG_COLUMNS = frozenset({c.name for c in LIST if c.kind == "bool"})
NUMBER_FORMATS = {
    **{c.name: c.number_format for c in LIST if c.number_format},
    "previous_rank": "0",
}
WRAP_COLUMNS = frozenset({"reasons", "meaning"})
# Set widths (characters): wrapped text, and the review columns (empty until filled in, then
# an outcome or a date). The others fit their longest value and at least the header's first
# eight characters: a longer header wraps onto a second line, so that the whole sheet prints
# one page wide at a size still read.
SET_WIDTHS = {
    "reasons": 45,
    "meaning": 90,
    "review_outcome": max(len(o) for o in REVIEW_OUTCOMES) + 2,
    "review_date": 12,
}
HEADER_WIDTH = 8
MAX_WIDTH = 30
HEADER_HEIGHT = 32  # points: two lines of a wrapped header
TIER_COLUMNS = frozenset({"rank", "risk_score", "risk_tier"})
LEFT_COLUMNS = (
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "previous_rank",
    "reason",
)
A4 = 9  # Excel's paper size code for A4


class Formats:
    """The workbook's cell formats, one per combination of properties (xlsxwriter needs each
    combination as its own format)."""

    def __init__(self, wb: Any) -> None:
        self._wb = wb
        self._made: dict[tuple[tuple[str, Any], ...], Any] = {}
        self._cells: dict[tuple[Any, ...], Any] = {}

    def __call__(self, **props: Any) -> Any:
        key = tuple(sorted((k, v) for k, v in props.items() if v is not None))
        if key not in self._made:
            self._made[key] = self._wb.add_format(dict(key)) if key else None
        return self._made[key]

    def cell(self, name: str, as_text: bool, colour: str | None = None) -> Any:
        """The format of a cell of column `name`: its wrap and (unless `as_text`) its number
        or date format, on `colour`. Looked up once per kind of cell (a list writes hundreds
        of thousands), made at its first use as before, so the file's formats keep their
        order."""
        key = (name, as_text, colour)
        found = self._cells.get(key)
        if found is None and key not in self._cells:
            props: dict[str, Any] = {"bg_color": colour}
            if name in WRAP_COLUMNS:
                props.update(text_wrap=True, valign="top")
            if not as_text and name in DATE_COLUMNS:
                props["num_format"] = DATE_FORMAT
            elif not as_text and name in NUMBER_FORMATS:
                props["num_format"] = NUMBER_FORMATS[name]
            found = self._cells[key] = self(**props)
        return found


def _text(ws: Any, row: int, col: int, value: Any, fmt: Any = None) -> None:
    """Write text as a string cell (never a formula), escaped against formula injection."""
    ws.write_string(row, col, escape_formula(None if value is None else str(value)), fmt)


def _as_date(value: Any) -> date | None:
    """A date from a date or an ISO `YYYY-MM-DD` text, else None."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _as_flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(str(value).lower())


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    try:
        return float(str(value))
    except ValueError:
        return None


def display_width(name: str, value: Any) -> int:
    """Characters a value takes in its column as Excel shows it."""
    if value is None or value == "":
        return 0
    if name in DATE_COLUMNS and _as_date(value) is not None:
        return 10
    if name in FLAG_COLUMNS and _as_flag(value) is not None:
        return 5
    number = _as_number(value) if name in NUMBER_FORMATS else None
    if number is not None:
        decimals = NUMBER_FORMATS[name].split(";")[0].partition(".")[2]
        return len(f"{number:+.{len(decimals)}f}")
    return len(str(value))


def _write_cell(
    ws: Any, r: int, c: int, name: str, value: Any, fmt: Formats, bg_color: str | None = None
) -> None:
    """Write one value typed by its column: date, flag, formatted number or (escaped) text,
    on `bg_color`.

    A value that does not read as its column's type is written as text, so nothing is lost.
    """
    if value is None or value == "":
        ws.write_blank(r, c, None, fmt.cell(name, False, bg_color))
        return
    if name in DATE_COLUMNS:
        day = _as_date(value)
        if day is not None:
            ws.write_datetime(r, c, datetime.combine(day, time()), fmt.cell(name, False, bg_color))
            return
    if name in FLAG_COLUMNS:
        flag = _as_flag(value)
        if flag is not None:
            ws.write_boolean(r, c, flag, fmt.cell(name, False, bg_color))
            return
    if name in NUMBER_FORMATS or (isinstance(value, int | float) and not isinstance(value, bool)):
        number = _as_number(value)
        if number is not None:
            ws.write_number(r, c, number, fmt.cell(name, False, bg_color))
            return
    _text(ws, r, c, value, fmt.cell(name, True, bg_color))


def _fit_columns(ws: Any, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    """Column widths that fit the longest value (see `SET_WIDTHS`, `HEADER_WIDTH`)."""
    for c, name in enumerate(columns):
        if name in SET_WIDTHS:
            width = SET_WIDTHS[name]
        else:
            longest = max((display_width(name, row.get(name)) for row in rows), default=0)
            width = min(max(longest, min(len(name), HEADER_WIDTH)) + 2, MAX_WIDTH)
        ws.set_column(c, c, width)


def _print_setup(ws: Any, nl: NeighbourhoodList, title: str, repeat_row: int) -> None:
    """A4 landscape, one page wide, `repeat_row` (the header) on every page, and a page
    header naming the list (saying where the week's warnings are, when there are any)."""
    ws.set_landscape()
    ws.set_paper(A4)
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.25, right=0.25, top=0.7, bottom=0.6)
    ws.repeat_rows(repeat_row)
    name = f"{title}: {nl.name} ({nl.code}), {nl.as_of.strftime('%d/%m/%Y')}".replace("&", "&&")
    warning = "&RSee the warning at the top of page 1" if nl.banners else ""
    ws.set_header(f"&L{name}{warning}")
    ws.set_footer("&CPage &P of &N")


def _banners(ws: Any, banners: list[str], fmt: Any, last_col: int) -> int:
    """Write the week's warnings at the top of a sheet, one merged row each, then a blank
    row; return the first row free below them (0 when there are none)."""
    for r, text in enumerate(banners):
        ws.merge_range(r, 0, r, last_col, "", fmt)
        _text(ws, r, 0, text, fmt)
        ws.set_row(r, 48)
    return len(banners) + 1 if banners else 0


def _table(
    ws: Any,
    top: int,
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    fmt: Formats,
    header: Any,
    notes: dict[str, str] | None = None,
) -> int:
    """A header row at `top` and the rows typed below it, with filters, the panes frozen
    below the header and widths that fit; return the last row written."""
    ws.set_row(top, HEADER_HEIGHT)
    for c, name in enumerate(columns):
        _text(ws, top, c, name, header)
        if notes and name in notes:
            ws.write_comment(top, c, notes[name])
    for r, row in enumerate(rows, start=top + 1):
        tier = TIER_COLOURS.get(row.get("risk_tier", ""))
        for c, name in enumerate(columns):
            colour = tier if name in TIER_COLUMNS else None
            _write_cell(ws, r, c, name, row.get(name), fmt, bg_color=colour)
    _fit_columns(ws, columns, rows)
    last = top + max(len(rows), 1)
    if "nhs_number" in columns:
        # NHS numbers are identifiers, text on purpose: no "number stored as text" flags.
        at = columns.index("nhs_number")
        ws.ignore_errors({"number_stored_as_text": xl_range(top + 1, at, last, at)})
    ws.freeze_panes(top + 1, 0)
    ws.autofilter(top, 0, last, len(columns) - 1)
    return last


def _review_validation(ws: Any, top: int, last: int, columns: Sequence[str], as_of: date) -> None:
    """The drop-down of the outcomes on `review_outcome` and a date check on `review_date`."""
    outcome = columns.index("review_outcome")
    ws.data_validation(
        top + 1,
        outcome,
        last,
        outcome,
        {
            "validate": "list",
            "source": list(REVIEW_OUTCOMES),
            "input_title": "Review outcome",
            "input_message": "Choose the outcome of the team's review from the list.",
            "error_title": "Not a review outcome",
            "error_message": "Choose one of: " + ", ".join(REVIEW_OUTCOMES),
        },
    )
    when = columns.index("review_date")
    ws.data_validation(
        top + 1,
        when,
        last,
        when,
        {
            "validate": "date",
            "criteria": "between",
            "minimum": datetime.combine(as_of, time()),
            "maximum": datetime.combine(as_of + timedelta(days=366), time()),
            "input_title": "Review date",
            "input_message": "The date of the review, e.g. "
            f"{as_of.strftime('%d/%m/%Y')}. Empty: the list's date.",
            "error_title": "Not a review date",
            "error_message": "Enter a date on or after the list's date "
            f"({as_of.strftime('%d/%m/%Y')}), within a year of it.",
        },
    )


def list_sheet_columns() -> tuple[str, ...]:
    """The list sheet's columns: the CSV's, then the team's review columns."""
    return LIST_COLUMNS + tuple(c for c in REVIEW_COLUMNS if c not in LIST_COLUMNS)


def write_workbook(nl: NeighbourhoodList, path: Path) -> Path:
    """Write `nl` as an .xlsx at `path`; its first sheet holds the CSV's rows and columns,
    typed (dates, numbers with formats, booleans), then `review_outcome` and `review_date`.

    The rows the team is asked to review this week (`this_week` true) come first, then the
    rest, each in rank order. Every sheet prints A4 landscape, one page wide, its header row
    on every page. In a week with warnings (`nl.banners`), every sheet opens with them, one
    merged row each; its content starts below them, the header row (frozen with them on
    screen) is the one repeated on printed pages, whose page header points to the warning.
    """
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
    fmt = Formats(wb)
    bold = fmt(bold=True, bg_color="#DDEBF7", border=1, text_wrap=True, valign="top")
    title = fmt(bold=True, font_size=14)
    warn = fmt(
        bold=True,
        font_color="#9C0006",
        bg_color="#FFC7CE",
        border=2,
        text_wrap=True,
        valign="top",
    )

    columns = list_sheet_columns()
    this_week, rest = this_week_first(nl.rows)
    ws = wb.add_worksheet("List")
    head = _banners(ws, nl.banners, warn, min(len(columns) - 1, 12))
    notes = {**nl.column_notes, **REVIEW_NOTES}
    last = _table(ws, head, columns, this_week + rest, fmt, bold, notes)
    _review_validation(ws, head, last, columns, nl.as_of)
    _print_setup(ws, nl, "Proactive care list", head)

    _summary_sheet(wb.add_worksheet("Summary"), nl, fmt, bold, title, warn)

    ws3 = wb.add_worksheet("Left the list")
    top = _banners(ws3, nl.banners, warn, len(LEFT_COLUMNS) - 1)
    _table(ws3, top, LEFT_COLUMNS, nl.left, fmt, bold)
    _print_setup(ws3, nl, "Left the list", top)

    ws4 = wb.add_worksheet("Column notes")
    top = _banners(ws4, nl.banners, warn, 1)
    meanings = [{"column": name, "meaning": notes.get(name, "")} for name in columns]
    _table(ws4, top, ("column", "meaning"), meanings, fmt, bold)
    _print_setup(ws4, nl, "Column notes", top)
    wb.close()
    return path


def _summary_sheet(
    ws: Any, nl: NeighbourhoodList, fmt: Formats, bold: Any, title: Any, warn: Any
) -> None:
    """The neighbourhood's population, changes, leavers and service standards, typed."""
    count = fmt(num_format="0")
    ws.set_column(0, 0, 58)
    ws.set_column(1, 4, 16)
    top = _banners(ws, nl.banners, warn, 4)
    _text(ws, top, 0, f"{nl.name} ({nl.code}): proactive care list", title)
    r = top + 2
    _text(ws, r, 0, "List date", bold)
    ws.write_datetime(r, 1, datetime.combine(nl.as_of, time()), fmt(num_format=DATE_FORMAT))
    r += 1
    _text(ws, r, 0, "Patients on the list", bold)
    ws.write_number(r, 1, len(nl.rows), count)
    r += 1
    this_week, _ = this_week_first(nl.rows)
    if this_week:
        _text(ws, r, 0, "Patients to review this week", bold)
        ws.write_number(r, 1, len(this_week), count)
        r += 1
    _text(ws, r, 0, "Model version")
    _text(ws, r, 1, nl.model_version or "none: ranked by the fallback points score")
    r += 2
    sections = (
        ("Risk tier", "tier", ("very_high", "high", "moderate", "low")),
        ("Frailty (eFI category)", "frailty", ("severe", "moderate", "mild", "fit", "unknown")),
        ("Residence", "residence", ("care home", "own home")),
        ("Change since the last list", "change", CHANGE_VALUES),
    )
    for label, key, order in sections:
        _text(ws, r, 0, label, bold)
        _text(ws, r, 1, "patients", bold)
        r += 1
        counts = nl.profile.get(key, {})
        for category in order:
            if category in counts or key != "frailty" or category != "unknown":
                _text(ws, r, 0, category)
                ws.write_number(r, 1, counts.get(category, 0), count)
                r += 1
        r += 1
    _text(ws, r, 0, "Left the list since the last one", bold)
    _text(ws, r, 1, "patients", bold)
    r += 1
    for reason in LEFT_REASONS:
        _text(ws, r, 0, reason)
        ws.write_number(r, 1, sum(1 for x in nl.left if x["reason"] == reason), count)
        r += 1
    r += 1
    summary = standards_summary(nl.standards)
    for c, label in enumerate(
        ("Service standards, last 12 weeks", "referrals", "met", "share met")
    ):
        _text(ws, r, c, label, bold)
    r += 1
    for key, s in summary.items():
        _text(ws, r, 0, STANDARD_LABELS[key])
        ws.write_number(r, 1, s["n_referrals"], count)
        ws.write_number(r, 2, s["n_met"], count)
        if s["share_met"] is None:
            _text(ws, r, 3, "no referrals")
        else:
            ws.write_number(r, 3, s["share_met"], fmt(num_format="0%"))
        r += 1
    r += 1
    heads = ("Week ending", "UCR referrals", "UCR met", "Reablement referrals", "Reablement met")
    for c, label in enumerate(heads):
        _text(ws, r, c, label, bold)
    for ucr, reab in zip(
        summary["ucr_2h"]["weeks"], summary["reablement_2d"]["weeks"], strict=True
    ):
        r += 1
        _write_cell(ws, r, 0, "week_end", ucr["week_end"], fmt)
        for c, n in enumerate(
            (ucr["n_referrals"], ucr["n_met"], reab["n_referrals"], reab["n_met"]), start=1
        ):
            ws.write_number(r, c, n, count)
    _print_setup(ws, nl, "Summary", top)
