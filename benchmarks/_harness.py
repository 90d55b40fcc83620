"""Shared harness for the benchmark scripts (see CONVENTIONS.md).

Each ``bench_<area>.py`` builds its rows with :func:`compare` / :func:`row` and ends with
:func:`finish`, which prints the human table last and writes the JSON when ``--json`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def parse_args(description: str) -> argparse.Namespace:
    """Parse the options every benchmark takes: ``--quick`` and ``--json PATH``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small data, fewer repeats (< 60 s)")
    parser.add_argument("--json", type=Path, default=None, help="write results as JSON to this path")
    return parser.parse_args()


def simulated_device_folder(days: float) -> Path:
    """A simulated device folder of ``days`` (seed 0) in the temp dir, made once and reused by benchmarks."""
    from eegmon.simulate import simulate

    folder = Path(tempfile.gettempdir()) / f"eegmon-bench-archive-{days:g}d"
    if not (folder / "simulation.json").is_file():
        simulate(folder, days=days, seed=0, overwrite=True, quiet=True)
    return folder


def machine_info() -> dict[str, Any]:
    """Machine facts recorded with every result."""
    import numba
    import numpy

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(),
    }


def median_time(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def row(
    name: str,
    unit: str,
    eegmon: float,
    reference: float | None = None,
    reference_name: str | None = None,
    *,
    higher_is_better: bool = False,
) -> dict[str, Any]:
    """One result row; ``ratio`` > 1 always means eegmon is better."""
    ratio = None
    if reference is not None and eegmon and reference:
        ratio = eegmon / reference if higher_is_better else reference / eegmon
    return {
        "name": name,
        "unit": unit,
        "eegmon": eegmon,
        "reference": reference,
        "reference_name": reference_name,
        "ratio": ratio,
        "higher_is_better": higher_is_better,
    }


def compare(
    name: str,
    ours: Callable[[], Any],
    reference: Callable[[], Any] | None,
    reference_name: str | None,
    *,
    repeats: int = 5,
    warmup: int = 1,
) -> dict[str, Any]:
    """Time ``ours`` and ``reference`` side by side (interleaved per repeat) and return a row."""
    for _ in range(warmup):
        ours()
        if reference is not None:
            reference()
    t_ours, t_ref = [], []
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        ours()
        t_ours.append(time.perf_counter() - t0)
        if reference is not None:
            t0 = time.perf_counter()
            reference()
            t_ref.append(time.perf_counter() - t0)
    ref = statistics.median(t_ref) if t_ref else None
    return row(name, "s", statistics.median(t_ours), ref, reference_name)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def finish(benchmark: str, results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """Write the JSON (if asked) and print the table last."""
    doc = {"benchmark": benchmark, "quick": bool(args.quick), "machine": machine_info(), "results": results}
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    headers = ["name", "unit", "eegmon", "reference", "ratio", "reference_name"]
    rows = [[_fmt(r.get(h)) for h in headers] for r in results]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(f"\n{benchmark} ({'quick' if args.quick else 'full'}; ratio > 1 means eegmon is better)")
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
