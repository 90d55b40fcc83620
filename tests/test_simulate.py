"""The simulator: determinism, readable EDF+, consistent truth and realistic statistics.

The default difficulty is ``realistic`` (tests/test_simulate_realism.py checks what is new in it);
the checks of the original simulator's signals run on ``difficulty="easy"``, which is that
simulator sample for sample.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import json
import subprocess
import sys
from pathlib import Path

import edfio
import mne
import numpy as np
import pytest
from scipy import signal

from eegmon.errors import EegmonError
from eegmon.io.events_tsv import read_events_tsv
from eegmon.simulate import ARTIFACT_TYPES, LEGACY_ARTIFACT_TYPES, SEIZURE_TYPES, SimulationConfig, simulate
from eegmon.simulate import signals as sig
from eegmon.simulate.timeline import DAY, plan

FS = 207.0
DIGITAL_MAX = 32767


@pytest.fixture(scope="module")
def sim3(tmp_path_factory) -> Path:
    """The issue's check: `eegmon simulate OUT --days 3 --seed 1` through the real CLI."""
    out = tmp_path_factory.mktemp("sim") / "a"
    proc = subprocess.run([sys.executable, "-m", "eegmon.cli", "simulate", str(out), "--days", "3", "--seed", "1",
                           "--quiet"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def truth(sim3) -> dict:
    return json.loads((sim3 / "simulation.json").read_text())


@pytest.fixture(scope="module")
def sim3_easy(tmp_path_factory) -> Path:
    """The same recording at difficulty easy: the original simulator."""
    out = tmp_path_factory.mktemp("sim") / "easy"
    simulate(out, days=3, seed=1, difficulty="easy", quiet=True)
    return out


@pytest.fixture(scope="module")
def truth_easy(sim3_easy) -> dict:
    return json.loads((sim3_easy / "simulation.json").read_text())


def _load(path: Path) -> tuple[float, np.ndarray, np.ndarray]:
    edf = edfio.read_edf(path)
    start = edf.startdatetime.replace(tzinfo=dt.UTC).timestamp()
    digital = np.stack([s.digital for s in edf.signals], axis=1)
    return start, digital, digital * (1000.0 / DIGITAL_MAX)


def test_same_seed_gives_identical_files_whatever_the_workers(sim3, tmp_path):
    again = tmp_path / "b"
    simulate(again, days=3, seed=1, n_jobs=1, quiet=True)
    names = sorted(p.name for p in sim3.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(sim3, again, names, shallow=False)
    assert mismatch == [] and errors == []
    assert len(match) == len(names) >= 7


def test_other_seed_differs(sim3, tmp_path):
    other = tmp_path / "c"
    simulate(other, days=0.05, seed=2, quiet=True)
    first = sorted(other.glob("*.edf"))[0]
    assert not filecmp.cmp(first, sorted(sim3.glob("*.edf"))[0], shallow=False)


def test_edf_files_open_in_mne_and_edfio_with_the_right_header(sim3, truth):
    files = truth["files"]
    assert 3 <= len(files) <= 8, "about one file per day, split by charging gaps and dropouts"
    for entry in files:
        path = sim3 / entry["name"]
        raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
        assert raw.ch_names == ["E1-E2", "E2-E3"]
        assert raw.info["sfreq"] == FS
        start = dt.datetime.fromisoformat(entry["start"])
        assert raw.info["meas_date"] == start
        assert raw.n_times == int(entry["duration_s"] * FS)
        edf = edfio.read_edf(path)
        assert edf.labels == ("E1-E2", "E2-E3")
        assert edf.signals[0].physical_dimension == "uV"
        assert edf.signals[0].sampling_frequency == FS
        assert edf.startdatetime.replace(tzinfo=dt.UTC) == start
        assert edf.version == 0 and edf.reserved.startswith("EDF+C")
        assert edf.signals[0].digital.dtype == np.int16
        assert path.name == f"sim01_{start:%Y%m%d_%H%M%S}.edf"
    starts = [dt.datetime.fromisoformat(f["start"]).timestamp() for f in files]
    ends = [s + f["duration_s"] for s, f in zip(starts, files, strict=True)]
    assert all(e <= s for e, s in zip(ends[:-1], starts[1:], strict=True)), "files never overlap"
    assert len(truth["gaps"]) == len(files) - 1
    assert any(g["kind"].startswith("charging") for g in truth["gaps"])


def test_events_fall_inside_recorded_time(sim3, truth):
    n_sz = 0
    for entry in truth["files"]:
        path = sim3 / entry["name"]
        start = dt.datetime.fromisoformat(entry["start"]).timestamp()
        for kind in ("events", "artifacts"):
            table = read_events_tsv(path.with_name(path.stem + f"_{kind}.tsv"))
            assert table.recording_start == start
            assert table.recording_duration == entry["duration_s"]
            for ev in table.events:
                assert start <= ev.onset and ev.offset <= start + entry["duration_s"]
            if kind == "events":
                n_sz += len(table.events)
                assert all(ev.label == "sz" for ev in table.events)
            else:
                # the new types are not (yet) in eegmon's label vocabulary: readers keep them as written
                assert {ev.original_label for ev in table.events} <= set(ARTIFACT_TYPES)
    assert n_sz == len(truth["seizures"]) >= 2
    assert truth["difficulty"] == "realistic"
    assert all(0.3 <= s["target_ratio"] <= 20 for s in truth["seizures"])


def test_seizure_free_file_has_one_bckg_row(tmp_path):
    simulate(tmp_path / "q", days=0.05, seed=3, seizures_per_day=0, quiet=True)
    tsv = next((tmp_path / "q").glob("*_events.tsv"))
    rows = tsv.read_text().splitlines()
    assert len(rows) == 2 and rows[1].split("\t")[2] == "bckg"
    assert read_events_tsv(tsv).events == []


def _line_length(x):
    return np.mean(np.abs(np.diff(x, axis=0)))


def test_easy_seizures_stand_out_from_their_baseline(sim3_easy, truth_easy):
    checked = 0
    assert truth_easy["difficulty"] == "easy"
    for sz in truth_easy["seizures"]:
        assert sz["target_ratio"] is None
        if sz["hard"]:
            continue
        start, _, uv = _load(sim3_easy / sz["file"])
        i0 = int((sz["onset_unix_s"] - start) * FS)
        i1 = i0 + int(sz["duration_s"] * FS)
        focus = int(np.argmax(sz["field"]))
        base = uv[max(i0 - int(300 * FS), 0):i0, focus]
        assert _line_length(uv[i0:i1, focus]) > 1.5 * _line_length(base), sz
        checked += 1
    assert checked >= 1


def _dominant(x, fs):
    f, p = signal.welch(x, fs=fs, nperseg=min(len(x), int(4 * fs)))
    band = (f > 1.0) & (f < 30.0)
    return f[band][np.argmax(p[band])]


@pytest.mark.parametrize("kind", list(SEIZURE_TYPES))
def test_seizure_rhythm_slows_and_grows(kind, rng_seed):
    rng = np.random.default_rng(rng_seed)
    duration = 90.0
    x = sig.seizure(rng, kind, duration, FS, 100.0)
    assert x.shape == (int(duration * FS),)
    third = x.size // 3
    early, late = x[third // 3: third], x[-third:]
    assert _dominant(late, FS) < _dominant(early, FS)
    def peak_to_peak(x):
        return np.percentile(x, 99) - np.percentile(x, 1)

    assert peak_to_peak(late) > peak_to_peak(early)


def test_background_spectrum_follows_a_power_law(rng_seed):
    cfg = SimulationConfig()
    bg = sig.Background(np.random.default_rng(rng_seed), cfg, FS, 2)
    n = int(600 * FS)
    x = bg.block(n, np.ones(n), np.zeros(n), np.zeros(n))
    f, p = signal.welch(x[:, 0], fs=FS, nperseg=2048)
    band = (f >= 2) & (f <= 40)
    slope = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
    assert -cfg.background_exponent - 0.4 < slope < -cfg.background_exponent + 0.4
    assert np.corrcoef(x[:, 0], x[:, 1])[0, 1] == pytest.approx(cfg.channel_correlation, abs=0.1)
    assert np.std(x) == pytest.approx(cfg.background_uv, rel=0.15)


def test_alpha_when_awake_slow_waves_when_asleep(rng_seed):
    cfg = SimulationConfig()
    n = int(300 * FS)
    ones, zeros = np.ones(n), np.zeros(n)
    awake = sig.Background(np.random.default_rng(rng_seed), cfg, FS, 1).block(n, ones, ones, zeros)[:, 0]
    asleep = sig.Background(np.random.default_rng(rng_seed), cfg, FS, 1).block(n, ones, zeros, ones)[:, 0]

    def band_power(x, lo, hi):
        f, p = signal.welch(x, fs=FS, nperseg=2048)
        return p[(f >= lo) & (f < hi)].sum()

    assert band_power(awake, 8, 12) > 3 * band_power(asleep, 8, 12)
    assert band_power(asleep, 0.5, 2.5) > 3 * band_power(awake, 0.5, 2.5)


def _power(x, lo, hi):
    f, p = signal.periodogram(x - x.mean(), fs=FS)
    return p[(f >= lo) & (f < hi)].sum() / max(p.sum(), 1e-12)


def test_easy_artifacts_appear_where_labelled(sim3_easy, truth_easy):
    sim3, truth = sim3_easy, truth_easy
    seen = set()
    cache: dict[str, tuple] = {}
    baselines: dict[str, float] = {}
    for art in truth["artifacts"]:
        name = next(f["name"] for f in truth["files"]
                    if dt.datetime.fromisoformat(f["start"]).timestamp() <= art["onset_unix_s"]
                    < dt.datetime.fromisoformat(f["start"]).timestamp() + f["duration_s"])
        if name not in cache:
            cache.clear()
            cache[name] = _load(sim3 / name)
        start, digital, uv = cache[name]
        i0 = int(round((art["onset_unix_s"] - start) * FS))
        i1 = i0 + int(round(art["duration_s"] * FS))
        ch = ["E1-E2", "E2-E3"].index(art["channels"][0])
        seg_d, seg = digital[i0:i1, ch], uv[i0:i1, ch]
        before = uv[max(i0 - int(60 * FS), 0):i0, ch]
        if name not in baselines:  # typical 20-100 Hz RMS of this file, robust to the artifacts in it
            high = signal.sosfilt(signal.butter(4, 20, "highpass", fs=FS, output="sos"), uv[:, ch])
            windows = high[: high.size // 2070 * 2070].reshape(-1, 2070)
            baselines[name] = np.median(np.sqrt(np.mean(windows**2, axis=1)))
        kind = art["type"]
        overlapped = any(o is not art and o["type"] in ("flat", "clip") and o["onset_unix_s"] < art["onset_unix_s"]
                         + art["duration_s"] and art["onset_unix_s"] < o["onset_unix_s"] + o["duration_s"]
                         for o in truth["artifacts"])
        if overlapped and kind not in ("flat", "clip"):
            continue
        if kind == "flat":
            assert np.all(digital[i0:i1] == 0)
        elif kind == "clip":
            assert np.any(np.abs(seg_d) == DIGITAL_MAX)
        elif kind == "line":
            assert _power(seg, 48, 52) > 0.3
        elif kind in ("musc", "chew"):
            high = signal.sosfilt(signal.butter(4, 20, "highpass", fs=FS, output="sos"), seg)
            assert np.sqrt(np.mean(high**2)) > 2 * baselines[name]
        elif kind == "move":
            assert np.std(seg) > 2 * np.std(before)
        elif kind == "elpp":
            assert np.max(np.abs(seg)) > 4 * np.std(before)
        seen.add(kind)
    assert seen == set(LEGACY_ARTIFACT_TYPES)


@pytest.mark.parametrize("difficulty", ["easy", "realistic"])
def test_rail_is_only_hit_during_labelled_artifacts_or_seizures(difficulty, request):
    sim3 = request.getfixturevalue("sim3_easy" if difficulty == "easy" else "sim3")
    truth = request.getfixturevalue("truth_easy" if difficulty == "easy" else "truth")
    # easy: only the large legacy types reach the rail; realistic artifacts of every size may
    kinds = ("clip", "move", "elpp") if difficulty == "easy" else tuple(ARTIFACT_TYPES)
    labelled = [(a["onset_unix_s"], a["onset_unix_s"] + a["duration_s"]) for a in truth["artifacts"]
                if a["type"] in kinds]
    labelled += [(s["onset_unix_s"], s["onset_unix_s"] + s["duration_s"]) for s in truth["seizures"]]
    for entry in truth["files"]:
        start, digital, _ = _load(sim3 / entry["name"])
        railed = np.flatnonzero(np.any(np.abs(digital) == DIGITAL_MAX, axis=1)) / FS + start
        inside = [any(a - 1 <= t <= b + 1 for a, b in labelled) for t in railed[:: max(1, railed.size // 200)]]
        assert all(inside)


def test_seizure_times_follow_circadian_and_multiday_cycles():
    cfg = SimulationConfig()
    tl = plan(cfg, start=1736121600.0, days=365, record_s=1.0, seizures_per_day=4.0, n_channels=2, seed=5)
    onsets = np.array([s.onset for s in tl.seizures])
    assert onsets.size > 300
    hours = (onsets % DAY) / 3600.0
    near_peak = np.abs(((hours - cfg.circadian_peak_h + 12) % 24) - 12) < 3
    near_trough = np.abs(((hours - cfg.circadian_peak_h) % 24) - 12) < 3
    assert near_peak.sum() > 2.5 * near_trough.sum()
    phase = (2 * np.pi * onsets / (cfg.multiday_period_days * DAY) + tl.multiday_phase) % (2 * np.pi)
    high = np.cos(phase) > 0.5
    low = np.cos(phase) < -0.5
    assert high.sum() > 1.8 * low.sum()
    assert {s.kind for s in tl.seizures} == set(SEIZURE_TYPES)
    durations = np.array([s.duration for s in tl.seizures])
    assert durations.min() >= 20 and durations.max() <= 180


def test_gaps_are_minutes_to_hours_and_files_about_a_day():
    tl = plan(SimulationConfig(), start=1736121600.0, days=60, record_s=1.0, seizures_per_day=1.0, n_channels=2,
              seed=9)
    lengths = np.array([g.end - g.start for g in tl.gaps])
    assert lengths.min() >= 60 and lengths.max() <= 6 * 3600
    assert 55 <= sum(g.kind == "charging" for g in tl.gaps) <= 61
    durations = np.array([f.duration for f in tl.files])
    assert durations.max() <= DAY and np.median(durations) > 8 * 3600


def test_config_json_overrides_and_rejects_unknown_fields(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"alpha_uv": 3, "artifact_rates": {"clip": [9, 9]}}))
    cfg = SimulationConfig.from_json(good)
    assert cfg.alpha_uv == 3.0 and cfg.artifact_rates["clip"] == (9, 9) and cfg.artifact_rates["musc"] == (40.0, 6.0)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"alpha_vu": 3}))
    with pytest.raises(EegmonError, match="Did you mean 'alpha_uv'"):
        SimulationConfig.from_json(bad)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(EegmonError, match="not valid JSON"):
        SimulationConfig.from_json(broken)


@pytest.mark.parametrize("fs", [100.0, 250.0, 256.0, 512.5])
def test_other_rates_and_channel_counts(tmp_path, fs):
    if fs < 112:
        with pytest.raises(EegmonError, match="too low for 50.0 Hz line noise"):
            simulate(tmp_path / "x", days=0.02, fs=fs, quiet=True)
        simulate(tmp_path / "x", days=0.02, fs=fs, config=SimulationConfig(line_freq=40.0), quiet=True,
                 overwrite=True)
    else:
        simulate(tmp_path / "x", days=0.02, fs=fs, n_channels=4, seed=1, quiet=True)
        edf = edfio.read_edf(next((tmp_path / "x").glob("*.edf")))
        assert edf.num_signals == 4 and edf.signals[0].sampling_frequency == fs
        assert edf.data_record_duration * fs == int(edf.data_record_duration * fs)


def test_bundled_sample_matches_its_readme_recipe(tmp_path):
    from eegmon.demo import SAMPLE_ARGS, sample_dir

    bundled = sample_dir()
    assert bundled is not None, "sample_data/sim must be committed"
    truth = json.loads((bundled / "simulation.json").read_text())
    assert len(truth["seizures"]) >= 4
    assert {a["type"] for a in truth["artifacts"]} == set(LEGACY_ARTIFACT_TYPES)
    fresh = tmp_path / "sim"
    cfg = SimulationConfig.from_json(bundled.parent / "demo_config.json")
    # the sample was made before difficulties existed: easy re-creates it sample for sample
    simulate(fresh, config=cfg, quiet=True, difficulty="easy", **SAMPLE_ARGS)
    names = sorted(p.name for p in bundled.iterdir() if p.name != "simulation.json")
    _, mismatch, errors = filecmp.cmpfiles(bundled, fresh, names, shallow=False)
    assert mismatch == [] and errors == []
    # simulation.json only gained the new fields (difficulty, target ratios, new config fields)
    again = json.loads((fresh / "simulation.json").read_text())
    assert again.pop("difficulty") == "easy"
    for sz in again["seizures"]:
        assert sz.pop("target_ratio") is None
    new_fields = {"difficulty", "artifact_uv", "background_knee_hz"}
    config = again["parameters"]["config"]
    for name in new_fields:
        config.pop(name)
    config["artifact_rates"] = {k: v for k, v in config["artifact_rates"].items() if k in LEGACY_ARTIFACT_TYPES}
    assert again == truth
