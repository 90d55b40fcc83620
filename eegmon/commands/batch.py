"""Run a task over a whole dataset on Dask (a local cluster or an existing one) or a process pool.

DATASET is a BIDS dataset (every EDF/BDF EEG run; its events.tsv is the ground truth), a folder
of archives (*.h5) and device folders (one recording each), or a text file listing recordings
(one path per line, relative to the list file, '#' for comments).

Tasks (--task):
  detect    seizure detection: one SzCORE events.tsv per recording (the same as 'eegmon detect')
  features  the detector's window features: one HDF5 table per recording (times, values, names)
  import    one archive per recording (device folders and EDF files; re-runs append new files)
  evaluate  detect, then SzCORE scoring of every recording against its ground truth
            (OUT/evaluation.json, the 'eegmon evaluate --json' document)

Outputs go to OUT in a BIDS-derivatives layout: sub-<label>/[ses-<label>/]eeg/<run>_events.tsv,
so 'eegmon evaluate --ref DATASET --hyp OUT' and SzCORE tools read them. OUT/batch-manifest.json
records the inputs (SHA-256), eegmon version, detector and model checksum, parameters, timings
and each recording's status. Running again skips recordings whose outputs are up to date (same
input checksums and parameters) and those that failed (unless --retry-failed). A failed
recording does not stop the others; the exit code is then 1 and the errors are listed.

Recordings longer than --chunk-hours are cut into chunks that run in parallel; each starts
--warmup-hours early so its filters and adaptive baseline match the one-machine run.

Schedulers (--scheduler): local (default: a Dask LocalCluster on this machine, --workers
processes, one per CPU by default; a process pool if Dask is not installed), processes (a plain
process pool), or the address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (started
with 'dask scheduler' and 'dask worker tcp://10.0.0.5:8786' on each node; every node must see
DATASET and OUT at the same paths). Dask: pip install 'eegmon[cluster]'.

examples:
  eegmon batch /data/bids --task detect -o /data/bids/derivatives/eegmon
  eegmon batch /data/bids --task evaluate -o out/eval --workers 4
  eegmon batch patients.txt --task features -o out/features --scheduler tcp://10.0.0.5:8786
  eegmon batch /data/devices --task import -o /data/archives --scheduler processes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..cohort.work import TASKS

    parser.add_argument("dataset", metavar="DATASET", help="BIDS dataset, folder of recordings or list file")
    parser.add_argument("--task", choices=TASKS, default="detect", help="what to do with each recording "
                        "(default: detect)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                        help="output folder (BIDS-derivatives layout, with batch-manifest.json)")
    parser.add_argument("--scheduler", default="local", metavar="local|processes|ADDRESS",
                        help="where to run: local Dask cluster (default), plain process pool, or a Dask "
                        "scheduler address")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes for local/processes (default: one per CPU)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--detector", default="classifier", help="detector name: classifier (default) or line-length")
    group.add_argument("--model", type=Path, default=None, metavar="FILE", help="a model file from 'eegmon train'")
    parser.add_argument("--line-freq", type=float, default=50.0, help="mains frequency in Hz (default: 50)")
    parser.add_argument("--chunk-hours", type=float, default=168.0, metavar="H",
                        help="cut longer recordings into chunks of about H hours (default: 168; 0: never)")
    parser.add_argument("--warmup-hours", type=float, default=None, metavar="H",
                        help="each chunk starts reading H hours early (default: 24 time constants of the "
                        "detector's adaptive baseline, 12 h for the bundled model)")
    parser.add_argument("--retry-failed", action="store_true", help="run again recordings that failed before")


def run(args: argparse.Namespace) -> int:
    from ..cohort import Params, run_batch

    params = Params(task=args.task, detector=args.detector, model=None if args.model is None else
                    str(args.model.resolve()), line_freq=args.line_freq,
                    chunk_hours=args.chunk_hours or None, warmup_hours=args.warmup_hours)
    report = run_batch(args.dataset, args.output, params, scheduler=args.scheduler, workers=args.workers,
                       retry_failed=args.retry_failed, quiet=args.quiet)
    if not args.quiet:
        rate = f", {report.hours / report.wall_s:.1f} recording-h/s" if report.done else ""
        where = f" on {report.engine} ({report.workers} workers)" if report.engine else ""
        print(f"{args.task}: {len(report.done)} recording(s) done, {len(report.skipped)} up to date, "
              f"{len(report.failed)} failed; {report.hours:.1f} h in {report.wall_s:.1f} s{rate}{where}")
        if report.evaluation is not None:
            from .evaluate import summary_lines

            print("\n".join(summary_lines(report.evaluation)))
        print(f"outputs and manifest in {args.output}")
    for base, error in report.failed.items():
        print(f"eegmon batch: failed: {base}: {error if args.debug else error.splitlines()[0]}", file=sys.stderr)
    return 1 if report.failed else 0
