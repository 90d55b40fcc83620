"""Exports of a review: reviewed events as SzCORE ``events.tsv`` and a summary (PNG + HTML).

Uses matplotlib's Agg backend only (no Qt, no screen).
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from ..archive import Archive
from ..archive.review import ReviewItem, review_items, seizures
from ..events import Annotation
from ..io import write_events_tsv
from ..report.numbers import Period, hours_per_day


def reviewed_events(archive: Archive) -> list[Annotation]:
    """Confirmed seizures of a review, one per review item (:mod:`eegmon.archive.review`), by onset.

    A seizure found by several detectors, or both detected and annotated, is one event: the item's
    span, label and best probability. Annotations from an import (ground truth, diary) count once a
    reviewer confirmed them; rejected and unreviewed items are left out, as are non-seizure labels.
    """
    return seizures(review_items(archive))


def export_events_tsv(archive: Archive, path: str | os.PathLike) -> Path:
    """Write the confirmed seizures (:func:`reviewed_events`) as SzCORE ``events.tsv``; return the path."""
    path = Path(path)
    write_events_tsv(path, reviewed_events(archive), archive.start, archive.stop - archive.start)
    return path


def _period(archive: Archive) -> Period:
    """The whole recording as a span in the patient's time zone (``Archive.time_zone``)."""
    return Period(archive.start, max(archive.stop, archive.start + 1e-6), "", ZoneInfo(archive.time_zone))


def summary_table(archive: Archive) -> list[dict]:
    """Per-day counts (the patient's local days): confirmed seizures, detected items confirmed/rejected/unreviewed,
    hours recorded.

    Counts are of review items: an event found by several detectors counts once.
    """
    return _summary_rows(archive, _period(archive), review_items(archive))


def _summary_rows(archive: Archive, period: Period, items: list[ReviewItem]) -> list[dict]:
    rows = {d: {"day": d.isoformat(), "seizures": 0, "confirmed": 0, "rejected": 0, "unreviewed": 0,
                "hours": h} for d, h in hours_per_day(archive, period).items()}
    for ev in seizures(items):
        rows[period.day(ev.onset)]["seizures"] += 1
    for item in items:
        day = period.day(item.onset)
        if item.kind == "detection" and day in rows:
            rows[day][item.status] += 1
    return list(rows.values())


def _figure_png(rows: list[dict], events: Iterable[Annotation], period: Period) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    days = [r["day"] for r in rows]
    ax1.bar(np.arange(len(days)), [r["seizures"] for r in rows], color="tab:red")
    step = max(1, len(days) // 10)
    ax1.set_xticks(np.arange(len(days))[::step], [d[5:] for d in days][::step], rotation=45, ha="right")
    ax1.set_ylabel("confirmed seizures")
    zone = str(period.zone)
    ax1.set_title(f"Seizures per day ({zone})")
    local = [period.local(e.onset) for e in events]
    hours = [t.hour + t.minute / 60 for t in local]
    ax2.hist(hours, bins=np.arange(25), color="tab:blue")
    ax2.set_xlim(0, 24)
    ax2.set_xticks([0, 6, 12, 18, 24])
    ax2.set_xlabel(f"hour of day ({zone})")
    ax2.set_title("Time of day")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def export_summary(archive: Archive, folder: str | os.PathLike, *, stem: str = "review_summary") -> tuple[Path, Path]:
    """Write ``<stem>.png`` (seizures per day, time-of-day histogram) and ``<stem>.html`` (the same plot and
    the per-day table) into ``folder``; return both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    period = _period(archive)
    items = review_items(archive)  # grouped once for the table and the seizures
    rows = _summary_rows(archive, period, items)
    events = seizures(items)
    png = _figure_png(rows, events, period)
    png_path, html_path = folder / f"{stem}.png", folder / f"{stem}.html"
    png_path.write_bytes(png)
    reviewers = Counter(e.reviewer for e in [*archive.detections(), *archive.annotations()] if e.reviewer)
    head = ["day", "hours", "seizures", "confirmed", "rejected", "unreviewed"]
    body = "\n".join("<tr>" + "".join(f"<td>{r[h]:.1f}</td>" if h == "hours" else f"<td>{r[h]}</td>" for h in head)
                     + "</tr>" for r in rows)

    doc = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Review summary: {html.escape(str(archive.path))}</title>
<style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;text-align:right}}</style></head><body>
<h1>Review summary</h1>
<p>Archive {html.escape(str(archive.path))}; recording {period.local(archive.start):%Y-%m-%d %H:%M} to
{period.local(archive.stop):%Y-%m-%d %H:%M} ({html.escape(str(period.zone))}); {len(events)} confirmed seizure(s);
reviewers: {html.escape(', '.join(f'{k} ({v})' for k, v in reviewers.items()) or 'none')}.</p>
<img alt="seizures per day and time of day" src="data:image/png;base64,{base64.b64encode(png).decode()}">
<table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>
{body}
</table></body></html>
"""
    html_path.write_text(doc, encoding="utf-8")
    return png_path, html_path
