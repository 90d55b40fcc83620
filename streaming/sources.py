"""Live sources behind one interface: iterate ``(t_start, samples)``.

``t_start`` is the absolute time of the first sample (s since the epoch; None: right after the
previous chunk) and ``samples`` is ``(n, n_channels)`` float µV. Every source also has
``name``, ``channels``, ``fs`` and ``clip_level``; a source whose device reports its battery also has
``battery()``, the level from 0 to 1 (None when unknown), which the monitor's supervision polls.

Specs (:func:`open_stream`):

``replay:PATH``
    An archive, EDF/BDF file or device folder played at ``speed`` times real time (``inf``: as
    fast as possible) in chunks of ``chunk_s`` seconds, with the recording's real gaps (a gap
    of G seconds is a pause of G / speed).
``sim:`` or ``sim:SEED``
    An endless simulated patient (2 channels at 207 Hz, background EEG from
    :mod:`eegmon.simulate.signals` and a focal seizure about every ``seizure_every_s``), starting
    now, at ``speed`` times real time. The true onsets are in ``source.seizures``. Its device
    reports a battery (``source.battery()``) that runs down over ``battery_h`` hours of stream time,
    so the low-battery alarm can be tried (the level restarts full on a new run).
``lsl:NAME``
    A Lab Streaming Layer inlet (mne-lsl's bundled liblsl) on the stream called NAME (or whose
    source_id is NAME). LSL timestamps are mapped to the Unix epoch with the inlet's clock
    offset.

Chunk times come from integer sample counts (a segment's or the stream's start plus ``k / fs``),
never from adding up chunk lengths, so they stay exact over months; an LSL stream is re-anchored
on its own timestamps only where they part from the count (a real gap).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from eegmon.errors import EegmonError


class _Pacer:
    """Sleep so that stream time advances ``speed`` times faster than the wall clock."""

    def __init__(self, speed: float, sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        if not speed > 0:
            raise EegmonError(f"speed must be > 0 (inf: as fast as possible), got {speed}.")
        self.speed, self.sleep, self.clock = speed, sleep, clock
        self._origin: tuple[float, float] | None = None

    def wait_until(self, stream_t: float) -> None:
        if math.isinf(self.speed):
            return
        if self._origin is None:
            self._origin = (stream_t, self.clock())
            return
        due = self._origin[1] + (stream_t - self._origin[0]) / self.speed
        delay = due - self.clock()
        if delay > 0:
            self.sleep(delay)


class ReplaySource:
    """Play a recording (archive, EDF/BDF, device folder) as a live stream.

    Parameters
    ----------
    path : path-like
        What to play.
    speed : float
        Times real time (``math.inf``: no pacing).
    chunk_s : float
        Chunk length in seconds.
    start_at : float | None
        Skip samples before this time (s since the epoch): where a restarted monitor resumes.
    sleep, clock : callable
        Injected for tests.
    """

    def __init__(self, path: str | Path, *, speed: float = 1.0, chunk_s: float = 0.125, start_at: float | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        from eegmon.io import open_recording

        self.src = open_recording(path)
        self.name = f"replay:{Path(path).name}"
        self.channels, self.fs, self.clip_level = self.src.channels, self.src.fs, self.src.clip_level
        if not chunk_s > 0:
            raise EegmonError(f"chunk_s must be > 0, got {chunk_s}.")
        self.chunk_s, self.start_at = chunk_s, start_at
        self._pacer = _Pacer(speed, sleep, clock)

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        for t0, x in self.src.chunks(self.chunk_s, start=self.start_at):
            self._pacer.wait_until(t0 + len(x) / self.fs)
            yield t0, x


class SimSource:
    """An endless simulated patient.

    Parameters
    ----------
    seed : int
        Random seed (same seed, same signal).
    fs : float
        Sampling rate.
    n_channels : int
        Channels.
    chunk_s : float
        Chunk length in seconds.
    speed : float
        Times real time (``math.inf``: no pacing).
    start : float | None
        Time of the first sample (default: now).
    seizure_every_s : float
        Mean time between seizures (exponential intervals, none in the first 10 minutes).
    seizure_s : float
        Duration of each seizure.
    max_s : float | None
        Stop after this much signal (None: never).
    onsets : sequence of float | None
        Explicit seizure onsets, seconds after ``start`` (instead of random ones; for tests).
    battery_h : float
        Hours of stream time a full battery lasts (:meth:`battery` falls linearly to 0).
    """

    def __init__(self, seed: int = 0, *, fs: float = 207.0, n_channels: int = 2, chunk_s: float = 0.125,
                 speed: float = 1.0, start: float | None = None, seizure_every_s: float = 3600.0,
                 seizure_s: float = 60.0, max_s: float | None = None, onsets: Sequence[float] | None = None,
                 battery_h: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from eegmon.simulate.writer import channel_names

        self.seed, self.fs, self.chunk_s = seed, float(fs), chunk_s
        self.channels = channel_names(n_channels)
        self.clip_level = 3276.7
        self.name = f"sim:{seed}"
        self.start = time.time() if start is None else float(start)
        self.seizure_every_s, self.seizure_s, self.max_s = seizure_every_s, seizure_s, max_s
        self.seizures: list[float] = []
        self.onsets = None if onsets is None else sorted(float(o) for o in onsets)
        if not 0 < battery_h < math.inf:
            raise EegmonError(f"battery_h must be a number of hours > 0, got {battery_h!r}.")
        self.battery_h = float(battery_h)
        self._sent_s = 0.0  # stream time sent so far, for the battery
        self._pacer = _Pacer(speed, sleep, clock)

    def battery(self) -> float:
        """The device's battery level (0-1): full at the start, empty after ``battery_h`` hours sent."""
        return max(0.0, 1.0 - self._sent_s / (3600.0 * self.battery_h))

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        from eegmon.simulate import signals
        from eegmon.simulate.config import SimulationConfig

        rng = np.random.default_rng(self.seed)
        cfg = SimulationConfig()
        n_ch = len(self.channels)
        bg = signals.Background(rng, cfg, self.fs, n_ch)
        block = int(round(10 * self.fs))
        step = max(int(round(self.chunk_s * self.fs)), 1)
        ones = np.ones(1)
        planned = list(self.onsets) if self.onsets is not None else None

        def next_onset(after: float) -> float:
            if planned is not None:
                return planned.pop(0) if planned else math.inf
            return after + rng.exponential(self.seizure_every_s)

        next_sz = next_onset(600.0)
        pending: list[tuple[int, np.ndarray]] = []  # (first sample index, waveform) still to add
        done = 0
        buf = np.zeros((0, n_ch))
        while self.max_s is None or done < self.max_s * self.fs:
            if buf.shape[0] < step:
                x = bg.block(block, ones, ones, ones).astype(float)
                b0 = done + buf.shape[0]
                while next_sz * self.fs < b0 + block:
                    i0 = int(round(next_sz * self.fs))
                    self.seizures.append(self.start + i0 / self.fs)
                    wave = signals.seizure(rng, "focal_evolving", self.seizure_s, self.fs, cfg.seizure_uv)
                    pending.append((i0, wave))
                    next_sz = next_onset(next_sz + self.seizure_s + 120.0)
                keep = []
                for i0, wave in pending:
                    a, b = max(i0, b0), min(i0 + wave.size, b0 + block)
                    if a < b:
                        x[a - b0:b - b0] += wave[a - i0:b - i0, None]
                    if i0 + wave.size > b0 + block:
                        keep.append((i0, wave))
                pending = keep
                buf = np.concatenate([buf, x])
                continue
            out, buf = buf[:step], buf[step:]
            t0 = self.start + done / self.fs
            done += step
            self._pacer.wait_until(self.start + done / self.fs)
            self._sent_s = done / self.fs
            yield t0, out


