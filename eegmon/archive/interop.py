"""An archive span for other tools: an MNE ``Raw`` (:func:`to_mne`) or an EDF+ file (:func:`export_edf`).

Both carry the span's annotations and detections as text that says what each one is: the label
alone for ground truth not yet reviewed (``sz``), else the label with its source, review status
and confidence (``sz [detector:classifier, rejected, p=0.91]``), so a rejected detection never
reads like a confirmed one (:func:`event_text`).

Gaps: MNE's Raw and EDF+C hold one unbroken run of samples. Every stretch of the span with no
stored samples is covered by a ``BAD_ACQ_SKIP`` annotation, MNE's own name for an acquisition
skip: ``raw.filter`` filters the runs on either side of it separately and ``reject_by_annotation``
leaves it out. In the Raw the gap samples stay NaN; in EDF (which has no NaN) they are flat at
the middle of each channel's range.

EDF+D would keep the gaps without filling them, but neither reader that matters reads it: MNE
1.13 ignores the record onsets and joins the records end to end (every sample after the first
gap lands at the wrong time) and EDFbrowser 2.00 does not open EDF+D (its remote control answers
error 107, "file is discontiguous"). So the export is EDF+C.

The EDF writer is our own: edfio (which reads the files back in the tests) builds every data
record of a file in memory before writing (a second copy of every sample besides the signals'
own: 4.3 GB in all for 30 days of 2 channels at 207 Hz), while a month must export in constant memory.
It writes the header, then the data records in blocks read from the archive.
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._atomic import atomic_write
from .._checks import check_number
from .._logging import progress
from ..errors import EegmonError
from ..events import Annotation, to_datetime

if TYPE_CHECKING:
    import mne

    from .archive import Archive

__all__ = ["GAP_DESCRIPTION", "EdfExport", "event_text", "export_edf", "record_layout", "to_mne"]

#: Description of the annotation over every stretch without samples (MNE's acquisition-skip name).
GAP_DESCRIPTION = "BAD_ACQ_SKIP"
#: Anonymous EDF+ patient field: code, sex, birthdate, name all unknown (EDF+ spec, 2.1.3.3).
ANONYMOUS_PATIENT = "X X X X"
#: Largest span :func:`to_mne` builds in memory (float64 samples).
MAX_MNE_BYTES = 2 * 1024**3
#: Longest EDF data record tried to hold a whole number of samples (173.61 Hz needs 100 s).
MAX_RECORD_S = 1000
_DIGITAL = (-32768, 32767)
_BLOCK_SAMPLES = 1 << 20  # per channel per write: 8 MiB of float64 per channel in memory
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def event_text(event: Annotation) -> str:
    """The text an exported annotation or detection carries (EDF+ TAL text, MNE description).

    Ground truth not yet reviewed is its label (``sz``); anything else is the label followed by
    its source, review status and confidence: ``sz [detector:classifier, rejected, p=0.91]``.
    """
    if event.source == "ground_truth" and event.status == "unreviewed":
        return event.label
    parts = [event.source, event.status]
    if event.confidence is not None and math.isfinite(event.confidence):
        parts.append(f"p={event.confidence:.2f}")
    return f"{event.label} [{', '.join(parts)}]"


def _span(archive: Archive, start: float | None, stop: float | None) -> tuple[float, float]:
    if not archive.segments:
        raise EegmonError("the archive holds no samples to export.", archive.path)
    start = archive.start if start is None else check_number("start", start)
    stop = archive.stop if stop is None else check_number("stop", stop)
    span = f"{to_datetime(start).isoformat()} .. {to_datetime(stop).isoformat()}"
    if stop <= start:
        raise EegmonError(f"the span must end after it starts, got {span}.", archive.path)
    if stop <= archive.start or start >= archive.stop:
        recording = f"{to_datetime(archive.start).isoformat()} .. {to_datetime(archive.stop).isoformat()}"
        raise EegmonError(f"the span {span} is outside the recording ({recording}).", archive.path)
    return start, stop


def _channel_names(archive: Archive, channels: Sequence[str] | str | None) -> list[str]:
    if channels is None:
        return list(archive.channels)
    names = [channels] if isinstance(channels, str) else list(channels)
    unknown = [c for c in names if c not in archive.channels]
    if unknown or not names or len(set(names)) != len(names):
        raise EegmonError(
            f"channels must be distinct names from {list(archive.channels)}, got {names}.", archive.path
        )
    return names


def _gap_runs(archive: Archive, t0: float, n: int) -> list[tuple[int, int]]:
    """Sample-index runs ``[i0, i1)`` of the grid ``t0 + i / fs`` (``i < n``) that no segment fills.

    Segments are placed on the grid as :meth:`Archive.read` places them (nearest point), so the runs
    are exactly where ``read`` returns NaN.
    """
    fs = archive.fs
    covered = []
    for seg in archive.segments:
        off = int(round((seg.start - t0) * fs))
        a, b = max(0, off), min(n, off + seg.n_samples)
        if b > a:
            covered.append((a, b))
    runs, at = [], 0
    for a, b in sorted(covered):
        if a > at:
            runs.append((at, a))
        at = max(at, b)
    if at < n:
        runs.append((at, n))
    return runs


@dataclass(frozen=True)
class _Event:
    """An annotation, detection or gap clipped to the exported span (times relative to its start)."""

    onset: float
    duration: float
    text: str
    channels: tuple[str, ...]
    extras: dict


def _events(archive: Archive, start: float, stop: float, names: Sequence[str], annotations: bool) -> list[_Event]:
    """The span's annotations and detections (if ``annotations``) and its gaps, by onset."""
    out = []
    if annotations:
        for table, rows in (("annotations", archive.annotations(start, stop)),
                            ("detections", archive.detections(start, stop))):
            for ev in rows:
                a, b = max(ev.onset, start), min(ev.offset, stop)
                conf = ev.confidence if ev.confidence is not None and math.isfinite(ev.confidence) else None
                out.append(_Event(
                    a - start, max(b - a, 0.0), event_text(ev), tuple(c for c in ev.channels if c in names),
                    {"table": table, "id": ev.id, "label": ev.label, "source": ev.source, "status": ev.status,
                     "confidence": conf, "original_label": ev.original_label or ev.label},
                ))
    fs = archive.fs
    n = int(round((stop - start) * fs))
    for i0, i1 in _gap_runs(archive, start, n):
        out.append(_Event(i0 / fs, (i1 - i0) / fs, GAP_DESCRIPTION, (), {"table": "gaps"}))
    return sorted(out, key=lambda e: (e.onset, e.duration, e.text))


