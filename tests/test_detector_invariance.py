"""What the generic detector's events must not depend on (property tests, hypothesis).

A user's recording differs from the training data in ways that carry no information about
seizures: a DC offset or slow drift per channel, a polarity, the order of the channels, the
physical range an exporter wrote into the EDF header, the amplifier gain, extra channels that
are flat, disconnected or noisy, the channel count and the sampling rate. The events (onsets and
channels) must not change under these, and the first minutes, while the adaptive baseline warms
up, must never alarm. Inputs: a simulated background with seizures inserted by
``eegmon.simulate.insert_seizures``, and the real recordings of ``../shared/realdata`` when present.
"""

from __future__ import annotations

import numpy as np
import pytest
from eegmon.detectors import StreamingDetector, corpus
from eegmon.detectors.generic import bundled_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import signal

from eegmon.simulate import insert_seizures

START = 1_736_150_400.0
FS = 207.0
MODEL = bundled_model()
WARMUP = MODEL.warmup_s
SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def background(rng: np.random.Generator, seconds: float, n_ch: int, fs: float = FS) -> np.ndarray:
    """EEG-like background: 1/f-shaped noise, partly common to the channels, an alpha rhythm, ~10 µV."""
    n = int(seconds * fs)
    white = rng.standard_normal((n, n_ch + 1))
    sos = signal.butter(1, 2.0, fs=fs, output="sos")
    pink = signal.sosfilt(sos, white, axis=0)
    x = 0.6 * pink[:, :1] + 0.8 * pink[:, 1:]
    alpha = signal.sosfilt(signal.butter(2, [8, 12], btype="bandpass", fs=fs, output="sos"), rng.standard_normal(n))
    x = x / x.std(axis=0) * 8.0 + alpha[:, None] / alpha.std() * rng.uniform(2, 5, n_ch)
    return x


@pytest.fixture(scope="module")
def recording() -> tuple[np.ndarray, list]:
    """15 minutes of 2-channel background with two clear seizures after the warm-up."""
    rng = np.random.default_rng(7)
    x = background(rng, 900.0, 2)
    y, seizures = insert_seizures(x, FS, rng=rng, onsets=[300.0, 620.0], difficulty="easy", kinds="focal_evolving",
                                  channels_involved="all")
    return y, seizures


def detect(x: np.ndarray, *, fs: float = FS, channels=None, clip_level=1e6, chunk_s: float = 600.0):
    channels = tuple(f"ch{i}" for i in range(x.shape[1])) if channels is None else tuple(channels)
    det = StreamingDetector(MODEL, fs, channels, clip_level=clip_level)
    events = []
    step = int(chunk_s * fs)
    for i in range(0, x.shape[0], step):
        events += det.push(x[i:i + step], START + i / fs).events
    return events + det.flush()


def same_events(a, b, *, tol_s: float = 2.0) -> bool:
    """Equal onsets (within ``tol_s``: quantisation may move a crossing by a window) and channels."""
    return len(a) == len(b) and all(abs(x.onset - y.onset) <= tol_s and set(x.channels) == set(y.channels)
                                    for x, y in zip(a, b, strict=True))


def test_the_reference_recording_has_its_seizures(recording):
    x, seizures = recording
    events = detect(x)
    assert len(events) == len(seizures) == 2
    for ev, sz in zip(events, seizures, strict=True):
        assert -5.0 <= ev.onset - (START + sz.onset_s) <= 20.0


@SETTINGS
@given(offsets=st.lists(st.floats(-2000, 2000), min_size=2, max_size=2),
       drifts=st.lists(st.floats(-2000, 2000), min_size=2, max_size=2))
def test_dc_offset_and_slow_drift_change_nothing(recording, offsets, drifts):
    x, _ = recording
    ramp = np.linspace(0.0, 1.0, x.shape[0])[:, None]
    assert same_events(detect(x + np.asarray(offsets) + ramp * np.asarray(drifts)), detect(x), tol_s=0.0)


@SETTINGS
@given(flip=st.lists(st.booleans(), min_size=2, max_size=2), order=st.permutations([0, 1]))
def test_polarity_and_channel_order_change_nothing(recording, flip, order):
    x, _ = recording
    signs = np.where(flip, -1.0, 1.0)
    names = np.array(["ch0", "ch1"])
    moved = detect((x * signs)[:, order], channels=names[order])
    assert same_events(moved, detect(x), tol_s=0.0)


