"""The recording data model: channels, sampling rate and gap-separated segments of digital samples.

A :class:`Recording` is what every reader returns and what the archive stores: one patient, one
channel set, one sampling rate, and a time-ordered list of :class:`Segment` objects. Samples stay
digital (int16 for EDF, int32 for BDF) with a per-channel ``gain``/``offset`` to microvolts, so
storage is lossless; a segment holds a lazy reader, so nothing is loaded until asked for in chunks.

Which segment type is which:

- :class:`Segment` (here) is *the* segment of samples: what readers return, what an import
  writes and what :class:`eegmon.source.SignalSource` streams. Its lazy ``reader`` gives samples
  as stored, channel-major ``(n_channels, n)``; :meth:`Segment.read` gives microvolts in the
  orientation the pipeline consumes, ``(n, n_channels)`` (one transposed view, no copy).
- :class:`eegmon.archive.SegmentInfo` is a row of an archive's segments table (id, segment file,
  start, stop, sample count, source file): bookkeeping, with no samples and no reader.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from .events import Annotation

#: ``reader(start_sample, stop_sample) -> int array (n_channels, stop - start)``.
DigitalReader = Callable[[int, int], np.ndarray]


def physical_range(gain: np.ndarray, offset: np.ndarray, dtype: np.dtype,
                   digital_range: np.ndarray | None = None) -> np.ndarray:
    """Per-channel (low, high) µV range of digital samples, shape (n_channels, 2).

    ``digital_range`` (n_channels, 2) is what the source declared; None means the whole range of
    ``dtype`` (24 bits for BDF's int32 samples).
    """
    gain = np.asarray(gain, dtype=float)
    if digital_range is None:
        info = np.iinfo(dtype)
        top = min(info.max, 2**23 - 1) if info.bits > 16 else info.max
        digital = np.tile([-float(top), float(top)], (gain.size, 1))
    else:
        digital = np.asarray(digital_range, dtype=float)
    return np.sort(digital * gain[:, None] + np.asarray(offset, dtype=float)[:, None], axis=1)


@dataclass
class Segment:
    """A contiguous run of samples starting at an absolute time.

    Parameters
    ----------
    start : float
        Absolute time of the first sample, seconds since the Unix epoch (UTC).
    n_samples : int
        Number of samples per channel.
    gain, offset : ndarray, shape (n_channels,)
        Scaling to microvolts: ``uV = digital * gain + offset``.
    dtype : numpy dtype
        Digital sample type (int16 or int32). float64 means the reader already gives microvolts
        (gain 1, offset 0, ``digital_range`` the physical range), as for float sources.
    reader : callable
        ``reader(start_sample, stop_sample)`` returns the samples as stored, shape
        ``(n_channels, stop_sample - start_sample)``, relative to this segment's first sample.
    source : str
        Path of the file the samples come from.
    source_offset : int
        Index in the source file of this segment's first sample (a file may hold several segments).
    digital_range : ndarray, shape (n_channels, 2) | None
        Each channel's digital minimum and maximum as the source declared them (an EDF header's
        digital range); None means the whole range of ``dtype``.
    """

    start: float
    n_samples: int
    gain: np.ndarray
    offset: np.ndarray
    dtype: np.dtype
    reader: DigitalReader
    source: str = ""
    source_offset: int = 0
    digital_range: np.ndarray | None = None

    def physical_range(self) -> np.ndarray:
        """Each channel's (low, high) physical range in µV, shape (n_channels, 2): its rails."""
        return physical_range(self.gain, self.offset, self.dtype, self.digital_range)

    def duration(self, fs: float) -> float:
        """Length in seconds at sampling rate ``fs``."""
        return self.n_samples / fs

    def read_digital(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Digital samples ``[start, stop)``, shape ``(n_channels, stop - start)``."""
        stop = self.n_samples if stop is None else stop
        if not 0 <= start <= stop <= self.n_samples:
            raise ValueError(f"sample range [{start}, {stop}) outside [0, {self.n_samples}].")
        return self.reader(start, stop)

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Samples ``[start, stop)`` in µV, shape ``(stop - start, n_channels)``: what the pipeline takes."""
        x = self.read_digital(start, stop)
        if np.dtype(self.dtype).kind != "f":
            x = x * self.gain[:, None] + self.offset[:, None]
        return x.T

    def iter_digital(self, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_sample, digital)`` in chunks of at most ``chunk`` samples."""
        for first in range(0, self.n_samples, chunk):
            yield first, self.reader(first, min(first + chunk, self.n_samples))


@dataclass
class Recording:
    """One patient's recording: channel names, sampling rate, segments and annotations.

    Parameters
    ----------
    channels : tuple of str
        Channel names, in storage order.
    fs : float
        Sampling rate in Hz, shared by every channel and segment.
    segments : list of Segment
        Time-ordered, non-overlapping segments; the spaces between them are gaps.
    annotations : list of Annotation
        Annotations that came with the source (EDF+ TAL, sidecar events.tsv), absolute time.
    units : str
        Physical unit after scaling (always ``"uV"``).
    meta : dict
        Free-form metadata (patient code, device, source format).
    """

    channels: tuple[str, ...]
    fs: float
    segments: list[Segment] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)
    units: str = "uV"
    meta: dict = field(default_factory=dict)

    @property
    def start(self) -> float:
        """Absolute time of the first sample (s since epoch); NaN with no segments."""
        return self.segments[0].start if self.segments else math.nan

    @property
    def stop(self) -> float:
        """Absolute time just after the last sample (s since epoch); NaN with no segments."""
        if not self.segments:
            return math.nan
        last = self.segments[-1]
        return last.start + last.n_samples / self.fs

    @property
    def n_samples(self) -> int:
        """Total samples per channel over all segments."""
        return sum(s.n_samples for s in self.segments)

    def gaps(self) -> list[tuple[float, float]]:
        """``(start, stop)`` of every gap between consecutive segments longer than half a sample."""
        out = []
        for a, b in zip(self.segments, self.segments[1:], strict=False):
            end = a.start + a.n_samples / self.fs
            if b.start - end > 0.5 / self.fs:
                out.append((end, b.start))
        return out
