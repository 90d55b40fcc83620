"""The live engine's fast paths give what the general formulations give, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from eegmon.detectors import postprocess
from eegmon.detectors.postprocess import PostProcessor
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
