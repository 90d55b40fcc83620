"""Names, dtypes and constants of the on-disk archive layout (documented in docs/archive.md).

``ARCHIVE.h5`` is a small HDF5 manifest (tables, channel metadata) that is only ever replaced
atomically; ``ARCHIVE.h5.d/seg_NNNNNNNN.h5`` are immutable per-segment files holding samples and
their min/max pyramid. Everything here is readable with plain h5py.
"""

from __future__ import annotations

import h5py
import numpy as np

FORMAT = "eegmon-archive"
#: 2: review decisions may sit in ARCHIVE.h5.d/events-<journal_token>.journal (see manifest.py),
#: which an eegmon that knows only version 1 would not read (it refuses a newer version instead).
FORMAT_VERSION = 2
#: Samples per HDF5 chunk along time (per channel); 4096 samples is ~20 s at 207 Hz, so a 30-s
#: read decompresses 2-3 small chunks.
CHUNK_SAMPLES = 4096
#: Samples per write/read step of the importer; a multiple of every pyramid block.
IO_SAMPLES = 8**6
#: Decimation between pyramid levels.
DECIMATION = 8
#: Stop adding pyramid levels once a block covers at least this many seconds.
PYRAMID_TOP_S = 60.0
#: HDF5 filter for sample data: integer scale-offset with automatic bit width (lossless; per chunk
#: it stores the minimum and packs each sample into the bits its range needs). It is built into
#: every HDF5 library, and on EEG it compresses about as well as shuffle + LZF at twice the speed.
COMPRESSION = {"scaleoffset": 0}

_STR = h5py.string_dtype("utf-8")

SEGMENT_DTYPE = np.dtype(
    [
        ("id", "<i8"),
        ("file", _STR),
        ("start_ns", "<i8"),
        ("stop_ns", "<i8"),
        ("n_samples", "<i8"),
        ("source", _STR),
        ("source_fingerprint", _STR),
        ("source_offset", "<i8"),
    ]
)
SOURCE_DTYPE = np.dtype(
    [
        ("fingerprint", _STR),
        ("path", _STR),
        ("n_samples", "<i8"),
        ("complete", "i1"),
        ("imported_at_ns", "<i8"),
    ]
)
GAP_DTYPE = np.dtype([("start_ns", "<i8"), ("stop_ns", "<i8")])
EVENT_DTYPE = np.dtype(
    [
        ("id", "<i8"),
        ("onset_ns", "<i8"),
        ("duration_s", "<f8"),
        ("label", _STR),
        ("original_label", _STR),
        ("channels", _STR),
        ("confidence", "<f8"),
        ("source", _STR),
        ("status", _STR),
        ("reviewer", _STR),
        ("edited_at_ns", "<i8"),
    ]
)
#: Column names of the annotations and detections tables.
EVENT_FIELDS = EVENT_DTYPE.names


def n_levels(fs: float) -> int:
    """Number of pyramid levels: 8x steps until one block spans at least ``PYRAMID_TOP_S``."""
    k = 1
    while DECIMATION**k / fs < PYRAMID_TOP_S:
        k += 1
    return k


def to_ns(t: float) -> int:
    """Seconds since the epoch (float) to int64 nanoseconds, rounded to the microsecond."""
    return int(round(t * 1e6)) * 1000


def from_ns(t: int) -> float:
    """int64 nanoseconds since the epoch to float seconds."""
    return int(t) / 1e9
