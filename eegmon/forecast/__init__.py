"""Seizure-risk forecasting from seizure times and their cycles (``eegmon forecast``)."""

from .risk import HORIZONS, RISK_LEVELS, RiskForecast, risk_codes
from .store import latest_forecast, store_forecasts, stored_forecasts

__all__ = ["HORIZONS", "RISK_LEVELS", "RiskForecast", "latest_forecast", "risk_codes", "store_forecasts",
           "stored_forecasts"]
