"""The archive's event tables: annotations and detections, one class serving both.

Both tables have the columns of ``EVENT_DTYPE`` (``_layout.py``) and are held as structured
arrays (:attr:`EventTable.columns`); every change is one manifest commit, so an edit is on disk
when the method returns. Adding rows rewrites the manifest; editing rows (a review decision) is
a journal record (:meth:`~eegmon.archive.manifest.Manifest.commit_events`), as durable and as
all-or-nothing, at a cost that does not grow with the archive.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from .._checks import check_number, check_option
from ..errors import EegmonError
from ..events import REVIEW_STATUSES, Annotation
from ..io.labels import VOCABULARY
from ._layout import EVENT_DTYPE, EVENT_FIELDS, from_ns, to_ns
from .manifest import Manifest, ManifestState

#: The manifest tables that hold events, and what one row of each is called in messages.
EVENT_TABLES = {"annotations": "annotation", "detections": "detection"}


@dataclass(frozen=True)
class StoredAnnotation(Annotation):
    """An :class:`~eegmon.events.Annotation` as stored in the archive, with its review trail.

    Parameters
    ----------
    id : int
        Row id, unique within its table (annotations or detections).
    reviewer : str | None
        Who last edited it.
    edited_at : float | None
        When it was last edited, seconds since the Unix epoch.
    """

    id: int = -1
    reviewer: str | None = None
    edited_at: float | None = None


def event_row(ev: Annotation, id_: int, *, reviewer: str = "", edited_at_ns: int = 0) -> dict:
    return {
        "id": id_,
        "onset_ns": to_ns(ev.onset),
        "duration_s": float(ev.duration),
        "label": ev.label,
        "original_label": ev.original_label or "",
        "channels": ",".join(ev.channels),
        "confidence": math.nan if ev.confidence is None else float(ev.confidence),
        "source": ev.source,
        "status": ev.status,
        "reviewer": reviewer,
        "edited_at_ns": edited_at_ns,
    }


def row_event(row) -> StoredAnnotation:
    """The event in one row of an event table (a record of :attr:`EventTable.columns`, or a dict)."""
    conf = float(row["confidence"])
    return StoredAnnotation(
        onset=from_ns(row["onset_ns"]),
        duration=float(row["duration_s"]),
        label=row["label"],
        channels=tuple(c for c in row["channels"].split(",") if c),
        confidence=None if math.isnan(conf) else conf,
        original_label=row["original_label"] or None,
        source=row["source"],
        status=row["status"],
        id=int(row["id"]),
        reviewer=row["reviewer"] or None,
        edited_at=from_ns(row["edited_at_ns"]) if row["edited_at_ns"] else None,
    )


def _event_key(row: dict) -> tuple:
    # what makes two rows the same event (a repeated import or detection run adds no duplicate)
    return (
        row["onset_ns"],
        round(row["duration_s"], 6),
        row["label"],
        row["original_label"],
        row["channels"],
        row["source"],
    )


def _event_keys(rows: np.ndarray) -> list[tuple]:
    """:func:`_event_key` of every row of a table, column-wise (no per-row record objects)."""
    cols = [rows[n].tolist() for n in ("onset_ns", "duration_s", "label", "original_label", "channels", "source")]
    return [(t, round(d, 6), *rest) for t, d, *rest in zip(*cols, strict=True)]


def spans(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onsets and offsets (s since the epoch) of a table's rows, as :class:`StoredAnnotation` computes them."""
    onset = rows["onset_ns"] / 1e9  # what from_ns gives: the int64 rounded to float64, then divided
    return onset, onset + rows["duration_s"]


def _check_event(ev: Annotation, what: str) -> None:
    if not isinstance(ev, Annotation):
        raise EegmonError(f"{what} must be eegmon.events.Annotation objects, got {type(ev).__name__}.")
    if not (math.isfinite(ev.onset) and math.isfinite(ev.duration) and ev.duration >= 0):
        raise EegmonError(
            f"{what} need a finite onset and a duration >= 0, got onset={ev.onset!r}, duration={ev.duration!r}."
        )
    check_option("status", ev.status, REVIEW_STATUSES)


