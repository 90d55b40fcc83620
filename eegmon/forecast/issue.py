"""Issuing forecasts for a patient: the next day and hours, and the ones a day-by-day run issued."""

from __future__ import annotations

import math

import numpy as np

from .cycles import DAY, HOUR
from .evaluation import PatientForecasts
from .forecasters import Climatology, make_forecaster
from .markers import HourlyMarker
from .risk import HORIZONS, RISK_LEVELS, RiskForecast, risk_codes
from .seizures import SeizureHistory


def _forecasts(name: str, starts: np.ndarray, horizon_s: float, probs: np.ndarray,
               clim: np.ndarray) -> list[RiskForecast]:
    levels = risk_codes(probs, clim)
    return [RiskForecast(start=float(t), horizon_s=horizon_s, probability=float(p), level=RISK_LEVELS[int(lv)],
                         climatology=float(c), forecaster=name, issued_at=float(t))
            for t, p, lv, c in zip(starts, probs, levels, clim, strict=True)]


def forecast_next(history: SeizureHistory, forecaster: str = "cycles", now: float | None = None,
                  horizons: tuple[str, ...] = ("24h", "1h"),
                  marker: HourlyMarker | None = None) -> dict[str, list[RiskForecast]]:
    """Forecasts issued at ``now`` (default: the end of the history), from the seizures before it.

    ``now`` is rounded down to the whole hour. For each horizon: the windows of the next 24 hours
    (one window at 24 h, 24 at 1 h). ``marker``: an hourly cycle marker for the cycle model.

    Returns
    -------
    dict
        ``{horizon: [RiskForecast, ...]}``.
    """
    now = math.floor((history.stop if now is None else now) / HOUR) * HOUR
    model = make_forecaster(forecaster, marker).fit(history.onsets, until=now, start=history.start)
    clim = Climatology().fit(history.onsets, until=now, start=history.start)
    out = {}
    for h in horizons:
        starts = now + HORIZONS[h] * np.arange(int(DAY // HORIZONS[h]))
        out[h] = _forecasts(model.name, starts, HORIZONS[h], model.predict(starts, HORIZONS[h]),
                            clim.predict(starts, HORIZONS[h]))
    return out


def issued_forecasts(pf: PatientForecasts, forecaster: str = "cycles") -> list[RiskForecast]:
    """Every forecast a pseudo-prospective run issued for one patient, as :class:`RiskForecast`."""
    out: list[RiskForecast] = []
    for h, series in pf.series[forecaster].items():
        clim = pf.series["climatology"][h].probability
        out += _forecasts(forecaster, series.starts, HORIZONS[h], series.probability, clim)
    return out
