"""The benchmark's reference detectors (benchmarks/reference_detectors.py) on synthetic signals."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
ref = pytest.importorskip("reference_detectors")

FS = 200.0


def _signal(seed: int = 0) -> np.ndarray:
    """Two channels: 120 s of noise, 30 s of a 5-Hz 100-µV rhythm on channel 0, 60 s of noise."""
    rng = np.random.default_rng(seed)
    n = int(210 * FS)
    x = 10.0 * rng.standard_normal((n, 2))
    t = np.arange(int(30 * FS)) / FS
    x[int(120 * FS):int(150 * FS), 0] += 100.0 * np.sin(2 * np.pi * 5.0 * t)
    return x


def _run(x: np.ndarray, sizes) -> tuple[np.ndarray, np.ndarray]:
    det = ref.GotmanDetector(FS, x.shape[1])
    times, flags, i = [], [], 0
    for size in sizes:
        t, d = det.push(x[i:i + size], 1000.0 + i / FS)
        times.append(t)
        flags.append(d)
        i += size
    return np.concatenate(times), np.concatenate(flags)


def test_gotman_detects_rhythm_not_noise():
    x = _signal()
    times, flags = _run(x, [len(x)])
    rel = times - 1000.0
    inside = (rel > 124) & (rel < 150)
    assert flags[inside, 0].mean() > 0.8  # the rhythm, held beyond the 12-s background lag
    assert flags[(rel < 118) | (rel > 175), :].sum() == 0  # noise only
    assert flags[:, 1].sum() == 0  # the other channel has noise only


def test_gotman_chunking_does_not_change_the_result():
    x = _signal(1)
    rng = np.random.default_rng(2)
    sizes = []
    while sum(sizes) < len(x):
        sizes.append(int(rng.integers(1, 3000)))
    sizes[-1] -= sum(sizes) - len(x)
    t1, f1 = _run(x, [len(x)])
    t2, f2 = _run(x, sizes)
    np.testing.assert_allclose(t1, t2)
    np.testing.assert_array_equal(f1, f2)


def test_gotman_gap_restarts():
    x = _signal()
    det = ref.GotmanDetector(FS, 2)
    t_a, _ = det.push(x[:int(60 * FS)], 0.0)
    t_b, _ = det.push(x[:int(60 * FS)], 500.0)  # after a gap: needs a new background first
    assert t_b[0] > 500.0 + 29.0 and np.all(np.diff(np.r_[t_a, t_b]) > 0)


def test_segment_score_and_band_powers():
    x = _signal()
    assert ref.gotman_segment_score(x[int(122 * FS):int(146 * FS), 0], FS) > \
        5 * ref.gotman_segment_score(x[:int(24 * FS), 0], FS)
    rows = ref.band_power_rows(x[:, 0], FS)
    assert rows.shape == (209, len(ref.BANDS) + 1) and np.isfinite(rows).all()
    y = np.zeros(len(rows), np.int8)
    y[121:149] = 1
    model = ref.logistic_band_power(rows, y)
    p = model.predict_proba(rows)[:, 1]
    assert p[125:145].mean() > 0.8 > p[:100].mean() + 0.5
