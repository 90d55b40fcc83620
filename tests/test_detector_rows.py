"""The detector-rows kernel against a plain NumPy formulation of the same rows, fed in any chunks."""

from __future__ import annotations

import warnings

import numpy as np
from eegmon.detectors.features import (
    _OWN,
    AMPLITUDE,
    CONTEXT,
    CONTEXT_WINDOWS,
    LONG,
    LONG_WINDOWS,
    RISE_LOG10,
    RISE_WINDOWS,
    ROW_COLUMNS,
    SHAPE,
    AdaptiveFeatures,
    good_windows,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from eegmon.features import FEATURE_NAMES, FeatureTable

GATE = {"max_flat": 0.5, "max_clip": 0.1, "max_line_noise": 0.8}
QUALITY = ("flat_fraction", "clip_fraction", "line_noise_ratio", "nan_fraction")


class Reference:
    """The rows, one NumPy step at a time (the formulation the kernel replaced)."""

    def __init__(self, n_ch, prior, prior_windows, alpha, warm_windows, rewarm_gap_s):
        n = n_ch * len(AMPLITUDE)
        self.state, self.count = np.zeros(n), np.zeros(n)
        self.prior = np.tile(prior, n_ch)
        self.prior_windows, self.alpha, self.warm_windows = prior_windows, alpha, warm_windows
        self.tail = np.zeros((0, n_ch, len(_OWN)))
        self.rewarm_gap_s, self.last_good, self.fresh = rewarm_gap_s, np.full(n_ch, -np.inf), np.zeros(n_ch)

    def baseline(self, x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                c = self.count[j]
                if self.prior_windows > 0:
                    w = np.exp(-c / self.prior_windows)
                    out[i, j] = self.prior[j] if c == 0 else w * self.prior[j] + (1 - w) * self.state[j]
                else:
                    out[i, j] = self.state[j] if c > 0 else np.nan
                if not np.isnan(x[i, j]):
                    if c == 0:
                        self.state[j] = x[i, j]
                    else:
                        d = np.clip(x[i, j] - self.state[j], -0.3, 0.3)
                        self.state[j] += max(1 / (c + 1), self.alpha) * d
                    self.count[j] = c + 1
        return out

    def transform(self, values, times):
        n_win, n_ch = values.shape[:2]
        pos = {n: i for i, n in enumerate(FEATURE_NAMES)}
        quality = values[:, :, [pos[n] for n in QUALITY]]
        good = good_windows(quality, GATE)
        with np.errstate(invalid="ignore"):
            amp = np.log10(np.maximum(values[:, :, [pos[n] for n in AMPLITUDE]], 1e-12))
        amp[~good] = np.nan
        flat = amp.reshape(n_win, -1)
        base = np.empty_like(flat)
        seen = np.empty((n_win, n_ch))
        warm = np.empty_like(good)
        good_seen = self.count.reshape(n_ch, len(AMPLITUDE))[:, 0].copy()
        for i, t in enumerate(times):
            restart = t - self.last_good > self.rewarm_gap_s  # a long stretch without a good window
            self.fresh[restart] = 0
            good_seen[restart] = 0
            self.count.reshape(n_ch, len(AMPLITUDE))[restart] = 0
            seen[i] = good_seen
            base[i] = self.baseline(flat[i:i + 1])[0]
            warm[i] = self.fresh >= self.warm_windows
            self.fresh += good[i]
            good_seen += good[i]
            self.last_good[good[i]] = t
        prior_weight = np.exp(-seen / self.prior_windows) if self.prior_windows > 0 else np.zeros(seen.shape)
        rel = (flat - base).reshape(n_win, n_ch, len(AMPLITUDE))
        shape = values[:, :, [pos["skewness" if n == "abs_skewness" else n] for n in SHAPE]].copy()
        k = SHAPE.index("abs_skewness")
        shape[:, :, k] = np.abs(shape[:, :, k])
        own = np.concatenate([rel, shape], axis=2)
        own[np.isinf(own)] = np.nan
        full = np.concatenate([self.tail, own])
        self.tail = full[-(LONG_WINDOWS - 1):]
        first = full.shape[0] - n_win

        def mean_last(k_rows, cols):
            out = np.empty((n_win, n_ch, len(cols)))
            for i in range(n_win):
                block = full[max(first + i + 1 - k_rows, 0): first + i + 1][:, :, cols]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out[i] = np.nanmean(block, axis=0)
            return out

        ctx_idx = [_OWN.index(c) for c in CONTEXT]
        long_idx = [_OWN.index(c) for c in LONG]
        rf = _OWN.index("rhythm_frequency")
        std = np.empty((n_win, n_ch, 1))
        for i in range(n_win):
            block = full[max(first + i + 1 - CONTEXT_WINDOWS, 0): first + i + 1][:, :, rf]
            for c in range(n_ch):
                v = block[:, c][~np.isnan(block[:, c])]
                std[i, c, 0] = np.std(v, ddof=1) if v.size >= 2 else np.nan
        long = mean_last(LONG_WINDOWS, long_idx)
        context = np.concatenate([mean_last(CONTEXT_WINDOWS, ctx_idx), std, long,
                                  mean_last(RISE_WINDOWS, long_idx) - long], axis=2)
        rise = np.where(good, own[:, :, _OWN.index("rel_log_line_length")], np.nan)
        n_good = good.sum(axis=1)
        frac = np.where(n_good > 0, (rise > RISE_LOG10).sum(axis=1) / np.maximum(n_good, 1), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(rise, axis=1)
        spatial = np.broadcast_to(np.stack([frac, median], axis=1)[:, None, :], (n_win, n_ch, 2))
        return np.concatenate([own, context, spatial, prior_weight[:, :, None], quality, warm[:, :, None]], axis=2)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_win=st.integers(1, 90), n_ch=st.integers(1, 5),
       cuts=st.lists(st.integers(1, 89), max_size=4), bad_share=st.sampled_from([0.0, 0.2, 1.0]),
       with_prior=st.booleans(), gaps=st.lists(st.tuples(st.integers(1, 89), st.sampled_from([5.0, 50.0])),
                                               max_size=3),
       bad_run=st.tuples(st.integers(0, 89), st.integers(0, 40)))
def test_kernel_rows_equal_the_numpy_formulation(seed, n_win, n_ch, cuts, bad_share, with_prior, gaps, bad_run):
    rng = np.random.default_rng(seed)
    values = rng.lognormal(0.0, 1.0, (n_win, n_ch, len(FEATURE_NAMES)))
    for name in QUALITY:
        values[:, :, FEATURE_NAMES.index(name)] = np.where(rng.uniform(size=(n_win, n_ch)) < bad_share, 0.9, 0.0)
    start, length = bad_run  # one channel failing the gate for a stretch shorter or longer than rewarm_gap_s
    values[start:start + length, 0, FEATURE_NAMES.index("line_noise_ratio")] = 0.9
    values[:, :, FEATURE_NAMES.index("skewness")] = rng.normal(size=(n_win, n_ch))
    values[rng.uniform(size=values.shape) < 0.03] = np.nan  # missing features
    values[rng.uniform(size=values.shape) < 0.01] = np.inf  # a flat window's infinite moment
    for name in QUALITY:  # the quality columns themselves are always measured
        values[:, :, FEATURE_NAMES.index(name)] = np.nan_to_num(values[:, :, FEATURE_NAMES.index(name)], posinf=0.9)
    prior = rng.normal(size=len(AMPLITUDE)) if with_prior else None
    names = [f"c{i}" for i in range(n_ch)]
    kernel = AdaptiveFeatures(names, gate=GATE, prior=prior, warmup_s=5.0, rewarm_gap_s=20.0)
    ref = Reference(n_ch, np.zeros(len(AMPLITUDE)) if prior is None else prior,
                    kernel._prior_windows, kernel._alpha, kernel._warm_windows, 20.0)
    step = np.ones(n_win)
    for at, length in gaps:  # gaps shorter and longer than rewarm_gap_s
        if at < n_win:
            step[at] += length
    times = np.cumsum(step)
    edges = [0, *sorted({c for c in cuts if c < n_win}), n_win]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        table = FeatureTable(times[a:b], values[a:b], FEATURE_NAMES, names)
        got, expected = kernel.transform(table), ref.transform(values[a:b], times[a:b])
        assert got.shape == (b - a, n_ch, len(ROW_COLUMNS))
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(kernel.windows_seen, ref.count.reshape(n_ch, -1)[:, 0])
    np.testing.assert_array_equal(kernel.windows_since_gap, ref.fresh)