# ---------------------------------------------------------------------------------------------- MNE
def to_mne(
    archive: Archive,
    start: float | None = None,
    stop: float | None = None,
    *,
    channels: Sequence[str] | str | None = None,
    annotations: bool = True,
) -> mne.io.RawArray:
    """A span of the archive as an MNE Raw (in memory), with its annotations and detections.

    Parameters
    ----------
    archive : Archive
        The archive to read.
    start, stop : float | None
        The span in seconds since the Unix epoch (UTC); the recording's first sample and its end
        by default.
    channels : sequence of str | str | None
        Channels in that order; all by default.
    annotations : bool
        Add the span's annotations and detections (gaps are always annotated).

    Returns
    -------
    raw : mne.io.RawArray
        EEG channels in volts (the archive holds µV); ``meas_date`` is ``start`` (UTC) and
        annotation onsets are relative to it. Each annotation's description is
        :func:`event_text`; its ``extras`` hold ``table`` (``annotations``, ``detections`` or
        ``gaps``), ``id``, ``label``, ``source``, ``status``, ``confidence`` (None when there is
        none) and ``original_label``. Events are clipped to the span and carry the channels they
        name that are exported. Samples in gaps are NaN, covered by ``BAD_ACQ_SKIP`` annotations:
        ``raw.filter`` skips them and ``reject_by_annotation`` leaves them out.

    Raises
    ------
    EegmonError
        An empty archive, a span that is empty or outside the recording, unknown channels, or a
        span of more than ``MAX_MNE_BYTES`` of float64 samples (MNE holds a RawArray in memory:
        export it with :func:`export_edf` and open that with ``mne.io.read_raw_edf``).
    """
    import mne

    start, stop = _span(archive, start, stop)
    names = _channel_names(archive, channels)
    fs = archive.fs
    size = len(names) * round((stop - start) * fs) * 8
    if size > MAX_MNE_BYTES:
        hours = MAX_MNE_BYTES / (len(names) * fs * 8 * 3600)
        raise EegmonError(
            f"the span holds {size / 1e9:.3g} GB of samples and an MNE RawArray lives in memory: pass a span of "
            f"at most {hours:.3g} h (or fewer channels), or export_edf() it and open that with "
            "mne.io.read_raw_edf(preload=False).", archive.path,
        )
    _, uv = archive.read(start, stop, names)
    info = mne.create_info(names, fs, ch_types="eeg")
    raw = mne.io.RawArray(uv * 1e-6, info, verbose="error")
    raw.set_meas_date(to_datetime(start))
    events = _events(archive, start, stop, names, annotations)
    kwargs = {}
    if "extras" in inspect.signature(mne.Annotations).parameters:  # MNE >= 1.8
        kwargs["extras"] = [e.extras for e in events]
    raw.set_annotations(mne.Annotations(
        onset=[e.onset for e in events], duration=[e.duration for e in events],
        description=[e.text for e in events], orig_time=raw.info["meas_date"],
        ch_names=[e.channels for e in events], **kwargs,
    ))
    return raw


