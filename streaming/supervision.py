"""Supervision alarms: alarms about the monitoring itself, queued as outbox notices to every contact.

Each alarm has a fault message, queued once per episode, and a "recovered" message, queued once
when the fault ends (``Outbox.queue_notice`` keys both on the episode: the same fault never makes
two messages, even when a watchdog restarts):

- **no data** (``supervision:no_data``): a stream got no chunk for ``no_data_s`` seconds of wall
  time (the device or its link is lost). The engine only runs when chunks arrive, so a
  :class:`StreamWatcher` thread looks at each engine's chunk count instead.
- **bad signal** (``supervision:bad_signal``): the engine's ``bad_signal`` or ``nan`` quality
  state (flat, disconnected, clipped, NaN) lasted ``bad_signal_min`` minutes.
- **battery** (``supervision:battery``): a source reporting a level below ``battery_low``
  (:meth:`StreamWatcher.battery`); recovered when it is charged ``BATTERY_HYSTERESIS`` above it.
- **monitoring stopped** (``supervision:stopped``): a running monitor writes a :class:`Heartbeat`
  into the outbox's ``meta`` table every ``heartbeat_s``; a :class:`Watchdog` in another process
  (``eegmon alerts watch|serve``, see :func:`watch`) alarms when it is older than ``stale_s``
  (a crash, a frozen or powered-off machine), and says "running again" when a fresh heartbeat
  comes. A clean stop (Ctrl-C, SIGTERM, end of a replay) is recorded by the monitor: the family
  is told once that monitoring was stopped or ended (nobody is watching any more), not that it
  failed, and "running again" when a monitor starts.
- **dead-man ping** (:class:`DeadManPing`): an HTTP GET to ``deadman_url`` every
  ``deadman_every_s`` while monitoring runs, so that a service elsewhere notices a machine that
  lost power or its network (the watchdog runs on the same machine and dies with it).

Times in messages are local (``patient.time_zone``) and the patient is named by
``patient.alias`` only; logs name the alarm kind, never the alias, a URL or an identifier.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .channels import redact
from .outbox import Outbox
from .policy import Policy

logger = logging.getLogger("eegmon.streaming")

#: The ``meta`` key of the monitor's heartbeat and the watchdog's state.
HEARTBEAT_KEY = "supervision.heartbeat"
WATCHDOG_KEY = "supervision.watchdog"
#: A low battery is over when the level is this much above ``battery_low`` (no flapping at the limit).
BATTERY_HYSTERESIS = 0.05
#: What a clean stop records, and how the message tells it.
STOP_REASONS = {"stopped": ("was stopped", "was stopped (by the user or the computer shutting down)"),
                "ended": ("ended", "ended (the recording it was replaying is finished)"),
                "failed": ("stopped after an error", "stopped after an internal error (its log says which)")}


def local_time(policy: Policy, t: float) -> str:
    """Wall time ``t`` (s since the epoch) in the patient's time zone, as messages print it."""
    from eegmon.forecast.seizures import time_zone

    return f"{datetime.fromtimestamp(t, time_zone(policy.patient.time_zone)):%H:%M on %a %d %b} " \
           f"({policy.patient.time_zone})"


def _queue(outbox: Outbox, policy: Policy, kind: str, ref: str, title: str, body: str) -> int:
    """Queue a supervision notice to every contact; a failing outbox is logged, never raised."""
    try:
        n = outbox.queue_notice(f"supervision:{kind}", ref, policy.contacts, title, body)
    except Exception as err:  # noqa: BLE001 - supervision must not stop monitoring
        logger.error("supervision %s notice could not be queued (%s)", kind, type(err).__name__)
        return 0
    if n:
        logger.warning("supervision %s notice queued (%d message(s))", kind, n)
    return n


