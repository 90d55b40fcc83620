"""Cutting a long recording into time chunks that can run apart and still give the one-machine result.

A chunk keeps what falls in ``[keep_from, keep_to)`` (windows by their end time, events by their
onset), but its detector starts earlier, at ``read_from``, to warm up: the filters settle in
seconds; the patient-adaptive baseline is an exponential mean (30-minute time constant in the
bundled model), so a warm-up of 24 time constants (12 h) brings it to the whole-recording value
within ~exp(-24) = 4e-11 of the difference it started with. Shorter warm-ups are not exact: after
two time constants a seizure's onset was seen to move by 6 s. ``read_from`` lies on the
whole-recording window grid (a whole number of hops after its span's start, where the resampler
also has the same phase), so the chunk sees the same windows.
Past ``keep_to`` a chunk reads on until no event that began before it is still open.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..source import SignalSource

if TYPE_CHECKING:  # eegmon.features loads Numba: not at import (the CLI's parser imports this)
    from ..features import WindowGrid


@dataclass(frozen=True)
class Chunk:
    """One time chunk of a recording (times in s since the epoch; None = the recording's edge)."""

    part: int
    read_from: float | None
    keep_from: float | None
    keep_to: float | None


def grid_period(grid: WindowGrid) -> float | None:
    """Seconds of the shortest whole number of hops of ``grid`` that is also a whole number of input samples.

    None when no such period up to 1000 hops exists (the recording is then never split).
    """
    for k in range(1, 1001):
        period = k * grid.hop_s
        if abs(period * grid.fs_in - round(period * grid.fs_in)) < 1e-6:
            return period
    return None


def plan_chunks(source: SignalSource, *, chunk_s: float | None, warmup_s: float, period_s: float | None,
                hop_s: float) -> list[Chunk]:
    """Chunks of ``source``: one when it is short enough (or ``chunk_s`` is None), else about ``chunk_s`` each.

    Parameters
    ----------
    source : SignalSource
        The recording.
    chunk_s : float | None
        Target chunk length in seconds of wall-clock time; None never splits.
    warmup_s : float
        How long before its first kept moment a chunk starts reading.
    period_s : float | None
        The window-grid period from :func:`grid_period`; None never splits.
    hop_s : float
        Hop between windows: chunk boundaries sit half a hop off the window grid, so no window end
        or event onset lies on one (where rounding could put it in both chunks or in neither).
    """
    if chunk_s is None or period_s is None or source.stop - source.start <= chunk_s:
        return [Chunk(0, None, None, None)]
    n = math.ceil((source.stop - source.start) / chunk_s)
    bounds = [_off_grid(source, source.start + k * chunk_s, hop_s) for k in range(1, n)]
    chunks = []
    for k in range(n):
        keep_from = bounds[k - 1] if k else None
        keep_to = bounds[k] if k < n - 1 else None
        read_from = None if keep_from is None else _on_grid(source, keep_from - warmup_s, period_s)
        chunks.append(Chunk(k, read_from, keep_from, keep_to))
    return chunks


def _containing_span(source: SignalSource, t: float):
    for span in reversed(source.segments):
        if span.start <= t:
            return span
    return None


def _off_grid(source: SignalSource, t: float, hop_s: float) -> float:
    """``t`` moved to the nearest half-hop point of its span's window grid (unchanged in a gap)."""
    span = _containing_span(source, t)
    if span is None or t >= span.start + span.n_samples / source.fs:
        return t
    return span.start + (math.floor((t - span.start) / hop_s) + 0.5) * hop_s


def _on_grid(source: SignalSource, t: float, period_s: float) -> float | None:
    """The last grid point at or before ``t`` (a span start or whole periods after it); None = the start."""
    span = _containing_span(source, t)
    if span is None:
        return None
    return span.start + max(math.floor((t - span.start) / period_s), 0) * period_s
