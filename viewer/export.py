"""Exports of a review: reviewed events as SzCORE ``events.tsv`` and a summary (PNG + HTML).

Uses matplotlib's Agg backend only (no Qt, no screen).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..archive import Archive
from ..archive.review import review_items, seizures
from ..events import Annotation, to_datetime
from ..io import write_events_tsv


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


def _days(archive: Archive) -> list[dt.date]:
    first, last = to_datetime(archive.start).date(), to_datetime(max(archive.stop - 1e-6, archive.start)).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def summary_table(archive: Archive) -> list[dict]:
    """Per-day counts (UTC days): confirmed seizures, detected items confirmed/rejected/unreviewed, hours recorded.

    Counts are of review items: an event found by several detectors counts once.
    """
    rows = {d: {"day": d.isoformat(), "seizures": 0, "confirmed": 0, "rejected": 0, "unreviewed": 0,
                "hours": 0.0} for d in _days(archive)}
    items = review_items(archive)
    for ev in seizures(items):
        rows[to_datetime(ev.onset).date()]["seizures"] += 1
    for item in items:
        day = to_datetime(item.onset).date()
        if item.kind == "detection" and day in rows:
            rows[day][item.status] += 1
    for seg in archive.segments:
        t = seg.start
        while t < seg.stop:
            day = to_datetime(t).date()
            end = min(seg.stop, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp())
            rows[day]["hours"] += (end - t) / 3600
            t = end
    return list(rows.values())


def _figure_png(rows: list[dict], events: Iterable[Annotation]) -> bytes:
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
    ax1.set_title("Seizures per day (UTC)")
    hours = [to_datetime(e.onset).hour + to_datetime(e.onset).minute / 60 for e in events]
    ax2.hist(hours, bins=np.arange(25), color="tab:blue")
    ax2.set_xlim(0, 24)
    ax2.set_xticks([0, 6, 12, 18, 24])
    ax2.set_xlabel("hour of day (UTC)")
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
    rows = summary_table(archive)
    events = reviewed_events(archive)
    png = _figure_png(rows, events)
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
<p>Archive {html.escape(str(archive.path))}; recording {to_datetime(archive.start):%Y-%m-%d %H:%M} to
{to_datetime(archive.stop):%Y-%m-%d %H:%M} UTC; {len(events)} confirmed seizure(s);
reviewers: {html.escape(', '.join(f'{k} ({v})' for k, v in reviewers.items()) or 'none')}.</p>
<img alt="seizures per day and time of day" src="data:image/png;base64,{base64.b64encode(png).decode()}">
<table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>
{body}
</table></body></html>
"""
    html_path.write_text(doc, encoding="utf-8")
    return png_path, html_path
