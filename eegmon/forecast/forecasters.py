"""Seizure forecasters: three baselines and a cycle model, one small interface.

Every forecaster is fitted on the seizures before a time and then gives, for windows starting at
or after it, the probability of at least one seizure in the window::

    fc = CycleForecaster().fit(onsets, until=t0, start=first_day)
    p = fc.predict([t0, t0 + 3600], horizon=3600)

``onsets`` are seizure onsets in seconds since the Unix epoch; ``start`` is when observation began
(default: the first onset's UTC midnight). ``fit`` ignores onsets at or after ``until``.

The baselines are the ones forecasting papers report (Stirling et al. 2021, Proix et al. 2021):

- :class:`Climatology`: the share of past windows of the same length that held a seizure;
- :class:`MovingAverage`: the same over the last 90 days;
- :class:`TimeOfDay`: the share of past days on which the window's time of day held a seizure.

The shares are counted over whole past windows and smoothed by half a seizure (Jeffreys), so
they are probabilities of "at least one seizure" (clusters count once) and never exactly 0 or 1.
"""

from __future__ import annotations

import math
from typing import Self

import numpy as np

from ..errors import EegmonError
from ._kernels import cloglog_recalibration, poisson_ridge
from .cycles import DAY, HOUR, PeriodSearch, candidate_periods, circadian_phase
from .markers import HourlyMarker, marker_period


def _share(onsets: np.ndarray, starts: np.ndarray, horizon: float, valid: np.ndarray | None = None) -> np.ndarray:
    """Jeffreys-smoothed share of windows ``[start, start + horizon)`` holding an onset (last axis)."""
    hit = np.searchsorted(onsets, starts + horizon) > np.searchsorted(onsets, starts)
    if valid is None:
        return (hit.sum(axis=-1) + 0.5) / (hit.shape[-1] + 1.0)
    return ((hit & valid).sum(axis=-1) + 0.5) / (valid.sum(axis=-1) + 1.0)


class Forecaster:
    """Base class: ``fit(onsets, until, start=None)`` then ``predict(times, horizon)``."""

    name = "forecaster"

    def fit(self, onsets: np.ndarray, until: float, *, start: float | None = None) -> Self:
        """Learn from the seizures before ``until``.

        Parameters
        ----------
        onsets : array-like of float
            Seizure onsets, seconds since the epoch; those at or after ``until`` are not used.
        until : float
            End of the training data, seconds since the epoch.
        start : float | None
            Start of observation (default: midnight UTC before the first onset).

        Returns
        -------
        self
        """
        onsets = np.sort(np.asarray(onsets, dtype=float))
        onsets = onsets[onsets < until]
        if start is None:
            start = math.floor(onsets[0] / DAY) * DAY if onsets.size else until - DAY
        if not start < until:
            raise EegmonError(f"{self.name}: training must end after it starts (start {start}, until {until}).")
        self.onsets_, self.until_, self.start_ = onsets, float(until), float(start)
        self._fit()
        return self

    def predict(self, times: np.ndarray, horizon: float) -> np.ndarray:
        """Probability of at least one seizure in ``[t, t + horizon)`` for each ``t`` in ``times``.

        Parameters
        ----------
        times : array-like of float
            Window starts, seconds since the epoch, at or after the fit's ``until``.
        horizon : float
            Window length in seconds (> 0).

        Returns
        -------
        ndarray of float, in (0, 1)
        """
        if not hasattr(self, "until_"):
            raise EegmonError(f"{self.name}: call fit() before predict().")
        times = np.atleast_1d(np.asarray(times, dtype=float))
        if not horizon > 0:
            raise EegmonError(f"{self.name}: the horizon must be > 0 s, got {horizon}.")
        if times.size and times.min() < self.until_ - 1e-6:
            raise EegmonError(f"{self.name}: a forecast is for a window starting at or after the end of the "
                              f"training data ({self.until_}), got one starting at {times.min()}.")
        return self._predict(times, float(horizon))

    def _fit(self) -> None:
        pass

    def _predict(self, times: np.ndarray, horizon: float) -> np.ndarray:
        raise NotImplementedError


