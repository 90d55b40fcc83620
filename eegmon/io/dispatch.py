"""What is at this path? One answer for every command: :func:`open_recording`.

As MNE's ``read_raw``, one function tells the kind of input (:func:`recording_kind`) and a table
from kind to opener reads it, so import, detect, view, batch and the monitor's replay open any
input the same way and a new kind is one row:

``archive``
    An eegmon archive (``.h5`` / ``.hdf5``): its samples and its events, one per review item
    (:mod:`eegmon.archive.review`: a seizure seen by several detectors and annotations is one event),
    leaving out seizures only detected and not yet reviewed.
``edf``
    An EDF/EDF+/BDF file (told from its extension or its first bytes), with its sidecar
    annotations: ``<stem>_events.tsv`` and ``<stem>_artifacts.tsv``, or for a BIDS run file
    (``sub-01_..._eeg.edf``) the run's ``sub-01_..._events.tsv``.
``folder``
    A device folder: consecutive EDF/BDF files of one patient, one recording with gaps
    (:func:`eegmon.io.read_device_folder`).
``bids``
    A BIDS dataset root (``dataset_description.json``): the runs of one subject as one recording
    (:func:`open_recording`), or every run on its own (:func:`iter_recordings`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import EegmonError
from ..recording import Recording
from ..source import SignalSource
from .bids import BidsRunPath, find_bids_runs, is_bids_run, read_bids_run
from .device_folder import combine_recordings, read_device_folder, sidecar_annotations
from .edf import read_edf, sniff_edf

#: Extensions of an archive manifest.
ARCHIVE_SUFFIXES = (".h5", ".hdf5")
#: Extensions of EDF/BDF files (a file with another extension is EDF/BDF if it starts like one).
EDF_SUFFIXES = (".edf", ".bdf")
#: Every kind :func:`recording_kind` tells apart.
KINDS = ("archive", "edf", "folder", "bids")


def recording_kind(path: str | os.PathLike) -> str:
    """The kind of recording at ``path``: ``archive``, ``edf``, ``folder`` or ``bids``.

    Raises
    ------
    EegmonError
        When nothing is at ``path`` or it is none of those kinds.
    """
    path = Path(path)
    if not path.exists():
        raise EegmonError("no such file or folder.", path)
    if path.is_dir():
        if (path / "dataset_description.json").is_file():
            return "bids"
        try:
            has_edf = any(p.suffix.lower() in EDF_SUFFIXES and p.is_file() for p in path.iterdir())
        except OSError as err:
            raise EegmonError(f"cannot list folder: {err.strerror or err}.", path) from None
        if has_edf:
            return "folder"
        raise EegmonError("unknown kind of folder: expected a device folder (.edf/.bdf files) or a BIDS dataset "
                          "(dataset_description.json), and it holds neither.", path)
    suffix = path.suffix.lower()
    if suffix in ARCHIVE_SUFFIXES:
        return "archive"
    if suffix in EDF_SUFFIXES or sniff_edf(path) is not None:
        return "edf"
    raise EegmonError(f"unknown kind of file ({suffix or 'no extension'}): expected an archive "
                      f"({', '.join(ARCHIVE_SUFFIXES)}), an EDF/BDF file, a device folder or a BIDS dataset.", path)


def _checked(source: SignalSource) -> SignalSource:
    if not source.segments:
        raise EegmonError("the recording holds no samples.", source.path)
    return source


def _read_file(path: Path) -> Recording:
    """An EDF/BDF file with its sidecar annotations (a BIDS run's events.tsv, or <stem>_events.tsv)."""
    if is_bids_run(path):
        return read_bids_run(path)
    rec = read_edf(path)
    rec.annotations.extend(sidecar_annotations(path, rec.start, rec.stop - rec.start))
    return rec


def _open_archive(path: Path) -> SignalSource:
    from ..archive import Archive
    from ..archive.review import review_items, seizures

    arc = Archive.open(path)
    if not arc.segments:
        raise EegmonError("the archive holds no samples yet.", path)
    segments = [arc.segment(info) for info in arc.segments]
    for seg in segments:
        seg.source = seg.source or str(path)
    # one event per seizure (review items): confirmed or rejected ones, and annotated ones not yet
    # reviewed; unreviewed detections are not labels
    items = review_items(arc)
    known = sorted([it.as_annotation() for it in items if not it.is_seizure and it.kind == "annotation"]
                   + seizures(items, ("confirmed", "rejected"), annotated=True), key=lambda a: a.onset)
    return SignalSource(tuple(arc.channels), float(arc.fs), segments, known, path=path, kind="archive")


def _open_edf(path: Path) -> SignalSource:
    return SignalSource.from_recording(_read_file(path), path, "edf")


def _open_folder(path: Path) -> SignalSource:
    return SignalSource.from_recording(read_device_folder(path), path, "folder")


def _open_run(run: BidsRunPath) -> SignalSource:
    source = SignalSource.from_recording(read_bids_run(run.path), run.path, "bids")
    source.meta.update(subject=run.subject, session=run.session, task=run.task, run=run.run)
    return source


_OPENERS: dict[str, Callable[[Path], SignalSource]] = {
    "archive": _open_archive,
    "edf": _open_edf,
    "folder": _open_folder,
}


def _bids_runs(root: Path, subject: str | None) -> list[BidsRunPath]:
    """The runs of the one subject of ``root`` (``subject``, or the dataset's only one)."""
    runs = find_bids_runs(root, subjects=None if subject is None else [subject])
    subjects = sorted({r.subject for r in runs})
    if len(subjects) > 1:
        raise EegmonError(f"BIDS dataset has {len(subjects)} subjects {subjects}; a recording is one patient: "
                          "choose one with subject (eegmon import --subject).", root)
    return runs


def _check_subject(subject: str | None, kind: str, path: Path) -> None:
    if subject is not None and kind != "bids":
        raise EegmonError(f"a subject ({subject!r}) selects a BIDS subject, but this is not a BIDS dataset "
                          f"(it is of kind {kind!r}).", path)


def open_recording(path: str | os.PathLike, *, subject: str | None = None) -> SignalSource:
    """Open any recording eegmon reads, lazily: nothing but headers and annotations is read.

    Parameters
    ----------
    path : path-like
        An archive (``.h5``), an EDF/EDF+/BDF file (BIDS run files included), a device folder or
        a BIDS dataset root; see :mod:`eegmon.io.dispatch` for how each is told and read.
    subject : str | None
        For a BIDS dataset: the subject (without ``sub-``) whose runs make the recording, one
        segment per run; needed when the dataset has several subjects.

    Returns
    -------
    SignalSource
        A :class:`~eegmon.recording.Recording` (channels, rate, segments, annotations) with its
        ``path`` and ``kind``, streamed with :meth:`~eegmon.source.SignalSource.chunks`.

    Raises
    ------
    EegmonError
        When the path does not exist, is of no known kind or holds no samples; for a BIDS dataset
        with no EEG runs, several subjects and no ``subject``, or an unknown ``subject``.

    See Also
    --------
    iter_recordings : every recording of a dataset, one by one.
    """
    path = Path(path)
    kind = recording_kind(path)
    _check_subject(subject, kind, path)
    if kind != "bids":
        return _checked(_OPENERS[kind](path))
    runs = [_open_run(r) for r in _bids_runs(path, subject)]
    if len(runs) == 1:
        return _checked(runs[0])
    combined = SignalSource.from_recording(combine_recordings(runs), path, "bids")
    combined.meta["subject"] = runs[0].meta["subject"]
    return _checked(combined)


def iter_recordings(path: str | os.PathLike, *, subject: str | None = None) -> Iterator[SignalSource]:
    """Open every recording at ``path`` one by one: each run of a BIDS dataset (of ``subject`` only,
    when given) on its own, else the one recording :func:`open_recording` opens.

    A run's ``meta`` holds its BIDS entities (``subject``, ``session``, ``task``, ``run``).
    """
    path = Path(path)
    kind = recording_kind(path)
    _check_subject(subject, kind, path)
    if kind != "bids":
        yield _checked(_OPENERS[kind](path))
        return
    for run in find_bids_runs(path, subjects=None if subject is None else [subject]):
        yield _checked(_open_run(run))
