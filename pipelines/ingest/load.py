"""Loading one extract set into the warehouse in one transaction: raw, quarantine, core, audit."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from foundation import contract
from foundation.audit import find_snapshot, latest_snapshot
from foundation.errors import ExtractError
from foundation.warehouse import (
    build_model,
    dependencies,
    install_pseudonym_macro,
    layer_models,
    sql_files,
    transaction,
)
from pipelines.ingest.extracts import ExtractFileInfo, ExtractSet
from pipelines.ingest.land import drop_staged, ensure_tables, land_file, rows_view, stage_empty
from pipelines.ingest.quarantine import (
    FileCounts,
    accepted_view,
    count_load,
    create_accepted_view,
    find_duplicates,
    find_failures,
    write_quarantine,
)
from pipelines.ingest.rules import install_macros, known_values, rules_for
from pipelines.ingest.store import refresh_raw_view, store_dir

log = logging.getLogger("casefinder.ingest")

# Reference files first: the referential rules of later files read their loads; then
# acute_spells, which `core_patients` reads with gp_patients (so both are let go early).
LOAD_ORDER = ("practices", "lsoa_imd", "gp_patients", "acute_spells")

# Every `sql/core` model, each after the core tables it reads (from the files themselves).
CORE_TABLES = tuple(layer_models("core"))

# DuckDB may use this much memory before spilling to disk (the 1M benchmark's budget is 6 GB).
MEMORY_LIMIT = "4GB"


class ReconciliationError(RuntimeError):
    """read != loaded + quarantined + duplicates for a file: a bug, never bad input."""


@dataclass(frozen=True)
class LoadResult:
    """What a load did, as counts and ids only (no identifiers)."""

    snapshot_id: int
    extract_date: date
    already_loaded: bool
    files: dict[str, FileCounts] = field(default_factory=dict)
    core_rows: dict[str, int] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _ordered(files: tuple[ExtractFileInfo, ...]) -> list[ExtractFileInfo]:
    rank = {name: i for i, name in enumerate(LOAD_ORDER)}
    return sorted(
        files, key=lambda f: (rank.get(f.name, len(rank)), list(contract.FILES).index(f.name))
    )


def _next_id(con: duckdb.DuckDBPyConnection, table: str, column: str) -> int:
    row = con.execute(f"select coalesce(max({column}), 0) + 1 from {table}").fetchone()
    return int(row[0]) if row else 1


def check_fatal(info: ExtractFileInfo, read: int, landed: int) -> None:
    """Stop the run for a truncated file or an unreadable one.

    A file with its header and no data rows is present and valid (EXTRACTS.md 1.1), unless
    its control total in manifest.json says it should hold rows: then it is truncated.
    """
    name = info.path.name
    if info.control_total is not None and read < info.control_total:
        raise ExtractError(
            f"{name} has {read} data rows, fewer than its control total of "
            f"{info.control_total} in manifest.json (truncated?)"
        )
    if read > 0 and landed == 0:
        raise ExtractError(f"{name} is unreadable: no line parses as CSV for its header")
    if read == 0:
        log.warning("%s has a header and no data rows: present and valid (zero rows)", name)


def load_file(
    con: duckdb.DuckDBPyConnection,
    info: ExtractFileInfo,
    snapshot_id: int,
    as_of: date,
    load_ids: dict[str, int],
    store: Path | None,
) -> FileCounts:
    """Keep, stage, check, quarantine and count one file; record it in `audit.loads`.

    The file's staged rows stay (`_cf_rows_<file>`, `_cf_accepted_<file>`) for `sql/core`.
    """
    started = _now()
    load_id = _next_id(con, "audit.loads", "load_id")
    # Reserve the id first so referential rules can name this load.
    con.execute(
        "insert into audit.loads (load_id, snapshot_id, file, format, sha256, started_at, "
        "status, source_file, extra_columns) values (?, ?, ?, ?, ?, ?, 'loading', ?, ?)",
        [
            load_id,
            snapshot_id,
            info.name,
            info.format,
            info.sha256,
            started,
            info.path.name,
            list(info.extra_columns),
        ],
    )
    # The file's rules read the loads of the files before it only (`rules_for`).
    rules = rules_for(info.spec, as_of, load_ids)
    landed = land_file(con, info, load_id, store, rules)
    check_fatal(info, landed.rows_read, landed.rows_landed)
    known_values(con, info.name, rows_view(info.name))
    load_ids[info.name] = load_id
    find_duplicates(con, info.name)
    failing = find_failures(con, info.name, rules)
    if rules:
        con.executemany(
            "insert into audit.rule_counts values (?, ?, ?, ?, ?, ?)",
            [[load_id, info.name, r.name, r.column, r.expectation, failing[r.name]] for r in rules],
        )
    write_quarantine(con, info.name, load_id, rules, landed)
    create_accepted_view(con, info.name, load_id)
    counts = count_load(con, info.name, load_id, landed)
    if not counts.reconciles:
        raise ReconciliationError(
            f"{info.path.name}: read {counts.read} != loaded {counts.loaded} + quarantined "
            f"{counts.quarantined} + duplicates {counts.duplicates}"
        )
    con.execute(
        "update audit.loads set rows_read = ?, rows_loaded = ?, rows_quarantined = ?, "
        "rows_duplicate = ?, ended_at = ?, status = 'loaded', raw_query = ? where load_id = ?",
        [
            counts.read,
            counts.loaded,
            counts.quarantined,
            counts.duplicates,
            _now(),
            landed.raw_query,
            load_id,
        ],
    )
    log.info(
        "%s: read %d, loaded %d, quarantined %d, duplicates %d",
        info.path.name,
        counts.read,
        counts.loaded,
        counts.quarantined,
        counts.duplicates,
    )
    return counts


_ACCEPTED_CALL = re.compile(r"raw\.accepted_(?:patient_)?rows\(\s*'([a-z_]+)'\s*\)")


def core_inputs() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Each `core` model's extract files and the `core` models it reads, from its SQL."""
    files = sql_files()
    deps = dependencies(files)
    return {
        name: (
            frozenset(_ACCEPTED_CALL.findall(files[name].path.read_text(encoding="utf-8"))),
            frozenset(d for d in deps[name] if d in CORE_TABLES),
        )
        for name in CORE_TABLES
    }


