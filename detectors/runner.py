"""The streaming form of a detector: pipeline -> adaptive features -> estimator -> vote -> post-processing.

Batch detection is this object fed large chunks; the live monitor feeds it small ones; the
events are the same (a tested property). The three steps of :meth:`StreamingDetector.push` are
public (:meth:`~StreamingDetector.stage`, :meth:`~StreamingDetector.proba`,
:meth:`~StreamingDetector.finish`) so that a monitor of many streams can run the estimator once
over the rows of all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eegmon._logging import logger
from eegmon.dsp import design_filter
from eegmon.errors import EegmonError
from eegmon.events import Annotation
from eegmon.features import FeatureTable, Pipeline, window_grid

from .features import DETECTOR_COLUMNS, ROW_COLUMNS, AdaptiveFeatures, good_windows
from .model import DetectionModel
from .postprocess import PostProcessor, Run

_N_MODEL = len(DETECTOR_COLUMNS)
_QUALITY = slice(ROW_COLUMNS.index("flat_fraction"), ROW_COLUMNS.index("nan_fraction") + 1)
_WARM = ROW_COLUMNS.index("warm")


@dataclass(frozen=True)
class DetectionChunk:
    """What one pushed chunk produced.

    ``proba`` is the window's seizure probability over the channels that pass the quality gate,
    warm or not (the trace a reviewer sees); events are made from the same vote over warm
    channels only, so nothing can alarm while the baseline warms up.
    """

    events: list[Annotation]
    times: np.ndarray  # window end times, s since epoch
    proba: np.ndarray  # (n_windows,) seizure probability (the channel vote)
    channel_proba: np.ndarray  # (n_windows, n_channels)
    bad: np.ndarray  # (n_windows, n_channels) True where the signal-quality gate held the window back
    warm: np.ndarray  # (n_windows, n_channels) True where the channel's baseline was warm


@dataclass(frozen=True)
class Staged:
    """A chunk run up to its detector rows (:meth:`StreamingDetector.stage`); ``rows`` is None without windows."""

    table: FeatureTable
    rows: np.ndarray | None


def processing_rate(model: DetectionModel, fs: float) -> float:
    """The rate the model's features are computed at (:func:`eegmon.features.window_grid`)."""
    return window_grid(fs, model.window_s, model.hop_s, resample_to=model.fs).fs


def design_filters(specs: Sequence[dict], fs: float) -> list[np.ndarray]:
    """SOS arrays of a model's filters (``eegmon.dsp.design_filter`` arguments) at processing rate ``fs``.

    A notch at or above the Nyquist frequency ``fs / 2`` is left out, and the log says so: a
    notch has nothing to remove there (mains that high was for the device's anti-aliasing filter,
    or the resampler's, to remove before the samples were made). This is how a model with notches
    at 50 and 60 Hz runs on 100-Hz input at the input's rate. Any other edge at or above Nyquist
    is an error: the filter would not be the one the model was trained with.

    Raises
    ------
    EegmonError
        When a band-pass, high-pass or low-pass edge is not below ``fs / 2``.
    """
    nyquist = fs / 2.0
    out = []
    for spec in specs:
        spec = dict(spec)
        if spec["kind"] == "notch":
            line = spec.get("line_freq", 50.0)
            if line >= nyquist:
                logger.info("The model's %g Hz notch is left out: it is not below the Nyquist frequency "
                            "%g Hz of the %g-Hz processing rate.", line, nyquist, fs)
                continue
        for edge in ("low", "high"):
            value = spec.get(edge)
            if value is not None and value >= nyquist:
                raise EegmonError(f"The model's {spec['kind']} filter has {edge}={value:g} Hz, but edges must be "
                                  f"below the Nyquist frequency {nyquist:g} Hz of its processing rate {fs:g} Hz. "
                                  f"Use input sampled at more than {2 * value:g} Hz or a model with a rate of "
                                  f"its own (DetectionModel.fs).")
        out.append(design_filter(fs=fs, **spec))
    return out


