"""TUH Seizure Corpus annotations: ``.csv_bi`` (whole-recording) and ``.csv`` (per channel).

Both are comma-separated with ``#`` comment lines (``# duration = 1750.00 secs``) and the header
``channel,start_time,stop_time,label,confidence``; times are seconds from the recording start.
``.csv_bi`` has one channel, ``TERM``. Labels are TUSZ codes (``fnsz``, ``cpsz``, ``bckg``, ...) and
are mapped onto the eegmon vocabulary, the code kept as the original label.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import EegmonError
from ..events import Annotation
from ._files import check_file, parse_number
from .labels import map_label

_HEADER = ["channel", "start_time", "stop_time", "label", "confidence"]
_DURATION = re.compile(r"^#\s*duration\s*=\s*([0-9.eE+-]+)\s*(?:secs?|s)?\s*$")


@dataclass(frozen=True)
class TuszAnnotations:
    """Events of one TUSZ annotation file (absolute when a start was given) and its duration."""

    events: list[Annotation]
    duration: float | None


def read_tusz_csv(
    path: str | os.PathLike,
    *,
    recording_start: float = 0.0,
    keep_background: bool = False,
    source: str = "ground_truth",
) -> TuszAnnotations:
    """Read a TUSZ ``.csv_bi`` or per-channel ``.csv`` file.

    Parameters
    ----------
    path : path-like
        The annotation file.
    recording_start : float
        Absolute start of its recording (s since epoch), added to every onset.
    keep_background : bool
        Keep ``bckg`` rows (dropped by default: background is not an event).
    source : str
        Source recorded on every event.

    Returns
    -------
    TuszAnnotations
        Per-channel rows on the same span and label are kept as separate events with their channel.
    """
    path = check_file(path, what="TUSZ annotation file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EegmonError("not a text file (not UTF-8).", path) from None
    duration = None
    header_seen = False
    events = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if m := _DURATION.match(line):
                duration = parse_number(m.group(1), "duration", lineno, path)
                if duration <= 0:
                    raise EegmonError(f"line {lineno}: the duration must be > 0 s, got {duration:g}.", path)
            continue
        cells = [c.strip() for c in line.split(",")]
        if not header_seen:
            if cells != _HEADER:
                raise EegmonError(f"line {lineno}: expected the header {','.join(_HEADER)!r}, got {line!r}.", path)
            header_seen = True
            continue
        if len(cells) != len(_HEADER):
            raise EegmonError(
                f"line {lineno}: expected {len(_HEADER)} comma-separated columns, got {len(cells)}.", path
            )
        chan, a, b, label, conf = cells
        start, stop = parse_number(a, "start_time", lineno, path), parse_number(b, "stop_time", lineno, path)
        confidence = parse_number(conf, "confidence", lineno, path)
        if start < 0 or stop < start:
            raise EegmonError(f"line {lineno}: need 0 <= start_time <= stop_time, got {start}, {stop}.", path)
        if duration is not None and stop > duration + 1e-3:
            raise EegmonError(f"line {lineno}: event ends at {stop} s, after the recording ({duration} s).", path)
        if not 0 <= confidence <= 1:
            raise EegmonError(f"line {lineno}: confidence must be in [0, 1], got {confidence}.", path)
        if not label:
            raise EegmonError(f"line {lineno}: empty label.", path)
        mapped = map_label(label)
        if mapped == "bckg" and not keep_background:
            continue
        channels = () if chan.upper() == "TERM" else (chan,)
        events.append(
            Annotation(
                onset=recording_start + start,
                duration=stop - start,
                label=mapped,
                channels=channels,
                confidence=confidence,
                original_label=label,
                source=source,
            )
        )
    if not header_seen:
        raise EegmonError(f"no header row {','.join(_HEADER)!r}: not a TUSZ annotation file.", path)
    return TuszAnnotations(events=events, duration=duration)


def write_tusz_csv(
    path: str | os.PathLike,
    events: Iterable[Annotation],
    recording_start: float,
    duration: float,
    *,
    bname: str | None = None,
) -> None:
    """Write events as a TUSZ ``.csv_bi`` (channel ``TERM``) or, for per-channel events, ``.csv``.

    Gaps between events are filled with ``bckg`` rows for a ``.csv_bi``, as TUSZ does. The label
    written is the original TUSZ code when there is one, else the eegmon label.
    """
    path = Path(path)
    events = sorted(events, key=lambda e: e.onset)
    lines = [
        "# version = csv_v1.0.0",
        f"# bname = {bname or path.stem}",
        f"# duration = {duration:.4f} secs",
        "#",
        ",".join(_HEADER),
    ]

    def row(chan: str, a: float, b: float, label: str, conf: float | None) -> str:
        return f"{chan},{a:.4f},{b:.4f},{label},{1.0 if conf is None else conf:.4f}"

    t = 0.0
    for ev in events:
        a, b = ev.onset - recording_start, ev.offset - recording_start
        label = ev.original_label if ev.original_label and map_label(ev.original_label) == ev.label else ev.label
        chans = ev.channels or ("TERM",)
        if chans == ("TERM",) and a > t:
            lines.append(row("TERM", t, a, "bckg", 1.0))
        lines += [row(c, a, b, label, ev.confidence) for c in chans]
        t = max(t, b)
    if t < duration and all(not e.channels for e in events):
        lines.append(row("TERM", t, duration, "bckg", 1.0))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
