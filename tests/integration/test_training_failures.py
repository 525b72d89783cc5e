"""A training set that cannot train and evaluate a model is a reason to report, not an error:
`workflow.trainability` names it before anything is fitted."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from foundation.warehouse import connect
from models import workflow
from models.evaluate import calibration_bins, evaluate


def _sample(n_people: int, outcome_rate: float, housebound_rate: float) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    dates = [date(2024, 1, 1) + timedelta(days=30 * k) for k in range(12)]
    return pl.concat(
        pl.DataFrame(
            {
                "patient_id": [f"p{i:04d}" for i in range(n_people)],
                "index_date": [d] * n_people,
                "age": rng.integers(65, 95, n_people),
                "housebound": rng.random(n_people) < housebound_rate,
                "efi": rng.random(n_people) / 2,
                "hfrs": rng.random(n_people) * 10,
                "outcome": rng.random(n_people) < outcome_rate,
                "sex_code": ["2"] * n_people,
                "ethnic_category_code": ["A"] * n_people,
                "imd_decile_code": [5] * n_people,
                "period": ["holdout" if k >= 9 else "development"] * n_people,
            }
        )
        for k, d in enumerate(dates)
    )


def _warehouse(tmp_path: Path, sample: pl.DataFrame) -> Path:
    wh = tmp_path / "warehouse.duckdb"
    con = connect(wh)
    con.register("sample_df", sample.to_arrow())
    con.execute("create table features.feat_training_sample as select * from sample_df")
    con.close()
    return wh


def test_a_usable_training_set_has_no_reason(tmp_path):
    assert workflow.trainability(_warehouse(tmp_path, _sample(200, 0.3, 0.3)), 42) == ""


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        (_sample(200, 0.0, 0.3), "hold no emergency admission or death (one outcome class)"),
        (_sample(200, 1.0, 0.3), "hold only outcomes (one outcome class)"),
        (_sample(200, 0.3, 0.0), "no housebound patients in the hold-out"),
        (_sample(0, 0.3, 0.3), "no training rows"),
        (_sample(3, 0.3, 0.3), "rows are empty"),
    ],
)
def test_an_unusable_training_set_says_why(tmp_path, sample, reason):
    assert reason in workflow.trainability(_warehouse(tmp_path, sample), 42)


def test_evaluation_without_housebound_rows_reports_no_metrics():
    y = np.array([0, 1, 0, 1], dtype=float)
    p = np.array([0.2, 0.7, 0.4, 0.6])
    assert calibration_bins(np.array([]), np.array([])) == []
    metrics = evaluate(
        y,
        {"model": p},
        cohorts={"housebound": np.zeros(4, dtype=bool)},
        groups={"sex": np.array(["2"] * 4)},
    )
    assert metrics["cohorts"]["housebound"]["model"]["auroc"] is None


def test_the_train_flow_reports_an_unusable_training_set_without_fitting(
    tmp_path, monkeypatch, prefect_harness
):
    """In its flow: nothing is fitted or registered; the weekly run gets the reason back,
    `casefinder train` an expected one-line error."""
    from foundation.errors import ModelNotFitError
    from models import registry
    from pipelines.flows.train import train

    wh = _warehouse(tmp_path, _sample(200, 0.0, 0.3))
    monkeypatch.setattr(workflow, "resolve_as_of", lambda warehouse, as_of: date(2026, 1, 1))
    monkeypatch.setattr(workflow, "prepare_training_set", lambda *args: {"sample_rows": 2400})

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted a model on an unusable training set")

    monkeypatch.setattr(workflow, "fit_model", no_fit)
    result = train(wh, raise_unfit=False)
    assert result["version"] is None
    assert "hold no emergency admission or death" in result["unfit"]
    with pytest.raises(ModelNotFitError, match=r"^no model trained: the training rows"):
        train(wh)
    assert registry.latest_version(wh) is None
