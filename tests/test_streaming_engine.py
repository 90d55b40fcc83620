"""Live engine: replay equals batch detection, bad chunks never kill it or alert, archive resume, sources."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest
from _sim_archive import write_sim_archive
from eegmon.detectors import load_detector
from eegmon.detectors.batch import detect_source
from eegmon.streaming.engine import ArchiveWriter, Monitor, StreamEngine, run_source
from eegmon.streaming.outbox import Outbox
from eegmon.streaming.policy import AlertRules, Contact, Policy
from eegmon.streaming.sources import ReplaySource, SimSource, open_stream

from eegmon.archive import Archive
from eegmon.io import open_recording

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

START = 1.7e9
RULES = AlertRules(min_probability=0.8, min_duration_s=2.0, refractory_s=120.0)


@pytest.fixture(scope="module")
def sim_archive(tmp_path_factory):
    path = tmp_path_factory.mktemp("live") / "sim.h5"
    write_sim_archive(path, seconds=900.0, onsets=(250.0, 640.0), gaps=((500.0, 530.0),))
    return path


@pytest.fixture(scope="module")
def model():
    return load_detector("classifier", None)


def _engine(model, src, **kw) -> StreamEngine:
    m, name = model
    return StreamEngine(kw.pop("stream", "p1"), m, fs=src.fs, channels=src.channels, clip_level=src.clip_level,
                        name=name, rules=kw.pop("rules", RULES), **kw)


def _key(events):
    return [(round(e.onset, 6), round(e.duration, 6), e.label, e.channels, round(e.confidence, 9)) for e in events]


@pytest.mark.parametrize("chunk_s", [0.5, 3.0])
def test_replay_gives_batch_events(sim_archive, model, chunk_s):
    src = ReplaySource(sim_archive, speed=math.inf, chunk_s=chunk_s)
    eng = run_source(_engine(model, src), src)
    batch = detect_source(open_recording(sim_archive), model[0], name=model[1])
    assert len(batch.events) == 2
    assert _key(eng.events) == _key(batch.events)
    # one live alert per seizure, each before the seizure's detected end, none for the gap
    assert [round(a.onset) for a in eng.alerts] == [round(e.onset) for e in batch.events]
    for a, e in zip(eng.alerts, batch.events, strict=True):
        assert a.detected_at < e.offset
        assert a.latency_s is not None and a.latency_s >= 0
    assert eng.stats.quality.get("gap") == 1


def test_monitor_many_streams_matches_single(sim_archive, model):
    mon = Monitor()
    for i in range(2):
        mon.add(_engine(model, ReplaySource(sim_archive), stream=f"s{i}"))
    single = _engine(model, ReplaySource(sim_archive), stream="solo")
    for t0, x in ReplaySource(sim_archive, speed=math.inf, chunk_s=5.0):
        if t0 > START + 400.0:
            break
        mon.push_many([(f"s{i}", t0, x) for i in range(2)])
        single.push(t0, x)
    mon.close()
    single.close()
    for eng in mon.engines.values():
        assert _key(eng.events) == _key(single.events)
        assert [a.onset for a in eng.alerts] == [a.onset for a in single.alerts]
        assert len(eng.alerts) == 1
    with pytest.raises(Exception, match="already monitored"):
        mon.add(_engine(model, ReplaySource(sim_archive), stream="s0"))


def _chunks(seconds=400.0, chunk_s=1.0, seed=1, onsets=()):
    src = SimSource(seed, chunk_s=chunk_s, speed=math.inf, start=START, max_s=seconds, onsets=onsets)
    return src, list(src)


def test_bad_signal_never_alerts_and_engine_keeps_going(model, tmp_path):
    src, chunks = _chunks(seconds=250.0)
    outbox = Outbox(tmp_path / "o.sqlite", Policy((Contact("c", ("console://",)),)))
    eng = _engine(model, src, outbox=outbox)
    rng = np.random.default_rng(0)
    out = []
    for i, (t0, x) in enumerate(chunks):
        x = x.copy()
        if 50 <= i < 100:
            x[:] = np.nan  # electrode lost: NaN samples
        elif 100 <= i < 150:
            x[:] = 0.0  # electrode off: flat line
        elif 150 <= i < 200:
            x[:] = rng.choice([-5000.0, 5000.0], size=x.shape)  # clipping, saturated amplifier
        elif 200 <= i < 230:
            x[:, 0] = np.nan  # one channel NaN
        out += eng.push(t0, x)
    eng.close()
    assert out == [] and eng.alerts == [] and outbox.events() == []
    kinds = {q["kind"] for q in outbox.quality()}
    assert {"nan_start", "nan_end", "bad_signal_start", "bad_signal_end"} <= kinds
    assert eng.stats.chunks == len(chunks)


def test_dropped_late_out_of_order_clock_jump_malformed(model):
    src, chunks = _chunks(seconds=360.0, onsets=(200.0,), seed=2)  # the seizure after the 2-min warm-up
    eng = _engine(model, src)
    n = len(chunks)
    order = list(range(n))
    del order[50:54]  # dropped packets
    order[100], order[101] = order[101], order[100]  # out of order: 101 then 100 (late, dropped)
    order.insert(150, 140)  # a duplicate, late
    for i in order:
        t0, x = chunks[i]
        eng.push(t0 + 1e-3 * np.sin(i), x)  # timestamp jitter within tolerance
    eng.push(None, np.zeros((10, 3)))  # wrong channel count
    eng.push(float("nan"), chunks[0][1])
    eng.push(chunks[-1][0], "not samples")
    # the source clock jumps back an hour and continues from there
    t_last = chunks[-1][0] + chunks[-1][1].shape[0] / src.fs
    more = SimSource(5, chunk_s=0.5, speed=math.inf, start=t_last - 3600.0, max_s=30.0)
    for t0, x in more:
        eng.push(t0, x)
    eng.close()
    q = eng.stats.quality
    assert q["gap"] >= 2 and q["late"] >= 2 and q["malformed"] == 3 and q["clock_jump"] == 1
    assert [round(a.onset - START) for a in eng.alerts] == [round(eng.events[0].onset - START)]
    # the event is the seizure (found within the detector's latency), not a false alarm
    assert -10.0 < eng.events[0].onset - (START + 200.0) < 30.0
    # samples after the jump were re-aligned, so the stream's time went on
    assert eng.end > t_last + 25.0


def test_pipeline_error_is_survived(model, monkeypatch):
    src, chunks = _chunks(seconds=60.0)
    eng = _engine(model, src)
    calls = {"n": 0}
    real = eng.detector.stage

    def flaky(x, t):
        calls["n"] += 1
        if calls["n"] == 10:
            raise RuntimeError("boom")
        return real(x, t)

    monkeypatch.setattr(eng.detector, "stage", flaky)
    for t0, x in chunks:
        eng.push(t0, x)
    eng.close()
    assert eng.stats.quality["engine_error"] == 1
    assert eng.stats.chunks == len(chunks) - 1


def test_archive_written_and_resume_does_not_duplicate(sim_archive, model, tmp_path):
    live = tmp_path / "live.h5"
    outbox = Outbox(tmp_path / "o.sqlite", Policy((Contact("c", ("console://",)),), alert=RULES))
    src = ReplaySource(sim_archive, speed=math.inf, chunk_s=5.0)
    writer = ArchiveWriter(live, src.channels, src.fs, block_s=60.0, source="live:p1")
    eng = _engine(model, src, outbox=outbox, archive=writer)
    stop_at = START + 660.0  # "crash" during the second seizure
    for t0, x in src:
        eng.push(t0, x)
        if t0 >= stop_at:
            break
    writer.flush()  # what a crash leaves: flushed blocks only (the next block's buffer is lost)
    writer.arc.close()
    assert len(outbox.events()) == 2
    with Archive.open(live) as arc:
        assert len(arc.detections()) == 1
        resume = arc.stop
    # restart: resume from the archive, re-reading 5 minutes to warm the detector up
    writer2 = ArchiveWriter(live, src.channels, src.fs, block_s=60.0, source="live:p1")
    assert writer2.resume_t == pytest.approx(resume)
    src2 = ReplaySource(sim_archive, speed=math.inf, chunk_s=5.0, start_at=writer2.resume_t - 300.0)
    eng2 = run_source(_engine(model, src2, outbox=outbox, archive=writer2), src2)
    assert eng2.alerts == []  # the second seizure was already alerted before the crash
    assert len(outbox.events()) == 2
    batch = detect_source(open_recording(sim_archive), model[0], name=model[1])
    with Archive.open(live) as arc:
        dets = arc.detections()
        # the event running at the crash is found again; its onset may move by a few seconds
        # (the detector's adaptive baseline was warmed on 5 minutes only)
        assert len(dets) == len(batch.events) == 2
        assert abs(dets[0].onset - batch.events[0].onset) < 1e-6
        assert abs(dets[1].onset - batch.events[1].onset) < 10.0
        assert arc.gaps == [(pytest.approx(START + 500.0), pytest.approx(START + 530.0))]
        t, x = arc.read(START + 100.0, START + 110.0)
    ref = open_recording(sim_archive)
    expected = ref.spans[0].read(int(100 * ref.fs), int(110 * ref.fs))
    np.testing.assert_allclose(x.T, expected, atol=0.006)
    with Archive.open(live) as arc:
        feats, stop = arc.features(), arc.stop
    assert len(feats) > 0 and feats.channel_names == tuple(src.channels)
    assert np.all(np.diff(feats.times) > 0)  # no window stored twice across the restart
    # the crash lost the unwritten feature block; the restart's warm-up re-creates what it re-reads
    assert feats.times[0] <= resume - 250.0 and feats.times[-1] > stop - 5.0


def test_replay_paces_real_time_with_gaps(sim_archive):
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    src = ReplaySource(sim_archive, speed=10.0, chunk_s=5.0, sleep=sleep, clock=lambda: now[0])
    chunks = list(src)
    assert sum(x.shape[0] for _, x in chunks) == (900 - 30) * 207
    assert now[0] == pytest.approx(900.0 / 10.0 - 0.5, abs=0.6)  # gaps are waited too, scaled
    with pytest.raises(Exception, match="speed"):
        ReplaySource(sim_archive, speed=0)
    with pytest.raises(Exception, match="unknown source"):
        open_stream("tcp:foo")


def test_sim_source_is_endless_and_seeded():
    a = SimSource(4, chunk_s=0.125, speed=math.inf, start=START, seizure_every_s=60.0)
    it = iter(a)
    first = [next(it) for _ in range(8 * 60 * 12)]
    b = SimSource(4, chunk_s=0.125, speed=math.inf, start=START, seizure_every_s=60.0)
    assert np.array_equal(next(iter(b))[1], first[0][1])
    assert all(x.shape == (26, 2) for _, x in first)
    assert first[1][0] - first[0][0] == pytest.approx(26 / 207.0)
    assert a.seizures and a.seizures[0] >= START + 600.0


@pytest.fixture
def lsl_outlet(tmp_path, monkeypatch):
    cfg = tmp_path / "lsl.cfg"
    cfg.write_text("[multicast]\nResolveScope = machine\n[lab]\nKnownPeers = {127.0.0.1}\n[log]\nlevel = -3\n")
    monkeypatch.setenv("LSLAPICFG", str(cfg))
    mne_lsl = pytest.importorskip("mne_lsl.lsl")
    name = f"eegmon-test-{uuid.uuid4().hex[:8]}"
    info = mne_lsl.StreamInfo(name, "EEG", 2, 207.0, "float32", name)
    outlet = mne_lsl.StreamOutlet(info)
    yield name, outlet
    del outlet


@pytest.mark.timeout(60)
def test_lsl_loopback(lsl_outlet, model):
    import threading
    import time

    name, outlet = lsl_outlet
    src = open_stream(f"lsl:{name}", lsl_timeout_s=5.0)
    src.max_idle_s = 2.0
    from mne_lsl.lsl import local_clock

    sim = SimSource(6, chunk_s=0.125, speed=math.inf, max_s=30.0)
    data = [x.astype(np.float32) for _, x in sim]
    errors = []

    def push():
        # 30 s of samples sent in ~1 s, stamped at the nominal rate (a fast replaying amplifier)
        try:
            time.sleep(0.5)
            t0, k = local_clock(), 0
            for x in data:
                outlet.push_chunk(np.ascontiguousarray(x), timestamp=t0 + (k + np.arange(x.shape[0])) / 207.0)
                k += x.shape[0]
                time.sleep(0.004)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    thread = threading.Thread(target=push)
    thread.start()
    eng = run_source(_engine(model, src, jitter_s=0.5), src)
    thread.join()
    assert not errors
    assert src.fs == 207.0 and len(src.channels) == 2
    assert eng.stats.samples == sum(x.shape[0] for x in data)
    assert eng.stats.windows > 20
    assert eng.stats.quality.get("late", 0) == 0


def test_monitor_cli_sim_source_and_bad_input(tmp_path, capsys):
    from eegmon.cli import main

    db = tmp_path / "o.sqlite"
    args = ["monitor", "sim:3", "--speed", "max", "--max-s", "40", "--chunk-s", "1", "--outbox", str(db),
            "--no-ack-server", "--drain-s", "0", "--archive", str(tmp_path / "live.h5")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "0.01 h processed" in out and "0 new seizure event(s)" in out
    with Archive.open(tmp_path / "live.h5") as arc:
        assert arc.n_samples == 40 * 207
    assert main(["monitor", "tcp:nowhere", "--outbox", str(db)]) == 2
    assert main(["monitor", "sim:x", "--outbox", str(db)]) == 2
    assert main(["monitor", "sim:1", "--chunk-s", "0", "--outbox", str(db)]) == 2
    assert main(["monitor", "replay:/no/such/file.edf", "--outbox", str(db)]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[alert]\nthreshold = 3\n")
    assert main(["monitor", "sim:1", "--alerts", str(bad), "--outbox", str(db)]) == 2
    err = capsys.readouterr().err
    assert "unknown key alert.threshold" in err and str(bad) in err


def test_replay_demo_prints_alerts_with_delay(tmp_path):
    from eegmon.demo import replay_demo
    from eegmon.simulate import simulate

    folder = tmp_path / "dev"
    simulate(folder, days=0.012, seizures_per_day=100, seed=3, quiet=True, n_jobs=1)  # one seizure at 175 s
    lines: list[str] = []
    summary = replay_demo(folder, out=lines.append)
    alerts = [line for line in lines if "ALERT" in line]
    assert len(alerts) == 1 and "s after the true onset" in alerts[0]
    assert "1 alert(s) for 1 true seizure(s): 1 detected, 0 false alarm(s); 1 delivered" in summary
    with pytest.raises(Exception, match="no such folder"):
        replay_demo(tmp_path / "none")
