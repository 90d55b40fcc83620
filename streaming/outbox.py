"""The durable alert outbox: SQLite (WAL), one transaction per event and its alerts, and a delivery worker.

Design
------
* :meth:`Outbox.record_event` writes the seizure event **and** the alerts to the first contact in
  one transaction, before anything is sent. A crash after the commit loses nothing: the worker
  finds the pending alerts on restart. A crash before it loses nothing either: the event is not
  yet "emitted", and a replay re-detects it.
* The same seizure seen twice (a restart that replays the last minutes) is one event: an event
  of the same stream whose onset lies within the policy's refractory period of a stored one is
  ignored inside the same transaction (this is also the alert refractory period).
* Every alert row has an idempotency key, ``sha256(event id | contact | channel index | kind)``:
  escalations and reminders are scheduled with ``INSERT OR IGNORE`` on it, so scheduling twice
  (two workers, or a restart) never makes a second alert. The key travels with the message
  (``X-Idempotency-Key``) so a receiver can drop the one duplicate that at-least-once delivery
  allows: a crash after the server accepted a message but before ``sent`` was committed.
* States: ``pending`` (to send, ``next_try`` says when), ``sent``, ``failed`` (gave up after
  ``max_attempts``), ``acknowledged`` (the event was acknowledged before this alert went out, so
  it never will: acknowledgement stops escalation, reminders and any retry still pending).
* No secret is stored: a row names the contact and the index of its channel in the policy; the
  URL is looked up (and ``${ENV}`` expanded) when sending.
* **Notices** (the daily forecast message, :mod:`eegmon.streaming.forecast_message`) are messages
  that are not about a seizure: they live in their own table ``notices``, with their text, and are
  delivered by the same worker with the same retries and backoff, after the due alerts. They
  have no event, so no escalation, reminder, acknowledgement or ack link, and
  :meth:`Outbox.events` never lists them. A notice still pending when its ``expires`` time passes
  is marked ``expired`` instead of being sent (today's forecast is wrong tomorrow). The table is
  created with ``CREATE TABLE IF NOT EXISTS`` like the others, so an outbox file written before
  notices existed gains it when opened and keeps working; nothing else in the schema changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eegmon.errors import EegmonError

from .channels import Channels, Message, redact
from .policy import Contact, Policy

logger = logging.getLogger("eegmon.streaming")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, stream TEXT NOT NULL, onset REAL NOT NULL, probability REAL NOT NULL,
    detected_at REAL NOT NULL, latency_s REAL, channels TEXT NOT NULL DEFAULT '', created REAL NOT NULL,
    acked_at REAL, acked_by TEXT);
CREATE INDEX IF NOT EXISTS events_stream_onset ON events(stream, onset);
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY, event_id TEXT NOT NULL REFERENCES events(id), contact TEXT NOT NULL,
    channel INTEGER NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL, last_error TEXT, sent_at REAL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_due ON alerts(state, next_try);
CREATE TABLE IF NOT EXISTS quality (
    stream TEXT NOT NULL, kind TEXT NOT NULL, t REAL NOT NULL, detail TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, used_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notices (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, contact TEXT NOT NULL, channel INTEGER NOT NULL,
    title TEXT NOT NULL, body TEXT NOT NULL, expires REAL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL, last_error TEXT, sent_at REAL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS notices_due ON notices(state, next_try);
"""


def alert_key(event_id: str, contact: str, channel: int, kind: str) -> str:
    """The idempotency key of one alert."""
    return hashlib.sha256(f"{event_id}|{contact}|{channel}|{kind}".encode()).hexdigest()[:32]


def notice_key(kind: str, ref: str, contact: str, channel: int) -> str:
    """The idempotency key of one notice (``ref`` says what it is about, e.g. a forecast window)."""
    return hashlib.sha256(f"notice|{kind}|{ref}|{contact}|{channel}".encode()).hexdigest()[:32]


