"""Cohort scale-out (``eegmon batch --task detect``): throughput on Dask and a process pool, engine overhead.

Data: a simulated BIDS cohort (``eegmon.simulate.simulate_bids``, 2 channels, 207 Hz EDF+, one run
per day and subject), full run 8 subjects x 2 days, --quick 2 subjects x 0.1 day; made once and
cached in the temp directory (same seed, same bytes). The bundled generic classifier.

Every timed batch run writes into a fresh output folder (a re-run into the same folder skips what is
up to date). The four configurations run interleaved ``repeats`` times (5 full; --quick only 2, as
a round costs ~20 s of fixed start-up on 2 cores even on tiny data; a full round about a minute);
medians. The warm-up is one serial pass (page cache, Numba's on-disk cache, the driver's imports):
every batch run starts fresh worker processes, so a batch warm-up would warm nothing more, and their
start-up is part of what is measured.

Rows (recording-hours per wall-second include the input checksums (on the workers), start-up and teardown):

- ``detect_dask_1worker``: rec-h/s with a Dask LocalCluster of 1 worker; reference: the same
  detection in this process on one core (Numba and BLAS limited to one thread, as in a worker),
  recording after recording (``open_recording`` + ``detect_source``, what ``eegmon detect`` does; no
  engine, no checksums, no files written). Ratio < 1 = engine overhead.
- ``detect_dask_2workers``: the same with 2 workers; reference: the 1-worker run (ratio = speed-up).
- ``scaling_efficiency_2workers``: (rec-h/s with 2 workers) / (2 x rec-h/s with 1 worker).
- ``dask_vs_process_pool_2workers``: wall time of the job on Dask (2 workers); reference: a plain
  spawn process pool of 2 (``--scheduler processes``). Ratio = pool / Dask (< 1: Dask's overhead).
- ``detect_per_core_compute``: rec-h per second of worker compute in the 1-worker runs (the
  manifest's ``compute_s``: open, read, detect; no start-up): the figure for cluster estimates.
- ``engine_startup_teardown_dask_1w`` / ``_2w``: ``open_engine("local", n)`` entered and left with
  no work. The 2-worker row's reference: a spawn process pool of 2 started, one no-op per worker,
  shut down.
- ``sha256_inputs_1core``: SHA-256 of every input file in one process (a first run does this on the
  workers, spread over them; later runs only for new or changed files).
- ``resume_all_up_to_date``: a re-run into a completed output folder (manifest read, stat of inputs
  and outputs, nothing to do).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import _harness

from eegmon._threads import limit_threads
from eegmon.cohort import Params, find_recordings, open_engine, run_batch

PARAMS = Params(task="detect")
REF_SERIAL = "in-process open_recording + detect_source, one recording after another (no engine)"


def cohort(subjects: int, days: float) -> Path:
    """The simulated BIDS cohort (seed 0), made once in the temp dir."""
    from eegmon.simulate import simulate_bids

    root = Path(tempfile.gettempdir()) / f"eegmon-bench-cohort-{subjects}x{days:g}d"
    if not (root / "dataset_description.json").is_file():  # built in root.partial, renamed when complete
        simulate_bids(root, subjects=subjects, days=days, seed=0, overwrite=True, quiet=True)
    return root


def _noop(_: int) -> int:
    return 0


class Runner:
    def __init__(self, dataset: Path) -> None:
        self.dataset = dataset
        self.work = Path(tempfile.mkdtemp(prefix="eegmon-bench-cohort-out-"))
        self.n = 0

    def fresh(self) -> Path:
        self.n += 1
        return self.work / f"out{self.n}"

    def batch(self, scheduler: str, workers: int, *, keep: bool = False) -> tuple[float, float, float, Path]:
        """One batch run into a fresh folder: (wall s, recording h, worker compute s, out dir)."""
        out = self.fresh()
        t0 = time.perf_counter()
        report = run_batch(self.dataset, out, PARAMS, scheduler=scheduler, workers=workers, quiet=True)
        wall = time.perf_counter() - t0
        if report.failed or not report.done:
            raise RuntimeError(f"batch run failed: {report.failed}")
        from eegmon.cohort.manifest import Manifest

        compute = sum(e["compute_s"] for e in Manifest(out).recordings.values())
        if not keep:
            shutil.rmtree(out)
        return wall, report.hours, compute, out

    def serial(self) -> tuple[float, float]:
        """The single-process reference: (wall s, recording h)."""
        from eegmon.detectors import load_detector
        from eegmon.detectors.batch import detect_source

        from eegmon.io import open_recording

        t0 = time.perf_counter()
        model, name = load_detector("classifier", None)
        hours = 0.0
        with limit_threads(1):  # one core, as one worker: the feature kernels would otherwise use every CPU
            for spec in find_recordings(self.dataset):
                source = open_recording(spec.path)
                detect_source(source, model, name=name, quiet=True)
                hours += source.recorded_s / 3600.0
        return time.perf_counter() - t0, hours

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def engine_startup(workers: int) -> None:
    with open_engine("local", workers):
        pass


def pool_startup(workers: int) -> None:
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_noop, range(workers)))


def main() -> None:
    args = _harness.parse_args(__doc__)
    load = os.getloadavg()[0]
    subjects, days = (2, 0.1) if args.quick else (8, 2.0)
    repeats = 2 if args.quick else 5
    small_repeats = 3 if args.quick else 5  # start-up rows, resume, checksums
    t_data = time.perf_counter()
    dataset = cohort(subjects, days)
    t_data = time.perf_counter() - t_data
    specs = find_recordings(dataset)
    size_mb = sum(f.stat().st_size for s in specs for f in s.input_files()) / 1e6
    runner = Runner(dataset)
    try:
        configs = {
            "dask1": lambda: runner.batch("local", 1),
            "dask2": lambda: runner.batch("local", 2, keep=True),  # outputs are small
            "pool2": lambda: runner.batch("processes", 2),
            "serial": runner.serial,
        }
        runner.serial()  # warm-up
        got: dict[str, list] = {k: [] for k in configs}
        for _ in range(repeats):
            for k, fn in configs.items():
                got[k].append(fn())
        hours = got["serial"][0][1]

        def rate(k: str) -> float:
            return statistics.median(h / w for w, h, *_ in got[k])

        def wall(k: str) -> float:
            return statistics.median(r[0] for r in got[k])

        h1, h2, hs = rate("dask1"), rate("dask2"), rate("serial")
        compute1 = statistics.median(h / c for _, h, c, _ in got["dask1"])

        # Resume: re-runs into the last completed 2-worker folder, everything up to date.
        done_dir = got["dask2"][-1][3]

        def resume() -> None:
            report = run_batch(dataset, done_dir, PARAMS, scheduler="local", workers=2, quiet=True)
            if report.done or len(report.skipped) != len(specs):
                raise RuntimeError(f"resume re-ran work: done={report.done} skipped={len(report.skipped)}")

        resume_s = _harness.median_time(resume, repeats=small_repeats)

        from eegmon.cohort.manifest import sha256

        files = [f for s in specs for f in s.input_files()]
        sha_s = _harness.median_time(lambda: [sha256(f) for f in files], repeats=small_repeats)

        start1 = _harness.median_time(lambda: engine_startup(1), repeats=small_repeats)
        start2 = _harness.median_time(lambda: engine_startup(2), repeats=small_repeats)
        pool2 = _harness.median_time(lambda: pool_startup(2), repeats=small_repeats)
    finally:
        runner.close()

    unit = "rec-h/s"
    results = [
        _harness.row("detect_dask_1worker", unit, h1, hs, REF_SERIAL, higher_is_better=True),
        _harness.row("detect_dask_2workers", unit, h2, h1, "eegmon batch, Dask LocalCluster 1 worker",
                     higher_is_better=True),
        _harness.row("scaling_efficiency_2workers", "fraction", h2 / (2 * h1), higher_is_better=True),
        _harness.row("dask_vs_process_pool_2workers", "s", wall("dask2"), wall("pool2"),
                     "eegmon batch --scheduler processes (spawn pool of 2)"),
        _harness.row("detect_per_core_compute", "rec-h/core-s", compute1, higher_is_better=True),
        _harness.row("engine_startup_teardown_dask_1w", "s", start1),
        _harness.row("engine_startup_teardown_dask_2w", "s", start2, pool2,
                     "spawn ProcessPoolExecutor(2): start, 1 no-op per worker, shutdown"),
        _harness.row("sha256_inputs_1core", "s", sha_s),
        _harness.row("resume_all_up_to_date", "s", resume_s),
    ]
    _harness.finish("cohort", results, args)
    print(f"\nData: {len(specs)} EDF runs of {subjects} simulated subjects x {days:g} day(s), {hours:.1f} recorded h, "
          f"{size_mb:.0f} MB ({dataset}; made in {t_data:.1f} s or cached).")
    print(f"Batch rows: medians of {repeats} interleaved repeats after a serial warm-up (other rows: "
          f"{small_repeats} after 1 warm-up); task detect, bundled classifier; {_harness.machine_info()['cpus']} "
          "CPUs. Batch rows include worker start-up (imports, model load), teardown and input checksums.")
    print(f"Serial reference: {hs:.2f} rec-h/s; Dask 2 workers {h2:.2f} rec-h/s = {h2 / hs:.2f}x serial; "
          f"process pool 2 workers {hours / wall('pool2'):.2f} rec-h/s.")
    print(f"Load average before the run: {load:.2f} (on a busy machine the 2-worker rows understate scaling).")


if __name__ == "__main__":
    main()
