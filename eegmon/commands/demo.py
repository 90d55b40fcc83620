"""Run the end-to-end path on the bundled sample recording and print a short summary.

Reads the committed sample recording in sample_data/ (or simulates a fresh one with
--simulate), checks it against its ground truth, and summarises recording time, gaps,
seizures and artifacts. Later stages (archive, detection, alerts, evaluation) join here as
they land, so this stays the one command a newcomer runs.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None,
                        help="a simulated recording folder (default: the bundled sample_data/sim)")


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    print(run_demo(args.data, quiet=args.quiet))
    return 0
