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

from reports.safety import escape_formula, folder_name

# The CSV (and the Excel list sheet) columns, in contract order (OUTPUTS.md), then ours.
LIST_COLUMNS: tuple[str, ...] = (
    "rank",
    "nhs_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "practice_code",
    "risk_score",
    "risk_tier",
    "change",
    "reasons",
    "efi",
    "efi_category",
    "hfrs",
    "hfrs_band",
    "in_hospital",
    "on_caseload",
    "model_version",
    "this_week",
    "last_review_date",
    "last_review_outcome",
    "care_home_resident",
)

COLUMN_NOTES: dict[str, str] = {
    "rank": "1 = highest risk within the neighbourhood (ties: higher score, then a fixed order)",
    "nhs_number": "10 digits, no spaces",
    "given_name": "from the GP record",
    "family_name": "from the GP record",
    "date_of_birth": "from the GP record (YYYY-MM-DD)",
    "practice_code": "ODS code of the registered practice",
    "risk_score": "calibrated probability (0-1) of an emergency admission or death in 12 months"
    " (in a week ranked by the fallback points score: the share of the maximum points)",
    "risk_tier": "very_high >= 0.70, high >= 0.50, moderate >= 0.30, low below",
    "change": "new (not on the last list); up / down: rank number smaller / larger; same",
    "reasons": "the top risk-raising reasons from the model, largest first, separated by '; '",
    "efi": "electronic Frailty Index (deficits / 36), 0-1",
    "efi_category": "fit (<=0.12), mild (<=0.24), moderate (<=0.36), severe (>0.36)",
    "hfrs": "Hospital Frailty Risk Score (2-year lookback of hospital diagnoses)",
    "hfrs_band": "low (<5), intermediate (5-15), high (>15)",
    "in_hospital": "true when a hospital spell is open at the list date",
    "on_caseload": "true when already on an open proactive-care caseload",
    "model_version": "the registered model that scored this list; empty when the fallback "
    "points score ranked it (see the banner)",
    "this_week": "true for the patients the team is asked to review this week (the weekly"
    " capacity, highest ranked first, skipping recent reviews unless risk rose); empty when no"
    " capacity was given",
    "last_review_date": "date of the team's latest recorded review of this patient",
    "last_review_outcome": "outcome of the team's latest recorded review of this patient",
    "care_home_resident": "true when the latest residence code is a care home",
}

TEXT_COLUMNS = frozenset(
    {
        "nhs_number",
        "given_name",
        "family_name",
        "date_of_birth",
        "practice_code",
        "risk_tier",
        "change",
        "reasons",
        "efi_category",
        "hfrs_band",
        "in_hospital",
        "on_caseload",
        "model_version",
        "this_week",
        "last_review_date",
        "last_review_outcome",
        "care_home_resident",
    }
)

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

    @property
    def folder(self) -> str:
        """The neighbourhood's folder name (the code when it is a safe path component)."""
        return folder_name(self.code)


def bool_text(value: Any) -> str:
    """A flag as the lists write it: `true` or `false` (a missing flag is `false`)."""
    return "true" if value else "false"


def iso_or_empty(value: Any) -> str:
    """A date as YYYY-MM-DD; none as an empty cell."""
    return value.isoformat() if isinstance(value, date) else ""


def round_or_none(value: Any, digits: int) -> float | None:
    """A number rounded for the lists; None stays None (an empty cell)."""
    return None if value is None else round(float(value), digits)


def list_row(record: dict[str, Any], reason_texts: list[str]) -> dict[str, Any]:
    """One list row in output form: numbers as numbers, text escaped against formulas."""
    dob = record.get("date_of_birth")
    row: dict[str, Any] = {
        "rank": int(record["rank"]),
        "nhs_number": record.get("nhs_number") or "",
        "given_name": record.get("given_name"),
        "family_name": record.get("family_name"),
        "date_of_birth": dob.isoformat() if isinstance(dob, date) else (dob or ""),
        "practice_code": record.get("practice_code"),
        "risk_score": round_or_none(record["risk_score"], 4),
        "risk_tier": record["risk_tier"],
        "change": record["change"],
        "reasons": "; ".join(reason_texts),
        "efi": round_or_none(record.get("efi"), 4),
        "efi_category": record.get("efi_category"),
        "hfrs": round_or_none(record.get("hfrs"), 1),
        "hfrs_band": record.get("hfrs_band"),
        "in_hospital": bool_text(record.get("in_hospital")),
        "on_caseload": bool_text(record.get("on_caseload")),
        "model_version": record.get("model_version"),
        # Weekly capacity and review feedback (lists.list_plan, reports/capacity.py).
        "this_week": "" if record.get("this_week") is None else bool_text(record["this_week"]),
        "last_review_date": iso_or_empty(record.get("last_review_date")),
        "last_review_outcome": record.get("last_review_outcome") or "",
        "care_home_resident": bool_text(record.get("is_care_home_resident")),
    }
    for col in TEXT_COLUMNS:
        row[col] = escape_formula(row[col])
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
    lists = {
        code: NeighbourhoodList(
            code=code,
            name=name or code,
            as_of=as_of,
            model_version=version,
            banners=list(banners),
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
        """
        select w.*, i.nhs_number, i.given_name, i.family_name, i.date_of_birth,
            p.this_week, p.last_review_date, p.last_review_outcome
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
