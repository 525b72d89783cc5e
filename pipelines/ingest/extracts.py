"""Finding an extract set's files, reading its manifest and headers, and the fatal checks."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from foundation.contract import FILES, MANIFEST_NAME, ExtractFile
from foundation.errors import ExtractError
from foundation.provenance import sha256_file

log = logging.getLogger("casefinder.ingest")

_HEADER_BYTES = 1 << 20  # a header line longer than 1 MiB is not a header
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class ExtractFileInfo:
    """One file of the set as found on disk: where, which format, checksum and header mapping.

    `columns` maps each contract column present to the file's position (CSV) or name
    (Parquet); `extra_columns` are header names the contract does not know (ignored).
    """

    name: str
    path: Path
    format: str
    sha256: str
    columns: dict[str, str | int]
    extra_columns: tuple[str, ...] = ()
    control_total: int | None = None
    source_types: dict[str, str] = field(default_factory=dict)
    bare_carriage_returns: bool = False  # a CSV with a CR that does not end a line
    original_name: str = ""  # the file's name in the extract set, once read from a copy

    @property
    def source_name(self) -> str:
        """The file's name as the extract set has it (what messages and the audit name)."""
        return self.original_name or self.path.name

    @property
    def spec(self) -> ExtractFile:
        return FILES[self.name]


@dataclass(frozen=True)
class ExtractSet:
    """An extract set ready to load: its files (contract order), as-of date and manifest."""

    directory: Path
    as_of: date
    files: tuple[ExtractFileInfo, ...]
    manifest_sha256: str | None

    def fingerprint(self) -> tuple[tuple[str, str], ...]:
        """What identifies the set for idempotency: each file's name and checksum."""
        return tuple(sorted((f.name, f.sha256) for f in self.files))


def read_manifest(directory: Path) -> tuple[dict, str | None]:
    """The parsed `manifest.json` (empty when absent) and its checksum."""
    path = directory / MANIFEST_NAME
    if not path.exists():
        return {}, None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExtractError(f"{path.name} in {directory} is not valid JSON ({exc.msg})") from None
    if not isinstance(manifest, dict):
        raise ExtractError(f"{path.name} in {directory} must hold a JSON object")
    return manifest, sha256_file(path)


def resolve_as_of(manifest: dict, as_of: date | None, directory: Path) -> date:
    """`--as-of` when given, else the manifest's `extract_date`; neither is a fatal error.

    An as-of after the manifest's `extract_date` is refused: nobody can know who is in
    hospital on a day the data has not reached (OUTPUTS.md, "Command line").
    """
    raw = manifest.get("extract_date")
    if raw is None:
        if as_of is not None:
            return as_of
        raise ExtractError(
            f"no as-of date: {directory} has no {MANIFEST_NAME} with extract_date; "
            "give --as-of YYYY-MM-DD"
        )
    try:
        extract_date = date.fromisoformat(str(raw))
    except ValueError:
        raise ExtractError(
            f"{MANIFEST_NAME} in {directory}: extract_date is not a YYYY-MM-DD date"
        ) from None
    if as_of is not None and as_of > extract_date:
        raise ExtractError(
            f"--as-of {as_of.isoformat()} is after the extract set's extract_date "
            f"{extract_date.isoformat()} ({MANIFEST_NAME}): the data have not reached that day"
        )
    return as_of or extract_date


def control_total(manifest: dict, name: str) -> int | None:
    """The manifest's `files.<name>.rows`, when given."""
    entry = (manifest.get("files") or {}).get(name)
    if not isinstance(entry, dict) or "rows" not in entry:
        return None
    try:
        return int(entry["rows"])
    except (TypeError, ValueError):
        raise ExtractError(f"{MANIFEST_NAME}: files.{name}.rows is not a whole number") from None


