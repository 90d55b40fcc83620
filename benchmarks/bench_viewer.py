"""Viewer: open, page stepping and zoom to the whole recording, beside MNE's Qt browser.

Data: the eegmon simulator's device folder (2 channels, 207 Hz, about one EDF a day with gaps;
30 days in the full run, 2 days with --quick), shared with bench_archive (same cache in the temp
directory), imported once into an archive that is cached beside it.

Both viewers run offscreen in this process (one QApplication, 1600 x 900 windows). eegmon:
``eegmon.viewer.app.MainWindow`` over the archive. Reference: ``mne.io.read_raw_edf`` of every file
(not preloaded), ``mne.concatenate_raws`` (the gaps between files are dropped: MNE has no gaps),
``raw.plot(show=False, precompute=False)`` with the mne-qt-browser backend (it reads the
visible span per page, like our viewer; its default would load the whole month into RAM in a
background thread: 18 GB for the 30-day recording here). A "step" is the action plus a forced
repaint: ``QApplication.processEvents()`` right after the action, which paints every widget
the action changed (offscreen, 1 px pens, no antialiasing in both).

Rows:

- ``open_first_page``: open the recording and show the first 30-s page (then a window ``grab()``).
  eegmon: open the archive, build the window (overview from the pyramid; the spectral lane fills
  in the background afterwards and is not timed), show. MNE: read the headers, concatenate, ``plot``,
  show. Python imports are excluded for both (MNE's figure is opened once, so its time includes
  the first use of mne-qt-browser; ours is the median of several after one warm-up).
- ``page_30s_median`` / ``page_30s_p95`` and ``page_1h_median`` / ``page_1h_p95``: next page (right
  arrow) at 30-s and 1-h pages, over consecutive steps.
- ``review_item_median`` / ``_p95``: review by keyboard, as a clinician does, in a scripted QTest
  run: ``U`` (jump to the next unreviewed item) then ``C`` (confirm it, on disk when it returns),
  one item after the other, 30 items (--quick: 3). The items are grouped: each of the first ground-truth
  seizures of the recording also has a detection from two detectors (``classifier`` 2 s late,
  ``line-length`` 4 s late), so the archive holds three rows per seizure and the list one item;
  every confirm writes the three in one durable commit (a record of the archive's journal of event
  edits). On a copy of the archive (the segment files hard-linked: they are never rewritten; the
  manifest and any journal copied). No reference: MNE's browser has no review.
- ``zoom_month``: show the whole recording on one page (key ``0``; served from the overview's
  pyramid read made at open) and ``zoom_month_uncached`` (the model's cache cleared first).
  No reference: MNE's browser reads and draws every sample for that (``setXRange`` over the whole
  2-day quick recording took 69 s in a one-off trial here), too slow for this script's time budget.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import _harness
import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _archive(folder: Path, days: float) -> Path:
    from eegmon.archive import Archive
    from eegmon.io import read_device_folder

    path = Path(tempfile.gettempdir()) / f"eegmon-bench-viewer-{days:g}d.h5"
    done = path.with_name(path.name + ".complete")
    if done.exists():
        return path
    import shutil

    path.unlink(missing_ok=True)
    shutil.rmtree(str(path) + ".d", ignore_errors=True)
    rec = read_device_folder(folder)
    with Archive.create(path, rec.channels, rec.fs) as arc:
        arc.import_recording(rec, quiet=True)
    done.touch()
    return path


def _steps(fn, n: int) -> list[float]:
    """Wall time of ``fn()`` plus the event processing that repaints what it changed, ``n`` times."""
    from pyqtgraph.Qt import QtWidgets

    app = QtWidgets.QApplication.instance()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        app.processEvents()
        out.append(time.perf_counter() - t0)
    return out


def _review_copy(path: Path, n_items: int) -> Path:
    """A hard-linked copy of the archive with two detectors' detections on its first ``n_items`` seizures."""
    import shutil

    from eegmon.archive import Archive
    from eegmon.events import Annotation

    copy = Path(tempfile.mkdtemp(prefix="eegmon-bench-review-")) / path.name
    shutil.copy2(path, copy)
    # segment files are never rewritten: hard links; a journal of event edits is appended to: a copy
    shutil.copytree(f"{path}.d", f"{copy}.d",
                    copy_function=lambda src, dst: shutil.copy2(src, dst) if src.endswith(".journal")
                    else os.link(src, dst))
    with Archive.open(copy, "a") as arc:
        seizures = [a for a in arc.annotations() if a.is_seizure][:n_items]
        if len(seizures) < n_items:
            raise SystemExit(f"bench_viewer: the recording has {len(seizures)} seizures, {n_items} needed")
        detectors = (("classifier", 2.0, 0.9), ("line-length", 4.0, 0.7))
        arc.add_detections([Annotation(a.onset + lag, max(a.duration - lag, 5.0), "sz", confidence=p,
                                       source=f"detector:{name}") for a in seizures for name, lag, p in detectors])
    return copy


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    args = _harness.parse_args(__doc__)
    days = 2.0 if args.quick else 30.0
    repeats = 3 if args.quick else 5
    n_steps = 20 if args.quick else 40
    n_steps_ref = 5 if args.quick else 8
    import mne
    from pyqtgraph.Qt import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from eegmon.viewer.app import MainWindow
    from eegmon.viewer.model import ViewerModel

    from eegmon.archive import Archive

    mne.set_log_level("ERROR")
    folder = _harness.simulated_device_folder(days)
    path = _archive(folder, days)
    edfs = sorted(folder.glob("*.edf"))
    tag = f"{days:g}d_2ch"
    results = []

    # ---------------------------------------------------------------- eegmon
    def open_ours():
        arc = Archive.open(path, "r")
        win = MainWindow(ViewerModel(arc, reviewer="bench"), csa_columns=0)
        win.resize(1600, 900)
        win.show()
        app.processEvents()
        win.grab()
        return win, arc

    def close(win, arc=None):
        win.close()
        win.deleteLater()
        app.processEvents()
        if arc is not None:
            arc.close()

    close(*open_ours())  # warm-up (h5py, Qt fonts)
    open_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        win, arc = open_ours()
        open_times.append(time.perf_counter() - t0)
        close(win, arc)
    win, arc = open_ours()
    win.set_page_size(30)
    page30 = _steps(win.next_page, n_steps)
    win.set_page_size(3600)
    win.model.goto(win.model.start)
    page1h = _steps(win.next_page, n_steps)
    win.model.goto(win.model.start)
    zoom_warm = []
    for _ in range(repeats):
        win.set_page_size(30)
        zoom_warm += _steps(win.zoom_all, 1)

    def zoom_cold():
        win.model._cache.clear()
        win.zoom_all()

    zoom_uncached = []
    for _ in range(repeats):
        win.set_page_size(30)
        zoom_uncached += _steps(zoom_cold, 1)
    close(win, arc)
    # review by keyboard: U then C per item, on grouped items (three rows each)
    from pyqtgraph.Qt import QtCore, QtTest

    n_items = 3 if args.quick else 30
    copy = _review_copy(path, n_items)
    arc = Archive.open(copy, "a")
    win = MainWindow(ViewerModel(arc, reviewer="bench"), csa_columns=0)
    win.resize(1600, 900)
    win.show()
    app.processEvents()
    win.set_page_size(30)
    win.model.set_event_filter(sources=("detector",))
    win.refresh_events()
    assert all(len(r.keys) == 3 for r in win.model.events()), "the items are not grouped"

    def review_one():
        QtTest.QTest.keyClick(win.trace_widget, QtCore.Qt.Key.Key_U)
        QtTest.QTest.keyClick(win.trace_widget, QtCore.Qt.Key.Key_C)

    per_item = _steps(review_one, n_items)
    confirmed = sum(r.event.status == "confirmed" for r in win.model.events())
    close(win, arc)
    if confirmed != n_items:
        raise SystemExit(f"bench_viewer: {confirmed} of {n_items} items confirmed by the keys")
    import shutil

    shutil.rmtree(copy.parent, ignore_errors=True)
    # a screenshot of the whole recording, spectral lane included (not timed)
    arc = Archive.open(path, "r")
    win = MainWindow(ViewerModel(arc, reviewer="bench"), csa_columns=240)
    win.resize(1600, 900)
    win.show()
    win.finish_overview()
    win.zoom_all()
    app.processEvents()
    month_png = Path("screenshots") / f"viewer_month_{tag}.png"
    month_png.parent.mkdir(exist_ok=True)
    win.grab().save(str(month_png))
    close(win, arc)

    # ---------------------------------------------------------------- MNE Qt browser
    ref_name = "mne-qt-browser (read_raw_edf + concatenate_raws + plot)"
    ref = {}
    try:
        mne.viz.set_browser_backend("qt")

        def open_mne(duration: float = 30.0):
            raws = [mne.io.read_raw_edf(p, preload=False) for p in edfs]
            raw = mne.concatenate_raws(raws) if len(raws) > 1 else raws[0]
            # precompute=False: read what is shown, page by page (the default "auto" starts a thread that
            # loads the whole month into RAM, 18 GB here, and competes for the CPU while we time steps)
            fig = raw.plot(show=False, duration=duration, block=False, precompute=False)
            fig.resize(1600, 900)
            fig.show()
            app.processEvents()
            fig.grab()
            return fig

        def close_mne(fig):
            thread = getattr(fig, "load_thread", None)
            if thread is not None:
                thread.wait()  # its background load (precompute) must not outlive the figure
            fig.close()
            fig.deleteLater()
            app.processEvents()

        t0 = time.perf_counter()
        fig = open_mne(30.0)
        ref["open"] = time.perf_counter() - t0
        ref["page30"] = _steps(lambda: fig._fake_keypress("right"), n_steps_ref)
        close_mne(fig)
        fig = open_mne(3600.0)
        ref["page1h"] = _steps(lambda: fig._fake_keypress("right"), n_steps_ref)
        close_mne(fig)
    except Exception as err:  # noqa: BLE001 - the reference is optional; say why it is missing
        print(f"mne-qt-browser reference not available: {type(err).__name__}: {err}")

    def get(key, fn):
        return fn(ref[key]) if key in ref else None

    results.append(_harness.row(f"open_first_page_{tag}", "s", statistics.median(open_times), ref.get("open"),
                                ref_name))
    results.append(_harness.row(f"page_30s_median_{tag}", "s", statistics.median(page30),
                                get("page30", statistics.median), ref_name))
    results.append(_harness.row(f"page_30s_p95_{tag}", "s", _p95(page30), get("page30", _p95), ref_name))
    results.append(_harness.row(f"page_1h_median_{tag}", "s", statistics.median(page1h),
                                get("page1h", statistics.median), ref_name))
    results.append(_harness.row(f"page_1h_p95_{tag}", "s", _p95(page1h), get("page1h", _p95), ref_name))
    results.append(_harness.row(f"zoom_month_{tag}", "s", statistics.median(zoom_warm),
                                get("zoom", statistics.median), ref_name))
    results.append(_harness.row(f"zoom_month_uncached_{tag}", "s", statistics.median(zoom_uncached),
                                get("zoom", statistics.median), ref_name))
    results.append(_harness.row(f"review_item_median_{tag}", "s", statistics.median(per_item)))
    results.append(_harness.row(f"review_item_p95_{tag}", "s", _p95(per_item)))
    print(f"screenshot of the whole recording: {month_png}")
    print("targets: open < 0.5 s, 30-s page step < 16 ms, 1-h page step < 30 ms, zoom to the whole month "
          "< 50 ms; review: time per item (U + C), aim < 0.3 s")
    _harness.finish("viewer", results, args)


if __name__ == "__main__":
    main()
