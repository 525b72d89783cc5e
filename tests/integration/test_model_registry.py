"""Fit -> calibrate -> evaluate -> gate -> register on a small training sample in a temporary
warehouse (the sample table is written directly; the SQL that builds it is tested elsewhere)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from foundation.errors import CasefinderError, QualityGateError
from foundation.warehouse import connect
from models import registry, workflow

NAMES = ["age", "housebound", "efi", "hfrs", "n_emergency_admissions_365d", "lives_alone"]


def _sample(n_people: int, signal: str, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    dates = [date(2024, 1, 1) + timedelta(days=30 * k) for k in range(12)]
    frames = []
    base_age = rng.integers(60, 95, n_people)
    frailty = rng.beta(2, 6, n_people)
    for k, d in enumerate(dates):
        efi = np.clip(frailty + rng.normal(0, 0.03, n_people), 0, 1)
        adm = rng.poisson(0.2 + 2 * frailty)
        alone = rng.random(n_people) < 0.3
        housebound = (frailty > 0.3) | (rng.random(n_people) < 0.1)
        # "strong": admissions and living alone add to eFI; else eFI alone drives the outcome,
        # so the model cannot beat it
        lp = -3.2 + 1.2 * adm + 2.5 * alone + 3 * efi if signal == "strong" else -3 + 6 * efi
        y = rng.random(n_people) < 1 / (1 + np.exp(-lp))
        frames.append(
            pl.DataFrame(
                {
                    "patient_id": [f"p{i:06d}" for i in range(n_people)],
                    "index_date": [d] * n_people,
                    "age": base_age + k // 12,
                    "housebound": housebound,
                    "efi": efi,
                    "hfrs": rng.gamma(1.0, 2.0, n_people),
                    "n_emergency_admissions_365d": adm,
                    "lives_alone": alone,
                    "outcome": y,
                    "sex_code": np.where(rng.random(n_people) < 0.55, "2", "1"),
                    "ethnic_category_code": rng.choice(["A", "H", "M", "Z"], n_people),
                    "imd_decile_code": rng.integers(1, 11, n_people),
                    "period": ["holdout" if k >= 9 else "development"] * n_people,
                }
            )
        )
    return pl.concat(frames)


def _warehouse(tmp_path: Path, sample: pl.DataFrame) -> Path:
    wh = tmp_path / "wh" / "warehouse.duckdb"
    con = connect(wh)
    con.register("sample_df", sample.to_arrow())
    con.execute("create table features.feat_training_sample as select * from sample_df")
    con.close()
    return wh


def _staging(wh: Path) -> Path:
    staging = registry.new_staging_dir(registry.models_dir(wh))
    (staging / workflow.SAMPLE_FILE).write_text(
        json.dumps(
            {
                "as_of": "2026-01-01",
                "horizon_days": 365,
                "index_dates": ["2024-01-01", "2024-11-26"],
                "holdout_index_dates": ["2024-10-27"],
                "sample_rows": 1,
                "sample_patients": 1,
                "sample_outcomes": 1,
                "excluded_opt_out_patients": 0,
                "opt_out_types": ["type1", "ndoo"],
                "provenance": {
                    "snapshot_ids": ["s1"],
                    "extract_checksums": {"gp_patients": "ab" * 32},
                },
            }
        )
    )
    return staging


def _train(wh: Path, seed: int = 42) -> Path:
    staging = _staging(wh)
    workflow.fit_model(wh, staging, seed, n_jobs=1)
    workflow.calibrate_model(wh, staging, seed)
    workflow.evaluate_model(wh, staging, seed)
    return staging


@pytest.fixture(autouse=True)
def _names(monkeypatch):
    monkeypatch.setattr(workflow, "model_feature_names", lambda: list(NAMES))


@pytest.fixture(scope="module")
def strong_sample() -> pl.DataFrame:
    return _sample(2500, "strong")


def test_a_good_model_is_registered_with_provenance_card_and_plots(tmp_path, strong_sample):
    wh = _warehouse(tmp_path, strong_sample)
    assert registry.latest_version(wh) is None
    staging = _train(wh)
    workflow.check_gate(staging)
    version = registry.register(wh, staging)
    assert version.startswith("2026-01-01-") and len(version) == len("2026-01-01-") + 8
    folder = registry.models_dir(wh) / version
    for name in (
        "model.txt",
        "calibrator.json",
        "metadata.json",
        "model_card.md",
        "model_card.html",
        "plots/calibration.png",
        "plots/roc.png",
        "plots/subgroup_auroc.png",
    ):
        assert (folder / name).is_file(), name
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["feature_names"] == NAMES
    assert meta["snapshot_ids"] == ["s1"]
    assert meta["extract_checksums"]["gp_patients"] == "ab" * 32
    assert meta["code_version"] and meta["params"]["best_iteration"] >= 1
    assert meta["metrics"]["cohorts"]["housebound"]["model"]["auroc"] > 0.7
    card = (folder / "model_card.md").read_text()
    for section in (
        "Intended use",
        "Population",
        "Outcome",
        "Data",
        "Performance",
        "Subgroups",
        "Limitations",
        "eFI alone",
        "HFRS alone",
    ):
        assert section in card
    assert "data:image/png;base64," in (folder / "model_card.html").read_text()

    assert registry.latest_version(wh) == version
    [row] = registry.list_versions(wh)
    assert row["version"] == version and row["auroc_housebound"] > row["auroc_housebound_efi"]
    model = registry.load(wh)
    assert model.version == version and model.feature_names_ == NAMES
    p = model.predict_proba(strong_sample.head(50))
    assert p.shape == (50, 2) and ((p >= 0) & (p <= 1)).all()
    contrib, base = model.contributions(strong_sample.head(50))
    np.testing.assert_allclose(base + contrib.sum(1), model.raw_score(strong_sample.head(50)))
    con = connect(wh, read_only=True)
    db_row = con.execute(
        "select model_version, status, as_of, code_version from registry.models"
    ).fetchall()
    con.close()
    assert db_row == [(version, "registered", date(2026, 1, 1), meta["code_version"])]
    assert not list(registry.models_dir(wh).glob(".staging-*"))


def test_same_data_and_seed_give_the_same_model_file(tmp_path, strong_sample):
    wh = _warehouse(tmp_path, strong_sample)
    a = _staging(wh)
    b = _staging(wh)
    workflow.fit_model(wh, a, 7, n_jobs=1)
    workflow.fit_model(wh, b, 7, n_jobs=1)
    assert (a / "model.txt").read_bytes() == (b / "model.txt").read_bytes()
    c = _staging(wh)
    workflow.fit_model(wh, c, 8, n_jobs=1)
    assert (a / "model.txt").read_bytes() != (c / "model.txt").read_bytes()


def test_training_matrix_is_float32_in_table_order_with_nulls_as_nan(tmp_path, strong_sample):
    from models.train import as_matrix
    from models.training_set import load_training_arrays

    sample = strong_sample.with_columns(
        pl.when(pl.col("age") > 90).then(None).otherwise(pl.col("efi")).alias("efi")
    )
    con = connect(_warehouse(tmp_path, sample), read_only=True)
    try:
        X, info = load_training_arrays(con, NAMES)
        with pytest.raises(KeyError, match="not_a_feature"):
            load_training_arrays(con, [*NAMES, "not_a_feature"])
    finally:
        con.close()
    assert X.dtype == np.float32 and X.shape == (sample.height, len(NAMES))
    np.testing.assert_array_equal(X, as_matrix(sample, NAMES, dtype=np.float32))
    assert np.isnan(X[:, NAMES.index("efi")]).sum() == (sample["age"] > 90).sum() > 0
    assert info["patient_id"].to_list() == sample["patient_id"].to_list()
    assert {"outcome", "period", "housebound", "sex_code"} <= set(info.columns)


def test_a_bounded_training_sample_is_recorded_and_deterministic(tmp_path, strong_sample):
    wh = _warehouse(tmp_path, strong_sample)
    a, b = _staging(wh), _staging(wh)
    workflow.fit_model(wh, a, 7, n_jobs=1, max_fit_rows=5000)
    workflow.fit_model(wh, b, 7, n_jobs=1, max_fit_rows=5000)
    assert (a / "model.txt").read_bytes() == (b / "model.txt").read_bytes()
    fit = json.loads((a / workflow.FIT_FILE).read_text())
    sample = fit["sample"]
    assert sample["max_fit_rows"] == 5000
    assert 4500 < sample["fit_rows_used"] <= 5000 < sample["fit_rows_available"]
    assert fit["rows"]["fit"] == sample["fit_rows_used"]
    assert fit["lightgbm_params"]["max_bin"] == 63
    workflow.calibrate_model(wh, a, 7)
    workflow.evaluate_model(wh, a, 7)
    workflow.check_gate(a)
    folder = registry.models_dir(wh) / registry.register(wh, a)
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["params"]["sample"] == sample
    card = (folder / "model_card.md").read_text()
    assert f"{sample['fit_rows_used']:,} of the fit fold's" in card and "max_bin" in card


def test_a_model_that_does_not_beat_efi_is_not_registered(tmp_path):
    wh = _warehouse(tmp_path, _sample(2500, "efi_only"))
    staging = _train(wh)
    with pytest.raises(
        QualityGateError,
        match=r"model not registered: housebound AUROC "
        r"0\.\d{3} beats eFI alone \(0\.\d{3}\) by ",
    ):
        workflow.check_gate(staging)
    workflow.discard_staging(staging)
    assert registry.latest_version(wh) is None
    assert list((registry.models_dir(wh) / ".rejected").glob("*/metrics.json"))


def test_load_without_a_registered_model_is_a_clear_error(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    with pytest.raises(CasefinderError, match="no registered model"):
        registry.load(wh)
    with pytest.raises(CasefinderError, match="not registered"):
        registry.load(wh, "2026-01-01-deadbeef")
    assert registry.list_versions(wh) == []
