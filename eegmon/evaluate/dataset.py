"""Reading and pairing reference and hypothesis annotation files (single files or folders).

Formats, told apart by the end of the file name (one table, :data:`_READERS`):

- SzCORE / BIDS ``events.tsv`` (``*_events.tsv`` in folders, any ``*.tsv`` given as a single
  file): the duration is the ``recordingDuration`` column, the start the ``dateTime`` column.
- TUSZ ``.csv_bi`` (whole-recording, channel ``TERM``) and per-channel ``.csv``: the duration is
  the ``# duration = ... secs`` line (required); there is no start. In a per-channel file the
  seizure time is the union over channels.

Only seizure labels count (``sz`` and its subtypes after :func:`eegmon.io.labels.map_label`:
TUSZ ``fnsz``, ``cpsz``, ``seiz``, ...); ``bckg``, artifacts and unknown labels do not. Seizure
rows that overlap or touch are one seizure.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .._logging import logger
from ..errors import EegmonError
from ..io.events_tsv import read_events_tsv
from ..io.tusz import read_tusz_csv

NO_DATE = -1e12  # a start no real recording has: marks files without dateTime
#: Largest difference (s) between the durations that reference and hypothesis give one recording.
DURATION_TOLERANCE = 1.0
#: Folders of a BIDS dataset that hold derived or source data, never ground truth: not searched.
_SKIPPED_FOLDERS = frozenset({"derivatives", "sourcedata"})
_EXPECTED = "SzCORE *_events.tsv or TUSZ *.csv_bi / per-channel *.csv"


@dataclass(frozen=True)
class RecordingPair:
    """One recording's reference and hypothesis seizures, in seconds from its start."""

    name: str
    subject: str
    duration: float
    start: float | None
    ref: list[tuple[float, float]]
    hyp: list[tuple[float, float]]


@dataclass(frozen=True)
class AnnotationFile:
    """The seizures of one annotation file, in seconds from the start of its recording.

    Attributes
    ----------
    path : Path
        The file.
    seizures : list of (start, stop)
        Disjoint, sorted seizure intervals.
    start : float | None
        Absolute recording start (s since the epoch) from ``dateTime``; None when the file has none.
    duration : float | None
        Recording duration (s); None when the file does not say.
    """

    path: Path
    seizures: list[tuple[float, float]]
    start: float | None
    duration: float | None


def subject_of(path: Path) -> str:
    """The BIDS ``sub-`` entity in the path, else the recording name up to its first underscore.

    The recording name is the file name without its format ending, so the second rule gives the
    TUSZ subject: ``aaaaaaac_s001_t000.csv_bi`` -> ``aaaaaaac`` (and ``truth.csv_bi`` -> ``truth``).
    """
    for part in (path.name, *reversed(path.parent.parts)):
        match = re.search(r"sub-([A-Za-z0-9]+)", part)
        if match:
            return match.group(1)
    return _strip_ending(path.name).split("_")[0]


def _union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted union of intervals: overlapping or touching ones become one."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _read_szcore(path: Path) -> AnnotationFile:
    # Files without a dateTime column (plain BIDS) count onsets from 0; NO_DATE marks them.
    table = read_events_tsv(path, recording_start=NO_DATE)
    start = table.recording_start
    seizures = [(ev.onset - start, ev.offset - start) for ev in table.events if ev.is_seizure]
    return AnnotationFile(path, _union(seizures), None if start == NO_DATE else start, table.recording_duration)


def _read_tusz(path: Path) -> AnnotationFile:
    table = read_tusz_csv(path)
    if table.duration is None:
        raise EegmonError("no '# duration = <seconds> secs' line: the recording length is needed to count "
                          "false alarms.", path)
    seizures = [(ev.onset, ev.offset) for ev in table.events if ev.is_seizure]
    return AnnotationFile(path, _union(seizures), None, table.duration)


