"""Exact live time: sample positions are integer counts, a restart resumes at exactly the next sample.

The live path is run as ``eegmon monitor`` runs it: a :class:`ReplaySource` through a
:class:`StreamEngine` and an :class:`ArchiveWriter`, restarted (a clean stop or a crash that loses
the buffered block) and resumed by replaying from before the archive's end. The archive is then
read back through the :class:`Archive` API and compared with the source sample for sample.
"""

from __future__ import annotations

import math
import uuid
from fractions import Fraction

import numpy as np
import pytest
from eegmon.detectors import load_detector
from eegmon.streaming.engine import ArchiveWriter, QualityEvent, StreamEngine
from eegmon.streaming.sources import ReplaySource, open_stream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eegmon.archive import Archive
from eegmon.io import open_recording

pytestmark = pytest.mark.timeout(300)

CHANNELS = ("C3", "C4")
GAIN = 0.01  # the live archive's step: source samples on it are stored exactly
ORDERING = ("gap", "overlap", "late", "clock_jump")
NS_TOL = 1000  # archive times are stored to the microsecond


@pytest.fixture(scope="module")
def model():
    return load_detector("line-length")


def _exact_ns(start: float, i: int, fs: float) -> int:
    """Time of sample ``i`` of a segment starting at ``start``, in ns, without float rounding."""
    return round((Fraction(start) + Fraction(i) / Fraction(fs)) * 10**9)


def _write_source(path, fs: float, spans: list[tuple[float, int]], seed: int) -> None:
    """A source archive of ``(start, n_samples)`` segments of random samples on the live archive's step."""
    rng = np.random.default_rng(seed)
    with Archive.create(path, CHANNELS, fs) as arc:
        for start, n in spans:
            digital = rng.integers(-20_000, 20_000, size=(len(CHANNELS), n), dtype=np.int32)
            arc.append_segment(start, digital, [GAIN] * len(CHANNELS), [0.0] * len(CHANNELS), source="src")


def _pieces(src: ReplaySource, rng: np.random.Generator):
    """The replay's chunks cut at random points (a device sends chunks of varying size)."""
    for t0, x in src:
        cuts = np.sort(rng.integers(1, len(x), size=rng.integers(0, 3))) if len(x) > 1 else []
        for a, b in zip([0, *cuts], [*cuts, len(x)], strict=True):
            if b > a:
                yield t0 + a / src.fs, x[a:b]


def _run_live(model, source, live, runs, *, block_s: float = 60.0) -> list[QualityEvent]:
    """Run ``source`` live into ``live``, once per ``(stop_s, crash, chunk_s, warmup_s, seed)`` in ``runs``.

    A run stops once it has passed ``stop_s`` seconds after the source's start (None: the end),
    closing cleanly or, with ``crash``, losing the buffered block; the next resumes as the
    monitor does, replaying from ``warmup_s`` before the archive's end. Every run checks that the
    engine's time after each chunk is the source's, to the microsecond.
    """
    m, name = model
    t_first = open_recording(source).start
    quality: list[QualityEvent] = []
    for stop_s, crash, chunk_s, warmup_s, seed in runs:
        writer = ArchiveWriter(live, CHANNELS, open_recording(source).fs, block_s=block_s, source="live:p")
        start_at = None if writer.resume_t is None else writer.resume_t - warmup_s
        src = ReplaySource(source, speed=math.inf, chunk_s=chunk_s, start_at=start_at)
        eng = StreamEngine("p", m, fs=src.fs, channels=src.channels, clip_level=src.clip_level, name=name,
                           archive=writer, on_quality=quality.append)
        for t0, x in _pieces(src, np.random.default_rng(seed)):
            eng.push(t0, x)
            assert abs(eng.end - (t0 + len(x) / src.fs)) < NS_TOL * 1e-9
            if stop_s is not None and eng.end > t_first + stop_s:
                break
        if crash:
            writer.arc.close()  # what a crash leaves: the blocks written so far
        else:
            eng.close()
    return quality


def _assert_archive_equals_source(source, live) -> None:
    ref = open_recording(source)
    with Archive.open(live) as arc:
        assert arc.n_samples == ref.n_samples
        for seg in arc.segments:
            # each stored segment starts on the source's sample grid, to the stored microsecond
            home = next(s for s in ref.segments if s.start - 1e-3 <= seg.start < s.start + s.n_samples / ref.fs)
            i = round((seg.start - home.start) * ref.fs)
            assert abs(round(seg.start * 1e9) - _exact_ns(home.start, i, ref.fs)) <= NS_TOL
        for s in ref.segments:
            _, got = arc.read(s.start, s.start + s.n_samples / ref.fs)
            np.testing.assert_array_equal(got.T, s.read(0, s.n_samples))


runs = st.tuples(st.booleans(), st.floats(0.2, 4.0), st.one_of(st.just(0.0), st.floats(0.0, 240.0)),
                 st.integers(0, 2**32 - 1))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(fs=st.sampled_from([200.0, 250.0, 256.0, 512.0]), start=st.floats(1.6e9, 1.8e9),
       minutes=st.floats(8.0, 16.0), restarts=st.lists(st.tuples(st.floats(0.05, 0.95), runs), max_size=3),
       last=runs, seed=st.integers(0, 2**32 - 1))
