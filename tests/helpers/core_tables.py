"""Empty `core.*` tables exactly as `sql/core` makes them, plus literal-row inserts.

For tests that start at the `core` layer: `create_core_tables(con)` makes every table
(empty, typed), `insert(con, "core_gp_events", [{...}, ...])` adds rows (missing columns are
null; derived columns such as `arrival_date`, `contact_date`, `bnf_chemical_substance`,
`icd10_3char`, `is_emergency` are filled from their source column when not given), and
`add_patient(con, "p1", birth_month="1940-03-01")` adds a registered patient with defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

import duckdb

from foundation.warehouse import ensure_layers
from pipelines.ingest.load import CORE_TABLES, build_core, prepare_warehouse


@cache
def core_columns() -> dict[str, dict[str, str]]:
    """Table -> column name -> DuckDB type of every `core` table, as `sql/core` makes them.

    Built once per process the way ingest builds them (the same `sql/` files and runner:
    `raw` and ingest tables, macros, then each core model) from an empty snapshot.
    """
    con = duckdb.connect()
    try:
        ensure_layers(con)
        prepare_warehouse(con)
        build_core(con, snapshot_id=-1, key=bytes(32))
        return {
            table: {
                name: str(typ).lower()
                for name, typ in con.execute(
                    f"select column_name, column_type from (describe core.{table})"
                ).fetchall()
            }
            for table in CORE_TABLES
        }
    finally:
        con.close()


EMERGENCY_METHODS = ("21", "22", "23", "24", "25", "2A", "2B", "2C", "2D", "28")
ELECTIVE_METHODS = ("11", "12", "13")

DEFAULT_PRACTICE = {
    "practice_code": "A81001",
    "practice_name": "Riverside Surgery",
    "pcn_code": "U00001",
    "pcn_name": "North PCN",
    "neighbourhood_code": "NB01",
    "neighbourhood_name": "North",
}


def create_core_tables(con: duckdb.DuckDBPyConnection, practice: bool = True) -> None:
    """Create every `core.*` table empty (replacing any); add one practice unless told not to."""
    con.execute("create schema if not exists core")
    for table, columns in core_columns().items():
        cols = ", ".join(f"{name} {typ}" for name, typ in columns.items())
        con.execute(f"create or replace table core.{table} ({cols})")
    if practice:
        insert(con, "core_practices", [DEFAULT_PRACTICE])


def _as_date(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str) and len(value) >= 10:
        return date.fromisoformat(value[:10])
    return value


def _derive(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """Fill derived columns (as the core SQL would) when a test leaves them out."""
    row = dict(row)
    if table == "core_ae_attendances" and row.get("arrival_date") is None:
        row["arrival_date"] = _as_date(row.get("arrival_datetime"))
    if table == "core_community_contacts":
        if row.get("contact_date") is None:
            row["contact_date"] = _as_date(row.get("contact_datetime"))
        row.setdefault("submission_id", 1)
        row.setdefault("is_attended", True)
    if (
        table == "core_gp_medications"
        and row.get("bnf_chemical_substance") is None
        and row.get("bnf_code")
    ):
        row["bnf_chemical_substance"] = str(row["bnf_code"])[:9]
    if table == "core_acute_diagnoses" and row.get("icd10_3char") is None and row.get("icd10_code"):
        row["icd10_3char"] = str(row["icd10_code"])[:3]
    if (
        table == "core_patients"
        and row.get("date_of_death") is not None
        and row.get("death_source") is None
    ):
        row["death_source"] = "gp"
    if table == "core_acute_spells" and row.get("admission_method") is not None:
        row.setdefault("is_emergency", row["admission_method"] in EMERGENCY_METHODS)
        row.setdefault("is_elective", row["admission_method"] in ELECTIVE_METHODS)
    return row


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert literal rows (dicts) into `core.<table>`; unknown keys are an error."""
    columns = core_columns()[table]
    n = 0
    for raw_row in rows:
        row = _derive(table, dict(raw_row))
        unknown = set(row) - set(columns)
        if unknown:
            raise KeyError(f"{table} has no columns {sorted(unknown)}")
        placeholders = ", ".join(f"cast(? as {typ})" for typ in columns.values())
        con.execute(
            f"insert into core.{table} values ({placeholders})",
            [row.get(name) for name in columns],
        )
        n += 1
    return n


