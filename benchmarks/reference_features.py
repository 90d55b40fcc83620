"""A competent vectorised NumPy/SciPy implementation of eegmon's window features.

Written once, independently of eegmon's kernels, to check them (tests) and to time them
against (benchmarks): ``sliding_window_view`` over the filtered signal, whole-array NumPy
reductions, and ``scipy.signal.periodogram`` (Hann, constant detrend, density) per window.
Same definitions as the feature table in docs/signal.md; no Python loop over windows.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal, stats

BANDS = {"delta": (0.5, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0),
         "beta": (13.0, 30.0), "gamma": (30.0, 45.0)}


def window_features(raw, filt, fs, win, hop, *, line_freq=50.0, flat_tol=1e-6,
                    clip_level=1000.0, amp_threshold=200.0):
    """Features of windows ``[i*hop, i*hop + win)`` of (n, n_ch) ``raw``/``filt`` arrays.

    Returns a dict name -> (n_windows, n_ch) array.
    """
    # (n_win, n_ch, win) views, no copies
    x = sliding_window_view(filt, win, axis=0)[::hop]
    r = sliding_window_view(raw, win, axis=0)[::hop]
    out = {}
    d = np.diff(x, axis=-1)
    dd = np.diff(d, axis=-1)
    out["line_length"] = np.abs(d).sum(-1)
    ms = np.mean(x * x, axis=-1)
    out["rms"] = np.sqrt(ms)
    out["energy"] = ms * win / fs
    out["teager_energy"] = np.mean(x[..., 1:-1] ** 2 - x[..., :-2] * x[..., 2:], axis=-1)
    var = x.var(axis=-1)
    var_d = d.var(axis=-1)
    var_dd = dd.var(axis=-1)
    out["hjorth_activity"] = var
    out["hjorth_mobility"] = np.sqrt(var_d / var)
    out["hjorth_complexity"] = np.sqrt(var_dd / var_d) / out["hjorth_mobility"]
    xc = x - x.mean(axis=-1, keepdims=True)
    out["zero_crossing_rate"] = (xc[..., 1:] * xc[..., :-1] < 0).sum(-1) * fs / win
    out["skewness"] = stats.skew(x, axis=-1)
    out["kurtosis"] = stats.kurtosis(x, axis=-1)
    out["flat_fraction"] = (np.abs(np.diff(r, axis=-1)) <= flat_tol).mean(-1)
    rail = np.where(r >= clip_level, 1, np.where(r <= -clip_level, -1, 0))
    pair = (rail[..., 1:] == rail[..., :-1]) & (rail[..., 1:] != 0)
    edge = np.zeros(pair.shape[:-1] + (1,), dtype=bool)
    out["clip_fraction"] = (np.concatenate([edge, pair], -1) | np.concatenate([pair, edge], -1)).mean(-1)
    f, p_raw = signal.periodogram(r, fs, window="hann", detrend="constant", axis=-1)
    line = np.abs(f - line_freq) <= 1.0 + 1e-9
    out["line_noise_ratio"] = p_raw[..., line].sum(-1) / p_raw[..., 1:].sum(-1)
    out["artifact_score"] = np.abs(x).max(-1) / amp_threshold
    nan = np.isnan(r).any(-1) | np.isnan(x).any(-1)
    out["nan_fraction"] = np.isnan(r).mean(-1)
    f, p = signal.periodogram(x, fs, window="hann", detrend="constant", axis=-1)
    df = f[1]
    f_hi = min(45.0, fs / 2.0)
    total_mask = (f >= 0.5) & (f < f_hi)
    pt = p[..., total_mask]
    total = pt.sum(-1)
    for name, (lo, hi) in BANDS.items():
        band = p[..., (f >= lo) & (f < hi) & total_mask].sum(-1)
        out[f"power_{name}"] = band * df
        out[f"rel_power_{name}"] = band / total
    ft = f[total_mask]
    cum = np.cumsum(pt, axis=-1)
    out["spectral_edge_frequency"] = ft[np.argmax(cum >= 0.95 * total[..., None], axis=-1)]
    q = pt / total[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(q > 0, q * np.log(q), 0.0).sum(-1)
    out["spectral_entropy"] = ent / np.log(ft.size)
    out["dominant_frequency"] = ft[np.argmax(pt, axis=-1)]
    in_rhythm = total_mask & (f >= 1.5) & (f <= 25.0)
    k = np.flatnonzero(in_rhythm)[np.argmax((p * f)[..., in_rhythm], axis=-1)]
    out["rhythm_frequency"] = f[k]
    near = total_mask & (np.abs(np.arange(f.size) - k[..., None]) <= round(1.0 / df))
    out["rhythm_fraction"] = (p * near).sum(-1) / total
    for name in out:
        if name != "nan_fraction":
            out[name] = np.where(nan, np.nan, out[name])
    return out
