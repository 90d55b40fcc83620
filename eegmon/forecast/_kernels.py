"""Numba kernels of the forecasting code (plain arrays in, plain arrays out)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def thin_mask(onsets: np.ndarray, gap_s: float) -> np.ndarray:
    """Mask of the sorted ``onsets`` that come at least ``gap_s`` after the previous one kept."""
    keep = np.zeros(onsets.size, dtype=np.bool_)
    last = -np.inf
    for i in range(onsets.size):
        if onsets[i] - last >= gap_s:
            keep[i] = True
            last = onsets[i]
    return keep
