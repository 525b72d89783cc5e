"""Staging one extract file: one parallel scan into a temporary table, its `raw` record kept.

CSV is read by DuckDB (`read_csv`, strict RFC 4180, every column as text, BOM handled) in one
parallel, order-keeping scan into `_cf_staged_<file>`, which adds the parsed columns every rule
reads (`rules.parsed_columns`); a row's number is its position (`rowid`) there, so no window
numbers the rows one by one. Lines DuckDB cannot parse are kept aside (`store_rejects`) and
come back as quarantined rows, so no line vanishes; such a file is read again carefully, its
rows numbered around the rejected lines. Lines with a carriage return outside a quoted value
(which stop DuckDB's reader altogether) are marked in a temporary copy first. Parquet is read
with `read_parquet` and each column cast to text.

`_cf_rows_<file>` (a temporary view) is what the rules, the quarantine and `sql/core` read:
the staged rows with `_load_id` and `_row_number`. The file's `raw` record is its stored copy
(`pipelines.ingest.store`); `audit.loads.raw_query` reads it back as `raw.<file>` shows it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from foundation.contract import FILES, ColumnType, ExtractFile
from foundation.errors import ExtractError
from foundation.warehouse import apply_ddl
from pipelines.ingest.extracts import ExtractFileInfo
from pipelines.ingest.rules import Rule, mask_expression, parsed_columns, scan_masks
from pipelines.ingest.store import (
    empty_text_select,
    ensure_raw_views,
    keep_file,
    rows_path,
    sql_text,
    write_rows,
)

log = logging.getLogger("casefinder.ingest")

_LAND = "_cf_land"
_REJECTS = "_cf_rejects"
_REJECT_SCANS = "_cf_reject_scans"
_MAX_SEGMENTS = 1000
# The `sql/quarantine` and `sql/audit` tables ingest writes.
INGEST_TABLES = (
    "rejected_rows",
    "rejected_diagnoses",
    "duplicate_rows",
    "snapshots",
    "loads",
    "rule_counts",
)


def staged_table(file: str) -> str:
    """The temporary table one file's rows are scanned into."""
    return f"_cf_staged_{file}"


def rows_view(file: str) -> str:
    """The temporary view of one file's staged rows with `_load_id` and `_row_number`."""
    return f"_cf_rows_{file}"


