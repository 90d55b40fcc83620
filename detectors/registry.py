"""Detectors by name: a new detector is one module and one line in ``DETECTORS``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eegmon._checks import check_option

from .estimators import FeatureClassifier, LineLengthDetector
from .features import DETECTOR_COLUMNS


@dataclass(frozen=True)
class DetectorSpec:
    """A registered detector: its class, whether it needs training, and its default parameters."""

    cls: type
    trained: bool
    defaults: dict[str, Any]
    summary: str


DETECTORS: dict[str, DetectorSpec] = {
    "line-length": DetectorSpec(LineLengthDetector, False,
                                {"emg_column": DETECTOR_COLUMNS.index("rel_power_gamma")},
                                "line length against a patient-adaptive baseline (Esteller-style), no training"),
    "classifier": DetectorSpec(FeatureClassifier, True, {},
                               "random forest on windowed features (generic model bundled, or train your own)"),
}


def load_detector(detector: str = "classifier", model_path: str | os.PathLike | None = None):
    """The model to run for a detector name or a model file: ``(DetectionModel, name)``.

    A model file (from ``eegmon train``) wins; otherwise a trained detector name gives the
    bundled generic model and an untrained one (``line-length``) its rule with default settings.
    """
    from .generic import bundled_model
    from .model import DetectionModel, load_model

    if model_path is not None:
        return load_model(model_path), Path(model_path).stem
    name = check_option("detector", detector, DETECTORS)
    if DETECTORS[name].trained:
        return bundled_model(), name
    est = make_detector(name).fit(np.zeros((2, len(DETECTOR_COLUMNS))), [0, 1])
    return DetectionModel(name, est), name


def make_detector(name: str, **params: Any):
    """A new, unfitted detector of the registered ``name`` with its defaults and ``params``."""
    spec = DETECTORS[check_option("detector", name, DETECTORS)]
    return spec.cls(**{**spec.defaults, **params})
