"""Pairing reference and hypothesis ``events.tsv`` files (single files or BIDS-like folders)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .._logging import logger
from ..errors import EegmonError
from ..io.events_tsv import read_events_tsv

_SUFFIX = "_events.tsv"
NO_DATE = -1e12  # a start no real recording has: marks files without dateTime


@dataclass(frozen=True)
class RecordingPair:
    """One recording's reference and hypothesis seizures, in seconds from its start."""

    name: str
    subject: str
    duration: float
    start: float | None
    ref: list[tuple[float, float]]
    hyp: list[tuple[float, float]]


def subject_of(path: Path) -> str:
    """The BIDS ``sub-`` entity in the path, else the file name up to its first underscore."""
    for part in (path.name, *reversed(path.parent.parts)):
        match = re.search(r"sub-([A-Za-z0-9]+)", part)
        if match:
            return match.group(1)
    return path.name.split("_")[0]


def _event_files(root: Path) -> dict[str, Path]:
    # BIDS keeps derived and source data apart from the raw data: detections written into
    # DATASET/derivatives/ must not count as ground truth when DATASET is the reference.
    files = (p.relative_to(root) for p in sorted(root.rglob(f"*{_SUFFIX}")))
    return {str(p): root / p for p in files if not {"derivatives", "sourcedata"} & set(p.parts[:-1])}


def _seizures(path: Path, what: str, fallback_start: float) -> tuple[list[tuple[float, float]], float, float | None]:
    """Seizures of one file in seconds from its start, the start (dateTime or the fallback) and its duration."""
    table = read_events_tsv(path, recording_start=fallback_start, source=what)
    start = table.recording_start
    events = [(ev.onset - start, ev.offset - start) for ev in table.events if ev.is_seizure]
    return events, start, table.recording_duration


def collect(ref: str | Path, hyp: str | Path) -> list[RecordingPair]:
    """Read and pair reference and hypothesis files.

    Parameters
    ----------
    ref, hyp : path
        Two ``events.tsv`` files, or two folders searched recursively for ``*_events.tsv``
        (artifact tables ``*_artifacts.tsv`` are not read). Hypothesis files are matched to
        reference files by relative path, else by file name. A reference without a hypothesis
        counts as a recording with no detections.

    Returns
    -------
    list of RecordingPair
    """
    ref, hyp = Path(ref), Path(hyp)
    for p, what in ((ref, "--ref"), (hyp, "--hyp")):
        if not p.exists():
            raise EegmonError(f"{what} does not exist.", p)
    if ref.is_file() != hyp.is_file():
        raise EegmonError("--ref and --hyp must both be files or both be folders.", hyp)
    if ref.is_file():
        pairs = {ref.name: (ref, hyp)}
    else:
        ref_files, hyp_files = _event_files(ref), _event_files(hyp)
        if not ref_files:
            raise EegmonError(f"no *{_SUFFIX} files found.", ref)
        by_name = {p.name: p for p in hyp_files.values()}
        pairs = {key: (path, hyp_files.get(key) or by_name.get(path.name)) for key, path in ref_files.items()}
        used = {p for _, p in pairs.values() if p is not None}
        orphans = [p for p in hyp_files.values() if p not in used]
        if orphans:
            raise EegmonError(f"hypothesis file has no reference file of the same name in {ref}.", orphans[0])
    out = []
    for key, (ref_path, hyp_path) in pairs.items():
        # Files without a dateTime column (plain BIDS) count onsets from 0; NO_DATE marks them.
        ref_events, ref_start, duration = _seizures(ref_path, "ground_truth", NO_DATE)
        if hyp_path is None:
            logger.warning("no hypothesis for %s: scored as no detections", key)
            hyp_events = []
        else:
            hyp_events, hyp_start, hyp_duration = _seizures(hyp_path, "hypothesis", NO_DATE)
            if NO_DATE not in (ref_start, hyp_start) and abs(hyp_start - ref_start) > 1.0:
                raise EegmonError(f"its dateTime differs from the reference's by {hyp_start - ref_start:.0f} s; "
                                  "hypothesis and reference must describe the same recording.", hyp_path)
            duration = duration if duration is not None else hyp_duration
        if duration is None or duration <= 0:
            raise EegmonError("no recordingDuration column: the recording length is needed to count false alarms.",
                              ref_path)
        name = key[: -len(_SUFFIX)] if key.endswith(_SUFFIX) else key
        out.append(RecordingPair(name=name, subject=subject_of(ref_path), duration=duration,
                                 start=None if ref_start == NO_DATE else ref_start, ref=ref_events,
                                 hyp=hyp_events))
    return out