class EventTable:
    """One event table of an archive (``"annotations"`` or ``"detections"``).

    Parameters
    ----------
    manifest : Manifest
        The archive's manifest, through which every change is committed.
    name : {"annotations", "detections"}
        Which table.
    """

    def __init__(self, manifest: Manifest, name: str) -> None:
        check_option("name", name, EVENT_TABLES)
        self.manifest = manifest
        self.name = name

    def __len__(self) -> int:
        return len(self.manifest.state.table(self.name))

    @property
    def columns(self) -> np.ndarray:
        """The table as last read or committed: a read-only structured array of ``EVENT_DTYPE``, in storage order."""
        return self.manifest.state.table(self.name)

    def select(self, start: float | None = None, stop: float | None = None) -> list[StoredAnnotation]:
        """Events overlapping ``[start, stop)`` (all by default), ordered by onset then id."""
        rows = self.columns
        onset, offset = spans(rows)
        keep = np.ones(len(rows), dtype=bool)
        if start is not None:
            keep &= offset >= start
        if stop is not None:
            keep &= onset < stop
        idx = np.flatnonzero(keep)
        idx = idx[np.lexsort((rows["id"][idx], onset[idx]))]
        return [row_event(rows[i]) for i in idx]

    def add(self, events: Iterable[Annotation]) -> list[int]:
        """Add events durably; return their ids (an identical existing row is reused, not duplicated)."""
        events = list(events)
        for ev in events:
            _check_event(ev, self.name)

        def add(state: ManifestState) -> list[int]:
            rows = state.table(self.name)
            known = dict(zip(_event_keys(rows), rows["id"].tolist(), strict=True))
            next_id = int(rows["id"].max()) + 1 if len(rows) else 1
            ids, new = [], []
            for ev in events:
                row = event_row(ev, next_id)
                key = _event_key(row)
                if key in known:
                    ids.append(int(known[key]))
                    continue
                new.append(tuple(row[f] for f in EVENT_FIELDS))
                known[key] = next_id
                ids.append(next_id)
                next_id += 1
            if new:
                state.set_events(self.name, np.concatenate([rows, np.array(new, dtype=EVENT_DTYPE)]))
            return ids

        return list(self.manifest.commit(add)) if events else []

    def update(self, id: int, reviewer: str | None = None, **changes) -> StoredAnnotation:
        """Edit one event durably: the given fields (None leaves a field as it is), stamped with the reviewer.

        Parameters
        ----------
        id : int
            Row id from :meth:`select`.
        reviewer : str | None
            Who made the edit; stored with the edit time (None keeps the last reviewer).
        **changes
            Any of ``status``, ``label``, ``onset``, ``duration``, ``channels``, ``confidence``.
        """
        changes = self.checked(changes)
        return self.manifest.commit_events(lambda state: self.apply(state, id, reviewer, changes))  # type: ignore[return-value]

    def checked(self, changes: dict) -> dict:
        """``changes`` validated for :meth:`apply` (None values dropped); an error names the field."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "status" in changes:
            check_option("status", changes["status"], REVIEW_STATUSES)
        if "label" in changes:
            check_option("label", changes["label"], VOCABULARY)
        for name in ("onset", "duration"):
            if name in changes:
                changes[name] = check_number(name, changes[name], low=0 if name == "duration" else None)
        if "confidence" in changes:
            changes["confidence"] = check_number("confidence", changes["confidence"], low=0, high=1)
        if "channels" in changes:
            changes["channels"] = tuple(str(c) for c in changes["channels"])
            unknown = set(changes["channels"]) - set(self.manifest.channels)
            if unknown:
                raise EegmonError(
                    f"unknown channel(s) {sorted(unknown)}; the archive has {list(self.manifest.channels)}."
                )
        return changes

    def apply(self, state: ManifestState, id: int, reviewer: str | None, changes: dict) -> StoredAnnotation:
        """Apply checked ``changes`` to row ``id`` inside a manifest commit (``state``); return the new event."""
        rows = state.table(self.name)
        hits = np.flatnonzero(rows["id"] == id)
        if not hits.size:
            raise EegmonError(f"no {EVENT_TABLES[self.name]} with id {id}.", self.manifest.path)
        row = rows[hits[0]]
        ev = replace(row_event(row), **changes)
        state.put_event(self.name, hits[0], event_row(ev, id, reviewer=reviewer or row["reviewer"],
                                                      edited_at_ns=time.time_ns()))
        return row_event(state.table(self.name)[hits[0]])
