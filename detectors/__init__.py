"""Seizure detectors (``eegmon.detectors``): scikit-learn style estimators on windowed features, a
registry by name, safe model files, post-processing to events and the streaming runner.
"""

from .estimators import FeatureClassifier, LineLengthDetector
from .features import DETECTOR_COLUMNS, AdaptiveFeatures
from .model import DetectionModel, load_model, save_model
from .postprocess import PostProcessor, events_from_proba
from .registry import DETECTORS, load_detector, make_detector
from .runner import DetectionChunk, StreamingDetector

__all__ = [
    "DETECTORS", "DETECTOR_COLUMNS", "AdaptiveFeatures", "DetectionChunk", "DetectionModel", "FeatureClassifier",
    "LineLengthDetector", "PostProcessor", "StreamingDetector", "events_from_proba", "load_detector", "load_model",
    "make_detector", "save_model",
]
