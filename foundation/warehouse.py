"""The DuckDB warehouse: connecting, layer schemas, running `sql/` models, pseudonym keys."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, NoReturn

import duckdb

from foundation.errors import CasefinderError, WarehouseBusyError

log = logging.getLogger("casefinder.warehouse")

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

# Layers in the order data flows; each is a DuckDB schema and a folder of `sql/`.
LAYERS = ("raw", "quarantine", "ref", "core", "features", "scores", "lists", "audit", "registry")

# Bumped when the warehouse layout changes; `audit.warehouse_meta` records the version.
# 2 (2026-12-07): `raw` became views over the raw store; the text tables of version 1 are kept
# as `raw.<file>_landed` and `audit.loads` records each load's `raw_query`.
WAREHOUSE_SCHEMA_VERSION = 2
# How long a writer waits for a reader (`explain`) to let go of the file.
READER_WAIT_SECONDS = 5.0

# Migrations: MIGRATIONS[n] brings a version-n warehouse to version n + 1, in one transaction.
# A version with no entry cannot be migrated and is refused with a clear message.


def _raw_tables_to_landed(con: duckdb.DuckDBPyConnection) -> None:
    """Version 1 -> 2: keep each `raw.<file>` text table as `raw.<file>_landed` (the views
    that replace it read it) and give `audit.loads` its `raw_query` column."""
    tables = con.execute(
        "select table_name from duckdb_tables() where schema_name = 'raw' and not temporary"
    ).fetchall()
    for (table,) in tables:
        if not table.endswith("_landed"):
            con.execute(f'alter table raw."{table}" rename to "{table}_landed"')
    loads = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'audit' and table_name = 'loads'"
    ).fetchone()
    if loads and loads[0]:
        con.execute("alter table audit.loads add column if not exists raw_query varchar")


MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {1: _raw_tables_to_landed}

_PARAM = re.compile(r"(?<![\w$:])\$([A-Za-z_][A-Za-z0-9_]*)")


def _first(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of a result, consuming it whole.

    DuckDB 2.0 keeps a result opened by `execute` pending until every row is fetched, and a
    pending result makes the next `con.sql(...)` fail; `fetchone()` would leave it pending.
    """
    rows = result.fetchall()
    return rows[0] if rows else None


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file (creating it and its schemas unless read-only).

    Raises a one-line `CasefinderError` when the file is locked by another process or is not
    a DuckDB database.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise CasefinderError(f"warehouse {path} does not exist: run `casefinder ingest` first")
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CasefinderError(
                f"warehouse folder {path.parent} cannot be created: {exc.strerror or exc}"
            ) from None
    # A reader (`explain`) may hold the file for a moment; a writer waits that long.
    deadline = time.monotonic() + (0 if read_only else READER_WAIT_SECONDS)
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                error: duckdb.Error = exc
            else:
                time.sleep(0.2)
                continue
        except duckdb.Error as exc:
            error = exc
        _refuse(path, error)
    try:
        if read_only:
            version = schema_version(con)
            if version is not None and version != WAREHOUSE_SCHEMA_VERSION:
                raise CasefinderError(
                    f"warehouse schema version {version} differs from this casefinder's "
                    f"({WAREHOUSE_SCHEMA_VERSION}); open it read-write to migrate, or upgrade"
                )
        else:
            ensure_layers(con)
    except BaseException:
        con.close()
        raise
    return con


