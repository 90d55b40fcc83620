"""The streaming form of a detector: pipeline -> adaptive features -> estimator -> post-processing.

Batch detection is this object fed large chunks; the live monitor feeds it small ones; the
events are the same (a tested property).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eegmon.dsp import design_filter
from eegmon.errors import EegmonError
from eegmon.events import Annotation
from eegmon.features import FeatureTable, Pipeline

from .features import DETECTOR_COLUMNS, AdaptiveFeatures
from .model import DetectionModel
from .postprocess import PostProcessor

_FLAT = DETECTOR_COLUMNS.index("flat_fraction")
_CLIP = DETECTOR_COLUMNS.index("clip_fraction")
_NAN = DETECTOR_COLUMNS.index("nan_fraction")


@dataclass(frozen=True)
class DetectionChunk:
    """What one pushed chunk produced."""

    events: list[Annotation]
    times: np.ndarray  # window end times, s since epoch
    proba: np.ndarray  # (n_windows,) seizure probability (max over channels)
    channel_proba: np.ndarray  # (n_windows, n_channels)
    bad: np.ndarray  # (n_windows, n_channels) True where the signal-quality gate held the window back


class FeatureStream:
    """The model's processing chain without its estimator: samples in, detector rows out.

    Parameters are those of :class:`StreamingDetector`. Training uses it to see exactly what
    the detector will see.
    """

    def __init__(self, model: DetectionModel, fs: float, channel_names: Sequence[str], *, clip_level: float = 1000.0,
                 line_freq: float = 50.0) -> None:
        self.channel_names = tuple(channel_names)
        if not self.channel_names:
            raise EegmonError("no channels to run the detector on.")
        proc_fs = float(model.fs or fs)
        filters = []
        for spec in model.filters:
            spec = dict(spec)
            if spec["kind"] == "notch":
                spec["line_freq"] = line_freq
                if line_freq >= proc_fs / 2:
                    continue  # nothing to notch below Nyquist
            if spec["kind"] == "bandpass" and spec["high"] >= proc_fs / 2:
                spec = {"kind": "highpass", "low": spec["low"], "order": spec.get("order", 2)}
            filters.append(design_filter(fs=proc_fs, **spec))
        self.pipeline = Pipeline(fs, len(self.channel_names), filters=filters, window=model.window_s, hop=model.hop_s,
                                 channel_names=self.channel_names,
                                 resample_to=None if model.fs in (None, fs) else model.fs,
                                 clip_level=clip_level, line_freq=line_freq)
        self.features = AdaptiveFeatures(self.channel_names, baseline_minutes=model.baseline_minutes,
                                         hop_s=model.hop_s, prior=None if model.prior is None else
                                         np.asarray(model.prior), prior_minutes=model.prior_minutes)

    def push(self, samples: np.ndarray, t_start: float | None = None) -> tuple[FeatureTable, np.ndarray | None]:
        """The feature table of the windows this chunk completes and their detector rows (None if none)."""
        table = self.pipeline.push(samples, t_start)
        return table, (self.features.transform(table) if len(table) else None)


class StreamingDetector:
    """Run a :class:`DetectionModel` on a stream of sample chunks.

    Parameters
    ----------
    model : DetectionModel
        The detector and its processing chain.
    fs : float
        Sampling rate of the incoming samples (resampled to ``model.fs`` if that is set and differs).
    channel_names : sequence of str
        Channels of the incoming samples (any number).
    clip_level : float
        Full scale of the device in µV (samples at or beyond count as clipped).
    name : str
        Detector name for the events' source (``detector:<name>``).
    line_freq : float
        Mains frequency for the notch filter.
    """

    def __init__(self, model: DetectionModel, fs: float, channel_names: Sequence[str], *, clip_level: float = 1000.0,
                 name: str | None = None, line_freq: float = 50.0) -> None:
        self.model = model
        self.stream = FeatureStream(model, fs, channel_names, clip_level=clip_level, line_freq=line_freq)
        self.channel_names = self.stream.channel_names
        self.source = f"detector:{name or model.detector}"
        self.post = PostProcessor(**model.postprocess, window_s=model.window_s, channel_names=self.channel_names,
                                  source=self.source)

    def proba(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel seizure probability of detector rows, and the signal-quality gate.

        Returns ``(proba, bad)``, both (n_windows, n_channels); ``proba`` is 0 where ``bad`` (the
        gate held the window back: flat, clipped or missing samples).
        """
        n_win, n_ch, n_col = rows.shape
        flat = rows.reshape(-1, n_col)
        est = self.model.estimator
        proba = est.predict_proba(flat)
        p = proba[:, -1] if est.classes_[-1] == 1 and proba.shape[1] > 1 else np.zeros(flat.shape[0])
        p = p.reshape(n_win, n_ch)
        q = self.model.quality
        bad = (~(rows[:, :, _FLAT] <= q["max_flat"])) | (~(rows[:, :, _CLIP] <= q["max_clip"])) | \
            (rows[:, :, _NAN] > 0)
        p = np.where(bad | np.isnan(p), 0.0, p)
        return p, bad

    def push(self, samples: np.ndarray, t_start: float | None = None) -> DetectionChunk:
        """Feed samples (n, n_channels) in µV starting at ``t_start`` (s since epoch; None = contiguous)."""
        table, rows = self.stream.push(samples, t_start)
        if rows is None:
            n_ch = len(self.channel_names)
            empty = np.zeros(0)
            return DetectionChunk([], empty, empty, np.zeros((0, n_ch)), np.zeros((0, n_ch), bool))
        channel_proba, bad = self.proba(rows)
        proba = channel_proba.max(axis=1)
        events = self.post.update(table.times, proba, channel_proba)
        return DetectionChunk(events, table.times, proba, channel_proba, bad)

    def flush(self) -> list[Annotation]:
        """End of the stream: events still open."""
        return self.post.flush()
