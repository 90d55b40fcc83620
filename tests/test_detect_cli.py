"""eegmon detect / train / crossval end to end on real files (EDF written and read back, real archives)."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import subprocess
import sys

import edfio
import numpy as np
import pytest
from eegmon.detectors import load_model

from eegmon.demo import sample_dir
from eegmon.evaluate import evaluate
from eegmon.simulate import simulate

SAMPLE = sample_dir()


def cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "eegmon.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("detector", ["classifier", "line-length"])
def test_detect_device_folder_finds_the_sample_seizures(tmp_path, detector):
    out = tmp_path / "hyp"
    proc = cli("detect", SAMPLE, "--detector", detector, "-o", out)
    assert "seizure detection(s)" in proc.stdout
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(p.stem + "_events.tsv" for p in SAMPLE.glob("*.edf"))
    doc = evaluate(SAMPLE, out).to_json()["event"]
    assert doc["sensitivity"] >= 0.75 and doc["n_ref"] == 4
    assert doc["latency_median_s"] <= 10


def test_detect_single_tsv_output(tmp_path):
    out = tmp_path / "all_events.tsv"
    cli("detect", SAMPLE, "-o", out, "-q")
    rows = out.read_text().splitlines()
    assert rows[0].startswith("onset\tduration\teventType") and len(rows) >= 4
    assert all(r.split("\t")[5] == "2025-01-06 21:00:00" for r in rows[1:])


def test_detect_stores_detections_in_the_archive_once(tmp_path):
    from eegmon.archive import Archive

    arc = tmp_path / "p.h5"
    cli("import", SAMPLE, "-o", arc, "-q")
    cli("detect", arc, "-q")
    with Archive.open(arc) as a:
        first = a.detections()
    assert len(first) >= 3
    assert {d.source for d in first} == {"detector:classifier"} and {d.status for d in first} == {"unreviewed"}
    cli("detect", arc, "-q")
    with Archive.open(arc) as a:
        assert len(a.detections()) == len(first)


def test_train_then_detect_at_another_rate(tmp_path):
    model = tmp_path / "patient.eegmon-model"
    proc = cli("train", SAMPLE, "-o", model, "--trees", "20")
    assert "trained on 1 recording(s)" in proc.stdout
    meta = load_model(model)
    assert meta.fs == 207.0 and meta.training["seizures"] == 4 and meta.prior is not None
    other = tmp_path / "sim256"
    # the same kind of data as the sample it was trained on, at another rate
    simulate(other, days=0.25, fs=256.0, seizures_per_day=12, seed=5, quiet=True, n_jobs=1, difficulty="easy")
    out = tmp_path / "hyp"
    cli("detect", other, "--model", model, "-o", out, "-q")
    doc = evaluate(other, out).to_json()["event"]
    assert doc["n_ref"] >= 1 and doc["sensitivity"] >= 0.5


def test_clinical_19_channel_100hz_edf(tmp_path):
    fs, n_ch, seconds = 100, 19, 900
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(0, 1, (seconds * fs, n_ch)), axis=0)
    x -= np.convolve(x[:, 0], np.ones(200) / 200, "same")[:, None]
    x = 10 * x / x.std() + rng.normal(0, 2, x.shape)  # not flat once written as int16
    t = np.arange(60 * fs) / fs
    x[400 * fs:460 * fs, 3:6] += 150 * np.sin(2 * np.pi * 3 * t)[:, None]
    names = [f"EEG{i:02d}" for i in range(n_ch)]
    sigs = [edfio.EdfSignal(x[:, i], fs, label=names[i], physical_dimension="uV", physical_range=(-3000, 3000))
            for i in range(n_ch)]
    path = tmp_path / "clinical.edf"
    edfio.Edf(sigs, starttime=dt.time(10, 0), recording=edfio.Recording(startdate=dt.date(2024, 3, 1))).write(path)
    out = tmp_path / "clinical_events.tsv"
    cli("detect", path, "--detector", "line-length", "-o", out, "-q")
    rows = [r.split("\t") for r in out.read_text().splitlines()[1:]]
    onsets = [float(r[0]) for r in rows if r[2] == "sz"]
    assert any(390 <= o <= 410 for o in onsets)
    cli("detect", path, "-o", tmp_path / "clf_events.tsv", "-q")  # the generic model resamples 100 -> 207 Hz


def test_crossval_loso_on_the_sample(tmp_path):
    out = tmp_path / "cv.json"
    proc = cli("crossval", SAMPLE, "--scheme", "loso", "--trees", "15", "--json", out)
    assert "loso: 4 folds" in proc.stdout
    doc = json.loads(out.read_text())
    assert doc["scheme"] == "loso" and len(doc["folds"]) == 4
    assert all(f["test_seizures"] == 1 and f["train_seizures"] == 3 for f in doc["folds"])
    assert set(doc["event"]) >= {"sensitivity", "fp_per_24h"}
    lopo = cli("crossval", SAMPLE, "--scheme", "lopo", check=False)
    assert lopo.returncode == 2 and "at least two patients" in lopo.stderr


def test_bad_inputs_exit_2(tmp_path):
    missing = cli("detect", tmp_path / "nope.edf", check=False)
    assert missing.returncode == 2 and "nope.edf" in missing.stderr and len(missing.stderr.splitlines()) == 1
    evil = tmp_path / "evil.eegmon-model"
    evil.write_bytes(pickle.dumps({"x": 1}))
    refused = cli("detect", SAMPLE, "--model", evil, check=False)
    assert refused.returncode == 2 and "not an eegmon model file" in refused.stderr
    typo = cli("detect", SAMPLE, "--detector", "linelength", check=False)
    assert typo.returncode == 2 and "Did you mean 'line-length'" in typo.stderr
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"this is not an EDF file at all" * 20)
    bad = cli("detect", junk, check=False)
    assert bad.returncode == 2 and "junk.edf" in bad.stderr


def test_detect_stores_a_probability_trend_the_viewer_shows(tmp_path):
    from eegmon.viewer.model import ViewerModel

    from eegmon.archive import Archive

    arc = tmp_path / "t.h5"
    cli("import", SAMPLE, "-o", arc, "-q")
    cli("detect", arc, "-q")
    with Archive.open(arc) as a:
        trends = a.trends()
        assert set(trends) == {"detector:classifier"}
        times, values = trends["detector:classifier"]
        assert np.all(np.diff(times) >= 60) and values.min() >= 0 and values.max() > 0.9
        onsets = [d.onset for d in a.detections()]
        assert any(abs(t - onsets[0]) < 120 and v > 0.5 for t, v in zip(times, values, strict=True))
        model = ViewerModel(a)
        x, trend = model.trend(400)
        assert np.nanmax(trend) == pytest.approx(values.max())
        assert np.nanmin(trend) >= 0 and np.isfinite(trend).sum() > 300
