"""Export a span of an archive, with its annotations and detections, as an EDF+ file.

The file is EDF+C, 16-bit, at the archive's exact sampling rate, with an anonymous patient field
(X X X X); EDFbrowser, MNE (mne.io.read_raw_edf), edfio and 'eegmon import' open it. Each
channel's physical range is its minimum and maximum over the span plus a 1 % margin.
Annotations and detections become EDF+ annotations whose text says what they are: the label for
ground truth ("sz"), else the label with its source, review status and confidence
("sz [detector:classifier, rejected, p=0.91]"). Stretches without samples (gaps) are flat in the
file and covered by a "BAD_ACQ_SKIP" annotation (MNE skips them when filtering and rejecting).

--start/--stop: an ISO 8601 time (UTC unless it has an offset) or seconds from the recording's
start; the whole recording by default. The file starts at the whole second at or before START
(EDF header times have whole seconds) and ends with the data record holding STOP. Samples are
written in blocks straight from the archive: memory does not grow with the span (a month is fine).

examples:
  eegmon export patient01.h5 -o patient01.edf
  eegmon export patient01.h5 -o night.edf --start 2025-01-06T22:00:00 --stop 2025-01-07T07:00:00
  eegmon export patient01.h5 -o hour2.edf --start 3600 --stop 7200 --channels F3,C3
  eegmon export patient01.h5 -o patient01.edf --overwrite
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from pathlib import Path


def _when(text: str) -> tuple[str, float]:
    """``("offset", s)`` for seconds from the recording's start, ``("time", t)`` for an ISO 8601 time."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(value):
            return "offset", value
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time (2025-01-06T22:00:00, UTC unless it has an offset) or seconds from the "
            f"recording's start (3600), got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return "time", when.timestamp()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("archive", metavar="ARCHIVE.h5", help="archive manifest written by 'eegmon import'")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.edf", help="EDF+ file to write")
    parser.add_argument("--start", type=_when, default=None, metavar="ISO|SECONDS",
                        help="span start: ISO 8601 time or seconds from the recording's start (default: its start)")
    parser.add_argument("--stop", type=_when, default=None, metavar="ISO|SECONDS",
                        help="span end: ISO 8601 time or seconds from the recording's start (default: its end)")
    parser.add_argument("--channels", default=None, metavar="A,B",
                        help="comma-separated channels to export, in that order (default: all)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT.edf if it exists")


def run(args: argparse.Namespace) -> int:
    from ..archive import Archive
    from ..archive.interop import export_edf
    from ..events import to_datetime

    def absolute(when: tuple[str, float] | None, origin: float) -> float | None:
        return None if when is None else when[1] + (origin if when[0] == "offset" else 0.0)

    channels = None if args.channels is None else [c.strip() for c in args.channels.split(",")]
    with Archive.open(args.archive, "r") as archive:
        report = export_edf(archive, args.output, absolute(args.start, archive.start),
                            absolute(args.stop, archive.start), channels=channels,
                            overwrite=args.overwrite, quiet=args.quiet)
    if not args.quiet:
        print(f"{report.path}: EDF+C from {to_datetime(report.start).isoformat()} to "
              f"{to_datetime(report.stop).isoformat()} ({(report.stop - report.start) / 3600:.2f} h, "
              f"{report.n_records} data records of {report.record_s} s), {report.n_events} annotation(s), "
              f"{report.n_gaps} gap(s) marked BAD_ACQ_SKIP.")
    return 0
