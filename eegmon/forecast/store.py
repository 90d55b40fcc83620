"""Forecasts in the archive: one set of trends per horizon.

``eegmon forecast ARCHIVE`` stores, for each horizon (``1h``, ``24h``), the forecasts it issued
(the pseudo-prospective ones over the recording's past, then the next windows) as three trends
with the same window start times:

- ``forecast:<h>`` the probability of at least one seizure in the window,
- ``forecast:<h>:level`` the risk level code (0 low, 1 medium, 2 high; :data:`RISK_LEVELS`),
- ``forecast:<h>:climatology`` the patient's climatological probability it was judged against,

with the forecaster's name as the attribute ``forecaster`` of ``forecast:<h>``. A forecast is
issued at the start of its window from the seizures before it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..archive import Archive
from ..errors import EegmonError
from .risk import RISK_LEVELS, RiskForecast, horizon_label, risk_codes

TREND_PREFIX = "forecast:"


def trend_names(horizon: str) -> tuple[str, str, str]:
    """Names of the probability, level and climatology trends of ``horizon`` (e.g. ``"24h"``)."""
    base = f"{TREND_PREFIX}{horizon}"
    return base, f"{base}:level", f"{base}:climatology"


def store_forecasts(archive: Archive, forecasts: Sequence[RiskForecast]) -> None:
    """Replace the stored forecasts of every horizon present in ``forecasts``."""
    by_horizon: dict[str, list[RiskForecast]] = {}
    for fc in forecasts:
        by_horizon.setdefault(fc.horizon, []).append(fc)
    for horizon, items in by_horizon.items():
        items.sort(key=lambda f: f.start)
        times = np.array([f.start for f in items])
        prob_name, level_name, clim_name = trend_names(horizon)
        names = {f.forecaster for f in items}
        archive.write_trend(prob_name, times, np.array([f.probability for f in items]),
                            attrs={"forecaster": ",".join(sorted(names)), "horizon_s": str(items[0].horizon_s)})
        archive.write_trend(level_name, times, np.array([RISK_LEVELS.index(f.level) for f in items]))
        archive.write_trend(clim_name, times, np.array([f.climatology for f in items]))


def stored_forecasts(archive: Archive, horizon: str = "24h") -> list[RiskForecast]:
    """Every stored forecast of ``horizon``, oldest first (empty if none is stored)."""
    trends = archive.trends()
    prob_name, level_name, clim_name = trend_names(horizon)
    if prob_name not in trends:
        return []
    times, probs = trends[prob_name]
    clim = trends.get(clim_name, (times, np.full_like(probs, np.nan)))[1]
    if level_name in trends:
        levels = trends[level_name][1]
    elif np.all((clim > 0) & (clim < 1)):
        levels = risk_codes(probs, clim)
    else:
        raise EegmonError(f"the archive holds the forecast trend {prob_name!r} but neither its risk levels nor its "
                          "climatology: run 'eegmon forecast' on it again.", archive.path)
    attrs = archive.trend_attrs(prob_name)
    horizon_s = float(attrs.get("horizon_s", 0.0)) or _horizon_s(horizon)
    forecaster = attrs.get("forecaster", "")
    return [RiskForecast(start=float(t), horizon_s=horizon_s, probability=float(np.clip(p, 0.0, 1.0)),
                         level=RISK_LEVELS[int(lv)], climatology=float(c), forecaster=forecaster,
                         issued_at=float(t))
            for t, p, lv, c in zip(times, probs, levels, clim, strict=True)]


def latest_forecast(archive: Archive, horizon: str = "24h", now: float | None = None) -> RiskForecast | None:
    """The stored forecast whose window holds ``now`` (default: the last one stored), or None."""
    items = stored_forecasts(archive, horizon)
    if not items:
        return None
    if now is None:
        return items[-1]
    inside = [f for f in items if f.start <= now < f.start + f.horizon_s]
    return inside[-1] if inside else None


def _horizon_s(horizon: str) -> float:
    hours = float(horizon.rstrip("h"))
    horizon_label(hours * 3600.0)  # validates
    return hours * 3600.0
