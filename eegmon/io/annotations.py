"""Read any supported annotation file and place it in absolute time.

Formats, told apart by file name: SzCORE/BIDS ``*.tsv``; CHB-MIT ``*summary.txt``; TUSZ
``*.csv_bi`` / ``*.csv``; EDF+ TAL annotations in ``*.edf`` / ``*.bdf``. Formats with onsets
relative to a recording are matched to it by file name (``chb01_03.edf`` in a summary; the
``.csv_bi`` or ``_events.tsv`` stem equal to the EDF stem).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import EegmonError
from ..events import Annotation
from .chbmit import chbmit_annotations, read_chbmit_summary
from .edf import read_edf
from .events_tsv import read_events_tsv
from .tusz import read_tusz_csv

_TSV_SUFFIXES = ("_events", "_artifacts")


def annotation_format(path: str | os.PathLike) -> str:
    """``"tsv"``, ``"chbmit"``, ``"tusz"`` or ``"edf"`` from the file name; EegmonError otherwise."""
    name = Path(path).name.lower()
    if name.endswith("summary.txt"):
        return "chbmit"
    if name.endswith((".csv_bi", ".csv")):
        return "tusz"
    if name.endswith(".tsv"):
        return "tsv"
    if name.endswith((".edf", ".bdf")):
        return "edf"
    raise EegmonError(
        "unknown annotation format: expected *.tsv (SzCORE/BIDS), *summary.txt (CHB-MIT), "
        "*.csv_bi or *.csv (TUSZ), or *.edf/*.bdf (EDF+ annotations).",
        path,
    )


def _match(stem: str, spans: Mapping[str, tuple[float, float]]) -> tuple[float, float] | None:
    for name, span in spans.items():
        if Path(name).stem == stem:
            return span
    return None


def read_annotation_file(path: str | os.PathLike, spans: Mapping[str, tuple[float, float]]) -> list[Annotation]:
    """Read an annotation file into absolute-time annotations.

    Parameters
    ----------
    path : path-like
        The annotation file.
    spans : mapping
        Recording file name (e.g. ``chb01_03.edf``) -> (absolute start s, duration s) of every
        recording file known (imported now or before); relative formats are anchored on these.

    Returns
    -------
    list of Annotation
        Events (background rows dropped), each checked to lie inside its recording.

    Raises
    ------
    EegmonError
        Malformed files, no matching recording, or events outside the recording.
    """
    path = Path(path)
    fmt = annotation_format(path)
    if fmt == "chbmit":
        return chbmit_annotations(read_chbmit_summary(path), dict(spans), path=path)
    if fmt == "edf":
        return read_edf(path).annotations
    stem = path.stem
    for suffix in _TSV_SUFFIXES:
        stem = stem.removesuffix(suffix)
    span = _match(stem, spans)
    if fmt == "tusz":
        if span is None:
            raise EegmonError(f"no recording named {stem}.edf in this import or archive to anchor its times on.", path)
        events = read_tusz_csv(path, recording_start=span[0]).events
    else:
        tsv = read_events_tsv(path, recording_start=None if span is None else span[0])
        events = tsv.events
        if span is None and tsv.recording_start is not None and tsv.recording_duration is not None:
            span = (tsv.recording_start, tsv.recording_duration)
    if span is not None:
        for ev in events:
            if ev.onset < span[0] - 1e-3 or ev.offset > span[0] + span[1] + 1e-3:
                raise EegmonError(
                    f"event {ev.original_label or ev.label!r} at {ev.onset - span[0]:.3f} s "
                    f"(for {ev.duration:.3f} s) lies outside its recording (0-{span[1]:.3f} s).",
                    path,
                )
    return events
