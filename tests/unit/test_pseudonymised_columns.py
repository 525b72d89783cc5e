"""The analysts' pseudonymised file: an allow-list of columns no identifier can get into."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pytest

from foundation.contract import FILES, IDENTIFIER_COLUMNS
from foundation.errors import CasefinderError
from foundation.warehouse import read_sql
from pipelines.commands.run import check_out_folder
from reports.pseudonymised import (
    COLUMN_NOTES,
    FORBIDDEN_COLUMNS,
    MODEL,
    PSEUDONYMISED_COLUMNS,
    check_columns,
    pseudonymised_row,
    render_csv,
)

# One record as `lists.list_pseudonymised` gives it, plus every identifier a careless join
# could have added: none of them may reach the row.
RECORD = {
    "as_of": date(2026, 11, 16),
    "patient_id": "0f" * 16,
    "neighbourhood_code": "N1",
    "practice_code": "P1",
    "is_published": True,
    "exclusion_reason": None,
    "rank": 1,
    "risk_score": 0.734567,
    "risk_tier": "very_high",
    "age_band": "85-89",
    "sex": "2",
    "imd_decile": 3,
    "efi": 0.41666,
    "efi_category": "severe",
    "hfrs": 12.34,
    "hfrs_band": "intermediate",
    "in_hospital": False,
    "on_caseload": True,
    "is_care_home_resident": None,
    "reason_features": "n_emergency_admissions_365d; efi",
    "model_version": "2026-11-16-abcdef01",
    "nhs_number": "9434765919",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "date_of_birth": date(1931, 5, 17),
    "birth_month": date(1931, 5, 1),
    "lsoa_code": "E01000001",
    "postcode": "LS1 4AP",
}


def _contract_identifier_columns() -> set[str]:
    return {c.name for spec in FILES.values() for c in spec.columns if c.is_identifier}


def test_the_allow_list_holds_no_identifier() -> None:
    assert not set(PSEUDONYMISED_COLUMNS) & FORBIDDEN_COLUMNS
    assert not set(PSEUDONYMISED_COLUMNS) & IDENTIFIER_COLUMNS
    assert not set(PSEUDONYMISED_COLUMNS) & _contract_identifier_columns()
    assert {"birth_month", "lsoa_code", "postcode", "date_of_death"} <= FORBIDDEN_COLUMNS
    # Of the patient file, only the practice and the sex code are passed on as they are.
    assert set(PSEUDONYMISED_COLUMNS) & set(FILES["gp_patients"].column_names) == {
        "practice_code",
        "sex",
    }
    assert PSEUDONYMISED_COLUMNS[0] == "patient_id"
    assert set(COLUMN_NOTES) == set(PSEUDONYMISED_COLUMNS)


def test_a_row_keeps_only_the_allowed_columns() -> None:
    row = pseudonymised_row(RECORD)
    assert tuple(row) == PSEUDONYMISED_COLUMNS
    values = " ".join(str(v) for v in row.values())
    for identifier in ("9434765919", "Ada", "Lovelace", "1931-05-17", "1931-05", "E01000001"):
        assert identifier not in values
    assert row["risk_score"] == 0.7346
    assert row["as_of"] == "2026-11-16"
    assert row["care_home_resident"] == "false"


@pytest.mark.parametrize("column", sorted(FORBIDDEN_COLUMNS))
def test_a_forbidden_column_is_refused(column: str) -> None:
    with pytest.raises(ValueError, match=column):
        check_columns([*PSEUDONYMISED_COLUMNS, column])


def test_an_unknown_column_is_refused() -> None:
    with pytest.raises(ValueError, match="ethnic_group"):
        check_columns(["patient_id", "ethnic_group"])


def test_the_csv_header_is_the_allow_list_and_values_are_not_formulas() -> None:
    hostile = {**RECORD, "practice_code": "=HYPERLINK(1)", "neighbourhood_code": "+N1"}
    data = render_csv([pseudonymised_row(hostile)])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert tuple(rows[0]) == PSEUDONYMISED_COLUMNS
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["practice_code"] == "'=HYPERLINK(1)"
    assert record["neighbourhood_code"] == "'+N1"


def _final_select_columns(sql: str) -> list[str]:
    """The column names of the model's last `select ... from final`."""
    body = sql.rsplit("\nselect\n", 1)[1].split("\nfrom final", 1)[0]
    return [c.strip().rstrip(",") for c in body.splitlines() if c.strip()]


def test_the_sql_model_selects_no_identifier_and_every_column_the_file_needs() -> None:
    sql = read_sql(MODEL)
    columns = _final_select_columns(sql)
    assert not set(columns) & FORBIDDEN_COLUMNS
    needed = set(PSEUDONYMISED_COLUMNS) - {"care_home_resident"} | {"is_care_home_resident"}
    assert needed <= set(columns)
    code = re.sub(r"--[^\n]*", "", sql)
    assert "core_patient_identity" not in code
    assert "core_patients" not in code  # month of birth, LSOA and date of death live there


# --- where it is written: never together with direct-care lists ----------------------------


def test_an_analysts_folder_holding_direct_care_lists_is_refused(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    with pytest.raises(CasefinderError, match="direct-care lists"):
        check_out_folder(tmp_path, pseudonymised=True)


def test_direct_care_lists_are_not_written_into_an_analysts_folder(tmp_path: Path) -> None:
    (tmp_path / "pseudonymised").mkdir()
    with pytest.raises(CasefinderError, match="pseudonymised publication"):
        check_out_folder(tmp_path, pseudonymised=False)


def test_an_analysts_folder_may_not_contain_the_warehouse_or_key(tmp_path: Path) -> None:
    warehouse = tmp_path / "out" / "wh" / "warehouse.duckdb"
    with pytest.raises(CasefinderError, match=r"warehouse\.duckdb"):
        check_out_folder(tmp_path / "out", pseudonymised=True, identifiable=(warehouse,))
    check_out_folder(tmp_path / "analysts", pseudonymised=True, identifiable=(warehouse,))


def test_each_kind_may_reuse_its_own_folder(tmp_path: Path) -> None:
    (tmp_path / "a" / "pseudonymised").mkdir(parents=True)
    (tmp_path / "b" / "lists").mkdir(parents=True)
    (tmp_path / "b" / "reports").mkdir(parents=True)
    check_out_folder(tmp_path / "a", pseudonymised=True)
    check_out_folder(tmp_path / "b", pseudonymised=False)
