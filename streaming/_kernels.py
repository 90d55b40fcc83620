"""Numba kernels of the live engine (plain arrays, no checks)."""

from __future__ import annotations

from eegmon.dsp._jit import jit


@jit()
def any_nan(x):  # pragma: no cover - compiled
    """True when the 2-D array ``x`` holds a NaN (``np.isnan(x).any()`` without its temporary and calls).

    A live chunk is a few dozen samples, where NumPy's per-call cost is many times the work.
    """
    n, m = x.shape
    for i in range(n):
        for j in range(m):
            if x[i, j] != x[i, j]:
                return True
    return False
