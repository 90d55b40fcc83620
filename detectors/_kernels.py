"""Numba kernels of the detector rows and the forest (plain arrays, no checks)."""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from eegmon.dsp._jit import jit


@jit()
def adaptive_baseline(x, state, count, alpha_min, step_max, prior, prior_windows, out):  # pragma: no cover
    """Running baseline of log-features, one row (window) at a time, state updated in place.

    For each column the baseline given for row ``i`` is computed *before* row ``i`` is taken in,
    so a sudden rise is measured against the past. It blends a population ``prior`` (weight
    ``exp(-count / prior_windows)``; no prior when ``prior_windows`` is 0) with a running mean
    that is a cumulative mean at first and an exponential mean with rate ``alpha_min`` later.
    Each update moves by at most ``step_max`` (log10 units), so a seizure barely shifts the
    baseline. NaN rows leave the state unchanged.
    """
    n, k = x.shape
    for i in range(n):
        for j in range(k):
            c = count[j]
            if prior_windows > 0.0:
                w = math.exp(-c / prior_windows)
                if c == 0.0:
                    out[i, j] = prior[j]
                else:
                    out[i, j] = w * prior[j] + (1.0 - w) * state[j]
            else:
                out[i, j] = state[j] if c > 0.0 else math.nan
            v = x[i, j]
            if v == v:
                if c == 0.0:
                    state[j] = v
                else:
                    a = max(1.0 / (c + 1.0), alpha_min)
                    d = v - state[j]
                    if d > step_max:
                        d = step_max
                    elif d < -step_max:
                        d = -step_max
                    state[j] += a * d
                count[j] = c + 1.0


@jit()
def forest_sum(X, left, right, feature, threshold, nan_left, leaf_p, roots, first, step, acc):  # pragma: no cover
    """Add to ``acc`` the positive-class probability of each row's leaf in trees first, first + step, ...

    The trees are flattened into one node array (``roots[t]`` is tree t's first node, a leaf has
    ``left == -1``). A row goes left when its value is <= the threshold, and where it is missing
    (NaN) the way the tree learned (``nan_left``), exactly as scikit-learn walks its trees. Tree by
    tree keeps one tree's nodes in cache while all rows walk it.
    """
    n = X.shape[0]
    for t in range(first, roots.shape[0], step):
        for i in range(n):
            node = roots[t]
            while left[node] != -1:
                v = X[i, feature[node]]
                if v != v:
                    node = left[node] if nan_left[node] else right[node]
                elif v <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            acc[i] += leaf_p[node]


@jit(parallel=True)
def forest_sum_parallel(X, left, right, feature, threshold, nan_left, leaf_p, roots, acc):  # pragma: no cover
    """:func:`forest_sum` of every tree, groups of trees in parallel, each into a row of ``acc`` (n_groups, n)."""
    n_groups = acc.shape[0]
    for g in prange(n_groups):
        forest_sum(X, left, right, feature, threshold, nan_left, leaf_p, roots, g, n_groups, acc[g])


@jit()
def causal_means(x, first, lengths, means, counts):  # pragma: no cover
    """Means over the last ``lengths[m]`` rows (NaN left out) of each row of ``x`` from ``first`` on.

    ``x`` is (n, n_ch, n_col); ``means[m, i - first]`` and ``counts[m, i - first]`` get the mean
    and the number of non-NaN values over rows ``max(i + 1 - k, 0) .. i`` (NaN when there are
    none). The sums are differences of running sums in row order, as ``np.cumsum`` gives them.
    """
    n, n_ch, n_col = x.shape
    n_len = lengths.shape[0]
    csum = np.zeros(n + 1)
    ccount = np.zeros(n + 1)
    for c in range(n_ch):
        for f in range(n_col):
            for r in range(n):
                v = x[r, c, f]
                ok = v == v
                csum[r + 1] = csum[r] + (v if ok else 0.0)
                ccount[r + 1] = ccount[r] + (1.0 if ok else 0.0)
            for m in range(n_len):
                k = lengths[m]
                for i in range(first, n):
                    lo = max(i + 1 - k, 0)
                    cnt = ccount[i + 1] - ccount[lo]
                    counts[m, i - first, c, f] = cnt
                    means[m, i - first, c, f] = (csum[i + 1] - csum[lo]) / cnt if cnt > 0 else math.nan
