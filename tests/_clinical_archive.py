"""A small clinical-like archive for the viewer tests: 19 10-20 channels at 256 Hz with overlapping events."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np

from eegmon.archive import Archive
from eegmon.events import Annotation

#: The 19 channels of a standard 10-20 clinical recording (old temporal names, as many EDF files have).
CHANNELS_10_20 = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4",
                  "T5", "P3", "Pz", "P4", "T6", "O1", "O2")
FS = 256.0
#: Recording start: 2026-07-01 08:00:00 UTC (09:00 BST in Europe/London).
START = dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC).timestamp()
#: A detection and three overlapping artifact annotations around 600 s, and a long seizure annotation at
#: 1000-1400 s.
OVERLAPPING = ((600.0, 30.0), (603.0, 37.0), (606.0, 14.0), (609.0, 20.0))
LONG_EVENT = (1000.0, 400.0)


def make_clinical_archive(path: str | os.PathLike, *, minutes: float = 30.0, seed: int = 0) -> Path:
    """Write the archive at ``path`` (alpha rhythm in noise, ~50 µV) with the events above; return ``path``."""
    path = Path(path)
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * FS)
    t = np.arange(n) / FS
    uv = 20 * rng.standard_normal((len(CHANNELS_10_20), n)) + 30 * np.sin(2 * np.pi * 10 * t)
    gain = 0.1  # µV per digital step
    digital = np.round(uv / gain).astype(np.int16)
    with Archive.create(path, CHANNELS_10_20, FS) as arc:
        arc.append_segment(START, digital, [gain] * len(CHANNELS_10_20), [0.0] * len(CHANNELS_10_20),
                           source="synthetic")
        a, d = OVERLAPPING[0]
        arc.add_detections([Annotation(onset=START + a, duration=d, label="sz", confidence=0.9,
                                       source="detector:synthetic")])
        # artifacts over the seizure: each its own review item (seizure events of any source would be one)
        arc.add_annotations([Annotation(onset=START + a, duration=d, label=label, source="ground_truth")
                             for (a, d), label in zip(OVERLAPPING[1:], ("musc", "chew", "elpp"), strict=True)]
                            + [Annotation(onset=START + LONG_EVENT[0], duration=LONG_EVENT[1], label="sz",
                                          source="ground_truth")])
    return path
