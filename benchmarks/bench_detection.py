"""Detection quality on every real recording of ``../shared/realdata`` and on a fresh simulation.

Every detector is run over the same recordings and scored the same way: SzCORE event scoring
(``eegmon.evaluate.evaluate_pairs``: tolerance 30 s before / 60 s after, merge gap 90 s,
events split at 300 s). Per dataset x montage x detector: event sensitivity, precision, F1,
median latency, false alarms per hour and per 24 h with the exact Poisson 95 % upper bound
(``chi2.ppf(0.95, 2k + 2) / 2`` events over the recorded hours, 3.0 events for k = 0). Hours
are recorded hours (gaps excluded). See docs/detection-benchmark.md.

Detectors (rows ``<prefix>_<detector>_<metric>``):

- ``generic_bundled_insample``: the bundled generic model. It is trained on this real data
  (Muse, dog, CHB-MIT), so its real-data rows are in-sample.
- ``generic_heldout``: the same recipe (``train_generic_model``) without the scored subject:
  model A leaves out the dog and the odd-numbered Muse subjects, model B the dog and the
  even-numbered ones; the dog is scored on A, each Muse subject on the model that did not see
  it. Both contain the CHB-MIT windows, so on CHB-MIT the rows say ``generic_heldout_insample``.
  The models are cached in ``$EEGMON_BENCH_CACHE/models`` (default: the temp dir), keyed by a
  hash of the recipe source (detectors/generic.py, features.py, training.py); ``--quick``
  uses them only if cached (it never trains).
- ``patient_specific`` (dog only): leave one seizure out; a classifier trained on the other
  four seizure recordings (only their seizure part) and the interictal runs, tested on the
  left-out seizure recording. Its false-alarm rows are on the interictal runs, which every
  fold trained on: in-sample background (said in the row note).
- ``line_length``: ``load_detector("line-length")``.
- reference ``gotman-style``: ``reference_detectors.GotmanDetector`` (Gotman 1982 half-wave
  criteria) through the generic model's post-processing, in the ``reference`` column of every
  eegmon row. On the labelled windows (CHB-MIT, Bonn), which are too short for its 16-s
  background 12 s earlier, the Gotman criteria with the absolute half-wave amplitude.
- peer ``brainmaze-eeg-models`` (CNN+BiLSTM of Sladky et al. 2022, ONNX, extra ``peer``):
  rows ``<prefix>_peer_brainmaze_<metric>`` with the held-out generic model as ``eegmon``.
  It needs 300-s windows of contiguous signal: resampled to 250 Hz, each channel, max over
  channels, windows every 279.5 s, the generic post-processing. Where no contiguous run is
  300 s long (Muse files, CHB-MIT and Bonn windows) the row is null and its note says why.

Real data (skipped when absent; citations in docs/detection-benchmark.md):

- ``muse`` (seizure-free; NeuroTechX eeg-notebooks, Muse 2016 headband, 50 subjects, 8.4 h):
  false alarms per subject recording (its files one after another, 60 s apart) and
  ``musefiles``: each ~2-min file alone (a cold start: the detector's warm-up is 120 s, so
  little of a file can alarm). Montages ``full`` (TP9 AF7 AF8 TP10) and ``2ch`` (TP9, TP10).
- ``musejoined`` (not in ``--quick``): the odd-numbered and the even-numbered subjects' files
  each joined end to end into one contiguous recording (two streams, no gap, so the warm-up
  hold never restarts at a new file): montages ``full`` (4 channels, 256 Hz), ``offhead``
  (the same with 400 s of constant 100 uV between files: the headband off the head, longer
  than the detector's ``rewarm_gap_s``, excluded from the hours) and ``19ch_160hz`` /
  ``64ch_160hz`` (the four channels resampled to 160 Hz and stacked as rolled copies). Each
  stream is scored on the held-out model that did not see its subjects. ``19ch_160hz_sz`` /
  ``64ch_160hz_sz``: the same large-montage streams with a realistic simulated seizure
  inserted every 700 s (``eegmon.simulate.insert_seizures``, each type's own spatial field):
  sensitivity, precision, F1 and latency of the channel vote on a scalp-sized montage.
- ``dog`` (Kaggle/UPenn-Mayo Dog_1, intracranial, 16 contacts, 400 Hz): the seizure files
  start AT the marked onset (no pre-ictal lead-in in the source), so each of the 5 seizure
  recordings is the six interictal runs joined end to end followed by the seizure
  (``corpus.dog_recordings``): sensitivity, precision, F1, latency; the interictal runs alone
  (406 s): false alarms. Montages ``full`` and ``2ch`` (c001-c002, c003-c004).
- ``chbmit`` (CHB-MIT, chb01/chb02, 10 ictal and 10 pre-ictal 10-s windows, 23 bipolar
  channels): labelled windows only. Each window is fed alone as its own 10-s recording (no
  pre-ictal context, so ictal and pre-ictal windows are both cold starts); its score is the
  maximum of the window probability trace (``DetectionChunk.proba``). Rows: the share of
  ictal windows whose trace reaches 0.5 (``ictal_hit_rate``), the same for pre-ictal
  (``preictal_hit_rate``, lower is better) and the AUC of the maximum, ictal vs pre-ictal.
  Montages ``full``, ``2ch_left`` (F7-T7, T7-P7), ``2ch_right`` (F8-T8, T8-P8).
- ``bonn`` (Andrzejak et al. 2001, 1 channel, 23.6-s segments): the AUC of S (ictal) against
  each of Z, O, N, F of a segment score (the 90th percentile of its window probabilities), in
  two modes: ``stream`` (the segments, shuffled with seed 0, fed to one detector as one
  recording with gaps, so the baseline learns the recording's background) and ``isolated``
  (each segment on its own; the target is AUC >= 0.95 without training on Bonn); and
  ``patient_specific`` 5-fold by segment number (train on 4/5 of the segments of all sets)
  against a logistic regression on log band powers (same folds).

Simulated (``sim<days>d``): 30 days (``--quick``: 2) of the realistic simulator, seed 2027
(the generic model trains on seeds 101-104), 2 channels at 207 Hz, 2 seizures/day, cached in
``$EEGMON_BENCH_CACHE`` keyed by a hash of the simulator's source. The bundled classifier and
line-length against gotman-style, each over the whole recording in worker processes; the peer
on the first files up to 36 h beside the classifier on the same files (not in ``--quick``).
They run in two worker processes while this one scores the real data. Their events are cached
too (``sim-events/``), keyed by a hash of every eegmon source, this script and its references,
the bundled model, the simulation and the package versions: any change recomputes them.

``--quick`` scores a subset (4 Muse subjects, file by file on 2 channels only, the dog on 2
channels only, CHB-MIT windows of the left pair, 10 Bonn segments per set, 2 simulated days;
no peer on the simulation) and never trains; its rows start ``real_quick_`` and ``sim2d_quick_``.

Ratios: > 1 means eegmon is better (eegmon/reference for sensitivity, precision, F1, AUC and
the ictal hit rate; reference/eegmon for false alarms, latency and the pre-ictal hit rate).
The ratio is null when either value is 0 or missing (e.g. no false alarm, no detection), and
for a latency when either is <= 0 (detection at or before the marked onset).
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _harness
import numpy as np

SEED = 2027
PEER_FS = 250
PEER_HOURS = 36.0
PEER_WINDOW_S = 300.0
SEGMENT_Q = 90.0  # Bonn segment score: this percentile of the window probabilities
CHUNK_S = 600.0  # samples are pushed in chunks of at most this many seconds
HIT_LEVEL = 0.5  # a labelled window is a "hit" when its trace reaches this
CACHE_ENV = "EEGMON_BENCH_CACHE"
RECIPE_FILES = ("generic.py", "features.py", "training.py")
OFFHEAD_S = 400.0  # lost contact between joined Muse files: longer than the model's rewarm_gap_s (300 s)
HOLDOUTS = {"A": "the dog and the odd-numbered Muse subjects", "B": "the dog and the even-numbered Muse subjects"}
GOTMAN = "gotman-style"
PEER = "brainmaze-eeg-models"

#: metric -> (unit, higher_is_better)
METRIC_SPECS: dict[str, tuple[str, bool]] = {
    "sensitivity": ("fraction", True), "precision": ("fraction", True), "f1": ("fraction", True),
    "latency_median_s": ("s", False),
    "fp_per_hour": ("1/h", False), "fp_per_hour_ub95": ("1/h", False),
    "fp_per_24h": ("1/24h", False), "fp_per_24h_ub95": ("1/24h", False),
    "ictal_hit_rate": ("fraction", True), "preictal_hit_rate": ("fraction", False), "auc": ("AUC", True),
}
SEIZURE_METRICS = ("sensitivity", "precision", "f1", "latency_median_s")
FP_METRICS = ("fp_per_hour", "fp_per_hour_ub95", "fp_per_24h", "fp_per_24h_ub95")
WINDOW_METRICS = ("ictal_hit_rate", "preictal_hit_rate", "auc")
#: Legacy metric set of the simulated rows.
SIM_METRICS = ("sensitivity", "fp_per_24h", "latency_median_s", "f1")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- pure parts (tested)

def poisson_upper(k: float, level: float = 0.95) -> float:
    """Exact (Garwood) one-sided upper confidence bound on a Poisson mean after ``k`` events.

    ``chi2.ppf(level, 2k + 2) / 2``: 3.0 events for k = 0 at 95 %.
    """
    from scipy.stats import chi2

    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return float(chi2.ppf(level, 2 * int(round(k)) + 2) / 2.0)


@dataclass
class Scored:
    """One recording to score: reference and hypothesis seizures in absolute seconds."""

    name: str
    subject: str
    start: float
    stop: float
    recorded_s: float  # seconds of signal (gaps excluded): the false-alarm denominator
    ref: list[tuple[float, float]]
    hyp: list[tuple[float, float]]


def score(items: Sequence[Scored]) -> dict[str, Any]:
    """SzCORE event scores pooled over ``items``, false alarms per recorded hour with the 95 % bound.

    Returns a dict with the keys of ``METRIC_SPECS`` that apply (None where undefined) and the
    counts ``n_ref``, ``n_tp``, ``n_fp``, ``n_hyp``, ``hours``.
    """
    from eegmon.evaluate import evaluate_pairs
    from eegmon.evaluate.dataset import RecordingPair

    pairs = [RecordingPair(it.name, it.subject, it.stop - it.start, it.start,
                           [(a - it.start, b - it.start) for a, b in it.ref],
                           [(a - it.start, b - it.start) for a, b in it.hyp]) for it in items]
    ev = evaluate_pairs(pairs)
    tp = sum(r.event.tp for r in ev.recordings)
    fp = sum(r.event.fp for r in ev.recordings)
    n_ref = sum(r.event.n_ref for r in ev.recordings)
    n_hyp = sum(r.event.n_hyp for r in ev.recordings)
    lat = [x for r in ev.recordings for x in r.latencies]
    hours = sum(it.recorded_s for it in items) / 3600.0
    denom = 2 * tp + fp + (n_ref - tp)
    out: dict[str, Any] = {
        "sensitivity": tp / n_ref if n_ref else None,
        "precision": tp / (tp + fp) if tp + fp else None,
        "f1": 2 * tp / denom if denom else None,
        "latency_median_s": float(np.median(lat)) if lat else None,
        "n_ref": int(n_ref), "n_tp": int(tp), "n_fp": int(fp), "n_hyp": int(n_hyp), "hours": hours,
    }
    out.update(fp_rates(fp, hours))
    return out


def fp_rates(k: float, hours: float) -> dict[str, float | None]:
    """False alarms per hour and per 24 h and their exact Poisson 95 % upper bounds."""
    if not hours > 0:
        return dict.fromkeys(FP_METRICS)
    ub = poisson_upper(k)
    return {"fp_per_hour": k / hours, "fp_per_hour_ub95": ub / hours,
            "fp_per_24h": 24.0 * k / hours, "fp_per_24h_ub95": 24.0 * ub / hours}


def auc(pos: Sequence[float], neg: Sequence[float]) -> float | None:
    """ROC AUC of scores ``pos`` (label 1) against ``neg`` (label 0); None if a class is empty."""
    if not len(pos) or not len(neg):
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


def window_rates(ictal: Sequence[float], preictal: Sequence[float], level: float = HIT_LEVEL) -> dict[str, Any]:
    """Labelled-window figures from each window's maximum trace value."""
    ictal, preictal = np.asarray(ictal, float), np.asarray(preictal, float)
    return {"ictal_hit_rate": float(np.mean(ictal >= level)) if ictal.size else None,
            "preictal_hit_rate": float(np.mean(preictal >= level)) if preictal.size else None,
            "auc": auc(ictal, preictal), "n_ictal": int(ictal.size), "n_preictal": int(preictal.size)}