def core_source_files() -> dict[str, str]:
    """Each `core` model's main extract file: the first it reads (its rows are the table's)."""
    files = sql_files()
    return {
        name: found[0]
        for name in CORE_TABLES
        if (found := _ACCEPTED_CALL.findall(files[name].path.read_text(encoding="utf-8")))
    }


class CoreBuilder:
    """Builds each `core` table as soon as the files it reads are staged, then lets go of
    their staged rows (so at most a few files' rows are held at once)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, snapshot_id: int, key: bytes) -> None:
        install_pseudonym_macro(con, key)
        self.con = con
        self.params = {
            "snapshot_id": snapshot_id,
            "emergency_admission_methods": list(contract.EMERGENCY_ADMISSION_METHODS),
            "elective_admission_methods": list(contract.ELECTIVE_ADMISSION_METHODS),
            "died_discharge_destination": contract.DIED_DISCHARGE_DESTINATION,
        }
        self.inputs = core_inputs()
        self.staged: set[str] = set()
        self.rows: dict[str, int] = {}
        con.execute(
            f"create or replace temp table {PSEUDONYMS} "
            "(nhs_number_digits varchar, patient_id varchar)"
        )

    def file_ready(self, file: str) -> None:
        """Note one file staged (or absent), build what can be built, drop what is done."""
        self.staged.add(file)
        if "nhs_number" in contract.FILES[file].column_names:
            keep_pseudonyms(self.con, file)
        for name in CORE_TABLES:
            files, models = self.inputs[name]
            if name not in self.rows and files <= self.staged and models <= self.rows.keys():
                self.rows[name] = build_model(self.con, name, self.params)
        for staged in list(self.staged):
            if all(
                name in self.rows for name, (files, _m) in self.inputs.items() if staged in files
            ):
                drop_staged(self.con, staged)


# The load's pseudonyms, one per distinct NHS number of its accepted rows (what
# `raw.accepted_patient_rows` joins to).
PSEUDONYMS = "_cf_pseudonyms"


def keep_pseudonyms(con: duckdb.DuckDBPyConnection, file: str) -> None:
    """Add the pseudonyms of one staged file's accepted NHS numbers not kept yet: the HMAC of
    a number is computed once per load, not once per file naming it (GP events, medications,
    spells and contacts name mostly the same patients)."""
    con.execute(
        f"insert into {PSEUDONYMS} select digits, patient_id(digits) from ("
        f"select distinct nhs_number__digits as digits from {accepted_view(file)} "
        "where nhs_number__digits is not null) "
        f"anti join {PSEUDONYMS} kept on kept.nhs_number_digits = digits"
    )


def build_core(con: duckdb.DuckDBPyConnection, snapshot_id: int, key: bytes) -> dict[str, int]:
    """(Re)build every `core` table from files staged on this connection; a file not staged
    gives empty tables (what the test helpers use to make `core`'s columns)."""
    builder = CoreBuilder(con, snapshot_id, key)
    for file in contract.FILES:
        if not _is_staged(con, file):
            _stage_absent(con, file)
        builder.file_ready(file)
    return builder.rows


def _stage_absent(con: duckdb.DuckDBPyConnection, file: str) -> None:
    """No rows for a file the set does not have: its `core` tables come out empty."""
    stage_empty(con, file)
    create_accepted_view(con, file, 0)


def _is_staged(con: duckdb.DuckDBPyConnection, file: str) -> bool:
    found = con.execute(
        "select count(*) from duckdb_views() where temporary and view_name = ?",
        [f"_cf_accepted_{file}"],
    ).fetchone()
    return bool(found and found[0])


def prepare_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """Memory budget, ingest tables and parsing macros (idempotent)."""
    con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
    con.execute("set preserve_insertion_order = true")
    con.execute("set enable_progress_bar = false")
    ensure_tables(con)
    install_macros(con)


def begin_snapshot(con: duckdb.DuckDBPyConnection, extract_set: ExtractSet) -> int:
    """Record a new snapshot of `extract_set` (status `loading`) and return its id."""
    snapshot_id = _next_id(con, "audit.snapshots", "snapshot_id")
    con.execute(
        "insert into audit.snapshots values (?, ?, ?, ?, ?, 'loading')",
        [
            snapshot_id,
            extract_set.directory.resolve().name,
            extract_set.as_of,
            _now(),
            extract_set.manifest_sha256,
        ],
    )
    return snapshot_id


def load_files(
    con: duckdb.DuckDBPyConnection,
    extract_set: ExtractSet,
    snapshot_id: int,
    fatal: dict[str, str] | None = None,
    core: CoreBuilder | None = None,
    store: Path | None = None,
) -> dict[str, FileCounts]:
    """Load every file of the set into one snapshot, reference files first.

    With `core`, each `core` table is built as soon as the files it reads are loaded; else
    each file's staged rows are let go once it is counted. A fatal problem of a file
    (truncated, unreadable) raises `ExtractError`; with `fatal` (what `casefinder check`
    passes) it is recorded there under the file's name instead and the other files are still
    loaded, so that one report names every file that would stop a run. Only a connection
    that is thrown away afterwards may be used that way. Files are kept in `store` (the raw
    store) and `raw` views are made over them; without one, files are read where they are.
    """
    load_ids: dict[str, int] = {}
    files: dict[str, FileCounts] = {}
    for info in _ordered(extract_set.files):
        try:
            files[info.name] = load_file(con, info, snapshot_id, extract_set.as_of, load_ids, store)
        except ExtractError as exc:
            if fatal is None:
                raise
            fatal[info.name] = str(exc)
        if core is not None:
            core.file_ready(info.name)
        else:
            drop_staged(con, info.name)
    present = {info.name for info in extract_set.files}
    if core is not None:
        for file in contract.FILES:
            if file not in present:
                _stage_absent(con, file)
                core.file_ready(file)
    if store is not None:
        for file in sorted(present & files.keys()):
            refresh_raw_view(con, file)
    return files


def is_latest(con: duckdb.DuckDBPyConnection, as_of: date) -> bool:
    """Whether a new snapshot of `as_of` would be the latest (by extract date, then id)."""
    latest = latest_snapshot(con)
    return latest is None or as_of >= latest[1]


def load_extract_set(
    con: duckdb.DuckDBPyConnection, extract_set: ExtractSet, key: bytes
) -> LoadResult:
    """Load a discovered extract set as a new snapshot, all in one transaction.

    The same files again (same checksums) change nothing. `core` is rebuilt when the new
    snapshot is the latest (by extract date, then snapshot id), each table as soon as the
    files it reads are loaded.
    """
    prepare_warehouse(con)
    existing = find_snapshot(con, extract_set.fingerprint(), extract_set.as_of)
    if existing is not None:
        snapshot_id, extract_date = existing
        log.info("extract set already loaded as snapshot %d: nothing to do", snapshot_id)
        return LoadResult(snapshot_id, extract_date, already_loaded=True)
    with transaction(con):
        latest = is_latest(con, extract_set.as_of)
        snapshot_id = begin_snapshot(con, extract_set)
        core = CoreBuilder(con, snapshot_id, key) if latest else None
        files = load_files(con, extract_set, snapshot_id, core=core, store=store_dir(con))
        con.execute(
            "update audit.snapshots set status = 'loaded' where snapshot_id = ?", [snapshot_id]
        )
        if core is None:
            log.info("snapshot %d is older than the latest: core left as it was", snapshot_id)
    return LoadResult(snapshot_id, extract_set.as_of, False, files, dict(core.rows) if core else {})
