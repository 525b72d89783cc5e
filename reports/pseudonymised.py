"""The pseudonymised publication for analysts: scores keyed by `patient_id`, no identifiers."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from foundation.contract import IDENTIFIER_COLUMNS
from foundation.provenance import code_version, sha256_file
from foundation.staging import discard
from foundation.warehouse import apply_ddl, build_model, transaction
from reports.columns import ANALYSTS
from reports.horizon import FALLBACK_SCORE_NOTE, model_horizon_days, risk_score_note
from reports.lists import csv_bytes
from reports.publish import _swap_in, ensure_list_tables, fsync_tree, staging_dir
from reports.safety import escape_formula
from reports.summary import latest_snapshot_id

log = logging.getLogger("casefinder.publish")

# OUT/pseudonymised/<as_of>/: a folder of its own, never under OUT/lists/ (direct care).
FOLDER = "pseudonymised"
CSV_NAME = "pseudonymised_scores.csv"
SUMMARY_NAME = "pseudonymised_summary.json"
MODEL = "list_pseudonymised"
PURPOSE = "analyst_outputs"

# The columns of the analyst file, in order: an allow-list. Nothing else is ever written.
PSEUDONYMISED_COLUMNS: tuple[str, ...] = tuple(c.name for c in ANALYSTS)

# Never in an analyst output: the identifiers and the finer-grained quasi-identifiers (exact
# or month of birth, date of death, small-area and address detail, free-text names).
FORBIDDEN_COLUMNS: frozenset[str] = IDENTIFIER_COLUMNS | frozenset(
    {
        "birth_month",
        "date_of_death",
        "lsoa_code",
        "postcode",
        "address",
        "practice_name",
        "neighbourhood_name",
        "pcn_name",
    }
)

# The analysts' notes (reports/columns.py); `risk_score` is said for the model's horizon, or
# the fallback score, in each summary: build_summary.
COLUMN_NOTES: dict[str, str] = {
    **{c.name: c.note for c in ANALYSTS},
    "risk_score": risk_score_note(None),
}


def check_columns(columns: tuple[str, ...] | list[str]) -> None:
    """Refuse any column outside the allow-list or among the forbidden ones.

    Raises:
        ValueError: naming the offending columns (a programming error, caught before any
            file is written).
    """
    forbidden = sorted(set(columns) & FORBIDDEN_COLUMNS)
    unknown = sorted(set(columns) - set(PSEUDONYMISED_COLUMNS))
    if forbidden or unknown:
        raise ValueError(
            "the pseudonymised publication may not hold column(s) " + ", ".join(forbidden + unknown)
        )


def pseudonymised_row(record: dict[str, Any]) -> dict[str, Any]:
    """One analyst row from a `lists.list_pseudonymised` record: only the allow-listed
    columns (reports/columns.py), whatever else the record carries; text escaped against
    spreadsheet formulas."""
    row: dict[str, Any] = {}
    for col in ANALYSTS:
        value = col.cell(record.get(col.field))
        row[col.name] = escape_formula(value) if col.is_text else value
    check_columns(list(row))
    return row


def render_csv(rows: list[dict[str, Any]]) -> bytes:
    """The analyst file as RFC 4180 CSV bytes (UTF-8, CRLF) in `PSEUDONYMISED_COLUMNS` order."""
    check_columns(PSEUDONYMISED_COLUMNS)
    return csv_bytes(PSEUDONYMISED_COLUMNS, rows)


def build_pseudonymised_table(
    con: duckdb.DuckDBPyConnection, as_of: date, opt_out_types: tuple[str, ...]
) -> int:
    """Build `lists.list_pseudonymised` at `as_of` under the analyst opt-out policy."""
    return build_model(con, MODEL, {"as_of": as_of, "opt_out_types": list(opt_out_types)})


def cohort_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """housebound = published + excluded_opt_out + excluded_other (counts only)."""
    row = con.execute(
        f"""
        select
            count(*),
            count(*) filter (where exclusion_reason = 'opt_out'),
            count(*) filter (where exclusion_reason is not null and exclusion_reason <> 'opt_out'),
            count(*) filter (where is_published),
        from lists.{MODEL}
        """
    ).fetchall()[0]
    housebound, opt_out, other, published = (int(x) for x in row)
    return {
        "housebound": housebound,
        "excluded_opt_out": opt_out,
        "excluded_other": other,
        "published": published,
    }


def load_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The published rows of `lists.list_pseudonymised`, by neighbourhood and rank."""
    cur = con.execute(
        f"select * from lists.{MODEL} where is_published order by neighbourhood_code, rank"
    )
    names = [d[0] for d in cur.description]
    return [pseudonymised_row(dict(zip(names, r, strict=True))) for r in cur.fetchall()]