#: File-name ending -> reader; the first ending that matches wins (``_events.tsv`` before ``.tsv``).
_READERS: dict[str, Callable[[Path], AnnotationFile]] = {
    "_events.tsv": _read_szcore,
    ".tsv": _read_szcore,
    ".csv_bi": _read_tusz,
    ".csv": _read_tusz,
}
#: The endings a folder is searched for: a bare ``.tsv`` in a BIDS folder is another table
#: (``_artifacts.tsv``, ``participants.tsv``, ``channels.tsv``), never annotations.
_FOLDER_ENDINGS = ("_events.tsv", ".csv_bi", ".csv")


def _ending(name: str, endings: Iterable[str]) -> str | None:
    return next((e for e in endings if name.endswith(e)), None)


def _strip_ending(name: str) -> str:
    """The recording name: a file name without its format ending (``_events.tsv``, ``.csv_bi``, ...)."""
    ending = _ending(name, _READERS)
    return name[: -len(ending)] if ending else name


def read_annotation(path: Path) -> AnnotationFile:
    """Read one reference or hypothesis file of any supported format.

    Parameters
    ----------
    path : Path
        A ``*.tsv`` (SzCORE), ``*.csv_bi`` or ``*.csv`` (TUSZ) file.

    Returns
    -------
    AnnotationFile
    """
    ending = _ending(path.name, _READERS)
    if ending is None:
        raise EegmonError("unknown annotation format: expected an SzCORE events.tsv (*.tsv) or a TUSZ *.csv_bi / "
                          f"per-channel *.csv file, got {path.name!r}.", path)
    return _READERS[ending](path)


def annotation_files(root: Path, what: str) -> dict[str, Path]:
    """Annotation files under ``root`` by recording key: the relative path without its format ending.

    A ``.csv`` beside a ``.csv_bi`` of the same recording (the TUSZ layout) is not read; any
    other two files of one recording are an error.
    """
    by_key: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        ending = _ending(path.name, _FOLDER_ENDINGS)
        if ending is None or _SKIPPED_FOLDERS & set(rel.parts[:-1]) or not path.is_file():
            continue
        by_key[str(rel)[: -len(ending)]].append(path)
    if not by_key:
        raise EegmonError(f"no annotation files in this {what} folder: expected {_EXPECTED} files (searched "
                          f"recursively, {' and '.join(sorted(_SKIPPED_FOLDERS))} skipped).", root)
    files = {}
    for key, paths in by_key.items():
        if any(p.name.endswith(".csv_bi") for p in paths):
            paths = [p for p in paths if not p.name.endswith(".csv")]
        if len(paths) > 1:
            raise EegmonError(f"two annotation files for one recording in this {what} folder: "
                              f"{' and '.join(p.name for p in paths)}; keep one.", paths[0].parent)
        files[key] = paths[0]
    return files


def _pair_folders(ref_root: Path, hyp_root: Path) -> dict[str, tuple[Path, Path | None]]:
    """Recording key -> (reference, hypothesis or None): by key, else by recording name (its last part)."""
    ref_files, hyp_files = annotation_files(ref_root, "--ref"), annotation_files(hyp_root, "--hyp")
    pairs = {key: (path, hyp_files.get(key)) for key, path in ref_files.items()}
    claimed = {hyp: key for key, (_, hyp) in pairs.items() if hyp is not None}
    by_name: dict[str, list[Path]] = defaultdict(list)
    for key, path in hyp_files.items():
        if path not in claimed:
            by_name[Path(key).name].append(path)
    for key, (ref, hyp) in pairs.items():
        if hyp is not None:
            continue
        candidates = by_name.get(Path(key).name, [])
        if len(candidates) > 1:
            raise EegmonError(f"several hypothesis files have its recording name: "
                              f"{', '.join(str(c) for c in candidates)}; keep the reference's relative paths "
                              "in --hyp.", ref)
        if candidates:
            hyp = candidates[0]
            if hyp in claimed:
                raise EegmonError(f"hypothesis file has the recording name of two reference files, "
                                  f"{pairs[claimed[hyp]][0]} and {ref}; keep the reference's relative paths "
                                  "in --hyp.", hyp)
            claimed[hyp] = key
            pairs[key] = (ref, hyp)
    orphans = [p for p in hyp_files.values() if p not in claimed]
    if orphans:
        more = f" ({len(orphans) - 1} more like it)" if len(orphans) > 1 else ""
        raise EegmonError(f"hypothesis file has no reference file with the same relative path or recording name "
                          f"in {ref_root}{more}.", orphans[0])
    return pairs


