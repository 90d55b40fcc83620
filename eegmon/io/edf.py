"""EDF, EDF+ (continuous and discontinuous) and BDF recordings, read in chunks.

edfio parses and validates the header (signal labels, scaling, rates, start time). The data
records are then read in chunks of whole records straight from the file: edfio's lazy mode
memory-maps the whole file (every page touched stays in the process's resident memory) and reads
BDF entirely, while a month of data must import in constant memory. Samples stay digital (int16
EDF, int32 BDF) with the header's scaling as a per-channel gain/offset to microvolts: lossless.

EDF+D files become one segment per run of contiguous data records, the record onsets coming from
the timekeeping TAL that starts each record. The header's local start time is taken as UTC (EDF
has no time zone).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EegmonError
from ..events import Annotation
from ..recording import Recording, Segment
from ._files import check_file
from .labels import map_label

_UNIT_TO_UV = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "mv": 1e3, "v": 1e6, "nv": 1e-3}
_MAGIC = {b"0       ": "EDF", b"\xffBIOSEMI": "BDF"}
_ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")
# edfio decodes header fields lazily, on first access, and raises these on bad bytes.
_HEADER_ERRORS = (ValueError, IndexError, KeyError, TypeError, UnicodeError, OverflowError, ArithmeticError)
_TAL_ONSET = re.compile(rb"^([+-]\d+(?:\.\d*)?)(?:\x15(\d+(?:\.\d*)?))?$")
#: Data records read per step when scanning annotation bytes.
_SCAN_RECORDS = 4096


def sniff_edf(path: str | os.PathLike) -> str | None:
    """Return ``"EDF"`` or ``"BDF"`` if the file starts like one, else None."""
    try:
        with open(path, "rb") as f:
            return _MAGIC.get(f.read(8))
    except OSError:
        return None


@dataclass(frozen=True)
class _Layout:
    """Where the samples are: header size, record size, each signal's byte columns."""

    path: Path
    kind: str
    header_bytes: int
    width: int
    record_samples: int
    n_records: int
    columns: tuple[tuple[int, int], ...]
    annotation_columns: tuple[tuple[int, int], ...]
    clock: str
    date: str

    def read_records(self, r0: int, r1: int) -> np.ndarray:
        """Records ``[r0, r1)`` as an integer array ``(r1 - r0, record_samples)``."""
        n = (r1 - r0) * self.record_samples
        try:
            with open(self.path, "rb") as f:
                f.seek(self.header_bytes + r0 * self.record_samples * self.width)
                raw = f.read(n * self.width)
        except OSError as err:
            raise EegmonError(f"cannot read data records {r0}-{r1}: {err.strerror or err}.", self.path) from None
        if len(raw) != n * self.width:
            raise EegmonError(f"file shrank while reading: data records {r0}-{r1} are missing.", self.path)
        if self.width == 2:
            return np.frombuffer(raw, dtype="<i2").reshape(r1 - r0, self.record_samples)
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        x = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(x >= 1 << 23, x - (1 << 24), x).astype(np.int32)
        return x.reshape(r1 - r0, self.record_samples)

    def annotation_bytes(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_record, bytes (n, w))`` of the first annotation signal, in chunks."""
        c0, c1 = self.annotation_columns[0]
        for r0 in range(0, self.n_records, _SCAN_RECORDS):
            r1 = min(r0 + _SCAN_RECORDS, self.n_records)
            block = np.ascontiguousarray(self.read_records(r0, r1)[:, c0:c1])
            if self.width == 2:
                yield r0, block.astype("<i2").view(np.uint8)
            else:  # BDF annotation bytes are the 3 low bytes of each 24-bit sample
                yield r0, block.astype("<i4").view(np.uint8).reshape(r1 - r0, -1, 4)[:, :, :3].reshape(r1 - r0, -1)


def _parse_layout(path: Path, kind: str) -> tuple[_Layout, object]:
    import edfio

    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(256)
        try:
            ns = int(head[252:256].decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise EegmonError(f"invalid {kind} header: the number of signals is {head[252:256]!r}.", path) from None
        if not 0 < ns <= 4096:
            raise EegmonError(f"invalid {kind} header: number of signals must be 1-4096, got {ns}.", path)
        header_len = 256 * (ns + 1)
        f.seek(0)
        header = f.read(header_len)
    if len(header) < header_len:
        raise EegmonError(f"truncated {kind} file: the header needs {header_len} bytes, the file has {size}.", path)
    with warnings.catch_warnings():
        # edfio sees a header with no data (we read the data ourselves) and says so
        warnings.simplefilter("ignore")
        try:
            edf = edfio.read_edf(header) if kind == "EDF" else edfio.read_bdf(header)
        except Exception as err:  # edfio raises ValueError, IndexError, UnicodeDecodeError, ...
            raise EegmonError(f"invalid {kind} header: {type(err).__name__}: {err}", path) from None
    try:
        labels = [header[256 + 16 * i : 272 + 16 * i].decode("latin-1").strip() for i in range(ns)]
        spr_at = 256 + ns * 216
        spr = [int(header[spr_at + 8 * i : spr_at + 8 * i + 8].decode("ascii").strip()) for i in range(ns)]
        declared = int(header[236:244].decode("ascii").strip())
        header_field = int(header[184:192].decode("ascii").strip())
    except ValueError as err:
        raise EegmonError(f"invalid {kind} header: {err}", path) from None
    if any(n <= 0 for n in spr):
        raise EegmonError(f"invalid {kind} header: samples per data record must be > 0, got {spr}.", path)
    if header_field != header_len:
        raise EegmonError(
            f"invalid {kind} header: it says {header_field} header bytes, {ns} signals need {header_len}.", path
        )
    width = 3 if kind == "BDF" else 2
    record_samples = sum(spr)
    data = size - header_len
    actual, rest = divmod(data, record_samples * width)
    if rest:
        raise EegmonError(
            f"truncated {kind} file: the last data record is incomplete ({rest} of {record_samples * width} bytes).",
            path,
        )
    if declared != -1 and declared != actual:
        raise EegmonError(
            f"{kind} header lies about the record count: it says {declared} data records, the file holds {actual}.",
            path,
        )
    if actual == 0:
        raise EegmonError(f"{kind} file has no data records.", path)
    ends = np.cumsum(spr)
    cols = [(int(e - n), int(e)) for e, n in zip(ends, spr, strict=True)]
    data_cols = tuple(c for c, lab in zip(cols, labels, strict=True) if lab not in _ANNOTATION_LABELS)
    ann_cols = tuple(c for c, lab in zip(cols, labels, strict=True) if lab in _ANNOTATION_LABELS)
    clock = header[176:184].decode("latin-1")
    date = header[168:176].decode("latin-1")
    layout = _Layout(path, kind, header_len, width, record_samples, actual, data_cols, ann_cols, clock, date)
    return layout, edf


def _scaling(sig, path: Path) -> tuple[float, float]:
    unit = sig.physical_dimension.strip()
    factor = _UNIT_TO_UV.get(unit.lower(), 1.0 if unit == "" else None)
    if factor is None:
        raise EegmonError(f"channel {sig.label!r}: physical unit must be uV, mV, V or nV, got {unit!r}.", path)
    dmin, dmax = sig.digital_min, sig.digital_max
    pmin, pmax = sig.physical_min, sig.physical_max
    if dmax == dmin or pmax == pmin or not all(map(math.isfinite, (pmin, pmax))):
        raise EegmonError(
            f"channel {sig.label!r}: invalid scaling, digital range ({dmin}, {dmax}) and "
            f"physical range ({pmin}, {pmax}) must be finite and non-empty.",
            path,
        )
    gain = (pmax - pmin) / (dmax - dmin)
    return gain * factor, (pmin - dmin * gain) * factor


def _tals(layout: _Layout, want_onsets: bool) -> tuple[np.ndarray | None, list[tuple[float, float, str]]]:
    """Record onsets (EDF+D) and the annotations ``(onset, duration, text)`` of the TAL signal."""
    onsets = np.empty(layout.n_records) if want_onsets else None
    found: list[tuple[float, float, str]] = []
    path = layout.path
    for r0, block in layout.annotation_bytes():
        # a record holding only its timekeeping TAL ("+t\x14\x14\x00") has exactly two 0x14 bytes
        busy = np.flatnonzero((block == 0x14).sum(axis=1) > 2)
        rows = range(len(block)) if want_onsets else busy
        for i in rows:
            tals = block[i].tobytes().split(b"\x00")
            for k, tal in enumerate(t for t in tals if t):
                parts = tal.split(b"\x14")
                m = _TAL_ONSET.match(parts[0])
                if m is None or len(parts) < 2:
                    raise EegmonError(f"data record {r0 + i}: malformed EDF+ annotation {tal[:40]!r}.", path)
                onset = float(m.group(1))
                duration = float(m.group(2)) if m.group(2) else 0.0
                if not (math.isfinite(onset) and math.isfinite(duration)):
                    raise EegmonError(f"data record {r0 + i}: non-finite annotation time {tal[:40]!r}.", path)
                if k == 0 and want_onsets:
                    onsets[r0 + i] = onset
                for text in parts[1:]:
                    if text:
                        found.append((onset, duration, text.decode("utf-8", "replace")))
    return onsets, found


def _start_date(edf, legacy: str) -> dt.date:
    """The EDF+ recording-field start date when valid, else the legacy dd.mm.yy field (1985-2084)."""
    try:
        return edf.recording.startdate
    except Exception:  # not EDF+ compliant or anonymised ("Startdate X"): use the legacy field
        day, month, year = (int(p) for p in legacy.strip().split("."))
        return dt.date(year + (1900 if year >= 85 else 2000), month, day)


def _first_onset(layout: _Layout) -> float:
    c0, c1 = layout.annotation_columns[0]
    rec = np.ascontiguousarray(layout.read_records(0, 1)[0, c0:c1])
    raw = (
        rec.astype("<i2").view(np.uint8)
        if layout.width == 2
        else rec.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].reshape(-1)
    )
    m = _TAL_ONSET.match(raw.tobytes().split(b"\x00")[0].split(b"\x14")[0])
    return float(m.group(1)) if m and math.isfinite(float(m.group(1))) else 0.0


def read_edf(path: str | os.PathLike, *, annotations: bool = True) -> Recording:
    """Read an EDF, EDF+ (C or D) or BDF file lazily.

    Parameters
    ----------
    path : path-like
        The file. EDF or BDF is told from its first 8 bytes, not its name.
    annotations : bool
        Also read EDF+ TAL annotations (one pass over the file's annotation bytes).

    Returns
    -------
    Recording
        Channels, sampling rate, one segment (EDF+D: one per contiguous run of records) with a
        lazy chunk reader, and the file's annotations mapped onto the label vocabulary.

    Raises
    ------
    EegmonError
        Zero-length, unreadable, non-EDF, truncated or inconsistent files (record count, header
        size), channels with different sampling rates, unsupported units.
    """
    path = check_file(path, what="EDF/BDF file")
    kind = sniff_edf(path)
    if kind is None:
        with path.open("rb") as f:
            first = f.read(8)
        raise EegmonError(
            f"not an EDF/BDF file: it starts with {first!r}, expected b'0       ' (EDF) or b'\\xffBIOSEMI' (BDF).", path
        )
    layout, edf = _parse_layout(path, kind)
    try:
        return _recording(layout, edf, annotations)
    except EegmonError:
        raise
    except _HEADER_ERRORS as err:
        raise EegmonError(f"invalid {kind} header: {type(err).__name__}: {err}", path) from None


def _recording(layout: _Layout, edf, annotations: bool) -> Recording:
    path, kind = layout.path, layout.kind
    signals = list(edf.signals)
    if len(signals) != len(layout.columns) or not signals:
        raise EegmonError(f"{kind} file has no data signals.", path)
    rates = {s.label: s.sampling_frequency for s in signals}
    if len(set(rates.values())) > 1:
        raise EegmonError(f"channels have different sampling rates {rates}; eegmon needs one rate per recording.", path)
    names = tuple(s.label for s in signals)
    if len(set(names)) != len(names):
        raise EegmonError(f"duplicate channel names {list(names)}.", path)
    fs = float(signals[0].sampling_frequency)
    record_s = float(edf.data_record_duration)
    if not (math.isfinite(fs) and fs > 0 and record_s > 0):
        raise EegmonError(f"sampling rate must be a positive number, got {fs} (data record {record_s} s).", path)
    try:
        # edfio's starttime reads the sub-second offset from the data, which it does not have here
        clock = dt.datetime.strptime(layout.clock.strip(), "%H.%M.%S").time()
        start_dt = dt.datetime.combine(_start_date(edf, layout.date), clock)
    except ValueError as err:
        raise EegmonError(
            f"invalid start date/time in the header ({layout.date!r} {layout.clock!r}): {err}", path
        ) from None
    t0 = start_dt.replace(tzinfo=dt.UTC).timestamp()
    scal = [_scaling(s, path) for s in signals]
    gain = np.array([g for g, _ in scal])
    offset = np.array([o for _, o in scal])
    digital_range = np.array([[s.digital_min, s.digital_max] for s in signals], dtype=float)
    dtype = np.dtype(np.int16 if kind == "EDF" else np.int32)
    spr = layout.columns[0][1] - layout.columns[0][0]

    def reader(a: int, b: int) -> np.ndarray:
        r0, r1 = a // spr, -(-b // spr)
        recs = layout.read_records(r0, r1)
        out = np.empty((len(layout.columns), b - a), dtype=dtype)
        skip = a - r0 * spr
        for i, (c0, c1) in enumerate(layout.columns):
            out[i] = recs[:, c0:c1].reshape(-1)[skip : skip + b - a]
        return out

    discontinuous = edf.reserved.strip().upper().endswith("+D")
    if discontinuous and not layout.annotation_columns:
        raise EegmonError(f"{kind}+D file has no annotation signal with record onsets.", path)
    onsets, tals = (
        _tals(layout, discontinuous) if layout.annotation_columns and (annotations or discontinuous) else (None, [])
    )
    if discontinuous:
        if np.any(np.diff(onsets) < record_s - 1e-6):
            raise EegmonError(f"{kind}+D data records overlap or go back in time.", path)
        breaks = np.flatnonzero(np.abs(np.diff(onsets) - record_s) > 0.5 / fs) + 1
        runs = np.split(np.arange(layout.n_records), breaks)
        segments = [
            Segment(
                start=t0 + float(onsets[r[0]]),
                n_samples=len(r) * spr,
                gain=gain,
                offset=offset,
                dtype=dtype,
                reader=_shifted(reader, int(r[0]) * spr),
                source=str(path),
                source_offset=int(r[0]) * spr,
                digital_range=digital_range,
            )
            for r in runs
        ]
    else:
        # EDF+ keeps the sub-second part of the start in the first record's timekeeping TAL
        first = _first_onset(layout) if layout.annotation_columns else 0.0
        segments = [
            Segment(
                start=t0 + first,
                n_samples=layout.n_records * spr,
                gain=gain,
                offset=offset,
                dtype=dtype,
                reader=reader,
                source=str(path),
                digital_range=digital_range,
            )
        ]
    anns = (
        [
            Annotation(
                onset=t0 + on, duration=max(du, 0.0), label=map_label(text), original_label=text, source="ground_truth"
            )
            for on, du, text in tals
        ]
        if annotations
        else []
    )
    fmt = kind + (
        "+" + edf.reserved.strip()[-1]
        if edf.reserved.strip().upper()[:5] in ("EDF+C", "EDF+D", "BDF+C", "BDF+D")
        else ""
    )
    return Recording(
        channels=names,
        fs=fs,
        segments=segments,
        annotations=anns,
        meta={"format": fmt, "patient": _patient(edf), "source": str(path)},
    )


def _shifted(reader, first: int):
    return lambda a, b: reader(first + a, first + b)


def _patient(edf) -> str:
    try:
        return edf.patient.code
    except Exception:  # plain EDF has a free-text patient field; EDF+ subfields may be absent
        return ""
