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

_EDF = (".edf", ".bdf")
_ARCHIVE = (".h5", ".hdf5")


@dataclass(frozen=True)
class RecordingSpec:
    """One recording of a dataset.

    Attributes
    ----------
    base : str
        Derivatives base path, relative to the output folder, without suffix (unique in the dataset).
    path : Path
        What :func:`eegmon.source.open_source` opens: an archive, an EDF/BDF file or a device folder.
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
        elif self.path.suffix.lower() in _ARCHIVE:
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
    for suffix in _EDF + _ARCHIVE:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    stem = re.sub(r"^sub-", "", stem)
    return re.sub(r"[^A-Za-z0-9]", "", stem)


def _is_recording(path: Path) -> bool:
    if path.is_dir():
        return any(p.suffix.lower() in _EDF for p in path.iterdir() if p.is_file())
    return path.suffix.lower() in _EDF + _ARCHIVE


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
    from mne_bids import find_matching_paths

    paths = find_matching_paths(root, datatypes="eeg", suffixes="eeg",
                                extensions=[".edf", ".bdf", ".EDF", ".BDF"])
    if not paths:
        raise EegmonError("no EEG runs found (sub-*/[ses-*/]eeg/*_eeg.edf|bdf).", root)
    specs = []
    for bp in sorted(paths, key=lambda p: str(p.fpath)):
        fpath = Path(bp.fpath)
        stem = fpath.name.rsplit("_eeg", 1)[0]
        truth = fpath.with_name(stem + "_events.tsv")
        base = (fpath.parent.relative_to(root) / stem).as_posix()
        specs.append(RecordingSpec(base, fpath, bp.subject, truth if truth.is_file() else None))
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
    if root.is_file():
        if root.suffix.lower() in _EDF + _ARCHIVE:
            return _plain([root], root)
        return _plain(_list_file(root), root)
    if (root / "dataset_description.json").is_file():
        return _bids(root)
    children = sorted(p for p in root.iterdir() if not p.name.startswith(".") and _is_recording(p))
    nested = [p for p in children if p.is_dir() or p.suffix.lower() in _ARCHIVE]
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