def _pair(name: str, ref: AnnotationFile, hyp: AnnotationFile | None) -> RecordingPair:
    """Check that reference and hypothesis describe the same recording and join them."""
    duration = ref.duration
    if hyp is not None:
        if ref.start is not None and hyp.start is not None and abs(hyp.start - ref.start) > 1.0:
            raise EegmonError(f"its dateTime differs from the reference's by {hyp.start - ref.start:.0f} s; "
                              "hypothesis and reference must describe the same recording.", hyp.path)
        if duration is not None and hyp.duration is not None and abs(hyp.duration - duration) > DURATION_TOLERANCE:
            raise EegmonError(f"recording duration {hyp.duration:g} s differs from the {duration:g} s of the "
                              f"reference {ref.path} by more than {DURATION_TOLERANCE:g} s; hypothesis and "
                              "reference must describe the same recording.", hyp.path)
        duration = duration if duration is not None else hyp.duration
    if duration is None:
        partner = "" if hyp is None else f" nor in its hypothesis {hyp.path}"
        raise EegmonError(f"no recordingDuration column here{partner}: the recording length is needed to count "
                          "false alarms.", ref.path)
    if duration <= 0:
        raise EegmonError(f"the recording duration must be > 0 s, got {duration:g}.", ref.path)
    return RecordingPair(name=name, subject=subject_of(ref.path), duration=duration, start=ref.start,
                         ref=ref.seizures, hyp=[] if hyp is None else hyp.seizures)


def collect(ref: str | Path, hyp: str | Path) -> list[RecordingPair]:
    """Read and pair reference and hypothesis files.

    Parameters
    ----------
    ref, hyp : path
        Two annotation files (SzCORE ``*.tsv``, TUSZ ``*.csv_bi`` or ``*.csv``, in any
        combination), or two folders searched recursively for ``*_events.tsv``, ``*.csv_bi`` and
        ``*.csv`` (a folder may mix them; ``derivatives/`` and ``sourcedata/`` are skipped, and a
        ``.csv`` beside a ``.csv_bi`` of the same recording is not read). A hypothesis file is
        paired with the reference file of the same relative path without format ending, else
        with the one of the same recording name (file name without ``_events.tsv``,
        ``.csv_bi`` or ``.csv``). A reference without a hypothesis counts as a recording with no
        detections (a warning is logged); a hypothesis without a reference is an error.

    Returns
    -------
    list of RecordingPair
        In the order of the reference files' relative paths.

    Raises
    ------
    EegmonError
        A missing path, a file and a folder, a folder without annotation files, a malformed
        file, no recording duration, or reference and hypothesis that disagree on the
        recording's duration (by more than 1 s) or start (``dateTime``, by more than 1 s).
    """
    ref, hyp = Path(ref), Path(hyp)
    for p, what in ((ref, "--ref"), (hyp, "--hyp")):
        if not p.exists():
            raise EegmonError(f"{what} does not exist.", p)
    if ref.is_file() != hyp.is_file():
        raise EegmonError("--ref and --hyp must both be files or both be folders.", hyp)
    pairs = {_strip_ending(ref.name): (ref, hyp)} if ref.is_file() else _pair_folders(ref, hyp)
    out = []
    for name, (ref_path, hyp_path) in pairs.items():
        if hyp_path is None:
            logger.warning("no hypothesis for %s: scored as no detections", ref_path)
        out.append(_pair(name, read_annotation(ref_path), None if hyp_path is None else read_annotation(hyp_path)))
    return out
