"""Real EEG for training and benchmarking detectors: the public recordings of a ``realdata`` folder.

A :class:`CorpusRecording` is what a detector is trained or measured on: contiguous segments of
float samples in µV with absolute start times, and the seizures in them. The readers below turn
the layout of the project's ``realdata`` folder (see its README) into such recordings:

- ``muse_eegnotebooks``: seizure-free EEG of healthy volunteers from a 4-channel consumer
  headband (TP9, AF7, AF8, TP10), 256 Hz, ~2-min EDF+ files; one recording per subject, its
  files one after the other with a gap between them (as a device folder is read).
- ``kaggle_dog1``: an implanted intracranial device in a dog (16 contacts, 400 Hz). The seizure
  files start at the marked onset, so each seizure is made a continuous recording by putting
  the six interictal runs before it, joined end to end (their joins are discontinuities of the
  source, not gaps); the interictal runs alone are one more, seizure-free, recording.
- ``chbmit_windows``: labelled 10-s windows of CHB-MIT scalp EEG (23 bipolar channels, 256 Hz),
  one ictal and one earlier pre-ictal window per seizure; they are not continuous recordings,
  so they are used as labelled windows only.
- ``bonn``: single-channel 23.6-s segments (173.61 Hz), whole-segment labels.

Nothing here is shipped with eegmon: the folder lives beside the project and a user's clone has
none; :func:`realdata_root` finds it or returns None.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eegmon.errors import EegmonError

#: Where the project keeps its real EEG (beside the checkout); ``EEGMON_REALDATA`` overrides it.
_DEFAULT_ROOT = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"
BONN_FS = 173.61
BONN_SETS = {"Z": "healthy, eyes open (surface)", "O": "healthy, eyes closed (surface)",
             "N": "interictal, opposite hippocampus (intracranial)",
             "F": "interictal, epileptogenic zone (intracranial)", "S": "ictal (intracranial)"}
#: 2-channel derivations nearest to a subscalp device (name -> list of (plus, minus) channel pairs;
#: a minus of None keeps the channel as recorded).
TWO_CHANNEL = {
    "muse": [("TP9", None), ("TP10", None)],
    "dog": [("Ecog_c001", "Ecog_c002"), ("Ecog_c003", "Ecog_c004")],
    "chbmit_left": [("F7-T7", None), ("T7-P7", None)],
    "chbmit_right": [("F8-T8", None), ("T8-P8", None)],
}


@dataclass(frozen=True)
class CorpusRecording:
    """One recording of the corpus.

    Attributes
    ----------
    name : str
        Unique name (dataset/subject/...).
    dataset, subject : str
        Which dataset and which person (or animal) it comes from.
    fs : float
        Sampling rate in Hz.
    channels : tuple of str
        Channel names.
    segments : tuple of (float, ndarray)
        Contiguous runs: absolute start (s since the epoch) and samples (n, n_channels) in µV.
    seizures : tuple of (float, float)
        Seizure onsets and offsets, absolute seconds.
    lost_s : float
        Seconds of the segments that hold no EEG (lost contact written into a joined stream):
        left out of ``hours``.
    """

    name: str
    dataset: str
    subject: str
    fs: float
    channels: tuple[str, ...]
    segments: tuple[tuple[float, np.ndarray], ...]
    seizures: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    lost_s: float = 0.0

    @property
    def hours(self) -> float:
        """Recorded hours of EEG (gaps and ``lost_s`` excluded)."""
        return (sum(x.shape[0] for _, x in self.segments) / self.fs - self.lost_s) / 3600.0

    @property
    def start(self) -> float:
        """First sample time."""
        return self.segments[0][0]

    @property
    def stop(self) -> float:
        """Just after the last sample."""
        t, x = self.segments[-1]
        return t + x.shape[0] / self.fs

    def derive(self, pairs: list[tuple[str, str | None]], suffix: str = "2ch") -> CorpusRecording:
        """The recording re-referenced to ``pairs`` of (plus, minus) channels (minus None: as recorded)."""
        idx = {c: i for i, c in enumerate(self.channels)}
        missing = sorted({c for p in pairs for c in p if c is not None and c not in idx})
        if missing:
            raise EegmonError(f"{self.name}: no channel(s) {missing} for the derivation; it has {list(self.channels)}.")
        names = tuple(a if b is None else f"{a}-{b}" for a, b in pairs)

        def apply(x: np.ndarray) -> np.ndarray:
            return np.stack([x[:, idx[a]] - (0.0 if b is None else x[:, idx[b]]) for a, b in pairs], axis=1)

        return CorpusRecording(f"{self.name}:{suffix}", self.dataset, self.subject, self.fs, names,
                               tuple((t, apply(x)) for t, x in self.segments), self.seizures)


@dataclass(frozen=True)
class LabelledWindow:
    """A short labelled piece of real EEG (no continuous context)."""

    name: str
    dataset: str
    subject: str
    fs: float
    channels: tuple[str, ...]
    samples: np.ndarray  # (n, n_channels) µV
    seizure: bool


def realdata_root(root: str | os.PathLike | None = None) -> Path | None:
    """The realdata folder: ``root``, else ``$EEGMON_REALDATA``, else the one beside the project; None if absent."""
    path = Path(root or os.environ.get("EEGMON_REALDATA") or _DEFAULT_ROOT)
    return path if path.is_dir() else None


def _edf_samples(path: Path) -> tuple[float, tuple[str, ...], float, np.ndarray]:
    from eegmon.io import read_edf

    rec = read_edf(path, annotations=False)
    if len(rec.segments) != 1:
        raise EegmonError(f"expected one contiguous segment, got {len(rec.segments)}.", path)
    seg = rec.segments[0]
    x = seg.read().astype(np.float32)
    return seg.start, tuple(rec.channels), float(rec.fs), x


def muse_recordings(root: Path, *, gap_s: float = 60.0) -> list[CorpusRecording]:
    """One seizure-free recording per Muse subject: its files in time order, ``gap_s`` apart."""
    out = []
    for folder in sorted(p for p in (root / "muse_eegnotebooks").iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.edf"))
        parts = sorted((_edf_samples(p) for p in files), key=lambda r: r[0])
        if not parts:
            continue
        segments, t = [], parts[0][0]
        for start, _, fs, x in parts:
            t = max(t, start)  # a few files overlap in their header times: keep them in order
            segments.append((t, x))
            t += x.shape[0] / fs + gap_s
        out.append(CorpusRecording(f"muse/{folder.name}", "muse", folder.name, parts[0][2], parts[0][1],
                                   tuple(segments)))
    return out


def dog_recordings(root: Path) -> list[CorpusRecording]:
    """The dog's five seizures, each after the interictal runs, and the interictal runs alone."""
    folder = root / "kaggle_dog1"
    inter = [_edf_samples(folder / f"Dog_1_interictal_run{k}.edf") for k in range(1, 7)]
    _, channels, fs, _ = inter[0]
    background = np.concatenate([x for *_, x in inter])
    t0 = 946684800.0  # 2000-01-01, the files' own date
    out = [CorpusRecording("dog/interictal", "dog", "Dog_1", fs, channels, ((t0, background),))]
    for k in range(1, 6):
        _, ch, fs_k, sz = _edf_samples(folder / f"Dog_1_sz{k}_ictal_from_onset.edf")
        if ch != channels or fs_k != fs:
            raise EegmonError("seizure file has other channels or rate than the interictal runs.", folder)
        onset = t0 + background.shape[0] / fs
        out.append(CorpusRecording(f"dog/sz{k}", "dog", "Dog_1", fs, channels,
                                   ((t0, np.concatenate([background, sz])),),
                                   ((onset, onset + sz.shape[0] / fs),)))
    return out


