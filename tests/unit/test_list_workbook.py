"""Unit: the Excel list as NHS teams use it (typed cells, print setup, the review drop-down)
and the this-week-first order of the workbook and the page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from helpers.small_list import AS_OF, HOSTILE, small_list

from reports.excel_list import REVIEW_OUTCOMES, write_workbook
from reports.html_list import render_page
from reports.lists import LIST_COLUMNS

BANNER = "Data warning: this week's GP records hold 60% fewer rows than last week's."


def _book(tmp_path: Path, **kwargs) -> openpyxl.Workbook:
    path = write_workbook(small_list(**kwargs), tmp_path / "proactive_care_list.xlsx")
    return openpyxl.load_workbook(path)


def _header_row(ws) -> int:
    """The row (1-based) whose first cell is `rank` / `nhs_number` / `column`: the header."""
    for row in ws.iter_rows(min_col=1, max_col=1):
        if row[0].value in ("rank", "nhs_number", "column"):
            return row[0].row
    raise AssertionError(f"no header row on {ws.title}")


def _table(ws) -> tuple[int, dict[str, int], list[tuple]]:
    """The header row, column numbers (1-based) by header name, and the cells below it."""
    head = _header_row(ws)
    names = {c.value: c.column for c in ws[head] if c.value is not None}
    return head, names, [r for r in ws.iter_rows(min_row=head + 1)]


def _width(ws, column: int) -> float:
    """A column's width (adjacent columns of one width are stored as one range)."""
    for dim in ws.column_dimensions.values():
        if dim.min <= column <= dim.max:
            return dim.width
    raise AssertionError(f"column {column} of {ws.title} has no width set")


def _is_date_format(number_format: str) -> bool:
    return all(part in number_format.lower() for part in ("d", "m", "yy"))


def test_list_cells_are_typed_as_a_spreadsheet_user_expects(tmp_path):
    ws = _book(tmp_path)["List"]
    _head, col, rows = _table(ws)
    assert list(col)[: len(LIST_COLUMNS)] == list(LIST_COLUMNS)
    first = rows[0]
    dob = first[col["date_of_birth"] - 1]
    assert dob.value == datetime(1930, 1, 2) and _is_date_format(dob.number_format)
    score = first[col["risk_score"] - 1]
    assert score.value == pytest.approx(0.81) and score.data_type == "n"
    assert score.number_format == "0.00"
    assert first[col["rank"] - 1].value == 1 and first[col["rank"] - 1].number_format == "0"
    assert rows[1][col["hfrs"] - 1].value == pytest.approx(8.0)
    assert rows[1][col["hfrs"] - 1].number_format == "0.0"
    assert [r[col["in_hospital"] - 1].value for r in rows] == [False, True, False]
    assert all(r[col["on_caseload"] - 1].data_type == "b" for r in rows)
    # Text stays text, escaped against formulas; nothing is a formula.
    assert rows[1][col["given_name"] - 1].value == HOSTILE
    assert rows[1][col["family_name"] - 1].value == "'=Smith"
    assert rows[0][col["nhs_number"] - 1].value == "9434765919"
    assert all(cell.data_type != "f" for r in rows for cell in r)


def test_reasons_wrap_and_columns_fit_their_values(tmp_path):
    ws = _book(tmp_path)["List"]
    head, col, rows = _table(ws)
    reasons = rows[0][col["reasons"] - 1]
    assert reasons.value.startswith("1 emergency admissions in the last 12 months; ")
    assert reasons.alignment.wrap_text
    for name in ("nhs_number", "family_name", "risk_tier", "efi_category"):
        width = _width(ws, col[name])
        longest = max(len(str(r[col[name] - 1].value)) for r in rows)
        assert longest < width <= max(longest, 8) + 3, (name, width)
    # A long header wraps rather than widening its column of short values.
    assert _width(ws, col["care_home_resident"]) < len("care_home_resident")
    assert ws.cell(row=head, column=col["care_home_resident"]).alignment.wrap_text
    assert ws.freeze_panes == f"A{head + 1}"


