"""The streaming Pipeline: chunk invariance, absolute times, gaps, NaN, bounded state."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eegmon.dsp import design_filter, resample
from eegmon.errors import EegmonError
from eegmon.features import FeatureTable, Pipeline, extract_features

FS = 207.0
T0 = 1.7e9


@pytest.fixture
def rng():
    """A seeded generator; the tests must pass for any seed (set EEGMON_TEST_SEED)."""
    return np.random.default_rng(int(os.environ.get("EEGMON_TEST_SEED", "0")))


def make_pipeline(**kw):
    filters = [design_filter("bandpass", FS, low=0.5, high=45.0), design_filter("notch", FS)]
    return Pipeline(FS, 2, filters=filters, **kw)


def push_chunks(pipe, x, bounds, t0=T0):
    tables = [pipe.push(x[a:b], t0 if a == 0 else None)
              for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return FeatureTable.concat(tables)


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, 2500), max_size=15), seed=st.integers(0, 2**32 - 1),
       reset=st.sampled_from(["zero", "steady"]))
def test_any_chunking_gives_the_same_features(cuts, seed, reset):
    x = np.random.default_rng(seed).standard_normal((2500, 2)) * 30
    x[1200:1203, 1] = np.nan
    whole = make_pipeline(reset=reset).push(x, T0)
    chunked = push_chunks(make_pipeline(reset=reset), x, [0, *sorted(cuts), 2500])
    np.testing.assert_array_equal(chunked.times, whole.times)
    # Same arithmetic whatever the chunking: bit-identical, NaN windows included.
    np.testing.assert_array_equal(chunked.values, whole.values)


def test_window_end_times_are_absolute(rng):
    pipe = make_pipeline()
    table = pipe.push(rng.standard_normal((int(FS * 10), 2)), T0)
    expected = T0 + (np.arange(len(table)) * pipe.hop + pipe.win) / FS
    np.testing.assert_array_equal(table.times, expected)
    assert len(table) == (int(FS * 10) - pipe.win) // pipe.hop + 1


def test_a_gap_restarts_filters_and_drops_partial_windows(rng):
    n = int(FS * 10)
    before, after = rng.standard_normal((n, 2)) * 20, rng.standard_normal((n, 2)) * 20
    t_gap = T0 + n / FS + 3600.0  # an hour of charging
    pipe = make_pipeline()
    first = pipe.push(before, T0)
    second = pipe.push(after, t_gap)
    alone = make_pipeline().push(after, t_gap)
    # No ringing across the gap: after it, exactly what the post-gap data alone gives.
    np.testing.assert_array_equal(second.values, alone.values)
    np.testing.assert_array_equal(second.times, alone.times)
    assert first.times[-1] <= T0 + n / FS and second.times[0] == t_gap + pipe.win / FS


def test_contiguous_t_start_is_not_a_gap(rng):
    x = rng.standard_normal((3000, 2))
    whole = make_pipeline().push(x, T0)
    pipe = make_pipeline()
    parts = [pipe.push(x[:1000], T0), pipe.push(x[1000:], T0 + 1000 / FS + 0.2 / FS)]
    np.testing.assert_array_equal(FeatureTable.concat(parts).values, whole.values)


def test_resampling_pipeline_runs_at_the_target_rate(rng):
    x = rng.standard_normal((int(FS * 20), 2)) * 10
    filters = [design_filter("bandpass", 256.0, low=0.5, high=45.0)]
    pipe = Pipeline(FS, 2, filters=filters, resample_to=256.0)
    table = push_chunks(pipe, x, [0, 777, 1500, 2900, x.shape[0]])
    y = resample(x, FS, 256.0)
    # Away from the end (where the batch resampler pads zeros) the stream equals batch.
    direct = Pipeline(256.0, 2, filters=filters).push(y, T0)
    assert pipe.win == 512 and len(table) > 0
    np.testing.assert_allclose(table.values, direct.values[: len(table)], rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(table.times, direct.times[: len(table)])


def test_state_does_not_grow_with_the_data_pushed(rng):
    pipe = make_pipeline()
    pipe.push(rng.standard_normal((500, 2)), T0)
    size = pipe.state_nbytes()
    for _ in range(20):
        pipe.push(rng.standard_normal((5000, 2)))
    assert pipe.state_nbytes() == size


def test_empty_and_tiny_chunks(rng):
    pipe = make_pipeline()
    empty = pipe.push(np.zeros((0, 2)), T0)
    assert len(empty) == 0 and empty.values.shape == (0, 2, len(pipe.feature_names))
    assert len(pipe.push(rng.standard_normal((1, 2)))) == 0


def test_validation_errors():
    pipe = make_pipeline()
    with pytest.raises(EegmonError, match="The first chunk needs t_start"):
        pipe.push(np.zeros((10, 2)))
    pipe.push(np.zeros((100, 2)), T0)
    with pytest.raises(EegmonError, match="must not overlap or go back in time"):
        pipe.push(np.zeros((10, 2)), T0)
    with pytest.raises(EegmonError, match="Expected 2 channels, got 1"):
        pipe.push(np.zeros((10, 1)))
    with pytest.raises(EegmonError, match="window and hop must span at least 4 and 1 samples"):
        Pipeline(FS, 2, window=0.01)
    with pytest.raises(EegmonError, match="Expected 2 channel names, got 1"):
        Pipeline(FS, 2, channel_names=["C3"])
    with pytest.raises(EegmonError, match="Allowed values are 'steady', 'zero'"):
        Pipeline(FS, 2, reset="warm")
    with pytest.raises(EegmonError, match="fs must be a number in the range"):
        extract_features(np.zeros((10, 2)), -1.0, T0)
