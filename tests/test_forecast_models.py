"""Forecasters, their Numba kernels and the forecast scores, each against an independent reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import brier_score_loss, roc_auc_score

from eegmon.errors import EegmonError
from eegmon.forecast._kernels import thin_mask
from eegmon.forecast.cycles import PeriodSearch, candidate_periods, circadian_phase, rayleigh_p, thin
from eegmon.forecast.forecasters import (
    Climatology,
    CycleForecaster,
    MovingAverage,
    TimeOfDay,
    _cloglog_recalibration,
    _poisson_ridge,
    make_forecaster,
)
from eegmon.forecast.metrics import (
    auc_from_histograms,
    auc_from_ranks,
    brier_score,
    brier_skill_score,
    reliability,
    roc_auc,
    warning_scores,
)
from eegmon.forecast.risk import RISK_LEVELS, RiskForecast, risk_codes

DAY = 86400.0
T0 = 1_700_006_400.0  # a UTC midnight


def _windows_share(onsets, starts, horizon, valid=None):
    """Jeffreys share of windows with an onset, window by window (the definition, in plain Python)."""
    hits, n = 0, 0
    for i, s in enumerate(starts):
        if valid is not None and not valid[i]:
            continue
        n += 1
        hits += bool(np.any((onsets >= s) & (onsets < s + horizon)))
    return (hits + 0.5) / (n + 1.0)


# ---------------------------------------------------------------------- baselines
@settings(max_examples=60, deadline=None)
@given(n_days=st.integers(2, 60), offset_h=st.integers(0, 23), seed=st.integers(0, 2**31 - 1),
       n_events=st.integers(0, 80), horizon_h=st.sampled_from([1, 2, 3, 24]), edges=st.booleans())
def test_baselines_equal_window_by_window_counts(n_days, offset_h, seed, n_events, horizon_h, edges):
    rng = np.random.default_rng(seed)
    until = T0 + n_days * DAY + offset_h * 3600.0
    onsets = rng.uniform(T0, until + 2 * DAY, n_events)
    if edges:  # onsets exactly on window edges, where off-by-one errors live
        onsets = np.round(onsets / 3600.0) * 3600.0
    onsets = np.sort(onsets)
    h = horizon_h * 3600.0
    past = onsets[onsets < until]
    for model, lookback in ((Climatology(), None), (MovingAverage(days=7), 7)):
        model.fit(onsets, until, start=T0)
        start = T0 if lookback is None else max(T0, until - lookback * DAY)
        n = int((until - start) // h)
        expected = _windows_share(past, until - h * np.arange(1, n + 1), h)
        assert model.predict([until, until + 5 * h], h) == pytest.approx([expected, expected])
    tod = TimeOfDay().fit(onsets, until, start=T0)
    times = until + h * np.arange(max(1, int(DAY // h)))
    for t, p in zip(times, tod.predict(times, h), strict=True):
        k = np.arange(1, n_days + 3)
        starts = t - k * DAY
        valid = (starts >= T0) & (starts + h <= until)
        assert p == pytest.approx(_windows_share(past, starts, h, valid))


@pytest.mark.parametrize("name", ["climatology", "moving_average", "time_of_day", "cycles"])
def test_fit_never_uses_seizures_at_or_after_until(name):
    rng = np.random.default_rng(3)
    onsets = np.sort(rng.uniform(T0, T0 + 90 * DAY, 200))
    until = T0 + 60 * DAY
    times = until + 3600.0 * np.arange(24)
    alone = make_forecaster(name).fit(onsets[onsets < until], until, start=T0).predict(times, 3600.0)
    # a forecaster handed the future as well must ignore it
    given_all = make_forecaster(name).fit(onsets, until, start=T0).predict(times, 3600.0)
    np.testing.assert_array_equal(alone, given_all)


def test_predict_refuses_windows_before_the_end_of_training():
    model = Climatology().fit([T0 + 10.0], T0 + DAY, start=T0)
    with pytest.raises(EegmonError, match="at or after the end of the training data"):
        model.predict([T0], 3600.0)
    with pytest.raises(EegmonError, match="horizon must be > 0"):
        model.predict([T0 + DAY], 0.0)
    with pytest.raises(EegmonError, match="call fit"):
        TimeOfDay().predict([T0], 3600.0)
    with pytest.raises(EegmonError, match="forecaster"):
        make_forecaster("prophet")


def test_probabilities_are_strictly_inside_0_1():
    # no seizure at all, and a seizure in every hour: smoothing keeps both away from 0 and 1
    for onsets in (np.empty(0), T0 + 3600.0 * np.arange(24 * 20) + 10.0):
        for name in ("climatology", "moving_average", "time_of_day", "cycles"):
            p = make_forecaster(name).fit(onsets, T0 + 20 * DAY, start=T0).predict(T0 + 20 * DAY, 3600.0)
            assert 0.0 < p[0] < 1.0, name


# ---------------------------------------------------------------------- cycle model
def _cyclic(days, rate, *, period, a=0.8, b=0.8, peak_h=4.0, seed=0):
    rng = np.random.default_rng(seed)
    peak = rate / DAY * (1 + a) * (1 + b)
    t = np.sort(rng.uniform(0, days * DAY, rng.poisson(peak * days * DAY)))
    lam = rate / DAY * (1 + a * np.cos(2 * np.pi * ((t % DAY) / 3600 - peak_h) / 24)) * \
        (1 + b * np.cos(2 * np.pi * t / (period * DAY)))
    return T0 + t[rng.uniform(0, peak, t.size) < lam]


@pytest.mark.parametrize("period", [7.0, 18.0, 33.0])
def test_cycle_model_finds_the_period_and_the_time_of_day(period):
    onsets = _cyclic(365, 1.5, period=period, seed=int(period))
    model = CycleForecaster().fit(onsets, T0 + 365 * DAY, start=T0)
    assert model.period_days_ == pytest.approx(period, rel=0.10)
    assert model.circadian_
    # its hourly forecasts peak near the true peak hour (4 h UTC)
    p = model.predict(T0 + 365 * DAY + 3600.0 * np.arange(24), 3600.0)
    assert abs((np.argmax(p) - 4 + 12) % 24 - 12) <= 2


def test_cycle_model_finds_nothing_in_a_poisson_process():
    rng = np.random.default_rng(5)
    found = 0
    for _ in range(20):
        onsets = T0 + np.sort(rng.uniform(0, 365 * DAY, 400))
        model = CycleForecaster().fit(onsets, T0 + 365 * DAY, start=T0)
        found += model.period_days_ is not None
        assert model.coef_.size == 3 + 2 * (model.period_days_ is not None) + 2 * model.circadian_
    assert found <= 2  # 5 % of 20 is 1; the test is not required to be better than its alpha


def test_poisson_kernel_equals_scikit_learn(rng_seed):
    rng = np.random.default_rng(rng_seed)
    n_days = 40
    xd = np.column_stack([np.ones(n_days), rng.normal(size=(n_days, 2))])
    xh = rng.normal(size=(24, 2))
    exposure = np.ones((n_days, 24))
    exposure[0, :5] = 0.0  # observation starts at 05:00 on the first day
    exposure[-1, 10] = 0.5
    rate = 0.05 * np.exp(xd[:, 1:] @ [0.5, -0.3])[:, None] * np.exp(xh @ [0.4, 0.2])[None, :]
    counts = rng.poisson(rate * exposure).astype(float)
    ridge = 2.0
    beta = _poisson_ridge(xd, xh, counts, exposure, ridge, None)
    # scikit-learn on the expanded hourly design: rates y/e weighted by e is the exposure offset, and
    # its penalty alpha/2 |w|^2 on the mean deviance equals ridge/2 |w|^2 on the summed likelihood
    # when alpha = ridge / sum(e)
    design = np.column_stack([np.repeat(xd[:, 1:], 24, axis=0), np.tile(xh, (n_days, 1))])
    e = exposure.ravel()
    keep = e > 0
    reg = PoissonRegressor(alpha=ridge / e[keep].sum(), tol=1e-10, max_iter=1000)
    reg.fit(design[keep], counts.ravel()[keep] / e[keep], sample_weight=e[keep])
    np.testing.assert_allclose(beta[1:], reg.coef_, atol=2e-3)
    assert beta[0] == pytest.approx(reg.intercept_, abs=2e-3)


def test_recalibration_kernel_equals_scipy_minimise(rng_seed):
    rng = np.random.default_rng(rng_seed)
    expected = rng.gamma(2.0, 0.5, 300)
    hit = (rng.uniform(size=300) < -np.expm1(-0.7 * expected**0.8)).astype(float)
    log_a, b = _cloglog_recalibration(expected, hit, ridge=1.0)

    def loss(theta):
        lam = np.exp(theta[0] + theta[1] * np.log(expected))
        p = np.clip(-np.expm1(-lam), 1e-12, 1.0)
        return -(hit * np.log(p) - (1 - hit) * lam).sum() + 0.5 * (theta[0] ** 2 + (theta[1] - 1) ** 2)

    ref = minimize(loss, [0.0, 1.0], method="BFGS", options={"gtol": 1e-9}).x
    assert log_a == pytest.approx(ref[0], abs=1e-3)
    assert b == pytest.approx(ref[1], abs=1e-3)


def test_recalibration_stays_sane_on_a_few_separable_windows():
    # 17 windows that a steep curve separates: plain Newton ran away to b ~ 2000 here
    expected = np.linspace(0.3, 3.0, 40)
    hit = (expected > 2.2).astype(float)
    log_a, b = _cloglog_recalibration(expected, hit, ridge=1.0)
    assert np.isfinite(log_a) and 0.0 < b < 20.0
    lam = np.exp(log_a + b * np.log(expected))
    p = -np.expm1(-lam)
    assert p[hit == 1].min() > p[hit == 0].max()  # still increasing in the expected count
    assert _cloglog_recalibration(expected[:20], hit[:20]) == (0.0, 1.0)  # too few windows: identity


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), max_size=60), st.floats(0, 5e4))
def test_thinning_kernel_equals_the_python_rule(values, gap):
    onsets = np.sort(np.array(values, dtype=float))
    kept, last = [], -math.inf
    for t in onsets:
        if t - last >= gap:
            kept.append(t)
            last = t
    np.testing.assert_array_equal(thin(onsets, gap), np.array(kept))
    assert thin_mask(onsets, gap).dtype == np.bool_


def test_period_search_updates_equal_a_fresh_search():
    onsets = _cyclic(200, 2.0, period=12.0, seed=1)
    grown, fresh = PeriodSearch(candidate_periods()), None
    for days in (60, 100, 150, 200):
        part = onsets[onsets < T0 + days * DAY]
        got = grown.best(part, days * DAY)
        fresh = PeriodSearch(candidate_periods()).best(part, days * DAY)
        assert got[0] == fresh[0]
        assert got[1] == pytest.approx(fresh[1], rel=1e-9)
    assert fresh[0] == pytest.approx(12.0, rel=0.05)


def test_rayleigh_p_matches_the_large_sample_limit_and_the_circadian_test():
    # for large n, p ~ exp(-z)
    assert rayleigh_p(3.0, 10_000) == pytest.approx(math.exp(-3.0), rel=0.01)
    assert rayleigh_p(0.0, 50) == pytest.approx(1.0)
    same_hour = T0 + DAY * np.arange(30) + 5 * 3600.0
    r, p, n = circadian_phase(same_hour)
    assert r == pytest.approx(1.0) and p < 1e-10 and n == 30


# ---------------------------------------------------------------------- scores and risk
def test_scores_equal_scikit_learn(rng_seed):
    rng = np.random.default_rng(rng_seed)
    p = rng.uniform(size=500)
    y = rng.uniform(size=500) < p
    assert brier_score(p, y) == pytest.approx(brier_score_loss(y, p))
    assert roc_auc(p, y) == pytest.approx(roc_auc_score(y, p))
    ties = np.round(p, 1)
    assert roc_auc(ties, y) == pytest.approx(roc_auc_score(y, ties))
    from scipy.stats import rankdata

    surrogate = rng.uniform(size=(7, 500)) < 0.3
    np.testing.assert_allclose(auc_from_ranks(rankdata(p), surrogate.astype(float)),
                               [roc_auc_score(s, p) for s in surrogate])
    edges = np.append(np.unique(ties), np.inf)
    bins = np.clip(np.searchsorted(edges, ties, side="right") - 1, 0, edges.size - 2)
    pos, total = np.bincount(bins[y], minlength=edges.size - 1), np.bincount(bins, minlength=edges.size - 1)
    # on forecasts that take only the bins' values, the binned AUC is exact
    assert auc_from_histograms(pos, total - pos) == pytest.approx(roc_auc_score(y, ties))
    assert brier_skill_score(np.full(500, y.mean()), y) == pytest.approx(0.0)
    assert brier_skill_score(p, y, reference=p) == pytest.approx(0.0)
    assert math.isnan(roc_auc(p, np.zeros(500, bool)))


def test_brier_score_and_skill_equal_sefef():
    scoring = pytest.importorskip("sefef.scoring", reason="sefef is installed by the Makefile")
    rng = np.random.default_rng(0)
    horizon = 3600
    starts = 1_700_000_000 + horizon * np.arange(2000)
    p = np.clip(rng.beta(1, 8, starts.size), 1e-3, 1)
    y = rng.uniform(size=starts.size) < p
    # SeFEF takes onsets: one per window with a seizure (its decomposition counts onsets)
    onsets = starts[y] + rng.integers(0, horizon - 1, y.sum())
    scorer = scoring.Scorer(["BS", "BSS"], onsets, horizon)
    perf = scorer.compute_metrics(p, starts, draw_diagram=False)
    assert brier_score(p, y) == pytest.approx(perf["BS"], rel=1e-9)
    assert brier_skill_score(p, y) == pytest.approx(perf["BSS"], rel=1e-9)


def test_reliability_and_warning_scores():
    p = np.repeat([0.1, 0.5, 0.9], 100)
    y = np.concatenate([np.arange(100) < 10, np.arange(100) < 50, np.arange(100) < 90])
    mean_p, freq, count = reliability(p, y, n_bins=3)
    np.testing.assert_allclose(mean_p, [0.1, 0.5, 0.9])
    np.testing.assert_allclose(freq, [0.1, 0.5, 0.9])
    assert count.sum() == 300
    levels = np.array([0, 1, 2, 2])
    sens, tiw = warning_scores(levels, np.array([1, 0, 2, 1]), 2)
    assert sens == pytest.approx(3 / 4) and tiw == pytest.approx(0.5)


def test_risk_levels_compare_hazards_with_climatology():
    codes = risk_codes([0.05, 0.2, 0.29, 0.5, 0.9], 0.2)
    # hazard ratios: 0.23, 1, 1.53, 3.1, 10.3 -> low, medium, high, high, high
    np.testing.assert_array_equal(codes, [0, 1, 2, 2, 2])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        risk_codes(0.5, 0.0)
    fc = RiskForecast(T0, DAY, 0.3, "high", 0.2, "cycles", T0)
    assert fc.horizon == "24h" and RISK_LEVELS.index(fc.level) == 2
    with pytest.raises(ValueError, match="level"):
        RiskForecast(T0, DAY, 0.3, "severe", 0.2, "cycles", T0)