def _refuse(path: Path, exc: duckdb.Error) -> NoReturn:
    """The one-line error for a warehouse DuckDB cannot open."""
    if isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower():
        raise WarehouseBusyError(
            f"warehouse {path} is in use by another casefinder process; try again when it ends"
        ) from None
    raise CasefinderError(f"warehouse {path} cannot be opened: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def ensure_layers(con: duckdb.DuckDBPyConnection) -> None:
    """Create the layer schemas and the metadata table if they are missing.

    A file written by a newer casefinder is refused before anything is written to it; an
    older one is migrated (one transaction per version step) or refused with a clear message.
    """
    version = schema_version(con)
    if version is not None and version > WAREHOUSE_SCHEMA_VERSION:
        raise CasefinderError(
            f"warehouse schema version {version} is newer than this casefinder understands "
            f"({WAREHOUSE_SCHEMA_VERSION}); upgrade casefinder"
        )
    for layer in LAYERS:
        con.execute(f"create schema if not exists {layer}")
    apply_ddl(con, ["warehouse_meta"])
    if version is None:
        con.execute(
            "insert into audit.warehouse_meta values ('schema_version', ?)",
            [str(WAREHOUSE_SCHEMA_VERSION)],
        )
        return
    while version < WAREHOUSE_SCHEMA_VERSION:
        migrate = MIGRATIONS.get(version)
        if migrate is None:
            raise CasefinderError(
                f"warehouse schema version {version} is older than this casefinder "
                f"({WAREHOUSE_SCHEMA_VERSION}) and cannot be migrated; ingest into a new "
                "warehouse file"
            )
        with transaction(con):
            migrate(con)
            con.execute(
                "update audit.warehouse_meta set value = ? where key = 'schema_version'",
                [str(version + 1)],
            )
        log.info("migrated the warehouse from schema version %d to %d", version, version + 1)
        version += 1


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The warehouse's recorded schema version (None for a new file); refuses nonsense."""
    exists = _first(
        con.execute(
            "select count(*) from duckdb_tables()"
            " where schema_name = 'audit' and table_name = 'warehouse_meta'"
        )
    )
    if not exists or not exists[0]:
        return None
    row = _first(con.execute("select value from audit.warehouse_meta where key = 'schema_version'"))
    if row is None:
        return None
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise CasefinderError(
            f"warehouse schema version {str(row[0])[:20]!r} is not a number; "
            "the file was not written by casefinder"
        ) from None


# `create table|view|macro [if not exists] <schema>.<name>` at the start of a DDL file.
_CREATES = re.compile(
    r"^\s*create\s+(?:or\s+replace\s+)?(?:temp\s+)?(?:table|view|macro)\s+"
    r"(?:if\s+not\s+exists\s+)?([a-z_]+)\.([a-z_][a-z0-9_]*)",
    re.IGNORECASE,
)
# What a file reads: `from|join <schema>.<name>`, and `<schema>.<name>(` (a macro or a table
# macro). A qualified name that is no file (`ref.*` code lists, `raw.<file>` tables made from
# the contract) is an input from outside `sql/` and puts no order on the files.
_READS = re.compile(r"\b(?:from|join)\s+([a-z_]+)\.([a-z_][a-z0-9_]*)\b", re.IGNORECASE)
_CALLS = re.compile(r"\b([a-z_]+)\.([a-z_][a-z0-9_]*)\s*\(", re.IGNORECASE)


@dataclass(frozen=True)
class SqlFile:
    """One file of `sql/`: the relation (or macro) it makes and what it reads.

    A model file holds one `select` and is materialised as `<folder>.<name>`; a DDL file
    (`create table|view|macro ...`) is run as written and names its own schema.
    """

    name: str
    path: Path
    relation: str  # schema-qualified name, e.g. `core.core_patients`, `raw.parse_date`
    is_ddl: bool
    reads: frozenset[str]  # schema-qualified names the file refers to


def references(sql: str) -> set[str]:
    """The names in warehouse schemas (`LAYERS`) a SQL text reads or calls, lower case;
    comments are ignored, and so is `alias.column` (its prefix is no schema)."""
    text = _strip_comments(sql)
    found = {f"{a}.{b}".lower() for a, b in [*_READS.findall(text), *_CALLS.findall(text)]}
    return {name for name in found if name.split(".")[0] in LAYERS}


def parse_sql_file(path: Path) -> SqlFile:
    """Read one file of `sql/`: its relation, whether it is DDL, and what it refers to."""
    text = path.read_text(encoding="utf-8")
    created = _CREATES.match(_strip_comments(text))
    if created:
        relation = f"{created.group(1)}.{created.group(2)}".lower()
        if created.group(2).lower() != path.stem:
            raise CasefinderError(f"{path.name} creates {relation}: a file is named after it")
    else:
        relation = f"{path.parent.name}.{path.stem}"
    reads = frozenset(references(text) - {relation})
    return SqlFile(path.stem, path, relation, bool(created), reads)


@cache
def sql_files(sql_dir: Path = SQL_DIR) -> dict[str, SqlFile]:
    """Every file of `sql/`, by name (file names are unique across the folders)."""
    files: dict[str, SqlFile] = {}
    for path in sorted(sql_dir.glob("*/*.sql")):
        if path.stem in files:
            raise CasefinderError(f"two sql files are named {path.stem}.sql")
        files[path.stem] = parse_sql_file(path)
    return files


def dependencies(files: Mapping[str, SqlFile]) -> dict[str, set[str]]:
    """File name -> the names of the files it reads (only files among `files`)."""
    by_relation = {f.relation: name for name, f in files.items()}
    return {
        name: {by_relation[r] for r in f.reads if r in by_relation} for name, f in files.items()
    }


def build_order(
    targets: Iterable[str],
    layer: str | None = None,
    files: Mapping[str, SqlFile] | None = None,
) -> list[str]:
    """`targets` and every file they read, directly or not, each after what it reads.

    With `layer`, only the files of that folder of `sql/` (the layers below are inputs,
    built by their own step). Ties are broken by name, so the order is stable. A cycle is a
    `CasefinderError` naming it.
    """
    files = sql_files() if files is None else files
    deps = dependencies(files)
    wanted: set[str] = set()
    stack = list(targets)
    while stack:
        name = stack.pop()
        if name not in files:
            raise CasefinderError(f"no sql file {name}.sql")
        if name in wanted:
            continue
        wanted.add(name)
        stack.extend(d for d in deps[name] if layer is None or files[d].path.parent.name == layer)
    sorter: TopologicalSorter[str] = TopologicalSorter({n: deps[n] & wanted for n in wanted})
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise CasefinderError(f"sql files read each other in a cycle: {cycle}") from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


def model_order(
    targets: Iterable[str], layer: str, files: Mapping[str, SqlFile] | None = None
) -> list[str]:
    """The model (select) files of folder `layer` that make `targets`, in build order."""
    files = sql_files() if files is None else files
    return [n for n in build_order(targets, layer, files) if not files[n].is_ddl]


def layer_models(layer: str, files: Mapping[str, SqlFile] | None = None) -> list[str]:
    """Every model (select) file of folder `layer` of `sql/`, in build order."""
    files = sql_files() if files is None else files
    names = [n for n, f in files.items() if f.path.parent.name == layer and not f.is_ddl]
    return model_order(names, layer, files)


def apply_ddl(con: duckdb.DuckDBPyConnection, names: Iterable[str]) -> None:
    """Run DDL files of `sql/` (`create table if not exists ...`, macros), with every DDL
    file they read first (a macro reading a table, a table made `as select` from another)."""
    files = sql_files()
    for name in build_order(names):
        if files[name].is_ddl:
            con.execute(files[name].path.read_text(encoding="utf-8"))


def apply_layer_ddl(con: duckdb.DuckDBPyConnection, folder: str) -> None:
    """Run every DDL file of one folder of `sql/` (and the DDL files they read)."""
    apply_ddl(con, [n for n, f in sql_files().items() if f.is_ddl and f.path.parent.name == folder])


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    """Whether the table `schema.name` exists on this connection."""
    row = _first(
        con.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
            [schema, name],
        )
    )
    return bool(row and row[0])


