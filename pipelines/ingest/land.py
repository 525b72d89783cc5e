"""Landing one extract file in `raw.<file>` as text, with load id, source file and row number.

CSV is read by DuckDB (`read_csv`, strict RFC 4180, every column as text, BOM handled);
lines DuckDB cannot parse are kept aside (`store_rejects`) and come back as quarantined rows,
so no line vanishes; lines with a carriage return outside a quoted value (which stop DuckDB's
reader altogether) are marked in a temporary copy first. Parquet is read with `read_parquet`
and each column cast to text. A file is written to `raw` once, straight from the reader.
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


@dataclass(frozen=True)
class Landed:
    """What landing one file produced: rows in `raw`, and CSV lines that could not be parsed."""

    rows_landed: int
    csv_rejects: tuple[tuple[int, str, str, str], ...]  # row_number, column, error, csv_line

    @property
    def rows_read(self) -> int:
        return self.rows_landed + len(self.csv_rejects)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every `raw`, `quarantine` and `audit` table ingest writes, if missing.

    The `raw` tables are made from the contract (one text column per contract column, plus
    the load's columns); the others are files of `sql/`.
    """
    for spec in FILES.values():
        columns = ", ".join(f"{c} varchar" for c in spec.column_names)
        con.execute(
            f"create table if not exists raw.{spec.name} ({columns}, "
            "_load_id bigint, _source_file varchar, _row_number bigint)"
        )
    apply_ddl(con, INGEST_TABLES)


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
    if info.format == "parquet":
        return _land_parquet(con, info, load_id)
    return _land_csv(con, info, load_id)


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
        log.debug("reading %s failed: %s", info.path.name, type(exc).__name__)
        kind = "RFC 4180 CSV" if info.format == "csv" else "Parquet"
        raise ExtractError(f"{info.path.name} cannot be read as {kind}") from None


def _read(con: duckdb.DuckDBPyConnection, sql: str, path: Path, info: ExtractFileInfo) -> None:
    """Run a statement that reads `path` into the temporary landing table."""
    for table in (_LAND, _REJECTS, _REJECT_SCANS):
        con.execute(f"drop table if exists {table}")
    _run_reading(con, sql, {"path": str(path)}, info)


def _append_raw(
    con: duckdb.DuckDBPyConnection,
    info: ExtractFileInfo,
    load_id: int,
    row_number: str,
    before_row: int | None = None,
    source: str = _LAND,
) -> int:
    """Insert the landed rows (those numbered below `before_row`, when given) into raw."""
    columns = ", ".join(f"{_LAND}.{c}" for c in info.spec.column_names)
    keep = "" if before_row is None else f" where {row_number} < {int(before_row)}"
    inserted = con.execute(
        f"insert into raw.{info.name} ({', '.join(info.spec.column_names)}, _load_id, "
        f"_source_file, _row_number) "
        f"select {columns}, $load_id, $source, {row_number} from {source}{keep}",
        {"load_id": load_id, "source": info.path.name},
    ).fetchone()
    con.execute(f"drop table if exists {_LAND}")
    return int(inserted[0]) if inserted else 0


def _land_parquet(con: duckdb.DuckDBPyConnection, info: ExtractFileInfo, load_id: int) -> Landed:
    projection = ", ".join(
        f"{_parquet_expression(str(info.columns[c.name]), info.source_types[c.name], c.type)} "
        f"as {c.name}"
        if c.name in info.columns
        else f"cast(null as varchar) as {c.name}"
        for c in info.spec.columns
    )
    select = (
        f"select {projection}, file_row_number + 1 from read_parquet($path, file_row_number = true)"
    )
    return Landed(rows_landed=_insert_raw(con, info, load_id, select), csv_rejects=())


