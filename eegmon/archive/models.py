"""The patient's model versions kept inside an archive, with their lineage.

``ARCHIVE.h5.d/models/`` holds one model file per version (``v0001.eegmon-model``, ...; the
format of :mod:`eegmon.detectors.model`, written by the caller) and ``registry.json``: per
version its id, creation time (UTC ISO 8601), the model it was built on, the review it learnt
from (counts of confirmed, rejected and left-out items, the latest review edit, the reviewers),
its training summary; and which version is current.

The folder is a sub-folder of the archive's ``.d`` folder, which nothing else walks into: the
segment, feature and trend files, the orphan clean-up and the archive's own digests look at the
folder's top level only. Every write is crash-safe: the model file is complete under its name
before the registry names it, and the registry is replaced atomically (temporary file, fsync,
:func:`os.replace`, fsync of the folder; :mod:`eegmon._atomic`), so a kill at any moment leaves
the old registry or the new one. Stores are serialised by an ``flock`` on ``models/lock``: two
trainers never claim the same version.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._atomic import atomic_write, exclusive_lock, fsync_dir
from ..errors import EegmonError
from .manifest import segment_dir

FORMAT = "eegmon-models/1"
REGISTRY = "registry.json"
SUFFIX = ".eegmon-model"


@dataclass(frozen=True)
class ModelVersion:
    """One stored model version and where it came from.

    Attributes
    ----------
    id : str
        ``v0001``, ``v0002``, ...
    file : str
        The model file's name in ``models/``.
    created : str
        When it was stored, UTC ISO 8601.
    base : str
        What it was built on: ``generic`` (the bundled model) or a file's description.
    previous : str | None
        The version that was current when it was stored (None for the first).
    review : dict
        The review it learnt from: ``confirmed``, ``rejected``, ``left_out`` (unreviewed
        detections, neither seizure nor background), ``annotated`` (seizures marked in the
        recording that nobody rejected), ``latest_edit`` (UTC ISO 8601 or None), ``reviewers``.
    training : dict
        The model's training summary.
    """

    id: str
    file: str
    created: str
    base: str
    previous: str | None
    review: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def number(self) -> int:
        """The version number (3 for ``v0003``)."""
        return int(self.id[1:])

    @property
    def name(self) -> str:
        """The detector name of its detections: ``patient-v3`` (source ``detector:patient-v3``)."""
        return f"patient-v{self.number}"

    def describe(self) -> str:
        """``from 14 confirmed, 9 rejected items reviewed up to 2025-02-01 by dr.smith``."""
        return describe_review(self.review)


@dataclass(frozen=True)
class Registry:
    """The versions of an archive's models, oldest first, and the current one's id (None: none yet)."""

    versions: tuple[ModelVersion, ...] = ()
    current: str | None = None

    def get(self, ref: str = "current") -> ModelVersion:
        """A version by ``current``, ``latest``, ``v3``, ``3`` or ``v0003``."""
        if not self.versions:
            raise EegmonError("the archive holds no model yet; train one with 'eegmon train ARCHIVE'.")
        if ref == "current":
            ref = self.current or self.versions[-1].id
        if ref == "latest":
            return self.versions[-1]
        digits = ref.lower().removeprefix("v")
        if digits.isdigit():
            for v in self.versions:
                if v.number == int(digits):
                    return v
        known = ", ".join(v.id for v in self.versions)
        raise EegmonError(f"no model version {ref!r} in the archive; it has {known} (or say current, latest).")


def describe_review(review: dict[str, Any]) -> str:
    """A version's review facts in words: ``from 14 confirmed, 9 rejected items reviewed up to ... by ...``."""
    text = f"from {review.get('confirmed', 0)} confirmed, {review.get('rejected', 0)} rejected items"
    if review.get("latest_edit"):
        text += f" reviewed up to {review['latest_edit'][:10]}"
    if review.get("reviewers"):
        text += " by " + ", ".join(review["reviewers"])
    return text


def models_dir(archive_path: str | os.PathLike) -> Path:
    """``ARCHIVE.h5.d/models`` of the archive manifest ``archive_path``."""
    return segment_dir(Path(archive_path)) / "models"


def read_registry(archive_path: str | os.PathLike) -> Registry:
    """The archive's model registry (empty when no model was stored)."""
    path = models_dir(archive_path) / REGISTRY
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return Registry()
    except (OSError, json.JSONDecodeError) as err:
        raise EegmonError(f"cannot read the model registry ({err}).", path) from None
    if doc.get("format") != FORMAT:
        raise EegmonError(f"unknown model registry format {doc.get('format')!r}; expected {FORMAT!r}.", path)
    return Registry(tuple(ModelVersion(**v) for v in doc["versions"]), doc.get("current"))


def model_path(archive_path: str | os.PathLike, version: ModelVersion) -> Path:
    """The model file of ``version``."""
    return models_dir(archive_path) / version.file


def _write_registry(folder: Path, registry: Registry) -> None:
    doc = {"format": FORMAT, "current": registry.current, "versions": [asdict(v) for v in registry.versions]}
    with atomic_write(folder / REGISTRY, "w") as f:
        json.dump(doc, f, indent=1)


def store_model(archive_path: str | os.PathLike, write: Callable[[Path], None], *, base: str,
                review: dict[str, Any], training: dict[str, Any], make_current: bool = True) -> ModelVersion:
    """Store a new model version: ``write(path)`` writes the model file, then the registry names it.

    Parameters
    ----------
    archive_path : path-like
        The archive manifest (``ARCHIVE.h5``); it must exist.
    write : callable
        Writes the model file to the path it is given (e.g. ``lambda p: save_model(model, p)``,
        which is atomic itself).
    base, review, training
        The lineage facts (see :class:`ModelVersion`).
    make_current : bool
        Make it the current version (what ``eegmon detect --model archive`` runs).

    Returns
    -------
    ModelVersion
    """
    archive_path = Path(archive_path)
    if not archive_path.is_file() or not segment_dir(archive_path).is_dir():
        raise EegmonError("not an archive (no manifest and .d folder).", archive_path)
    folder = models_dir(archive_path)
    if not folder.is_dir():
        folder.mkdir()
        fsync_dir(folder.parent)
    with exclusive_lock(folder / "lock"):  # one store at a time
        registry = read_registry(archive_path)
        number = max((v.number for v in registry.versions), default=0) + 1
        version = ModelVersion(id=f"v{number:04d}", file=f"v{number:04d}{SUFFIX}",
                               created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), base=base,
                               previous=registry.current, review=review, training=training)
        write(folder / version.file)  # complete under its name before the registry names it
        current = version.id if make_current else registry.current
        _write_registry(folder, Registry((*registry.versions, version), current))
    return version


__all__ = ["ModelVersion", "Registry", "describe_review", "model_path", "models_dir", "read_registry", "store_model"]
