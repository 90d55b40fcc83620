"""Cross-validation of the trainable detector, so nobody reports numbers trained on the test seizures.

Schemes:

- ``loso`` (leave one seizure out, per patient, Shoeb & Guttag style): each patient's timeline is
  cut into blocks holding one seizure each (cuts halfway between seizures); each block in turn is
  the test set, the patient's other blocks the training set.
- ``lopo`` (leave one patient out): each patient in turn is the test set, the others train.
- ``time-series`` (forward chaining, per patient): blocks as for ``loso``, in time order; block k
  is tested on a model trained on blocks 0..k-1 only (the first block is never tested).

Features are computed once per recording (the adaptive baseline is causal and label-free); each
fold then trains a :class:`FeatureClassifier` on its training rows, predicts its test rows and
post-processes them into events, which are scored with SzCORE per test block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from eegmon._checks import check_option
from eegmon._logging import progress
from eegmon.errors import EegmonError
from eegmon.evaluate import Evaluation, evaluate_pairs
from eegmon.evaluate.dataset import RecordingPair
from eegmon.events import Annotation
from eegmon.source import SignalSource

from .features import DETECTOR_COLUMNS, ROW_COLUMNS, good_windows
from .model import DetectionModel
from .postprocess import PostProcessor
from .registry import make_detector
from .runner import FeatureStream, channel_proba, decide
from .training import _labels

SCHEMES = ("loso", "lopo", "time-series")
_N_MODEL = len(DETECTOR_COLUMNS)
_QUALITY = slice(ROW_COLUMNS.index("flat_fraction"), ROW_COLUMNS.index("nan_fraction") + 1)


@dataclass
class PatientRows:
    """All detector rows of one patient's recording, with labels and seizures."""

    patient: str
    channels: tuple[str, ...]
    times: np.ndarray  # (n,)
    rows: np.ndarray  # (n, n_channels, n_columns) float32
    labels: np.ndarray  # (n, n_channels) int8: 1 seizure, 0 background, -1 ambiguous
    seizures: list[Annotation]
    hop_s: float


def patient_rows(patient: str, source: SignalSource, template: DetectionModel, *, quiet: bool = True) -> PatientRows:
    """Compute the rows of a whole recording once (float32 to halve the memory)."""
    stream = FeatureStream(template, source.fs, source.channels, clip_level=source.clip_level)
    seizures = [a for a in source.annotations if a.is_seizure and a.status != "rejected"]
    times, rows = [], []
    for t0, x in progress(source.chunks(600.0), desc=f"features {patient}", quiet=quiet, unit="chunk"):
        table, r = stream.push(x, t0)
        if r is not None:
            times.append(table.times)
            rows.append(r.astype(np.float32))
    if not times:
        raise EegmonError("the recording is too short for a single feature window.", source.path)
    t = np.concatenate(times)
    rows = np.concatenate(rows)
    labels = _labels(t, template.window_s, source.channels, seizures)
    labels[~good_windows(rows[:, :, _QUALITY], template.quality)] = -1  # the gate gives these p = 0 anyway
    return PatientRows(patient, source.channels, t, rows, labels, seizures, template.hop_s)


def _blocks(p: PatientRows) -> np.ndarray:
    """Block index of each window: one seizure per block, cut halfway between seizures."""
    spans = sorted((s.onset, s.offset) for s in p.seizures)
    cuts = [(a[1] + b[0]) / 2 for a, b in zip(spans[:-1], spans[1:], strict=True)]
    return np.searchsorted(np.asarray(cuts, dtype=float), p.times, side="right")


def _seizures_in(p: PatientRows, mask: np.ndarray) -> int:
    """Seizures with at least one window in ``mask``."""
    return sum(bool(np.any(mask & (p.times > s.onset) & (p.times <= s.offset + 2.0))) for s in p.seizures)


def _folds(scheme: str, patients: Sequence[PatientRows]):
    """Yield (name, {patient index: train mask}, {patient index: test mask})."""
    if scheme == "lopo":
        if len(patients) < 2:
            raise EegmonError("leave-one-patient-out needs at least two patients.")
        for i, p in enumerate(patients):
            train = {j: np.ones(q.times.size, bool) for j, q in enumerate(patients) if j != i}
            yield f"{p.patient}", train, {i: np.ones(p.times.size, bool)}
        return
    for i, p in enumerate(patients):
        block = _blocks(p)
        n_blocks = int(block.max()) + 1
        if n_blocks < 2:
            raise EegmonError(f"patient {p.patient} has {len(p.seizures)} seizure(s); {scheme} needs at least two.")
        for k in range(n_blocks):
            if scheme == "time-series" and k == 0:
                continue
            train_mask = block < k if scheme == "time-series" else block != k
            yield f"{p.patient}#{k}", {i: train_mask}, {i: block == k}


def cross_validate(patients: Sequence[PatientRows], scheme: str, *, negatives_per_positive: float = 20.0,
                   seed: int = 0, n_estimators: int = 60, quiet: bool = True) -> tuple[Evaluation, list[dict]]:
    """Run the folds of ``scheme`` and score every test block with SzCORE.

    Returns
    -------
    Evaluation
        Over all test blocks (subject = patient).
    list of dict
        Per fold: name, training seizures, test seizures and test hours.
    """
    check_option("scheme", scheme, SCHEMES)
    rng = np.random.default_rng(seed)
    pairs, folds = [], []
    template = DetectionModel("classifier", None)
    for name, train, test in progress(list(_folds(scheme, patients)), desc="folds", quiet=quiet, unit="fold"):
        X, y = [], []
        for i, mask in train.items():
            lab = patients[i].labels[mask].reshape(-1)
            r = patients[i].rows[mask][:, :, :_N_MODEL].reshape(-1, _N_MODEL)
            pos, neg = r[lab == 1], r[lab == 0]
            keep = max(int(negatives_per_positive * len(pos)), 2000)
            if len(neg) > keep:
                neg = neg[rng.choice(len(neg), keep, replace=False)]
            X += [pos, neg]
            y += [np.ones(len(pos), np.int8), np.zeros(len(neg), np.int8)]
        y_all = np.concatenate(y)
        if not (y_all == 1).any():
            continue
        est = make_detector("classifier", n_estimators=n_estimators, random_state=seed).fit(
            np.concatenate(X).astype(np.float64), y_all)
        n_train_sz = sum(_seizures_in(patients[i], mask) for i, mask in train.items())
        for i, mask in test.items():
            p = patients[i]
            t = p.times[mask]
            model = replace(template, estimator=est)
            rows = p.rows[mask].astype(np.float64)
            post = PostProcessor(**model.postprocess, window_s=model.window_s, channel_names=p.channels)
            events = decide(post, model, t, rows, *channel_proba(model, rows))[0] + post.flush()
            start, stop = t[0] - template.window_s, t[-1]
            ref = [(s.onset - start, s.offset - start) for s in p.seizures if start <= s.onset < stop]
            hyp = [(e.onset - start, e.offset - start) for e in events]
            duration = mask.sum() * p.hop_s
            pairs.append(RecordingPair(name=name, subject=p.patient, duration=max(duration, stop - start),
                                       start=start, ref=ref, hyp=hyp))
            folds.append({"fold": name, "train_seizures": n_train_sz, "test_seizures": len(ref),
                          "test_hours": round(duration / 3600, 2), "detections": len(hyp)})
    return evaluate_pairs(pairs), folds
