"""SzCORE scoring of one recording (through ``timescoring``), with detection latency added.

Event scoring follows SzCORE (Dan et al. 2024) with its defaults: a reference event is detected
when a hypothesis overlaps it extended by 30 s before and 60 s after; events closer than 90 s
are merged and events longer than 300 s are split (both in reference and hypothesis); a
hypothesis event that overlaps no extended reference event is a false positive. Sample scoring
compares 1-s masks. ``timescoring`` (the SzCORE reference implementation) does the counting;
eegmon adds the latency of each detected seizure and pools recordings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: SzCORE defaults, in seconds.
TOLERANCE_START = 30.0
TOLERANCE_END = 60.0
MERGE_GAP = 90.0
MAX_EVENT = 300.0


@dataclass(frozen=True)
class Counts:
    """Counts behind the metrics of one recording or of a pool of them."""

    tp: float = 0.0
    fp: float = 0.0
    n_ref: float = 0.0
    n_hyp: float = 0.0
    seconds: float = 0.0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.n_ref + other.n_ref, self.n_hyp + other.n_hyp,
                      self.seconds + other.seconds)

    def metrics(self) -> dict[str, float | None]:
        """Sensitivity, precision, F1 and false positives per 24 h (None where undefined)."""
        sens = self.tp / self.n_ref if self.n_ref else None
        prec = self.tp / (self.tp + self.fp) if (self.tp + self.fp) else None
        denom = 2 * self.tp + self.fp + (self.n_ref - self.tp)
        f1 = 2 * self.tp / denom if denom else None
        fp_day = self.fp / (self.seconds / 86400.0) if self.seconds else None
        return {"sensitivity": sens, "precision": prec, "f1": f1, "fp_per_24h": fp_day}


@dataclass(frozen=True)
class RecordingScore:
    """Scores of one recording."""

    name: str
    subject: str
    duration: float
    start: float | None
    event: Counts
    sample: Counts
    latencies: list[float] = field(default_factory=list)
    ref: list[tuple[float, float]] = field(default_factory=list)
    hyp: list[tuple[float, float]] = field(default_factory=list)


def _clip(events: Sequence[tuple[float, float]], duration: float) -> list[tuple[float, float]]:
    out = []
    for a, b in sorted(events):
        a, b = max(0.0, a), min(duration, b)
        if b > a:
            out.append((a, b))
    return out


def _merge(events: list[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in events:
        if merged and a - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def detection_latencies(
    ref: Sequence[tuple[float, float]], hyp: Sequence[tuple[float, float]],
    *, tolerance_start: float = TOLERANCE_START, tolerance_end: float = TOLERANCE_END, merge_gap: float = MERGE_GAP,
) -> list[float]:
    """Latency (s) of each detected reference seizure: first hypothesis time in its window minus its onset.

    Reference events are merged as SzCORE merges them; a seizure is detected when a hypothesis
    overlaps ``[onset - tolerance_start, offset + tolerance_end]``. A detection that starts before
    the onset (within the tolerance) has a negative latency.
    """
    latencies = []
    for onset, offset in _merge(sorted(ref), merge_gap):
        lo, hi = onset - tolerance_start, offset + tolerance_end
        starts = [max(a, lo) for a, b in hyp if a < hi and b > lo]
        if starts:
            latencies.append(min(starts) - onset)
    return latencies


def score_recording(
    ref: Sequence[tuple[float, float]], hyp: Sequence[tuple[float, float]], duration: float,
    *, name: str = "", subject: str = "", start: float | None = None,
) -> RecordingScore:
    """Score one recording as SzCORE does.

    Parameters
    ----------
    ref, hyp : sequence of (start, stop)
        Seizure events in seconds from the recording start; parts outside ``[0, duration]`` are cut.
    duration : float
        Recording duration in seconds (> 0).
    name, subject : str
        Labels carried into the result.
    start : float | None
        Absolute recording start (s since the epoch), if known; used to place false alarms on days.

    Returns
    -------
    RecordingScore
    """
    from timescoring import scoring
    from timescoring.annotations import Annotation

    if not duration > 0:
        raise ValueError(f"duration must be > 0 s, got {duration}")
    ref_c, hyp_c = _clip(ref, duration), _clip(hyp, duration)
    n10 = int(round(duration * 10))
    ref_a, hyp_a = Annotation(ref_c, 10, n10), Annotation(hyp_c, 10, n10)
    params = scoring.EventScoring.Parameters(toleranceStart=TOLERANCE_START, toleranceEnd=TOLERANCE_END,
                                             minOverlap=0, maxEventDuration=MAX_EVENT,
                                             minDurationBetweenEvents=MERGE_GAP)
    ev = scoring.EventScoring(ref_a, hyp_a, params)
    sa = scoring.SampleScoring(ref_a, hyp_a, fs=1)
    event = Counts(tp=float(ev.tp), fp=float(ev.fp), n_ref=float(ev.refTrue), n_hyp=float(len(ev.hyp.events)),
                   seconds=duration)
    sample = Counts(tp=float(sa.tp), fp=float(sa.fp), n_ref=float(sa.refTrue), n_hyp=float(np.sum(sa.hyp.mask)),
                    seconds=duration)
    return RecordingScore(name=name, subject=subject, duration=duration, start=start, event=event, sample=sample,
                          latencies=detection_latencies(ref_c, hyp_c), ref=ref_c, hyp=hyp_c)


def false_alarms(score: RecordingScore) -> list[tuple[float, float]]:
    """Hypothesis events overlapping no reference event widened by the SzCORE tolerances."""
    windows = [(a - TOLERANCE_START, b + TOLERANCE_END) for a, b in score.ref]
    return [(a, b) for a, b in score.hyp if not any(a < hi and b > lo for lo, hi in windows)]