# ---------------------------------------------------------------------------------------------- EDF+
@dataclass(frozen=True)
class EdfExport:
    """What :func:`export_edf` wrote.

    Attributes
    ----------
    path : Path
        The EDF+ file.
    start, stop : float
        The file's span in seconds since the epoch: ``start`` is the requested start floored to
        the second, ``stop`` the end of the last data record.
    record_s : int
        Data record duration in seconds.
    n_records : int
        Data records written.
    n_events : int
        Annotations and detections written as TALs.
    n_gaps : int
        ``BAD_ACQ_SKIP`` annotations written (stretches with no samples, flat in the file).
    """

    path: Path
    start: float
    stop: float
    record_s: int
    n_records: int
    n_events: int
    n_gaps: int


def record_layout(fs: float) -> tuple[int, int]:
    """The data record duration (s) and samples per record that hold ``fs`` exactly in EDF.

    EDF stores a rate as samples per record over the record duration, both written as decimals:
    the shortest whole-second record whose sample count is whole (1 s for 207 Hz, 100 s for
    173.61 Hz, 2 s for 0.5 Hz).

    Raises
    ------
    EegmonError
        When that record would be longer than ``MAX_RECORD_S`` (e.g. 1000/3 Hz: no decimal record).
    """
    rate = Fraction(repr(float(fs)))  # the decimal the rate was given as (173.61, not its binary neighbour)
    if rate.denominator > MAX_RECORD_S:
        raise EegmonError(
            f"EDF cannot hold a sampling rate of {fs!r} Hz: a data record needs a whole number of samples, which "
            f"takes {rate.denominator} s here (at most {MAX_RECORD_S} s); resample the recording first."
        )
    return rate.denominator, rate.numerator


def _ascii(value: str, width: int, what: str) -> bytes:
    if len(value) > width or not all(32 <= ord(c) < 127 for c in value):
        raise EegmonError(f"EDF header field {what} must be at most {width} printable ASCII characters, got {value!r}.")
    return value.ljust(width).encode("ascii")


def _number(value: float, up: bool) -> str:
    """``value`` rounded outward (up or down) to a decimal of at most 8 characters."""
    for decimals in range(6, -1, -1):
        scale = 10**decimals
        rounded = (math.ceil if up else math.floor)(value * scale) / scale
        text = f"{rounded:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{rounded:.0f}"
        if text == "-0":
            text = "0"
        if len(text) <= 8:
            return text
    raise EegmonError(f"a physical range bound of {value:g} µV does not fit the EDF header's 8 characters.")


def _physical_ranges(archive: Archive, t0: float, t1: float, names: Sequence[str],
                     window: float) -> list[tuple[str, str]]:
    """Each channel's (min, max) in µV over the span, 1 % wider each side, as EDF header text.

    From the min/max pyramid one ``window`` at a time, letting go of the segment files after each
    (see :func:`export_edf`'s loop).
    """
    lows, highs = np.full(len(names), np.inf), np.full(len(names), -np.inf)
    for a in np.arange(t0, t1, window):
        _, mins, maxs = archive.minmax(a, min(a + window, t1), n_pixels=100, channels=names)
        archive.close()
        lows, highs = np.fmin(lows, np.nanmin(mins, axis=1, initial=np.inf)), np.fmax(
            highs, np.nanmax(maxs, axis=1, initial=-np.inf))
    if not np.isfinite(lows).all():
        raise EegmonError("the span holds no samples to export (it lies wholly in gaps).", archive.path)
    out = []
    for lo, hi in zip(lows, highs, strict=True):
        pad = max(0.01 * (hi - lo), 1.0)
        out.append((_number(lo - pad, up=False), _number(hi + pad, up=True)))
    return out


def _tal_onset(seconds: float) -> str:
    # to the microsecond: the float's noise beyond it would show ("+3.000000238418579")
    return np.format_float_positional(round(seconds, 6), unique=True, trim="-", sign=True)


