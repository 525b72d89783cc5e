"""Prefect flow `ingest`: discover, load in one transaction, validate with GX (wiring only)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from foundation import audit as summary_mod
from foundation.errors import ExtractError
from foundation.settings import DEFAULT_MAX_REJECTED_SHARE, key_path_for
from foundation.warehouse import connect, connect_with_key
from pipelines.ingest import extracts as extracts_mod
from pipelines.ingest import load as load_mod
from pipelines.ingest import rejections as rejections_mod
from pipelines.ingest import validation as validation_mod


@task(name="discover-extracts", cache_policy=NO_CACHE)
def discover_extracts(extracts: Path, as_of: date | None) -> extracts_mod.ExtractSet:
    """Find the files, read the manifest and headers; fatal problems stop the run here."""
    return extracts_mod.discover(extracts, as_of)


@task(name="load-extract-set", cache_policy=NO_CACHE)
def load_extract_set(
    extract_set: extracts_mod.ExtractSet,
    warehouse: Path,
    key_file: Path | None,
    pseudonym_key: SecretStr | None,
) -> load_mod.LoadResult:
    """Land, check, quarantine, build `core` and audit, all in one transaction."""
    key_hex = pseudonym_key.get_secret_value() if pseudonym_key else None
    # The key is created only once the warehouse has passed its checks.
    with connect_with_key(warehouse, key_path_for(warehouse, key_file), key_hex) as (con, key):
        return load_mod.load_extract_set(con, extract_set, key)


@task(name="validate-with-gx", cache_policy=NO_CACHE)
def validate_with_gx(
    warehouse: Path, snapshot_id: int, as_of: date, docs_dir: Path
) -> validation_mod.ValidationReport:
    """Run the GX suites over the snapshot's raw rows and write Data Docs."""
    return validation_mod.validate_snapshot(warehouse, snapshot_id, as_of, docs_dir)


@task(name="summarise-load", cache_policy=NO_CACHE)
def summarise_load(warehouse: Path, snapshot_id: int) -> dict[str, Any]:
    """The `extracts` block of run_summary.json, and quarantine counts per rule."""
    with connect(warehouse, read_only=True) as con:
        return {
            "extracts": summary_mod.extracts_summary(con, snapshot_id),
            "quarantine_by_rule": summary_mod.quarantine_by_rule(con, snapshot_id),
        }


# What the line of a mostly-rejected file says happens next.
RUN_STOPS = (
    "the run stops before anything is trained, scored or published "
    "(the rows and their reasons are in quarantine.rejected_rows; "
    "limit: CASEFINDER_MAX_REJECTED_SHARE)"
)


@task(name="stop-if-mostly-rejected", cache_policy=NO_CACHE)
def stop_if_mostly_rejected(warehouse: Path, snapshot_id: int, share: float) -> None:
    """Stop the run when more than `share` of a file's rows were quarantined; what was
    loaded and quarantined stays in the warehouse."""
    with connect(warehouse, read_only=True) as con:
        stopping = rejections_mod.mostly_rejected(con, snapshot_id, share)
    if stopping:
        raise ExtractError(rejections_mod.stop_message(stopping, share, RUN_STOPS))


def default_docs_dir(warehouse: Path, as_of: date) -> Path:
    """Where Data Docs go when ingest runs alone: `reports/<as_of>/` beside the warehouse."""
    return Path(warehouse).resolve().parent / "reports" / as_of.isoformat()


@flow(name="ingest")
def ingest(
    extracts: Path,
    warehouse: Path,
    as_of: date | None = None,
    docs_dir: Path | None = None,
    max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE,
    key_file: Path | None = None,
    pseudonym_key: SecretStr | None = None,
) -> dict[str, Any]:
    """Load one extract set into the warehouse; return counts and ids only (no identifiers).

    A file with more than `max_rejected_share` of its rows quarantined (the caller's setting
    CASEFINDER_MAX_REJECTED_SHARE) stops the flow once the set is loaded and validated:
    `ExtractError`, one line. The pseudonymisation key is `pseudonym_key`, else the file
    `key_file`, else `casefinder.key` beside the warehouse (created on first use).
    """
    extract_set = discover_extracts(extracts, as_of)
    result = load_extract_set(extract_set, warehouse, key_file, pseudonym_key)
    report = validate_with_gx(
        warehouse,
        result.snapshot_id,
        result.extract_date,
        docs_dir or default_docs_dir(warehouse, extract_set.as_of),
    )
    summary = summarise_load(warehouse, result.snapshot_id)
    stop_if_mostly_rejected(warehouse, result.snapshot_id, max_rejected_share)
    return {
        "snapshot_id": result.snapshot_id,
        "as_of": result.extract_date.isoformat(),
        "already_loaded": result.already_loaded,
        "core_rows": result.core_rows,
        "data_docs": str(report.docs_index) if report.docs_index else None,
        "validation_mismatches": list(report.mismatches),
        **summary,
    }
