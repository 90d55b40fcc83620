"""The live engine's fast paths give what the general formulations give, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from eegmon.detectors import FeatureClassifier, postprocess
from eegmon.detectors._kernels import all_finite, forest_sum
from eegmon.detectors.postprocess import PostProcessor
from eegmon.streaming._kernels import any_nan
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.timeout(120)


def _post_run(loop: bool, t, p, cp, cuts, params):
    """Events and the state after every chunk, with the per-window path forced on or off."""
    post = PostProcessor(**params, channel_names=("a", "b", "c"))
    events, states = [], []
    for a, b in zip([0, *cuts], [*cuts, len(t)], strict=True):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(postprocess, "_LOOP_WINDOWS", 10**9 if loop else 0)
            events += post.update(t[a:b], p[a:b], cp[a:b])
        run = post.active
        states.append((post._on, post._last_t, post._tail.tolist(), post.open_onset,
                       None if run is None else (run.onset, run.offset, run.peak, run.channel_peak.tolist())))
    events += post.flush()
    return [(e.onset, e.duration, e.confidence, e.channels) for e in events], states


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), cuts=st.lists(st.integers(1, 599), max_size=120),
       smooth=st.integers(1, 9), merge=st.sampled_from([0.0, 10.0]), nan=st.booleans())
def test_window_by_window_post_processing_is_the_array_formulation(seed, cuts, smooth, merge, nan):
    rng = np.random.default_rng(seed)
    n = 600
    t = np.cumsum(rng.choice([1.0, 1.0, 1.0, 40.0], size=n, p=[0.33, 0.33, 0.333, 0.007]))
    base = np.clip(np.convolve(rng.uniform(0, 1, n) ** 6, np.ones(8) / 3, "same"), 0, 1)
    cp = np.clip(base[:, None] * rng.uniform(0.5, 1.2, (1, 3)), 0, 1)
    if nan:
        cp[rng.integers(0, n, 20), rng.integers(0, 3, 20)] = np.nan
    p = cp.max(axis=1)
    params = dict(threshold=0.6, threshold_off=0.4, smooth_windows=smooth, min_duration_s=3, merge_gap_s=merge,
                  refractory_s=20, max_duration_s=50, window_s=2)
    cuts = sorted(set(cuts))
    loop = _post_run(True, t, p, cp, cuts, params)
    arrays = _post_run(False, t, p, cp, cuts, params)
    assert loop == arrays  # exact: no tolerance


def _forest_sum_reference(X, flat, first, step, acc):
    """One tree after the other, one row after the other (the order of the sums forest_sum keeps)."""
    for t in range(first, flat["roots"].size, step):
        for i in range(X.shape[0]):
            node = flat["roots"][t]
            while flat["left"][node] != -1:
                v = X[i, flat["feature"][node]]
                if np.isnan(v):
                    node = flat["left"][node] if flat["nan_left"][node] else flat["right"][node]
                else:
                    node = flat["left"][node] if v <= flat["threshold"][node] else flat["right"][node]
            acc[i] += flat["leaf_p"][node]


@pytest.mark.parametrize(("n_trees", "first", "step"), [(1, 0, 1), (11, 0, 1), (19, 1, 4), (8, 3, 3)])
def test_forest_walked_trees_side_by_side_sums_in_tree_order(n_trees, first, step):
    rng = np.random.default_rng(n_trees)
    X = rng.normal(size=(2000, 5))
    X[rng.uniform(size=X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 3]) ** 2 > 0.7).astype(int)
    flat = FeatureClassifier(n_estimators=n_trees, max_depth=8, random_state=0).fit(X, y).flat_
    for n in (1, 2, 255, 256, 600):  # across the blocks of rows
        Xt = rng.normal(size=(n, 5)).astype(np.float32)
        Xt[rng.uniform(size=Xt.shape) < 0.1] = np.nan
        start = rng.uniform(size=n)  # sums are added to what is there
        got, expected = start.copy(), start.copy()
        forest_sum(Xt, flat["left"], flat["right"], flat["feature"], flat["threshold"], flat["nan_left"],
                   flat["leaf_p"], flat["roots"], first, step, got)
        _forest_sum_reference(Xt, flat, first, step, expected)
        np.testing.assert_array_equal(got, expected)  # exact: the same additions in the same order


@settings(max_examples=200, deadline=None)
@given(shape=st.tuples(st.integers(0, 40), st.integers(1, 5)), seed=st.integers(0, 2**16),
       bad=st.sampled_from([None, np.nan, np.inf, -np.inf]), transposed=st.booleans())
def test_nan_and_finite_checks_equal_numpy(shape, seed, bad, transposed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    if bad is not None and x.size:
        x[rng.integers(0, shape[0]), rng.integers(0, shape[1])] = bad
    if transposed:  # any memory layout, as a chunk may come
        x = x.T.copy().T
    assert any_nan(x) == bool(np.isnan(x).any())
    assert all_finite(x.reshape(-1)) == bool(np.isfinite(x).all())
