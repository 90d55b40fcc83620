"""The forecasting benchmark (benchmarks/bench_forecast.py): its rows on a tiny cohort, JSON shape, ratios."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
bench = pytest.importorskip("bench_forecast")
_harness = pytest.importorskip("_harness")

ROW_KEYS = {"name", "unit", "eegmon", "reference", "reference_name", "ratio", "higher_is_better"}


@pytest.fixture(scope="module")
def tiny():
    """3 patients x 120 days (a few seconds): the cohort the rows are built on."""
    return bench.cohort(3, days=120)


@pytest.fixture(scope="module")
def rows(tiny):
    return bench.quality_rows(tiny, n_surrogates=20, n_boot=50, n_jobs=1)


def _by_name(rows):
    return {r["name"]: r for r in rows}


def test_cohort_has_both_kinds_of_patient(tiny):
    assert len(tiny) == 3
    assert {t.has_cycles for t in tiny} == {True, False}
    assert all(t.multiday_period_days is None for t in tiny if not t.has_cycles)


def test_quality_rows_cover_every_group_horizon_metric_and_baseline(rows):
    names = _by_name(rows)
    assert len(names) == len(rows)  # no duplicate names
    for group in ("", "cyclers_", "noncyclers_"):
        for h in ("24h", "1h"):
            for metric in ("auc", "brier", "bss_climatology", "bss_moving_average"):
                for base in ("climatology", "moving_average", "time_of_day"):
                    r = names[f"{group}{metric}_{h}_vs_{base}"]
                    assert r["reference_name"] == base
                    assert r["higher_is_better"] is (metric != "brier")
    for group in ("cyclers_", "noncyclers_"):
        for h in ("24h", "1h"):
            assert f"{group}cycles_p_lt_0.05_{h}" in names
    assert names["cohort_patients"]["eegmon"] == 3
    assert names["cohort_days"]["eegmon"] == pytest.approx(120.0)


def test_every_row_has_the_conventions_keys_and_ratio_semantics(rows):
    for r in rows:
        assert set(r) >= ROW_KEYS, r["name"]
        if r["reference"] is None:
            assert r["ratio"] is None, r["name"]
        if r["ratio"] is not None:
            ours, ref = r["eegmon"], r["reference"]
            expected = ours / ref if r["higher_is_better"] else ref / ours
            assert r["ratio"] == pytest.approx(expected), r["name"]
            assert math.isfinite(r["ratio"])
        if r["name"].startswith(("cohort_", "cyclers_cycles_p", "noncyclers_cycles_p", "cyclers_period")):
            assert r["reference"] is None and r["ratio"] is None and r["reference_name"] is None


def test_skill_rows_have_no_ratio_unless_both_skills_are_positive(rows):
    for r in rows:
        if "bss_" in r["name"] and r["eegmon"] is not None and r["reference"] is not None:
            if min(r["eegmon"], r["reference"]) <= 0:
                assert r["ratio"] is None, r["name"]
            else:
                assert r["ratio"] == pytest.approx(r["eegmon"] / r["reference"])
    # the moving average's skill against itself is exactly 0: never a ratio
    assert _by_name(rows)["bss_moving_average_24h_vs_moving_average"]["ratio"] is None


def test_metric_row_ratio_directions():
    auc = bench.metric_row("a", "auc", 0.8, 0.6, "climatology")
    assert auc["ratio"] == pytest.approx(0.8 / 0.6) and auc["higher_is_better"] is True
    brier = bench.metric_row("b", "brier", 0.1, 0.2, "climatology")
    assert brier["ratio"] == pytest.approx(2.0) and brier["higher_is_better"] is False  # lower Brier is better
    assert bench.metric_row("c", "bss_climatology", 0.2, -0.1, "x")["ratio"] is None
    assert bench.metric_row("d", "bss_moving_average", 0.2, 0.1, "x")["ratio"] == pytest.approx(2.0)
    nan = bench.metric_row("e", "auc", float("nan"), 0.5, "x")
    assert nan["eegmon"] is None and nan["ratio"] is None


def test_counts_and_period_rows_are_consistent(rows, tiny):
    names = _by_name(rows)
    n_cyc = sum(t.has_cycles for t in tiny)
    assert names["cohort_patients_with_cycles"]["eegmon"] == n_cyc
    for h in ("24h", "1h"):
        assert 0 <= names[f"cyclers_cycles_p_lt_0.05_{h}"]["eegmon"] <= n_cyc
        assert 0 <= names[f"noncyclers_cycles_p_lt_0.05_{h}"]["eegmon"] <= len(tiny) - n_cyc
    assert 0 <= names["cyclers_period_found"]["eegmon"] <= n_cyc
    err = names["cyclers_period_rel_error_median"]["eegmon"]
    assert err is None or err >= 0


def test_empty_group_gives_null_rows():
    out = bench.comparison_rows(None, "cyclers_")
    assert out and all(r["eegmon"] is None and r["reference"] is None and r["ratio"] is None for r in out)
    assert all(r["reference_name"] in bench.BASELINES for r in out)


def test_json_document_matches_conventions(rows, tmp_path, capsys):
    path = tmp_path / "bench_forecast.json"
    _harness.finish("forecast", rows, argparse.Namespace(quick=True, json=path))
    doc = json.loads(path.read_text())
    assert doc["benchmark"] == "forecast" and doc["quick"] is True
    assert set(doc["machine"]) >= {"cpus", "python", "numpy", "numba"}
    assert [r["name"] for r in doc["results"]] == [r["name"] for r in rows]
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1].startswith(rows[-1]["name"])  # the human table is printed last


def test_speed_row_times_two_workers_against_one():
    r = bench.speed_row(3, days=120, n_surrogates=10)
    assert set(r) >= ROW_KEYS
    assert r["name"] == "evaluate_3p_120d" and r["unit"] == "s" and r["higher_is_better"] is False
    assert r["reference_name"] == "serial (n_jobs=1)"
    assert r["eegmon"] > 0 and r["reference"] > 0
    assert r["ratio"] == pytest.approx(r["reference"] / r["eegmon"])  # times: reference / eegmon
