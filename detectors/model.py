"""A detection model: a detector plus everything needed to run it, in a file that is safe to load.

The file is a ZIP archive holding ``metadata.json`` (the processing chain, post-processing,
feature set, sampling rate, eegmon version, training summary) and, for trained detectors,
``estimator.skops`` (the fitted estimator in the skops format, loaded with an explicit list of
trusted types: no pickle is ever loaded from a user's path).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eegmon._atomic import atomic_path
from eegmon.errors import EegmonError

from .estimators import FeatureClassifier, flatten_forest
from .features import DETECTOR_COLUMNS
from .registry import DETECTORS, make_detector

FORMAT = "eegmon-model/2"
#: Types a model file may contain beyond skops' defaults: our forest wrapper and its trees.
TRUSTED_TYPES = ["sklearn.tree._tree.Tree", "eegmon.detectors.estimators.FeatureClassifier"]


def default_filters() -> list[dict[str, Any]]:
    """The processing chain's filters: 0.5-40 Hz band-pass and notches at both mains frequencies.

    Notching 50 and 60 Hz (and harmonics below Nyquist) costs nothing in the 0.5-40 Hz band the
    features use, and a recording from either side of the Atlantic needs no setting.
    """
    return [{"kind": "bandpass", "low": 0.5, "high": 40.0, "order": 2},
            {"kind": "notch", "line_freq": 50.0}, {"kind": "notch", "line_freq": 60.0}]


DEFAULT_QUALITY: dict[str, float] = {"max_flat": 0.5, "max_clip": 0.01, "max_line_noise": 0.5}
DEFAULT_POSTPROCESS: dict[str, Any] = {
    "threshold": 0.5, "threshold_off": 0.35, "smooth_windows": 5, "min_duration_s": 16.0,
    "merge_gap_s": 30.0, "refractory_s": 60.0, "max_duration_s": 300.0,
}


@dataclass
class DetectionModel:
    """A detector with its processing chain and post-processing.

    Attributes
    ----------
    detector : str
        Registry name of the detector (``eegmon.detectors.DETECTORS``).
    estimator : object
        The (fitted, if trained) scikit-learn-style estimator.
    fs : float | None
        Processing rate: input is resampled to it when it differs; None keeps the input rate.
    window_s, hop_s : float
        Feature windows.
    filters : list of dict
        ``eegmon.dsp.design_filter`` arguments applied in cascade.
    postprocess : dict
        ``PostProcessor`` parameters.
    prior : list of float | None
        Population baseline of the amplitude features (log10), from the training data.
    baseline_minutes, prior_minutes : float
        Time constants of the patient-adaptive baseline (the prior's weight decays with
        ``prior_minutes`` of good signal).
    warmup_s : float
        Seconds of good signal a channel's baseline needs before the channel can raise events.
    rewarm_gap_s : float
        A channel that goes longer than this without good signal (a gap in the recording, or
        signal that fails the quality gate all that time: the device taken off and put back)
        starts again as at the start of a recording: its baseline is learnt afresh and the
        warm-up applies. Shorter gaps and stretches (dropouts) leave it as it was.
    channels_per_vote : int
        One channel's probability decides for up to this many good channels; k channels must
        agree for up to k times as many (see :func:`eegmon.detectors.runner.vote`). 10: one
        channel for a subscalp device, two for a 19-channel 10-20 montage, seven for 64.
    quality : dict
        Signal-quality gate: a channel's window with more than ``max_flat`` flat samples,
        ``max_clip`` clipped samples, a mains share above ``max_line_noise`` (a disconnected
        electrode) or any missing sample cannot raise a detection.
    training : dict
        What it was trained on (free-form summary).
    """

    detector: str
    estimator: Any
    fs: float | None = None
    window_s: float = 2.0
    hop_s: float = 1.0
    filters: list[dict[str, Any]] = field(default_factory=default_filters)
    postprocess: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_POSTPROCESS))
    prior: list[float] | None = None
    baseline_minutes: float = 30.0
    prior_minutes: float = 0.25
    warmup_s: float = 120.0
    rewarm_gap_s: float = 300.0
    channels_per_vote: int = 10
    quality: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_QUALITY))
    training: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """Everything but the estimator, as JSON-ready data."""
        from eegmon import __version__

        meta = {k: v for k, v in asdict(self).items() if k != "estimator"}
        meta.update(format=FORMAT, eegmon_version=__version__, feature_columns=list(DETECTOR_COLUMNS),
                    params=self.estimator.get_params())
        return meta


def save_model(model: DetectionModel, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` (a ZIP file; see the module docstring)."""
    import skops.io as sio

    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps(model.metadata(), indent=1))
        if DETECTORS[model.detector].trained:
            zf.writestr("estimator.skops", sio.dumps(model.estimator))


