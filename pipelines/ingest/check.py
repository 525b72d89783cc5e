"""Checking an extract set with ingest's own loading and rules, in memory: no warehouse."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from foundation.contract import CONTRACT_VERSION
from foundation.warehouse import ensure_layers
from pipelines.ingest.extracts import ExtractFileInfo, discover
from pipelines.ingest.load import begin_snapshot, load_files, prepare_warehouse
from pipelines.ingest.quarantine import FileCounts
from pipelines.ingest.rejections import FileRejections, RuleFailure, file_rejections

# What the line of a file that would stop a run says happens next.
RUN_WOULD_STOP = "a run would stop before anything is trained, scored or published"


@dataclass(frozen=True)
class FileCheck:
    """What loading one file would do: counts, failed rules, control total, the stop."""

    file: str
    source_file: str
    format: str
    read: int | None
    loaded: int | None
    quarantined: int | None
    duplicates: int | None
    control_total: int | None
    extra_columns: tuple[str, ...]
    failures: tuple[RuleFailure, ...]
    stop: str | None

    @property
    def header_only(self) -> bool:
        """A file with its header and no data rows (present and valid)."""
        return self.read == 0

    def as_dict(self) -> dict[str, Any]:
        """The file's entry in `check --format json` (counts, rules, no identifiers)."""
        return {
            "source_file": self.source_file,
            "format": self.format,
            "read": self.read,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
            "control_total": self.control_total,
            "header_only": self.header_only,
            "extra_columns": list(self.extra_columns),
            "rules_failed": [
                {
                    "rule": f.rule,
                    "column": f.column,
                    "reason": f.reason,
                    "rows": f.rows,
                    "example": f.example,
                }
                for f in self.failures
            ],
            "stops_run": self.stop is not None,
            "stop": self.stop,
        }


@dataclass(frozen=True)
class CheckReport:
    """An extract set checked against the contract: every file, and what would stop a run."""

    extracts: str
    as_of: date
    max_rejected_share: float
    files: tuple[FileCheck, ...]

    @property
    def stops(self) -> list[str]:
        """One line per file that would stop a run, in load order."""
        return [f.stop for f in self.files if f.stop is not None]

    def as_dict(self) -> dict[str, Any]:
        """`check --format json`: the report as data."""
        return {
            "extracts": self.extracts,
            "as_of": self.as_of.isoformat(),
            "contract_version": CONTRACT_VERSION,
            "max_rejected_share": self.max_rejected_share,
            "would_run": not self.stops,
            "files": {f.file: f.as_dict() for f in self.files},
            "stops": self.stops,
        }


def check_extract_set(
    directory: Path, as_of: date | None, max_rejected_share: float
) -> CheckReport:
    """Load the extract set as `ingest` would, into an in-memory DuckDB thrown away after.

    A problem with the set as a whole (a missing file or column, no as-of date) raises
    `ExtractError` as ingest does; a problem of one file (truncated, unreadable, mostly
    rejected) is reported against that file and the other files are still checked.
    """
    extract_set = discover(directory, as_of)
    fatal: dict[str, str] = {}
    # DuckDB spills to a scratch folder of its own, removed with the connection.
    with tempfile.TemporaryDirectory(prefix="casefinder-check-") as scratch:
        con = duckdb.connect(":memory:", config={"temp_directory": scratch})
        try:
            ensure_layers(con)
            prepare_warehouse(con)
            snapshot_id = begin_snapshot(con, extract_set)
            counts = load_files(con, extract_set, snapshot_id, fatal=fatal)
            rejected = file_rejections(con, snapshot_id)
        finally:
            con.close()
    files = []
    for info in extract_set.files:
        loaded = counts.get(info.name)
        rejections = rejected.get(info.name)
        stop = fatal.get(info.name)
        if stop is None and rejections is not None and rejections.stops(max_rejected_share):
            stop = rejections.stop_line(max_rejected_share, RUN_WOULD_STOP)
        files.append(_file_check(info, loaded, rejections, stop))
    return CheckReport(
        extracts=extract_set.directory.resolve().name,
        as_of=extract_set.as_of,
        max_rejected_share=max_rejected_share,
        files=tuple(files),
    )


def _file_check(
    info: ExtractFileInfo,
    counts: FileCounts | None,
    rejections: FileRejections | None,
    stop: str | None,
) -> FileCheck:
    return FileCheck(
        file=info.name,
        source_file=info.path.name,
        format=info.format,
        read=counts.read if counts else None,
        loaded=counts.loaded if counts else None,
        quarantined=counts.quarantined if counts else None,
        duplicates=counts.duplicates if counts else None,
        control_total=info.control_total,
        extra_columns=tuple(info.extra_columns),
        failures=rejections.failures if rejections else (),
        stop=stop,
    )
