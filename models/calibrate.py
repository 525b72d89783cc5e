"""Calibration: map the booster's raw log-odds to probabilities, stored as transparent JSON."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

from models.stats import fit_logistic_1d, sigmoid

METHODS = ("sigmoid", "isotonic")

# Isotonic output is kept away from 0 and 1 so log-odds and calibration slopes stay finite.
_EPS = 1e-4


class Calibrator:
    """A monotone map from raw score (log-odds) to probability, fitted on held-out rows.

    `sigmoid` (Platt scaling): p = 1 / (1 + exp(-(a * raw + b))). `isotonic`: a step
    function through `thresholds_` (raw scores) and `values_` (probabilities), linearly
    interpolated, clipped at the ends. Both serialise to plain JSON (`to_dict`).
    """

    def __init__(self, method: str = "sigmoid") -> None:
        self.method = method

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        """Learn the map from raw scores `raw` to binary outcomes `y`."""
        if self.method not in METHODS:
            raise ValueError(f"calibration method must be one of {METHODS}, not {self.method!r}")
        raw = np.asarray(raw, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if raw.shape[0] != y.shape[0] or raw.shape[0] == 0:
            raise ValueError(
                "calibration needs raw scores and outcomes of the same, non-zero length"
            )
        if len(np.unique(y)) < 2:
            raise ValueError("calibration needs both outcomes (0 and 1) in the held-out rows")
        if self.method == "sigmoid":
            intercept, slope = fit_logistic_1d(raw, y)
            self.slope_ = float(slope)
            self.intercept_ = float(intercept)
        else:
            iso = IsotonicRegression(
                y_min=_EPS, y_max=1 - _EPS, increasing=True, out_of_bounds="clip"
            )
            iso.fit(raw, y)
            self.thresholds_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.values_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        self.n_samples_ = int(raw.shape[0])
        self.n_positive_ = int(y.sum())
        return self

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probability of the outcome for each raw score."""
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "sigmoid":
            return sigmoid(self.slope_ * raw + self.intercept_)
        return np.interp(raw, self.thresholds_, self.values_)

    def to_dict(self) -> dict[str, Any]:
        """The fitted calibrator as plain data (for `calibrator.json`)."""
        out: dict[str, Any] = {
            "method": self.method,
            "n_samples": self.n_samples_,
            "n_positive": self.n_positive_,
        }
        if self.method == "sigmoid":
            out["formula"] = "p = 1 / (1 + exp(-(slope * raw_score + intercept)))"
            out["slope"] = self.slope_
            out["intercept"] = self.intercept_
        else:
            out["formula"] = "p = linear interpolation of values over thresholds (raw score)"
            out["thresholds"] = [float(v) for v in self.thresholds_]
            out["values"] = [float(v) for v in self.values_]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Rebuild a fitted calibrator from `to_dict` output."""
        cal = cls(method=data["method"])
        cal.population_ = data.get("population")
        if cal.method == "sigmoid":
            cal.slope_ = float(data["slope"])
            cal.intercept_ = float(data["intercept"])
        elif cal.method == "isotonic":
            cal.thresholds_ = np.asarray(data["thresholds"], dtype=np.float64)
            cal.values_ = np.asarray(data["values"], dtype=np.float64)
        else:
            raise ValueError(f"unknown calibration method {cal.method!r}")
        cal.n_samples_ = int(data.get("n_samples", 0))
        cal.n_positive_ = int(data.get("n_positive", 0))
        return cal

    def to_json(self) -> str:
        """`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Calibrator:
        """Rebuild from `to_json` text."""
        return cls.from_dict(json.loads(text))
