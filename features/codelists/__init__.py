"""Versioned clinical code lists (CSV beside this file) and their loader into `ref.*` tables."""

from __future__ import annotations

from pathlib import Path

import duckdb

CODELIST_DIR = Path(__file__).resolve().parent

# Columns that are not text; every other column (codes above all) stays `varchar`.
COLUMN_TYPES: dict[str, dict[str, str]] = {
    "efi_deficits": {"deficit_no": "integer", "n_snomed": "integer"},
    "efi_value_rules": {"threshold": "double", "value_from": "double", "value_below": "double"},
    "hfrs_icd10_weights": {"weight": "double", "rank": "integer"},
    "dnacpr_status": {"is_dnacpr": "boolean"},
}


def codelist_files() -> list[Path]:
    """Every code list CSV, sorted by name."""
    return sorted(CODELIST_DIR.glob("*.csv"))


def load_codelists(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Load each `features/codelists/<stem>.csv` as table `ref.<stem>`; return rows per table.

    Codes are read as text (never numbers, so leading zeros and 18-digit SNOMED ids survive);
    the few numeric or boolean columns are cast as `COLUMN_TYPES` says.
    """
    con.execute("create schema if not exists ref")
    loaded: dict[str, int] = {}
    for path in codelist_files():
        stem = path.stem
        casts = COLUMN_TYPES.get(stem, {})
        replace = ", ".join(f"cast({col} as {typ}) as {col}" for col, typ in casts.items())
        select = f"select * replace ({replace})" if replace else "select *"
        con.execute(
            f"create or replace table ref.{stem} as {select} "
            "from read_csv($path, header = true, all_varchar = true)",
            {"path": str(path)},
        )
        row = con.execute(f"select count(*) from ref.{stem}").fetchone()
        loaded[stem] = int(row[0]) if row else 0
    return loaded
