"""Generate a synthetic extract set (contract 1.1), its manifest and its truth files."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl

from foundation.contract import FILE_FORMATS, FILES, MANIFEST_NAME
from foundation.errors import CasefinderError
from synthetic import params
from synthetic.defects import (
    BOM,
    EXTRA_COLUMN,
    EXTRA_COLUMN_NAME,
    Defect,
    choose_file_defects,
    inject_rows,
)
from synthetic.extracts import ChunkExtract, Cut, lsoa_frame, practices_frame
from synthetic.population import Geography, build_geography, make_people, nhs_numbers
from synthetic.reference import load_reference
from synthetic.simulate import simulate_chunk

log = logging.getLogger(__name__)

PER_PERSON_FILES = (
    "gp_patients",
    "gp_events",
    "gp_medications",
    "acute_spells",
    "ae_attendances",
    "community_contacts",
    "social_care_services",
    "opt_outs",
    "caseload",
)
UNKNOWN_PRACTICE_CODE = "Y99999"
PARTS_DIR = ".synth-parts"  # inside the output folder while chunks are written; removed after
# Set for the worker processes only (they are spawned, so they read it as they start). Each
# worker is one of the two cores' worth of parallelism: polars' own thread pool would only
# contend with the other worker. Freed memory stays with the process instead of going back to
# the system and being faulted in again (zeroed) for the next step's arrays: the glibc heap is
# never trimmed and takes allocations up to its 32 MB limit, and polars' allocator (jemalloc)
# keeps its freed pages.
WORKER_ENVIRONMENT = {
    "POLARS_MAX_THREADS": "1",
    "GLIBC_TUNABLES": (
        "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184"
    ),
    "_RJEM_MALLOC_CONF": "dirty_decay_ms:-1,muzzy_decay_ms:-1",
}


@dataclass
class SynthResult:
    """What `generate` wrote."""

    out_dir: Path
    truth_dir: Path
    extract_date: date
    fmt: str
    files: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    defects: int = 0
    manifest: Path | None = None


class _Writer:
    """Appends chunks of text frames, or CSV files of them, to one extract file (CSV or Parquet)."""

    def __init__(self, path: Path, columns: list[str], fmt: str, bom: bool, extra: bool) -> None:
        self.path = path
        self.fmt = fmt
        self.extra = extra
        self.columns = [*columns, EXTRA_COLUMN_NAME] if extra else list(columns)
        self.rows = 0
        self._fh: IO[bytes] | None = None
        self._pq: Any = None  # a pyarrow ParquetWriter
        if fmt == "csv":
            self._fh = path.open("wb", buffering=0)  # unbuffered: parts are copied in by fd
            if bom:
                self._fh.write(b"\xef\xbb\xbf")
            self._fh.write((",".join(self.columns) + "\n").encode())
        else:
            # deferred: pyarrow is a heavy import that only Parquet output needs
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.schema([(c, pa.string()) for c in self.columns])
            self._pq = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, df: pl.DataFrame) -> None:
        self.write_part(_encode(df, self.fmt, self.extra), df.height)

    def write_part(self, part: pl.DataFrame | bytes | Path | None, rows: int) -> None:
        """Append a chunk of `rows` rows: made by `_encode`, or a headerless CSV file made by
        `_write_part` (moved in by the kernel, then deleted)."""
        self.rows += rows
        if part is None or rows == 0:
            return
        if isinstance(part, Path):
            assert self._fh is not None
            _append_file(self._fh, part)
            part.unlink()
        elif isinstance(part, bytes):
            assert self._fh is not None
            self._fh.write(part)
        else:
            assert self._pq is not None
            self._pq.write_table(part.to_arrow().cast(self._pq.schema))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._pq is not None:
            self._pq.close()


def _append_file(fh: IO[bytes], part: Path) -> None:
    """Append the whole of `part` to `fh`, copied inside the kernel where it can be."""
    with part.open("rb") as src:
        try:
            while os.copy_file_range(src.fileno(), fh.fileno(), 1 << 30):
                pass
        except (AttributeError, OSError):  # no copy_file_range here (not Linux, other file system)
            src.seek(0)
            fh.seek(0, os.SEEK_END)
            shutil.copyfileobj(src, fh, 1 << 20)


def _with_extra(df: pl.DataFrame, extra: bool) -> pl.DataFrame:
    if extra:
        df = df.with_columns(pl.lit("casefinder-synth").alias(EXTRA_COLUMN_NAME))
    return df


def _encode(df: pl.DataFrame, fmt: str, extra: bool) -> pl.DataFrame | bytes:
    """A chunk of one file ready for its writer: CSV text without a header, or the frame for
    Parquet."""
    df = _with_extra(df, extra)
    if fmt != "csv":
        return df
    buffer = io.BytesIO()
    if df.height:
        df.write_csv(buffer, include_header=False)
    return buffer.getvalue()


def _write_part(df: pl.DataFrame, path: Path, extra: bool) -> Path | None:
    """Write a chunk of one CSV file, without a header, to its own file: made where the chunk
    was made, so that no rows cross between processes (the writer moves the file in)."""
    df = _with_extra(df, extra)
    if not df.height:
        return None
    df.write_csv(path, include_header=False)
    return path


@dataclass(frozen=True)
class _ChunkJob:
    """Everything a worker needs to simulate and cut one chunk of persons."""

    chunk: int
    start: int
    numbers: np.ndarray
    geo: Geography
    seed: int
    extract_day: int
    defect_rate: float
    fmt: str
    extra_files: frozenset[str]
    parts_dir: Path


@dataclass
class _ChunkOutput:
    parts: dict[str, pl.DataFrame | Path | None]  # Parquet: the frame; CSV: see `_write_part`
    rows: dict[str, int]
    defects: dict[str, list[Defect]]
    truth: pl.DataFrame


def _chunk_job(job: _ChunkJob) -> _ChunkOutput:
    """Simulate one chunk, cut it at the extract date and inject its row defects."""
    ref = load_reference()
    static_rng = np.random.default_rng(np.random.SeedSequence([job.seed, job.chunk, 0]))
    people = make_people(job.start, job.numbers.size, job.numbers, job.geo, static_rng, ref)
    events = simulate_chunk(people, ref, job.seed, job.chunk, job.extract_day)
    cut = Cut(extract_day=job.extract_day)
    extract = ChunkExtract(events, job.geo, ref, cut)
    out = _ChunkOutput(parts={}, rows={}, defects={}, truth=extract.truth())
    for file_no, name in enumerate(PER_PERSON_FILES):
        rng = np.random.default_rng(np.random.SeedSequence([job.seed, job.chunk, 4, file_no]))
        frame, out.defects[name] = inject_rows(
            name, getattr(extract, name)(), job.defect_rate, rng, UNKNOWN_PRACTICE_CODE
        )
        extra = name in job.extra_files
        if job.fmt == "csv":
            path = job.parts_dir / f"{name}.{job.chunk:05d}.csv"
            out.parts[name] = _write_part(frame, path, extra)
        else:
            out.parts[name] = _with_extra(frame, extra)
        out.rows[name] = frame.height
    return out


def _run_jobs(
    jobs: Iterator[_ChunkJob], n_jobs: int, workers: int | None
) -> Iterator[_ChunkOutput]:
    """Yield chunk outputs in chunk order, computed in up to `workers` processes."""
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    if workers <= 1 or n_jobs == 1:
        yield from (_chunk_job(job) for job in jobs)
        return
    with (
        _children_environment(WORKER_ENVIRONMENT),
        ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool,
    ):
        pending: deque[Future[_ChunkOutput]] = deque()
        for job in jobs:
            pending.append(pool.submit(_chunk_job, job))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@contextmanager
def _children_environment(values: dict[str, str]) -> Iterator[None]:
    """Give processes started inside the block `values` as environment variables; this
    process's own environment is put back afterwards (its libraries have read theirs)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def validate_options(patients: int, extract_date: date, fmt: str, defect_rate: float) -> None:
    """Raise CasefinderError for options the generator cannot honour."""
    if patients < 100:
        raise CasefinderError("--patients must be at least 100")
    if fmt not in FILE_FORMATS:
        raise CasefinderError(f"--format must be one of {', '.join(FILE_FORMATS)}")
    earliest = date(
        params.SIM_START.year + params.MIN_HISTORY_YEARS,
        params.SIM_START.month,
        params.SIM_START.day,
    )
    if not earliest <= extract_date <= params.LATEST_EXTRACT_DATE:
        raise CasefinderError(
            f"--extract-date must be between {earliest} and {params.LATEST_EXTRACT_DATE} "
            f"(history starts {params.SIM_START})"
        )
    if not 0.0 <= defect_rate <= 0.2:
        raise CasefinderError("--defect-rate must be between 0 and 0.2")


