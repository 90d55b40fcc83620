"""Detect seizures in an archive, an EDF/BDF file, a device folder or a one-subject BIDS dataset.

Runs a detector over the whole recording (in chunks: memory does not grow with its length) and
writes the events as SzCORE events.tsv. When SRC is an archive, the detections are also stored
in it (source detector:<name>, review status unreviewed), ready for review, with the detector's
seizure probability per minute as a trend for the viewer; running again does not duplicate them.
Any channel count and sampling rate: a trained model resamples the input to the rate it was
trained at.

Detectors (--detector): classifier (default; the bundled generic model, or --model FILE from
'eegmon train') and line-length (Esteller-style line length against an adaptive baseline).

--model archive runs the archive's current patient model (from 'eegmon train ARCHIVE'),
--model archive:v3 a given version; its detections are stored as detector:patient-v3. It then
says what changed against the review over the last --compare-days (30): how many rejected
detections (false alarms) it would not raise, whether a confirmed seizure is lost, and how many
of its detections nobody has reviewed. (A model file literally named "archive": ./archive.)

-o OUT: a path ending in .tsv gets one events.tsv for the whole recording (dateTime = its
start); anything else is a folder that gets one <stem>_events.tsv per source file, which is
what 'eegmon evaluate' pairs with ground truth.

examples:
  eegmon detect sample_data/sim -o out/detections
  eegmon detect patient01.h5 --detector line-length
  eegmon detect recording.edf --model my.eegmon-model -o recording_events.tsv
  eegmon detect patient01.h5 --model archive --compare-days 14
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .._deprecated import moved


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SRC", help="archive (.h5), EDF/BDF file, device folder or BIDS dataset")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--detector", default="classifier", help="detector name: classifier (default) or line-length")
    group.add_argument("--model", default=None, metavar="FILE",
                       help="a model file from 'eegmon train', or archive / archive:vN: the archive's current "
                            "(or a given) model version")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="OUT",
                        help="events.tsv file (ends in .tsv) or folder for one events.tsv per source file")
    parser.add_argument("--line-freq", type=float, default=50.0, help="mains frequency in Hz (default: 50)")
    parser.add_argument("--no-store", action="store_true", help="do not store the detections in the archive")
    parser.add_argument("--compare-days", type=float, default=30.0, metavar="DAYS",
                        help="with --model archive: compare with the review of the last DAYS (default: 30)")


__getattr__ = moved(__name__, {"write_outputs": ("eegmon.io.write_recording_events", None)})


ARCHIVE_MODEL = "archive"


def _archive_model(source, ref: str):
    """The archive's model version ``ref`` (``archive`` or ``archive:vN``): ``(model, name)``."""
    from ..archive.models import model_path, read_registry
    from ..detectors import load_model
    from ..errors import EegmonError

    if source.kind != "archive":
        raise EegmonError(f"--model {ref} runs an archive's own model, but this is a {source.kind}.", source.path)
    version = read_registry(source.path).get(ref.partition(":")[2] or "current")
    return load_model(model_path(source.path, version)), version.name


def _compare(source, events, days: float) -> str:
    """What this run changes against the review of the archive's last ``days``."""
    from ..archive import Archive
    from ..archive.review import review_items
    from ..detectors.retrain import compare_with_review

    with Archive.open(source.path) as arc:
        items = review_items(arc)
    stop = source.stop
    return compare_with_review(items, events, stop - days * 86400.0, stop).summary()


def run(args: argparse.Namespace) -> int:
    from .._checks import check_number
    from ..detectors import load_detector
    from ..detectors.batch import detect_source
    from ..events import to_datetime
    from ..io import open_recording, write_recording_events

    days = check_number("--compare-days", args.compare_days, low=0, low_inclusive=False)
    source = open_recording(args.source)
    from_archive = args.model is not None and args.model.partition(":")[0] == ARCHIVE_MODEL
    if from_archive:
        model, name = _archive_model(source, args.model)
    else:
        model, name = load_detector(args.detector, None if args.model is None else Path(args.model))
    result = detect_source(source, model, name=name, line_freq=args.line_freq, quiet=args.quiet)
    comparison = _compare(source, result.events, days) if from_archive else None
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
        if comparison is not None:
            print(comparison)
    return 0
