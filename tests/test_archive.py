"""The archive: lossless import, reads across gaps, the min/max pyramid, append/dedupe, tables."""

from __future__ import annotations

import datetime as dt
import math

import h5py
import numpy as np
import pytest
from _archive_helpers import START, digital, to_uv, tree_digest, write_edf

from eegmon.archive import Archive
from eegmon.archive._layout import DECIMATION, n_levels
from eegmon.errors import EegmonError
from eegmon.events import Annotation
from eegmon.io import read_device_folder, read_edf

FS = 207
T0 = START.timestamp()
#: (start offset s, duration s) of three files with gaps between them.
FILES = [(0, 3000), (3300, 300), (3700, 450)]


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "device"
    src.mkdir()
    parts = []
    for i, (off, dur) in enumerate(FILES):
        x = digital(2, dur * FS, seed=i)
        write_edf(
            src / f"sim01_{i}.edf",
            x,
            start=START + dt.timedelta(seconds=off),
            annotations=[(10.0, 5.0, "Seizure")] if i == 1 else (),
        )
        parts.append((T0 + off, x))
    return src, parts


@pytest.fixture
def archive(tmp_path, folder):
    src, parts = folder
    rec = read_device_folder(src)
    arc = Archive.create(tmp_path / "a.h5", rec.channels, rec.fs)
    arc.import_recording(rec, max_segment_s=250)  # several segments per file
    yield arc
    arc.close()


def _truth(parts, start, stop):
    """Brute-force expected read(): microvolts on the grid start + i/fs, NaN elsewhere."""
    n = int(round((stop - start) * FS))
    out = np.full((2, n), np.nan)
    for t0, x in parts:
        off = int(round((t0 - start) * FS))
        j0, j1 = max(0, -off), min(x.shape[1], n - off)
        if j1 > j0:
            out[:, off + j0 : off + j1] = to_uv(x[:, j0:j1])
    return out


def test_read_lossless_across_gaps(archive, folder):
    _, parts = folder
    # the 3000-s file is split at whole I/O steps (8**6 samples) to respect max_segment_s
    assert [s.n_samples for s in archive.segments] == [262144, 262144, 3000 * FS - 2 * 262144, 300 * FS, 450 * FS]
    assert len(archive.gaps) == 2
    assert archive.gaps[0] == pytest.approx((T0 + 3000, T0 + 3300))
    for start, stop in [
        (T0 - 5, T0 + 4200),
        (T0 + 2995, T0 + 3305),
        (T0 + 3100, T0 + 3200),
        (T0 + 1266.4, T0 + 1296.4),
    ]:
        t0, data = archive.read(start, stop)
        assert t0 == start
        np.testing.assert_array_equal(np.isnan(data), np.isnan(_truth(parts, start, stop)))
        np.testing.assert_allclose(data, _truth(parts, start, stop), rtol=1e-12, equal_nan=True)
    _, one = archive.read(T0 + 10, T0 + 20, channels=["EEG2"])
    np.testing.assert_allclose(one[0], to_uv(parts[0][1][1, 10 * FS : 20 * FS]), rtol=1e-12)


def test_stored_digital_is_bit_exact(archive, folder):
    _, parts = folder
    got = {}
    for seg in archive.segments:
        with h5py.File(archive.seg_dir / seg.file, "r") as f:
            got.setdefault(round(seg.start - (seg.start - T0) % 1), []).append(f["data"][()])
    flat = np.concatenate([np.concatenate(v, axis=1) for _, v in sorted(got.items())], axis=1)
    np.testing.assert_array_equal(flat, np.concatenate([x for _, x in parts], axis=1))


