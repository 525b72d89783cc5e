"""The rows of each neighbourhood's proactive-care list, formatted once for CSV, Excel and HTML."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

# The columns, their notes and types are declared once, in reports/columns.py; the pages
# import them from here too (explicit re-exports).
from reports.columns import COLUMN_NOTES as COLUMN_NOTES
from reports.columns import LIST, LIST_COLUMNS, publication_select_list
from reports.columns import TEXT_COLUMNS as TEXT_COLUMNS
from reports.horizon import FALLBACK_SCORE_NOTE, FALLBACK_TAIL, model_horizon_days, risk_score_note
from reports.safety import escape_formula, folder_name

CHANGE_VALUES = ("new", "up", "down", "same")
LEFT_REASONS = (
    "died",
    "moved",
    "reported died/moved away by the team",
    "no longer housebound",
    "opted out",
    "other",
)


@dataclass
class Evidence:
    """One dated source record behind a reason."""

    source: str
    date: str
    code: str
    term: str


@dataclass
class ListReason:
    """One reason on the list, with its evidence."""

    feature: str
    text: str
    contribution: float
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class NeighbourhoodList:
    """Everything published for one neighbourhood at one as-of date."""

    code: str
    name: str
    as_of: date
    model_version: str
    previous_as_of: date | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, list[ListReason]] = field(default_factory=dict)
    left: list[dict[str, Any]] = field(default_factory=list)
    profile: dict[str, dict[str, int]] = field(default_factory=dict)
    standards: list[dict[str, Any]] = field(default_factory=list)
    # The week's warnings, shown on every page and sheet (reports/banners.py).
    banners: list[str] = field(default_factory=list)
    # The registered model's outcome horizon (None: ranked by the fallback score, or unknown).
    horizon_days: int | None = None

    @property
    def column_notes(self) -> dict[str, str]:
        """COLUMN_NOTES with `risk_score` said for this list's model horizon (or fallback)."""
        if not self.model_version:
            note = FALLBACK_SCORE_NOTE
        else:
            note = risk_score_note(self.horizon_days) + FALLBACK_TAIL
        return {**COLUMN_NOTES, "risk_score": note}

    @property
    def folder(self) -> str:
        """The neighbourhood's folder name (the code when it is a safe path component)."""
        return folder_name(self.code)


def list_row(record: dict[str, Any], reason_texts: list[str]) -> dict[str, Any]:
    """One list row in output form (reports/columns.py): numbers as numbers, text escaped
    against formulas."""
    row: dict[str, Any] = {}
    for col in LIST:
        if col.name == "reasons":
            value: Any = "; ".join(reason_texts)
        else:
            value = col.cell(record.get(col.field))
        row[col.name] = escape_formula(value) if col.is_text else value
    return row


def csv_cell(value: Any) -> str:
    """A value as CSV text; floats in their shortest form, whole ones without `.0`, exactly as
    a spreadsheet stores and reads them back."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def csv_bytes(columns: Sequence[str], rows: list[dict[str, Any]]) -> bytes:
    """Rows as RFC 4180 CSV bytes (UTF-8, CRLF), header first, in `columns` order."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row[c]) for c in columns])
    return buf.getvalue().encode("utf-8")


