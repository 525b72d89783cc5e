"""Unit: reading a returned list (CSV or XLSX) and its one-line errors for malformed rows."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from helpers.errors import one_line_error

from foundation.errors import CasefinderError
from pipelines.ingest.feedback import feedback_files, read_feedback_file

HEADER = ["rank", "nhs_number", "given_name", "family_name", "review_outcome", "review_date"]
ROWS = [
    ["1", "9434765919", "Ada", "Lovelace", "reviewed_plan_updated", "2026-11-18"],
    ["2", "9434765870", "Bob", "Stone", "", ""],
    ["3", "943 476 5862", "Cy", "Walker", "Died", "19/11/2026"],
    ["", "", "", "", "", ""],
]


def _csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def test_a_returned_csv_gives_its_reviews_and_the_patients_without_one(tmp_path):
    found = read_feedback_file(_csv(tmp_path / "n1.csv", ROWS))
    assert [
        (r.file_row, r.nhs_number, r.rank, r.review_outcome, r.review_date) for r in found.rows
    ] == [
        (2, "9434765919", 1, "reviewed_plan_updated", date(2026, 11, 18)),
        (3, "9434765870", 2, None, None),
        (4, "9434765862", 3, "died", date(2026, 11, 19)),
    ]
    assert len(found.sha256) == 64 and found.title is None


def test_a_returned_workbook_is_read_below_its_banner_with_date_cells(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Ranked by the fallback score this week"])
    ws.append(HEADER)
    ws.append([1, 9434765919, "Ada", "Lovelace", "declined", date(2026, 11, 20)])
    wb.properties.title = "Proactive care list N1 2026-11-16"
    wb.save(tmp_path / "n1.xlsx")
    found = read_feedback_file(tmp_path / "n1.xlsx")
    assert found.title == "Proactive care list N1 2026-11-16"
    assert [(r.file_row, r.nhs_number, r.review_outcome, r.review_date) for r in found.rows] == [
        (3, "9434765919", "declined", date(2026, 11, 20))
    ]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (["1", "9434765919", "Ada", "L", "phoned", ""], "row 2, column review_outcome: not one of"),
        (["1", "9434765919", "Ada", "L", "declined", "next tuesday"], "row 2, column review_date"),
        (["1", "94347659", "Ada", "L", "declined", ""], "row 2, column nhs_number: not a 10-digit"),
    ],
)
def test_a_malformed_row_names_file_row_and_column_and_no_identifier(tmp_path, row, expected):
    path = _csv(tmp_path / "n1.csv", [row])
    message = one_line_error(read_feedback_file, path)
    assert message.startswith(f"feedback file {path}, {expected}")
    assert not any(secret in message for secret in ("9434765919", "94347659", "Ada"))


def test_a_file_without_the_outcome_column_is_refused(tmp_path):
    path = _csv(tmp_path / "n1.csv", [ROWS[0][:4]], header=HEADER[:4])
    assert (
        one_line_error(read_feedback_file, path)
        == f"feedback file {path}, row 1, column review_outcome: missing"
    )


def test_the_folder_holds_csv_and_xlsx_files_but_not_lock_or_hidden_files(tmp_path):
    for name in ("b.CSV", "a.xlsx", "~$a.xlsx", ".hidden.csv", "notes.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [p.name for p in feedback_files(tmp_path)] == ["a.xlsx", "b.CSV"]
    with pytest.raises(CasefinderError, match="is not a folder"):
        feedback_files(tmp_path / "missing")
