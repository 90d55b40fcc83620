"""Filters and resampling (eegmon.dsp) against scipy.signal on random data."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from eegmon.dsp import Resampler, SosFilter, design_filter, filter_signal, resample
from eegmon.errors import EegmonError

RTOL = 1e-9  # float64 agreement with scipy.signal, relative to the output's scale


@pytest.fixture
def rng():
    """A seeded generator; the tests must pass for any seed (set EEGMON_TEST_SEED)."""
    return np.random.default_rng(int(os.environ.get("EEGMON_TEST_SEED", "0")))


def assert_close(actual, desired, rtol=RTOL):
    scale = np.nanmax(np.abs(desired))
    np.testing.assert_allclose(actual, desired, rtol=0, atol=rtol * scale)


def chain(fs=207.0):
    return [design_filter("bandpass", fs, low=0.5, high=45.0),
            design_filter("notch", fs, line_freq=50.0)]


@pytest.mark.parametrize(("kind", "kw"), [
    ("bandpass", {"low": 0.5, "high": 45.0}),
    ("highpass", {"low": 1.0}),
    ("lowpass", {"high": 30.0}),
    ("notch", {"line_freq": 60.0}),
])
def test_design_matches_scipy(kind, kw):
    sos = design_filter(kind, 256.0, **kw)
    if kind == "notch":  # 60, 120 Hz below 128 Hz
        assert sos.shape == (2, 6)
        w, h = signal.sosfreqz(sos, [60.0, 120.0, 10.0], fs=256.0)
        assert np.abs(h[:2]).max() < 1e-6 and abs(abs(h[2]) - 1) < 1e-2
    else:
        wn = (kw["low"], kw["high"]) if kind == "bandpass" else next(iter(kw.values()))
        np.testing.assert_allclose(sos, signal.butter(4, wn, btype=kind, fs=256.0, output="sos"))


def test_causal_filter_equals_sosfilt(rng):
    x = rng.standard_normal((3000, 3)) * 20 + 5
    sos = np.vstack(chain())
    assert_close(filter_signal(x, chain()), signal.sosfilt(sos, x, axis=0))
    out = np.empty((3, 3000)).T  # a strided destination, as the Pipeline uses
    SosFilter(sos, 3, reset="zero").process(x, out=out)
    assert_close(out, signal.sosfilt(sos, x, axis=0))


def test_steady_reset_equals_sosfilt_with_zi(rng):
    x = rng.standard_normal((2000, 2)) + 100.0  # a DC offset: the case steady state is for
    sos = np.vstack(chain())
    zi = signal.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
    expected, _ = signal.sosfilt(sos, x, axis=0, zi=zi)
    assert_close(SosFilter(sos, 2, reset="steady").process(x), expected)


def test_zero_phase_equals_sosfiltfilt(rng):
    x = rng.standard_normal((1500, 2)) * 10
    sos = np.vstack(chain(256.0))
    assert_close(filter_signal(x, sos, zero_phase=True), signal.sosfiltfilt(sos, x, axis=0))


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(0, 1200), max_size=12), seed=st.integers(0, 2**32 - 1),
       reset=st.sampled_from(["zero", "steady"]))
def test_any_chunking_gives_one_call_output(cuts, seed, reset):
    x = np.random.default_rng(seed).standard_normal((1200, 2)) * 30
    sos = np.vstack(chain())
    whole = SosFilter(sos, 2, reset=reset).process(x)
    filt = SosFilter(sos, 2, reset=reset)
    bounds = [0, *sorted(cuts), 1200]
    parts = [filt.process(x[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    if reset == "zero":
        assert_close(whole, signal.sosfilt(sos, x, axis=0))


@pytest.mark.parametrize("reset", ["zero", "steady"])
def test_gap_reset_leaves_no_ringing(rng, reset):
    x = rng.standard_normal((1000, 2)) * 50
    sos = np.vstack(chain())
    filt = SosFilter(sos, 2, reset=reset)
    filt.process(x[:600])
    filt.reset()
    after = filt.process(x[600:])
    alone = SosFilter(sos, 2, reset=reset).process(x[600:])
    np.testing.assert_array_equal(after, alone)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_sample_restarts_the_state(rng, bad):
    x = rng.standard_normal((800, 2))
    x[300, 0] = bad
    sos = np.vstack(chain())
    y = SosFilter(sos, 2, reset="zero").process(x)
    assert np.isnan(y[300, 0]) and np.isfinite(np.delete(y, 300, axis=0)).all()
    assert_close(y[301:, 0], signal.sosfilt(sos, x[301:, 0]))
    assert_close(y[:, 1], signal.sosfilt(sos, x[:, 1]))


@pytest.mark.parametrize(("fs_in", "fs_out"), [(207, 256), (256, 207), (250, 256), (256, 128),
                                               (200, 200)])
def test_resample_equals_resample_poly(rng, fs_in, fs_out):
    x = rng.standard_normal((2000, 2))
    res = Resampler(fs_in, fs_out, 2)
    expected = signal.resample_poly(x, res.up, res.down, axis=0)
    assert_close(resample(x, fs_in, fs_out), expected)


@settings(max_examples=20, deadline=None)
@given(cuts=st.lists(st.integers(0, 900), max_size=10), seed=st.integers(0, 2**32 - 1))
def test_streaming_resample_any_chunking(cuts, seed):
    x = np.random.default_rng(seed).standard_normal((900, 2))
    res = Resampler(207, 256, 2)
    bounds = [0, *sorted(cuts), 900]
    parts = [res.push(x[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    streamed = np.concatenate([*parts, res.flush()])
    # Exact everywhere, edges included: flush() pads with zeros as resample_poly does.
    assert_close(streamed, signal.resample_poly(x, 256, 207, axis=0))


def test_validation_errors():
    with pytest.raises(EegmonError, match="Allowed values are 'bandpass'.*Did you mean 'bandpass'"):
        design_filter("bandpas", 256.0, low=1, high=40)
    with pytest.raises(EegmonError, match="needs low and high"):
        design_filter("bandpass", 256.0, low=1.0)
    with pytest.raises(EegmonError, match="high must be a number in the range"):
        design_filter("lowpass", 256.0, high=200.0)
    with pytest.raises(EegmonError, match="needs low < high"):
        design_filter("bandpass", 256.0, low=40.0, high=10.0)
    with pytest.raises(EegmonError, match=r"shape \(n_sections, 6\), got shape \(3, 5\)"):
        SosFilter(np.ones((3, 5)), 2)
    filt = SosFilter(design_filter("lowpass", 256.0, high=30.0), 2)
    with pytest.raises(EegmonError, match="Expected 2 channels, got 3"):
        filt.process(np.zeros((10, 3)))
    with pytest.raises(EegmonError, match=r"shape \(n_samples, n_channels\), got float64 array"):
        filt.process(np.zeros(10))
    with pytest.raises(EegmonError, match=r"Expected out of shape \(10, 2\) and dtype float64"):
        filt.process(np.zeros((10, 2)), out=np.zeros((10, 2), dtype=np.float32))
    with pytest.raises(EegmonError, match="needs more than"):
        filter_signal(np.zeros((5, 1)), filt.sos, zero_phase=True)


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="nothing compiles at all")
def test_import_compiles_nothing():
    code = ("import eegmon.dsp, eegmon.features\n"
            "from eegmon.dsp import _kernels as d\nfrom eegmon.features import _kernels as f\n"
            "kernels = [d.sosfilt_chunk, d.upfirdn_chunk, f.time_features, f.spectral_features]\n"
            "assert all(not k.signatures for k in kernels)")
    subprocess.run([sys.executable, "-c", code], check=True)
