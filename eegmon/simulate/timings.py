"""Seizure times without signal (``eegmon simulate --timings-only``): ground truth for forecasting.

:func:`simulate_timings` draws, for a cohort of simulated patients, only *when* seizures happen over
a long span (a year takes milliseconds per patient); :func:`write_timings` writes them as one
SzCORE ``events.tsv`` per patient with every patient's parameters in ``timings.json``.

The model
---------
Times ``t`` are seconds since the Unix epoch, ``h`` the hour of the day in UTC.

*Patients with cycles* have the seizure rate of the signal simulator
(:func:`eegmon.simulate.timeline.seizure_rate`)::

    lambda(t) = r' * (1 + a * cos(2 pi (h - h0) / 24)) * (1 + b * cos(2 pi t / P + phi))

with a circadian strength ``a`` uniform in [0.5, 0.9], a peak hour ``h0`` uniform in [0, 24), a
multi-day period ``P`` log-uniform in [5, 45] days, a strength ``b`` uniform in [0.5, 0.9] and a
phase ``phi`` uniform in [0, 2 pi). Seizures also cluster: after each seizure drawn from
``lambda``, with probability ``c`` (uniform in [0.2, 0.4]) 1-3 more follow, each 30 min to 4 h
after the one before, so that a cluster lasts at most 12 h. ``r' = r / (1 + 2c)`` (2 is the mean
cluster size), so the clusters do not raise the mean rate above ``r``.

*Patients without cycles* are the null: a homogeneous Poisson process of rate ``r``, with no
circadian or multi-day cycle and no clustering. Nothing in their history predicts their next
seizure, so a forecaster must show no skill on them.

For everyone, two onsets are at least :data:`REFRACTORY_S` apart (the signal simulator's
``min_seizure_interval_s``): an onset closer than that to the last one kept is dropped. For a
patient without cycles the rate is raised to ``r / (1 - r * REFRACTORY_S / 86400)`` before the
drop, which makes the mean rate exactly ``r``; for a patient with cycles the drop removes a few
per cent more in the dense periods.

``r`` (per day) is ``seizures_per_day`` for everyone, or else drawn per patient log-uniform in
[0.15, 3] (about 50-1000 seizures a year). Whether subject ``k`` has cycles comes from a
golden-ratio sequence from a start drawn from the seed: ``(u + k * 0.618...) mod 1 <
cycles_fraction``. So about ``cycles_fraction`` of any number of subjects have cycles (within one
or two), spread over the numbering, and subject ``k`` does not depend on how many there are; its
own draws come from ``numpy.random.default_rng([seed, k])``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .._atomic import TEMP_MARKER, atomic_write
from .._checks import check_number
from ..errors import EegmonError
from ..events import Annotation, to_datetime
from ..io.events_tsv import write_events_tsv
from .config import SimulationConfig
from .timeline import DAY, seizure_rate
from .writer import _parse_start, open_out_dir

#: Minimum time (s) between two onsets, as the signal simulator's ``min_seizure_interval_s``.
REFRACTORY_S = SimulationConfig.min_seizure_interval_s
#: Duration (s) written for every seizure in events.tsv (forecasting uses the onsets only).
SEIZURE_DURATION_S = 60.0
#: Range of the per-patient rate (per day) drawn log-uniform when ``seizures_per_day`` is None.
RATE_RANGE = (0.15, 3.0)
_STRENGTH_RANGE = (0.5, 0.9)
_PERIOD_RANGE_DAYS = (5.0, 45.0)
_CLUSTER_PROB_RANGE = (0.2, 0.4)
_CLUSTER_EXTRA = (1, 3)
_CLUSTER_GAP_S = (REFRACTORY_S, 4 * 3600.0)
_GOLDEN = 0.6180339887498949
TIMINGS_JSON = "timings.json"


@dataclass(frozen=True, eq=False)
class SubjectTimings:
    """The simulated seizure times of one patient, with the parameters that made them.

    Attributes
    ----------
    subject : str
        ``sub-01``, ``sub-02``, ...
    onsets : ndarray of float64
        Seizure onsets, sorted, seconds since the Unix epoch (UTC), in ``[start, stop)``; read-only.
    start, stop : float
        The observed span, seconds since the Unix epoch.
    has_cycles : bool
        Whether the rate has cycles and clusters; False for the homogeneous Poisson null.
    rate_per_day : float
        Mean seizure rate ``r`` per day, before modulation.
    circadian_strength, circadian_peak_h : float
        ``a`` and ``h0`` (UTC hour of the highest rate); ``a`` is 0 without cycles.
    multiday_period_days : float | None
        ``P`` in days; None without cycles.
    multiday_strength, multiday_phase : float
        ``b`` and ``phi`` (radians, of ``2 pi t / P`` with ``t`` in seconds since the epoch); 0
        without cycles.
    cluster_prob : float
        ``c``, the probability that a seizure starts a cluster; 0 without cycles.
    refractory_s : float
        Minimum time between two onsets.
    seed : int
        The base seed; this subject's generator is ``default_rng([seed, k])`` for subject number k.
    """

    subject: str
    onsets: np.ndarray
    start: float
    stop: float
    has_cycles: bool
    rate_per_day: float
    circadian_strength: float
    circadian_peak_h: float
    multiday_period_days: float | None
    multiday_strength: float
    multiday_phase: float
    cluster_prob: float
    refractory_s: float
    seed: int

    def to_dict(self) -> dict:
        """The parameters as a JSON-ready dict, with the seizure count (the onsets are in events.tsv)."""
        return {
            "subject": self.subject, "n_seizures": int(self.onsets.size),
            "start": to_datetime(self.start).isoformat(), "start_unix_s": self.start, "stop_unix_s": self.stop,
            "has_cycles": self.has_cycles, "rate_per_day": self.rate_per_day,
            "circadian_strength": self.circadian_strength, "circadian_peak_h": self.circadian_peak_h,
            "multiday_period_days": self.multiday_period_days, "multiday_strength": self.multiday_strength,
            "multiday_phase_rad": self.multiday_phase, "cluster_prob": self.cluster_prob,
            "refractory_s": self.refractory_s, "seed": self.seed,
        }


def _refractory(onsets: np.ndarray, gap: float) -> np.ndarray:
    """Sorted ``onsets`` without those closer than ``gap`` to the last one kept."""
    if onsets.size < 2 or np.diff(onsets).min() >= gap:
        return onsets
    kept = [onsets[0]]
    for t in onsets[1:].tolist():
        if t - kept[-1] >= gap:
            kept.append(t)
    return np.asarray(kept)


def _clusters(rng: np.random.Generator, leads: np.ndarray, prob: float) -> np.ndarray:
    """The extra seizures that follow ``leads``: 1-3 after a share ``prob`` of them, 30 min to 4 h apart."""
    starts = leads[rng.uniform(size=leads.size) < prob]
    sizes = rng.integers(_CLUSTER_EXTRA[0], _CLUSTER_EXTRA[1] + 1, size=starts.size)
    gaps = rng.uniform(*_CLUSTER_GAP_S, size=(starts.size, _CLUSTER_EXTRA[1]))
    extra = starts[:, None] + np.cumsum(gaps, axis=1)
    return extra[np.arange(_CLUSTER_EXTRA[1]) < sizes[:, None]]


def _subject(k: int, name: str, has_cycles: bool, *, start: float, stop: float, seizures_per_day: float | None,
             seed: int) -> SubjectTimings:
    rng = np.random.default_rng([seed, k])
    # Every parameter is drawn whatever the options, so that a fixed rate or the absence of cycles
    # does not shift the rest of the subject's stream.
    rate = float(np.exp(rng.uniform(*np.log(RATE_RANGE))))
    if seizures_per_day is not None:
        rate = seizures_per_day
    a, b = rng.uniform(*_STRENGTH_RANGE, size=2)
    peak_h = rng.uniform(0.0, 24.0)
    period = float(np.exp(rng.uniform(*np.log(_PERIOD_RANGE_DAYS))))
    phase = rng.uniform(0.0, 2 * np.pi)
    cluster_prob = rng.uniform(*_CLUSTER_PROB_RANGE)
    span = stop - start
    if has_cycles:
        lead_rate = rate / (1 + cluster_prob * np.mean(_CLUSTER_EXTRA))
        cfg = replace(SimulationConfig(), circadian_strength=a, circadian_peak_h=peak_h, multiday_strength=b,
                      multiday_period_days=period)
        peak = lead_rate / DAY * (1 + a) * (1 + b)
        candidates = start + rng.uniform(0.0, span, rng.poisson(peak * span))
        leads = candidates[rng.uniform(0.0, peak, candidates.size) < seizure_rate(candidates, cfg, lead_rate, phase)]
        onsets = np.concatenate([leads, _clusters(rng, np.sort(leads), cluster_prob)])
    else:
        # raised so that after the refractory drop the mean interval is exactly 1 / rate
        boosted = rate / (1 - rate * REFRACTORY_S / DAY) / DAY
        onsets = start + rng.uniform(0.0, span, rng.poisson(boosted * span))
    # on the millisecond grid events.tsv holds, rounded down so that no onset reaches stop
    onsets = start + np.floor((onsets[onsets < stop] - start) * 1000.0) / 1000.0
    onsets = _refractory(np.sort(onsets), REFRACTORY_S)
    onsets.setflags(write=False)
    return SubjectTimings(
        subject=name, onsets=onsets, start=start, stop=stop, has_cycles=has_cycles, rate_per_day=float(rate),
        circadian_strength=float(a) if has_cycles else 0.0, circadian_peak_h=float(peak_h) if has_cycles else 0.0,
        multiday_period_days=period if has_cycles else None, multiday_strength=float(b) if has_cycles else 0.0,
        multiday_phase=float(phase) if has_cycles else 0.0, cluster_prob=float(cluster_prob) if has_cycles else 0.0,
        refractory_s=REFRACTORY_S, seed=seed,
    )


def simulate_timings(
    days: float,
    subjects: int,
    seed: int = 0,
    *,
    start: float | str = "2025-01-06T00:00:00+00:00",
    seizures_per_day: float | None = None,
    cycles_fraction: float = 0.5,
) -> list[SubjectTimings]:
    """Simulate seizure times (no signal) of a cohort, some patients with cycles and some without.

    The model is in the module docstring and in docs/simulator.md.

    Parameters
    ----------
    days : float
        Length of the observed span in days (0 < days <= 3650).
    subjects : int
        Number of patients (1-10000), named ``sub-01``, ``sub-02``, ... (zero-padded to at least
        two digits, more when there are more than 99 subjects).
    seed : int
        Base seed; subject k uses ``numpy.random.default_rng([seed, k])``, so its times do not
        depend on the number of subjects.
    start : float | str
        Start of the span: ISO 8601 (UTC if no offset) or seconds since the epoch, whole seconds.
    seizures_per_day : float | None
        Mean rate ``r`` of every patient (0-24 per day); None draws it per patient, log-uniform in
        [0.15, 3].
    cycles_fraction : float
        Share of patients with circadian and multi-day cycles and clusters (0-1); the others are
        homogeneous Poisson processes.

    Returns
    -------
    list of SubjectTimings
        One per patient, in order.

    Raises
    ------
    EegmonError
        On an argument out of range.
    """
    days = check_number("--days", days, low=0, high=3650, low_inclusive=False)
    subjects = check_number("--subjects", subjects, low=1, high=10000, integer=True)
    seed = check_number("--seed", seed, low=0, high=2**63 - 1, integer=True)
    if seizures_per_day is not None:
        # below 24/day the 30-min refractory period leaves room for the Poisson null's rate correction
        seizures_per_day = check_number("--seizures-per-day", seizures_per_day, low=0, high=24)
    cycles_fraction = check_number("--cycles-fraction", cycles_fraction, low=0, high=1)
    start_s = _parse_start(start)
    stop_s = start_s + float(np.round(days * DAY))
    u = np.random.default_rng([seed, 0]).uniform()
    width = max(2, len(str(subjects)))
    return [
        _subject(k, f"sub-{k:0{width}d}", bool((u + k * _GOLDEN) % 1.0 < cycles_fraction), start=start_s,
                 stop=stop_s, seizures_per_day=seizures_per_day, seed=seed)
        for k in range(1, subjects + 1)
    ]


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    """Create ``out_dir``; refuse it non-empty unless ``overwrite``, which removes previous timings only."""
    entries = open_out_dir(out_dir, overwrite, "previous seizure timings")
    for p in entries:
        if p.is_file() and (p.name == TIMINGS_JSON or TEMP_MARKER in p.name):
            p.unlink()
        elif p.is_dir() and p.name.startswith("sub-"):
            # a stale subject of a larger cohort would otherwise be read as one of this cohort
            for f in p.iterdir():
                if f.is_file() and (f.name == f"{p.name}_events.tsv" or TEMP_MARKER in f.name):
                    f.unlink()
            if not any(p.iterdir()):
                p.rmdir()


def write_timings(
    out_dir: str | os.PathLike, subjects_list: list[SubjectTimings], *, overwrite: bool = False
) -> list[Path]:
    """Write simulated seizure times as SzCORE events.tsv files, one per subject, and ``timings.json``.

    Layout: ``out_dir/sub-XX/sub-XX_events.tsv`` (one ``sz`` row per seizure, 60 s long or cut
    at the end of the span; ``dateTime`` the span's start, ``recordingDuration`` its length; one
    ``bckg`` row for a subject without seizures) and ``out_dir/timings.json`` with the generator's
    settings and every subject's :meth:`SubjectTimings.to_dict`. Every file is written atomically,
    ``timings.json`` last.

    Parameters
    ----------
    out_dir : path-like
        Directory to write; created if needed, must be empty unless ``overwrite``.
    subjects_list : list of SubjectTimings
        From :func:`simulate_timings`; all on the same span.
    overwrite : bool
        Replace previous timings in ``out_dir``: ``timings.json`` and the ``sub-*/sub-*_events.tsv``
        files go (and their folders when emptied); other files stay.

    Returns
    -------
    list of Path
        The events.tsv files written, in subject order.

    Raises
    ------
    EegmonError
        On an empty ``subjects_list`` or an unusable ``out_dir``.
    """
    if not subjects_list:
        raise EegmonError("subjects_list must hold at least one SubjectTimings, got an empty list.")
    spans = {(s.start, s.stop) for s in subjects_list}
    if len(spans) != 1:
        raise EegmonError(f"every subject must share one span (one simulate_timings call), got {len(spans)} spans.")
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir, overwrite)
    written = []
    for subj in subjects_list:
        folder = out_dir / subj.subject
        folder.mkdir(exist_ok=True)
        events = [Annotation(onset=t, duration=min(SEIZURE_DURATION_S, subj.stop - t), label="sz")
                  for t in subj.onsets.tolist()]
        path = folder / f"{subj.subject}_events.tsv"
        write_events_tsv(path, events, subj.start, subj.stop - subj.start)
        written.append(path)

    from .. import __version__

    first = subjects_list[0]
    settings = {
        "days": (first.stop - first.start) / DAY, "subjects": len(subjects_list), "seed": first.seed,
        "start": to_datetime(first.start).isoformat(), "start_unix_s": first.start,
        "seizure_duration_s": SEIZURE_DURATION_S, "refractory_s": REFRACTORY_S,
    }
    doc = {"generator": f"eegmon {__version__}", "settings": settings,
           "subjects": [s.to_dict() for s in subjects_list]}
    with atomic_write(out_dir / TIMINGS_JSON, "w") as f:
        f.write(json.dumps(doc, indent=1) + "\n")
    return written


__all__ = ["REFRACTORY_S", "SubjectTimings", "simulate_timings", "write_timings"]
