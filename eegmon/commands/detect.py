"""Detect seizures in an archive, an EDF/BDF file, a device folder or a one-subject BIDS dataset.

Runs a detector over the whole recording (in chunks: memory does not grow with its length) and
writes the events as SzCORE events.tsv. When SRC is an archive, the detections are also stored
in it (source detector:<name>, review status unreviewed), ready for review, with the detector's
seizure probability per minute as a trend for the viewer; running again does not duplicate them.
Any channel count and sampling rate: a trained model resamples the input to the rate it was
trained at.

Detectors (--detector): classifier (default; the bundled generic model, or --model FILE from
'eegmon train') and line-length (Esteller-style line length against an adaptive baseline).

-o OUT: a path ending in .tsv gets one events.tsv for the whole recording (dateTime = its
start); anything else is a folder that gets one <stem>_events.tsv per source file, which is
what 'eegmon evaluate' pairs with ground truth.

examples:
  eegmon detect sample_data/sim -o out/detections
  eegmon detect patient01.h5 --detector line-length
  eegmon detect recording.edf --model my.eegmon-model -o recording_events.tsv
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .._deprecated import moved


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SRC", help="archive (.h5), EDF/BDF file, device folder or BIDS dataset")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--detector", default="classifier", help="detector name: classifier (default) or line-length")
    group.add_argument("--model", type=Path, default=None, metavar="FILE", help="a model file from 'eegmon train'")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="OUT",
                        help="events.tsv file (ends in .tsv) or folder for one events.tsv per source file")
    parser.add_argument("--line-freq", type=float, default=50.0, help="mains frequency in Hz (default: 50)")
    parser.add_argument("--no-store", action="store_true", help="do not store the detections in the archive")


__getattr__ = moved(__name__, {"write_outputs": ("eegmon.io.write_recording_events", None)})


def run(args: argparse.Namespace) -> int:
    from ..detectors import load_detector
    from ..detectors.batch import detect_source
    from ..events import to_datetime
    from ..io import open_recording, write_recording_events

    model, name = load_detector(args.detector, args.model)
    source = open_recording(args.source)
    result = detect_source(source, model, name=name, line_freq=args.line_freq, quiet=args.quiet)
    written = write_recording_events(args.output, source, result.events) if args.output else []
    stored = 0
    if source.kind == "archive" and not args.no_store:
        from ..archive import Archive
        from ..detectors.batch import minute_trend

        with Archive.open(source.path, "a") as arc:
            stored = len(arc.add_detections(result.events))
            arc.write_trend(f"detector:{name}", *minute_trend(result))
    if not args.quiet:
        print(f"{len(result.events)} seizure detection(s) in {source.recorded_s / 3600:.1f} h of {source.path} "
              f"(detector {name})")
        for ev in result.events:
            print(f"  {to_datetime(ev.onset):%Y-%m-%d %H:%M:%S}  {ev.duration:6.1f} s  p={ev.confidence:.2f}  "
                  f"{','.join(ev.channels)}")
        if written:
            print(f"wrote {len(written)} events.tsv file(s) to {args.output}")
        if stored:
            print(f"stored {stored} detection(s) in {source.path}")
    return 0