def sql_path(name: str) -> Path:
    """The file of a model: `core_patients` -> `sql/core/core_patients.sql`."""
    found = sql_files().get(name)
    if found is None:
        raise FileNotFoundError(f"expected exactly one sql/*/{name}.sql, found 0")
    return found.path


def read_sql(name: str) -> str:
    """The text of a model file, by table name."""
    return sql_path(name).read_text(encoding="utf-8")


# A select list a model leaves to its declaration: a line holding only `{{ name }}`, or
# `{{ name: template }}` to write the template once per item (`{field}` = the item's field).
_SELECT_LIST = re.compile(r"^([ \t]*)\{\{ *([a-z_]+) *(?:: *(.*?))? *\}\}[ \t]*$", re.MULTILINE)


def fill_select_lists(sql: str, select_lists: Mapping[str, Sequence[Any]] | None) -> str:
    """`sql` with each `{{ name }}` line replaced by the items of `select_lists[name]`, one a
    line at the placeholder's indent, each followed by a comma (the house style's trailing
    commas). In `{{ name: template }}` the items are mappings, each written as
    `template.format_map(item)`.

    Raises:
        ValueError: a placeholder without a list, or a list without its placeholder.
    """
    given = dict(select_lists or {})
    wanted = {m.group(2) for m in _SELECT_LIST.finditer(sql)}
    if wanted != set(given):
        raise ValueError(
            f"select lists {sorted(wanted)} in the SQL, {sorted(given)} given: they must match"
        )

    def fill(match: re.Match[str]) -> str:
        indent, name, template = match.groups()
        items = [template.format_map(i) if template else i for i in given[name]]
        return "\n".join(f"{indent}{item}," for item in items)

    return _SELECT_LIST.sub(fill, sql)


