"""Feature windows and trends stored beside the archive's segments (immutable, atomic files)."""

from __future__ import annotations

import numpy as np
import pytest

from eegmon.archive import Archive
from eegmon.errors import EegmonError
from eegmon.features import FEATURE_NAMES, FeatureTable


def _table(t0, n, rng):
    return FeatureTable(t0 + np.arange(1, n + 1) * 0.5, rng.normal(size=(n, 2, len(FEATURE_NAMES))), FEATURE_NAMES,
                        ("a", "b"))


def test_features_round_trip_and_span_query(tmp_path, rng_seed):
    rng = np.random.default_rng(rng_seed)
    arc = Archive.create(tmp_path / "a.h5", ["a", "b"], 200.0)
    empty = arc.features()
    assert len(empty) == 0 and empty.values.shape == (0, 2, 0) and empty.channel_names == ("a", "b")
    assert np.isnan(arc.features_stop)
    first, second = _table(1000.0, 10, rng), _table(2000.0, 6, rng)
    arc.write_features(second)
    arc.write_features(first)
    arc.write_features(_table(3000.0, 0, rng))  # nothing to store
    arc.close()
    with Archive.open(tmp_path / "a.h5") as ro:
        all_ = ro.features()
        np.testing.assert_array_equal(all_.times, np.r_[first.times, second.times])
        np.testing.assert_array_equal(all_.values, np.r_[first.values, second.values])
        part = ro.features(1002.0, 2001.0)
        np.testing.assert_array_equal(part.times, np.r_[first.times[3:], second.times[:1]])
        assert ro.features_stop == pytest.approx(second.times[-1])
        assert not list((tmp_path / "a.h5.d").glob("*.tmp*"))
        with pytest.raises(EegmonError, match="read-only|writable|read only"):
            ro.write_features(first)


def test_trend_round_trip_is_replaced_atomically(tmp_path):
    arc = Archive.create(tmp_path / "t.h5", ["a"], 100.0)
    arc.write_trend("detector:x", np.array([0.0, 60.0]), np.array([0.1, 0.9]))
    arc.write_trend("detector:x", np.array([0.0, 60.0, 120.0]), np.array([0.2, 0.3, 0.4]))
    times, values = arc.trends()["detector:x"]
    np.testing.assert_array_equal(times, [0.0, 60.0, 120.0])
    np.testing.assert_allclose(values, [0.2, 0.3, 0.4], rtol=1e-6)
    with pytest.raises(EegmonError, match="1-D of equal length"):
        arc.write_trend("y", np.zeros(2), np.zeros(3))
