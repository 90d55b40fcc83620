"""A BIDS EEG dataset: every subject / session / task / run, with its ``events.tsv``.

Runs are found with mne-bids (:func:`find_bids_runs`, the one place that lists them); EDF and BDF
runs are read lazily with :func:`eegmon.io.read_edf` (other BIDS EEG formats, BrainVision and
EEGLAB, are not supported yet and raise). The run's
``*_events.tsv`` is read with ``recording_start`` from the EDF header.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import EegmonError
from ..recording import Recording
from .edf import read_edf
from .events_tsv import read_events_tsv


@dataclass(frozen=True)
class BidsRunPath:
    """Where one BIDS recording is: its entities and its EEG file."""

    subject: str
    session: str | None
    task: str | None
    run: str | None
    path: Path

    @property
    def events(self) -> Path | None:
        """The run's ``*_events.tsv``, or None when it has none."""
        events = events_path(self.path)
        return events if events.is_file() else None


@dataclass
class BidsRun:
    """One BIDS recording: its entities and the recording (annotations from its events.tsv)."""

    subject: str
    session: str | None
    task: str | None
    run: str | None
    path: Path
    recording: Recording


def find_bids_runs(root: str | os.PathLike, *, subjects: list[str] | None = None) -> list[BidsRunPath]:
    """Find every EEG run of a BIDS dataset, in path order (nothing is read).

    Parameters
    ----------
    root : path-like
        The dataset root (holding ``dataset_description.json``).
    subjects : list of str | None
        Only these subjects (without ``sub-``); all by default.
    """
    from mne_bids import find_matching_paths

    root = Path(root)
    if not (root / "dataset_description.json").is_file():
        raise EegmonError("not a BIDS dataset: no dataset_description.json.", root)
    known = sorted(p.name.removeprefix("sub-") for p in root.glob("sub-*") if p.is_dir())
    missing = [s for s in subjects or () if s not in known]
    if missing:
        raise EegmonError(f"no subject {missing[0]!r} in the dataset; subjects: {', '.join(known) or 'none'}.", root)
    paths = find_matching_paths(
        root,
        subjects=subjects,
        datatypes="eeg",
        suffixes="eeg",
        extensions=[".edf", ".bdf", ".EDF", ".BDF", ".vhdr", ".set"],
    )
    if not paths:
        raise EegmonError("no EEG runs found (sub-*/[ses-*/]eeg/*_eeg.edf|bdf).", root)
    runs = []
    for bp in sorted(paths, key=lambda p: str(p.fpath)):
        fpath = Path(bp.fpath)
        if fpath.suffix.lower() not in (".edf", ".bdf"):
            raise EegmonError(f"BIDS EEG format {fpath.suffix} is not supported yet; only EDF and BDF.", fpath)
        runs.append(BidsRunPath(subject=bp.subject, session=bp.session, task=bp.task, run=bp.run, path=fpath))
    return runs


def read_bids(root: str | os.PathLike, *, subjects: list[str] | None = None) -> list[BidsRun]:
    """Read every EEG run of a BIDS dataset (lazily: headers and annotations, no samples).

    Parameters
    ----------
    root : path-like
        The dataset root (holding ``dataset_description.json``).
    subjects : list of str | None
        Only these subjects (without ``sub-``); all by default.
    """
    return [BidsRun(r.subject, r.session, r.task, r.run, r.path, read_bids_run(r.path))
            for r in find_bids_runs(root, subjects=subjects)]


def events_path(run: str | os.PathLike) -> Path:
    """The ``*_events.tsv`` beside a BIDS run file (``sub-01_task-x_eeg.edf`` -> ``sub-01_task-x_events.tsv``)."""
    run = Path(run)
    return run.with_name(run.name.rsplit("_eeg", 1)[0] + "_events.tsv")


def is_bids_run(path: str | os.PathLike) -> bool:
    """True for a file named as a BIDS EEG run (``sub-<label>[_<entity>-<label>...]_eeg.<ext>``)."""
    name = Path(path).name
    return name.startswith("sub-") and name.rsplit(".", 1)[0].endswith("_eeg")


def read_bids_run(path: str | os.PathLike) -> Recording:
    """One BIDS EDF/BDF run, with the annotations of its ``*_events.tsv`` (onsets from the EDF start)."""
    rec = read_edf(path)
    events = events_path(path)
    if events.is_file():
        rec.annotations.extend(read_events_tsv(events, recording_start=rec.start).events)
    return rec
