"""The model's outcome horizon in the words the lists use ("12 months", "6 months")."""

from __future__ import annotations

import duckdb

# An average month (365.25 / 12 days); a horizon within this many days of a whole number of
# months is said in months, any other in days.
DAYS_PER_MONTH = 365.25 / 12
MONTH_TOLERANCE_DAYS = 3.0

RISK_WORDS = "the risk of an emergency admission or death"
# What the fallback points score covers (models/fallback.py, docs/model.md): no period ahead.
FALLBACK_COVERS = (
    "the fallback points score: frailty (eFI, HFRS), dementia, palliative care, age, and the "
    "emergency admissions, A&E visits and falls of the last 12 months; no model predicted a "
    "risk over a period ahead this week"
)
# The end of a model week's `risk_score` note on the lists.
FALLBACK_TAIL = " (in a week ranked by the fallback points score: the share of the maximum points)"

# The `risk_score` note in a week ranked by the fallback score.
FALLBACK_SCORE_NOTE = (
    "this week the share (0-1) of the maximum fallback points, not a probability: no model "
    "was fit to rank (model_version is empty)"
)


def horizon_in_words(days: int) -> str:
    """`days` as a reader says it: whole months when it is close to them (365 -> "12 months",
    183 -> "6 months", 30 -> "1 month"), else days (100 -> "100 days", 1 -> "1 day")."""
    if days < 1:
        raise ValueError(f"a horizon is at least 1 day, not {days}")
    months = round(days / DAYS_PER_MONTH)
    if months >= 1 and abs(days - months * DAYS_PER_MONTH) <= MONTH_TOLERANCE_DAYS:
        return f"{months} month{'s' if months != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"


def model_horizon_days(con: duckdb.DuckDBPyConnection, version: str) -> int | None:
    """The outcome horizon registered with model `version` (`registry.models`); None when the
    lists were ranked by the fallback score (no version) or the version is not recorded."""
    if not version:
        return None
    known = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'registry' and table_name = 'models'"
    ).fetchone()
    if not known or not known[0]:
        return None
    row = con.execute(
        "select horizon_days from registry.models where model_version = ?", [version]
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def ranked_by(model_version: str, horizon_days: int | None) -> str:
    """The sentence under a list's title saying what orders it."""
    if not model_version:
        return f"Ranked by {FALLBACK_COVERS}."
    if horizon_days is None:
        return f"Ranked by {RISK_WORDS} predicted by model {model_version}."
    return f"Ranked by {RISK_WORDS} within {horizon_in_words(horizon_days)}."


def risk_score_note(horizon_days: int | None) -> str:
    """What a model's `risk_score` is: the probability of the outcome within its horizon."""
    within = horizon_in_words(horizon_days) if horizon_days else "the model's horizon"
    return f"calibrated probability (0-1) of an emergency admission or death in {within}"
