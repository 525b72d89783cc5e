"""Reading the lists teams return with their review outcomes, and recording them once.

A team returns its own copy of a published list (CSV or XLSX, as it received it) with
`review_outcome` filled in and, optionally, `review_date` (default: the list's date), dropped
into the feedback folder (OUTPUTS.md "Weekly capacity and review feedback"). The rules
(docs/data-engineer.md, "Review feedback"):

- Which list a file came from: an XLSX whose title property is the one casefinder wrote
  ("Proactive care list <code> <as_of>") names it; otherwise the published list
  (`lists.list_entries`, up to the run's as-of) holding most of the file's rows as
  (patient, rank) pairs, then most of its patients. A tie, or no match, is an error.
- Only patients on that list are recorded; a row with an outcome for anyone else is
  rejected and counted, never recorded, so a file cannot touch another neighbourhood.
- Recorded once: a file whose sha256 was read before is skipped; a review already recorded
  (same list, patient, outcome and date) from another copy is not recorded again.
- Everything is checked before anything is recorded; the first malformed row is an error
  naming the file, row and column (never the NHS number or a name).
"""

from __future__ import annotations

import csv
import io
import os
import pwd
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from foundation.errors import CasefinderError
from foundation.provenance import sha256_file
from foundation.warehouse import patient_id_of, transaction
from reports.capacity import REVIEW_OUTCOMES, ensure_store
from reports.publish import ensure_list_tables

SUFFIXES = (".csv", ".xlsx")
REQUIRED = ("nhs_number", "review_outcome")
# What casefinder writes as the workbook's title property (reports/excel_list.py).
_TITLE = re.compile(r"^Proactive care list (?P<code>.+) (?P<as_of>\d{4}-\d{2}-\d{2})$")
# How far down an XLSX's first sheet the header row may be (below the week's banners).
_HEADER_SEARCH_ROWS = 30
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")


@dataclass(frozen=True)
class FeedbackRow:
    """One data row of a returned list (identifiers only as far as matching needs them)."""

    file_row: int
    nhs_number: str | None
    rank: int | None
    review_outcome: str | None
    review_date: date | None


@dataclass
class FeedbackFile:
    """A returned list, read and checked for form (not yet matched to a publication)."""

    path: Path
    sha256: str
    title: str | None
    rows: list[FeedbackRow] = field(default_factory=list)


@dataclass
class MatchedFile:
    """A returned list matched to the publication it came from, split into what is recorded
    (patient_id, outcome, date, file row) and how many rows are rejected."""

    file: FeedbackFile
    publication_as_of: date
    neighbourhood_code: str
    matched_by: str
    reviews: list[tuple[str, str, date, int]]
    n_rejected: int


def os_user() -> str:
    """Who records the feedback: the operating-system account running casefinder."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def feedback_files(folder: Path) -> list[Path]:
    """The CSV and XLSX files in `folder` (not hidden, not Excel's `~$` lock files), by name.

    Raises:
        CasefinderError: `folder` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CasefinderError(f"feedback folder {folder} is not a folder")
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith((".", "~$"))
    )


def _problem(path: Path, row: int, column: str, what: str) -> CasefinderError:
    return CasefinderError(f"feedback file {path}, row {row}, column {column}: {what}")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _nhs_number(value: Any) -> str | None:
    digits = re.sub(r"[\s-]", "", _text(value))
    return digits if len(digits) == 10 and digits.isascii() and digits.isdigit() else None


