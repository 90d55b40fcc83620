"""Open the clinician review window on an archive (or an EDF file, device folder or BIDS dataset).

Shows all channels stacked in wall-clock time with page sizes from 10 s to a day, an overview
of the whole recording (data and gaps, detections and annotations, the detector's seizure
probability or signal activity, and a spectral lane), and the list of detections and annotations
to review. Times are shown in the patient's time zone stored in the archive (--utc: in UTC).
Every review action (confirm, reject, relabel, move onset/offset, add) is saved to the archive at
once with the reviewer's name and time; undo/redo with Ctrl+Z / Ctrl+Shift+Z. F1 lists the keys.

An EDF file, a device folder or a one-subject BIDS dataset is imported first: into --archive
PATH when given (kept, and reused when it exists), else into a temporary archive that is deleted
at exit (review edits are then lost: pass --archive to keep them).

examples:
  eegmon view patient01.h5
  eegmon view patient01.h5 --reviewer dr.smith
  eegmon view sample_data/sim --archive sim.h5
  eegmon view clinical.edf --montage longitudinal
  eegmon view patient01.h5 --montage my-montage.toml
  eegmon view patient01.h5 --utc
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SRC", help="archive (.h5), EDF/BDF file, device folder or BIDS dataset")
    parser.add_argument("--reviewer", default=None, metavar="NAME",
                        help="name stored with every review action (default: $USER)")
    parser.add_argument("--archive", type=Path, default=None, metavar="PATH",
                        help="for an EDF/folder/BIDS SRC: archive to import into and keep (default: a temporary one)")
    parser.add_argument("--montage", default="referential", metavar="NAME|FILE",
                        help="montage shown first: referential (default), longitudinal (double banana), transverse, "
                             "average, device, bipolar (longitudinal for 10-20 channels, else device) or a .toml/.json "
                             "montage file (docs/viewer.md); B cycles the named ones")
    parser.add_argument("--utc", action="store_true",
                        help="show times in UTC (default: the archive's time zone, from 'eegmon import --time-zone')")
    parser.add_argument("--close-after", type=float, default=None, metavar="S", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from ..io import import_sources, recording_kind
    from ..viewer._qtfix import check_qt_platform

    # before any import and before Qt is loaded: without a display or the X11 plugin's libraries
    # creating the QApplication aborts the process (exit 134) instead of raising
    check_qt_platform()
    source = Path(args.source)
    kind = recording_kind(source)
    reviewer = args.reviewer or os.environ.get("USER") or "reviewer"
    with tempfile.TemporaryDirectory(prefix="eegmon-view-") as tmp:
        if kind == "archive":
            path = source
        else:
            path = args.archive or Path(tmp) / f"{source.stem}.h5"
            if not path.exists():
                import_sources(path, [source], quiet=args.quiet)
            if args.archive is None and not args.quiet:
                print(f"imported {source} into a temporary archive; review edits are lost at exit "
                      "(use --archive PATH to keep them)")
        from ..viewer.app import open_viewer  # Qt is imported here, not when the CLI starts

        return int(open_viewer(path, reviewer=reviewer, montage=args.montage, utc=args.utc,
                               close_after=args.close_after))
