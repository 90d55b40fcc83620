"""Causal IIR filters as second-order sections, with state carried across chunks.

Design uses :mod:`scipy.signal` (not the hot path); filtering runs in a Numba kernel whose
per-sample arithmetic is that of :func:`scipy.signal.sosfilt`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy import signal

from .._checks import check_number, check_option
from ..errors import EegmonError
from ._kernels import sosfilt_chunk

FilterKind = Literal["bandpass", "highpass", "lowpass", "notch"]
ResetMode = Literal["zero", "steady"]


def design_filter(
    kind: FilterKind,
    fs: float,
    *,
    low: float | None = None,
    high: float | None = None,
    order: int = 4,
    line_freq: float = 50.0,
    harmonics: bool = True,
    quality: float = 30.0,
) -> np.ndarray:
    """Design a Butterworth or notch filter as second-order sections.

    Parameters
    ----------
    kind : {'bandpass', 'highpass', 'lowpass', 'notch'}
        Filter type. Band-pass needs ``low`` and ``high``, high-pass ``low``, low-pass ``high``.
    fs : float
        Sampling rate in Hz.
    low, high : float | None
        Edge frequencies in Hz, with ``0 < low < high < fs / 2``.
    order : int
        Butterworth order (band-pass filters have ``2 * order`` poles).
    line_freq : float
        Notch only: mains frequency in Hz (50 or 60).
    harmonics : bool
        Notch only: also notch every harmonic of ``line_freq`` below ``fs / 2``.
    quality : float
        Notch only: quality factor ``line_freq / bandwidth`` of each notch.

    Returns
    -------
    sos : ndarray, shape (n_sections, 6)
        Second-order sections; cascade several designs with ``np.vstack``.
    """
    kind = check_option("kind", kind, ["bandpass", "highpass", "lowpass", "notch"])
    fs = check_number("fs", fs, low=0.0, low_inclusive=False)
    nyq = fs / 2.0
    if kind == "notch":
        line_freq = check_number("line_freq", line_freq, low=0.0, high=nyq, low_inclusive=False,
                                 high_inclusive=False)
        quality = check_number("quality", quality, low=0.0, low_inclusive=False)
        freqs = np.arange(line_freq, nyq, line_freq) if harmonics else np.array([line_freq])
        return np.vstack([signal.tf2sos(*signal.iirnotch(f, quality, fs=fs)) for f in freqs])
    order = check_number("order", order, low=1, high=20, integer=True)
    edges = {"bandpass": (low, high), "highpass": (low,), "lowpass": (high,)}[kind]
    names = {"bandpass": ("low", "high"), "highpass": ("low",), "lowpass": ("high",)}[kind]
    if any(e is None for e in edges):
        raise EegmonError(f"A {kind} filter needs {' and '.join(names)}, got low={low!r}, "
                          f"high={high!r}.")
    edges = tuple(check_number(n, e, low=0.0, high=nyq, low_inclusive=False, high_inclusive=False)
                  for n, e in zip(names, edges, strict=True))
    if kind == "bandpass" and edges[0] >= edges[1]:
        raise EegmonError(f"A bandpass filter needs low < high, got low={low!r}, high={high!r}.")
    wn = edges if kind == "bandpass" else edges[0]
    return signal.butter(order, wn, btype=kind, fs=fs, output="sos")


def _check_sos(sos: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Return the cascade of one or several SOS arrays as (n_sections, 6) with a0 == 1."""
    if isinstance(sos, list | tuple):
        if not sos:
            raise EegmonError("Expected at least one SOS array, got an empty sequence.")
        sos = np.vstack([np.asarray(s, dtype=np.float64) for s in sos])
    sos = np.array(sos, dtype=np.float64, order="C")
    if sos.ndim != 2 or sos.shape[1] != 6 or sos.shape[0] == 0:
        raise EegmonError(f"Expected second-order sections of shape (n_sections, 6), got shape "
                          f"{sos.shape}.")
    if not np.all(np.isfinite(sos)) or np.any(sos[:, 3] == 0):
        raise EegmonError("Expected finite second-order sections with a0 != 0.")
    return sos / sos[:, 3:4]


def _check_samples(x: np.ndarray, n_channels: int | None = None) -> np.ndarray:
    """Return ``x`` as a C-contiguous float64 (n_samples, n_channels) array."""
    # Fast path for what a stream normally sends: per-chunk latency matters.
    if (type(x) is np.ndarray and x.dtype == np.float64 and x.ndim == 2
            and x.flags.c_contiguous and (n_channels is None or x.shape[1] == n_channels)):
        return x
    x = np.asarray(x)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise EegmonError(f"Expected real samples of shape (n_samples, n_channels), got "
                          f"{x.dtype} array of shape {x.shape}.")
    if n_channels is not None and x.shape[1] != n_channels:
        raise EegmonError(f"Expected {n_channels} channels, got {x.shape[1]}.")
    return np.ascontiguousarray(x, dtype=np.float64)