def generate(
    out_dir: Path,
    patients: int = 50_000,
    seed: int = 42,
    extract_date: date = params.DEFAULT_EXTRACT_DATE,
    fmt: str = "csv",
    defect_rate: float = params.DEFAULT_DEFECT_RATE,
    truth_dir: Path | None = None,
    workers: int | None = None,
) -> SynthResult:
    """Write a complete synthetic extract set to `out_dir` and its truth to `truth_dir`.

    `truth_dir` defaults to `out_dir.parent / "truth" / out_dir.name`. The same arguments give
    byte-identical files. `defect_rate=0` writes a clean set (messy ICD-10 forms remain: they
    are valid input, not defects). Chunks of persons are simulated in `workers` processes
    (default: up to 2); the output does not depend on it.
    """
    validate_options(patients, extract_date, fmt, defect_rate)
    out_dir = Path(out_dir)
    truth_dir = (
        Path(truth_dir) if truth_dir is not None else out_dir.parent / "truth" / out_dir.name
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        for ext in FILE_FORMATS:
            stale = out_dir / f"{name}.{ext}"
            if stale.exists():
                stale.unlink()
    ref = load_reference()
    global_rng = np.random.default_rng(np.random.SeedSequence([seed, 10**9]))
    geo = build_geography(patients, global_rng, ref)
    numbers = nhs_numbers(patients, global_rng)
    extract_day = params.day_number(extract_date)
    names = list(FILES)
    bom_files: set[str] = set()
    extra_files: set[str] = set()
    if defect_rate > 0:
        file_rng = np.random.default_rng(np.random.SeedSequence([seed, 10**9 + 1]))
        bom_files, extra_files = choose_file_defects(names, file_rng)
        if fmt != "csv":
            bom_files = set()
    result = SynthResult(out_dir=out_dir, truth_dir=truth_dir, extract_date=extract_date, fmt=fmt)
    writers = {
        name: _Writer(
            out_dir / f"{name}.{fmt}",
            list(FILES[name].column_names),
            fmt,
            bom=name in bom_files,
            extra=name in extra_files,
        )
        for name in names
    }
    defects: list[Defect] = [Defect(n, None, "", BOM) for n in sorted(bom_files)]
    defects += [Defect(n, None, EXTRA_COLUMN_NAME, EXTRA_COLUMN) for n in sorted(extra_files)]
    truth_frames: list[pl.DataFrame] = []
    parts_dir = out_dir / PARTS_DIR
    parts_dir.mkdir(exist_ok=True)
    try:
        writers["practices"].write(practices_frame(geo))
        writers["lsoa_imd"].write(lsoa_frame(geo))
        n_chunks = -(-patients // params.CHUNK_SIZE)
        jobs = (
            _ChunkJob(
                chunk=c,
                start=c * params.CHUNK_SIZE,
                numbers=numbers[c * params.CHUNK_SIZE : (c + 1) * params.CHUNK_SIZE],
                geo=geo,
                seed=seed,
                extract_day=extract_day,
                defect_rate=defect_rate,
                fmt=fmt,
                extra_files=frozenset(extra_files),
                parts_dir=parts_dir,
            )
            for c in range(n_chunks)
        )
        for done, out in enumerate(_run_jobs(jobs, n_chunks, workers), start=1):
            for name in PER_PERSON_FILES:
                offset = writers[name].rows
                defects += [
                    Defect(d.file, (d.row or 0) + offset, d.column, d.kind)
                    for d in out.defects[name]
                ]
                writers[name].write_part(out.parts[name], out.rows[name])
            truth_frames.append(out.truth)
            log.info("synthetic chunk %d of %d written", done, n_chunks)
    finally:
        for w in writers.values():
            w.close()
        shutil.rmtree(parts_dir, ignore_errors=True)
    for name, w in writers.items():
        result.files[name] = w.path
        result.rows[name] = w.rows
    manifest = {
        "extract_date": extract_date.isoformat(),
        "files": {name: {"rows": result.rows[name]} for name in names},
    }
    result.manifest = out_dir / MANIFEST_NAME
    result.manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    pl.concat(truth_frames).sort("nhs_number").write_csv(truth_dir / "latent_risk.csv")
    pl.DataFrame(
        {
            "file": [d.file for d in defects],
            "row_number": [d.row for d in defects],
            "column": [d.column or None for d in defects],
            "kind": [d.kind for d in defects],
        },
        schema={"file": pl.Utf8, "row_number": pl.Int64, "column": pl.Utf8, "kind": pl.Utf8},
    ).write_csv(truth_dir / "defects.csv")
    result.defects = len(defects)
    return result