@SETTINGS
@given(gain=st.floats(0.25, 4.0))
def test_gain_hardly_changes_events_after_warm_up(recording, gain):
    x, _ = recording
    assert same_events(detect(x * gain), detect(x))


@SETTINGS
@given(kind=st.sampled_from(["flat", "disconnected", "noisy"]), where=st.integers(0, 2), seed=st.integers(0, 2**16))
def test_added_bad_channels_create_no_event(recording, kind, where, seed):
    x, _ = recording
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    t = np.arange(n) / FS
    if kind == "flat":
        extra = np.full(n, rng.uniform(-500, 500))
    elif kind == "disconnected":  # mains pick-up dominates a floating electrode, with a slow wander
        extra = 300 * np.sin(2 * np.pi * 50 * t) + 50 * np.cumsum(rng.standard_normal(n)) / np.sqrt(FS)
    else:
        extra = rng.normal(0, rng.uniform(20, 200), n)
    y = np.insert(x, where, extra, axis=1)
    base = detect(x)
    with_extra = detect(y)
    assert len(with_extra) <= len(base)
    for ev in with_extra:
        assert any(abs(ev.onset - b.onset) <= 5.0 for b in base)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_ch=st.integers(1, 64), fs=st.sampled_from([100.0, 128.0, 160.0, 173.61, 200.0, 250.0, 256.0, 400.0, 512.0,
                                                    1000.0, 1024.0]),
       gain=st.floats(0.05, 50.0), dc=st.floats(-2000, 2000), seed=st.integers(0, 2**16))
def test_any_montage_and_rate_runs_and_the_warm_up_never_alarms(n_ch, fs, gain, dc, seed):
    rng = np.random.default_rng(seed)
    # the recording opens with a burst of large rhythmic activity: a baseline that is still warming up
    # would call it a seizure
    x = background(rng, WARMUP + 30.0, n_ch, fs) * gain + dc
    t = np.arange(int(40 * fs)) / fs
    x[: t.size] += (gain * 80 * np.sin(2 * np.pi * 4 * t))[:, None]
    det = StreamingDetector(MODEL, fs, [f"c{i}" for i in range(n_ch)], clip_level=1e7)
    chunk = det.push(x, START)
    events = chunk.events + det.flush()
    assert all(ev.onset >= START + WARMUP - MODEL.window_s for ev in events)
    assert np.all((chunk.proba >= 0) & (chunk.proba <= 1)) and np.all(np.diff(chunk.times) > 0)
    assert not chunk.warm[chunk.times < START + WARMUP - 1].any()


@pytest.mark.parametrize("ranges", ["wide", "tight", "asymmetric"])
def test_the_edf_header_range_changes_nothing(recording, tmp_path, ranges):
    """Exporters write wide, tight or asymmetric physical ranges, per channel; clipping is judged by each one's own."""
    import edfio

    from eegmon.io import open_recording

    x, _ = recording
    x = x + np.array([-150.0, 240.0])  # DC offsets, as real exporters leave them
    lo, hi = x.min(axis=0), x.max(axis=0)
    if ranges == "wide":
        lo, hi = np.full(2, -4000.0), np.full(2, 4000.0)
    elif ranges == "asymmetric":
        lo, hi = lo - np.array([3.0, 900.0]), hi + np.array([700.0, 1.0])
    sigs = [edfio.EdfSignal(x[:, c], FS, label=f"ch{c}", physical_dimension="uV", physical_range=(lo[c], hi[c]))
            for c in range(2)]
    path = tmp_path / "rec.edf"
    edfio.Edf(sigs, starttime=None).write(path)
    source = open_recording(path)
    np.testing.assert_allclose(source.clip_level, np.stack([lo, hi], axis=1), atol=1e-3)
    read = np.concatenate([s for _, s in source.chunks(3600.0)])
    det = StreamingDetector(MODEL, source.fs, source.channels, clip_level=source.clip_level)
    events = det.push(read, START).events + det.flush()
    assert same_events(events, detect(x))


def test_real_seizure_free_eeg_with_offsets_flips_and_gain_raises_no_alarm():
    root = corpus.realdata_root()
    if root is None:
        pytest.skip("../shared/realdata is not here")
    rec = corpus.muse_recordings(root)[3]
    rng = np.random.default_rng(0)
    signs = rng.choice([-1.0, 1.0], len(rec.channels))
    for gain in (0.25, 1.0, 4.0):
        det = StreamingDetector(MODEL, rec.fs, rec.channels, clip_level=1e7)
        events = []
        for t, x in rec.segments:
            events += det.push(x * signs * gain + rng.uniform(-2000, 2000, len(rec.channels)), t).events
        assert events + det.flush() == []


