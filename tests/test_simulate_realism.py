"""What difficulty ``realistic``/``hard`` adds to the simulator, and ``insert_seizures``.

- ``easy`` is the original simulator sample for sample (checksums recorded before the change);
- seizures follow the documented ratio distribution, measured with ``eegmon.simulate.measure``
  (which the generators never use) on the written EDF+ files;
- each artifact type has its real shape; the background has the calibrated spectrum;
- ``insert_seizures`` keeps the array, puts seizures inside it at the drawn ratio, for any
  channel count and rate; its errors say what is wrong;
- real-data checks skip when ``../shared/realdata`` is absent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

import edfio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import signal

from eegmon.cli import main
from eegmon.errors import EegmonError
from eegmon.simulate import (
    ARTIFACT_TYPES,
    DIFFICULTIES,
    LEGACY_ARTIFACT_TYPES,
    SEIZURE_TYPES,
    SimulationConfig,
    insert_seizures,
    measure,
    simulate,
)
from eegmon.simulate.artifacts import artifact_waveform, draw_fields
from eegmon.simulate.background import RealisticBackground
from eegmon.simulate.seizures import ictal_waveform
from eegmon.simulate.timeline import plan

FS = 207.0
REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
MUSE = REALDATA / "muse_eegnotebooks"
needs_muse = pytest.mark.skipif(not MUSE.is_dir(), reason="../shared/realdata/muse_eegnotebooks is absent")

# ----------------------------------------------------------------------------- easy = the original

_ALL_LEGACY_OFTEN = {k: (200.0, 200.0) for k in LEGACY_ARTIFACT_TYPES}
#: Arguments of three recordings and the SHA-256 of their int16 samples (little-endian, samples x
#: channels) and ground-truth tables, recorded with the simulator as it was before difficulties.
_ORIGINAL = {
    "artifacts": (
        dict(days=0.05, seed=11, seizures_per_day=60.0, config=SimulationConfig(artifact_rates=_ALL_LEGACY_OFTEN)),
        {"sim01_20250106_090000.edf": "d4894076859b5de59dd1b05fc5a6506f23290625ab13ad668adf97f5ac3cf901",
         "sim01_20250106_090000_artifacts.tsv": "4aa10e0f747011b867d403e44afdb5f2609c806d243a94a25a19930282b05ec3",
         "sim01_20250106_090000_events.tsv": "cc0e00f46142d47633e20e59946c6af46120a0562ea1aba42dfd8afb94fd71db"},
    ),
    "four_types": (
        dict(days=0.25, seed=5, seizures_per_day=48.0, config=SimulationConfig(min_seizure_interval_s=600.0)),
        {"sim01_20250106_090000.edf": "501bf20cbdef3d7bfe3bafdc1cdf768558e6d243c5c0780b6492b67ab6a0049c",
         "sim01_20250106_090000_artifacts.tsv": "69589e53b8da14a9700f730586b54ce7a5d27a8328da2d6d38254587854c4376",
         "sim01_20250106_090000_events.tsv": "0d19134feb876d5308a77e9efa1c9b95fb17f543135f6f9ee48486c4d7c3eade"},
    ),
    "four_channels_256hz": (
        dict(days=0.03, seed=3, fs=256.0, n_channels=4, seizures_per_day=80.0,
             config=SimulationConfig(physical_range_uv=3000.0, min_seizure_interval_s=300.0)),
        {"sim01_20250106_090000.edf": "2504461dd9686d9a29c24b50e69fa47679aa7924cd408957a72e21b0d0a6a127",
         "sim01_20250106_090000_artifacts.tsv": "437257f996fad1dca5528f817a58d9acb073d43d1820da78992a3f295f85c393",
         "sim01_20250106_090000_events.tsv": "391d259e5e5afe6e030dca9e2e8bd68ec4eb949a201b5c8d338426f0fb1f66f9"},
    ),
}


def _digests(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.glob("*.edf")):
        digital = np.stack([s.digital for s in edfio.read_edf(path).signals], axis=1)
        out[path.name] = hashlib.sha256(np.ascontiguousarray(digital.astype("<i2")).tobytes()).hexdigest()
    for path in sorted(folder.glob("*.tsv")):
        out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.mark.parametrize("case", list(_ORIGINAL))
def test_easy_is_the_original_simulator_sample_for_sample(case, tmp_path):
    kwargs, expected = _ORIGINAL[case]
    simulate(tmp_path / "a", difficulty="easy", n_jobs=1, quiet=True, **kwargs)
    assert _digests(tmp_path / "a") == expected
    # the difficulty may come from the config as well
    cfg = dataclasses.replace(kwargs["config"], difficulty="easy")
    simulate(tmp_path / "b", n_jobs=1, quiet=True, **{**kwargs, "config": cfg})
    assert _digests(tmp_path / "b") == expected


def test_realistic_differs_from_easy_but_keeps_the_seizure_plan(tmp_path):
    kwargs, expected = _ORIGINAL["four_types"]
    simulate(tmp_path / "r", n_jobs=1, quiet=True, **kwargs)
    got = _digests(tmp_path / "r")
    assert got["sim01_20250106_090000.edf"] != expected["sim01_20250106_090000.edf"]
    easy = plan(dataclasses.replace(kwargs["config"], difficulty="easy"), start=1736154000.0, days=0.25,
                record_s=1.0, seizures_per_day=48.0, n_channels=2, seed=5)
    real = plan(kwargs["config"], start=1736154000.0, days=0.25, record_s=1.0, seizures_per_day=48.0, n_channels=2,
                seed=5)
    assert [(s.onset, s.duration, s.kind) for s in easy.seizures] == [(s.onset, s.duration, s.kind)
                                                                      for s in real.seizures]
    assert all(s.target_ratio is None for s in easy.seizures)
    assert all(s.target_ratio is not None for s in real.seizures)
    assert {a.kind for a in easy.artifacts} <= set(LEGACY_ARTIFACT_TYPES)


# ----------------------------------------------------------------------------- the ratio distribution

def _unix(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def _measured(folder: Path) -> tuple[dict, list[tuple[float, float]]]:
    """Truth and (target, measured) ratio of each seizure, measured on the written EDF+ files."""
    truth = json.loads((folder / "simulation.json").read_text())
    pairs = []
    for entry in truth["files"]:
        seizures = [s for s in truth["seizures"] if s["file"] == entry["name"]]
        if not seizures:
            continue
        edf = edfio.read_edf(folder / entry["name"])
        x = np.stack([s.data for s in edf.signals], axis=1)
        for sz in seizures:
            onset = sz["onset_unix_s"] - _unix(entry["start"])
            chans = [truth["channels"].index(c) for c in sz["channels"]]
            pairs.append((sz["target_ratio"], measure.seizure_rms_ratio(x, FS, onset, onset + sz["duration_s"],
                                                                        channels=chans)))
    return truth, pairs


@pytest.fixture(scope="module")
def dense(tmp_path_factory) -> tuple[dict, list[tuple[float, float]]]:
    """2 days at the default difficulty with ~20 seizures, measured."""
    out = tmp_path_factory.mktemp("dense") / "sim"
    simulate(out, days=2, seed=11, seizures_per_day=12.0, quiet=True)
    return _measured(out)


def test_seizure_ratio_distribution_of_a_seeded_simulation(dense):
    truth, pairs = dense
    assert truth["difficulty"] == "realistic"
    targets, measured = np.array(pairs).T
    assert len(measured) >= 15
    # the documented distribution: median about 2 (band 1.6-2.6), at least 30 % below 1.5
    assert 1.6 <= np.median(measured) <= 2.6
    assert np.mean(measured < 1.5) >= 0.30
    assert np.mean(measured < 1.0) > 0
    # each seizure was scaled against its own background to its drawn target
    assert np.median(np.abs(measured / targets - 1)) < 0.02
    assert np.mean(np.abs(measured / targets - 1) < 0.1) >= 0.9


def test_hard_has_lower_ratios_and_more_mimics():
    kwargs = dict(start=1736154000.0, days=20, record_s=1.0, seizures_per_day=3.0, n_channels=2, seed=4)
    levels = {d: plan(SimulationConfig(difficulty=d), **kwargs) for d in ("realistic", "hard")}
    ratios = {d: np.array([s.target_ratio for s in tl.seizures]) for d, tl in levels.items()}
    assert np.median(ratios["hard"]) < np.median(ratios["realistic"])
    assert np.mean(ratios["hard"] < 1.5) > np.mean(ratios["realistic"] < 1.5)
    for kind in ("rhmv", "hhyp", "sway", "vrtx"):
        counts = {d: sum(a.kind == kind for a in tl.artifacts) for d, tl in levels.items()}
        assert counts["hard"] > 2 * counts["realistic"] > 0, kind


@pytest.mark.parametrize("name", list(DIFFICULTIES))
def test_drawn_ratios_follow_the_level(name, rng_seed):
    level = DIFFICULTIES[name]
    ratios = level.draw_ratios(np.random.default_rng(rng_seed), 12)
    assert ratios.shape == (12,)
    assert np.all((ratios >= level.ratio_range[0]) & (ratios <= level.ratio_range[1]))
    assert abs(np.log(np.median(ratios) / level.ratio_median)) < 0.3  # stratified: even 12 draws sit near it
    many = level.draw_ratios(np.random.default_rng(rng_seed), 2000)
    iid = np.exp(np.random.default_rng(0).normal(np.log(level.ratio_median), level.ratio_sigma, 200000))
    assert np.mean(many < 1.5) == pytest.approx(np.mean(np.clip(iid, *level.ratio_range) < 1.5), abs=0.01)


# ----------------------------------------------------------------------------- config and CLI

def test_difficulty_is_validated():
    with pytest.raises(EegmonError, match="Did you mean 'realistic'"):
        SimulationConfig(difficulty="realstic")
    with pytest.raises(EegmonError, match="'difficulty' parameter"):
        simulate("/nonexistent/never", days=1, difficulty="medium")
    with pytest.raises(EegmonError, match="artifact_uv type"):
        SimulationConfig(artifact_uv={"blink": 3.0})


def test_config_json_round_trip_of_the_new_fields(tmp_path):
    defaults = SimulationConfig()
    cfg = SimulationConfig(difficulty="hard", background_knee_hz=4.5,
                           artifact_uv={**defaults.artifact_uv, "eyeb": 80.0},
                           artifact_rates={**defaults.artifact_rates, "rhmv": (12.0, 1.0)})
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(dataclasses.asdict(cfg)))
    again = SimulationConfig.from_json(path)
    assert again == cfg
    path.write_text(json.dumps({"difficulty": "easy", "artifact_uv": {"kcmp": 70}}))
    partial = SimulationConfig.from_json(path)
    assert partial.difficulty == "easy" and partial.artifact_uv["kcmp"] == 70.0
    assert partial.artifact_uv["eyeb"] == SimulationConfig().artifact_uv["eyeb"]
    path.write_text(json.dumps({"artifact_rates": {"eyeblink": [1, 1]}}))
    with pytest.raises(EegmonError, match="Did you mean 'eyeb'"):
        SimulationConfig.from_json(path)
    path.write_text(json.dumps({"difficulty": "brutal"}))
    with pytest.raises(EegmonError, match="cfg.json: Invalid value for the 'difficulty' parameter"):
        SimulationConfig.from_json(path)


def test_cli_difficulty_is_recorded(tmp_path):
    assert main(["simulate", str(tmp_path / "h"), "--days", "0.05", "--seed", "2", "--seizures-per-day", "80",
                 "--difficulty", "hard", "--quiet"]) == 0
    truth = json.loads((tmp_path / "h" / "simulation.json").read_text())
    assert truth["difficulty"] == "hard" and truth["parameters"]["config"]["difficulty"] == "hard"
    assert truth["seizures"] and all(isinstance(s["target_ratio"], float) for s in truth["seizures"])


# ----------------------------------------------------------------------------- shapes

def _psd(x: np.ndarray, fs: float = FS) -> tuple[np.ndarray, np.ndarray]:
    return signal.welch(x, fs=fs, nperseg=min(x.size, int(8 * fs)))


def _share(x: np.ndarray, lo: float, hi: float) -> float:
    f, p = _psd(x)
    return float(p[(f >= lo) & (f < hi)].sum() / p[f > 0].sum())


def _dominant(x: np.ndarray, lo: float = 0.05, hi: float = 40.0) -> float:
    f, p = _psd(x)
    band = (f >= lo) & (f < hi)
    return float(f[band][np.argmax(p[band])])


def _wave(kind: str, duration: float, seed: int, channels: tuple[int, ...] = (0, 1)) -> np.ndarray:
    cfg = SimulationConfig()
    fields = draw_fields(np.random.default_rng(seed), 2)
    return artifact_waveform(np.random.default_rng(seed), kind, duration, FS, cfg, fields, channels)


def test_every_artifact_type_has_a_generator():
    for kind in ARTIFACT_TYPES:
        wave = _wave(kind, 12.0, 0)
        assert wave.shape == (int(12 * FS), 2) and np.all(np.isfinite(wave)), kind


def test_blinks_are_brief_monophasic_and_at_a_blink_rate(rng_seed):
    x = _wave("eyeb", 120.0, rng_seed)[:, 0]
    sign = np.sign(x[np.argmax(np.abs(x))])
    peaks, props = signal.find_peaks(sign * x, height=0.05 * np.abs(x).max(), width=1)
    assert 5 <= peaks.size / 2.0 <= 40  # blinks per minute, doubles included
    widths = props["widths"] / FS
    assert 0.03 < np.median(widths) < 0.15  # full width at half height
    assert np.all(sign * x >= -1e-9)  # never the other polarity


def test_saccades_are_decaying_steps(rng_seed):
    x = _wave("eyem", 30.0, rng_seed)[:, 0]
    steps = np.abs(np.diff(x))
    assert np.percentile(steps, 99.5) > 8 * np.median(steps)  # a few steep jumps...
    assert _share(x, 0.0, 4.0) > 0.8  # ...in an otherwise slow signal


@pytest.mark.parametrize(("kind", "lo", "hi"), [("eyer", 0.05, 0.6), ("sway", 0.3, 1.8), ("rhmv", 1.7, 7.0),
                                                 ("hhyp", 2.5, 6.0), ("spnd", 11.0, 15.0)])
def test_rhythmic_types_have_their_frequency(kind, lo, hi, rng_seed):
    x = _wave(kind, 40.0, rng_seed)[:, 0]
    assert lo <= _dominant(x, 0.05, 40.0) <= hi
    if kind in ("rhmv", "hhyp", "sway"):  # rhythmic: the autocorrelation peaks again one period later
        period = int(FS / _dominant(x, 0.05, 40.0))
        ac = np.correlate(x, x[: x.size // 2], mode="valid")
        assert ac[period - period // 5: period + period // 5].max() > 0.3 * ac[0]


def test_muscle_and_chewing_are_emg_chewing_in_bursts(rng_seed):
    musc = _wave("musc", 10.0, rng_seed)[:, 0]
    assert _share(musc, 20.0, FS / 2) > 0.8
    chew = _wave("chew", 20.0, rng_seed)[:, 0]
    envelope = signal.sosfiltfilt(signal.butter(2, 5, fs=FS, output="sos"), np.abs(chew))
    assert 0.9 <= _dominant(envelope - envelope.mean(), 0.5, 4.0) <= 2.3


def test_sleep_transients_have_their_shapes(rng_seed):
    k = _wave("kcmp", 1.5, rng_seed)[:, 0]
    assert np.argmin(k) < np.argmax(k), "K-complex: sharp negative wave before the slow positive one"
    assert abs(k[0]) < 0.05 * np.abs(k).max()
    vertex = _wave("vrtx", 6.0, rng_seed)[:, 0]
    assert _share(vertex, 2.0, 15.0) > 0.7
    arousal = _wave("arsl", 10.0, rng_seed)[:, 0]
    half = arousal.size // 2
    assert np.std(arousal[:half]) > 1.5 * np.std(arousal[half:])  # abrupt, then fading
    assert _share(arousal, 8.0, FS / 2) > 0.6


def test_pops_lines_flats_and_clips(rng_seed):
    pop = _wave("elpp", 3.0, rng_seed, channels=(1,))[:, 0]
    jumps = np.abs(np.diff(pop))
    assert jumps.max() >= 0.5 * np.abs(pop).max()  # a step from one sample to the next...
    assert 1 <= np.sum(jumps > 0.2 * jumps.max()) <= 3  # ...one to three of them...
    assert _share(pop, 0.0, 10.0) > 0.8  # ...each decaying slowly
    line = _wave("line", 5.0, rng_seed)[:, 0]
    assert 48 <= _dominant(line, 1.0, FS / 2) <= 52
    assert np.all(_wave("flat", 2.0, rng_seed) == 0)
    assert np.abs(_wave("clip", 2.0, rng_seed)).max() > SimulationConfig().physical_range_uv


def test_common_sources_share_one_waveform_across_channels(rng_seed):
    x = _wave("eyeb", 30.0, rng_seed)
    assert abs(np.corrcoef(x.T)[0, 1]) > 0.999
    m = _wave("musc", 10.0, rng_seed)
    assert abs(np.corrcoef(m.T)[0, 1]) < 0.2  # EMG is local: independent on each channel


@pytest.mark.parametrize("kind", list(SEIZURE_TYPES))
def test_seizures_evolve_in_frequency_and_morphology(kind, rng_seed):
    x = ictal_waveform(np.random.default_rng(rng_seed), kind, 60.0, FS, [1.0, 0.5])
    assert x.shape == (int(60 * FS), 2)
    third = x.shape[0] // 3
    early, late = x[third // 3: third, 0], x[-third:, 0]
    if kind == "spike_wave":
        assert _dominant(late, 1.0) <= _dominant(early, 1.0)
    else:
        assert _dominant(late, 1.0) < _dominant(early, 1.0)

    def harmonics(seg):  # share of power above 1.6 x the dominant frequency: sharpness
        f, p = _psd(seg)
        return p[f > 1.6 * _dominant(seg, 1.0)].sum() / p[f > 0.5].sum()

    if kind in ("focal_evolving", "subtle_focal"):
        assert harmonics(late) > harmonics(early)
    assert np.abs(x[:, 1]).max() == pytest.approx(0.5 * np.abs(x[:, 0]).max(), rel=0.35)


def test_realistic_background_spectrum_has_its_knee(rng_seed):
    cfg = SimulationConfig(alpha_uv=0.0, slow_wave_uv=0.0)
    bg = RealisticBackground(np.random.default_rng(rng_seed), cfg, FS, 2)
    n = int(600 * FS)
    x = bg.block(n, np.ones(n), np.zeros(1), np.zeros(1), np.zeros(1))
    f, p = signal.welch(x[:, 0], fs=FS, nperseg=2048)

    def slope(lo, hi):
        band = (f >= lo) & (f <= hi)
        return np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]

    assert -0.5 < slope(1.0, 3.0) < 0.35  # flat below the knee (the 0.5 Hz high-pass lifts it a little)
    assert -cfg.background_exponent - 0.35 < slope(15.0, 60.0) < -cfg.background_exponent + 0.35
    assert np.corrcoef(x.T)[0, 1] == pytest.approx(cfg.channel_correlation, abs=0.1)
    assert np.std(x) == pytest.approx(cfg.background_uv, rel=0.15)


# ----------------------------------------------------------------------------- insert_seizures

def _pink(rng: np.random.Generator, n: int, n_channels: int, fs: float) -> np.ndarray:
    sos = signal.butter(1, [1.0, min(60.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal((n, n_channels)), axis=0)
    # an amplitude that drifts, so the local background matters
    drift = np.exp(0.4 * np.sin(2 * np.pi * np.arange(n) / (n / 3.0) + rng.uniform(0, 6)))
    return 10.0 * x * drift[:, None]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_channels=st.integers(1, 64), fs=st.floats(100.0, 1024.0),
       length_s=st.floats(45.0, 900.0), n_seizures=st.integers(1, 3))
def test_insert_seizures_on_random_backgrounds(seed, n_channels, fs, length_s, n_seizures):
    rng = np.random.default_rng(seed)
    length_s = max(45.0, min(length_s, 3e6 / (fs * n_channels)))  # keep each example small
    n = int(length_s * fs)
    x = _pink(rng, n, n_channels, fs)
    longest = 60.0 if length_s < 600 else 180.0
    n_seizures = max(1, min(n_seizures, int((length_s - 1.0) // (longest + 30.0))))  # always fits
    y, seizures = insert_seizures(x, fs, rng=rng, n_seizures=n_seizures, min_gap_s=30.0)
    assert y.shape == x.shape and y.dtype == np.float64
    assert len(seizures) == n_seizures
    touched = np.zeros(n, dtype=bool)
    for i, s in enumerate(seizures):
        assert 30.0 <= s.onset_s < s.offset_s <= length_s
        if length_s < 600:
            assert 10.0 - 1 / fs <= s.duration_s <= 60.0 + 1 / fs
        if i:
            assert s.onset_s - seizures[i - 1].offset_s >= 30.0 - 1 / fs
        assert s.kind in SEIZURE_TYPES and s.channels and all(0 <= c < n_channels for c in s.channels)
        assert len(s.field) == n_channels
        ratio = measure.seizure_rms_ratio(y, fs, s.onset_s, s.offset_s, channels=s.channels)
        assert ratio == pytest.approx(s.target_ratio, rel=0.05)
        touched[int(round(s.onset_s * fs)):int(round(s.offset_s * fs))] = True
    assert np.array_equal(y[~touched], x[~touched]), "nothing changes outside the seizures"


def test_insert_seizures_ratio_distribution(rng_seed):
    rng = np.random.default_rng(rng_seed)
    fs = 128.0
    x = _pink(rng, int(40 * 420 * fs), 1, fs)
    y, seizures = insert_seizures(x, fs, rng=rng, n_seizures=40, min_gap_s=60.0)
    measured = np.array([measure.seizure_rms_ratio(y, fs, s.onset_s, s.offset_s, channels=s.channels)
                         for s in seizures])
    assert 1.7 <= np.median(measured) <= 2.4
    assert np.mean(measured < 1.5) >= 0.30
    assert np.mean(measured < 1.0) >= 0.1
    hard = insert_seizures(x, fs, rng=rng_seed, n_seizures=40, min_gap_s=60.0, difficulty="hard")[1]
    assert np.median([s.target_ratio for s in hard]) < np.median([s.target_ratio for s in seizures])


def test_insert_seizures_at_given_onsets_and_channels(rng_seed):
    fs = 256.0
    x = _pink(np.random.default_rng(rng_seed), int(400 * fs), 8, fs)
    y, seizures = insert_seizures(x, fs, rng=rng_seed, onsets=[250.0, 40.0], kinds="subtle_focal",
                                  channels_involved=[5, 2], min_gap_s=60.0)
    assert [s.onset_s for s in seizures] == [40.0, 250.0]
    assert seizures[0].offset_s <= 250.0 - 60.0
    for s in seizures:
        assert s.kind == "subtle_focal" and set(s.channels) == {2, 5} and s.field[5] == 1.0
        assert s.field[0] == 0.0 and np.array_equal(y[:, 0], x[:, 0])
    everywhere = insert_seizures(x, fs, rng=rng_seed, n_seizures=1, channels_involved="all")[1][0]
    assert everywhere.channels == tuple(range(8))
    three = insert_seizures(x, fs, rng=rng_seed, n_seizures=1, channels_involved=3)[1][0]
    assert len(three.channels) == 3 and max(three.channels) - min(three.channels) == 2
    record = three.as_dict()
    assert record["duration_s"] == pytest.approx(three.offset_s - three.onset_s)
    assert json.loads(json.dumps(record))["channels"] == list(three.channels)


def test_insert_seizures_into_two_minute_files(rng_seed):
    fs = 200.0
    x = _pink(np.random.default_rng(rng_seed), int(120 * fs), 2, fs)
    for seed in range(5):
        y, (s,) = insert_seizures(x, fs, rng=seed + 10 * rng_seed, n_seizures=1)
        assert 30.0 <= s.onset_s and s.offset_s <= 120.0 and 10.0 <= s.duration_s <= 60.0 + 1 / fs


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(x=np.zeros(1000)), "shaped \\(n_samples, n_channels\\)"),
    (dict(x=np.zeros((20000, 65))), "1-64 channels"),
    (dict(fs=50.0), "fs must be a number in the range \\[100.0, 1024.0\\]"),
    (dict(x=np.full((20000, 2), np.nan)), "NaN"),
    (dict(x=np.zeros((5000, 2))), "needs at least 41 s"),
    (dict(n_seizures=None), "exactly one of n_seizures and onsets"),
    (dict(onsets=[50.0]), "exactly one of n_seizures and onsets"),
    (dict(n_seizures=30), "do not fit"),
    (dict(n_seizures=None, onsets=[10.0]), "onsets must be a number in the range \\[30.0"),
    (dict(n_seizures=None, onsets=[40.0, 45.0]), "leaves no room"),
    (dict(kinds=["focal_evolvin"]), "Did you mean 'focal_evolving'"),
    (dict(difficulty="tough"), "'difficulty' parameter"),
    (dict(channels_involved=[0, 0]), "distinct channel indices"),
    (dict(channels_involved=[2]), "channels_involved index must be an integer in the range \\[0, 1\\]"),
    (dict(channels_involved="some"), "Allowed values are 'all'"),
])
def test_insert_seizures_errors(kwargs, match):
    args = dict(x=np.random.default_rng(0).standard_normal((int(100 * 200), 2)), fs=200.0, rng=0, n_seizures=1)
    args.update(kwargs)
    x, fs = args.pop("x"), args.pop("fs")
    with pytest.raises(EegmonError, match=match):
        insert_seizures(x, fs, **args)


# ----------------------------------------------------------------------------- the measurements

def _naive_ratio(x, fs, onset_s, offset_s, channel):
    """The ratio written out plainly, on the whole band-passed array."""
    y = signal.sosfiltfilt(signal.butter(4, [1.0, 40.0], btype="bandpass", fs=fs, output="sos"),
                           x[:, channel] - x[:, channel].mean())
    n = int(2 * fs)
    i0, i1 = int(onset_s * fs), int(offset_s * fs)
    base = [np.sqrt(np.mean(y[i - n:i] ** 2)) for i in range(i0, max(i0 - int(300 * fs), 0) + n - 1, -n)]
    ictal = [np.sqrt(np.mean(y[i:i + n] ** 2)) for i in range(i0, i1 - n + 1, n)]
    return np.median(ictal) / np.median(base)


def test_seizure_rms_ratio_matches_a_plain_implementation(rng_seed):
    fs = 200.0
    rng = np.random.default_rng(rng_seed)
    x = rng.standard_normal((int(600 * fs), 2)) * 5
    x[int(400 * fs):int(450 * fs), 1] *= 3
    assert measure.seizure_rms_ratio(x, fs, 400, 450, channels=[1]) == pytest.approx(
        _naive_ratio(x, fs, 400, 450, 1), rel=0.02)
    assert measure.seizure_rms_ratio(x, fs, 400, 450) == pytest.approx(3.0, rel=0.1)
    assert measure.seizure_rms_ratio(x, fs, 400, 450, channels=[0]) == pytest.approx(1.0, rel=0.1)
    with pytest.raises(EegmonError, match="needs a 2-s window"):
        measure.seizure_rms_ratio(x, fs, 1.0, 50.0)


def test_artifact_finder_finds_each_kind_where_it_is(rng_seed):
    fs = 256.0
    rng = np.random.default_rng(rng_seed)
    sos = signal.butter(1, [1, 40], "bandpass", fs=fs, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal((int(240 * fs), 2)), axis=0) * 10
    t = np.arange(x.shape[0]) / fs
    x[:, 0] += 300 * np.exp(-0.5 * ((t - 50.5) / 0.1) ** 2)                      # a blink at 50.5 s
    burst = (t > 120.2) & (t < 121.8)
    x[burst, 1] += 80 * signal.sosfilt(signal.butter(4, 30, "highpass", fs=fs, output="sos"),
                                       rng.standard_normal(burst.sum()))          # EMG at 120-122 s
    x[t > 200.5, 0] += 200 * np.exp(-(t[t > 200.5] - 200.5) / 0.1)               # a pop at 200.5 s
    found = measure.find_artifacts(x, fs)
    assert any(k == "slow" and a <= 50.5 < b for a, b, k in found)
    assert any(k == "emg" and a <= 121.0 < b for a, b, k in found)
    assert any(k == "jump" and a <= 200.5 < b for a, b, k in found)
    assert len(found) <= 8


# ----------------------------------------------------------------------------- against real recordings

@needs_muse
def test_insert_seizures_into_real_muse_recordings():
    files = sorted(MUSE.glob("*/*.edf"))[::20]
    for i, path in enumerate(files):
        edf = edfio.read_edf(path)
        x = np.stack([s.data for s in edf.signals], axis=1)
        y, seizures = insert_seizures(x, 256.0, rng=i, n_seizures=1)
        s = seizures[0]
        assert s.offset_s <= x.shape[0] / 256.0
        ratio = measure.seizure_rms_ratio(y, 256.0, s.onset_s, s.offset_s, channels=s.channels)
        assert ratio == pytest.approx(s.target_ratio, rel=0.05), path.name


@needs_muse
def test_awake_simulation_looks_like_muse_tp9_tp10(tmp_path):
    files = sorted(MUSE.glob("*/*.edf"))[::6]
    real = [np.stack([s.data for s in edfio.read_edf(f).signals], axis=1)[:, [0, 3]] for f in files]
    simulate(tmp_path / "s", days=0.12, seed=8, seizures_per_day=0, quiet=True)
    sim = []
    for path in sorted((tmp_path / "s").glob("*.edf")):
        x = np.stack([s.data for s in edfio.read_edf(path).signals], axis=1)
        sim += [x[i:i + int(240 * FS)] for i in range(0, x.shape[0] - int(240 * FS) + 1, int(240 * FS))]

    def stats(chunks, fs):
        rows = [{**measure.spectral_shape(x, fs), **measure.amplitude_stats(x, fs)} for x in chunks]
        return {k: np.median([r[k] for r in rows]) for k in rows[0]}

    r, s = stats(real, 256.0), stats(sim, FS)
    assert abs(s["rel_delta"] - r["rel_delta"]) < 0.15
    assert abs(s["rel_theta"] - r["rel_theta"]) < 0.08
    assert abs(s["slope"] - r["slope"]) < 0.5
    assert abs(s["log_rms_sd"] - r["log_rms_sd"]) < 0.2
    assert 1.5 < s["rms_p95"] and s["kurtosis"] > 5  # heavy tails, as in real recordings