@pytest.mark.parametrize("banners", [[], [BANNER]])
def test_every_sheet_prints_a4_landscape_one_page_wide_with_its_header_repeated(tmp_path, banners):
    book = _book(tmp_path, banners=banners)
    assert book.sheetnames == ["List", "Summary", "Left the list", "Column notes"]
    for ws in book.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert int(ws.page_setup.paperSize) == 9, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        # fitToWidth absent is its OOXML default, 1 (xlsxwriter writes only what differs).
        assert ws.page_setup.fitToWidth in (None, 1), ws.title
        assert ws.page_setup.fitToHeight == 0, ws.title
        if banners:
            assert ws["A1"].value == BANNER, ws.title
            assert "warning" in ws.oddHeader.right.text, ws.title
    for title in ("List", "Left the list", "Column notes"):
        ws = book[title]
        head = _header_row(ws)
        assert ws.print_title_rows == f"${head}:${head}", title
        assert head == (len(banners) + 2 if banners else 1), title


def test_review_outcome_offers_exactly_the_outcomes_and_review_date_takes_dates(tmp_path):
    ws = _book(tmp_path)["List"]
    head, col, rows = _table(ws)
    assert list(col)[-2:] == ["review_outcome", "review_date"]
    assert all(r[col["review_outcome"] - 1].value is None for r in rows)
    by_column = {}
    for dv in ws.data_validations.dataValidation:
        for cells in dv.sqref.ranges:
            by_column[cells.min_col] = (dv, cells)
    outcome, cells = by_column[col["review_outcome"]]
    assert outcome.type == "list"
    assert outcome.formula1.strip('"').split(",") == list(REVIEW_OUTCOMES)
    assert (cells.min_row, cells.max_row) == (head + 1, head + len(rows))
    when, cells = by_column[col["review_date"]]
    assert when.type == "date" and (cells.min_row, cells.max_row) == (head + 1, head + len(rows))
    assert _is_date_format(rows[0][col["review_date"] - 1].number_format)


def test_summary_and_left_the_list_are_typed(tmp_path):
    book = _book(tmp_path)
    summary = {row[0].value: row[1] for row in book["Summary"].iter_rows(max_col=2) if row[0].value}
    assert summary["List date"].value == datetime.combine(AS_OF, datetime.min.time())
    assert _is_date_format(summary["List date"].number_format)
    assert summary["Patients on the list"].value == 3
    assert summary["very_high"].data_type == "n" and summary["died"].value == 1
    ws = book["Left the list"]
    _head, col, rows = _table(ws)
    assert rows[0][col["date_of_birth"] - 1].value == datetime(1931, 1, 1)
    assert _is_date_format(rows[0][col["date_of_birth"] - 1].number_format)
    assert rows[0][col["previous_rank"] - 1].value == 2
    assert rows[0][col["reason"] - 1].value == "died"


def test_this_weeks_patients_come_first_in_the_sheet_and_on_the_page(tmp_path):
    flags = ["true", "false", "true"]
    ws = _book(tmp_path, this_week=flags)["List"]
    _head, col, rows = _table(ws)
    assert [r[col["rank"] - 1].value for r in rows] == [1, 3, 2]
    page = render_page(small_list(this_week=flags))
    assert [int(x) for x in _data_ranks(page)] == [1, 3, 2]
    assert page.index("<h3>This week</h3>") < page.index('data-rank="1"')
    assert page.index("<h3>Rest of the list</h3>") < page.index('data-rank="2"')


@pytest.mark.parametrize("flags", [None, ["", "", ""], ["false", "false", "false"]])
def test_without_this_weeks_patients_both_keep_rank_order_without_groups(tmp_path, flags):
    ws = _book(tmp_path, this_week=flags)["List"]
    _head, col, rows = _table(ws)
    assert [r[col["rank"] - 1].value for r in rows] == [1, 2, 3]
    page = render_page(small_list(this_week=flags))
    assert [int(x) for x in _data_ranks(page)] == [1, 2, 3]
    assert "This week</h3>" not in page and 'class="group"' not in page


def _data_ranks(page: str) -> list[str]:
    return [part.split('"', 1)[0] for part in page.split('<tr class="patient" data-rank="')[1:]]
