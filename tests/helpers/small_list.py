"""A small neighbourhood list written as literal rows, for the list page and workbook tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from reports.lists import Evidence, ListReason, NeighbourhoodList, list_row

AS_OF = date(2026, 11, 16)
HOSTILE = '<script>alert("x")</script>'

# pid, NHS number, given name, family name, date of birth, risk score, tier, change
PEOPLE = (
    ("p1", "9434765919", "Ada", "Lovelace", date(1930, 1, 2), 0.81, "very_high", "new"),
    ("p2", "9434765854", HOSTILE, "=Smith", date(1931, 5, 6), 0.55, "high", "up"),
    ("p3", "9434765846", "Eve", "Moore", date(1932, 9, 10), 0.12, "low", "same"),
)


def small_list(
    this_week: Sequence[str] | None = None, banners: Sequence[str] = ()
) -> NeighbourhoodList:
    """Three patients of neighbourhood N1 ranked 1-3, each with two reasons; one left.

    `this_week`: the flag of each patient in rank order ("true", "false" or ""), as the list
    rows carry it; None leaves the key out of the rows (a list without weekly capacity).
    """
    nl = NeighbourhoodList(
        code="N1", name="North", as_of=AS_OF, model_version="v1", banners=list(banners)
    )
    for rank, (pid, nhs, given, family, dob, score, tier, change) in enumerate(PEOPLE, start=1):
        record = {
            "rank": rank,
            "nhs_number": nhs,
            "given_name": given,
            "family_name": family,
            "date_of_birth": dob,
            "practice_code": "P1",
            "risk_score": score,
            "risk_tier": tier,
            "change": change,
            "efi": 0.3,
            "efi_category": "moderate",
            "hfrs": 6.0 + rank,
            "hfrs_band": "intermediate",
            "in_hospital": rank == 2,
            "on_caseload": False,
            "model_version": "v1",
            "is_care_home_resident": False,
        }
        reasons = [
            ListReason(
                "n_emergency_admissions_365d",
                f"{rank} emergency admissions in the last 12 months",
                0.8,
                [Evidence("acute_spells", "2026-10-01", "I500", "Heart failure")],
            ),
            ListReason("age", f"aged {94 - rank} years", 0.3),
        ]
        row = list_row(record, [r.text for r in reasons])
        row["_patient_id"] = pid
        row["_previous_rank"] = None
        if this_week is not None:
            row["this_week"] = this_week[rank - 1]
        nl.rows.append(row)
        nl.reasons[pid] = reasons
    nl.left.append(
        {
            "nhs_number": "9434765838",
            "given_name": "Fay",
            "family_name": "Gone",
            "date_of_birth": "1931-01-01",
            "previous_rank": 2,
            "previous_as_of": "2026-11-09",
            "reason": "died",
        }
    )
    nl.profile = {"tier": {"very_high": 1, "high": 1, "low": 1}, "frailty": {"moderate": 3}}
    return nl
