"""Training on a Dask cluster: `lightgbm.dask` with the settings and outputs of RiskClassifier."""

# ruff: noqa: N803, N806  (scikit-learn convention: X is the feature matrix)

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np

from models.train import RiskClassifier


class DaskRiskClassifier(RiskClassifier):
    """`RiskClassifier` trained data-parallel with `lightgbm.dask.DaskLGBMClassifier`.

    Same settings and learned attributes (`booster_`, `best_iteration_`, `feature_names_`,
    `valid_logloss_`), so registry, calibration and scoring are unchanged. Differences, by
    necessity: `lightgbm.dask` has no early-stopping callback, so all `n_estimators` rounds are
    grown with the validation fold as an eval set and the booster is cut at the round with the
    lowest validation log-loss; and data-parallel histograms are built per worker, so the trees
    are close to, not identical with, the single-process ones (metrics agree within the
    tolerance stated in docs/data-engineer.md, tested in tests/integration/test_dask.py).
    """

    def __init__(
        self,
        client: Any = None,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        max_depth: int = 6,
        min_child_samples: int = 50,
        colsample_bytree: float = 0.85,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 30,
        n_jobs: int = 2,
        random_state: int = 42,
    ) -> None:
        super().__init__(
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            max_depth=max_depth,
            min_child_samples=min_child_samples,
            colsample_bytree=colsample_bytree,
            reg_lambda=reg_lambda,
            early_stopping_rounds=early_stopping_rounds,
            n_jobs=n_jobs,
            random_state=random_state,
        )
        self.client = client

    def _dask_lgbm(self) -> Any:
        from lightgbm.dask import DaskLGBMClassifier

        params = self._lgbm().get_params()
        params.pop("n_jobs", None)
        return DaskLGBMClassifier(client=self.client, **params)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        eval_X: np.ndarray,
        eval_y: np.ndarray,
        feature_names: Sequence[str] | None = None,
    ) -> DaskRiskClassifier:
        """Fit on (X, y) spread over the cluster's workers; keep the best validation round."""
        import dask.array as da

        X = np.asarray(X, dtype=np.float64)
        names = (
            list(feature_names)
            if feature_names is not None
            else [f"f{i}" for i in range(X.shape[1])]
        )
        n_workers = max(1, len(self.client.scheduler_info()["workers"])) if self.client else 1
        chunk = max(1, -(-X.shape[0] // n_workers))
        dX = da.from_array(X, chunks=(chunk, X.shape[1]))
        dy = da.from_array(np.asarray(y, dtype=np.int32), chunks=chunk)
        eX = np.asarray(eval_X, dtype=np.float64)
        echunk = max(1, -(-eX.shape[0] // n_workers))
        deX = da.from_array(eX, chunks=(echunk, eX.shape[1]))
        dey = da.from_array(np.asarray(eval_y, dtype=np.int32), chunks=echunk)
        model = self._dask_lgbm()
        with warnings.catch_warnings():
            # Expected: each Dask worker uses its own thread count, not n_jobs.
            warnings.filterwarnings("ignore", message="Parameter (n_jobs|num_threads) will be")
            model.fit(
                dX,
                dy,
                eval_X=(deX,),
                eval_y=(dey,),
                eval_metric="binary_logloss",
                feature_name=names,
            )
        losses = list(model.evals_result_["valid_0"]["binary_logloss"])
        best = int(np.argmin(losses)) + 1
        booster = model.booster_
        self.booster_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.best_iteration_ = best
        self.feature_names_ = names
        self.valid_logloss_ = float(losses[best - 1])
        return self
