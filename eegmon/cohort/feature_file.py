"""The ``features`` task's output: one HDF5 table per recording (``times``, ``values``, names in attrs)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np

_ROWS = 4096  # HDF5 chunk, and the block copied at a time when chunk files are merged


def features_path(out_dir: Path, base: str, part: int | None) -> Path:
    """The HDF5 feature table of a recording (or of one of its chunks, merged later)."""
    suffix = "_features.h5" if part is None else f"_features.part{part:04d}.h5"
    return out_dir / (base + suffix)


class FeatureWriter:
    """Append windows to a feature table that appears under its name only once complete.

    Parameters
    ----------
    path : Path
        The table to write (built as ``<path>.tmp``, renamed when the ``with`` block ends without error).
    attrs : dict
        File attributes: ``feature_names``, ``channels``, ``window_s``, ``hop_s``, ``fs``.
    n_channels, n_features : int
        The shape of one window's values.
    """

    def __init__(self, path: Path, attrs: dict, n_channels: int, n_features: int) -> None:
        import h5py

        self.path = path
        self._tmp = path.with_name(path.name + ".tmp")
        self._file = h5py.File(self._tmp, "w")
        self._file.attrs.update(attrs)
        shape = (n_channels, n_features)
        self._times = self._file.create_dataset("times", (0,), maxshape=(None,), dtype="f8", chunks=(_ROWS,))
        self._values = self._file.create_dataset("values", (0, *shape), maxshape=(None, *shape), dtype="f8",
                                                 chunks=(_ROWS, *shape))

    def append(self, times: np.ndarray, values: np.ndarray) -> None:
        """Add windows: their end times (s since the epoch) and values (n, channels, features)."""
        n0, n = self._times.shape[0], len(times)
        if n:
            self._times.resize((n0 + n,))
            self._values.resize((n0 + n, *self._values.shape[1:]))
            self._times[n0:] = times
            self._values[n0:] = values

    def __enter__(self) -> FeatureWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._file.close()
        if exc_type is None:
            self._tmp.replace(self.path)
        else:
            self._tmp.unlink(missing_ok=True)


def merge_parts(out_dir: Path, base: str, n_parts: int) -> Path:
    """Concatenate the chunk tables of a recording into its table, block by block; remove the chunk files."""
    import h5py

    parts = [features_path(out_dir, base, k) for k in range(n_parts)]
    with h5py.File(parts[0], "r") as first:
        attrs, shape = dict(first.attrs), first["values"].shape[1:]
    with FeatureWriter(features_path(out_dir, base, None), attrs, *shape) as out:
        for part in parts:
            with h5py.File(part, "r") as src:
                for a in range(0, src["times"].shape[0], _ROWS * 16):
                    out.append(src["times"][a:a + _ROWS * 16], src["values"][a:a + _ROWS * 16])
    for part in parts:
        part.unlink()
    return out.path
