"""Landing one extract file in `raw.<file>` as text, with load id, source file and row number.

CSV is read by DuckDB (`read_csv`, strict RFC 4180, every column as text, BOM handled);
lines DuckDB cannot parse are kept aside (`store_rejects`) and come back as quarantined rows,
so no line vanishes. Parquet is read with `read_parquet` and each column cast to text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

from pipelines.contract import FILES, ColumnType, ExtractFile
from pipelines.errors import ExtractError
from pipelines.ingest.extracts import ExtractFileInfo

log = logging.getLogger("casefinder.ingest")

META_COLUMNS = ("_load_id", "_source_file", "_row_number")
_LAND = "_cf_land"
_REJECTS = "_cf_rejects"
_REJECT_SCANS = "_cf_reject_scans"


@dataclass(frozen=True)
class Landed:
    """What landing one file produced: rows in `raw`, and CSV lines that could not be parsed."""

    rows_landed: int
    csv_rejects: tuple[tuple[int, str, str, str], ...]  # row_number, column, error, csv_line

    @property
    def rows_read(self) -> int:
        return self.rows_landed + len(self.csv_rejects)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every `raw`, `quarantine` and `audit` table ingest writes, if missing."""
    for spec in FILES.values():
        columns = ", ".join(f"{c} varchar" for c in spec.column_names)
        con.execute(
            f"create table if not exists raw.{spec.name} ({columns}, "
            "_load_id bigint, _source_file varchar, _row_number bigint)"
        )
    con.execute(
        "create table if not exists quarantine.rejected_rows (load_id bigint, file varchar, "
        "row_number bigint, column_name varchar, rule varchar, reason varchar, "
        "original_values varchar)"
    )
    con.execute(
        "create table if not exists quarantine.duplicate_rows (load_id bigint, file varchar, "
        "row_number bigint, duplicate_of bigint)"
    )
    con.execute(
        "create table if not exists audit.snapshots (snapshot_id bigint, "
        "extracts_dir_name varchar, extract_date date, loaded_at timestamp, "
        "manifest_sha256 varchar, status varchar)"
    )
    con.execute(
        "create table if not exists audit.loads (load_id bigint, snapshot_id bigint, "
        "file varchar, format varchar, sha256 varchar, rows_read bigint, rows_loaded bigint, "
        "rows_quarantined bigint, rows_duplicate bigint, started_at timestamp, "
        "ended_at timestamp, status varchar, source_file varchar, extra_columns varchar[])"
    )
    con.execute(
        "create table if not exists audit.rule_counts (load_id bigint, file varchar, "
        "rule varchar, column_name varchar, expectation varchar, n_failing bigint)"
    )


def _csv_select(info: ExtractFileInfo, spec: ExtractFile) -> tuple[str, str]:
    """The projection onto contract columns, and the `columns={...}` struct for read_csv."""
    n_header = max(int(p) for p in info.columns.values()) + 1
    n_header = max(n_header, len(info.columns) + len(info.extra_columns))
    struct = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n_header))
    projection = ", ".join(
        f"c{info.columns[c]} as {c}" if c in info.columns else f"cast(null as varchar) as {c}"
        for c in spec.column_names
    )
    return projection, "{" + struct + "}"


def _parquet_expression(source: str, source_type: str, column_type: ColumnType) -> str:
    """Text of a Parquet column as the contract would write it in CSV."""
    quoted = '"' + source.replace('"', '""') + '"'
    upper = source_type.upper()
    if upper.startswith("TIMESTAMP") and column_type is ColumnType.DATE:
        return (
            f"case when {quoted} = date_trunc('day', {quoted}) "
            f"then strftime({quoted}, '%Y-%m-%d') else cast({quoted} as varchar) end"
        )
    if upper in ("DOUBLE", "FLOAT") and column_type is ColumnType.INTEGER:
        return (
            f"case when {quoted} = trunc({quoted}) then cast(cast({quoted} as bigint) as varchar) "
            f"else cast({quoted} as varchar) end"
        )
    if upper == "BOOLEAN":
        return f"lower(cast({quoted} as varchar))"
    return f"cast({quoted} as varchar)"


