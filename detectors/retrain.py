"""Review -> retrain -> re-run: the patient's model from a reviewed archive, and what it changes.

A reviewed archive labels its own recording: confirmed seizure items are seizures (and seizures
marked in the recording that nobody rejected), rejected ones are hard negatives (every window
kept as background), unreviewed detections are left out (neither seizure nor background: nobody
said what they are). :func:`train_from_review` trains the patient's model on them and stores it
as the archive's next model version (:mod:`eegmon.archive.models`); :func:`compare_with_review`
says what a re-run changes against the review. Both are Qt-free, for the CLI and the viewer
(which calls :func:`train_from_review` from a worker thread).

The patient model is a blend: one forest holding the bundled generic model's trees and a forest
trained on the patient's rows (computed with the generic model's processing chain and population
prior), so its probability is the tree-count weighted mean of the two. The generic model's
training rows are not shipped, so it cannot be refitted with the patient's; a patient-only forest
learns this patient's mimics but forgets everything the review has not shown it yet
(``benchmarks/bench_review.py`` measures both: docs/detection.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eegmon.archive.models import describe_review
from eegmon.archive.review import ReviewItem, seizures
from eegmon.errors import EegmonError
from eegmon.events import Annotation, to_datetime

from .model import DetectionModel

REVIEWED = ("confirmed", "rejected")


@dataclass(frozen=True)
class ReviewLabels:
    """Training labels of a review.

    Attributes
    ----------
    seizures : list of Annotation
        Confirmed seizure items, and annotated seizures nobody rejected.
    hard : list of (start, stop)
        Spans of rejected seizure items (false alarms) and of detections relabelled as something
        else: every window there is a background row.
    ignore : list of (start, stop)
        Spans of unreviewed detections: left out of training.
    """

    seizures: list[Annotation]
    hard: list[tuple[float, float]]
    ignore: list[tuple[float, float]]
    confirmed: int
    rejected: int
    left_out: int
    annotated: int
    latest_edit: float | None
    reviewers: tuple[str, ...]

    def lineage(self) -> dict:
        """The review facts a model version records (see :class:`eegmon.archive.models.ModelVersion`)."""
        latest = None if self.latest_edit is None else to_datetime(self.latest_edit).isoformat(timespec="seconds")
        return {"confirmed": self.confirmed, "rejected": self.rejected, "left_out": self.left_out,
                "annotated": self.annotated, "latest_edit": latest, "reviewers": list(self.reviewers)}


def _relabelled(item: ReviewItem) -> bool:
    """A detection a reviewer turned into something else (artifact, sleep, ...): a false alarm too."""
    return not item.is_seizure and item.kind == "detection" and item.status in REVIEWED


def review_labels(items: Sequence[ReviewItem]) -> ReviewLabels:
    """What the review of ``items`` (from :func:`eegmon.archive.review.review_items`) labels."""
    sz_items = [it for it in items if it.is_seizure]
    confirmed = [it for it in sz_items if it.status == "confirmed"]
    rejected = [it for it in sz_items if it.status == "rejected"] + [it for it in items if _relabelled(it)]
    annotated = [it for it in sz_items if it.marked]
    left_out = [it for it in sz_items if it.status == "unreviewed" and it not in annotated]
    decided = confirmed + rejected
    edits = [ev.edited_at for it in decided for _, ev in it.members if ev.edited_at is not None]
    reviewers = sorted({it.reviewer for it in decided if it.reviewer})
    return ReviewLabels(
        seizures=seizures(items, annotated=True), hard=[(it.onset, it.offset) for it in rejected],
        ignore=[(it.onset, it.offset) for it in left_out], confirmed=len(confirmed), rejected=len(rejected),
        left_out=len(left_out), annotated=len(annotated), latest_edit=max(edits, default=None),
        reviewers=tuple(reviewers))


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_from_review` made: the model, its labels, and the stored version (or the file)."""

    model: DetectionModel
    labels: ReviewLabels
    version: object | None  # eegmon.archive.models.ModelVersion when stored in the archive
    path: Path

    def message(self, archive_name: str) -> str:
        """The one line the CLI and the viewer's status bar show."""
        if self.version is not None:
            return f"stored as model v{self.version.number} of {archive_name} ({self.version.describe()})"
        return f"wrote {self.path} ({describe_review(self.labels.lineage())})"