_COUNT_KEYS = ("n_ref", "n_tp", "n_fp", "n_hyp", "hours", "n_ictal", "n_preictal")


def metric_rows(prefix: str, ours: dict | None, ref: dict | None, ref_name: str | None,
                metrics: Sequence[str], *, note: str | None = None) -> list[dict[str, Any]]:
    """Rows ``<prefix>_<metric>`` (CONVENTIONS.md) of eegmon's scores ``ours`` beside ``ref``.

    ``ours``/``ref`` may be None or {} (not run or failed: the value is null). Each row also
    carries ``counts`` (the events and hours behind the figure, per side) and ``note`` if given.
    """
    rows = []
    for key in metrics:
        unit, hib = METRIC_SPECS[key]
        mine = None if not ours else ours.get(key)
        theirs = None if not ref else ref.get(key)
        r = _harness.row(f"{prefix}_{key}", unit, mine, theirs, ref_name if ref is not None else None,
                         higher_is_better=hib)
        if r["ratio"] is not None and key.startswith("latency") and min(mine, theirs) <= 0:
            r["ratio"] = None  # a latency <= 0 (detected at or before the marked onset) has no meaningful ratio
        counts = {side: {k: d[k] for k in _COUNT_KEYS if k in d} for side, d in (("eegmon", ours), ("reference", ref))
                  if d}
        if counts:
            r["counts"] = counts
        if note:
            r["note"] = note
        rows.append(r)
    return rows


def subject_number(subject: str) -> int:
    """The number at the end of a subject name (``cueing-subject1101`` -> 1101)."""
    m = re.search(r"(\d+)$", subject)
    if m is None:
        raise ValueError(f"no number at the end of subject {subject!r}")
    return int(m.group(1))


def excluded_from(split: str, rec) -> bool:
    """True for the recordings the held-out model ``split`` ("A" or "B") is trained without."""
    parity = {"A": 1, "B": 0}[split]
    return rec.dataset == "dog" or (rec.dataset == "muse" and subject_number(rec.subject) % 2 == parity)


def heldout_split(dataset: str, subject: str) -> str:
    """Which held-out model scores a recording: the dog and odd Muse subjects on A, even ones on B."""
    if dataset == "muse":
        return "A" if subject_number(subject) % 2 else "B"
    if dataset == "musejoined":  # one stream of every odd- or every even-numbered subject
        return "A" if subject == "odd" else "B"
    return "A"


# --------------------------------------------------------------------------- models (cached)

def cache_dir() -> Path:
    """``$EEGMON_BENCH_CACHE``, else a folder in the temp dir (kept between runs)."""
    path = Path(os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir()) / "eegmon-bench-detection")
    path.mkdir(parents=True, exist_ok=True)
    return path


def source_hash(folder: Path, names: Sequence[str] | None = None) -> str:
    """SHA-256 (first 16 hex digits) of the named ``.py`` files of ``folder`` (all if None), in name order."""
    h = hashlib.sha256()
    paths = sorted(folder / n for n in names) if names is not None else sorted(folder.glob("*.py"))
    for p in paths:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def recipe_hash() -> str:
    """Hash of the generic model's recipe source (RECIPE_FILES of eegmon.detectors)."""
    import eegmon.detectors

    return source_hash(Path(eegmon.detectors.__file__).resolve().parent, RECIPE_FILES)


def simulator_hash() -> str:
    """Hash of the simulator's source (eegmon/simulate/*.py)."""
    import eegmon.simulate

    return source_hash(Path(eegmon.simulate.__file__).resolve().parent)


