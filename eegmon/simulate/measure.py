"""Statistics that put simulated EEG beside real recordings (the realism benchmark and its tests).

The generators never import this module: it measures the simulator's output the way it measures
a real recording, so a statistic cannot agree only because both sides share code. Every
function takes samples in microvolts shaped (n_samples, n_channels) and a sampling rate.

Definitions (the same for real and simulated data):

- the analysis band is 1-40 Hz, a zero-phase 4th-order Butterworth band-pass (``sosfiltfilt``);
- window RMS: non-overlapping 2-s windows of the band-passed signal;
- seizure-to-background RMS ratio: for each channel, the median window RMS over the seizure
  divided by the median window RMS over the ``baseline_s`` (300 s) before its onset; the
  seizure's ratio is the largest over its channels (the channel a detector would see best);
- spectral shape: Welch (4-s Hann segments, half overlap) relative powers of the bands in
  :data:`BANDS` within 1-40 Hz, the 1/f slope of a log-log line fitted on 2-40 Hz without the
  alpha range 7-14 Hz, and the alpha peak (frequency and height above that line, 6-14 Hz);
- artifact finder (:func:`find_artifacts`): 1-s windows whose 0.5-4 Hz RMS (``slow``: blinks,
  eye and head movement), 25-45 Hz RMS (``emg``) or steepest slope of the 0.5-40 Hz signal
  (``jump``: pops, steps) exceeds ``threshold`` times its median over the array, on any channel.
"""

from __future__ import annotations

import numpy as np
from scipy import signal, stats

from .._checks import check_number
from ..errors import EegmonError

#: The analysis band (Hz) of every amplitude statistic.
BAND = (1.0, 40.0)
#: Bands of the relative powers (Hz); they tile :data:`BAND`.
BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0), "gamma": (30.0, 40.0),
}
#: Kinds reported by :func:`find_artifacts`.
FINDER_KINDS = ("slow", "emg", "jump")


def _as_2d(x: np.ndarray, fs: float) -> tuple[np.ndarray, float]:
    fs = check_number("fs", fs, low=50.0, high=20000.0)
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < int(2 * fs):
        raise EegmonError(f"samples must be shaped (n_samples >= 2 s, n_channels), got {x.shape}.")
    return x, fs


def _sos(fs: float, low: float, high: float) -> np.ndarray:
    high = min(high, 0.45 * fs)
    return signal.butter(4, [low, high], btype="bandpass", fs=fs, output="sos")


def bandpass(x: np.ndarray, fs: float, band: tuple[float, float] = BAND) -> np.ndarray:
    """Zero-phase 4th-order Butterworth band-pass along time (the upper edge capped at 0.45 fs)."""
    x, fs = _as_2d(x, fs)
    return signal.sosfiltfilt(_sos(fs, *band), x - x.mean(axis=0), axis=0)


def _windows(x: np.ndarray, n: int) -> np.ndarray:
    m = x.shape[0] // n
    return x[: m * n].reshape(m, n, x.shape[1])


def window_rms(x: np.ndarray, fs: float, *, window_s: float = 2.0, band: tuple[float, float] = BAND) -> np.ndarray:
    """RMS of non-overlapping windows of the band-passed signal, shape (n_windows, n_channels)."""
    y = bandpass(x, fs, band)
    return np.sqrt(np.mean(_windows(y, int(round(window_s * fs))) ** 2, axis=1))


def seizure_rms_ratio(
    x: np.ndarray, fs: float, onset_s: float, offset_s: float, *, channels=None, baseline_s: float = 300.0,
    window_s: float = 2.0,
) -> float:
    """Seizure-to-background RMS ratio of one seizure (see the module docstring).

    Parameters
    ----------
    x : ndarray, shape (n_samples, n_channels)
        Samples in microvolts; ``onset_s``/``offset_s`` are seconds from its first sample.
    fs : float
        Sampling rate in Hz.
    onset_s, offset_s : float
        The seizure; at least one window must fit in it and one before it.
    channels : sequence of int | None
        Channels to consider (the seizure's); None means all.
    baseline_s : float
        Length of the background before onset (shorter if the array starts later).
    window_s : float
        Window length in seconds.

    Returns
    -------
    float
    """
    x, fs = _as_2d(x, fs)
    n = int(round(window_s * fs))
    i0, i1 = int(round(onset_s * fs)), int(round(offset_s * fs))
    b0 = max(i0 - int(round(baseline_s * fs)), 0)
    if i0 - b0 < n or i1 - i0 < n or i1 > x.shape[0]:
        raise EegmonError(f"seizure {onset_s:g}-{offset_s:g} s needs a {window_s:g}-s window of background "
                          f"before it and inside it, within the {x.shape[0] / fs:g} s of samples.")
    pad = int(round(5 * fs))
    lo, hi = max(b0 - pad, 0), min(i1 + pad, x.shape[0])
    y = bandpass(x[lo:hi], fs)
    base = np.median(np.sqrt(np.mean(_windows(y[b0 - lo:i0 - lo][::-1], n) ** 2, axis=1)), axis=0)
    ictal = np.median(np.sqrt(np.mean(_windows(y[i0 - lo:i1 - lo], n) ** 2, axis=1)), axis=0)
    ratio = ictal / np.maximum(base, 1e-12)
    chosen = range(x.shape[1]) if channels is None else list(channels)
    return float(np.max(ratio[chosen]))


