"""Training a feature classifier from recordings with known seizures (ground truth or confirmed review)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eegmon._logging import progress
from eegmon.errors import EegmonError
from eegmon.events import Annotation
from eegmon.source import SignalSource

from .features import AMPLITUDE
from .model import DetectionModel
from .registry import make_detector
from .runner import FeatureStream


@dataclass
class TrainingRows:
    """Detector rows of one or more recordings with their labels."""

    X: np.ndarray  # (n_rows, n_columns)
    y: np.ndarray  # (n_rows,) 1 = seizure
    log_amplitude: np.ndarray  # (n_background_rows, len(AMPLITUDE)) for the population prior
    hours: float
    n_seizures: int


def _labels(times: np.ndarray, window_s: float, channels: tuple[str, ...], seizures: Sequence[Annotation]):
    """Per (window, channel): 1 when the window lies at least half in a seizure on that channel,
    0 when it touches none, -1 (left out) in between."""
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


def collect_rows(source: SignalSource, seizures: Sequence[Annotation], model: DetectionModel, *,
                 rng: np.random.Generator, negatives_per_positive: float = 20.0, min_negatives: int = 5000,
                 line_freq: float = 50.0, quiet: bool = True) -> TrainingRows:
    """Run the model's processing chain over ``source`` and keep labelled rows.

    All seizure rows are kept; background rows are subsampled at random to at most
    ``negatives_per_positive`` times the seizure rows (at least ``min_negatives``).
    """
    stream = FeatureStream(model, source.fs, source.channels, clip_level=source.full_scale_uv, line_freq=line_freq)
    pos, neg, amp = [], [], []
    names = None
    for t0, x in progress(source.chunks(600.0), desc="features", quiet=quiet, unit="chunk"):
        table, rows = stream.push(x, t0)
        if rows is None:
            continue
        names = names or table.feature_names
        y = _labels(table.times, model.window_s, source.channels, seizures)
        flat, yf = rows.reshape(-1, rows.shape[2]), y.reshape(-1)
        pos.append(flat[yf == 1])
        neg.append(flat[yf == 0])
        amp_idx = [names.index(n) for n in AMPLITUDE]
        bg = table.values[:, :, amp_idx].reshape(-1, len(AMPLITUDE))[yf == 0]
        amp.append(np.log10(np.maximum(bg[rng.uniform(size=bg.shape[0]) < 0.05], 1e-12)))
    P = np.concatenate(pos) if pos else np.zeros((0, model_width()))
    N = np.concatenate(neg) if neg else np.zeros((0, model_width()))
    keep = max(int(negatives_per_positive * len(P)), min_negatives)
    if len(N) > keep:
        N = N[rng.choice(len(N), keep, replace=False)]
    X = np.concatenate([P, N])
    y = np.concatenate([np.ones(len(P), np.int8), np.zeros(len(N), np.int8)])
    return TrainingRows(X, y, np.concatenate(amp) if amp else np.zeros((0, len(AMPLITUDE))),
                        source.recorded_s / 3600.0, len(seizures))


def model_width() -> int:
    """Number of detector columns."""
    from .features import DETECTOR_COLUMNS

    return len(DETECTOR_COLUMNS)


def train_classifier(parts: Sequence[TrainingRows], *, fs: float | None, training: dict | None = None,
                     random_state: int = 0, **params) -> DetectionModel:
    """Fit a :class:`FeatureClassifier` on rows from one or more recordings and wrap it in a model.

    Parameters
    ----------
    parts : sequence of TrainingRows
        From :func:`collect_rows`.
    fs : float | None
        Processing rate the rows were computed at (stored in the model; other rates are resampled to it).
    training : dict | None
        Extra facts for the model's training summary.
    random_state : int
        Seed of the forest.
    **params
        Further :class:`FeatureClassifier` parameters.
    """
    X = np.concatenate([p.X for p in parts])
    y = np.concatenate([p.y for p in parts])
    if (y == 1).sum() == 0:
        raise EegmonError("no seizure windows in the training data: give recordings with annotated or confirmed "
                          "seizures (ground truth, --labels, or reviewed detections).")
    est = make_detector("classifier", random_state=random_state, **params).fit(X, y)
    amp = np.concatenate([p.log_amplitude for p in parts])
    summary = {
        "recordings": len(parts), "hours": round(sum(p.hours for p in parts), 2),
        "seizures": int(sum(p.n_seizures for p in parts)), "seizure_rows": int((y == 1).sum()),
        "background_rows": int((y == 0).sum()), **(training or {}),
    }
    return DetectionModel("classifier", est, fs=fs, prior=[float(v) for v in np.median(amp, axis=0)]
                          if len(amp) else None, training=summary)