def bind_used(sql: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keep only the parameters the statement names (`$as_of`); DuckDB rejects extra ones."""
    wanted = set(_PARAM.findall(_strip_comments(sql)))
    missing = wanted - set(params or {})
    if missing:
        raise ValueError(f"SQL needs parameters {sorted(missing)}")
    return {k: v for k, v in (params or {}).items() if k in wanted}


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def build_model(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, Any] | None = None,
    table: str | None = None,
    select_lists: Mapping[str, Sequence[Any]] | None = None,
) -> int:
    """Materialise `sql/<layer>/<name>.sql` as table `<layer>.<name>` (or `<layer>.<table>`);
    return its row count.

    The file holds one `select` (import CTEs, logical CTEs, `select ... from final`);
    parameters such as `$as_of` are bound, never formatted in. A select list declared
    elsewhere (`{{ name }}` in the file) is filled from `select_lists` (`fill_select_lists`).
    """
    path = sql_path(name)
    schema = path.parent.name
    target = f"{schema}.{table or name}"
    sql = fill_select_lists(path.read_text(encoding="utf-8"), select_lists).rstrip().rstrip(";")
    con.execute(f"create or replace table {target} as\n{sql}", bind_used(sql, params))
    count = _first(con.execute(f"select count(*) from {target}"))
    return int(count[0]) if count else 0


def query_model(
    con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any] | None = None
) -> duckdb.DuckDBPyRelation:
    """Run a model's select without materialising it (for small lookups and exports)."""
    sql = read_sql(name).rstrip().rstrip(";")
    return con.sql(sql, params=bind_used(sql, params))


# --- pseudonymisation --------------------------------------------------------------------


def load_or_create_key(key_file: Path, key_hex: str | None = None) -> bytes:
    """The HMAC key: from the setting when given, else the key file (created 0600 on first use).

    The file is written to a temporary name and linked into place, so a crash never leaves an
    empty or partial key file, and two processes starting at once end up with the same key.
    A key file that is unreadable, not hexadecimal or shorter than 16 bytes is refused.
    """
    if key_hex:
        return _parse_key(key_hex.strip(), "CASEFINDER_PSEUDONYM_KEY")
    key_file = Path(key_file)
    if key_file.exists():
        return _read_key_file(key_file)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, key_file)  # atomic, and fails when another process won the race
        except FileExistsError:
            return _read_key_file(key_file)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("created a new pseudonymisation key file (0600)")
    return key