class SosFilter:
    """A causal SOS filter that keeps its state between chunks of a multichannel stream.

    Feeding a signal in any chunking gives the same output as one call, which equals
    ``scipy.signal.sosfilt(sos, x, axis=0)`` (``reset='zero'``) or the same with
    ``zi = sosfilt_zi(sos) * x[0]`` (``reset='steady'``).

    Gaps: :meth:`reset` (call it at a discontinuity) restarts the state, so no ringing crosses
    the gap: the output after it is the filter applied to the post-gap data alone. A NaN sample
    (or infinite) is a gap of one sample: its output is NaN and the state restarts at the next
    finite sample.

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6), or a sequence of them
        Second-order sections (see :func:`design_filter`); a sequence is cascaded.
    n_channels : int
        Number of channels (columns) in each chunk.
    reset : {'zero', 'steady'}
        State at the start and after a gap: zero, or the steady state for a constant input
        equal to the first sample (removes the step transient of a DC offset).
    """

    def __init__(self, sos: np.ndarray | Sequence[np.ndarray], n_channels: int, *,
                 reset: ResetMode = "steady") -> None:
        self.sos = _check_sos(sos)
        self.n_channels = check_number("n_channels", n_channels, low=1, integer=True)
        self.reset_mode = check_option("reset", reset, ["zero", "steady"])
        self._warm = self.reset_mode == "steady"
        self._zi_steady = signal.sosfilt_zi(self.sos)
        self._zi = np.zeros((self.n_channels, self.sos.shape[0], 2))
        self._pending = np.ones(self.n_channels, dtype=np.int8)

    def reset(self) -> None:
        """Forget the past: the next sample starts a new segment (zero or steady state)."""
        self._zi[:] = 0.0
        self._pending[:] = 1

    def process(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Filter one chunk of shape (n_samples, n_channels).

        Parameters
        ----------
        x : ndarray, shape (n_samples, n_channels)
            The chunk.
        out : ndarray | None
            Float64 array of the same shape to write the result into (any strides, e.g. a
            transposed view); a new array if None.

        Returns
        -------
        y : ndarray, shape (n_samples, n_channels)
            The filtered chunk (``out`` if given).
        """
        x = _check_samples(x, self.n_channels)
        if out is None:
            out = np.empty_like(x)
        elif out.shape != x.shape or out.dtype != np.float64:
            raise EegmonError(f"Expected out of shape {x.shape} and dtype float64, got "
                              f"{out.shape} {out.dtype}.")
        sosfilt_chunk(self.sos, x, out, self._zi, self._zi_steady, self._pending, self._warm)
        return out


def filter_signal(x: np.ndarray, sos: np.ndarray | Sequence[np.ndarray], *,
                  zero_phase: bool = False) -> np.ndarray:
    """Filter a whole (n_samples, n_channels) signal at once.

    Parameters
    ----------
    x : ndarray, shape (n_samples, n_channels)
        The signal.
    sos : ndarray, shape (n_sections, 6), or a sequence of them
        Second-order sections; a sequence is cascaded.
    zero_phase : bool
        If False, causal filtering from zero state (= ``scipy.signal.sosfilt``). If True,
        forward-backward filtering with odd padding and steady-state initial conditions
        (= ``scipy.signal.sosfiltfilt``): no phase shift, for offline display and analysis
        only, since it needs the future. NaN samples restart the state as in
        :class:`SosFilter`.

    Returns
    -------
    y : ndarray, shape (n_samples, n_channels)
    """
    x = _check_samples(x)
    sos = _check_sos(sos)
    if not zero_phase:
        filt = SosFilter(sos, x.shape[1], reset="zero")
        return filt.process(x)
    # Same padding rule as scipy.signal.sosfiltfilt so the two agree to rounding.
    n_sec = sos.shape[0]
    ntaps = 2 * n_sec + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum())
    padlen = 3 * ntaps
    if x.shape[0] <= padlen:
        raise EegmonError(f"Zero-phase filtering needs more than {padlen} samples, got "
                          f"{x.shape[0]}.")
    ext = np.concatenate([2 * x[:1] - x[padlen:0:-1], x, 2 * x[-1:] - x[-2:-padlen - 2:-1]])
    zi = signal.sosfilt_zi(sos)
    fwd = np.ascontiguousarray(ext)
    _run_from(sos, fwd, zi, fwd[0])
    bwd = np.ascontiguousarray(fwd[::-1])
    _run_from(sos, bwd, zi, bwd[0])
    return np.ascontiguousarray(bwd[::-1][padlen:-padlen])


def _run_from(sos: np.ndarray, x: np.ndarray, zi: np.ndarray, x0: np.ndarray) -> None:
    """Filter ``x`` in place starting from the state ``zi * x0`` (per channel)."""
    state = np.ascontiguousarray(np.transpose(zi[:, :, None] * x0[None, None, :], (2, 0, 1)))
    sosfilt_chunk(sos, x, x, state, zi, np.zeros(x.shape[1], dtype=np.int8), True)