@pytest.mark.parametrize("n_pixels", [1, 7, 300, 2000, 100_000])
def test_minmax_matches_brute_force(archive, folder, n_pixels):
    _, parts = folder
    start, stop = T0 - 20, T0 + 4300
    edges, mins, maxs = archive.minmax(start, stop, n_pixels)
    width = (stop - start) / n_pixels
    assert len(edges) == n_pixels + 1 and mins.shape == (2, n_pixels)
    level = 0
    while level < n_levels(FS) and DECIMATION ** (level + 1) / FS <= width:
        level += 1
    block = DECIMATION**level
    emin = np.full((2, n_pixels), np.nan)
    emax = np.full((2, n_pixels), np.nan)
    for seg in archive.segments:
        # brute force from the original samples of this segment, same block-to-pixel rule
        t0, x = next((t, x) for t, x in parts if t <= seg.start + 1e-6 < t + x.shape[1] / FS)
        a = int(round((seg.start - t0) * FS))
        uv = to_uv(x[:, a : a + seg.n_samples])
        blocks = np.arange(0, seg.n_samples, block)
        pix = np.clip(np.floor((seg.start + blocks / FS - start) / width).astype(int), 0, n_pixels - 1)
        for b, p in zip(blocks, pix, strict=True):
            emin[:, p] = np.fmin(emin[:, p], uv[:, b : b + block].min(axis=1))
            emax[:, p] = np.fmax(emax[:, p], uv[:, b : b + block].max(axis=1))
    np.testing.assert_allclose(mins, emin, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(maxs, emax, rtol=1e-12, equal_nan=True)


def test_minmax_gap_pixels_are_nan(archive):
    _, mins, _ = archive.minmax(T0 + 3050, T0 + 3250, 10)
    assert np.isnan(mins).all()


def test_iter_chunks_cover_data_and_skip_gaps(archive, folder):
    _, parts = folder
    chunks = list(archive.iter_chunks(60.0))
    assert all(d.shape == (2, 60 * FS) or t + d.shape[1] / FS == pytest.approx(archive.stop) for t, d in chunks)
    assert not any(np.isnan(d).all() for _, d in chunks)
    starts = [t for t, _ in chunks]
    assert T0 + 3060 not in starts  # wholly inside the first gap
    first = np.concatenate([d for t, d in chunks if t < T0 + 3000], axis=1)
    np.testing.assert_allclose(first, to_uv(parts[0][1]), rtol=1e-12)
    overl = list(archive.iter_chunks(60.0, 5.0, stop=T0 + 180))
    assert [round(t - T0) for t, _ in overl] == [0, 55, 115]
    assert [d.shape[1] for _, d in overl] == [60 * FS, 65 * FS, 65 * FS]


def test_reimport_is_skipped_and_append_adds(tmp_path, archive, folder):
    src, parts = folder
    before = (len(archive.segments), len(archive.annotations()))
    assert [a.label for a in archive.annotations()] == ["sz"]
    report = archive.import_recording(read_device_folder(src))
    assert report.imported == () and len(report.skipped) == 3 and report.n_samples == 0
    assert (len(archive.segments), len(archive.annotations())) == before
    x = digital(2, 100 * FS, seed=9)
    new = write_edf(src / "sim01_3.edf", x, start=START + dt.timedelta(seconds=5000))
    report = archive.import_recording(read_device_folder(src))
    assert [p.split("/")[-1] for p in report.imported] == ["sim01_3.edf"] and len(report.skipped) == 3
    _, data = archive.read(T0 + 5000, T0 + 5100)
    np.testing.assert_allclose(data, to_uv(x), rtol=1e-12)
    reopened = Archive.open(archive.path)
    assert reopened.n_samples == sum(x.shape[1] for _, x in parts) + x.shape[1]
    assert reopened.sources[-1]["path"] == str(new)


def test_overlapping_append_refused_and_archive_unchanged(tmp_path, archive):
    digest = tree_digest(archive.path)
    other = write_edf(tmp_path / "other.edf", digital(2, 60 * FS, seed=5), start=START + dt.timedelta(seconds=100))
    with pytest.raises(EegmonError, match="overlaps data already in the archive from .*sim01_0.edf") as err:
        archive.import_recording(read_edf(other))
    assert "other.edf" in str(err.value)
    wrong = write_edf(tmp_path / "w.edf", digital(3, 60 * FS), start=START + dt.timedelta(days=1))
    with pytest.raises(EegmonError, match="channels"):
        archive.import_recording(read_edf(wrong))
    assert tree_digest(archive.path) == digest


def test_annotations_and_detections_tables(archive):
    ids = archive.add_annotations(
        [
            Annotation(
                onset=T0 + 50,
                duration=10,
                label="sz_foc_ia",
                channels=("EEG1",),
                confidence=0.7,
                original_label="cpsz",
                source="diary",
            )
        ]
    )
    same = [a for a in archive.annotations() if a.id == ids[0]]
    assert archive.add_annotations(same) == ids  # identical row: not duplicated
    edited = archive.update_annotation(ids[0], status="confirmed", reviewer="dr.x", label="sz_foc_a")
    assert (edited.status, edited.reviewer, edited.label, edited.original_label) == (
        "confirmed",
        "dr.x",
        "sz_foc_a",
        "cpsz",
    )
    assert edited.edited_at is not None and abs(edited.edited_at - __import__("time").time()) < 60
    again = Archive.open(archive.path).annotations(T0 + 40, T0 + 70)
    assert [(a.id, a.status, a.reviewer, a.label) for a in again] == [(ids[0], "confirmed", "dr.x", "sz_foc_a")]
    with pytest.raises(EegmonError, match="Did you mean 'confirmed'"):
        archive.update_annotation(ids[0], status="confirmd")
    with pytest.raises(EegmonError, match="no annotation with id 999"):
        archive.update_annotation(999, status="rejected")
    det = archive.add_detections(
        [Annotation(onset=T0 + 52, duration=8, label="sz", confidence=0.93, source="detector:linelength")]
    )
    archive.update_detection(det[0], status="rejected", reviewer="dr.y")
    [d] = Archive.open(archive.path).detections()
    assert (d.source, d.status, d.reviewer, d.confidence) == ("detector:linelength", "rejected", "dr.y", 0.93)
    with pytest.raises(EegmonError, match="read-only"):
        Archive.open(archive.path).add_annotations([d])


def test_layout_readable_with_plain_h5py(archive, folder):
    _, parts = folder
    with h5py.File(archive.path, "r") as m:
        assert m.attrs["format"] == "eegmon-archive" and m.attrs["fs"] == FS
        assert list(m.attrs["channels"]) == ["EEG1", "EEG2"]
        segs = m["segments"][()]
        gaps = m["gaps"][()]
        anns = m["annotations"][()]
        assert set(m.keys()) == {"segments", "sources", "gaps", "annotations", "detections"}
    assert len(gaps) == 2 and gaps["stop_ns"][0] - gaps["start_ns"][0] == 300 * 10**9
    assert anns["label"][0] == b"sz" and anns["original_label"][0] == b"Seizure"
    first = segs[0]
    with h5py.File(archive.seg_dir / first["file"].decode(), "r") as f:
        d = f["data"]
        uv = d[:, :100] * d.attrs["gain"][:, None] + d.attrs["offset"][:, None]
        assert f.attrs["start_ns"] == first["start_ns"] == int(T0 * 1e9)
        lv = f["minmax/L1"]
        assert lv.attrs["decimation"] == 8 and lv.shape == (2, math.ceil(first["n_samples"] / 8), 2)
        assert (lv[:, 0, 0] == d[:, :8].min(axis=1)).all()
    np.testing.assert_allclose(uv, to_uv(parts[0][1][:, :100]), rtol=1e-12)


def test_append_segment_live_api(tmp_path):
    arc = Archive.create(tmp_path / "live.h5", ["A", "B"], 256.0)
    x = digital(2, 256 * 10)
    sid = arc.append_segment(T0, x, [0.1, 0.1], [0.0, 0.0], source="live:dev1")
    assert sid == 1 and arc.segments[0].source == "live:dev1"
    _, data = arc.read(T0, T0 + 10)
    np.testing.assert_allclose(data, x * 0.1)
    with pytest.raises(EegmonError, match="overlaps"):
        arc.append_segment(T0 + 5, x, [0.1, 0.1], [0.0, 0.0])
    with pytest.raises(EegmonError, match="int16 or int32"):
        arc.append_segment(T0 + 20, x.astype(float), [0.1, 0.1], [0.0, 0.0])


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda a: a.read(T0 + 10, T0), "stop must be after start"),
        (lambda a: a.read(T0, T0 + 1, channels=["EEG3"]), "Did you mean 'EEG2'"),
        (lambda a: a.minmax(T0, T0 + 1, 0), "n_pixels"),
        (lambda a: a.read(float("nan"), T0), "finite"),
        (lambda a: a.iter_chunks(0).__next__(), "chunk_s"),
    ],
)
def test_api_edge_validation(archive, call, match):
    with pytest.raises(EegmonError, match=match):
        call(archive)


