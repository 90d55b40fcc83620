"""Feature tables on disk: one HDF5 layout for the archive's feature blocks and the ``features`` batch task.

The layout is :meth:`eegmon.features.FeatureTable.to_hdf5` at the root of the file, readable with
plain h5py::

    /times    (n_windows,) float64: window end times, s since the Unix epoch; chunked, resizable; attr unit
    /values   (n_windows, n_channels, n_features) float64; chunked, gzip + shuffle, resizable
    attrs     feature_names, channel_names, and what the writer adds (the batch task: window_s, hop_s, fs)

An archive keeps immutable blocks ``ARCHIVE.h5.d/feat_<first_ns>_<last_ns>.h5``; ``eegmon batch
--task features`` writes ``<base>_features.h5`` per recording (``<base>_features.partNNNN.h5`` per
chunk, merged by :func:`merge_parts`). Every file appears under its name only once complete
(:func:`eegmon._atomic.atomic_path`; an archive's blocks through :func:`eegmon._atomic.atomic_h5`,
so a full disk is a clean error). Batch outputs of earlier versions named the channel attribute
``channels`` (and stored ``values`` uncompressed); :func:`read_feature_file` reads them too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import h5py
import numpy as np

from .._atomic import atomic_h5, atomic_path
from ..errors import EegmonError

if TYPE_CHECKING:
    from ..features import FeatureTable

#: Windows copied at a time when chunk files are merged (bounds the memory of a merge).
_MERGE_ROWS = 65536
#: Attributes that the layout itself sets.
_NAME_ATTRS = ("feature_names", "channel_names")
#: The channel attribute's name in batch outputs written before the layout was shared.
_LEGACY_CHANNELS = "channels"


def features_path(out_dir: Path, base: str, part: int | None) -> Path:
    """The feature table of a batch recording (or of one of its chunks, merged later)."""
    suffix = "_features.h5" if part is None else f"_features.part{part:04d}.h5"
    return out_dir / (base + suffix)


class FeatureWriter:
    """Append windows to a feature table that appears under its name only once complete.

    Use it as a context manager: the file is renamed into place, fsynced, when the ``with``
    block ends without error, and removed when it raises.

    Parameters
    ----------
    path : path-like
        The table to write.
    feature_names, channel_names : sequence of str
        Names of the last and middle axes of ``values``.
    attrs : mapping | None
        More file attributes (numbers, strings or lists of them), e.g. ``window_s``, ``hop_s``, ``fs``.
    in_memory : bool
        Build the file in memory and write it at the end (:func:`eegmon._atomic.atomic_h5`): for
        tables of bounded size, so that a failing disk is a clean ``OSError``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        feature_names: Sequence[str],
        channel_names: Sequence[str],
        *,
        attrs: Mapping | None = None,
        in_memory: bool = False,
    ) -> None:
        from ..features import FeatureTable  # here: importing the feature pipeline costs seconds

        attrs = dict(attrs or {})
        clash = sorted(set(attrs) & set(_NAME_ATTRS))
        if clash:
            raise EegmonError(f"attrs must not set {clash}: pass feature_names and channel_names instead.")
        self.path = Path(path)
        self.feature_names, self.channel_names = tuple(feature_names), tuple(channel_names)
        with ExitStack() as stack:
            if in_memory:
                self._file = stack.enter_context(atomic_h5(self.path))
            else:
                tmp = stack.enter_context(atomic_path(self.path))
                self._file = stack.enter_context(h5py.File(tmp, "w"))
            self._file.attrs.update(attrs)
            FeatureTable.empty(self.feature_names, self.channel_names).to_hdf5(self._file)
            self._stack = stack.pop_all()

    def append(self, times: np.ndarray, values: np.ndarray) -> None:
        """Add windows: their end times (s since the epoch) and values (n, channels, features)."""
        from ..features import FeatureTable

        if len(times):
            table = FeatureTable(np.asarray(times, dtype=float), np.asarray(values, dtype=float),
                                 self.feature_names, self.channel_names)
            table.to_hdf5(self._file)

    def __enter__(self) -> FeatureWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stack.__exit__(exc_type, exc, tb)


def write_feature_file(path: str | os.PathLike, table: FeatureTable, *, attrs: Mapping | None = None) -> None:
    """Write ``table`` as a complete feature file (durable when this returns)."""
    with FeatureWriter(path, table.feature_names, table.channel_names, attrs=attrs, in_memory=True) as out:
        out.append(table.times, table.values)


def _names(attrs: h5py.AttributeManager, key: str) -> tuple[str, ...]:
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in attrs[key])


def read_feature_file(path: str | os.PathLike, start: float | None = None, stop: float | None = None) -> FeatureTable:
    """The windows of a feature file with end times in ``[start, stop)`` (all by default).

    Only the rows in the span are read. An empty span gives an empty table that still names the
    stored features and channels.
    """
    from ..features import FeatureTable

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if "times" not in f or "values" not in f:
                raise EegmonError(f"not a feature file: expected datasets 'times' and 'values', got {sorted(f)}.",
                                  path)
            channel_key = "channel_names" if "channel_names" in f.attrs else _LEGACY_CHANNELS
            features, channels = _names(f.attrs, "feature_names"), _names(f.attrs, channel_key)
            times = f["times"][()]
            keep = np.ones(times.shape, dtype=bool)
            if start is not None:
                keep &= times >= start
            if stop is not None:
                keep &= times < stop
            rows = np.flatnonzero(keep)
            if len(rows) == 0:
                return FeatureTable.empty(features, channels)
            # windows are stored in time order: read the one slice that holds the span
            a, b = rows[0], rows[-1] + 1
            values = f["values"][a:b][keep[a:b]]
            return FeatureTable(times[a:b][keep[a:b]], values, features, channels)
    except OSError as err:
        raise EegmonError(f"cannot read feature file: {err}", path) from None


def merge_parts(out_dir: Path, base: str, n_parts: int) -> Path:
    """Concatenate the chunk tables of a batch recording into its table, block by block; remove the chunks."""
    parts = [features_path(out_dir, base, k) for k in range(n_parts)]
    with h5py.File(parts[0], "r") as first:
        attrs = {k: v for k, v in first.attrs.items() if k not in _NAME_ATTRS}
        names = _names(first.attrs, "feature_names"), _names(first.attrs, "channel_names")
    with FeatureWriter(features_path(out_dir, base, None), *names, attrs=attrs) as out:
        for part in parts:
            with h5py.File(part, "r") as src:
                for a in range(0, src["times"].shape[0], _MERGE_ROWS):
                    out.append(src["times"][a:a + _MERGE_ROWS], src["values"][a:a + _MERGE_ROWS])
    for part in parts:
        part.unlink()
    return out.path
