"""The LightGBM classifier and the registered RiskModel, on small synthetic feature frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from models.calibrate import Calibrator
from models.train import RiskClassifier, RiskModel, as_matrix, search_hyperparameters

NAMES = ["age", "efi", "n_emergency_admissions_365d", "housebound", "noise"]


def _frame(n: int = 4000, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    age = rng.integers(65, 100, n)
    efi = rng.beta(2, 8, n)
    adm = rng.poisson(0.4, n)
    housebound = rng.random(n) < 0.3
    lp = -3 + 0.04 * (age - 65) + 4 * efi + 0.6 * adm + 0.7 * housebound
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    frame = pl.DataFrame(
        {
            "age": age,
            "efi": efi,
            "n_emergency_admissions_365d": adm,
            "housebound": housebound,
            "noise": rng.normal(size=n),
        }
    )
    return frame, y


def _fit(seed: int = 1, **kw) -> tuple[RiskClassifier, pl.DataFrame, np.ndarray]:
    frame, y = _frame()
    X = as_matrix(frame, NAMES)
    est = RiskClassifier(n_jobs=1, random_state=seed, **kw)
    fitted = est.fit(X[:3000], y[:3000], eval_X=X[3000:], eval_y=y[3000:], feature_names=NAMES)
    assert fitted is est
    return est, frame, y


def test_init_stores_settings_only_and_fit_learns_underscored_attributes():
    est = RiskClassifier(num_leaves=15, n_jobs=1)
    assert est.get_params()["num_leaves"] == 15
    assert not hasattr(est, "booster_")
    est, _, _ = _fit()
    assert est.feature_names_ == NAMES
    assert 1 <= est.best_iteration_ <= est.n_estimators
    assert est.booster_.num_trees() == est.best_iteration_


def test_early_stopping_stops_before_the_cap_on_weak_signal():
    est, _, _ = _fit(learning_rate=0.3, n_estimators=300)
    assert est.best_iteration_ < 300


def test_same_data_and_seed_give_the_same_model_text():
    a, _, _ = _fit(seed=5)
    b, _, _ = _fit(seed=5)
    assert a.booster_.model_to_string() == b.booster_.model_to_string()


def test_model_learns_the_signal():
    from sklearn.metrics import roc_auc_score

    est, frame, y = _fit()
    X = as_matrix(frame, NAMES)
    f = frame[3000:]
    oracle = (
        0.04 * (f["age"] - 65)
        + 4 * f["efi"]
        + 0.6 * f["n_emergency_admissions_365d"]
        + 0.7 * f["housebound"].cast(pl.Int8)
    ).to_numpy()
    best = roc_auc_score(y[3000:], oracle)
    assert roc_auc_score(y[3000:], est.predict_proba(X[3000:])[:, 1]) > 0.95 * best
    assert roc_auc_score(y[3000:], f["noise"].to_numpy()) < 0.6


def _risk_model() -> tuple[RiskModel, pl.DataFrame]:
    est, frame, y = _fit()
    X = as_matrix(frame, NAMES)
    cal = Calibrator().fit(est.raw_score(X[3000:]), y[3000:])
    return RiskModel(est.booster_, cal, NAMES, version="test-1"), frame


def test_contributions_add_up_to_the_raw_score():
    model, frame = _risk_model()
    contrib, base = model.contributions(frame)
    assert contrib.shape == (frame.height, len(NAMES)) and base.shape == (frame.height,)
    np.testing.assert_allclose(base + contrib.sum(axis=1), model.raw_score(frame), atol=1e-9)


def test_predict_proba_is_calibrated_and_accepts_polars_pandas_and_any_column_order():
    model, frame = _risk_model()
    p = model.predict_proba(frame)
    assert p.shape == (frame.height, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    shuffled = frame.select(list(reversed(frame.columns)))
    np.testing.assert_allclose(model.predict_proba(shuffled), p)
    np.testing.assert_allclose(model.predict_proba(frame.to_pandas()), p)


def test_nulls_are_missing_values_not_errors():
    model, frame = _risk_model()
    with_null = frame.head(3).with_columns(pl.lit(None, dtype=pl.Float64).alias("efi"))
    assert np.isfinite(model.predict_proba(with_null)).all()
    pdf = pd.DataFrame({c: [None, 1] for c in NAMES}).astype("Float64")
    assert np.isfinite(model.raw_score(pdf)).all()


def test_missing_feature_column_is_a_clear_error():
    model, frame = _risk_model()
    with pytest.raises(KeyError, match="noise"):
        model.predict_proba(frame.drop("noise"))


def test_save_and_load_round_trip(tmp_path):
    model, frame = _risk_model()
    model.metadata = {"as_of": "2026-01-01"}
    model.save(tmp_path / "m")
    again = RiskModel.load(tmp_path / "m")
    assert again.version == "test-1" and again.feature_names_ == NAMES
    assert again.metadata["as_of"] == "2026-01-01"
    np.testing.assert_allclose(again.predict_proba(frame), model.predict_proba(frame))


def test_bounded_search_is_seeded_and_returns_a_setting_from_the_space():
    frame, y = _frame(2000)
    X = as_matrix(frame, NAMES)
    base = RiskClassifier(n_jobs=1, random_state=3, n_estimators=40)
    args = (X[:1500], y[:1500], X[1500:], y[1500:])
    best, trials = search_hyperparameters(*args, feature_names=NAMES, base=base, n_trials=3)
    again, _ = search_hyperparameters(*args, feature_names=NAMES, base=base, n_trials=3)
    assert best == again
    assert len(trials) == 3
    assert best["num_leaves"] in (15, 23, 31)


def test_a_small_fit_fold_gets_the_small_data_settings_and_a_large_one_the_defaults():
    from models.train import SMALL_DATA_FIT_ROWS, SMALL_DATA_SETTINGS, settings_for

    small = settings_for(SMALL_DATA_FIT_ROWS - 1)
    assert small == SMALL_DATA_SETTINGS and small is not SMALL_DATA_SETTINGS
    assert small["max_depth"] < RiskClassifier().max_depth
    assert settings_for(SMALL_DATA_FIT_ROWS) == {}
    est = RiskClassifier(**small)  # every key is a RiskClassifier setting
    assert est.get_params()["colsample_bytree"] == small["colsample_bytree"]
