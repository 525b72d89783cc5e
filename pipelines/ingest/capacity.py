"""Reading the weekly capacity file: how many reviews each neighbourhood's team can do this week.

The file (`--capacity FILE.csv`, `CASEFINDER_CAPACITY_FILE`) has the columns
`neighbourhood_code,weekly_reviews` (OUTPUTS.md "Weekly capacity and review feedback"). Any
problem is one line naming the file, the row (as a spreadsheet numbers it: the header is row
1) and the column; a value is quoted only when it cannot be an identifier.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from foundation.errors import CasefinderError
from foundation.privacy import redact

COLUMNS = ("neighbourhood_code", "weekly_reviews")
# Longer values are not quoted back (a pasted note could hold a name).
_QUOTE_LIMIT = 20


def _quoted(value: str) -> str:
    if len(value) > _QUOTE_LIMIT or redact(value) != value:
        return "the value"
    return repr(value)


def read_capacity(path: Path) -> list[tuple[int, str, int]]:
    """The capacity CSV at `path` as (file row, neighbourhood code, weekly reviews) rows.

    Raises:
        CasefinderError: unreadable file, missing column, empty code, a capacity that is not
            a whole number of 0 or more, or a neighbourhood named twice.
    """
    path = Path(path)
    where = f"capacity file {path}"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CasefinderError(f"{where} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CasefinderError(f"{where} cannot be read: {type(exc).__name__}") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    for column in COLUMNS:
        if column not in header:
            raise CasefinderError(f"{where}, row 1: column {column} is missing")
    code_at, reviews_at = (header.index(c) for c in COLUMNS)
    found: list[tuple[int, str, int]] = []
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line, as spreadsheets leave at the end
        cells = [*row, *[""] * len(header)]
        code = cells[code_at].strip()
        raw = cells[reviews_at].strip()
        if not code:
            raise CasefinderError(f"{where}, row {number}, column neighbourhood_code: empty")
        if code in first_row:
            raise CasefinderError(
                f"{where}, row {number}, column neighbourhood_code: {_quoted(code)} is "
                f"already given in row {first_row[code]}"
            )
        if not (raw.isascii() and raw.isdigit()):
            shown = _quoted(raw) if raw else "empty"
            raise CasefinderError(
                f"{where}, row {number}, column weekly_reviews: {shown} is not a whole "
                "number of reviews (0 or more)"
            )
        found.append((number, code, int(raw)))
        first_row[code] = number
    return found


def check_neighbourhoods(
    path: Path, rows: list[tuple[int, str, int]], known: Iterable[str]
) -> None:
    """Refuse a capacity for a neighbourhood the warehouse has never heard of.

    `known` are the warehouse's neighbourhoods (its practices' and every published list's):
    a neighbourhood with no list this week is not unknown.

    Raises:
        CasefinderError: naming the file, the row and the column of the first unknown code.
    """
    known = set(known)
    for number, code, _reviews in rows:
        if code not in known:
            raise CasefinderError(
                f"capacity file {path}, row {number}, column neighbourhood_code: "
                f"{_quoted(code)} is not a neighbourhood in the warehouse"
            )


def capacity_by_neighbourhood(rows: list[tuple[int, str, int]]) -> dict[str, int]:
    """Neighbourhood code -> weekly reviews."""
    return {code: reviews for _number, code, reviews in rows}
