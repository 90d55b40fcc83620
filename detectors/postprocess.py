"""From window probabilities to seizure events: one stateful post-processor for batch and streaming.

Steps, each a parameter of :class:`PostProcessor`:

1. ``smooth_windows``: causal moving average of the last k window probabilities.
2. ``threshold`` / ``threshold_off``: hysteresis; an event starts when the smoothed probability
   reaches ``threshold`` and ends when it falls below ``threshold_off``.
3. ``merge_gap_s``: events separated by less than this are merged. A step between window
   times longer than ``max(gap_s, merge_gap_s)`` is a recording gap and ends a running event.
4. ``min_duration_s``: shorter events (after merging) are dropped.
5. ``refractory_s``: an event starting within this time after the previous event's end is dropped.
6. ``max_duration_s``: longer events are cut to this length (the onset is what matters for alerts).

An event's onset is the start of its first window above threshold (window end minus
``window_s``); its offset is the end of its last window above ``threshold_off``. The result is
the same whatever the chunking of the input: batch detection is :meth:`PostProcessor.update`
on everything followed by :meth:`PostProcessor.flush`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from eegmon.errors import EegmonError
from eegmon.events import Annotation

from ._kernels import all_finite


@dataclass
class Run:
    """An event being built: onset, offset, peak probability and per-channel peaks."""

    onset: float
    offset: float
    peak: float
    channel_peak: np.ndarray | None = field(default=None)

    def absorb(self, other: Run) -> None:
        self.offset = max(self.offset, other.offset)
        self.peak = max(self.peak, other.peak)
        if self.channel_peak is not None and other.channel_peak is not None:
            self.channel_peak = np.maximum(self.channel_peak, other.channel_peak)


#: Up to this many windows per :meth:`PostProcessor.update` are taken one by one (a live chunk's
#: one or two); more go through the array formulation (batch detection's millions).
_LOOP_WINDOWS = 16


def _finite(a: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(a, nan=0.0)``, skipped when there is nothing to replace (nearly always)."""
    return a if all_finite(a.reshape(-1)) else np.nan_to_num(a, nan=0.0)


