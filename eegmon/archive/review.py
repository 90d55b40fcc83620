"""One review item per seizure: the overlapping seizure events of every detector and annotation, grouped.

An archive holds each detector's detections and the annotations (ground truth, diary, the
reviewer's own) side by side, so one seizure is often several rows. :func:`group_events` joins
seizure-labelled events whose spans overlap or touch (transitively, whatever their source) into
one :class:`ReviewItem`; other events (artifacts, sleep) are items of their own. A review decision
is made on an item and written to all its members (:func:`decide`), and what counts seizures
(the review export, the summaries, training, forecasting) counts items: each seizure once.

An item's status is its members' latest decision (the member edited last; a reviewer's own
annotation is a decision too); before any decision it is the status its members share, or
``unreviewed`` when they differ.

Grouping runs on arrays (:func:`group_order`: events sorted by onset, a running maximum of the
seizure events' ends), and :class:`ReviewIndex` keeps a whole archive's items as arrays, making
a :class:`ReviewItem` (and its members' objects) only for the items asked for: a month of
recording holds tens of thousands of events, mostly artifacts, and a page or a list shows few.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..events import Annotation
from .events import StoredAnnotation, row_event, spans

EventKind = Literal["detection", "annotation"]
#: Kind codes of :class:`ReviewIndex`, in the order the names sort (ties in onset go annotation first).
KINDS: tuple[EventKind, EventKind] = ("annotation", "detection")
#: Events closer than this touch: the archive stores onsets in ns and durations as floats, so an
#: onset set to another event's end comes back a rounding step off.
_TOUCH_S = 1e-6


@dataclass(frozen=True)
class ReviewItem:
    """One event to review: a seizure seen by one or more detectors and annotations, or a lone other event.

    Attributes
    ----------
    members : tuple of (kind, StoredAnnotation)
        The grouped events by onset; ``kind`` is ``"detection"`` or ``"annotation"``.
    """

    members: tuple[tuple[EventKind, StoredAnnotation], ...]

    @property
    def onset(self) -> float:
        """Earliest onset of the members, s since the epoch."""
        return min(ev.onset for _, ev in self.members)

    @property
    def offset(self) -> float:
        """Latest offset of the members."""
        return max(ev.offset for _, ev in self.members)

    @property
    def duration(self) -> float:
        """Span of the item in seconds."""
        return self.offset - self.onset

    @property
    def key(self) -> tuple[EventKind, int]:
        """``(kind, id)`` of the first member: the item's identity in the viewer."""
        kind, ev = self.members[0]
        return kind, ev.id

    @property
    def keys(self) -> tuple[tuple[EventKind, int], ...]:
        """``(kind, id)`` of every member."""
        return tuple((kind, ev.id) for kind, ev in self.members)

    @property
    def kind(self) -> EventKind:
        """``"detection"`` when a detector found it, else ``"annotation"``."""
        return "detection" if any(k == "detection" for k, _ in self.members) else "annotation"

    @property
    def is_seizure(self) -> bool:
        """True for a seizure item (every member of a group has a seizure label)."""
        return self.members[0][1].is_seizure

    @property
    def found_by(self) -> tuple[str, ...]:
        """The detectors that found it (``detector:`` left off), sorted."""
        return tuple(sorted({ev.source.removeprefix("detector:") for k, ev in self.members if k == "detection"}))

    @property
    def sources(self) -> tuple[str, ...]:
        """Every member's source, sorted (``ground_truth``, ``detector:classifier``, ``diary``, ...)."""
        return tuple(sorted({ev.source for _, ev in self.members}))

    @property
    def probability(self) -> float | None:
        """The best confidence of its members (None when no member has one)."""
        values = [ev.confidence for _, ev in self.members if ev.confidence is not None]
        return max(values) if values else None

    def _latest(self) -> StoredAnnotation | None:
        """The latest decision: the member edited last, else a reviewer's own annotation."""
        edited = [ev for _, ev in self.members if ev.edited_at is not None]
        if edited:
            return max(edited, key=lambda ev: ev.edited_at)
        return next((ev for _, ev in self.members if ev.source.startswith("reviewer:")), None)

    @property
    def status(self) -> str:
        """The latest decision on a member; before any, the members' shared status (else ``unreviewed``)."""
        latest = self._latest()
        if latest is not None:
            return latest.status
        statuses = {ev.status for _, ev in self.members}
        return statuses.pop() if len(statuses) == 1 else "unreviewed"

    @property
    def reviewer(self) -> str | None:
        """Who made the latest decision."""
        latest = self._latest()
        return None if latest is None else latest.reviewer

    @property
    def label(self) -> str:
        """The label of the latest decision; before any, an annotation's (a person's) label, else the first member's."""
        latest = self._latest()
        if latest is not None:
            return latest.label
        return next((ev.label for k, ev in self.members if k == "annotation"), self.members[0][1].label)

    @property
    def marked(self) -> bool:
        """Not reviewed yet, but holding an annotation: a seizure marked in the recording (ground truth, diary)."""
        return self.status == "unreviewed" and any(k == "annotation" for k, _ in self.members)

    def as_annotation(self) -> Annotation:
        """The item as one event: its span, label, status and best probability, all members' channels."""
        channels = tuple(sorted({c for _, ev in self.members for c in ev.channels}))
        annotated = [ev.source for k, ev in self.members if k == "annotation"]
        source = annotated[0] if annotated else "detector:" + "+".join(self.found_by)
        return Annotation(self.onset, self.duration, self.label, channels, self.probability, source=source,
                          status=self.status)


