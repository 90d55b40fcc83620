"""Review -> retrain, pseudo-prospectively: the generic model against the patient's model after 1, 2, 4 weeks of review.

On the realistic simulator (``simulate(difficulty="realistic")``, 2 channels at 207 Hz, 42 days
at 1.5 seizures/day, seed 2031; ``--quick``: 18 h at 24/day, seed 2032, with 3-h "weeks": a
smoke run whose few events say nothing about the figures):

1. the bundled generic model's detections of the training weeks (1-4) are stored in a review
   archive, and a scripted reviewer confirms those that overlap a true seizure (widened by the
   SzCORE tolerances, 30 s before and 60 s after) and rejects the others; seizures the generic
   model missed are not seen by the reviewer (nobody marks them);
2. after 1, 2 and 4 weeks of review, the patient's model is trained on what the review labels
   up to then (:func:`eegmon.detectors.retrain.review_labels`: confirmed items are seizures,
   rejected ones hard negatives) with the generic model's processing chain, as
   ``eegmon train ARCHIVE`` does: the default blend (the generic trees plus a 60-tree patient
   forest) and, for the choice, the patient forest alone and the blend with the rejected
   windows weighted 5x (``--hard-weight 5``);
3. every model runs over the same unseen test weeks (5-6) and is scored as SzCORE does
   (``eegmon.evaluate.scoring.score_recording``): event sensitivity and false alarms per 24 h of
   recorded time.

Rows ``fp_per_24h_<model>`` and ``sensitivity_<model>``: the generic model is the reference,
so the ratio > 1 means fewer false alarms (reference/eegmon) or more seizures found
(eegmon/reference). Target: false alarms halved after 2 weeks with no loss of sensitivity.

The features of the whole simulation are computed once with the generic model's processing
chain (the patient models share it, so they run on the same detector rows; the detector's
vote and post-processing are those of ``eegmon detect``, :func:`eegmon.detectors.runner.decide`)
and cached with the simulation under ``$EEGMON_BENCH_CACHE`` (default: the temp dir) in
``eegmon-bench-detection/review/``, keyed by hashes of the simulator and feature sources and of
the bundled model. A first full run simulates and computes them (~20 min on a busy 2-core
machine: more than the 10 minutes of CONVENTIONS, said here); later runs take ~8 min.

Real recordings: ``../shared/realdata`` has no patient with weeks of data (per patient at
most minutes: the Muse headband's 8.4 h are 50 subjects, the dog has 406 s of interictal runs,
CHB-MIT and Bonn are windows of seconds), so there are no real-data rows.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import _harness
import numpy as np
from bench_detection import cache_dir, log, simulator_hash, source_hash

FULL = {"days": 42.0, "seizures_per_day": 1.5, "unit_s": 7 * 86400.0, "unit": "w", "seed": 2031}
#: --quick: 18 h with 3-h "weeks" (train on 3, 6, 12 h; test on hours 12-18), a seed with seizures in each
QUICK = {"days": 0.75, "seizures_per_day": 24.0, "unit_s": 3 * 3600.0, "unit": "w", "seed": 2032}
TRAIN_UNITS = (1, 2, 4)
TEST_UNITS = (4, 6)  # weeks 5 and 6
BLOCK_S = 86400.0  # features are cached in blocks of this many seconds
REVIEWER = "scripted"


def feature_key(cfg: dict) -> str:
    """Hash of what the cached features depend on: simulation, feature code, the bundled model."""
    import eegmon.detectors
    from eegmon.detectors.generic import bundled_model_sha256

    import eegmon

    root = Path(eegmon.__file__).resolve().parent
    parts = [simulator_hash(), source_hash(Path(eegmon.detectors.__file__).resolve().parent,
                                           ["features.py", "runner.py", "model.py", "_kernels.py"]),
             source_hash(root / "features"), source_hash(root / "dsp"), bundled_model_sha256(),
             json.dumps(cfg, sort_keys=True)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def simulation(cfg: dict, base: Path) -> Path:
    """The realistic simulation of ``cfg``, cached by the simulator's source hash."""
    from eegmon.simulate import simulate

    tag = f"sim{cfg['days']:g}d-{cfg['seizures_per_day']:g}pd-seed{cfg['seed']}"
    folder = base / f"{tag}-{simulator_hash()}"
    if (folder / "simulation.json").is_file():
        return folder
    for old in base.glob(f"{tag}-*"):
        shutil.rmtree(old, ignore_errors=True)
    t0 = time.perf_counter()
    simulate(folder, days=cfg["days"], seizures_per_day=cfg["seizures_per_day"], seed=cfg["seed"], quiet=True,
             overwrite=True, difficulty="realistic")
    log(f"simulated {cfg['days']:g} days in {time.perf_counter() - t0:.0f} s")
    return folder


