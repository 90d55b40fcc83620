"""Finding seizure cycles: phase locking of seizure times to a circadian or a multi-day period.

Both tests are Rayleigh tests on the phases of seizure times. Seizures that come in a cluster
are not independent draws of the cycle's phase, so each test first thins the seizures to the
first of each cluster (one per 6 hours); otherwise one cluster could make a cycle out of nothing.
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels import thin_mask

DAY = 86400.0
HOUR = 3600.0
#: Seizures closer than this to the last one kept are one cluster: its first seizure stands for it.
CLUSTER_GAP_S = 6 * 3600.0
#: The most phase-locked of a band of periods is a maximum over more than the band's independent
#: frequencies (span x bandwidth): this many times more, by simulation of cycle-free patients.
OVERSAMPLING = 3.0


def candidate_periods(low_days: float = 5.0, high_days: float = 45.0) -> np.ndarray:
    """Multi-day periods to try (days), log-spaced 0.5 % apart: finer than a year of data resolves."""
    return np.exp(np.arange(np.log(low_days), np.log(high_days) + 1e-9, 0.005))


def thin(onsets: np.ndarray, gap_s: float) -> np.ndarray:
    """The onsets that come at least ``gap_s`` after the previous one kept (the first of each cluster)."""
    onsets = np.ascontiguousarray(onsets, dtype=np.float64)
    return onsets[thin_mask(onsets, float(gap_s))]


def rayleigh_p(z: float, n: int) -> float:
    """P-value of the Rayleigh statistic ``z = n R**2`` for ``n`` phases (Zar's approximation)."""
    if n == 0:
        return 1.0
    r = math.sqrt(max(z, 0.0) / n)
    p = math.exp(math.sqrt(1 + 4 * n + 4 * (n * n - (n * r) ** 2)) - (1 + 2 * n))
    return float(min(max(p, 0.0), 1.0))


def circadian_phase(onsets: np.ndarray) -> tuple[float, float, int]:
    """Phase locking of seizures to the time of day: ``(R, p, n)`` after thinning to one per 6 h."""
    kept = thin(onsets, CLUSTER_GAP_S)
    if kept.size == 0:
        return 0.0, 1.0, 0
    vec = np.exp(2j * np.pi * (kept % DAY) / DAY).mean()
    r = float(abs(vec))
    return r, rayleigh_p(kept.size * r * r, kept.size), int(kept.size)


class PeriodSearch:
    """Phase locking of seizures (thinned) to each candidate multi-day period, kept up to date.

    Seizure times only ever grow in a pseudo-prospective evaluation, and thinning keeps what it
    kept, so the sums are extended with the new seizures instead of recomputed (the same numbers).
    """

    def __init__(self, periods_days: np.ndarray) -> None:
        self.periods_days = np.asarray(periods_days, dtype=float)
        self._omega = 2 * np.pi / (self.periods_days * DAY)
        self._onsets = np.empty(0)
        self._sums = np.zeros(self.periods_days.size, dtype=complex)

    def _update(self, onsets: np.ndarray) -> None:
        n = self._onsets.size
        if onsets.size < n or not np.array_equal(onsets[:n], self._onsets):
            self._onsets, self._sums = np.empty(0), np.zeros_like(self._sums)
            n = 0
        new = onsets[n:]
        if new.size:
            self._sums = self._sums + np.exp(1j * np.outer(new, self._omega)).sum(axis=0)
            self._onsets = onsets.copy()

    def best(self, onsets: np.ndarray, span_s: float) -> tuple[float | None, float, float]:
        """The most phase-locked period: ``(period_days or None, R, corrected p)``.

        Only periods with at least two whole cycles in ``span_s`` are tried; ``p`` is the
        Rayleigh p-value times the number of independent periods tried (Bonferroni).
        """
        kept = thin(onsets, CLUSTER_GAP_S)
        self._update(kept)
        n = kept.size
        allowed = self.periods_days * DAY * 2 <= span_s
        if n < 3 or not allowed.any():
            return None, 0.0, 1.0
        r = np.abs(self._sums[allowed]) / n
        i = int(np.argmax(r))
        periods = self.periods_days[allowed]
        # independent frequencies in the band over the span (a periodogram's resolution is 1/span)
        n_independent = max(1.0, OVERSAMPLING * span_s / DAY * (1 / periods.min() - 1 / periods.max()))
        p = min(1.0, rayleigh_p(n * r[i] ** 2, n) * n_independent)
        return float(periods[i]), float(r[i]), p