class PostProcessor:
    """Turn window probabilities into events, incrementally.

    Parameters
    ----------
    threshold : float
        Smoothed probability at which an event starts, in (0, 1].
    threshold_off : float | None
        Smoothed probability below which it ends (<= threshold); None means ``threshold``.
    smooth_windows : int
        Length of the causal moving average, in windows (1 = none).
    min_duration_s, merge_gap_s, refractory_s, max_duration_s : float
        See the module docstring; seconds.
    window_s : float
        Window length, so that onsets are window starts.
    gap_s : float
        A step between consecutive window end times longer than this (and than ``merge_gap_s``)
        is a gap in the recording.
    channel_names : sequence of str
        Names for per-channel probabilities given to :meth:`update`; an event lists the channels
        whose probability reached ``threshold`` during it.
    label, source : str
        Label and source of the events produced.
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        threshold_off: float | None = None,
        smooth_windows: int = 1,
        min_duration_s: float = 0.0,
        merge_gap_s: float = 0.0,
        refractory_s: float = 0.0,
        max_duration_s: float = np.inf,
        window_s: float = 0.0,
        gap_s: float = 5.0,
        channel_names: Sequence[str] = (),
        label: str = "sz",
        source: str = "detector",
    ) -> None:
        if not 0 < threshold <= 1:
            raise EegmonError(f"threshold must be in (0, 1], got {threshold}.")
        threshold_off = threshold if threshold_off is None else threshold_off
        if not 0 <= threshold_off <= threshold:
            raise EegmonError(f"threshold_off must be in [0, threshold={threshold}], got {threshold_off}.")
        if int(smooth_windows) != smooth_windows or smooth_windows < 1:
            raise EegmonError(f"smooth_windows must be an integer >= 1, got {smooth_windows}.")
        for name, value in (("min_duration_s", min_duration_s), ("merge_gap_s", merge_gap_s),
                            ("refractory_s", refractory_s), ("window_s", window_s), ("gap_s", gap_s)):
            if not value >= 0 or not np.isfinite(value):
                raise EegmonError(f"{name} must be a finite number >= 0, got {value}.")
        if not max_duration_s > 0:
            raise EegmonError(f"max_duration_s must be > 0, got {max_duration_s}.")
        self.threshold, self.threshold_off = float(threshold), float(threshold_off)
        self.smooth_windows = int(smooth_windows)
        self.min_duration_s, self.merge_gap_s = float(min_duration_s), float(merge_gap_s)
        self.refractory_s, self.max_duration_s = float(refractory_s), float(max_duration_s)
        self.window_s, self.gap_s = float(window_s), float(gap_s)
        self.channel_names = tuple(channel_names)
        self.label, self.source = label, source
        self.reset()

    def reset(self) -> None:
        """Forget all state (a new recording)."""
        self._tail = np.zeros(0)  # last smooth_windows - 1 raw probabilities
        self._on = False
        self._last_t = -np.inf
        self._current: Run | None = None
        self._pending: Run | None = None
        self._last_offset = -np.inf

    @property
    def active(self) -> Run | None:
        """The event running now (onset, peak so far), or None: what a live alert fires on."""
        return self._current

    @property
    def open_onset(self) -> float | None:
        """Onset of the earliest event not returned yet (running, or waiting for a merge), or None."""
        runs = [r.onset for r in (self._pending, self._current) if r is not None]
        return min(runs) if runs else None

    def _smooth(self, proba: np.ndarray) -> np.ndarray:
        k = self.smooth_windows
        if k == 1:
            return proba
        full = np.concatenate([self._tail, proba])
        csum = np.concatenate([[0.0], np.cumsum(full)])
        counts = np.minimum(np.arange(1, full.size + 1), k)
        smoothed = (csum[1:] - csum[np.maximum(np.arange(1, full.size + 1) - k, 0)]) / counts
        self._tail = full[-(k - 1):]
        return smoothed[-proba.size:]

    def _finalize(self, run: Run) -> list[Annotation]:
        if run.offset - run.onset < self.min_duration_s or run.onset < self._last_offset + self.refractory_s:
            return []
        offset = min(run.offset, run.onset + self.max_duration_s)
        self._last_offset = offset
        channels: tuple[str, ...] = ()
        if run.channel_peak is not None and self.channel_names:
            channels = tuple(n for n, p in zip(self.channel_names, run.channel_peak, strict=True)
                             if p >= self.threshold)
        return [Annotation(onset=run.onset, duration=offset - run.onset, label=self.label, channels=channels,
                           confidence=float(run.peak), source=self.source)]

    def _close(self) -> list[Annotation]:
        run, self._current = self._current, None
        if run is None:
            return []
        if self._pending is not None and run.onset - self._pending.offset < self.merge_gap_s:
            self._pending.absorb(run)
            return []
        out = self._finalize(self._pending) if self._pending is not None else []
        self._pending = run
        return out

    def update(
        self, times: np.ndarray, proba: np.ndarray, channel_proba: np.ndarray | None = None
    ) -> list[Annotation]:
        """Feed window end times (s since epoch, increasing) and probabilities; return finished events.

        Parameters
        ----------
        times : array, shape (n_windows,)
            Window end times.
        proba : array, shape (n_windows,)
            Seizure probability of each window; NaN counts as 0 (no decision on bad signal).
        channel_proba : array, shape (n_windows, n_channels) | None
            Optional per-channel probabilities, to name the channels involved.
        """
        times = np.asarray(times, dtype=float)
        proba = _finite(np.asarray(proba, dtype=float))
        if times.shape != proba.shape or times.ndim != 1:
            raise EegmonError(f"times and proba must be 1-D of equal length, got {times.shape} and {proba.shape}.")
        if times.size and (times[0] <= self._last_t or (times.size > 1 and np.any(np.diff(times) <= 0))):
            raise EegmonError("window times must increase strictly across calls.")
        if channel_proba is not None:
            channel_proba = _finite(np.asarray(channel_proba, dtype=float))
            if channel_proba.shape != (times.size, len(self.channel_names)):
                raise EegmonError(f"channel_proba must have shape ({times.size}, {len(self.channel_names)}), "
                                  f"got {channel_proba.shape}.")
        if times.size == 0:
            return []
        if times.size <= _LOOP_WINDOWS:
            out = self._update_windows(times, proba, channel_proba)
        else:
            out = self._update_arrays(times, proba, channel_proba)
        self._last_t = float(times[-1])
        # The pending event is final once no later run can merge with it: a run starts at least one
        # window length before its first window's end, which comes after the last time seen.
        if self._current is None and self._pending is not None and \
                self._last_t - self.window_s - self._pending.offset >= self.merge_gap_s:
            out += self._finalize(self._pending)
            self._pending = None
        return out

    def _update_arrays(self, times: np.ndarray, proba: np.ndarray,
                       channel_proba: np.ndarray | None) -> list[Annotation]:
        """:meth:`update` on many windows: segments of equal state found with array operations."""
        smoothed = self._smooth(proba)
        state = np.where(smoothed >= self.threshold, 1.0, np.where(smoothed < self.threshold_off, 0.0, np.nan))
        # Hysteresis: undecided windows keep the previous state (forward fill from the carried one).
        idx = np.where(np.isnan(state), 0, np.arange(1, state.size + 1))
        np.maximum.accumulate(idx, out=idx)
        on = np.where(idx > 0, state[np.maximum(idx - 1, 0)], float(self._on)) == 1.0
        # A time jump longer than the merge gap (a recording gap) ends a running event.
        jumps = np.diff(np.concatenate([[self._last_t], times])) > max(self.gap_s, self.merge_gap_s)
        out: list[Annotation] = []
        edges = np.flatnonzero(np.diff(np.concatenate([[self._on], on]).astype(np.int8)) != 0)
        boundaries = np.union1d(edges, np.flatnonzero(jumps))
        segments = np.split(np.arange(times.size), boundaries)
        for seg in segments:
            if seg.size == 0:
                continue
            first = seg[0]
            if jumps[first] and self._current is not None:
                out += self._close()
            if not on[first]:
                if self._current is not None:
                    out += self._close()
                continue
            chan = channel_proba[seg].max(axis=0) if channel_proba is not None else None
            run = Run(onset=times[first] - self.window_s, offset=times[seg[-1]], peak=float(proba[seg].max()),
                      channel_peak=chan)
            if self._current is None:
                self._current = run
            else:
                self._current.absorb(run)
        self._on = bool(on[-1])
        return out

    def _update_windows(self, times: np.ndarray, proba: np.ndarray,
                        channel_proba: np.ndarray | None) -> list[Annotation]:
        """:meth:`update` window by window: the same decisions and numbers as :meth:`_update_arrays`.

        A live chunk brings a window or two, where the array formulation's few dozen NumPy calls
        cost more than its arithmetic. The smoothing adds in the order of ``np.cumsum`` and a
        segment's run is grown window by window with :meth:`Run.absorb` (maxima: exact), so the
        results are bit-for-bit those of the array formulation (tested).
        """
        p = proba.tolist()
        n, k = len(p), self.smooth_windows
        if k == 1:
            smoothed = p
        else:
            full = self._tail.tolist() + p
            csum = [0.0, full[0]]
            for v in full[1:]:
                csum.append(csum[-1] + v)
            m = len(full) - n
            smoothed = [(csum[j] - csum[max(j - k, 0)]) / min(j, k) for j in range(m + 1, m + n + 1)]
            self._tail = np.array(full[-(k - 1):])
        t = times.tolist()
        gap = max(self.gap_s, self.merge_gap_s)
        out: list[Annotation] = []
        on, prev_t = self._on, self._last_t
        for i in range(n):
            was_on = on
            if smoothed[i] >= self.threshold:
                on = True
            elif smoothed[i] < self.threshold_off:
                on = False
            jump = t[i] - prev_t > gap
            prev_t = t[i]
            if i == 0 or jump or on != was_on:  # a segment of equal state starts here
                if jump and self._current is not None:
                    out += self._close()
                if not on and self._current is not None:
                    out += self._close()
            if not on:
                continue
            run = Run(onset=times[i] - self.window_s, offset=times[i], peak=p[i],
                      channel_peak=None if channel_proba is None else channel_proba[i].copy())
            if self._current is None:
                self._current = run
            else:
                self._current.absorb(run)
        self._on = on
        return out

    def flush(self) -> list[Annotation]:
        """End of the recording: close and return whatever is still open."""
        out = self._close()
        if self._pending is not None:
            out += self._finalize(self._pending)
            self._pending = None
        self._on = False
        return out


def events_from_proba(times: np.ndarray, proba: np.ndarray, channel_proba: np.ndarray | None = None,
                      **params) -> list[Annotation]:
    """Batch form: all windows at once (``PostProcessor(**params)`` updated once, then flushed)."""
    pp = PostProcessor(**params)
    return pp.update(times, proba, channel_proba) + pp.flush()
