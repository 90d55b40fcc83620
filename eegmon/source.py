"""One way to stream samples out of any recording eegmon reads: an archive, an EDF/BDF file or a
device folder. Detection, feature extraction and replay all iterate :meth:`SignalSource.chunks`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import EegmonError
from .events import Annotation

ChunkReader = Callable[[int, int], np.ndarray]


@dataclass(frozen=True)
class _Span:
    start: float
    n_samples: int
    read: ChunkReader  # (first, stop) -> samples (n, n_channels) in µV
    origin: str  # the file the samples came from


@dataclass
class SignalSource:
    """Contiguous spans of a recording, readable in chunks.

    Attributes
    ----------
    path : Path
        What was opened.
    kind : str
        ``archive``, ``edf`` or ``folder``.
    channels : tuple of str
        Channel names.
    fs : float
        Sampling rate in Hz.
    clip_level : ndarray, shape (n_channels, 2)
        Each channel's (low, high) physical range in µV, the widest its files declare: a sample
        held at a rail is taken as clipped (see :class:`eegmon.features.Pipeline`).
    annotations : list of Annotation
        What is known of the recording: EDF+ annotations and sidecar ``events.tsv`` files for
        files and folders; for an archive its annotations plus reviewer-confirmed detections.
    """

    path: Path
    kind: str
    channels: tuple[str, ...]
    fs: float
    clip_level: np.ndarray
    spans: list[_Span]
    annotations: list[Annotation] = field(default_factory=list)

    @property
    def start(self) -> float:
        """First sample time (s since the epoch)."""
        return self.spans[0].start

    @property
    def stop(self) -> float:
        """Just after the last sample (s since the epoch)."""
        last = self.spans[-1]
        return last.start + last.n_samples / self.fs

    @property
    def recorded_s(self) -> float:
        """Recorded time in seconds (gaps excluded)."""
        return sum(s.n_samples for s in self.spans) / self.fs

    def files(self) -> list[tuple[str, float, float]]:
        """``(origin file, start, stop)`` of each source file, in time order (spans of a file merged)."""
        out: list[list] = []
        for s in self.spans:
            stop = s.start + s.n_samples / self.fs
            if out and out[-1][0] == s.origin:
                out[-1][2] = stop
            else:
                out.append([s.origin, s.start, stop])
        return [tuple(x) for x in out]

    def chunks(self, chunk_s: float = 600.0, *, start: float | None = None,
               stop: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(t_start, samples)`` with samples (n, n_channels) in µV, span by span, in time order.

        Only samples at times in ``[start, stop)`` (s since the epoch; None = no limit) are read; a
        sample within a thousandth of a sample period of ``start`` counts as at it.
        """
        step = max(int(round(chunk_s * self.fs)), 1)
        for span in self.spans:
            first = 0 if start is None else max(0, math.ceil((start - span.start) * self.fs - 1e-3))
            last = span.n_samples if stop is None else min(span.n_samples,
                                                           math.ceil((stop - span.start) * self.fs - 1e-3))
            for a in range(first, last, step):
                b = min(a + step, last)
                yield span.start + a / self.fs, span.read(a, b)


def _from_recording(path: Path, kind: str, rec) -> SignalSource:
    spans = []
    for seg in rec.segments:
        def read(a: int, b: int, seg=seg) -> np.ndarray:
            return (seg.read_digital(a, b) * seg.gain[:, None] + seg.offset[:, None]).T
        spans.append(_Span(seg.start, seg.n_samples, read, seg.source or str(path)))
    ranges = np.stack([seg.physical_range() for seg in rec.segments])
    rails = np.column_stack([ranges[:, :, 0].min(axis=0), ranges[:, :, 1].max(axis=0)])
    return SignalSource(path, kind, tuple(rec.channels), float(rec.fs), rails, spans, list(rec.annotations))


def _from_archive(path: Path) -> SignalSource:
    from .archive import Archive

    arc = Archive.open(path)
    fs = arc.fs
    spans = []
    for seg in arc.segments:
        def read(a: int, b: int, seg=seg) -> np.ndarray:
            return arc.read(seg.start + a / fs, seg.start + b / fs)[1].T
        spans.append(_Span(seg.start, seg.n_samples, read, seg.source or str(path)))
    if not spans:
        raise EegmonError("the archive holds no samples yet.", path)
    known = list(arc.annotations()) + [d for d in arc.detections() if d.status == "confirmed"]
    return SignalSource(path, "archive", tuple(arc.channels), float(fs), arc.physical_range, spans, known)


def open_source(path: str | os.PathLike) -> SignalSource:
    """Open an archive (``.h5``), an EDF/BDF file or a device folder of them for streaming.

    Raises
    ------
    EegmonError
        When the path does not exist, is of no known kind or holds no samples.
    """
    from .io import read_device_folder, read_edf

    path = Path(path)
    if not path.exists():
        raise EegmonError("no such file or folder.", path)
    if path.is_dir():
        return _from_recording(path, "folder", read_device_folder(path))
    if path.suffix.lower() in (".h5", ".hdf5"):
        return _from_archive(path)
    rec = read_edf(path)
    if not rec.segments:
        raise EegmonError("the file holds no samples.", path)
    return _from_recording(path, "edf", rec)