class LslSource:
    """A Lab Streaming Layer inlet (via mne-lsl).

    Parameters
    ----------
    name : str
        Stream name or source_id to resolve.
    timeout_s : float
        How long to look for the stream.
    pull_timeout_s : float
        How long one pull waits for samples.
    max_idle_s : float | None
        End the iteration after this long without samples (None: wait forever).
    resync_s : float
        A chunk's time is the first sample's LSL timestamp plus the samples since at the nominal
        rate; where an LSL timestamp parts from that by more than this (samples lost, a clock
        correction), a new chunk starts and the count restarts from its timestamp.
    """

    def __init__(self, name: str, *, timeout_s: float = 5.0, pull_timeout_s: float = 0.2,
                 max_idle_s: float | None = None, resync_s: float = 0.1) -> None:
        from mne_lsl.lsl import StreamInlet, local_clock, resolve_streams

        infos = resolve_streams(timeout=timeout_s, name=name) or resolve_streams(timeout=timeout_s, source_id=name)
        if not infos:
            raise EegmonError(f"no LSL stream called {name!r} (by name or source_id) found in {timeout_s:g} s.")
        info = infos[0]
        self.name = f"lsl:{name}"
        self.fs = float(info.sfreq)
        if not self.fs > 0:
            raise EegmonError(f"LSL stream {name!r} has an irregular rate; a regular EEG stream is needed.")
        names = info.get_channel_names() if hasattr(info, "get_channel_names") else None
        self.channels = tuple(names) if names and all(names) else tuple(f"ch{i + 1}" for i in range(info.n_channels))
        self.clip_level = 1e6
        # no "dejitter": it smooths a gap over many seconds; counting samples is the dejittering here
        self.inlet = StreamInlet(info, processing_flags=("clocksync",))
        self.inlet.open_stream(timeout=timeout_s)
        self._offset = time.time() - local_clock()  # LSL clock -> Unix epoch
        self.pull_timeout_s, self.max_idle_s, self.resync_s = pull_timeout_s, max_idle_s, resync_s

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        idle = time.monotonic()
        anchor, count = math.nan, 0  # LSL time of the sample the count starts from; samples since
        try:
            while True:
                data, ts = self.inlet.pull_chunk(timeout=self.pull_timeout_s, max_samples=4096)
                if len(ts):
                    idle = time.monotonic()
                    ts, data = np.asarray(ts, dtype=float), np.asarray(data, dtype=float)
                    a = 0
                    while a < len(ts):  # a pull may hold a gap: one chunk per run that fits the count
                        if not abs(ts[a] - (anchor + count / self.fs)) <= self.resync_s:
                            anchor, count = float(ts[a]), 0
                        fits = np.abs(ts[a:] - (anchor + (count + np.arange(len(ts) - a)) / self.fs)) <= self.resync_s
                        b = len(ts) if fits.all() else a + int(np.argmin(fits))
                        yield anchor + count / self.fs + self._offset, data[a:b]
                        count, a = count + b - a, b
                elif self.max_idle_s is not None and time.monotonic() - idle > self.max_idle_s:
                    return
        finally:
            self.inlet.close_stream()


def open_stream(spec: str, *, speed: float = 1.0, chunk_s: float = 0.125, start_at: float | None = None,
                lsl_timeout_s: float = 5.0):
    """Open a source from its spec (``replay:PATH``, ``sim:[SEED]``, ``lsl:NAME``); see the module docstring."""
    kind, _, arg = spec.partition(":")
    if kind == "replay" and arg:
        return ReplaySource(arg, speed=speed, chunk_s=chunk_s, start_at=start_at)
    if kind == "sim":
        try:
            seed = int(arg) if arg else 0
        except ValueError:
            raise EegmonError(f"sim:SEED needs an integer seed, got {arg!r}.", spec) from None
        return SimSource(seed, chunk_s=chunk_s, speed=speed, start=start_at)
    if kind == "lsl" and arg:
        return LslSource(arg, timeout_s=lsl_timeout_s)
    raise EegmonError("unknown source; expected replay:PATH, sim:[SEED] or lsl:NAME.", spec)