def _replace_old(folder: Path, pattern: str, keep: Path) -> None:
    """Delete the files or folders of ``folder`` matching ``pattern`` except ``keep`` (older cache entries)."""
    for old in folder.glob(pattern):
        if old == keep:
            continue
        if old.is_dir():  # another process may be clearing it too
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def heldout_model(split: str, cache: Path, *, train: bool = True):
    """Held-out generic model ``split``: ``(DetectionModel or None, note)``, cached by recipe hash."""
    from eegmon.detectors import load_model
    from eegmon.detectors.generic import train_generic_model

    # the recipe trains on simulated patients too: a new simulator is a new recipe
    key = hashlib.sha256(f"{recipe_hash()}-{simulator_hash()}".encode()).hexdigest()[:16]
    path = cache / "models" / f"heldout-{split}-{key}.eegmon-model"
    if path.is_file():
        try:
            return load_model(path), f"held-out model {split} (cached {path.name})"
        except Exception as err:  # an old file of another feature set / format: train again
            log(f"cached model {path} unusable ({err}); training again")
    if not train:  # --quick: the newest model of an older recipe will do, said in the note
        for old in sorted(path.parent.glob(f"heldout-{split}-*.eegmon-model"), key=lambda p: p.stat().st_mtime,
                          reverse=True):
            try:
                return load_model(old), f"held-out model {split} of an OLDER recipe ({old.name}; now {path.name})"
            except Exception:
                continue
        return None, f"held-out model {split} not cached (--quick never trains: run the full benchmark once)"
    path.parent.mkdir(parents=True, exist_ok=True)
    # train_generic_model reuses the simulated patients it finds in workdir whatever their
    # settings: one workdir per recipe, so that a changed recipe never trains on stale patients
    workdir = cache / f"train-work-{key}"
    _replace_old(cache, "train-work*", workdir)
    t0 = time.perf_counter()
    try:
        model = train_generic_model(path, exclude=functools.partial(excluded_from, split), workdir=workdir,
                                    quiet=True)
    except Exception as err:  # report the failure in the rows, keep going
        return None, f"held-out model {split} training FAILED: {type(err).__name__}: {err}"
    _replace_old(path.parent, f"heldout-{split}-*.eegmon-model", path)
    log(f"trained held-out model {split} (without {HOLDOUTS[split]}) in {time.perf_counter() - t0:.0f} s")
    return model, f"held-out model {split} (trained now)"


def bundled():
    """The bundled generic model: ``(model or None, note)``."""
    from eegmon.detectors.generic import bundled_model

    try:
        return bundled_model(), "bundled generic model, trained on this real data (in-sample)"
    except Exception as err:
        return None, f"bundled model FAILED to load: {type(err).__name__}: {err}"


def line_length():
    from eegmon.detectors import load_detector

    try:
        return load_detector("line-length")[0], ""
    except Exception as err:
        return None, f"line-length FAILED: {type(err).__name__}: {err}"


def postprocess_params(*models) -> dict:
    """The post-processing the references go through: that of the first model given, else the defaults."""
    from eegmon.detectors.model import DEFAULT_POSTPROCESS

    for m in models:
        if m is not None and m.detector == "classifier":
            return dict(m.postprocess)
    return dict(DEFAULT_POSTPROCESS)


# --------------------------------------------------------------------------- running detectors

def _chunks(rec):
    """``(t_start or None, samples)`` of ``rec``'s segments in chunks of at most CHUNK_S (None = contiguous)."""
    step = max(1, int(CHUNK_S * rec.fs))
    for t0, x in rec.segments:
        for i in range(0, x.shape[0], step):
            yield (t0 if i == 0 else None), x[i:i + step]


def run_model(model, rec) -> tuple[list[tuple[float, float]], float]:
    """A ``DetectionModel`` over a recording: events (absolute onset, offset) and the trace's maximum."""
    from eegmon.detectors import StreamingDetector

    det = StreamingDetector(model, rec.fs, rec.channels, clip_level=1e6)
    events, top = [], 0.0
    for t0, x in _chunks(rec):
        out = det.push(x, t0)
        events += out.events
        if out.proba.size:
            top = max(top, float(np.max(out.proba)))
    events += det.flush()
    return [(float(e.onset), float(e.offset)) for e in events], top


def run_gotman(rec, post_params: dict) -> list[tuple[float, float]]:
    """The Gotman-style reference over a recording, through the same post-processing as ours."""
    from eegmon.detectors import PostProcessor
    from reference_detectors import GotmanDetector

    det = GotmanDetector(rec.fs, len(rec.channels))
    post = PostProcessor(**post_params, window_s=det.window_s, channel_names=rec.channels,
                         source="detector:gotman-style")
    events = []
    step = max(1, int(CHUNK_S * rec.fs))
    for t0, x in rec.segments:
        for i in range(0, x.shape[0], step):
            times, flags = det.push(x[i:i + step], t0 + i / rec.fs)
            if times.size:
                events += post.update(times, flags.max(axis=1), flags)
    events += post.flush()
    return [(float(e.onset), float(e.offset)) for e in events]


def peer_available() -> str:
    """'' when brainmaze-eeg-models can run, else why not."""
    try:
        import brainmaze_eeg_models.seizure  # noqa: F401
    except ImportError as err:
        return f"brainmaze-eeg-models not installed ({err}); install the 'peer' extra"
    return ""


def _peer_events(segments, fs: float, channels, post_params: dict, model=None):
    """brainmaze-eeg-models over contiguous ``(t_start, (n, n_ch))`` runs of >= 300 s; absolute events."""
    from math import gcd

    from brainmaze_eeg_models.seizure import load_trained_model, predict_channel_seizure_probability
    from eegmon.detectors import PostProcessor
    from scipy.signal import resample_poly

    model = model or load_trained_model("modelA")
    post = PostProcessor(**post_params, window_s=1.5, channel_names=tuple(channels), source="detector:brainmaze")
    fs_in = int(round(fs))
    g = gcd(PEER_FS, fs_in)
    events = []
    for t_start, x in segments:
        if x.shape[0] / fs < PEER_WINDOW_S:
            continue  # the model needs at least one 300-s window
        per_ch = []
        for c in range(x.shape[1]):
            xr = resample_poly(x[:, c].astype(np.float64), PEER_FS // g, fs_in // g)
            _, p = predict_channel_seizure_probability(xr, PEER_FS, model=model, step_s=279.5)
            per_ch.append(p)
        n = min(len(p) for p in per_ch) // 2 * 2
        cp = np.stack([p[:n] for p in per_ch], axis=1)  # (n, n_ch) on a 0.5-s grid, NaN = not evaluated
        with np.errstate(all="ignore"):
            # column j covers [j/2 - 0.5, j/2 + 0.5) s; pairs (2k, 2k+1) -> one value per second
            # covering [k - 0.5, k + 1) s
            cp = np.fmax(cp[0::2], cp[1::2])
        cp = np.nan_to_num(cp, nan=0.0)
        times = t_start + np.arange(cp.shape[0]) + 1.0
        events += post.update(times, cp.max(axis=1), cp)
    events += post.flush()
    return events


def run_peer_rec(rec, post_params: dict) -> list[tuple[float, float]]:
    return [(float(e.onset), float(e.offset)) for e in _peer_events(rec.segments, rec.fs, rec.channels, post_params)]


def longest_run_s(recs) -> float:
    return max((x.shape[0] / r.fs for r in recs for _, x in r.segments), default=0.0)


# --------------------------------------------------------------------------- the real datasets

@dataclass
class Context:
    """What every real-data section needs."""

    quick: bool
    root: Path
    models: dict[str, tuple[Any, str]]  # "bundled", "A", "B", "line-length" -> (model or None, note)
    post: dict
    results: list[dict] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)  # (dataset, montage, detector, scores) for the table

    @property
    def prefix(self) -> str:
        return "real_quick" if self.quick else "real"

    def model_note(self, split: str) -> str:
        """What held-out model ``split`` is (and whether it is cached, trained now or of an older recipe)."""
        return f"{self.models[split][1]} (without {HOLDOUTS[split]})"

    def add_summary(self, dataset: str, montage: str, detector: str, scores: dict | None, note: str = "") -> None:
        self.summary.append({"dataset": dataset, "montage": montage, "detector": detector,
                             "scores": scores or {}, "note": note})


def _scored(rec, hyp) -> Scored:
    return Scored(rec.name, rec.subject, rec.start, rec.stop, rec.hours * 3600.0, list(rec.seizures), list(hyp))


def _try(fn: Callable[[], Any]) -> tuple[Any, str]:
    """``(fn(), '')`` or ``(None, 'FAILED: ...')``: one detector's failure never stops the benchmark."""
    try:
        return fn(), ""
    except Exception as err:
        return None, f"FAILED: {type(err).__name__}: {err}"


