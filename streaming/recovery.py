"""Is the alert outbox the one the archive needs? Rebuild it from the archive when it is not.

The archive (``eegmon monitor --archive A.h5``) keeps every finished detection; the outbox
(``A.h5.alerts.sqlite``) keeps the seizure events and their alerts. A detection that met the
policy's alert rules (peak probability and duration) was alerted, so it must have an event in
the outbox, of the same stream within the refractory period. :func:`check_outbox` refuses to
start a monitor when the outbox is damaged or has lost events its ledger lists, and when it is
missing or holds no event while the archive holds such detections; it warns when some of them
have no event (only a warning: post-processing can merge two runs into a detection that met the
rules as a whole but was never alerted live). :func:`recover_outbox` (``eegmon alerts recover``)
then:

1. moves the outbox aside (``DB.damaged-<UTC time>`` and its ``-wal``/``-shm``/``.ledger``), never
   deleting it;
2. salvages what SQLite can still read from a copy of it (events, alerts, notices, nonces, meta,
   quality events, table by table and row by row);
3. rebuilds the outbox from what was salvaged, then queues an alert again for every alertable
   detection of the archive newer than the last event an alert was delivered for (the ledger's
   or the salvaged outbox's, else the last :data:`DEFAULT_WINDOW_H` hours; ``since`` overrides),
   marked as recovered. A detection already in the salvaged outbox keeps its event and alerts
   (same :func:`~eegmon.streaming.outbox.event_id`, and the refractory rule of
   :meth:`~eegmon.streaming.outbox.Outbox.record_event`): it is not alerted twice.

Detections before the point it checked are not asked for again (meta ``archive_checked_through``),
so older detections (a batch run, or events before ``since``) do not block the next start.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eegmon.archive import Archive, StoredAnnotation
from eegmon.errors import EegmonError
from eegmon.events import to_datetime

from .outbox import Outbox, SeizureEvent, event_id, ledger_path, read_ledger
from .policy import AlertRules, Policy

logger = logging.getLogger("eegmon.streaming")

#: Without a known last delivered alert, detections this many hours before now are alerted again.
DEFAULT_WINDOW_H = 24.0

_SALVAGED = ("events", "alerts", "notices", "nonces", "meta", "quality")
_CHECKED = "archive_checked_through"


@dataclass
class RecoveryReport:
    """What :func:`recover_outbox` did.

    Attributes
    ----------
    outbox : Path
        The rebuilt outbox.
    moved_to : Path | None
        Where the old file went (None: there was none).
    salvaged : dict
        Rows read back from the old file, per table.
    salvage_errors : list of str
        What could not be read (table: error).
    since : float
        Detections with a later onset were considered (s since the epoch).
    since_from : str
        Where ``since`` came from.
    recovered : list of SeizureEvent
        Events queued again (marked recovered).
    known : int
        Alertable detections after ``since`` already in the salvaged outbox (not alerted twice).
    """

    outbox: Path
    moved_to: Path | None = None
    salvaged: dict = field(default_factory=dict)
    salvage_errors: list[str] = field(default_factory=list)
    since: float = 0.0
    since_from: str = ""
    recovered: list[SeizureEvent] = field(default_factory=list)
    known: int = 0


def alertable(archive: Archive, rules: AlertRules) -> list[StoredAnnotation]:
    """The archive's detections that the monitor alerted: they met the alert rules (peak probability
    and duration) and begin in samples it recorded live (segments of source ``live:<stream>``).

    Detections of ``eegmon detect`` over imported recordings were never alerted, so they neither
    block a monitor's first start on that archive nor are alerted by a recovery.
    """
    live = [(s.start, s.stop) for s in archive.segments if s.source.startswith("live:")]
    return [d for d in archive.detections() if d.source.startswith("detector:") and d.duration >= rules.min_duration_s
            and (d.confidence is None or d.confidence >= rules.min_probability)
            and any(a <= d.onset <= b for a, b in live)]


def archive_stream(archive: Archive) -> str | None:
    """The stream id the monitor used for this archive (its segments' source ``live:<stream>``), if any."""
    for seg in reversed(archive.segments):
        if seg.source.startswith("live:"):
            return seg.source[len("live:"):]
    return None


def recover_command(outbox: str | Path, archive: str | Path, policy: Policy) -> str:
    """The ``eegmon alerts recover`` command line for these files."""
    alerts = f" --alerts {policy.path}" if policy.path != "<default>" else ""
    return f"eegmon alerts recover --archive {archive} --outbox {outbox}{alerts}"


def _when(t: float) -> str:
    return f"{to_datetime(t):%Y-%m-%d %H:%M:%S} UTC"


def missing_events(outbox: Outbox, detections: Sequence[StoredAnnotation]) -> list[StoredAnnotation]:
    """Alertable detections after the outbox's checked point that match none of its events."""
    events = outbox.events()
    through = outbox.get_meta(_CHECKED)
    if through is None:  # never checked: detections before its first event may predate it (a batch run)
        through = events[0]["onset"] - 1e-3 if events else float("-inf")
    refractory = outbox.policy.alert.refractory_s + 1e-3
    return [d for d in detections if d.onset > through
            and not any(abs(e["onset"] - d.onset) <= refractory for e in events)]


def check_outbox(outbox: str | Path, archive: str | Path | None, policy: Policy) -> list[StoredAnnotation]:
    """Refuse an outbox that is damaged, lost events its ledger lists, or is missing or empty beside an
    archive with alerted detections; warn about alerted detections it has no event for.

    A missing outbox next to an archive without alertable detections is fine (a first run).

    Returns
    -------
    list of StoredAnnotation
        The alerted detections the outbox has no event for (logged as a warning).

    Raises
    ------
    EegmonError
        Naming the outbox, the problem and the ``eegmon alerts recover`` command.
    """
    outbox = Path(outbox)
    detections: list[StoredAnnotation] = []
    if archive is not None and Path(archive).is_file():
        with Archive.open(archive) as arc:
            detections = alertable(arc, policy.alert)
    hint = recover_command(outbox, archive or "ARCHIVE.h5", policy)
    if not detections:
        if outbox.exists() or read_ledger(outbox):
            Outbox(outbox, policy, recover_with=hint).close()  # integrity, tables and ledger
        return []
    held = f"the archive {archive} holds {len(detections)} alerted seizure detection(s), the last at " \
           f"{_when(detections[-1].onset)}"
    if not outbox.exists():
        raise EegmonError(f"the alert outbox is missing but {held}: alerts still pending are lost. Rebuild it "
                          f"with '{hint}'.", outbox)
    ob = Outbox(outbox, policy, recover_with=hint)
    try:
        if not ob.events():
            raise EegmonError(f"the alert outbox holds no seizure event but {held}: it was emptied or replaced, "
                              f"and alerts still pending are lost. Rebuild it with '{hint}'.", outbox)
        lost = missing_events(ob, detections)
    finally:
        ob.close()
    if lost:
        # a warning, not a refusal: merged post-processing can finish an event that met the rules only
        # as a whole, which was never alerted live; refusing to monitor over it would be worse
        logger.warning("%s: the alert outbox has no event for %d of the %d alerted seizure detection(s) of the "
                       "archive %s (the last at %s): if it lost commits or was replaced, rebuild it with '%s'.",
                       outbox, len(lost), len(detections), archive, _when(lost[-1].onset), hint)
    return lost


def _salvage(path: Path, report: RecoveryReport) -> dict[str, tuple[list[str], list[tuple]]]:
    """Rows SQLite can still read from a copy of ``path`` (and its WAL), per table."""
    out: dict[str, tuple[list[str], list[tuple]]] = {}
    with tempfile.TemporaryDirectory(prefix="eegmon-salvage-") as tmp:
        copy = Path(tmp) / "outbox.sqlite"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").is_file():
                shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
        try:
            con = sqlite3.connect(copy)
        except sqlite3.DatabaseError as err:
            report.salvage_errors.append(f"open: {err}")
            return out
        try:
            for table in _SALVAGED:
                rows: list[tuple] = []
                try:
                    cur = con.execute(f"SELECT * FROM {table}")
                    names = [d[0] for d in cur.description]
                    for row in cur:  # row by row: what comes before a damaged page is kept
                        rows.append(row)
                except sqlite3.DatabaseError as err:
                    report.salvage_errors.append(f"{table}: {err}")
                    if not rows:
                        continue
                out[table] = (names, rows)
        finally:
            con.close()
    return out


def _move_aside(path: Path, stamp: str) -> Path | None:
    """Rename the outbox, its WAL, shared memory and ledger to ``<name>.damaged-<stamp>...``; never delete.

    Returns the new name of the outbox, or None when only a ledger (or nothing) was there.
    """
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    moved = None
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            src.rename(f"{target}{suffix}")
            moved = target
    ledger = ledger_path(path)
    if ledger.exists():
        ledger.rename(ledger_path(target))
    return moved


def recover_outbox(outbox: str | Path, archive: str | Path, policy: Policy, *, since: float | None = None,
                   clock: Callable[[], float] = time.time) -> RecoveryReport:
    """Move a damaged or lost outbox aside and rebuild it from what it still holds and the archive.

    Parameters
    ----------
    outbox : path-like
        The outbox file (it may be missing, empty or damaged).
    archive : path-like
        The archive the monitor wrote (its detections are the source of truth).
    policy : Policy
        Alert rules (which detections were alerted; refractory period) and contacts.
    since : float | None
        Alert again the detections after this onset (s since the epoch); default: the onset of
        the last event an alert was delivered for, else :data:`DEFAULT_WINDOW_H` hours ago.
    clock : callable
        Wall clock.

    Returns
    -------
    RecoveryReport
    """
    outbox, archive = Path(outbox), Path(archive)
    if not archive.is_file():
        raise EegmonError("no such archive (recovery rebuilds the outbox from its detections).", archive)
    with Archive.open(archive) as arc:
        detections = alertable(arc, policy.alert)
        stream = archive_stream(arc)  # alerted detections lie in live:<stream> segments
    report = RecoveryReport(outbox)
    ledger = read_ledger(outbox)
    salvaged = _salvage(outbox, report) if outbox.exists() and outbox.stat().st_size else {}
    report.moved_to = _move_aside(outbox, f"{to_datetime(clock()):%Y%m%dT%H%M%SZ}")
    new = Outbox(outbox, policy, clock=clock, check_ledger=False)
    try:
        report.salvaged = new.restore(salvaged)
        if since is not None:
            report.since, report.since_from = float(since), "--since"
        else:
            sent = [t for t in (ledger.get("last_sent_onset"), new.write_ledger().get("last_sent_onset"))
                    if t is not None]
            if sent:
                report.since, report.since_from = max(sent), "the last event an alert was delivered for"
            else:
                report.since = clock() - DEFAULT_WINDOW_H * 3600.0
                report.since_from = f"no delivered alert known: the last {DEFAULT_WINDOW_H:g} h"
        for d in detections:
            if d.onset <= report.since:
                continue
            ev = SeizureEvent(event_id(stream, d.onset), stream, d.onset,
                              1.0 if d.confidence is None else float(d.confidence), d.offset, None, d.channels)
            if new.record_event(ev, recovered=True):
                report.recovered.append(ev)
            else:
                report.known += 1
        if detections:
            new.set_meta(_CHECKED, max(d.onset for d in detections))
        new.write_ledger()
    finally:
        new.close()
    logger.warning("outbox %s rebuilt: %d event(s) alerted again as recovered, %d already there", outbox,
                   len(report.recovered), report.known)
    return report
