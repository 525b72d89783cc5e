"""The fallback ranking: a transparent points score for when no model is fit to rank."""

# ruff: noqa: N803  (scikit-learn convention: X is the feature matrix)

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# `model_version` of rows ranked by the fallback (OUTPUTS.md: empty on fallback rows).
FALLBACK_VERSION = ""


@dataclass(frozen=True)
class Points:
    """Points for one feature: `per_unit` x the value above `start`, counted up to `cap` units."""

    feature: str
    per_unit: float
    cap: float
    start: float = 0.0
    rule: str = ""


# The fallback score (docs/model.md, "The fallback ranking"): the points of every row added
# up; a missing value scores nothing. Each component is an established marker of the risk
# of an emergency admission or death in frail older people.
POINTS: tuple[Points, ...] = (
    Points("efi", 10.0, 1.0, rule="10 points x eFI (0-1): 1 point per 3.6 deficits"),
    Points("hfrs", 0.2, 20.0, rule="1 point per 5 HFRS points, at most 4"),
    Points(
        "n_emergency_admissions_365d",
        1.5,
        3.0,
        rule="1.5 per emergency admission in 12 months, at most 3 counted",
    ),
    Points(
        "n_emergency_admissions_90d",
        1.0,
        2.0,
        rule="1 more per emergency admission in the last 90 days, at most 2",
    ),
    Points(
        "n_ae_unplanned_365d",
        0.5,
        4.0,
        rule="0.5 per unplanned A&E attendance in 12 months, at most 4 counted",
    ),
    Points("n_falls_365d", 1.0, 2.0, rule="1 per recorded fall in 12 months, at most 2 counted"),
    Points("on_palliative_care_register", 2.0, 1.0, rule="2 when on the palliative care register"),
    Points("has_dementia", 1.0, 1.0, rule="1 with a dementia diagnosis"),
    Points("age", 0.1, 25.0, start=65.0, rule="1 point per 10 years over 65, at most 2.5"),
)
# The most points a row can score (30): a fallback row's published risk_score is its points
# / POINTS_SCALE, the share of the maximum, so the risk tiers are bands of points (very_high
# from 21 points, high from 15, moderate from 9 with the default tiers).
POINTS_SCALE = sum(p.per_unit * p.cap for p in POINTS)


class FallbackScorer:
    """The points score as a scorer with the interface scoring needs (`models.scoring`).

    Nothing is learned: `fit` only records the feature names. `raw_score` is the points,
    `contributions` each feature's points (base value 0, so they add up to the raw score),
    `predict_proba` the points on a 0-1 scale (points / `scale`, the maximum points, by
    default): a rank order, not a calibrated probability.
    """

    version = FALLBACK_VERSION

    def __init__(self, points: tuple[Points, ...] = POINTS, scale: float = POINTS_SCALE) -> None:
        self.points = points
        self.scale = scale

    def fit(self, X: Any = None, y: Any = None) -> FallbackScorer:
        """Record the feature names (the points need no data); return self."""
        self.feature_names_ = [p.feature for p in self.points]
        return self

    def contributions(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Each feature's points per row (n, f) and the base value per row (zeros)."""
        x = np.asarray(X, dtype=np.float64).reshape(-1, len(self.points))
        per_unit = np.array([p.per_unit for p in self.points])
        start = np.array([p.start for p in self.points])
        cap = np.array([p.cap for p in self.points])
        units = np.clip(np.nan_to_num(x - start, nan=0.0), 0.0, cap)
        return units * per_unit, np.zeros(x.shape[0])

    def raw_score(self, X: Any) -> np.ndarray:
        """The points of each row."""
        points, base = self.contributions(X)
        return base + points.sum(axis=1)

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, 2): the points on a 0-1 scale in column 1 (not a probability)."""
        score = np.minimum(self.raw_score(X) / self.scale, 1.0)
        return np.column_stack([1.0 - score, score])
