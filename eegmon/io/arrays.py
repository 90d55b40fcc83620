"""Float sample arrays (a live device, another library) as a :class:`~eegmon.recording.Recording`.

The archive stores integers, so float microvolts are quantised per channel to int32 with a gain
chosen from the channel's range (2^31 - 1 steps over the largest magnitude: far finer than any
EEG amplifier, so the round trip is exact to ~1e-9 of the range). NaN and infinity are refused:
a gap is a gap between segments, not a value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._checks import check_number
from ..errors import EegmonError
from ..recording import Recording, Segment

_INT32_MAX = 2**31 - 1


def from_float_array(
    data: np.ndarray, fs: float, start: float, channels: Sequence[str], *, source: str = "array"
) -> Recording:
    """Wrap float samples in microvolts as a one-segment recording of int32 digital samples.

    Parameters
    ----------
    data : array-like, shape (n_channels, n_samples)
        Samples in microvolts.
    fs : float
        Sampling rate in Hz.
    start : float
        Absolute time of the first sample, seconds since the Unix epoch.
    channels : sequence of str
        Channel names, one per row of ``data``.
    source : str
        Name recorded as the segment's source (and in errors).

    Raises
    ------
    EegmonError
        Wrong shape, no samples, or a NaN/infinite value (the first one is located).
    """
    x = np.asarray(data, dtype=np.float64)
    channels = tuple(str(c) for c in channels)
    if x.ndim != 2 or x.shape[0] != len(channels) or x.shape[1] == 0:
        raise EegmonError(f"data must have shape ({len(channels)}, n_samples > 0), got {x.shape}.", source)
    fs = check_number("fs", fs, low=0, low_inclusive=False)
    start = check_number("start", start)
    bad = ~np.isfinite(x)
    if bad.any():
        ch, i = np.argwhere(bad)[0]
        raise EegmonError(
            f"channel {channels[ch]!r} has {x[ch, i]} at sample {i} ({bad.sum()} non-finite "
            "value(s)); mark missing data as gaps between segments instead.",
            source,
        )
    peak = np.abs(x).max(axis=1)
    gain = np.where(peak > 0, peak / _INT32_MAX, 1.0)
    digital = np.round(x / gain[:, None]).astype(np.int32)
    offset = np.zeros(len(channels))
    seg = Segment(
        start=start,
        n_samples=x.shape[1],
        gain=gain,
        offset=offset,
        dtype=np.dtype(np.int32),
        reader=lambda a, b: digital[:, a:b],
        source=source,
    )
    return Recording(channels=channels, fs=fs, segments=[seg], meta={"format": "array", "source": source})
