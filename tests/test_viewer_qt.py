"""The review window offscreen (pytest-qt): keys drive the model and every action lands in the archive."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")
pg = pytest.importorskip("pyqtgraph")

from _review_archive import copy_archive, make_review_archive  # noqa: E402
from eegmon.viewer.app import SHORTCUTS, MainWindow  # noqa: E402
from eegmon.viewer.model import ViewerModel  # noqa: E402
from pyqtgraph.Qt import QtCore  # noqa: E402

from eegmon.archive import Archive  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
Key = QtCore.Qt.Key
Mod = QtCore.Qt.KeyboardModifier


@pytest.fixture(scope="module")
def sample_archive(tmp_path_factory) -> Path:
    return make_review_archive(tmp_path_factory.mktemp("viewer_qt") / "sample.h5")


@pytest.fixture
def archive_path(sample_archive, tmp_path) -> Path:
    return copy_archive(sample_archive, tmp_path / "a.h5")


def _window(qtbot, path: Path, reviewer: str = "dr.qt") -> MainWindow:
    arc = Archive.open(path, "a")
    win = MainWindow(ViewerModel(arc, reviewer=reviewer, n_pixels=1200), csa_columns=60)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=3000)  # window shortcuts need the active window
    win.trace_widget.setFocus()
    return win


def _key(qtbot, win, key, mod=Mod.NoModifier):
    qtbot.keyClick(win.trace_widget, key, mod)


def _stored(path: Path, kind: str, id_: int):
    with Archive.open(path, "r") as arc:
        table = arc.detections() if kind == "detection" else arc.annotations()
    return {e.id: e for e in table}[id_]


def test_page_zoom_jump_review_undo_export(qtbot, archive_path, tmp_path):
    win = _window(qtbot, archive_path)
    m = win.model
    start = m.page_start
    _key(qtbot, win, Key.Key_Right)
    assert m.page_start == pytest.approx(start + 30)
    _key(qtbot, win, Key.Key_Right, Mod.ShiftModifier)
    assert m.page_start == pytest.approx(start + 45)
    _key(qtbot, win, Key.Key_5)  # 1 h page: drawn from the pyramid
    assert m.page_s == 3600 and m.page_data().kind == "minmax"
    x, _ = win.trace_curves[0].getData()
    assert len(x) == 2 * 1200
    _key(qtbot, win, Key.Key_0)  # whole recording
    assert (m.page_start, m.page_stop) == pytest.approx((m.start, m.stop))
    _key(qtbot, win, Key.Key_1)
    assert m.page_s == 10
    # jump to the first detection from the list with Enter
    win.source_box.setCurrentText("detector")
    assert all(any(s.startswith("detector:") for s in m.event(k).sources) for k in win._table_keys)
    win.table.setFocus()  # Enter in the list itself
    win.table.selectRow(0)
    qtbot.keyClick(win.table, Key.Key_Return)
    first = win._table_keys[0]
    ev = m.event(first).event
    assert m.selected == first and m.page_start < ev.onset and ev.offset < m.page_stop
    assert any(r.getRegion()[0] == pytest.approx(ev.onset - m.origin) for r in win.event_bands)
    _key(qtbot, win, Key.Key_C)
    got = _stored(archive_path, *first)
    assert got.status == "confirmed" and got.reviewer == "dr.qt"
    _key(qtbot, win, Key.Key_U)  # next unreviewed
    second = m.selected
    assert second != first and m.event(second).event.status == "unreviewed"
    _key(qtbot, win, Key.Key_R)
    assert _stored(archive_path, *second).status == "rejected"
    assert "reviewed 2 of" in win.counter.text()
    win.relabel("sz_foc_ia")
    assert _stored(archive_path, *second).label == "sz_foc_ia"
    dur = _stored(archive_path, *second).duration
    _key(qtbot, win, Key.Key_Right, Mod.AltModifier)  # offset +1 s
    assert _stored(archive_path, *second).duration == pytest.approx(dur + 1)
    # undo three times: offset, label, status; then redo one
    _key(qtbot, win, Key.Key_Z, Mod.ControlModifier)
    assert _stored(archive_path, *second).duration == pytest.approx(dur)
    _key(qtbot, win, Key.Key_Z, Mod.ControlModifier)
    assert _stored(archive_path, *second).label == "sz"
    _key(qtbot, win, Key.Key_Z, Mod.ControlModifier)
    assert _stored(archive_path, *second).status == "unreviewed"
    _key(qtbot, win, Key.Key_Y, Mod.ControlModifier)
    assert _stored(archive_path, *second).status == "rejected"
    # add by keyboard over the middle third of the page
    _key(qtbot, win, Key.Key_A)
    with Archive.open(archive_path, "r") as arc:
        new = max(arc.annotations(), key=lambda e: e.id)
    assert new.source == "reviewer:dr.qt" and new.status == "confirmed"
    assert ("annotation", new.id) in m.event(m.selected).keys  # selected: the item it joined
    assert new.onset == pytest.approx(m.page_start + m.page_s / 3)
    files = win.export_to(tmp_path / "export")
    tsv = files[0].read_text().splitlines()
    assert len(tsv) == 1 + 2  # the confirmed detection and the added seizure annotation
    assert all(p.stat().st_size > 0 for p in files)


def test_offset_nudge_and_edge_drag_and_drag_add(qtbot, archive_path):
    win = _window(qtbot, archive_path)
    m = win.model
    key = m.next_event(unreviewed=True)
    win.refresh_trace()
    before = _stored(archive_path, *key)
    _key(qtbot, win, Key.Key_Right, Mod.AltModifier)
    assert _stored(archive_path, *key).duration == pytest.approx(before.duration + 1)
    _key(qtbot, win, Key.Key_Left, Mod.ControlModifier)
    got = _stored(archive_path, *key)
    assert got.onset == pytest.approx(before.onset - 1) and got.duration == pytest.approx(before.duration + 2)
    # dragging an event's edges: the region's change-finished signal writes the new onset/offset
    region = next(r for r in win.event_bands if r.getRegion()[0] == pytest.approx(got.onset - m.origin))
    region.setRegion((got.onset - m.origin + 2.0, got.offset - m.origin - 1.0))
    qtbot.waitUntil(lambda: _stored(archive_path, *key).onset == pytest.approx(got.onset + 2.0), timeout=2000)
    assert _stored(archive_path, *key).duration == pytest.approx(got.duration - 3.0)
    # dragging on the trace adds an annotation (the view box calls back with the dragged span)
    x0 = m.page_start - m.origin + 1.0
    win.trace_plot.getViewBox()._on_drag_done(x0, x0 + 4.0)
    new = m.selected
    stored = _stored(archive_path, *new)
    assert stored.onset == pytest.approx(m.origin + x0) and stored.duration == pytest.approx(4.0)


def test_filters_montage_gain_keys(qtbot, archive_path):
    win = _window(qtbot, archive_path)
    m = win.model
    _key(qtbot, win, Key.Key_F2)
    _key(qtbot, win, Key.Key_F3)
    _key(qtbot, win, Key.Key_F4)
    assert (m.filters.highpass, m.filters.lowpass, m.filters.notch) == (0.5, 70.0, 50.0)
    assert "HP 0.5 Hz" in win.page_label.text()
    _key(qtbot, win, Key.Key_B)
    assert m.montage == "device" and len(win.trace_curves) == 1  # the next montage these channels allow
    _key(qtbot, win, Key.Key_B)
    scale = m.scale_uv
    _key(qtbot, win, Key.Key_Plus)
    assert m.scale_uv < scale
    _key(qtbot, win, Key.Key_Down, Mod.AltModifier)
    assert win.selected_trace == 1
    _key(qtbot, win, Key.Key_Asterisk)
    assert m.gain(m.trace_labels[1]) > 1 and m.gain(m.trace_labels[0]) == 1
    _, y = win.trace_curves[1].getData()
    assert np.isfinite(y).any()


def test_reload_sees_other_writers(qtbot, archive_path):
    from eegmon.events import Annotation

    win = _window(qtbot, archive_path)
    n = len(win.model.all_events)
    with Archive.open(archive_path, "a") as other:
        other.add_annotations([Annotation(onset=other.start + 99.0, duration=5.0, label="musc", source="diary")])
    _key(qtbot, win, Key.Key_R, Mod.ControlModifier)
    assert len(win.model.all_events) == n + 1 and win.table_model.rowCount() == len(win.model.events())


def test_gap_drawn_as_gap(qtbot, archive_path):
    win = _window(qtbot, archive_path)
    gap = win.model.archive.gaps[0]
    win.model.set_page_size(1800)
    win.model.center_on((gap[0] + gap[1]) / 2)
    win.refresh_trace()
    x, y = win.trace_curves[0].getData()
    inside = (x + win.model.origin > gap[0] + 30) & (x + win.model.origin < gap[1] - 30)
    assert inside.any() and np.isnan(y[inside]).all()


def test_help_lists_every_shortcut(qtbot, archive_path):
    win = _window(qtbot, archive_path)
    _key(qtbot, win, Key.Key_F1)
    dialog = win._help_dialog
    assert dialog.isVisible()
    text = win.help_text()
    for keys, what, method in SHORTCUTS:
        assert what in text and " / ".join(keys) in text and hasattr(win, method)
    dialog.close()


def test_open_close_many_times(qtbot, sample_archive):
    for _ in range(4):
        arc = Archive.open(sample_archive, "r")
        win = MainWindow(ViewerModel(arc, n_pixels=600), csa_columns=10)
        win.show()
        qtbot.waitExposed(win)
        win.zoom_all()
        win.finish_overview()
        win.close()
        win.deleteLater()
        qtbot.wait(10)
        arc.close()


CLI = "import sys; from eegmon.cli import main; sys.exit(main(sys.argv[1:]))"


def test_many_page_steps_do_not_crash(qtbot, archive_path):
    # PySide6 6.12 drops references to None/True on Qt calls; without the guard in eegmon.viewer._qtfix
    # Python 3.11 aborted ("bool_dealloc") after about a hundred page steps
    win = _window(qtbot, archive_path)
    win.model.set_page_size(10)
    for _ in range(300):
        win.next_page()
    assert win.model.page_start > win.model.start


def test_cli_view_opens_and_exits_cleanly(sample_archive):
    # a real process: import-free open, event loop, close, interpreter teardown (PySide6 exit crashes)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", CLI, "view", str(sample_archive), "--close-after", "0.3"],
                              capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr


def test_screenshots(qtbot, archive_path):
    """Writes screenshots/viewer_page_seizure.png and screenshots/viewer_overview.png for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    win = _window(qtbot, archive_path)
    win.finish_overview()
    sz = next(r for r in win.model.all_events if r.kind == "annotation" and r.event.label == "sz")
    win.jump_to(sz.key)
    win.model.set_page_size(15)  # raw samples (4 per pixel at most), filtered, around the onset
    win.model.center_on(sz.event.onset + 2)
    win.model.set_filters(highpass=0.5, lowpass=40.0)
    win.model.scale_uv = 300.0
    win.refresh_trace()
    assert win.model.page_data().kind == "raw"
    qtbot.wait(20)
    page = SCREENSHOTS / "viewer_page_seizure.png"
    assert win.grab().save(str(page))
    win.zoom_all()
    qtbot.wait(20)
    overview = SCREENSHOTS / "viewer_overview.png"
    assert win.grab().save(str(overview))
    assert page.stat().st_size > 10_000 and overview.stat().st_size > 10_000


@pytest.mark.timeout(600)
def test_ctrl_t_trains_the_patients_model_in_the_background(qtbot, archive_path):
    from eegmon.archive.models import read_registry

    win = _window(qtbot, archive_path)
    m = win.model
    for row in m.events():  # the scripted review: detections of a true seizure confirmed, the others rejected
        if row.event.is_seizure and any(s.startswith("detector:") for s in row.sources):
            (m.confirm if "ground_truth" in row.sources else m.reject)(row.key)
    _key(qtbot, win, Key.Key_T, Mod.ControlModifier)
    assert "training the patient's model" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: "stored as model v1" in win.statusBar().currentMessage(), timeout=480000)
    registry = read_registry(archive_path)
    assert registry.current == "v0001" and len(registry.versions) == 1
