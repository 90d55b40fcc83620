"""Pseudo-prospective evaluation on simulated seizure times: skill where there are cycles, none where not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eegmon.errors import EegmonError
from eegmon.forecast.evaluation import (
    MIN_SEIZURES,
    SCORE_KEYS,
    _surrogate_outcomes,
    evaluate,
    forecast_patient,
    issue_days,
)
from eegmon.forecast.forecasters import FORECASTERS, Climatology
from eegmon.forecast.seizures import SeizureHistory
from eegmon.simulate import simulate_timings

DAY = 86400.0


def _histories(subjects):
    return [SeizureHistory(s.subject, s.onsets, s.start, s.stop) for s in subjects]


@pytest.fixture(scope="module")
def cyclers():
    subjects = simulate_timings(365, 6, seed=11, seizures_per_day=2.0, cycles_fraction=1.0)
    return subjects, evaluate(_histories(subjects), n_surrogates=100, seed=1)


def test_cycle_model_finds_the_periods_and_beats_the_moving_average(cyclers):
    subjects, ev = cyclers
    for s, pf in zip(subjects, ev.patients, strict=True):
        assert s.has_cycles
        assert pf.cycles["period_days"] == pytest.approx(s.multiday_period_days, rel=0.10), s.subject
    for h in ("24h", "1h"):
        pooled = ev.pooled["cycles"][h].values
        assert pooled["bss_moving_average"] > 0, h
        assert pooled["bss_climatology"] > ev.pooled["moving_average"][h].values["bss_climatology"]
        assert pooled["p_value"] < 0.05
        per_patient = [scores["cycles"][h].values["bss_moving_average"] for scores in ev.per_patient]
        assert np.median(per_patient) > 0, h
    # the pooled interval comes from a bootstrap over patients and holds the estimate
    lo, hi = ev.pooled["cycles"]["24h"].ci["bss_moving_average"]
    assert lo <= ev.pooled["cycles"]["24h"].values["bss_moving_average"] <= hi


def test_no_skill_is_claimed_for_patients_without_cycles():
    subjects = simulate_timings(365, 40, seed=3, cycles_fraction=0.0)
    ev = evaluate(_histories(subjects), forecasters=("cycles",), n_surrogates=100, seed=2)
    assert len(ev.patients) >= 30  # patients with too few seizures are skipped, not scored
    for h in ("24h", "1h"):
        p_values = np.array([scores["cycles"][h].values["p_value"] for scores in ev.per_patient])
        assert np.mean(p_values < 0.05) <= 0.05, (h, np.sort(p_values)[:5])


def test_the_harness_hands_forecasters_only_the_past(monkeypatch):
    seen: list[tuple[float, float]] = []

    class Spy(Climatology):
        """Records what the harness hands over, before fit() drops anything itself."""

        name = "spy"

        def fit(self, onsets, until, *, start=None):
            seen.append((until, np.max(onsets, initial=-np.inf)))
            return super().fit(onsets, until, start=start)

    monkeypatch.setitem(FORECASTERS, "spy", Spy)
    rng = np.random.default_rng(0)
    onsets = np.sort(rng.uniform(0, 60 * DAY, 120)) + 1.7e9
    history = SeizureHistory("p", onsets, 1.7e9, 1.7e9 + 60 * DAY)
    pf = forecast_patient(history, ("spy",), ("24h",))
    assert seen and all(latest < until for until, latest in seen)
    assert len(seen) == issue_days(history).size
    # ...and the forecasts it scored are for windows that start at each issue time
    np.testing.assert_array_equal(pf.series["spy"]["24h"].starts, issue_days(history))


def test_issue_days_start_after_the_tenth_seizure_and_stop_at_the_last_whole_day():
    start = 1_700_006_400.0  # midnight UTC
    onsets = start + DAY * np.arange(12) + 3600.0
    history = SeizureHistory("p", onsets, start, start + 20.5 * DAY)
    days = issue_days(history)
    assert days[0] == start + 10 * DAY  # the 10th seizure is on day 9
    assert days[-1] == start + 19 * DAY  # day 19 ends at 20 d, inside the span; day 20 does not
    assert issue_days(SeizureHistory("q", onsets[:MIN_SEIZURES], start, start + 30 * DAY)).size == 0


def test_surrogates_keep_the_seizure_count_and_shuffle_days():
    rng = np.random.default_rng(0)
    counts = np.zeros(30 * 24, dtype=int)
    counts[rng.choice(counts.size, 40, replace=False)] = 1
    counts[5] = 2
    daily = counts.reshape(30, 24).sum(axis=1)
    day_sur = _surrogate_outcomes(daily, "24h", 50, rng)
    assert (day_sur.sum(axis=1) == (daily > 0).sum()).all()
    hour_sur = _surrogate_outcomes(counts, "1h", 50, rng)
    # hours a seizure falls in: at most the seizures, and most of them (collisions are rare)
    assert (hour_sur.sum(axis=1) <= counts.sum()).all() and (hour_sur.sum(axis=1) >= 30).all()
    assert not np.array_equal(hour_sur[0], hour_sur[1])


def test_json_has_exactly_the_conventions_keys_and_no_nan():
    subjects = simulate_timings(120, 3, seed=4, seizures_per_day=1.5, cycles_fraction=0.5)
    short = SeizureHistory("few", subjects[0].onsets[:5], subjects[0].start, subjects[0].stop)
    ev = evaluate([*_histories(subjects), short], n_surrogates=20, seed=0)
    doc = ev.to_json("cycles")
    assert set(doc) == {"forecaster", "patients", "horizons", "baselines", "per_patient"}
    assert doc["forecaster"] == "cycles" and doc["patients"] == 3
    assert set(doc["horizons"]) == {"24h", "1h"}
    for h in ("24h", "1h"):
        assert list(doc["horizons"][h]) == list(SCORE_KEYS)
    assert set(doc["baselines"]) == {"climatology", "moving_average", "time_of_day"}
    assert [p["patient"] for p in doc["per_patient"]] == [s.subject for s in subjects]
    assert ev.skipped == [("few", 5)]
    for p in doc["per_patient"]:
        assert set(p) == {"patient", "n_seizures", "horizons"} and list(p["horizons"]["1h"]) == list(SCORE_KEYS)
    json.dumps(doc, allow_nan=False)
    n_days = sum(issue_days(h).size for h in _histories(subjects))
    assert doc["horizons"]["24h"]["n_forecasts"] == n_days
    assert doc["horizons"]["1h"]["n_forecasts"] == 24 * n_days


def test_parallel_evaluation_equals_serial():
    histories = _histories(simulate_timings(120, 3, seed=6, seizures_per_day=2.0))
    serial = evaluate(histories, n_surrogates=10, seed=0).to_json()
    parallel = evaluate(histories, n_surrogates=10, seed=0, n_jobs=2).to_json()
    assert serial == parallel


def test_bad_arguments_are_clear_errors():
    histories = _histories(simulate_timings(60, 1, seed=1, seizures_per_day=2.0))
    with pytest.raises(EegmonError, match="unknown horizon"):
        evaluate(histories, horizons=("2h",))
    with pytest.raises(EegmonError, match="more than 10 seizures"):
        evaluate([SeizureHistory("p", [1.7e9 + 10], 1.7e9, 1.7e9 + 5 * DAY)])
