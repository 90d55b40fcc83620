"""The recordings of a dataset: a BIDS dataset, a folder of archives or device folders, or a list file.

Each recording gets a BIDS-derivatives base name, so its outputs land where ``szcore-evaluation``,
``timescoring`` and ``eegmon evaluate`` look for them: a BIDS run keeps its own path
(``sub-01/ses-01/eeg/sub-01_ses-01_task-szMonitoring_run-00``), anything else becomes
``sub-<name>/eeg/sub-<name>_task-monitoring``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import EegmonError
from ..io.bids import find_bids_runs
from ..io.dispatch import ARCHIVE_SUFFIXES, EDF_SUFFIXES, recording_kind


@dataclass(frozen=True)
class RecordingSpec:
    """One recording of a dataset.

    Attributes
    ----------
    base : str
        Derivatives base path, relative to the output folder, without suffix (unique in the dataset).
    path : Path
        What :func:`eegmon.io.open_recording` opens: an archive, an EDF/BDF file or a device folder.
    subject : str
        BIDS subject label.
    truth : Path | None
        The BIDS ``events.tsv`` of the run; None when the ground truth comes with the recording
        itself (archive annotations, EDF+ annotations, device-folder sidecars).
    """

    base: str
    path: Path
    subject: str
    truth: Path | None = None

    def input_files(self) -> list[Path]:
        """Every file the recording is read from (what its checksum covers)."""
        if self.path.is_dir():
            files = [p for p in self.path.iterdir() if p.is_file()]
        elif self.path.suffix.lower() in ARCHIVE_SUFFIXES:
            data = self.path.with_name(self.path.name + ".d")
            files = [self.path] + ([p for p in data.rglob("*") if p.is_file()] if data.is_dir() else [])
        else:
            files = [self.path]
        if self.truth is not None and self.truth.is_file():
            files.append(self.truth)
        return sorted(files)


def _label(name: str) -> str:
    """A BIDS label (letters and digits only) from a file or folder name."""
    stem = name
    for suffix in EDF_SUFFIXES + ARCHIVE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    stem = re.sub(r"^sub-", "", stem)
    return re.sub(r"[^A-Za-z0-9]", "", stem)


def _kind(path: Path) -> str | None:
    """The recording kind of ``path`` (see :func:`eegmon.io.recording_kind`), None when it is none."""
    try:
        return recording_kind(path)
    except EegmonError:
        return None


def _is_recording(path: Path) -> bool:
    return _kind(path) in ("archive", "edf", "folder")


def _plain(paths: list[Path], where: Path) -> list[RecordingSpec]:
    specs: dict[str, RecordingSpec] = {}
    for path in paths:
        label = _label(path.name)
        if not label:
            raise EegmonError("cannot make a subject label (letters and digits) from this name.", path)
        if label in specs:
            raise EegmonError(f"two recordings get the same subject label '{label}': {specs[label].path} and "
                              f"{path}; rename one.", where)
        specs[label] = RecordingSpec(f"sub-{label}/eeg/sub-{label}_task-monitoring", path, label)
    return list(specs.values())


def _bids(root: Path) -> list[RecordingSpec]:
    specs = []
    for run in find_bids_runs(root):
        stem = run.path.name.rsplit("_eeg", 1)[0]
        base = (run.path.parent.relative_to(root) / stem).as_posix()
        specs.append(RecordingSpec(base, run.path, run.subject, run.events))
    return specs


def _list_file(path: Path) -> list[Path]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise EegmonError(f"cannot read the list file: {err}", path) from None
    out = []
    for number, line in enumerate(lines, 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        item = Path(entry).expanduser()
        item = item if item.is_absolute() else path.parent / item
        if not item.exists():
            raise EegmonError(f"line {number}: {entry} does not exist.", path)
        if not _is_recording(item):
            raise EegmonError(f"line {number}: {entry} is not an archive, an EDF/BDF file or a folder of them.",
                              path)
        out.append(item)
    if not out:
        raise EegmonError("the list file names no recordings.", path)
    return out


def find_recordings(dataset: str | os.PathLike) -> list[RecordingSpec]:
    """The recordings of a dataset, in a stable order.

    Parameters
    ----------
    dataset : path-like
        A BIDS dataset root (with ``dataset_description.json``; every EDF/BDF EEG run, with its
        ``events.tsv`` as ground truth); a folder of archives (``*.h5``) and device folders (one
        recording each), or a device folder itself; or a text file listing recordings, one path
        per line (relative to the list file; ``#`` starts a comment).

    Returns
    -------
    list of RecordingSpec

    Raises
    ------
    EegmonError
        When the dataset does not exist, holds no recording, or two recordings would get the same
        output name.
    """
    root = Path(dataset)
    if not root.exists():
        raise EegmonError("no such dataset (a BIDS root, a folder of recordings or a list file).", root)
    kind = _kind(root)
    if root.is_file():
        return _plain([root] if kind is not None else _list_file(root), root)
    if kind == "bids":
        return _bids(root)
    children = sorted(p for p in root.iterdir() if not p.name.startswith(".") and _is_recording(p))
    nested = [p for p in children if p.is_dir() or _kind(p) == "archive"]
    if nested:
        if len(nested) != len(children):
            loose = next(p for p in children if p not in nested)
            raise EegmonError(f"the folder mixes recordings (archives, device folders) with loose EDF/BDF files "
                              f"such as {loose.name}; move those into a device folder.", root)
        return _plain(nested, root)
    if children:
        return _plain([root], root)
    raise EegmonError("no recordings found: expected a BIDS dataset, archives (*.h5), device folders of "
                      "EDF/BDF files, or a list file.", root)
