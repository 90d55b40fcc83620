"""Deprecated: the feature-table file moved to :mod:`eegmon.archive.feature_file` (one layout for all).

Importing a name from here still works for one release and warns.
"""

from __future__ import annotations

from pathlib import Path

from .._deprecated import moved
from ..archive import feature_file as _feature_file


def _writer(path: Path, attrs: dict, n_channels: int, n_features: int) -> _feature_file.FeatureWriter:
    """The old ``FeatureWriter(path, attrs, n_channels, n_features)``: names came in ``attrs``."""
    attrs = dict(attrs)
    return _feature_file.FeatureWriter(path, attrs.pop("feature_names"), attrs.pop("channels"), attrs=attrs)


__getattr__ = moved(__name__, {
    "FeatureWriter": ("eegmon.archive.feature_file.FeatureWriter (it takes feature_names and channel_names)",
                      lambda: _writer),
    "features_path": ("eegmon.archive.feature_file.features_path", None),
    "merge_parts": ("eegmon.archive.feature_file.merge_parts", None),
})
