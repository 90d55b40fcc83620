"""A self-contained HTML evaluation report with matplotlib figures embedded as PNG."""

from __future__ import annotations

import html
import math
import os
from collections import Counter
from pathlib import Path

from .._html import png, table
from ..events import to_datetime
from .scoring import MAX_EVENT, MERGE_GAP, TOLERANCE_END, TOLERANCE_START, RecordingScore
from .summary import METRICS, Evaluation

MAX_TIMELINES = 40
#: Colours and vertical offsets of the timeline bars; the y axis is inverted (recording 0 on top), so a
#: negative offset is drawn above the recording's bar. The legend is built from these.
TIMELINE_REF = {"color": "tab:green", "offset": -0.2, "label": "true seizures"}
TIMELINE_HYP = {"color": "tab:red", "offset": 0.2, "label": "detections"}
#: Longest recording name printed on a timeline; longer ones keep their start and end.
MAX_NAME = 56


def _short(name: str, limit: int = MAX_NAME) -> str:
    """``name``, shortened in the middle with an ellipsis beyond ``limit`` (BIDS names differ at both ends)."""
    if len(name) <= limit:
        return name
    keep = limit - 1
    return f"{name[: (keep + 1) // 2]}…{name[len(name) - keep // 2:]}"


def timelines_figure(ev: Evaluation):
    """One row per recording (the first :data:`MAX_TIMELINES`): its span, true seizures above, detections below.

    Events narrower than a pixel are widened to a visible width (1/400 of the longest recording).
    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    recs = ev.recordings[:MAX_TIMELINES]
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(recs) + 1.8), layout="constrained")
    longest = max((r.duration for r in recs), default=3600.0) / 3600
    visible = longest / 400  # about two pixels of the drawn figure
    for i, r in enumerate(recs):
        ax.broken_barh([(0, r.duration / 3600)], (i - 0.06, 0.12), color="0.85")
        for events, style in ((r.ref, TIMELINE_REF), (r.hyp, TIMELINE_HYP)):
            spans = [(a / 3600, max((b - a) / 3600, visible)) for a, b in events]
            ax.broken_barh(spans, (i + style["offset"] - 0.08, 0.16), color=style["color"], label=style["label"])
    ax.set_yticks(range(len(recs)), [_short(r.name) for r in recs], fontsize=7)
    ax.set_ylim(len(recs) - 0.5, -0.5)  # inverted: the first recording on top
    ax.set_xlim(0, longest * 1.01)
    ax.set_xlabel("hours from recording start")

    def where(style) -> str:
        return "above" if style["offset"] < 0 else "below"

    ax.set_title(f"{TIMELINE_REF['label']} ({where(TIMELINE_REF)} each recording's grey bar) and "
                 f"{TIMELINE_HYP['label']} ({where(TIMELINE_HYP)})")
    handles = [Patch(color=st["color"], label=f"{st['label']} ({where(st)} the grey bar)")
               for st in (TIMELINE_REF, TIMELINE_HYP)]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return fig


def latency_figure(ev: Evaluation):
    """Histogram of the detection latencies; says so when no seizure was detected. Returns the Figure."""
    import matplotlib.pyplot as plt

    lat = ev.latencies()
    fig, ax = plt.subplots(figsize=(6, 3))
    if lat.size:
        ax.hist(lat, bins=min(30, max(5, lat.size // 2)), color="tab:blue")
    else:
        ax.text(0.5, 0.5, "no seizure was detected", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_xlabel("detection latency (s; negative = before the annotated onset)")
    ax.set_ylabel("seizures")
    fig.tight_layout()
    return fig


def false_alarm_onsets(r: RecordingScore) -> list[float]:
    """Onsets (s from the recording start) of the false alarms SzCORE counts in ``r.event.fp``.

    As ``timescoring`` counts them: hypothesis events merged when closer than 90 s and split at
    300 s, that overlap no detected reference seizure widened by 30 s before and 60 s after. (A
    900-s detection over a seizure is 1 true and 2 false detections; a count of the raw
    detections that miss every seizure would show none.)
    """
    from timescoring import scoring
    from timescoring.annotations import Annotation

    n10 = int(round(r.duration * 10))
    params = scoring.EventScoring.Parameters(toleranceStart=TOLERANCE_START, toleranceEnd=TOLERANCE_END,
                                             minOverlap=0, maxEventDuration=MAX_EVENT,
                                             minDurationBetweenEvents=MERGE_GAP)
    ev = scoring.EventScoring(Annotation(r.ref, 10, n10), Annotation(r.hyp, 10, n10), params)
    return [float(a) for a, b in ev.hyp.events
            if not ev.tpMask[round(a * ev.fs):round(b * ev.fs)].any()]


def false_alarms_figure(ev: Evaluation):
    """False alarms per calendar day (UTC) over the recorded days, or a clear "no false alarms". Returns the Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    per_day: Counter = Counter()
    hours_per_day: Counter = Counter()
    for r in ev.recordings:
        origin = r.start if r.start is not None else 0.0
        for a in false_alarm_onsets(r):
            per_day[to_datetime(origin + a).date()] += 1
        t = 0.0
        while t < r.duration:  # recorded hours on each calendar day
            day = to_datetime(origin + t).date()
            step = min(r.duration - t, 86400 - (origin + t) % 86400)
            hours_per_day[day] += step / 3600
            t += step
    days = sorted(hours_per_day)
    total = sum(per_day.values())
    fig, ax = plt.subplots(figsize=(9, 3.2))
    counts = [per_day[d] for d in days]
    ax.bar(range(len(days)), counts, color="tab:red")
    if total:
        ax.set_ylim(0, max(counts) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.text(0.5, 0.5, f"no false alarms in {sum(hours_per_day.values()):.1f} recorded hours",
                ha="center", va="center", transform=ax.transAxes, fontsize=11)
    every = max(1, math.ceil(len(days) / 40))  # at most 40 day labels
    ax.set_xticks(range(0, len(days), every), [str(d) for d in days[::every]], rotation=60, fontsize=7)
    ax.set_xlim(-0.6, len(days) - 0.4)
    ax.set_ylabel("false alarms")
    ax.set_title(f"false alarms per calendar day (UTC), {total} in all"
                 + ("; recordings without a start time count from 1970-01-01"
                    if any(r.start is None for r in ev.recordings) else ""))
    fig.tight_layout()
    return fig


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
        "<h2>Timelines</h2>", png(timelines_figure(ev)),
        "<h2>Detection latency</h2>", png(latency_figure(ev)),
        "<h2>False alarms per day</h2>", png(false_alarms_figure(ev)),
        "<p><em>eegmon is research software, not a certified medical device.</em></p></body></html>",
    ]
    Path(path).write_text("\n".join(parts), encoding="utf-8")


__all__ = ["false_alarm_onsets", "false_alarms_figure", "latency_figure", "timelines_figure", "write_report"]
