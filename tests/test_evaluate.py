"""SzCORE evaluation: counting rules, latency, pooling, NEDC conventions, pairing and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eegmon.errors import EegmonError
from eegmon.evaluate import evaluate, score_recording
from eegmon.evaluate.nedc import ovlp_counts, taes_counts
from eegmon.events import Annotation
from eegmon.io.events_tsv import write_events_tsv

START = 1_736_150_400.0  # 2025-01-06 08:00 UTC
HOUR = 3600.0


def counts(ref, hyp, duration=4 * HOUR):
    s = score_recording(ref, hyp, duration)
    return s.event.tp, s.event.fp


@pytest.mark.parametrize(
    ("ref", "hyp", "tp", "fp"),
    [
        ([(100, 160)], [(120, 130)], 1, 0),  # inside the seizure
        ([(100, 160)], [(75, 80)], 1, 0),  # up to 30 s early is a hit
        ([(100, 160)], [(215, 230)], 1, 0),  # up to 60 s after offset is a hit
        ([(100, 160)], [(1000, 1010)], 0, 1),  # elsewhere: a false alarm
        ([], [(1000, 2200)], 0, 4),  # a 20-minute false alarm is split into four (PITFALLS.md)
        ([(1000, 1060)], [(990, 1890)], 1, 2),  # a 900-s detection covering a seizure: 1 TP + 2 FP
        ([(1000, 1060)], [(700, 1600)], 1, 1),  # ... but only 1 FP when the seizure sits mid-detection
        ([(100, 160), (210, 240)], [(230, 235)], 1, 0),  # reference events 50 s apart merge into one
        ([(100, 160)], [], 0, 0),
    ],
)
def test_szcore_event_rules(ref, hyp, tp, fp):
    assert counts(ref, hyp) == (tp, fp)


def test_no_detections_gives_f1_zero_and_perfect_hypothesis_gives_one():
    assert score_recording([(100, 160)], [], HOUR).event.metrics()["f1"] == 0.0
    perfect = score_recording([(100, 160), (2000, 2100)], [(100, 160), (2000, 2100)], HOUR)
    m = perfect.event.metrics()
    assert m["sensitivity"] == m["precision"] == m["f1"] == 1.0 and m["fp_per_24h"] == 0.0
    assert perfect.latencies == [0.0, 0.0]


def test_sample_scoring_counts_seconds():
    s = score_recording([(100, 160)], [(130, 190)], HOUR)
    assert s.sample.tp == 30 and s.sample.fp == 30 and s.sample.n_ref == 60
    assert s.sample.metrics()["fp_per_24h"] == pytest.approx(30 * 24)


def test_latency_sign_and_value():
    s = score_recording([(1000, 1060), (5000, 5100)], [(1012, 1100), (4980, 5010), (9000, 9010)], 3 * HOUR)
    assert s.latencies == [12.0, -20.0]
    assert s.event.tp == 2 and s.event.fp == 1


def _reference_szcore(ref, hyp, duration):
    """SzCORE counting written from its definition, at 0.1-s resolution, for comparison."""

    def merge(ev):
        out = []
        for a, b in sorted(ev):
            if out and a - out[-1][1] < 90:
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
        return out

    def split(ev):
        out = []
        for a, b in ev:
            while b - a > 300:
                out.append((a, a + 300))
                a += 300
            out.append((a, b))
        return out

    ref, hyp = split(merge(ref)), split(merge(hyp))
    n = int(duration * 10)
    hyp_mask = np.zeros(n, bool)
    for a, b in hyp:
        hyp_mask[round(a * 10):round(b * 10)] = True
    tp_mask = np.zeros(n, bool)
    tp = 0
    for a, b in ref:
        lo, hi = round(max(0, a - 30) * 10), round(min(duration, b + 60) * 10)
        if hyp_mask[lo:hi].any():
            tp += 1
            tp_mask[lo:hi] = True
    fp = sum(not tp_mask[round(a * 10):round(b * 10)].any() for a, b in hyp)
    return tp, fp


events = st.lists(st.tuples(st.integers(0, 700), st.integers(1, 90)), max_size=6).map(
    lambda xs: sorted({(10.0 * a, 10.0 * a + 10.0 * d) for a, d in xs}))


def _disjoint(ev):
    out = []
    for a, b in ev:
        if not out or a > out[-1][1]:
            out.append((a, b))
    return out


@settings(max_examples=150, deadline=None)
@given(ref=events, hyp=events)
def test_counts_match_a_from_scratch_szcore(ref, hyp):
    ref, hyp = _disjoint(ref), _disjoint(hyp)
    duration = 8000.0
    assert counts(ref, hyp, duration) == _reference_szcore(ref, hyp, duration)


def test_nedc_ovlp_and_taes_by_hand():
    ref = [(100, 200), (1000, 1100)]
    hyp = [(150, 250), (5000, 5010)]
    assert ovlp_counts(ref, hyp) == (1.0, 1.0)
    tp, fp = taes_counts(ref, hyp)
    assert tp == pytest.approx(0.5)  # half of the first seizure overlapped, none of the second
    assert fp == pytest.approx(0.5 + 1.0)  # 50 s outside relative to a 100-s seizure, plus a lone false alarm


def _write(folder, name, seizures, start=START, duration=4 * HOUR):
    folder.mkdir(parents=True, exist_ok=True)
    evs = [Annotation(onset=start + a, duration=b - a, label="sz") for a, b in seizures]
    write_events_tsv(folder / name, evs, start, duration)


def _dataset(tmp_path):
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    truth = {
        "sub-01/eeg/sub-01_task-szMonitoring_run-00_events.tsv": [(600, 660), (7000, 7090)],
        "sub-01/eeg/sub-01_task-szMonitoring_run-01_events.tsv": [],
        "sub-02/eeg/sub-02_task-szMonitoring_run-00_events.tsv": [(3000, 3050)],
    }
    detected = {
        "sub-01/eeg/sub-01_task-szMonitoring_run-00_events.tsv": [(610, 640), (9000, 9020)],
        "sub-02/eeg/sub-02_task-szMonitoring_run-00_events.tsv": [(3040, 3060)],
    }
    for rel, ev in truth.items():
        _write(ref / rel.rsplit("/", 1)[0], rel.rsplit("/", 1)[1], ev)
    for rel, ev in detected.items():
        _write(hyp / rel.rsplit("/", 1)[0], rel.rsplit("/", 1)[1], ev)
    (ref / "sub-01/eeg/sub-01_task-szMonitoring_run-00_artifacts.tsv").write_text("not read\n")
    return ref, hyp


def test_folders_pair_by_path_pool_and_split_by_subject(tmp_path):
    ref, hyp = _dataset(tmp_path)
    ev = evaluate(ref, hyp)
    doc = ev.to_json()
    assert doc["event"]["n_ref"] == 3 and doc["event"]["n_hyp"] == 3
    # sub-01 misses its 7000-s seizure and has a false alarm at 9000 s; sub-02 is detected 40 s late
    assert doc["event"]["sensitivity"] == pytest.approx(2 / 3)
    assert doc["event"]["precision"] == pytest.approx(2 / 3)
    assert doc["event"]["hours"] == pytest.approx(12.0)
    assert doc["event"]["fp_per_24h"] == pytest.approx(1 / 0.5)
    subjects = {s["subject"]: s for s in doc["per_subject"]}
    assert set(subjects) == {"01", "02"}
    assert subjects["02"]["event"]["latency_median_s"] == 40.0
    assert subjects["01"]["event"]["hours"] == pytest.approx(8.0)


def test_json_has_exactly_the_convention_keys(tmp_path):
    ref, hyp = _dataset(tmp_path)
    doc = evaluate(ref, hyp).to_json()
    assert set(doc) == {"event", "sample", "per_subject"}
    assert set(doc["event"]) == {"sensitivity", "precision", "f1", "fp_per_24h", "latency_median_s", "n_ref",
                                 "n_hyp", "hours"}
    assert set(doc["sample"]) == {"sensitivity", "precision", "f1", "fp_per_24h"}
    assert set(doc["per_subject"][0]) == {"subject", "event", "sample"}


def test_bootstrap_intervals(tmp_path):
    ref, hyp = _dataset(tmp_path)
    ci = evaluate(ref, hyp).bootstrap(n_boot=300)
    low, high = ci["event"]["sensitivity"]
    assert 0.5 <= low < high == 1.0  # subjects detect 1/2 and 1/1 of their seizures
    lo_fp, hi_fp = ci["event"]["fp_per_24h"]
    assert lo_fp <= 2.0 <= hi_fp
    single = evaluate(ref / "sub-02/eeg/sub-02_task-szMonitoring_run-00_events.tsv",
                      hyp / "sub-02/eeg/sub-02_task-szMonitoring_run-00_events.tsv")
    assert single.bootstrap()["event"]["f1"] is None


def test_pairing_errors(tmp_path):
    ref, hyp = _dataset(tmp_path)
    _write(hyp / "sub-09", "sub-09_task-x_events.tsv", [])
    with pytest.raises(EegmonError, match="no reference file"):
        evaluate(ref, hyp)
    shifted = tmp_path / "shifted"
    _write(shifted, "a_events.tsv", [], start=START + 3600)
    with pytest.raises(EegmonError, match="dateTime differs"):
        evaluate(ref / "sub-02/eeg/sub-02_task-szMonitoring_run-00_events.tsv", shifted / "a_events.tsv")
    with pytest.raises(EegmonError, match="both be files or both be folders"):
        evaluate(ref, shifted / "a_events.tsv")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "eegmon.cli", "evaluate", *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_json_report_and_fail_under(tmp_path):
    ref, hyp = _dataset(tmp_path)
    out, report, details = tmp_path / "s.json", tmp_path / "r.html", tmp_path / "d.json"
    proc = run_cli("--ref", str(ref), "--hyp", str(hyp), "--json", str(out), "--report", str(report),
                   "--details", str(details))
    assert proc.returncode == 0, proc.stderr
    assert "sensitivity" in proc.stdout
    assert json.loads(out.read_text()) == evaluate(ref, hyp).to_json()
    html = report.read_text()
    assert html.count("data:image/png;base64,") == 3 and "Per subject" in html and "NEDC" in html
    full = json.loads(details.read_text())
    assert set(full["nedc"]) == {"ovlp", "taes"} and full["latency_iqr_s"] is not None
    failing = run_cli("--ref", str(ref), "--hyp", str(hyp), "--fail-under", "0.99")
    assert failing.returncode == 1
    missing = run_cli("--ref", str(tmp_path / "nope"), "--hyp", str(hyp))
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1 and "nope" in missing.stderr


def test_simulated_truth_scored_against_itself_is_perfect(tmp_path):
    from eegmon.demo import sample_dir

    sample = sample_dir()
    ev = evaluate(sample, sample).to_json()
    assert ev["event"]["n_ref"] == 4 and ev["event"]["f1"] == 1.0 and ev["event"]["fp_per_24h"] == 0.0
    assert ev["sample"]["f1"] == 1.0
