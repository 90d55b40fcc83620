"""Numba kernels of the detector rows and the forest (plain arrays, no checks)."""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from eegmon.dsp._jit import jit


@jit()
def all_finite(x):  # pragma: no cover - compiled
    """True when no value of the 1-D array ``x`` is NaN or infinite (``np.isfinite(x).all()`` without its calls)."""
    for i in range(x.shape[0]):
        if not math.isfinite(x[i]):
            return False
    return True


#: Trees walked side by side, and rows per block of their leaf values (see :func:`forest_sum`).
_LOCKSTEP_TREES = 8
_ROW_BLOCK = 256


@jit()
def forest_sum(X, left, right, feature, threshold, nan_left, leaf_p, roots, first, step, acc):  # pragma: no cover
    """Add to ``acc`` the positive-class probability of each row's leaf in trees first, first + step, ...

    The trees are flattened into one node array (``roots[t]`` is tree t's first node, a leaf has
    ``left == -1``). A row goes left when its value is <= the threshold, and where it is missing
    (NaN) the way the tree learned (``nan_left``), exactly as scikit-learn walks its trees.

    A row walks ``_LOCKSTEP_TREES`` trees side by side, one level of each in turn: the node
    loads of different trees do not wait for each other, so their cache misses overlap (a live
    chunk's few rows find few nodes in cache). Each row's leaf values are then added tree by
    tree, in the order of the trees, so the sums are those of one tree after the other.
    """
    n = X.shape[0]
    n_trees = roots.shape[0]
    group = np.empty(_LOCKSTEP_TREES, dtype=np.int64)
    node = np.empty(_LOCKSTEP_TREES, dtype=np.int64)
    vals = np.empty((_LOCKSTEP_TREES, min(n, _ROW_BLOCK)))
    for t0 in range(first, n_trees, step * _LOCKSTEP_TREES):
        g_n = 0
        for g in range(_LOCKSTEP_TREES):
            t = t0 + g * step
            if t < n_trees:
                group[g_n] = t
                g_n += 1
        for r0 in range(0, n, _ROW_BLOCK):
            r1 = min(r0 + _ROW_BLOCK, n)
            for i in range(r0, r1):
                for g in range(g_n):
                    node[g] = roots[group[g]]
                moving = True
                while moving:
                    moving = False
                    for g in range(g_n):
                        k = node[g]
                        if left[k] != -1:
                            v = X[i, feature[k]]
                            if v != v:
                                node[g] = left[k] if nan_left[k] else right[k]
                            elif v <= threshold[k]:
                                node[g] = left[k]
                            else:
                                node[g] = right[k]
                            moving = True
                for g in range(g_n):
                    vals[g, i - r0] = leaf_p[node[g]]
            # tree by tree into the sums: the order of adding one tree after the other
            for g in range(g_n):
                for i in range(r0, r1):
                    acc[i] += vals[g, i - r0]


@jit(parallel=True)
def forest_sum_parallel(X, left, right, feature, threshold, nan_left, leaf_p, roots, acc):  # pragma: no cover
    """:func:`forest_sum` of every tree, groups of trees in parallel, each into a row of ``acc`` (n_groups, n)."""
    n_groups = acc.shape[0]
    for g in prange(n_groups):
        forest_sum(X, left, right, feature, threshold, nan_left, leaf_p, roots, g, n_groups, acc[g])


