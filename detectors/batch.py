"""Batch detection and training data over whole recordings (the streaming runner fed big chunks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eegmon._logging import progress
from eegmon.events import Annotation
from eegmon.source import SignalSource

from .model import DetectionModel
from .runner import StreamingDetector


@dataclass
class DetectionResult:
    """Events and the per-window probability trace of one recording."""

    events: list[Annotation]
    times: np.ndarray
    proba: np.ndarray


def detect_source(source: SignalSource, model: DetectionModel, *, name: str | None = None,
                  line_freq: float = 50.0, chunk_s: float = 600.0, quiet: bool = True) -> DetectionResult:
    """Run ``model`` over every sample of ``source`` in time order.

    Parameters
    ----------
    source : SignalSource
        From :func:`eegmon.io.open_recording`.
    model : DetectionModel
        The detector and its processing chain.
    name : str | None
        Detector name in the events' source (``detector:<name>``).
    line_freq : float
        Mains frequency (50 or 60 Hz).
    chunk_s : float
        Seconds read and processed at a time (memory is bounded by it, not by the recording).
    quiet : bool
        No progress bar.
    """
    runner = StreamingDetector(model, source.fs, source.channels, clip_level=source.clip_level, name=name,
                               line_freq=line_freq)
    events: list[Annotation] = []
    times, proba = [], []
    total = int(np.ceil(sum(np.ceil(s.n_samples / (chunk_s * source.fs)) for s in source.segments)))
    # The bar stays when done: after the start-up (imports, model) it is a few seconds of a longer run.
    for t0, x in progress(source.chunks(chunk_s), total=total, desc="detect", quiet=quiet, unit="chunk", leave=True):
        out = runner.push(x, t0)
        events += out.events
        times.append(out.times)
        proba.append(out.proba)
    events += runner.flush()
    return DetectionResult(events, np.concatenate(times) if times else np.zeros(0),
                           np.concatenate(proba) if proba else np.zeros(0))


def minute_trend(result: DetectionResult, bin_s: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """Maximum window probability per ``bin_s`` bin (bins without windows are left out)."""
    if result.times.size == 0:
        return np.zeros(0), np.zeros(0)
    bins = np.floor(result.times / bin_s).astype(np.int64)
    starts, first = np.unique(bins, return_index=True)
    return starts * bin_s, np.maximum.reduceat(result.proba, first)