def locate(directory: Path, spec: ExtractFile) -> Path | None:
    """`NAME.csv` or `NAME.parquet` (case-insensitive file name); both present is an error."""
    wanted = {f"{spec.name}.csv": "csv", f"{spec.name}.parquet": "parquet"}
    found = [p for p in directory.iterdir() if p.name.lower() in wanted and p.is_file()]
    if len(found) > 1:
        names = ", ".join(sorted(p.name for p in found))
        raise ExtractError(f"{spec.name}: found both {names} in {directory}; keep exactly one")
    return found[0] if found else None


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file (BOM removed), or a fatal error when it is unreadable."""
    with path.open("rb") as fh:
        head = fh.read(_HEADER_BYTES)
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    if not head.strip():
        raise ExtractError(f"{path.name} is empty: no header row")
    end = head.find(b"\n")
    line = head if end < 0 else head[:end]
    if b"\0" in line:
        raise ExtractError(f"{path.name} is not a text CSV file (binary content)")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ExtractError(f"{path.name} is not UTF-8 text (header row)") from None
    try:
        return next(csv.reader(io.StringIO(text.rstrip("\r"))), [])
    except csv.Error:
        raise ExtractError(f"{path.name}: header row is not valid CSV") from None


def parquet_schema(path: Path) -> dict[str, str]:
    """Column name -> DuckDB type of a Parquet file, or a fatal error when unreadable."""
    con = duckdb.connect()
    try:
        described = con.execute("describe select * from read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error:
        raise ExtractError(f"{path.name} is not a readable Parquet file") from None
    finally:
        con.close()
    return {str(r[0]): str(r[1]) for r in described}


def map_columns(
    path: Path, spec: ExtractFile, header: list[str]
) -> tuple[dict[str, int], tuple[str, ...]]:
    """Match header names to contract columns (trimmed, case-insensitive).

    Returns contract column -> header position, and the unknown header names. A missing
    required column, or one named twice, is fatal.
    """
    known = set(spec.column_names)
    mapping: dict[str, int] = {}
    extra: list[str] = []
    for position, raw_name in enumerate(header):
        name = raw_name.strip().lower()
        if name in known:
            if name in mapping:
                raise ExtractError(f"{path.name}: column {name} appears more than once")
            mapping[name] = position
        else:
            extra.append(raw_name.strip())
    for required in spec.required_columns:
        if required not in mapping:
            hint = ""
            if len(header) == 1 and any(d in header[0] for d in ";\t|"):
                hint = " (the file does not look comma-delimited)"
            raise ExtractError(f"{path.name}: missing required column {required}{hint}")
    return mapping, tuple(extra)


@dataclass(frozen=True)
class FileScan:
    """What one read of a file's bytes tells: its checksum, and whether it holds a carriage
    return that does not end a line (CR LF)."""

    sha256: str
    bare_carriage_returns: bool


def scan_file(path: Path, chunk_size: int = 1 << 20) -> FileScan:
    """SHA-256 of a file and whether any carriage return in it is not followed by a line feed.

    DuckDB's strict CSV reader cannot read a file with such a CR in an unquoted value at all,
    so the loader lands those files through a copy with the lines marked (`pipelines.ingest.
    land`). Counting costs little: most chunks hold no CR (one `memchr`).
    """
    digest = hashlib.sha256()
    bare = 0
    previous_ends_with_cr = False
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
            if previous_ends_with_cr and chunk.startswith(b"\n"):
                bare -= 1  # counted as bare at the end of the previous chunk
            if b"\r" in chunk:
                bare += chunk.count(b"\r") - chunk.count(b"\r\n")
            previous_ends_with_cr = chunk.endswith(b"\r")
    return FileScan(sha256=digest.hexdigest(), bare_carriage_returns=bare > 0)


def scans_of(paths: list[Path]) -> dict[Path, FileScan]:
    """`scan_file` of each file, in parallel (hashlib releases the GIL; 3 GB of extracts
    take half the time on two cores)."""
    workers = max(1, min(len(paths), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(paths, pool.map(scan_file, paths), strict=True))


def discover(directory: Path, as_of: date | None = None) -> ExtractSet:
    """Find and check every contract file in `directory`; fatal problems raise `ExtractError`.

    Checked here, before anything is loaded: the folder exists, each required file is
    present (once), each file's header is readable and holds the required columns, and an
    as-of date is known.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ExtractError(f"extracts folder {directory} does not exist")
    manifest, manifest_sha = read_manifest(directory)
    run_as_of = resolve_as_of(manifest, as_of, directory)
    located = {spec.name: locate(directory, spec) for spec in FILES.values()}
    for spec in FILES.values():
        if located[spec.name] is None and spec.required:
            raise ExtractError(
                f"missing required file {spec.name} ({spec.name}.csv or "
                f"{spec.name}.parquet) in {directory}"
            )
    scans = scans_of([p for p in located.values() if p is not None])
    files: list[ExtractFileInfo] = []
    for spec in FILES.values():
        path = located[spec.name]
        if path is None:
            continue
        fmt = "parquet" if path.suffix.lower() == ".parquet" else "csv"
        source_types: dict[str, str] = {}
        if fmt == "csv":
            header = csv_header(path)
            positions, extra = map_columns(path, spec, header)
            columns: dict[str, str | int] = dict(positions)
        else:
            source_types = parquet_schema(path)
            names = list(source_types)
            positions, extra = map_columns(path, spec, names)
            columns = {c: names[i] for c, i in positions.items()}
            source_types = {c: source_types[names[i]] for c, i in positions.items()}
        for column in extra:
            log.info("%s: ignoring unknown column %r", path.name, column[:60])
        files.append(
            ExtractFileInfo(
                name=spec.name,
                path=path,
                format=fmt,
                sha256=scans[path].sha256,
                columns=columns,
                extra_columns=extra,
                control_total=control_total(manifest, spec.name),
                source_types=source_types,
                bare_carriage_returns=fmt == "csv" and scans[path].bare_carriage_returns,
            )
        )
    return ExtractSet(
        directory=directory, as_of=run_as_of, files=tuple(files), manifest_sha256=manifest_sha
    )
