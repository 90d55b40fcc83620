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

With --timings-only, no signal: seizure times of --subjects simulated patients (default 20) over
--days, for forecasting tests and benchmarks (docs/simulator.md). About --cycles-fraction of them
(default 0.5) have circadian and multi-day cycles and clustered seizures; the others are the null, a
homogeneous Poisson process. Each patient's mean rate is --seizures-per-day, or if not given drawn
between 0.15 and 3 per day. Writes OUT_DIR/sub-01/sub-01_events.tsv (SzCORE) per patient and
OUT_DIR/timings.json with every patient's parameters; --start defaults to 2025-01-06T00:00:00+00:00.

examples:
  eegmon simulate /tmp/sim --days 3 --seed 1
  eegmon simulate /tmp/sim-easy --days 3 --seed 1 --difficulty easy
  eegmon simulate /tmp/cohort --bids --subjects 4 --days 2 --seed 1
  eegmon simulate /tmp/diaries --timings-only --days 365 --subjects 20 --seed 1
"""

from __future__ import annotations

import argparse

_FS = 207.0
_CHANNELS = 2
_RATE = 2.0
_START = "2025-01-06T09:00:00+00:00"
_TIMINGS_START = "2025-01-06T00:00:00+00:00"
#: Options of the signal simulator that --timings-only has no use for.
_SIGNAL_ONLY = ("bids", "fs", "channels", "subject", "config", "difficulty", "jobs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Defaults of None where --timings-only must tell an option given from one left out; run() fills them in.
    parser.add_argument("out_dir", metavar="OUT_DIR", help="directory to write (created; must be empty)")
    parser.add_argument("--days", type=float, required=True, help="length of the recording in days (e.g. 0.5, 30)")
    parser.add_argument("--fs", type=float, default=None, help=f"sampling rate in Hz (default: {_FS:g})")
    parser.add_argument("--channels", type=int, default=None,
                        help=f"number of bipolar channels, 1-8 (default: {_CHANNELS})")
    parser.add_argument("--seizures-per-day", type=float, default=None,
                        help=f"mean seizure rate before circadian/multi-day modulation (default: {_RATE:g}; "
                             "with --timings-only, drawn per patient between 0.15 and 3)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes (default: 0)")
    parser.add_argument("--start", default=None,
                        help=f"absolute start, ISO 8601 (default: {_START}, with --timings-only "
                             f"{_TIMINGS_START}; UTC if no offset)")
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
                        help="number of simulated patients, with --bids (default: 4) or --timings-only (default: 20)")
    parser.add_argument("--timings-only", action="store_true",
                        help="write seizure times only (events.tsv per patient, no signal), for forecasting")
    parser.add_argument("--cycles-fraction", type=float, default=None,
                        help="with --timings-only: share of patients with seizure cycles, 0-1 (default: 0.5)")


def _run_timings(args: argparse.Namespace) -> int:
    from ..errors import EegmonError
    from ..simulate import simulate_timings, write_timings

    # "is", not "in (None, False)": an explicit --fs 0 equals False and must still count as given
    given = [f"--{name}" for name in _SIGNAL_ONLY if all(getattr(args, name) is not v for v in (None, False))]
    if given:
        raise EegmonError(f"{', '.join(given)} cannot be used with --timings-only, which writes seizure times "
                          "and no signal.")
    subjects = simulate_timings(
        args.days, 20 if args.subjects is None else args.subjects, args.seed,
        start=_TIMINGS_START if args.start is None else args.start, seizures_per_day=args.seizures_per_day,
        cycles_fraction=0.5 if args.cycles_fraction is None else args.cycles_fraction,
    )
    write_timings(args.out_dir, subjects, overwrite=args.overwrite)
    if not args.quiet:
        n_cycles = sum(s.has_cycles for s in subjects)
        n_seizures = sum(s.onsets.size for s in subjects)
        print(f"wrote the seizure times of {len(subjects)} simulated subject(s) ({n_cycles} with cycles), "
              f"{n_seizures} seizures over {args.days:g} days, to {args.out_dir}")
    return 0


def run(args: argparse.Namespace) -> int:
    from ..errors import EegmonError
    from ..simulate import SimulationConfig, simulate, simulate_bids

    if args.timings_only:
        return _run_timings(args)
    if args.cycles_fraction is not None:
        raise EegmonError("--cycles-fraction is only valid with --timings-only (a signal simulation has the "
                          "cycles of its SimulationConfig).")
    if args.bids:
        if args.subject is not None:
            raise EegmonError("--subject does not apply with --bids: subjects are named sub-01, sub-02, ...; "
                              "use --subjects N for how many.")
    elif args.subjects is not None:
        raise EegmonError("--subjects is only valid with --bids or --timings-only (a plain simulation is one "
                          "subject; name it with --subject).")
    fs = _FS if args.fs is None else args.fs
    n_channels = _CHANNELS if args.channels is None else args.channels
    rate = _RATE if args.seizures_per_day is None else args.seizures_per_day
    start = _START if args.start is None else args.start
    config = SimulationConfig.from_json(args.config) if args.config else None
    if args.bids:
        subjects = 4 if args.subjects is None else args.subjects
        edfs = simulate_bids(
            args.out_dir, subjects=subjects, days=args.days, fs=fs, n_channels=n_channels,
            seizures_per_day=rate, seed=args.seed, start=start, config=config,
            n_jobs=args.jobs, overwrite=args.overwrite, quiet=args.quiet, difficulty=args.difficulty,
        )
        if not args.quiet:
            print(f"wrote a BIDS dataset of {subjects} simulated subject(s), {len(edfs)} EDF+ run(s), "
                  f"to {args.out_dir}")
        return 0
    result = simulate(
        args.out_dir, days=args.days, fs=fs, n_channels=n_channels,
        seizures_per_day=rate, seed=args.seed, start=start,
        subject=args.subject or "sim01", config=config, n_jobs=args.jobs, overwrite=args.overwrite,
        quiet=args.quiet, difficulty=args.difficulty,
    )
    if not args.quiet:
        print(result.summary())
    return 0
