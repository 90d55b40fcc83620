"""Causal and zero-phase IIR filtering (SOS, state carried across chunks) and resampling.

Kernels compile lazily on first use; importing this package compiles nothing.
"""

from .filters import SosFilter, design_filter, filter_signal
from .resample import Resampler, resample

__all__ = ["Resampler", "SosFilter", "design_filter", "filter_signal", "resample"]