def render_csv(rows: list[dict[str, Any]]) -> bytes:
    """The list as CSV bytes in `LIST_COLUMNS` order."""
    return csv_bytes(LIST_COLUMNS, rows)


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def load_lists(
    con: duckdb.DuckDBPyConnection, as_of: date, banners: Sequence[str] = ()
) -> list[NeighbourhoodList]:
    """Every neighbourhood's list at `as_of` from `lists.list_week` and friends, with identities,
    each carrying the week's `banners` (reports/banners.py).

    Identifiers (NHS number, names, date of birth) are joined here, at publication, and
    nowhere earlier. Every neighbourhood of `core.core_practices` gets a list, possibly empty.
    """
    neighbourhoods = con.execute(
        "select neighbourhood_code, min(neighbourhood_name) from core.core_practices"
        " where neighbourhood_code is not null group by 1 order by 1"
    ).fetchall()
    model_version = con.execute(
        "select min(model_version) from scores.scores where as_of = ?", [as_of]
    ).fetchone()
    version = (model_version[0] if model_version else None) or ""
    horizon_days = model_horizon_days(con, version)
    lists = {
        code: NeighbourhoodList(
            code=code,
            name=name or code,
            as_of=as_of,
            model_version=version,
            banners=list(banners),
            horizon_days=horizon_days,
        )
        for code, name in neighbourhoods
    }
    reasons: dict[str, list[ListReason]] = defaultdict(list)
    for pid, feature, text, contribution in con.execute(
        "select r.patient_id, r.feature, r.text, r.contribution from scores.reasons r"
        " semi join lists.list_week w on w.patient_id = r.patient_id"
        " where r.as_of = ? order by r.patient_id, r.reason_rank",
        [as_of],
    ).fetchall():
        reasons[pid].append(ListReason(feature, text, float(contribution)))
    by_feature = {
        (pid, r.feature): r for pid, patient_reasons in reasons.items() for r in patient_reasons
    }
    for pid, feature, source, event_date, code, term in con.execute(
        "select e.patient_id, e.feature, e.source, e.event_date, e.code, e.term"
        " from scores.evidence e semi join lists.list_week w on w.patient_id = e.patient_id"
        " where e.as_of = ? order by e.patient_id, e.feature, e.evidence_rank",
        [as_of],
    ).fetchall():
        reason = by_feature.get((pid, feature))
        if reason is not None:
            reason.evidence.append(
                Evidence(
                    source or "",
                    event_date.isoformat() if event_date else "",
                    code or "",
                    term or "",
                )
            )
    for record in _records(
        con,
        f"""
        select w.*, {publication_select_list()}
        from lists.list_week as w
        left join core.core_patient_identity as i on i.patient_id = w.patient_id
        -- weekly capacity and review feedback (sql/lists/list_plan.sql)
        left join lists.list_plan as p
            on p.neighbourhood_code = w.neighbourhood_code and p.patient_id = w.patient_id
        order by w.neighbourhood_code, w.rank
        """,
        [],
    ):
        nl = lists.get(record["neighbourhood_code"])
        if nl is None:
            continue
        pid = record["patient_id"]
        patient_reasons = reasons.get(pid, [])
        row = list_row(record, [r.text for r in patient_reasons])
        row["_patient_id"] = pid
        row["_previous_rank"] = record.get("previous_rank")
        row["_risk_score_exact"] = float(record["risk_score"])
        nl.rows.append(row)
        if record.get("previous_as_of") is not None:
            nl.previous_as_of = record["previous_as_of"]
        nl.reasons[pid] = patient_reasons
    for record in _records(
        con,
        """
        select l.*, i.nhs_number, i.given_name, i.family_name, i.date_of_birth
        from lists.list_left_week as l
        left join core.core_patient_identity as i on i.patient_id = l.patient_id
        order by l.neighbourhood_code, l.previous_rank
        """,
        [],
    ):
        nl = lists.get(record["neighbourhood_code"])
        if nl is None:
            continue
        nl.previous_as_of = nl.previous_as_of or record["previous_as_of"]
        dob = record.get("date_of_birth")
        nl.left.append(
            {
                "nhs_number": record.get("nhs_number") or "",
                "given_name": escape_formula(record.get("given_name")),
                "family_name": escape_formula(record.get("family_name")),
                "date_of_birth": dob.isoformat() if isinstance(dob, date) else "",
                "previous_rank": record["previous_rank"],
                "previous_as_of": record["previous_as_of"].isoformat(),
                "reason": record["reason"],
            }
        )
    for code, dimension, category, n in con.execute(
        "select neighbourhood_code, dimension, category, n_patients from lists.list_profile"
    ).fetchall():
        if code in lists:
            lists[code].profile.setdefault(dimension, {})[category] = int(n)
    for record in _records(
        con,
        "select * from lists.list_service_standards order by neighbourhood_code, standard,"
        " week_start",
        [],
    ):
        nl = lists.get(record["neighbourhood_code"])
        if nl is not None:
            nl.standards.append(record)
    return list(lists.values())


def this_week_first(
    rows: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows the team is asked to review this week (`this_week` true), then the others,
    each in their given (rank) order. Without a `this_week` key, or with it empty on every
    row (no capacity given), the first part is empty and the second is every row."""
    this_week = [r for r in rows if str(r.get("this_week")).lower() == "true"]
    rest = [r for r in rows if str(r.get("this_week")).lower() != "true"]
    return this_week, rest


def standards_summary(standards: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per standard over the 12 weeks: referrals, met and the share met (None when none)."""
    out: dict[str, dict[str, Any]] = {}
    for standard in ("ucr_2h", "reablement_2d"):
        weeks = [s for s in standards if s["standard"] == standard]
        n = sum(int(s["n_referrals"]) for s in weeks)
        met = sum(int(s["n_met"]) for s in weeks)
        out[standard] = {
            "n_referrals": n,
            "n_met": met,
            "share_met": (met / n) if n else None,
            "weeks": [
                {
                    "week_start": s["week_start"].isoformat(),
                    "week_end": s["week_end"].isoformat(),
                    "n_referrals": int(s["n_referrals"]),
                    "n_met": int(s["n_met"]),
                }
                for s in weeks
            ],
        }
    return out


STANDARD_LABELS = {
    "ucr_2h": "Urgent community response referrals seen within 2 hours",
    "reablement_2d": "Reablement referrals started within 2 days",
}
