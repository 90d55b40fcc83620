"""A device folder: consecutive EDF/BDF files of one patient read as one recording with gaps.

Files are ordered by their header start time; the spaces between them are gaps. Every file must
have the same channels and sampling rate, and no file may overlap the next: otherwise the error
names both files. Sidecar SzCORE ``<stem>_events.tsv`` / ``<stem>_artifacts.tsv`` files (as the
eegmon simulator writes them) are read as the files' annotations.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import EegmonError
from ..recording import Recording
from .edf import read_edf, sniff_edf
from .events_tsv import read_events_tsv

_SIDECARS = ("_events.tsv", "_artifacts.tsv")


def list_recording_files(folder: str | os.PathLike) -> list[Path]:
    """EDF/BDF files directly in ``folder`` (by extension), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EegmonError("expected a device folder (a directory of EDF/BDF files).", folder)
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".edf", ".bdf") and p.is_file())
    except OSError as err:
        raise EegmonError(f"cannot list folder: {err.strerror or err}.", folder) from None
    if not files:
        raise EegmonError("no .edf or .bdf files in this folder.", folder)
    return files


def sidecar_annotations(path: Path, start: float, duration: float) -> list:
    """Annotations from ``<stem>_events.tsv`` / ``<stem>_artifacts.tsv`` beside ``path``, if any."""
    out = []
    for suffix in _SIDECARS:
        side = path.with_name(path.stem + suffix)
        if side.is_file():
            tsv = read_events_tsv(side, recording_start=start)
            for ev in tsv.events:
                if ev.onset < start - 1e-3 or ev.offset > start + duration + 1e-3:
                    raise EegmonError(
                        f"event {ev.label!r} at {ev.onset - start:.3f} s (for {ev.duration:.3f} s) "
                        f"lies outside {path.name} (0-{duration:.3f} s).",
                        side,
                    )
            out.extend(tsv.events)
    return out


def combine_recordings(recs: list[Recording]) -> Recording:
    """Merge single-file recordings into one, ordered by start; raise naming both files on a clash."""
    recs = sorted(recs, key=lambda r: r.start)
    first = recs[0]
    for rec in recs[1:]:
        a, b = first.meta.get("source"), rec.meta.get("source")
        if rec.channels != first.channels:
            raise EegmonError(
                f"channels {list(rec.channels)} differ from {list(first.channels)} in {a}; "
                "a recording needs the same channels in every file.",
                b,
            )
        if rec.fs != first.fs:
            raise EegmonError(f"sampling rate {rec.fs:g} Hz differs from {first.fs:g} Hz in {a}.", b)
    segments = sorted((s for r in recs for s in r.segments), key=lambda s: s.start)
    for prev, seg in zip(segments, segments[1:], strict=False):
        overlap = prev.start + prev.n_samples / first.fs - seg.start
        if overlap > 0.5 / first.fs:
            raise EegmonError(
                f"starts {overlap:.3f} s before the end of {prev.source}: the files overlap in time.", seg.source
            )
    annotations = [a for r in recs for a in r.annotations]
    return Recording(
        channels=first.channels,
        fs=first.fs,
        segments=segments,
        annotations=annotations,
        meta={
            "format": "combined",
            "patient": first.meta.get("patient", ""),
            "source": first.meta.get("source", ""),
            "files": len(recs),
        },
    )


def read_device_folder(folder: str | os.PathLike, *, sidecars: bool = True) -> Recording:
    """Read every EDF/BDF file of a device folder as one recording.

    Parameters
    ----------
    folder : path-like
        Directory holding the files (not searched recursively).
    sidecars : bool
        Also read ``<stem>_events.tsv`` and ``<stem>_artifacts.tsv`` next to each file.

    Returns
    -------
    Recording
        One segment per file (or per run of an EDF+D file), in time order, with the gaps between.

    Raises
    ------
    EegmonError
        A bad file (see :func:`eegmon.io.read_edf`), differing channels or rates, overlapping files.
    """
    recs = []
    for path in list_recording_files(folder):
        if sniff_edf(path) is None and path.stat().st_size > 0:
            raise EegmonError("has an EDF/BDF extension but is not an EDF/BDF file.", path)
        rec = read_edf(path)
        if sidecars:
            rec.annotations.extend(sidecar_annotations(path, rec.start, rec.stop - rec.start))
        recs.append(rec)
    return combine_recordings(recs)
