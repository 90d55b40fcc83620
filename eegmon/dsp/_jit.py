"""The one Numba decorator used by every eegmon kernel (dsp and features).

Fastmath flags are chosen here once. They exclude ``nnan`` and ``ninf`` on purpose: EEG has
NaN gaps, and kernels test ``x != x`` to find them, which those flags would optimise away.
"""

from __future__ import annotations

from numba import njit

FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})


def jit(*, parallel: bool = False):
    """Return the ``njit`` decorator with eegmon's fixed options (cached, nogil)."""
    return njit(cache=True, nogil=True, fastmath=set(FASTMATH), parallel=parallel)
