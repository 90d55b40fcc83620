"""A short simulated recording with known seizures and gaps, written into an archive, for the live tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from eegmon.streaming.sources import SimSource

from eegmon.archive import Archive


def write_sim_archive(path: str | Path, *, seconds: float = 1500.0, onsets: Sequence[float] = (300.0, 1000.0),
                      gaps: Sequence[tuple[float, float]] = ((700.0, 760.0),), seed: int = 3,
                      start: float = 1.7e9, fs: float = 207.0) -> SimSource:
    """Write a short simulated recording with seizures at ``onsets`` (s after ``start``) into a new archive.

    ``gaps`` are ``(from, to)`` seconds left out. Returns the source (``.seizures`` holds the true
    onsets).
    """
    src = SimSource(seed, chunk_s=10.0, speed=math.inf, start=start, max_s=seconds, onsets=onsets, fs=fs)
    with Archive.create(path, src.channels, fs) as arc:
        pending: list[tuple[float, np.ndarray]] = []

        def flush() -> None:
            if pending:
                x = np.concatenate([p[1] for p in pending])
                arc.append_segment(pending[0][0], np.rint(x / 0.1).astype(np.int16).T, [0.1] * x.shape[1],
                                   [0.0] * x.shape[1], source=src.name)
                pending.clear()

        for t0, x in src:
            rel = t0 - start
            if any(a <= rel < b for a, b in gaps):
                flush()
                continue
            pending.append((t0, x))
        flush()
    return src
