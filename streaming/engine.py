"""The live engine: one :class:`StreamEngine` per stream (patient), a :class:`Monitor` for many.

Each chunk goes through

1. **validation and ordering** (never raises): a malformed chunk (wrong shape, non-finite
   time) is dropped; a chunk starting within ``jitter_s`` of where the previous one ended is
   contiguous; a later start is a gap (dropped packets or a real gap); a chunk wholly before the
   end is *late* (a duplicate or out-of-order packet: dropped); when two consecutive chunks are
   more than ``late_window_s`` behind, the source clock *jumped back*: the stream's clock offset
   is corrected and the samples are kept as contiguous (the first of the two is lost); a chunk
   overlapping the end is trimmed. Each case is a signal-quality
   event.
2. **the one pipeline** (:class:`eegmon.detectors.StreamingDetector`: filters, features,
   detector, post-processing), exactly as batch detection runs it, so the finished events are
   the same (tested). NaN samples and electrode-off windows are gated to probability 0 by the
   detector; the engine reports them as signal-quality events (start and end), never alerts.
   A chunk that completes no window (7 in 8 of a live stream's 1/8-s chunks) is held and given to
   the detector with the one that completes the next window: the same samples in the same order,
   so the same results, for one detector call per window.
3. **alerting**: as soon as the running event (``StreamingDetector.active``) reaches the policy's minimum
   probability and duration, a :class:`~eegmon.streaming.outbox.SeizureEvent` is written to the
   outbox (event and alerts in one transaction); the wall time from the chunk's arrival to that
   commit is its ``latency_s``.
4. **archive**: raw samples (int32, 0.01 µV steps, NaN runs left out as gaps) are appended in
   blocks of ``archive_block_s`` seconds (a crash loses at most the block being buffered);
   finished detections are added to its detections table (not again when an overlapping one is
   already there, so a resumed replay does not duplicate them).

An exception inside the pipeline is logged, recorded as an ``engine_error`` quality event and
the detector restarted: the engine never dies on a bad chunk.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eegmon.errors import EegmonError
from eegmon.events import Annotation

from ._kernels import any_nan
from .localtime import local_time
from .outbox import Outbox, SeizureEvent, event_id

if TYPE_CHECKING:
    from eegmon.detectors.runner import Staged
from .policy import AlertRules

logger = logging.getLogger("eegmon.streaming")

#: Archive storage step for live samples (µV per digital unit) and the int32 range it covers.
ARCHIVE_GAIN_UV = 0.01
_I32 = np.iinfo(np.int32)


@dataclass(frozen=True)
class QualityEvent:
    """A signal-quality event (never an alert).

    ``kind`` is one of ``gap``, ``late``, ``overlap``, ``clock_jump``, ``malformed``,
    ``nan_start``/``nan_end``, ``bad_signal_start``/``bad_signal_end``, ``engine_error``.
    """

    stream: str
    kind: str
    t: float
    detail: str = ""


FEATURE_BLOCK_S = 3600.0


def storage_cause(err: BaseException, folder: str | Path) -> str:
    """What stopped a write, in words: ``disk full``, ``read-only file system``, ``I/O error`` or the error.

    HDF5 and SQLite report a failed write in their own words (and errno is often lost), so the
    file system is asked too.
    """
    import errno
    import os

    names = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system",
             errno.EIO: "I/O error", errno.EACCES: "permission denied"}
    for e in (err, err.__cause__, err.__context__):
        if isinstance(e, OSError) and e.errno in names:
            return names[e.errno]
    try:
        st = os.statvfs(folder)
    except OSError:
        st = None
    if st is not None and st.f_flag & os.ST_RDONLY:
        return "read-only file system"
    if st is not None and st.f_bavail * st.f_frsize < 1 << 20:
        return "disk full"
    text = str(err)
    if "No space left" in text or "disk is full" in text:
        return "disk full"
    return f"{type(err).__name__}: {text}"[:200]


@dataclass
class StorageFault:
    """The archive could not be written since ``at`` (wall-clock s); ``since`` is the first sample not stored."""

    cause: str
    at: float
    since: float | None = None


class ArchiveWriter:
    """Append a live stream's samples and detections to an archive, block by block.

    A failed write (disk full, read-only, failing) never raises: the block is dropped, the
    writer enters a :class:`StorageFault` (reported once through ``on_storage``) and tries again
    with the next block; detections wait in memory. When a block is stored again, the span not
    recorded is added to the archive as an annotation labelled ``gap`` (source ``monitor``, its
    cause in ``original_label``), the waiting detections are stored and the recovery is reported.

    Parameters
    ----------
    path : path-like
        Archive manifest (created if missing, else it must have the same channels and rate).
    channels, fs :
        The stream's channels and rate.
    block_s : float
        Seconds buffered before a segment is written.
    source : str
        Recorded as the segments' source (``live:<stream>``).
    on_storage : callable | None
        Called as ``on_storage(kind, t, detail)`` when writing stops (``archive_unwritable``, with the
        cause) and when it works again (``archive_writable``, with the span not recorded); the
        :class:`StreamEngine` it is given to sets it.
    """

    def __init__(self, path: str | Path, channels: Sequence[str], fs: float, *, block_s: float = 300.0,
                 source: str = "live", on_storage: Callable[[str, float, str], None] | None = None) -> None:
        path = Path(path)
        try:
            self.arc = self._open(path, channels, fs)
        except OSError as err:  # at start a person is there to fix it: a clear error, no fallback
            raise EegmonError(f"cannot write the archive ({storage_cause(err, path.parent)}); free space, fix the "
                              "disk or run without --archive.", path) from err
        self.fs, self.n_ch = float(fs), len(channels)
        self.block = max(int(block_s * fs), 1)
        self.source = source
        #: Data before this time is already stored (a restart resumes here). The stored end is the
        #: last segment's start (to the microsecond) plus its n_samples / fs, so it is within a
        #: microsecond of the next sample's time and :meth:`write` skips a whole number of samples.
        self.resume_t: float | None = self.arc.stop if self.arc.segments else None
        self._start: float | None = None
        self._parts: list[np.ndarray] = []
        self._n = 0
        self._tables: list = []
        #: Feature windows ending before or at this time are already stored.
        self.features_done: float = float(np.nan_to_num(self.arc.features_stop, nan=-np.inf))
        self.on_storage = on_storage
        #: Set while the archive cannot be written.
        self.fault: StorageFault | None = None
        #: Every cause met so far and the seconds of samples not recorded (the monitor's summary).
        self.causes: list[str] = []
        self.unrecorded_s = 0.0
        self._detections: list[Annotation] = []  # waiting for a writable archive
        self._last = -np.inf  # time just after the last sample given to write

    @staticmethod
    def _open(path: Path, channels: Sequence[str], fs: float):
        from eegmon.archive import Archive

        if not path.exists():
            return Archive.create(path, channels, fs)
        arc = Archive.open(path, "a")
        if tuple(arc.channels) != tuple(channels) or abs(arc.fs - fs) > 1e-9:
            raise EegmonError(f"the archive holds {list(arc.channels)} at {arc.fs:g} Hz, the stream "
                              f"{list(channels)} at {fs:g} Hz.", path)
        return arc

    def write(self, t0: float, x: np.ndarray) -> None:
        """Buffer samples starting at ``t0``; write a segment when a block is full or at a gap."""
        if self.resume_t is not None and t0 < self.resume_t - 0.5 / self.fs:
            skip = int(round((self.resume_t - t0) * self.fs))
            if skip >= x.shape[0]:
                return
            x, t0 = x[skip:], t0 + skip / self.fs
        if self._start is not None and abs(t0 - (self._start + self._n / self.fs)) > 0.5 / self.fs:
            self.flush()
        if self._start is None:
            self._start = t0
        self._last = max(self._last, t0 + x.shape[0] / self.fs)
        self._parts.append(x)
        self._n += x.shape[0]
        if self._n >= self.block:
            self.flush()

    def write_features(self, table) -> None:
        """Buffer a chunk's feature windows; store them as one file per ``FEATURE_BLOCK_S`` of windows.

        Features can be recomputed from the stored samples, so they are written in larger
        blocks than the samples (fewer files); a crash loses at most one block of them.
        """
        keep = table.times > self.features_done
        if keep.any():
            self._tables.append(type(table)(table.times[keep], table.values[keep], table.feature_names,
                                            table.channel_names))
            self.features_done = float(table.times[-1])
            if self.features_done - float(self._tables[0].times[0]) >= FEATURE_BLOCK_S:
                self._flush_features()

    def _flush_features(self) -> None:
        if self._tables:
            table = type(self._tables[0]).concat(self._tables)
            self._tables = []  # dropped if the write fails: features can be recomputed from the samples
            try:
                self.arc.write_features(table)
            except Exception as err:  # noqa: BLE001 - a storage fault must not stop detection
                self._failed(err, None)

    def flush(self) -> None:
        """Write what is buffered (finite runs only; NaN samples become gaps); never raises on a storage fault."""
        if not self._parts:
            return
        x = np.concatenate(self._parts)
        start = self._start
        self._parts, self._n, self._start = [], 0, None
        finite = np.all(np.isfinite(x), axis=1)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], finite.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            digital = np.clip(np.rint(x[a:b] / ARCHIVE_GAIN_UV), _I32.min, _I32.max).astype(np.int32).T
            try:
                self.arc.append_segment(start + a / self.fs, np.ascontiguousarray(digital),
                                        [ARCHIVE_GAIN_UV] * self.n_ch, [0.0] * self.n_ch, source=self.source)
            except Exception as err:  # noqa: BLE001 - a storage fault must not stop detection
                # the rest of the block is dropped too: one attempt per block, not one per chunk
                self._failed(err, start + a / self.fs)
                return
            self._stored(start + a / self.fs)
            self.resume_t = start + b / self.fs

    def _failed(self, err: BaseException, since: float | None) -> None:
        if self.fault is None:
            self.fault = StorageFault(storage_cause(err, self.arc.seg_dir), time.time(), since)
            self.causes.append(self.fault.cause)
            logger.error("archive %s not writable (%s); detection and alerting go on without it", self.arc.path,
                         self.fault.cause, exc_info=logger.isEnabledFor(logging.DEBUG))
            if self.on_storage is not None:
                self.on_storage("archive_unwritable", since if since is not None else np.nan, self.fault.cause)
        elif self.fault.since is None:
            self.fault.since = since

    def _stored(self, t: float) -> None:
        """A segment starting at ``t`` was written: end a fault, recording the span it did not store."""
        fault, self.fault = self.fault, None
        if fault is not None:
            detail = "no samples lost"
            if fault.since is not None and t > fault.since:
                self.unrecorded_s += t - fault.since
                detail = f"{t - fault.since:.0f} s not recorded ({fault.cause}), stored as a gap"
                self._detections.append(Annotation(fault.since, t - fault.since, "gap", source="monitor",
                                                   original_label=f"not recorded: {fault.cause}"))
            logger.warning("archive %s writable again: %s", self.arc.path, detail)
            if self.on_storage is not None:
                self.on_storage("archive_writable", t, detail)
        if self._detections:
            self.add_detections([])

    def add_detections(self, events: Iterable[Annotation]) -> int:
        """Store finished detections not overlapping one already stored; return how many were added.

        While the archive cannot be written they wait in memory, and are stored with the next block
        that is (``gap`` annotations of the writer itself go to the annotations table).
        """
        self._detections += list(events)
        if self.fault is not None or not self._detections:
            return 0
        waiting, self._detections = self._detections, []
        try:
            gaps = [ev for ev in waiting if ev.source == "monitor"]
            if gaps:
                self.arc.add_annotations(gaps)
            new = [ev for ev in waiting if ev.source != "monitor"
                   and not any(d.source == ev.source for d in self.arc.detections(ev.onset, ev.offset))]
            return len(self.arc.add_detections(new)) if new else 0
        except Exception as err:  # noqa: BLE001 - kept for the next try
            self._detections = waiting  # gaps already stored are not stored twice (identical rows are reused)
            self._failed(err, None)
            return 0

    def close(self) -> None:
        """Flush samples and features and close (what cannot be written is reported, not raised)."""
        self.flush()
        self._flush_features()
        if self.fault is not None and self.fault.since is not None:
            self.unrecorded_s += max(0.0, self._last - self.fault.since)
        if self._detections:
            logger.error("archive %s: %d detection(s) could not be stored (%s)", self.arc.path,
                         len(self._detections), self.fault.cause if self.fault else "archive not writable")
        self.arc.close()


@dataclass
class StagedChunk:
    """A chunk ordered and run to its detector rows by :meth:`StreamEngine.stage` (no estimator yet)."""

    t_push: float | None
    x: np.ndarray
    arrival: float
    detector: Staged | None = None

    @property
    def rows(self) -> np.ndarray | None:
        """The detector rows (n_windows, n_channels, n_columns), or None when the chunk completed no window."""
        return None if self.detector is None else self.detector.rows


@dataclass
class StreamStats:
    """Counters of one stream."""

    chunks: int = 0
    samples: int = 0
    windows: int = 0
    quality: dict[str, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)


class StreamEngine:
    """One stream (patient) through the pipeline, with ordering, quality events, alerts and archive.

    Parameters
    ----------
    stream : str
        Stream id (events and alerts are keyed on it).
    model : DetectionModel
        From :func:`eegmon.detectors.load_detector`.
    fs, channels, clip_level :
        The source's rate, channel names and rails (see ``eegmon.features.Pipeline``'s ``clip_level``).
    name : str | None
        Detector name (events' source is ``detector:<name>``).
    rules : AlertRules | None
        When to alert (None: defaults).
    outbox : Outbox | None
        Where seizure events (and their alerts) and quality events go.
    archive : ArchiveWriter | None
        Where samples and finished detections go.
    line_freq : float
        Mains frequency.
    jitter_s, late_window_s : float
        Ordering tolerances (see the module docstring).
    on_event, on_quality : callable | None
        Called with each :class:`SeizureEvent` / :class:`QualityEvent` as it happens.
    clock : callable
        Monotonic clock for latencies.
    last_resort : callable | None
        ``last_resort(title, body)`` delivers a message at once, bypassing the outbox
        (:meth:`eegmon.streaming.live.LiveSystem.last_resort`): used when the outbox itself cannot
        be written, for seizure alerts and for the supervision messages.

    Notes
    -----
    Storage faults never stop detection. When the archive cannot be written (see
    :class:`ArchiveWriter`) the engine records an ``archive_unwritable`` quality event and queues a
    ``supervision`` notice to every contact, once, and ``archive_writable`` with a second notice
    when writing works again. When the outbox cannot be written, a seizure alert goes out through
    ``last_resort`` (and stderr) instead, and the fault is reported once the same way.
    """

    def __init__(self, stream: str, model, *, fs: float, channels: Sequence[str],
                 clip_level: float | np.ndarray = 1000.0, name: str | None = None, rules: AlertRules | None = None,
                 outbox: Outbox | None = None,
                 archive: ArchiveWriter | None = None, line_freq: float = 50.0, jitter_s: float = 0.05,
                 late_window_s: float = 5.0, on_event: Callable[[SeizureEvent], None] | None = None,
                 on_quality: Callable[[QualityEvent], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter,
                 last_resort: Callable[[str, str], None] | None = None) -> None:
        self.stream, self.model, self.name = stream, model, name
        self.fs, self.channels = float(fs), tuple(channels)
        self.clip_level, self.line_freq = clip_level, line_freq
        self.rules = rules or AlertRules()
        self.outbox, self.archive = outbox, archive
        self.jitter_s, self.late_window_s = jitter_s, late_window_s
        self.on_event, self.on_quality, self.clock = on_event, on_quality, clock
        self.last_resort = last_resort
        self._outbox_fault: str | None = None  # why the outbox cannot be written, while it cannot
        if archive is not None:
            archive.on_storage = self._storage
        self.stats = StreamStats()
        self.events: list[Annotation] = []  # finished detections
        self.alerts: list[SeizureEvent] = []  # seizure events emitted (new ones only)
        self.quality: deque[QualityEvent] = deque(maxlen=10_000)  # the latest (all are in the outbox)
        # Stream time is kept as an integer sample count from an anchor (the first chunk, a gap), so
        # it never accumulates the float rounding of adding chunk lengths (days of small chunks).
        self._anchor: float | None = None  # stream time of the sample the count starts from
        self._count = 0  # samples accepted since the anchor
        self._end: float | None = None  # stream time just after the last accepted sample (anchor + count / fs)
        self._offset = 0.0  # correction after a clock jump
        self._jump: float | None = None  # where a chunk far in the past ended (a clock jump if the next follows)
        self._alerted: float | None = None  # onset of the running event already emitted
        self._probability: float | None = None  # of the latest window
        self._nan = self._bad = False
        self._grid = self._window_grid()
        self._new_detector()

    def _window_grid(self):
        """Where the detector's windows end (:func:`eegmon.features.window_grid`), or None when it cannot be told.

        Known when the detector runs at the stream's rate (no resampler between a sample and its
        window position) and every time the engine gives it is a gap to its pipeline as well
        (``jitter_s`` above half a sample); then :meth:`_feed` holds chunks that complete no window.
        """
        from eegmon.features import window_grid

        grid = window_grid(self.fs, self.model.window_s, self.model.hop_s, resample_to=self.model.fs)
        return grid if grid.resample_to is None and self.jitter_s > 0.5 / self.fs else None

    def _new_detector(self) -> None:
        from eegmon.detectors import StreamingDetector

        self.detector = StreamingDetector(self.model, self.fs, self.channels, clip_level=self.clip_level,
                                          name=self.name, line_freq=self.line_freq)
        self._cold = True  # its first chunk must carry a time
        self._held: list[np.ndarray] = []  # chunks of this segment not given to the detector yet
        self._held_t: float | None = None  # the time to give with them (a segment start) or None
        self._fed = 0  # samples of this segment given to the detector or held for it
        self._next_end = 0  # where the next window ends, in samples from the segment start

    def _flag(self, kind: str, t: float, detail: str = "") -> None:
        q = QualityEvent(self.stream, kind, float(t), detail)
        self.quality.append(q)
        self.stats.quality[kind] = self.stats.quality.get(kind, 0) + 1
        logger.info("%s: signal quality %s at %s %s", self.stream, kind,
                    local_time(t, self.outbox and self.outbox.policy.patient.time_zone), detail)
        if self.outbox is not None:
            self._outbox_write(self.outbox.record_quality, self.stream, kind, float(t), detail)
        if self.on_quality is not None:
            self.on_quality(q)

    # ------------------------------------------------------------------ storage faults
    def _outbox_write(self, write: Callable, *args, **kwargs):
        """``write(*args, **kwargs)`` on the outbox; on a failure report it (once) and return None."""
        try:
            out = write(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - a storage fault must not stop detection
            if self._outbox_fault is None:
                self._outbox_fault = storage_cause(err, self.outbox.path.parent)
                logger.error("%s: alert outbox %s not writable (%s); alerts are sent directly", self.stream,
                             self.outbox.path, self._outbox_fault, exc_info=logger.isEnabledFor(logging.DEBUG))
                self._direct("eegmon: alert outbox not writable",
                             f"The alert outbox {self.outbox.path.name} cannot be written ({self._outbox_fault}). "
                             "Seizure alerts are sent directly, once, without retries, escalation or "
                             "acknowledgement link, until it can be written again.")
            return None
        if self._outbox_fault is not None:
            logger.warning("%s: alert outbox %s writable again", self.stream, self.outbox.path)
            self._outbox_fault = None
        return out

    def _direct(self, title: str, body: str) -> None:
        """Deliver a message now, around the outbox (its last resort), and to stderr."""
        import sys

        print(f"{'' if title.startswith('eegmon') else 'eegmon: '}{title}: {body}", file=sys.stderr, flush=True)
        if self.last_resort is not None:
            self.last_resort(title, body)

    def _storage(self, kind: str, t: float, detail: str) -> None:
        """The archive writer's report: a quality event and a supervision notice to every contact."""
        t = float(t) if np.isfinite(t) else (self._end or time.time())
        self._flag(kind, t, detail)
        patient = self._patient
        when = local_time(t, patient.time_zone)
        if kind == "archive_unwritable":
            title = "eegmon: recording not saved"
            body = (f"The recording of {patient.alias} cannot be saved since {when} ({detail}). Seizure detection "
                    "and alerts go on; the samples are not kept until the archive can be written again "
                    "(free disk space or fix the disk).")
        else:
            title = "eegmon: recording saved again"
            body = f"The recording of {patient.alias} is saved again since {when}: {detail}."
        if self.outbox is None:
            self._direct(title, body)
            return
        queued = self._outbox_write(self.outbox.queue_notice, "supervision", f"{self.stream}|{kind}|{t:.3f}",
                                    self.outbox.policy.contacts, title, body)
        if queued is None:
            self._direct(title, body)

    # ------------------------------------------------------------------ ordering
    def _order(self, t0: float | None, x) -> tuple[float | None, float, np.ndarray] | None:
        """(time to push (None: contiguous), absolute start, samples) or None to drop the chunk."""
        try:
            x = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            self._flag("malformed", self._end or 0.0, "samples are not numeric")
            return None
        if x.ndim != 2 or x.shape[1] != len(self.channels) or x.shape[0] == 0:
            self._flag("malformed", self._end or 0.0, f"shape {x.shape}, expected (n, {len(self.channels)})")
            return None
        if t0 is None:
            if self._end is None:
                self._flag("malformed", 0.0, "first chunk has no time")
                return None
            return None, self._end, x
        t0 = float(t0)
        if not np.isfinite(t0):
            self._flag("malformed", self._end or 0.0, f"chunk time {t0}")
            return None
        t = t0 + self._offset
        if self._end is None:
            return t, t, x
        delta = t - self._end
        dur = x.shape[0] / self.fs
        if delta >= -self.late_window_s - dur:
            self._jump = None
        if abs(delta) <= self.jitter_s:
            return None, self._end, x
        if delta > 0:
            resume = self.archive.resume_t if self.archive is not None else None
            if resume is None or t > resume + 0.5 / self.fs:
                # (a gap before the archive's end was seen before a restart: the resume replays it)
                self._flag("gap", self._end, f"{delta:.3f} s without samples")
            return t, t, x
        if -delta > self.late_window_s + dur:
            # A stray late packet or the source clock jumping back? A jump is confirmed when the
            # next chunk continues from this one; until then the chunk is dropped as late.
            if self._jump is not None and abs(t - self._jump) <= self.jitter_s:
                self._jump = None
                self._offset += -delta
                self._flag("clock_jump", self._end, f"source clock went back {-delta:.3f} s; re-aligned")
                return None, self._end, x
            self._jump = t + dur
            self._flag("late", t, f"chunk of {dur:.3f} s arrived {-delta:.3f} s late; dropped")
            return None
        if t + dur <= self._end + self.jitter_s:
            self._flag("late", t, f"chunk of {dur:.3f} s arrived {-delta:.3f} s late; dropped")
            return None
        skip = int(round(-delta * self.fs))
        self._flag("overlap", t, f"first {skip} samples overlap earlier data; trimmed")
        return None, self._end, x[skip:]

    # ------------------------------------------------------------------ pipeline
    @property
    def end(self) -> float | None:
        """Stream time just after the last accepted sample (None before the first).

        It is the anchor (the first chunk's time, or the time after the latest gap) plus the samples
        accepted since then over ``fs``: exact to a float rounding however many chunks came.
        """
        return self._end

    @property
    def probability(self) -> float | None:
        """Seizure probability of the latest window (the channel vote; None before the first window)."""
        return self._probability

    @property
    def _patient(self):
        """The patient's alias and time zone for messages (the defaults without an outbox)."""
        from .policy import PatientSettings

        return self.outbox.policy.patient if self.outbox is not None else PatientSettings()

    def stage(self, t0: float | None, x) -> StagedChunk | None:
        """Order a chunk and run it to the detector rows (no estimator yet); None if dropped.

        A chunk that completes no window is accepted (ordering, quality events, archive) and held
        for the detector (see :meth:`_feed`): its ``rows`` are None, as they would be anyway.
        """
        arrival = self.clock()
        try:
            ordered = self._order(t0, x)
            if ordered is None:
                return None
            t_push, start, x = ordered
            if x.shape[0] == 0:
                return None
            staged = StagedChunk(t_push, x, arrival)
            staged.detector = self._feed(start if t_push is None and self._cold else t_push, x)
            if t_push is not None:  # the first chunk or after a gap: a new anchor
                self._anchor, self._count = t_push, 0
            self._count += x.shape[0]
            self._end = self._anchor + self._count / self.fs
            self.stats.chunks += 1
            self.stats.samples += x.shape[0]
            nan = any_nan(x)
            if nan != self._nan:
                self._nan = nan
                self._flag("nan_start" if nan else "nan_end", start, "NaN samples" if nan else "")
        except Exception as err:  # noqa: BLE001 - the engine must not die
            self.recover(err)
            return None
        if self.archive is not None:
            # outside the try: the writer handles storage faults itself, the detector is never restarted for them
            self.archive.write(start, x)
            if staged.detector is not None and len(staged.detector.table):
                self.archive.write_features(staged.detector.table)
        return staged

    def _feed(self, t: float | None, x: np.ndarray) -> Staged | None:
        """Give a chunk to the detector (``t``: a segment start, else None); None while it is held.

        A chunk that completes no window only moves the detector's filter state and window history
        forward: with a known window grid it is held and given with the chunk that completes the
        next window, as one chunk. The detector's output is the same whatever the chunking (the
        same samples through the same filters, bit for bit), and a held chunk has no output to
        wait for; a live stream's 1/8-s chunks then cost one detector call per window instead of
        eight. At a segment start, held samples are let go: the detector would forget them there
        (filters restart and partial windows are dropped at a gap).
        """
        if t is not None:
            self._cold = False
            self._held, self._held_t, self._fed = [], t, 0
            self._next_end = 0 if self._grid is None else self._grid.window
        if self._grid is None:
            return self.detector.stage(x, t)
        self._held.append(x)
        self._fed += x.shape[0]
        if self._fed < self._next_end:
            return None
        x = x if len(self._held) == 1 else np.concatenate(self._held)
        t, self._held, self._held_t = self._held_t, [], None
        staged = self.detector.stage(x, t)
        win, hop = self._grid.window, self._grid.hop
        self._next_end = win + ((self._fed - win) // hop + 1) * hop  # the first window end after the samples fed
        return staged

    def proba(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The estimator on detector rows: ``(channel_proba, bad)`` (:meth:`eegmon.detectors.StreamingDetector.proba`).

        ``rows`` are those of a :meth:`stage` of this stream, or of several streams of the same model
        concatenated (:class:`Monitor` runs the estimator once for all of them).
        """
        return self.detector.proba(rows)

    def finish(self, staged: StagedChunk, channel_proba: np.ndarray | None,
               bad: np.ndarray | None) -> list[SeizureEvent]:
        """Post-process the estimator output of a staged chunk; return the seizure events emitted."""
        try:
            if staged.rows is None:
                return []
            chunk = self.detector.finish(staged.detector, channel_proba, bad)
            self.stats.windows += len(chunk.times)
            if len(chunk.proba):
                self._probability = float(chunk.proba[-1])
            for t, row in zip(chunk.times.tolist(), bad.tolist(), strict=True):
                b = any(row)
                if b != self._bad:
                    self._bad = b
                    self._flag("bad_signal_start" if b else "bad_signal_end", t,
                               "signal-quality gate (flat, clipped, NaN)" if b else "")
            out = self._check_alert(staged.arrival, float(chunk.times[-1]))
            self._finished(chunk.events)
            return out + self._late_alerts(chunk.events, staged.arrival, float(chunk.times[-1]))
        except Exception as err:  # noqa: BLE001
            self.recover(err)
            return []

    def push(self, t0: float | None, x) -> list[SeizureEvent]:
        """Process one chunk end to end; return the seizure events it emitted."""
        staged = self.stage(t0, x)
        if staged is None or staged.rows is None:
            return []
        try:
            channel_proba, bad = self.proba(staged.rows)
        except Exception as err:  # noqa: BLE001
            self.recover(err)
            return []
        return self.finish(staged, channel_proba, bad)

    def _check_alert(self, arrival: float, t_window: float) -> list[SeizureEvent]:
        run = self.detector.active
        if run is None or run.onset == self._alerted:
            return []
        if run.peak < self.rules.min_probability or run.offset - run.onset < self.rules.min_duration_s:
            return []
        self._alerted = run.onset
        chans: tuple[str, ...] = ()
        if run.channel_peak is not None:
            chans = tuple(n for n, p in zip(self.channels, run.channel_peak, strict=True)
                          if p >= self.rules.min_probability)
        return self._emit(float(run.onset), float(run.peak), t_window, chans, arrival)

    def _late_alerts(self, events: list[Annotation], arrival: float, t_window: float) -> list[SeizureEvent]:
        """Alerts for finished detections that meet the rules but were never alerted while running.

        Post-processing can join two short runs into one detection that meets the rules only as a
        whole, or a run can end in the very chunk that would have made it long enough.
        """
        out: list[SeizureEvent] = []
        for ev in events:
            peak = 1.0 if ev.confidence is None else float(ev.confidence)
            if peak < self.rules.min_probability or ev.duration < self.rules.min_duration_s:
                continue
            if any(ev.onset - self.rules.refractory_s <= a.onset <= ev.offset for a in self.alerts):
                continue
            self._alerted = ev.onset
            out += self._emit(float(ev.onset), peak, t_window, tuple(ev.channels), arrival)
        return out

    def _emit(self, onset: float, peak: float, t_window: float, chans: tuple[str, ...],
              arrival: float) -> list[SeizureEvent]:
        """Record a seizure event (and its alerts) in the outbox, or send it directly when it cannot be."""
        ev = SeizureEvent(event_id(self.stream, onset), self.stream, onset, peak, t_window, None, chans)
        new = True
        if self.outbox is not None:
            new = self._outbox_write(self.outbox.record_event, ev)
            if new is None:  # not stored: this is the only time it can go out
                patient = self._patient
                new = True
                self._direct(f"Seizure alert: {patient.alias}",
                             f"eegmon detected a possible seizure of {patient.alias}, started "
                             f"{local_time(ev.onset, patient.time_zone)} (probability {ev.probability:.2f}).\n"
                             f"Sent directly: the alert outbox cannot be written ({self._outbox_fault}); no "
                             "retries, escalation or acknowledgement link.")
        latency = self.clock() - arrival
        ev = SeizureEvent(ev.id, ev.stream, ev.onset, ev.probability, ev.detected_at, latency, ev.channels)
        self.stats.latencies_s.append(latency)
        if not new:
            logger.info("%s: event at %s is within the refractory period of a known one", self.stream,
                        local_time(ev.onset, self.outbox and self.outbox.policy.patient.time_zone))
            return []
        self.alerts.append(ev)
        logger.info("%s: seizure event %s onset %s p=%.2f (latency %.1f ms)", self.stream, ev.id,
                    local_time(ev.onset, self.outbox and self.outbox.policy.patient.time_zone), ev.probability,
                    latency * 1e3)
        if self.on_event is not None:
            self.on_event(ev)
        return [ev]

    def _finished(self, events: list[Annotation]) -> None:
        if not events:
            return
        self.events += events
        if self.archive is not None:
            self.archive.add_detections(events)

    def recover(self, err: BaseException) -> None:
        """After a pipeline error: log it, record an ``engine_error`` quality event and restart the detector.

        The new detector starts cold (filters, baseline and warm-up, no open event), at the next chunk,
        which starts a segment for it at the chunk's stream time (its own time or none).
        """
        logger.exception("%s: pipeline error; detector restarted", self.stream)
        self._flag("engine_error", self._end or 0.0, f"{type(err).__name__}: {err}"[:200])
        self._new_detector()
        self._alerted = None

    def close(self) -> list[Annotation]:
        """End of the stream: flush open events and the archive; return the events flushed."""
        try:
            events = self.detector.flush()
            self._finished(events)
            self._late_alerts(events, self.clock(), self._end or 0.0)
        except Exception as err:  # noqa: BLE001
            self.recover(err)
            events = []
        if self.archive is not None:
            self.archive.close()
        return events


class Monitor:
    """Many independent streams in one process (a clinic server).

    :meth:`push_many` stages a chunk of every stream, runs the estimator once over all their
    detector rows (one call instead of one per stream: the estimator's fixed cost dominates
    small chunks) and post-processes each stream; the results are the same as pushing each
    stream on its own.
    """

    def __init__(self) -> None:
        self.engines: dict[str, StreamEngine] = {}

    def add(self, engine: StreamEngine) -> StreamEngine:
        """Add a stream."""
        if engine.stream in self.engines:
            raise EegmonError(f"stream {engine.stream!r} is already monitored.")
        self.engines[engine.stream] = engine
        return engine

    def push_many(self, chunks: Iterable[tuple[str, float | None, np.ndarray]]) -> list[SeizureEvent]:
        """Push ``(stream, t_start, samples)`` for any number of streams; return the seizure events emitted."""
        staged = []
        for stream, t0, x in chunks:
            eng = self.engines[stream]
            s = eng.stage(t0, x)
            if s is not None and s.rows is not None:
                staged.append((eng, s))
        out: list[SeizureEvent] = []
        groups: dict[int, list] = {}
        for eng, s in staged:
            groups.setdefault(id(eng.model), []).append((eng, s))
        for members in groups.values():
            try:
                rows = np.concatenate([s.rows for _, s in members]) if len(members) > 1 else members[0][1].rows
                channel_proba, bad = members[0][0].proba(rows)
            except Exception:  # noqa: BLE001 - fall back to one stream at a time
                logger.exception("batched estimator call failed; streams run one by one")
                for eng, s in members:
                    try:
                        cp, b = eng.proba(s.rows)
                    except Exception as err:  # noqa: BLE001
                        eng.recover(err)
                        continue
                    out += eng.finish(s, cp, b)
                continue
            i = 0
            for eng, s in members:
                n = s.rows.shape[0]
                out += eng.finish(s, channel_proba[i:i + n], bad[i:i + n])
                i += n
        return out

    def close(self) -> None:
        """Close every stream."""
        for eng in self.engines.values():
            eng.close()


def run_source(engine: StreamEngine, source: Iterable[tuple[float | None, np.ndarray]], *,
               stop: Callable[[], bool] | None = None) -> StreamEngine:
    """Feed every chunk of ``source`` to ``engine`` until it ends (or ``stop()``), then close the engine."""
    try:
        for t0, x in source:
            engine.push(t0, x)
            if stop is not None and stop():
                break
    finally:
        engine.close()
    return engine
