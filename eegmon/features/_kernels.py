"""Numba kernels for windowed features: plain arrays in, feature columns out, no checks.

Windows are given by their start indices into a (n_samples, n_channels) array; each
(window, channel) pair is independent, so the kernels run them in parallel (``*_serial``: the same
body on the calling thread, for the few windows of a live chunk). The column order
is fixed by ``TIME_FEATURES`` and ``SPECTRAL_FEATURES`` below.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ..dsp._jit import jit

TIME_FEATURES = (
    "line_length", "rms", "energy", "teager_energy", "hjorth_activity", "hjorth_mobility",
    "hjorth_complexity", "zero_crossing_rate", "skewness", "kurtosis",
    "flat_fraction", "clip_fraction", "line_noise_ratio", "artifact_score", "nan_fraction",
)
SPECTRAL_FEATURES = (
    "power_delta", "power_theta", "power_alpha", "power_beta", "power_gamma",
    "rel_power_delta", "rel_power_theta", "rel_power_alpha", "rel_power_beta", "rel_power_gamma",
    "spectral_edge_frequency", "spectral_entropy", "dominant_frequency", "rhythm_frequency", "rhythm_fraction",
)
N_TIME = len(TIME_FEATURES)
NAN_FRACTION = TIME_FEATURES.index("nan_fraction")


@jit()
def _time_features_at(jc, raw, filt, starts, win, fs, flat_tol, clip_lo, clip_hi, amp_threshold,
                      line_cos, line_sin, line_weight, hann, out, fft_rows):  # pragma: no cover
    """The body of :func:`time_features` for one (window, channel) ``jc = j * n_ch + c``."""
    n_ch = raw.shape[0]
    nan = np.nan
    j = jc // n_ch
    c = jc % n_ch
    s0 = starts[j]
    xf = filt[c, s0:s0 + win]
    xr = raw[c, s0:s0 + win]
    o = out[j, c]
    # Pass 1: means (the centre for the moments) and NaN count.
    n_nan = 0
    sx = 0.0
    sr = 0.0
    for n in range(win):
        v = xf[n]
        r = xr[n]
        if r != r or v != v:
            n_nan += 1
        else:
            sx += v
            sr += r
    o[NAN_FRACTION] = n_nan / win
    if n_nan > 0:
        for k in range(N_TIME):
            if k != NAN_FRACTION:
                o[k] = nan
        for n in range(win):
            fft_rows[jc, n] = nan
        return
    mu = sx / win
    mu_r = sr / win
    # Three branch-free sweeps (samples, first differences, second differences) that the
    # compiler can vectorise; every sum of the window features comes from them.
    s2 = 0.0
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    peak = 0.0
    rd2 = 0.0
    rd0 = 0.0
    for n in range(win):
        v = xf[n]
        r = xr[n]
        e = v - mu
        e2 = e * e
        s2 += v * v
        m2 += e2
        m3 += e2 * e
        m4 += e2 * e2
        peak = max(peak, abs(v))
        hr = hann[n] * (r - mu_r)
        rd2 += hr * hr
        rd0 += hr
        fft_rows[jc, n] = hann[n] * e
    ll = 0.0
    d1s = 0.0
    zc = 0.0
    flat = 0.0
    for n in range(1, win):
        v = xf[n]
        u = xf[n - 1]
        d = v - u
        ll += abs(d)
        d1s += d * d
        zc += 1.0 if (u - mu) * (v - mu) < 0.0 else 0.0
        flat += 1.0 if abs(xr[n] - xr[n - 1]) <= flat_tol else 0.0
    d2s = 0.0
    tk = 0.0
    for n in range(1, win - 1):
        u = xf[n - 1]
        v = xf[n]
        w = xf[n + 1]
        dd = (w - v) - (v - u)
        d2s += dd * dd
        tk += v * v - u * w
    lo = clip_lo[c]
    hi = clip_hi[c]
    clip = 0.0
    prev = 0  # rail of the previous sample: 1 high, -1 low, 0 none
    run = 0
    for n in range(win):
        r = xr[n]
        rail = 1 if r >= hi else (-1 if r <= lo else 0)
        if rail != 0 and rail == prev:
            run += 1
        else:
            if run > 1:
                clip += run
            run = 1 if rail != 0 else 0
        prev = rail
    if run > 1:
        clip += run
    d_first = xf[1] - xf[0]
    d_last = xf[win - 1] - xf[win - 2]
    d1 = xf[win - 1] - xf[0]  # the first differences telescope
    var = m2 / win
    # Differences of a window of W samples: W - 1 first and W - 2 second differences.
    var_d = d1s / (win - 1) - (d1 / (win - 1)) ** 2
    d2_mean = (d_last - d_first) / (win - 2)
    var_dd = d2s / (win - 2) - d2_mean * d2_mean
    mob = math.sqrt(var_d / var) if var > 0.0 else nan
    mob_d = math.sqrt(var_dd / var_d) if var_d > 0.0 else nan
    o[0] = ll
    o[1] = math.sqrt(s2 / win)
    o[2] = s2 / fs
    o[3] = tk / (win - 2)
    o[4] = var
    o[5] = mob
    o[6] = mob_d / mob
    o[7] = zc * fs / win
    o[8] = (m3 / win) / var**1.5 if var > 0.0 else nan
    o[9] = (m4 / win) / (var * var) - 3.0 if var > 0.0 else nan
    o[10] = flat / (win - 1)
    o[11] = clip / win
    # Line-noise ratio without an FFT of the raw signal: by Parseval the one-sided
    # periodogram summed over bins >= 1 is proportional to N * sum(d^2) - |D_0|^2.
    total = win * rd2 - rd0 * rd0
    line = 0.0
    if line_cos.shape[0] > 0:
        # A contiguous copy lets the few DFT sums below run as SIMD dot products.
        rc = np.empty(win)
        for n in range(win):
            rc[n] = xr[n] - mu_r
        for b in range(line_cos.shape[0]):
            re = 0.0
            im = 0.0
            for n in range(win):
                re += line_cos[b, n] * rc[n]
                im += line_sin[b, n] * rc[n]
            line += line_weight[b] * (re * re + im * im)
    o[12] = line / total if total > 0.0 else 0.0
    o[13] = peak / amp_threshold


@jit(parallel=True)
def time_features(raw, filt, starts, win, fs, flat_tol, clip_lo, clip_hi, amp_threshold,
                  line_cos, line_sin, line_weight, hann, out, fft_rows):  # pragma: no cover
    """Time-domain and quality features of every (window, channel); fill the FFT rows.

    ``raw`` and ``filt`` are channel-major (n_ch, n): each window is a contiguous run, so the
    sweeps vectorise. ``out[j, c, :N_TIME]`` gets the features of
    ``filt[c, starts[j]:starts[j] + win]`` (quality ones from ``raw``);
    ``fft_rows[j * n_ch + c]`` gets ``hann * (window - mean)`` for the spectral kernel.
    A window holding a NaN gets NaN features except ``nan_fraction``.
    ``line_cos/line_sin`` (n_bins, win) are the Hann-weighted DFT rows of the line-noise bins.
    ``clip_lo/clip_hi`` (n_ch,) are each channel's rails: a raw sample at or beyond one, next to
    another sample at or beyond the same rail, is clipped (a lone sample at the edge of a range
    written tight to the data is not).
    """
    for jc in prange(starts.shape[0] * raw.shape[0]):
        _time_features_at(jc, raw, filt, starts, win, fs, flat_tol, clip_lo, clip_hi, amp_threshold,
                          line_cos, line_sin, line_weight, hann, out, fft_rows)


@jit()
def time_features_serial(raw, filt, starts, win, fs, flat_tol, clip_lo, clip_hi, amp_threshold,
                         line_cos, line_sin, line_weight, hann, out, fft_rows):  # pragma: no cover
    """:func:`time_features` on the calling thread only (a live chunk's window or two: waking the
    thread pool would cost more than the windows)."""
    for jc in range(starts.shape[0] * raw.shape[0]):
        _time_features_at(jc, raw, filt, starts, win, fs, flat_tol, clip_lo, clip_hi, amp_threshold,
                          line_cos, line_sin, line_weight, hann, out, fft_rows)


@jit()
def _spectral_features_at(jc, spec, scale, bands, k_lo, k_hi, df, rhythm, nan_flag, out):  # pragma: no cover
    """The body of :func:`spectral_features` for one (window, channel) ``jc = j * n_ch + c``."""
    n_ch = nan_flag.shape[1]
    n_bands = bands.shape[0]
    nan = np.nan
    j = jc // n_ch
    c = jc % n_ch
    o = out[j, c]
    if nan_flag[j, c] > 0:
        for k in range(N_TIME, out.shape[2]):
            o[k] = nan
        return
    x = spec[jc]
    total = 0.0
    best = -1.0
    k_best = k_lo
    for k in range(k_lo, k_hi):
        p = (x[k].real * x[k].real + x[k].imag * x[k].imag) * scale[k]
        total += p
        if p > best:
            best = p
            k_best = k
    for b in range(n_bands):
        bp = 0.0
        for k in range(bands[b, 0], bands[b, 1]):
            bp += (x[k].real * x[k].real + x[k].imag * x[k].imag) * scale[k]
        o[N_TIME + b] = bp * df
        o[N_TIME + n_bands + b] = bp / total if total > 0.0 else nan
    cum = 0.0
    edge = -1
    ent = 0.0
    for k in range(k_lo, k_hi):
        p = (x[k].real * x[k].real + x[k].imag * x[k].imag) * scale[k]
        cum += p
        if edge < 0 and cum >= 0.95 * total:
            edge = k
        if p > 0.0:
            q = p / total
            ent -= q * math.log(q)
    n_bins = k_hi - k_lo
    o[N_TIME + 2 * n_bands] = edge * df if edge >= 0 else nan
    o[N_TIME + 2 * n_bands + 1] = ent / math.log(n_bins) if total > 0.0 and n_bins > 1 else nan
    o[N_TIME + 2 * n_bands + 2] = k_best * df
    k_r = rhythm[0]
    best = -1.0
    for k in range(rhythm[0], rhythm[1]):
        p = (x[k].real * x[k].real + x[k].imag * x[k].imag) * scale[k] * k
        if p > best:
            best = p
            k_r = k
    near = 0.0
    for k in range(max(k_r - rhythm[2], k_lo), min(k_r + rhythm[2] + 1, k_hi)):
        near += (x[k].real * x[k].real + x[k].imag * x[k].imag) * scale[k]
    o[N_TIME + 2 * n_bands + 3] = k_r * df
    o[N_TIME + 2 * n_bands + 4] = near / total if total > 0.0 else nan


@jit(parallel=True)
def spectral_features(spec, scale, bands, k_lo, k_hi, df, rhythm, nan_flag, out):  # pragma: no cover
    """Band powers and spectral shape from rFFT rows ``spec`` (n_win * n_ch, n_bins).

    ``scale[k]`` turns ``|X_k|^2`` into a one-sided PSD (µV²/Hz); ``bands`` (5, 2) are bin
    ranges [lo, hi); the total band, over which the shape features are taken, is bins
    [k_lo, k_hi). ``rhythm`` = (first bin, stop bin, half width in bins): the rhythm is the bin
    in [first, stop) where ``f * PSD(f)`` peaks (the largest excess over a 1/f background), and
    its fraction the share of the total-band power within the half width of it.
    Writes ``out[j, c, N_TIME:]``; rows with ``nan_flag[j, c] > 0`` get NaN.
    """
    for jc in prange(nan_flag.size):
        _spectral_features_at(jc, spec, scale, bands, k_lo, k_hi, df, rhythm, nan_flag, out)


@jit()
def spectral_features_serial(spec, scale, bands, k_lo, k_hi, df, rhythm, nan_flag, out):  # pragma: no cover
    """:func:`spectral_features` on the calling thread only (see :func:`time_features_serial`)."""
    for jc in range(nan_flag.size):
        _spectral_features_at(jc, spec, scale, bands, k_lo, k_hi, df, rhythm, nan_flag, out)
