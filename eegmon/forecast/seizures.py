"""Seizure times to forecast from: an archive, SzCORE ``events.tsv`` files, or a seizure diary.

A :class:`SeizureHistory` is one patient's seizure onsets and the span they were observed over
(a forecaster needs the span as well as the seizures: a month without seizures is information).

The seizure diary is a CSV file with a header row::

    date,time,type,duration
    2025-03-04,07:15,focal aware,40
    2025-03-09,23:50,,

``date`` (``YYYY-MM-DD``) and ``time`` (``HH:MM`` or ``HH:MM:SS``) are required, in the patient's
time zone (given with ``timezone=`` / ``--timezone``, or as a ``timezone`` column holding an IANA
name such as ``Europe/Paris``); ``type`` (free text) and ``duration`` (seconds) are optional. Lines
starting with ``#`` are comments. Instead of ``date`` and ``time``, a diary may have one
``datetime`` column (``2025-03-04T07:15``, ``2025-03-04 07:15:30``), which may carry its UTC
offset (``2025-03-04T07:15+01:00``, ``...Z``, as exported by apps): a row with an offset needs no
time zone. A diary is taken to run until its last day is over, unless a ``stop`` is given.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np

from ..errors import EegmonError
from ..evaluate.dataset import annotation_files, read_annotation, subject_of
from .cycles import DAY

#: A diary entry this close (s) to a seizure from the EEG is the same seizure, not a second one.
SAME_SEIZURE_S = 1800.0
# the documented formats only: fromisoformat alone also takes "20250304", "2025-W10-2", "07" or "0715"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}(:\d{2})?")
_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:?\d{2})?")


@dataclass(frozen=True)
class SeizureHistory:
    """One patient's seizure onsets and the span over which seizures were looked for.

    Parameters
    ----------
    patient : str
        Name (a subject code; never a patient's real name).
    onsets : ndarray of float
        Sorted seizure onsets, seconds since the Unix epoch (UTC).
    start, stop : float
        The observed span, seconds since the epoch.
    source : str
        Where the seizures came from (for reports).
    """

    patient: str
    onsets: np.ndarray
    start: float
    stop: float
    source: str = ""

    def __post_init__(self) -> None:
        onsets = np.sort(np.asarray(self.onsets, dtype=float))
        if onsets.ndim != 1 or not np.isfinite(onsets).all():
            raise EegmonError(f"{self.patient}: seizure onsets must be a 1-D array of finite times.")
        if not self.stop > self.start:
            raise EegmonError(f"{self.patient}: the observed span must end after it starts, got {self.start} "
                              f"to {self.stop}.")
        if onsets.size and (onsets[0] < self.start or onsets[-1] >= self.stop):
            raise EegmonError(f"{self.patient}: a seizure lies outside the observed span "
                              f"({_iso(self.start)} to {_iso(self.stop)}).")
        object.__setattr__(self, "onsets", onsets)

    @property
    def days(self) -> float:
        """Length of the observed span in days."""
        return (self.stop - self.start) / DAY

    def merged(self, other: SeizureHistory) -> SeizureHistory:
        """This history and ``other`` (e.g. a diary) as one: span union, and each onset of ``other``
        within ``SAME_SEIZURE_S`` of one of this history's counted once (as this history's)."""
        # only onsets across the two sources are compared: two seizures of one source minutes apart
        # (a cluster) are two seizures, and merging in an empty diary must change nothing
        if self.onsets.size:
            near = np.searchsorted(self.onsets, other.onsets)
            before = self.onsets[np.clip(near - 1, 0, self.onsets.size - 1)]
            after = self.onsets[np.clip(near, 0, self.onsets.size - 1)]
            gap = np.minimum(np.abs(other.onsets - before), np.abs(after - other.onsets))
            added = other.onsets[gap >= SAME_SEIZURE_S]
        else:
            added = other.onsets
        return SeizureHistory(self.patient, np.concatenate([self.onsets, added]), min(self.start, other.start),
                              max(self.stop, other.stop), f"{self.source} + {other.source}")


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, tz=dt.UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------------- archive
def from_archive(path: str | os.PathLike, *, include_unreviewed: bool = False,
                 ground_truth: bool = False) -> SeizureHistory:
    """Seizure times stored in an archive.

    Parameters
    ----------
    path : path-like
        The archive (``.h5``).
    include_unreviewed : bool
        Also count detections nobody has reviewed yet (rejected ones never count).
    ground_truth : bool
        Use the archive's annotations (imported ground truth) instead of its detections.

    Returns
    -------
    SeizureHistory
        Onsets over the span from the archive's first to its last sample.
    """
    from ..archive import Archive
    from ..archive.review import group_events, review_items

    path = Path(path)
    with Archive.open(path) as arc:
        if not arc.segments:
            raise EegmonError("the archive holds no recording, so there is no span to forecast over.", path)
        # one seizure per review item: the detectors (or annotation sources) that saw it count it once
        if ground_truth:
            # a reviewer's rejection of an imported annotation counts as for a detection
            items = group_events(("annotation", ev) for ev in arc.annotations())
            events, what = [it for it in items if it.status != "rejected"], "ground truth"
        else:
            statuses = {"confirmed", "unreviewed"} if include_unreviewed else {"confirmed"}
            events = [it for it in review_items(arc) if it.kind == "detection" and it.status in statuses]
            what = "confirmed and unreviewed detections" if include_unreviewed else "confirmed detections"
        onsets = [it.onset for it in events if it.is_seizure]
        return SeizureHistory(path.stem, np.array(onsets, dtype=float), arc.start, arc.stop, f"{path.name}: {what}")


# ---------------------------------------------------------------------- events.tsv
def from_annotations(path: str | os.PathLike) -> list[SeizureHistory]:
    """Seizure times from an SzCORE ``events.tsv`` file or a folder of them (one history per subject).

    A subject is the ``sub-XX`` entity in the path, else the file name up to its first ``_``;
    its span runs from its first recording's start to its last recording's end. Files need a
    ``dateTime`` (a forecast needs absolute times).
    """
    path = Path(path)
    files = [path] if path.is_file() else list(annotation_files(path, "forecast SRC").values())
    spans: dict[str, list[tuple[float, float]]] = {}
    onsets: dict[str, list[float]] = {}
    for file in files:
        ann = read_annotation(file)
        if ann.start is None:
            raise EegmonError("no recording start (an SzCORE events.tsv's dateTime column; TUSZ files have none): "
                              "a forecast needs each recording's absolute start.", file)
        if ann.duration is None:
            raise EegmonError("no recordingDuration column: a forecast needs the span seizures were looked for.",
                              file)
        # the BIDS entity keeps its "sub-" here: a patient is named as the dataset names it
        subject = subject_of(file)
        subject = f"sub-{subject}" if f"sub-{subject}" in str(file) else subject
        spans.setdefault(subject, []).append((ann.start, ann.start + ann.duration))
        onsets.setdefault(subject, []).extend(ann.start + a for a, _ in ann.seizures)
    return [SeizureHistory(subject, np.array(onsets[subject]), min(a for a, _ in sp), max(b for _, b in sp),
                           f"{path.name}: events.tsv")
            for subject, sp in sorted(spans.items())]


# ---------------------------------------------------------------------- diary
def time_zone(name: str, where: str = "", path: str | os.PathLike | None = None) -> ZoneInfo:
    """The IANA time zone ``name``; an unknown one is an error (``where`` leads its message, after ``path``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        close = difflib.get_close_matches(str(name), sorted(available_timezones()), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise EegmonError(f"{where}unknown time zone {name!r}: expected an IANA name such as "
                          f"'Europe/Paris' or 'UTC'.{hint}", path) from None


def read_diary(path: str | os.PathLike, *, timezone: str | None = None, patient: str | None = None,
               stop: float | None = None) -> SeizureHistory:
    """Read a seizure diary CSV (format in the module docstring).

    Parameters
    ----------
    path : path-like
        The CSV file.
    timezone : str | None
        IANA time zone of the diary's times; required unless the file has a ``timezone`` column.
    patient : str | None
        Name of the history (default: the file's stem).
    stop : float | None
        End of the span the diary covers (default: the end of its last day); after its last seizure.

    Returns
    -------
    SeizureHistory
        Onsets in UTC, the span from the start of the first entry's day.

    Raises
    ------
    EegmonError
        One line naming the file, the line and the problem: a bad date or time, an unknown or
        missing time zone, a local time that does not exist or happens twice (a daylight-saving
        change), a negative duration, the same seizure written twice, a quoted field left open on
        its line, or a ``stop`` that is not after the last seizure.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise EegmonError(f"cannot read the diary: {getattr(err, 'strerror', None) or err}", path) from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise EegmonError("the diary is empty: expected a header row 'date,time[,type][,duration]' and one row "
                          "per seizure.", path)
    rows = [(lineno, _fields(line, f"line {lineno}: ", path)) for lineno, line in lines]
    header = [h.strip().lower() for h in rows[0][1]]
    one_column = "datetime" in header and not {"date", "time"} & set(header)
    if not one_column and {"date", "time"} - set(header):
        raise EegmonError(f"line {lines[0][0]}: the header must name the columns date and time, or datetime "
                          f"(optional: type, duration, timezone), got {','.join(header)!r}.", path)
    default_zone = time_zone(timezone, "", path) if timezone is not None else None
    seen: dict[float, int] = {}
    onsets: list[float] = []
    day0 = day1 = None
    for lineno, row in rows[1:]:
        where = f"line {lineno}: "
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        if len(row) > len(header):
            raise EegmonError(f"{where}{len(row)} fields, but the header names {len(header)}.", path)
        zone = default_zone
        if cells.get("timezone"):
            zone = time_zone(cells["timezone"], where, path)
        offset = None
        if one_column:
            match = _DATETIME.fullmatch(cells.get("datetime", ""))
            if match is None:
                raise EegmonError(f"{where}bad datetime {cells.get('datetime', '')!r}: expected YYYY-MM-DDTHH:MM[:SS], "
                                  "optionally with an offset (+01:00 or Z).", path)
            cells["date"], cells["time"], offset = match.groups()
            if offset is not None:
                # an exported instant: its own offset is its zone (for the day it falls on too)
                zone = dt.datetime.strptime("+0000" if offset == "Z" else offset.replace(":", ""), "%z").tzinfo
        if zone is None:
            raise EegmonError(f"{where}no time zone: give the diary's with --timezone (e.g. Europe/Paris) or add a "
                              "timezone column.", path)
        try:
            if not _DATE.fullmatch(cells.get("date", "")):
                raise ValueError
            date = dt.date.fromisoformat(cells["date"])
        except ValueError:
            raise EegmonError(f"{where}bad date {cells.get('date', '')!r}: expected YYYY-MM-DD.", path) from None
        try:
            clock = dt.time.fromisoformat(cells.get("time", ""))
        except ValueError:
            raise EegmonError(f"{where}bad time {cells.get('time', '')!r}: expected HH:MM or HH:MM:SS.", path) from None
        if clock.tzinfo is not None:
            raise EegmonError(f"{where}the time {cells['time']!r} carries an offset: write local times, and the time "
                              "zone once (--timezone or a timezone column).", path)
        if not _TIME.fullmatch(cells["time"]):
            raise EegmonError(f"{where}bad time {cells['time']!r}: expected HH:MM or HH:MM:SS.", path)
        local = dt.datetime.combine(date, clock)
        if offset is not None:
            onset = local.replace(tzinfo=zone).timestamp()
        else:
            onset = _local_to_utc(local, zone, where, path)
        duration = cells.get("duration", "")
        if duration:
            try:
                value = float(duration)
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or value < 0:
                raise EegmonError(f"{where}bad duration {duration!r}: expected seconds, a number >= 0.", path)
        if onset in seen:
            raise EegmonError(f"{where}the same seizure as line {seen[onset]} ({date} {clock}): remove one.", path)
        seen[onset] = lineno
        onsets.append(onset)
        # each row's own day in its own zone: with a timezone column the rows' zones may differ
        day = dt.datetime.combine(date, dt.time(0), tzinfo=zone).timestamp()
        next_day = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(0), tzinfo=zone).timestamp()
        day0 = day if day0 is None else min(day0, day)
        day1 = next_day if day1 is None else max(day1, next_day)
    if not onsets:
        raise EegmonError("the diary has a header but no seizure rows.", path)
    last = max(onsets)
    if stop is not None and not stop > last:
        raise EegmonError(f"stop ({_iso(stop)}) is not after the last seizure ({_iso(last)}, line {seen[last]}).",
                          path)
    return SeizureHistory(patient or path.stem, np.array(onsets), float(day0), float(day1 if stop is None else stop),
                          f"{path.name}: diary")


def _fields(line: str, where: str, path: Path) -> list[str]:
    """The comma-separated fields of one diary line; a quote left open (a field across lines) is an error."""
    # one line at a time, so every message names the line the problem is on
    try:
        return next(csv.reader([line], strict=True))
    except csv.Error as err:
        raise EegmonError(f"{where}cannot split the line into fields ({err}): a quoted field must end on its "
                          "line.", path) from None


def _local_to_utc(local: dt.datetime, zone: ZoneInfo, where: str, path: Path) -> float:
    """A wall-clock time in ``zone`` to UTC seconds; refuses times a DST change skips or repeats."""
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        # fold matters only where the offset changes: in the gap both round-trip wrongly
        back = first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
        if back != local:
            raise EegmonError(f"{where}{local:%Y-%m-%d %H:%M} does not exist in {zone.key} (clocks went forward): "
                              "check the time.", path)
        raise EegmonError(f"{where}{local:%Y-%m-%d %H:%M} happens twice in {zone.key} (clocks went back): write "
                          "the time as UTC with a 'timezone' of UTC on that row.", path)
    return first.timestamp()


# ---------------------------------------------------------------------- dispatch
def load_histories(src: str | os.PathLike, *, diary: str | os.PathLike | None = None, timezone: str | None = None,
                   include_unreviewed: bool = False, ground_truth: bool = False) -> list[SeizureHistory]:
    """The seizure histories in ``src``: an archive, a diary CSV, an events.tsv file, or a folder.

    A folder may hold archives (one patient each) or SzCORE events.tsv files (one patient per
    subject). ``diary`` adds a diary's seizures to the one patient in ``src``.
    """
    src = Path(src)
    if not src.exists():
        raise EegmonError("no such file or folder.", src)
    if src.is_file() and src.suffix.lower() == ".csv":
        histories = [read_diary(src, timezone=timezone)]
    elif src.is_file() and src.suffix.lower() in (".h5", ".hdf5"):
        histories = [from_archive(src, include_unreviewed=include_unreviewed, ground_truth=ground_truth)]
    elif src.is_dir() and sorted(src.glob("*.h5")):
        histories = [from_archive(p, include_unreviewed=include_unreviewed, ground_truth=ground_truth)
                     for p in sorted(src.glob("*.h5"))]
    else:
        histories = from_annotations(src)
    if diary is not None:
        if len(histories) != 1:
            raise EegmonError(f"--diary adds to one patient, but SRC holds {len(histories)}.", src)
        histories = [histories[0].merged(read_diary(diary, timezone=timezone, patient=histories[0].patient))]
    return histories


def check_histories(histories: Sequence[SeizureHistory], min_seizures: int) -> None:
    """Refuse a set of histories where no patient has enough seizures to start forecasting."""
    if not any(h.onsets.size > min_seizures for h in histories):
        most = max((h.onsets.size for h in histories), default=0)
        raise EegmonError(f"forecasting starts after the first {min_seizures} seizures of a patient, and no patient "
                          f"has more than {most}.")
