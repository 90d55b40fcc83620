"""A realistic subscalp-EEG simulator with exact ground truth (``eegmon simulate``)."""

from .bids import simulate_bids
from .config import ARTIFACT_TYPES, SEIZURE_TYPES, SimulationConfig
from .writer import SimulationResult, channel_names, simulate

__all__ = ["ARTIFACT_TYPES", "SEIZURE_TYPES", "SimulationConfig", "SimulationResult", "channel_names", "simulate",
           "simulate_bids"]