class _Periodic:
    """A daemon thread calling ``tick()`` now and every ``interval_s`` until :meth:`stop` (errors are logged)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval_s: float, tick: Callable[[], None]) -> None:
        def loop() -> None:
            while True:
                try:
                    tick()
                except Exception:  # noqa: BLE001 - one failed round must not end supervision
                    logger.exception("%s: round failed", self.name)
                if self._stop.wait(interval_s):
                    return

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None


# ---------------------------------------------------------------------- in the monitor: streams
@dataclass
class _Fault:
    """One alarm of one stream: when its fault began (None: none) and the ref of the alarm queued."""

    since: float | None = None
    alarmed: str | None = None


@dataclass
class _Stream:
    engine: object
    level: Callable[[], float | None] | None  # the source's battery level, polled
    chunks: int
    seen: float  # wall time the chunk count last changed (or watching began)
    bad: set
    no_data: _Fault
    bad_signal: _Fault
    battery: _Fault


class StreamWatcher:
    """No-data, bad-signal and battery alarms for the engines of one monitor.

    Parameters
    ----------
    outbox : Outbox
        Where notices are queued.
    policy : Policy
        ``supervision`` settings, contacts, the patient's alias and time zone.
    clock : callable
        Wall clock (s since the epoch); tests inject a fake one and call :meth:`check`.

    Notes
    -----
    :meth:`watch` registers an engine, :meth:`on_quality` takes its quality events (the engine's
    ``on_quality``), :meth:`check` (every second in :meth:`start`'s thread) queues the alarms.
    """

    def __init__(self, outbox: Outbox, policy: Policy, *, clock: Callable[[], float] = time.time) -> None:
        self.outbox, self.policy, self.clock = outbox, policy, clock
        self.settings = policy.supervision
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()
        self._runner = _Periodic("eegmon-supervision")

    def watch(self, engine, *, battery: Callable[[], float | None] | None = None) -> None:
        """Supervise ``engine`` (a :class:`~eegmon.streaming.engine.StreamEngine`) from now on.

        ``battery()``, when given, is the source's battery level (0-1, None when unknown), polled
        by :meth:`check`; a source that pushes its level calls :meth:`battery` instead.
        """
        with self._lock:
            self._streams[engine.stream] = _Stream(engine, battery, engine.stats.chunks, self.clock(), set(),
                                                   _Fault(), _Fault(), _Fault())

    def on_quality(self, q) -> None:
        """A quality event of a watched engine: ``bad_signal`` and ``nan`` episodes start and end here."""
        kind, _, edge = q.kind.rpartition("_")
        if kind not in ("bad_signal", "nan") or edge not in ("start", "end"):
            return
        with self._lock:
            s = self._streams.get(q.stream)
            if s is None:
                return
            (s.bad.add if edge == "start" else s.bad.discard)(kind)
            if s.bad and s.bad_signal.since is None:
                s.bad_signal.since = self.clock()
            elif not s.bad:
                s.bad_signal.since = None

    def last_data(self) -> float | None:
        """Wall time data last arrived from any watched stream, as of the latest :meth:`check` (None before any)."""
        with self._lock:
            times = [s.seen for s in self._streams.values() if s.chunks > 0]
        return max(times) if times else None

    def battery(self, stream: str, level: float) -> None:
        """A battery level (0-1) reported by the source of ``stream``; checked at once."""
        with self._lock:
            s = self._streams.get(stream)
            if s is not None:
                self._level(s, level)
        self.check()

    def _level(self, s: _Stream, level: float | None) -> None:
        low = self.settings.battery_low
        if not low or level is None:
            return
        if level < low and s.battery.since is None:
            s.battery.since = self.clock()
        elif level >= low + BATTERY_HYSTERESIS:
            s.battery.since = None

    def check(self) -> None:
        """Queue the alarms and recovered messages due now."""
        cfg = self.settings
        with self._lock:  # the thread and a battery report may check at the same time
            now = self.clock()
            for name, s in self._streams.items():
                chunks = s.engine.stats.chunks
                if chunks != s.chunks:
                    s.chunks, s.seen = chunks, now
                if s.level is not None:
                    try:
                        self._level(s, s.level())
                    except Exception as err:  # noqa: BLE001 - a source's status must not stop supervision
                        logger.warning("battery level of a source unreadable (%s)", type(err).__name__)
                s.no_data.since = s.seen if cfg.no_data_s and now - s.seen >= cfg.no_data_s else None
                self._alarm(name, "no_data", s.no_data, now, 0.0)
                if cfg.bad_signal_min and s.no_data.since is None:  # no data is one fault, not two
                    self._alarm(name, "bad_signal", s.bad_signal, now, cfg.bad_signal_min * 60.0)
                self._alarm(name, "battery", s.battery, now, 0.0)

    def _alarm(self, stream: str, kind: str, fault: _Fault, now: float, after_s: float) -> None:
        if fault.since is not None and fault.alarmed is None and now - fault.since >= after_s:
            ref = f"{stream}|{kind}|{fault.since:.3f}"
            title, body = self._text(kind, fault.since)
            _queue(self.outbox, self.policy, kind, ref, title, body)
            fault.alarmed = ref
        elif fault.since is None and fault.alarmed is not None:
            title, body = self._text(kind, None, now)
            _queue(self.outbox, self.policy, kind, f"{fault.alarmed}|recovered", title, body)
            fault.alarmed = None

    def _text(self, kind: str, since: float | None, now: float | None = None) -> tuple[str, str]:
        who = self.policy.patient.alias
        if since is None:
            when = local_time(self.policy, now)
            return {
                "no_data": (f"eegmon: {who}'s EEG device is sending again",
                            f"Data from {who}'s EEG device arrives again since {when}: monitoring works again."),
                "bad_signal": (f"eegmon: {who}'s EEG signal is good again",
                               f"The EEG signal from {who}'s device is good again since {when}: seizures are "
                               "detected again."),
                "battery": (f"eegmon: {who}'s EEG device is charged",
                            f"The battery of {who}'s EEG device is charged again ({when})."),
            }[kind]
        when = local_time(self.policy, since)
        return {
            "no_data": (f"eegmon: no data from {who}'s EEG device",
                        f"{who}'s EEG device has sent nothing since {when}: seizures cannot be detected. "
                        "Check that the device is switched on, charged and near the base station, and that "
                        "the computer running eegmon is on. You will get a message when data arrives again."),
            "bad_signal": (f"eegmon: bad EEG signal from {who}'s device",
                           f"The EEG signal from {who}'s device has been unusable (flat, disconnected, clipped "
                           f"or noisy) since {when}: seizures cannot be detected. Check that the electrode and "
                           "its lead are in place and connected. You will get a message when it is good again."),
            "battery": (f"eegmon: {who}'s EEG device battery is low",
                        f"The battery of {who}'s EEG device is low since {when}. Charge it soon: monitoring stops "
                        "when it is empty."),
        }[kind]

    def start(self, interval_s: float = 1.0) -> StreamWatcher:
        """Run :meth:`check` every ``interval_s`` in a background thread."""
        self._runner.start(interval_s, self.check)
        return self

    def stop(self) -> None:
        """Stop the thread (nothing is queued for a stop: the heartbeat tells it)."""
        self._runner.stop()


# ---------------------------------------------------------------------- the heartbeat and its watchdog
class Heartbeat:
    """A running monitor's heartbeat in the outbox's ``meta`` table (``HEARTBEAT_KEY``).

    The value is ``{"run", "t", "state", "data"}``: ``run`` is random per monitor start (an episode
    of the watchdog), ``t`` the wall time, ``state`` ``"running"`` or a clean stop's reason (a key
    of ``STOP_REASONS``), ``data`` the wall time data last arrived (``last_data()``; None before
    any, or without ``last_data``): a process can be alive with its device silent.
    """

    def __init__(self, outbox: Outbox, every_s: float, *, clock: Callable[[], float] = time.time,
                 last_data: Callable[[], float | None] | None = None) -> None:
        self.outbox, self.every_s, self.clock, self.last_data = outbox, every_s, clock, last_data
        self.run = os.urandom(8).hex()
        self._runner = _Periodic("eegmon-heartbeat")

    def beat(self, state: str = "running") -> None:
        """Record that the monitor is alive (or, with a reason, that it stopped cleanly)."""
        data = None if self.last_data is None else self.last_data()
        self.outbox.set_meta(HEARTBEAT_KEY, {"run": self.run, "t": self.clock(), "state": state, "data": data})

    def start(self) -> Heartbeat:
        """Beat now and every ``every_s`` in a background thread."""
        self._runner.start(self.every_s, self.beat)
        return self

    def stop(self, reason: str = "stopped") -> None:
        """Stop beating and record a clean stop (``reason``: a key of ``STOP_REASONS``)."""
        if reason not in STOP_REASONS:
            raise ValueError(f"reason must be one of {sorted(STOP_REASONS)}, got {reason!r}")
        self._runner.stop()
        try:
            self.beat(reason)
        except Exception as err:  # noqa: BLE001 - the watchdog then reports a crash: better than nothing
            logger.error("the clean stop could not be recorded (%s)", type(err).__name__)


class Watchdog:
    """Alarms when a monitor's :class:`Heartbeat` is older than ``stale_s`` or it stopped cleanly.

    Parameters
    ----------
    outbox : Outbox
        The monitor's outbox (opened by this process: the watchdog is another process).
    policy : Policy
        ``supervision.stale_s``, contacts, alias and time zone.
    clock : callable
        Wall clock (s since the epoch).

    Notes
    -----
    Its state (the alarm raised, per monitor run) is kept in the outbox's ``meta`` table too, so
    a restarted watchdog neither repeats an alarm nor forgets to say "running again"; the notice
    refs are built from the run, so even two watchdogs queue each message once.
    """

    def __init__(self, outbox: Outbox, policy: Policy, *, clock: Callable[[], float] = time.time) -> None:
        self.outbox, self.policy, self.clock = outbox, policy, clock
        self._runner = _Periodic("eegmon-watchdog")

    def check(self) -> str | None:
        """Queue what is due now; return the alarm in force (``"stale"``, a stop reason, or None)."""
        stale_s = self.policy.supervision.stale_s
        beat = self.outbox.get_meta(HEARTBEAT_KEY)
        if not stale_s or not beat:
            return None
        state = self.outbox.get_meta(WATCHDOG_KEY) or {}
        now = self.clock()
        if beat["state"] != "running":
            fault = beat["state"]
        elif now - beat["t"] > stale_s:
            fault = "stale"
        else:
            fault = None
        alarm = state.get("alarm")
        if fault is not None and (alarm is None or state.get("run") != beat["run"] or alarm != fault):
            ref = f"{beat['run']}|{fault}"
            title, body = self._text(fault, beat["t"])
            _queue(self.outbox, self.policy, "stopped", ref, title, body)
            self.outbox.set_meta(WATCHDOG_KEY, {"run": beat["run"], "alarm": fault, "ref": ref})
        elif fault is None and alarm is not None:
            title, body = self._text(None, beat["t"])
            _queue(self.outbox, self.policy, "stopped", f"{state['ref']}|recovered", title, body)
            self.outbox.set_meta(WATCHDOG_KEY, {})
        return fault

    def _text(self, fault: str | None, t: float) -> tuple[str, str]:
        who = self.policy.patient.alias
        when = local_time(self.policy, t)
        if fault is None:
            return (f"eegmon: monitoring of {who} is running again",
                    f"Monitoring of {who} is running again ({when}): seizure alerts work again.")
        if fault == "stale":
            return (f"eegmon: monitoring of {who} has stopped",
                    f"Monitoring of {who} stopped unexpectedly: the last sign of life was at {when}. Seizures "
                    "are not detected and no alerts are sent. Check that the computer running eegmon is on and "
                    "restart monitoring (eegmon monitor). You will get a message when it runs again.")
        short, long = STOP_REASONS[fault]
        return (f"eegmon: monitoring of {who} {short}",
                f"Monitoring of {who} {long} at {when}. Seizures are not detected and no alerts "
                "are sent until monitoring is started again.")

    def start(self, interval_s: float | None = None) -> Watchdog:
        """Run :meth:`check` in a background thread (every ``heartbeat_s`` by default)."""
        every = interval_s if interval_s is not None else min(self.policy.supervision.heartbeat_s, 5.0)
        self._runner.start(every, self.check)
        return self

    def stop(self) -> None:
        """Stop the thread."""
        self._runner.stop()


def watch(outbox: str | os.PathLike, policy: Policy, *, stop: Callable[[], bool], channels=None,
          interval_s: float = 0.2) -> None:
    """Run the watchdog and a delivery worker on ``outbox`` until ``stop()`` (``eegmon alerts watch``).

    The worker is needed: when the monitor dies, its own worker dies with it, so the watchdog's
    alarm would otherwise wait in the outbox. Parameters are those of
    :class:`~eegmon.streaming.live.LiveSystem` (acknowledgement links are not served).
    """
    from .live import LiveSystem

    with LiveSystem(outbox, policy, channels=channels, serve_acks=False, interval_s=interval_s, watch=True):
        while not stop():
            time.sleep(0.2)


# ---------------------------------------------------------------------- the dead-man ping
class DeadManPing:
    """An HTTP GET to ``url`` now and every ``every_s`` in a background thread, while monitoring runs.

    Failures are logged (with the URL redacted) and never raised: the service that expects the
    pings is the one that alarms when they stop.
    """

    def __init__(self, url: str, every_s: float, *, timeout_s: float = 10.0) -> None:
        self.url, self.every_s, self.timeout_s = url, every_s, timeout_s
        self.sent = 0
        self._runner = _Periodic("eegmon-deadman")

    def ping(self) -> None:
        """One GET; a failure is logged."""
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as resp:  # noqa: S310 - http(s) checked by the policy
                resp.read(1024)
            self.sent += 1
        except Exception as err:  # noqa: BLE001 - the service notices missing pings
            logger.warning("dead-man ping to %s failed (%s)", redact(self.url), type(err).__name__)

    def start(self) -> DeadManPing:
        """Ping now and every ``every_s``."""
        self._runner.start(self.every_s, self.ping)
        return self

    def stop(self) -> None:
        """Stop pinging."""
        self._runner.stop(self.timeout_s + 5)
