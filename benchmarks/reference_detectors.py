"""Reference seizure detectors from the literature, written once and straightforwardly, for the
detection benchmark (``bench_detection.py``). Independent of eegmon's detectors and features.

- :class:`GotmanDetector`: Gotman (1982)-style detection on each channel. The signal is
  band-passed (0.5-25 Hz) and decomposed into half-waves (the segments between successive
  turning points, with a small amplitude hysteresis so that ripples riding on a wave do not
  split it, as in the half-wave smoothing of Gotman & Gloor 1976). Every 2-s epoch (a new one
  each second) gets the mean half-wave amplitude, the dominant frequency (1 / twice the mean
  half-wave duration) and the coefficient of variation of the half-wave durations
  (rhythmicity). An epoch is a detection on a channel when, with the published thresholds,
  its amplitude is at least 3 times that of the background (a 16-s epoch ending 12 s before
  it), its frequency lies in 3-20 Hz and the coefficient of variation is at most 0.6. Our one
  addition: while a channel is detecting, its background is held at its pre-detection value.
  J. Gotman, "Automatic recognition of epileptic seizures in the EEG", Electroencephalogr.
  Clin. Neurophysiol. 54:530-540 (1982).
- :func:`band_power_rows` + :func:`logistic_band_power`: a logistic regression on log band
  powers (delta, theta, alpha, beta, gamma, total) of 2-s windows (Hann periodogram), the
  textbook trainable baseline.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

BANDS = {"delta": (0.5, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0),
         "gamma": (30.0, 40.0)}


@njit(cache=True)
def _turning_points(x, h, state, n0):
    """Turning points of ``x`` (1-D) with hysteresis ``h``.

    ``state`` = [direction (0 unknown, 1 rising, -1 falling), candidate value, candidate index]
    carries over between calls; ``n0`` is the absolute index of ``x[0]``. Returns the absolute
    indices and values of the confirmed turning points.
    """
    idx = np.empty(x.size, np.int64)
    val = np.empty(x.size)
    k = 0
    d, cv, ci = state[0], state[1], state[2]
    for i in range(x.size):
        v = x[i]
        if d == 0.0:
            if ci < 0:
                cv, ci = v, n0 + i
            elif v - cv >= h:
                idx[k], val[k] = ci, cv
                k += 1
                d, cv, ci = 1.0, v, n0 + i
            elif cv - v >= h:
                idx[k], val[k] = ci, cv
                k += 1
                d, cv, ci = -1.0, v, n0 + i
        elif d > 0:
            if v > cv:
                cv, ci = v, n0 + i
            elif cv - v >= h:
                idx[k], val[k] = ci, cv
                k += 1
                d, cv, ci = -1.0, v, n0 + i
        else:
            if v < cv:
                cv, ci = v, n0 + i
            elif v - cv >= h:
                idx[k], val[k] = ci, cv
                k += 1
                d, cv, ci = 1.0, v, n0 + i
    state[0], state[1], state[2] = d, cv, ci
    return idx[:k], val[:k]


@njit(cache=True)
def _hold_background(amp, bg_amp, rhythmic, min_rel, held, miss, max_miss):
    """Detections (n_win, n_ch) with the background held at its value when a detection starts.

    ``held`` (NaN = not holding) and ``miss`` (consecutive non-detections while holding) carry
    over between calls; the hold ends after ``max_miss`` consecutive epochs without detection.
    """
    n_win, n_ch = amp.shape
    det = np.zeros((n_win, n_ch))
    for c in range(n_ch):
        for w in range(n_win):
            bg = bg_amp[w, c] if np.isnan(held[c]) else min(held[c], bg_amp[w, c])
            ok = rhythmic[w, c] and amp[w, c] >= min_rel * bg
            if ok:
                det[w, c] = 1.0
                miss[c] = 0
                if np.isnan(held[c]):
                    held[c] = bg
            elif not np.isnan(held[c]):
                miss[c] += 1
                if miss[c] > max_miss:
                    held[c] = np.nan
                    miss[c] = 0
    return det


class GotmanDetector:
    """Gotman (1982)-style seizure detector on a stream of sample chunks (see the module docstring).

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    n_channels : int
        Number of channels (each is detected on separately; an epoch's score is per channel).
    band : (float, float)
        Band-pass before the half-wave decomposition, Hz.
    hysteresis_uv : float
        A turning point is confirmed once the signal has moved this many µV back from it.
    epoch_s, hop_s : float
        Epoch length and step (hop_s must divide epoch_s; 2 s every 1 s).
    background_s, background_lag_s : float
        The background epoch: ``background_s`` long, ending ``background_lag_s`` before the epoch.
    min_rel_amplitude, freq_range, max_cv : published thresholds (3, 3-20 Hz, 0.6).
    hold_misses : int
        While a channel is detecting, its background is held at the value it had when the
        detection started (so a seizure longer than the 12-s lag does not become its own
        background); the hold ends after this many consecutive epochs without detection.
        This hold is our addition to the 1982 description.
    """

    def __init__(self, fs: float, n_channels: int, *, band=(0.5, 25.0), hysteresis_uv: float = 5.0,
                 epoch_s: float = 2.0, hop_s: float = 1.0, background_s: float = 16.0,
                 background_lag_s: float = 12.0, min_rel_amplitude: float = 3.0, freq_range=(3.0, 20.0),
                 max_cv: float = 0.6, hold_misses: int = 2) -> None:
        self.fs, self.n_ch = float(fs), int(n_channels)
        self.sos = signal.butter(2, [band[0], min(band[1], 0.45 * fs)], "bandpass", fs=fs, output="sos")
        self.h = float(hysteresis_uv)
        self.hop_n = self.fs * hop_s
        self.hop_s = float(hop_s)
        self.epoch_bins = int(round(epoch_s / hop_s))
        self.bg_bins = int(round(background_s / hop_s))
        self.lag_bins = int(round(background_lag_s / hop_s))
        self.window_s = float(epoch_s)
        self.min_rel, self.freq_range, self.max_cv = float(min_rel_amplitude), tuple(freq_range), float(max_cv)
        self.max_miss = int(hold_misses)
        self.reset()

    def reset(self) -> None:
        """Forget the stream (a gap in the recording)."""
        self._zi = np.zeros((self.sos.shape[0], 2, self.n_ch))
        self._zi_init = False
        self._tp = [np.array([0.0, 0.0, -1.0]) for _ in range(self.n_ch)]
        self._last = [None] * self.n_ch  # last confirmed turning point (index, value) per channel
        self._t_span: float | None = None
        self._n = 0  # samples of the current span seen so far
        self._first_bin = 0  # bin index of self._bins[0]
        self._bins = np.zeros((0, self.n_ch, 4))  # count, sum amplitude, sum duration, sum duration^2
        self._next_bin = 0  # next bin whose window has not been emitted
        self._held = np.full(self.n_ch, np.nan)
        self._miss = np.zeros(self.n_ch, np.int64)

    def _half_waves(self, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        out = []
        for c in range(self.n_ch):
            idx, val = _turning_points(np.ascontiguousarray(y[:, c]), self.h, self._tp[c], self._n)
            if self._last[c] is not None:
                idx = np.concatenate([[self._last[c][0]], idx])
                val = np.concatenate([[self._last[c][1]], val])
            if idx.size:
                self._last[c] = (idx[-1], val[-1])
            out.append((idx[1:], np.abs(np.diff(val)), np.diff(idx) / self.fs))
        return out

    def push(self, samples: np.ndarray, t_start: float) -> tuple[np.ndarray, np.ndarray]:
        """Feed (n, n_channels) µV starting at ``t_start`` (s); return window end times and the
        per-channel detection (n_windows, n_channels), 1.0 where all criteria hold."""
        x = np.nan_to_num(np.asarray(samples, dtype=float).reshape(len(samples), self.n_ch))
        if self._t_span is not None and abs(t_start - (self._t_span + self._n / self.fs)) > 1.0 / self.fs:
            self.reset()
        if self._t_span is None:
            self._t_span = float(t_start)
        if not self._zi_init and len(x):
            self._zi = signal.sosfilt_zi(self.sos)[:, :, None] * x[0][None, None, :]
            self._zi_init = True
        y, self._zi = signal.sosfilt(self.sos, x, axis=0, zi=self._zi)
        waves = self._half_waves(y)
        self._n += len(x)
        last_bin = int(np.floor(self._n / self.hop_n))  # bins < last_bin are complete
        need = last_bin + 1 - self._first_bin
        if need > len(self._bins):
            self._bins = np.concatenate([self._bins, np.zeros((need - len(self._bins), self.n_ch, 4))])
        for c, (end, amp, dur) in enumerate(waves):
            if end.size == 0:
                continue
            b = (np.floor(end / self.hop_n).astype(np.int64) - self._first_bin)
            b = np.clip(b, 0, len(self._bins) - 1)
            for j, w in enumerate((np.ones_like(amp), amp, dur, dur * dur)):
                self._bins[:, c, j] += np.bincount(b, weights=w, minlength=len(self._bins))
        first = max(self._next_bin, self.epoch_bins - 1 + self.lag_bins + self.bg_bins)
        ends = np.arange(first, last_bin)
        self._next_bin = max(self._next_bin, last_bin)
        times, det = np.zeros(0), np.zeros((0, self.n_ch))
        if ends.size:
            cs = np.concatenate([np.zeros((1, self.n_ch, 4)), np.cumsum(self._bins, axis=0)])
            e = ends - self._first_bin + 1  # cumsum index just past bin `end`
            ep = cs[e] - cs[e - self.epoch_bins]
            b_hi = e - self.epoch_bins - self.lag_bins
            bg = cs[b_hi] - cs[b_hi - self.bg_bins]
            with np.errstate(divide="ignore", invalid="ignore"):
                n = ep[..., 0]
                amp = ep[..., 1] / n
                bg_amp = bg[..., 1] / bg[..., 0]
                mean_d = ep[..., 2] / n
                sd_d = np.sqrt(np.maximum(ep[..., 3] / n - mean_d ** 2, 0.0))
                freq = 1.0 / (2.0 * mean_d)
                cv = sd_d / mean_d
                rhythmic = (n >= 3) & (freq >= self.freq_range[0]) & (freq <= self.freq_range[1]) & \
                    (cv <= self.max_cv)
            det = _hold_background(np.nan_to_num(amp), np.nan_to_num(bg_amp, nan=np.inf), rhythmic, self.min_rel,
                                   self._held, self._miss, self.max_miss)
            times = self._t_span + (ends + 1) * self.hop_s
        # keep only the bins a later window can still use
        keep_from = max(self._next_bin - (self.epoch_bins + self.lag_bins + self.bg_bins), self._first_bin)
        self._bins = self._bins[keep_from - self._first_bin:]
        self._first_bin = keep_from
        return times, det


def epoch_stats(x: np.ndarray, fs: float, **params) -> dict[str, np.ndarray]:
    """Per 2-s epoch (1-s step) of a single channel: mean half-wave amplitude, frequency, CV.

    For short segments without a background (Bonn): the Gotman criteria with the absolute
    amplitude in place of the relative one.
    """
    det = GotmanDetector(fs, 1, **params)
    y = signal.sosfiltfilt(det.sos, np.nan_to_num(np.asarray(x, float)))
    (end, amp, dur), = det._half_waves(y[:, None])
    epoch_n = det.epoch_bins * det.hop_n
    starts = np.arange(0.0, len(y) - epoch_n + 1, det.hop_n)
    out = {"amplitude": np.zeros(starts.size), "freq": np.zeros(starts.size), "cv": np.full(starts.size, np.inf)}
    for i, s in enumerate(starts):
        m = (end >= s) & (end < s + epoch_n)
        if m.sum() >= 3:
            d = dur[m]
            out["amplitude"][i] = amp[m].mean()
            out["freq"][i] = 1.0 / (2.0 * d.mean())
            out["cv"][i] = d.std() / d.mean()
    return out


def gotman_segment_score(x: np.ndarray, fs: float, *, freq_range=(3.0, 20.0), max_cv: float = 0.6,
                         q: float = 90.0) -> float:
    """Score of a short segment: the ``q``-th percentile over epochs of the mean half-wave
    amplitude of epochs meeting the rhythmicity and frequency criteria (0 for the others)."""
    st = epoch_stats(x, fs)
    ok = (st["freq"] >= freq_range[0]) & (st["freq"] <= freq_range[1]) & (st["cv"] <= max_cv)
    s = np.where(ok, st["amplitude"], 0.0)
    return float(np.percentile(s, q)) if s.size else 0.0


def band_power_rows(x: np.ndarray, fs: float, *, window_s: float = 2.0, hop_s: float = 1.0) -> np.ndarray:
    """Log10 band powers (the BANDS and the total 0.5-40 Hz) of windows of a single channel.

    Returns (n_windows, len(BANDS) + 1).
    """
    x = np.nan_to_num(np.asarray(x, float))
    win, hop = int(round(window_s * fs)), int(round(hop_s * fs))
    w = sliding_window_view(x, win)[::hop]
    f, p = signal.periodogram(w, fs=fs, window="hann", detrend="constant", axis=-1)
    cols = [p[:, (f >= lo) & (f < hi)].sum(axis=1) for lo, hi in BANDS.values()]
    cols.append(p[:, (f >= 0.5) & (f < 40.0)].sum(axis=1))
    return np.log10(np.maximum(np.stack(cols, axis=1), 1e-12))


def logistic_band_power(X: np.ndarray, y: np.ndarray):
    """A fitted logistic regression (standardised inputs, balanced classes) on band-power rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)).fit(X, y)
