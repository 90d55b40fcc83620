"""The numbers of the monthly report: seizures, review, detectors, diary agreement and coverage.

Every count is of review items (:mod:`eegmon.archive.review`), so a seizure found by several
detectors, or detected and annotated, is one seizure. Days are the patient's local days.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from ..archive.archive import check_time_zone
from ..archive.review import ReviewItem, review_items
from ..errors import EegmonError
from ..forecast.cycles import PeriodSearch, candidate_periods

#: A diary entry and an EEG seizure this close (minutes) are the same seizure: patients note times late.
DIARY_TOLERANCE_MIN = 60.0
#: A multi-day cycle is shown when its corrected p-value is below this.
CYCLE_P = 0.05
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Period:
    """The report's span: a month (or the whole recording) in a time zone."""

    start: float
    stop: float
    label: str
    zone: ZoneInfo

    def local(self, t: float) -> dt.datetime:
        """``t`` (seconds since the epoch) as an aware datetime in the period's zone."""
        return dt.datetime.fromtimestamp(t, self.zone)

    def day(self, t: float) -> dt.date:
        """The local date of ``t``."""
        return self.local(t).date()

    def days(self) -> list[dt.date]:
        """Every local date of the span."""
        first, last = self.day(self.start), self.day(self.stop - 1e-6)
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def report_period(archive, month: str | None, zone: ZoneInfo) -> Period:
    """The local month ``YYYY-MM`` (None: the recording's last month) as a span; it must hold recording."""
    if month is None:
        last = dt.datetime.fromtimestamp(archive.stop - 1e-6, zone)
        month = f"{last.year:04d}-{last.month:02d}"
    m = _MONTH.fullmatch(month)
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise EegmonError(f"--month must be YYYY-MM (e.g. 2025-01), got {month!r}.")
    year, mon = int(m.group(1)), int(m.group(2))
    start = dt.datetime(year, mon, 1, tzinfo=zone)
    stop = dt.datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=zone)
    if stop.timestamp() <= archive.start or start.timestamp() >= archive.stop:
        first = dt.datetime.fromtimestamp(archive.start, zone)
        last = dt.datetime.fromtimestamp(archive.stop - 1e-6, zone)
        raise EegmonError(f"the recording has nothing in {month}: it runs from {first:%Y-%m-%d} to {last:%Y-%m-%d}.",
                          archive.path)
    return Period(start.timestamp(), stop.timestamp(), f"{start:%B %Y}", zone)


def hours_per_day(archive, period: Period) -> dict[dt.date, float]:
    """Hours of signal the archive holds on each local day of ``period``."""
    per_day = dict.fromkeys(period.days(), 0.0)
    for seg in archive.segments:
        t, end = max(seg.start, period.start), min(seg.stop, period.stop)
        while t < end:
            day = period.day(t)
            nxt = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), period.zone).timestamp()
            per_day[day] += (min(end, nxt) - t) / 3600
            t = min(end, nxt)
    return per_day


def _coverage(archive, period: Period) -> dict:
    """Hours recorded per local day, and the gaps."""
    per_day = hours_per_day(archive, period)
    recorded = sum(per_day.values())
    span_h = (min(period.stop, archive.stop) - max(period.start, archive.start)) / 3600
    gaps = [(max(a, period.start), min(b, period.stop)) for a, b in archive.gaps
            if a < period.stop and b > period.start]
    return {"recorded_hours": round(recorded, 3), "span_hours": round(span_h, 3),
            "fraction": round(recorded / span_h, 4) if span_h > 0 else 0.0,
            "gaps": len(gaps), "longest_gap_hours": round(max((b - a for a, b in gaps), default=0.0) / 3600, 3),
            "per_day": [{"day": d.isoformat(), "hours": round(h, 3)} for d, h in per_day.items()]}


def _is_eeg(item: ReviewItem) -> bool:
    """A seizure seen in the EEG: by a detector or an annotation other than the diary."""
    return any(k == "detection" or ev.source != "diary" for k, ev in item.members)


def _diary(items: list[ReviewItem], entries: list[float], period: Period, segments) -> dict | None:
    """Diary vs EEG: confirmed EEG seizures nobody noted, and diary entries with no EEG seizure near them.

    Entries at times nothing was recorded cannot be compared: they are counted apart (``not_recorded``).
    """
    if not entries:
        return None
    eeg = [it for it in items if it.status == "confirmed" and _is_eeg(it)]
    tol = DIARY_TOLERANCE_MIN * 60
    recorded = [t for t in entries if any(seg.start - tol <= t <= seg.stop + tol for seg in segments)]
    n_all, entries = len(entries), recorded

    def near(t: float, it: ReviewItem) -> bool:
        return it.onset - tol <= t <= it.offset + tol

    unnoticed = [it.onset for it in eeg if not any(near(t, it) for t in entries)]
    alone = [t for t in entries if not any(near(t, it) for it in eeg)]

    def iso(ts: list[float]) -> list[str]:
        return [period.local(t).isoformat(timespec="minutes") for t in ts]
    return {"entries": len(entries), "not_recorded": n_all - len(entries), "tolerance_min": DIARY_TOLERANCE_MIN,
            "matched": len(entries) - len(alone),
            "unnoticed": len(unnoticed), "unnoticed_onsets": iso(unnoticed),
            "without_eeg": len(alone), "without_eeg_onsets": iso(alone)}


