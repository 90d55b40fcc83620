"""Hourly cycle markers: a signal that rises and falls on the same cycles as seizures.

Interictal epileptiform activity, and with it the rate of (mostly false) detections or a feature
such as line length, follows a patient's multi-day cycles, and there is far more of it than there
are seizures. With a marker, :class:`~eegmon.forecast.forecasters.CycleForecaster` looks for the
multi-day period in the marker's periodogram instead of in the few seizure times.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import lombscargle

from ..errors import EegmonError
from .cycles import DAY, HOUR, OVERSAMPLING


@dataclass(frozen=True)
class HourlyMarker:
    """An hourly series: ``values[i]`` summarises ``[times[i], times[i] + 1 h)`` (NaN: no data).

    Parameters
    ----------
    times : ndarray of float
        Hour starts, seconds since the epoch, increasing.
    values : ndarray of float
        One value per hour.
    name : str
        What it is (``detections``, a feature's name).
    """

    times: np.ndarray
    values: np.ndarray
    name: str

    def __post_init__(self) -> None:
        times, values = np.asarray(self.times, dtype=float), np.asarray(self.values, dtype=float)
        if times.ndim != 1 or times.shape != values.shape:
            raise EegmonError(f"marker {self.name!r}: times and values must be 1-D of equal length, got "
                              f"{times.shape} and {values.shape}.")
        if times.size > 1 and not np.all(np.diff(times) > 0):
            raise EegmonError(f"marker {self.name!r}: times must increase.")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)

    def daily(self, until: float) -> tuple[np.ndarray, np.ndarray]:
        """Daily means (UTC days) of the hours that end by ``until``: ``(day centres, means)``, NaN-free."""
        keep = (self.times + HOUR <= until) & np.isfinite(self.values)
        days = np.floor(self.times[keep] / DAY)
        if days.size == 0:
            return np.empty(0), np.empty(0)
        uniq, inverse = np.unique(days, return_inverse=True)
        means = np.bincount(inverse, self.values[keep]) / np.bincount(inverse)
        return uniq * DAY + DAY / 2, means


def marker_period(marker: HourlyMarker, until: float, periods_days: np.ndarray,
                  alpha: float) -> tuple[float | None, float]:
    """The marker's strongest multi-day period before ``until``: ``(period_days or None, p)``.

    A Lomb-Scargle periodogram of the daily means (normalised by their variance), over the
    periods with at least two whole cycles in the data. Its false-alarm probability is
    ``1 - (1 - exp(-z))**M``, ``z`` the normalised peak and ``M`` three times the band's
    independent frequencies (as for the seizure-time test).
    """
    t, v = marker.daily(until)
    span = t[-1] - t[0] + DAY if t.size else 0.0
    allowed = periods_days[periods_days * DAY * 2 <= span]
    if t.size < 10 or allowed.size == 0 or np.var(v) == 0:
        return None, 1.0
    omega = 2 * np.pi / (allowed * DAY)
    power = lombscargle(t, v - v.mean(), omega) * 2 / (t.size * np.var(v))
    i = int(np.argmax(power))
    z = float(power[i]) * (t.size - 1) / 2  # the normalised power's exponential tail
    n_independent = max(1.0, OVERSAMPLING * span / DAY * (1 / allowed.min() - 1 / allowed.max()))
    p = 1.0 - (1.0 - math.exp(-z)) ** n_independent
    return (float(allowed[i]) if p < alpha else None), float(p)


def marker_from_archive(path: str | os.PathLike, kind: str = "detections") -> HourlyMarker:
    """An hourly marker from an archive.

    Parameters
    ----------
    path : path-like
        The archive.
    kind : str
        ``detections``: detections started per hour (any but rejected; hours outside the
        recording are NaN); or the name of a stored window feature (``eegmon batch --task
        features`` / the detector's feature store), averaged over windows and channels per hour.

    Returns
    -------
    HourlyMarker
    """
    from ..archive import Archive
    from ..archive.review import review_items

    path = Path(path)
    with Archive.open(path) as arc:
        if not arc.segments:
            raise EegmonError("the archive holds no recording: no marker to read.", path)
        first = math.floor(arc.start / HOUR) * HOUR
        hours = first + HOUR * np.arange(math.ceil((arc.stop - first) / HOUR))
        covered = np.zeros(hours.size)
        for seg in arc.segments:
            lo = np.clip(seg.start, hours, hours + HOUR)
            hi = np.clip(seg.stop, hours, hours + HOUR)
            covered += hi - lo
        observed = covered > 0.5 * HOUR
        if kind == "detections":
            onsets = np.array([it.onset for it in review_items(arc)  # an event seen by two detectors counts once
                               if it.kind == "detection" and it.status != "rejected"])
            counts = np.bincount(((onsets - first) // HOUR).astype(np.int64), minlength=hours.size)[: hours.size] \
                if onsets.size else np.zeros(hours.size)
            values = np.where(observed, counts * HOUR / np.maximum(covered, 1.0), np.nan)
            return HourlyMarker(hours, values, kind)
        sums, counts = np.zeros(hours.size), np.zeros(hours.size)
        names: tuple[str, ...] = ()
        for day in np.arange(first, arc.stop, DAY):  # a day at a time: a month of windows is large
            table = arc.features(day, day + DAY)
            names = names or table.feature_names
            if not len(table) or kind not in table.feature_names:
                continue
            column = np.nanmean(table.values[:, :, table.feature_names.index(kind)], axis=1)
            idx = ((table.times - first) // HOUR).astype(np.int64)
            ok = np.isfinite(column) & (idx >= 0) & (idx < hours.size)
            sums += np.bincount(idx[ok], column[ok], minlength=hours.size)
            counts += np.bincount(idx[ok], minlength=hours.size)
        if not counts.any():
            known = ", ".join(names) if names else "none stored"
            raise EegmonError(f"no window feature {kind!r} in the archive (features: {known}); use --marker "
                              "detections, or store features first.", path)
        with np.errstate(invalid="ignore"):
            return HourlyMarker(hours, np.where(counts > 0, sums / counts, np.nan), kind)
