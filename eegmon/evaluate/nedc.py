"""NEDC / TUSZ scoring conventions: OVLP (any-overlap) and TAES (time-aligned event scoring).

These are the conventions TUSZ users report with (Shah et al. 2021, "Objective evaluation
metrics for automatic classification of EEG events"); unlike SzCORE there is no tolerance
window, merging or splitting.

- OVLP: a reference event overlapping any hypothesis is a hit (TP), otherwise a miss; a
  hypothesis overlapping no reference event is a false alarm (FA).
- TAES: each reference event scores TP = min(1, overlapped time / its duration) and FN = 1 - TP;
  a hypothesis overlapping reference events adds FP = min(1, its time outside them / the duration
  of the first reference event it overlaps); a hypothesis overlapping none adds FP = 1.
"""

from __future__ import annotations

from collections.abc import Sequence

Events = Sequence[tuple[float, float]]


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def ovlp_counts(ref: Events, hyp: Events) -> tuple[float, float]:
    """(TP, FA) under the NEDC any-overlap convention."""
    tp = sum(any(_overlap(r, h) > 0 for h in hyp) for r in ref)
    fa = sum(not any(_overlap(r, h) > 0 for r in ref) for h in hyp)
    return float(tp), float(fa)


def taes_counts(ref: Events, hyp: Events) -> tuple[float, float]:
    """(TP, FP) under time-aligned event scoring; both can be fractional."""
    tp = 0.0
    for r in ref:
        if r[1] > r[0]:
            tp += min(1.0, sum(_overlap(r, h) for h in hyp) / (r[1] - r[0]))
    fp = 0.0
    for h in hyp:
        hits = [r for r in ref if _overlap(r, h) > 0]
        if not hits:
            fp += 1.0
            continue
        outside = (h[1] - h[0]) - sum(_overlap(r, h) for r in hits)
        first = hits[0]
        fp += min(1.0, max(outside, 0.0) / max(first[1] - first[0], 1e-9))
    return tp, fp
