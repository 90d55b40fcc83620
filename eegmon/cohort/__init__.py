"""Cohort scale-out: one task over every recording of a dataset, on Dask or a process pool.

``eegmon batch`` is the command line of :func:`run_batch`.
"""

from .batch import BatchReport, run_batch
from .dataset import RecordingSpec, find_recordings
from .engine import open_engine
from .work import TASKS, Params

__all__ = ["TASKS", "BatchReport", "Params", "RecordingSpec", "find_recordings", "open_engine", "run_batch"]