def event_id(stream: str, onset: float) -> str:
    """A stable id for a seizure event (stream and onset to the millisecond)."""
    return hashlib.sha256(f"{stream}|{round(onset * 1000)}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SeizureEvent:
    """A seizure detection leaving the engine.

    Attributes
    ----------
    id : str
        Stable id (:func:`event_id`).
    stream : str
        The stream (patient) it belongs to.
    onset : float
        Detected onset, s since the epoch.
    probability : float
        Peak probability so far.
    detected_at : float
        End time of the window that triggered it (stream time, s since the epoch).
    latency_s : float | None
        Wall-clock seconds from the arrival of the chunk holding that window to this event.
    channels : tuple of str
        Channels involved, when known.
    """

    id: str
    stream: str
    onset: float
    probability: float
    detected_at: float
    latency_s: float | None = None
    channels: tuple[str, ...] = ()


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the outbox database in WAL mode."""
    con = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA busy_timeout=30000")
    con.executescript(_SCHEMA)
    return con


class Outbox:
    """The alert outbox in one SQLite file.

    Parameters
    ----------
    path : path-like
        The database file (created if missing).
    policy : Policy
        Contacts and rules.
    clock : callable
        Wall clock (s since the epoch); tests inject a fake one.
    """

    def __init__(self, path: str | Path, policy: Policy, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.policy = policy
        self.clock = clock
        self._local = threading.local()
        #: Called after an event is committed (a delivery worker wakes up at once).
        self.listeners: list[Callable[[], None]] = []
        self._con()  # create the schema now

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = connect(self.path)
        return con

    def close(self) -> None:
        """Close this thread's connection."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # ------------------------------------------------------------------ writing
    def _insert_alerts(self, con: sqlite3.Connection, event: str, contact_index: int, kind: str, now: float) -> int:
        if contact_index >= len(self.policy.contacts):
            return 0
        contact = self.policy.contacts[contact_index]
        n = 0
        for i in range(len(contact.channels)):
            cur = con.execute(
                "INSERT OR IGNORE INTO alerts (key, event_id, contact, channel, kind, state, next_try, created) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (alert_key(event, contact.name, i, kind), event, contact.name, i, kind, now, now))
            n += cur.rowcount
        return n

    def record_event(self, ev: SeizureEvent) -> bool:
        """Store ``ev`` and its first alerts in one transaction; False if it is a known event (refractory)."""
        con = self._con()
        now = self.clock()
        refractory = self.policy.alert.refractory_s
        con.execute("BEGIN IMMEDIATE")
        try:
            known = con.execute(
                "SELECT 1 FROM events WHERE stream = ? AND onset > ? AND onset < ? LIMIT 1",
                (ev.stream, ev.onset - refractory - 1e-6, ev.onset + refractory + 1e-6)).fetchone()
            if known is not None or con.execute("SELECT 1 FROM events WHERE id = ?", (ev.id,)).fetchone():
                con.execute("ROLLBACK")
                return False
            con.execute(
                "INSERT INTO events (id, stream, onset, probability, detected_at, latency_s, channels, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ev.id, ev.stream, ev.onset, ev.probability, ev.detected_at, ev.latency_s, ",".join(ev.channels),
                 now))
            self._insert_alerts(con, ev.id, 0, "initial", now)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        for listener in self.listeners:
            listener()
        return True

    def queue_notice(self, kind: str, ref: str, contacts: Sequence[Contact], title: str, body: str, *,
                     expires: float | None = None, now: float | None = None) -> int:
        """Queue one notice (a message that is not a seizure alert) to every channel of ``contacts``.

        Parameters
        ----------
        kind : str
            What it is, e.g. ``"forecast"`` (part of the key; shown as the message's kind).
        ref : str
            What it is about, e.g. the forecast window's start: a second call with the same
            ``kind``, ``ref`` and contact queues nothing (``INSERT OR IGNORE`` on the key).
        contacts : sequence of Contact
            Who gets it; the URL of each channel is looked up in the outbox's policy when sending.
        title, body : str
            The message text, stored as is (it must hold no secret).
        expires : float | None
            After this time (s since the epoch) a notice not yet sent is not sent any more.
        now : float | None
            When it is queued (default: the outbox's clock); it is due at once.

        Returns
        -------
        int
            How many messages (contact x channel) were queued; 0 for those already there.
        """
        now = self.clock() if now is None else float(now)
        con = self._con()
        added = 0
        con.execute("BEGIN IMMEDIATE")
        try:
            for contact in contacts:
                for i in range(len(contact.channels)):
                    cur = con.execute(
                        "INSERT OR IGNORE INTO notices (key, kind, contact, channel, title, body, expires, state, "
                        "next_try, created) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                        (notice_key(kind, ref, contact.name, i), kind, contact.name, i, title, body, expires, now,
                         now))
                    added += cur.rowcount
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if added:
            for listener in self.listeners:
                listener()
        return added

    def record_quality(self, stream: str, kind: str, t: float, detail: str) -> None:
        """Store one signal-quality event (never alerted)."""
        self._con().execute("INSERT INTO quality (stream, kind, t, detail, created) VALUES (?, ?, ?, ?, ?)",
                            (stream, kind, t, detail, self.clock()))

    def acknowledge(self, event: str, by: str = "cli") -> bool:
        """Acknowledge an event (stops escalation and reminders); False if it was already acknowledged.

        ``event`` may be an event id or a unique prefix of one.
        """
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            rows = con.execute("SELECT id, acked_at FROM events WHERE id LIKE ?",
                               (event.replace("%", "").replace("_", "") + "%",)).fetchall()
            if len(rows) != 1:
                con.execute("ROLLBACK")
                what = "no event" if not rows else f"{len(rows)} events"
                raise EegmonError(f"{what} with id {event!r} in the outbox.", self.path)
            eid, acked = rows[0]
            if acked is not None:
                con.execute("ROLLBACK")
                return False
            now = self.clock()
            con.execute("UPDATE events SET acked_at = ?, acked_by = ? WHERE id = ?", (now, by, eid))
            con.execute("UPDATE alerts SET state = 'acknowledged' WHERE event_id = ? AND state = 'pending'", (eid,))
            con.execute("COMMIT")
        except EegmonError:
            raise
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return True

    def use_nonce(self, nonce: str) -> bool:
        """Record a token nonce as used; False if it was used before (a replay)."""
        cur = self._con().execute("INSERT OR IGNORE INTO nonces (nonce, used_at) VALUES (?, ?)",
                                  (nonce, self.clock()))
        return cur.rowcount == 1

    def schedule(self) -> int:
        """Add due escalations and reminders of unacknowledged events; return how many alerts were added."""
        rules = self.policy.alert
        now = self.clock()
        con = self._con()
        added = 0
        con.execute("BEGIN IMMEDIATE")
        try:
            for eid, created in con.execute("SELECT id, created FROM events WHERE acked_at IS NULL").fetchall():
                age_min = (now - created) / 60.0
                if rules.escalate_after_min > 0:
                    level = min(int(age_min // rules.escalate_after_min), len(self.policy.contacts) - 1)
                    for k in range(1, level + 1):
                        added += self._insert_alerts(con, eid, k, f"escalation:{k}", now)
                if rules.reminder_every_min > 0 and rules.max_reminders > 0:
                    n = min(int(age_min // rules.reminder_every_min), rules.max_reminders)
                    for r in range(1, n + 1):
                        # reminder r goes to the contacts whose first alert was due before it
                        for k in range(len(self.policy.contacts)):
                            if k == 0 or (rules.escalate_after_min > 0
                                          and k * rules.escalate_after_min < r * rules.reminder_every_min):
                                added += self._insert_alerts(con, eid, k, f"reminder:{r}", now)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return added

    # ------------------------------------------------------------------ reading
    def events(self) -> list[dict]:
        """All events, oldest first, with their alerts."""
        con = self._con()
        con.row_factory = sqlite3.Row
        try:
            out = [dict(r) for r in con.execute("SELECT * FROM events ORDER BY onset")]
            for ev in out:
                ev["alerts"] = [dict(r) for r in con.execute(
                    "SELECT * FROM alerts WHERE event_id = ? ORDER BY created, contact, channel", (ev["id"],))]
        finally:
            con.row_factory = None
        return out

    def alerts(self, state: str | None = None) -> list[dict]:
        """Alert rows (optionally of one state)."""
        con = self._con()
        con.row_factory = sqlite3.Row
        try:
            q = "SELECT * FROM alerts" + (" WHERE state = ?" if state else "") + " ORDER BY created, key"
            return [dict(r) for r in con.execute(q, (state,) if state else ())]
        finally:
            con.row_factory = None

    def notices(self, state: str | None = None) -> list[dict]:
        """Notice rows (optionally of one state), oldest first; they are not seizure events."""
        con = self._con()
        con.row_factory = sqlite3.Row
        try:
            q = "SELECT * FROM notices" + (" WHERE state = ?" if state else "") + " ORDER BY created, key"
            return [dict(r) for r in con.execute(q, (state,) if state else ())]
        finally:
            con.row_factory = None

    def quality(self) -> list[dict]:
        """Signal-quality events."""
        con = self._con()
        return [dict(zip(("stream", "kind", "t", "detail"), r, strict=True))
                for r in con.execute("SELECT stream, kind, t, detail FROM quality ORDER BY t")]

    def set_meta(self, key: str, value) -> None:
        """Store a small JSON value (e.g. where a stream resumes)."""
        self._con().execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default=None):
        """A value stored with :meth:`set_meta`."""
        row = self._con().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # ------------------------------------------------------------------ delivery
    def _message(self, row: dict, event: dict, ack_url: str | None) -> Message:
        from eegmon.events import to_datetime

        when = f"{to_datetime(event['onset']):%Y-%m-%d %H:%M:%S} UTC"
        kind = row["kind"]
        title = {"initial": "Seizure alert"}.get(kind.split(":")[0], f"Seizure alert ({kind.replace(':', ' ')})")
        lines = [f"Possible seizure on {event['stream']} at {when} (probability {event['probability']:.2f}).",
                 f"Event {event['id']}."]
        if ack_url:
            lines.append(f"Acknowledge: {ack_url}")
        lines.append(f"Or run: eegmon alerts ack {event['id']}")
        lines.append(f"Idempotency key: {row['key']}")
        return Message(row["key"], title, "\n".join(lines), event["id"], kind)

    def deliver_due(self, channels: Channels, *, ack_link: Callable[[str, str], str] | None = None,
                    rng: random.Random | None = None, limit: int = 100) -> int:
        """Try every due pending alert, then every due pending notice, once; return how many were sent.

        A failure sets ``next_try`` by exponential backoff with jitter; after ``max_attempts`` the
        alert (or notice) is marked failed.
        """
        con = self._con()
        now = self.clock()
        con.row_factory = sqlite3.Row
        try:
            due = [dict(r) for r in con.execute(
                "SELECT a.*, e.stream, e.onset, e.probability, e.acked_at FROM alerts a JOIN events e "
                "ON a.event_id = e.id WHERE a.state = 'pending' AND a.next_try <= ? ORDER BY a.next_try LIMIT ?",
                (now, limit))]
        finally:
            con.row_factory = None
        rng = rng or random.Random()
        sent = 0
        for row in due:
            if row["acked_at"] is not None:
                con.execute("UPDATE alerts SET state = 'acknowledged' WHERE key = ? AND state = 'pending'",
                            (row["key"],))
                continue
            try:
                contact = self.policy.contact(row["contact"])
                url = contact.channels[row["channel"]]
            except (EegmonError, IndexError):
                con.execute("UPDATE alerts SET state = 'failed', last_error = ? WHERE key = ?",
                            ("contact or channel no longer in the policy", row["key"]))
                continue
            event = {"id": row["event_id"], "stream": row["stream"], "onset": row["onset"],
                     "probability": row["probability"]}
            msg = self._message(row, event, ack_link(row["event_id"], row["contact"]) if ack_link else None)
            sent += self._send(con, "alerts", row, url, msg, channels, rng)
        # notices after alerts: a seizure alert must not wait behind a forecast message
        return sent + self._deliver_notices(channels, rng, max(0, limit - len(due)))

    def _deliver_notices(self, channels: Channels, rng: random.Random, limit: int) -> int:
        if limit <= 0:
            return 0
        con = self._con()
        now = self.clock()
        con.row_factory = sqlite3.Row
        try:
            due = [dict(r) for r in con.execute(
                "SELECT * FROM notices WHERE state = 'pending' AND next_try <= ? ORDER BY next_try LIMIT ?",
                (now, limit))]
        finally:
            con.row_factory = None
        sent = 0
        for row in due:
            if row["expires"] is not None and now >= row["expires"]:
                con.execute("UPDATE notices SET state = 'expired' WHERE key = ? AND state = 'pending'", (row["key"],))
                logger.warning("notice %s (%s) to %s expired before it could be sent", row["key"][:12], row["kind"],
                               row["contact"])
                continue
            try:
                url = self.policy.contact(row["contact"]).channels[row["channel"]]
            except (EegmonError, IndexError):
                con.execute("UPDATE notices SET state = 'failed', last_error = ? WHERE key = ?",
                            ("contact or channel no longer in the policy", row["key"]))
                continue
            # the key goes in the text too, as for alerts (receivers without headers can still dedupe)
            msg = Message(row["key"], row["title"], f"{row['body']}\nIdempotency key: {row['key']}", "", row["kind"])
            sent += self._send(con, "notices", row, url, msg, channels, rng)
        return sent

    def _send(self, con: sqlite3.Connection, table: str, row: dict, url: str, msg: Message, channels: Channels,
              rng: random.Random) -> int:
        """Send one alert or notice row; record the outcome (1 if sent, else 0 and the next try)."""
        what = table[:-1]  # "alert" or "notice", for the logs
        d = self.policy.delivery
        try:
            channels.send(url, msg)
        except Exception as err:  # noqa: BLE001 - any channel failure is retried
            attempts = row["attempts"] + 1
            delay = min(d.backoff_max_s, d.backoff_initial_s * 2 ** (attempts - 1))
            delay *= 1.0 + 0.25 * rng.random()
            state = "failed" if attempts >= d.max_attempts else "pending"
            error = str(err).replace(url, redact(url))[:300]
            con.execute(f"UPDATE {table} SET attempts = ?, next_try = ?, state = ?, last_error = ? WHERE key = ?",
                        (attempts, self.clock() + delay, state, error, row["key"]))
            logger.warning("%s %s to %s via %s: attempt %d failed (%s)%s", what, row["key"][:12], row["contact"],
                           redact(url), attempts, error, "; giving up" if state == "failed" else "")
            return 0
        con.execute(f"UPDATE {table} SET attempts = attempts + 1, state = 'sent', sent_at = ?, last_error = NULL "
                    "WHERE key = ?", (self.clock(), row["key"]))
        logger.info("%s %s (%s) sent to %s via %s", what, row["key"][:12], row["kind"], row["contact"], redact(url))
        return 1


class DeliveryWorker:
    """Deliver the outbox in a background thread (schedule escalations, send due alerts, repeat).

    Parameters
    ----------
    outbox : Outbox
        The outbox (the worker opens its own connection).
    channels : Channels
        Where messages go.
    ack_link : callable | None
        ``(event_id, contact) -> URL`` to put in messages.
    interval_s : float
        Pause between rounds (a newly committed event wakes the worker at once).
    raise_errors : bool
        Re-raise an unexpected error from :meth:`join` (tests); otherwise it is logged and the
        worker goes on.
    """

    def __init__(self, outbox: Outbox, channels: Channels, *, ack_link: Callable[[str, str], str] | None = None,
                 interval_s: float = 0.2, raise_errors: bool = False) -> None:
        self.outbox, self.channels, self.ack_link = outbox, channels, ack_link
        self.interval_s = interval_s
        self.raise_errors = raise_errors
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One round: schedule, then deliver what is due; the number of alerts and notices sent."""
        self.outbox.schedule()
        return self.outbox.deliver_due(self.channels, ack_link=self.ack_link)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as err:  # noqa: BLE001 - the worker must not die
                logger.exception("alert delivery round failed")
                if self.raise_errors:
                    self.error = err
                    return
            self._wake.wait(self.interval_s)
            self._wake.clear()
        self.outbox.close()

    def start(self) -> DeliveryWorker:
        """Start the background thread."""
        self.outbox.listeners.append(self._wake.set)
        self._thread = threading.Thread(target=self._loop, name="eegmon-alerts", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread; re-raise its error when ``raise_errors``."""
        self._stop.set()
        self._wake.set()
        if self._wake.set in self.outbox.listeners:
            self.outbox.listeners.remove(self._wake.set)
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error