def _continuous(ctx: Context, dataset: str, montage: str, recs_by_role: dict[str, list], detectors: dict,
                metrics: dict[str, Sequence[str]], peer_note: str = "", notes: dict[str, str] | None = None) -> None:
    """Run ``detectors`` and the references over continuous recordings and add rows and summary.

    ``recs_by_role``: "seizure" -> recordings for the seizure metrics, "background" -> for the
    false-alarm metrics (the same list may be both). ``detectors``: row key -> callable(rec) ->
    events. ``metrics``: role -> metric names.
    """
    notes = notes or {}
    all_recs = {id(r): r for rs in recs_by_role.values() for r in rs}
    t0 = time.perf_counter()
    gotman, gnote = _try(lambda: {k: run_gotman(r, ctx.post) for k, r in all_recs.items()})
    log(f"{dataset}/{montage} gotman-style: {time.perf_counter() - t0:.1f} s {gnote}")

    def scores_of(events: dict | None) -> dict[str, dict] | None:
        if events is None:
            return None
        return {role: score([_scored(r, events[id(r)]) for r in rs]) for role, rs in recs_by_role.items()}

    def merged(per_role: dict | None) -> dict | None:
        """One dict for the table: each role's metrics, seizure counts from "seizure", false alarms from
        "background"."""
        if per_role is None:
            return None
        out = {}
        for role in ("seizure", "background"):
            if role in per_role:
                out.update({k: per_role[role][k] for k in metrics[role]})
        if "seizure" in per_role:
            out.update(n_ref=per_role["seizure"]["n_ref"], n_tp=per_role["seizure"]["n_tp"])
        if "background" in per_role:
            out.update(n_fp=per_role["background"]["n_fp"], hours=per_role["background"]["hours"])
        return out

    def rows(prefix: str, ours: dict | None, ref: dict | None, ref_name: str, note: str) -> None:
        for role, keys in metrics.items():
            ctx.results += metric_rows(prefix, None if ours is None else ours[role],
                                       None if ref is None else ref.get(role, {}), ref_name, keys, note=note or None)

    ref_scores = scores_of(gotman)
    ctx.add_summary(dataset, montage, GOTMAN + " (reference)", merged(ref_scores), gnote)
    prefix = f"{ctx.prefix}_{dataset}_{montage}"
    heldout = None
    for key, fn in detectors.items():
        t0 = time.perf_counter()
        events, err = (None, fn) if isinstance(fn, str) else _try(lambda fn=fn: {k: fn(r) for k, r in all_recs.items()})
        mine = scores_of(events)
        if key.startswith("generic_heldout"):
            heldout = mine
        note = "; ".join(x for x in (notes.get(key, ""), err, "" if gotman is not None else f"reference {gnote}")
                         if x)
        log(f"{dataset}/{montage} {key}: {time.perf_counter() - t0:.1f} s {err}")
        rows(f"{prefix}_{key}", mine, ref_scores, GOTMAN, note)
        ctx.add_summary(dataset, montage, key, merged(mine), note)
    # the peer beside the held-out generic model
    t0 = time.perf_counter()
    peer, pnote = (None, peer_note) if peer_note else _try(
        lambda: {k: run_peer_rec(r, ctx.post) for k, r in all_recs.items()})
    if not peer_note:
        log(f"{dataset}/{montage} peer: {time.perf_counter() - t0:.1f} s {pnote}")
    peer_scores = scores_of(peer)
    rows(f"{prefix}_peer_brainmaze", heldout, peer_scores if peer_scores is not None else {},
         PEER + " (eegmon: generic_heldout)", pnote)
    ctx.add_summary(dataset, montage, "peer " + PEER, merged(peer_scores), pnote)


def _generic_fns(ctx: Context, dataset: str) -> dict[str, Any]:
    """Row key -> callable(rec) -> events, or a failure note (str) for a model that is missing."""
    out: dict[str, Any] = {}
    b, bnote = ctx.models["bundled"]
    out["generic_bundled_insample"] = (lambda r: run_model(b, r)[0]) if b is not None else bnote

    def heldout(r):
        m, note = ctx.models[heldout_split(r.dataset, r.subject)]
        if m is None:
            raise RuntimeError(note)
        return run_model(m, r)[0]

    needed = {"A", "B"} if dataset in ("muse", "musejoined") else {"A"}
    miss = [ctx.models[s][1] for s in sorted(needed) if ctx.models[s][0] is None]
    out["generic_heldout"] = "; ".join(miss) if miss else heldout
    ll, lnote = ctx.models["line-length"]
    out["line_length"] = (lambda r: run_model(ll, r)[0]) if ll is not None else lnote
    return out


def muse(ctx: Context) -> None:
    from eegmon.detectors import corpus

    recs = corpus.muse_recordings(ctx.root)
    if ctx.quick:  # 2 odd- and 2 even-numbered subjects
        odd = [r for r in recs if subject_number(r.subject) % 2][:2]
        even = [r for r in recs if not subject_number(r.subject) % 2][:2]
        recs = odd + even
    log(f"muse: {len(recs)} subjects, {sum(r.hours for r in recs):.2f} h")
    notes = {"generic_bundled_insample": ctx.models["bundled"][1],
             "generic_heldout": f"each subject on the model without it: {ctx.model_note('A')}; {ctx.model_note('B')}"}
    for montage in ("full", "2ch"):
        rs = recs if montage == "full" else [r.derive(corpus.TWO_CHANNEL["muse"]) for r in recs]
        fns = _generic_fns(ctx, "muse")
        why = f"cannot run: the longest contiguous run is {longest_run_s(rs):.0f} s, the peer needs " \
              f"{PEER_WINDOW_S:.0f}-s windows" if longest_run_s(rs) < PEER_WINDOW_S else peer_available()
        _continuous(ctx, "muse", montage, {"background": rs}, fns, {"background": FP_METRICS}, why, notes)
        if ctx.quick and montage == "full":
            continue  # --quick: file by file on 2 channels only
        files = [corpus.CorpusRecording(f"{r.name}/file{k}", r.dataset, r.subject, r.fs, r.channels, (seg,))
                 for r in rs for k, seg in enumerate(r.segments)]
        _continuous(ctx, "musefiles", montage, {"background": files}, fns, {"background": FP_METRICS}, why,
                    {**notes, **{k: "each file alone: a cold start (120-s warm-up)" for k in fns}})


#: Joined-Muse montages: name -> (channels, rate in Hz, seconds of lost contact between files).
JOINED = {"full": (4, None, 0.0), "offhead": (4, None, OFFHEAD_S), "19ch_160hz": (19, 160, 0.0),
          "64ch_160hz": (64, 160, 0.0)}
#: Large montages that also get seizures inserted (``<montage>_sz``): first onset, onset step (s).
JOINED_SEIZURES = ("19ch_160hz", "64ch_160hz")
SZ_FIRST_S, SZ_STEP_S = 600.0, 700.0


