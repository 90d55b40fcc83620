"""Hourly cycle markers: from an archive, and how they let the cycle model find a period in few seizures."""

from __future__ import annotations

import numpy as np
import pytest

from eegmon.archive import Archive
from eegmon.errors import EegmonError
from eegmon.events import Annotation
from eegmon.features.table import FeatureTable
from eegmon.forecast.cycles import candidate_periods
from eegmon.forecast.evaluation import evaluate
from eegmon.forecast.forecasters import CycleForecaster
from eegmon.forecast.markers import HourlyMarker, marker_from_archive, marker_period
from eegmon.forecast.seizures import SeizureHistory

DAY = 86400.0
T0 = 1_735_689_600.0  # 2025-01-01T00:00Z
PERIOD = 17.0


def _patient(days=300, seed=0):
    """Few seizures (about 0.15 a day) and a strong hourly marker, both on a 17-day cycle."""
    rng = np.random.default_rng(seed)
    hours = T0 + 3600.0 * np.arange(days * 24)
    phase = 2 * np.pi * (hours - T0) / (PERIOD * DAY)
    rate = 0.15 / 24 * (1 + 0.9 * np.cos(phase))
    onsets = hours[rng.uniform(size=hours.size) < rate] + 600.0
    marker = HourlyMarker(hours, 5 + 3 * np.cos(phase) + rng.normal(0, 2, hours.size), "spikes")
    return SeizureHistory("p", onsets, T0, T0 + days * DAY), marker


def test_a_marker_finds_the_period_the_seizures_alone_do_not():
    history, marker = _patient()
    until = T0 + 120 * DAY
    alone = CycleForecaster().fit(history.onsets, until, start=T0)
    with_marker = CycleForecaster(marker=marker).fit(history.onsets, until, start=T0)
    assert alone.period_days_ is None  # about 18 seizures in 120 days
    assert with_marker.period_days_ == pytest.approx(PERIOD, rel=0.05)
    assert with_marker.period_source_ == "marker:spikes"


def test_the_marker_after_until_is_not_used():
    history, marker = _patient()
    until = T0 + 30 * DAY  # under two cycles of marker before it
    late = HourlyMarker(marker.times, np.where(marker.times < until, np.nan, marker.values), "late")
    model = CycleForecaster(marker=late).fit(history.onsets, until, start=T0)
    assert model.period_source_ != "marker:late"
    t, v = late.daily(until)
    assert t.size == 0 and v.size == 0


def test_a_marker_of_noise_finds_no_period():
    rng = np.random.default_rng(1)
    found = 0
    for _ in range(20):
        hours = T0 + 3600.0 * np.arange(200 * 24)
        period, p = marker_period(HourlyMarker(hours, rng.normal(size=hours.size), "noise"), hours[-1],
                                  candidate_periods(), 0.05)
        found += period is not None
        assert 0.0 <= p <= 1.0
    assert found <= 2


def test_evaluation_with_markers_gains_skill():
    histories, markers = [], {}
    for seed in range(4):
        history, marker = _patient(seed=seed)
        history = SeizureHistory(f"p{seed}", history.onsets, history.start, history.stop)
        histories.append(history)
        markers[history.patient] = marker
    plain = evaluate(histories, ("cycles",), ("24h",), n_surrogates=0)
    marked = evaluate(histories, ("cycles",), ("24h",), n_surrogates=0, markers=markers)
    assert all(p.cycles["period_source"] == "marker:spikes" for p in marked.patients)
    assert marked.pooled["cycles"]["24h"].values["bss_moving_average"] > \
        plain.pooled["cycles"]["24h"].values["bss_moving_average"]


def test_marker_from_an_archive(tmp_path):
    path = tmp_path / "a.h5"
    rng = np.random.default_rng(0)
    with Archive.create(path, ("T1", "T2"), 64.0) as arc:
        arc.append_segment(T0, rng.integers(-50, 50, (2, 64 * 7200)).astype(np.int16), [0.1, 0.1], [0.0, 0.0])
        arc.append_segment(T0 + 4 * 3600.0, rng.integers(-50, 50, (2, 64 * 3600)).astype(np.int16), [0.1, 0.1],
                           [0.0, 0.0])
        ids = arc.add_detections([Annotation(T0 + t, 5.0, "sz") for t in (100.0, 200.0, 4000.0, 4 * 3600.0 + 10)])
        arc.update_detection(ids[1], reviewer="r", status="rejected")
        times = T0 + 60.0 * np.arange(1, 121)
        values = np.zeros((120, 2, 2))
        values[:, :, 1] = np.arange(120)[:, None] + np.array([0.0, 2.0])
        arc.write_features(FeatureTable(times, values, ("mean", "line_length"), ("T1", "T2")))
    det = marker_from_archive(path, "detections")
    np.testing.assert_array_equal(det.times, T0 + 3600.0 * np.arange(5))
    # hour 0: two detections (one rejected, not counted) -> 1; hour 1: 1; hours 2-3: no recording
    np.testing.assert_array_equal(det.values[[0, 1, 4]], [1.0, 1.0, 1.0])
    assert np.isnan(det.values[2:4]).all()
    ll = marker_from_archive(path, "line_length")
    # windows ending at 1..60 min lie in hour 0 except the one ending on the hour: hour means of (k + 1)
    assert ll.values[0] == pytest.approx(np.mean(np.arange(59) + 1.0))
    with pytest.raises(EegmonError, match="no window feature 'spikes'.*line_length"):
        marker_from_archive(path, "spikes")


def test_marker_validation():
    with pytest.raises(EegmonError, match="equal length"):
        HourlyMarker(np.zeros(3), np.zeros(2), "x")
    with pytest.raises(EegmonError, match="increase"):
        HourlyMarker(np.array([0.0, 0.0]), np.zeros(2), "x")
