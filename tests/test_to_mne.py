"""``Archive.to_mne``: an archive span as an MNE Raw in volts, with annotations, detections and gaps."""

from __future__ import annotations

import datetime as dt

import mne
import numpy as np
import pytest
from test_export_edf import FS, T0, make_archive

from eegmon.archive import Archive, interop
from eegmon.archive.interop import GAP_DESCRIPTION, export_edf
from eegmon.errors import EegmonError


@pytest.fixture
def arc(tmp_path):
    with make_archive(tmp_path / "p.h5") as a:
        yield a


def test_samples_in_volts_on_the_archive_grid(arc):
    raw = arc.to_mne(T0 + 10, T0 + 70)
    _, uv = arc.read(T0 + 10, T0 + 70)
    assert isinstance(raw, mne.io.BaseRaw) and raw.info["sfreq"] == FS and raw.ch_names == ["F3", "C3"]
    assert raw.get_channel_types() == ["eeg", "eeg"]
    x = raw.get_data()
    assert np.array_equal(np.isnan(x), np.isnan(uv)) and np.isnan(x).any()  # the gap stays NaN
    assert np.allclose(x * 1e6, uv, equal_nan=True, rtol=0, atol=1e-9)
    assert raw.info["meas_date"] == dt.datetime.fromtimestamp(T0 + 10, dt.UTC)  # to the microsecond
    assert raw.info["meas_date"].microsecond == 250000


def test_whole_recording_by_default_and_channels_in_the_order_asked(arc):
    raw = arc.to_mne(channels=["C3", "F3"])
    assert raw.ch_names == ["C3", "F3"]
    assert raw.n_times == round((arc.stop - arc.start) * FS)
    _, uv = arc.read(arc.start, arc.stop, ["C3", "F3"])
    assert np.allclose(raw.get_data() * 1e6, uv, equal_nan=True, atol=1e-9)


def test_annotations_and_detections_say_what_they_are(arc):
    raw = arc.to_mne()
    ann = raw.annotations
    assert ann.orig_time == raw.info["meas_date"]
    rows = {(d, e["table"]): (o, du, ch, e) for o, du, d, ch, e in
            zip(ann.onset, ann.duration, ann.description, ann.ch_names, ann.extras, strict=True)}
    onset, duration, ch, extras = rows[("sz", "annotations")]
    assert onset == pytest.approx(5.0) and duration == 10.0 and ch == ()
    rejected = rows[("sz [detector:ll, rejected, p=0.91]", "detections")]
    confirmed = rows[("sz [detector:ll, confirmed, p=0.80]", "detections")]
    assert rejected[3]["status"] == "rejected" and rejected[3]["confidence"] == 0.91
    assert confirmed[3]["status"] == "confirmed" and confirmed[2] == ("F3",)
    assert rows[("musc [reviewer:dr.x, confirmed]", "annotations")][3]["source"] == "reviewer:dr.x"
    assert ann.extras[list(ann.description).index("sz")]["confidence"] is None


def test_gaps_are_bad_acq_skip_and_mne_steps_around_them(arc):
    raw = arc.to_mne()
    gaps = [(o, d) for o, d, t in zip(raw.annotations.onset, raw.annotations.duration,
                                      raw.annotations.description, strict=True) if t == GAP_DESCRIPTION]
    assert len(gaps) == 1 and gaps[0] == pytest.approx((60.0, 30.0), abs=1 / FS)
    nan = np.isnan(raw.get_data()[0])
    marked = np.zeros_like(nan)
    o, d = gaps[0]
    marked[round(o * FS): round((o + d) * FS)] = True
    assert np.array_equal(nan, marked)
    kept = raw.get_data(reject_by_annotation="omit")
    assert kept.shape[1] == (~nan).sum() and np.isfinite(kept).all()
    raw.filter(1.0, 40.0, verbose="error")  # filters each side of the skip on its own: no NaN spreads
    assert np.isfinite(raw.get_data()[:, ~nan]).all()


def test_events_are_clipped_to_the_span(arc):
    raw = arc.to_mne(T0 + 10, T0 + 22, annotations=True)
    rows = sorted(zip(raw.annotations.onset, raw.annotations.duration, raw.annotations.description, strict=True))
    assert [r[2] for r in rows] == ["sz", "sz [detector:ll, confirmed, p=0.80]", "sz [detector:ll, rejected, p=0.91]"]
    assert rows[0][:2] == pytest.approx((0.0, 5.0))  # sz 5-15 s seen from 10 s
    assert rows[1][:2] == pytest.approx((0.0, 6.0))
    assert rows[2][:2] == pytest.approx((10.0, 2.0))  # 20-28 s cut at the span's end (22 s)


def test_without_annotations_only_the_gaps_remain(arc):
    raw = arc.to_mne(annotations=False)
    assert set(raw.annotations.description) == {GAP_DESCRIPTION}


def test_same_texts_as_the_edf_export(arc, tmp_path):
    start, stop = float(int(T0) + 1), float(int(T0) + 100)  # whole seconds: the EDF covers the same span
    rep = export_edf(arc, tmp_path / "x.edf", start, stop)
    assert (rep.start, rep.stop) == (start, stop)
    from_edf = mne.io.read_raw_edf(tmp_path / "x.edf", verbose="error").annotations
    direct = arc.to_mne(start, stop).annotations
    assert sorted(direct.description) == sorted(from_edf.description)
    assert sorted(np.round(direct.onset, 3)) == sorted(np.round(from_edf.onset, 3))


def test_refusals(arc, tmp_path, monkeypatch):
    with pytest.raises(EegmonError, match="outside the recording"):
        arc.to_mne(arc.stop + 1, arc.stop + 2)
    with pytest.raises(EegmonError, match="must end after it starts"):
        arc.to_mne(T0 + 5, T0 + 5)
    with pytest.raises(EegmonError, match="channels must be distinct names"):
        arc.to_mne(channels=["Cz"])
    monkeypatch.setattr(interop, "MAX_MNE_BYTES", 100_000)
    with pytest.raises(EegmonError, match=r"GB of samples .* export_edf\(\)"):
        arc.to_mne()
    with Archive.create(tmp_path / "empty.h5", ["A"], FS) as empty, pytest.raises(EegmonError, match="no samples"):
        empty.to_mne()