def joined_muse(recs, parity: str, n_ch: int = 4, fs: int | None = None, offhead_s: float = 0.0):
    """Every file of the ``parity`` ("odd"/"even") Muse subjects joined end to end into one stream.

    With no gap between files, a change of volunteer or of headband placement comes in the
    middle of a stream; ``offhead_s`` > 0 puts that many seconds of lost contact (the constant
    value a disconnected lead reads) between files instead, as a headband taken off and put
    back while it records. ``n_ch`` > 4: ``ceil(n_ch / 4)`` copies side by side, copy j rolled
    by j/16 of the stream (independent real EEG on every channel), cut to ``n_ch``; ``fs``
    resamples (polyphase) from 256 Hz.
    """
    from math import ceil, gcd

    from eegmon.detectors import corpus
    from scipy.signal import resample_poly

    picked = [r for r in recs if subject_number(r.subject) % 2 == {"odd": 1, "even": 0}[parity]]
    files = [x for r in picked for _, x in r.segments]
    off = np.full((int(offhead_s * picked[0].fs), files[0].shape[1]), 100.0, np.float32)
    x = np.concatenate([p for f in files for p in (off, f)][1:] if offhead_s else files)
    rate = picked[0].fs
    if fs is not None and fs != rate:
        g = gcd(int(fs), int(rate))
        x = resample_poly(x, int(fs) // g, int(rate) // g, axis=0).astype(np.float32)
        rate = float(fs)
    names = picked[0].channels
    if n_ch > x.shape[1]:
        n = x.shape[0]
        copies = ceil(n_ch / x.shape[1])
        x = np.concatenate([np.roll(x, j * n // 16, axis=0) for j in range(copies)], axis=1)[:, :n_ch]
        names = tuple(f"{c}.{j}" for j in range(copies) for c in picked[0].channels)[:n_ch]
    return corpus.CorpusRecording(f"musejoined/{parity}", "musejoined", parity, rate, names,
                                  ((picked[0].start, x),), lost_s=offhead_s * (len(files) - 1))


def with_seizures(rec, seed: int):
    """``rec`` (one contiguous segment) with realistic simulated seizures inserted every SZ_STEP_S.

    ``eegmon.simulate.insert_seizures`` with difficulty ``realistic`` (ratio to the local
    background median 2) and each type's own field: generalised types reach every channel,
    focal ones spread from a random focus over a few neighbouring channels (a subtle focal
    seizure mostly on one), which is what the channel vote of a large montage has to find.
    """
    from eegmon.detectors import corpus

    from eegmon.simulate import insert_seizures

    t0, x = rec.segments[0]
    onsets = np.arange(SZ_FIRST_S, x.shape[0] / rec.fs - SZ_STEP_S / 2, SZ_STEP_S)
    y, inserted = insert_seizures(x, rec.fs, rng=seed, onsets=list(onsets))
    return corpus.CorpusRecording(f"{rec.name}+sz", rec.dataset, rec.subject, rec.fs, rec.channels,
                                  ((t0, y.astype(np.float32)),),
                                  tuple((t0 + s.onset_s, t0 + s.offset_s) for s in inserted), rec.lost_s)


def musejoined(ctx: Context) -> None:
    from eegmon.detectors import corpus

    if ctx.quick:
        return  # hours of signal per montage: the full run only
    recs = corpus.muse_recordings(ctx.root)
    notes = {"generic_bundled_insample": ctx.models["bundled"][1],
             "generic_heldout": f"odd subjects on {ctx.model_note('A')}; even on {ctx.model_note('B')}"}
    for montage, (n_ch, fs, off) in JOINED.items():
        rs = [joined_muse(recs, parity, n_ch, fs, off) for parity in ("odd", "even")]
        log(f"musejoined/{montage}: {len(rs[0].channels)} channels at {rs[0].fs:.0f} Hz, "
            f"{sum(r.hours for r in rs):.2f} h recorded")
        peer_note = "not run on the joined streams (a test of the baseline and the vote; the peer's rows are " \
                    "on the simulation)"
        _continuous(ctx, "musejoined", montage, {"background": rs}, _generic_fns(ctx, "musejoined"),
                    {"background": FP_METRICS}, peer_note, notes)
        if montage in JOINED_SEIZURES:
            szs = [with_seizures(r, SEED + k) for k, r in enumerate(rs)]
            log(f"musejoined/{montage}_sz: {sum(len(r.seizures) for r in szs)} seizures inserted")
            sz = "realistic simulated seizures inserted into the real streams"
            sz_notes = {k: "; ".join(x for x in (notes.get(k), sz) if x)
                        for k in ("generic_bundled_insample", "generic_heldout", "line_length")}
            _continuous(ctx, "musejoined", f"{montage}_sz", {"seizure": szs}, _generic_fns(ctx, "musejoined"),
                        {"seizure": SEIZURE_METRICS}, peer_note, sz_notes)


def patient_specific_dog(recs) -> dict[str, Any]:
    """Leave-one-seizure-out classifiers on the dog: seizure recording name -> the model trained without it.

    ``recs`` is ``corpus.dog_recordings`` (or a derivation of it): the interictal runs first, then
    the seizure recordings (interictal runs + seizure). Each model is trained on the interictal
    runs (once) and on the seizure part of the other four seizure recordings.
    """
    from eegmon.detectors import DetectionModel
    from eegmon.detectors.generic import involved_channels
    from eegmon.detectors.training import rows_from_chunks, train_classifier

    from eegmon.events import Annotation

    background, seizures = recs[0], recs[1:]
    n_bg = background.segments[0][1].shape[0]
    template = DetectionModel("classifier", None, fs=207.0)
    rng = np.random.default_rng(0)
    bg_rows = rows_from_chunks(iter(background.segments), fs=background.fs, channels=background.channels,
                               seizures=(), model=template, rng=rng)
    sz_rows = {}
    for rec in seizures:
        x = rec.segments[0][1]
        (onset, offset), = rec.seizures
        chans = involved_channels(rec, x[:n_bg], x[n_bg:]) or rec.channels
        # only the seizure part: the interictal runs before it are the background rows above
        sz_rows[rec.name] = rows_from_chunks(iter(rec.segments), fs=rec.fs, channels=rec.channels,
                                             seizures=(Annotation(onset, offset - onset, "sz", channels=chans),),
                                             model=template, rng=rng, ignore=[(rec.start - 1.0, onset - 2.0)])
    return {rec.name: train_classifier([bg_rows] + [r for name, r in sz_rows.items() if name != rec.name],
                                       template=template, random_state=0,
                                       training={"benchmark": f"dog leave-one-seizure-out, without {rec.name}"})
            for rec in seizures}


def dog(ctx: Context) -> None:
    from eegmon.detectors import corpus

    base = corpus.dog_recordings(ctx.root)
    log(f"dog: {len(base) - 1} seizure recordings, interictal {base[0].hours * 3600:.0f} s")
    notes = {"generic_bundled_insample": ctx.models["bundled"][1],
             "generic_heldout": ctx.model_note("A")}
    for montage in (("2ch",) if ctx.quick else ("full", "2ch")):
        recs = base if montage == "full" else [r.derive(corpus.TWO_CHANNEL["dog"]) for r in base]
        bg, sz = recs[0], recs[1:]
        _continuous(ctx, "dog", montage, {"seizure": sz, "background": [bg]}, _generic_fns(ctx, "dog"),
                    {"seizure": SEIZURE_METRICS, "background": FP_METRICS}, peer_available(), notes)
        t0 = time.perf_counter()
        models, err = _try(lambda recs=recs: patient_specific_dog(recs))

        def compute(models=models, bg=bg, sz=sz):
            s = score([_scored(r, run_model(models[r.name], r)[0]) for r in sz])
            b = score([Scored(f"{bg.name}/without-{name}", bg.subject, bg.start, bg.stop, bg.hours * 3600.0, [],
                              run_model(m, bg)[0]) for name, m in models.items()])
            return {**{k: s[k] for k in SEIZURE_METRICS}, **{k: b[k] for k in FP_METRICS},
                    "n_ref": s["n_ref"], "n_tp": s["n_tp"], "n_fp": b["n_fp"], "hours": b["hours"]}
        m, err = (None, err) if models is None else _try(compute)
        log(f"dog/{montage} patient_specific: {time.perf_counter() - t0:.1f} s {err}")
        ref_m = next(s["scores"] for s in ctx.summary if s["dataset"] == "dog" and s["montage"] == montage
                     and s["detector"].startswith(GOTMAN))
        note = "; ".join(x for x in ("leave one seizure out (the other 4 seizures + the interictal runs)", err) if x)
        prefix = f"{ctx.prefix}_dog_{montage}_patient_specific"
        ctx.results += metric_rows(prefix, m, ref_m, GOTMAN, SEIZURE_METRICS, note=note)
        ctx.results += metric_rows(prefix, m, ref_m, GOTMAN, FP_METRICS,
                                   note=note + "; false alarms: the interictal runs under each of the 5 fold "
                                               "models, every one trained on them (in-sample background)")
        ctx.add_summary("dog", montage, "patient_specific", m, note + "; FA on in-sample background")


def chbmit(ctx: Context) -> None:
    from eegmon.detectors import corpus
    from reference_detectors import gotman_segment_score

    windows = corpus.chbmit_windows(ctx.root)
    montages = {"full": None, "2ch_left": corpus.TWO_CHANNEL["chbmit_left"],
                "2ch_right": corpus.TWO_CHANNEL["chbmit_right"]}
    if ctx.quick:
        montages = {"2ch_left": montages["2ch_left"]}
    b, bnote = ctx.models["bundled"]
    a, anote = ctx.models["A"]
    ll, lnote = ctx.models["line-length"]
    dets = {"generic_bundled_insample": (b, bnote), "generic_heldout_insample": (a, anote),
            "line_length": (ll, lnote)}
    notes = {"generic_bundled_insample": "bundled model (in-sample: trained on these windows)",
             "generic_heldout_insample": f"{ctx.model_note('A')}: it does contain these CHB-MIT windows (in-sample)"}
    for montage, pairs in montages.items():
        recs = []
        for w in windows:
            r = corpus.CorpusRecording(w.name, w.dataset, w.subject, w.fs, w.channels, ((0.0, w.samples),))
            recs.append((r if pairs is None else r.derive(pairs), w.seizure))
        t0 = time.perf_counter()

        def gscore(r):
            x = r.segments[0][1]
            return max(gotman_segment_score(x[:, c], r.fs, q=SEGMENT_Q) for c in range(x.shape[1]))
        ref_vals = [gscore(r) for r, _ in recs]
        ref = {"auc": auc([v for v, (_, s) in zip(ref_vals, recs, strict=True) if s],
                          [v for v, (_, s) in zip(ref_vals, recs, strict=True) if not s]),
               "n_ictal": sum(s for _, s in recs), "n_preictal": sum(not s for _, s in recs)}
        ref_name = "gotman-style (absolute amplitude)"
        ctx.add_summary("chbmit", montage, ref_name + " (reference)", ref)
        prefix = f"{ctx.prefix}_chbmit_{montage}"
        heldout = None
        for key, (model, mnote) in dets.items():
            if model is None:
                m, err = None, mnote
            else:
                def compute(model=model, recs=recs):
                    top = [run_model(model, r)[1] for r, _ in recs]
                    return window_rates([t for t, (_, s) in zip(top, recs, strict=True) if s],
                                        [t for t, (_, s) in zip(top, recs, strict=True) if not s])
                m, err = _try(compute)
            if key.startswith("generic_heldout"):
                heldout = m
            note = "; ".join(s for s in (notes.get(key, ""), err, "each 10-s window alone (cold start)") if s)
            ctx.results += metric_rows(f"{prefix}_{key}", m, None, None, ("ictal_hit_rate", "preictal_hit_rate"),
                                       note=note + "; no reference: the Gotman criteria give no probability")
            ctx.results += metric_rows(f"{prefix}_{key}", m, ref, ref_name, ("auc",), note=note)
            ctx.add_summary("chbmit", montage, key, m, note)
        ctx.results += metric_rows(f"{prefix}_peer_brainmaze", heldout, {}, PEER + " (eegmon: generic_heldout)",
                                   WINDOW_METRICS, note="cannot run: 10-s windows, the peer needs 300-s windows")
        ctx.add_summary("chbmit", montage, "peer " + PEER, None, "cannot run: 10-s windows (needs 300 s)")
        log(f"chbmit/{montage}: {time.perf_counter() - t0:.1f} s")


def bonn(ctx: Context) -> None:
    from eegmon.detectors import DETECTOR_COLUMNS, DetectionModel, FeatureClassifier, StreamingDetector, corpus
    from eegmon.detectors.runner import FeatureStream
    from reference_detectors import band_power_rows, gotman_segment_score, logistic_band_power

    n = 10 if ctx.quick else 60
    t0 = time.perf_counter()
    data = corpus.bonn_segments(ctx.root, n)
    sets = [s for s in corpus.BONN_SETS if s != "S"]
    prefix = f"{ctx.prefix}_bonn_1ch"
    dets = {"generic_bundled": ctx.models["bundled"], "generic_heldout": ctx.models["A"],
            "line_length": ctx.models["line-length"]}
    notes = {"generic_bundled": "bundled model (no Bonn in its training)",
             "generic_heldout": f"{ctx.model_note('A')} (no Bonn in its training)"}
    # "stream": the segments, shuffled (seed 0), fed to one detector as one recording with gaps, as a
    # patient-adaptive detector meets a patient's data; "isolated": each 23.6-s segment alone.
    order = [(s, i) for s, segs in data.items() for i in range(len(segs))]
    perm = np.random.default_rng(0).permutation(len(order))
    gotman = {s: [gotman_segment_score(x, corpus.BONN_FS, q=SEGMENT_Q) for _, x in segs] for s, segs in data.items()}
    ref_name = "gotman-style (absolute amplitude)"
    for key, (model, mnote) in dets.items():
        def compute(model=model):
            iso, stream = {}, {}
            for s, segs in data.items():
                vals = []
                for _, x in segs:
                    run = StreamingDetector(model, corpus.BONN_FS, ["EEG"], clip_level=1e4)
                    p = run.push(x[:, None], 0.0).proba
                    vals.append(float(np.percentile(p, SEGMENT_Q)) if p.size else 0.0)
                iso[s] = vals
            run = StreamingDetector(model, corpus.BONN_FS, ["EEG"], clip_level=1e4)
            for k, j in enumerate(perm):
                s, i = order[j]
                p = run.push(data[s][i][1][:, None], 100.0 * k).proba
                stream.setdefault(s, []).append(float(np.percentile(p, SEGMENT_Q)) if p.size else 0.0)
            return iso, stream
        out, err = (None, mnote) if model is None else _try(compute)
        note = "; ".join(x for x in (notes.get(key, ""), err) if x) or None
        summ = {}
        for s in sets:
            ref = auc(gotman["S"], gotman[s])
            for mode, idx in (("stream", 1), ("isolated", 0)):
                mine = None if out is None else auc(out[idx]["S"], out[idx][s])
                summ[f"auc_{mode}_S_vs_{s}"] = mine
                r = _harness.row(f"{prefix}_{key}_auc_{mode}_S_vs_{s}", "AUC", mine, ref, ref_name,
                                 higher_is_better=True)
                if note:
                    r["note"] = note
                ctx.results.append(r)
        ctx.add_summary("bonn", "1ch", key, summ, note or "")
    ctx.add_summary("bonn", "1ch", ref_name + " (reference)",
                    {f"auc_{m}_S_vs_{s}": auc(gotman["S"], gotman[s]) for s in sets for m in ("stream", "isolated")})
    # patient-specific: 5 folds by segment number
    template = DetectionModel("classifier", None, fs=207.0)
    rows, bp = {}, {}
    for s, segs in data.items():
        for num, x in segs:
            _, r = FeatureStream(template, corpus.BONN_FS, ["EEG"], clip_level=1e4).push(x[:, None], 0.0)
            rows[s, num] = r[:, 0, :len(DETECTOR_COLUMNS)]
            bp[s, num] = band_power_rows(x, corpus.BONN_FS)
    keys = sorted(rows)
    fold = {k: (k[1] - 1) % 5 for k in keys}
    ours_s, ref_s = {}, {}
    for f in range(5):
        train = [k for k in keys if fold[k] != f]
        test = [k for k in keys if fold[k] == f]
        y = np.concatenate([np.full(len(rows[k]), k[0] == "S", np.int8) for k in train])
        yb = np.concatenate([np.full(len(bp[k]), k[0] == "S", np.int8) for k in train])
        clf = FeatureClassifier(random_state=0).fit(np.nan_to_num(np.concatenate([rows[k] for k in train])), y)
        lr = logistic_band_power(np.concatenate([bp[k] for k in train]), yb)
        for k in test:
            ours_s[k] = float(np.percentile(clf.predict_proba(np.nan_to_num(rows[k]))[:, 1], SEGMENT_Q))
            ref_s[k] = float(np.percentile(lr.predict_proba(bp[k])[:, 1], SEGMENT_Q))
    summ = {}
    for s in sets:
        pos = [k for k in keys if k[0] == "S"]
        neg = [k for k in keys if k[0] == s]
        mine = auc([ours_s[k] for k in pos], [ours_s[k] for k in neg])
        summ[f"auc_5fold_S_vs_{s}"] = mine
        ctx.results.append(_harness.row(f"{prefix}_patient_specific_auc_5fold_S_vs_{s}", "AUC", mine,
                                        auc([ref_s[k] for k in pos], [ref_s[k] for k in neg]),
                                        "logistic regression on band powers", higher_is_better=True))
    ctx.add_summary("bonn", "1ch", "patient_specific (5-fold)", summ)
    log(f"bonn ({n} segments per set): {time.perf_counter() - t0:.1f} s")


def load_models(quick: bool) -> dict[str, tuple[Any, str]]:
    """Every model the real-data sections use: ``name -> (model or None, note)`` (trains the held-out ones)."""
    models: dict[str, tuple[Any, str]] = {"bundled": bundled(), "line-length": line_length()}
    for split in HOLDOUTS:
        models[split] = heldout_model(split, cache_dir(), train=not quick)
        log(models[split][1])
    return models


def realdata(args, models: dict, results: list[dict], summary: list[dict]) -> None:
    from eegmon.detectors import corpus

    root = corpus.realdata_root()
    if root is None:
        log("realdata folder not found (set EEGMON_REALDATA): real-data rows skipped")
        return
    ctx = Context(args.quick, root, models, postprocess_params(models["bundled"][0], models["A"][0]))
    for section in (muse, musejoined, dog, chbmit, bonn):
        t0 = time.perf_counter()
        try:
            section(ctx)
        except Exception as err:  # a broken section is reported, the others still run
            log(f"{section.__name__} FAILED: {type(err).__name__}: {err}")
            ctx.results.append({**_harness.row(f"{ctx.prefix}_{section.__name__}_failed", "flag", None),
                                "note": f"FAILED: {type(err).__name__}: {err}"})
        log(f"== {section.__name__}: {time.perf_counter() - t0:.0f} s")
    results += ctx.results
    summary += ctx.summary


# --------------------------------------------------------------------------- simulated data (workers)

def _pack(events) -> list[tuple]:
    return [(e.onset, e.duration, e.confidence, tuple(e.channels), e.source) for e in events]


def _unpack(packed) -> list:
    from eegmon.events import Annotation

    return [Annotation(onset=o, duration=d, label="sz", channels=tuple(ch), confidence=c, source=s)
            for o, d, c, ch, s in packed]


class _InfAsMissing:
    """Estimator proxy: infinite feature values become NaN (missing) before ``predict_proba``.

    Workaround kept from the earlier benchmark: a fully flat window gave ``kurtosis = inf`` in
    eegmon's detector rows and the estimator raised; the benchmark counts such rows (reported
    in the log) and lets the runner treat them as bad signal (p = 0).
    """

    def __init__(self, est) -> None:
        self.est, self.classes_, self.n_rows = est, est.classes_, 0

    def _finite(self, X):
        bad = np.isinf(X)
        if bad.any():
            self.n_rows += int(bad.any(axis=1).sum())
            X = np.where(bad, np.nan, X)
        return X

    def predict_proba(self, X):
        return self.est.predict_proba(self._finite(X))

    def seizure_proba(self, X):
        return self.est.seizure_proba(self._finite(X))  # the runner's hot path


def run_eegmon(folder: str, detector: str) -> tuple[list[tuple], float, str]:
    """Worker: one eegmon detector over the device folder; events, CPU seconds, note."""
    from eegmon.detectors import load_detector
    from eegmon.detectors.batch import detect_source

    from eegmon.io import open_recording

    t0 = time.process_time()
    model, name = load_detector(detector)
    model.estimator = guard = _InfAsMissing(model.estimator)
    result = detect_source(open_recording(folder), model, name=name)
    note = f"{guard.n_rows} window-channel rows with infinite features (treated as missing)" if guard.n_rows else ""
    return _pack(result.events), time.process_time() - t0, note


def run_gotman_folder(folder: str, post_params: dict) -> tuple[list[tuple], float, str]:
    """Worker: the Gotman-style reference over the device folder, same post-processing as ours."""
    from eegmon.detectors import PostProcessor
    from reference_detectors import GotmanDetector

    from eegmon.io import open_recording

    t0 = time.process_time()
    source = open_recording(folder)
    det = GotmanDetector(source.fs, len(source.channels))
    post = PostProcessor(**post_params, window_s=det.window_s, channel_names=source.channels,
                         source="detector:gotman-style")
    events = []
    for t, x in source.chunks(CHUNK_S):
        times, flags = det.push(x, t)
        if times.size:
            events += post.update(times, flags.max(axis=1), flags)
    events += post.flush()
    return _pack(events), time.process_time() - t0, ""


def _segments(source, t_lo: float, t_hi: float):
    """Contiguous runs of samples of ``source`` inside [t_lo, t_hi): (t_start, (n, n_ch))."""
    run_t, parts, expect = None, [], None
    for t, x in source.chunks(CHUNK_S):
        if t >= t_hi or t + len(x) / source.fs <= t_lo:
            continue
        if parts and abs(t - expect) > 1.0 / source.fs:
            yield run_t, np.concatenate(parts)
            parts = []
        if not parts:
            run_t = t
        parts.append(x)
        expect = t + len(x) / source.fs
    if parts:
        yield run_t, np.concatenate(parts)


def run_peer(folder: str, t_lo: float, t_hi: float, post_params: dict) -> tuple[list[tuple] | None, float, str]:
    """Worker: brainmaze-eeg-models over the files in [t_lo, t_hi); events, CPU s, note."""
    t0 = time.process_time()
    why = peer_available()
    if why:
        return None, 0.0, why
    from eegmon.io import open_recording

    source = open_recording(folder)
    events = _peer_events(_segments(source, t_lo, t_hi), source.fs, source.channels, post_params)
    return _pack(events), time.process_time() - t0, "modelA, step 279.5 s"


def _score_folder(ref_folder: Path, source, events, out: Path, files=None) -> dict:
    """SzCORE event scores of ``events`` against the simulation's ground truth (only ``files`` if given)."""
    from eegmon.evaluate import evaluate
    from eegmon.io import write_recording_events

    out.mkdir(parents=True)
    written = write_recording_events(out / "hyp", source, events)
    ref = ref_folder
    if files is not None:
        keep = {Path(f).stem for f in files}
        ref = out / "ref"
        ref.mkdir()
        for p in written:
            stem = p.name[: -len("_events.tsv")]
            if stem in keep:
                (ref / p.name).symlink_to(ref_folder / p.name)
            else:
                p.unlink()
    return evaluate(ref, out / "hyp").to_json()["event"]


def _simulation(days: float, cache: Path) -> Path:
    """The seed-SEED realistic simulation of ``days``, cached by a hash of the simulator source."""
    from eegmon.simulate import simulate

    legacy = os.environ.get("EEGMON_BENCH_SIM_CACHE")  # the earlier benchmark's variable, still honoured
    base = Path(legacy) if legacy else cache
    base.mkdir(parents=True, exist_ok=True)
    tag = f"sim{days:g}d-seed{SEED}-realistic"
    folder = base / f"{tag}-{simulator_hash()}"
    if (folder / "simulation.json").is_file():
        return folder
    _replace_old(base, f"{tag}-*", folder)  # an older simulator's output (~2 GB for 30 days)
    t0 = time.perf_counter()
    try:
        simulate(folder, days=days, seed=SEED, quiet=True, overwrite=True, difficulty="realistic")
    except TypeError:  # a simulator without difficulty levels: its default
        simulate(folder, days=days, seed=SEED, quiet=True, overwrite=True)
    log(f"simulated {days:g} days (seed {SEED}, realistic) in {time.perf_counter() - t0:.0f} s")
    return folder


def _sim_rows(prefix: str, ours: dict, ref: dict | None, ref_name: str, note: str | None = None) -> list[dict]:
    rows = []
    for key in SIM_METRICS:
        unit, hib = METRIC_SPECS[key]
        r = _harness.row(f"{prefix}_{key}", unit, ours.get(key), None if ref is None else ref.get(key),
                         ref_name, higher_is_better=hib)
        if key.startswith("latency") and r["ratio"] is not None and min(r["eegmon"], r["reference"]) <= 0:
            r["ratio"] = None
        if note:
            r["note"] = note
        rows.append(r)
    return rows


@dataclass
class SimJobs:
    """The simulated section while its detectors run in worker processes."""

    tag: str
    folder: Path
    peer_files: list
    peer_hours: float
    jobs: dict
    t0: float
    key: str = ""
    cached: list = field(default_factory=list)


def start_simulated(args, pool: ProcessPoolExecutor, post: dict) -> SimJobs:
    """Simulate (or find the cached simulation) and submit every detector over it to ``pool``."""
    from eegmon.io import open_recording

    days = 2.0 if args.quick else 30.0
    tag = f"sim{days:g}d{'_quick' if args.quick else ''}"
    folder = _simulation(days, cache_dir())
    peer_files, hours = [], 0.0
    for origin, start, stop in open_recording(folder).files():
        if hours + (stop - start) / 3600 > PEER_HOURS and peer_files:
            break
        peer_files.append((origin, start, stop))
        hours += (stop - start) / 3600
    key = _sim_events_key(folder, post)
    specs = {"classifier": (run_eegmon, str(folder), "classifier")}  # the longest job first
    if not args.quick:
        specs["peer"] = (run_peer, str(folder), peer_files[0][1], peer_files[-1][2], post)
    specs["line-length"] = (run_eegmon, str(folder), "line-length")
    specs["gotman"] = (run_gotman_folder, str(folder), post)
    jobs, cached = {}, []
    for name, (fn, *fargs) in specs.items():
        path = cache_dir() / "sim-events" / f"{tag}-{name}-{key}.json"
        if path.is_file():
            done: Future = Future()
            done.set_result(tuple(json.loads(path.read_text())))
            jobs[name] = done
            cached.append(name)
        else:
            jobs[name] = pool.submit(fn, *fargs)
    if cached:
        log(f"{tag}: events of {', '.join(cached)} from the cache (same sources, model and data: key {key})")
    return SimJobs(tag, folder, peer_files, hours, jobs, time.perf_counter(), key, cached)


def _sim_events_key(folder: Path, post: dict) -> str:
    """What the simulated detections depend on: every eegmon source, this benchmark and its references,
    the bundled model, the simulation, the references' post-processing and the package versions."""
    import importlib.metadata as md

    import eegmon.detectors

    import eegmon

    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for root, paths in ((here, [here / n for n in ("bench_detection.py", "reference_detectors.py")]),
                        *((r, sorted(r.rglob("*.py"))) for r in (Path(eegmon.__file__).resolve().parent,
                                                                 Path(eegmon.detectors.__file__).resolve().parent))):
        for p in paths:
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    try:
        from eegmon.detectors.generic import bundled_model_sha256

        h.update(bundled_model_sha256().encode())
    except Exception as err:
        h.update(repr(err).encode())
    versions = []
    for dist in ("numpy", "scipy", "scikit-learn", "numba", "brainmaze-eeg-models", "onnxruntime"):
        try:
            versions.append(f"{dist}={md.version(dist)}")
        except md.PackageNotFoundError:
            versions.append(f"{dist}=none")
    h.update(json.dumps([folder.name, post, versions], sort_keys=True).encode())
    return h.hexdigest()[:16]


def finish_simulated(args, sim: SimJobs, results: list[dict], summary: list[dict]) -> None:
    """Wait for the simulated section's detectors, score them and add the rows."""
    from eegmon.io import open_recording

    tag, folder = sim.tag, sim.folder
    out = {}
    for k, f in sim.jobs.items():
        try:
            out[k] = f.result()
        except Exception as err:  # report the failure in the rows, keep the other detectors
            out[k] = (None, 0.0, f"FAILED: {type(err).__name__}: {err}")
        if k not in sim.cached and out[k][0] is not None:  # keep what was computed (never a failure)
            path = cache_dir() / "sim-events" / f"{tag}-{k}-{sim.key}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            _replace_old(path.parent, f"{tag}-{k}-*.json", path)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(out[k]))
            os.replace(tmp, path)
    log(f"{tag} detection done {time.perf_counter() - sim.t0:.0f} s after submission; CPU s: "
        + ", ".join(f"{k} {v[1]:.0f}" for k, v in out.items()))
    for k, v in out.items():
        if v[2]:
            log(f"{tag} {k}: {v[2]}")
    source = open_recording(folder)
    with tempfile.TemporaryDirectory(prefix="eegmon-bench-detection-") as tmp:
        work = Path(tmp) / "score"
        scores = {k: {} if out[k][0] is None else _score_folder(folder, source, _unpack(out[k][0]), work / k)
                  for k in ("classifier", "line-length", "gotman")}
        for k, s in scores.items():
            log(f"{tag} {k}: {s}")
            summary.append({"dataset": tag, "montage": "2ch", "detector": k if k != "gotman" else GOTMAN +
                            " (reference)", "scores": s, "note": out[k][2]})
        results += _sim_rows(f"{tag}_classifier", scores["classifier"], scores["gotman"], GOTMAN,
                             out["classifier"][2] or None)
        results += _sim_rows(f"{tag}_line_length", scores["line-length"], scores["gotman"], GOTMAN,
                             out["line-length"][2] or None)
        # the peer, on the first files only, beside our classifier on the same files
        hours = sim.peer_hours
        ptag = f"peer_brainmaze_{tag}_skipped" if args.quick else f"peer_brainmaze_{tag}_first{hours:.0f}h"
        if args.quick:
            note, peer_score, ours = "skipped in --quick (~1.7 s CPU per channel-hour)", None, {}
        else:
            events, _, note = out["peer"]
            names = [o for o, _, _ in sim.peer_files]
            ours = {} if out["classifier"][0] is None else \
                _score_folder(folder, source, _unpack(out["classifier"][0]), work / "classifier-peer-files", names)
            peer_score = None if events is None else _score_folder(folder, source, _unpack(events), work / "peer",
                                                                   names)
            log(f"{ptag} classifier: {ours}\n{ptag} brainmaze: {peer_score}")
            summary.append({"dataset": f"{tag}_first{hours:.0f}h", "montage": "2ch", "detector": "classifier",
                            "scores": ours, "note": out["classifier"][2]})
            summary.append({"dataset": f"{tag}_first{hours:.0f}h", "montage": "2ch", "detector": "peer " + PEER,
                            "scores": peer_score or {}, "note": note})
        log(f"peer brainmaze-eeg-models: {note}")
        results += _sim_rows(ptag, ours, peer_score, PEER, note or None)


# --------------------------------------------------------------------------- the human table

def _f(v: Any, fmt: str = "{:.3g}") -> str:
    return "-" if v is None else fmt.format(v)


def _grid(head: list[str], body: list[list[str]]) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(head)]
    widths[-1] = len(head[-1])  # the note column is not padded
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("-" * len(lines[0]))
    last = None
    for r in body:
        if last is not None and (r[0], r[1]) != last:
            lines.append("")
        last = (r[0], r[1])
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return lines


def summary_table(summary: list[dict], note_width: int = 70) -> str:
    """The human tables: continuous recordings (events), labelled windows, Bonn AUCs."""
    events, windows, bonn_rows = [], [], []
    for s in summary:
        sc, note = s["scores"], s["note"][:note_width]
        if s["dataset"].startswith("bonn") or any(k.startswith("auc_") for k in sc):
            bonn_rows.append(s)
        elif s["dataset"].startswith("chbmit"):
            windows.append([s["dataset"], s["montage"], s["detector"], _f(sc.get("ictal_hit_rate")),
                            _f(sc.get("preictal_hit_rate")), _f(sc.get("auc")),
                            f"{sc['n_ictal']}+{sc['n_preictal']}" if "n_ictal" in sc else "", note])
        else:
            n_ref = sc.get("n_ref")
            n_tp = sc.get("n_tp", None if sc.get("sensitivity") is None else round(sc["sensitivity"] * (n_ref or 0)))
            events.append([s["dataset"], s["montage"], s["detector"],
                           *[_f(sc.get(k)) for k in ("sensitivity", "precision", "f1", "latency_median_s",
                                                     "fp_per_hour", "fp_per_hour_ub95", "fp_per_24h",
                                                     "fp_per_24h_ub95")],
                           f"{n_tp}/{n_ref}" if n_ref else "", _f(sc.get("n_fp"), "{:d}"),
                           _f(sc.get("hours"), "{:.2f}"), note])
    out = []
    if events:
        out += _grid(["dataset", "montage", "detector", "sens", "prec", "F1", "lat_s", "FA/h", "FA/h_ub95",
                      "FA/24h", "FA/24h_ub95", "sz_hit", "n_FA", "hours", "note"], events)
    if windows:
        out += ["", "Labelled 10-s windows (each alone): share of windows whose trace reaches 0.5, AUC of its max"]
        out += _grid(["dataset", "montage", "detector", "hit_ictal", "hit_preictal", "AUC", "n", "note"], windows)
    if bonn_rows:
        out += ["", "Bonn: AUC of S (ictal) against each set"]
        body = []
        for s in bonn_rows:
            modes = sorted({k.split("_")[1] for k in s["scores"]}) or ["-"]
            for mode in modes:
                body.append([s["dataset"], s["montage"], s["detector"], mode,
                             *[_f(s["scores"].get(f"auc_{mode}_S_vs_{x}")) for x in "ZONF"],
                             s["note"][:note_width]])
        out += _grid(["dataset", "montage", "detector", "mode", "S_vs_Z", "S_vs_O", "S_vs_N", "S_vs_F", "note"], body)
    return "\n".join(out)


def main() -> None:
    args = _harness.parse_args(__doc__)
    results: list[dict] = []
    summary: list[dict] = []
    t0 = time.perf_counter()
    models = load_models(args.quick)  # trains the held-out models if they are not cached (minutes)
    sim_rows: list[dict] = []
    # the simulated detectors run in two worker processes while this one scores the real data
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        sim = None
        try:
            sim = start_simulated(args, pool, postprocess_params(models["bundled"][0]))
        except Exception as err:  # the simulator broke: say so, keep the real-data rows
            log(f"simulated FAILED: {type(err).__name__}: {err}")
            sim_rows.append({**_harness.row(f"sim{'2d_quick' if args.quick else '30d'}_failed", "flag", None),
                             "note": f"FAILED: {type(err).__name__}: {err}"})
        t1 = time.perf_counter()
        realdata(args, models, results, summary)
        log(f"real data {time.perf_counter() - t1:.0f} s")
        if sim is not None:
            finish_simulated(args, sim, sim_rows, summary)
    results += sim_rows
    log(f"total {time.perf_counter() - t0:.0f} s")
    print("\nDetection per dataset x montage x detector (SzCORE event scoring; FA = false alarms, "
          "ub95 = exact Poisson 95 % upper bound; hours = recorded hours)")
    print(summary_table(summary))
    _harness.finish("detection", results, args)


if __name__ == "__main__":
    main()
