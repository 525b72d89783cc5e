"""Small, exact statistics shared by calibration and evaluation (unpenalised logistic fits)."""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, overflow-free."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def logit(p: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Log-odds of probabilities clipped to [eps, 1 - eps]."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p / (1 - p))


def fit_logistic_1d(
    x: np.ndarray, y: np.ndarray, max_iter: int = 100, tol: float = 1e-10
) -> tuple[float, float]:
    """Unpenalised maximum-likelihood fit of logit P(y=1) = a + b * x; returns (a, b).

    Newton-Raphson on the 2-parameter log-likelihood (no regularisation, unlike
    scikit-learn's default), as used for Platt scaling and the calibration slope.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    design = np.column_stack([np.ones_like(x), x])
    beta = np.array([logit(np.array([y.mean()]))[0], 0.0])
    for _ in range(max_iter):
        p = sigmoid(design @ beta)
        w = np.maximum(p * (1 - p), 1e-12)
        grad = design.T @ (y - p)
        hess = (design * w[:, None]).T @ design
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    return float(beta[0]), float(beta[1])


def fit_intercept_with_offset(
    offset: np.ndarray, y: np.ndarray, max_iter: int = 100, tol: float = 1e-10
) -> float:
    """Maximum-likelihood `a` in logit P(y=1) = a + offset (calibration-in-the-large)."""
    offset = np.asarray(offset, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    a = 0.0
    for _ in range(max_iter):
        p = sigmoid(a + offset)
        step = float((y - p).sum() / max((p * (1 - p)).sum(), 1e-12))
        a += step
        if abs(step) < tol:
            break
    return a


def logistic_1d_slope_se(
    x: np.ndarray, y: np.ndarray, a: float, b: float, clusters: np.ndarray | None = None
) -> float:
    """Standard error of `b` in the fit logit P(y=1) = a + b * x at the estimate (a, b).

    Without `clusters`, the model-based (inverse Fisher information) standard error. With
    `clusters` (one integer code per row, e.g. the person), the cluster-robust sandwich
    estimate with the small-sample factor G / (G - 1): rows of the same person (one per index
    date) are not independent, and the model-based error would be too small. NaN when the
    information matrix is singular or there are fewer than two clusters.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    design = np.column_stack([np.ones_like(x), x])
    p = sigmoid(a + b * x)
    hess = (design * (p * (1 - p))[:, None]).T @ design
    try:
        bread = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return float("nan")
    if clusters is None:
        return float(np.sqrt(bread[1, 1])) if bread[1, 1] > 0 else float("nan")
    codes = np.unique(np.asarray(clusters), return_inverse=True)[1]
    n_groups = int(codes.max()) + 1 if codes.size else 0
    if n_groups < 2:
        return float("nan")
    residual = y - p
    scores = np.column_stack(
        [
            np.bincount(codes, weights=residual, minlength=n_groups),
            np.bincount(codes, weights=residual * x, minlength=n_groups),
        ]
    )
    meat = scores.T @ scores * (n_groups / (n_groups - 1))
    var = (bread @ meat @ bread)[1, 1]
    return float(np.sqrt(var)) if var > 0 else float("nan")
