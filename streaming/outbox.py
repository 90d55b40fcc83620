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
* States: ``pending`` (to send, ``next_try`` says when), ``sent``, ``failed`` (gave up: see
  below), ``acknowledged`` (the event was acknowledged before this alert went out, so it never
  will: acknowledgement stops escalation, reminders and any retry still pending), ``cancelled``
  (the same after the event was cancelled as a false alarm: see "Countdown" below).
* **Nobody is left uninformed.** A failed attempt is retried with capped exponential backoff
  (:meth:`~eegmon.streaming.policy.Delivery.backoff_s`: at most ``urgent_backoff_max_s``, 5 s by
  default, in an alert's first minutes, so a receiver that comes back gets it within seconds) for
  ``give_up_after_min`` after the alert was queued. Then, or at once when its contact or channel
  is no longer in the policy, the alert is ``failed``, logged at ERROR and escalated: a
  ``delivery_failed:<contact>`` alert about the same event goes to the next contact or, when the
  failed one was the last, to every other channel of every contact. Those are not escalated again
  (a loop would never end when every channel is down); their failure is logged at ERROR.
* **Checked, not trusted.** Opening runs ``PRAGMA quick_check``; a file SQLite cannot read, a
  failing check, an existing file without the outbox tables (0 bytes, or another database) are an
  :class:`~eegmon.errors.EegmonError` naming the file and ``eegmon alerts recover``. After each
  event, acknowledgement and alert outcome the WAL is checkpointed into the main file, so that a
  lost or damaged ``-wal`` file (which SQLite silently ignores) loses no event and no pending alert,
  only the retry counters and the quality events written since. The **ledger** beside the file
  (``DB.ledger``, JSON, written atomically after each event and each alert sent) holds the number
  of events, the last one and the onset of the last event an alert was delivered for; an outbox
  missing events its ledger lists (a deleted, emptied or older file) is refused in the same way.
  :mod:`eegmon.streaming.recovery` rebuilds an outbox from the archive's detections.
* No secret is stored: a row names the contact and the index of its channel in the policy; the
  URL is looked up (and ``${ENV}`` expanded) when sending.
* **Notices** (the daily forecast message, :mod:`eegmon.streaming.forecast_message`) are messages
  that are not about a seizure: they live in their own table ``notices``, with their text, and are
  delivered by the same worker with the same retries and backoff, after the due alerts. They
  have no event, so no escalation, reminder, acknowledgement or ack link, and
  :meth:`Outbox.events` never lists them. A notice still pending when its ``expires`` time passes
  is marked ``expired`` instead of being sent (today's forecast is wrong tomorrow). The table is
  created with ``CREATE TABLE IF NOT EXISTS`` like the others, so an outbox file written before
  notices existed gains it when opened and keeps working. A notice is retried up to
  ``max_attempts`` times, then ``failed`` and logged at ERROR.
* ``events.recovered_at`` (added to older files when they are opened) is set on events rebuilt
  from the archive by ``eegmon alerts recover``: their alerts say so.
* **Messages for families** (:meth:`Outbox._message`): the patient's alias, local times in
  ``patient.time_zone``, what happened, what to do, the acknowledgement link; the stream id (which
  may be an identifier) is in no message and no log line. When an event is acknowledged, every
  other contact who was sent an alert about it gets an ``acknowledged`` notice saying who did and
  when, in the acknowledgement's transaction (a notice: never escalated or reminded).
* **Countdown** (``alert.countdown_s`` > 0): the first contact's alert carries a cancel link and
  the escalations are replaced by one ``countdown`` alert to every other contact once the
  countdown has passed uncancelled and unacknowledged; reminders go to the contacts alerted so
  far as usual. :meth:`Outbox.cancel` (a false alarm) stops escalation, reminders and retries like
  an acknowledgement (pending alerts become ``cancelled``), marks the event cancelled
  (``events.cancelled_at``, ``cancelled_by``; the event is kept) and sends a ``false_alarm``
  notice to every other contact already sent an alert about it.
* **A file that cannot be written** (a full or read-only disk) is read as usual. An alert sent
  while its ``sent`` state cannot be stored is remembered in memory and never sent again by this
  process (its state is stored as soon as the file takes writes again); a failed attempt whose
  next try cannot be stored waits in memory too. A failing checkpoint or ledger write is logged,
  not raised: the commit itself is in the WAL. The worker logs a failing round once, not every
  round, and keeps delivering what it can.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eegmon._atomic import atomic_write
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
CREATE INDEX IF NOT EXISTS quality_key ON quality(stream, kind, t);
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


class ReplayError(Exception):
    """An acknowledgement token's nonce was used before (the token is replayed)."""


def local_time(t: float, zone: str, *, now: float | None = None) -> str:
    """``t`` (s since the epoch) as a family reads it: ``"02:14 (Europe/London)"``, with the date when not today.

    ``now`` (default: the current time) says which day is today, in ``zone``.
    """
    import datetime as dt

    from eegmon.forecast.seizures import time_zone

    tz = time_zone(zone)
    when = dt.datetime.fromtimestamp(t, tz)
    today = dt.datetime.fromtimestamp(time.time() if now is None else now, tz).date()
    day = "" if when.date() == today else f"{when:%a %d %b %Y} "
    return f"{day}{when:%H:%M} ({zone})"


def acknowledger(by: str | None) -> str:
    """Who acknowledged, as stored in ``events.acked_by`` (``link:mum``), for messages: ``mum``."""
    if not by:
        return "someone"
    who = by.removeprefix("link:")
    return "someone at the computer (eegmon alerts ack)" if who == "cli" else who


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


def recover_hint(path: str | Path) -> str:
    """The command that moves a damaged outbox aside and rebuilds it (for error messages)."""
    return f"eegmon alerts recover --archive ARCHIVE.h5 --outbox {path} [--alerts POLICY]"


def ledger_path(path: str | Path) -> Path:
    """The ledger beside an outbox file (see the module docstring)."""
    path = Path(path)
    return path.with_name(path.name + ".ledger")


def read_ledger(path: str | Path) -> dict:
    """The outbox's ledger (``{}`` when there is none or it cannot be read: it is a check, not a source)."""
    try:
        data = json.loads(ledger_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _wal_checksum(data: bytes, big_endian: bool, s0: int = 0, s1: int = 0) -> tuple[int, int]:
    """SQLite's WAL checksum over ``data`` (a multiple of 8 bytes), continuing from ``(s0, s1)``."""
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    for x0, x1 in zip(words[::2], words[1::2], strict=True):
        s0 = (s0 + x0 + s1) & 0xFFFFFFFF
        s1 = (s1 + x1 + s0) & 0xFFFFFFFF
    return s0, s1


def wal_problem(path: str | Path, *, settle_s: float = 0.1) -> str | None:
    """What is wrong with the outbox's write-ahead log, read before SQLite opens (and resets) it; None if fine.

    SQLite silently ignores a WAL whose header or frames fail their checksums, and a missing one:
    the commits in it are gone without an error. This looks for a missing WAL beside its
    ``-shm`` (the file was not closed cleanly and its WAL removed), a header that is not a WAL's,
    and frames of the current WAL (same salts) whose checksum fails or that are cut short. A
    problem is reported only if it is still there ``settle_s`` later: another process writing
    the WAL at this moment shows a frame half written.
    """
    problem = _wal_problem(Path(path))
    if problem is not None and settle_s > 0:
        time.sleep(settle_s)
        problem = _wal_problem(Path(path))
    return problem


def _wal_problem(path: Path) -> str | None:
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if not wal.exists():
        return "it is missing while its -shm file is there" if shm.exists() and path.exists() else None
    data = wal.read_bytes()
    if not data:
        return None  # emptied by a checkpoint: normal
    if len(data) < 32 or struct.unpack(">I", data[:4])[0] not in (0x377F0682, 0x377F0683):
        return "its header is not a SQLite WAL header"
    big = data[3] == 0x83
    page = struct.unpack(">I", data[8:12])[0]
    salts = data[16:24]
    s = _wal_checksum(data[:24], big)
    if s != struct.unpack(">II", data[24:32]):
        return "its header checksum fails"
    frame = 24 + page
    if (len(data) - 32) % frame:  # SQLite writes whole frames
        return f"it is cut short ({len(data)} bytes is not a whole number of {frame}-byte frames)"
    for off in range(32, len(data), frame):
        head, body = data[off:off + 24], data[off + 24:off + frame]
        if head[8:16] != salts:
            return None  # frames of an earlier WAL generation follow: normal
        s = _wal_checksum(head[:8] + body, big, *s)
        if s != struct.unpack(">II", head[16:24]):
            return f"the frame at byte {off} fails its checksum"
    return None


def connect(path: str | Path, *, check: bool = True, hint: str | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the outbox database in WAL mode.

    Parameters
    ----------
    path : path-like
        The database file.
    check : bool
        Run ``PRAGMA quick_check`` first (once per :class:`Outbox`; it reads the whole file).
    hint : str | None
        The recovery command to name in errors (default: :func:`recover_hint`).

    Raises
    ------
    EegmonError
        When SQLite cannot open or read the file, or the check finds damage; the message names
        the file and the recovery command.
    """
    con = None
    try:
        con = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        if check:
            found = [row[0] for row in con.execute("PRAGMA quick_check(5)")]
            if found != ["ok"]:
                detail = " ".join(" ".join(found).split())  # one line: the CLI prints one
                raise sqlite3.DatabaseError(f"integrity check: {detail[:300]}")
        con.executescript(_SCHEMA)
        columns = {row[1] for row in con.execute("PRAGMA table_info(events)")}
        # columns added after the first files were written
        for column in ("recovered_at REAL", "cancelled_at REAL", "cancelled_by TEXT"):
            if column.split()[0] not in columns:
                con.execute(f"ALTER TABLE events ADD COLUMN {column}")
    except sqlite3.OperationalError as err:  # locked, unreadable, no such folder: not damage
        if con is not None:
            con.close()
        raise EegmonError(f"cannot open the alert outbox: {err}.", path) from None
    except sqlite3.DatabaseError as err:
        if con is not None:
            con.close()
        raise EegmonError(f"the alert outbox is damaged ({err}); move it aside and rebuild it with "
                          f"'{hint or recover_hint(path)}'.", path) from None
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
    check_ledger : bool
        Refuse a file that lacks events its ledger lists (False only for a rebuild).
    recover_with : str | None
        The recovery command named in errors (default: :func:`recover_hint`).

    Raises
    ------
    EegmonError
        When the file is damaged, exists without the outbox tables (e.g. 0 bytes) or has lost
        events (see the module docstring).
    """

    def __init__(self, path: str | Path, policy: Policy, *, clock: Callable[[], float] = time.time,
                 check_ledger: bool = True, recover_with: str | None = None) -> None:
        self.path = Path(path)
        self.recover_with = recover_with or recover_hint(path)
        self.policy = policy
        self.clock = clock
        self._local = threading.local()
        self._ledger_lock = threading.Lock()
        #: Called after an event is committed (a delivery worker wakes up at once).
        self.listeners: list[Callable[[], None]] = []
        # while the file cannot be written: alerts sent whose state is not stored yet, and the next
        # try of failed attempts not stored (see the module docstring)
        self._unrecorded: dict[str, tuple[str, float]] = {}
        self._wait: dict[str, float] = {}
        self._write_fault: str | None = None
        existed = self.path.exists()
        #: What was found wrong with the WAL when opening (logged as a warning; see :func:`wal_problem`).
        self.wal_problem = wal_problem(self.path)
        if self.wal_problem:
            logger.warning("%s: the outbox's write-ahead log is damaged (%s): changes after the last checkpoint "
                           "(retry counts, quality events) may be lost; events, acknowledgements and alert "
                           "outcomes are checkpointed into the main file and checked against the ledger",
                           self.path, self.wal_problem)
        if existed:
            self._check_tables()
        elif check_ledger:
            self._check_ledger(0)  # before connecting creates an empty file in its place
        self._local.con = connect(self.path, check=existed, hint=self.recover_with)
        if check_ledger:
            self._check_ledger(self._con().execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def _check_tables(self) -> None:
        """Refuse an existing file that is not an outbox (before connecting would create the tables)."""
        size = self.path.stat().st_size
        tables: set[str] = set()
        if size:
            try:
                con = sqlite3.connect(self.path, timeout=30.0)
                try:
                    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                finally:
                    con.close()
            except sqlite3.OperationalError:
                return  # locked or read-only folder: connect() says what is wrong
            except sqlite3.DatabaseError:
                return  # damaged: connect() reports it with the recovery command
        if not {"events", "alerts"} <= tables:
            what = "empty (0 bytes)" if not size else "an SQLite file without the outbox tables"
            raise EegmonError(f"the alert outbox is {what}: not a file eegmon wrote, or one that was damaged. "
                              f"Rebuild it with '{self.recover_with}' (or delete it if it never held "
                              "alerts).", self.path)

    def _check_ledger(self, have: int) -> None:
        """Refuse a file holding ``have`` events when its ledger lists more, or an event it does not hold."""
        ledger = read_ledger(self.path)
        n = int(ledger.get("events", 0) or 0)
        if n <= 0:
            return
        last = ledger.get("last_event")
        if have < n or (last and self._con().execute("SELECT 1 FROM events WHERE id = ?",
                                                     (last,)).fetchone() is None):
            from eegmon.events import to_datetime

            onset = ledger.get("last_onset")
            when = f" at {to_datetime(onset):%Y-%m-%d %H:%M:%S} UTC" if onset else ""
            held = f"the file holds {have}" if have or self.path.exists() else "the file is missing"
            raise EegmonError(f"the alert outbox has lost committed events: its ledger {ledger_path(self.path).name} "
                              f"lists {n} (the last {last}{when}), {held}. Pending alerts may be lost; rebuild "
                              f"it with '{self.recover_with}'.", self.path)

    def restore(self, tables: dict[str, tuple[Sequence[str], Sequence[tuple]]]) -> dict[str, int]:
        """Insert rows salvaged from another outbox file in one transaction (``INSERT OR IGNORE``).

        Parameters
        ----------
        tables : dict
            ``table -> (column names, rows)``; columns this schema does not have are left out.

        Returns
        -------
        dict
            Rows added per table.
        """
        con = self._con()
        added = {}
        con.execute("BEGIN IMMEDIATE")
        try:
            for table, (names, rows) in tables.items():
                have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                cols = [n for n in names if n in have]
                if not cols:
                    continue
                idx = [list(names).index(n) for n in cols]
                cur = con.executemany(f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES "
                                      f"({', '.join('?' * len(cols))})", ([r[i] for i in idx] for r in rows))
                added[table] = cur.rowcount
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._durable(con)
        return added

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = connect(self.path, check=False)
        return con

    def _durable(self, con: sqlite3.Connection, *, ledger: bool = True) -> None:
        """Copy the WAL into the main file and update the ledger (after what must survive a lost WAL).

        Never raises: the commit is in the WAL already, and a caller must not take a full disk here
        for a lost commit (the engine would then send the alert a second way).
        """
        try:
            # PASSIVE does not hold writers up (the worker delivering this event); FULL only when a
            # reader kept it from copying every frame
            _, log, done = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if done < log:
                con.execute("PRAGMA wal_checkpoint(FULL)")
        except sqlite3.Error as err:  # busy for 30 s, or a full disk: the commit is in the WAL, as before
            logger.warning("outbox %s: WAL checkpoint failed (%s); the last commit is only in the WAL", self.path, err)
        if ledger:
            try:
                self.write_ledger(con)
            except (OSError, sqlite3.Error) as err:
                logger.warning("outbox %s: ledger not updated (%s)", self.path, err)

    def write_ledger(self, con: sqlite3.Connection | None = None) -> dict:
        """Write the ledger from the file's current content (atomically); return it."""
        con = con or self._con()
        with self._ledger_lock:
            n, = con.execute("SELECT COUNT(*) FROM events").fetchone()
            last = con.execute("SELECT id, onset FROM events ORDER BY created DESC, onset DESC LIMIT 1").fetchone()
            sent, = con.execute("SELECT MAX(e.onset) FROM events e JOIN alerts a ON a.event_id = e.id "
                                "WHERE a.state = 'sent'").fetchone()
            data = {"events": n, "last_event": last[0] if last else None, "last_onset": last[1] if last else None,
                    "last_sent_onset": sent, "written": self.clock()}
            with atomic_write(ledger_path(self.path), "w") as f:
                json.dump(data, f)
        return data

    def close(self) -> None:
        """Close this thread's connection."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    def _fault(self, err: sqlite3.Error) -> None:
        """Note that the file cannot be written (logged once per fault)."""
        if self._write_fault is None:
            self._write_fault = str(err)
            logger.error("outbox %s cannot be written (%s); delivery goes on, states are kept in memory until it "
                         "can", self.path, err)

    def _store(self, con: sqlite3.Connection, sql: str, params: tuple) -> bool:
        """Execute one write; False (and the fault noted) when the file cannot be written."""
        try:
            con.execute(sql, params)
        except sqlite3.OperationalError as err:  # full, read-only or failing disk (not a bug in the SQL)
            self._fault(err)
            return False
        if self._write_fault is not None:
            logger.warning("outbox %s can be written again", self.path)
            self._write_fault = None
        return True

    def _store_unrecorded(self, con: sqlite3.Connection) -> None:
        """Store the ``sent`` state of alerts sent while the file could not be written."""
        for key, (table, sent_at) in list(self._unrecorded.items()):
            if not self._store(con, f"UPDATE {table} SET attempts = attempts + 1, state = 'sent', sent_at = ?, "
                                    "last_error = NULL WHERE key = ?", (sent_at, key)):
                return
            del self._unrecorded[key]

    def _due(self, rows: list[dict], now: float) -> list[dict]:
        """Rows not held back in memory (sent but not stored, or waiting for a try not stored)."""
        return [r for r in rows if r["key"] not in self._unrecorded and self._wait.get(r["key"], now) <= now]

    # ------------------------------------------------------------------ writing
    def _insert_alerts(self, con: sqlite3.Connection, event: str, contact_index: int, kind: str, now: float,
                       channels: Sequence[int] | None = None) -> int:
        if contact_index >= len(self.policy.contacts):
            return 0
        contact = self.policy.contacts[contact_index]
        n = 0
        for i in range(len(contact.channels)) if channels is None else channels:
            cur = con.execute(
                "INSERT OR IGNORE INTO alerts (key, event_id, contact, channel, kind, state, next_try, created) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (alert_key(event, contact.name, i, kind), event, contact.name, i, kind, now, now))
            n += cur.rowcount
        return n

    def record_event(self, ev: SeizureEvent, *, recovered: bool = False) -> bool:
        """Store ``ev`` and its first alerts in one transaction; False if it is a known event (refractory).

        ``recovered``: the event is rebuilt from the archive (``eegmon alerts recover``); its
        alerts say so.
        """
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
                "INSERT INTO events (id, stream, onset, probability, detected_at, latency_s, channels, created, "
                "recovered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ev.id, ev.stream, ev.onset, ev.probability, ev.detected_at, ev.latency_s, ",".join(ev.channels),
                 now, now if recovered else None))
            self._insert_alerts(con, ev.id, 0, "initial", now)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        for listener in self.listeners:  # the worker sends while this thread checkpoints
            listener()
        self._durable(con)
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
        con.execute("BEGIN IMMEDIATE")
        try:
            added = self._insert_notices(con, kind, ref, contacts, title, body, expires, now)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if added:
            for listener in self.listeners:
                listener()
        return added

    @staticmethod
    def _insert_notices(con: sqlite3.Connection, kind: str, ref: str, contacts: Sequence[Contact], title: str,
                        body: str, expires: float | None, now: float) -> int:
        added = 0
        for contact in contacts:
            for i in range(len(contact.channels)):
                cur = con.execute(
                    "INSERT OR IGNORE INTO notices (key, kind, contact, channel, title, body, expires, state, "
                    "next_try, created) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                    (notice_key(kind, ref, contact.name, i), kind, contact.name, i, title, body, expires, now, now))
                added += cur.rowcount
        return added

    def _follow_up(self, con: sqlite3.Connection, eid: str, kind: str, title: str, body: str, skip: str,
                   now: float) -> int:
        """Queue a notice about event ``eid`` to every contact but ``skip`` who was sent an alert about it."""
        told = {r[0] for r in con.execute("SELECT DISTINCT contact FROM alerts WHERE event_id = ? AND state = 'sent'",
                                          (eid,))}
        contacts = [c for c in self.policy.contacts if c.name in told and c.name != skip]
        return self._insert_notices(con, kind, eid, contacts, title, body, None, now)

    def record_quality(self, stream: str, kind: str, t: float, detail: str) -> None:
        """Store one signal-quality event (never alerted); the same one again (stream, kind, time) is not stored.

        A restart after a crash can meet an event again (a gap just before the data it lost), at
        exactly the same time since stream times are exact.
        """
        self._con().execute("INSERT INTO quality (stream, kind, t, detail, created) SELECT ?, ?, ?, ?, ? "
                            "WHERE NOT EXISTS (SELECT 1 FROM quality WHERE stream = ? AND kind = ? AND t = ?)",
                            (stream, kind, t, detail, self.clock(), stream, kind, t))

    def acknowledge(self, event: str, by: str = "cli", *, nonce: str | None = None) -> bool:
        """Acknowledge an event (stops escalation and reminders); False if it was already acknowledged.

        Every other contact who was sent an alert about it gets an ``acknowledged`` notice (who and
        when, in local time), queued in the same transaction; ``by`` is ``link:<contact>`` for a link.

        ``event`` may be an event id or a unique prefix of one. ``nonce``, an acknowledgement
        token's, is recorded as used in the same transaction (:class:`ReplayError` if it was used
        before), so a token is never used up without its acknowledgement.
        """
        p = self.policy.patient
        return self._settle(event, by, nonce, "acked", "acknowledged", "acknowledged",
                            f"{p.alias}'s alert was acknowledged",
                            lambda who, at: f"{p.alias}'s alert was acknowledged by {who} at {at}: they are on it.")

    def cancel(self, event: str, by: str, *, nonce: str | None = None) -> bool:
        """Cancel a false alarm: stop escalation, reminders and retries, tell those already alerted.

        Like :meth:`acknowledge` (``event`` an id or a unique prefix; ``nonce`` a cancel token's,
        :class:`ReplayError` if used before), but pending alerts become ``cancelled``, the event
        is marked cancelled (never deleted) and every other contact already sent an alert gets a
        ``false_alarm`` notice. False if it was cancelled before.
        """
        p = self.policy.patient
        return self._settle(event, by, nonce, "cancelled", "cancelled", "false_alarm", f"{p.alias}: false alarm, sorry",
                            lambda who, at: f"False alarm, sorry: {who} cancelled {p.alias}'s seizure alert at {at}. "
                                            "Nothing to do.")

    def _settle(self, event: str, by: str, nonce: str | None, column: str, state: str, kind: str, title: str,
                body: Callable[[str, str], str]) -> bool:
        """Acknowledge or cancel in one transaction; False if it was done before.

        The event's ``<column>_at`` and ``<column>_by`` are set, its pending alerts become ``state``,
        and every other contact already sent an alert gets a ``kind`` notice (``body(who, when)``).
        """
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            if nonce is not None and con.execute("INSERT OR IGNORE INTO nonces (nonce, used_at) VALUES (?, ?)",
                                                 (nonce, self.clock())).rowcount != 1:
                con.execute("ROLLBACK")
                raise ReplayError("token already used")
            eid, done = self._one_event(con, event, f"{column}_at")
            if done is not None:
                con.execute("COMMIT" if nonce is not None else "ROLLBACK")  # the token is used all the same
                return False
            now = self.clock()
            con.execute(f"UPDATE events SET {column}_at = ?, {column}_by = ? WHERE id = ?", (now, by, eid))
            con.execute("UPDATE alerts SET state = ? WHERE event_id = ? AND state = 'pending'", (state, eid))
            who, at = acknowledger(by), local_time(now, self.policy.patient.time_zone, now=now)
            added = self._follow_up(con, eid, kind, title, body(who, at), by.removeprefix("link:"), now)
            con.execute("COMMIT")
        except (EegmonError, ReplayError):
            raise
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._durable(con, ledger=False)
        self._wake(added)
        return True

    def _one_event(self, con: sqlite3.Connection, event: str, column: str) -> tuple[str, float | None]:
        """The id and ``column`` of the one event ``event`` names (an id or a unique prefix); rolls back if none."""
        rows = con.execute(f"SELECT id, {column} FROM events WHERE id LIKE ?",
                           (event.replace("%", "").replace("_", "") + "%",)).fetchall()
        if len(rows) != 1:
            con.execute("ROLLBACK")
            what = "no event" if not rows else f"{len(rows)} events"
            raise EegmonError(f"{what} with id {event!r} in the outbox.", self.path)
        return rows[0]

    def _wake(self, added: int) -> None:
        if added:
            for listener in self.listeners:
                listener()

    def event(self, eid: str) -> dict | None:
        """One event's row (no alerts), or None."""
        con = self._con()
        con.row_factory = sqlite3.Row
        try:
            row = con.execute("SELECT * FROM events WHERE id = ?", (eid,)).fetchone()
        finally:
            con.row_factory = None
        return None if row is None else dict(row)

    def schedule(self) -> int:
        """Add due escalations and reminders of unacknowledged events; return how many alerts were added."""
        rules = self.policy.alert
        now = self.clock()
        con = self._con()
        added = 0
        con.execute("BEGIN IMMEDIATE")
        try:
            for eid, created in con.execute("SELECT id, created FROM events WHERE acked_at IS NULL "
                                            "AND cancelled_at IS NULL").fetchall():
                age_min = (now - created) / 60.0
                countdown = rules.countdown_s > 0
                if countdown and now - created >= rules.countdown_s:
                    # the countdown replaces escalation: once over, everyone is told at once
                    for k in range(1, len(self.policy.contacts)):
                        added += self._insert_alerts(con, eid, k, "countdown", now)
                elif not countdown and rules.escalate_after_min > 0:
                    level = min(int(age_min // rules.escalate_after_min), len(self.policy.contacts) - 1)
                    for k in range(1, level + 1):
                        added += self._insert_alerts(con, eid, k, f"escalation:{k}", now)
                if rules.reminder_every_min > 0 and rules.max_reminders > 0:
                    n = min(int(age_min // rules.reminder_every_min), rules.max_reminders)
                    for r in range(1, n + 1):
                        # reminder r goes to the contacts whose first alert was due before it
                        for k in range(len(self.policy.contacts)):
                            if k == 0 or (rules.countdown_s / 60.0 < r * rules.reminder_every_min if countdown
                                          else rules.escalate_after_min > 0
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

    def quality(self, latest: int | None = None) -> list[dict]:
        """Signal-quality events, oldest first (only the ``latest`` recorded when given: no sort of the table)."""
        con = self._con()
        sql = "SELECT stream, kind, t, detail FROM quality ORDER BY t"
        if latest is not None:
            sql = (f"SELECT * FROM (SELECT stream, kind, t, detail FROM quality ORDER BY rowid DESC "
                   f"LIMIT {int(latest)}) ORDER BY t")
        return [dict(zip(("stream", "kind", "t", "detail"), r, strict=True)) for r in con.execute(sql)]

    def set_meta(self, key: str, value) -> None:
        """Store a small JSON value (e.g. where a stream resumes)."""
        self._con().execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default=None):
        """A value stored with :meth:`set_meta`."""
        row = self._con().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def update_meta(self, key: str, change: Callable, default=None):
        """Replace the :meth:`set_meta` value of ``key`` by ``change(value)`` in one transaction; return it.

        ``change`` gets ``default`` when there is no value. The file is checkpointed after, so the
        change survives a lost WAL (e.g. a revoked caregiver page link).
        """
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            value = change(default if row is None else json.loads(row[0]))
            con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._durable(con, ledger=False)
        return value

    # ------------------------------------------------------------------ delivery
    def _message(self, con: sqlite3.Connection, row: dict, ack_url: str | None, cancel_url: str | None) -> Message:
        """A seizure alert's text for a family (see the module docstring); the key is its last line."""
        p, rules = self.policy.patient, self.policy.alert
        now = self.clock()

        def at(t: float) -> str:
            return local_time(t, p.time_zone, now=now)

        kind = row["kind"]
        base, _, ref = kind.partition(":")
        title = f"Seizure alert: {p.alias}"
        lines = [f"eegmon detected a possible seizure of {p.alias} at {at(row['detected_at'])}: it started "
                 f"{at(row['onset']).split(' (')[0]}, still going on when detected."]
        if base == "delivery_failed":
            title += f" (could not reach {ref})"
            failed = con.execute("SELECT last_error FROM alerts WHERE event_id = ? AND contact = ? "
                                 "AND state = 'failed' ORDER BY created LIMIT 1", (row["event_id"], ref)).fetchone()
            lines.append(f"The alert to {ref} could not be delivered"
                         + (f" ({failed[0]})" if failed and failed[0] else "") + f": please check on {p.alias}.")
        elif base == "reminder":
            title = f"Reminder: seizure alert for {p.alias} not yet acknowledged"
            lines.insert(0, f"Reminder {ref}: not yet acknowledged.")
        elif base == "escalation":
            waited = int(ref) * rules.escalate_after_min
            title += ", nobody has acknowledged"
            lines.insert(0, f"Nobody has acknowledged for {waited:g} min: you are the next contact.")
        elif base == "countdown":
            lines.insert(0, f"Nobody cancelled it within {rules.countdown_s:g} s: every contact is told.")
        if row["recovered_at"] is not None:
            title += " (recovered)"
            lines.append(f"Recovered from the archive at {at(row['recovered_at'])} after the alert outbox was "
                         "damaged: the first alert may never have been sent, and this one may come late.")
        lines.append(f"What to do: {p.instructions.strip() or _DEFAULT_INSTRUCTIONS.format(alias=p.alias)}")
        if ack_url:
            lines.append(f"I am on it (tells the others): {ack_url}")
        if cancel_url:
            lines.append(f"Cancel: false alarm (the others are told {rules.countdown_s:g} s after this "
                         f"alert unless you cancel): {cancel_url}")
        lines.append(f"Detection probability {row['probability']:.2f}, event {row['event_id']}. "
                     f"Or run: eegmon alerts ack {row['event_id']}")
        lines.append(f"Idempotency key: {row['key']}")
        return Message(row["key"], title, "\n".join(lines), row["event_id"], kind, ack_url or "")

    def deliver_due(self, channels: Channels, *, ack_link: Callable[[str, str], str] | None = None,
                    cancel_link: Callable[[str, str], str] | None = None, rng: random.Random | None = None,
                    limit: int = 100) -> int:
        """Try every due pending alert, then every due pending notice, once; return how many were sent.

        ``ack_link`` and ``cancel_link`` are ``(event id, contact) -> URL``; the cancel link goes
        in the first contact's initial alert when ``alert.countdown_s`` > 0.

        A failure sets ``next_try`` by capped exponential backoff with jitter. An alert older than
        ``give_up_after_min`` whose attempt fails, or whose contact or channel left the policy, is
        failed and escalated (see the module docstring); a notice is failed after ``max_attempts``.
        """
        con = self._con()
        now = self.clock()
        self._store_unrecorded(con)  # before the query: a row stored as sent now is not due
        con.row_factory = sqlite3.Row
        try:
            due = [dict(r) for r in con.execute(
                "SELECT a.*, e.onset, e.probability, e.detected_at, e.acked_at, e.cancelled_at, e.recovered_at "
                "FROM alerts a "
                "JOIN events e ON a.event_id = e.id WHERE a.state = 'pending' AND a.next_try <= ? "
                "ORDER BY a.next_try LIMIT ?", (now, limit))]
        finally:
            con.row_factory = None
        due = self._due(due, now)
        rng = rng or random.Random()
        sent = 0
        for row in due:
            self._wait.pop(row["key"], None)
            if row["acked_at"] is not None:
                self._store(con, "UPDATE alerts SET state = 'acknowledged' WHERE key = ? AND state = 'pending'",
                            (row["key"],))
                continue
            if row["cancelled_at"] is not None:
                self._store(con, "UPDATE alerts SET state = 'cancelled' WHERE key = ? AND state = 'pending'",
                            (row["key"],))
                continue
            try:
                url = self.policy.contact(row["contact"]).channels[row["channel"]]
            except (EegmonError, IndexError):
                self._give_up_or_wait(con, row, "contact or channel no longer in the policy")
                continue
            offer_cancel = (cancel_link is not None and self.policy.alert.countdown_s > 0 and row["kind"] == "initial")
            msg = self._message(con, row, ack_link(row["event_id"], row["contact"]) if ack_link else None,
                                cancel_link(row["event_id"], row["contact"]) if offer_cancel else None)
            sent += self._send(con, "alerts", row, url, msg, channels, rng)
        # notices after alerts: a seizure alert must not wait behind a forecast message
        return sent + self._deliver_notices(channels, rng, max(0, limit - len(due)))

    def _give_up_or_wait(self, con: sqlite3.Connection, row: dict, error: str) -> None:
        """:meth:`_give_up`, or, when the file cannot be written, try again after the backoff cap."""
        try:
            self._give_up(con, row, error)
        except sqlite3.OperationalError as err:
            self._fault(err)
            self._wait[row["key"]] = self.clock() + self.policy.delivery.backoff_max_s

    def _give_up(self, con: sqlite3.Connection, row: dict, error: str) -> None:
        """Fail an alert and tell someone else: the next contact, or every other channel after the last one."""
        now = self.clock()
        names = [c.name for c in self.policy.contacts]
        k = names.index(row["contact"]) if row["contact"] in names else None
        nxt = k + 1 if k is not None and k + 1 < len(names) else None
        escalate = not row["kind"].startswith("delivery_failed")
        added = 0
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("UPDATE alerts SET state = 'failed', last_error = ? WHERE key = ?", (error[:300], row["key"]))
            if escalate:
                kind = f"delivery_failed:{row['contact']}"
                if nxt is not None:
                    added = self._insert_alerts(con, row["event_id"], nxt, kind, now)
                else:
                    for j, contact in enumerate(self.policy.contacts):
                        others = [i for i in range(len(contact.channels))
                                  if (contact.name, i) != (row["contact"], row["channel"])]
                        added += self._insert_alerts(con, row["event_id"], j, kind, now, others)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._durable(con, ledger=False)
        if added:
            told = f"{added} delivery_failed alert(s) queued to " + (
                f"the next contact {names[nxt]!r}" if nxt is not None else "every other channel")
        else:
            told = "nobody else left to tell" if escalate else "not escalated again"
        logger.error("alert %s (%s) of event %s to %s channel %d gave up: %s; %s", row["key"][:12], row["kind"],
                     row["event_id"], row["contact"], row["channel"], error, told)
        if added:
            for listener in self.listeners:
                listener()

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
        for row in self._due(due, now):
            self._wait.pop(row["key"], None)
            if row["expires"] is not None and now >= row["expires"]:
                self._store(con, "UPDATE notices SET state = 'expired' WHERE key = ? AND state = 'pending'",
                            (row["key"],))
                logger.warning("notice %s (%s) to %s expired before it could be sent", row["key"][:12], row["kind"],
                               row["contact"])
                continue
            try:
                url = self.policy.contact(row["contact"]).channels[row["channel"]]
            except (EegmonError, IndexError):
                self._store(con, "UPDATE notices SET state = 'failed', last_error = ? WHERE key = ?",
                            ("contact or channel no longer in the policy", row["key"]))
                logger.error("notice %s (%s) to %s gave up: contact or channel no longer in the policy",
                             row["key"][:12], row["kind"], row["contact"])
                continue
            # the key goes in the text too, as for alerts (receivers without headers can still dedupe)
            msg = Message(row["key"], row["title"], f"{row['body']}\nIdempotency key: {row['key']}", "", row["kind"])
            sent += self._send(con, "notices", row, url, msg, channels, rng)
        return sent

    def _send(self, con: sqlite3.Connection, table: str, row: dict, url: str, msg: Message, channels: Channels,
              rng: random.Random) -> int:
        """Send one alert or notice row; record the outcome (1 if sent, else 0 and the next try or the give-up)."""
        what = table[:-1]  # "alert" or "notice", for the logs
        d = self.policy.delivery
        try:
            channels.send(url, msg)
        except Exception as err:  # noqa: BLE001 - any channel failure is retried
            attempts = row["attempts"] + 1
            now = self.clock()
            age = now - row["created"]
            error = str(err).replace(url, redact(url))[:300]
            if table == "alerts" and age >= d.give_up_after_min * 60.0:
                self._store(con, "UPDATE alerts SET attempts = ? WHERE key = ?", (attempts, row["key"]))
                self._give_up_or_wait(con, row, f"not delivered in {d.give_up_after_min:g} min, {attempts} "
                                                f"attempts; last: {error}")
                return 0
            if table == "notices" and attempts >= d.max_attempts:
                self._store(con, "UPDATE notices SET attempts = ?, state = 'failed', last_error = ? WHERE key = ?",
                            (attempts, error, row["key"]))
                logger.error("notice %s (%s) to %s via %s gave up after %d attempts (%s)", row["key"][:12],
                             row["kind"], row["contact"], redact(url), attempts, error)
                return 0
            delay = d.backoff_s(attempts, age, rng.random(), urgent=table == "alerts")
            if not self._store(con, f"UPDATE {table} SET attempts = ?, next_try = ?, last_error = ? WHERE key = ?",
                               (attempts, now + delay, error, row["key"])):
                self._wait[row["key"]] = now + delay
            logger.warning("%s %s to %s via %s: attempt %d failed (%s); next in %.1f s", what, row["key"][:12],
                           row["contact"], redact(url), attempts, error, delay)
            return 0
        sent_at = self.clock()
        if not self._store(con, f"UPDATE {table} SET attempts = attempts + 1, state = 'sent', sent_at = ?, "
                                "last_error = NULL WHERE key = ?", (sent_at, row["key"])):
            self._unrecorded[row["key"]] = (table, sent_at)  # never sent twice by this process
        elif table == "alerts":
            self._durable(con)
        logger.info("%s %s (%s) sent to %s via %s", what, row["key"][:12], row["kind"], row["contact"], redact(url))
        return 1


#: What to do, when the policy's ``patient.instructions`` says nothing.
_DEFAULT_INSTRUCTIONS = ("go to {alias} now and stay with them; keep them safe from injury, time the seizure and "
                         "follow the care plan. Call emergency services if it lasts more than 5 minutes, or if in "
                         "doubt.")

#: Pause between the delivery worker's rounds while they fail.
_FAILING_ROUND_S = 5.0


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
    cancel_link : callable | None
        ``(event_id, contact) -> URL`` of the false-alarm cancel link (``alert.countdown_s`` > 0).
    interval_s : float
        Pause between rounds (a newly committed event wakes the worker at once).
    raise_errors : bool
        Re-raise an unexpected error from :meth:`join` (tests); otherwise it is logged and the
        worker goes on.
    """

    def __init__(self, outbox: Outbox, channels: Channels, *, ack_link: Callable[[str, str], str] | None = None,
                 cancel_link: Callable[[str, str], str] | None = None, interval_s: float = 0.2,
                 raise_errors: bool = False) -> None:
        self.outbox, self.channels, self.ack_link, self.cancel_link = outbox, channels, ack_link, cancel_link
        self.interval_s = interval_s
        self.raise_errors = raise_errors
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One round: schedule, then deliver what is due; the number of alerts and notices sent.

        When the outbox cannot be written, scheduling waits (escalations are added later) and
        delivery goes on.
        """
        try:
            self.outbox.schedule()
        except sqlite3.OperationalError as err:
            self.outbox._fault(err)
        return self.outbox.deliver_due(self.channels, ack_link=self.ack_link, cancel_link=self.cancel_link)

    def _loop(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as err:  # noqa: BLE001 - the worker must not die
                if not failing:  # once per failing stretch, not every round
                    logger.exception("alert delivery round failed; retrying every %g s", _FAILING_ROUND_S)
                failing = True
                if self.raise_errors:
                    self.error = err
                    return
            else:
                if failing:
                    logger.warning("alert delivery rounds work again")
                failing = False
            self._wake.wait(max(self.interval_s, _FAILING_ROUND_S) if failing else self.interval_s)
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
