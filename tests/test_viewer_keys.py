"""A reviewer's key sequence on a 19-channel 256-Hz recording, each key's handling timed and printed.

The display filters' Numba kernels compile in a background thread when the window opens
(``KernelWarmup``), not on the UI thread when the first filtered page is drawn. Times are printed
(``pytest -s``), never asserted: the machine is shared. What each key did is asserted.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from _clinical_archive import make_clinical_archive  # noqa: E402
from eegmon.viewer.app import KernelWarmup, MainWindow  # noqa: E402
from eegmon.viewer.model import ViewerModel  # noqa: E402
from pyqtgraph.Qt import QtCore, QtWidgets  # noqa: E402

from eegmon.archive import Archive  # noqa: E402

Key = QtCore.Qt.Key
Mod = QtCore.Qt.KeyboardModifier
NO = Mod.NoModifier

#: (what the reviewer types, key, modifiers, check of the model afterwards)
SEQUENCE = (
    ("Right", Key.Key_Right, NO, lambda m, s: m.page_start == pytest.approx(s["start"] + 30)),
    ("Right", Key.Key_Right, NO, lambda m, s: m.page_start == pytest.approx(s["start"] + 60)),
    ("Left", Key.Key_Left, NO, lambda m, s: m.page_start == pytest.approx(s["start"] + 30)),
    ("Shift+Right", Key.Key_Right, Mod.ShiftModifier, lambda m, s: m.page_start == pytest.approx(s["start"] + 45)),
    ("1", Key.Key_1, NO, lambda m, s: m.page_s == 10),
    ("F2 (HP 0.5 Hz)", Key.Key_F2, NO, lambda m, s: m.filters.highpass == 0.5),
    ("F3 (LP 70 Hz)", Key.Key_F3, NO, lambda m, s: m.filters.lowpass == 70),
    ("F4 (notch 50 Hz)", Key.Key_F4, NO, lambda m, s: m.filters.notch == 50),
    ("Right", Key.Key_Right, NO, lambda m, s: m.page_data().kind == "raw"),
    ("F3 (LP 40 Hz)", Key.Key_F3, NO, lambda m, s: m.filters.lowpass == 40),
    ("2", Key.Key_2, NO, lambda m, s: m.page_s == 30),
    ("Right", Key.Key_Right, NO, lambda m, s: True),
    ("3", Key.Key_3, NO, lambda m, s: m.page_s == 60 and m.page_data().kind == "minmax"),
    ("4", Key.Key_4, NO, lambda m, s: m.page_s == 300),
    ("5", Key.Key_5, NO, lambda m, s: m.page_s == 1800),  # clamped to the 30-min recording
    ("6", Key.Key_6, NO, lambda m, s: m.page_s == 1800),
    ("0", Key.Key_0, NO, lambda m, s: m.page_start == m.start),
    ("1", Key.Key_1, NO, lambda m, s: m.page_s == 10),
    ("B (longitudinal)", Key.Key_B, NO, lambda m, s: m.montage == "longitudinal"),
    ("B (transverse)", Key.Key_B, NO, lambda m, s: m.montage == "transverse"),
    ("B (average)", Key.Key_B, NO, lambda m, s: m.montage == "average"),
    ("Right", Key.Key_Right, NO, lambda m, s: True),
    ("+", Key.Key_Plus, NO, lambda m, s: m.scale_uv < 100),
    ("-", Key.Key_Minus, NO, lambda m, s: m.scale_uv == pytest.approx(100)),
    ("N (next event)", Key.Key_N, NO, lambda m, s: m.selected is not None),
    ("F2 (HP 1 Hz)", Key.Key_F2, NO, lambda m, s: m.filters.highpass == 1.0),
    ("PgDown", Key.Key_PageDown, NO, lambda m, s: True),
)


@pytest.fixture(scope="module")
def clinical_archive(tmp_path_factory):
    return make_clinical_archive(tmp_path_factory.mktemp("keys") / "clinical.h5")


def test_keys_of_a_review_session_timed(qtbot, clinical_archive):
    arc = Archive.open(clinical_archive, "r")
    t_open = time.perf_counter()
    win = MainWindow(ViewerModel(arc, n_pixels=1600), csa_columns=60)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    open_s = time.perf_counter() - t_open
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=3000)
    win.trace_widget.setFocus()
    # the warm-up runs in its own thread, started when the window opened (not the UI thread)
    warm = next((t for t in threading.enumerate() if t.name == "eegmon-kernel-warmup"), None)
    assert warm is None or warm is not threading.current_thread()
    # a reviewer looks at the first page for a moment; the kernels compile meanwhile
    qtbot.waitUntil(KernelWarmup.done, timeout=120_000)
    assert KernelWarmup.error is None
    from eegmon.dsp._kernels import sosfilt_chunk

    assert sosfilt_chunk.signatures  # compiled before any filter key was pressed
    m = win.model
    state = {"start": m.page_start}
    rows = []
    for name, key, mod, check in SEQUENCE:
        t0 = time.perf_counter()
        qtbot.keyClick(win.trace_widget, key, mod)
        QtWidgets.QApplication.processEvents()  # the repaint the key caused
        rows.append((name, 1000 * (time.perf_counter() - t0)))
        assert check(m, state), (name, m.page_start, m.page_s, m.filters, m.montage)
    width = max(len(n) for n, _ in rows)
    print(f"\nwindow open {1000 * open_s:.0f} ms; kernel warm-up (background thread) {KernelWarmup.seconds:.2f} s")
    print(f"{'key':<{width}}  handled in (ms)")
    for name, ms in rows:
        print(f"{name:<{width}}  {ms:8.1f}" + ("   > 100 ms" if ms > 100 else ""))
    times = sorted(ms for _, ms in rows)
    print(f"{'median':<{width}}  {times[len(times) // 2]:8.1f}\n{'max':<{width}}  {times[-1]:8.1f}")
    win.close()
    arc.close()
