"""Simulator speed: days of 2-channel 207 Hz EDF+ written per wall second (issue target: 30 days < 120 s).

No peer writes comparable device-like recordings, so the rows have no reference (null ratio);
the full run simulates the 30 days of the target, --quick 2 days, at the default difficulty
(``realistic``: calibrated background, all artifact types, scaled seizures). How realistic the
output is: benchmarks/bench_realism.py.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import _harness

from eegmon.simulate import simulate


def main() -> None:
    args = _harness.parse_args(__doc__)
    days = 2.0 if args.quick else 30.0
    repeats = 3 if args.quick else 1
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        simulate(Path(tmp) / "warm", days=0.05, quiet=True)  # imports and first-call costs
        times = []
        for i in range(repeats):
            t0 = time.perf_counter()
            res = simulate(Path(tmp) / f"run{i}", days=days, seed=i, quiet=True)
            times.append(time.perf_counter() - t0)
        elapsed = min(times)
        size_mb = sum(p.stat().st_size for p in res.edf_files) / 1e6
    tag = f"{days:g}d_2ch_207hz"
    results.append(_harness.row(f"simulate_{tag}", "s", elapsed))
    results.append(_harness.row(f"simulate_{tag}_throughput", "recorded_h/s", res.recorded_s / 3600 / elapsed,
                                higher_is_better=True))
    results.append(_harness.row(f"simulate_{tag}_write_rate", "MB/s", size_mb / elapsed, higher_is_better=True))
    results.append(_harness.row("simulate_30d_2ch_207hz_projected", "s", elapsed * 30.0 / days))
    _harness.finish("simulate", results, args)


if __name__ == "__main__":
    main()