def spectral_shape(x: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    """Relative band powers, 1/f slope and alpha peak of each channel (see the module docstring).

    Returns
    -------
    dict
        ``rel_<band>`` for each band of :data:`BANDS`, ``slope``, ``alpha_peak_hz`` and
        ``alpha_peak_db``, each an array with one value per channel.
    """
    x, fs = _as_2d(x, fs)
    f, p = signal.welch(x, fs=fs, nperseg=int(4 * fs), axis=0)
    p = np.maximum(p, 1e-20)
    inside = (f >= BAND[0]) & (f < BAND[1])
    total = p[inside].sum(axis=0)
    out = {f"rel_{name}": p[(f >= lo) & (f < hi)].sum(axis=0) / total for name, (lo, hi) in BANDS.items()}
    fit = (f >= 2.0) & (f <= 40.0) & ~((f >= 7.0) & (f <= 14.0))
    logf = np.log10(f[fit])
    coef = np.polyfit(logf, np.log10(p[fit]), 1)
    out["slope"] = coef[0]
    alpha = (f >= 6.0) & (f <= 14.0)
    residual = 10 * (np.log10(p[alpha]) - (np.log10(f[alpha])[:, None] * coef[0] + coef[1]))
    out["alpha_peak_hz"] = f[alpha][np.argmax(residual, axis=0)]
    out["alpha_peak_db"] = residual.max(axis=0)
    return out


def amplitude_stats(x: np.ndarray, fs: float, *, window_s: float = 2.0) -> dict[str, np.ndarray]:
    """Spread and shape of the 2-s window amplitude of each channel.

    Returns
    -------
    dict
        ``rms_p5``, ``rms_p25``, ``rms_p75``, ``rms_p95``, ``rms_p99`` (percentiles of the window
        RMS over its median), ``log_rms_sd`` (SD of the natural log of the window RMS),
        ``line_length`` (median over windows of mean absolute step times fs over the window RMS,
        1/s), ``ll_p95`` (95th percentile of the window line length over its median),
        ``kurtosis`` (excess kurtosis of the whole band-passed signal) and ``window_kurtosis``
        (median over windows), each an array with one value per channel.
    """
    x, fs = _as_2d(x, fs)
    y = bandpass(x, fs)
    w = _windows(y, int(round(window_s * fs)))
    rms = np.sqrt(np.mean(w**2, axis=1))
    rel = rms / np.maximum(np.median(rms, axis=0), 1e-12)
    ll = np.mean(np.abs(np.diff(w, axis=1)), axis=1) * fs
    out = {f"rms_p{q}": np.percentile(rel, q, axis=0) for q in (5, 25, 75, 95, 99)}
    out["log_rms_sd"] = np.std(np.log(np.maximum(rms, 1e-12)), axis=0)
    out["line_length"] = np.median(ll / np.maximum(rms, 1e-12), axis=0)
    out["ll_p95"] = np.percentile(ll, 95, axis=0) / np.maximum(np.median(ll, axis=0), 1e-12)
    out["kurtosis"] = stats.kurtosis(y, axis=0)
    out["window_kurtosis"] = np.median(stats.kurtosis(w, axis=1), axis=0)
    return out


def channel_correlation(x: np.ndarray, fs: float) -> float:
    """Mean Pearson correlation over channel pairs of the band-passed signal (nan for one channel)."""
    x, fs = _as_2d(x, fs)
    if x.shape[1] < 2:
        return float("nan")
    c = np.corrcoef(bandpass(x, fs).T)
    return float(np.mean(c[np.triu_indices_from(c, 1)]))


def find_artifacts(x: np.ndarray, fs: float, *, window_s: float = 1.0,
                   threshold: float = 4.0) -> list[tuple[float, float, str]]:
    """A deliberately simple artifact finder, applied alike to real and simulated data.

    Parameters
    ----------
    x : ndarray, shape (n_samples, n_channels)
        Samples in microvolts.
    fs : float
        Sampling rate in Hz (>= 100, for the 25-45 Hz band).
    window_s : float
        Window length in seconds.
    threshold : float
        A window is flagged when its statistic exceeds this multiple of the statistic's median
        over all windows of ``x`` (per channel).

    Returns
    -------
    list of (onset_s, offset_s, kind)
        One entry per run of consecutive flagged windows of a kind in :data:`FINDER_KINDS`.
    """
    x, fs = _as_2d(x, fs)
    threshold = check_number("threshold", threshold, low=1.0, low_inclusive=False)
    n = int(round(window_s * fs))
    steps = np.abs(np.diff(bandpass(x, fs, (0.5, 40.0)), axis=0, prepend=0.0)) * fs  # uV/s, whatever fs
    scores = {
        "slow": np.sqrt(np.mean(_windows(bandpass(x, fs, (0.5, 4.0)), n) ** 2, axis=1)),
        "emg": np.sqrt(np.mean(_windows(bandpass(x, fs, (25.0, 45.0)), n) ** 2, axis=1)),
        "jump": _windows(steps, n).max(axis=1),
    }
    found = []
    for kind, score in scores.items():
        flagged = np.any(score > threshold * np.median(score, axis=0), axis=1)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], flagged.astype(int), [0]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            found.append((a * window_s, b * window_s, kind))
    found.sort()
    return found


__all__ = ["BAND", "BANDS", "FINDER_KINDS", "amplitude_stats", "bandpass", "channel_correlation",
           "find_artifacts", "seizure_rms_ratio", "spectral_shape", "window_rms"]
