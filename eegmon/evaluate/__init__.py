"""Standard evaluation of seizure detection: SzCORE event and sample scoring, plus NEDC conventions."""

from .scoring import RecordingScore, detection_latencies, score_recording
from .summary import Evaluation, evaluate, evaluate_pairs

__all__ = ["Evaluation", "RecordingScore", "detection_latencies", "evaluate", "evaluate_pairs", "score_recording"]
