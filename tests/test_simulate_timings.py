"""Seizure times without signal (simulate_timings, write_timings, --timings-only): the model, files, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from eegmon.cli import main
from eegmon.errors import EegmonError
from eegmon.io.events_tsv import read_events_tsv
from eegmon.simulate import SubjectTimings, simulate_timings, write_timings
from eegmon.simulate.timings import REFRACTORY_S

DAY = 86400.0
START = 1736121600.0  # 2025-01-06T00:00:00+00:00, the default start


def _phase_locking(onsets: np.ndarray, period_days: float) -> float:
    return float(np.abs(np.mean(np.exp(2j * np.pi * onsets / (period_days * DAY)))))


def _hour_counts(onsets: np.ndarray) -> np.ndarray:
    return np.bincount(((onsets % DAY) // 3600).astype(int), minlength=24)


def _check_onsets(subj: SubjectTimings) -> None:
    t = subj.onsets
    assert t.dtype == np.float64 and not t.flags.writeable
    assert np.all((t >= subj.start) & (t < subj.stop))
    assert np.all(np.diff(t) >= REFRACTORY_S)


def test_defaults_span_names_and_parameters():
    cohort = simulate_timings(10, 12, seed=4)
    assert [s.subject for s in cohort] == [f"sub-{k:02d}" for k in range(1, 13)]
    for s in cohort:
        assert (s.start, s.stop) == (START, START + 10 * DAY)
        assert 0.15 <= s.rate_per_day <= 3.0 and s.seed == 4
        _check_onsets(s)
        if s.has_cycles:
            assert 0.5 <= s.circadian_strength <= 0.9 and 0.5 <= s.multiday_strength <= 0.9
            assert 5 <= s.multiday_period_days <= 45 and 0.2 <= s.cluster_prob <= 0.4
            assert 0 <= s.circadian_peak_h < 24 and 0 <= s.multiday_phase < 2 * np.pi
        else:
            assert s.multiday_period_days is None
            assert s.circadian_strength == s.multiday_strength == s.cluster_prob == 0.0
    assert len({s.rate_per_day for s in cohort}) == 12, "rates are drawn per patient"
    assert all(s.rate_per_day == 1.5 for s in simulate_timings(10, 3, seed=4, seizures_per_day=1.5))
    assert [s.subject for s in simulate_timings(1, 100)][-1] == "sub-100"


def test_same_seed_same_times_other_seed_other_times():
    a, b, c = (simulate_timings(60, 4, seed=s) for s in (9, 9, 10))
    assert all(np.array_equal(x.onsets, y.onsets) and x.to_dict() == y.to_dict() for x, y in zip(a, b, strict=True))
    assert not any(np.array_equal(x.onsets, y.onsets) for x, y in zip(a, c, strict=True))


def test_a_subject_does_not_depend_on_how_many_there_are(rng_seed):
    few = simulate_timings(90, 3, seed=rng_seed)
    many = simulate_timings(90, 9, seed=rng_seed)
    for x, y in zip(few, many[:3], strict=True):
        assert np.array_equal(x.onsets, y.onsets) and x.to_dict() == y.to_dict()


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_cycles_fraction_is_kept_in_any_cohort_size(rng_seed, fraction):
    for n in (1, 5, 20, 50):
        cohort = simulate_timings(1, n, seed=rng_seed, cycles_fraction=fraction)
        assert abs(sum(s.has_cycles for s in cohort) - fraction * n) <= 2
    assert all(s.has_cycles for s in simulate_timings(1, 5, seed=rng_seed, cycles_fraction=1.0))
    assert not any(s.has_cycles for s in simulate_timings(1, 5, seed=rng_seed, cycles_fraction=0.0))


def test_refractory_gap_holds_at_a_high_rate(rng_seed):
    for s in simulate_timings(60, 6, seed=rng_seed, seizures_per_day=20.0):
        _check_onsets(s)


def test_cycles_show_in_the_times_and_the_null_has_none(rng_seed):
    # one year at 3 a day (about 1000 seizures); subject 1 drawn with and without cycles
    kw = {"days": 365, "subjects": 1, "seed": rng_seed, "seizures_per_day": 3.0}
    cycler = simulate_timings(**kw, cycles_fraction=1.0)[0]
    null = simulate_timings(**kw, cycles_fraction=0.0)[0]
    period = cycler.multiday_period_days
    # a cosine modulation of strength b gives a phase locking of about b / 2 (>= 0.25); chance gives ~0.03
    assert _phase_locking(cycler.onsets, period) > 0.18
    assert _phase_locking(null.onsets, period) < 0.1
    assert stats.chisquare(_hour_counts(cycler.onsets)).pvalue < 1e-3
    assert stats.chisquare(_hour_counts(null.onsets)).pvalue > 1e-3


def test_mean_rate_of_the_null_is_the_rate():
    for rate in (0.3, 3.0, 10.0):
        cohort = simulate_timings(365, 10, seed=2, seizures_per_day=rate, cycles_fraction=0.0)
        observed = sum(s.onsets.size for s in cohort) / (10 * 365)
        assert observed == pytest.approx(rate, rel=0.05)


def test_cyclers_keep_about_the_mean_rate():
    cohort = simulate_timings(365, 20, seed=2, seizures_per_day=1.0, cycles_fraction=1.0)
    assert sum(s.onsets.size for s in cohort) / (20 * 365) == pytest.approx(1.0, rel=0.1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days=st.floats(min_value=1e-3, max_value=400), subjects=st.integers(1, 5), seed=st.integers(0, 2**32),
       fraction=st.floats(0, 1), rate=st.none() | st.floats(0, 24))
def test_property_onsets_sorted_within_the_span(days, subjects, seed, fraction, rate):
    cohort = simulate_timings(days, subjects, seed, seizures_per_day=rate, cycles_fraction=fraction)
    assert len(cohort) == subjects
    for s in cohort:
        assert s.stop == START + np.round(days * DAY)
        _check_onsets(s)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"days": 0}, r"--days must be a number in the range \(0, 3650\], got 0"),
        ({"days": -1}, "--days"),
        ({"subjects": 0}, r"--subjects must be an integer in the range \[1, 10000\], got 0"),
        ({"subjects": 1.5}, "--subjects must be an integer"),
        ({"seed": -1}, "--seed"),
        ({"cycles_fraction": 1.5}, r"--cycles-fraction must be a number in the range \[0, 1\], got 1.5"),
        ({"seizures_per_day": -1.0}, "--seizures-per-day"),
        ({"seizures_per_day": 30.0}, "--seizures-per-day"),
        ({"start": "yesterday"}, "--start must be an ISO 8601 date-time"),
    ],
)
def test_bad_arguments_say_what_was_expected(kwargs, match):
    args = {"days": 1.0, "subjects": 2, **kwargs}
    with pytest.raises(EegmonError, match=match):
        simulate_timings(**args)


def test_written_files_read_back(tmp_path):
    cohort = simulate_timings(30, 4, seed=5, start="2025-03-01T00:00:00+00:00")
    out = tmp_path / "diaries"
    paths = write_timings(out, cohort)
    assert paths == [out / s.subject / f"{s.subject}_events.tsv" for s in cohort]
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(["timings.json", *(f"{s.subject}/{s.subject}_events.tsv" for s in cohort)])
    for subj, path in zip(cohort, paths, strict=True):
        back = read_events_tsv(path)
        assert back.recording_start == subj.start and back.recording_duration == subj.stop - subj.start
        assert [e.label for e in back.events] == ["sz"] * subj.onsets.size
        np.testing.assert_allclose([e.onset for e in back.events], subj.onsets, rtol=0, atol=1e-6)
        assert all(0 < e.duration <= 60.0 for e in back.events)
    doc = json.loads((out / "timings.json").read_text())
    assert doc["generator"].startswith("eegmon ")
    assert doc["settings"]["days"] == 30 and doc["settings"]["seed"] == 5
    assert doc["settings"]["start"] == "2025-03-01T00:00:00+00:00"
    assert doc["subjects"] == [s.to_dict() for s in cohort]


def test_a_subject_without_seizures_gets_a_background_row(tmp_path):
    (subj,) = simulate_timings(0.5, 1, seizures_per_day=0.0)
    assert subj.onsets.size == 0
    (path,) = write_timings(tmp_path / "out", [subj])
    back = read_events_tsv(path)
    assert back.events == [] and back.recording_duration == 0.5 * DAY


def test_non_empty_folder_refused_and_overwrite_removes_stale_subjects(tmp_path):
    out = tmp_path / "out"
    write_timings(out, simulate_timings(5, 3, seed=1))
    with pytest.raises(EegmonError, match="not empty.*--overwrite"):
        write_timings(out, simulate_timings(5, 2, seed=1))
    (out / "notes.txt").write_text("mine")
    write_timings(out, simulate_timings(5, 2, seed=2), overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "sub-01", "sub-02", "timings.json"]
    assert json.loads((out / "timings.json").read_text())["settings"]["seed"] == 2
    with pytest.raises(EegmonError, match="at least one"):
        write_timings(tmp_path / "empty", [])


def test_cli_writes_the_diaries(tmp_path, capsys):
    out = tmp_path / "diaries"
    assert main(["simulate", str(out), "--timings-only", "--days", "365", "--seed", "1"]) == 0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and "20 simulated subject(s) (10 with cycles)" in line and str(out) in line
    assert len(list(out.glob("sub-*/sub-*_events.tsv"))) == 20
    doc = json.loads((out / "timings.json").read_text())
    assert doc["settings"]["start"] == "2025-01-06T00:00:00+00:00"
    assert f"{sum(s['n_seizures'] for s in doc['subjects'])} seizures" in line

    again = tmp_path / "again"
    assert main(["simulate", str(again), "--timings-only", "--days", "30", "--subjects", "3", "--seed", "1",
                 "--seizures-per-day", "2", "--cycles-fraction", "0", "--start", "2024-06-01T00:00:00", "-q"]) == 0
    assert capsys.readouterr().out == ""
    doc = json.loads((again / "timings.json").read_text())
    assert [s["rate_per_day"] for s in doc["subjects"]] == [2.0] * 3
    assert not any(s["has_cycles"] for s in doc["subjects"])
    assert doc["settings"]["start"] == "2024-06-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--timings-only", "--bids"], "--bids cannot be used with --timings-only"),
        (["--timings-only", "--fs", "256"], "--fs cannot be used with --timings-only"),
        (["--timings-only", "--channels", "4", "--difficulty", "hard"], "--channels, --difficulty cannot be used"),
        (["--timings-only", "--config", "x.json"], "--config cannot be used"),
        (["--timings-only", "--subjects", "0"], "--subjects must be an integer"),
        (["--timings-only", "--cycles-fraction", "2"], "--cycles-fraction must be"),
        (["--cycles-fraction", "0.5"], "--cycles-fraction is only valid with --timings-only"),
        (["--subjects", "3"], "--subjects is only valid with --bids or --timings-only"),
    ],
)
def test_cli_bad_combination_exits_2_with_one_line(tmp_path, capsys, args, needle):
    out = tmp_path / "out"
    assert main(["simulate", str(out), "--days", "1", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists() or not any(out.iterdir())