def test_a_real_seizure_is_found_the_same_under_offsets_flips_and_any_channel_order():
    root = corpus.realdata_root()
    if root is None:
        pytest.skip("../shared/realdata is not here")
    rec = corpus.dog_recordings(root)[1]
    (t0, x), = rec.segments
    rng = np.random.default_rng(3)

    def run(y, channels):
        det = StreamingDetector(MODEL, rec.fs, channels, clip_level=1e7)
        return det.push(y, t0).events + det.flush()

    base = run(x, rec.channels)
    (onset, _), = rec.seizures
    assert len(base) >= 1 and any(abs(e.onset - onset) <= 30.0 for e in base)
    order = rng.permutation(len(rec.channels))
    signs = rng.choice([-1.0, 1.0], len(rec.channels))
    moved = run((x * signs + rng.uniform(-2000, 2000, len(rec.channels)))[:, order],
                [rec.channels[i] for i in order])
    assert same_events(moved, base, tol_s=1.0)


@pytest.mark.parametrize("gap_s", [60.0, 3600.0])
def test_a_long_gap_brings_the_warm_up_back_and_a_short_one_does_not(recording, gap_s):
    # the second seizure (at 620 s) comes 10 s after a gap: a dropout of a minute leaves the
    # detector warm; after an hour (a charge, the device taken off and put back) it starts again
    # as at the start of a recording: the baseline learnt afresh, events held for the warm-up
    x, seizures = recording
    cut = int(610.0 * FS)
    det = StreamingDetector(MODEL, FS, ("ch0", "ch1"), clip_level=1e6)
    events = det.push(x[:cut], START).events
    resume = START + 610.0 + gap_s
    events += det.push(x[cut:], resume).events + det.flush()
    after = [ev for ev in events if ev.onset >= resume]
    assert len(events) - len(after) == 1  # the first seizure, before the gap
    learnt = det.stream.features.windows_seen
    if gap_s < MODEL.rewarm_gap_s:
        assert len(after) == 1 and after[0].onset - resume <= 30.0
        assert (learnt > 600.0 / MODEL.hop_s).all()  # the baseline carried over
    else:
        assert all(ev.onset >= resume + WARMUP - MODEL.hop_s for ev in after)
        assert det.warmup_left_s == 0.0
        assert (learnt <= (x.shape[0] - cut) / FS / MODEL.hop_s + 1).all()  # learnt afresh


@pytest.mark.parametrize("off_s", [60.0, 400.0])
def test_a_long_stretch_off_the_head_brings_the_warm_up_back_as_a_gap_does(recording, off_s):
    # a headband taken off while it records gives no gap but a disconnected signal (mains hum),
    # which fails the quality gate: after more than rewarm_gap_s of it the channel starts again
    # as at the start of a recording (baseline learnt afresh, the warm-up hold), as after a gap
    # of that length; a minute of it changes nothing
    x, seizures = recording
    cut = int(610.0 * FS)
    t = np.arange(int(off_s * FS)) / FS
    hum = 200.0 * np.sin(2 * np.pi * 50.0 * t)[:, None] + np.random.default_rng(1).normal(0, 0.5, (t.size, 2))
    det = StreamingDetector(MODEL, FS, ("ch0", "ch1"), clip_level=1e6)
    events = det.push(np.concatenate([x[:cut], hum, x[cut:]]), START).events + det.flush()
    resume = START + 610.0 + off_s
    after = [ev for ev in events if ev.onset >= resume]
    assert len(events) - len(after) == 1  # the first seizure, before the headband came off
    learnt = det.stream.features.windows_seen  # good windows the baseline now rests on
    if off_s < MODEL.rewarm_gap_s:
        assert len(after) == 1 and after[0].onset - resume <= 30.0
        assert (learnt > 600.0 / MODEL.hop_s).all()
    else:
        assert all(ev.onset >= resume + WARMUP - MODEL.hop_s for ev in after)
        assert det.warmup_left_s == 0.0
        # learnt afresh: only from the signal after the headband came back
        assert (learnt <= (x.shape[0] - cut) / FS / MODEL.hop_s + 1).all()