@jit()
def detector_rows(values, times, amp_idx, shape_idx, abs_idx, quality_idx, max_flat, max_clip,  # pragma: no cover
                  max_line, state, count, alpha, step_max, prior, prior_windows, warm_windows, fresh, last_good,
                  rewarm_gap_s, tail, n_tail, ctx_idx, long_idx, rfreq, rel_ll, rise_log10, lengths, tiny, out):
    """The detector rows of ``values`` (n_win, n_ch, n_feat) into ``out``, window by window.

    The same computation as the NumPy formulation it replaced (kept in the tests as the
    reference): the signal-quality gate; log amplitudes against a running baseline (state in
    ``state``/``count``, updated in place: for each column, the baseline a row is measured
    against is computed before the row is taken in, blending a population ``prior`` with weight
    ``exp(-count / prior_windows)`` with a running mean that is cumulative at first and
    exponential with rate ``alpha`` later, each update moving by at most ``step_max`` log10
    units, so that a seizure barely shifts it); the amplitude-free shape columns, causal
    means over the last ``lengths`` = (context, long, rise) rows of each channel's own columns
    (with ``tail``, a ring of the last ``n_tail`` earlier rows, updated in place; returns the new
    ``n_tail``), the spatial rise fraction and median, the prior weight, quality and warm flag.
    A channel is warm once ``fresh`` (its good windows since the start) reaches ``warm_windows``.
    A channel that went more than ``rewarm_gap_s`` without a good window (a gap in the data, or
    a stretch that fails the gate, such as a device taken off while it records; ``last_good``
    holds each channel's latest good window time, updated in place) starts again as at the
    start of a recording: ``fresh`` and its baseline counts go to 0, so the prior comes back
    and the baseline is learnt afresh.
    """
    n_win, n_ch = values.shape[0], values.shape[1]
    n_amp = amp_idx.shape[0]
    n_own = n_amp + shape_idx.shape[0]
    cap = tail.shape[0]
    n_ctx, n_long = ctx_idx.shape[0], long_idx.shape[0]
    c_ctx = n_own
    c_std = c_ctx + n_ctx
    c_long = c_std + 1
    c_rise = c_long + n_long
    c_spatial = c_rise + n_long
    c_prior = c_spatial + 2
    c_quality = c_prior + 1
    c_warm = c_quality + quality_idx.shape[0]
    seen = np.empty(n_ch)
    for c in range(n_ch):
        seen[c] = count[c * n_amp]
    good = np.empty(n_ch, dtype=np.bool_)
    rise = np.empty(n_ch)
    k_short, k_long, k_rise = lengths[0], lengths[1], lengths[2]
    for i in range(n_win):
        for c in range(n_ch):
            if times[i] - last_good[c] > rewarm_gap_s:
                # the device may sit differently now: start again as at the start of a recording
                fresh[c] = 0.0
                seen[c] = 0.0
                for j in range(n_amp):
                    count[c * n_amp + j] = 0.0
            q0 = values[i, c, quality_idx[0]]
            q1 = values[i, c, quality_idx[1]]
            q2 = values[i, c, quality_idx[2]]
            q3 = values[i, c, quality_idx[3]]
            g = q0 <= max_flat and q1 <= max_clip and q2 <= max_line and q3 == 0.0
            good[c] = g
            row = out[i, c]
            for j in range(n_amp):
                col = c * n_amp + j
                a = math.log10(max(values[i, c, amp_idx[j]], tiny)) if g else math.nan
                cnt = count[col]
                # the baseline a row is measured against is the one before it is taken in
                if prior_windows > 0.0:
                    w = math.exp(-cnt / prior_windows)
                    b = prior[col] if cnt == 0.0 else w * prior[col] + (1.0 - w) * state[col]
                else:
                    b = state[col] if cnt > 0.0 else math.nan
                if a == a:
                    if cnt == 0.0:
                        state[col] = a
                    else:
                        d = min(max(a - state[col], -step_max), step_max)
                        state[col] += max(1.0 / (cnt + 1.0), alpha) * d
                    count[col] = cnt + 1.0
                v = a - b
                row[j] = v if not math.isinf(v) else math.nan
            for j in range(shape_idx.shape[0]):
                v = values[i, c, shape_idx[j]]
                if j == abs_idx:
                    v = abs(v)
                row[n_amp + j] = v if not math.isinf(v) else math.nan
            row[c_prior] = math.exp(-seen[c] / prior_windows) if prior_windows > 0.0 else 0.0
            row[c_warm] = 1.0 if fresh[c] >= warm_windows else 0.0
            for j in range(quality_idx.shape[0]):
                row[c_quality + j] = values[i, c, quality_idx[j]]
            if g:
                seen[c] += 1.0
                fresh[c] += 1.0
                last_good[c] = times[i]
            rise[c] = row[rel_ll] if g else math.nan
            # causal means over this row and the last earlier ones (the ring holds cap rows)
            for j in range(n_ctx):
                f = ctx_idx[j]
                s, m = 0.0, 0.0
                if row[f] == row[f]:
                    s, m = row[f], 1.0
                for back in range(1, min(k_short, n_tail + 1)):
                    v = tail[(n_tail - back) % cap, c, f]
                    if v == v:
                        s += v
                        m += 1.0
                row[c_ctx + j] = s / m if m > 0 else math.nan
            s1, s2, m = 0.0, 0.0, 0.0
            v = row[rfreq]
            if v == v:
                s1, s2, m = v, v * v, 1.0
            for back in range(1, min(k_short, n_tail + 1)):
                v = tail[(n_tail - back) % cap, c, rfreq]
                if v == v:
                    s1 += v
                    s2 += v * v
                    m += 1.0
            if m >= 2:
                mean = s1 / m
                row[c_std] = math.sqrt(max((s2 / m - mean * mean) * m / (m - 1.0), 0.0))
            else:
                row[c_std] = math.nan
            for j in range(n_long):
                f = long_idx[j]
                s_long, m_long, s_rise, m_rise = 0.0, 0.0, 0.0, 0.0
                v = row[f]
                if v == v:
                    s_long, m_long, s_rise, m_rise = v, 1.0, v, 1.0
                for back in range(1, min(k_long, n_tail + 1)):
                    v = tail[(n_tail - back) % cap, c, f]
                    if v == v:
                        s_long += v
                        m_long += 1.0
                        if back < k_rise:
                            s_rise += v
                            m_rise += 1.0
                long_mean = s_long / m_long if m_long > 0 else math.nan
                row[c_long + j] = long_mean
                row[c_rise + j] = (s_rise / m_rise if m_rise > 0 else math.nan) - long_mean
        # the spatial columns: how many good channels rise together, and their median rise
        n_good, n_up = 0, 0
        for c in range(n_ch):
            if good[c]:
                n_good += 1
                if rise[c] > rise_log10:
                    n_up += 1
        frac = n_up / n_good if n_good > 0 else math.nan
        valid = rise[~np.isnan(rise)]
        if valid.shape[0] > 0:
            ranked = np.sort(valid)
            h = valid.shape[0]
            median = (ranked[(h - 1) // 2] + ranked[h // 2]) / 2.0
        else:
            median = math.nan
        for c in range(n_ch):
            out[i, c, c_spatial] = frac
            out[i, c, c_spatial + 1] = median
            for f in range(n_own):
                tail[n_tail % cap, c, f] = out[i, c, f]
        n_tail += 1
    return n_tail
