"""Training: a seeded, early-stopped LightGBM classifier and the calibrated RiskModel."""

# ruff: noqa: N803, N806  (scikit-learn convention: X is the feature matrix)

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.base import BaseEstimator

from models.calibrate import Calibrator
from models.stats import sigmoid

# The search space of the optional bounded hyperparameter search (issue 5, item 3). Trees
# stay shallow so TreeSHAP for the published cohort fits the scoring budget.
SEARCH_SPACE: dict[str, tuple[Any, ...]] = {
    "learning_rate": (0.03, 0.05, 0.1),
    "num_leaves": (15, 23, 31),
    "max_depth": (5, 6, 8),
    "min_child_samples": (20, 50, 200),
    "colsample_bytree": (0.7, 0.85, 1.0),
    "reg_lambda": (0.0, 1.0, 5.0),
}
SEARCH_TRIALS = 8
# Histogram bins per feature. 63 rather than LightGBM's 255: on the synthetic ICS it matched or
# beat 255 in the hold-out (1,000,000 patients: housebound AUROC 0.843 vs 0.843, validation
# log-loss 0.5149 vs 0.5150, early-stopped at 250 trees instead of the 300 cap) with fewer
# trees to grow and to explain. A fixed setting, not a search dimension.
MAX_BIN = 63
# Below this many fit-fold rows (about 120,000 patients) the trees are grown with
# `SMALL_DATA_SETTINGS`: shallower trees, half the features per tree, more rows per leaf and a
# slower learning rate with more patience. At 20,000 patients (~17,000 fit rows, ~2,000
# people) they gave a lower validation log-loss than the defaults on 3 of 4 generator seeds
# and the same on the fourth (3: 0.3385 vs 0.3392, 5: 0.3858 vs 0.3870, 7: 0.3742 vs 0.3803,
# 11: 0.4343 vs 0.4343; docs/model.md). Larger sites keep the defaults, so neither the model
# nor the fit time changes there.
SMALL_DATA_FIT_ROWS = 100_000
# Below the same size, housebound rows weigh this much in the fit and in early stopping (the
# lists rank housebound people only, and they are about a tenth of the training cohort).
# Chosen on the validation fold's housebound rows at 20,000 patients (AUROC, weights 1 / 3 /
# 10): seed 11 0.776 / 0.781 / 0.772, 13 0.740 / 0.744 / 0.745, 7 0.738 / 0.751 / 0.741.
# The calibrator is fitted on unweighted rows, so the weights do not bias probabilities.
SMALL_DATA_HOUSEBOUND_WEIGHT = 3.0
SMALL_DATA_SETTINGS: dict[str, Any] = {
    "n_estimators": 600,
    "learning_rate": 0.03,
    "num_leaves": 7,
    "max_depth": 3,
    "min_child_samples": 300,
    "colsample_bytree": 0.5,
    "early_stopping_rounds": 50,
}


def _float_array(X: Any) -> np.ndarray:
    """`X` as a float32 or float64 array without a copy when it already is one."""
    arr = np.asarray(X)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def as_matrix(X: Any, feature_names: Sequence[str], dtype: Any = np.float64) -> np.ndarray:
    """A float matrix (`dtype`, float64 by default) of `feature_names` columns from a
    polars/pandas frame (bools as 0/1, nulls as NaN) or an array already in that column order
    (a float32 or float64 array is returned as it is)."""
    if hasattr(X, "select") and hasattr(X, "to_numpy") and hasattr(X, "schema"):  # polars
        missing = [c for c in feature_names if c not in X.columns]
        if missing:
            raise KeyError(f"feature columns missing: {missing}")
        pl_type = pl.Float32 if np.dtype(dtype) == np.float32 else pl.Float64
        frame = X.select([pl.col(c).cast(pl_type) for c in feature_names])
        return frame.to_numpy().astype(dtype, copy=False)
    if hasattr(X, "columns") and hasattr(X, "loc"):  # pandas
        missing = [c for c in feature_names if c not in X.columns]
        if missing:
            raise KeyError(f"feature columns missing: {missing}")
        cols = [
            X[c].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
            for c in feature_names
        ]
        out = np.column_stack(cols) if cols else np.empty((len(X), 0))
        return out.astype(dtype, copy=False)
    arr = _float_array(X)
    if arr.ndim != 2 or arr.shape[1] != len(feature_names):
        raise ValueError(f"expected a 2-D array with {len(feature_names)} columns")
    return arr


