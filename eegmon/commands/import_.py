"""Import EDF/BDF files, device folders or a BIDS dataset into a recording archive.

Sources: EDF/EDF+/BDF files, device folders (every .edf/.bdf in the folder, ordered by start time,
with sidecar <stem>_events.tsv / <stem>_artifacts.tsv), or a BIDS dataset root. All sources make
one recording of one patient: same channels and sampling rate, no overlap between files.

Annotation files (--annotations): SzCORE/BIDS *.tsv, CHB-MIT *summary.txt, TUSZ *.csv_bi / *.csv,
EDF+ annotations in *.edf; labels are mapped onto the SzCORE vocabulary, the original kept.

Everything is checked before anything is written: on bad input the archive is left as it was.
Files imported before (same content fingerprint) are skipped, not duplicated.

examples:
  eegmon import /data/device -o patient01.h5
  eegmon import /data/device/new_day.edf -o patient01.h5 --append
  eegmon import chb01_03.edf chb01_04.edf -o chb01.h5 --annotations chb01-summary.txt
  eegmon import /data/device -o patient01.h5 --time-zone Europe/London
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .._deprecated import moved


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SRC", help="EDF/BDF file, device folder or BIDS root")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="ARCHIVE.h5",
        help="archive manifest to create (its data goes into ARCHIVE.h5.d/)",
    )
    parser.add_argument(
        "--append", action="store_true", help="add to an existing archive (files already in it are skipped)"
    )
    parser.add_argument(
        "--annotations", nargs="+", default=[], metavar="FILE", help="annotation files to import with the recording"
    )
    parser.add_argument("--subject", default=None, help="BIDS subject to import (needed when the dataset has several)")
    parser.add_argument(
        "--time-zone",
        default=None,
        metavar="ZONE",
        help="the patient's IANA time zone (e.g. Europe/London), stored in the archive: the viewer shows local "
        "times in it (default: keep the archive's, UTC for a new one)",
    )
    parser.add_argument(
        "--max-segment-hours",
        type=float,
        default=24.0,
        help="split longer files into segments of at most this length; a crash loses at most one segment (default: 24)",
    )


__getattr__ = moved(__name__, {"import_sources": ("eegmon.io.import_sources", None)})


def run(args: argparse.Namespace) -> int:
    from ..archive import Archive
    from ..archive.archive import check_time_zone
    from ..io.ingest import import_sources

    out = Path(args.output)
    if args.time_zone is not None:
        check_time_zone(args.time_zone)  # before anything is imported
    rec, report = import_sources(out, args.sources, append=args.append, subject=args.subject,
                                 annotation_files=args.annotations, max_segment_s=args.max_segment_hours * 3600,
                                 quiet=args.quiet)
    if args.time_zone is not None:
        with Archive.open(out, "a") as arc:
            arc.time_zone = args.time_zone
    if not args.quiet:
        print(
            f"{out}: imported {len(report.imported)} file(s), {report.n_samples / rec.fs / 3600:.2f} h in "
            f"{report.n_segments} segment(s); skipped {len(report.skipped)} already imported; "
            f"{report.n_annotations} annotation(s)."
            + (f" Time zone {args.time_zone}." if args.time_zone is not None else "")
        )
    return 0
