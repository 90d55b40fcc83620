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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None,
                        help="a simulated recording folder (default: the bundled sample_data/sim)")
    parser.add_argument("--chunk-s", type=float, default=1.0,
                        help="chunk length of the live replay in seconds (default: 1)")


def run(args: argparse.Namespace) -> int:
    from ..demo import demo

    demo(args.data, chunk_s=args.chunk_s, quiet=args.quiet, engine_log=args.debug)
    return 0