def vote(channel_proba: np.ndarray, eligible: np.ndarray, channels_per_vote: int) -> np.ndarray:
    """The window probability from its channels: the k-th largest eligible channel probability.

    ``k = ceil(n_eligible / channels_per_vote)``: one channel decides for up to
    ``channels_per_vote`` channels, two for up to twice as many, and so on, so that a large
    montage needs the spatial agreement a seizure has and one noisy electrode among 64 cannot
    raise an alarm. 0 where no channel is eligible.
    """
    p = np.where(eligible, channel_proba, -1.0)
    if p.shape[1] <= channels_per_vote:  # one channel decides: the largest
        return np.maximum(p.max(axis=1, initial=-1.0), 0.0)
    n = eligible.sum(axis=1)
    k = np.maximum(-(-n // channels_per_vote), 1)
    ranked = -np.sort(-p, axis=1)
    out = np.take_along_axis(ranked, (k - 1)[:, None], axis=1)[:, 0]
    return np.where(n > 0, np.maximum(out, 0.0), 0.0)


def channel_proba(model: DetectionModel, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel seizure probability of detector rows (n_windows, n_channels, len(ROW_COLUMNS)).

    Returns ``(proba, bad)``, both (n_windows, n_channels); ``proba`` is 0 where ``bad`` (the
    quality gate: flat, clipped, mains-dominated or missing samples).
    """
    n_win, n_ch, _ = rows.shape
    p = model.estimator.seizure_proba(rows[:, :, :_N_MODEL].reshape(n_win * n_ch, _N_MODEL)).reshape(n_win, n_ch)
    bad = ~good_windows(rows[:, :, _QUALITY], model.quality)
    return np.where(bad | np.isnan(p), 0.0, p), bad


def decide(post: PostProcessor, model: DetectionModel, times: np.ndarray, rows: np.ndarray, proba: np.ndarray,
           bad: np.ndarray) -> tuple[list[Annotation], np.ndarray, np.ndarray]:
    """Vote over the channels and post-process; return ``(finished events, window proba, warm)``.

    The window probability (the trace) is the vote over the good channels; events come from the
    vote over the good channels whose baseline is warm.
    """
    warm = rows[:, :, _WARM] > 0
    trace = vote(proba, ~bad, model.channels_per_vote)
    alarm = vote(proba, ~bad & warm, model.channels_per_vote)
    return post.update(times, alarm, np.where(warm, proba, 0.0)), trace, warm


class FeatureStream:
    """The model's processing chain without its estimator: samples in, detector rows out.

    Parameters are those of :class:`StreamingDetector`. Training uses it to see exactly what
    the detector will see.
    """

    def __init__(self, model: DetectionModel, fs: float, channel_names: Sequence[str], *,
                 clip_level: float | np.ndarray = 1000.0, line_freq: float = 50.0) -> None:
        self.channel_names = tuple(channel_names)
        if not self.channel_names:
            raise EegmonError("no channels to run the detector on.")
        grid = window_grid(fs, model.window_s, model.hop_s, resample_to=model.fs)
        self.pipeline = Pipeline(fs, len(self.channel_names), filters=design_filters(model.filters, grid.fs),
                                 window=model.window_s, hop=model.hop_s, channel_names=self.channel_names,
                                 resample_to=grid.resample_to, clip_level=clip_level, line_freq=line_freq)
        self.features = AdaptiveFeatures(
            self.channel_names, gate=model.quality, baseline_minutes=model.baseline_minutes, hop_s=model.hop_s,
            prior=None if model.prior is None else np.asarray(model.prior), prior_minutes=model.prior_minutes,
            warmup_s=model.warmup_s, rewarm_gap_s=model.rewarm_gap_s)

    def push(self, samples: np.ndarray, t_start: float | None = None) -> tuple[FeatureTable, np.ndarray | None]:
        """The feature table of the windows this chunk completes and their rows (``ROW_COLUMNS``; None if none)."""
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
    clip_level : float | array-like
        The rails of the device in µV: one level, one per channel, or each channel's (low, high)
        physical range (see :class:`eegmon.features.Pipeline`).
    name : str
        Detector name for the events' source (``detector:<name>``).
    line_freq : float
        Mains frequency, for the line-noise share the quality gate reads.

    Notes
    -----
    Warm-up: a channel takes part in the vote that makes events only once its adaptive baseline
    has seen ``model.warmup_s`` seconds of good signal, so the first minutes of a recording (and
    of a channel that was flat or disconnected until then, and those after a gap or a stretch of
    bad signal longer than ``model.rewarm_gap_s``, after which the baseline is learnt afresh)
    never alarm. Its probability is still
    computed then, against a population prior, and shown in ``DetectionChunk.proba``.

    Filters: a notch at or above the Nyquist frequency of the processing rate is left out (and
    logged); any other filter edge there is an error (see :func:`design_filters`).
    """

    def __init__(self, model: DetectionModel, fs: float, channel_names: Sequence[str], *,
                 clip_level: float | np.ndarray = 1000.0, name: str | None = None, line_freq: float = 50.0) -> None:
        self.model = model
        self.stream = FeatureStream(model, fs, channel_names, clip_level=clip_level, line_freq=line_freq)
        self.channel_names = self.stream.channel_names
        self.source = f"detector:{name or model.detector}"
        self.post = PostProcessor(**model.postprocess, window_s=model.window_s, channel_names=self.channel_names,
                                  source=self.source)

    def stage(self, samples: np.ndarray, t_start: float | None = None) -> Staged:
        """Run a chunk (n, n_channels) in µV up to its detector rows; no estimator yet."""
        table, rows = self.stream.push(samples, t_start)
        return Staged(table, rows)

    def proba(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:func:`channel_proba` of :meth:`stage` rows (of several streams of this model concatenated if need be)."""
        return channel_proba(self.model, rows)

    def finish(self, staged: Staged, proba: np.ndarray, bad: np.ndarray) -> DetectionChunk:
        """Vote over the channels and post-process (:func:`decide`): what this chunk finished."""
        if staged.rows is None:
            n_ch = len(self.channel_names)
            none = np.zeros((0, n_ch), bool)
            return DetectionChunk([], np.zeros(0), np.zeros(0), np.zeros((0, n_ch)), none, none)
        events, trace, warm = decide(self.post, self.model, staged.table.times, staged.rows, proba, bad)
        return DetectionChunk(events, staged.table.times, trace, proba, bad, warm)

    def push(self, samples: np.ndarray, t_start: float | None = None) -> DetectionChunk:
        """Feed samples (n, n_channels) in µV starting at ``t_start`` (s since epoch; None = contiguous)."""
        staged = self.stage(samples, t_start)
        if staged.rows is None:
            return self.finish(staged, np.zeros(0), np.zeros(0, bool))
        return self.finish(staged, *self.proba(staged.rows))

    @property
    def active(self) -> Run | None:
        """The event running now (onset, peak so far), or None: what a live alert fires on."""
        return self.post.active

    @property
    def open_onset(self) -> float | None:
        """Onset of the earliest event not returned yet (running or waiting for a merge), or None."""
        return self.post.open_onset

    @property
    def warmup_left_s(self) -> float:
        """Seconds of good signal the least-warm channel still needs before it can raise events."""
        seen = self.stream.features.windows_since_gap.min() * self.model.hop_s
        return max(0.0, math.ceil(self.model.warmup_s - seen))

    def flush(self) -> list[Annotation]:
        """End of the stream: events still open."""
        return self.post.flush()
