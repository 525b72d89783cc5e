"""The mostly-rejected limit: its setting, and the one line a stopping file gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.errors import CasefinderError
from foundation.settings import load_settings
from pipelines.ingest.rejections import FileRejections, RuleFailure, stop_message


@pytest.mark.parametrize(("raw", "share"), [(None, 0.5), ("0", 0.0), ("0.8", 0.8), ("1", 1.0)])
def test_the_limit_is_read_once_from_the_environment(
    tmp_path: Path, raw: str | None, share: float
) -> None:
    env = {} if raw is None else {"CASEFINDER_MAX_REJECTED_SHARE": raw}
    assert load_settings(env, cwd=tmp_path).max_rejected_share == share


@pytest.mark.parametrize("raw", ["half", "1.5", "-0.1", "nan"])
def test_a_limit_that_is_not_a_share_is_refused(tmp_path: Path, raw: str) -> None:
    with pytest.raises(CasefinderError) as info:
        load_settings({"CASEFINDER_MAX_REJECTED_SHARE": raw}, cwd=tmp_path)
    assert str(info.value) == (
        "CASEFINDER_MAX_REJECTED_SHARE must be a share between 0 and 1 (e.g. 0.5)"
    )


def _file(name: str, read: int, quarantined: int, *failures: RuleFailure) -> FileRejections:
    return FileRejections(name, f"{name}.csv", read, quarantined, failures)


DATES = RuleFailure("event_date_format", "event_date", "event_date is a date", 998, "03/11/2026")
NUMBERS = RuleFailure("nhs_number_format", "nhs_number", "nhs_number is valid", 2, None)


def test_more_than_the_limit_stops_and_exactly_the_limit_does_not() -> None:
    assert _file("gp_events", 1000, 501).stops(0.5)
    assert not _file("gp_events", 1000, 500).stops(0.5)
    assert not _file("acute_spells", 0, 0).stops(0.0)  # a header-only file never stops
    assert not _file("gp_events", 10, 10).stops(1.0)  # 1 switches the stop off


def test_the_line_names_the_file_the_share_the_top_rule_and_an_example() -> None:
    events = _file("gp_events", 1000, 998, DATES, NUMBERS)
    meds = _file("gp_medications", 10, 9, NUMBERS)
    assert stop_message([events, meds], 0.5, "the run stops") == (
        "gp_events.csv: 99.8% of rows rejected (998 of 1000; the limit is 50%), mostly by "
        "rule event_date_format ('event_date is a date', e.g. '03/11/2026'); the run stops; "
        "also mostly rejected: gp_medications.csv"
    )
    # No example for a column that identifies someone.
    assert stop_message([meds], 0.5, "x") == (
        "gp_medications.csv: 90.0% of rows rejected (9 of 10; the limit is 50%), mostly by "
        "rule nhs_number_format ('nhs_number is valid'); x"
    )
