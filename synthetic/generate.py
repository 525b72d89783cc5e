"""Generate a synthetic extract set (contract v1), its manifest and its truth files."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.contract import FILE_FORMATS, FILES, MANIFEST_NAME
from pipelines.errors import CasefinderError
from synthetic import params as P
from synthetic.defects import (
    BOM,
    EXTRA_COLUMN,
    EXTRA_COLUMN_NAME,
    Defect,
    choose_file_defects,
    inject_rows,
)
from synthetic.extracts import ChunkExtract, Cut, lsoa_frame, practices_frame
from synthetic.population import build_geography, make_people, nhs_numbers
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
    """Appends chunks of text frames to one extract file (CSV or Parquet)."""

    def __init__(self, path: Path, columns: list[str], fmt: str, bom: bool, extra: bool) -> None:
        self.path = path
        self.fmt = fmt
        self.extra = extra
        self.columns = [*columns, EXTRA_COLUMN_NAME] if extra else list(columns)
        self.rows = 0
        self._fh: IO[bytes] | None = None
        self._pq: pq.ParquetWriter | None = None
        if fmt == "csv":
            self._fh = path.open("wb")
            if bom:
                self._fh.write(b"\xef\xbb\xbf")
            self._fh.write((",".join(self.columns) + "\n").encode())
        else:
            schema = pa.schema([(c, pa.string()) for c in self.columns])
            self._pq = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, df: pl.DataFrame) -> None:
        if self.extra:
            df = df.with_columns(pl.lit("casefinder-synth").alias(EXTRA_COLUMN_NAME))
        self.rows += df.height
        if df.height == 0:
            return
        if self._fh is not None:
            df.write_csv(self._fh, include_header=False)
        else:
            assert self._pq is not None
            self._pq.write_table(df.to_arrow().cast(self._pq.schema))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._pq is not None:
            self._pq.close()


def validate_options(patients: int, extract_date: date, fmt: str, defect_rate: float) -> None:
    """Raise CasefinderError for options the generator cannot honour."""
    if patients < 100:
        raise CasefinderError("--patients must be at least 100")
    if fmt not in FILE_FORMATS:
        raise CasefinderError(f"--format must be one of {', '.join(FILE_FORMATS)}")
    earliest = date(P.SIM_START.year + P.MIN_HISTORY_YEARS, P.SIM_START.month, P.SIM_START.day)
    if not earliest <= extract_date <= P.LATEST_EXTRACT_DATE:
        raise CasefinderError(
            f"--extract-date must be between {earliest} and {P.LATEST_EXTRACT_DATE} "
            f"(history starts {P.SIM_START})"
        )
    if not 0.0 <= defect_rate <= 0.2:
        raise CasefinderError("--defect-rate must be between 0 and 0.2")


def generate(
    out_dir: Path,
    patients: int = 50_000,
    seed: int = 42,
    extract_date: date = P.DEFAULT_EXTRACT_DATE,
    fmt: str = "csv",
    defect_rate: float = P.DEFAULT_DEFECT_RATE,
    truth_dir: Path | None = None,
) -> SynthResult:
    """Write a complete synthetic extract set to `out_dir` and its truth to `truth_dir`.

    `truth_dir` defaults to `out_dir.parent / "truth" / out_dir.name`. The same arguments give
    byte-identical files. `defect_rate=0` writes a clean set (messy ICD-10 forms remain: they
    are valid input, not defects).
    """
    validate_options(patients, extract_date, fmt, defect_rate)
    out_dir = Path(out_dir)
    truth_dir = Path(truth_dir) if truth_dir is not None else out_dir.parent / "truth" / out_dir.name
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
    extract_day = P.day_number(extract_date)
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
    try:
        writers["practices"].write(practices_frame(geo))
        writers["lsoa_imd"].write(lsoa_frame(geo))
        n_chunks = -(-patients // P.CHUNK_SIZE)
        for chunk in range(n_chunks):
            start = chunk * P.CHUNK_SIZE
            n = min(P.CHUNK_SIZE, patients - start)
            static_rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, 0]))
            people = make_people(start, n, numbers, geo, static_rng, ref)
            events = simulate_chunk(people, ref, seed, chunk, extract_day)
            cut = Cut(extract_day=extract_day, seed=seed, chunk=chunk)
            extract = ChunkExtract(events, geo, ref, cut)
            for file_no, name in enumerate(PER_PERSON_FILES):
                df = getattr(extract, name)()
                rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, 4, file_no]))
                df, found = inject_rows(name, df, defect_rate, rng, UNKNOWN_PRACTICE_CODE)
                offset = writers[name].rows
                defects += [Defect(d.file, (d.row or 0) + offset, d.column, d.kind) for d in found]
                writers[name].write(df)
            truth_frames.append(extract.truth())
            log.info("synthetic chunk %d of %d written", chunk + 1, n_chunks)
    finally:
        for w in writers.values():
            w.close()
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
