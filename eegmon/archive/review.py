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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..events import Annotation
from .events import StoredAnnotation

EventKind = Literal["detection", "annotation"]
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


def group_events(events: Iterable[tuple[EventKind, StoredAnnotation]]) -> list[ReviewItem]:
    """Group ``(kind, event)`` pairs into review items, by onset.

    Seizure events whose spans overlap or touch are one item (transitively: A overlapping B and B
    overlapping C make one item); any other event is an item of its own.
    """
    order = sorted(events, key=lambda m: (m[1].onset, m[0], m[1].id))
    items: list[ReviewItem] = []
    group: list[tuple[EventKind, StoredAnnotation]] = []
    end = -float("inf")
    for member in order:
        ev = member[1]
        if not ev.is_seizure:
            items.append(ReviewItem((member,)))
            continue
        if group and ev.onset > end + _TOUCH_S:
            items.append(ReviewItem(tuple(group)))
            group = []
        group.append(member)
        end = max(end, ev.offset) if len(group) > 1 else ev.offset
    if group:
        items.append(ReviewItem(tuple(group)))
    # members are by onset: an item's first member has its onset (cheaper than it.onset)
    return sorted(items, key=lambda it: (it.members[0][1].onset, it.members[0][0], it.members[0][1].id))


def review_items(archive, start: float | None = None, stop: float | None = None) -> list[ReviewItem]:
    """The review items of an archive's detections and annotations (in ``[start, stop)`` when given)."""
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
