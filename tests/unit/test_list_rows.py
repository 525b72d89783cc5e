"""Unit: list rows, CSV rendering and risk tiers."""

from __future__ import annotations

import csv
import io
from datetime import date

import numpy as np

from models.scoring import risk_tiers
from reports.lists import LIST_COLUMNS, csv_cell, list_row, render_csv

TIERS = (("very_high", 0.70), ("high", 0.50), ("moderate", 0.30), ("low", 0.0))

RECORD = {
    "rank": 1,
    "nhs_number": "9434765919",
    "given_name": "@Ada",
    "family_name": "Lovelace",
    "date_of_birth": date(1930, 1, 2),
    "practice_code": "P1",
    "risk_score": 0.723456789,
    "risk_tier": "very_high",
    "change": "new",
    "efi": 0.25,
    "efi_category": "moderate",
    "hfrs": 6.0,
    "hfrs_band": "intermediate",
    "in_hospital": True,
    "on_caseload": False,
    "model_version": "v1",
    "is_care_home_resident": None,
}


def test_tiers_follow_the_documented_thresholds():
    scores = np.array([0.95, 0.70, 0.6999, 0.50, 0.30, 0.2999, 0.0])
    assert risk_tiers(scores, TIERS).tolist() == [
        "very_high",
        "very_high",
        "high",
        "high",
        "moderate",
        "low",
        "low",
    ]


def test_a_row_has_every_column_with_text_escaped():
    row = list_row(RECORD, ["aged 95 years", "3 emergency admissions in the last 12 months"])
    assert set(LIST_COLUMNS) <= set(row)
    assert row["given_name"] == "'@Ada"
    assert row["risk_score"] == 0.7235
    assert row["date_of_birth"] == "1930-01-02"
    assert row["reasons"] == "aged 95 years; 3 emergency admissions in the last 12 months"
    assert (row["in_hospital"], row["on_caseload"], row["care_home_resident"]) == (
        "true",
        "false",
        "false",
    )


def test_csv_has_the_contract_header_and_spreadsheet_style_numbers():
    data = render_csv([list_row(RECORD, [])])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0] == list(LIST_COLUMNS)
    assert rows[1][LIST_COLUMNS.index("hfrs")] == "6"
    assert rows[1][LIST_COLUMNS.index("risk_score")] == "0.7235"
    assert data.endswith(b"\r\n")


def test_csv_cells():
    assert csv_cell(None) == ""
    assert csv_cell(0.1) == "0.1"
    assert csv_cell(2.0) == "2"
    assert csv_cell(3) == "3"