class RiskClassifier(BaseEstimator):
    """LightGBM gradient-boosted trees for a binary outcome, early-stopped on a validation fold.

    Settings are stored as given (scikit-learn convention); `fit` learns `booster_` (trimmed
    to the best iteration), `best_iteration_`, `feature_names_` and `valid_logloss_`.
    Deterministic for a given `random_state` and `n_jobs` (LightGBM `deterministic=True`,
    row-wise histograms).
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        max_depth: int = 4,
        min_child_samples: int = 100,
        colsample_bytree: float = 0.85,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 30,
        n_jobs: int = 2,
        random_state: int = 42,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _lgbm(self) -> lgb.LGBMClassifier:
        return lgb.LGBMClassifier(
            objective="binary",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            max_depth=self.max_depth,
            min_child_samples=self.min_child_samples,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            max_bin=MAX_BIN,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        eval_X: np.ndarray,
        eval_y: np.ndarray,
        feature_names: Sequence[str] | None = None,
        sample_weight: np.ndarray | None = None,
        eval_sample_weight: np.ndarray | None = None,
    ) -> RiskClassifier:
        """Fit on (X, y), stopping when log-loss on (eval_X, eval_y) stops improving, with
        optional row weights for the fit and validation rows (None = 1 each).

        Float32 matrices are used as they are (half the memory of float64; LightGBM bins them
        the same way); anything else is converted to float64."""
        X = _float_array(X)
        names = (
            list(feature_names)
            if feature_names is not None
            else [f"f{i}" for i in range(X.shape[1])]
        )
        model = self._lgbm()
        model.fit(
            X,
            np.asarray(y, dtype=np.int32),
            eval_X=(_float_array(eval_X),),
            eval_y=(np.asarray(eval_y, dtype=np.int32),),
            sample_weight=sample_weight,
            eval_sample_weight=None if eval_sample_weight is None else [eval_sample_weight],
            eval_metric="binary_logloss",
            feature_name=names,
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        best = int(model.best_iteration_ or model.n_estimators)
        # Keep only the trees up to the best iteration: the saved model is exactly what scores.
        self.booster_ = lgb.Booster(model_str=model.booster_.model_to_string(num_iteration=best))
        self.best_iteration_ = best
        self.feature_names_ = names
        scores = model.best_score_.get("valid_0", {})
        self.valid_logloss_ = float(scores.get("binary_logloss", float("nan")))
        return self

    def raw_score(self, X: np.ndarray) -> np.ndarray:
        """Log-odds before calibration."""
        return self.booster_.predict(_float_array(X), raw_score=True)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated probabilities, shape (n, 2)."""
        p = sigmoid(self.raw_score(X))
        return np.column_stack([1 - p, p])

    def lightgbm_params(self) -> dict[str, Any]:
        """The settings as LightGBM parameters (for provenance)."""
        params = self._lgbm().get_params()
        return {k: v for k, v in params.items() if not callable(v) and v is not None}


def settings_for(n_fit_rows: int) -> dict[str, Any]:
    """The LightGBM settings that differ from `RiskClassifier`'s defaults for a fit fold of
    `n_fit_rows` rows: `SMALL_DATA_SETTINGS` below `SMALL_DATA_FIT_ROWS`, else none."""
    return dict(SMALL_DATA_SETTINGS) if n_fit_rows < SMALL_DATA_FIT_ROWS else {}


def housebound_weight_for(n_fit_rows: int) -> float:
    """The fit weight of a housebound row: `SMALL_DATA_HOUSEBOUND_WEIGHT` below
    `SMALL_DATA_FIT_ROWS` fit-fold rows, else 1."""
    return SMALL_DATA_HOUSEBOUND_WEIGHT if n_fit_rows < SMALL_DATA_FIT_ROWS else 1.0