def test_open_errors(tmp_path):
    with pytest.raises(EegmonError, match="no such archive"):
        Archive.open(tmp_path / "none.h5")
    (tmp_path / "x.h5").write_bytes(b"not hdf5")
    with pytest.raises(EegmonError, match="cannot open archive manifest"):
        Archive.open(tmp_path / "x.h5")
    with pytest.raises(EegmonError, match="Allowed values"):
        Archive.open(tmp_path / "x.h5", mode="w")


def test_reader_sees_writer_commits_after_refresh(tmp_path):
    path = tmp_path / "live.h5"
    writer = Archive.create(path, ["A"], 256.0)
    reader = Archive.open(path)
    writer.append_segment(T0, digital(1, 2560), [1.0], [0.0])
    assert reader.segments == []  # a reader keeps the manifest it read ...
    reader.refresh()  # ... until asked to look again
    assert len(reader.segments) == 1
    _, data = reader.read(T0, T0 + 10)
    assert np.isfinite(data).all()


@pytest.mark.parametrize("dtype", [np.int16, np.int32])
def test_compression_lossless_at_extremes(tmp_path, dtype):
    info = np.iinfo(dtype)
    x = digital(2, 5 * 4096 + 77, dtype=dtype)
    x[:, :4096] = 7  # a flat chunk (zero range)
    x[0, 4096:8192] = info.min  # a chunk spanning the whole type
    x[0, 4097] = info.max
    x[1, 8192:12288] = np.random.default_rng(0).integers(info.min, info.max, 4096, endpoint=True)
    arc = Archive.create(tmp_path / "x.h5", ["A", "B"], 256.0)
    arc.append_segment(T0, x, [1.0, 1.0], [0.0, 0.0])
    with h5py.File(arc.seg_dir / arc.segments[0].file, "r") as f:
        np.testing.assert_array_equal(f["data"][()], x)
        assert f["data"].dtype == dtype


