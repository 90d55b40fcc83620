"""The manifest ``ARCHIVE.h5``: every table of the archive, replaced atomically on each commit.

A commit writes the whole manifest to a temporary file, fsyncs it, renames it over the old one and
fsyncs the directory, so a reader (or a restart after kill -9) sees either the old or the new
manifest, never a mix. Writers serialise through an ``flock`` on ``ARCHIVE.h5.d/lock``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..errors import EegmonError
from ._layout import (
    EVENT_DTYPE,
    FORMAT,
    FORMAT_VERSION,
    GAP_DTYPE,
    SEGMENT_DTYPE,
    SOURCE_DTYPE,
)
from ._segment_file import fsync_path


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
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with h5py.File(tmp, "w") as f:
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
    fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(path.parent)


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
