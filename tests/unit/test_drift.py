"""Drift measures: PSI on quantile bins of the previous run, and volume change per source."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reports.drift import (
    Profile,
    drift,
    profile,
    psi,
    psi_against,
    psi_status,
    volume_changes,
)


def test_identical_distributions_have_zero_psi() -> None:
    values = list(range(100))
    assert psi(values, values) == 0.0


def test_profile_uses_ten_quantile_bins_of_the_previous_run() -> None:
    prof = profile(list(range(1, 101)))
    assert len(prof.edges) == 9
    # nine inner deciles + the tail bin above the last edge + one for missing values
    assert len(prof.proportions) == 11
    assert prof.proportions[:10] == pytest.approx([0.1] * 10)
    assert prof.proportions[10] == 0.0


def test_psi_matches_hand_computation_for_a_flag() -> None:
    # 80% false last week, 50% this week: one edge (0), bins {0} and {1}.
    previous = [False] * 80 + [True] * 20
    current = [False] * 50 + [True] * 50
    expected = (0.5 - 0.8) * math.log(0.5 / 0.8) + (0.5 - 0.2) * math.log(0.5 / 0.2)
    assert psi(previous, current) == pytest.approx(expected)
    assert psi_status(psi(previous, current)) == "flagged"


def test_shifted_feature_is_flagged_and_small_noise_is_not() -> None:
    rng = np.random.default_rng(7)
    previous = rng.normal(0.2, 0.05, 2000)
    same = rng.normal(0.2, 0.05, 2000)
    shifted = previous + 0.05  # one standard deviation
    assert psi_status(psi(previous, same)) == "stable"
    assert psi_status(psi(previous, shifted)) == "flagged"


def test_watch_band_between_thresholds() -> None:
    assert psi_status(0.05) == "stable"
    assert psi_status(0.1) == "watch"
    assert psi_status(0.2) == "watch"
    assert psi_status(0.2001) == "flagged"
    assert psi_status(None) == "no previous"


def test_missing_values_have_their_own_bin() -> None:
    previous = [1.0, 2.0, 3.0, 4.0] * 25
    current = [1.0, 2.0, 3.0, 4.0] * 15 + [None] * 40
    assert psi_status(psi(previous, current)) == "flagged"


def test_profile_round_trips_through_a_dict_and_gives_the_same_psi() -> None:
    previous = profile([0, 0, 1, 2, 3, 5, 8, 13])
    again = Profile.from_dict(previous.to_dict())
    assert again == previous
    assert psi_against(again, [0, 1, 1, 2]) == psi_against(previous, [0, 1, 1, 2])


def test_first_run_has_no_previous_and_is_not_flagged() -> None:
    result = drift("efi", None, [0.1, 0.2])
    assert result.psi is None
    assert result.status == "no previous"
    assert result.n_current == 2


def test_empty_current_gives_none() -> None:
    assert psi([1, 2, 3], []) is None


def test_volume_drop_over_20_percent_is_flagged() -> None:
    changes = {
        c.source: c
        for c in volume_changes(
            {"gp_events": 1000, "acute_spells": 100, "caseload": 50, "ae_attendances": 10},
            {"gp_events": 790, "acute_spells": 80, "caseload": 60, "opt_outs": 5},
        )
    }
    assert changes["gp_events"].flagged
    assert changes["gp_events"].change == pytest.approx(-0.21)
    assert not changes["acute_spells"].flagged  # exactly 20% is not more than 20%
    assert not changes["caseload"].flagged
    assert changes["ae_attendances"].flagged  # gone entirely
    assert changes["ae_attendances"].change == -1.0
    assert changes["opt_outs"].previous is None and not changes["opt_outs"].flagged


def test_no_previous_snapshot_flags_nothing() -> None:
    assert not any(c.flagged for c in volume_changes(None, {"gp_events": 10}))


def test_a_numeric_array_profiles_as_its_values_do() -> None:
    # The run report reads features as float arrays (NaN for missing) and flags as bools.
    values = [0.5, None, 2.0, 2.0, 7.25, None, 1.0, 3.5] * 20
    as_array = np.array([np.nan if v is None else v for v in values])
    assert profile(as_array) == profile(values)
    flags = [True, False, False, True, False] * 10
    assert profile(np.array(flags)) == profile(flags)
    assert psi_against(profile(values), as_array) == psi_against(profile(values), values)
