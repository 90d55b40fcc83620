"""Annotations and detected events in absolute time (the one event type of eegmon)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

#: Review states of an annotation or detection.
REVIEW_STATUSES = ("unreviewed", "confirmed", "rejected")


@dataclass(frozen=True)
class Annotation:
    """An annotated or detected event.

    Parameters
    ----------
    onset : float
        Absolute onset, seconds since the Unix epoch (UTC).
    duration : float
        Duration in seconds (>= 0).
    label : str
        Label in the SzCORE / HED-SCORE vocabulary (``sz``, ``sz_foc_ia``, ``bckg``, ...) or an
        artifact label (``musc``, ``chew``, ``move``, ``elpp``, ``line``, ``flat``, ``clip``).
    channels : tuple of str
        Channels involved; empty means all or unknown.
    confidence : float | None
        Probability or rater confidence in [0, 1], None if not given.
    original_label : str | None
        The label as written in the source file, before mapping to the vocabulary.
    source : str
        ``ground_truth``, ``detector:<name>``, ``reviewer:<id>`` or ``diary``.
    status : str
        Review status, one of ``REVIEW_STATUSES``.
    """

    onset: float
    duration: float
    label: str
    channels: tuple[str, ...] = field(default_factory=tuple)
    confidence: float | None = None
    original_label: str | None = None
    source: str = "ground_truth"
    status: str = "unreviewed"

    @property
    def offset(self) -> float:
        """Absolute end time in seconds since the Unix epoch."""
        return self.onset + self.duration

    @property
    def is_seizure(self) -> bool:
        """True for seizure labels (``sz`` and its subtypes)."""
        return self.label == "sz" or self.label.startswith("sz_")


def to_datetime(t: float) -> dt.datetime:
    """Seconds since the Unix epoch to an aware UTC datetime."""
    return dt.datetime.fromtimestamp(t, tz=dt.UTC)


def to_timestamp(value: dt.datetime) -> float:
    """Aware datetime (naive means UTC) to seconds since the Unix epoch."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()
