"""The one signal pipeline for batch and streaming: (resample) -> filters -> windowed features.

Batch processing is this object fed large chunks; a live monitor feeds it small ones. The
outputs are the same whatever the chunking (a tested property).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import signal

from .._checks import check_number, check_option
from ..dsp.filters import ResetMode, SosFilter, _check_samples
from ..dsp.resample import Resampler
from ..errors import EegmonError
from ._kernels import (
    NAN_FRACTION,
    SPECTRAL_FEATURES,
    TIME_FEATURES,
    spectral_features,
    spectral_features_serial,
    time_features,
    time_features_serial,
)
from .table import FeatureTable

FEATURE_NAMES: tuple[str, ...] = TIME_FEATURES + SPECTRAL_FEATURES
BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0), "gamma": (30.0, 45.0),
}
TOTAL_BAND: tuple[float, float] = (0.5, 45.0)
#: Where ``rhythm_frequency`` is sought, and the half width (Hz) of ``rhythm_fraction``.
RHYTHM_BAND: tuple[float, float] = (1.5, 25.0)
RHYTHM_HALF_WIDTH = 1.0
LINE_HALF_WIDTH = 1.0  # Hz each side of the line frequency counted as line noise
_BLOCK = 1024  # windows per FFT block: keeps the FFT buffers in cache
# Up to this many (window, channel) rows run on the calling thread: a live chunk completes a window
# or two, and waking the Numba thread pool for them costs more than computing them (measured in
# the live engine: 15 ms -> 1 ms per window on a loaded 2-core machine). Many streams scale across
# streams, not within a window.
_SERIAL_ROWS = 64


@dataclass(frozen=True)
class WindowGrid:
    """Where features are computed: the processing rate and the window and hop in whole samples of it.

    Attributes
    ----------
    fs_in : float
        Rate of the incoming samples (Hz).
    fs : float
        Processing rate (Hz): the rate asked for, or the input's.
    window, hop : int
        Window length and hop in samples at ``fs``.
    """

    fs_in: float
    fs: float
    window: int
    hop: int

    @property
    def hop_s(self) -> float:
        """The hop in seconds (the one asked for, rounded to whole samples)."""
        return self.hop / self.fs

    @property
    def resample_to(self) -> float | None:
        """The rate to resample to, or None when the processing rate is the input rate."""
        return None if self.fs == self.fs_in else self.fs


def window_grid(fs: float, window: float, hop: float, *, resample_to: float | None = None) -> WindowGrid:
    """The processing rate and window grid of input at ``fs``: the one rule for all of eegmon.

    The processing rate is ``resample_to`` (e.g. a detection model's own rate) or, when that is
    None (a model without a rate of its own), the input rate ``fs``; window and hop are
    rounded to whole samples at the processing rate. :class:`Pipeline`, the detectors and the
    cohort planner all use this, so they agree on where every window ends.

    Parameters
    ----------
    fs : float
        Input rate (Hz).
    window, hop : float
        Window length and hop in seconds.
    resample_to : float | None
        Processing rate asked for (Hz); None keeps ``fs``.

    Returns
    -------
    WindowGrid
    """
    fs_in = check_number("fs", fs, low=0.0, low_inclusive=False)
    proc = fs_in if resample_to is None else check_number("resample_to", resample_to, low=0.0, low_inclusive=False)
    win = round(check_number("window", window, low=0.0, low_inclusive=False) * proc)
    step = round(check_number("hop", hop, low=0.0, low_inclusive=False) * proc)
    if win < 4 or step < 1:
        raise EegmonError(f"window and hop must span at least 4 and 1 samples at "
                          f"{proc} Hz, got {win} and {step}.")
    return WindowGrid(fs_in, proc, win, step)


class Pipeline:
    """Streaming filters and windowed features over a multichannel EEG recording.

    Parameters
    ----------
    fs : float
        Sampling rate of the samples pushed, in Hz.
    n_channels : int
        Number of channels (columns) of each chunk.
    filters : sequence of ndarray
        SOS arrays (see :func:`eegmon.dsp.design_filter`) applied in cascade, designed for the
        processing rate (``resample_to`` if given, else ``fs``). Empty means no filtering.
    window, hop : float
        Window length and hop in seconds (rounded to whole samples at the processing rate, see
        :func:`window_grid`).
    channel_names : sequence of str | None
        Names of the channels; default ``ch0, ch1, ...``.
    resample_to : float | None
        Resample to this rate (Hz) before filtering, e.g. to run a detector trained at
        256 Hz on a 207 Hz device.
    reset : {'steady', 'zero'}
        Filter state at a segment start (see :class:`eegmon.dsp.SosFilter`).
    line_freq : float
        Mains frequency in Hz for ``line_noise_ratio``.
    flat_tol : float
        Largest sample-to-sample change (µV) that counts as flat for ``flat_fraction``.
    clip_level : float | array-like
        The rails of the device (µV): a float ``c`` for ``(-c, c)`` on every channel, an array
        (n_channels,) of such levels, or an array (n_channels, 2) of each channel's own
        ``(low, high)`` range (an EDF file's physical range, which exporters often write
        asymmetric and tight to the data). A raw sample at or beyond a rail next to another one
        at the same rail counts as clipped.
    amp_threshold : float
        Amplitude (µV) that ``artifact_score`` is relative to.

    Notes
    -----
    Samples are in µV. Window ``i`` of a segment covers processed samples
    ``[i * hop, i * hop + window)`` counted from the segment start; its time stamp is its end,
    ``t_segment + (i * hop + window) / fs``, in seconds since the Unix epoch.

    Gaps: :meth:`push` compares each chunk's ``t_start`` with the end of the previous chunk.
    If it lies later by more than half a sample, a new segment starts: filter states restart
    (zero or steady state), the resampler restarts, and the partial windows of the old segment
    are dropped, so no filter ringing and no window spans the gap. NaN samples inside a
    segment are kept: the filters restart after them, and every window holding a NaN gets NaN
    features except ``nan_fraction``, which says what share of it was missing.
    """

    def __init__(
        self,
        fs: float,
        n_channels: int,
        *,
        filters: Sequence[np.ndarray] = (),
        window: float = 2.0,
        hop: float = 0.5,
        channel_names: Sequence[str] | None = None,
        resample_to: float | None = None,
        reset: ResetMode = "steady",
        line_freq: float = 50.0,
        flat_tol: float = 1e-6,
        clip_level: float | np.ndarray = 1000.0,
        amp_threshold: float = 200.0,
    ) -> None:
        grid = window_grid(fs, window, hop, resample_to=resample_to)
        self.fs_in, self.fs, self.win, self.hop = grid.fs_in, grid.fs, grid.window, grid.hop
        self.n_channels = check_number("n_channels", n_channels, low=1, integer=True)
        if channel_names is None:
            channel_names = [f"ch{i}" for i in range(self.n_channels)]
        self.channel_names = tuple(str(c) for c in channel_names)
        self._no_windows = FeatureTable.empty(FEATURE_NAMES, self.channel_names)  # frozen: one serves every chunk
        if len(self.channel_names) != self.n_channels:
            raise EegmonError(f"Expected {self.n_channels} channel names, got "
                              f"{len(self.channel_names)}.")
        check_option("reset", reset, ["steady", "zero"])
        self.line_freq = check_number("line_freq", line_freq, low=0.0, low_inclusive=False)
        self.flat_tol = check_number("flat_tol", flat_tol, low=0.0)
        self.clip_lo, self.clip_hi = _rails(clip_level, self.n_channels)
        self.amp_threshold = check_number("amp_threshold", amp_threshold, low=0.0,
                                          low_inclusive=False)
        self._filter = SosFilter(list(filters), self.n_channels, reset=reset) if len(filters) \
            else None
        self._resampler = None if resample_to is None else Resampler(
            self.fs_in, self.fs, self.n_channels)
        self._spectral_setup()
        hist = self.win - 1
        self._ring_raw = np.zeros((hist, self.n_channels))
        self._ring_filt = np.zeros((hist, self.n_channels))
        # float32 FFT input: twice the FFT speed; spectra stay accurate to ~1e-6 relative.
        self._rows = np.empty((_BLOCK * self.n_channels, self.win), dtype=np.float32)
        self._t_seg: float | None = None
        self._start_segment(None)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the features, in the order of the last axis of the emitted tables."""
        return FEATURE_NAMES

    def _spectral_setup(self) -> None:
        win, fs = self.win, self.fs
        self._hann = signal.get_window("hann", win)
        n_bins = win // 2 + 1
        self._df = fs / win
        # One-sided periodogram density scaling (as scipy.signal.periodogram, 'density').
        scale = np.full(n_bins, 2.0 / (fs * np.sum(self._hann**2)))
        scale[0] /= 2.0
        if win % 2 == 0:
            scale[-1] /= 2.0
        self._scale = scale

        def first_bin(f: float) -> int:
            return math.ceil(f / self._df - 1e-9)

        self._k_lo = first_bin(TOTAL_BAND[0])
        self._k_hi = min(first_bin(TOTAL_BAND[1]), first_bin(fs / 2.0))
        self._bands = np.array(
            [[max(first_bin(lo), self._k_lo), max(min(first_bin(hi), self._k_hi), self._k_lo)]
             for lo, hi in BANDS.values()], dtype=np.int64)
        k = np.arange(1, n_bins)
        k = k[np.abs(k * self._df - self.line_freq) <= LINE_HALF_WIDTH + 1e-9]
        phase = 2.0 * np.pi * np.outer(k, np.arange(win)) / win
        self._line_cos = np.ascontiguousarray(self._hann * np.cos(phase))
        self._line_sin = np.ascontiguousarray(self._hann * np.sin(phase))
        self._line_weight = np.where(2 * k == win, 1.0, 2.0)
        r_lo = max(first_bin(RHYTHM_BAND[0]), self._k_lo)
        r_hi = max(min(first_bin(RHYTHM_BAND[1]) + 1, self._k_hi), r_lo + 1)
        self._rhythm = np.array([r_lo, r_hi, round(RHYTHM_HALF_WIDTH / self._df)], dtype=np.int64)

    def _start_segment(self, t_start: float | None) -> None:
        self._t_seg = t_start
        self._n_in = 0  # input samples of this segment (for time continuity)
        self._n = 0  # processed samples of this segment (window positions)
        self._w = 0  # ring write index
        if self._filter is not None:
            self._filter.reset()
        if self._resampler is not None:
            self._resampler.reset()

    def state_nbytes(self) -> int:
        """Bytes held between chunks (constant: independent of how much was pushed)."""
        arrays = [self._ring_raw, self._ring_filt, self._rows]
        if self._filter is not None:
            arrays += [self._filter._zi]
        if self._resampler is not None:
            arrays += [self._resampler._hist]
        return sum(a.nbytes for a in arrays)

    def push(self, samples: np.ndarray, t_start: float | None = None) -> FeatureTable:
        """Feed one chunk; return the feature rows of the windows it completes.

        Parameters
        ----------
        samples : ndarray, shape (n_samples, n_channels)
            Samples in µV at ``fs``; any number of samples, including 0.
        t_start : float | None
            Time of the first sample, seconds since the Unix epoch (UTC). Required for the
            first chunk; ``None`` means "right after the previous chunk". A later time than
            the previous chunk's end starts a new segment (a gap, see the class notes).

        Returns
        -------
        FeatureTable
            The completed windows (possibly none), with window end times.
        """
        x = _check_samples(samples, self.n_channels)
        self._place(t_start)
        self._n_in += x.shape[0]
        if self._resampler is not None:
            x = self._resampler.push(x)
        n_valid = min(self._n, self.win - 1)
        if self._first_window(self._n) > self._last_window(self._n + x.shape[0]):
            # No window ends in this chunk (most live chunks): filter and remember, nothing more.
            y = x.copy() if self._filter is None else self._filter.process(x)
            table = self._no_windows
        else:
            # Channel-major buffers of the window history then this chunk, raw and filtered; the
            # filter writes straight into its buffer (no intermediate copy).
            raw = self._with_history(self._ring_raw, n_valid, x.shape[0])
            raw[:, n_valid:] = x.T
            filt = self._with_history(self._ring_filt, n_valid, x.shape[0])
            y = filt[:, n_valid:].T
            if self._filter is None:
                y[:] = x
            else:
                self._filter.process(x, out=y)
            table = self._features(raw, filt, n_valid)
        self._n += x.shape[0]
        self._remember(self._ring_raw, x)
        self._remember(self._ring_filt, y)
        self._w = (self._w + x.shape[0]) % self._ring_raw.shape[0]
        return table

    def _place(self, t_start: float | None) -> None:
        """Check the chunk's start time against the stream; start a segment at a gap."""
        if t_start is None:
            if self._t_seg is None:
                raise EegmonError("The first chunk needs t_start (seconds since the Unix "
                                  "epoch), got None.")
            return
        t_start = check_number("t_start", t_start)
        if self._t_seg is None:
            self._start_segment(t_start)
            return
        expected = self._t_seg + self._n_in / self.fs_in
        tol = 0.5 / self.fs_in
        if t_start < expected - tol:
            raise EegmonError(f"Chunks must not overlap or go back in time: expected t_start "
                              f">= {expected:.6f}, got {t_start:.6f}.")
        if t_start > expected + tol:
            self._start_segment(t_start)

    def _remember(self, ring: np.ndarray, x: np.ndarray) -> None:
        """Write the newest samples into the ring at the write index (no roll; at most two slices)."""
        cap = ring.shape[0]
        keep = min(x.shape[0], cap)
        start = (self._w + x.shape[0] - keep) % cap
        first = min(keep, cap - start)
        tail = x[x.shape[0] - keep:]
        ring[start:start + first] = tail[:first]
        ring[:keep - first] = tail[first:]

    def _with_history(self, ring: np.ndarray, n_valid: int, n_new: int) -> np.ndarray:
        """A channel-major (n_channels, n_valid + n_new) buffer for the kernels: the last
        ``n_valid`` remembered samples, then room for ``n_new`` new ones."""
        out = np.empty((self.n_channels, n_valid + n_new))
        # two slice copies of the ring (it wraps at most once): a fancy-index gather costs ~30 us per call live
        cap = ring.shape[0]
        start = (self._w - n_valid) % cap
        first = min(n_valid, cap - start)
        out[:, :first] = ring[start:start + first].T
        out[:, first:n_valid] = ring[:n_valid - first].T
        return out

    def _first_window(self, n0: int) -> int:
        """Index of the first window that ends after processed sample ``n0`` of the segment."""
        return max(0, -(-(n0 + 1 - self.win) // self.hop))

    def _last_window(self, n1: int) -> int:
        """Index of the last window that ends at or before processed sample ``n1``."""
        return (n1 - self.win) // self.hop

    def _features(self, raw: np.ndarray, filt: np.ndarray, n_valid: int) -> FeatureTable:
        """Features of the windows that end within this chunk.

        ``raw``/``filt`` are (n_channels, n_valid + chunk) buffers starting ``n_valid``
        samples before the chunk.
        """
        win, hop = self.win, self.hop
        n0, n1 = self._n, self._n + raw.shape[1] - n_valid
        i_first, i_last = self._first_window(n0), self._last_window(n1)
        if i_last < i_first:
            return self._no_windows
        index = np.arange(i_first, i_last + 1, dtype=np.int64)
        starts = index * hop - (n0 - n_valid)
        values = np.empty((index.size, self.n_channels, len(FEATURE_NAMES)))
        for b0 in range(0, index.size, _BLOCK):
            b1 = min(b0 + _BLOCK, index.size)
            out = values[b0:b1]
            rows = self._rows[: (b1 - b0) * self.n_channels]
            few = rows.shape[0] <= _SERIAL_ROWS
            (time_features_serial if few else time_features)(
                raw, filt, starts[b0:b1], win, self.fs, self.flat_tol, self.clip_lo, self.clip_hi,
                self.amp_threshold, self._line_cos, self._line_sin, self._line_weight, self._hann, out, rows)
            spec = scipy.fft.rfft(rows, axis=1)
            (spectral_features_serial if few else spectral_features)(
                spec, self._scale, self._bands, self._k_lo, self._k_hi, self._df, self._rhythm,
                out[:, :, NAN_FRACTION], out)
        times = self._t_seg + (index * hop + win) / self.fs
        return FeatureTable(times, values, FEATURE_NAMES, self.channel_names)


def _rails(clip_level, n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel low and high rails from a level, per-channel levels or per-channel ranges."""
    level = np.asarray(clip_level, dtype=float)
    if level.ndim == 0:
        level = np.full(n_channels, float(level))
    if level.shape == (n_channels,):
        level = np.stack([-level, level], axis=1)
    if level.shape != (n_channels, 2) or not np.all(np.isfinite(level)) or np.any(level[:, 0] >= level[:, 1]):
        raise EegmonError(f"clip_level must be a positive number, {n_channels} positive numbers or "
                          f"{n_channels} (low, high) ranges with low < high, got {clip_level!r}.")
    return np.ascontiguousarray(level[:, 0]), np.ascontiguousarray(level[:, 1])


def extract_features(samples: np.ndarray, fs: float, t_start: float,
                     **kwargs) -> FeatureTable:
    """Features of a whole contiguous recording segment: one :class:`Pipeline` push.

    Parameters
    ----------
    samples : ndarray, shape (n_samples, n_channels)
        Samples in µV.
    fs : float
        Sampling rate in Hz.
    t_start : float
        Time of the first sample, seconds since the Unix epoch (UTC).
    **kwargs
        Any :class:`Pipeline` parameter (``filters``, ``window``, ``hop``, ...).

    Returns
    -------
    FeatureTable
    """
    samples = _check_samples(samples)
    return Pipeline(fs, samples.shape[1], **kwargs).push(samples, t_start)
