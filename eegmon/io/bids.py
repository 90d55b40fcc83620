"""A BIDS EEG dataset: every subject / session / task / run, with its ``events.tsv``.

Runs are found with mne-bids; EDF and BDF runs are read lazily with :func:`eegmon.io.read_edf`
(other BIDS EEG formats, BrainVision and EEGLAB, are not supported yet and raise). The run's
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


@dataclass
class BidsRun:
    """One BIDS recording: its entities and the recording (annotations from its events.tsv)."""

    subject: str
    session: str | None
    task: str | None
    run: str | None
    path: Path
    recording: Recording


def read_bids(root: str | os.PathLike, *, subjects: list[str] | None = None) -> list[BidsRun]:
    """Read every EEG run of a BIDS dataset.

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
        rec = read_edf(fpath)
        events = fpath.with_name(fpath.name.rsplit("_eeg", 1)[0] + "_events.tsv")
        if events.is_file():
            tsv = read_events_tsv(events, recording_start=rec.start)
            rec.annotations.extend(tsv.events)
        runs.append(
            BidsRun(subject=bp.subject, session=bp.session, task=bp.task, run=bp.run, path=fpath, recording=rec)
        )
    return runs
