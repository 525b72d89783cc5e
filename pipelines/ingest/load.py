"""Loading one extract set into the warehouse in one transaction: raw, quarantine, core, audit."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb

from foundation import contract
from foundation.audit import find_snapshot, latest_snapshot
from foundation.errors import ExtractError
from foundation.warehouse import build_model, install_pseudonym_macro, layer_models, transaction
from pipelines.ingest.extracts import ExtractFileInfo, ExtractSet
from pipelines.ingest.land import ensure_tables, land_file
from pipelines.ingest.quarantine import (
    FileCounts,
    count_load,
    find_duplicates,
    find_failures,
    write_quarantine,
)
from pipelines.ingest.rules import install_macros, rules_for

log = logging.getLogger("casefinder.ingest")

# Reference files first: the referential rules of later files read their loads.
LOAD_ORDER = ("practices", "lsoa_imd", "gp_patients")

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
) -> FileCounts:
    """Land, check, quarantine and count one file; record it in `audit.loads`."""
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
    landed = land_file(con, info, load_id)
    check_fatal(info, landed.rows_read, landed.rows_landed)
    load_ids[info.name] = load_id
    rules = rules_for(info.spec, as_of, load_ids)
    failing = find_failures(con, info.name, load_id, rules)
    if rules:
        con.executemany(
            "insert into audit.rule_counts values (?, ?, ?, ?, ?, ?)",
            [[load_id, info.name, r.name, r.column, r.expectation, failing[r.name]] for r in rules],
        )
    find_duplicates(con, info.name, load_id)
    write_quarantine(con, info.name, load_id, rules, landed)
    counts = count_load(con, info.name, load_id, landed)
    if not counts.reconciles:
        raise ReconciliationError(
            f"{info.path.name}: read {counts.read} != loaded {counts.loaded} + quarantined "
            f"{counts.quarantined} + duplicates {counts.duplicates}"
        )
    con.execute(
        "update audit.loads set rows_read = ?, rows_loaded = ?, rows_quarantined = ?, "
        "rows_duplicate = ?, ended_at = ?, status = 'loaded' where load_id = ?",
        [counts.read, counts.loaded, counts.quarantined, counts.duplicates, _now(), load_id],
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


def build_core(con: duckdb.DuckDBPyConnection, snapshot_id: int, key: bytes) -> dict[str, int]:
    """(Re)build every `core` table from one snapshot; return row counts."""
    install_pseudonym_macro(con, key)
    params = {
        "snapshot_id": snapshot_id,
        "emergency_admission_methods": list(contract.EMERGENCY_ADMISSION_METHODS),
        "elective_admission_methods": list(contract.ELECTIVE_ADMISSION_METHODS),
        "died_discharge_destination": contract.DIED_DISCHARGE_DESTINATION,
    }
    return {name: build_model(con, name, params) for name in CORE_TABLES}


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
) -> dict[str, FileCounts]:
    """Load every file of the set into one snapshot, reference files first.

    A fatal problem of a file (truncated, unreadable) raises `ExtractError`; with `fatal`
    (what `casefinder check` passes) it is recorded there under the file's name instead and
    the other files are still loaded, so that one report names every file that would stop a
    run. Only a connection that is thrown away afterwards may be used that way.
    """
    load_ids: dict[str, int] = {}
    files: dict[str, FileCounts] = {}
    for info in _ordered(extract_set.files):
        try:
            files[info.name] = load_file(con, info, snapshot_id, extract_set.as_of, load_ids)
        except ExtractError as exc:
            if fatal is None:
                raise
            fatal[info.name] = str(exc)
    return files


def load_extract_set(
    con: duckdb.DuckDBPyConnection, extract_set: ExtractSet, key: bytes
) -> LoadResult:
    """Load a discovered extract set as a new snapshot, all in one transaction.

    The same files again (same checksums) change nothing. `core` is rebuilt when the new
    snapshot is the latest (by extract date, then snapshot id).
    """
    prepare_warehouse(con)
    existing = find_snapshot(con, extract_set.fingerprint(), extract_set.as_of)
    if existing is not None:
        snapshot_id, extract_date = existing
        log.info("extract set already loaded as snapshot %d: nothing to do", snapshot_id)
        return LoadResult(snapshot_id, extract_date, already_loaded=True)
    with transaction(con):
        snapshot_id = begin_snapshot(con, extract_set)
        files = load_files(con, extract_set, snapshot_id)
        con.execute(
            "update audit.snapshots set status = 'loaded' where snapshot_id = ?", [snapshot_id]
        )
        core_rows: dict[str, int] = {}
        latest = latest_snapshot(con)
        if latest is not None and latest[0] == snapshot_id:
            core_rows = build_core(con, snapshot_id, key)
        else:
            log.info("snapshot %d is older than the latest: core left as it was", snapshot_id)
    return LoadResult(snapshot_id, extract_set.as_of, False, files, core_rows)