def _tal(event: _Event) -> bytes:
    # \x14, \x15 and \x00 delimit TALs: never let a label carry one
    text = "".join(" " if ord(c) < 32 else c for c in event.text)
    duration = np.format_float_positional(round(event.duration, 6), unique=True, trim="-")
    return f"{_tal_onset(event.onset)}\x15{duration}\x14{text}\x14\x00".encode()


def _pack_tals(tals: list[tuple[int, bytes]], n_records: int, record_s: int) -> tuple[int, dict[int, list[bytes]]]:
    """Place each TAL in the record holding its onset, or a later one when that record is full.

    Returns the annotation signal's bytes per record (even: it is a 16-bit signal) and the TALs of
    every record that has some besides its timekeeping TAL. The record size starts at what the
    longest TAL needs and doubles until all fit.
    """
    timekeeping = len(_tal_onset((n_records - 1) * record_s)) + 3
    size = timekeeping + max((len(t) for _, t in tals), default=0)
    while True:
        size += size % 2
        placed: dict[int, list[bytes]] = {}
        used: dict[int, int] = {}
        r = 0
        for first, tal in tals:
            r = max(r, first)
            while r < n_records and timekeeping + used.get(r, 0) + len(tal) > size:
                r += 1
            if r == n_records:
                break
            placed.setdefault(r, []).append(tal)
            used[r] = used.get(r, 0) + len(tal)
        else:
            return size, placed
        size *= 2


def _header(*, patient: str, start: dt.datetime, n_records: int, record_s: int, spr: int,
            names: Sequence[str], ranges: Sequence[tuple[str, str]], ann_samples: int) -> bytes:
    """The EDF+C header (EDF+ spec, section 2.1): 256 bytes, then 256 per signal, field by field."""
    if not 1985 <= start.year <= 2084:
        raise EegmonError(f"EDF start dates run from 1985 to 2084, got {start.date().isoformat()}.")
    recording = f"Startdate {start.day:02d}-{_MONTHS[start.month - 1]}-{start.year} X X eegmon"
    n = len(names) + 1
    main = [
        _ascii("0", 8, "version"), _ascii(patient, 80, "patient"), _ascii(recording, 80, "recording"),
        _ascii(start.strftime("%d.%m.%y"), 8, "startdate"), _ascii(start.strftime("%H.%M.%S"), 8, "starttime"),
        _ascii(str(256 * (n + 1)), 8, "header bytes"), _ascii("EDF+C", 44, "reserved"),
        _ascii(str(n_records), 8, "data records"), _ascii(str(record_s), 8, "record duration"),
        _ascii(str(n), 4, "signals"),
    ]
    signals = [(name, "uV", lo, hi, spr) for name, (lo, hi) in zip(names, ranges, strict=True)]
    signals.append(("EDF Annotations", "", "-1", "1", ann_samples))
    fields = [
        [_ascii(s[0], 16, f"label of {s[0]!r}") for s in signals],
        [_ascii("", 80, "transducer")] * n,
        [_ascii(s[1], 8, "physical dimension") for s in signals],
        [_ascii(s[2], 8, "physical minimum") for s in signals],
        [_ascii(s[3], 8, "physical maximum") for s in signals],
        [_ascii(str(_DIGITAL[0]), 8, "digital minimum")] * n,
        [_ascii(str(_DIGITAL[1]), 8, "digital maximum")] * n,
        [_ascii("", 80, "prefiltering")] * n,
        [_ascii(str(s[4]), 8, "samples per record") for s in signals],
        [_ascii("", 32, "reserved")] * n,
    ]
    return b"".join(main) + b"".join(b"".join(f) for f in fields)


