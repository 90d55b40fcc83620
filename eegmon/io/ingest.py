"""Import recordings into an archive: read and check everything, then write (``eegmon import``'s library).

Sources are anything :func:`eegmon.io.open_recording` opens but an archive: EDF/BDF files, device
folders, a BIDS dataset (one subject). All sources make one recording of one patient: same
channels and sampling rate, no overlap between files. Annotation files are matched to the
source files by name (see :func:`eegmon.io.read_annotation_file`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import EegmonError
from ..recording import Recording
from .annotations import read_annotation_file
from .device_folder import combine_recordings
from .dispatch import open_recording


def read_sources(sources: Sequence[str | os.PathLike], *, subject: str | None = None) -> Recording:
    """The sources as one recording (digital samples, lazily read), checked for a clash between them."""
    recs = []
    for src in sources:
        rec = open_recording(src, subject=subject)
        if rec.kind == "archive":
            raise EegmonError("is an archive; import reads EDF/BDF files, device folders and BIDS datasets "
                              "(an archive's recording is already imported).", src)
        recs.append(rec)
    if not recs:
        raise EegmonError("no sources to import.")
    return combine_recordings(recs) if len(recs) > 1 else recs[0]


def _spans(rec: Recording, archive) -> dict[str, tuple[float, float]]:
    """``{file name: (start, duration)}`` of every source file, in the recording and the archive."""
    spans: dict[str, list[float]] = {}
    rows = [(s.source, s.start, s.start + s.n_samples / rec.fs) for s in rec.segments]
    if archive is not None:
        rows += [(s.source, s.start, s.stop) for s in archive.segments]
    for src, a, b in rows:
        name = Path(src).name
        lo, hi = spans.get(name, [a, b])
        spans[name] = [min(lo, a), max(hi, b)]
    return {k: (a, b - a) for k, (a, b) in spans.items()}


def import_sources(out: str | os.PathLike, sources: Sequence[str | os.PathLike], *, append: bool = False,
                   subject: str | None = None, annotation_files: Sequence[str | os.PathLike] = (),
                   max_segment_s: float = 24 * 3600.0, quiet: bool = True):
    """Import recordings into the archive ``out`` (created, or added to with ``append``).

    Everything is read and checked before anything is written: on bad input the archive is left
    as it was. Files imported before (same content fingerprint) are skipped, not duplicated.

    Parameters
    ----------
    out : path-like
        The archive manifest (its data goes into ``out.d/``).
    sources : sequence of path-like
        EDF/BDF files, device folders or BIDS dataset roots.
    append : bool
        Add to an existing archive instead of creating one.
    subject : str | None
        The BIDS subject to import (needed when a dataset has several).
    annotation_files : sequence of path-like
        SzCORE/BIDS ``*.tsv``, CHB-MIT ``*summary.txt``, TUSZ ``*.csv_bi`` / ``*.csv`` or EDF+ files.
    max_segment_s : float
        Longer files are split into segments of at most this length (a crash loses at most one).
    quiet : bool
        No progress bar.

    Returns
    -------
    rec : Recording
        What was read.
    report : eegmon.archive.ImportReport
        What was imported and skipped.
    """
    from ..archive import Archive

    out = Path(out)
    if out.exists() and not append:
        raise EegmonError("archive already exists; use --append to add to it.", out)
    if append and not out.exists():
        raise EegmonError("--append given but the archive does not exist.", out)
    if not max_segment_s > 0:
        raise EegmonError(f"--max-segment-hours must be > 0, got {max_segment_s / 3600}.")
    rec = read_sources(sources, subject=subject)
    existing = Archive.open(out, "r") if append else None
    try:
        if existing is not None:
            existing.check_recording(rec)
        spans = _spans(rec, existing)
        extra = []
        for ann in annotation_files:
            extra += read_annotation_file(ann, spans)
    finally:
        if existing is not None:
            existing.close()
    archive = (
        Archive.open(out, "a")
        if append
        else Archive.create(out, rec.channels, rec.fs, meta={"patient": rec.meta.get("patient", "") or ""})
    )
    with archive:
        report = archive.import_recording(rec, annotations=extra, quiet=quiet, max_segment_s=max_segment_s)
    return rec, report
