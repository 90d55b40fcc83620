"""Scores of probabilistic seizure forecasts (the quantities SeFEF and the forecasting papers report).

Each forecast is a probability ``p`` of at least one seizure in its window; its outcome ``y`` is
whether a seizure onset fell in the window.

- Brier score: ``mean((p - y)**2)``.
- Brier skill score: ``1 - BS / BS_ref``. Against climatology (:func:`brier_skill_score` with no
  reference) the reference is the observed share of windows with a seizure, as a constant
  forecast, whose Brier score is ``ybar (1 - ybar)``: the definition SeFEF uses. Against another
  forecaster (e.g. the moving average) the reference is that forecaster's forecasts on the same
  windows.
- ROC AUC: the chance that a window with a seizure got a higher forecast than one without (ties
  count half).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def window_counts(onsets: np.ndarray, starts: np.ndarray, horizon: float) -> np.ndarray:
    """Number of onsets in each window ``[start, start + horizon)`` (``onsets`` sorted)."""
    return np.searchsorted(onsets, starts + horizon) - np.searchsorted(onsets, starts)


def brier_score(p: np.ndarray, y: np.ndarray) -> float:
    """Mean squared difference between forecast probabilities and 0/1 outcomes."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    return float(np.mean((p - y) ** 2)) if p.size else float("nan")


def brier_skill_score(p: np.ndarray, y: np.ndarray, reference: np.ndarray | None = None) -> float:
    """``1 - BS(p) / BS(reference)``; no reference: the observed base rate as a constant forecast."""
    y = np.asarray(y, dtype=float)
    if reference is None:
        ref = y.mean() * (1 - y.mean()) if y.size else float("nan")
    else:
        ref = brier_score(reference, y)
    return float(1 - brier_score(p, y) / ref) if ref > 0 else float("nan")


def roc_auc(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (NaN when the outcomes are all 0 or all 1)."""
    y = np.asarray(y, dtype=bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_from_ranks(ranks: np.ndarray, y: np.ndarray) -> np.ndarray:
    """AUC for each row of outcomes ``y`` (surrogates x forecasts) against fixed forecast ``ranks``."""
    n_pos = y.sum(axis=-1)
    n_neg = y.shape[-1] - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        return (y @ ranks - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc_from_histograms(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUC from counts of positive and negative windows per forecast bin (last axis, ascending bins)."""
    below = np.cumsum(neg, axis=-1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=-1) / (pos.sum(axis=-1) * neg.sum(axis=-1))


def reliability(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reliability diagram on quantile bins: mean forecast, observed frequency and count per bin."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    if p.size == 0:
        return np.empty(0), np.empty(0), np.empty(0, dtype=int)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(edges.size - 2, 0))
    count = np.bincount(idx, minlength=max(edges.size - 1, 1))
    ok = count > 0
    mean_p = np.bincount(idx, weights=p, minlength=count.size)[ok] / count[ok]
    freq = np.bincount(idx, weights=y, minlength=count.size)[ok] / count[ok]
    return mean_p, freq, count[ok]


def warning_scores(levels: np.ndarray, n_seizures: np.ndarray, level: int) -> tuple[float, float]:
    """``(sensitivity, time in warning)`` with a warning whenever the risk level is >= ``level``.

    Sensitivity is the share of seizures whose window was in warning; time in warning the share
    of windows in warning.
    """
    warn = np.asarray(levels) >= level
    total = n_seizures.sum()
    sensitivity = float(n_seizures[warn].sum() / total) if total else float("nan")
    return sensitivity, float(warn.mean()) if warn.size else float("nan")
