"""Risk levels and the stored form of a forecast (the contract the CLI, viewer and alerts share).

A forecast is the probability of at least one seizure in ``[start, start + horizon_s)``. Its risk
level compares it with the patient's own climatology for the same horizon: the long-run share of
such windows that held a seizure. Relative levels keep their meaning across patients with one
seizure a month and with three a day, where a fixed probability cut would say "high" for ever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Names of the risk levels, lowest first (their index is the level's code in the archive).
RISK_LEVELS = ("low", "medium", "high")
#: A forecast is high when its hazard is at least this many times the climatological hazard, and
#: low when at most its inverse; medium in between.
HIGH_RATIO = 1.5

#: Horizons the CLI offers, by label.
HORIZONS = {"1h": 3600.0, "24h": 86400.0}


def horizon_label(horizon_s: float) -> str:
    """``3600`` -> ``"1h"``; any other whole number of hours -> ``"<n>h"``."""
    hours = horizon_s / 3600.0
    if hours <= 0 or not float(hours).is_integer():
        raise ValueError(f"a forecast horizon must be a positive whole number of hours, got {horizon_s} s")
    return f"{int(hours)}h"


def hazard(p: np.ndarray | float) -> np.ndarray:
    """``-log(1 - p)``: the expected number of seizures that makes ``p`` the chance of at least one."""
    return -np.log1p(-np.clip(np.asarray(p, dtype=float), 0.0, 1.0 - 1e-12))


def risk_codes(p: np.ndarray | float, climatology: np.ndarray | float) -> np.ndarray:
    """Risk level codes (0 low, 1 medium, 2 high) of probabilities ``p`` against ``climatology``.

    ``climatology`` (a number, or one per forecast) is the chance of at least one seizure in a
    window of the same horizon, from the patient's history.
    """
    clim = np.asarray(climatology, dtype=float)
    if not np.all((clim > 0.0) & (clim < 1.0)):
        raise ValueError(f"climatology must be probabilities strictly between 0 and 1, got {climatology}")
    ratio = hazard(p) / hazard(clim)
    return np.where(ratio >= HIGH_RATIO, 2, np.where(ratio <= 1.0 / HIGH_RATIO, 0, 1)).astype(np.int8)


@dataclass(frozen=True)
class RiskForecast:
    """One issued forecast.

    Parameters
    ----------
    start : float
        Start of the window it is for, seconds since the Unix epoch (UTC).
    horizon_s : float
        Length of that window in seconds.
    probability : float
        Probability of at least one seizure in the window.
    level : str
        One of :data:`RISK_LEVELS`.
    climatology : float
        The patient's climatological probability for the same horizon (what "medium" centres on).
    forecaster : str
        Name of the forecaster that issued it.
    issued_at : float
        When it was issued (the end of the data it was trained on), seconds since the epoch.
    """

    start: float
    horizon_s: float
    probability: float
    level: str
    climatology: float
    forecaster: str
    issued_at: float

    def __post_init__(self) -> None:
        if self.level not in RISK_LEVELS:
            raise ValueError(f"level must be one of {RISK_LEVELS}, got {self.level!r}")
        if not (0.0 <= self.probability <= 1.0) or math.isnan(self.probability):
            raise ValueError(f"probability must be in [0, 1], got {self.probability}")

    @property
    def horizon(self) -> str:
        """The horizon's label, e.g. ``"24h"``."""
        return horizon_label(self.horizon_s)
