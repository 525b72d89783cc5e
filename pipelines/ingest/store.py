"""The `raw` layer: each extract file kept as it came, content-addressed beside the warehouse.

`raw` is not a text copy inside the DuckDB file. Each extract file is copied once into the
warehouse's raw store, `<warehouse>.raw/<sha256>.<csv|parquet>`, named by the checksum that
`audit.loads` records, and `raw.<file>` is a view over the stored files of every load of that
file: the contract's columns as text, `_load_id`, `_source_file` and `_row_number` (the data
row's number in its file, as the quarantine names it). A load whose CSV had lines DuckDB could
not parse (rows numbered around them) keeps its landed rows as `<sha256>.rows.parquet` instead;
the file itself is stored too. Files are written under a temporary name and renamed, so a
crash leaves no half-written file under a checksum's name, and a re-run finds the same file.
Warehouses written before the raw store (schema version 1) keep their text tables as
`raw.<file>_landed`, which the views include.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from foundation.contract import FILES

# Where an in-memory warehouse (tests, `casefinder check`) keeps its stored files: a folder of
# the process, removed when it ends.
_MEMORY_STORE: list[Path] = []


def store_path(warehouse: Path) -> Path:
    """Where a warehouse file's raw store is: `<warehouse stem>.raw/` beside it."""
    database = Path(warehouse).resolve()
    return database.with_name(database.stem + ".raw")


def store_dir(con: duckdb.DuckDBPyConnection) -> Path:
    """The raw store of the connection's database (created, readable by its owner only: the
    extract files hold NHS numbers and names, as the warehouse does)."""
    row = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    path = row[0] if row else None
    if path:
        directory = store_path(Path(path))
    else:
        if not _MEMORY_STORE:
            _MEMORY_STORE.append(Path(tempfile.mkdtemp(prefix="casefinder-raw-")))
            atexit.register(shutil.rmtree, _MEMORY_STORE[0], True)
        directory = _MEMORY_STORE[0]
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def keep_file(source: Path, sha256: str, store: Path) -> Path:
    """Copy an extract file into the store under its checksum (once); return the stored path."""
    target = store / f"{sha256}{source.suffix.lower()}"
    if not target.exists():
        partial = store / f".{target.name}.{os.getpid()}.partial"
        shutil.copyfile(source, partial)
        partial.chmod(0o600)
        partial.replace(target)
    return target


def rows_path(sha256: str, store: Path) -> Path:
    """Where the landed rows of a load read around unparseable lines are kept."""
    return store / f"{sha256}.rows.parquet"


def write_rows(con: duckdb.DuckDBPyConnection, select: str, target: Path) -> None:
    """Write a load's landed rows (text columns and row number, in file order) as Parquet."""
    if target.exists():
        return
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    con.execute(f"copy ({select}) to '{sql_text(str(partial))}' (format parquet)")
    partial.chmod(0o600)
    partial.replace(target)


def sql_text(value: str) -> str:
    """A text for a single-quoted SQL literal (paths come from the filesystem, not users)."""
    return value.replace("'", "''")


def empty_text_select(file: str) -> str:
    """No rows, with the contract's columns of one file as text."""
    texts = ", ".join(f"cast(null as varchar) as {c}" for c in FILES[file].column_names)
    return f"select {texts} where false"


def empty_raw_select(file: str) -> str:
    """`raw.<file>`'s columns with no rows."""
    return (
        f"select *, cast(null as bigint) as _load_id, cast(null as varchar) as _source_file, "
        f"cast(null as bigint) as _row_number from ({empty_text_select(file)})"
    )


def _legacy_table(con: duckdb.DuckDBPyConnection, file: str) -> str | None:
    found = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = ?",
        [f"{file}_landed"],
    ).fetchone()
    return f"raw.{file}_landed" if found and found[0] else None


def refresh_raw_view(con: duckdb.DuckDBPyConnection, file: str) -> None:
    """(Re)create `raw.<file>` over every load of the file that has stored rows."""
    columns = ", ".join([*FILES[file].column_names, "_load_id", "_source_file", "_row_number"])
    parts = [
        f"select {columns} from ({query})"
        for (query,) in con.execute(
            "select raw_query from audit.loads where file = ? and raw_query is not null "
            "and status = 'loaded' order by load_id",
            [file],
        ).fetchall()
    ]
    legacy = _legacy_table(con, file)
    if legacy:
        parts.insert(0, f"select {columns} from {legacy}")
    body = "\nunion all\n".join(parts) if parts else empty_raw_select(file)
    con.execute(f"create or replace view raw.{file} as\n{body}")


def ensure_raw_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create `raw.<file>` for every contract file that has none yet (over a version-1
    warehouse's kept text rows, else empty until the file is loaded)."""
    existing = {
        name
        for (name,) in con.execute(
            "select view_name from duckdb_views() where schema_name = 'raw' and not temporary"
        ).fetchall()
    }
    for file in FILES:
        if file not in existing:
            refresh_raw_view(con, file)