def _detectors(items: list[ReviewItem], recorded_h: float) -> list[dict]:
    """Each detector against the reviewer: items found, confirmed, rejected, precision, sensitivity, FA/24 h."""
    confirmed_total = sum(it.status == "confirmed" for it in items)
    names = sorted({name for it in items for name in it.found_by})
    out = []
    for name in names:
        found = [it for it in items if name in it.found_by]
        c = sum(it.status == "confirmed" for it in found)
        r = sum(it.status == "rejected" for it in found)
        out.append({"detector": name, "found": len(found), "confirmed": c, "rejected": r,
                    "unreviewed": len(found) - c - r,
                    "precision": round(c / (c + r), 4) if c + r else None,
                    "sensitivity": round(c / confirmed_total, 4) if confirmed_total else None,
                    "fp_per_24h": round(r / recorded_h * 24, 3) if recorded_h > 0 else None})
    return out


def _cycle(archive, zone: ZoneInfo) -> dict:
    """The most phase-locked multi-day period of all confirmed seizures of the archive (not only the month's)."""
    onsets = np.array(sorted(it.onset for it in review_items(archive) if it.is_seizure and it.status == "confirmed"))
    span = archive.stop - archive.start
    period, r, p = PeriodSearch(candidate_periods()).best(onsets, span)
    shown = period is not None and p < CYCLE_P
    phases = ((onsets - archive.start) / (period * 86400.0) % 1.0).round(4).tolist() if shown else []
    return {"period_days": round(period, 2) if shown else None, "r": round(r, 4), "p": round(p, 4),
            "seizures": int(onsets.size), "history_days": round(span / 86400, 2), "phases": phases}


def report_numbers(archive, month: str | None = None, *, time_zone: str = "UTC",
                   diary: list[float] | None = None) -> dict:
    """The monthly report's numbers (the report's JSON).

    Parameters
    ----------
    archive : Archive
        The reviewed archive.
    month : str | None
        ``YYYY-MM`` in the patient's time zone; None: the recording's last month.
    time_zone : str
        IANA zone of the patient: days, hours of day and times are local.
    diary : list of float | None
        Seizure onsets from a diary (s since the epoch), besides the archive's annotations whose
        source is ``diary``.

    Returns
    -------
    dict
        ``archive``, ``month``, ``time_zone``, ``span``, ``coverage``, ``seizures``, ``review``,
        ``detectors``, ``diary`` (None without diary entries) and ``cycle``.
    """
    zone = ZoneInfo(check_time_zone(time_zone))
    period = report_period(archive, month, zone)
    # diary entries alone are not EEG seizures: they are compared with them (``diary``)
    items = [it for it in review_items(archive, period.start, period.stop)
             if it.is_seizure and _is_eeg(it) and period.start <= it.onset < period.stop]
    coverage = _coverage(archive, period)
    per_day = {d: Counter() for d in period.days()}
    for it in items:
        per_day[period.day(it.onset)][it.status] += 1
    confirmed = [it for it in items if it.status == "confirmed"]
    durations = np.array([it.duration for it in confirmed])
    hours = Counter(period.local(it.onset).hour for it in confirmed)
    reviewed = [it for it in items if it.status != "unreviewed"]
    reviewers = Counter(it.reviewer for it in reviewed if it.reviewer)
    entries = [ev.onset for ev in archive.annotations(period.start, period.stop)
               if ev.source == "diary" and ev.is_seizure and ev.status != "rejected"] + list(diary or [])
    return {
        "archive": str(archive.path.name), "month": f"{period.local(period.start):%Y-%m}",
        "title": period.label, "time_zone": time_zone,
        "span": {"start": period.local(period.start).isoformat(),
                 "stop": period.local(period.stop).isoformat(), "days": len(period.days())},
        "coverage": coverage,
        "seizures": {
            "confirmed": len(confirmed), "unreviewed": sum(it.status == "unreviewed" for it in items),
            "rejected": sum(it.status == "rejected" for it in items),
            "per_day": [{"day": d.isoformat(), "confirmed": c["confirmed"], "unreviewed": c["unreviewed"]}
                        for d, c in per_day.items()],
            "durations_s": {"median": float(np.median(durations)) if durations.size else None,
                            "min": float(durations.min()) if durations.size else None,
                            "max": float(durations.max()) if durations.size else None,
                            "values": [round(float(v), 2) for v in durations]},
            "by_hour": [hours.get(h, 0) for h in range(24)],
        },
        "review": {"items": len(items), "reviewed": len(reviewed),
                   "fraction": round(len(reviewed) / len(items), 4) if items else None,
                   "reviewers": dict(reviewers)},
        "detectors": _detectors(items, coverage["recorded_hours"]),
        "diary": _diary(items, sorted(t for t in entries if period.start <= t < period.stop), period,
                        archive.segments),
        "cycle": _cycle(archive, zone),
    }
