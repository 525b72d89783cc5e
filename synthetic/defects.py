"""Row-level and file-level defects injected into extracts at documented, configurable rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from foundation.contract import FILES, ColumnType, nhs_number_is_valid

INVALID_NHS_NUMBER = "invalid_nhs_number"
UNPARSEABLE_DATE = "unparseable_date"
UNKNOWN_PRACTICE_CODE = "unknown_practice_code"
DUPLICATE_ROW = "duplicate_row"
BOM = "bom"
EXTRA_COLUMN = "extra_column"
EXTRA_COLUMN_NAME = "source_system"

# Files that receive row defects (reference files stay clean: they are tiny and shared).
ROW_DEFECT_FILES = (
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
# The required date column that an unparseable date is written into, per file.
DATE_COLUMN = {
    "gp_patients": "date_of_birth",
    "gp_events": "event_date",
    "gp_medications": "issue_date",
    "acute_spells": "admission_date",
    "ae_attendances": "arrival_datetime",
    "community_contacts": "contact_datetime",
    "social_care_services": "start_date",
}
BAD_DATE_FORMATS = ("%d/%m/%Y", "%Y/%m/%d", "%d-%b-%Y", "%Y%m%d", "%d.%m.%Y")


@dataclass(frozen=True)
class Defect:
    """One injected defect; `row` is 1-based within the frame it was injected into."""

    file: str
    row: int | None
    column: str
    kind: str


def row_defect_kinds(name: str) -> tuple[str, ...]:
    """Which row defects a file can carry."""
    if name not in ROW_DEFECT_FILES:
        return ()
    kinds = [INVALID_NHS_NUMBER]
    if name in DATE_COLUMN:
        kinds.append(UNPARSEABLE_DATE)
    if name == "gp_patients":
        kinds.append(UNKNOWN_PRACTICE_CODE)
    kinds.append(DUPLICATE_ROW)
    return tuple(kinds)


def _corrupt_nhs(value: str, rng: np.random.Generator) -> str:
    digits = value.replace(" ", "").replace("-", "")
    way = rng.integers(0, 3)
    if way == 0:  # wrong check digit
        bad = f"{digits[:9]}{(int(digits[9]) + 1 + rng.integers(0, 8)) % 10}"
    elif way == 1:  # a digit lost
        bad = digits[:9]
    else:  # letter O typed for zero / a transposition
        bad = digits[:4] + "O" + digits[5:] if "0" in digits else digits[::-1]
    if nhs_number_is_valid(bad):
        bad = digits[:9]
    return bad


def _bad_date(value: str, is_datetime: bool, rng: np.random.Generator) -> str:
    text = value.replace("T", " ")
    parsed = date(int(text[:4]), int(text[5:7]), int(text[8:10]))  # written YYYY-MM-DD
    fmt = BAD_DATE_FORMATS[rng.integers(0, len(BAD_DATE_FORMATS))]
    out = parsed.strftime(fmt)
    if is_datetime:
        out += text[10:16]
    return out


def inject_rows(
    name: str, df: pl.DataFrame, rate: float, rng: np.random.Generator, unknown_practice: str
) -> tuple[pl.DataFrame, list[Defect]]:
    """Corrupt about `rate` of the rows of `df` (split evenly over the file's defect kinds).

    Each corrupted row carries exactly one defect; a duplicate is an exact copy inserted
    right after its original (the copy is the defect). Row numbers in the result are 1-based.
    """
    kinds = row_defect_kinds(name)
    n = df.height
    if not kinds or n == 0 or rate <= 0:
        return df, []
    per_kind = rate / len(kinds)
    counts = [int(np.floor(n * per_kind + rng.random())) for _ in kinds]
    total = min(sum(counts), n)
    chosen = rng.permutation(n)[:total]
    bounds = np.cumsum([0, *counts])
    updates: dict[str, tuple[np.ndarray, list[str]]] = {}
    marked: list[tuple[np.ndarray, str, str]] = []  # rows, column, kind
    dups = np.zeros(0, dtype=np.int64)
    # Kind by kind, row by row in row order: each corrupted value draws from `rng` in turn.
    for k, kind in enumerate(kinds):
        rows = np.sort(chosen[bounds[k] : bounds[k + 1]]).astype(np.int64)
        if kind == DUPLICATE_ROW:
            dups = rows
            continue
        if rows.size == 0:
            continue
        if kind == INVALID_NHS_NUMBER:
            col = "nhs_number"
            values = [_corrupt_nhs(v, rng) for v in df.get_column(col).gather(rows).to_list()]
        elif kind == UNPARSEABLE_DATE:
            col = DATE_COLUMN[name]
            is_dt = FILES[name].column(col).type == ColumnType.DATETIME
            values = [_bad_date(v, is_dt, rng) for v in df.get_column(col).gather(rows).to_list()]
        else:  # UNKNOWN_PRACTICE_CODE
            col = "practice_code"
            values = [unknown_practice] * rows.size
        updates[col] = (rows, values)
        marked.append((rows, col, kind))
    out = df.with_columns(
        [df.get_column(col).scatter(rows_, values_) for col, (rows_, values_) in updates.items()]
    )
    defects: list[Defect] = []
    if dups.size:
        index = np.sort(np.concatenate([np.arange(n), dups]), kind="stable")
        out = out.select(pl.all().gather(index))
        copy_pos = dups + np.arange(dups.size) + 1  # 0-based position of each copy
        defects.extend(Defect(name, int(p) + 1, "", DUPLICATE_ROW) for p in copy_pos)
    for rows, col, kind in marked:
        new_pos = rows + np.searchsorted(dups, rows, side="left")
        defects.extend(Defect(name, int(p) + 1, col, kind) for p in new_pos)
    defects.sort(key=lambda d: (d.row or 0, d.kind))
    return out, defects


def choose_file_defects(names: list[str], rng: np.random.Generator) -> tuple[set[str], set[str]]:
    """Pick the CSV files that get a UTF-8 BOM (two) and an extra column (one)."""
    order = [names[i] for i in rng.permutation(len(names))]
    return set(order[:2]), set(order[2:3])
