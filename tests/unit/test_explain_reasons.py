"""Unit: contributions become ranked plain-English reasons through the feature dictionary."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features import dictionary
from models.explain import top_reasons, typed_value

NAMES = ["age", "n_emergency_admissions_365d", "efi"]


def _first_flag() -> str:
    return next(f.name for f in dictionary.FEATURES if f.dtype == "bool" and f.model)


def test_reasons_are_the_positive_contributions_largest_first():
    values = np.array([[91.0, 3.0, 0.42]])
    contribs = np.array([[0.2, 0.9, -0.3]])
    (reasons,) = top_reasons(NAMES, values, contribs)
    assert [r.feature for r in reasons] == ["n_emergency_admissions_365d", "age"]
    assert reasons[0].text == dictionary.sentence("n_emergency_admissions_365d", 3)
    assert reasons[0].contribution == pytest.approx(0.9)


def test_absent_present_features_and_non_positive_contributions_are_not_reasons():
    flag = _first_flag()
    names = [flag, "age"]
    values = np.array([[0.0, 85.0], [1.0, 85.0]])
    contribs = np.array([[0.5, 0.0], [0.5, -0.1]])
    first, second = top_reasons(names, values, contribs)
    assert first == []
    assert [r.feature for r in second] == [flag]


def test_at_most_max_reasons_and_deterministic_ties():
    values = np.array([[90.0, 2.0, 0.3]])
    contribs = np.array([[0.5, 0.5, 0.5]])
    (reasons,) = top_reasons(NAMES, values, contribs, max_reasons=2)
    assert [r.feature for r in reasons] == ["age", "n_emergency_admissions_365d"]


def test_missing_values_are_not_reasons():
    (reasons,) = top_reasons(
        NAMES, np.array([[math.nan, 2.0, math.nan]]), np.array([[1.0, 0.1, 1.0]])
    )
    assert [r.feature for r in reasons] == ["n_emergency_admissions_365d"]


def test_typed_values():
    assert typed_value("bool", 1.0) is True
    assert typed_value("int", 3.0) == 3
    assert typed_value("float", math.nan) is None
    assert typed_value("int", None) is None
