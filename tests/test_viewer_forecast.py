"""The stored seizure-risk forecast in the viewer: the model's per-pixel risk and the overview's risk lane."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from _review_archive import copy_archive, make_review_archive  # noqa: E402
from eegmon.viewer.model import ViewerModel  # noqa: E402

from eegmon.archive import Archive  # noqa: E402
from eegmon.forecast.risk import RISK_LEVELS, RiskForecast  # noqa: E402
from eegmon.forecast.store import store_forecasts  # noqa: E402

HOUR = 3600.0
#: (probability, level) of the hourly windows from the recording's start (the sample lasts 4 h,
#: so the last window runs past its end); levels chosen by hand, not from the probabilities, so a
#: mix-up of the two shows.
HOURLY = [(0.10, "low"), (0.45, "high"), (0.25, "medium"), (0.05, "low"), (0.60, "high")]


@pytest.fixture(scope="module")
def sample_archive(tmp_path_factory) -> Path:
    return make_review_archive(tmp_path_factory.mktemp("viewer_forecast") / "sample.h5")


@pytest.fixture
def archive_path(sample_archive, tmp_path) -> Path:
    return copy_archive(sample_archive, tmp_path / "a.h5")


def _forecasts(start: float, horizon_s: float, rows, offset: float = 0.0) -> list[RiskForecast]:
    return [RiskForecast(start=start + offset + i * horizon_s, horizon_s=horizon_s, probability=p, level=lv,
                         climatology=0.2, forecaster="test", issued_at=start + offset + i * horizon_s)
            for i, (p, lv) in enumerate(rows)]


def _store(path: Path, horizon_s: float = HOUR, rows=HOURLY, offset: float = 0.0) -> list[RiskForecast]:
    with Archive.open(path, "a") as arc:
        fcs = _forecasts(arc.start, horizon_s, rows, offset)
        store_forecasts(arc, fcs)
    return fcs


@pytest.fixture
def open_model():
    """``open_model(path, n_pixels=800)``: a model over the archive opened read-only, closed after the test."""
    opened: list[Archive] = []

    def make(path: Path, n_pixels: int = 800) -> ViewerModel:
        opened.append(Archive.open(path, "r"))
        return ViewerModel(opened[-1], n_pixels=n_pixels)

    yield make
    for arc in opened:
        arc.close()


# ---------------------------------------------------------------------- model (no Qt)
def test_trend_ignores_forecast_trends(open_model, archive_path, sample_archive):
    activity = open_model(sample_archive).trend()[1]  # no trend stored: signal activity
    _store(archive_path)
    m = open_model(archive_path)
    x, trend = m.trend()
    np.testing.assert_array_equal(trend, activity)
    assert np.nanmax(trend) > 1.0  # microvolts, not a probability
    # a detector trend whose name sorts after "forecast:" is still the one drawn
    with Archive.open(archive_path, "a") as arc:
        times = arc.start + 60.0 * np.arange(int((arc.stop - arc.start) // 60))
        arc.write_trend("linelength", times, np.full(times.size, 0.3))
    _, trend = open_model(archive_path).trend()
    assert np.nanmax(trend) == pytest.approx(0.3)


def test_risk_per_pixel_matches_stored_windows(open_model, archive_path):
    fcs = _store(archive_path, offset=HOUR)  # the first hour has no forecast
    m = open_model(archive_path)
    risk = m.risk()
    assert risk.stored and risk.horizon == "1h" and risk.probability.size == 800
    c = risk.centers
    first_hour = c < m.start + HOUR
    assert np.isnan(risk.probability[first_hour]).all() and (risk.level[first_hour] == -1).all()
    for fc in fcs:
        inside = (c >= fc.start) & (c < min(fc.start + fc.horizon_s, m.stop))
        if not inside.any():
            continue  # a window after the recording's end
        np.testing.assert_allclose(risk.probability[inside], fc.probability, rtol=1e-6)
        assert (risk.level[inside] == RISK_LEVELS.index(fc.level)).all()
        np.testing.assert_allclose(risk.climatology[inside], 0.2, rtol=1e-6)
    assert m.risk() is risk  # cached like the other overview data


def test_risk_prefers_24h_and_nothing_stored_is_empty(open_model, archive_path, sample_archive):
    empty = open_model(sample_archive).risk()
    assert not empty.stored and empty.horizon == ""
    assert np.isnan(empty.probability).all() and (empty.level == -1).all()
    _store(archive_path)
    _store(archive_path, horizon_s=24 * HOUR, rows=[(0.3, "medium")], offset=-2 * HOUR)
    risk = open_model(archive_path).risk()
    assert risk.horizon == "24h"
    np.testing.assert_allclose(risk.probability, 0.3, rtol=1e-6)
    assert (risk.level == 1).all()


def test_pixels_wider_than_a_window_take_the_riskiest(open_model, archive_path):
    # two pixels of about 2 h over the 4-h sample: each holds two hourly windows
    _store(archive_path)
    m = open_model(archive_path, n_pixels=16)
    risk = m.risk(n_pixels=2)
    width = (m.stop - m.start) / 2
    assert width > HOUR
    expect = []
    for px in range(2):
        starts = [(i, p, lv) for i, (p, lv) in enumerate(HOURLY)
                  if m.start + px * width <= m.start + i * HOUR < m.start + (px + 1) * width]
        _, p, lv = max(starts, key=lambda s: (RISK_LEVELS.index(s[2]), s[1]))
        expect.append((p, RISK_LEVELS.index(lv)))
    np.testing.assert_allclose(risk.probability, [e[0] for e in expect], rtol=1e-6)
    assert risk.level.tolist() == [e[1] for e in expect]


# ---------------------------------------------------------------------- the window (pytest-qt, offscreen)
pytest.importorskip("pytestqt")
pg = pytest.importorskip("pyqtgraph")
from eegmon.viewer.app import RISK_COLOURS, MainWindow  # noqa: E402


def _window(qtbot, path: Path) -> MainWindow:
    arc = Archive.open(path, "a")
    win = MainWindow(ViewerModel(arc, reviewer="dr.qt", n_pixels=1200), csa_columns=20)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def _bars_at(win: MainWindow, x: float) -> list[tuple[str, float]]:
    """``(level, bar top)`` of every risk bar spanning ``x`` (relative seconds)."""
    out = []
    for level, bars in win.risk_bars.items():
        if not bars.isVisible():
            continue
        x0, x1, y1 = (np.asarray(bars.opts[k], dtype=float) for k in ("x0", "x1", "y1"))
        out += [(level, float(top)) for top in y1[(x0 <= x) & (x < x1)]]
    return out


def test_risk_lane_draws_the_stored_forecasts(qtbot, archive_path):
    fcs = _store(archive_path)
    win = _window(qtbot, archive_path)
    m = win.model
    plot = win.risk_plot
    assert plot is not None and win.ov_plots == [win.ov_plots[0], win.trend_plot, plot, win.spectrum_plot]
    assert plot.getAxis("left").labelText == "risk"
    for fc in fcs:
        mid = fc.start + fc.horizon_s / 2
        if mid >= m.stop:
            continue
        assert _bars_at(win, mid - m.origin) == [(fc.level, pytest.approx(fc.probability, rel=1e-6))]
    for level, bars in win.risk_bars.items():
        assert bars.opts["brush"].color().getRgb()[:3] == RISK_COLOURS[level]
    # aligned with the other lanes: same x range, same plot-area left edge and width on screen
    qtbot.wait(20)
    ref = win.trend_plot.getViewBox()
    vb = plot.getViewBox()
    np.testing.assert_allclose(vb.viewRange()[0], ref.viewRange()[0])
    np.testing.assert_allclose(vb.viewRange()[0], [0.0, m.duration])
    a, b = vb.sceneBoundingRect(), ref.sceneBoundingRect()
    assert (a.left(), a.width()) == pytest.approx((b.left(), b.width()), abs=1.0)
    # clicking the lane moves the page there, as on every lane
    vb._on_pick(2.5 * HOUR)
    assert m.page_start + m.page_s / 2 == pytest.approx(m.origin + 2.5 * HOUR)


def test_no_forecast_no_risk_lane(qtbot, archive_path):
    win = _window(qtbot, archive_path)
    assert win.risk_plot is None and len(win.ov_plots) == 3
    assert win.spectrum_plot.getAxis("bottom").style["showValues"]


def test_reload_adds_the_risk_lane(qtbot, archive_path):
    win = _window(qtbot, archive_path)
    assert win.risk_plot is None
    fcs = _store(archive_path)  # e.g. `eegmon forecast ARCHIVE` ran while the window was open
    win.reload()
    assert win.risk_plot is not None and win.ov_plots.index(win.risk_plot) == 2
    mid = fcs[1].start + HOUR / 2 - win.model.origin
    assert _bars_at(win, mid) == [("high", pytest.approx(0.45, rel=1e-6))]
