"""Write a device-like subscalp EEG recording (EDF+ files) with exact ground truth.

Writes consecutive EDF+ files (about one per day, int16, physical unit uV) with realistic gaps
(daily charging, dropouts), per-file SzCORE events.tsv ground truth (`sz` rows, or one `bckg` row
for a seizure-free file), per-file *_artifacts.tsv with labelled artifacts, and simulation.json
with every parameter and the full truth (difficulty, each seizure's target ratio). The same seed
gives the same bytes.

--difficulty sets how hard the recording is (docs/simulator.md):
  easy       the original simulator, sample for sample: a stationary background, seizures far
             above it (median 2-s RMS ratio to the 5 minutes before ~6.8), seven artifact types
  realistic  (default) background spectrum, amplitude variability and artifact rates calibrated
             on real EEG (Muse TP9/TP10); eye blinks and movements, cable sway, rhythmic
             movement, sleep transients (K-complexes, vertex waves, spindle trains, arousals,
             hypnagogic hypersynchrony); seizures rhythmic and evolving but scaled against the
             local background to a ratio of median 2, a third of them below 1.5
  hard       ratios lower still (median 1.4) and seizure mimics three times as frequent

With --bids, OUT_DIR becomes a BIDS EEG dataset (SzCORE layout) of --subjects simulated patients
(sub-01, sub-02, ...; subject k uses seed + k): one run per EDF+ file,
sub-01/ses-01/eeg/sub-01_ses-01_task-szMonitoring_run-00_eeg.edf with its _events.tsv (ground
truth), _eeg.json and _channels.tsv; simulation.json and the artifacts in sourcedata/sub-01/.

examples:
  eegmon simulate /tmp/sim --days 3 --seed 1
  eegmon simulate /tmp/sim-easy --days 3 --seed 1 --difficulty easy
  eegmon simulate /tmp/cohort --bids --subjects 4 --days 2 --seed 1
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
    # default None, not "sim01": so that --bids can tell an explicit --subject (which it cannot honour)
    parser.add_argument("--subject", default=None, help="subject code used in file names (default: sim01)")
    parser.add_argument("--config", default=None, metavar="JSON",
                        help="JSON object overriding simulator parameters (see SimulationConfig in docs/simulator.md)")
    parser.add_argument("--difficulty", choices=("easy", "realistic", "hard"), default=None,
                        help="how hard the recording is (default: realistic, or the --config's difficulty); "
                             "easy reproduces the original simulator exactly")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: number of CPUs)")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous simulation in OUT_DIR")
    parser.add_argument("--bids", action="store_true",
                        help="write a BIDS EEG dataset (SzCORE layout) of several simulated patients")
    parser.add_argument("--subjects", type=int, default=None,
                        help="number of simulated patients, with --bids only (default: 4)")


def run(args: argparse.Namespace) -> int:
    from ..errors import EegmonError
    from ..simulate import SimulationConfig, simulate, simulate_bids

    if args.bids:
        if args.subject is not None:
            raise EegmonError("--subject does not apply with --bids: subjects are named sub-01, sub-02, ...; "
                              "use --subjects N for how many.")
    elif args.subjects is not None:
        raise EegmonError("--subjects is only valid with --bids (a plain simulation is one subject; "
                          "name it with --subject).")
    config = SimulationConfig.from_json(args.config) if args.config else None
    if args.bids:
        subjects = 4 if args.subjects is None else args.subjects
        edfs = simulate_bids(
            args.out_dir, subjects=subjects, days=args.days, fs=args.fs, n_channels=args.channels,
            seizures_per_day=args.seizures_per_day, seed=args.seed, start=args.start, config=config,
            n_jobs=args.jobs, overwrite=args.overwrite, quiet=args.quiet, difficulty=args.difficulty,
        )
        if not args.quiet:
            print(f"wrote a BIDS dataset of {subjects} simulated subject(s), {len(edfs)} EDF+ run(s), "
                  f"to {args.out_dir}")
        return 0
    result = simulate(
        args.out_dir, days=args.days, fs=args.fs, n_channels=args.channels,
        seizures_per_day=args.seizures_per_day, seed=args.seed, start=args.start,
        subject=args.subject or "sim01", config=config, n_jobs=args.jobs, overwrite=args.overwrite,
        quiet=args.quiet, difficulty=args.difficulty,
    )
    if not args.quiet:
        print(result.summary())
    return 0
