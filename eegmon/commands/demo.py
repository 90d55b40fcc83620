"""Run the end-to-end path on the bundled sample recording and print a short summary.

Reads the committed sample recording in sample_data/ (re-simulated into a temporary folder when
eegmon is not run from a source checkout), checks it against its ground truth, imports it into an
archive, runs both bundled detectors over the archive and scores them with SzCORE, then replays
the recording through the live monitor at full speed and prints each caregiver alert as it fires
(console channel) with its delay after the true seizure onset. Review the archive with
'eegmon view' afterwards (the demo's archive is temporary; 'eegmon import' makes a lasting one).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None,
                        help="a simulated recording folder (default: the bundled sample_data/sim)")
    parser.add_argument("--chunk-s", type=float, default=1.0,
                        help="chunk length of the live replay in seconds (default: 1)")


def run(args: argparse.Namespace) -> int:
    from ..archive import Archive
    from ..demo import resolve_sample, run_demo
    from ..detectors import load_detector
    from ..detectors.batch import detect_source
    from ..evaluate import evaluate
    from ..events import to_datetime
    from ..io import read_device_folder
    from ..source import open_source
    from .detect import write_outputs

    with tempfile.TemporaryDirectory(prefix="eegmon-demo-") as tmp:
        tmp = Path(tmp)
        folder = resolve_sample(args.data, tmp)
        print(run_demo(folder))
        archive = tmp / "demo.h5"
        with _import(archive, folder) as arc:
            print(f"\narchive     imported into {archive.name}: {len(arc.segments)} segment(s), "
                  f"{len(arc.annotations())} annotations")
        source = open_source(archive)
        truth = [a for a in read_device_folder(folder).annotations if a.is_seizure]
        print("\ndetection   (SzCORE event scoring against the ground truth)")
        detections = []
        for name in ("classifier", "line-length"):
            model, label = load_detector(name, None)
            result = detect_source(source, model, name=label, quiet=args.quiet)
            detections += result.events
            out = tmp / f"hyp-{name}"
            write_outputs(out, open_source(folder), result.events)
            e = evaluate(folder, out).to_json()["event"]
            lat = "n/a" if e["latency_median_s"] is None else f"{e['latency_median_s']:.1f} s"
            print(f"  {name:<12} {len(result.events)} detections: sensitivity {e['sensitivity']:.0%}, "
                  f"FP/24h {e['fp_per_24h']:.1f}, median latency {lat}")
            for ev in result.events:
                hit = any(t.onset - 30 <= ev.offset and ev.onset <= t.offset + 60 for t in truth)
                print(f"    {to_datetime(ev.onset):%H:%M:%S}  {ev.duration:5.0f} s  p={ev.confidence:.2f}  "
                      f"{'true seizure' if hit else 'false alarm'}")
        with Archive.open(archive, "a") as arc:
            stored = len(arc.add_detections(detections))
        print(f"\nstored {stored} detection(s) in the archive, unreviewed, ready for review "
              "(eegmon detect ARCHIVE.h5 does this for any archive)")
        import logging

        from ..streaming.demo import replay_demo

        if not args.debug:  # the demo prints each alert itself; the engine's log lines are for operators
            logging.getLogger("eegmon.streaming").setLevel(logging.WARNING)
        print("\nlive monitor (the same recording replayed at full speed, as 'eegmon monitor replay:FOLDER')")
        replay_demo(folder, out=print, chunk_s=args.chunk_s)
    print("\neegmon is research software, not a certified medical device.")
    return 0


def _import(archive: Path, folder: Path):
    from ..archive import Archive
    from ..io import read_device_folder

    rec = read_device_folder(folder)
    arc = Archive.create(archive, channels=rec.channels, fs=rec.fs)
    arc.import_recording(rec)
    return arc
