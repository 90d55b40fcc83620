"""What the trace view draws: every trace inside its lane, event labels that never overlap."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from _clinical_archive import OVERLAPPING, START, make_clinical_archive  # noqa: E402
from eegmon.viewer.app import LABEL_ROWS, LANE_HALF, MainWindow  # noqa: E402
from eegmon.viewer.model import ViewerModel  # noqa: E402

from eegmon.archive import Archive  # noqa: E402


@pytest.fixture(scope="module")
def clinical_archive(tmp_path_factory):
    return make_clinical_archive(tmp_path_factory.mktemp("lanes") / "clinical.h5")


@pytest.fixture
def window(qtbot, clinical_archive):
    arc = Archive.open(clinical_archive, "r")
    win = MainWindow(ViewerModel(arc, n_pixels=1200), csa_columns=20)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    arc.close()


def _lane_check(win) -> None:
    for i, curve in enumerate(win.trace_curves):
        _, y = curve.getData()
        finite = y[np.isfinite(y)]
        assert finite.size and finite.min() >= -i - LANE_HALF and finite.max() <= -i + LANE_HALF, i


@pytest.mark.parametrize("page_s", [10.0, 300.0])  # a raw page and a min/max page
def test_traces_stay_in_their_lanes_at_a_huge_gain(window, page_s):
    m = window.model
    m.set_page_size(page_s)
    for _ in range(12):  # 2**6 = 64 times the gain: ~50 µV traces span many lanes unclipped
        m.scale_by(2 ** 0.5)
    m.scale_by(8.0, trace=3)  # and one trace's own gain on top
    window.refresh_trace()
    assert window.model.page_data().kind == ("raw" if page_s == 10 else "minmax")
    raw_span = np.nanmax(np.abs(m.page_data().y)) * m.gain(m.trace_labels[3]) / m.scale_uv
    assert raw_span > 5  # would have crossed five lanes
    _lane_check(window)


def _shown_labels(window):
    return [text for region, text in window._region_pool if region.event_key is not None and text.isVisible()]


def _assert_apart(rects) -> None:
    for i, a in enumerate(rects):
        assert a.width() > 10 and a.height() > 5
        for b in rects[i + 1:]:
            assert not a.intersects(b), (a, b)


def test_overlapping_event_labels_do_not_intersect(window, qtbot):
    m = window.model
    m.set_page_size(60.0)
    m.goto(START + 590)
    window.refresh_trace()
    qtbot.wait(30)  # the labels' transforms follow the view
    shown = _shown_labels(window)
    bands = window.event_bands
    assert len(bands) == len(OVERLAPPING)
    assert len(shown) == min(len(OVERLAPPING), LABEL_ROWS)  # four overlapping events: four rows
    _assert_apart([t.sceneBoundingRect() for t in shown])
    # the labels start at their events' onsets (the page start for one that began before it)
    view = window.trace_plot.getViewBox()
    for text in shown:
        onset = view.mapSceneToView(text.sceneBoundingRect().topLeft()).x() + m.origin
        assert any(abs(onset - (START + a)) < 0.5 for a, _ in OVERLAPPING)
    # a narrower window: the same seconds take fewer pixels, the rows are laid out again
    window.resize(700, 700)
    qtbot.waitUntil(lambda: view.width() < 600, timeout=3000)
    qtbot.wait(30)
    narrow = _shown_labels(window)
    assert 1 <= len(narrow) <= LABEL_ROWS
    _assert_apart([t.sceneBoundingRect() for t in narrow])


def test_overview_trend_lane_says_what_it_shows(window, clinical_archive):
    assert window.trend_caption.toPlainText().startswith("signal activity")  # no detector ran
    assert "µV" in window.trend_caption.toPlainText() and "trend" not in window.trend_caption.toPlainText()


def test_overview_trend_lane_names_the_seizure_probability(qtbot, clinical_archive, tmp_path):
    from _review_archive import copy_archive

    path = copy_archive(clinical_archive, tmp_path / "detected.h5")
    with Archive.open(path, "a") as arc:  # what `eegmon detect` stores: a probability per minute
        times = arc.start + 60.0 * np.arange(30)
        arc.write_trend("detector:classifier", times, np.linspace(0, 1, 30))
    arc = Archive.open(path, "r")
    win = MainWindow(ViewerModel(arc, n_pixels=600), csa_columns=10)
    qtbot.addWidget(win)
    caption = win.trend_caption.toPlainText()
    assert caption.startswith("seizure probability") and "0-1" in caption and "µV" not in caption
    assert win.trend_plot.getViewBox().viewRange()[1][1] >= 1.0  # the whole 0-1 range is on the lane
    win.close()
    arc.close()
