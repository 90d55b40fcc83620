"""The viewer's data model without a screen: level of detail, navigation, events, durable review, export."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _review_archive import copy_archive, make_review_archive
from eegmon.viewer.export import export_events_tsv, export_summary, reviewed_events, summary_table
from eegmon.viewer.model import ViewerModel

from eegmon.archive import Archive
from eegmon.errors import EegmonError


@pytest.fixture(scope="module")
def sample_archive(tmp_path_factory) -> Path:
    """The bundled 4-h sample with synthetic detections, imported once for the module."""
    return make_review_archive(tmp_path_factory.mktemp("viewer") / "sample.h5")


@pytest.fixture
def archive_copy(sample_archive, tmp_path) -> Path:
    """A fresh copy of the sample archive for tests that edit it."""
    return copy_archive(sample_archive, tmp_path / "a.h5")


@pytest.fixture
def model(archive_copy):
    arc = Archive.open(archive_copy, "a")
    yield ViewerModel(arc, reviewer="dr.test", n_pixels=800)
    arc.close()


def test_model_imports_no_qt():
    code = "import eegmon.viewer, eegmon.viewer.model, eegmon.viewer.export, eegmon.commands.view, sys; " \
           "from eegmon.cli import build_parser; build_parser(); " \
           "print(any(m.startswith(('PySide6', 'PyQt', 'pyqtgraph')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_level_of_detail_raw_then_minmax(model):
    model.set_page_size(10)
    page = model.page_data()
    assert page.kind == "raw" and page.y.shape == (2, round(10 * model.fs))
    t0, ref = model.archive.read(model.page_start, model.page_stop)
    np.testing.assert_array_equal(page.y, ref)
    np.testing.assert_allclose(page.x[0], model.page_start - model.origin)
    model.set_page_size(3600)
    page = model.page_data()
    assert page.kind == "minmax" and page.y.shape == (2, 2 * 800)
    _, lo, hi = model.archive.minmax(model.page_start, model.page_stop, 800)
    np.testing.assert_array_equal(page.y[:, 0::2], lo)
    np.testing.assert_array_equal(page.y[:, 1::2], hi)
    # the decision is by samples per pixel: 4 * 800 samples at 207 Hz is 15.5 s
    model.set_page_size(15.0)
    assert model.lod == "raw"
    model.set_page_size(16.0)
    assert model.lod == "minmax"


def test_minmax_page_never_reads_raw(model, monkeypatch):
    model.zoom_all()

    def boom(*a, **k):
        raise AssertionError("raw read for a wide page")

    monkeypatch.setattr(model.archive, "read", boom)
    page = model.page_data()
    assert page.kind == "minmax"
    assert np.isfinite(page.y).any()


def test_gap_is_nan(model):
    gap = model.archive.gaps[0]
    model.set_page_size(10)
    model.center_on(gap[0])
    page = model.page_data()
    t = page.x + model.origin
    assert np.isnan(page.y[:, (t > gap[0] + 0.1) & (t < gap[1] - 0.1)]).all()
    assert np.isfinite(page.y[:, t < gap[0] - 0.1]).all()


def test_navigation_clamps_and_steps(model):
    model.set_page_size(30)
    model.goto(model.start - 1000)
    assert model.page_start == model.start
    model.step(1)
    assert model.page_start == pytest.approx(model.start + 30)
    model.step(-0.5)
    assert model.page_start == pytest.approx(model.start + 15)
    model.goto(model.stop + 1e6)
    assert model.page_stop == pytest.approx(model.stop)
    model.zoom_all()
    assert (model.page_start, model.page_stop) == pytest.approx((model.start, model.stop))
    with pytest.raises(EegmonError, match="page size"):
        model.set_page_size(0)


def test_filters_and_montage(model):
    model.set_page_size(30)
    model.center_on(model.start + 600)
    plain = model.page_data().y
    model.set_filters(highpass=1.0, lowpass=30.0, notch=50.0)
    filt = model.page_data().y
    assert filt.shape == plain.shape and np.isfinite(filt).all()
    assert abs(np.mean(filt)) < abs(np.mean(plain)) + 1e-9  # high-pass removes the offset
    with pytest.raises(EegmonError, match="high-pass"):
        model.set_filters(highpass=40, lowpass=30)
    model.set_filters()
    assert model.montages() == ["referential", "device"]  # a device's own electrodes: no 10-20 montage
    model.set_montage("bipolar")
    page = model.page_data()
    assert model.montage == "device" and page.labels == ("E1-E3",)  # E1-E2 + E2-E3
    np.testing.assert_allclose(page.y[0], plain[0] + plain[1])
    model.set_page_size(3600)  # a min/max page: the montage as an outer bound
    lo_hi = model.page_data()
    assert lo_hi.kind == "minmax" and lo_hi.labels == ("E1-E3",)
    with pytest.raises(EegmonError, match="montage must be one of"):
        model.set_montage("laplacian")
    with pytest.raises(EegmonError, match="longitudinal montage cannot be shown.*none of its electrodes"):
        model.set_montage("longitudinal")
    assert model.montage == "device"  # a refused montage changes nothing


def test_gains(model):
    model.scale_by(2.0)
    assert model.scale_uv == pytest.approx(50.0)
    model.scale_by(4.0, trace=1)
    assert model.gain(model.trace_labels[1]) == 4.0 and model.gain(model.trace_labels[0]) == 1.0


def test_event_filter_sort_and_counts(model):
    rows = model.events()
    # one row per seizure: each ground-truth seizure and its detection are one item
    dets = model.archive.detections()
    detected = [a for a in model.archive.annotations()
                if a.is_seizure and any(d.onset <= a.offset and a.onset <= d.offset for d in dets)]
    assert detected and len(rows) == len(model.archive.detections()) + len(model.archive.annotations()) - len(detected)
    assert sum(len(r.keys) == 2 for r in rows) == len(detected)
    model.set_event_filter(sources=("detector",))
    dets = model.events()
    assert all(any(s.startswith("detector:") for s in r.sources) for r in dets)
    assert len(dets) == len(model.archive.detections())
    model.set_event_filter(sort="probability", min_probability=0.5)
    probs = [r.event.confidence for r in model.events()]
    assert probs == sorted(probs, reverse=True) and min(probs) >= 0.5
    model.set_event_filter(sources=(), labels=("sz",), min_probability=0.0, sort="time")
    assert all(r.event.label == "sz" for r in model.events())
    assert model.counts() == {"reviewed": 0, "remaining": len(model.events()), "total": len(model.events())}


def test_review_actions_are_on_disk_and_undoable(model, archive_copy):
    model.set_event_filter(sources=("detector",))
    first = model.next_event(unreviewed=True)
    assert first is not None and model.selected == first
    ev = model.event(first).event
    assert model.page_start <= ev.onset and ev.offset <= model.page_stop  # centred with context
    model.confirm()

    def stored(key):  # the item's detection, as on disk
        kind, id_ = next(k for k in model.event(key).keys if k[0] == "detection")
        with Archive.open(archive_copy, "r") as arc:
            return {e.id: e for e in arc.detections()}[id_]

    on_disk = stored(first)
    assert on_disk.status == "confirmed" and on_disk.reviewer == "dr.test" and on_disk.edited_at
    second = model.next_event(unreviewed=True)
    assert second != first
    model.reject()
    model.relabel("sz_foc_ia")
    model.adjust(ev.onset - 2.0, ev.offset + 1.0, key=first)
    got = stored(first)
    assert got.onset == pytest.approx(ev.onset - 2.0) and got.duration == pytest.approx(ev.duration + 3.0)
    assert stored(second).label == "sz_foc_ia" and stored(second).status == "rejected"
    assert model.counts()["reviewed"] == 2
    # undo = durable edits restoring the previous values, newest first
    assert model.undo() == "adjust"
    assert stored(first).onset == pytest.approx(ev.onset)
    model.undo()
    assert stored(second).label == "sz"
    model.undo()
    assert stored(second).status == "unreviewed"
    assert model.redo() == "reject"
    assert stored(second).status == "rejected"
    model.confirm(second)
    assert not model.can_redo  # a new action clears the redo stack


def test_add_annotation_and_undo(model, archive_copy):
    t = model.start + 1000
    key = model.add_annotation(t, t + 30, label="sz_foc")
    with Archive.open(archive_copy, "r") as arc:
        added = {e.id: e for e in arc.annotations()}[key[1]]
    assert added.source == "reviewer:dr.test" and added.status == "confirmed" and added.label == "sz_foc"
    model.undo()
    with Archive.open(archive_copy, "r") as arc:
        assert {e.id: e for e in arc.annotations()}[key[1]].status == "rejected"
    model.redo()
    assert model.event(key).event.status == "confirmed"
    with pytest.raises(EegmonError, match="offset > onset"):
        model.add_annotation(t, t)


def test_next_previous_unreviewed(model):
    model.set_event_filter(sources=("detector",))
    keys = [r.key for r in model.events()]
    assert model.next_event(1) == keys[0]
    assert model.next_event(1) == keys[1]
    assert model.next_event(-1) == keys[0]
    assert model.next_event(-1) is None
    for k in keys[:-1]:
        model.confirm(k)
    model.select(keys[0])
    assert model.next_event(1, unreviewed=True) == keys[-1]
    assert model.next_event(1, unreviewed=True) is None


def test_export_events_and_summary(model, tmp_path):
    model.set_event_filter(sources=("detector",))
    keys = [r.key for r in model.events()]
    model.confirm(keys[0])
    model.confirm(keys[1])
    model.reject(keys[2])
    tsv = export_events_tsv(model.archive, tmp_path / "events.tsv")
    lines = tsv.read_text().splitlines()
    assert len(lines) == 1 + 2 and all("\tsz\t" in ln for ln in lines[1:])
    assert [e.onset for e in reviewed_events(model.archive)] == [model.event(k).event.onset for k in keys[:2]]
    rows = summary_table(model.archive)
    assert sum(r["seizures"] for r in rows) == 2 and sum(r["rejected"] for r in rows) == 1
    assert sum(r["hours"] for r in rows) == pytest.approx(sum(s.stop - s.start for s in model.archive.segments) / 3600)
    png, html = export_summary(model.archive, tmp_path / "summary")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64" in html.read_text() and "dr.test" in html.read_text()


def test_summary_counts_the_patients_local_days(model, tmp_path):
    import datetime as dt
    from zoneinfo import ZoneInfo

    model.set_event_filter(sources=("detector",))
    keys = [r.key for r in model.events()]
    model.confirm(keys[0])
    onset = model.event(keys[0]).event.onset
    utc_rows = summary_table(model.archive)
    model.archive.time_zone = "Pacific/Kiritimati"  # UTC+14: most of a UTC day is the next local day
    rows = summary_table(model.archive)
    local_day = dt.datetime.fromtimestamp(onset, ZoneInfo("Pacific/Kiritimati")).date().isoformat()
    assert [r["day"] for r in rows if r["seizures"]] == [local_day]
    assert local_day != next(r["day"] for r in utc_rows if r["seizures"])
    assert sum(r["hours"] for r in rows) == pytest.approx(sum(r["hours"] for r in utc_rows))
    _, html = export_summary(model.archive, tmp_path / "summary")
    assert "(Pacific/Kiritimati)" in html.read_text()


KILL_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from eegmon.archive import Archive
    from eegmon.viewer.model import ViewerModel
    arc = Archive.open(sys.argv[1], "a")
    model = ViewerModel(arc, reviewer="dr.kill")
    if sys.argv[3] == "confirm":
        model.confirm(("detection", int(sys.argv[2])))
    else:
        model.add_annotation(float(sys.argv[2]), float(sys.argv[2]) + 9, "sz_gen")
    os.kill(os.getpid(), signal.SIGKILL)   # right after the call returns: no close, no flush, no atexit
    """
)


def test_edit_survives_sigkill(archive_copy):
    with Archive.open(archive_copy, "r") as arc:
        det = arc.detections()[0]
        t = arc.start + 500.0
    for args in ([str(det.id), "confirm"], [repr(t), "add"]):
        proc = subprocess.run([sys.executable, "-c", KILL_CHILD, str(archive_copy), *args], capture_output=True,
                              text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    with Archive.open(archive_copy, "r") as arc:
        got = {e.id: e for e in arc.detections()}[det.id]
        assert got.status == "confirmed" and got.reviewer == "dr.kill"
        added = [a for a in arc.annotations() if a.source == "reviewer:dr.kill"]
        assert len(added) == 1 and added[0].onset == pytest.approx(t) and added[0].label == "sz_gen"
