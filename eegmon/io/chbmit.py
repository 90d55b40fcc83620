"""CHB-MIT ``chbNN-summary.txt``: per-file start/end clock times and seizure start/end seconds.

The summary has no dates, so seizure times are kept relative to their file; they become absolute
once matched to the imported EDF of the same name (:func:`chbmit_annotations`). Both the
``Seizure Start Time:`` and the ``Seizure 1 Start Time:`` spellings are read.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EegmonError
from ..events import Annotation
from ._files import check_file

_FILE = re.compile(r"^File Name:\s*(\S+)\s*$")
_CLOCK = re.compile(r"^File (Start|End) Time:\s*(\d{1,2}):(\d{2}):(\d{2})\s*$")
_COUNT = re.compile(r"^Number of Seizures in File:\s*(\d+)\s*$")
_SZ = re.compile(r"^Seizure\s*(\d*)\s*(Start|End) Time:\s*(\d+(?:\.\d+)?)\s*(?:seconds?|s)?\s*$", re.IGNORECASE)


@dataclass
class ChbmitFile:
    """One ``File Name:`` block of a summary: clock times (s after midnight) and seizures (s from file start)."""

    name: str
    start_clock: float | None = None
    end_clock: float | None = None
    seizures: list[tuple[float, float]] = field(default_factory=list)


def read_chbmit_summary(path: str | os.PathLike) -> list[ChbmitFile]:
    """Parse a CHB-MIT summary file.

    Raises
    ------
    EegmonError
        Lines out of order (a seizure before any ``File Name:``), an end without a start, an end
        before its start, or a seizure count that disagrees with the listed seizures.
    """
    path = check_file(path, what="CHB-MIT summary")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EegmonError("not a text file (not UTF-8).", path) from None
    files: list[ChbmitFile] = []
    counts: list[int | None] = []
    pending: float | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if m := _FILE.match(line):
            if pending is not None:
                raise EegmonError(f"line {lineno}: seizure start without an end in {files[-1].name}.", path)
            files.append(ChbmitFile(m.group(1)))
            counts.append(None)
            continue
        m_clock, m_count, m_sz = _CLOCK.match(line), _COUNT.match(line), _SZ.match(line)
        if not (m_clock or m_count or m_sz):
            continue
        if not files:
            raise EegmonError(f"line {lineno}: {line!r} comes before any 'File Name:' line.", path)
        cur = files[-1]
        if m_clock:
            h, mi, s = (int(g) for g in m_clock.groups()[1:])
            if mi > 59 or s > 59:
                raise EegmonError(f"line {lineno}: invalid clock time {line!r}.", path)
            setattr(cur, "start_clock" if m_clock.group(1) == "Start" else "end_clock", h * 3600 + mi * 60 + s)
        elif m_count:
            counts[-1] = int(m_count.group(1))
        elif m_sz.group(2).lower() == "start":
            if pending is not None:
                raise EegmonError(f"line {lineno}: two seizure starts in a row in {cur.name}.", path)
            pending = float(m_sz.group(3))
        else:
            if pending is None:
                raise EegmonError(f"line {lineno}: seizure end without a start in {cur.name}.", path)
            end = float(m_sz.group(3))
            if end < pending:
                raise EegmonError(
                    f"line {lineno}: seizure ends ({end} s) before it starts ({pending} s) in {cur.name}.", path
                )
            cur.seizures.append((pending, end))
            pending = None
    if pending is not None:
        raise EegmonError(f"seizure start without an end in {files[-1].name}.", path)
    if not files:
        raise EegmonError("no 'File Name:' entries: not a CHB-MIT summary.", path)
    for f, n in zip(files, counts, strict=True):
        if n is not None and n != len(f.seizures):
            raise EegmonError(f"{f.name} says {n} seizure(s) but lists {len(f.seizures)}.", path)
    return files


def write_chbmit_summary(path: str | os.PathLike, files: list[ChbmitFile], *, fs: float | None = None) -> None:
    """Write a summary in the CHB-MIT layout (the parts eegmon reads)."""

    def clock(t: float | None) -> str:
        t = int(t or 0)
        return f"{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}"

    lines = [f"Data Sampling Rate: {fs:g} Hz", "*" * 25, ""] if fs else []
    for f in files:
        lines += [
            f"File Name: {f.name}",
            f"File Start Time: {clock(f.start_clock)}",
            f"File End Time: {clock(f.end_clock)}",
            f"Number of Seizures in File: {len(f.seizures)}",
        ]
        for i, (a, b) in enumerate(f.seizures, start=1):
            prefix = "Seizure" if len(f.seizures) == 1 else f"Seizure {i}"
            lines += [f"{prefix} Start Time: {a:g} seconds", f"{prefix} End Time: {b:g} seconds"]
        lines.append("")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def chbmit_annotations(
    files: list[ChbmitFile],
    spans: dict[str, tuple[float, float]],
    *,
    path: str | os.PathLike | None = None,
) -> list[Annotation]:
    """Absolute ``sz`` annotations for the summary entries whose EDF is in ``spans``.

    Parameters
    ----------
    files : list of ChbmitFile
        From :func:`read_chbmit_summary`.
    spans : dict
        EDF file name (``chb01_03.edf``) -> (absolute start, duration in s) of the imported file.
    path : path-like | None
        The summary, named in errors.

    Raises
    ------
    EegmonError
        If no summary entry matches a known file, or a seizure lies outside its file.
    """
    matched = [f for f in files if f.name in spans]
    if not matched:
        raise EegmonError(
            f"none of the {len(files)} files listed in the summary ({files[0].name}, ...) is in "
            "this import or archive.",
            path,
        )
    out = []
    for f in matched:
        start, duration = spans[f.name]
        for a, b in f.seizures:
            if b > duration + 1e-3:
                raise EegmonError(f"seizure {a:g}-{b:g} s of {f.name} ends after the file ({duration:.3f} s).", path)
            out.append(
                Annotation(onset=start + a, duration=b - a, label="sz", original_label="Seizure", source="ground_truth")
            )
    return out
