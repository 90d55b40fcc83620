"""Small EDF/BDF files and archive checksums for the io/archive tests (no conftest: shared tree)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import edfio
import numpy as np

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
START = dt.datetime(2025, 1, 6, 9, 0, 0, tzinfo=dt.UTC)
PHYS = (-1000.0, 1000.0)
DIG = (-32767, 32767)
GAIN = (PHYS[1] - PHYS[0]) / (DIG[1] - DIG[0])


def digital(n_channels: int, n: int, seed: int = 0, dtype=np.int16) -> np.ndarray:
    """A smooth-ish random walk of digital samples (compresses like EEG, unlike white noise)."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.integers(-40, 41, (n_channels, n)), axis=1)
    return np.clip(x, -30000, 30000).astype(dtype)


def to_uv(x: np.ndarray) -> np.ndarray:
    """Digital -> microvolts for files written by :func:`write_edf` (int32 data: BDF ranges)."""
    dig = (-8388607, 8388607) if x.dtype == np.int32 else DIG
    gain = (PHYS[1] - PHYS[0]) / (dig[1] - dig[0])
    return x * gain + (PHYS[0] - dig[0] * gain)


def write_edf(
    path: Path,
    data: np.ndarray,
    fs: float = 207,
    start: dt.datetime = START,
    labels: list[str] | None = None,
    annotations=(),
    bdf: bool = False,
) -> Path:
    """Write ``data`` (digital, channels x samples) as an EDF+ (or BDF+) file with 1-s records."""
    labels = labels or [f"EEG{i + 1}" for i in range(data.shape[0])]
    cls = edfio.BdfSignal if bdf else edfio.EdfSignal
    dig = (-8388607, 8388607) if bdf else DIG
    sigs = [
        cls.from_digital(data[i], fs, label=labels[i], physical_dimension="uV", physical_range=PHYS, digital_range=dig)
        for i in range(data.shape[0])
    ]
    kind = edfio.Bdf if bdf else edfio.Edf
    f = kind(
        sigs,
        starttime=start.time().replace(tzinfo=None),
        recording=edfio.Recording(startdate=start.date()),
        annotations=[edfio.EdfAnnotation(*a) for a in annotations],
    )
    f.write(path)
    return path


def tree_digest(path: Path) -> dict[str, str]:
    """SHA-256 of the manifest and every file in its ``.d`` folder (the lock file excepted)."""
    out = {}
    files = [path] + sorted((path.parent / (path.name + ".d")).glob("*"))
    for p in files:
        if p.is_file() and p.name != "lock":
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def make_discontinuous(path: Path, onsets: list[float]) -> Path:
    """Turn an EDF+C written by :func:`write_edf` into EDF+D with the given record onsets (s)."""
    raw = bytearray(path.read_bytes())
    ns = int(raw[252:256].decode().strip())
    header_bytes = 256 + 256 * ns
    labels = [raw[256 + 16 * i : 272 + 16 * i].decode().strip() for i in range(ns)]
    spr_at = 256 + ns * 216
    spr = [int(raw[spr_at + 8 * i : spr_at + 8 * i + 8].decode().strip()) for i in range(ns)]
    ann = labels.index("EDF Annotations")
    rec_bytes = 2 * sum(spr)
    first = 2 * sum(spr[:ann])
    width = 2 * spr[ann]
    n_records = (len(raw) - header_bytes) // rec_bytes
    assert len(onsets) == n_records
    for r, t in enumerate(onsets):
        tal = f"+{t:g}".encode() + b"\x14\x14\x00"
        assert len(tal) <= width
        at = header_bytes + r * rec_bytes + first
        raw[at : at + width] = tal.ljust(width, b"\x00")
    raw[192:236] = b"EDF+D".ljust(44)
    path.write_bytes(bytes(raw))
    return path
