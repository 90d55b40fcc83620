"""The bundled generic (cross-patient) model: how it is made and how it is loaded.

It is trained on simulated recordings only (no real patient data ships with eegmon): four
"patients" of 2 days each from ``eegmon simulate`` with 5 seizures per day, differing in
sampling rate (207, 256, 250, 207 Hz), channel count (2, 2, 4, 3) and amplitude scale
(1.0, 0.6, 1.6, 1.0 times the defaults), seeds 101-104. ``make generic-model`` re-creates it.
"""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from .model import DetectionModel, load_model, save_model
from .training import collect_rows, train_classifier

BUNDLED = "generic.eegmon-model"
RECIPE = (
    {"seed": 101, "fs": 207.0, "n_channels": 2, "scale": 1.0},
    {"seed": 102, "fs": 256.0, "n_channels": 2, "scale": 0.6},
    {"seed": 103, "fs": 250.0, "n_channels": 4, "scale": 1.6},
    {"seed": 104, "fs": 207.0, "n_channels": 3, "scale": 1.0},
)
DAYS, SEIZURES_PER_DAY, MODEL_FS = 2.0, 5.0, 207.0


def bundled_model() -> DetectionModel:
    """The generic model shipped with eegmon."""
    with resources.as_file(resources.files("eegmon.detectors") / "models" / BUNDLED) as path:
        return load_model(path)


def bundled_model_sha256() -> str:
    """SHA-256 of the bundled model file (identifies the model in run manifests)."""
    import hashlib

    return hashlib.sha256((resources.files("eegmon.detectors") / "models" / BUNDLED).read_bytes()).hexdigest()


def train_generic_model(out: str | Path, *, workdir: str | Path | None = None, quiet: bool = True) -> DetectionModel:
    """Simulate the recipe's recordings, train the cross-patient classifier and save it to ``out``."""
    from eegmon.simulate import SimulationConfig, simulate
    from eegmon.source import open_source

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(workdir or tmp)
        rng = np.random.default_rng(0)
        template = DetectionModel("classifier", None, fs=MODEL_FS)
        parts = []
        for spec in RECIPE:
            folder = root / f"patient-{spec['seed']}"
            s = spec["scale"]
            cfg = SimulationConfig(background_uv=9 * s, alpha_uv=7 * s, slow_wave_uv=28 * s, spindle_uv=18 * s,
                                   seizure_uv=110 * s)
            if not (folder / "simulation.json").exists():
                simulate(folder, days=DAYS, fs=spec["fs"], n_channels=spec["n_channels"],
                         seizures_per_day=SEIZURES_PER_DAY, seed=spec["seed"], config=cfg, quiet=quiet,
                         overwrite=True)
            source = open_source(folder)
            seizures = [a for a in source.annotations if a.is_seizure]
            parts.append(collect_rows(source, seizures, template, rng=rng, quiet=quiet))
        model = train_classifier(parts, fs=MODEL_FS, training={
            "data": "simulated only (eegmon simulate)", "recipe": list(RECIPE), "days_each": DAYS,
            "seizures_per_day": SEIZURES_PER_DAY})
    save_model(model, out)
    return model