def export_edf(
    archive: Archive,
    path: str | os.PathLike,
    start: float | None = None,
    stop: float | None = None,
    *,
    channels: Sequence[str] | str | None = None,
    patient: str = ANONYMOUS_PATIENT,
    overwrite: bool = False,
    quiet: bool = True,
) -> EdfExport:
    """Write a span of the archive, with its annotations and detections, as an EDF+C file.

    EDFbrowser, MNE (``mne.io.read_raw_edf``), edfio and :func:`eegmon.io.read_edf` open the file.
    The samples are written in blocks straight from the archive: memory does not grow with the span.

    Parameters
    ----------
    archive : Archive
        The archive to read.
    path : path-like
        The EDF file to write (through a temporary file renamed into place when complete).
    start, stop : float | None
        The span in seconds since the Unix epoch (UTC); the whole recording by default. EDF header
        times have whole seconds (and MNE ignores EDF+'s sub-second start), so the file starts at
        ``start`` floored to the second and ends with the data record holding ``stop``.
    channels : sequence of str | str | None
        Channels in that order; all by default. Labels must be at most 16 ASCII characters.
    patient : str
        The EDF+ patient field; anonymous (``X X X X``: no code, sex, birthdate or name) by default.
    overwrite : bool
        Replace an existing file.
    quiet : bool
        No progress bar.

    Returns
    -------
    EdfExport
        The file's span, record layout and how many events and gaps it holds.

    Notes
    -----
    - 16-bit samples, physical unit ``uV``; each channel's physical range is its minimum and
      maximum over the span, widened by 1 % of its spread (at least 1 µV) each side: one digital
      step is at most 1/65535 of that range.
    - Sampling rate exact: 1-s data records when the rate is whole, else the shortest whole-second
      record with a whole number of samples (:func:`record_layout`).
    - Annotations and detections are TALs with onset (relative to the file start) and duration,
      text :func:`event_text`, clipped to the file's span. EDF+ has no channel field: their
      channels are not written.
    - Stretches without samples (gaps, and any part of the first second or last record outside
      the recording) are flat at the middle of each channel's range, each covered by a
      ``BAD_ACQ_SKIP`` annotation.

    Raises
    ------
    EegmonError
        The file exists (without ``overwrite``), an empty archive or span, a span outside the
        recording or wholly in gaps, unknown channels, labels or patient text EDF cannot hold, a
        start date outside 1985-2084, a rate that needs records longer than ``MAX_RECORD_S``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise EegmonError("the file exists; pass overwrite=True (--overwrite) to replace it.", path)
    if not path.parent.is_dir():
        raise EegmonError("the folder to write the EDF file into does not exist.", path)
    start, stop = _span(archive, start, stop)
    names = _channel_names(archive, channels)
    record_s, spr = record_layout(archive.fs)
    t0 = float(math.floor(start))
    n_records = max(1, math.ceil(round((stop - t0) / record_s, 9)))
    t1 = t0 + n_records * record_s
    block = max(1, _BLOCK_SAMPLES // spr)  # records per write
    ranges = _physical_ranges(archive, t0, t1, names, block * record_s)
    events = _events(archive, t0, t1, names, annotations=True)
    tals = [(min(int(e.onset // record_s), n_records - 1), _tal(e)) for e in events]
    ann_bytes, placed = _pack_tals(tals, n_records, record_s)
    header = _header(patient=patient, start=to_datetime(t0), n_records=n_records, record_s=record_s,
                     spr=spr, names=names, ranges=ranges, ann_samples=ann_bytes // 2)
    lows = np.array([float(lo) for lo, _ in ranges])
    gains = np.array([(float(hi) - float(lo)) / (_DIGITAL[1] - _DIGITAL[0]) for lo, hi in ranges])
    n_ch = len(names)
    with atomic_write(path, "wb") as f:
        f.write(header)
        for r0 in progress(range(0, n_records, block), total=-(-n_records // block), desc=f"export {path.name}",
                           quiet=quiet, unit="block", leave=True):
            # an open segment file keeps HDF5's caches (a few MB each: hundreds of MB over a month of
            # short segments): let go of the files the earlier blocks opened
            archive.close()
            nb = min(block, n_records - r0)
            _, uv = archive.read(t0 + r0 * record_s, t0 + (r0 + nb) * record_s, names)
            with np.errstate(invalid="ignore"):
                dig = np.rint((uv - lows[:, None]) / gains[:, None]) + _DIGITAL[0]
            dig = np.clip(np.nan_to_num(dig, nan=0.0), *_DIGITAL).astype("<i2")  # NaN: gap, mid-range
            records = np.empty((nb, n_ch * spr + ann_bytes // 2), dtype="<i2")
            for i in range(n_ch):
                records[:, i * spr : (i + 1) * spr] = dig[i].reshape(nb, spr)
            ann = b"".join(
                (f"{_tal_onset((r0 + k) * record_s)}\x14\x14\x00".encode()
                 + b"".join(placed.get(r0 + k, ()))).ljust(ann_bytes, b"\x00")
                for k in range(nb)
            )
            records[:, n_ch * spr :] = np.frombuffer(ann, dtype="<i2").reshape(nb, -1)
            f.write(records.tobytes())
    n_gaps = sum(e.extras["table"] == "gaps" for e in events)
    return EdfExport(path, t0, t1, record_s, n_records, len(events) - n_gaps, n_gaps)
