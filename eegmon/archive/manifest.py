"""The manifest ``ARCHIVE.h5``: every table of the archive, replaced atomically on each commit.

A commit re-reads the manifest under an exclusive ``flock`` on ``ARCHIVE.h5.d/lock``, applies one
change and writes the whole manifest back through :func:`eegmon._atomic.atomic_h5` (temporary
file, fsync, rename, fsync of the folder), so a reader (or a restart after kill -9) sees either
the old or the new manifest, never a mix, and no writer loses another's change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from .._atomic import TEMP_MARKER, atomic_h5, exclusive_lock
from ..errors import EegmonError
from ._layout import (
    EVENT_DTYPE,
    FORMAT,
    FORMAT_VERSION,
    GAP_DTYPE,
    SEGMENT_DTYPE,
    SOURCE_DTYPE,
    from_ns,
)

#: Unreferenced segment files younger than this may belong to a writer that has not committed yet.
_ORPHAN_AGE_S = 600.0


@dataclass
class ManifestState:
    """In-memory copy of the manifest: attributes and one list of row dicts per table."""

    channels: tuple[str, ...]
    fs: float
    created_ns: int
    segments: list[dict] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)
    annotations: list[dict] = field(default_factory=list)
    detections: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def table(self, name: str) -> list[dict]:
        """The rows of one table: ``"segments"``, ``"sources"``, ``"annotations"`` or ``"detections"``."""
        if name not in ("segments", "sources", "annotations", "detections"):
            raise ValueError(f"no manifest table {name!r}.")
        return getattr(self, name)

    def gaps(self) -> list[tuple[int, int]]:
        """(start_ns, stop_ns) of the holes between consecutive segments (> half a sample)."""
        out = []
        segs = sorted(self.segments, key=lambda s: s["start_ns"])
        tol = int(0.5e9 / self.fs)
        for a, b in zip(segs, segs[1:], strict=False):
            if b["start_ns"] - a["stop_ns"] > tol:
                out.append((a["stop_ns"], b["start_ns"]))
        return out


def _table(rows: list[dict], dtype: np.dtype) -> np.ndarray:
    arr = np.zeros(len(rows), dtype=dtype)
    for name in dtype.names:
        arr[name] = [r[name] for r in rows] if rows else []
    return arr


def _rows(ds: h5py.Dataset) -> list[dict]:
    arr = ds[()]
    names = arr.dtype.names
    out = []
    for rec in arr:
        row = {}
        for n, v in zip(names, rec.tolist(), strict=True):
            row[n] = v.decode("utf-8") if isinstance(v, bytes) else v
        out.append(row)
    return out


def write_manifest(path: Path, state: ManifestState) -> None:
    """Write ``state`` to ``path`` atomically (temp file, fsync, rename, fsync directory)."""
    with atomic_h5(path) as f:
        f.attrs.update(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "fs": state.fs,
                "units": "uV",
                "channels": list(state.channels),
                "created_ns": state.created_ns,
                "segment_dir": path.name + ".d",
            }
        )
        for k, v in state.meta.items():
            f.attrs[f"meta_{k}"] = v
        tables = {
            "segments": (sorted(state.segments, key=lambda s: s["start_ns"]), SEGMENT_DTYPE),
            "sources": (state.sources, SOURCE_DTYPE),
            "annotations": (state.annotations, EVENT_DTYPE),
            "detections": (state.detections, EVENT_DTYPE),
        }
        for name, (rows, dtype) in tables.items():
            f.create_dataset(name, data=_table(rows, dtype), maxshape=(None,), chunks=True)
        gaps = np.array(state.gaps(), dtype=np.int64).reshape(-1, 2)
        g = np.zeros(len(gaps), dtype=GAP_DTYPE)
        g["start_ns"], g["stop_ns"] = gaps[:, 0], gaps[:, 1]
        f.create_dataset("gaps", data=g)


def read_manifest(path: Path) -> ManifestState:
    """Read the manifest at ``path``."""
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise EegmonError(f"not an eegmon archive (format attribute {f.attrs.get('format')!r}).", path)
            version = int(f.attrs["format_version"])
            if version > FORMAT_VERSION:
                raise EegmonError(
                    f"archive format version {version} is newer than this eegmon ({FORMAT_VERSION}); upgrade eegmon.",
                    path,
                )
            meta = {
                k[5:]: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items() if k.startswith("meta_")
            }
            return ManifestState(
                channels=tuple(str(c) for c in f.attrs["channels"]),
                fs=float(f.attrs["fs"]),
                created_ns=int(f.attrs["created_ns"]),
                segments=_rows(f["segments"]),
                sources=_rows(f["sources"]),
                annotations=_rows(f["annotations"]),
                detections=_rows(f["detections"]),
                meta=meta,
            )
    except OSError as err:
        raise EegmonError(f"cannot open archive manifest: {err}", path) from None


def segment_dir(path: Path) -> Path:
    """The folder ``<path>.d`` beside the manifest ``path`` (segment files, derived data, the lock)."""
    return path.with_name(path.name + ".d")


@contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold the archive's writer lock (an exclusive ``flock`` on ``<path>.d/lock``) for the block."""
    with exclusive_lock(segment_dir(path) / "lock"):
        yield