def add_patient(
    con: duckdb.DuckDBPyConnection,
    patient_id: str,
    *,
    birth_month: str = "1940-01-01",
    sex: str = "2",
    ethnic_category: str | None = "A",
    lsoa_code: str | None = "E01000001",
    practice_code: str = "A81001",
    registration_start_date: str = "2000-01-01",
    registration_end_date: str | None = None,
    date_of_death: str | None = None,
    death_source: str | None = None,
    nhs_number: str | None = None,
) -> None:
    """Add one registered patient (and an identity row when `nhs_number` is given).

    `date_of_death` is core's (the earlier of the GP's and a hospital death); `death_source`
    is `gp` when left out and a date is given, `hospital` for a death known from a spell.
    """
    insert(
        con,
        "core_patients",
        [
            {
                "patient_id": patient_id,
                "birth_month": birth_month,
                "sex": sex,
                "ethnic_category": ethnic_category,
                "lsoa_code": lsoa_code,
                "practice_code": practice_code,
                "registration_start_date": registration_start_date,
                "registration_end_date": registration_end_date,
                "date_of_death": date_of_death,
                "death_source": death_source,
            }
        ],
    )
    if nhs_number is not None:
        insert(
            con,
            "core_patient_identity",
            [
                {
                    "patient_id": patient_id,
                    "nhs_number": nhs_number,
                    "given_name": "Test",
                    "family_name": "Patient",
                    "date_of_birth": birth_month,
                }
            ],
        )


def events(patient_id: str, *entries: tuple[str, str] | tuple[str, str, float]) -> list[dict]:
    """GP event rows from `(event_date, snomed_code[, numeric_value])` tuples."""
    rows = []
    for entry in entries:
        row: dict[str, Any] = {
            "patient_id": patient_id,
            "event_date": entry[0],
            "snomed_code": entry[1],
        }
        if len(entry) > 2:
            row["numeric_value"] = entry[2]
        rows.append(row)
    return rows


def new_core_db(practice: bool = True) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with every layer schema and empty `core.*` tables."""
    con = duckdb.connect()
    ensure_layers(con)
    create_core_tables(con, practice=practice)
    return con


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: Any) -> int:
    """Bulk-insert a polars / pandas / Arrow frame whose columns are a subset of the table's."""
    columns = core_columns()[table]
    con.register("_insert_frame", frame)
    try:
        names = [c for c in columns if c in set(_frame_columns(frame))]
        casts = ", ".join(f"cast({c} as {columns[c]})" for c in names)
        con.execute(
            f"insert into core.{table} ({', '.join(names)}) select {casts} from _insert_frame"
        )
    finally:
        con.unregister("_insert_frame")
    row = con.execute(f"select count(*) from core.{table}").fetchall()
    return int(row[0][0])


def _frame_columns(frame: Any) -> list[str]:
    if hasattr(frame, "column_names"):
        return list(frame.column_names)
    return list(frame.columns)


def features_at(con: duckdb.DuckDBPyConnection, *index_dates: date, **params: Any) -> dict:
    """Build the features at the dates; return {(patient_id, index_date): row dict}."""
    from features.build import build_features

    build_features(con, list(index_dates), params or None)
    cursor = con.execute("select * from features.feat_patients")
    names = [d[0] for d in cursor.description]
    return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def features_on(con: duckdb.DuckDBPyConnection, index_date: date, **params: Any) -> dict:
    """Build the features at one date; return {patient_id: row dict}."""
    rows = features_at(con, index_date, **params)
    return {pid: row for (pid, _), row in rows.items()}
