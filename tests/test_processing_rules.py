"""Rules written once and used by the pipeline, the detectors and the cohort: window grid, filters, threads."""

from __future__ import annotations

import logging

import numba
import numpy as np
import pytest
from eegmon.detectors.model import DetectionModel
from eegmon.detectors.runner import FeatureStream, design_filters, processing_rate

from eegmon._threads import limit_threads
from eegmon.errors import EegmonError
from eegmon.features import Pipeline, window_grid


@pytest.mark.parametrize(("fs", "resample_to", "proc", "win", "hop"), [
    (256.0, None, 256.0, 512, 256),  # no rate of its own: the input rate
    (256.0, 207.0, 207.0, 414, 207),  # a model's rate
    (200.5, None, 200.5, 401, 200),  # hop rounded to whole samples (200.5 -> 200)
    (100.0, 207.0, 207.0, 414, 207),
])
def test_window_grid_is_the_model_rate_or_the_input_rate_in_whole_samples(fs, resample_to, proc, win, hop):
    grid = window_grid(fs, 2.0, 1.0, resample_to=resample_to)
    assert (grid.fs_in, grid.fs, grid.window, grid.hop) == (fs, proc, win, hop)
    assert grid.hop_s == hop / proc
    assert grid.resample_to == (None if proc == fs else proc)


def test_window_grid_is_what_the_pipeline_and_the_detector_use():
    model = DetectionModel("classifier", None, fs=207.0, window_s=2.0, hop_s=1.0)
    for fs in (100.0, 207.0, 256.0):
        grid = window_grid(fs, model.window_s, model.hop_s, resample_to=model.fs)
        pipe = FeatureStream(model, fs, ["a", "b"]).pipeline
        assert (pipe.fs_in, pipe.fs, pipe.win, pipe.hop) == (grid.fs_in, grid.fs, grid.window, grid.hop)
        assert processing_rate(model, fs) == grid.fs
    own = DetectionModel("classifier", None, fs=None)
    assert processing_rate(own, 128.0) == 128.0


def test_window_grid_rejects_what_no_window_fits():
    with pytest.raises(EegmonError, match="window and hop must span at least 4 and 1 samples at 10.0 Hz, got 2"):
        window_grid(10.0, 0.2, 0.1)
    with pytest.raises(EegmonError, match="resample_to"):
        window_grid(256.0, 2.0, 1.0, resample_to=0.0)
    with pytest.raises(EegmonError, match="resample_to"):
        Pipeline(256.0, 1, resample_to=-1.0)


def test_notch_above_nyquist_is_left_out_and_logged(caplog):
    specs = [{"kind": "bandpass", "low": 0.5, "high": 40.0, "order": 2},
             {"kind": "notch", "line_freq": 50.0}, {"kind": "notch", "line_freq": 60.0}]
    with caplog.at_level(logging.INFO, logger="eegmon"):
        sos = design_filters(specs, 100.0)
    assert len(sos) == 1 and np.allclose(sos[0], design_filters(specs[:1], 100.0)[0])
    notes = [r.getMessage() for r in caplog.records if "notch is left out" in r.getMessage()]
    assert len(notes) == 2 and "50 Hz" in notes[0] and "60 Hz" in notes[1] and "Nyquist frequency 50 Hz" in notes[0]
    # at 207 Hz both notches stay
    assert len(design_filters(specs, 207.0)) == 3


@pytest.mark.parametrize(("spec", "edge"), [
    ({"kind": "bandpass", "low": 0.5, "high": 40.0}, "high=40"),
    ({"kind": "lowpass", "high": 45.0}, "high=45"),
    ({"kind": "highpass", "low": 35.0}, "low=35"),
])
def test_other_edges_above_nyquist_are_an_error_that_says_so(spec, edge):
    with pytest.raises(EegmonError, match=rf"{spec['kind']} filter has {edge} Hz, but edges must be below the "
                                          r"Nyquist frequency 32 Hz of its processing rate 64 Hz"):
        design_filters([spec], 64.0)
    model = DetectionModel("classifier", None, fs=None, filters=[spec])
    with pytest.raises(EegmonError, match="Nyquist"):
        FeatureStream(model, 64.0, ["a"])


def test_limit_threads_restores_the_count():
    before = numba.get_num_threads()
    with limit_threads(1, blas=False):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with pytest.raises(RuntimeError), limit_threads(1):
        assert numba.get_num_threads() == 1
        raise RuntimeError
    assert numba.get_num_threads() == before
