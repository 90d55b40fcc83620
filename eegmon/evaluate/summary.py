"""Pooled and per-subject SzCORE metrics, latency, bootstrap confidence intervals and NEDC figures."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from functools import reduce
from operator import add
from typing import Any

import numpy as np

from .._logging import progress
from . import nedc
from .dataset import RecordingPair, collect
from .scoring import Counts, RecordingScore, score_recording

METRICS = ("sensitivity", "precision", "f1", "fp_per_24h")


def _pool(scores: list[RecordingScore], attr: str) -> Counts:
    return reduce(add, (getattr(s, attr) for s in scores), Counts())


def _event_block(scores: list[RecordingScore]) -> dict[str, Any]:
    counts = _pool(scores, "event")
    lat = [x for s in scores for x in s.latencies]
    return {
        **counts.metrics(),
        "latency_median_s": float(np.median(lat)) if lat else None,
        "n_ref": int(counts.n_ref),
        "n_hyp": int(counts.n_hyp),
        "hours": counts.seconds / 3600.0,
    }


def _sample_block(scores: list[RecordingScore]) -> dict[str, Any]:
    return _pool(scores, "sample").metrics()


@dataclass
class Evaluation:
    """The result of scoring a set of recordings."""

    recordings: list[RecordingScore]

    @property
    def subjects(self) -> dict[str, list[RecordingScore]]:
        """Recordings grouped by subject, in first-seen order."""
        groups: dict[str, list[RecordingScore]] = defaultdict(list)
        for r in self.recordings:
            groups[r.subject].append(r)
        return dict(groups)

    def to_json(self) -> dict[str, Any]:
        """The ``evaluate --json`` document, with exactly the keys of CONVENTIONS.md."""
        return {
            "event": _event_block(self.recordings),
            "sample": _sample_block(self.recordings),
            "per_subject": [{"subject": subj, "event": _event_block(rs), "sample": _sample_block(rs)}
                            for subj, rs in self.subjects.items()],
        }

    def latencies(self) -> np.ndarray:
        """Latencies (s) of all detected seizures."""
        return np.array([x for r in self.recordings for x in r.latencies], dtype=float)

    def latency_iqr(self) -> tuple[float, float] | None:
        """25th and 75th percentile of the latencies, None without detections."""
        lat = self.latencies()
        return (float(np.percentile(lat, 25)), float(np.percentile(lat, 75))) if lat.size else None

    def bootstrap(self, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, dict[str, Any]]:
        """Confidence intervals of the pooled metrics by resampling subjects with replacement.

        Returns ``{"event"|"sample": {metric: (low, high) or None}}``; None with fewer than two
        subjects or when the metric is undefined in most resamples.
        """
        groups = list(self.subjects.values())
        out: dict[str, dict[str, Any]] = {}
        for kind in ("event", "sample"):
            per_subject = [_pool(g, kind) for g in groups]
            out[kind] = dict.fromkeys(METRICS)
            if len(groups) < 2:
                continue
            rng = np.random.default_rng(seed)
            draws: dict[str, list[float]] = {m: [] for m in METRICS}
            for _ in range(n_boot):
                pick = rng.integers(0, len(groups), len(groups))
                metrics = reduce(add, (per_subject[i] for i in pick), Counts()).metrics()
                for m in METRICS:
                    if metrics[m] is not None:
                        draws[m].append(metrics[m])
            alpha = (1 - level) / 2
            for m in METRICS:
                if len(draws[m]) >= n_boot // 2:
                    out[kind][m] = (float(np.quantile(draws[m], alpha)), float(np.quantile(draws[m], 1 - alpha)))
        return out

    def nedc(self) -> dict[str, dict[str, float | None]]:
        """Pooled NEDC OVLP and TAES sensitivity, precision, F1 and false alarms per 24 h."""
        hours = sum(r.duration for r in self.recordings) / 3600.0
        n_ref = sum(len(r.ref) for r in self.recordings)
        out = {}
        for name, fn in (("ovlp", nedc.ovlp_counts), ("taes", nedc.taes_counts)):
            tp, fp = (sum(v) for v in zip(*(fn(r.ref, r.hyp) for r in self.recordings), strict=True))
            out[name] = Counts(tp=tp, fp=fp, n_ref=n_ref, seconds=hours * 3600).metrics()
        return out

    def details(self, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
        """Everything: the conventions document plus latency IQR, bootstrap CIs, NEDC and per recording."""
        iqr = self.latency_iqr()
        return {
            **self.to_json(),
            "latency_iqr_s": list(iqr) if iqr else None,
            "ci95_bootstrap_over_subjects": self.bootstrap(n_boot, seed),
            "nedc": self.nedc(),
            "per_recording": [{"recording": r.name, "subject": r.subject, "hours": r.duration / 3600,
                               "event": r.event.metrics(), "sample": r.sample.metrics(),
                               "latencies_s": r.latencies} for r in self.recordings],
        }


def evaluate_pairs(pairs: list[RecordingPair], *, quiet: bool = True) -> Evaluation:
    """Score already-paired recordings."""
    return Evaluation([score_recording(p.ref, p.hyp, p.duration, name=p.name, subject=p.subject, start=p.start)
                       for p in progress(pairs, desc="score", quiet=quiet, unit="rec")])


def evaluate(ref: str | os.PathLike, hyp: str | os.PathLike, *, quiet: bool = True) -> Evaluation:
    """Score hypothesis annotations against reference annotations (files or folders) as SzCORE does.

    Parameters
    ----------
    ref, hyp : path-like
        SzCORE ``events.tsv`` or TUSZ ``.csv_bi`` / per-channel ``.csv`` files, or folders of them
        (formats may be mixed) paired by relative path or recording name; see
        :func:`eegmon.evaluate.dataset.collect` for the rules.
    quiet : bool
        No progress bar.

    Returns
    -------
    Evaluation
        ``.to_json()`` gives the ``eegmon evaluate --json`` document.

    Raises
    ------
    EegmonError
        On unreadable, malformed or unpaired input (see :func:`eegmon.evaluate.dataset.collect`).
    """
    return evaluate_pairs(collect(ref, hyp), quiet=quiet)
