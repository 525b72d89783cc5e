"""The model horizon in words on the lists, and the horizon and seed settings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from foundation.errors import CasefinderError
from foundation.settings import load_settings
from reports.horizon import (
    FALLBACK_SCORE_NOTE,
    horizon_in_words,
    model_horizon_days,
    ranked_by,
)
from reports.lists import NeighbourhoodList


@pytest.mark.parametrize(
    ("days", "words"),
    [
        (365, "12 months"),
        (366, "12 months"),
        (183, "6 months"),
        (182, "6 months"),
        (90, "3 months"),
        (30, "1 month"),
        (730, "24 months"),
        (100, "100 days"),
        (14, "14 days"),
        (1, "1 day"),
    ],
)
def test_a_horizon_is_said_in_months_when_close_to_them_else_in_days(days: int, words: str) -> None:
    assert horizon_in_words(days) == words


def test_a_horizon_below_one_day_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        horizon_in_words(0)


def test_the_list_sentence_follows_the_model_horizon_and_the_fallback_says_what_it_covers() -> None:
    assert ranked_by("2026-11-23-abcd1234", 365) == (
        "Ranked by the risk of an emergency admission or death within 12 months."
    )
    assert "within 6 months" in ranked_by("2026-11-23-abcd1234", 183)
    fallback = ranked_by("", None)
    assert "fallback points score" in fallback and "within" not in fallback
    assert "last 12 months" in fallback  # what the points look back over, not a horizon


def _list(version: str, horizon_days: int | None) -> NeighbourhoodList:
    return NeighbourhoodList(
        code="NB01", name="North", as_of=date(2026, 11, 23), model_version=version,
        horizon_days=horizon_days,
    )  # fmt: skip


def test_the_risk_score_note_is_unchanged_for_the_default_horizon_and_follows_another() -> None:
    assert _list("m1", 365).column_notes["risk_score"] == (
        "calibrated probability (0-1) of an emergency admission or death in 12 months"
        " (in a week ranked by the fallback points score: the share of the maximum points)"
    )
    assert " in 6 months " in _list("m1", 183).column_notes["risk_score"]
    assert _list("", None).column_notes["risk_score"] == FALLBACK_SCORE_NOTE


def test_the_horizon_comes_from_the_registered_model() -> None:
    con = duckdb.connect()
    assert model_horizon_days(con, "m1") is None  # no registry yet
    con.execute("create schema registry")
    con.execute("create table registry.models (model_version varchar, horizon_days integer)")
    con.execute("insert into registry.models values ('m1', 183), ('m2', 365)")
    assert model_horizon_days(con, "m1") == 183
    assert model_horizon_days(con, "m2") == 365
    assert model_horizon_days(con, "") is None  # the fallback ranked the week


def test_horizon_and_seed_are_read_once_from_the_environment(tmp_path: Path) -> None:
    default = load_settings({}, cwd=tmp_path)
    chosen = load_settings(
        {"CASEFINDER_HORIZON_DAYS": "183", "CASEFINDER_SEED": "7"}, cwd=tmp_path
    ).for_run()
    assert (chosen.horizon_days, chosen.seed) == (183, 7)
    assert (default.horizon_days, default.seed) == (365, 42)


@pytest.mark.parametrize("raw", ["0", "-30", "six months"])
def test_a_horizon_that_is_not_a_positive_whole_number_is_refused(tmp_path: Path, raw: str) -> None:
    with pytest.raises(CasefinderError, match="CASEFINDER_HORIZON_DAYS"):
        load_settings({"CASEFINDER_HORIZON_DAYS": raw}, cwd=tmp_path)


def test_the_pseudonym_key_of_a_run_is_a_secret(tmp_path: Path) -> None:
    run = load_settings({"CASEFINDER_PSEUDONYM_KEY": "ab" * 32}, cwd=tmp_path).for_run()
    assert run.pseudonym_key is not None
    assert "ab" * 32 not in repr(run)
    assert run.pseudonym_key.get_secret_value() == "ab" * 32


def test_a_scheduled_run_gets_the_capacity_feedback_and_plan_settings(tmp_path: Path) -> None:
    # A deployment's run has no command line: RunSettings carries what `run` takes as options.
    run = load_settings(
        {
            "CASEFINDER_CAPACITY_FILE": str(tmp_path / "capacity.csv"),
            "CASEFINDER_FEEDBACK_DIR": str(tmp_path / "returned"),
            "CASEFINDER_REVIEW_WINDOW_DAYS": "28",
            "CASEFINDER_CHANGE_THRESHOLD": "0.1",
        },
        cwd=tmp_path,
    ).for_run()
    assert run.capacity_file == tmp_path / "capacity.csv"
    assert run.feedback_dir == tmp_path / "returned"
    assert (run.review_window_days, run.change_threshold) == (28, 0.1)
    default = load_settings({}, cwd=tmp_path).for_run()
    assert (default.capacity_file, default.feedback_dir) == (None, None)
    assert (default.review_window_days, default.change_threshold) == (84, 0.05)
