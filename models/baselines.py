"""Baselines on the same split: eFI alone, HFRS alone, logistic regression on the model features."""

from __future__ import annotations

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from models.stats import fit_logistic_1d, sigmoid


class SingleScoreBaseline:
    """One existing score (e.g. eFI) turned into a probability by a 1-D logistic fit.

    The map is monotone, so discrimination (AUROC, top-k) is the score's own; the fit only
    makes Brier score, calibration and net benefit comparable with the model's.
    """

    def __init__(self, column: str) -> None:
        self.column = column

    def fit(self, x: np.ndarray, y: np.ndarray) -> SingleScoreBaseline:
        """Fit logit P(y) = a + b * x (missing x counted as 0)."""
        x = np.nan_to_num(np.asarray(x, dtype=np.float64))
        self.intercept_, self.slope_ = fit_logistic_1d(x, y)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probabilities, shape (n, 2)."""
        x = np.nan_to_num(np.asarray(x, dtype=np.float64))
        p = sigmoid(self.intercept_ + self.slope_ * x)
        return np.column_stack([1 - p, p])


def logistic_baseline(random_state: int = 42) -> Pipeline:
    """Median imputation, standardisation and L2 logistic regression on the model features."""
    return make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=1.0, max_iter=2000, random_state=random_state),
    )
