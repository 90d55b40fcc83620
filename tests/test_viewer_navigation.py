"""Jumping to an event (onset a quarter into the page) and times in the patient's time zone."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from _archive_helpers import digital, write_edf  # noqa: E402
from _clinical_archive import LONG_EVENT, OVERLAPPING, START, make_clinical_archive  # noqa: E402
from _review_archive import copy_archive  # noqa: E402
from eegmon.viewer.model import PAGE_SIZES, ViewerModel  # noqa: E402

from eegmon.archive import Archive  # noqa: E402
from eegmon.cli import main  # noqa: E402
from eegmon.errors import EegmonError  # noqa: E402


@pytest.fixture(scope="module")
def clinical_archive(tmp_path_factory):
    return make_clinical_archive(tmp_path_factory.mktemp("nav") / "clinical.h5")


@pytest.fixture
def london(clinical_archive, tmp_path):
    path = copy_archive(clinical_archive, tmp_path / "london.h5")
    with Archive.open(path, "a") as arc:
        arc.time_zone = "Europe/London"
    return path


def _key_of(model: ViewerModel, onset: float) -> tuple[str, int]:
    return next(r.key for r in model.all_events if abs(r.event.onset - onset) < 1e-3)


# ---------------------------------------------------------------------- jump_to
@pytest.mark.parametrize("page_s", [10.0, 30.0, 300.0])
def test_jump_puts_a_short_events_onset_a_quarter_into_the_page(clinical_archive, page_s):
    with Archive.open(clinical_archive, "r") as arc:
        m = ViewerModel(arc)
        m.set_page_size(page_s)
        onset, duration = START + OVERLAPPING[2][0], OVERLAPPING[2][1]  # 14 s
        m.jump_to(_key_of(m, onset))
        assert m.selected == _key_of(m, onset)
        assert m.page_start + m.page_s / 4 == pytest.approx(onset)
        assert m.page_stop >= onset + duration  # the whole event is on the page
        assert m.page_s == (30.0 if page_s == 10 else page_s)  # widened to the next page size only when needed


def test_jump_to_a_long_event_still_shows_its_onset(clinical_archive):
    with Archive.open(clinical_archive, "r") as arc:
        m = ViewerModel(arc)
        m.set_page_size(10.0)
        onset = START + LONG_EVENT[0]  # 400 s: wider than 3/4 of any page up to 5 min
        m.jump_to(_key_of(m, onset))
        assert m.page_s in PAGE_SIZES or m.page_s == pytest.approx(m.duration)
        assert m.page_start <= onset < m.page_stop
        assert m.page_stop >= min(onset + LONG_EVENT[1], m.stop)


def test_jump_near_the_recording_end_keeps_the_onset_in_view(tmp_path, clinical_archive):
    from eegmon.events import Annotation

    path = copy_archive(clinical_archive, tmp_path / "end.h5")
    with Archive.open(path, "a") as arc:
        arc.add_annotations([Annotation(onset=arc.stop - 3.0, duration=2.0, label="sz", source="ground_truth")])
        m = ViewerModel(arc)
        m.jump_to(_key_of(m, arc.stop - 3.0))
        assert m.page_start + m.page_s / 4 < arc.stop - 3.0  # clamped: the onset sits later on the page
        assert m.page_stop == pytest.approx(m.stop) and m.page_start <= arc.stop - 3.0


# ---------------------------------------------------------------------- the archive's time zone
def test_archive_time_zone_default_set_and_reopened(clinical_archive, tmp_path):
    path = copy_archive(clinical_archive, tmp_path / "tz.h5")
    with Archive.open(path, "r") as arc:
        assert arc.time_zone == "UTC"  # never set (as in archives written before there was one)
        with pytest.raises(EegmonError, match="read-only"):
            arc.time_zone = "Europe/London"
    with Archive.open(path, "a") as arc:
        arc.time_zone = "America/New_York"
        assert arc.time_zone == "America/New_York"
        with pytest.raises(EegmonError, match="Did you mean 'Europe/London'"):
            arc.time_zone = "europe/london"
        with pytest.raises(EegmonError, match="IANA time zone"):
            arc.time_zone = "Mars/Olympus_Mons"
        assert arc.time_zone == "America/New_York"  # a refused name changes nothing
    with Archive.open(path, "r") as arc:
        # nothing else changed
        assert arc.time_zone == "America/New_York" and len(arc.detections()) == 1 and len(arc.annotations()) == 4


def test_import_time_zone_option(tmp_path, capsys):
    edf = write_edf(tmp_path / "rec.edf", digital(2, 207 * 60), labels=["Fp1", "Fp2"])
    out = tmp_path / "a.h5"
    assert main(["import", str(edf), "-o", str(out), "--time-zone", "Europe/Paris"]) == 0
    assert "Time zone Europe/Paris." in capsys.readouterr().out
    with Archive.open(out, "r") as arc:
        assert arc.time_zone == "Europe/Paris"
    # a bad name: one line, exit 2, nothing imported
    bad = tmp_path / "b.h5"
    assert main(["import", str(edf), "-o", str(bad), "--time-zone", "Europe/Pariss"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Did you mean 'Europe/Paris'" in err[0] and not bad.exists()
    # --append without --time-zone keeps the stored zone
    assert main(["import", str(edf), "-o", str(out), "--append", "-q"]) == 0
    with Archive.open(out, "r") as arc:
        assert arc.time_zone == "Europe/Paris"


# ---------------------------------------------------------------------- the viewer in the zone
def _window(qtbot, path, **kwargs):
    pytest.importorskip("pytestqt")
    from eegmon.viewer.app import MainWindow

    arc = Archive.open(path, "r")
    win = MainWindow(ViewerModel(arc, n_pixels=800), csa_columns=10, **kwargs)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_viewer_shows_local_times_with_the_zone_name(qtbot, london):
    win = _window(qtbot, london)
    m = win.model
    m.goto(START + 600)  # 08:10 UTC = 09:10 BST
    win.refresh_trace()
    assert win.page_label.text().startswith("2026-07-01 09:10:00 BST (Europe/London)")
    assert win.table_model.headerData(0, _horizontal()) == "time (Europe/London)"
    first = win.table_model.index(0, 0)
    assert win.table_model.data(first) == "07-01 09:10:00"
    assert "Europe/London" in win.spectrum_plot.getAxis("bottom").labelText
    axis = win.trace_plot.getAxis("bottom")
    assert axis.tickStrings([600.0], 1.0, 60.0) == ["09:10"]


def test_time_axis_ticks_on_round_local_hours():
    pytest.importorskip("pyqtgraph")
    from zoneinfo import ZoneInfo

    from eegmon.viewer.app import TimeAxis

    axis = TimeAxis(START, ZoneInfo("Asia/Kolkata"))  # UTC+05:30: round local hours are UTC half hours
    spacing, values = axis.tickValues(0.0, 6 * 3600.0, 800)[0]
    assert spacing == 3600 and len(values) >= 5
    assert all((START + v + 5.5 * 3600) % 3600 == pytest.approx(0, abs=1e-6) for v in values)
    assert axis.tickStrings(values[:1], 1.0, 3600.0)[0].endswith(":00")


def test_viewer_utc_on_request(qtbot, london):
    win = _window(qtbot, london, utc=True)
    win.model.goto(START + 600)
    win.refresh_trace()
    assert win.page_label.text().startswith("2026-07-01 08:10:00 UTC  ·")
    assert win.table_model.headerData(0, _horizontal()) == "time (UTC)"
    assert win.trace_plot.getAxis("bottom").tickStrings([600.0], 1.0, 60.0) == ["08:10"]


def test_cli_view_utc_reaches_the_window(monkeypatch, london):
    pytest.importorskip("pytestqt")
    import eegmon.viewer.app as app

    seen = {}
    monkeypatch.setattr(app, "open_viewer", lambda path, **kwargs: seen.update(kwargs) or 0)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert main(["view", str(london), "--utc"]) == 0 and seen["utc"] is True
    assert main(["view", str(london)]) == 0 and seen["utc"] is False


def _horizontal():
    from pyqtgraph.Qt import QtCore

    return QtCore.Qt.Orientation.Horizontal


def test_viewer_falls_back_to_utc_for_a_zone_this_system_lacks(qtbot, clinical_archive, tmp_path):
    path = copy_archive(clinical_archive, tmp_path / "elsewhere.h5")
    with Archive.open(path, "a") as arc:  # as written by a system with a newer zone database
        arc._manifest.commit(lambda state: state.meta.update(time_zone="Nowhere/Atlantis"))
    win = _window(qtbot, path)
    assert win.zone_name == "UTC" and " UTC  ·" in win.page_label.text()
    assert "Nowhere/Atlantis" in win.statusBar().currentMessage()
