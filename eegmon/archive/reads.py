"""Reading an archive in absolute time: samples in µV, the min/max pyramid, processing windows.

Segment files are opened on first use and kept open (the least recently used closed beyond
``_OPEN_FILES``), with their datasets and scaling looked up once.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import h5py
import numpy as np

from .._checks import check_number, check_option
from ..errors import EegmonError
from ..recording import Segment, physical_range
from ._layout import DECIMATION, from_ns, n_levels, to_ns
from .manifest import Manifest, SegmentInfo

_OPEN_FILES = 128


@dataclass(frozen=True)
class _SegmentHandle:
    """An open segment file with its datasets and scaling looked up once."""

    file: h5py.File
    data: h5py.Dataset
    levels: list[h5py.Dataset]
    gain: np.ndarray
    offset: np.ndarray
    digital_range: np.ndarray | None


class SegmentReader:
    """Random access to the samples of one archive.

    Parameters
    ----------
    manifest : Manifest
        The archive's manifest: which segment files cover which times.
    """

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self._files: OrderedDict[str, _SegmentHandle] = OrderedDict()

    def close(self) -> None:
        """Close cached segment files."""
        for h in self._files.values():
            h.file.close()
        self._files.clear()

    def _handle(self, name: str) -> _SegmentHandle:
        if name in self._files:
            self._files.move_to_end(name)
            return self._files[name]
        path = self.manifest.seg_dir / name
        try:
            f = h5py.File(path, "r")
        except OSError as err:
            raise EegmonError(f"cannot open segment file {name}: {err}", path) from None
        data = f["data"]
        levels = [f[f"minmax/L{k}"] for k in range(1, len(f["minmax"]) + 1)]
        entry = _SegmentHandle(f, data, levels, data.attrs["gain"][()], data.attrs["offset"][()],
                               data.attrs["digital_range"][()] if "digital_range" in data.attrs else None)
        self._files[name] = entry
        if len(self._files) > _OPEN_FILES:
            self._files.popitem(last=False)[1].file.close()
        return entry

    @property
    def physical_range(self) -> np.ndarray:
        """Each channel's (low, high) range in µV over every stored segment, shape (n_channels, 2)."""
        known = self.manifest.state.meta.get("physical_range")
        if known is not None:
            return np.asarray(known, dtype=float)
        rows = self.manifest.segment_rows
        if not rows:
            raise EegmonError("the archive holds no samples yet.", self.manifest.path)
        h = self._handle(rows[0]["file"])  # archives written before the range was kept
        return physical_range(h.gain, h.offset, h.data.dtype, h.digital_range)

    def segment(self, info: SegmentInfo) -> Segment:
        """One stored segment as a :class:`eegmon.recording.Segment`: digital samples read lazily by index."""
        h = self._handle(info.file)

        def reader(a: int, b: int, name: str = info.file) -> np.ndarray:
            return self._handle(name).data[:, a:b]  # looked up per read: the file may have been closed since

        return Segment(info.start, info.n_samples, h.gain, h.offset, h.data.dtype, reader,
                       source=info.source, digital_range=h.digital_range)

    def _channel_index(self, channels: Sequence[str] | str | None) -> np.ndarray:
        names = self.manifest.channels
        if channels is None:
            return np.arange(len(names))
        if isinstance(channels, str):
            channels = [channels]
        idx = []
        for c in channels:
            check_option("channels", c, names)
            idx.append(names.index(c))
        return np.array(idx, dtype=int)

    @staticmethod
    def _check_span(start: float, stop: float) -> tuple[float, float]:
        start = check_number("start", start)
        stop = check_number("stop", stop)
        if stop <= start:
            raise EegmonError(f"stop must be after start, got start={start}, stop={stop}.")
        return start, stop

    def read(self, start: float, stop: float, channels: Sequence[str] | str | None = None) -> tuple[float, np.ndarray]:
        """Samples in µV over ``[start, stop)`` on the grid ``start + i / fs``, NaN where there is no data."""
        start, stop = self._check_span(start, stop)
        ch = self._channel_index(channels)
        fs = self.manifest.fs
        n = int(round((stop - start) * fs))
        out = np.full((len(ch), n), np.nan)
        start_ns, stop_ns = to_ns(start), to_ns(stop)
        all_ch = len(ch) == len(self.manifest.channels) and np.array_equal(ch, np.arange(len(ch)))
        rows = self.manifest.segment_rows
        for i in self.manifest.overlapping(start_ns, stop_ns):
            row = rows[i]
            off = int(round((row["start_ns"] - start_ns) * fs / 1e9))
            j0, j1 = max(0, -off), min(int(row["n_samples"]), n - off)
            if j1 <= j0:
                continue
            h = self._handle(row["file"])
            gain, offset = h.gain, h.offset
            block = h.data[:, j0:j1]
            if not all_ch:
                block = block[ch]
            out[:, off + j0 : off + j1] = block * gain[ch, None] + offset[ch, None]
        return start, out

    def minmax(
        self, start: float, stop: float, n_pixels: int, channels: Sequence[str] | str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-pixel minimum and maximum in µV from the pyramid: ``(edges, mins, maxs)``."""
        start, stop = self._check_span(start, stop)
        n_pixels = int(check_number("n_pixels", n_pixels, low=1, integer=True))
        ch = self._channel_index(channels)
        fs = self.manifest.fs
        width = (stop - start) / n_pixels
        mins = np.full((len(ch), n_pixels), np.nan)
        maxs = np.full((len(ch), n_pixels), np.nan)
        levels = n_levels(fs)
        level = 0
        while level < levels and DECIMATION ** (level + 1) / fs <= width:
            level += 1
        block = DECIMATION**level
        start_ns, stop_ns = to_ns(start), to_ns(stop)
        rows = self.manifest.segment_rows
        for i in self.manifest.overlapping(start_ns, stop_ns):
            row = rows[i]
            seg_t0 = from_ns(row["start_ns"])
            n = int(row["n_samples"])
            j0 = max(0, math.floor((start - seg_t0) * fs))
            j1 = min(n, math.ceil((stop - seg_t0) * fs))
            if j1 <= j0:
                continue
            b0, b1 = j0 // block, -(-j1 // block)
            h = self._handle(row["file"])
            gain, offset = h.gain, h.offset
            if level == 0:
                raw = h.data[:, b0:b1][ch]
                lo = hi = raw
            else:
                pyr = h.levels[level - 1][:, b0:b1, :][ch]
                lo, hi = pyr[..., 0], pyr[..., 1]
            g, o = gain[ch, None], offset[ch, None]
            lo_uv, hi_uv = lo * g + o, hi * g + o
            lo_uv, hi_uv = np.minimum(lo_uv, hi_uv), np.maximum(lo_uv, hi_uv)
            t = seg_t0 + np.arange(b0, b1) * block / fs
            pix = np.clip(np.floor((t - start) / width).astype(np.int64), 0, n_pixels - 1)
            first = np.flatnonzero(np.r_[True, np.diff(pix) > 0])
            p = pix[first]
            mins[:, p] = np.fmin(mins[:, p], np.minimum.reduceat(lo_uv, first, axis=1))
            maxs[:, p] = np.fmax(maxs[:, p], np.maximum.reduceat(hi_uv, first, axis=1))
        edges = start + np.arange(n_pixels + 1) * width
        return edges, mins, maxs

    def iter_chunks(
        self,
        chunk_s: float,
        overlap_s: float = 0.0,
        *,
        start: float | None = None,
        stop: float | None = None,
        channels: Sequence[str] | str | None = None,
    ) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(t0, data)`` windows as :meth:`read` returns them, skipping windows wholly in gaps."""
        chunk_s = check_number("chunk_s", chunk_s, low=0, low_inclusive=False)
        overlap_s = check_number("overlap_s", overlap_s, low=0)
        if not self.manifest.segment_rows:
            return
        t = from_ns(self.manifest.starts[0]) if start is None else start
        end = from_ns(self.manifest.stops.max()) if stop is None else stop
        first = True
        while t < end:
            a = t if first else t - overlap_s
            b = min(t + chunk_s, end)
            a_ns, b_ns = to_ns(a), to_ns(b)
            rows = self.manifest.segment_rows  # looked up per window: a commit meanwhile re-indexes them
            overlapping = (rows[i] for i in self.manifest.overlapping(a_ns, b_ns))
            if any(r["start_ns"] < b_ns and r["stop_ns"] > a_ns for r in overlapping):
                yield self.read(a, b, channels)
            first = False
            t += chunk_s
