"""A self-contained HTML evaluation report with matplotlib figures embedded as PNG."""

from __future__ import annotations

import html
import os
from collections import Counter
from pathlib import Path

from .._html import png, table
from ..events import to_datetime
from .scoring import false_alarms
from .summary import METRICS, Evaluation

MAX_TIMELINES = 40


def _timelines(ev: Evaluation):
    import matplotlib.pyplot as plt

    recs = ev.recordings[:MAX_TIMELINES]
    fig, ax = plt.subplots(figsize=(11, 0.35 * len(recs) + 1.2))
    for i, r in enumerate(recs):
        hours = r.duration / 3600
        ax.plot([0, hours], [i, i], color="0.85", lw=6, solid_capstyle="butt")
        for a, b in r.ref:
            ax.plot([a / 3600, max(b, a + 30) / 3600], [i + 0.15] * 2, color="tab:green", lw=5, solid_capstyle="butt")
        for a, b in r.hyp:
            ax.plot([a / 3600, max(b, a + 30) / 3600], [i - 0.15] * 2, color="tab:red", lw=5, solid_capstyle="butt")
    ax.set_yticks(range(len(recs)), [r.name[-40:] for r in recs], fontsize=7)
    ax.set_xlabel("hours from recording start")
    ax.set_title("true seizures (green, above) and detections (red, below)")
    ax.invert_yaxis()
    return png(fig)


def _latency_hist(ev: Evaluation):
    import matplotlib.pyplot as plt

    lat = ev.latencies()
    fig, ax = plt.subplots(figsize=(6, 3))
    if lat.size:
        ax.hist(lat, bins=min(30, max(5, lat.size // 2)), color="tab:blue")
    ax.set_xlabel("detection latency (s; negative = before the annotated onset)")
    ax.set_ylabel("seizures")
    return png(fig)


def _fa_per_day(ev: Evaluation):
    import matplotlib.pyplot as plt

    per_day: Counter = Counter()
    hours_per_day: Counter = Counter()
    for r in ev.recordings:
        origin = r.start if r.start is not None else 0.0
        for a, _ in false_alarms(r):
            per_day[to_datetime(origin + a).date()] += 1
        t = 0.0
        while t < r.duration:  # recorded hours on each calendar day
            day = to_datetime(origin + t).date()
            step = min(r.duration - t, 86400 - (origin + t) % 86400)
            hours_per_day[day] += step / 3600
            t += step
    days = sorted(hours_per_day)
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.bar(range(len(days)), [per_day[d] for d in days], color="tab:red")
    ax.set_xticks(range(len(days)), [str(d) for d in days], rotation=60, fontsize=7)
    ax.set_ylabel("false alarms")
    ax.set_title("false alarms per calendar day (UTC; days without dateTime count from 1970-01-01)")
    return png(fig)


def write_report(ev: Evaluation, path: str | os.PathLike, *, title: str = "eegmon evaluation") -> None:
    """Write the HTML report: metrics, per-subject table, timelines, latency histogram, false alarms per day."""
    import matplotlib

    matplotlib.use("Agg")
    doc = ev.details(n_boot=1000)
    iqr = doc["latency_iqr_s"]
    rows = []
    for kind in ("event", "sample"):
        for m in METRICS:
            rows.append([kind, m, doc[kind][m], doc["ci95_bootstrap_over_subjects"][kind][m]])
    rows.append(["event", "latency median (IQR) s", doc["event"]["latency_median_s"], tuple(iqr) if iqr else None])
    nedc_rows = [[name, *(doc["nedc"][name][m] for m in METRICS)] for name in ("ovlp", "taes")]
    subj_rows = [[s["subject"], s["event"]["n_ref"], s["event"]["sensitivity"], s["event"]["precision"],
                  s["event"]["f1"], s["event"]["fp_per_24h"], s["event"]["latency_median_s"], s["event"]["hours"]]
                 for s in doc["per_subject"]]
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(ev.recordings)} recordings, {len(ev.subjects)} subjects, {doc['event']['hours']:.1f} h; "
        f"{doc['event']['n_ref']} reference seizures, {doc['event']['n_hyp']} detections. SzCORE scoring "
        "(tolerance 30 s before / 60 s after, merge 90 s, split 300 s; sample scoring at 1 s). "
        "Confidence intervals: 95 % bootstrap over subjects.</p>",
        "<h2>Metrics</h2>", table(["scoring", "metric", "value", "95 % CI"], rows),
        "<h2>NEDC conventions (TUSZ)</h2>", table(["scoring", *METRICS], nedc_rows),
        "<h2>Per subject</h2>",
        table(["subject", "seizures", "sensitivity", "precision", "F1", "FP/24h", "latency median s", "hours"],
               subj_rows),
        "<h2>Timelines</h2>", _timelines(ev),
        "<h2>Detection latency</h2>", _latency_hist(ev),
        "<h2>False alarms per day</h2>", _fa_per_day(ev),
        "<p><em>eegmon is research software, not a certified medical device.</em></p></body></html>",
    ]
    Path(path).write_text("\n".join(parts), encoding="utf-8")


__all__ = ["write_report"]
