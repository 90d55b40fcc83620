"""The daily seizure-risk forecast message to caregivers who opt in (``daily_forecast = true``).

``eegmon forecast ARCHIVE --alerts POLICY`` computes the forecast for the next day (and hours)
and calls :func:`queue_daily_forecast`. The message goes through the alert outbox, so it is
delivered by the same worker with the same retries and backoff as seizure alerts and survives a
crash; but it is a *notice*, not a seizure event: it is never escalated, repeated or
acknowledged, carries no acknowledgement link and is not listed as a seizure (see
:mod:`eegmon.streaming.outbox`).

The text holds what the forecast holds and nothing else: no patient identifier is added.

Example of a message (``tz="Europe/Paris"``)::

    Seizure risk today: HIGH (62 %)

    Chance of at least one seizure: 62 % for Tue 1 Dec 2026 00:00 – Wed 2 Dec 00:00 (Europe/Paris time).
    Usual chance for such a day: 30 % (from the seizure history).
    HIGH means clearly above the usual chance.
    Higher risk: 03:00–06:00, 14:00–15:00.
    ...
"""

from __future__ import annotations

import logging
import math
import zoneinfo
from collections.abc import Sequence
from datetime import datetime, tzinfo

from eegmon._checks import check_number
from eegmon.errors import EegmonError
from eegmon.forecast.risk import RiskForecast
from eegmon.forecast.seizures import time_zone

from .outbox import Outbox
from .policy import Policy

logger = logging.getLogger("eegmon.streaming")

#: The kind of the outbox notice (part of its idempotency key; shown as the message's kind).
KIND = "forecast"

_MEANING = {"low": "LOW means clearly below the usual chance.",
            "medium": "MEDIUM means close to the usual chance.",
            "high": "HIGH means clearly above the usual chance."}
_CAVEAT = ("A forecast is a probability, not a certainty: a seizure can still happen on a low-risk day, and a "
           "high-risk day can pass without one. Keep to the usual care plan.")
_NOT_A_DEVICE = "eegmon is research software, not a medical device."
# hourly windows closer than this are one run ("03:00–06:00", not three separate hours)
_JOIN_S = 1.0


def _zone(tz: str) -> tzinfo:
    if not isinstance(tz, str) or not tz:
        raise EegmonError(f"tz must be an IANA time zone name such as 'Europe/Paris', got {tz!r}.")
    return time_zone(tz, "tz: ")


def _check_forecast(name: str, fc) -> RiskForecast:
    if not isinstance(fc, RiskForecast):
        raise EegmonError(f"{name} must be a RiskForecast, got {type(fc).__name__}.")
    if not (math.isfinite(fc.start) and math.isfinite(fc.horizon_s) and fc.horizon_s > 0):
        raise EegmonError(f"{name} must have a finite start and a positive horizon, got start={fc.start}, "
                          f"horizon_s={fc.horizon_s}.")
    return fc


def _pct(p: float) -> str:
    """``0.62`` -> ``"62 %"``; never "0 %" or "100 %" for a chance that is neither.

    Words, not "<" and ">": channels that take the text as HTML (apprise's email default) would
    read them as markup.
    """
    r = round(p * 100)
    if r == 0 and p > 0:
        return "under 1 %"
    if r == 100 and p < 1:
        return "over 99 %"
    return f"{r} %"


def _local(t: float, zone: tzinfo) -> datetime:
    return datetime.fromtimestamp(t, zone)


def _span(start: float, end: float, zone: tzinfo, *, ref_day: datetime | None, full_date: bool) -> str:
    """``start``–``end`` in local time; the zone's abbreviations only when the offset changes inside
    (a DST change: "02:00 CEST–04:00 CET", since 02:00 then happens twice)."""
    a, b = _local(start, zone), _local(end, zone)
    offsets_differ = a.utcoffset() != b.utcoffset()

    def fmt(d: datetime, with_year: bool) -> str:
        if full_date:
            text = f"{d:%a} {d.day} {d:%b}{f' {d.year}' if with_year else ''} {d:%H:%M}"
        elif ref_day is not None and d.date() != ref_day.date():
            text = f"{d:%a} {d:%H:%M}"  # an hour on another day than the forecast's first one
        else:
            text = f"{d:%H:%M}"
        return f"{text} {d.tzname()}" if offsets_differ else text

    sep = " – " if full_date else "–"
    return f"{fmt(a, True)}{sep}{fmt(b, False)}"


def _high_runs(hours: Sequence[RiskForecast]) -> list[tuple[float, float]]:
    runs: list[tuple[float, float]] = []
    for fc in sorted((h for h in hours if h.level == "high"), key=lambda h: h.start):
        end = fc.start + fc.horizon_s
        if runs and fc.start <= runs[-1][1] + _JOIN_S:
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        else:
            runs.append((fc.start, end))
    return runs


