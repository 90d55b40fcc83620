"""Data derived from an archive's samples, stored beside its segments: feature blocks and trends.

Both are immutable files in ``ARCHIVE.h5.d/`` made with :func:`eegmon._atomic.atomic_h5`, outside
the manifest: a crash loses at most the file being written.

- ``feat_<first_ns>_<last_ns>.h5``: one block of window features (end times of its first and last
  window in the name), in the layout of :mod:`eegmon.archive.feature_file`;
- ``trend_<name>.h5``: a named trend (datasets ``time_ns``, int64 bin starts, and ``value``,
  float32; attribute ``name``), replaced whole on each write.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

from .._atomic import atomic_h5
from ..errors import EegmonError
from ._layout import from_ns, to_ns
from .feature_file import read_feature_file, write_feature_file
from .manifest import Manifest

if TYPE_CHECKING:
    from ..features import FeatureTable


class DerivedData:
    """The feature blocks and trends of one archive.

    Parameters
    ----------
    manifest : Manifest
        The archive's manifest (for its folder, channels and whether it is writable).
    """

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest

    # ------------------------------------------------------------------ features
    def write_features(self, table: FeatureTable) -> None:
        """Store a block of window features durably (nothing for an empty table)."""
        self.manifest.require_writable()
        if len(table) == 0:
            return
        first, last = to_ns(float(table.times[0])), to_ns(float(table.times[-1]))
        write_feature_file(self.manifest.seg_dir / f"feat_{first:020d}_{last:020d}.h5", table)

    def _blocks(self) -> list[tuple[int, int, Path]]:
        out = []
        for path in self.manifest.seg_dir.glob("feat_*.h5"):
            first, last = path.stem.split("_")[1:3]
            out.append((int(first), int(last), path))
        return sorted(out)

    @property
    def features_stop(self) -> float:
        """End time of the last stored feature window (s since the epoch), NaN without features."""
        blocks = self._blocks()
        return from_ns(max(last for _, last, _ in blocks)) if blocks else math.nan

    def features(self, start: float | None = None, stop: float | None = None) -> FeatureTable:
        """Stored windows with end times in ``[start, stop)`` as one table, empty if there are none.

        With no block stored at all the empty table has the archive's channels and no features;
        otherwise it names the stored features and channels.
        """
        from ..features import FeatureTable

        blocks = self._blocks()
        if not blocks:
            return FeatureTable.empty((), self.manifest.channels)
        lo = -np.inf if start is None else start
        hi = np.inf if stop is None else stop
        # a block outside the span still gives the empty table its names
        chosen = [p for first, last, p in blocks if from_ns(last) >= lo and from_ns(first) < hi] or [blocks[0][2]]
        return FeatureTable.concat([read_feature_file(p, start, stop) for p in chosen])

    # ------------------------------------------------------------------ trends
    def _trend_path(self, name: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        return self.manifest.seg_dir / f"trend_{safe}.h5"

    def write_trend(self, name: str, times: np.ndarray, values: np.ndarray,
                    attrs: dict[str, str] | None = None) -> None:
        """Store (replace) a named trend atomically, with optional string attributes."""
        self.manifest.require_writable()
        times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=np.float32)
        if times.shape != values.shape or times.ndim != 1:
            raise EegmonError(f"trend times and values must be 1-D of equal length, got {times.shape} and "
                              f"{values.shape}.")
        with atomic_h5(self._trend_path(name)) as f:
            f.attrs["name"] = name
            for key, value in (attrs or {}).items():
                f.attrs[f"attr_{key}"] = str(value)
            f.create_dataset("time_ns", data=(times * 1e9).round().astype(np.int64))
            f.create_dataset("value", data=values)

    def trends(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every stored trend: ``{name: (bin start times in s since the epoch, values)}``."""
        out = {}
        for path in sorted(self.manifest.seg_dir.glob("trend_*.h5")):
            with h5py.File(path, "r") as f:
                out[str(f.attrs["name"])] = (f["time_ns"][()] / 1e9, f["value"][()].astype(float))
        return out

    def trend_attrs(self, name: str) -> dict[str, str]:
        """The string attributes stored with trend ``name`` (empty if it has none or does not exist)."""
        path = self._trend_path(name)
        if not path.is_file():
            return {}
        with h5py.File(path, "r") as f:
            return {k[5:]: str(v) for k, v in f.attrs.items() if k.startswith("attr_")}