def _fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """The recorded fingerprint of the pseudonym key (patient_ids of two files with the same
    fingerprint are comparable)."""
    row = con.execute(
        "select value from audit.warehouse_meta where key = 'key_fingerprint'"
    ).fetchall()
    return row[0][0] if row else None


def build_summary(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    opt_out_types: tuple[str, ...],
    rows: int,
    csv_sha256: str,
) -> dict[str, Any]:
    """`pseudonymised_summary.json`: what the file is, how it was made, counts only."""
    version = con.execute(
        "select min(model_version) from scores.scores where as_of = ?", [as_of]
    ).fetchall()
    model_version = (version[0][0] if version else None) or ""
    notes = {**COLUMN_NOTES, "risk_score": FALLBACK_SCORE_NOTE}
    if model_version:
        notes["risk_score"] = risk_score_note(model_horizon_days(con, model_version))
    snapshot_id = latest_snapshot_id(con)
    return {
        "publication": "pseudonymised",
        "purpose": PURPOSE,
        "note": (
            "Pseudonymised: no NHS number, name, date of birth or small-area code. Not for "
            "direct care. Do not combine with the pseudonymisation key or identifiable data."
        ),
        "as_of": as_of.isoformat(),
        "model_version": model_version,
        "code_version": code_version(),
        "snapshot_id": None if snapshot_id is None else str(snapshot_id),
        "pseudonym_key_fingerprint": _fingerprint(con),
        "opt_out_types_excluded": list(opt_out_types),
        "cohort": cohort_counts(con),
        "rows": rows,
        "files": {CSV_NAME: {"sha256": csv_sha256}},
        "columns": {c: notes[c] for c in PSEUDONYMISED_COLUMNS},
    }


def stage(
    con: duckdb.DuckDBPyConnection, as_of: date, out_dir: Path, opt_out_types: tuple[str, ...]
) -> tuple[Path, dict[str, Any]]:
    """Write the analyst CSV and its summary into a hidden staging folder under
    `OUT/pseudonymised`; return the folder and the summary (counts and checksums only)."""
    staging = staging_dir(out_dir / FOLDER, as_of)
    try:
        rows = load_rows(con)
        csv_path = staging / CSV_NAME
        csv_path.write_bytes(render_csv(rows))
        summary = build_summary(con, as_of, opt_out_types, len(rows), sha256_file(csv_path))
        (staging / SUMMARY_NAME).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        fsync_tree(staging)
    except BaseException:
        discard(staging)
        raise
    log.info("staged the pseudonymised publication for %s: %d rows", as_of, len(rows))
    return staging, summary


def commit(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    out_dir: Path,
    staging: Path,
    summary: dict[str, Any],
) -> Path:
    """Record the publication in `audit.pseudonymised_publications` and rename the staged
    folder to `OUT/pseudonymised/<as_of>/`, all or nothing."""
    ensure_list_tables(con)
    apply_ddl(con, ["pseudonymised_publications"])
    final = out_dir / FOLDER / as_of.isoformat()
    try:
        with transaction(con):
            con.execute("delete from audit.pseudonymised_publications where as_of = ?", [as_of])
            con.execute(
                "insert into audit.pseudonymised_publications values"
                " (?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
                [
                    as_of,
                    f"{FOLDER}/{as_of.isoformat()}",
                    summary["model_version"],
                    summary["code_version"],
                    summary["snapshot_id"],
                    json.dumps(summary["opt_out_types_excluded"]),
                    summary["rows"],
                    summary["files"][CSV_NAME]["sha256"],
                ],
            )
            _swap_in(staging, final)
    except BaseException:
        discard(staging)
        raise
    log.info("published the pseudonymised publication for %s", as_of)
    return final