@dataclass(frozen=True)
class Landed:
    """What landing one file produced: rows staged, CSV lines that could not be parsed, and
    the query that reads the load back from the raw store (`audit.loads.raw_query`)."""

    rows_landed: int
    csv_rejects: tuple[tuple[int, str, str, str], ...]  # row_number, column, error, csv_line
    raw_query: str | None = None

    @property
    def rows_read(self) -> int:
        return self.rows_landed + len(self.csv_rejects)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every `quarantine` and `audit` table ingest writes and the `raw` views, if missing."""
    apply_ddl(con, INGEST_TABLES)
    ensure_raw_views(con)


ROW_HASH = "_row_hash"


def staged_select(spec: ExtractFile, rules: tuple[Rule, ...], rows: str) -> str:
    """`rows` (a file's text columns) with what the same scan computes for the checks: the
    first layer of parsed columns every rule reads, the hash of the row's text that exact
    duplicates are found by, and the rule masks (`rules.scan_masks`: one bit per rule that
    reads the row alone, set when the row fails it)."""
    first, _second = parsed_columns(spec)
    parsed = "".join(f", {expression} as {name}" for name, expression in first.items())
    masks = "".join(
        f", {mask_expression(rules, indexes)} as {column}"
        for column, indexes in scan_masks(spec, rules).items()
    )
    return (
        f"select *{masks} from (select *{parsed}, "
        f"hash({', '.join(spec.column_names)}) as {ROW_HASH} from ({rows}))"
    )


def drop_staged(con: duckdb.DuckDBPyConnection, file: str) -> None:
    """Drop one file's staged rows (and the views over them)."""
    con.execute(f"drop view if exists {rows_view(file)}")
    con.execute(f"drop table if exists {staged_table(file)}")


def stage_empty(con: duckdb.DuckDBPyConnection, file: str) -> None:
    """Stage no rows for a file absent from the set (its `core` tables come out empty)."""
    con.execute(
        f"create or replace temp table {staged_table(file)} as "
        + staged_select(FILES[file], (), _with_row_number(empty_text_select(file)))
    )
    _create_rows_view(con, file, 0, "_row_number")


def _create_rows_view(
    con: duckdb.DuckDBPyConnection, file: str, load_id: int, row_number: str
) -> None:
    """`_cf_rows_<file>`: the staged rows, their load and row number (`row_number`: an
    expression over the staged table, or its own `_row_number` column)."""
    rows = "* exclude (_row_number)" if row_number == "_row_number" else "*"
    con.execute(
        f"create or replace temp view {rows_view(file)} as select {rows}, "
        f"cast({int(load_id)} as bigint) as _load_id, {row_number} as _row_number "
        f"from {staged_table(file)}"
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


def _with_row_number(rows: str) -> str:
    """`rows` with an empty `_row_number` column (filled in later)."""
    return f"select *, cast(null as bigint) as _row_number from ({rows})"


def land_file(
    con: duckdb.DuckDBPyConnection,
    info: ExtractFileInfo,
    load_id: int,
    store: Path | None,
    rules: tuple[Rule, ...] = (),
) -> Landed:
    """Keep the file in the raw store and stage its rows, with `rules` evaluated in the same
    scan (`staged_select`); return what landed.

    Without a store (`casefinder check`, whose connection is thrown away) the file is read
    where it is and nothing is kept.
    """
    if store is not None:
        stored = keep_file(info.path, info.sha256, store)
        info = replace(info, path=stored, original_name=info.source_name)
    drop_staged(con, info.name)
    if info.format == "parquet":
        return _land_parquet(con, info, load_id, rules)
    return _land_csv(con, info, load_id, store, rules)


def _run_reading(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object], info: ExtractFileInfo
) -> duckdb.DuckDBPyConnection:
    """Run a statement that reads the file; a file DuckDB cannot read at all is fatal.

    (A lenient retry is not possible here: a failed statement aborts the load's transaction.)
    """
    try:
        return con.execute(sql, params)
    except duckdb.Error as exc:
        # DuckDB's message can quote the offending line: keep it out of the error.
        log.debug("reading %s failed: %s", info.source_name, type(exc).__name__)
        kind = "RFC 4180 CSV" if info.format == "csv" else "Parquet"
        raise ExtractError(f"{info.source_name} cannot be read as {kind}") from None


def _read(con: duckdb.DuckDBPyConnection, sql: str, path: Path, info: ExtractFileInfo) -> None:
    """Run a statement that reads `path` into the temporary landing table."""
    for table in (_LAND, _REJECTS, _REJECT_SCANS):
        con.execute(f"drop table if exists {table}")
    _run_reading(con, sql, {"path": str(path)}, info)


def _staged_count(con: duckdb.DuckDBPyConnection, file: str) -> int:
    row = con.execute(f"select count(*) from {staged_table(file)}").fetchone()
    return int(row[0]) if row else 0


def _land_parquet(
    con: duckdb.DuckDBPyConnection, info: ExtractFileInfo, load_id: int, rules: tuple[Rule, ...]
) -> Landed:
    projection = ", ".join(
        f"{_parquet_expression(str(info.columns[c.name]), info.source_types[c.name], c.type)} "
        f"as {c.name}"
        if c.name in info.columns
        else f"cast(null as varchar) as {c.name}"
        for c in info.spec.columns
    )
    rows = (
        f"select {projection}, file_row_number + 1 as _row_number "
        f"from read_parquet('{sql_text(str(info.path))}', file_row_number = true)"
    )
    _run_reading(
        con,
        f"create temp table {staged_table(info.name)} as {staged_select(info.spec, rules, rows)}",
        {},
        info,
    )
    _create_rows_view(con, info.name, load_id, "_row_number")
    return Landed(
        rows_landed=_staged_count(con, info.name),
        csv_rejects=(),
        raw_query=_raw_query(rows, load_id, info, "_row_number"),
    )


def _raw_query(rows: str, load_id: int, info: ExtractFileInfo, row_number: str) -> str:
    """What `raw.<file>` reads for one load: its text columns, load, source file and row."""
    columns = ", ".join(info.spec.column_names)
    return (
        f"select {columns}, cast({int(load_id)} as bigint) as _load_id, "
        f"'{sql_text(info.source_name)}' as _source_file, {row_number} as _row_number "
        f"from ({rows})"
    )


def _land_csv(
    con: duckdb.DuckDBPyConnection,
    info: ExtractFileInfo,
    load_id: int,
    store: Path | None,
    rules: tuple[Rule, ...],
) -> Landed:
    """Land a CSV file; one with bare carriage returns through a copy with those lines marked.

    DuckDB's strict reader gives up on a whole file when a value holds a carriage return that
    does not end a line. Each physical line holding one is replaced in a temporary copy by a
    one-field marker line (same line end), which the reader rejects like any line with
    missing columns, so every other row keeps its row number; the marker's reject then gets
    back the original line and a reason of its own.
    """
    if not info.bare_carriage_returns:
        return _land_csv_file(con, info, load_id, store, rules)
    with tempfile.TemporaryDirectory(prefix="casefinder-ingest-") as scratch:
        copy = Path(scratch) / info.source_name
        originals = mark_bare_cr_lines(info.path, copy)
        if not originals:  # every such CR was inside a quoted value
            return _land_csv_file(con, info, load_id, store, rules)
        landed = _land_csv_file(con, replace(info, path=copy), load_id, store, rules)
    return restore_bare_cr_lines(landed, originals, info.source_name)


_BARE_CR_MARKER = "casefinder-bare-carriage-return-line-"
BARE_CR_ERROR = "a carriage return that does not end a line"


def unquoted_cr(body: bytes, in_quotes: bool) -> tuple[bool, bool]:
    """Whether a line holds a CR outside a quoted value, and whether a quoted value is still
    open at its end (`in_quotes`: open at its start). A doubled quote inside a quoted value
    closes and reopens it, which comes to the same."""
    if b"\r" not in body:
        return False, in_quotes != (body.count(b'"') % 2 == 1)
    found = False
    for byte in body:
        if byte == 0x22:  # "
            in_quotes = not in_quotes
        elif byte == 0x0D and not in_quotes:  # CR
            found = True
    return found, in_quotes


def mark_bare_cr_lines(source: Path, target: Path) -> list[str]:
    """Copy `source` to `target`, replacing each data line that holds a CR outside a quoted
    value and not ending the line by a marker line numbered from 0; return the original lines
    (as text) in file order. (A CR inside a quoted value is a value's character: DuckDB reads
    it.)"""
    originals: list[str] = []
    in_quotes = False
    with source.open("rb") as src, target.open("wb") as dst:
        for number, line in enumerate(src):  # binary lines split on LF only
            ending = b"\r\n" if line.endswith(b"\r\n") else b"\n" if line.endswith(b"\n") else b""
            body = line[: len(line) - len(ending)]
            found, after = unquoted_cr(body, in_quotes)
            if number == 0 or not found:
                in_quotes = after
                dst.write(line)
                continue
            dst.write(f"{_BARE_CR_MARKER}{len(originals)}".encode() + ending)
            originals.append(body.decode("utf-8", "replace"))
    return originals


def restore_bare_cr_lines(landed: Landed, originals: list[str], file_name: str) -> Landed:
    """Give the marker lines' rejects their original line and the bare-CR reason."""
    rejects = []
    restored = 0
    for row, column, error, csv_line in landed.csv_rejects:
        text = csv_line.strip()  # of a CR LF file, DuckDB quotes the line after the LF before it
        number = text.removeprefix(_BARE_CR_MARKER)
        if number != text and number.isdigit():
            index = int(number)
            if index < len(originals):
                rejects.append((row, "", BARE_CR_ERROR, originals[index]))
                restored += 1
                continue
        rejects.append((row, column, error, csv_line))
    if restored != len(originals):
        # A marker inside a runaway quote was swallowed with it: still quarantined, by the
        # quote's own reject, so nothing is lost; say so for whoever reads the log.
        log.warning(
            "%s: %d of %d lines with a bare carriage return were quarantined with another "
            "line's reject (an unbalanced quote before them)",
            file_name,
            len(originals) - restored,
            len(originals),
        )
    return replace(landed, csv_rejects=tuple(rejects))


def _land_csv_file(
    con: duckdb.DuckDBPyConnection,
    info: ExtractFileInfo,
    load_id: int,
    store: Path | None,
    rules: tuple[Rule, ...],
) -> Landed:
    """Scan a CSV file into its staged table; if DuckDB rejected lines, stage it carefully.

    A clean file (the usual case) is read once, in parallel: DuckDB keeps the order of the
    scan (`preserve_insertion_order`), so a row's number is its `rowid` less the first one
    (rowids of uncommitted rows start at a large offset). When lines were rejected, positions
    skip them, so the file is staged again by `_land_csv_with_rejects`, which numbers rows
    around the rejected lines and keeps them in the raw store as Parquet.
    """
    projection, struct = _csv_select(info, info.spec)
    reader = _csv_reader(struct)
    for table in (_REJECTS, _REJECT_SCANS):
        con.execute(f"drop table if exists {table}")
    staged = staged_table(info.name)
    _run_reading(
        con,
        f"create temp table {staged} as "
        + staged_select(info.spec, rules, f"select {projection} from {reader}"),
        {"path": str(info.path)},
        info,
    )
    rejects, _ = _collect_rejects(con, info.path)
    if not rejects:
        base = con.execute(f"select coalesce(min(rowid), 0) from {staged}").fetchone()
        _create_rows_view(con, info.name, load_id, f"(rowid - {int(base[0]) if base else 0} + 1)")
        rows = f"select {projection} from {_csv_reader(struct, keep_rejects=False, path=info.path)}"
        return Landed(
            rows_landed=_staged_count(con, info.name),
            csv_rejects=(),
            raw_query=_raw_query(rows, load_id, info, "row_number() over ()"),
        )
    con.execute(f"drop table {staged}")
    return _land_csv_with_rejects(con, info, load_id, projection, reader, store, rules)


def _csv_reader(struct: str, keep_rejects: bool = True, path: Path | None = None) -> str:
    """DuckDB's strict RFC 4180 reader over `$path` (or `path`), every column text.

    Lines it cannot parse are kept aside in `_cf_rejects` (for the load) or skipped (for
    reading a load back: they are in quarantine).
    """
    source = "$path" if path is None else f"'{sql_text(str(path))}'"
    rejects = (
        f"store_rejects = true, rejects_table = '{_REJECTS}', rejects_scan = '{_REJECT_SCANS}'"
        if keep_rejects
        else "ignore_errors = true"
    )
    return (
        f"read_csv({source}, header = true, auto_detect = false, columns = {struct}, "
        f"delim = ',', quote = '\"', escape = '\"', strict_mode = true, {rejects}, "
        "max_line_size = 10000000, parallel = true)"
    )


def _land_csv_with_rejects(
    con: duckdb.DuckDBPyConnection,
    info: ExtractFileInfo,
    load_id: int,
    projection: str,
    reader: str,
    store: Path | None,
    rules: tuple[Rule, ...],
) -> Landed:
    """Read a CSV file with rejected lines in one pass, or in segments when a quote runs away.

    An unbalanced quote makes every RFC 4180 reader swallow the rest of the file into one
    field. When DuckDB reports that, the physical line holding the quote is quarantined and
    reading resumes on the next line (header + remainder in a temporary file), so the lines
    after it are neither lost nor merged. The staged rows (text) are kept in the raw store as
    Parquet, since reading the file again would not number them the same way.
    """
    sql = f"create temp table {_LAND} as select {projection} from {reader}"
    columns = ", ".join(info.spec.column_names)
    staged = staged_table(info.name)
    con.execute(
        f"create temp table {staged} as "
        + staged_select(info.spec, rules, _with_row_number(empty_text_select(info.name)))
    )
    header_line = _first_line(info.path)
    path, offset, landed = info.path, 0, 0
    all_rejects: list[tuple[int, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="casefinder-ingest-") as scratch:
        for segment in range(_MAX_SEGMENTS):
            _read(con, sql, path, info)
            rejects, resume_at = _collect_rejects(con, path)
            row_number, source = _row_number_source(con, rejects)
            # After a runaway quote DuckDB resynchronises somewhere later: the rows it kept
            # past that line are read again from the remainder, so they are dropped here.
            cut = rejects[-1][0] if resume_at is not None else None
            keep = "" if cut is None else f" where ({row_number}) < {int(cut)}"
            texts = ", ".join(f"{_LAND}.{c}" for c in info.spec.column_names)
            rows = f"select {texts}, {row_number} + {offset} as _row_number from {source}{keep}"
            inserted = con.execute(
                f"insert into {staged} by name {staged_select(info.spec, rules, rows)}"
            ).fetchone()
            landed += int(inserted[0]) if inserted else 0
            con.execute(f"drop table if exists {_LAND}")
            all_rejects.extend((row + offset, *rest) for row, *rest in rejects)
            if resume_at is None:
                break
            offset += rejects[-1][0]
            remainder = Path(scratch) / f"segment_{segment}.csv"
            _write_remainder(path, resume_at, header_line, remainder)
            path = remainder
        else:
            raise ExtractError(f"{info.source_name}: too many unbalanced quotes to read")
    _create_rows_view(con, info.name, load_id, "_row_number")
    if store is None:
        return Landed(rows_landed=landed, csv_rejects=tuple(all_rejects))
    kept = rows_path(info.sha256, store)
    write_rows(con, f"select {columns}, _row_number from {staged} order by _row_number", kept)
    rows = f"select * from read_parquet('{sql_text(str(kept))}')"
    return Landed(
        rows_landed=landed,
        csv_rejects=tuple(all_rejects),
        raw_query=_raw_query(rows, load_id, info, "_row_number"),
    )


def _first_line(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.readline()


def _write_remainder(source: Path, start: int, header_line: bytes, target: Path) -> None:
    """Write the header line, then `source` from byte `start`, to `target`."""
    with source.open("rb") as src, target.open("wb") as dst:
        dst.write(header_line if header_line.endswith(b"\n") else header_line + b"\n")
        src.seek(start)
        shutil.copyfileobj(src, dst, 1 << 20)


def _collect_rejects(
    con: duckdb.DuckDBPyConnection, path: Path
) -> tuple[list[tuple[int, str, str, str]], int | None]:
    """CSV lines DuckDB rejected, one per data row (row number = record line - 1).

    Also returns the byte offset to resume reading at when a quote ran away to the end of
    the file (that reject, now the last, stands for its own physical line only), else None.
    """
    exists = con.execute(
        "select count(*) from duckdb_tables() where table_name = ?", [_REJECTS]
    ).fetchone()
    if not exists or not exists[0]:
        return [], None
    rows = con.execute(
        "select line - 1 as row_number, "
        "coalesce(string_agg(distinct column_name, ','), '') as column_name, "
        "string_agg(distinct cast(error_type as varchar), ', ') as error, "
        "any_value(csv_line) as csv_line, min(line_byte_position) as line_start "
        f"from {_REJECTS} group by line order by line"
    ).fetchall()
    rejects = [(int(r[0]), str(r[1]), str(r[2]), str(r[3] or "")) for r in rows]
    for i, (row, column, error, csv_line) in enumerate(rejects):
        first, _, rest = csv_line.partition("\n")
        if "UNQUOTED VALUE" not in error or not rest.strip("\r\n"):
            continue
        line_start = max(int(rows[i][4] or 1) - 1, 0)  # DuckDB counts bytes from 1
        with path.open("rb") as fh:
            fh.seek(line_start)
            physical = fh.readline()
            resume_at = fh.tell()
        if physical.decode("utf-8", "replace").rstrip("\r\n") != first.rstrip("\r"):
            continue  # not where we expected: keep DuckDB's reading
        return [*rejects[:i], (row, column, error, first)], resume_at
    return rejects, None


def _row_number_source(
    con: duckdb.DuckDBPyConnection, rejects: list[tuple[int, str, str, str]]
) -> tuple[str, str]:
    """Data row number of each kept CSV row, as (expression, FROM clause over `_LAND`).

    DuckDB keeps insertion order (`preserve_insertion_order`), so a row's position is its
    `rowid` less the first one (rowids of uncommitted rows start at a large offset).

    The k-th kept row is row k plus the number of rejected rows r_j (j-th rejected) with
    r_j - j < k, i.e. those that came before it. r_j - j never decreases, so that number is
    the largest j whose gap r_j - j is below k: an ASOF join finds it (a sort-merge; a
    correlated count would compare every row with every rejected row).
    """
    base_row = con.execute(f"select coalesce(min(rowid), 0) from {_LAND}").fetchone()
    base = int(base_row[0]) if base_row else 0
    position = f"({_LAND}.rowid - {base} + 1)"
    if not rejects:
        return position, _LAND
    con.execute("create or replace temp table _cf_reject_gaps (gap bigint, before bigint)")
    con.executemany(
        "insert into _cf_reject_gaps values (?, ?)",
        [[row - j, j] for j, (row, *_rest) in enumerate(rejects, start=1)],
    )
    gaps = "(select gap, max(before) as before from _cf_reject_gaps group by gap)"
    return (
        f"{position} + coalesce(g.before, 0)",
        f"{_LAND} asof left join {gaps} g on {position} > g.gap",
    )