def feature_blocks(source, model, folder: Path) -> list[Path]:
    """Detector rows of the whole recording, one pass, in cached ``BLOCK_S`` blocks (``.npz``)."""
    from eegmon.detectors.training import feature_batches

    done = folder / "complete"
    if done.is_file():
        return sorted(folder.glob("block_*.npz"))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    pending: dict[int, list] = {}

    def flush(index: int) -> None:
        times = np.concatenate([t for t, _ in pending[index]])
        rows = np.concatenate([r for _, r in pending.pop(index)])
        np.savez(folder / f"block_{index:04d}.npz", times=times, rows=rows)

    for times, rows, _ in feature_batches(source.chunks(600.0), fs=source.fs, channels=source.channels, model=model,
                                          clip_level=source.clip_level):
        index = int((times[0] - source.start) // BLOCK_S)
        for old in [k for k in pending if k < index]:
            flush(old)
        pending.setdefault(index, []).append((times, rows))
    for index in sorted(pending):
        flush(index)
    done.touch()
    log(f"features of {source.recorded_s / 86400:.1f} days in {time.perf_counter() - t0:.0f} s")
    return sorted(folder.glob("block_*.npz"))


def batches(blocks: list[Path], start: float, stop: float):
    """``(times, rows, None)`` of the cached windows ending in ``(start, stop]``."""
    for path in blocks:
        with np.load(path) as f:
            times = f["times"]
            if times.size == 0 or times[-1] <= start or times[0] > stop:
                continue
            keep = (times > start) & (times <= stop)
            yield times[keep], f["rows"][keep], None


def run(model, name: str, source, blocks: list[Path], start: float, stop: float) -> list:
    """The model's events over ``(start, stop]``: eegmon detect's vote and post-processing on cached rows."""
    from eegmon.detectors import StreamingDetector
    from eegmon.detectors.runner import decide

    det = StreamingDetector(model, source.fs, source.channels, clip_level=source.clip_level, name=name)
    events = []
    for times, rows, _ in batches(blocks, start, stop):
        proba, bad = det.proba(rows)
        events += decide(det.post, model, times, rows, proba, bad)[0]
    return events + det.flush()


def recorded_hours(source, start: float, stop: float) -> float:
    """Recorded (not gap) hours of ``source`` in ``[start, stop)``."""
    return sum(max(0.0, min(s.start + s.duration(source.fs), stop) - max(s.start, start))
               for s in source.segments) / 3600.0


def score(truth: list, events: list, source, start: float, stop: float) -> dict:
    """SzCORE event sensitivity and false alarms per 24 h of recorded time over ``[start, stop)``."""
    from eegmon.evaluate.scoring import score_recording

    ref = [(e.onset - start, e.offset - start) for e in truth if start <= e.onset < stop]
    hyp = [(e.onset - start, e.offset - start) for e in events if start <= e.onset < stop]
    s = score_recording(ref, hyp, stop - start, start=start)
    hours = recorded_hours(source, start, stop)
    return {"sensitivity": s.event.tp / s.event.n_ref if s.event.n_ref else None,
            "fp_per_24h": s.event.fp / hours * 24.0, "fp": s.event.fp, "n_ref": s.event.n_ref, "hours": hours}


def scripted_review(path: Path, source, events: list, truth: list):
    """A review archive holding ``events``: the ones overlapping a true seizure confirmed, the others rejected."""
    from eegmon.archive import Archive
    from eegmon.archive.review import decide, review_items
    from eegmon.evaluate.scoring import TOLERANCE_END, TOLERANCE_START

    path.unlink(missing_ok=True)  # a fresh review each run
    shutil.rmtree(path.with_name(path.name + ".d"), ignore_errors=True)
    arc = Archive.create(path, source.channels, source.fs)
    arc.add_detections(events)
    windows = [(t.onset - TOLERANCE_START, t.offset + TOLERANCE_END) for t in truth]
    for item in review_items(arc):
        true = any(item.onset < b and item.offset > a for a, b in windows)
        decide(arc, item, REVIEWER, status="confirmed" if true else "rejected")
    return arc


def train(arc, source, blocks: list[Path], generic, stop: float, *, blend: bool, hard_weight: float):
    """The patient's model from the review of ``[source.start, stop)``, as ``eegmon train ARCHIVE`` makes it.

    With no confirmed seizure yet it is the generic model (``eegmon train`` refuses to train).
    """
    from eegmon.detectors.retrain import review_labels
    from eegmon.detectors.training import blend_forests, rows_from_features, train_classifier

    from eegmon.archive.review import review_items

    labels = review_labels(review_items(arc, None, stop))
    if not labels.seizures:  # eegmon train refuses (exit 2): the patient keeps the generic model
        return generic, labels
    rows = rows_from_features(batches(blocks, source.start, stop), channels=source.channels,
                              seizures=labels.seizures, model=generic, rng=np.random.default_rng(0),
                              hours=recorded_hours(source, source.start, stop), ignore=labels.ignore,
                              hard=labels.hard, hard_weight=hard_weight)
    model = train_classifier([rows], template=generic, random_state=0, n_estimators=60)
    return (blend_forests(generic, model) if blend else model), labels


def main() -> None:
    args = _harness.parse_args(__doc__.splitlines()[0])
    from eegmon.detectors.generic import bundled_model

    from eegmon.io import open_recording

    t_start = time.perf_counter()
    cfg = QUICK if args.quick else FULL
    base = cache_dir() / "review"
    base.mkdir(parents=True, exist_ok=True)
    source = open_recording(simulation(cfg, base))
    generic = bundled_model()
    tag = f"features-{'quick' if args.quick else 'full'}"
    folder = base / f"{tag}-{feature_key(cfg)}"
    for old in base.glob(f"{tag}-*"):  # an older code's features (~3 GB for the full run)
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    blocks = feature_blocks(source, generic, folder)
    truth = [a for a in source.annotations if a.is_seizure]
    unit = cfg["unit_s"]
    t0 = source.start
    test = (t0 + TEST_UNITS[0] * unit, t0 + TEST_UNITS[1] * unit)

    review_events = run(generic, "classifier", source, blocks, t0, t0 + max(TRAIN_UNITS) * unit)
    arc = scripted_review(base / "review.h5", source, review_events, truth)
    scores = {"generic": score(truth, run(generic, "classifier", source, blocks, *test), source, *test)}
    variants = [(f"after_{k}{cfg['unit'][0]}", k, True, 1.0) for k in TRAIN_UNITS]
    variants += [(f"after_{k}{cfg['unit'][0]}_patient_only", k, False, 1.0) for k in TRAIN_UNITS]
    variants += [(f"after_{k}{cfg['unit'][0]}_hard_weight_5", k, True, 5.0) for k in TRAIN_UNITS]
    for name, k, blend, weight in variants:
        model, labels = train(arc, source, blocks, generic, t0 + k * unit, blend=blend, hard_weight=weight)
        scores[name] = score(truth, run(model, name, source, blocks, *test), source, *test)
        log(f"{name}: trained on {labels.confirmed} confirmed, {labels.rejected} rejected items; "
            f"{scores[name]}")
    log(f"generic: {scores['generic']}")

    g = scores["generic"]
    results = [_harness.row("test_hours", "h", round(g["hours"], 1)),
               _harness.row("test_seizures", "count", g["n_ref"]),
               _harness.row("fp_per_24h_generic", "1/24h", g["fp_per_24h"]),
               _harness.row("sensitivity_generic", "fraction", g["sensitivity"])]
    for name, _, _, _ in variants:
        s = scores[name]
        results.append(_harness.row(f"fp_per_24h_{name}", "1/24h", s["fp_per_24h"], g["fp_per_24h"],
                                    "generic (bundled)"))
        results.append(_harness.row(f"sensitivity_{name}", "fraction", s["sensitivity"], g["sensitivity"],
                                    "generic (bundled)", higher_is_better=True))
    log(f"done in {time.perf_counter() - t_start:.0f} s")
    _harness.finish("review", results, args)


if __name__ == "__main__":
    main()
