"""One immutable HDF5 file per segment: digital samples plus their min/max pyramid.

Written through :func:`eegmon._atomic.atomic_h5` (temporary file, fsync, rename, fsync of the
folder): a file with the final name is always complete. Layout of ``seg_NNNNNNNN.h5``::

    attrs   format, start_ns, fs, n_samples, channels, source, source_offset
    /data   (n_channels, n_samples) int16|int32, chunked (n_channels, 4096), scale-offset compressed (lossless);
            attrs gain, offset (float64 per channel, uV = digital * gain + offset), units="uV",
            digital_range (n_channels, 2) when the source declared one (else the dtype's range)
    /minmax/L1 .. /minmax/Lk   (n_channels, ceil(n_samples / 8**k), 2) same int type, contiguous:
            [..., 0] = min, [..., 1] = max of the digital samples of each 8**k block; attr decimation
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .._atomic import atomic_h5
from ._layout import CHUNK_SAMPLES, COMPRESSION, DECIMATION, FORMAT, n_levels


def _halve(x: np.ndarray, op) -> np.ndarray:
    # pairwise on strided views: much faster than a reduction over a short trailing axis
    return op(x[:, 0::2], x[:, 1::2])


def _block_minmax(lo: np.ndarray, hi: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Min of ``lo`` and max of ``hi`` over consecutive blocks along axis 1 (last block may be short)."""
    n = lo.shape[1]
    full = n - n % block
    a, b = lo[:, :full], hi[:, :full]
    while a.shape[1] > full // block:
        a, b = _halve(a, np.minimum), _halve(b, np.maximum)
    if full < n:
        a = np.concatenate([a, lo[:, full:].min(axis=1, keepdims=True)], axis=1)
        b = np.concatenate([b, hi[:, full:].max(axis=1, keepdims=True)], axis=1)
    return a, b


def write_segment_file(
    path: Path,
    chunks: Iterable[np.ndarray],
    *,
    n_samples: int,
    n_channels: int,
    dtype: np.dtype,
    fs: float,
    start_ns: int,
    gain: np.ndarray,
    offset: np.ndarray,
    channels: tuple[str, ...],
    source: str = "",
    source_offset: int = 0,
    digital_range: np.ndarray | None = None,
) -> None:
    """Write a segment file from digital chunks; every chunk but the last must be a multiple of 8**k.

    The file appears under ``path`` only once complete and fsynced.
    """
    levels = n_levels(fs)
    with atomic_h5(path, libver="latest") as f:
        f.attrs.update(
            {
                "format": FORMAT + "-segment",
                "start_ns": start_ns,
                "fs": fs,
                "n_samples": n_samples,
                "channels": list(channels),
                "source": source,
                "source_offset": source_offset,
            }
        )
        chunk_t = max(1, min(CHUNK_SAMPLES, n_samples))
        data = f.create_dataset(
            "data", shape=(n_channels, n_samples), dtype=dtype, chunks=(n_channels, chunk_t), **COMPRESSION
        )
        data.attrs.update({"gain": np.asarray(gain, float), "offset": np.asarray(offset, float), "units": "uV"})
        if digital_range is not None:
            data.attrs["digital_range"] = np.asarray(digital_range, float)
        pyr = []
        for k in range(1, levels + 1):
            # contiguous and uncompressed: block extremes barely compress, and this is written at import speed
            nb = math.ceil(n_samples / DECIMATION**k)
            ds = f.create_dataset(f"minmax/L{k}", shape=(n_channels, nb, 2), dtype=dtype)
            ds.attrs["decimation"] = DECIMATION**k
            pyr.append(ds)
        pos = 0
        for x in chunks:
            n = x.shape[1]
            if pos + n > n_samples:
                raise ValueError(f"segment chunks exceed the declared {n_samples} samples.")
            data[:, pos : pos + n] = x
            lo, hi = x, x
            for k, ds in enumerate(pyr, start=1):
                lo, hi = _block_minmax(lo, hi, DECIMATION)
                b0 = pos // DECIMATION**k
                ds[:, b0 : b0 + lo.shape[1], :] = np.stack([lo, hi], axis=-1)
            pos += n
        if pos != n_samples:
            raise ValueError(f"segment got {pos} samples, declared {n_samples}.")
