"""The live engine holds chunks that complete no window: what it detects and alerts is unchanged."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from eegmon.detectors import load_detector
from eegmon.streaming.engine import Monitor, StreamEngine
from eegmon.streaming.policy import AlertRules
from eegmon.streaming.sources import SimSource

pytestmark = pytest.mark.timeout(180)

START = 1.7e9
RULES = AlertRules(min_probability=0.8, min_duration_s=2.0, refractory_s=120.0)


@pytest.fixture(scope="module")
def model():
    return load_detector("classifier", None)


@pytest.fixture(scope="module")
def signal():
    """12 minutes of a simulated patient with two seizures, a NaN run and a flat stretch."""
    src = SimSource(3, chunk_s=720.0, speed=math.inf, start=START, max_s=720.0, onsets=(260.0, 560.0))
    x = next(iter(src))[1].copy()
    x[int(100 * src.fs):int(103.5 * src.fs), 1] = np.nan
    x[int(400 * src.fs):int(420 * src.fs), 0] = 5.0
    return src, x


def _chunks(x, fs, seed):
    """Irregular chunks (1 sample to 2 s) with their times, a 40-s gap after 8 minutes and some late repeats."""
    rng = np.random.default_rng(seed)
    out, i = [], 0
    gap = int(480 * fs)
    while i < x.shape[0]:
        n = int(rng.choice([1, 7, 26, 26, 26, 100, 207, 414]))
        t = START + i / fs + (40.0 if i >= gap else 0.0)
        out.append((t if i == 0 or i == gap or rng.uniform() < 0.1 else None, x[i:i + n]))
        if i > 0 and rng.uniform() < 0.02:  # a duplicate packet: dropped as late either way
            out.append((t - 3.0, x[i:i + n]))
        i += n
        if i < gap < i + 414:
            out.append((START + i / fs, x[i:gap]))
            i = gap
    return out


def _engine(model, src, stream, hold: bool) -> StreamEngine:
    m, name = model
    eng = StreamEngine(stream, m, fs=src.fs, channels=src.channels, clip_level=src.clip_level, name=name,
                       rules=RULES)
    if not hold:
        eng._grid = None  # every chunk straight to the detector, as before chunks were held
    return eng


def _trace(eng: StreamEngine, chunks):
    out = []
    for t0, x in chunks:
        alerts = eng.push(t0, x)
        out.append((eng.stats.windows, eng.probability, eng.end, [(a.onset, a.probability) for a in alerts]))
    closed = eng.close()
    return out, [(e.onset, e.duration, e.confidence, e.channels) for e in eng.events + closed], \
        dict(eng.stats.quality)


@pytest.mark.parametrize("seed", [0, 1])
def test_holding_chunks_changes_nothing_chunk_by_chunk(model, signal, seed):
    src, x = signal
    chunks = _chunks(x, src.fs, seed)
    held = _trace(_engine(model, src, "held", True), chunks)
    direct = _trace(_engine(model, src, "direct", False), chunks)
    assert held == direct  # exact: the same windows, probabilities, alerts and events after every chunk
    events = held[1]
    assert len(events) >= 1 and held[2].get("gap") == 1 and held[2].get("nan_start") == 1


def test_monitor_of_held_chunks_equals_single_streams(model, signal):
    src, x = signal
    chunks = _chunks(x[: int(400 * src.fs)], src.fs, 2)
    mon = Monitor()
    for hold in (True, False):
        mon.add(_engine(model, src, f"s{hold}", hold))
    solo = _engine(model, src, "solo", False)
    for t0, c in chunks:
        got = mon.push_many([(s, t0, c) for s in mon.engines])
        want = solo.push(t0, c)
        assert sorted(a.onset for a in got) == [a.onset for a in want] * 2
        for eng in mon.engines.values():
            assert (eng.stats.windows, eng.probability) == (solo.stats.windows, solo.probability)
    assert solo.alerts and solo.stats.windows > 300


def test_a_pipeline_error_in_a_contiguous_stream_restarts_the_detector_once(model, signal, monkeypatch):
    src, x = signal
    eng = _engine(model, src, "p", True)
    n = 26
    failed = {"done": False}

    def stage_once_failing(samples, t_start):
        failed["done"] = True
        raise RuntimeError("boom")

    logging.getLogger("eegmon.streaming").disabled = True
    try:
        for i in range(0, int(300 * src.fs) // n):
            if i == 400:
                monkeypatch.setattr(eng.detector, "stage", stage_once_failing)
            eng.push(START if i == 0 else None, x[i * n:(i + 1) * n])
    finally:
        logging.getLogger("eegmon.streaming").disabled = False
    assert failed["done"]
    assert eng.stats.quality.get("engine_error") == 1  # not one per chunk ever after
    assert eng.stats.windows > 250  # the new detector went on from the next chunk