def search_hyperparameters(
    X: np.ndarray,
    y: np.ndarray,
    eval_X: np.ndarray,
    eval_y: np.ndarray,
    *,
    feature_names: Sequence[str],
    base: RiskClassifier,
    n_trials: int = SEARCH_TRIALS,
    sample_weight: np.ndarray | None = None,
    eval_sample_weight: np.ndarray | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A bounded random search over `SEARCH_SPACE` (seeded by `base.random_state`), scored by
    validation log-loss after early stopping. Returns the best settings and every trial."""
    rng = np.random.default_rng(base.random_state)
    trials: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    candidates = [{k: getattr(base, k) for k in SEARCH_SPACE}]
    while len(candidates) < n_trials and len(seen) < 10 * n_trials:
        cand = {k: v[int(rng.integers(len(v)))] for k, v in SEARCH_SPACE.items()}
        key = tuple(cand.values())
        if key in seen:
            continue
        seen.add(key)
        candidates.append(cand)
    for cand in candidates:
        est = RiskClassifier(**{**base.get_params(), **cand})
        est.fit(
            X,
            y,
            eval_X=eval_X,
            eval_y=eval_y,
            feature_names=feature_names,
            sample_weight=sample_weight,
            eval_sample_weight=eval_sample_weight,
        )
        trials.append(
            {**cand, "best_iteration": est.best_iteration_, "valid_logloss": est.valid_logloss_}
        )
    best = min(trials, key=lambda t: (t["valid_logloss"], json.dumps(t, sort_keys=True)))
    return {k: best[k] for k in SEARCH_SPACE}, trials


class RiskModel:
    """The registered model: LightGBM trees + calibrator + the feature order + provenance.

    `predict_proba` gives calibrated probabilities of an emergency admission or death within
    the horizon; `raw_score` the trees' log-odds; `contributions` TreeSHAP values whose sum
    with the base value equals `raw_score`.
    """

    def __init__(
        self,
        booster: lgb.Booster,
        calibrator: Calibrator,
        feature_names: Sequence[str],
        version: str = "unregistered",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.booster = booster
        self.calibrator = calibrator
        self.feature_names_ = list(feature_names)
        self.version = version
        self.metadata = dict(metadata or {})

    def _matrix(self, X: Any) -> np.ndarray:
        return as_matrix(X, self.feature_names_)

    def raw_score(self, X: Any) -> np.ndarray:
        """LightGBM raw log-odds (before calibration), shape (n,)."""
        return self.booster.predict(self._matrix(X), raw_score=True)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): column 1 is the risk score."""
        p = self.calibrator.predict(self.raw_score(X))
        return np.column_stack([1 - p, p])

    def contributions(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """TreeSHAP contributions (n, n_features) in `feature_names_` order and base values (n,)."""
        out = self.booster.predict(self._matrix(X), pred_contrib=True)
        return out[:, :-1], out[:, -1]

    def model_text(self) -> str:
        """The trees in LightGBM's text format (what `model.txt` holds)."""
        return self.booster.model_to_string()

    def save(self, directory: Path) -> None:
        """Write `model.txt`, `calibrator.json` and `metadata.json` into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "model.txt").write_text(self.model_text(), encoding="utf-8")
        (directory / "calibrator.json").write_text(self.calibrator.to_json(), encoding="utf-8")
        meta = {**self.metadata, "version": self.version, "feature_names": self.feature_names_}
        (directory / "metadata.json").write_text(
            json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path) -> RiskModel:
        """Read a model written by `save`."""
        meta = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
        booster = lgb.Booster(model_file=str(directory / "model.txt"))
        calibrator = Calibrator.from_json(
            (directory / "calibrator.json").read_text(encoding="utf-8")
        )
        return cls(
            booster=booster,
            calibrator=calibrator,
            feature_names=meta["feature_names"],
            version=meta.get("version", directory.name),
            metadata=meta,
        )
