"""A small review archive from the bundled simulated sample, for the viewer tests (no Qt)."""

from __future__ import annotations

import os
from pathlib import Path

from eegmon.archive import Archive
from eegmon.events import Annotation
from eegmon.io import read_device_folder

#: The bundled 4-h, 2-channel simulated recording (4 seizures).
SAMPLE_FOLDER = Path(__file__).resolve().parents[1] / "sample_data" / "sim"


def make_review_archive(path: str | os.PathLike, folder: str | os.PathLike = SAMPLE_FOLDER) -> Path:
    """Import ``folder`` into a new archive at ``path`` and add synthetic detections to review.

    Each ground-truth seizure gets a detection (onset 3 s late, confidence 0.9, 0.8, ...) and three
    false detections (confidence 0.35-0.55) are added between them. Source ``detector:synthetic``,
    status unreviewed. Returns the archive path.
    """
    path = Path(path)
    rec = read_device_folder(folder)
    with Archive.create(path, rec.channels, rec.fs) as arc:
        arc.import_recording(rec)
        seizures = [a for a in arc.annotations() if a.is_seizure]
        dets = [Annotation(onset=a.onset + 3.0, duration=max(a.duration - 3.0, 5.0), label="sz",
                           confidence=round(0.9 - 0.1 * i, 2), source="detector:synthetic")
                for i, a in enumerate(seizures)]
        span = arc.stop - arc.start
        dets += [Annotation(onset=arc.start + span * f, duration=20.0, label="sz", confidence=c,
                            source="detector:synthetic") for f, c in ((0.15, 0.55), (0.45, 0.35), (0.9, 0.45))]
        dets = [d for d in dets if any(s.start <= d.onset and d.offset <= s.stop for s in arc.segments)]
        arc.add_detections(dets)
    return path


def copy_archive(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy an archive (manifest and its ``.d`` folder of segment files) to ``dst``; return ``dst``."""
    import shutil

    dst = Path(dst)
    shutil.copy(src, dst)
    shutil.copytree(f"{src}.d", f"{dst}.d")
    return dst