def _chbmit_channels(summary: Path) -> tuple[str, ...]:
    """Channel names of a CHB-MIT summary file, a repeated name suffixed (T8-P8 appears twice)."""
    import re

    names: list[str] = []
    for name in re.findall(r"^Channel \d+: (\S+)", summary.read_text(encoding="latin-1"), flags=re.M):
        names.append(name if name not in names else f"{name}-{names.count(name) + 1}")
    return tuple(names)


def chbmit_windows(root: Path) -> list[LabelledWindow]:
    """The CHB-MIT ictal and pre-ictal 10-s windows (23 bipolar channels, 256 Hz)."""
    folder = root / "chbmit_windows"
    channels = _chbmit_channels(root / "annotations" / "chbmit" / "chb01-summary.txt")
    out = []
    for path in sorted(folder.glob("chb*/*/*.npy")):
        x = np.load(path, allow_pickle=False)
        if x.shape[0] != len(channels):
            raise EegmonError(f"expected {len(channels)} channels, got shape {x.shape}.", path)
        subject = path.parts[-3]
        out.append(LabelledWindow(f"chbmit/{path.stem}", "chbmit", subject, 256.0, channels,
                                  x.T.astype(np.float32), path.parent.name == "ictal"))
    return out


def bonn_segments(root: Path, n_per_set: int | None = None) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Bonn segments by set letter: ``[(segment number, samples (4097,))]``."""
    out = {}
    for s in BONN_SETS:
        paths = sorted(p for p in (root / "bonn" / s).iterdir() if p.suffix.lower() == ".txt")[:n_per_set]
        out[s] = [(int("".join(ch for ch in p.stem if ch.isdigit())), np.loadtxt(p)) for p in paths]
    return out
