"""The week's warnings for list readers: the run's checks in words a neighbourhood lead uses."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from models.scoring import ranking_of
from reports.run_report import Check, data_quality_checks, previous_summary_for, ranking_check
from reports.summary import extracts_block, latest_snapshot_id

# What each extract file holds, in a lead's words.
FILE_WORDS = {
    "gp_patients": "GP patient records",
    "gp_events": "GP records (diagnoses, codes and measurements)",
    "gp_medications": "GP prescription records",
    "acute_spells": "hospital admission records",
    "ae_attendances": "A&E attendance records",
    "community_contacts": "community service contact records",
    "social_care_services": "social care records",
    "opt_outs": "opt-out records",
    "caseload": "caseload records",
    "practices": "practice records",
    "lsoa_imd": "area deprivation records",
}
SEE_REPORT = "Your data team has the details in the run report."
FALLBACK_WORDS = (
    "Ranked by a points score, not by the risk model: no risk model could be used this week "
    "({why}). Patients are ordered by points for frailty (eFI), hospital frailty (HFRS), "
    "emergency admissions, A&E visits, falls, palliative care, dementia and age; the score "
    "(0-1) is the share of the maximum points, not a probability, and the risk tiers are bands "
    "of points."
)
WHY_GATE = "the model trained on this site's data did not pass its quality checks"
WHY_DATA = "there is too little data to train and test one"


def _file_words(name: str) -> str:
    stem = name.split(".", 1)[0]
    return f"{FILE_WORDS.get(stem, stem)} ({stem})"


def lead_banner(check: Check) -> str | None:
    """A breached check as a banner a lead understands (None when it is not for the lists)."""
    if not check.breached:
        return None
    kind, _, subject = check.name.partition(":")
    value = check.value if isinstance(check.value, int | float) else None
    if kind == "ranking":
        why = WHY_GATE if "model not registered" in check.message else WHY_DATA
        return f"{FALLBACK_WORDS.format(why=why)} {SEE_REPORT}"
    if kind == "quarantine_rate" and value is not None:
        return (
            f"Data warning: {value:.0%} of the {_file_words(subject)} received this week were "
            f"rejected as unreadable, so this list may be missing patients or reasons. "
            f"{SEE_REPORT}"
        )
    if kind == "volume" and value is not None:
        return (
            f"Data warning: this week's {_file_words(subject)} hold {-value:.0%} fewer rows than "
            f"last week's, so this list may be missing patients or reasons. {SEE_REPORT}"
        )
    if kind == "list_size" and value is not None:
        return (
            f"Data warning: the list for {subject} is {-value:.0%} shorter than the last one. "
            f"Patients shown as having left it may have left only because data are missing: "
            f"check with your data team before acting on it. {SEE_REPORT}"
        )
    return None


def list_sizes(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Rows per neighbourhood of this week's `lists.list_week`, every neighbourhood of the
    practices included (as published: `{code: {"rows": n}}`)."""
    rows = con.execute(
        """
        select p.neighbourhood_code, count(w.patient_id)
        from (
            select distinct neighbourhood_code from core.core_practices
            where neighbourhood_code is not null
        ) as p
        left join lists.list_week as w on w.neighbourhood_code = p.neighbourhood_code
        group by 1 order by 1
        """
    ).fetchall()
    return {str(code): {"rows": int(n)} for code, n in rows}


def week_banners(con: duckdb.DuckDBPyConnection, as_of: date, reports_dir: Path) -> list[str]:
    """The banners of every list page and sheet at `as_of`: the fallback ranking first, then
    each breached data-quality check of the run report (`run_report.data_quality_checks`),
    against the last published run summary under `reports_dir`. Counts only, no identifiers.
    """
    checks: list[Check] = []
    ranking = ranking_check(ranking_of(con, as_of))
    if ranking is not None:
        checks.append(ranking)
    summary = {
        "as_of": as_of.isoformat(),
        "extracts": extracts_block(con, latest_snapshot_id(con)),
        "lists": list_sizes(con),
    }
    previous = previous_summary_for(Path(reports_dir), as_of.isoformat())
    checks += data_quality_checks(con, summary, previous)
    return [text for text in (lead_banner(c) for c in checks) if text]