def _land_csv(con: duckdb.DuckDBPyConnection, info: ExtractFileInfo, load_id: int) -> Landed:
    """Land a CSV file; one with bare carriage returns through a copy with those lines marked.

    DuckDB's strict reader gives up on a whole file when a value holds a carriage return that
    does not end a line. Each physical line holding one is replaced in a temporary copy by a
    one-field marker line (same line end), which the reader rejects like any line with
    missing columns, so every other row keeps its row number; the marker's reject then gets
    back the original line and a reason of its own.
    """
    if not info.bare_carriage_returns:
        return _land_csv_file(con, info, load_id)
    with tempfile.TemporaryDirectory(prefix="casefinder-ingest-") as scratch:
        copy = Path(scratch) / info.path.name
        originals = mark_bare_cr_lines(info.path, copy)
        if not originals:  # every such CR was inside a quoted value
            return _land_csv_file(con, info, load_id)
        landed = _land_csv_file(con, replace(info, path=copy), load_id)
    return restore_bare_cr_lines(landed, originals, info.path.name)


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
    return Landed(rows_landed=landed.rows_landed, csv_rejects=tuple(rejects))


def _land_csv_file(con: duckdb.DuckDBPyConnection, info: ExtractFileInfo, load_id: int) -> Landed:
    """Read a CSV file straight into `raw`; if DuckDB rejected lines, land it again carefully.

    A clean file (the usual case) is written once: `row_number() over ()` numbers the rows
    in file order (DuckDB keeps the order of a scan under an empty OVER clause). When lines
    were rejected, those numbers skip them, so the rows go and the file is landed by
    `_land_csv_with_rejects`, which numbers rows around the rejected lines.
    """
    projection, struct = _csv_select(info, info.spec)
    reader = _csv_reader(struct)
    for table in (_REJECTS, _REJECT_SCANS):
        con.execute(f"drop table if exists {table}")
    landed = _insert_raw(
        con,
        info,
        load_id,
        f"select {projection}, row_number() over () from {reader}",
    )
    rejects, _ = _collect_rejects(con, info.path)
    if not rejects:
        return Landed(rows_landed=landed, csv_rejects=())
    con.execute(f"delete from raw.{info.name} where _load_id = ?", [load_id])
    return _land_csv_with_rejects(con, info, load_id, projection, reader)


def _csv_reader(struct: str) -> str:
    """DuckDB's strict RFC 4180 reader over `$path`, every column text, rejects kept aside."""
    return (
        f"read_csv($path, header = true, auto_detect = false, columns = {struct}, "
        "delim = ',', quote = '\"', escape = '\"', strict_mode = true, store_rejects = true, "
        f"rejects_table = '{_REJECTS}', rejects_scan = '{_REJECT_SCANS}', "
        "max_line_size = 10000000, parallel = true)"
    )


def _insert_raw(
    con: duckdb.DuckDBPyConnection, info: ExtractFileInfo, load_id: int, select: str
) -> int:
    """Run `insert into raw.<file> <select>` (contract columns, then the row number)."""
    columns = ", ".join(info.spec.column_names)
    inserted = _run_reading(
        con,
        f"insert into raw.{info.name} ({columns}, _row_number, _load_id, _source_file) "
        f"select *, $load_id, $source from ({select})",
        {"path": str(info.path), "load_id": load_id, "source": info.path.name},
        info,
    ).fetchone()
    return int(inserted[0]) if inserted else 0


def _land_csv_with_rejects(
    con: duckdb.DuckDBPyConnection,
    info: ExtractFileInfo,
    load_id: int,
    projection: str,
    reader: str,
) -> Landed:
    """Read a CSV file with rejected lines in one pass, or in segments when a quote runs away.

    An unbalanced quote makes every RFC 4180 reader swallow the rest of the file into one
    field. When DuckDB reports that, the physical line holding the quote is quarantined and
    reading resumes on the next line (header + remainder in a temporary file), so the lines
    after it are neither lost nor merged.
    """
    sql = f"create temp table {_LAND} as select {projection} from {reader}"
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
            landed += _append_raw(
                con, info, load_id, f"({row_number}) + {offset}", cut and cut + offset, source
            )
            all_rejects.extend((row + offset, *rest) for row, *rest in rejects)
            if resume_at is None:
                break
            offset += rejects[-1][0]
            remainder = Path(scratch) / f"segment_{segment}.csv"
            _write_remainder(path, resume_at, header_line, remainder)
            path = remainder
        else:
            raise ExtractError(f"{info.path.name}: too many unbalanced quotes to read")
    return Landed(rows_landed=landed, csv_rejects=tuple(all_rejects))


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