def forecast_text(day: RiskForecast, hours: Sequence[RiskForecast] = (), *, tz: str = "UTC") -> tuple[str, str]:
    """The title and body of the forecast message, for a caregiver to read at a glance.

    Parameters
    ----------
    day : RiskForecast
        The forecast for the day (normally the ``24h`` horizon) the message is about.
    hours : sequence of RiskForecast
        Shorter forecasts ahead (normally ``1h``); consecutive high ones are shown as one span
        ("Higher risk: 03:00–06:00"). Empty: no line about hours.
    tz : str
        IANA time zone the times are shown in (e.g. ``"Europe/Paris"``).

    Returns
    -------
    title : str
        E.g. ``"Seizure risk today: HIGH (62 %)"``.
    body : str
        The window in local time, the usual (climatological) chance, what the level means, the
        high-risk hours, and that a forecast is not a certainty and eegmon not a medical device.
    """
    day = _check_forecast("day", day)
    if isinstance(hours, RiskForecast | str) or not isinstance(hours, Sequence):
        raise EegmonError(f"hours must be a sequence of RiskForecast, got {type(hours).__name__}.")
    hours = [_check_forecast(f"hours[{i}]", h) for i, h in enumerate(hours)]
    zone = _zone(tz)

    level, pct = day.level.upper(), _pct(day.probability)
    when = "today" if day.horizon_s == 86400.0 else f"for the next {day.horizon_s / 3600:g} h"
    title = f"Seizure risk {when}: {level} ({pct})"

    window = _span(day.start, day.start + day.horizon_s, zone, ref_day=None, full_date=True)
    lines = [f"Chance of at least one seizure: {pct} for {window} ({tz} time)."]
    clim = day.climatology
    if isinstance(clim, float | int) and 0.0 < clim < 1.0:
        lines.append(f"Usual chance for such a {'day' if day.horizon_s == 86400.0 else 'window'}: {_pct(clim)} "
                     "(from the seizure history).")
    else:  # the stored form may carry NaN when the climatology was not kept
        lines.append("Usual chance: not known.")
    lines.append(_MEANING[day.level])
    if hours:
        runs = _high_runs(hours)
        ref = _local(day.start, zone)
        if runs:
            lines.append("Higher risk: " + ", ".join(_span(a, b, zone, ref_day=ref, full_date=False)
                                                     for a, b in runs) + ".")
        else:
            lines.append("No hour ahead stands out as higher risk.")
    lines += [_CAVEAT, _NOT_A_DEVICE]
    return title, "\n".join(lines)


def queue_daily_forecast(outbox: Outbox, policy: Policy, day: RiskForecast, hours: Sequence[RiskForecast] = (),
                         *, now: float | None = None, tz: str = "UTC") -> int:
    """Queue the forecast message to every contact with ``daily_forecast = true``.

    The message is stored in the outbox (its ``notices`` table) in one transaction and sent by the
    usual delivery worker (:class:`~eegmon.streaming.outbox.DeliveryWorker`), with the alerts'
    retries and backoff; it is never escalated or repeated and has no acknowledgement.

    Parameters
    ----------
    outbox : Outbox
        The alert outbox (normally the same file the monitor uses).
    policy : Policy
        Says who opted in; normally ``outbox.policy`` (channel URLs are taken from the outbox's
        policy when sending).
    day : RiskForecast
        The day's forecast; see :func:`forecast_text`.
    hours : sequence of RiskForecast
        The hourly forecasts ahead; see :func:`forecast_text`.
    now : float | None
        The time of queueing, s since the epoch (default: the outbox's clock).
    tz : str
        IANA time zone for the times in the text.

    Returns
    -------
    int
        How many messages were queued: one per channel of each opted-in contact, as for alerts.
        0 when nobody opted in, when this day window was queued before (the key is contact,
        channel and window start, so a second run the same day sends nothing new), or when the
        window is already over at ``now`` (a warning is logged).

    Notes
    -----
    A message not yet delivered when its window ends is marked ``expired`` and never sent.
    """
    if not isinstance(outbox, Outbox):
        raise EegmonError(f"outbox must be an Outbox, got {type(outbox).__name__}.")
    if not isinstance(policy, Policy):
        raise EegmonError(f"policy must be a Policy, got {type(policy).__name__}.")
    title, body = forecast_text(day, hours, tz=tz)  # validates day, hours and tz even if nobody opted in
    contacts = [c for c in policy.contacts if c.daily_forecast]
    if not contacts:
        return 0
    now = outbox.clock() if now is None else check_number("now", now)
    end = day.start + day.horizon_s
    if now >= end:
        logger.warning("the forecast window %s to %s is over: no forecast message queued",
                       datetime.fromtimestamp(day.start, zoneinfo.ZoneInfo("UTC")).isoformat(),
                       datetime.fromtimestamp(end, zoneinfo.ZoneInfo("UTC")).isoformat())
        return 0
    n = outbox.queue_notice(KIND, f"{round(day.start * 1000)}", contacts, title, body, expires=end, now=now)
    logger.info("%d forecast message(s) queued for %d contact(s)", n, len(contacts))
    return n