def train_from_review(archive_path: str | os.PathLike, *, output: str | os.PathLike | None = None,
                      trees: int = 60, seed: int = 0, hard_weight: float = 1.0, blend: bool = True,
                      line_freq: float = 50.0, quiet: bool = True) -> TrainResult:
    """Train the patient's model from the archive's review; store it as the next version (or write ``output``).

    Parameters
    ----------
    archive_path : path-like
        The archive manifest (``ARCHIVE.h5``).
    output : path-like | None
        Write the model to this file instead of storing it in the archive.
    trees : int
        Trees of the patient forest.
    seed : int
        Seed of the forest and of the background subsample.
    hard_weight : float
        Sample weight of the rejected items' windows.
    blend : bool
        Blend the patient forest with the bundled generic model's trees (see the module docstring);
        False trains the patient's forest alone.
    line_freq : float
        Mains frequency.
    quiet : bool
        No progress bar.

    Raises
    ------
    EegmonError
        When the path is no archive, or the review gives no seizure to learn from.
    """
    from eegmon.archive import Archive
    from eegmon.archive.models import model_path, store_model
    from eegmon.archive.review import review_items
    from eegmon.io import open_recording

    from .generic import bundled_model, bundled_model_sha256
    from .model import save_model
    from .training import blend_forests, collect_rows, train_classifier

    archive_path = Path(archive_path)
    source = open_recording(archive_path)
    if source.kind != "archive":
        raise EegmonError(f"training from a review needs an archive (.h5), got a {source.kind}.", archive_path)
    with Archive.open(archive_path) as arc:
        labels = review_labels(review_items(arc))
    if not labels.seizures:
        raise EegmonError(f"no confirmed seizure to train on ({labels.rejected} rejected, {labels.left_out} "
                          "unreviewed): confirm the seizures among the detections first.", archive_path)
    generic = bundled_model()
    rows = collect_rows(source, labels.seizures, generic, rng=np.random.default_rng(seed), line_freq=line_freq,
                        quiet=quiet, ignore=labels.ignore, hard=labels.hard, hard_weight=hard_weight)
    base = f"generic (bundled, sha256 {bundled_model_sha256()[:12]})"
    summary = {"archive": archive_path.name, "base": base, "blend": blend, "hard_weight": hard_weight,
               "review": labels.lineage()}
    model = train_classifier([rows], template=generic, random_state=seed, n_estimators=trees, training=summary)
    if blend:
        model = blend_forests(generic, model)
    if output is not None:
        output = Path(output)
        if not output.parent.exists():
            raise EegmonError("the folder to write into does not exist.", output.parent)
        save_model(model, output)
        return TrainResult(model, labels, None, output)
    version = store_model(archive_path, lambda p: save_model(model, p), base=base, review=labels.lineage(),
                          training=model.training)
    return TrainResult(model, labels, version, model_path(archive_path, version))


@dataclass(frozen=True)
class ReviewComparison:
    """What a re-run changes against the review of ``[start, stop)``.

    Attributes
    ----------
    false_alarms : int
        Reviewed false alarms (rejected seizure items a detector raised, relabelled detections) in the span.
    cleared : int
        Of them, how many the new run does not raise.
    confirmed : int
        Confirmed seizure items in the span.
    lost : list of float
        Onsets of confirmed seizures the new run misses.
    to_review : int
        New detections that overlap no reviewed item.
    """

    start: float
    stop: float
    false_alarms: int
    cleared: int
    confirmed: int
    lost: list[float] = field(default_factory=list)
    to_review: int = 0

    def summary(self) -> str:
        """``last 30 days: of the 12 false alarms, 9 would not have been raised; no confirmed seizure lost; ...``."""
        days = (self.stop - self.start) / 86400.0
        head = f"last {days:.0f} days" if days >= 1 else f"last {days * 24:.1f} h"
        if self.lost:
            when = ", ".join(f"{to_datetime(t):%Y-%m-%d %H:%M}" for t in self.lost)
            lost = f"{len(self.lost)} confirmed seizure(s) lost: {when}"
        else:
            lost = f"no confirmed seizure lost (of {self.confirmed})"
        return (f"{head}: of the {self.false_alarms} false alarm(s), {self.cleared} would not have been raised; "
                f"{lost}; {self.to_review} new detection(s) to review")


def _overlaps(a0: float, a1: float, spans: Sequence[tuple[float, float]]) -> bool:
    return any(a0 <= b1 and b0 <= a1 for b0, b1 in spans)


def compare_with_review(items: Sequence[ReviewItem], events: Sequence[Annotation], start: float,
                        stop: float) -> ReviewComparison:
    """Compare a run's seizure ``events`` with the review ``items`` whose onsets fall in ``[start, stop)``.

    A reviewed item counts as raised when a new event overlaps (or touches) its span; each item is
    counted once however many detectors' events it groups.
    """
    items = [it for it in items if start <= it.onset < stop]
    spans = [(ev.onset, ev.offset) for ev in events if ev.is_seizure and start <= ev.onset < stop]
    false = [it for it in items if it.kind == "detection" and (it.is_seizure and it.status == "rejected"
                                                                  or _relabelled(it))]
    confirmed = [it for it in items if it.is_seizure and it.status == "confirmed"]
    reviewed = [(it.onset, it.offset) for it in false + confirmed]
    return ReviewComparison(
        start, stop, false_alarms=len(false), cleared=sum(not _overlaps(it.onset, it.offset, spans) for it in false),
        confirmed=len(confirmed), lost=[it.onset for it in confirmed if not _overlaps(it.onset, it.offset, spans)],
        to_review=sum(not _overlaps(a, b, reviewed) for a, b in spans))


__all__ = ["ReviewComparison", "ReviewLabels", "TrainResult", "compare_with_review", "review_labels",
           "train_from_review"]
