"""The columnar feature matrix that the pipeline emits and the archive stores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EegmonError


@dataclass(frozen=True)
class FeatureTable:
    """Feature values per window and channel, in columns.

    Attributes
    ----------
    times : ndarray, shape (n_windows,)
        Window end times, float64 seconds since the Unix epoch (UTC): the time of the last
        sample of the window plus one sample period.
    values : ndarray, shape (n_windows, n_channels, n_features)
        Feature values (float64); NaN where a window held NaN samples (see ``nan_fraction``).
    feature_names : tuple of str
        Names of the last axis of ``values``.
    channel_names : tuple of str
        Names of the middle axis of ``values``.
    """

    times: np.ndarray
    values: np.ndarray
    feature_names: tuple[str, ...]
    channel_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = self.times.shape[0]
        expected = (n, len(self.channel_names), len(self.feature_names))
        if self.times.ndim != 1 or self.values.shape != expected:
            raise EegmonError(f"FeatureTable values must have shape {expected} for "
                              f"{n} window times, got {self.values.shape}.")

    def __len__(self) -> int:
        return self.times.shape[0]

    @classmethod
    def empty(cls, feature_names: Sequence[str], channel_names: Sequence[str]) -> FeatureTable:
        """A table with no windows (what a chunk that completes no window returns)."""
        values = np.empty((0, len(channel_names), len(feature_names)))
        return cls(np.empty(0), values, tuple(feature_names), tuple(channel_names))

    @classmethod
    def concat(cls, tables: Sequence[FeatureTable]) -> FeatureTable:
        """Join tables with the same features and channels, in the given order."""
        if not tables:
            raise EegmonError("FeatureTable.concat needs at least one table, got none.")
        first = tables[0]
        for t in tables[1:]:
            if (t.feature_names, t.channel_names) != (first.feature_names, first.channel_names):
                raise EegmonError("FeatureTable.concat needs tables with the same feature and "
                                  "channel names, got different ones.")
        return cls(np.concatenate([t.times for t in tables]),
                   np.concatenate([t.values for t in tables]),
                   first.feature_names, first.channel_names)

    def column(self, feature: str, channel: str | None = None) -> np.ndarray:
        """Values of one feature: (n_windows, n_channels), or (n_windows,) for one channel."""
        if feature not in self.feature_names:
            raise EegmonError(f"Unknown feature {feature!r}; the table has "
                              f"{', '.join(self.feature_names)}.")
        col = self.values[:, :, self.feature_names.index(feature)]
        if channel is None:
            return col
        if channel not in self.channel_names:
            raise EegmonError(f"Unknown channel {channel!r}; the table has "
                              f"{', '.join(self.channel_names)}.")
        return col[:, self.channel_names.index(channel)]

    def to_dict(self) -> dict[str, np.ndarray]:
        """Flat columns ``{'time': ..., '<channel>/<feature>': ...}`` (e.g. for pandas)."""
        cols = {"time": self.times}
        for c, ch in enumerate(self.channel_names):
            for f, name in enumerate(self.feature_names):
                cols[f"{ch}/{name}"] = self.values[:, c, f]
        return cols

    def to_hdf5(self, group) -> None:
        """Write the table into an h5py ``Group`` (plain datasets, readable without eegmon).

        Datasets ``times`` (n_windows,) float64 s since epoch and ``values``
        (n_windows, n_channels, n_features) float64, chunked and resizable along windows;
        attributes ``feature_names`` and ``channel_names``. Existing datasets of the same
        layout are appended to, so a stream can write its tables as they come.
        """
        if "times" in group:
            stored = FeatureTable._names(group)
            if stored != (self.feature_names, self.channel_names):
                raise EegmonError("Cannot append a FeatureTable with different feature or "
                                  "channel names to this group.")
            n0 = group["times"].shape[0]
            for name, data in (("times", self.times), ("values", self.values)):
                group[name].resize(n0 + len(self), axis=0)
                group[name][n0:] = data
            return
        n_ch, n_f = len(self.channel_names), len(self.feature_names)
        group.create_dataset("times", data=self.times, maxshape=(None,), chunks=(4096,))
        group.create_dataset("values", data=self.values, maxshape=(None, n_ch, n_f),
                             chunks=(max(1, 65536 // (n_ch * n_f)), n_ch, n_f),
                             compression="gzip", compression_opts=4, shuffle=True)
        group["times"].attrs["unit"] = "s since 1970-01-01T00:00:00Z (window end)"
        group.attrs["feature_names"] = list(self.feature_names)
        group.attrs["channel_names"] = list(self.channel_names)

    @classmethod
    def from_hdf5(cls, group) -> FeatureTable:
        """Read a table written by :meth:`to_hdf5` from an h5py ``Group``."""
        if "times" not in group or "values" not in group:
            raise EegmonError(f"Expected datasets 'times' and 'values' in HDF5 group "
                              f"{group.name!r}, got {sorted(group)}.")
        features, channels = cls._names(group)
        return cls(group["times"][()], group["values"][()], features, channels)

    @staticmethod
    def _names(group) -> tuple[tuple[str, ...], tuple[str, ...]]:
        def as_str(v):
            return v.decode() if isinstance(v, bytes) else str(v)

        return (tuple(as_str(v) for v in group.attrs["feature_names"]),
                tuple(as_str(v) for v in group.attrs["channel_names"]))
