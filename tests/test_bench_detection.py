"""The pure parts of the detection benchmark (benchmarks/bench_detection.py): bounds, scoring, rows."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
bench = pytest.importorskip("bench_detection")

HOUR = 3600.0
T0 = 1_700_000_000.0


@pytest.fixture
def rng(rng_seed):
    return np.random.default_rng(rng_seed)


# --------------------------------------------------------------------------- Poisson bound

def test_poisson_upper_zero_events_is_minus_log_alpha():
    assert bench.poisson_upper(0) == pytest.approx(-math.log(0.05), rel=1e-9)  # 2.996 ~ "3 events"
    assert bench.poisson_upper(0, level=0.99) == pytest.approx(-math.log(0.01), rel=1e-9)


@pytest.mark.parametrize("k", [0, 1, 2, 5, 17, 100])
def test_poisson_upper_is_the_exact_garwood_bound(k):
    from scipy.stats import poisson

    ub = bench.poisson_upper(k)
    # the mean at which seeing k or fewer events has probability 5 %
    assert poisson.cdf(k, ub) == pytest.approx(0.05, abs=1e-9)
    assert ub > k


def test_poisson_upper_increases_with_k_and_rejects_negative():
    ubs = [bench.poisson_upper(k) for k in range(10)]
    assert all(b > a for a, b in zip(ubs, ubs[1:], strict=False))
    with pytest.raises(ValueError, match="k must be >= 0"):
        bench.poisson_upper(-1)


def test_fp_rates_per_hour_and_day():
    r = bench.fp_rates(0, 2.0)
    assert r["fp_per_hour"] == 0.0 and r["fp_per_24h"] == 0.0
    assert r["fp_per_hour_ub95"] == pytest.approx(bench.poisson_upper(0) / 2.0)
    assert r["fp_per_24h_ub95"] == pytest.approx(24 * bench.poisson_upper(0) / 2.0)
    r = bench.fp_rates(3, 6.0)
    assert r["fp_per_hour"] == pytest.approx(0.5) and r["fp_per_24h"] == pytest.approx(12.0)
    assert r["fp_per_24h_ub95"] > r["fp_per_24h"]
    assert bench.fp_rates(1, 0.0) == dict.fromkeys(bench.FP_METRICS)


# --------------------------------------------------------------------------- scoring

def _rec(ref, hyp, *, hours=2.0, gap_s=0.0, name="r1", subject="s1"):
    return bench.Scored(name, subject, T0, T0 + hours * HOUR + gap_s, hours * HOUR,
                        [(T0 + a, T0 + b) for a, b in ref], [(T0 + a, T0 + b) for a, b in hyp])


def test_score_tiny_recording_with_known_events():
    # two seizures; one detected 5 s after onset, one missed; one false alarm far from both
    ref = [(1000.0, 1060.0), (4000.0, 4050.0)]
    hyp = [(1005.0, 1040.0), (6000.0, 6030.0)]
    s = bench.score([_rec(ref, hyp)])
    assert s["n_ref"] == 2 and s["n_tp"] == 1 and s["n_fp"] == 1 and s["n_hyp"] == 2
    assert s["sensitivity"] == pytest.approx(0.5)
    assert s["precision"] == pytest.approx(0.5)
    assert s["f1"] == pytest.approx(0.5)  # 2 tp / (2 tp + fp + fn) = 2 / 4
    assert s["latency_median_s"] == pytest.approx(5.0)
    assert s["hours"] == pytest.approx(2.0)
    assert s["fp_per_hour"] == pytest.approx(0.5)
    assert s["fp_per_24h_ub95"] == pytest.approx(24 * bench.poisson_upper(1) / 2.0)


def test_score_false_alarms_use_recorded_hours_not_the_span():
    # 1 h of signal spread over a 3-h span (a 2-h gap): the rate is per recorded hour
    s = bench.score([_rec([], [(100.0, 130.0)], hours=1.0, gap_s=2 * HOUR)])
    assert s["hours"] == pytest.approx(1.0)
    assert s["fp_per_hour"] == pytest.approx(1.0)
    assert s["sensitivity"] is None and s["latency_median_s"] is None


def test_score_pools_recordings_and_detection_within_tolerance():
    # a detection 20 s before onset is inside the 30-s tolerance: a hit with latency -20
    a = _rec([(500.0, 540.0)], [(480.0, 520.0)], name="a")
    b = _rec([], [], name="b", subject="s2")
    s = bench.score([a, b])
    assert s["n_tp"] == 1 and s["n_fp"] == 0 and s["hours"] == pytest.approx(4.0)
    assert s["latency_median_s"] == pytest.approx(-20.0)
    assert s["fp_per_24h"] == 0.0
    assert s["fp_per_24h_ub95"] == pytest.approx(24 * bench.poisson_upper(0) / 4.0)


def test_score_missed_everything_gives_f1_zero():
    s = bench.score([_rec([(1000.0, 1030.0)], [])])
    assert s["sensitivity"] == 0.0 and s["f1"] == 0.0 and s["precision"] is None


def test_window_rates_and_auc():
    w = bench.window_rates([0.9, 0.6, 0.2, 0.5], [0.1, 0.55, 0.0])
    assert w["ictal_hit_rate"] == pytest.approx(0.75)  # >= 0.5 counts
    assert w["preictal_hit_rate"] == pytest.approx(1 / 3)
    # pairs (ictal > pre-ictal): 0.9:3, 0.6:3, 0.2:2, 0.5:2 of 12
    assert w["auc"] == pytest.approx(10 / 12)
    assert bench.window_rates([], [0.2])["auc"] is None


def test_auc_is_a_rank_statistic(rng):
    pos, neg = rng.normal(1.0, 1.0, 30), rng.normal(0.0, 1.0, 40)
    expected = np.mean(pos[:, None] > neg[None, :])
    assert bench.auc(pos, neg) == pytest.approx(expected)
    assert bench.auc(np.exp(pos), np.exp(neg)) == pytest.approx(expected)


# --------------------------------------------------------------------------- rows

def _row(rows, suffix):
    (r,) = [r for r in rows if r["name"].endswith(suffix)]
    return r


def test_metric_rows_ratio_is_how_many_times_better_eegmon_is():
    ours = {"sensitivity": 0.8, "fp_per_24h": 2.0, "latency_median_s": 10.0, "n_ref": 5, "n_tp": 4, "n_fp": 3,
            "hours": 36.0}
    ref = {"sensitivity": 0.4, "fp_per_24h": 8.0, "latency_median_s": 20.0, "n_fp": 12, "hours": 36.0}
    rows = bench.metric_rows("real_dog_full_x", ours, ref, "gotman-style",
                             ["sensitivity", "fp_per_24h", "latency_median_s"], note="n")
    assert [r["name"] for r in rows] == ["real_dog_full_x_sensitivity", "real_dog_full_x_fp_per_24h",
                                         "real_dog_full_x_latency_median_s"]
    assert _row(rows, "sensitivity")["ratio"] == pytest.approx(2.0)
    assert _row(rows, "fp_per_24h")["ratio"] == pytest.approx(4.0)  # fewer false alarms is better
    assert _row(rows, "latency_median_s")["ratio"] == pytest.approx(2.0)
    for r in rows:
        assert set(r) >= {"name", "unit", "eegmon", "reference", "reference_name", "ratio", "higher_is_better"}
        assert r["note"] == "n"
        assert r["counts"]["eegmon"]["n_fp"] == 3 and r["counts"]["reference"]["n_fp"] == 12
    assert _row(rows, "fp_per_24h")["unit"] == "1/24h"
    assert _row(rows, "sensitivity")["higher_is_better"] is True
    assert _row(rows, "fp_per_24h")["higher_is_better"] is False


def test_metric_rows_null_ratio_when_not_meaningful():
    ours = {"fp_per_24h": 0.0, "latency_median_s": -5.0, "sensitivity": 0.5}
    ref = {"fp_per_24h": 3.0, "latency_median_s": 12.0, "sensitivity": 0.0}
    rows = bench.metric_rows("p", ours, ref, "ref", ["fp_per_24h", "latency_median_s", "sensitivity"])
    assert all(r["ratio"] is None for r in rows)  # eegmon 0, a latency <= 0, reference 0
    assert _row(rows, "fp_per_24h")["eegmon"] == 0.0
    # a failed or missing detector: null value, null ratio, the note kept
    rows = bench.metric_rows("p", None, ref, "ref", ["fp_per_24h"], note="FAILED: x")
    assert rows[0]["eegmon"] is None and rows[0]["ratio"] is None and rows[0]["note"] == "FAILED: x"
    # no reference at all: null reference and reference_name
    rows = bench.metric_rows("p", ours, None, "ref", ["sensitivity"])
    assert rows[0]["reference"] is None and rows[0]["reference_name"] is None and rows[0]["ratio"] is None
    # a reference that could not run: its name stays, the value is null
    rows = bench.metric_rows("p", ours, {}, "peer", ["sensitivity"])
    assert rows[0]["reference_name"] == "peer" and rows[0]["reference"] is None


# --------------------------------------------------------------------------- held-out splits

@pytest.mark.parametrize(("subject", "number"), [("subject1", 1), ("subject11", 11), ("cueing-subject1102", 1102)])
def test_subject_number(subject, number):
    assert bench.subject_number(subject) == number


class _Rec:
    def __init__(self, dataset, subject):
        self.dataset, self.subject = dataset, subject


@pytest.mark.parametrize("subject", ["subject1", "subject2", "cueing-subject1101", "cueing-subject204"])
def test_each_muse_subject_is_scored_on_the_model_that_did_not_see_it(subject):
    rec = _Rec("muse", subject)
    split = bench.heldout_split("muse", subject)
    other = {"A": "B", "B": "A"}[split]
    assert bench.excluded_from(split, rec)
    assert not bench.excluded_from(other, rec)


def test_heldout_models_both_leave_out_the_dog_and_keep_the_rest():
    for split in ("A", "B"):
        assert bench.excluded_from(split, _Rec("dog", "Dog_1"))
        assert not bench.excluded_from(split, _Rec("chbmit", "chb01"))
        assert not bench.excluded_from(split, _Rec("simulated", "101"))
    assert bench.heldout_split("dog", "Dog_1") == "A"


def _muse_like(subject: str, n_files: int, rng, fs: float = 256.0):
    from eegmon.detectors import corpus

    segs, t = [], T0
    for _ in range(n_files):
        x = rng.normal(0, 10, (int(30 * fs), 4)).astype(np.float32)
        segs.append((t, x))
        t += 30.0 + 60.0
    return corpus.CorpusRecording(f"muse/{subject}", "muse", subject, fs, ("TP9", "AF7", "AF8", "TP10"),
                                  tuple(segs))


def test_joined_muse_streams_keep_every_sample_and_count_only_eeg_hours(rng):
    recs = [_muse_like("subject1", 2, rng), _muse_like("subject2", 3, rng), _muse_like("subject3", 1, rng)]
    odd = bench.joined_muse(recs, "odd")
    assert odd.subject == "odd" and bench.heldout_split(odd.dataset, odd.subject) == "A"
    (t0, x), = odd.segments  # one contiguous stream: no gap between files
    np.testing.assert_array_equal(x, np.concatenate([seg for r in (recs[0], recs[2]) for _, seg in r.segments]))
    assert odd.hours == pytest.approx(3 * 30.0 / HOUR)
    off = bench.joined_muse(recs, "odd", offhead_s=400.0)
    (_, y), = off.segments
    assert y.shape[0] == x.shape[0] + 2 * int(400.0 * 256.0)  # lost contact between the 3 files
    assert np.ptp(y[int(30 * 256.0):int(30 * 256.0) + int(400 * 256.0)], axis=0).max() == 0.0
    assert off.hours == pytest.approx(odd.hours)
    even = bench.heldout_split("musejoined", bench.joined_muse(recs, "even").subject)
    assert even == "B"


def test_joined_muse_stacks_shifted_copies_at_another_rate(rng):
    recs = [_muse_like("subject1", 2, rng)]
    big = bench.joined_muse(recs, "odd", n_ch=19, fs=160)
    (_, x), = big.segments
    assert big.fs == 160.0 and len(big.channels) == 19 == x.shape[1] == len(set(big.channels))
    assert x.shape[0] == int(60 * 160)
    n = x.shape[0]
    np.testing.assert_array_equal(x[:, 4:8], np.roll(x[:, 0:4], n // 16, axis=0))  # copy 1: copy 0 rolled
    assert big.hours == pytest.approx(60.0 / HOUR)


def test_large_montage_streams_get_seizures_every_step_inside_the_stream(rng):
    recs = [_muse_like("subject1", 60, rng)]  # 30 min of EEG
    big = bench.joined_muse(recs, "odd", n_ch=19, fs=160)
    sz = bench.with_seizures(big, seed=3)
    (t0, x), (_, y) = big.segments[0], sz.segments[0]
    assert y.shape == x.shape and sz.channels == big.channels and sz.hours == pytest.approx(big.hours)
    onsets = np.array([on for on, _ in sz.seizures]) - t0
    np.testing.assert_allclose(onsets, bench.SZ_FIRST_S + bench.SZ_STEP_S * np.arange(len(onsets)))
    assert len(onsets) == 2 and all(off - t0 <= x.shape[0] / sz.fs for _, off in sz.seizures)
    changed = np.any(y != x, axis=1)  # the signal changes only where a seizure is
    inside = np.zeros(x.shape[0], bool)
    for on, off in sz.seizures:
        inside[int((on - t0) * sz.fs):int(np.ceil((off - t0) * sz.fs))] = True
    assert changed.any() and not changed[~inside].any()
    assert bench.with_seizures(big, seed=3).seizures == sz.seizures  # reproducible


def test_recipe_hash_changes_with_the_source(tmp_path):
    for n in ("a.py", "b.py"):
        (tmp_path / n).write_text("x = 1\n")
    h = bench.source_hash(tmp_path, ["a.py", "b.py"])
    assert h == bench.source_hash(tmp_path, ["b.py", "a.py"])
    (tmp_path / "b.py").write_text("x = 2\n")
    assert bench.source_hash(tmp_path, ["a.py", "b.py"]) != h
    assert len(bench.recipe_hash()) == 16


# --------------------------------------------------------------------------- a reference detector end to end

def test_gotman_reference_on_a_synthetic_recording_scores_one_hit(rng):
    from eegmon.detectors.corpus import CorpusRecording

    fs = 200.0
    x = 10.0 * rng.standard_normal((int(400 * fs), 2))
    t = np.arange(int(40 * fs)) / fs
    x[int(200 * fs):int(240 * fs), 0] += 120.0 * np.sin(2 * np.pi * 5.0 * t)
    rec = CorpusRecording("syn", "simulated", "s", fs, ("a", "b"), ((T0, x),), ((T0 + 200.0, T0 + 240.0),))
    events = bench.run_gotman(rec, bench.postprocess_params())
    s = bench.score([bench._scored(rec, events)])
    assert s["n_tp"] == 1 and s["n_fp"] == 0
    assert 0.0 <= s["latency_median_s"] < 30.0


def test_summary_table_lists_every_detector_and_marks_missing_values():
    summary = [
        {"dataset": "dog", "montage": "2ch", "detector": "line_length",
         "scores": {"sensitivity": 0.6, "n_ref": 5, "n_tp": 3, "n_fp": 0, "hours": 0.11,
                    "fp_per_24h": 0.0, "fp_per_24h_ub95": 638.0}, "note": ""},
        {"dataset": "dog", "montage": "2ch", "detector": "peer", "scores": {}, "note": "cannot run"},
        {"dataset": "chbmit", "montage": "2ch_left", "detector": "line_length",
         "scores": {"ictal_hit_rate": 0.3, "preictal_hit_rate": 0.1, "auc": 0.72, "n_ictal": 10, "n_preictal": 10},
         "note": ""},
        {"dataset": "bonn", "montage": "1ch", "detector": "line_length",
         "scores": {"auc_stream_S_vs_F": 0.97, "auc_isolated_S_vs_F": 0.41}, "note": ""},
    ]
    lines = bench.summary_table(summary).splitlines()
    assert "sens" in lines[0] and "FA/24h_ub95" in lines[0]
    assert any("line_length" in ln and "0.6" in ln and "3/5" in ln and "638" in ln for ln in lines)
    assert any("peer" in ln and "cannot run" in ln and " - " in ln for ln in lines)
    assert any("2ch_left" in ln and "0.72" in ln and "10+10" in ln for ln in lines)
    (stream,) = [ln for ln in lines if ln.startswith("bonn") and " stream " in ln]
    (iso,) = [ln for ln in lines if ln.startswith("bonn") and " isolated " in ln]
    assert stream.split()[-1] == "0.97" and iso.split()[-1] == "0.41"


# --------------------------------------------------------------------------- on the real data (skipped without it)

@pytest.fixture(scope="module")
def realdata():
    from eegmon.detectors import corpus

    root = corpus.realdata_root()
    if root is None:
        pytest.skip("no realdata folder (../shared/realdata or $EEGMON_REALDATA)")
    return root


def test_real_dog_scored_against_its_own_truth_is_perfect(realdata):
    from eegmon.detectors import corpus

    recs = corpus.dog_recordings(realdata)
    items = [bench._scored(r, list(r.seizures)) for r in recs]
    s = bench.score(items)
    assert s["n_ref"] == 5 and s["n_tp"] == 5 and s["n_fp"] == 0
    assert s["latency_median_s"] == pytest.approx(0.0)
    # the interictal runs (406 s) come before every seizure, and the seizures end their recordings
    assert all(r.seizures[0][1] == pytest.approx(r.stop) for r in recs[1:])


def test_real_muse_subjects_split_into_two_held_out_halves(realdata):
    from eegmon.detectors import corpus

    recs = corpus.muse_recordings(realdata)
    splits = [bench.heldout_split(r.dataset, r.subject) for r in recs]
    assert {"A", "B"} == set(splits)
    assert all(bench.excluded_from(s, r) and not bench.excluded_from({"A": "B", "B": "A"}[s], r)
               for s, r in zip(splits, recs, strict=True))
    # why the peer cannot run on Muse: no contiguous run reaches its 300-s window
    assert bench.longest_run_s(recs) < bench.PEER_WINDOW_S


def test_inf_guard_serves_the_runner_hot_path():
    """The benchmark's estimator proxy offers what the runner calls (seizure_proba), same values."""
    from eegmon.detectors import load_detector

    model, _ = load_detector("classifier")
    guard = bench._InfAsMissing(model.estimator)
    X = np.random.default_rng(0).standard_normal((20, model.estimator.n_features_in_))
    np.testing.assert_allclose(guard.seizure_proba(X), model.estimator.seizure_proba(X))
    X[3, 2] = np.inf
    p = guard.seizure_proba(X)
    assert guard.n_rows == 1 and np.isfinite(p).all()
