"""Stream times (seconds since the epoch) as local clock text in the patient's time zone.

Caregivers read times in the home's zone (``[patient] time_zone`` of the alert policy), never
raw epoch seconds; the zone is always shown (``CET``, ``UTC``) so that a log read elsewhere is
not misread.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo


def local_time(t: float, zone: str | None = None, fmt: str = "%Y-%m-%d %H:%M:%S %Z") -> str:
    """``t`` (s since the epoch) as text in the IANA zone ``zone`` (None: UTC), with ``strftime`` format ``fmt``.

    A time that is not finite (no sample yet) is returned as is, since it has no clock time.
    """
    if not math.isfinite(t):
        return str(t)
    return dt.datetime.fromtimestamp(t, ZoneInfo(zone or "UTC")).strftime(fmt)
