"""The bundled generic (cross-patient) model: how it is made and how it is loaded.

The recipe (``make generic-model``, :func:`train_generic_model`) mixes real and simulated EEG:

- **real seizure-free EEG** as negatives: the Muse headband recordings of the ``realdata``
  folder (50 healthy volunteers, 4 channels incl. the behind-the-ear TP9/TP10, with blinks,
  jaw, movement and electrode artifacts), as 4, 2 (TP9/TP10) or 1 channel(s) by subject;
- **real seizures**: the dog's five intracranial seizures (after its interictal runs) and the
  CHB-MIT ictal/pre-ictal scalp windows;
- **cold starts**: short pieces of the recordings (the dog's seizure files as they come, from
  the onset; 30-s pieces of its interictal runs, of every Muse file and of every simulated hour,
  at gains 1, 2 and 4; each CHB-MIT window alone), so that the probability shown while the
  baseline warms up is judged against the population prior from real EEG;
- **real backgrounds with simulated subtle seizures inserted**
  (:func:`eegmon.simulate.insert_seizures`, difficulty ``realistic``: median seizure-to-background
  RMS ratio 2, a third below 1.5) into every Muse subject;
- **the realistic simulator** (:func:`eegmon.simulate.simulate`, difficulty ``realistic``): four
  patients of ``SIM_DAYS`` days at 207, 256, 250 and 128 Hz with 2, 4, 3 and 1 channels, every
  row of its labelled seizure mimics (rhythmic movement, cable sway, chewing, sleep transients)
  kept as a hard negative.

Only windows that pass the signal-quality gate are used; background rows are subsampled per
recording. The model file's ``training`` block lists every part with its hours and seizures.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import signal

from eegmon._logging import progress
from eegmon.errors import EegmonError
from eegmon.events import Annotation

from . import corpus
from .model import DetectionModel, load_model, save_model
from .training import TrainingRows, population_prior, rows_from_chunks, train_classifier

BUNDLED = "generic.eegmon-model"
MODEL_FS = 207.0
SIM_DAYS = 6.0
SIM_PATIENTS = (
    {"seed": 101, "fs": 207.0, "n_channels": 2},
    {"seed": 102, "fs": 256.0, "n_channels": 4},
    {"seed": 103, "fs": 250.0, "n_channels": 3},
    {"seed": 104, "fs": 128.0, "n_channels": 1},
)
#: Weight of a row by the part it comes from: the few real seizures count more.
WEIGHTS = {"muse": 1.0, "muse+inserted": 1.0, "dog": 3.0, "chbmit": 3.0, "simulated": 1.0}
#: The forest (see :class:`eegmon.detectors.FeatureClassifier`).
FOREST = {"n_estimators": 60, "max_depth": 12, "min_samples_leaf": 5}
#: Post-processing, tuned in cross-validation on the real recordings (no false alarm on held-out
#: Muse subjects) with the median latency kept under 10 s.
POSTPROCESS = {"threshold": 0.7, "threshold_off": 0.45, "smooth_windows": 8, "min_duration_s": 12.0,
               "merge_gap_s": 30.0, "refractory_s": 60.0, "max_duration_s": 300.0}
#: Background rows kept per recording: at least this many, or this many per hour.
NEGATIVES_PER_RECORDING, NEGATIVES_PER_HOUR = 4000, 1000
#: Cold starts: the first COLD_S seconds of real recordings as recordings of their own, at these gains.
COLD_S, COLD_GAINS = 30.0, (1.0, 2.0, 4.0)
#: Seconds of each segment of a whole recording that the population prior is learnt from.
PRIOR_S = 600.0
#: A channel takes part in a real seizure when its 1-40 Hz RMS in the seizure is this many
#: times its RMS before it (the others are left out of training, not called background).
INVOLVED_RATIO = 1.5


def bundled_model() -> DetectionModel:
    """The generic model shipped with eegmon."""
    with resources.as_file(resources.files("eegmon.detectors") / "models" / BUNDLED) as path:
        return load_model(path)


def bundled_model_sha256() -> str:
    """SHA-256 of the bundled model file (identifies the model in run manifests)."""
    return hashlib.sha256((resources.files("eegmon.detectors") / "models" / BUNDLED).read_bytes()).hexdigest()


@dataclass(frozen=True)
class Part:
    """One training recording: where its rows come from, and its seizures with their channels."""

    kind: str  # a key of WEIGHTS
    recording: corpus.CorpusRecording
    seizures: tuple[Annotation, ...]
    #: Rows before this time are left out (the dog's shared interictal runs are used once).
    ignore_before: float | None = None
    #: Spans of known seizure mimics (the simulator's labelled ones): all their rows are kept.
    hard: tuple[tuple[float, float], ...] = ()
    #: A short piece cut from a recording, perhaps at another gain: no vote for the population prior.
    cold: bool = False


def _band_rms(x: np.ndarray, fs: float) -> np.ndarray:
    sos = signal.butter(2, [1.0, min(40.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    return np.sqrt(np.mean(signal.sosfiltfilt(sos, x, axis=0) ** 2, axis=0))


def involved_channels(rec: corpus.CorpusRecording, background: np.ndarray, ictal: np.ndarray) -> tuple[str, ...]:
    """Channels whose 1-40 Hz RMS during a real seizure is ``INVOLVED_RATIO`` times that before it."""
    ratio = _band_rms(ictal, rec.fs) / np.maximum(_band_rms(background, rec.fs), 1e-9)
    return tuple(c for c, r in zip(rec.channels, ratio, strict=True) if r >= INVOLVED_RATIO)


def _real_parts(root: Path, rng: np.random.Generator) -> Iterator[Part]:
    for i, rec in enumerate(corpus.muse_recordings(root)):
        montage = (None, corpus.TWO_CHANNEL["muse"], [("TP9", None)])[i % 3]
        if montage is not None:
            rec = rec.derive(montage, suffix=f"{len(montage)}ch")
        yield Part("muse", rec, ())
        yield _inserted(rec, rng)
        for k, (t, x) in enumerate(rec.segments):  # cold starts, at gains a device or montage may have
            gain = COLD_GAINS[k % len(COLD_GAINS)]
            yield Part("muse", _piece(rec, f"cold{k}", t, x[: int(COLD_S * rec.fs)] * gain), (), cold=True)
    dog = corpus.dog_recordings(root)
    background = dog[0].segments[0][1]
    yield Part("dog", dog[0], ())
    n_bg = background.shape[0]
    step = int(COLD_S * dog[0].fs)
    for k in range(0, n_bg - step + 1, step):
        yield Part("dog", _piece(dog[0], f"cold{k // step}", dog[0].start, background[k:k + step]), (), cold=True)
    for rec in dog[1:]:
        x = rec.segments[0][1]
        (onset, offset), = rec.seizures
        chans = involved_channels(rec, x[:n_bg], x[n_bg:])
        seizure = (Annotation(onset, offset - onset, "sz", channels=chans),)
        yield Part("dog", rec, seizure, ignore_before=onset - 2)
        yield Part("dog", _piece(rec, "cold", onset, x[n_bg:]), seizure, cold=True)  # the file as it comes
    windows = corpus.chbmit_windows(root)
    before = {w.name.replace("_preictal10s", ""): w for w in windows if not w.seizure}
    for w in windows:
        rec = corpus.CorpusRecording(w.name, "chbmit", w.subject, w.fs, w.channels, ((0.0, w.samples),))
        if not w.seizure:
            yield Part("chbmit", rec, (), cold=True)
            continue
        chans = involved_channels(rec, before[w.name.replace("_ictal", "")].samples, w.samples)
        yield Part("chbmit", rec, (Annotation(0.0, w.samples.shape[0] / w.fs, "sz", channels=chans),), cold=True)


def _piece(rec: corpus.CorpusRecording, tag: str, t: float, x: np.ndarray) -> corpus.CorpusRecording:
    """A short piece of a recording as a recording of its own (a cold start: no baseline yet)."""
    return corpus.CorpusRecording(f"{rec.name}/{tag}", rec.dataset, rec.subject, rec.fs, rec.channels,
                                  ((t, x),), tuple(s for s in rec.seizures if t <= s[0] < t + x.shape[0] / rec.fs))


def _inserted(rec: corpus.CorpusRecording, rng: np.random.Generator) -> Part:
    """The recording with a simulated seizure inserted into every other segment long enough for one.

    The first segment is left alone: the detector is still warming up there.
    """
    from eegmon.simulate import insert_seizures

    segments, seizures = [], []
    for k, (t, x) in enumerate(rec.segments):
        if k % 2 == 0 or x.shape[0] / rec.fs < 90.0:
            segments.append((t, x))
            continue
        y, placed = insert_seizures(x, rec.fs, rng=rng, n_seizures=1, difficulty="realistic")
        segments.append((t, y.astype(np.float32)))
        seizures += [Annotation(t + s.onset_s, s.duration_s, "sz", channels=tuple(rec.channels[c] for c in s.channels))
                     for s in placed]
    out = corpus.CorpusRecording(f"{rec.name}+inserted", rec.dataset, rec.subject, rec.fs, rec.channels,
                                 tuple(segments), tuple((s.onset, s.offset) for s in seizures))
    return Part("muse+inserted", out, tuple(seizures))


def _simulated_parts(workdir: Path, quiet: bool) -> Iterator[Part]:
    from eegmon.io import open_recording
    from eegmon.simulate import simulate
    from eegmon.simulate.config import MIMIC_ARTIFACT_TYPES

    for spec in SIM_PATIENTS:
        # the folder's name holds everything the simulation depends on, so a kept one is only reused as such
        folder = workdir / f"sim-{spec['seed']}-{SIM_DAYS:g}d-{spec['fs']:g}hz-{spec['n_channels']}ch-realistic"
        if not (folder / "simulation.json").exists():
            simulate(folder, days=SIM_DAYS, fs=spec["fs"], n_channels=spec["n_channels"], seed=spec["seed"],
                     seizures_per_day=8.0, difficulty="realistic", quiet=True, overwrite=True)
        source = open_recording(folder)
        seizures = tuple(a for a in source.annotations if a.is_seizure)
        mimics = tuple((a.onset, a.offset) for a in source.annotations if a.label in MIMIC_ARTIFACT_TYPES)
        segments = tuple((t, x.astype(np.float32)) for t, x in source.chunks(3600.0))
        rec = corpus.CorpusRecording(f"simulated/{spec['seed']}", "simulated", str(spec["seed"]), source.fs,
                                     source.channels, segments, tuple((a.onset, a.offset) for a in seizures))
        yield Part("simulated", rec, seizures, hard=mimics)
        # cold starts of awake and asleep background (alpha, slow waves) at the gains of other devices
        for k, (t, x) in enumerate(segments):
            n = int(COLD_S * rec.fs)
            if not any(t < b and a < t + n / rec.fs for a, b in rec.seizures):
                yield Part("simulated", _piece(rec, f"cold{k}", t, x[:n] * COLD_GAINS[k % len(COLD_GAINS)]), (),
                           cold=True)


def training_parts(realdata: str | Path | None = None, *, workdir: str | Path, seed: int = 0,
                   quiet: bool = True) -> list[Part]:
    """Every recording of the recipe (see the module docstring), real ones from ``realdata``."""
    root = corpus.realdata_root(realdata)
    if root is None:
        raise EegmonError("the generic model is trained on real EEG from the project's realdata folder, which is "
                          "not here: set EEGMON_REALDATA to it (see docs/detection.md).", realdata)
    rng = np.random.default_rng(seed)
    parts = list(progress(_real_parts(root, rng), desc="real recordings", quiet=quiet, unit="rec"))
    return parts + list(_simulated_parts(Path(workdir), quiet))


def part_rows(part: Part, template: DetectionModel, rng: np.random.Generator) -> TrainingRows:
    """The labelled rows of one part, with its weight."""
    rec = part.recording
    ignore = [] if part.ignore_before is None else [(rec.start - 1.0, part.ignore_before)]
    cap = max(NEGATIVES_PER_RECORDING, int(NEGATIVES_PER_HOUR * rec.hours))
    rows = rows_from_chunks(iter(rec.segments), fs=rec.fs, channels=rec.channels, seizures=part.seizures,
                            model=template, rng=rng, min_negatives=cap, negatives_per_positive=0.0, ignore=ignore,
                            hard=part.hard)
    rows.n_seizures = len(part.seizures)
    rows.weight = np.full(len(rows.y), WEIGHTS[part.kind])
    return rows


def _prior_rows(part: Part, template: DetectionModel, rng: np.random.Generator) -> TrainingRows:
    """Background rows of the first PRIOR_S seconds of each segment of a recording (its amplitude, quickly)."""
    rec = part.recording
    n = int(PRIOR_S * rec.fs)
    return rows_from_chunks(((t, x[:n]) for t, x in rec.segments), fs=rec.fs, channels=rec.channels,
                            seizures=part.seizures, model=template, rng=rng, min_negatives=0,
                            negatives_per_positive=0.0)


def train_generic_model(out: str | Path | None = None, *, realdata: str | Path | None = None,
                        exclude: Callable[[corpus.CorpusRecording], bool] | None = None,
                        workdir: str | Path | None = None, seed: int = 0, quiet: bool = True) -> DetectionModel:
    """Train the cross-patient model on the recipe of the module docstring; save it to ``out`` if given.

    Parameters
    ----------
    out : path-like | None
        Model file to write.
    realdata : path-like | None
        The realdata folder (default: ``$EEGMON_REALDATA`` or the one beside the project).
    exclude : callable | None
        Leave out the recordings for which ``exclude(recording)`` is true (benchmarks train
        held-out models this way, e.g. without a dataset or a group of subjects).
    workdir : path-like | None
        Where the simulated patients are written (and found again); a temporary folder if None.
    seed : int
        Seed of the seizure insertion, the row subsampling and the forest.
    quiet : bool
        No progress bars.
    """
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        parts = training_parts(realdata, workdir=workdir or tmp, seed=seed, quiet=quiet)
        parts = [p for p in parts if exclude is None or not exclude(p.recording)]
        # The prior first (rows without one, on a sample of each whole recording), so that the
        # training rows are computed with the prior the model will run with.
        bare = DetectionModel("classifier", None, fs=MODEL_FS)
        whole = [p for p in parts if not p.cold]
        # one vote per kind of EEG (headband, intracranial, scalp, simulated subscalp), not per file
        prior = population_prior([_prior_rows(p, bare, rng) for p in whole],
                                 groups=[p.recording.dataset for p in whole])
        template = DetectionModel("classifier", None, fs=MODEL_FS, postprocess=dict(POSTPROCESS), prior=prior)
        rows = [part_rows(p, template, rng) for p in progress(parts, desc="features", quiet=quiet, unit="rec")]
    summary: dict[str, dict] = {}
    for p, r in zip(parts, rows, strict=True):
        s = summary.setdefault(p.kind, {"recordings": 0, "hours": 0.0, "seizures": 0, "cold_pieces": 0,
                                        "channels": set(), "rates_hz": set()})
        if p.cold:  # cut from the recordings counted already
            s["cold_pieces"] += 1
        else:
            s["recordings"] += 1
            s["hours"] += r.hours
            s["seizures"] += r.n_seizures
        s["channels"].add(len(p.recording.channels))
        s["rates_hz"].add(p.recording.fs)
    data = {k: {**v, "hours": round(v["hours"], 2), "channels": sorted(v["channels"]),
                "rates_hz": sorted(v["rates_hz"])} for k, v in summary.items()}
    model = train_classifier(rows, template=template, random_state=seed, **FOREST, training={
        "data": data, "real_data": {
            "muse": "Muse 2016 headband, NeuroTechX eeg-notebooks v0.1 (BSD-3-Clause), seizure-free volunteers",
            "dog": "UPenn & Mayo Clinic Seizure Detection Challenge, Dog_1 (Baldassano et al., Brain 2017)",
            "chbmit": "CHB-MIT Scalp EEG windows, chb01-chb02 (PhysioNet, ODC-By 1.0)"},
        "simulated": {"patients": list(SIM_PATIENTS), "days_each": SIM_DAYS, "difficulty": "realistic"},
        "inserted": "one simulated seizure (difficulty realistic) in every other Muse file of 90 s or more, "
                    "from the second on",
        "weights": WEIGHTS, "forest": FOREST, "seed": seed, "excluded": exclude is not None,
        "recipe": "eegmon.detectors.generic (make generic-model)"})
    if out is not None:
        save_model(model, out)
    return model


def main(argv: list[str] | None = None) -> int:
    """``python -m eegmon.detectors.generic [MODEL]`` (``make generic-model``): train and save the generic model."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m eegmon.detectors.generic", description=main.__doc__)
    parser.add_argument("model", nargs="?", default=str(Path(__file__).parent / "models" / BUNDLED), type=Path,
                        help="model file to write (default: the bundled one)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the simulated patients here")
    args = parser.parse_args(argv)
    try:
        model = train_generic_model(args.model, workdir=args.workdir, quiet=False)
    except EegmonError as err:
        print(f"generic-model: error: {err}", file=sys.stderr)
        return 2
    t = model.training
    print(f"trained on {t['recordings']} recordings, {t['hours']} h, {t['seizures']} seizures; wrote {args.model}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
