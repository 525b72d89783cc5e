"""Reading what a run left behind: the warehouse (read-only) and the published lists."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import openpyxl

from reports.lists import csv_cell

# OUTPUTS.md 1.2, proactive_care_list.csv: the 1.1 columns in order, then those added in 1.2.
CONTRACT_1_1 = (
    "rank",
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "practice_code",
    "risk_score",
    "risk_tier",
    "change",
    "reasons",
    "efi",
    "efi_category",
    "hfrs",
    "hfrs_band",
    "in_hospital",
    "on_caseload",
    "model_version",
    "this_week",
    "last_review_date",
    "last_review_outcome",
)
CONTRACT_1_2 = ("age", "practice_name", "caseload_team", "score_change")


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of one query on a warehouse opened read-only (and closed again)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def eligible_by_neighbourhood(warehouse: Path, as_of: date | str) -> dict[str, set[str]]:
    """Neighbourhood -> NHS numbers housebound at `as_of`, alive, registered and not opted
    out (type 1, the direct-care policy), from the warehouse's features and core layers."""
    rows = query(
        warehouse,
        """
        select f.neighbourhood_code, i.nhs_number
        from features.feat_patients f
        join core.core_patient_identity i using (patient_id)
        where f.index_date = ? and f.housebound
          and f.patient_id not in (
              select patient_id from core.core_opt_outs where opt_out_type = 'type1')
        """,
        [as_of],
    )
    out: dict[str, set[str]] = {}
    for hood, nhs in rows:
        out.setdefault(hood, set()).add(nhs)
    return out


def read_lists(out: Path, as_of: date | str) -> dict[str, list[dict[str, str]]]:
    """Neighbourhood folder -> the rows of its published `proactive_care_list.csv`."""
    lists = {}
    for folder in sorted((out / "lists" / str(as_of)).iterdir()):
        with (folder / "proactive_care_list.csv").open(newline="", encoding="utf-8") as fh:
            lists[folder.name] = list(csv.DictReader(fh))
    return lists


def csv_text(value: Any) -> str:
    """A typed spreadsheet cell as the CSV writes the same value: a date `YYYY-MM-DD`, a flag
    `true` / `false`, a number in its shortest form, nothing as empty text."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return csv_cell(value)


def xlsx_list(path: Path) -> tuple[list[str], list[list[str]]]:
    """The list sheet (the first) of a published workbook as CSV text: its header row (found
    by its first cell, `rank`, below any warnings) and the rows below it, every cell through
    `csv_text`, the team's review columns included."""
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()
    head = next(i for i, row in enumerate(rows) if row and row[0] == "rank")
    return [str(v) for v in rows[head]], [[csv_text(v) for v in row] for row in rows[head + 1 :]]