def test_restarted_live_archive_equals_source(model, tmp_path_factory, fs, start, minutes, restarts, last, seed):
    folder = tmp_path_factory.mktemp("exact")
    source, live = folder / "source.h5", folder / "live.h5"
    n = int(minutes * 60 * fs)
    _write_source(source, fs, [(start, n)], seed)
    plan = [(frac * n / fs, *run) for frac, run in sorted(restarts)] + [(None, False, *last[1:])]
    quality = _run_live(model, source, live, plan)
    assert [q for q in quality if q.kind in ORDERING] == []
    _assert_archive_equals_source(source, live)
    with Archive.open(live) as arc:
        assert arc.gaps == []
        # the archive's end is the source's last sample + 1 / fs: where a further restart resumes
        assert abs(round(arc.stop * 1e9) - _exact_ns(open_recording(source).start, n, fs)) <= NS_TOL
        assert ArchiveWriter(live, CHANNELS, fs).resume_t == arc.stop


def test_resume_point_is_the_next_sample(model, tmp_path):
    """With no warm-up the replay starts at the archive's end and the writer keeps every sample."""
    fs, start = 250.0, 1_712_345_678.123457
    source, live = tmp_path / "source.h5", tmp_path / "live.h5"
    _write_source(source, fs, [(start, int(600 * fs))], seed=5)
    _run_live(model, source, live, [(200.0, True, 0.37, 0.0, 1), (None, False, 0.37, 0.0, 2)])
    with Archive.open(live) as arc:
        first, second = arc.segments[0], arc.segments[-1]
        assert first.start == pytest.approx(start, abs=1e-6)
    _assert_archive_equals_source(source, live)
    writer = ArchiveWriter(live, CHANNELS, fs)
    assert writer.resume_t == second.stop
    src = ReplaySource(source, speed=math.inf, chunk_s=1.0, start_at=writer.resume_t - 1.0)
    t0, x = next(iter(src))
    assert round((writer.resume_t - t0) * fs) == len(x) == int(fs)  # exactly one second of samples before


def test_real_gap_is_one_event_and_resumes_exactly(model, tmp_path):
    fs, start = 200.0, 1_700_000_000.004321
    gap_at, gap_s = 360.0, 37.123457  # the gap is not a whole number of samples
    source, live = tmp_path / "source.h5", tmp_path / "live.h5"
    after = start + gap_at + gap_s
    _write_source(source, fs, [(start, int(gap_at * fs)), (after, int(360 * fs))], seed=7)
    # a crash 3 minutes after the gap, then a clean stop; both resumes replay across the gap
    quality = _run_live(model, source, live, [(gap_at + gap_s + 180.0, True, 0.7, 400.0, 1),
                                              (gap_at + gap_s + 300.0, False, 1.3, 500.0, 2),
                                              (None, False, 0.45, 600.0, 3)])
    gaps = [q for q in quality if q.kind in ORDERING]
    before, after = (s.start for s in open_recording(source).segments)  # as stored, to the microsecond
    assert [q.kind for q in gaps] == ["gap"]
    assert abs(round(gaps[0].t * 1e9) - _exact_ns(before, int(gap_at * fs), fs)) <= NS_TOL
    _assert_archive_equals_source(source, live)
    with Archive.open(live) as arc:
        (a, b), = arc.gaps
        assert abs(round(a * 1e9) - _exact_ns(before, int(gap_at * fs), fs)) <= NS_TOL
        assert abs(round(b * 1e9) - _exact_ns(after, 0, fs)) <= NS_TOL


@pytest.mark.timeout(60)
def test_lsl_chunk_times_count_samples_and_reanchor_at_a_gap(tmp_path, monkeypatch):
    import threading
    import time

    lsl = pytest.importorskip("mne_lsl.lsl")
    cfg = tmp_path / "lsl.cfg"
    cfg.write_text("[multicast]\nResolveScope = machine\n[lab]\nKnownPeers = {127.0.0.1}\n[log]\nlevel = -3\n")
    monkeypatch.setenv("LSLAPICFG", str(cfg))
    fs, name = 200.0, f"eegmon-time-{uuid.uuid4().hex[:8]}"
    outlet = lsl.StreamOutlet(lsl.StreamInfo(name, "EEG", 2, fs, "float32", name))
    src = open_stream(f"lsl:{name}", lsl_timeout_s=5.0)
    src.max_idle_s = 2.0
    rng = np.random.default_rng(0)
    errors = []

    def push():
        # two runs of 20 s sent in ~1 s, stamped at the nominal rate with a few ms of jitter, 3.0137 s apart
        try:
            time.sleep(0.5)
            t0 = lsl.local_clock()
            for first in (0.0, 23.0137):
                for k in range(0, 4000, 25):
                    stamps = t0 + first + (k + np.arange(25)) / fs + rng.uniform(-2e-3, 2e-3)
                    outlet.push_chunk(np.zeros((25, 2), np.float32), timestamp=stamps)
                    time.sleep(0.005)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    thread = threading.Thread(target=push)
    thread.start()
    chunks = [(t, len(x)) for t, x in src]
    thread.join()
    assert not errors and sum(n for _, n in chunks) == 8000
    ends = np.cumsum([0] + [n for _, n in chunks])
    jumps = [i for i in range(1, len(chunks)) if abs(chunks[i][0] - (chunks[i - 1][0] + chunks[i - 1][1] / fs)) > 1e-6]
    assert len(jumps) == 1 and ends[jumps[0]] == 4000  # one re-anchor, a chunk starting at the gap
    assert chunks[jumps[0]][0] - chunks[0][0] == pytest.approx(23.0137, abs=5e-3)
