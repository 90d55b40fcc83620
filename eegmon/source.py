"""A recording opened for streaming: :class:`SignalSource`, what :func:`eegmon.io.open_recording` returns.

Detection, feature extraction, training and replay all iterate :meth:`SignalSource.chunks`, the
one chunk iterator, which yields microvolts as ``(n, n_channels)`` arrays, segment by segment.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._checks import check_number
from .recording import Recording, Segment


@dataclass
class SignalSource(Recording):
    """A :class:`~eegmon.recording.Recording` opened from a path, readable in chunks.

    Attributes
    ----------
    path : Path
        What was opened.
    kind : str
        ``archive``, ``edf`` (an EDF/EDF+/BDF file), ``folder`` (a device folder) or ``bids`` (opened
        from a BIDS dataset root: one run, or the runs of one subject).
    annotations : list of Annotation
        What is known of the recording: EDF+ annotations and sidecar ``events.tsv`` files for
        files, folders and BIDS runs; for an archive its annotations plus reviewer-confirmed
        detections.

    Notes
    -----
    Every kind of input gives segments of digital samples with their scaling, read lazily by
    sample index (for an archive through :meth:`eegmon.archive.Archive.segment`).
    """

    path: Path = field(default_factory=Path)
    kind: str = ""

    @classmethod
    def from_recording(cls, rec: Recording, path: str | os.PathLike, kind: str) -> SignalSource:
        """The recording ``rec`` as opened from ``path`` (its segments are shared, not copied)."""
        return cls(channels=tuple(rec.channels), fs=float(rec.fs), segments=list(rec.segments),
                   annotations=list(rec.annotations), units=rec.units, meta=dict(rec.meta), path=Path(path),
                   kind=kind)

    @property
    def clip_level(self) -> np.ndarray:
        """Each channel's (low, high) physical range in µV, shape (n_channels, 2), the widest its
        segments declare: a sample held at a rail is taken as clipped (see
        :class:`eegmon.features.Pipeline`)."""
        ranges = np.stack([seg.physical_range() for seg in self.segments])
        return np.column_stack([ranges[:, :, 0].min(axis=0), ranges[:, :, 1].max(axis=0)])

    @property
    def spans(self) -> list[Segment]:
        """Deprecated alias of :attr:`segments`."""
        warnings.warn("SignalSource.spans is deprecated; use SignalSource.segments (eegmon.recording.Segment).",
                      DeprecationWarning, stacklevel=2)
        return self.segments

    @property
    def recorded_s(self) -> float:
        """Recorded time in seconds (gaps excluded)."""
        return self.n_samples / self.fs

    def files(self) -> list[tuple[str, float, float]]:
        """``(source file, start, stop)`` of each source file, in time order (segments of a file merged)."""
        out: list[list] = []
        for s in self.segments:
            stop = s.start + s.n_samples / self.fs
            origin = s.source or str(self.path)
            if out and out[-1][0] == origin:
                out[-1][2] = stop
            else:
                out.append([origin, s.start, stop])
        return [tuple(x) for x in out]

    def chunks(self, chunk_s: float = 600.0, *, start: float | None = None,
               stop: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(t_start, samples)`` with samples (n, n_channels) in µV, segment by segment, in time order.

        Only samples at times in ``[start, stop)`` (s since the epoch; None = no limit) are read; a
        sample within a thousandth of a sample period of ``start`` counts as at it. A chunk never
        spans a gap: each segment's last chunk may be shorter than ``chunk_s``.
        """
        step = max(int(round(check_number("chunk_s", chunk_s, low=0, low_inclusive=False) * self.fs)), 1)
        for seg in self.segments:
            first = 0 if start is None else max(0, math.ceil((start - seg.start) * self.fs - 1e-3))
            last = seg.n_samples if stop is None else min(seg.n_samples,
                                                          math.ceil((stop - seg.start) * self.fs - 1e-3))
            for a in range(first, last, step):
                b = min(a + step, last)
                yield seg.start + a / self.fs, seg.read(a, b)


def open_source(path: str | os.PathLike) -> SignalSource:
    """Deprecated: use :func:`eegmon.io.open_recording`, which opens every kind of input."""
    from .io import open_recording

    warnings.warn("eegmon.source.open_source is deprecated; use eegmon.io.open_recording.", DeprecationWarning,
                  stacklevel=2)
    return open_recording(path)