def load_model(path: str | os.PathLike) -> DetectionModel:
    """Read a model file, refusing anything but eegmon's format and trusted estimator types."""
    import warnings

    import skops.io as sio
    from sklearn.exceptions import InconsistentVersionWarning

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("metadata.json"))
            blob = zf.read("estimator.skops") if "estimator.skops" in zf.namelist() else None
    except FileNotFoundError:
        raise EegmonError("model file not found.", path) from None
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as err:
        raise EegmonError(f"not an eegmon model file ({err}).", path) from None
    if meta.get("format") != FORMAT:
        hint = " (a model from an earlier eegmon: retrain it with this version)" \
            if str(meta.get("format", "")).startswith("eegmon-model/") else ""
        raise EegmonError(f"unknown model format {meta.get('format')!r}; expected {FORMAT!r}{hint}.", path)
    if list(meta.get("feature_columns", [])) != list(DETECTOR_COLUMNS):
        raise EegmonError("the model was trained on another feature set than this eegmon computes; retrain it.", path)
    name = meta["detector"]
    if name not in DETECTORS:
        raise EegmonError(f"unknown detector {name!r} in the model; known: {sorted(DETECTORS)}.", path)
    if DETECTORS[name].trained:
        if blob is None:
            raise EegmonError("the model has no fitted estimator.", path)
        untrusted = set(sio.get_untrusted_types(data=blob)) - set(TRUSTED_TYPES)
        if untrusted:
            raise EegmonError(f"the model contains types eegmon does not trust: {sorted(untrusted)}.", path)
        try:
            with warnings.catch_warnings():
                # A model file outlives the scikit-learn that fitted it (the bundled one always does): the
                # trees' node layout is checked on load (a changed one raises) and eegmon walks them itself.
                warnings.simplefilter("ignore", InconsistentVersionWarning)
                estimator = sio.loads(blob, trusted=TRUSTED_TYPES)
        except Exception as err:  # skops raises many types for damaged content
            raise EegmonError(f"cannot load the estimator: {err}", path) from None
        if isinstance(estimator, FeatureClassifier) and getattr(estimator, "flat_", None) is None \
                and len(estimator.classes_) == 2:
            estimator.flat_ = flatten_forest(estimator.forest_)  # files written before the fast path
    else:
        estimator = make_detector(name, **meta.get("params", {}))
    fields = {k: meta[k] for k in ("fs", "window_s", "hop_s", "filters", "postprocess", "prior", "baseline_minutes",
                                   "prior_minutes", "warmup_s", "rewarm_gap_s", "channels_per_vote", "quality",
                                   "training")
              if k in meta}
    return DetectionModel(detector=name, estimator=estimator, **fields)


def model_from_bytes(data: bytes) -> DetectionModel:
    """Load a model held in memory (e.g. package data)."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".eegmon-model") as tmp:
        tmp.write(data)
        tmp.flush()
        return load_model(tmp.name)


__all__ = ["DEFAULT_POSTPROCESS", "DEFAULT_QUALITY", "DetectionModel", "load_model", "save_model"]
