"""Calibration: Platt and isotonic maps from raw log-odds to probabilities, as JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.calibrate import Calibrator
from models.stats import fit_intercept_with_offset, fit_logistic_1d, sigmoid


def _simulated(n: int = 20000, a: float = -1.0, b: float = 0.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    raw = rng.normal(0, 2, n)
    y = (rng.random(n) < sigmoid(a + b * raw)).astype(int)
    return raw, y


def test_logistic_fit_recovers_known_coefficients():
    raw, y = _simulated()
    a, b = fit_logistic_1d(raw, y)
    assert a == pytest.approx(-1.0, abs=0.06)
    assert b == pytest.approx(0.5, abs=0.04)


def test_intercept_with_offset_is_zero_when_offset_is_the_truth():
    raw, y = _simulated(a=0.0, b=1.0)
    assert fit_intercept_with_offset(raw, y) == pytest.approx(0.0, abs=0.05)
    assert fit_intercept_with_offset(raw - 1.0, y) == pytest.approx(1.0, abs=0.06)


def test_sigmoid_calibration_maps_overconfident_scores_back():
    raw, y = _simulated(a=-1.0, b=0.5)
    cal = Calibrator("sigmoid").fit(raw, y)
    assert cal is not None and cal.slope_ == pytest.approx(0.5, abs=0.04)
    p = cal.predict(raw)
    assert p.mean() == pytest.approx(y.mean(), abs=0.005)


def test_isotonic_is_monotone_and_bounded():
    raw, y = _simulated()
    cal = Calibrator("isotonic").fit(raw, y)
    grid = np.linspace(-10, 10, 500)
    p = cal.predict(grid)
    assert np.all(np.diff(p) >= 0)
    assert p.min() > 0 and p.max() < 1
    assert cal.predict(raw).mean() == pytest.approx(y.mean(), abs=0.01)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_json_round_trip_gives_identical_predictions(method):
    raw, y = _simulated(n=3000)
    cal = Calibrator(method).fit(raw, y)
    text = cal.to_json()
    assert json.loads(text)["method"] == method
    again = Calibrator.from_json(text)
    np.testing.assert_array_equal(again.predict(raw), cal.predict(raw))


def test_one_outcome_class_is_refused():
    with pytest.raises(ValueError, match="both outcomes"):
        Calibrator().fit(np.array([0.1, 0.2, 0.3]), np.array([0, 0, 0]))


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        Calibrator("beta").fit(np.array([0.1, 0.2]), np.array([0, 1]))
