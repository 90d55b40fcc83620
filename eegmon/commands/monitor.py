"""Monitor a live stream: detect seizures as they happen and alert caregivers.

SOURCE is replay:PATH (an archive, EDF/BDF file or device folder played at --speed times real
time, with its real gaps), sim:[SEED] (an endless simulated patient) or lsl:NAME (a Lab
Streaming Layer stream). The one pipeline (filters, features, detector, post-processing) runs
on each chunk; seizure events go to a durable SQLite outbox together with their alerts before
any delivery is tried, and a background worker delivers them with retries (see --alerts and
sample_data/alerts.example.toml). Bad signal (NaN, electrode off, flat or clipped, dropped or
late packets, clock jumps) is recorded as signal-quality events and never alerted.

On a terminal (not with --quiet, nor when stdout is a pipe or a file) one status line is kept
up to date: the stream time, the signal quality (good, bad since, no data), the probability of a
seizure event running and the alerts so far. Times are shown in the alert policy's
[patient] time_zone (UTC without one). Other libraries' INFO lines are shown with --debug only.

With --archive, raw samples and finished detections are appended as the stream goes; a
restarted replay resumes where the archive ends (re-reading --warmup-s seconds, by default the
model's adaptive-baseline length, to warm the detector up) and the outbox makes sure no event
is alerted twice. The outbox is checked before anything starts: a damaged one, or one missing
events that the archive's detections or the outbox's ledger say were alerted, is an error that
names 'eegmon alerts recover'. A monitor that ends with alerts still pending or failed says so
and exits with 1 (deliver them with 'eegmon alerts deliver').

examples:
  eegmon monitor replay:sample_data/sim --speed max
  eegmon monitor sim:1 --speed 60 --alerts alerts.toml --archive patient.h5
  eegmon monitor lsl:MyAmp --alerts alerts.toml --archive patient.h5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def _speed(text: str) -> float:
    if text in ("max", "inf"):
        return float("inf")
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'max', got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="replay:PATH, sim:[SEED] or lsl:NAME")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--detector", default="classifier", help="detector name: classifier (default) or line-length")
    group.add_argument("--model", type=Path, default=None, metavar="FILE", help="a model file from 'eegmon train'")
    parser.add_argument("--alerts", type=Path, default=None, metavar="POLICY",
                        help="alert policy TOML (default: console alerts only)")
    parser.add_argument("--archive", type=Path, default=None, metavar="ARCHIVE.h5",
                        help="append samples and detections to this archive (created if missing)")
    parser.add_argument("--outbox", type=Path, default=None, metavar="DB",
                        help="alert outbox (default: ARCHIVE.h5.alerts.sqlite, or eegmon-alerts.sqlite)")
    parser.add_argument("--stream", default=None, help="stream id in events and alerts (default: from SOURCE)")
    parser.add_argument("--speed", type=_speed, default=1.0, help="replay/sim speed, times real time, or 'max'")
    parser.add_argument("--chunk-s", type=float, default=0.125, help="chunk length in seconds (default: 0.125)")
    parser.add_argument("--warmup-s", type=float, default=None,
                        help="on resume, seconds replayed before the archive's end to warm the detector up "
                             "(default: the model's adaptive-baseline length, 30 min for the bundled ones)")
    parser.add_argument("--max-s", type=float, default=None, help="stop after this many seconds of signal")
    parser.add_argument("--drain-s", type=float, default=30.0,
                        help="when the source ends, wait up to this long for pending first alerts")
    parser.add_argument("--line-freq", type=float, default=50.0, help="mains frequency in Hz (default: 50)")
    parser.add_argument("--no-ack-server", action="store_true", help="do not serve acknowledgement links")


def outbox_path(args: argparse.Namespace) -> Path:
    """The outbox file for these arguments."""
    if args.outbox is not None:
        return args.outbox
    if args.archive is not None:
        return args.archive.with_name(args.archive.name + ".alerts.sqlite")
    return Path("eegmon-alerts.sqlite")


def run(args: argparse.Namespace) -> int:
    import contextlib
    import logging
    import signal
    import sys

    from .._logging import StatusLine
    from ..detectors import load_detector
    from ..errors import EegmonError
    from ..streaming.channels import Channels
    from ..streaming.engine import ArchiveWriter
    from ..streaming.live import LiveSystem
    from ..streaming.localtime import local_time
    from ..streaming.policy import load_policy
    from ..streaming.recovery import check_outbox
    from ..streaming.sources import ReplaySource, open_stream

    log = logging.getLogger("eegmon.streaming")
    if not args.chunk_s > 0:
        raise EegmonError(f"--chunk-s must be > 0, got {args.chunk_s}.")
    policy = load_policy(args.alerts)
    policy.check_environment()
    zone = policy.patient.time_zone
    check_outbox(outbox_path(args), args.archive, policy)
    model, name = load_detector(args.detector, args.model)
    source = open_stream(args.source, speed=args.speed, chunk_s=args.chunk_s)
    stream = args.stream or source.name
    writer = None
    if args.archive is not None:
        writer = ArchiveWriter(args.archive, source.channels, source.fs, source=f"live:{stream}")
        if writer.resume_t is not None and isinstance(source, ReplaySource):
            warmup = args.warmup_s if args.warmup_s is not None else 60.0 * float(model.baseline_minutes or 30.0)
            source = open_stream(args.source, speed=args.speed, chunk_s=args.chunk_s, start_at=writer.resume_t - warmup)
            if not args.quiet:
                print(f"resuming at {local_time(writer.resume_t, zone)} (archive end)")
    quiet = args.quiet
    channels = Channels(console=None if not quiet else log.info, timeout_s=policy.delivery.timeout_s)
    live = LiveSystem(outbox_path(args), policy, channels=channels, serve_acks=not args.no_ack_server).start()
    failed_before = {a["key"] for a in live.outbox.alerts("failed")}

    def on_event(ev) -> None:
        if not quiet:
            print(f"seizure event {ev.id}: onset {local_time(ev.onset, zone)}, "
                  f"p={ev.probability:.2f}, {ev.detected_at - ev.onset:.1f} s after onset, "
                  f"engine latency {ev.latency_s * 1e3:.1f} ms", flush=True)

    engine = live.add_stream(stream, model, fs=source.fs, channels=source.channels, clip_level=source.clip_level,
                             name=name, archive=writer, line_freq=args.line_freq, on_event=on_event,
                             battery=getattr(source, "battery", None))
    status = Status(engine, zone, no_data_s=max(5.0, 3 * args.chunk_s / args.speed))
    supervise = engine.on_quality  # the supervision watcher's: it must go on seeing every event

    def on_quality(q) -> None:
        status.quality(q)
        if supervise is not None:
            supervise(q)

    engine.on_quality = on_quality
    stopping = []
    previous = signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    limit = None if args.max_s is None else args.max_s * source.fs
    line = StatusLine(status.text, sys.stdout) if not quiet and sys.stdout.isatty() else None
    reason = "ended"  # what the heartbeat tells the watchdog: the source ran out
    try:
        with line or contextlib.nullcontext():
            for t0, x in source:
                engine.push(t0, x)
                status.arrived = time.monotonic()
                if line is not None:
                    line.refresh(force=status.changed())
                if stopping or (limit is not None and engine.stats.samples >= limit):
                    reason = "stopped"
                    break
    except KeyboardInterrupt:
        reason = "stopped"
    except BaseException:
        reason = "failed"
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        live.stop(drain_s=args.drain_s, stop=lambda: bool(stopping), reason=reason)
    lat = engine.stats.latencies_s
    if not quiet:
        hours = engine.stats.samples / source.fs / 3600
        until = f" (up to {local_time(engine.end, zone)})" if engine.end is not None else ""
        print(f"{stream}: {hours:.2f} h processed{until}, {len(engine.events)} detection(s), "
              f"{len(engine.alerts)} new seizure event(s), quality events {engine.stats.quality or 'none'}"
              + (f", max engine latency {max(lat) * 1e3:.1f} ms" if lat else ""), file=sys.stdout)
    unsaved = _unsaved(writer)
    return max(_undelivered(live.outbox, failed_before, args), unsaved)


class Status:
    """What the monitor's status line says about one engine, in the time zone ``zone``.

    Parameters
    ----------
    engine : StreamEngine
        The stream's engine (read only, from the status line's thread too).
    zone : str
        IANA time zone of the times shown.
    no_data_s : float
        Wall-clock seconds without a chunk after which the line says "no data".
    clock : callable
        Monotonic clock, the one ``arrived`` is set with.
    """

    #: Quality events that start and end a span of bad signal.
    BAD = {"nan_start": "nan_end", "bad_signal_start": "bad_signal_end"}

    def __init__(self, engine, zone: str, *, no_data_s: float = 5.0, clock=time.monotonic) -> None:
        self.engine, self.zone, self.no_data_s, self.clock = engine, zone, no_data_s, clock
        #: Clock time the latest chunk was pushed (None before the first).
        self.arrived: float | None = None
        self._bad: dict[str, float] = {}  # start kind -> stream time, while bad
        self._state: tuple | None = None

    def quality(self, q) -> None:
        """Follow the engine's quality events (its ``on_quality``)."""
        # a new dict each time, never changed in place: the status line's thread reads it meanwhile
        if q.kind in self.BAD:
            self._bad = {q.kind: q.t, **self._bad}
        self._bad = {start: t for start, t in self._bad.items() if self.BAD[start] != q.kind}

    def changed(self) -> bool:
        """Whether the line's state changed since the last call (data, signal, event, alerts).

        The line is redrawn at once then, not at the next tick: an event must not wait to be seen.
        """
        eng = self.engine
        state = (eng.end is None, bool(self._bad), eng.detector.active is None, len(eng.alerts))
        changed, self._state = state != self._state, state
        return changed

    def text(self) -> str:
        """The status line: what matters first, as a narrow terminal cuts its end."""
        from ..streaming.localtime import local_time

        eng, bad = self.engine, self._bad
        end = eng.end
        if end is None:
            return f"waiting for data | {len(eng.alerts)} alert(s) | {eng.stream}"
        if self.arrived is None or self.clock() - self.arrived > self.no_data_s:
            signal = f"no data since {local_time(end, self.zone, '%H:%M:%S')}"
        elif bad:
            signal = f"bad since {local_time(min(bad.values()), self.zone, '%H:%M')}"
        else:
            signal = "good"
        run, p = eng.detector.active, eng.probability
        now = "p=–" if p is None else f"p={p:.2f}"
        event = "no event" if run is None else f"event (peak {run.peak:.2f})"
        return (f"{local_time(end, self.zone)} | signal {signal} | {now} | {event} | {len(eng.alerts)} alert(s) | "
                f"{eng.stream}")


def _unsaved(writer) -> int:
    """Say on stderr when the archive could not always be written; 1 if so, else 0."""
    import sys

    if writer is None or not writer.causes:
        return 0
    causes = ", ".join(dict.fromkeys(writer.causes))
    print(f"eegmon monitor: the archive {writer.arc.path} could not always be written ({causes}): "
          f"{writer.unrecorded_s / 60:.1f} min of samples not recorded (stored as 'gap' annotations where it "
          "could be written again)", file=sys.stderr)
    return 1


def _undelivered(outbox, failed_before: set[str], args: argparse.Namespace) -> int:
    """Say on stderr how many alerts are still pending or failed in this run; 1 if any, else 0."""
    import sys

    try:
        pending = len(outbox.alerts("pending"))
        failed = len({a["key"] for a in outbox.alerts("failed")} - failed_before)
    finally:
        outbox.close()
    if not pending and not failed:
        return 0
    alerts = f" --alerts {args.alerts}" if args.alerts else ""
    print(f"eegmon monitor: {pending} alert(s) still pending and {failed} failed (given up) at exit: deliver them "
          f"with 'eegmon alerts deliver --outbox {outbox.path}{alerts}' (see 'eegmon alerts list')",
          file=sys.stderr)
    return 1
