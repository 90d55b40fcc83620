"""A live system assembled in one place: outbox, delivery worker, acknowledgement server and engines.

``eegmon monitor``, ``eegmon alerts deliver|serve`` and the demo all run this assembly, so
acknowledgement links, the order of start and stop and the final drain of first alerts are the
same everywhere::

    with LiveSystem("alerts.sqlite", policy) as live:
        engine = live.add_stream("patient-1", model, fs=source.fs, channels=source.channels)
        for t0, x in source:
            engine.push(t0, x)
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .ack import AckServer, TokenSigner
from .channels import Channels, Message, redact
from .engine import ArchiveWriter, StreamEngine
from .outbox import DeliveryWorker, Outbox, SeizureEvent
from .policy import Policy, expand_env
from .supervision import DeadManPing, Heartbeat, StreamWatcher, Watchdog

logger = logging.getLogger("eegmon.streaming")


class LiveSystem:
    """The durable outbox, its delivery worker, the acknowledgement server and the stream engines.

    Parameters
    ----------
    outbox : path-like
        The outbox's SQLite file (created if missing).
    policy : Policy
        Contacts, alert rules, delivery and acknowledgement settings.
    channels : Channels | None
        Where messages go (default: console and apprise, with the policy's delivery timeout).
    serve_acks : bool
        Serve acknowledgement links (when the policy has an ``ack.secret``; links are put in the
        messages whenever it has one).
    interval_s : float
        Pause between the delivery worker's rounds.
    watch : bool
        Run the watchdog of the monitors writing to this outbox (``eegmon alerts watch|serve``;
        see :mod:`eegmon.streaming.supervision`).

    Notes
    -----
    :meth:`start` starts the acknowledgement server first, so that links point at the port it got
    (``ack.port = 0`` picks a free one), then the worker. :meth:`stop` closes the engines (their
    open events and archive blocks are flushed), waits for first alerts still pending, then stops
    the worker and the server. As a context manager, it starts on entry and stops on exit.

    The first :meth:`add_stream` starts the supervision of the monitoring (``policy.supervision``):
    the no-data, bad-signal and battery alarms of the engines, the heartbeat the watchdog reads
    and the dead-man ping; :meth:`stop` records a clean stop in the heartbeat.
    """

    def __init__(self, outbox: str | Path, policy: Policy, *, channels: Channels | None = None,
                 serve_acks: bool = True, interval_s: float = 0.2, watch: bool = False) -> None:
        self.policy = policy
        self.outbox = Outbox(outbox, policy)
        self.signer: TokenSigner | None = None
        self._base = policy.ack.base_url.rstrip("/")
        if policy.ack.secret:
            self.signer = TokenSigner(expand_env(policy.ack.secret, where="ack.secret", path=policy.path),
                                      policy.ack.token_ttl_min * 60)
        self.serve_acks = serve_acks and self.signer is not None
        self.ack_server: AckServer | None = None
        channels = channels if channels is not None else Channels(timeout_s=policy.delivery.timeout_s)
        self.channels = channels
        self.worker = DeliveryWorker(self.outbox, channels, ack_link=None if self.signer is None else self.ack_link,
                                     cancel_link=None if self.signer is None else self.cancel_link,
                                     interval_s=interval_s)
        self.engines: list[StreamEngine] = []
        self.watcher = StreamWatcher(self.outbox, policy)
        self.heartbeat: Heartbeat | None = None
        self.deadman: DeadManPing | None = None
        self.watchdog = Watchdog(self.outbox, policy) if watch and policy.supervision.stale_s else None

    def ack_link(self, event_id: str, contact: str, purpose: str = "ack") -> str:
        """The link for ``contact`` to acknowledge (or, ``purpose="cancel"``, cancel) event ``event_id``.

        The policy needs an ``ack.secret``.
        """
        if self.signer is None:
            raise RuntimeError("acknowledgement links need an ack.secret in the alert policy.")
        return f"{self._base}/{purpose}?t={self.signer.make(event_id, contact, purpose)}"

    def cancel_link(self, event_id: str, contact: str) -> str:
        """The false-alarm cancel link of ``contact`` for event ``event_id`` (``alert.countdown_s`` > 0)."""
        return self.ack_link(event_id, contact, "cancel")

    def last_resort(self, title: str, body: str, *, attempts: int = 3, pause_s: float = 5.0) -> threading.Thread:
        """Send a message to every channel of every contact now, around the outbox, in a background thread.

        For when the outbox cannot be written (a full or failing disk): nothing is stored, so a
        message is tried ``attempts`` times per channel, ``pause_s`` apart, and given up silently
        after that (its failure is logged). Returns the thread (tests join it).
        """
        key = hashlib.sha256(f"direct|{title}|{body}".encode()).hexdigest()[:32]
        msg = Message(key, title, body, "", "direct")
        targets = [(c.name, url) for c in self.policy.contacts for url in c.channels]

        def send() -> None:
            for contact, url in targets:
                for attempt in range(1, attempts + 1):
                    try:
                        self.channels.send(url, msg)
                        logger.info("direct message %s sent to %s via %s", key[:12], contact, redact(url))
                        break
                    except Exception as err:  # noqa: BLE001 - every channel is tried
                        logger.error("direct message %s to %s via %s: attempt %d failed (%s)", key[:12], contact,
                                     redact(url), attempt, str(err).replace(url, redact(url))[:200])
                        if attempt < attempts:
                            time.sleep(pause_s)

        thread = threading.Thread(target=send, name="eegmon-direct", daemon=True)
        thread.start()
        return thread

    def start(self) -> LiveSystem:
        """Start the acknowledgement server (if serving) and the delivery worker."""
        if self.serve_acks:
            self.ack_server = AckServer(self.signer, self.outbox, self.policy.ack.host, self.policy.ack.port).start()
            if self.policy.ack.port == 0:  # a free port was picked: links must point at it
                self._base = self.ack_server.url
        self.worker.start()
        if self.watchdog is not None:
            self.watchdog.start()
        return self

    def _supervise(self) -> None:
        """Start the heartbeat, the dead-man ping and the stream watcher (with the first engine)."""
        sup = self.policy.supervision
        if self.heartbeat is None and sup.heartbeat_s:
            self.heartbeat = Heartbeat(self.outbox, sup.heartbeat_s, last_data=self.watcher.last_data).start()
        if self.deadman is None and sup.deadman_url:
            self.deadman = DeadManPing(expand_env(sup.deadman_url, where="supervision.deadman_url",
                                                  path=self.policy.path), sup.deadman_every_s).start()
        if len(self.engines) == 1:
            self.watcher.start()

    def add_stream(self, stream: str, model, *, fs: float, channels: Sequence[str],
                   clip_level: float | np.ndarray = 1000.0, name: str | None = None,
                   archive: ArchiveWriter | None = None, line_freq: float = 50.0,
                   on_event: Callable[[SeizureEvent], None] | None = None,
                   battery: Callable[[], float | None] | None = None) -> StreamEngine:
        """A :class:`StreamEngine` alerting through this system's outbox with the policy's rules.

        Parameters are those of :class:`StreamEngine`, and ``battery``, the source's battery level
        (0-1, None when unknown) if it reports one. The engine is closed by :meth:`stop`; it is
        supervised (:attr:`watcher`) from now on.
        """
        engine = StreamEngine(stream, model, fs=fs, channels=channels, clip_level=clip_level, name=name,
                              rules=self.policy.alert, outbox=self.outbox, archive=archive, line_freq=line_freq,
                              on_event=on_event, on_quality=self.watcher.on_quality, last_resort=self.last_resort)
        self.engines.append(engine)
        self.watcher.watch(engine, battery=battery)
        self._supervise()
        return engine

    def drain(self, timeout_s: float, *, stop: Callable[[], bool] | None = None) -> bool:
        """Wait up to ``timeout_s`` (or until ``stop()``) for pending alerts to go out; True if none is left.

        It waits for every first alert, and for any other alert already due (a ``delivery_failed``
        alert, an escalation), not for escalations and reminders still to come.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            now = self.outbox.clock()
            if not any(a["kind"] == "initial" or a["next_try"] <= now for a in self.outbox.alerts("pending")):
                return True
            if time.monotonic() >= deadline or (stop is not None and stop()):
                return False
            time.sleep(0.05)

    def stop(self, *, drain_s: float = 0.0, stop: Callable[[], bool] | None = None, reason: str = "stopped") -> None:
        """Close the engines, wait up to ``drain_s`` for first alerts (see :meth:`drain`), stop worker and server.

        ``reason`` is the stop the heartbeat records for the watchdog: ``"stopped"`` (by the user,
        a signal), ``"ended"`` (the source ended) or ``"failed"`` (an error ends the monitor).
        """
        try:
            self.watcher.stop()
            if self.deadman is not None:
                self.deadman.stop()
                self.deadman = None
            if self.heartbeat is not None:
                self.heartbeat.stop(reason)
                self.heartbeat = None
            for engine in self.engines:
                engine.close()
            self.engines.clear()
            if drain_s > 0:
                self.drain(drain_s, stop=stop)
        finally:
            if self.watchdog is not None:
                self.watchdog.stop()
            self.worker.stop()
            if self.ack_server is not None:
                self.ack_server.stop()
                self.ack_server = None
            self.outbox.close()

    def __enter__(self) -> LiveSystem:
        return self.start()

    def __exit__(self, kind, *exc) -> None:
        failed = kind is not None and not issubclass(kind, KeyboardInterrupt)
        self.stop(reason="failed" if failed else "stopped")
