"""Training a feature classifier from recordings with known seizures (ground truth or confirmed review)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from eegmon._logging import progress
from eegmon.errors import EegmonError
from eegmon.events import Annotation
from eegmon.source import SignalSource

from .features import AMPLITUDE, DETECTOR_COLUMNS, ROW_COLUMNS, good_windows
from .model import DetectionModel
from .registry import make_detector
from .runner import FeatureStream

_N_MODEL = len(DETECTOR_COLUMNS)
_QUALITY = slice(ROW_COLUMNS.index("flat_fraction"), ROW_COLUMNS.index("nan_fraction") + 1)


@dataclass
class TrainingRows:
    """Detector rows of one recording with their labels."""

    X: np.ndarray  # (n_rows, len(DETECTOR_COLUMNS))
    y: np.ndarray  # (n_rows,) 1 = seizure
    log_amplitude: np.ndarray  # (len(AMPLITUDE),) median log10 amplitude of the background, for the prior
    hours: float
    n_seizures: int
    weight: np.ndarray | None = None  # (n_rows,) sample weights; None = 1


def _labels(times: np.ndarray, window_s: float, channels: tuple[str, ...], seizures: Sequence[Annotation]):
    """Per (window, channel): 1 when the window lies at least half in a seizure on that channel,
    0 when it touches none, -1 (left out) in between or on a channel the seizure does not involve."""
    y = np.zeros((times.size, len(channels)), dtype=np.int8)
    starts = times - window_s
    for sz in seizures:
        overlap = np.clip(np.minimum(times, sz.offset) - np.maximum(starts, sz.onset), 0, None) / window_s
        on = [not sz.channels or c in sz.channels for c in channels]
        for j, involved in enumerate(on):
            col = y[:, j]
            col[(overlap > 0) & (col == 0)] = -1
            if involved:
                col[overlap >= 0.5] = 1
    return y


def rows_from_features(batches: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray | None]], *,
                       channels: Sequence[str], seizures: Sequence[Annotation], model: DetectionModel,
                       rng: np.random.Generator, hours: float, negatives_per_positive: float = 20.0,
                       min_negatives: int = 5000, ignore: Sequence[tuple[float, float]] = (),
                       hard: Sequence[tuple[float, float]] = (), hard_weight: float = 1.0) -> TrainingRows:
    """Label detector rows and keep the ones to train on (see :func:`rows_from_chunks`).

    ``batches`` are ``(times, rows, amplitude)``: window end times (n,), detector rows
    (n, n_channels, len(ROW_COLUMNS)) as :class:`~eegmon.detectors.runner.FeatureStream` makes
    them, and the windows' raw ``AMPLITUDE`` features (n, n_channels, len(AMPLITUDE)) for the
    population prior, or None (the rows' ``log_amplitude`` is then NaN). ``hours`` is the
    recorded time they cover. Rows in ``hard`` intervals get sample weight ``hard_weight``.
    """
    channels = tuple(channels)
    pos, neg, mimic, amp = [], [], [], []
    for times, rows, amplitude in batches:
        y = _labels(times, model.window_s, channels, seizures)
        y[~good_windows(rows[:, :, _QUALITY], model.quality)] = -1
        for a, b in ignore:
            y[(times > a) & (times <= b)] = -1
        in_hard = np.zeros(times.size, bool)
        for a, b in hard:
            in_hard |= (times > a) & (times <= b)
        flat, yf = rows[:, :, :_N_MODEL].reshape(-1, _N_MODEL), y.reshape(-1)
        hf = np.repeat(in_hard, len(channels))
        pos.append(flat[yf == 1])
        neg.append(flat[(yf == 0) & ~hf])
        mimic.append(flat[(yf == 0) & hf])
        if amplitude is not None:
            amp.append(amplitude.reshape(-1, len(AMPLITUDE))[yf == 0])
    P = np.concatenate(pos) if pos else np.zeros((0, _N_MODEL))
    N = np.concatenate(neg) if neg else np.zeros((0, _N_MODEL))
    keep = max(int(negatives_per_positive * len(P)), min_negatives)
    if len(N) > keep:
        N = N[rng.choice(len(N), keep, replace=False)]
    M = np.concatenate(mimic) if mimic else np.zeros((0, _N_MODEL))
    X = np.concatenate([P, N, M])
    y = np.concatenate([np.ones(len(P), np.int8), np.zeros(len(N) + len(M), np.int8)])
    weight = None
    if hard_weight != 1.0 and len(M):
        weight = np.concatenate([np.ones(len(P) + len(N)), np.full(len(M), float(hard_weight))])
    background = np.concatenate(amp) if amp else np.zeros((0, len(AMPLITUDE)))
    log_amp = np.median(np.log10(np.maximum(background, 1e-12)), axis=0) if len(background) \
        else np.full(len(AMPLITUDE), np.nan)
    return TrainingRows(X, y, log_amp, hours, len(seizures), weight)


def feature_batches(chunks: Iterable[tuple[float, np.ndarray]], *, fs: float, channels: Sequence[str],
                    model: DetectionModel, clip_level: float | np.ndarray = 1e6, line_freq: float = 50.0,
                    counter: list | None = None):
    """``(times, rows, amplitude)`` of ``(t_start, samples)`` chunks through the model's processing chain.

    ``counter``, when given, is a one-element list that receives the number of samples read.
    """
    stream = FeatureStream(model, fs, tuple(channels), clip_level=clip_level, line_freq=line_freq)
    amp_idx = None
    for t0, x in chunks:
        if counter is not None:
            counter[0] += x.shape[0]
        table, rows = stream.push(x, t0)
        if rows is None:
            continue
        amp_idx = amp_idx or [table.feature_names.index(n) for n in AMPLITUDE]
        yield table.times, rows, table.values[:, :, amp_idx]


def rows_from_chunks(chunks: Iterable[tuple[float, np.ndarray]], *, fs: float, channels: Sequence[str],
                     seizures: Sequence[Annotation], model: DetectionModel, rng: np.random.Generator,
                     clip_level: float | np.ndarray = 1e6, line_freq: float = 50.0,
                     negatives_per_positive: float = 20.0, min_negatives: int = 5000,
                     ignore: Sequence[tuple[float, float]] = (),
                     hard: Sequence[tuple[float, float]] = (), hard_weight: float = 1.0) -> TrainingRows:
    """Run the model's processing chain over ``(t_start, samples)`` chunks and keep labelled rows.

    Only windows that pass the signal-quality gate are kept (the detector gives the others
    probability 0), and none that ends inside an ``ignore`` interval (absolute start, stop):
    an unreviewed detection there is neither seizure nor background. All seizure rows are
    kept, and all background rows ending in a ``hard`` interval (known seizure mimics, or
    detections a reviewer rejected), with sample weight ``hard_weight``; the other background
    rows are subsampled at random to at most ``negatives_per_positive`` times the seizure rows
    (at least ``min_negatives``).
    """
    counter = [0]
    batches = feature_batches(chunks, fs=fs, channels=channels, model=model, clip_level=clip_level,
                              line_freq=line_freq, counter=counter)
    # rows_from_features reads every batch before it returns, so the counter is complete then
    rows = rows_from_features(batches, channels=channels, seizures=seizures, model=model, rng=rng,
                              hours=0.0, negatives_per_positive=negatives_per_positive,
                              min_negatives=min_negatives, ignore=ignore, hard=hard, hard_weight=hard_weight)
    return replace(rows, hours=counter[0] / fs / 3600.0)


def collect_rows(source: SignalSource, seizures: Sequence[Annotation], model: DetectionModel, *,
                 rng: np.random.Generator, negatives_per_positive: float = 20.0, min_negatives: int = 5000,
                 line_freq: float = 50.0, quiet: bool = True, ignore: Sequence[tuple[float, float]] = (),
                 hard: Sequence[tuple[float, float]] = (), hard_weight: float = 1.0) -> TrainingRows:
    """:func:`rows_from_chunks` over every sample of ``source`` (see there)."""
    return rows_from_chunks(progress(source.chunks(600.0), desc="features", quiet=quiet, unit="chunk"),
                            fs=source.fs, channels=source.channels, seizures=seizures, model=model, rng=rng,
                            clip_level=source.clip_level, line_freq=line_freq,
                            negatives_per_positive=negatives_per_positive, min_negatives=min_negatives,
                            ignore=ignore, hard=hard, hard_weight=hard_weight)


def train_classifier(parts: Sequence[TrainingRows], *, template: DetectionModel, training: dict | None = None,
                     random_state: int = 0, **params) -> DetectionModel:
    """Fit a :class:`FeatureClassifier` on rows from one or more recordings and wrap it in a model.

    Parameters
    ----------
    parts : sequence of TrainingRows
        From :func:`collect_rows` or :func:`rows_from_chunks`, one per recording.
    template : DetectionModel
        The processing chain the rows were computed with (rate, windows, filters, gate,
        post-processing); the trained model keeps it.
    training : dict | None
        Extra facts for the model's training summary.
    random_state : int
        Seed of the forest.
    **params
        Further :class:`FeatureClassifier` parameters.

    Notes
    -----
    The model keeps the template's population prior (None: the baseline starts from a
    recording's first windows): the rows must have been computed with the prior the model will
    run with. :func:`population_prior` gives one from recordings.
    """
    X = np.concatenate([p.X for p in parts])
    y = np.concatenate([p.y for p in parts])
    if (y == 1).sum() == 0:
        raise EegmonError("no seizure windows in the training data: give recordings with annotated or confirmed "
                          "seizures (ground truth, --labels, or reviewed detections).")
    weights = [p.weight if p.weight is not None else np.ones(len(p.y)) for p in parts]
    est = make_detector("classifier", random_state=random_state, **params).fit(X, y,
                                                                                 sample_weight=np.concatenate(weights))
    summary = {
        "recordings": len(parts), "hours": round(sum(p.hours for p in parts), 2),
        "seizures": int(sum(p.n_seizures for p in parts)), "seizure_rows": int((y == 1).sum()),
        "background_rows": int((y == 0).sum()), **(training or {}),
    }
    return replace(template, detector="classifier", estimator=est, training=summary)


def population_prior(parts: Sequence[TrainingRows], groups: Sequence[str] | None = None) -> list[float]:
    """The median over recordings of each one's median log10 background amplitude (one vote each).

    ``parts`` are rows of recordings at their natural amplitude, computed without a prior. With
    ``groups`` (one name per part), each group votes once, with the median of its recordings.
    """
    groups = list(range(len(parts))) if groups is None else list(groups)
    by_group: dict = {}
    for part, group in zip(parts, groups, strict=True):
        if np.all(np.isfinite(part.log_amplitude)):
            by_group.setdefault(group, []).append(part.log_amplitude)
    if not by_group:
        raise EegmonError("no background windows to learn a population prior from.")
    votes = [np.median(amps, axis=0) for amps in by_group.values()]
    return [float(v) for v in np.median(np.array(votes), axis=0)]


def blend_forests(base: DetectionModel, patient: DetectionModel) -> DetectionModel:
    """``patient`` with the trees of ``base`` added to its forest: the probability is the tree-weighted mean.

    Both must be two-class :class:`FeatureClassifier` models on the same processing chain (the
    patient's rows computed with the base model as template). The result is an ordinary
    model file (one forest), so it loads and runs as any other.
    """
    import copy

    from .estimators import FeatureClassifier, flatten_forest

    for m in (base, patient):
        if not isinstance(m.estimator, FeatureClassifier) or list(m.estimator.classes_) != [0, 1]:
            raise EegmonError(f"only two-class classifier models can be blended, got {m.detector!r}.")
    if base.estimator.n_features_in_ != patient.estimator.n_features_in_:
        raise EegmonError("the models to blend were trained on different feature sets.")
    est = copy.deepcopy(patient.estimator)
    trees = [*base.estimator.forest_.estimators_, *est.forest_.estimators_]
    est.forest_.estimators_ = trees
    est.forest_.n_estimators = est.n_estimators = len(trees)
    est.flat_ = flatten_forest(est.forest_)
    training = {**patient.training, "forest": {"base_trees": len(base.estimator.forest_.estimators_),
                                               "patient_trees": len(patient.estimator.forest_.estimators_)}}
    return replace(patient, estimator=est, training=training)
