"""Numba kernels of the forecasting code (plain arrays in, plain arrays out)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def thin_mask(onsets: np.ndarray, gap_s: float) -> np.ndarray:
    """Mask of the sorted ``onsets`` that come at least ``gap_s`` after the previous one kept."""
    keep = np.zeros(onsets.size, dtype=np.bool_)
    last = -np.inf
    for i in range(onsets.size):
        if onsets[i] - last >= gap_s:
            keep[i] = True
            last = onsets[i]
    return keep


@numba.njit(cache=True)
def poisson_ridge(xd: np.ndarray, xh: np.ndarray, counts: np.ndarray, exposure: np.ndarray, ridge: float,
                  beta: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """Newton's method for a Poisson model of (days, 24) hourly counts, from ``beta`` (updated in place).

    The log-rate of hour ``h`` of day ``d`` is ``xd[d] @ beta[:pd] + xh[h] @ beta[pd:]``; L2
    penalty ``ridge`` on every coefficient but the first (the intercept).
    """
    n_days, pd = xd.shape
    ph = xh.shape[1]
    p = pd + ph
    for _ in range(max_iter):
        a = np.exp(np.minimum(np.maximum(xd @ beta[:pd], -50.0), 20.0))
        b = np.exp(np.minimum(np.maximum(xh @ beta[pd:], -50.0), 20.0))
        grad = np.zeros(p)
        hess = np.zeros((p, p))
        mh = np.zeros(24)
        for d in range(n_days):
            md = 0.0
            row_h = np.zeros(ph)
            yd = 0.0
            for h in range(24):
                mu = exposure[d, h] * a[d] * b[h]
                md += mu
                mh[h] += mu
                yd += counts[d, h]
                for j in range(ph):
                    row_h[j] += mu * xh[h, j]
                    grad[pd + j] += counts[d, h] * xh[h, j]
            for i in range(pd):
                grad[i] += xd[d, i] * (yd - md)
                for k in range(pd):
                    hess[i, k] += xd[d, i] * md * xd[d, k]
                for j in range(ph):
                    hess[i, pd + j] += xd[d, i] * row_h[j]
        for h in range(24):
            for j in range(ph):
                grad[pd + j] -= mh[h] * xh[h, j]
                for k in range(ph):
                    hess[pd + j, pd + k] += xh[h, j] * mh[h] * xh[h, k]
        for i in range(pd):
            for j in range(ph):
                hess[pd + j, i] = hess[i, pd + j]
        for i in range(1, p):
            grad[i] -= ridge * beta[i]
            hess[i, i] += ridge
        hess[0, 0] += 1e-9
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.abs(step).max() < tol:
            break
    return beta


@numba.njit(cache=True)
def _cloglog_objective(log_expected: np.ndarray, hit: np.ndarray, ridge: float, t0: float, t1: float) -> float:
    """Penalised log-likelihood of ``hit`` under ``log(-log(1 - P)) = t0 + t1 * log_expected``."""
    total = -0.5 * ridge * (t0 * t0 + (t1 - 1.0) * (t1 - 1.0))
    for i in range(log_expected.size):
        lam = np.exp(min(max(t0 + t1 * log_expected[i], -30.0), 5.0))
        if hit[i] > 0.5:
            total += np.log(max(-np.expm1(-lam), 1e-300))
        else:
            total -= lam
    return total


@numba.njit(cache=True)
def cloglog_recalibration(log_expected: np.ndarray, hit: np.ndarray, ridge: float, theta: np.ndarray,
                          max_iter: int, tol: float) -> np.ndarray:
    """Newton's method for ``log(-log(1 - P)) = theta[0] + theta[1] * log_expected`` (in place).

    Binomial likelihood of ``hit`` (0/1) with an L2 penalty ``ridge`` towards ``(0, 1)``; each
    step is halved until the penalised likelihood rises (plain Newton can run away on a few
    windows that a steep curve separates).
    """
    current = _cloglog_objective(log_expected, hit, ridge, theta[0], theta[1])
    for _ in range(max_iter):
        grad = np.array([-ridge * theta[0], -ridge * (theta[1] - 1.0)])
        info = np.array([[ridge, 0.0], [0.0, ridge]])
        for i in range(log_expected.size):
            z1 = log_expected[i]
            lam = np.exp(min(max(theta[0] + theta[1] * z1, -30.0), 5.0))
            p = max(-np.expm1(-lam), 1e-12)
            w = lam * np.exp(-lam) / p  # d log-likelihood / d eta, per unit of hit, cloglog link
            g = hit[i] * w - (1.0 - hit[i]) * lam
            grad[0] += g
            grad[1] += g * z1
            f = lam * w
            info[0, 0] += f
            info[0, 1] += f * z1
            info[1, 1] += f * z1 * z1
        info[1, 0] = info[0, 1]
        step = np.linalg.solve(info, grad)
        scale = 1.0
        for _ in range(30):
            trial = _cloglog_objective(log_expected, hit, ridge, theta[0] + scale * step[0], theta[1] + scale * step[1])
            if trial >= current:
                break
            scale *= 0.5
        else:
            break
        theta[0] += scale * step[0]
        theta[1] += scale * step[1]
        current = trial
        if np.abs(scale * step).max() < tol:
            break
    return theta
