"""Windowed EEG features (line length, band powers, Hjorth, signal quality, ...).

:class:`Pipeline` is the one object for batch and streaming; see its notes for time stamps,
gaps and NaN handling, and ``FEATURE_NAMES`` for the columns.
"""

from .pipeline import BANDS, FEATURE_NAMES, TOTAL_BAND, Pipeline, WindowGrid, extract_features, window_grid
from .table import FeatureTable

__all__ = ["BANDS", "FEATURE_NAMES", "TOTAL_BAND", "FeatureTable", "Pipeline", "WindowGrid", "extract_features",
           "window_grid"]
