"""One reader test run over every recording reader (MNE style): shape, lazy chunks, scaling, times."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from _archive_helpers import START, digital, make_discontinuous, to_uv, write_edf

from eegmon.errors import EegmonError
from eegmon.io import read_bids, read_device_folder, read_edf
from eegmon.recording import Recording

FS = 207
N = FS * 30


def _edf(tmp_path):
    x = digital(2, N)
    return read_edf(write_edf(tmp_path / "a.edf", x)), [(START.timestamp(), x)]


def _bdf(tmp_path):
    x = digital(3, N, dtype=np.int32) * 200
    return read_edf(write_edf(tmp_path / "a.bdf", x, bdf=True)), [(START.timestamp(), x)]


def _edf_d(tmp_path):
    x = digital(2, N)
    path = write_edf(tmp_path / "d.edf", x, annotations=[(0.0, None, "x" * 30)])
    onsets = [float(i) for i in range(10)] + [float(100 + i) for i in range(20)]
    make_discontinuous(path, onsets)
    t0 = START.timestamp()
    return read_edf(path), [(t0, x[:, : 10 * FS]), (t0 + 100, x[:, 10 * FS :])]


def _folder(tmp_path):
    import datetime as dt

    parts = []
    for i in range(3):
        x = digital(2, N, seed=i)
        start = START + dt.timedelta(seconds=3600 * i)
        write_edf(tmp_path / f"sim01_{i}.edf", x, start=start)
        parts.append((start.timestamp(), x))
    return read_device_folder(tmp_path), parts


def _bids(tmp_path):
    root = tmp_path / "bids"
    eeg = root / "sub-01" / "ses-01" / "eeg"
    eeg.mkdir(parents=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "t", "BIDSVersion": "1.8.0"}))
    x = digital(2, N)
    write_edf(eeg / "sub-01_ses-01_task-szMonitoring_run-01_eeg.edf", x)
    (eeg / "sub-01_ses-01_task-szMonitoring_run-01_events.tsv").write_text(
        "onset\tduration\teventType\n5.0\t10.0\tsz_foc_ia\n"
    )
    runs = read_bids(root)
    assert len(runs) == 1 and runs[0].subject == "01"
    rec = runs[0].recording
    assert [a.label for a in rec.annotations] == ["sz_foc_ia"]
    assert rec.annotations[0].onset == pytest.approx(START.timestamp() + 5.0)
    return rec, [(START.timestamp(), x)]


READERS = {"edf": _edf, "bdf": _bdf, "edf+d": _edf_d, "device_folder": _folder, "bids": _bids}


@pytest.mark.parametrize("make", READERS.values(), ids=READERS.keys())
def test_reader_contract(tmp_path, make):
    rec, parts = make(tmp_path)
    assert isinstance(rec, Recording)
    assert rec.fs == FS
    assert len(rec.segments) == len(parts)
    for seg, (t0, x) in zip(rec.segments, parts, strict=True):
        assert seg.start == pytest.approx(t0)
        assert seg.n_samples == x.shape[1]
        assert seg.dtype in (np.int16, np.int32)
        # lazy chunks equal one full read equal the samples written (lossless)
        chunks = np.concatenate([c for _, c in seg.iter_digital(1000)], axis=1)
        np.testing.assert_array_equal(chunks, x)
        b = min(4567, seg.n_samples)
        np.testing.assert_array_equal(seg.read_digital(123, b), x[:, 123:b])
        uv = seg.read_digital(0, 500) * seg.gain[:, None] + seg.offset[:, None]
        np.testing.assert_allclose(uv, to_uv(x[:, :500]))
    assert rec.stop == pytest.approx(parts[-1][0] + parts[-1][1].shape[1] / FS)


def test_edf_tal_annotations_mapped(tmp_path):
    path = write_edf(tmp_path / "a.edf", digital(2, N), annotations=[(3.0, 4.0, "Seizure"), (9.0, None, "Lights")])
    anns = read_edf(path).annotations
    assert [(a.label, a.original_label) for a in anns] == [("sz", "Seizure"), ("unknown", "Lights")]
    assert anns[0].onset == pytest.approx(START.timestamp() + 3.0)
    assert anns[1].duration == 0.0


def test_mixed_sampling_rates_rejected(tmp_path):
    import edfio

    sigs = [edfio.EdfSignal(np.zeros(200), 200, label="A"), edfio.EdfSignal(np.zeros(100), 100, label="B")]
    edfio.Edf(sigs).write(tmp_path / "m.edf")
    with pytest.raises(EegmonError, match="different sampling rates"):
        read_edf(tmp_path / "m.edf")


def test_device_folder_clashes_name_both_files(tmp_path):
    import datetime as dt

    write_edf(tmp_path / "a.edf", digital(2, N))
    write_edf(tmp_path / "b.edf", digital(2, N), start=START + dt.timedelta(seconds=10))
    with pytest.raises(EegmonError, match=r"b\.edf.*overlap|a\.edf.*overlap") as err:
        read_device_folder(tmp_path)
    assert "a.edf" in str(err.value) and "b.edf" in str(err.value)
    (tmp_path / "b.edf").unlink()
    write_edf(tmp_path / "b.edf", digital(2, N), start=START + dt.timedelta(hours=1), labels=["X", "Y"])
    with pytest.raises(EegmonError, match="channels") as err:
        read_device_folder(tmp_path)
    assert "a.edf" in str(err.value) and "b.edf" in str(err.value)
    (tmp_path / "b.edf").unlink()
    write_edf(tmp_path / "b.edf", digital(2, 256 * 30), fs=256, start=START + dt.timedelta(hours=1))
    with pytest.raises(EegmonError, match="sampling rate") as err:
        read_device_folder(tmp_path)
    assert "a.edf" in str(err.value) and "b.edf" in str(err.value)


def test_device_folder_sidecar_events(tmp_path):
    from eegmon.events import Annotation
    from eegmon.io import write_events_tsv

    write_edf(tmp_path / "sim01_20250106_090000.edf", digital(2, N))
    t0 = START.timestamp()
    write_events_tsv(
        tmp_path / "sim01_20250106_090000_events.tsv", [Annotation(onset=t0 + 2, duration=5, label="sz")], t0, 30.0
    )
    rec = read_device_folder(tmp_path)
    assert [(a.label, a.onset) for a in rec.annotations] == [("sz", pytest.approx(t0 + 2))]


BAD = {
    "zero-length": (lambda p: p.write_bytes(b""), "empty"),
    "non-EDF bytes": (lambda p: p.write_bytes(b"PK\x03\x04 this is a zip" * 40), "not an EDF/BDF file"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:-301]), "truncated|incomplete"),
    "record count lie": (lambda p: p.write_bytes(_set_records(p.read_bytes(), 99)), "record count"),
    "garbage header": (lambda p: p.write_bytes(b"0       " + b"\xff" * 300), "invalid EDF header"),
}


def _set_records(raw: bytes, n: int) -> bytes:
    return raw[:236] + str(n).ljust(8).encode() + raw[244:]


@pytest.mark.parametrize("spoil,match", BAD.values(), ids=BAD.keys())
def test_bad_edf_is_one_clear_error(tmp_path, spoil, match):
    path = write_edf(tmp_path / "bad.edf", digital(2, N))
    spoil(path)
    with pytest.raises(EegmonError, match=match) as err:
        read_edf(path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_path(tmp_path):
    with pytest.raises(EegmonError, match="no such"):
        read_edf(tmp_path / "nope.edf")
    with pytest.raises(EegmonError, match="directory"):
        read_edf(tmp_path)


def test_float_array_source(tmp_path):
    from eegmon.archive import Archive
    from eegmon.io import from_float_array

    x = np.random.default_rng(1).normal(0, 50, (2, FS * 20))
    rec = from_float_array(x, FS, START.timestamp(), ["A", "B"])
    seg = rec.segments[0]
    np.testing.assert_allclose(seg.read_digital() * seg.gain[:, None], x, rtol=0, atol=1e-6)
    with Archive.create(tmp_path / "f.h5", rec.channels, rec.fs) as arc:
        arc.import_recording(rec)
        _, back = arc.read(START.timestamp(), START.timestamp() + 20)
    np.testing.assert_allclose(back, x, rtol=0, atol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_array_refuses_non_finite(bad):
    from eegmon.io import from_float_array

    x = np.zeros((2, 100))
    x[1, 42] = bad
    with pytest.raises(EegmonError, match=r"channel 'B' has .* at sample 42"):
        from_float_array(x, FS, START.timestamp(), ["A", "B"], source="live:dev")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path):
    path = write_edf(tmp_path / "a.edf", digital(2, N))
    path.chmod(0)
    with pytest.raises(EegmonError, match="permission denied"):
        read_edf(path)
