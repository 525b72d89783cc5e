"""The fallback points score (models/fallback.py) on a few literal patients."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.fallback import POINTS, POINTS_SCALE, FallbackScorer

NAMES = [p.feature for p in POINTS]


def _row(**values: float) -> list[float]:
    return [values.get(name, math.nan) for name in NAMES]


def test_points_follow_the_documented_rules():
    scorer = FallbackScorer().fit()
    assert scorer.feature_names_ == NAMES
    rows = np.array(
        [
            # eFI 0.36 -> 3.6; HFRS 10 -> 2; 2 admissions -> 3, 1 of them recent -> 1;
            # 3 A&E -> 1.5; 1 fall -> 1; palliative -> 2; dementia -> 1; age 85 -> 2
            _row(
                efi=0.36,
                hfrs=10,
                n_emergency_admissions_365d=2,
                n_emergency_admissions_90d=1,
                n_ae_unplanned_365d=3,
                n_falls_365d=1,
                on_palliative_care_register=1,
                has_dementia=1,
                age=85,
            ),
            # caps: HFRS 200 -> 4, 9 admissions -> 4.5, age 104 -> 2.5
            _row(hfrs=200, n_emergency_admissions_365d=9, age=104),
            # nothing known: no points
            _row(),
            # under 65: no age points
            _row(age=50, efi=0.0),
        ]
    )
    assert scorer.raw_score(rows) == pytest.approx([17.1, 11.0, 0.0, 0.0])
    points, base = scorer.contributions(rows)
    assert points.shape == rows.shape and not base.any()
    assert points[0, NAMES.index("age")] == pytest.approx(2.0)
    assert round(POINTS_SCALE, 9) == 30.0
    assert scorer.predict_proba(rows)[:, 1] == pytest.approx([17.1 / 30, 11 / 30, 0, 0])


def test_the_score_rises_with_each_component_and_stays_between_0_and_1():
    scorer = FallbackScorer().fit()
    low = np.array([_row(efi=0.1, age=70)])
    for name in NAMES:
        more = low.copy()
        more[0, NAMES.index(name)] = np.nan_to_num(more[0, NAMES.index(name)]) + 1
        assert scorer.raw_score(more)[0] > scorer.raw_score(low)[0], name
    top = np.array([[10_000.0] * len(NAMES)])
    p = scorer.predict_proba(top)
    assert p[0, 1] == pytest.approx(1.0) and p[0, 0] == pytest.approx(0.0)
    assert FallbackScorer.version == ""