def test_each_channels_physical_range_is_kept_and_judges_clipping(tmp_path):
    """Exporters write per-channel ranges, asymmetric and tight to the data; they stay the channels' rails."""
    import edfio

    from eegmon.io import open_recording

    x = np.random.default_rng(0).normal(0, 20, (2, 207 * 20)) + np.array([[-180.0], [60.0]])
    ranges = [(-400.0, -10.0), (-250.0, 900.0)]
    for i, rails in enumerate((ranges, [(lo - 100.0, hi + 5.0) for lo, hi in ranges])):
        sigs = [edfio.EdfSignal(x[c], 207, label=f"E{c}", physical_dimension="uV", physical_range=rails[c])
                for c in range(2)]
        edfio.Edf(sigs, starttime=dt.time(9, i), recording=edfio.Recording(startdate=START.date())).write(
            tmp_path / f"rec{i}.edf")
    arc = Archive.create(tmp_path / "a.h5", ["E0", "E1"], 207.0)
    arc.import_recording(read_device_folder(tmp_path))
    widest = np.array([[-500.0, -5.0], [-350.0, 905.0]])
    np.testing.assert_allclose(arc.physical_range, widest, atol=0.05)
    arc.close()
    again = Archive.open(tmp_path / "a.h5")  # kept in the manifest, not recomputed
    np.testing.assert_allclose(again.physical_range, widest, atol=0.05)
    again.close()
    for path, rails in ((tmp_path / "a.h5", widest), (tmp_path / "rec0.edf", np.array(ranges))):
        np.testing.assert_allclose(open_recording(path).clip_level, rails, atol=0.05)
