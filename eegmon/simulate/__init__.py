"""A realistic subscalp-EEG simulator with exact ground truth (``eegmon simulate``).

:func:`simulate` writes a device-like recording; :func:`insert_seizures` puts simulated seizures
into a given (real) background; :func:`simulate_timings` draws seizure times only, for forecasting
(:func:`write_timings` writes them); :mod:`eegmon.simulate.measure` holds the statistics that compare
simulated and real EEG. See docs/simulator.md.
"""

from .bids import simulate_bids
from .config import (
    ARTIFACT_TYPES,
    DIFFICULTIES,
    LEGACY_ARTIFACT_TYPES,
    SEIZURE_TYPES,
    Difficulty,
    SimulationConfig,
)
from .seizures import InsertedSeizure, insert_seizures
from .timings import SubjectTimings, simulate_timings, write_timings
from .writer import SimulationResult, channel_names, simulate

__all__ = ["ARTIFACT_TYPES", "DIFFICULTIES", "LEGACY_ARTIFACT_TYPES", "SEIZURE_TYPES", "Difficulty",
           "InsertedSeizure", "SimulationConfig", "SimulationResult", "SubjectTimings", "channel_names",
           "insert_seizures", "simulate", "simulate_bids", "simulate_timings", "write_timings"]
