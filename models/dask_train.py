"""Training on a Dask cluster: `lightgbm.dask` with the settings and outputs of RiskClassifier."""

# ruff: noqa: N803, N806  (scikit-learn convention: X is the feature matrix)

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Sequence
from typing import Any

import dask
import dask.array as da
import lightgbm as lgb
import numpy as np
from distributed import default_client
from lightgbm.dask import DaskLGBMClassifier

from models.train import RiskClassifier

# Stated tolerance (docs/data-engineer.md): the hold-out AUROC of a Dask-trained model is
# within this of the single-process model's on the same data.
AUROC_TOLERANCE = 0.02

# The parameters section of a Dask-trained model names this run's worker ports; they are
# dropped, so the model file (and the registered version, a hash of it) depends on the trees.
_NETWORK_PARAMS = re.compile(r"^\[(machines|local_listen_port): [^\n]*\]\n", re.MULTILINE)

# RiskClassifier's defaults, so that both trainers start from the same settings.
_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(RiskClassifier.__init__).parameters.items()
    if name != "self"
}


class DaskRiskClassifier(RiskClassifier):
    """`RiskClassifier` trained data-parallel with `lightgbm.dask.DaskLGBMClassifier`.

    Same settings and defaults, and the same learned attributes (`booster_`,
    `best_iteration_`, `feature_names_`, `valid_logloss_`), so registry, calibration and
    scoring are unchanged. Differences, by necessity: `lightgbm.dask` has no early-stopping
    callback, so all `n_estimators` rounds are grown with the validation fold as an eval set
    and the booster is cut at the round with the lowest validation log-loss; and
    data-parallel histograms are built per worker, so the trees are close to, not identical
    with, the single-process ones (hold-out AUROC within `AUROC_TOLERANCE`, tested in
    tests/integration/test_dask.py).
    """

    trainer = "lightgbm.dask"

    def __init__(
        self,
        client: Any = None,
        n_estimators: int = _DEFAULTS["n_estimators"],
        learning_rate: float = _DEFAULTS["learning_rate"],
        num_leaves: int = _DEFAULTS["num_leaves"],
        max_depth: int = _DEFAULTS["max_depth"],
        min_child_samples: int = _DEFAULTS["min_child_samples"],
        colsample_bytree: float = _DEFAULTS["colsample_bytree"],
        reg_lambda: float = _DEFAULTS["reg_lambda"],
        early_stopping_rounds: int = _DEFAULTS["early_stopping_rounds"],
        n_jobs: int = _DEFAULTS["n_jobs"],
        random_state: int = _DEFAULTS["random_state"],
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

    @classmethod
    def like(cls, estimator: RiskClassifier, client: Any) -> DaskRiskClassifier:
        """A Dask trainer with the settings of `estimator` (e.g. after a search)."""
        return cls(client=client, **estimator.get_params())

    def provenance(self) -> dict[str, Any]:
        """What a registered model records about how it was trained (fit.json)."""
        workers = len(self._client().scheduler_info()["workers"])
        return {
            "estimator": "lightgbm.dask.DaskLGBMClassifier (casefinder DaskRiskClassifier)",
            "trainer": self.trainer,
            "dask_workers": workers,
            "tolerance": (
                f"hold-out AUROC within {AUROC_TOLERANCE} of the single-process model; "
                "all n_estimators rounds grown, cut at the best validation round"
            ),
        }

    def _client(self) -> Any:
        if self.client is not None:
            return self.client

        return default_client()

    def _spread(self, a: np.ndarray, workers: list[str]) -> Any:
        """`a` as a Dask array of one block of rows per worker, block i held by worker i.

        Placing the blocks ourselves (rather than leaving it to the scheduler) makes the rows
        each LightGBM machine trains on, and so the trees, the same from run to run on a
        cluster of the same size; otherwise the scheduler may even put every block on one
        worker.
        """
        client = self._client()
        bounds = np.linspace(0, len(a), len(workers) + 1).astype(int)
        blocks = []
        for worker, lo, hi in zip(workers, bounds[:-1], bounds[1:], strict=True):
            if hi == lo:
                continue
            block = a[lo:hi]
            future = client.scatter(block, workers=[worker], broadcast=False, hash=False)
            blocks.append(da.from_delayed(dask.delayed(future), shape=block.shape, dtype=a.dtype))
        return da.concatenate(blocks)

    def _dask_lgbm(self) -> Any:
        params = self._lgbm().get_params()
        params.pop("n_jobs", None)
        return DaskLGBMClassifier(client=self._client(), **params)

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
        X = np.asarray(X, dtype=np.float64)
        names = (
            list(feature_names)
            if feature_names is not None
            else [f"f{i}" for i in range(X.shape[1])]
        )
        workers = sorted(self._client().scheduler_info()["workers"])
        dX = self._spread(X, workers)
        dy = self._spread(np.asarray(y, dtype=np.int32), workers)
        deX = self._spread(np.asarray(eval_X, dtype=np.float64), workers)
        dey = self._spread(np.asarray(eval_y, dtype=np.int32), workers)
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
        text = model.booster_.model_to_string(num_iteration=best)
        self.booster_ = lgb.Booster(model_str=_NETWORK_PARAMS.sub("", text))
        self.best_iteration_ = best
        self.feature_names_ = names
        self.valid_logloss_ = float(losses[best - 1])
        return self
