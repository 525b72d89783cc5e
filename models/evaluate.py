"""Evaluation: discrimination, calibration, top-k and net-benefit metrics as data, and the gate."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from models.stats import fit_intercept_with_offset, fit_logistic_1d, logistic_1d_slope_se, logit

TOP_FRACTIONS: tuple[float, ...] = (0.05, 0.10, 0.20)
NET_BENEFIT_THRESHOLDS: tuple[float, ...] = (0.10, 0.20, 0.30, 0.50)
ECE_BINS = 10
SUBGROUPS: tuple[str, ...] = ("sex", "age_band", "imd_quintile", "ethnic_group")

# Quality gate (issue 5): the registered model must beat eFI alone in the housebound hold-out
# by this much AUROC, and its housebound calibration slope must lie in this closed range.
GATE_MIN_AUROC_GAIN = 0.03
GATE_SLOPE_RANGE: tuple[float, float] = (0.8, 1.2)
GATE_COHORT = "housebound"

# Below this many rows (or with fewer positives or negatives) slope/intercept/ECE are not
# estimated: they would be noise.
_MIN_ROWS_FOR_CALIBRATION = 30
_MIN_EVENTS_FOR_CALIBRATION = 5
_Z95 = 1.959963984540054


def _none_if_nan(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def calibration_slope_ci(
    y: np.ndarray, p: np.ndarray, clusters: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Calibration slope with its standard error and 95% confidence interval half-width:
    `(slope, se, 1.96 * se)`. With `clusters` (the person of each row) the error is
    cluster-robust: a person counted at several index dates is one source of noise, not
    several."""
    lp = logit(p)
    a, slope = fit_logistic_1d(lp, y)
    se = logistic_1d_slope_se(lp, y, a, slope, clusters)
    return slope, se, _Z95 * se


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> list[dict[str, float]]:
    """Equal-frequency bins of predicted risk: n, mean predicted, observed rate per bin."""
    order = np.argsort(p, kind="stable")
    out: list[dict[str, float]] = []
    if len(order) == 0:
        return out
    for chunk in np.array_split(order, min(bins, len(order))):
        if len(chunk) == 0:
            continue
        out.append(
            {
                "n": len(chunk),
                "mean_predicted": float(p[chunk].mean()),
                "observed_rate": float(y[chunk].mean()),
            }
        )
    return out


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over equal-frequency bins of (bin share) x |observed rate - mean predicted|."""
    n = len(y)
    return float(
        sum(
            b["n"] / n * abs(b["observed_rate"] - b["mean_predicted"])
            for b in calibration_bins(y, p, bins)
        )
    )


def top_fraction_metrics(
    y: np.ndarray, score: np.ndarray, fractions: Sequence[float] = TOP_FRACTIONS
) -> dict[str, dict[str, float]]:
    """PPV and sensitivity when the top `fraction` of people by score are flagged."""
    n = len(y)
    positives = float(y.sum())
    order = np.argsort(-score, kind="stable")
    out = {}
    for frac in fractions:
        k = max(1, math.ceil(frac * n))
        hits = float(y[order[:k]].sum())
        out[f"top_{round(frac * 100)}pct"] = {
            "n_flagged": k,
            "ppv": hits / k,
            "sensitivity": hits / positives if positives else float("nan"),
            "score_cutoff": float(score[order[k - 1]]),
        }
    return out


def net_benefit(
    y: np.ndarray, p: np.ndarray, thresholds: Sequence[float] = NET_BENEFIT_THRESHOLDS
) -> dict[str, dict[str, float]]:
    """Decision-curve net benefit of flagging p >= t, against flagging everyone, per threshold."""
    n = len(y)
    prevalence = float(y.mean())
    out = {}
    for t in thresholds:
        flagged = p >= t
        tp = float((flagged & (y == 1)).sum())
        fp = float((flagged & (y == 0)).sum())
        odds = t / (1 - t)
        out[f"{t:.2f}"] = {
            "model": tp / n - fp / n * odds,
            "treat_all": prevalence - (1 - prevalence) * odds,
            "n_flagged": int(flagged.sum()),
        }
    return out


def binary_metrics(
    y: np.ndarray, p: np.ndarray, clusters: np.ndarray | None = None
) -> dict[str, Any]:
    """Every metric of issue 5 for one set of outcomes `y` (0/1) and probabilities `p`.

    `clusters` (the person of each row, as integer codes) makes the calibration slope's 95%
    confidence interval (`calibration_slope_ci`) cluster-robust; without it the interval is
    model-based."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    n = len(y)
    n_pos = int(y.sum())
    both = 0 < n_pos < n
    out: dict[str, Any] = {
        "n": n,
        "n_positive": n_pos,
        "prevalence": n_pos / n if n else None,
        "mean_predicted": float(p.mean()) if n else None,
        "auroc": float(roc_auc_score(y, p)) if both else None,
        "auprc": float(average_precision_score(y, p)) if both else None,
        "brier": float(np.mean((p - y) ** 2)) if n else None,
        "calibration_slope": None,
        "calibration_slope_ci": None,
        "calibration_intercept": None,
        "ece": None,
    }
    enough = n >= _MIN_ROWS_FOR_CALIBRATION and min(n_pos, n - n_pos) >= _MIN_EVENTS_FOR_CALIBRATION
    if enough:
        slope, _, half = calibration_slope_ci(y, p, clusters)
        intercept = fit_intercept_with_offset(logit(p), y)
        out["calibration_slope"] = _none_if_nan(slope)
        if math.isfinite(slope) and math.isfinite(half):
            out["calibration_slope_ci"] = [float(slope - half), float(slope + half)]
        out["calibration_intercept"] = _none_if_nan(intercept)
        out["ece"] = expected_calibration_error(y, p)
    if n:
        out["top"] = top_fraction_metrics(y, p)
        out["net_benefit"] = net_benefit(y, p)
    return out