def seizure_labels(labels: Sequence[str]) -> np.ndarray:
    """``Annotation.is_seizure`` of each label, as a boolean array (each distinct label judged once)."""
    memo: dict[str, bool] = {}
    return np.array([memo[lab] if lab in memo else memo.setdefault(lab, lab == "sz" or lab.startswith("sz_"))
                     for lab in labels], dtype=bool)


def group_order(onset: np.ndarray, offset: np.ndarray, kind: np.ndarray, ids: np.ndarray,
                seizure: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group events into review items, on arrays; the rule of :func:`group_events`.

    Parameters
    ----------
    onset, offset : ndarray of float
        Spans, seconds since the epoch.
    kind : ndarray of int
        Index into :data:`KINDS` (0 annotation, 1 detection).
    ids : ndarray of int
        Row ids (unique within a kind).
    seizure : ndarray of bool
        Which events have a seizure label.

    Returns
    -------
    members : ndarray of int
        Indices of the events, item by item (items by their first member's onset, kind and id;
        each item's members by onset, kind and id).
    bounds : ndarray of int, shape (n_items + 1,)
        Item ``i`` is ``members[bounds[i]:bounds[i + 1]]``.
    """
    order = np.lexsort((ids, kind, onset))
    n = order.size
    first = np.arange(n)  # for each event (in sorted order), the position of its item's first member
    s = np.flatnonzero(seizure[order])
    if s.size:
        on, off = onset[order][s], offset[order][s]
        # a seizure event starts an item unless it overlaps or touches an earlier seizure event; the
        # running maximum of the ends before it is the end of the item it would join
        ends = np.maximum.accumulate(off)
        starts = np.r_[True, on[1:] > ends[:-1] + _TOUCH_S]
        first[s] = s[np.flatnonzero(starts)][np.cumsum(starts) - 1]
    by_item = np.lexsort((np.arange(n), first))
    members = order[by_item]
    firsts = first[by_item]
    bounds = np.r_[0, np.flatnonzero(np.diff(firsts)) + 1, n] if n else np.zeros(1, dtype=np.intp)
    return members, bounds


def group_events(events: Iterable[tuple[EventKind, StoredAnnotation]]) -> list[ReviewItem]:
    """Group ``(kind, event)`` pairs into review items, by onset.

    Seizure events whose spans overlap or touch are one item (transitively: A overlapping B and B
    overlapping C make one item); any other event is an item of its own.
    """
    events = list(events)
    onset = np.array([ev.onset for _, ev in events], dtype=float)
    offset = np.array([ev.offset for _, ev in events], dtype=float)
    kind = np.array([KINDS.index(k) for k, _ in events], dtype=np.int8)
    ids = np.array([ev.id for _, ev in events], dtype=np.int64)
    members, bounds = group_order(onset, offset, kind, ids, seizure_labels([ev.label for _, ev in events]))
    return [ReviewItem(tuple(events[j] for j in members[a:b])) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


class ReviewIndex(Sequence):
    """The review items of an archive's two event tables, as arrays; :class:`ReviewItem` objects on demand.

    Items are in the order of :func:`group_events` (by their first member's onset); ``index[i]``
    is item ``i``. The arrays (one value per item) are what lists and pages filter and bisect.

    Parameters
    ----------
    annotations, detections : ndarray
        The event tables (structured arrays of the archive's event columns, as
        :meth:`Archive.event_columns <eegmon.archive.Archive.event_columns>` gives them).

    Attributes
    ----------
    onset, offset : ndarray of float
        Each item's span (seconds since the epoch); ``onset`` is sorted.
    kind : ndarray of int8
        Its key's kind (an index into :data:`KINDS`); ``ids`` its key's id (the first member's).
    size : ndarray of int
        Members per item.
    label, status : ndarray of str (object)
        :attr:`ReviewItem.label` and :attr:`ReviewItem.status`.
    source : ndarray of str (object)
        The first member's source (an item's only one when ``size`` is 1).
    probability : ndarray of float
        :attr:`ReviewItem.probability` (NaN for None).
    """

    def __init__(self, annotations: np.ndarray, detections: np.ndarray) -> None:
        self.tables = (annotations, detections)
        n_ann = len(annotations)
        on_a, off_a = spans(annotations)
        on_d, off_d = spans(detections)
        onset, offset = np.r_[on_a, on_d], np.r_[off_a, off_d]
        self._kind = np.r_[np.zeros(n_ann, np.int8), np.ones(len(detections), np.int8)]
        self._row = np.r_[np.arange(n_ann), np.arange(len(detections))]
        self._ids = np.r_[annotations["id"], detections["id"]].astype(np.int64)
        labels = np.r_[annotations["label"], detections["label"]]
        members, bounds = group_order(onset, offset, self._kind, self._ids, seizure_labels(labels))
        self._members, self._bounds = members, bounds
        firsts = members[bounds[:-1]]
        self.size = np.diff(bounds)
        self.onset = onset[firsts]
        self.offset = np.maximum.reduceat(offset[members], bounds[:-1]) if len(firsts) else np.zeros(0)
        self.kind, self.ids = self._kind[firsts], self._ids[firsts]
        self._item_of = np.empty(len(members), dtype=np.intp)  # event -> its item
        self._item_of[members] = np.repeat(np.arange(len(firsts)), self.size)
        # one-member items (most) take their event's values; grouped ones ask their ReviewItem
        self.label = labels[firsts]
        self.status = np.r_[annotations["status"], detections["status"]][firsts]
        self.source = np.r_[annotations["source"], detections["source"]][firsts]
        self.probability = np.r_[annotations["confidence"], detections["confidence"]][firsts].astype(float)
        self._events: dict[int, StoredAnnotation] = {}
        self._items: dict[int, ReviewItem] = {}
        self._source_names: set[str] | None = None
        for i in np.flatnonzero(self.size > 1):
            self._columns(int(i))

    @classmethod
    def of(cls, archive) -> ReviewIndex:
        """The review items of an archive (its event tables as last read)."""
        return cls(archive.event_columns("annotations"), archive.event_columns("detections"))

    def __len__(self) -> int:
        return len(self.onset)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if not -len(self) <= i < len(self):
            raise IndexError(f"review item {i} of {len(self)}.")
        i %= len(self)
        item = self._items.get(i)
        if item is None:
            item = self._items[i] = ReviewItem(tuple(self._member(j) for j in self.member_events(i)))
        return item

    def member_events(self, i: int) -> np.ndarray:
        """Indices (into both tables, annotations first) of item ``i``'s members."""
        return self._members[self._bounds[i] : self._bounds[i + 1]]

    def _member(self, j: int) -> tuple[EventKind, StoredAnnotation]:
        ev = self._events.get(j)
        if ev is None:
            ev = self._events[j] = row_event(self.tables[self._kind[j]][self._row[j]])
        return KINDS[self._kind[j]], ev

    def _columns(self, i: int) -> None:
        item = self[i]
        self.label[i], self.status[i] = item.label, item.status
        self.probability[i] = np.nan if item.probability is None else item.probability

    @property
    def source_names(self) -> set[str]:
        """The distinct values of :attr:`source`."""
        if self._source_names is None:
            self._source_names = set(self.source.tolist())
        return self._source_names

    def find(self, kind: str, id_: int) -> int | None:
        """The index of the item holding event ``(kind, id_)``, None when there is none."""
        if kind not in KINDS:
            return None
        hits = np.flatnonzero((self._kind == KINDS.index(kind)) & (self._ids == id_))
        return int(self._item_of[hits[0]]) if hits.size else None

    def replace(self, events: Iterable[tuple[EventKind, StoredAnnotation]]) -> list[int]:
        """Put edited events (same spans: same grouping) into their items; return those items.

        For a decision on items already shown: cheaper than grouping the archive again.
        """
        changed: dict[int, None] = {}
        for kind, ev in events:
            [j] = np.flatnonzero((self._kind == KINDS.index(kind)) & (self._ids == ev.id))
            self._events[int(j)] = ev
            i = int(self._item_of[j])
            self._items.pop(i, None)
            changed[i] = None
        for i in changed:
            self._columns(i)
        return list(changed)


def review_items(archive, start: float | None = None, stop: float | None = None) -> list[ReviewItem]:
    """The review items of an archive's detections and annotations (in ``[start, stop)`` when given)."""
    if start is None and stop is None:
        return list(ReviewIndex.of(archive))
    return group_events([*(("detection", e) for e in archive.detections(start, stop)),
                         *(("annotation", e) for e in archive.annotations(start, stop))])


def decide(archive, item: ReviewItem, reviewer: str, **changes) -> list[StoredAnnotation]:
    """Write a review decision (``status=``, ``label=``, ...) to every member of ``item`` in one commit."""
    return archive.update_events([(kind, ev.id, changes) for kind, ev in item.members], reviewer=reviewer)


def seizures(items: Sequence[ReviewItem], statuses: Iterable[str] = ("confirmed",), *,
             annotated: bool = False) -> list[Annotation]:
    """One event per seizure item whose status is in ``statuses``, by onset.

    With ``annotated=True`` an unreviewed item holding an annotation counts too: a seizure marked in
    the recording (ground truth, a diary, the reviewer) is one until someone rejects it.
    """
    wanted = set(statuses)
    out = []
    for item in items:
        if not item.is_seizure:
            continue
        if item.status in wanted or (annotated and item.marked):
            out.append(item.as_annotation())
    return out
