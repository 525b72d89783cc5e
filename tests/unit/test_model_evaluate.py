"""Evaluation metrics and the quality gate, on outcomes small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from models import evaluate as ev
from models.stats import sigmoid


def test_top_fraction_ppv_and_sensitivity_by_hand():
    # 20 people, 4 outcomes; the top 10% (2 people) holds one outcome
    y = np.array([1, 0] + [0] * 14 + [1, 1, 1, 0], dtype=float)
    score = np.linspace(1.0, 0.0, 20)
    top = ev.top_fraction_metrics(y, score, fractions=(0.10, 0.20))
    assert top["top_10pct"] == {
        "n_flagged": 2,
        "ppv": 0.5,
        "sensitivity": 0.25,
        "score_cutoff": pytest.approx(score[1]),
    }
    assert top["top_20pct"]["n_flagged"] == 4
    assert top["top_20pct"]["ppv"] == 0.25


def test_net_benefit_by_hand():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1], dtype=float)
    p = np.array([0.9, 0.6, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    nb = ev.net_benefit(y, p, thresholds=(0.5,))["0.50"]
    # flagged 3: TP 2, FP 1; odds 1 -> 2/10 - 1/10
    assert nb["model"] == pytest.approx(0.1)
    assert nb["treat_all"] == pytest.approx(0.3 - 0.7)
    assert nb["n_flagged"] == 3


def test_perfect_and_useless_discrimination():
    y = np.array([0, 0, 0, 1, 1, 1], dtype=float)
    assert ev.binary_metrics(y, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]))["auroc"] == 1.0
    assert ev.binary_metrics(y, np.full(6, 0.5))["auroc"] == 0.5


def test_calibration_slope_is_one_for_calibrated_and_below_one_for_overconfident():
    rng = np.random.default_rng(3)
    lp = rng.normal(-1, 1.5, 40000)
    y = (rng.random(lp.size) < sigmoid(lp)).astype(float)
    good = ev.binary_metrics(y, sigmoid(lp))
    assert good["calibration_slope"] == pytest.approx(1.0, abs=0.05)
    assert good["calibration_intercept"] == pytest.approx(0.0, abs=0.05)
    assert good["ece"] < 0.01
    over = ev.binary_metrics(y, sigmoid(2 * lp))
    assert over["calibration_slope"] == pytest.approx(0.5, abs=0.05)
    assert over["ece"] > good["ece"]


def test_one_class_gives_none_not_an_error():
    m = ev.binary_metrics(np.zeros(50), np.linspace(0, 1, 50))
    assert m["auroc"] is None and m["calibration_slope"] is None
    assert m["brier"] == pytest.approx(np.mean(np.linspace(0, 1, 50) ** 2))


def test_a_cohort_with_no_rows_gives_empty_metrics_not_an_error():
    # A site with no housebound patients: the housebound hold-out is empty.
    y, p = np.array([0.0, 1.0, 0.0, 1.0]), np.array([0.2, 0.8, 0.3, 0.6])
    m = ev.evaluate(
        y,
        {"model": p, "efi": p},
        cohorts={"overall": np.ones(4, bool), "housebound": np.zeros(4, bool)},
        groups={"sex": np.array(["female", "male", "female", "male"])},
    )
    hb = m["cohorts"]["housebound"]["model"]
    assert hb["n"] == 0 and hb["auroc"] is None and hb["subgroups"] == {"sex": {}}
    assert m["curves"]["housebound"]["model"] == {"roc": None, "calibration": []}
    assert ev.calibration_bins(np.array([]), np.array([])) == []
    assert ev.quality_gate(m) == [
        "housebound hold-out AUROC cannot be computed (one outcome class only)",
        "housebound calibration slope cannot be estimated (too few rows)",
    ]


def _metrics(model_auc_shift: float, slope_power: float, n: int = 6000):
    rng = np.random.default_rng(7)
    lp = rng.normal(-1, 1.2, n)
    y = (rng.random(n) < sigmoid(lp)).astype(float)
    efi = sigmoid(lp + rng.normal(0, 2.0, n))  # a noisier score
    model = sigmoid(slope_power * (lp + rng.normal(0, model_auc_shift, n)))
    housebound = rng.random(n) < 0.5
    sex = np.where(rng.random(n) < 0.5, "female", "male")
    return ev.evaluate(
        y,
        {"model": model, "efi": efi},
        cohorts={"overall": np.ones(n, bool), "housebound": housebound},
        groups={"sex": sex},
    )


def test_evaluate_shapes_and_subgroups():
    m = _metrics(0.3, 1.0)
    assert set(m["cohorts"]) == {"overall", "housebound"}
    hb = m["cohorts"]["housebound"]["model"]
    assert set(hb["subgroups"]["sex"]) == {"female", "male"}
    n_sub = sum(v["n"] for v in hb["subgroups"]["sex"].values())
    assert n_sub == hb["n"]
    assert m["curves"]["housebound"]["model"]["roc"]["fpr"][0] == 0.0
    assert len(m["curves"]["overall"]["model"]["calibration"]) == ev.ECE_BINS


def test_gate_passes_a_good_calibrated_model():
    assert ev.quality_gate(_metrics(0.3, 1.0)) == []


def test_gate_names_the_auroc_shortfall():
    m = _metrics(0.3, 1.0)
    m["cohorts"]["housebound"]["efi"]["auroc"] = m["cohorts"]["housebound"]["model"]["auroc"] - 0.01
    failures = ev.quality_gate(m)
    assert len(failures) == 1
    assert "beats eFI alone" in failures[0] and "by 0.010 < 0.03" in failures[0]


def test_gate_names_the_slope_failure_and_by_how_much():
    failures = ev.quality_gate(_metrics(0.3, 2.0))
    assert any("calibration slope" in f and "outside 0.8-1.2 by" in f for f in failures)


def _holdout_of_people(slope_power: float, n_people: int, seed: int = 11):
    """A housebound hold-out shaped like a 20,000-patient site's: `n_people` people at three
    index dates each, with overlapping outcome windows (the same event counts at each date)."""
    rng = np.random.default_rng(seed)
    lp_person = rng.normal(-0.6, 1.3, n_people)
    lp = np.repeat(lp_person, 3) + rng.normal(0, 0.2, 3 * n_people)
    # one event draw per person: their three rows share it, as overlapping 12-month windows do
    y = np.repeat((rng.random(n_people) < sigmoid(lp_person)).astype(float), 3)
    person = np.repeat(np.arange(n_people), 3)
    p = sigmoid(slope_power * lp)
    efi = sigmoid(lp + rng.normal(0, 2.0, lp.size))
    return ev.evaluate(
        y,
        {"model": p, "efi": efi},
        cohorts={"housebound": np.ones(lp.size, bool)},
        groups={},
        clusters=person,
    )


def test_slope_interval_is_cluster_robust_and_covers_a_calibrated_model():
    hb = _holdout_of_people(1.0, 150)["cohorts"]["housebound"]["model"]
    low, high = hb["calibration_slope_ci"]
    assert low < hb["calibration_slope"] < high and low < 1.0 < high
    # three rows per person are not three independent people: the robust interval is wider
    # than the model-based one (no clusters)
    y = np.repeat(np.arange(150) % 2, 3).astype(float)
    p = sigmoid(np.repeat(np.linspace(-2, 2, 150), 3))
    naive = ev.binary_metrics(y, p)["calibration_slope_ci"]
    robust = ev.binary_metrics(y, p, np.repeat(np.arange(150), 3))["calibration_slope_ci"]
    assert robust[1] - robust[0] > 1.5 * (naive[1] - naive[0])


def test_gate_passes_a_calibrated_model_at_the_size_of_a_small_site():
    # 150 people: a calibrated model's slope estimate ranges 0.65-1.23 over these 20 draws
    for seed in range(20):
        assert ev.quality_gate(_holdout_of_people(1.0, 150, seed)) == [], seed


@pytest.mark.parametrize(
    ("power", "min_refused"),
    [
        (2.5, 20),  # log-odds stretched 2.5-fold: true slope 0.4
        (1 / 3, 18),  # log-odds squashed 3-fold: true slope 3 (its interval is wider)
    ],
)
def test_gate_refuses_stretched_or_squashed_probabilities_at_the_size_of_a_small_site(
    power, min_refused
):
    """The interval rule still refuses a truly miscalibrated model on a 150-person hold-out:
    of 20 simulated hold-outs, the stretched model is refused in all, the squashed one in at
    least 18 (the rule's power at this size; the point estimate alone would refuse a
    calibrated model in 4 of these 20 draws)."""
    refused = 0
    for seed in range(20):
        failures = ev.quality_gate(_holdout_of_people(power, 150, seed))
        if failures:
            assert len(failures) == 1
            assert "calibration slope" in failures[0] and "95% CI" in failures[0]
            assert "outside 0.8-1.2 by" in failures[0]
            refused += 1
    assert refused >= min_refused
