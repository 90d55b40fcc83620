"""SzCORE / BIDS ``events.tsv``: one file per recording, onsets relative to its start.

Columns (SzCORE): ``onset`` (s from recording start), ``duration`` (s), ``eventType``
(``sz``, ``sz_foc_*``, ``sz_gen_*``, ``bckg``, ...), ``confidence`` (0-1 or ``n/a``),
``channels`` (comma-separated names or ``n/a``), ``dateTime`` (recording start,
``YYYY-MM-DD HH:MM:SS``, UTC here) and ``recordingDuration`` (s). A seizure-free recording
still has one ``bckg`` row, because readers take the recording duration from the first row.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import EegmonError
from ..events import Annotation, to_datetime
from ._files import parse_number, write_text_atomic
from .labels import map_label

COLUMNS = ("onset", "duration", "eventType", "confidence", "channels", "dateTime", "recordingDuration")
_REQUIRED = ("onset", "duration", "eventType")


@dataclass(frozen=True)
class EventsTsv:
    """The content of one events.tsv: its events in absolute time and its recording span."""

    events: list[Annotation]
    recording_start: float | None
    recording_duration: float | None


def _fmt_seconds(x: float) -> str:
    return f"{x:.3f}"


def write_events_tsv(
    path: str | os.PathLike,
    events: Iterable[Annotation],
    recording_start: float,
    recording_duration: float,
) -> None:
    """Write events of one recording as SzCORE ``events.tsv``.

    Parameters
    ----------
    path : path-like
        Output file; written to a temporary name first and renamed, so a reader never sees half a file.
    events : iterable of Annotation
        Events with absolute onsets; they are written relative to ``recording_start``.
    recording_start : float
        Recording start, seconds since the Unix epoch (UTC); whole seconds are written to ``dateTime``.
    recording_duration : float
        Recording duration in seconds.
    """
    events = sorted(events, key=lambda e: e.onset)
    start_text = to_datetime(recording_start).strftime("%Y-%m-%d %H:%M:%S")
    rows = ["\t".join(COLUMNS)]
    if not events:
        events = [Annotation(onset=recording_start, duration=recording_duration, label="bckg")]
    for ev in events:
        conf = "n/a" if ev.confidence is None else f"{ev.confidence:.2f}"
        chans = ",".join(ev.channels) if ev.channels else "n/a"
        rows.append(
            "\t".join(
                [
                    _fmt_seconds(ev.onset - recording_start),
                    _fmt_seconds(ev.duration),
                    ev.label,
                    conf,
                    chans,
                    start_text,
                    _fmt_seconds(recording_duration),
                ]
            )
        )
    write_text_atomic(path, "\n".join(rows) + "\n")


def _float(text: str, column: str, lineno: int, path: Path, *, allow_na: bool = False) -> float | None:
    return parse_number(text, f"column {column!r}", lineno, path, allow_na=allow_na)


def _parse_datetime(text: str, lineno: int, path: Path) -> float:
    text = text.strip()
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise EegmonError(
            f"line {lineno}: column 'dateTime' must be 'YYYY-MM-DD HH:MM:SS', got {text!r}.", path
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def read_events_tsv(
    path: str | os.PathLike, *, recording_start: float | None = None, source: str = "ground_truth"
) -> EventsTsv:
    """Read a SzCORE / BIDS ``events.tsv``.

    Parameters
    ----------
    path : path-like
        The file to read.
    recording_start : float | None
        Absolute recording start (s since epoch) when the file has no ``dateTime`` column
        (plain BIDS); if both exist, the file's ``dateTime`` wins.
    source : str
        Source recorded on every event.

    Returns
    -------
    EventsTsv
        Events in absolute time (``bckg`` rows are not events and are dropped), the recording
        start and duration as written in the file (None where absent).

    Raises
    ------
    EegmonError
        On a missing column, a malformed row, or an event outside the recording.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise EegmonError(f"cannot read file: {err.strerror or err}", path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EegmonError("not a text file (not UTF-8).", path) from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise EegmonError("empty file: expected a header row with 'onset', 'duration', 'eventType'.", path)
    header = [h.strip() for h in lines[0].split("\t")]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise EegmonError(f"missing column(s) {missing}; got columns {header}.", path)
    col = {name: i for i, name in enumerate(header)}
    events: list[Annotation] = []
    start = recording_start
    duration = None
    for lineno, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(header):
            raise EegmonError(f"line {lineno}: expected {len(header)} tab-separated columns, got {len(cells)}.", path)
        if "dateTime" in col and cells[col["dateTime"]].strip().lower() not in ("", "n/a"):
            row_start = _parse_datetime(cells[col["dateTime"]], lineno, path)
            if start is None or "dateTime" in col:
                start = row_start
        if "recordingDuration" in col:
            rd = _float(cells[col["recordingDuration"]], "recordingDuration", lineno, path, allow_na=True)
            if rd is not None:
                if rd < 0:
                    raise EegmonError(f"line {lineno}: recordingDuration must be >= 0, got {rd}.", path)
                duration = rd
        onset = _float(cells[col["onset"]], "onset", lineno, path)
        dur = _float(cells[col["duration"]], "duration", lineno, path)
        if dur < 0:
            raise EegmonError(f"line {lineno}: duration must be >= 0, got {dur}.", path)
        if onset < 0:
            raise EegmonError(f"line {lineno}: onset must be >= 0 s from the recording start, got {onset}.", path)
        label = cells[col["eventType"]].strip()
        if not label:
            raise EegmonError(f"line {lineno}: empty eventType.", path)
        if duration is not None and onset + dur > duration + 1e-3:
            raise EegmonError(
                f"line {lineno}: event {onset}-{onset + dur} s ends after the recording ({duration} s).", path
            )
        if map_label(label) == "bckg":
            continue
        conf = None
        if "confidence" in col:
            conf = _float(cells[col["confidence"]], "confidence", lineno, path, allow_na=True)
            if conf is not None and not 0 <= conf <= 1:
                raise EegmonError(f"line {lineno}: confidence must be in [0, 1], got {conf}.", path)
        chans: Sequence[str] = ()
        if "channels" in col:
            ctext = cells[col["channels"]].strip()
            if ctext.lower() not in ("", "n/a"):
                chans = tuple(c.strip() for c in ctext.split(",") if c.strip())
        base = 0.0 if start is None else start
        events.append(
            Annotation(
                onset=base + onset,
                duration=dur,
                label=map_label(label),
                channels=tuple(chans),
                confidence=conf,
                original_label=label,
                source=source,
            )
        )
    if start is None and events:
        raise EegmonError("no 'dateTime' column and no recording_start given: onsets cannot be placed in time.", path)
    return EventsTsv(events=events, recording_start=start, recording_duration=duration)


def write_recording_events(out: str | os.PathLike, source, events: Sequence[Annotation]) -> list[Path]:
    """Write ``events`` found in ``source`` as SzCORE events.tsv; return the files written.

    Parameters
    ----------
    out : path-like
        A path ending in ``.tsv`` gets one events.tsv for the whole recording (``dateTime`` its
        start); anything else is a folder (created) that gets one ``<stem>_events.tsv`` per source
        file, each with that file's events and span: what ``eegmon evaluate`` pairs with ground truth.
    source : SignalSource
        The recording (from :func:`eegmon.io.open_recording`): its ``start``, ``stop`` and ``files()``.
    events : sequence of Annotation
        Absolute-time events (detections).

    Raises
    ------
    EegmonError
        When the folder to write into does not exist or cannot be created.
    """
    out = Path(out)
    if out.suffix == ".tsv":
        if not out.parent.exists():
            raise EegmonError("the folder to write into does not exist.", out.parent)
        write_events_tsv(out, events, source.start, source.stop - source.start)
        return [out]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EegmonError(f"cannot create the output folder: {err.strerror or err}", out) from None
    written = []
    for origin, start, stop in source.files():
        path = out / f"{Path(origin).stem}_events.tsv"
        write_events_tsv(path, [e for e in events if start <= e.onset < stop], start, stop - start)
        written.append(path)
    return written