def _level_masks(groups: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Subgroup variable -> level (as text, sorted) -> boolean mask over the rows."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, labels in groups.items():
        text = np.asarray(labels, dtype=object).astype(str)
        out[name] = {str(level): text == level for level in np.unique(text)}
    return out


def _subgroup_metrics(
    y: np.ndarray,
    p: np.ndarray,
    levels: Mapping[str, Mapping[str, np.ndarray]],
    clusters: np.ndarray | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, masks in levels.items():
        out[name] = {}
        for level, mask in masks.items():
            metrics = binary_metrics(y[mask], p[mask], None if clusters is None else clusters[mask])
            metrics.pop("net_benefit", None)
            out[name][level] = metrics
    return out


def curves(y: np.ndarray, p: np.ndarray, max_points: int = 200) -> dict[str, Any]:
    """Points for the ROC and calibration plots (down-sampled; no identifiers)."""
    if not 0 < y.sum() < len(y):
        return {"roc": None, "calibration": calibration_bins(y, p)}
    fpr, tpr, _ = roc_curve(y, p)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {
        "roc": {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr]},
        "calibration": calibration_bins(y, p),
    }


def evaluate(
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    cohorts: Mapping[str, np.ndarray],
    groups: Mapping[str, np.ndarray],
    clusters: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics for every scorer (model and baselines) in every cohort, overall and by subgroup.

    Args:
        y: outcomes (0/1) of the hold-out rows.
        scores: scorer name -> probabilities for the same rows (`model` first, then baselines).
        cohorts: cohort name -> boolean mask over the rows (e.g. `overall`, `housebound`).
        groups: subgroup variable -> label per row (sex, age band, IMD quintile, ethnic group).
        clusters: the person of each row (any labels), for cluster-robust slope intervals.

    Returns:
        `{"cohorts": {cohort: {scorer: {metrics..., "subgroups": {...}}}}, "curves": {...}}`.
    """
    y = np.asarray(y, dtype=np.float64)
    codes = None if clusters is None else np.unique(np.asarray(clusters), return_inverse=True)[1]
    result: dict[str, Any] = {"cohorts": {}, "curves": {}}
    for cohort, mask in cohorts.items():
        mask = np.asarray(mask, dtype=bool)
        codes_c = None if codes is None else codes[mask]
        result["cohorts"][cohort] = {}
        result["curves"][cohort] = {}
        # the subgroup masks are the same for every scorer: built once per cohort
        levels = _level_masks({k: np.asarray(v, dtype=object)[mask] for k, v in groups.items()})
        for scorer, p in scores.items():
            p_c = np.asarray(p, dtype=np.float64)[mask]
            metrics = binary_metrics(y[mask], p_c, codes_c)
            metrics["subgroups"] = _subgroup_metrics(y[mask], p_c, levels, codes_c)
            result["cohorts"][cohort][scorer] = metrics
            result["curves"][cohort][scorer] = curves(y[mask], p_c)
    return result


def quality_gate(
    metrics: Mapping[str, Any],
    min_auroc_gain: float | None = None,
    slope_range: tuple[float, float] | None = None,
) -> list[str]:
    """The failed checks of the quality gate, each as a short sentence (empty list = pass).

    Defaults: `GATE_MIN_AUROC_GAIN` and `GATE_SLOPE_RANGE` (read at call time)."""
    min_gain = GATE_MIN_AUROC_GAIN if min_auroc_gain is None else min_auroc_gain
    low, high = GATE_SLOPE_RANGE if slope_range is None else slope_range
    cohort = metrics["cohorts"].get(GATE_COHORT)
    if cohort is None:
        return [f"no {GATE_COHORT} rows in the hold-out"]
    failures: list[str] = []
    model_auc = cohort["model"]["auroc"]
    efi_auc = cohort["efi"]["auroc"]
    if model_auc is None or efi_auc is None:
        failures.append(f"{GATE_COHORT} hold-out AUROC cannot be computed (one outcome class only)")
    else:
        gain = model_auc - efi_auc
        if gain < min_gain:
            failures.append(
                f"{GATE_COHORT} AUROC {model_auc:.3f} beats eFI alone ({efi_auc:.3f}) by "
                f"{gain:.3f} < {min_gain:.2f}"
            )
    slope = cohort["model"]["calibration_slope"]
    ci = cohort["model"].get("calibration_slope_ci")
    if slope is None:
        failures.append(f"{GATE_COHORT} calibration slope cannot be estimated (too few rows)")
        return failures
    # The slope is judged by its 95% confidence interval when there is one: refused when the
    # whole interval lies outside the range (the slope is then outside it beyond chance).
    ci_low, ci_high = (slope, slope) if ci is None else ci
    if ci_high < low or ci_low > high:
        off = low - ci_high if ci_high < low else ci_low - high
        where = "" if ci is None else f" (95% CI {ci_low:.3f}-{ci_high:.3f})"
        failures.append(
            f"{GATE_COHORT} calibration slope {slope:.3f}{where} is outside {low}-{high} by "
            f"{off:.3f}"
        )
    return failures
