"""Archive: import throughput and peak memory, random 30-s reads, whole-month min/max.

Data: the eegmon simulator's device folder (2 channels, 207 Hz, int16 EDF+, about one file a day
with gaps), 30 days in the full run and 2 days with --quick; it is cached in the temp directory
between runs (same seed, same bytes).

Rows, each beside MNE reading the same EDF files (``mne.io.read_raw_edf``, opened beforehand,
``get_data(start, stop)``):

- ``import``: MB of EDF per second through ``eegmon import`` (fresh archive each repeat, in a
  subprocess so its peak RSS is its own); reference: MNE reading every file whole.
- ``import_peak_rss``: the importing process's peak resident memory (no reference).
- ``read_random_30s``: ``Archive.read`` of a random 30-s window (a new window every call);
  reference: ``get_data`` of the same window from the file holding it.
- ``minmax_month_2000px``: ``Archive.minmax`` over the whole span to 2000 pixels; reference: MNE
  reading every sample of the span, file by file, and reducing to the same pixels. The reference
  reads gigabytes, so it runs fewer repeats (stated in the row name's note below the table).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _harness
import numpy as np

IMPORT_CHILD = """
import json, resource, sys, time
from eegmon.cli import main
t0 = time.perf_counter()
rc = main(["import", sys.argv[1], "-o", sys.argv[2], "--quiet"])
elapsed = time.perf_counter() - t0
print(json.dumps({"rc": rc, "s": elapsed, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _import_once(folder: Path, out: Path) -> dict:
    for p in [out, *out.parent.glob(out.name + ".d/*")]:
        p.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_CHILD, str(folder), str(out)], capture_output=True, text=True, check=True
    )
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if res["rc"] != 0:
        raise RuntimeError(f"eegmon import failed: {proc.stderr}")
    return res


def main() -> None:
    args = _harness.parse_args(__doc__)
    days = 2.0 if args.quick else 30.0
    repeats = 3 if args.quick else 5
    import_repeats = 2 if args.quick else 3
    ref_full_repeats = 1 if args.quick else 3
    import mne

    from eegmon.archive import Archive

    mne.set_log_level("ERROR")
    folder = _harness.simulated_device_folder(days)
    edfs = sorted(folder.glob("*.edf"))
    edf_mb = sum(p.stat().st_size for p in edfs) / 1e6
    tag = f"{days:g}d_2ch_207hz"
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.h5"
        runs = [_import_once(folder, out) for _ in range(import_repeats)]
        t_import = statistics.median(r["s"] for r in runs)
        peak = max(r["maxrss_mb"] for r in runs)

        def mne_read_all() -> None:
            for p in edfs:
                mne.io.read_raw_edf(p, preload=False).get_data()

        t0 = time.perf_counter()
        mne_read_all()
        t_mne_all = time.perf_counter() - t0
        results.append(
            _harness.row(
                f"import_{tag}",
                "MB/s",
                edf_mb / t_import,
                edf_mb / t_mne_all,
                "mne.io.read_raw_edf(...).get_data() of every file",
                higher_is_better=True,
            )
        )
        results.append(_harness.row(f"import_{tag}_peak_rss", "MB", peak))

        arc = Archive.open(out)
        raws = []  # (start, stop, raw) per EDF, opened once like the archive
        for p in edfs:
            raw = mne.io.read_raw_edf(p, preload=False)
            t_start = raw.info["meas_date"].timestamp()
            raws.append((t_start, t_start + raw.n_times / raw.info["sfreq"], raw))
        rng = np.random.default_rng(0)
        windows = []
        while len(windows) < 1000:
            t_start, t_stop, raw = raws[rng.integers(len(raws))]
            a = float(rng.uniform(t_start, t_stop - 30))
            windows.append((a, raw, t_start))
        it_ours, it_ref = iter(windows), iter(windows)

        def ours_read() -> None:
            a, _, _ = next(it_ours)
            arc.read(a, a + 30)

        def ref_read() -> None:
            a, raw, t_start = next(it_ref)
            i0 = int(round((a - t_start) * raw.info["sfreq"]))
            raw.get_data(start=i0, stop=i0 + int(round(30 * raw.info["sfreq"])))

        results.append(
            _harness.compare(
                "read_random_30s",
                ours_read,
                ref_read,
                "mne raw.get_data(start, stop) (raw opened)",
                repeats=max(repeats, 200),
            )
        )

        def ours_minmax() -> None:
            arc.minmax(arc.start, arc.stop, 2000)

        def ref_minmax() -> None:
            start, stop = arc.start, arc.stop
            width = (stop - start) / 2000
            mins = np.full((2, 2000), np.inf)
            maxs = np.full((2, 2000), -np.inf)
            for t_start, _, raw in raws:
                x = raw.get_data()
                pix = np.clip(
                    ((t_start + np.arange(x.shape[1]) / raw.info["sfreq"] - start) / width).astype(int), 0, 1999
                )
                first = np.flatnonzero(np.r_[True, np.diff(pix) > 0])
                p = pix[first]
                mins[:, p] = np.minimum(mins[:, p], np.minimum.reduceat(x, first, axis=1))
                maxs[:, p] = np.maximum(maxs[:, p], np.maximum.reduceat(x, first, axis=1))

        ours_minmax()
        t_ours = []
        for _ in range(max(repeats, 20)):
            t0 = time.perf_counter()
            ours_minmax()
            t_ours.append(time.perf_counter() - t0)
        t_ref = []
        for _ in range(ref_full_repeats):
            t0 = time.perf_counter()
            ref_minmax()
            t_ref.append(time.perf_counter() - t0)
        results.append(
            _harness.row(
                f"minmax_{tag}_2000px",
                "s",
                statistics.median(t_ours),
                statistics.median(t_ref),
                f"mne get_data of the whole span + numpy min/max (median of {ref_full_repeats})",
            )
        )
        arc.close()
    _harness.finish("archive", results, args)
    targets = [
        ("import >= 50 MB/s", results[0]["eegmon"] >= 50, f"{results[0]['eegmon']:.1f} MB/s"),
        ("peak RSS < 500 MB", results[1]["eegmon"] < 500, f"{results[1]['eegmon']:.0f} MB"),
        ("random 30-s read < 5 ms", results[2]["eegmon"] < 5e-3, f"{results[2]['eegmon'] * 1e3:.2f} ms"),
        ("whole-span minmax < 50 ms", results[3]["eegmon"] < 50e-3, f"{results[3]['eegmon'] * 1e3:.2f} ms"),
    ]
    print(f"\ntargets ({edf_mb:.0f} MB of EDF in {len(edfs)} files):")
    for name, ok, value in targets:
        print(f"  {'met    ' if ok else 'NOT met'}  {name}: {value}")


if __name__ == "__main__":
    main()