def _rank(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text.isascii() and text.isdigit() else None


def _review_date(path: Path, row: int, value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise _problem(path, row, "review_date", "not a date (YYYY-MM-DD or DD/MM/YYYY)")


def _outcome(path: Path, row: int, value: Any) -> str | None:
    text = _text(value).lower()
    if not text:
        return None
    if text not in REVIEW_OUTCOMES:
        raise _problem(path, row, "review_outcome", f"not one of {', '.join(REVIEW_OUTCOMES)}")
    return text


def _table(path: Path) -> tuple[list[list[Any]], int, str | None]:
    """The file's rows from its header row on, the header's row number, and (XLSX) title."""
    if path.suffix.lower() == ".xlsx":
        # deferred: openpyxl is needed only when a team returns a workbook
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, InvalidFileException) as exc:
            raise CasefinderError(
                f"feedback file {path} cannot be read as a workbook: {type(exc).__name__}"
            ) from None
        try:
            title = wb.properties.title if wb.properties else None
            rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()
        for at, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
            if "nhs_number" in (_text(c).lower() for c in row):
                return rows[at:], at + 1, title
        return rows, 1, title
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CasefinderError(
            f"feedback file {path} cannot be read: {type(exc).__name__}"
        ) from None
    return list(csv.reader(io.StringIO(text, newline=""))), 1, None


def read_feedback_file(path: Path) -> FeedbackFile:
    """Read one returned list and check its form.

    Raises:
        CasefinderError: unreadable file, a missing column, an unknown outcome or an
            unreadable date (naming file, row and column).
    """
    path = Path(path)
    rows, header_row, title = _table(path)
    header = [_text(c).lower() for c in rows[0]] if rows else []
    for column in REQUIRED:
        if column not in header:
            raise _problem(path, header_row, column, "missing")
    at = {name: header.index(name) for name in header if name}
    found = FeedbackFile(path=path, sha256=sha256_file(path), title=title)
    for number, raw in enumerate(rows[1:], start=header_row + 1):
        cells = [*raw, *[None] * len(header)]

        def cell(name: str, cells: list[Any] = cells) -> Any:
            return cells[at[name]] if name in at else None

        outcome = _outcome(path, number, cell("review_outcome"))
        review_date = _review_date(path, number, cell("review_date"))
        nhs = _nhs_number(cell("nhs_number"))
        if outcome is not None and nhs is None:
            raise _problem(path, number, "nhs_number", "not a 10-digit NHS number")
        if nhs is None and outcome is None:
            continue  # a blank or note row
        found.rows.append(FeedbackRow(number, nhs, _rank(cell("rank")), outcome, review_date))
    return found


def _publication_from_title(
    con: duckdb.DuckDBPyConnection, title: str | None, as_of: date
) -> tuple[date, str] | None:
    match = _TITLE.match(title or "")
    if not match:
        return None
    try:
        day = date.fromisoformat(match["as_of"])
    except ValueError:
        return None
    row = con.execute(
        "select count(*) from audit.publications where as_of = ? and neighbourhood_code = ?"
        " and as_of <= ?",
        [day, match["code"], as_of],
    ).fetchone()
    return (day, match["code"]) if row and row[0] else None


def match_file(
    con: duckdb.DuckDBPyConnection, found: FeedbackFile, key: bytes, as_of: date
) -> MatchedFile:
    """Find the publication `found` came from and split its reviews into recorded / rejected.

    Raises:
        CasefinderError: no publication holds its patients, two hold them equally, or a
            review date before the list's date or after `as_of`.
    """
    ids = {r.file_row: patient_id_of(key, r.nhs_number) for r in found.rows if r.nhs_number}
    con.execute("create or replace temp table feedback_rows (patient_id varchar, rank integer)")
    if ids:
        con.executemany(
            "insert into feedback_rows values (?, ?)",
            [[ids[r.file_row], r.rank] for r in found.rows if r.file_row in ids],
        )
    publication = _publication_from_title(con, found.title, as_of)
    matched_by = "workbook title"
    if publication is None:
        matched_by = "patients on the list"
        best = con.execute(
            """
            select e.as_of, e.neighbourhood_code,
                count(*) filter (where e.rank = f.rank) as n_same_rank,
                count(distinct e.patient_id) as n_patients,
            from lists.list_entries e
            inner join feedback_rows f on f.patient_id = e.patient_id
            where e.as_of <= ?
            group by all
            order by n_same_rank desc, n_patients desc, e.as_of desc, e.neighbourhood_code
            limit 2
            """,
            [as_of],
        ).fetchall()
        if not best:
            raise CasefinderError(
                f"feedback file {found.path}: none of its patients is on a published list "
                f"up to {as_of.isoformat()}; return a list as casefinder published it"
            )
        if len(best) == 2 and best[0][2:] == best[1][2:]:
            raise CasefinderError(
                f"feedback file {found.path} matches the lists of {best[0][1]} "
                f"{best[0][0].isoformat()} and {best[1][1]} {best[1][0].isoformat()} equally; "
                "return the workbook, or the CSV with its rank column"
            )
        publication = (best[0][0], best[0][1])
    day, code = publication
    on_list = {
        pid
        for (pid,) in con.execute(
            "select patient_id from lists.list_entries where as_of = ? and neighbourhood_code = ?",
            [day, code],
        ).fetchall()
    }
    con.execute("drop table if exists feedback_rows")
    reviews: list[tuple[str, str, date, int]] = []
    rejected = 0
    for row in found.rows:
        if row.review_outcome is None:
            continue
        review_date = row.review_date or day
        if not day <= review_date <= as_of:
            raise _problem(
                found.path,
                row.file_row,
                "review_date",
                f"not between the list's date {day.isoformat()} and the run's as-of "
                f"{as_of.isoformat()}",
            )
        pid = ids.get(row.file_row)
        if pid in on_list:
            reviews.append((pid, row.review_outcome, review_date, row.file_row))
        else:
            rejected += 1
    return MatchedFile(found, day, code, matched_by, reviews, rejected)


def record(
    con: duckdb.DuckDBPyConnection, matched: Iterable[MatchedFile], as_of: date, user: str
) -> dict[str, int]:
    """Record the matched files' reviews in one transaction, each file and review once.

    Returns counts: `files` read for the first time, `recorded`, `duplicates` (already
    recorded from another copy), `rejected`, `already_read` (files read before).
    """
    ensure_store(con)
    counts = {"files": 0, "recorded": 0, "duplicates": 0, "rejected": 0, "already_read": 0}
    with transaction(con):
        for m in matched:
            seen = con.execute(
                "select count(*) from lists.list_feedback_files where file_sha256 = ?",
                [m.file.sha256],
            ).fetchone()
            if seen and seen[0]:
                counts["already_read"] += 1
                continue
            before = _stored(con)
            if m.reviews:
                con.executemany(
                    "insert or ignore into lists.list_review_outcomes values"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp, ?)",
                    [
                        [
                            m.publication_as_of,
                            m.neighbourhood_code,
                            pid,
                            outcome,
                            review_date,
                            m.file.path.name,
                            m.file.sha256,
                            file_row,
                            user,
                            as_of,
                        ]
                        for pid, outcome, review_date, file_row in m.reviews
                    ],
                )
            recorded = _stored(con) - before
            con.execute(
                "insert into lists.list_feedback_files values"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp, ?)",
                [
                    m.file.sha256,
                    m.file.path.name,
                    m.publication_as_of,
                    m.neighbourhood_code,
                    m.matched_by,
                    len(m.file.rows),
                    recorded,
                    len(m.reviews) - recorded,
                    m.n_rejected,
                    user,
                    as_of,
                ],
            )
            counts["files"] += 1
            counts["recorded"] += recorded
            counts["duplicates"] += len(m.reviews) - recorded
            counts["rejected"] += m.n_rejected
    return counts


def _stored(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select count(*) from lists.list_review_outcomes").fetchone()
    return int(row[0]) if row else 0


def record_feedback(
    con: duckdb.DuckDBPyConnection, folder: Path, key: bytes, as_of: date, user: str | None = None
) -> dict[str, int]:
    """Read every returned list in `folder`, check them all, then record them (see module)."""
    ensure_list_tables(con)
    ensure_store(con)
    files = [read_feedback_file(p) for p in feedback_files(folder)]
    known = {
        sha
        for (sha,) in con.execute("select file_sha256 from lists.list_feedback_files").fetchall()
    }
    # A file with no outcome filled in has nothing to record (yet): it is read again next week.
    fresh = [f for f in files if f.sha256 not in known and any(r.review_outcome for r in f.rows)]
    matched = [match_file(con, f, key, as_of) for f in fresh]
    counts = record(con, matched, as_of, user or os_user())
    counts["already_read"] += sum(1 for f in files if f.sha256 in known)
    return counts
