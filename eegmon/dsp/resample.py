"""Polyphase resampling to a common rate, in one call or streamed with state.

The FIR design and the output alignment are those of :func:`scipy.signal.resample_poly`
(Kaiser window, beta 5, ``10 * max(up, down)`` half-length). The streaming form computes the
same sums causally: each output is emitted as soon as every input it needs has arrived, i.e.
with a latency of about ``10 * max(up, down) / up`` input samples. :meth:`Resampler.flush`
emits the remaining outputs with zeros after the end, so push-everything-then-flush equals
``resample_poly`` exactly (to rounding), edges included.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal

from .._checks import check_number
from ._kernels import upfirdn_chunk
from .filters import _check_samples


class Resampler:
    """Streaming polyphase resampler from ``fs_in`` to ``fs_out`` (a rational ratio).

    Parameters
    ----------
    fs_in, fs_out : float
        Input and output sampling rates in Hz; ``fs_out / fs_in`` is reduced to ``up / down``
        with ``up, down <= 1000``.
    n_channels : int
        Number of channels (columns) in each chunk.

    Notes
    -----
    Output sample ``k`` of a segment is at time ``t_segment_start + k / fs_out``. At a gap call
    :meth:`reset` (the outputs not yet emitted are dropped; call :meth:`flush` first to keep
    them, computed with zeros after the segment end, as ``resample_poly`` does).
    """

    def __init__(self, fs_in: float, fs_out: float, n_channels: int) -> None:
        self.fs_in = check_number("fs_in", fs_in, low=0.0, low_inclusive=False)
        self.fs_out = check_number("fs_out", fs_out, low=0.0, low_inclusive=False)
        self.n_channels = check_number("n_channels", n_channels, low=1, integer=True)
        ratio = Fraction(self.fs_out / self.fs_in).limit_denominator(1000)
        self.up, self.down = ratio.numerator, ratio.denominator
        max_rate = max(self.up, self.down)
        if max_rate == 1:  # equal rates: resample_poly returns the input unchanged
            self._h, self._skip = np.ones(1), 0
        else:
            half_len = 10 * max_rate
            h = signal.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0))
            n_pre_pad = self.down - half_len % self.down
            self._h = np.concatenate([np.zeros(n_pre_pad), h * self.up])
            self._skip = (half_len + n_pre_pad) // self.down
        self._n_hist = -(-self._h.size // self.up) + 1
        self.reset()

    def reset(self) -> None:
        """Start a new segment: forget past inputs and pending outputs."""
        self._hist = np.zeros((0, self.n_channels))
        self._n_in = 0
        self._k_next = 0

    def push(self, x: np.ndarray) -> np.ndarray:
        """Resample one chunk (n_samples, n_channels); return the outputs now complete."""
        x = _check_samples(x, self.n_channels)
        return self._advance(x, self._n_in + x.shape[0])

    def flush(self) -> np.ndarray:
        """Return the outputs left at the end of the segment (zeros assumed after it).

        Call :meth:`reset` before pushing the next segment.
        """
        k_end = self._skip - (-self._n_in * self.up // self.down)  # one past the last output
        n_total = max((k_end - 1) * self.down // self.up + 1, self._n_in)
        first = max(self._k_next, self._skip)
        out = self._advance(np.zeros((n_total - self._n_in, self.n_channels)), n_total)
        return out[: max(k_end - first, 0)]

    def _advance(self, x: np.ndarray, n_total: int) -> np.ndarray:
        buf = np.concatenate([self._hist, x]) if self._hist.size else x
        base = self._n_in - self._hist.shape[0]
        out = upfirdn_chunk(self._h, self.up, self.down, buf, base, self._k_next, n_total)
        first = self._k_next
        self._k_next += out.shape[0]
        self._n_in = n_total
        self._hist = buf[-self._n_hist:].copy()
        return out[max(self._skip - first, 0):]


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Resample a whole (n_samples, n_channels) signal; equals ``scipy.signal.resample_poly``.

    Parameters
    ----------
    x : ndarray, shape (n_samples, n_channels)
        The signal.
    fs_in, fs_out : float
        Input and output sampling rates in Hz.

    Returns
    -------
    y : ndarray, shape (ceil(n_samples * up / down), n_channels)
    """
    x = _check_samples(x)
    res = Resampler(fs_in, fs_out, x.shape[1])
    return np.concatenate([res.push(x), res.flush()])