def remove_orphans(path: Path) -> None:
    """Delete what crashed writers left beside the manifest ``path``: unreferenced segment files and
    temporary files older than ``_ORPHAN_AGE_S`` (a younger one may be a live writer's)."""
    seg_dir = segment_dir(path)
    now = time.time()
    with writer_lock(path):
        referenced = {r["file"] for r in read_manifest(path).segments}
        leftovers = {p for p in seg_dir.glob("seg_*") if p.name not in referenced}
        leftovers |= set(seg_dir.glob(f"*{TEMP_MARKER}*"))
        leftovers |= set(path.parent.glob(f"{path.name}{TEMP_MARKER}*"))
        for p in leftovers:
            try:
                if now - p.stat().st_mtime > _ORPHAN_AGE_S:
                    p.unlink()
            except FileNotFoundError:
                pass


def create_manifest(path: Path, channels: tuple[str, ...], fs: float, meta: dict) -> ManifestState:
    """Write a new, empty manifest and make its segment folder; return its state."""
    if path.exists():
        raise EegmonError("archive already exists; open it (or import with --append) instead.", path)
    if not path.parent.is_dir():
        raise EegmonError("the archive's parent directory does not exist.", path)
    segment_dir(path).mkdir(exist_ok=True)
    state = ManifestState(channels=channels, fs=fs, created_ns=time.time_ns(), meta=dict(meta))
    write_manifest(path, state)
    return state


@dataclass(frozen=True)
class SegmentInfo:
    """One row of the segments table (times in seconds since the epoch)."""

    id: int
    file: str
    start: float
    stop: float
    n_samples: int
    source: str


class Manifest:
    """The manifest of one open archive: its tables as last read, and durable commits.

    Every change goes through :meth:`commit`; the other parts of :class:`~eegmon.archive.Archive`
    read :attr:`state` and never change it themselves.

    Parameters
    ----------
    path : Path
        The manifest file ``ARCHIVE.h5``; segment files live in ``ARCHIVE.h5.d/``.
    state : ManifestState
        The manifest as last read.
    writable : bool
        Whether this handle may change the archive.
    """

    def __init__(self, path: Path, state: ManifestState, writable: bool) -> None:
        self.path = path
        self.seg_dir = segment_dir(path)
        self.writable = writable
        self._set(state)

    def _set(self, state: ManifestState) -> None:
        self._state = state
        self._segments = sorted(state.segments, key=lambda r: r["start_ns"])
        self._starts = np.array([r["start_ns"] for r in self._segments], dtype=np.int64)
        self._stops = np.array([r["stop_ns"] for r in self._segments], dtype=np.int64)

    # ------------------------------------------------------------------ what is stored
    @property
    def state(self) -> ManifestState:
        """The manifest as last read or committed (do not change it; use :meth:`commit`)."""
        return self._state

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names in storage order."""
        return self._state.channels

    @property
    def fs(self) -> float:
        """Sampling rate in Hz."""
        return self._state.fs

    @property
    def segment_rows(self) -> list[dict]:
        """Rows of the segments table ordered by start time."""
        return self._segments

    @property
    def starts(self) -> np.ndarray:
        """``start_ns`` of :attr:`segment_rows`."""
        return self._starts

    @property
    def stops(self) -> np.ndarray:
        """``stop_ns`` of :attr:`segment_rows`."""
        return self._stops

    def segments(self) -> list[SegmentInfo]:
        """The segments table as :class:`SegmentInfo`, ordered by start time."""
        return [
            SegmentInfo(
                int(r["id"]), r["file"], from_ns(r["start_ns"]), from_ns(r["stop_ns"]), int(r["n_samples"]), r["source"]
            )
            for r in self._segments
        ]

    def overlapping(self, start_ns: int, stop_ns: int) -> range:
        """Indices into :attr:`segment_rows` of the segments that may overlap ``[start_ns, stop_ns)``."""
        i0 = max(int(np.searchsorted(self._stops, start_ns, side="right")) - 1, 0)
        i1 = int(np.searchsorted(self._starts, stop_ns, side="left"))
        # stops are not sorted if segments ever overlapped; they never do, so this is exact
        return range(i0, i1)

    # ------------------------------------------------------------------ changing it
    def refresh(self) -> None:
        """Re-read the manifest (to see what another process committed)."""
        self._set(read_manifest(self.path))

    def require_writable(self) -> None:
        """Raise EegmonError unless this handle was opened for writing."""
        if not self.writable:
            raise EegmonError("archive is open read-only; open it with mode='a' to change it.", self.path)

    def commit(self, change: Callable[[ManifestState], object]) -> object:
        """Apply ``change`` to the current on-disk manifest and write it durably; return its result.

        ``change`` gets a fresh copy read under the lock, so concurrent writers never lose each
        other's changes; when this returns, the change is on disk.
        """
        self.require_writable()
        with writer_lock(self.path):
            state = read_manifest(self.path)
            result = change(state)
            write_manifest(self.path, state)
        self._set(state)
        return result
