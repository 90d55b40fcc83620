"""Write a device-like subscalp EEG recording (EDF+ files) with exact ground truth.

Writes consecutive EDF+ files (about one per day, int16, physical unit uV) with realistic gaps
(daily charging, dropouts), per-file SzCORE events.tsv ground truth (`sz` rows, or one `bckg` row
for a seizure-free file), per-file *_artifacts.tsv with labelled artifacts, and simulation.json
with every parameter and the full truth. The same seed gives the same bytes.

example:
  eegmon simulate /tmp/sim --days 3 --seed 1
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", metavar="OUT_DIR", help="directory to write (created; must be empty)")
    parser.add_argument("--days", type=float, required=True, help="length of the recording in days (e.g. 0.5, 30)")
    parser.add_argument("--fs", type=float, default=207.0, help="sampling rate in Hz (default: 207)")
    parser.add_argument("--channels", type=int, default=2, help="number of bipolar channels, 1-8 (default: 2)")
    parser.add_argument("--seizures-per-day", type=float, default=2.0,
                        help="mean seizure rate before circadian/multi-day modulation (default: 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes (default: 0)")
    parser.add_argument("--start", default="2025-01-06T09:00:00+00:00",
                        help="absolute start, ISO 8601 (default: 2025-01-06T09:00:00+00:00; UTC if no offset)")
    parser.add_argument("--subject", default="sim01", help="subject code used in file names (default: sim01)")
    parser.add_argument("--config", default=None, metavar="JSON",
                        help="JSON object overriding simulator parameters (see SimulationConfig in the README)")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: number of CPUs)")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous simulation in OUT_DIR")


def run(args: argparse.Namespace) -> int:
    from ..simulate import SimulationConfig, simulate

    config = SimulationConfig.from_json(args.config) if args.config else None
    result = simulate(
        args.out_dir, days=args.days, fs=args.fs, n_channels=args.channels,
        seizures_per_day=args.seizures_per_day, seed=args.seed, start=args.start,
        subject=args.subject, config=config, n_jobs=args.jobs, overwrite=args.overwrite, quiet=args.quiet,
    )
    if not args.quiet:
        print(result.summary())
    return 0
