"""Numba kernels for filtering and resampling: plain arrays and explicit state in, no checks."""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit


@jit()
def sosfilt_chunk(sos, x, out, zi, zi_steady, pending, warm):  # pragma: no cover - compiled
    """Filter ``x`` (n, n_ch) into ``out`` (may be ``x``) through ``sos`` (n_sec, 6), DF-II-T.

    ``zi`` (n_ch, n_sec, 2) is the state, updated in place. A NaN (or infinite) sample gives a
    NaN output and zeroes the state; ``pending[c]`` then marks that channel's next finite sample as a restart,
    which starts from zero state or, if ``warm``, from the steady state ``zi_steady * x``.
    The arithmetic per finite sample is the one of ``scipy.signal.sosfilt``.
    """
    n, n_ch = x.shape
    n_sec = sos.shape[0]
    # Samples outer, channels interleaved, state in one small local array: the independent
    # recursions of the channels and sections overlap in the pipeline (faster than scipy).
    z = np.empty((n_sec, 2 * n_ch))
    for s in range(n_sec):
        for c in range(n_ch):
            z[s, 2 * c] = zi[c, s, 0]
            z[s, 2 * c + 1] = zi[c, s, 1]
    for b0 in range(0, n, 256):
        b1 = min(b0 + 256, n)
        # A block whose sum is finite holds no NaN: run it without per-sample checks.
        total = 0.0
        for k in range(b0, b1):
            for c in range(n_ch):
                total += x[k, c]
        clean = math.isfinite(total)
        for c in range(n_ch):
            clean = clean and pending[c] == 0
        for k in range(b0, b1):
            for c in range(n_ch):
                v = x[k, c]
                if not clean:  # loop-invariant: the compiler unswitches it
                    if not math.isfinite(v):
                        z[:, 2 * c:2 * c + 2] = 0.0
                        pending[c] = 1
                        out[k, c] = np.nan
                        continue
                    if pending[c]:
                        pending[c] = 0
                        for s in range(n_sec):
                            z[s, 2 * c] = zi_steady[s, 0] * v if warm else 0.0
                            z[s, 2 * c + 1] = zi_steady[s, 1] * v if warm else 0.0
                for s in range(n_sec):
                    y = sos[s, 0] * v + z[s, 2 * c]
                    z[s, 2 * c] = sos[s, 1] * v - sos[s, 4] * y + z[s, 2 * c + 1]
                    z[s, 2 * c + 1] = sos[s, 2] * v - sos[s, 5] * y
                    v = y
                out[k, c] = v
    for s in range(n_sec):
        for c in range(n_ch):
            zi[c, s, 0] = z[s, 2 * c]
            zi[c, s, 1] = z[s, 2 * c + 1]


@jit()
def upfirdn_chunk(h, up, down, buf, base, k_next, n_total):  # pragma: no cover - compiled
    """Polyphase ``upfirdn`` outputs that the inputs seen so far fully determine.

    ``buf`` (m, n_ch) holds input samples with global indices ``base .. base + m - 1`` (it must
    reach back ``ceil(len(h) / up)`` samples before the first output's newest input).
    Output ``k`` is ``sum_n x[n] h[k*down - n*up]`` (zero-stuffed by ``up``, filtered by ``h``,
    kept every ``down``), the same sum as ``scipy.signal.upfirdn``. Computes outputs ``k_next``
    onwards while ``k*down // up < n_total``; returns them as (n_out, n_ch).
    """
    n_h = h.shape[0]
    n_ch = buf.shape[1]
    last = n_total * up - 1  # output k needs inputs up to k*down // up
    if n_total == 0 or k_next * down > last:
        return np.empty((0, n_ch))
    n_out = last // down - k_next + 1
    out = np.zeros((n_out, n_ch))
    for j in range(n_out):
        kd = (k_next + j) * down
        n = kd // up
        while n >= base:
            t = kd - n * up
            if t >= n_h:
                break
            for c in range(n_ch):
                out[j, c] += buf[n - base, c] * h[t]
            n -= 1
    return out
