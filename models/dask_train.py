"""Training on a Dask cluster: `lightgbm.dask` with the same settings and outputs as RiskClassifier."""

from __future__ import annotations

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

    def __init__(self, client: Any = None, **settings: Any) -> None:
        super().__init__(**settings)
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
        model.fit(
            dX,
            dy,
            eval_set=[(deX, dey)],
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
