"""Deprecated: the feature-table file moved to :mod:`eegmon.archive.feature_file` (one layout for all).

Importing a name from here still works for one release and warns.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ..archive import feature_file as _feature_file


def _writer(path: Path, attrs: dict, n_channels: int, n_features: int) -> _feature_file.FeatureWriter:
    """The old ``FeatureWriter(path, attrs, n_channels, n_features)``: names came in ``attrs``."""
    attrs = dict(attrs)
    return _feature_file.FeatureWriter(path, attrs.pop("feature_names"), attrs.pop("channels"), attrs=attrs)


_MOVED = {"FeatureWriter": _writer, "features_path": _feature_file.features_path,
          "merge_parts": _feature_file.merge_parts}


def __getattr__(name: str):
    if name in _MOVED:
        warnings.warn(f"eegmon.cohort.feature_file.{name} is deprecated; use eegmon.archive.feature_file.{name} "
                      "(FeatureWriter now takes feature_names and channel_names).", DeprecationWarning, stacklevel=2)
        return _MOVED[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