class Climatology(Forecaster):
    """The share of all past windows of the forecast's length that held a seizure."""

    name = "climatology"
    lookback_days: float | None = None

    def _predict(self, times: np.ndarray, horizon: float) -> np.ndarray:
        start = self.start_ if self.lookback_days is None else max(self.start_, self.until_ - self.lookback_days * DAY)
        n = max(int((self.until_ - start) // horizon), 0)
        # windows [until - (k+1) h, until - k h), k < n: an onset lies in window ceil((until - s) / h) - 1
        onsets = self.onsets_[self.onsets_ >= self.until_ - n * horizon]
        hits = np.unique(np.ceil((self.until_ - onsets) / horizon) - 1).size
        return np.full(times.size, (hits + 0.5) / (n + 1.0))


class MovingAverage(Climatology):
    """The share of the windows of the last ``days`` days that held a seizure (default 90)."""

    name = "moving_average"

    def __init__(self, days: float = 90.0) -> None:
        if not days > 0:
            raise EegmonError(f"moving_average: days must be > 0, got {days}.")
        self.lookback_days = float(days)


class TimeOfDay(Forecaster):
    """The share of past days on which the same time of day (and window length) held a seizure."""

    name = "time_of_day"

    def _predict(self, times: np.ndarray, horizon: float) -> np.ndarray:
        if horizon > DAY:
            # windows a day apart overlap: count them one by one
            k = np.arange(1, int((times.max() - self.start_) // DAY) + 2)
            starts = times[:, None] - k[None, :] * DAY
            valid = (starts >= self.start_) & (starts + horizon <= self.until_)
            return _share(self.onsets_, starts, horizon, valid)
        # window k of time t is [t - k DAY, t - k DAY + horizon); onset s can only be in k = ceil((t - s) / DAY)
        k_min = np.maximum(np.ceil((times + horizon - self.until_) / DAY), 1)
        k_max = np.floor((times - self.start_) / DAY)
        lag = times[:, None] - self.onsets_[None, :]
        k = np.ceil(lag / DAY)
        hit = (k * DAY < lag + horizon) & (k >= k_min[:, None]) & (k <= k_max[:, None])
        rows, cols = np.nonzero(hit)
        distinct = np.unique(rows * (k_max.max() + 2) + k[rows, cols])
        hits = np.bincount((distinct // (k_max.max() + 2)).astype(np.int64), minlength=times.size)
        n = np.maximum(k_max - k_min + 1, 0)
        return (hits + 0.5) / (n + 1.0)


class CycleForecaster(Forecaster):
    """A Poisson model of the hourly seizure rate with the cycles found and the recent rate.

    The log-rate of each hour is a linear function of:

    - the time of day (one cosine and sine of 24 h), if seizure times lock to it (Rayleigh
      test, p < ``alpha``);
    - the phase of the most phase-locked multi-day period in 5-45 days, if that locking is
      significant after correction for the periods tried (p < ``alpha``); with a ``marker``,
      the strongest period of the marker's periodogram instead, if significant (else the
      seizures' own);
    - the recent rate: ``log1p`` of the number of seizures in the day and in the week before
      the hour's UTC day began (what is known when that day's forecast is issued).

    The model is fitted by Newton's method with an L2 penalty ``ridge`` on all but the
    intercept. The chance of at least one seizure in a window of several hours is
    ``1 - exp(-a * L**b)``, ``L`` the expected count, with ``a`` and ``b`` fitted on the
    training windows of that length (a complementary log-log recalibration whose identity is
    ``a = b = 1``): clusters make "at least one" rarer than the count says.

    Parameters
    ----------
    alpha : float
        Significance a cycle must reach to enter the model.
    ridge : float
        L2 penalty on the coefficients (seizure counts are small; this keeps rare patients sane).
    min_period_days, max_period_days : float
        Band searched for a multi-day cycle.
    marker : HourlyMarker | None
        An hourly cycle marker (:mod:`eegmon.forecast.markers`); only its values before
        ``until`` are used.

    Attributes
    ----------
    period_days_ : float | None
        The multi-day period in the model (None if no cycle was significant).
    period_source_ : str | None
        Where it was found: ``seizures`` or ``marker:<name>``.
    circadian_ : bool
        Whether the time of day is in the model.
    circadian_r_, multiday_r_ : float
        Phase-locking values (mean resultant length) of the two tests.
    coef_ : ndarray
        Coefficients: intercept, then the features in the order above.
    """

    name = "cycles"

    def __init__(self, alpha: float = 0.05, ridge: float = 1.0, min_period_days: float = 5.0,
                 max_period_days: float = 45.0, marker: HourlyMarker | None = None) -> None:
        if not 0 < alpha < 1:
            raise EegmonError(f"cycles: alpha must be in (0, 1), got {alpha}.")
        if not 0 < min_period_days < max_period_days:
            raise EegmonError("cycles: expected 0 < min_period_days < max_period_days, got "
                              f"{min_period_days} and {max_period_days}.")
        self.alpha, self.ridge = alpha, ridge
        self.min_period_days, self.max_period_days = min_period_days, max_period_days
        self.marker = marker
        self._search = PeriodSearch(candidate_periods(min_period_days, max_period_days))
        # the last fit's recalibrations: where the next day's fit starts from (the same optimum)
        self._last_calibration: dict[float, tuple[float, float]] = {}

    # ---------------------------------------------------------------- features
    # The log-rate of hour h of day d is day_features(d) @ coef_day + hour_features(h) @ coef_hour:
    # fitted on daily and hour-of-day sums (365 + 24 numbers a year, not 8,760 hours).
    def _day_features(self, day_starts: np.ndarray) -> np.ndarray:
        """Intercept, multi-day phase (at the day's centre) and the recent rate of each UTC day."""
        cols = [np.ones_like(day_starts)]
        if self.period_days_ is not None:
            phase = 2 * np.pi * (day_starts + DAY / 2) / (self.period_days_ * DAY)
            cols += [np.cos(phase), np.sin(phase)]
        # the recent rate is what is known when the day's forecast is issued, never past the training data
        known = np.minimum(day_starts, self.until_)
        at = np.searchsorted(self.onsets_, known)
        cols.append(np.log1p(at - np.searchsorted(self.onsets_, known - DAY)))
        cols.append(np.log1p(at - np.searchsorted(self.onsets_, known - 7 * DAY)))
        return np.column_stack(cols)

    def _hour_features(self, seconds_of_day: np.ndarray) -> np.ndarray:
        if not self.circadian_:
            return np.zeros((seconds_of_day.size, 0))
        phase = 2 * np.pi * (seconds_of_day + HOUR / 2) / DAY
        return np.column_stack([np.cos(phase), np.sin(phase)])

    # ---------------------------------------------------------------- fitting
    def _fit(self) -> None:
        span = self.until_ - self.start_
        self.circadian_r_, p_circ, _ = circadian_phase(self.onsets_)
        self.circadian_ = p_circ < self.alpha
        period, self.multiday_r_, p_multi = self._search.best(self.onsets_, span)
        self.period_days_ = period if p_multi < self.alpha else None
        self.period_source_ = "seizures" if self.period_days_ is not None else None
        if self.marker is not None:
            found, _ = marker_period(self.marker, self.until_, self._search.periods_days, self.alpha)
            if found is not None:
                self.period_days_, self.period_source_ = found, f"marker:{self.marker.name}"

        first = math.floor(self.start_ / DAY) * DAY
        n_days = math.ceil((self.until_ - first) / DAY)
        day_starts = first + DAY * np.arange(n_days)
        hours = day_starts[:, None] + HOUR * np.arange(24)[None, :]
        exposure = np.clip((np.minimum(hours + HOUR, self.until_) - np.maximum(hours, self.start_)) / HOUR, 0, 1)
        counts = np.bincount(((self.onsets_ - first) // HOUR).astype(np.int64),
                             minlength=n_days * 24).reshape(n_days, 24)
        xd, xh = self._day_features(day_starts), self._hour_features(HOUR * np.arange(24.0))
        coef = _poisson_ridge(xd, xh, counts, exposure, self.ridge, getattr(self, "coef_", None))
        self.coef_ = coef
        self._n_day = pd = xd.shape[1]  # coefficients of the daily part; the hour-of-day part follows
        # expected count in each training hour, for the recalibration of longer horizons
        self._hours = hours.ravel()
        self._expected = (exposure * np.outer(np.exp(xd @ coef[:pd]), np.exp(xh @ coef[pd:]))).ravel()
        self._calibration: dict[float, tuple[float, float]] = {}

    def _recalibration(self, horizon: float) -> tuple[float, float]:
        """``(log a, b)`` of ``P = 1 - exp(-a L**b)`` on the training windows of length ``horizon``."""
        if horizon <= HOUR:
            return 0.0, 1.0
        if horizon not in self._calibration:
            n = int((self.until_ - self.start_) // horizon)
            starts = self.until_ - horizon * np.arange(1, n + 1)
            cum = np.concatenate([[0.0], np.cumsum(self._expected)])
            edges = np.searchsorted(self._hours, np.stack([starts, starts + horizon]))
            expected = cum[edges[1]] - cum[edges[0]]
            hit = np.searchsorted(self.onsets_, starts + horizon) > np.searchsorted(self.onsets_, starts)
            self._calibration[horizon] = _cloglog_recalibration(
                expected, hit.astype(float), start=self._last_calibration.get(horizon))
            self._last_calibration[horizon] = self._calibration[horizon]
        return self._calibration[horizon]

    def _predict(self, times: np.ndarray, horizon: float) -> np.ndarray:
        n_hours = math.ceil(horizon / HOUR)
        hours = (times[:, None] + HOUR * np.arange(n_hours)[None, :]).ravel()
        pd = self._n_day
        log_rate = (self._day_features(np.floor(hours / DAY) * DAY) @ self.coef_[:pd]
                    + self._hour_features(hours % DAY) @ self.coef_[pd:])
        weight = np.minimum(HOUR, horizon - HOUR * np.arange(n_hours)) / HOUR
        expected = (np.exp(log_rate).reshape(times.size, n_hours) * weight).sum(axis=1)
        log_a, b = self._recalibration(horizon)
        # beyond 50 expected seizures the chance of one is 1 to float precision: no overflow
        return -np.expm1(-np.exp(log_a + b * np.log(np.clip(expected, 1e-300, 50.0))))


def _poisson_ridge(xd: np.ndarray, xh: np.ndarray, counts: np.ndarray, exposure: np.ndarray, ridge: float,
                   start: np.ndarray | None) -> np.ndarray:
    """Coefficients of a Poisson model of hourly counts with log-rate ``xd[d] @ b_d + xh[h] @ b_h``.

    ``counts`` and ``exposure`` are (days, 24). L2 penalty ``ridge`` on all but the intercept
    (``xd``'s first column); Newton's method from ``start`` when it has the right size.
    """
    p = xd.shape[1] + xh.shape[1]
    if start is None or start.size != p:
        start = np.zeros(p)
        start[0] = math.log((counts.sum() + 0.5) / max(exposure.sum(), 1e-9))
    # a step of 1e-4 is a 0.01 % change of a rate: far below what seizure counts resolve
    return poisson_ridge(np.ascontiguousarray(xd, dtype=np.float64), np.ascontiguousarray(xh, dtype=np.float64),
                         counts.astype(np.float64), exposure.astype(np.float64), float(ridge),
                         start.astype(np.float64), 30, 1e-4)


def _cloglog_recalibration(expected: np.ndarray, hit: np.ndarray, ridge: float = 1.0,
                           start: tuple[float, float] | None = None) -> tuple[float, float]:
    """``(log a, b)`` maximising the penalised likelihood of ``hit`` under ``P = 1 - exp(-a L**b)``.

    Fitted as ``log(-log(1 - P)) = log a + b log L`` with a penalty pulling towards the identity
    (``a = b = 1``), so a short history (fewer than 30 windows: none at all) leaves the model's
    own probabilities.
    """
    ok = expected > 0
    if ok.sum() < 30:
        return 0.0, 1.0
    theta = np.array([0.0, 1.0]) if start is None else np.array(start, dtype=np.float64)
    theta = cloglog_recalibration(np.log(expected[ok]), hit[ok].astype(np.float64), float(ridge), theta, 30, 1e-4)
    return float(theta[0]), float(theta[1])


#: The forecasters by name, in the order reports list them (the cycle model first).
FORECASTERS = {"cycles": CycleForecaster, "climatology": Climatology, "moving_average": MovingAverage,
               "time_of_day": TimeOfDay}


def make_forecaster(name: str, marker: HourlyMarker | None = None) -> Forecaster:
    """A new forecaster by name (one of :data:`FORECASTERS`); ``marker`` goes to the cycle model."""
    from .._checks import check_option

    cls = FORECASTERS[check_option("forecaster", name, FORECASTERS)]
    return cls(marker=marker) if marker is not None and cls is CycleForecaster else cls()