def land_file(con: duckdb.DuckDBPyConnection, info: ExtractFileInfo, load_id: int) -> Landed:
    """Append one file's rows to `raw.<file>` (all text) and return what was landed."""
    spec = FILES[info.name]
    con.execute(f"drop table if exists {_LAND}")
    con.execute(f"drop table if exists {_REJECTS}")
    con.execute(f"drop table if exists {_REJECT_SCANS}")
    if info.format == "csv":
        projection, struct = _csv_select(info, spec)
        sql = (
            f"create temp table {_LAND} as select {projection} from read_csv($path, "
            f"header = true, auto_detect = false, columns = {struct}, delim = ',', "
            "quote = '\"', escape = '\"', strict_mode = true, store_rejects = true, "
            f"rejects_table = '{_REJECTS}', rejects_scan = '{_REJECT_SCANS}', "
            "max_line_size = 10000000, parallel = true)"
        )
    else:
        projection = ", ".join(
            f"{_parquet_expression(str(info.columns[c]), info.source_types[c], col.type)} as {c}"
            if c in info.columns
            else f"cast(null as varchar) as {c}"
            for col in spec.columns
            for c in (col.name,)
        )
        sql = (
            f"create temp table {_LAND} as select {projection}, file_row_number + 1 as _row "
            "from read_parquet($path, file_row_number = true)"
        )
    try:
        con.execute(sql, {"path": str(info.path)})
    except duckdb.Error as exc:
        # DuckDB's message can quote the offending line: keep it out of the error.
        log.debug("reading %s failed: %s", info.path.name, type(exc).__name__)
        raise ExtractError(
            f"{info.path.name} cannot be read as {'RFC 4180 CSV' if info.format == 'csv' else 'Parquet'}"
        ) from None
    rejects = _collect_rejects(con) if info.format == "csv" else ()
    row_number = _row_number_expression(con, rejects) if info.format == "csv" else "_row"
    columns = ", ".join(spec.column_names)
    con.execute(
        f"insert into raw.{spec.name} ({columns}, _load_id, _source_file, _row_number) "
        f"select {columns}, $load_id, $source, {row_number} from {_LAND}",
        {"load_id": load_id, "source": info.path.name},
    )
    landed = con.execute(f"select count(*) from {_LAND}").fetchone()
    con.execute(f"drop table if exists {_LAND}")
    return Landed(rows_landed=int(landed[0]) if landed else 0, csv_rejects=rejects)


def _collect_rejects(con: duckdb.DuckDBPyConnection) -> tuple[tuple[int, str, str, str], ...]:
    """CSV lines DuckDB rejected, one per data row (row number = record line - 1)."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where table_name = ?", [_REJECTS]
    ).fetchone()
    if not exists or not exists[0]:
        return ()
    rows = con.execute(
        f"select line - 1 as row_number, "
        "coalesce(string_agg(distinct column_name, ','), '') as column_name, "
        "string_agg(distinct cast(error_type as varchar), ', ') as error, "
        f"any_value(csv_line) as csv_line from {_REJECTS} group by line order by line"
    ).fetchall()
    return tuple((int(r[0]), str(r[1]), str(r[2]), str(r[3] or "")) for r in rows)


def _row_number_expression(
    con: duckdb.DuckDBPyConnection, rejects: tuple[tuple[int, str, str, str], ...]
) -> str:
    """Data row number of each kept CSV row: insertion order, skipping rejected rows.

    DuckDB keeps insertion order (`preserve_insertion_order`), so a row's position is its
    `rowid` less the first one (rowids of uncommitted rows start at a large offset).

    The k-th kept row is row k plus the number of rejected rows r_j (j-th rejected) with
    r_j - j < k, i.e. those that came before it.
    """
    base_row = con.execute(f"select coalesce(min(rowid), 0) from {_LAND}").fetchone()
    base = int(base_row[0]) if base_row else 0
    position = f"({_LAND}.rowid - {base} + 1)"
    if not rejects:
        return position
    con.execute("create or replace temp table _cf_reject_gaps (gap bigint)")
    con.executemany(
        "insert into _cf_reject_gaps values (?)",
        [[row - j] for j, (row, *_rest) in enumerate(rejects, start=1)],
    )
    return f"{position} + (select count(*) from _cf_reject_gaps g where g.gap < {position})"