@contextmanager
def connect_with_key(
    path: Path | str, key_file: Path, key_hex: str | None = None
) -> Iterator[tuple[duckdb.DuckDBPyConnection, bytes]]:
    """Open the warehouse read-write, then load the pseudonymisation key (`load_or_create_key`).

    A key given as a setting is checked first (a bad setting touches nothing); then the
    warehouse's checks (openable, not locked, a DuckDB file of a known schema version), so a
    refused warehouse never leaves a new key file behind.
    """
    if key_hex:
        _parse_key(key_hex.strip(), "CASEFINDER_PSEUDONYM_KEY")
    con = connect(path)
    try:
        key = load_or_create_key(key_file, key_hex)
        yield con, key
    finally:
        con.close()


def _parse_key(text: str, source: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise CasefinderError(f"{source} is not hexadecimal") from None
    if len(key) < 16:
        raise CasefinderError(f"{source} must be at least 16 bytes (32 hex)")
    return key


def _read_key_file(key_file: Path) -> bytes:
    try:
        text = key_file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise CasefinderError(f"key file {key_file} cannot be read: {type(exc).__name__}") from None
    if key_file.stat().st_mode & 0o077:
        log.warning("key file %s is readable by other users; chmod 600 it", key_file.name)
    return _parse_key(text.strip(), f"key file {key_file}")


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible fingerprint to tell keys apart in audit records."""
    return hashlib.sha256(b"casefinder-key-fingerprint" + key).hexdigest()[:12]


def install_pseudonym_macro(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Define `patient_id(nhs_number)` = HMAC-SHA256(key, nhs_number) as 32 hex characters.

    The key's pads sit in a temporary table (bound, not formatted into SQL); the macro reads
    them, so SQL in `sql/` can call `patient_id(nhs_number)` directly.
    """
    _check_key_fingerprint(con, key)
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    block = key.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in block)
    opad = bytes(b ^ 0x5C for b in block)
    con.execute("create or replace temp table pseudonym_pads (ipad blob, opad blob)")
    con.execute("insert into pseudonym_pads values (?, ?)", [ipad, opad])
    con.execute(
        "create or replace temp macro patient_id(nhs) as ("
        " select substr(sha256(opad || unhex(sha256(ipad || encode(nhs)))), 1, 32)"
        " from pseudonym_pads)"
    )


def _check_key_fingerprint(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """One key per warehouse: record the key's fingerprint on first use, refuse another key.

    A lost or replaced key file would otherwise be recreated silently, and the same patient
    would get a new `patient_id` (list changes, score history and caseload links would break:
    hazard H1). Connections without `audit.warehouse_meta` (in-memory tests) are not checked.
    """
    exists = _first(
        con.execute(
            "select count(*) from duckdb_tables()"
            " where schema_name = 'audit' and table_name = 'warehouse_meta' and not temporary"
        )
    )
    if not exists or not exists[0]:
        return
    fingerprint = key_fingerprint(key)
    row = _first(
        con.execute("select value from audit.warehouse_meta where key = 'key_fingerprint'")
    )
    if row is None:
        con.execute("insert into audit.warehouse_meta values ('key_fingerprint', ?)", [fingerprint])
    elif row[0] != fingerprint:
        raise CasefinderError(
            f"the pseudonymisation key (fingerprint {fingerprint}) is not the one this warehouse "
            f"was built with ({row[0]}); restore the original key file or "
            "CASEFINDER_PSEUDONYM_KEY, or use a new warehouse"
        )


def patient_id_of(key: bytes, nhs_number: str) -> str:
    """The same pseudonym as the SQL macro, in Python (for tests and `explain`)."""
    return hmac.new(key, nhs_number.encode(), hashlib.sha256).hexdigest()[:32]


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run a block in one transaction: all of it lands, or none of it."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
