"""The audit copy: what `explain` needs of the last completed publication, in its own file.

DuckDB lets one process write a database file or several read it, not both; a weekly run
holds the warehouse open for writing, and between its steps the warehouse holds a week that
is not published yet. So when a publication completes, the run copies the tables `explain`
reads into `<warehouse stem>.published.duckdb` beside the warehouse (written to a hidden
temporary file, then renamed into place: a reader sees the old copy or the new one, never a
half-written one). `explain` reads it while a run is in progress (pipelines/commands/explain.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

# Each table `models.explain.explain_patient` reads, with the columns it reads.
TABLES: dict[str, str] = {
    "audit.warehouse_meta": "*",
    "core.core_patient_identity": "patient_id, nhs_number",
    "scores.scores": "*",
    "scores.contributions": "*",
    "scores.evidence": "*",
    "scores.reasons": "*",
    "lists.list_entries": "*",
    "features.feat_patients": "patient_id, index_date, neighbourhood_code",
}


def audit_copy_path(warehouse: Path | str) -> Path:
    """`warehouse.published.duckdb` for `warehouse.duckdb`, in the same folder."""
    warehouse = Path(warehouse).resolve()
    return warehouse.with_name(f"{warehouse.stem}.published.duckdb")


def _exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    found = con.execute(
        "select count(*) from information_schema.tables"
        " where table_catalog = current_database() and table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(found and found[0][0])


def write_audit_copy(con: duckdb.DuckDBPyConnection, warehouse: Path | str) -> Path:
    """Copy `TABLES` from the open warehouse `con` into the audit copy, atomically."""
    final = audit_copy_path(warehouse)
    # The run holds the warehouse lock: any temporary copy beside it is a killed run's.
    for stale in final.parent.glob(f".{final.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    quoted = tmp.as_posix().replace("'", "''")
    con.execute(f"attach '{quoted}' as audit_copy")
    try:
        for qualified, columns in TABLES.items():
            if not _exists(con, qualified):
                continue
            schema = qualified.split(".")[0]
            con.execute(f"create schema if not exists audit_copy.{schema}")
            con.execute(f"create table audit_copy.{qualified} as select {columns} from {qualified}")
    finally:
        con.execute("detach audit_copy")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    tmp.replace(final)
    return final
