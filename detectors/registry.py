"""Detectors by name: a new detector is one module and one line in ``DETECTORS``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def make_detector(name: str, **params: Any):
    """A new, unfitted detector of the registered ``name`` with its defaults and ``params``."""
    spec = DETECTORS[check_option("detector", name, DETECTORS)]
    return spec.cls(**{**spec.defaults, **params})
