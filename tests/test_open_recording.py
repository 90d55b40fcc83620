"""One way to open a recording: every kind of input through eegmon.io.open_recording, the one chunk iterator."""

from __future__ import annotations

import datetime as dt
import json
import warnings

import numpy as np
import pytest
from _archive_helpers import START, digital, to_uv, write_edf
from hypothesis import given, settings
from hypothesis import strategies as st

from eegmon.errors import EegmonError
from eegmon.io import import_sources, iter_recordings, open_recording, recording_kind
from eegmon.recording import Segment
from eegmon.source import SignalSource

FS = 207
N = FS * 30
T0 = START.timestamp()
EVENTS = "onset\tduration\teventType\n5.0\t10.0\tsz_foc_ia\n"


def _whole(source: SignalSource) -> np.ndarray:
    return np.concatenate([x for _, x in source.chunks(3600.0)])


@pytest.fixture
def folder(tmp_path):
    """A device folder of two EDF files an hour apart; the first has a sidecar events.tsv."""
    root = tmp_path / "device"
    root.mkdir()
    parts = []
    for i in range(2):
        x = digital(2, N, seed=i)
        write_edf(root / f"day_{i}.edf", x, start=START + dt.timedelta(hours=i))
        parts.append(x)
    (root / "day_0_events.tsv").write_text(EVENTS)
    return root, np.concatenate(parts, axis=1)


def _bids(root, subjects=("01",), runs=("01",)):
    for sub in subjects:
        eeg = root / f"sub-{sub}" / "eeg"
        eeg.mkdir(parents=True)
        for k, run in enumerate(runs):
            stem = f"sub-{sub}_task-sz_run-{run}"
            write_edf(eeg / f"{stem}_eeg.edf", digital(2, N, seed=k), start=START + dt.timedelta(hours=k))
            (eeg / f"{stem}_events.tsv").write_text(EVENTS)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "t", "BIDSVersion": "1.8.0"}))
    return root


def test_edf_file_with_its_sidecar_events(folder):
    root, x = folder
    source = open_recording(root / "day_0.edf")
    assert (source.kind, source.channels, source.fs) == ("edf", ("EEG1", "EEG2"), FS)
    [ann] = source.annotations
    assert (ann.label, ann.onset - T0, ann.duration) == ("sz_foc_ia", 5.0, 10.0)
    np.testing.assert_allclose(_whole(source), to_uv(x[:, :N]).T, atol=1e-9)
    assert all(isinstance(s, Segment) for s in source.segments)


def test_device_folder_is_one_recording_with_a_gap(folder):
    root, x = folder
    source = open_recording(root)
    assert source.kind == "folder" and len(source.segments) == 2
    assert source.gaps() == [(pytest.approx(T0 + 30), pytest.approx(T0 + 3600))]
    assert [a.label for a in source.annotations] == ["sz_foc_ia"]
    assert [f[0].rsplit("/", 1)[-1] for f in source.files()] == ["day_0.edf", "day_1.edf"]
    np.testing.assert_allclose(_whole(source), to_uv(x).T, atol=1e-9)


def test_archive_reads_the_same_samples_as_its_sources(folder, tmp_path):
    root, x = folder
    out = tmp_path / "p.h5"
    import_sources(out, [root])
    source = open_recording(out)
    direct = open_recording(root)
    assert source.kind == "archive" and source.channels == direct.channels and source.fs == direct.fs
    assert [(s.start, s.n_samples) for s in source.segments] == [(s.start, s.n_samples) for s in direct.segments]
    np.testing.assert_allclose(_whole(source), _whole(direct), atol=1e-9)
    np.testing.assert_allclose(source.clip_level, direct.clip_level)
    assert [a.label for a in source.annotations] == ["sz_foc_ia"]
    # the archive's segments are its stored digital samples and scaling, read by sample index
    for seg, ref in zip(source.segments, direct.segments, strict=True):
        assert seg.dtype == ref.dtype and np.issubdtype(seg.dtype, np.integer)
        np.testing.assert_array_equal(seg.read_digital(3, 40), ref.read_digital(3, 40))
        np.testing.assert_allclose(seg.gain, ref.gain)
        np.testing.assert_allclose(seg.offset, ref.offset)


def test_bids_dataset_run_and_runs(tmp_path):
    root = _bids(tmp_path / "bids", runs=("01", "02"))
    whole = open_recording(root)
    assert whole.kind == "bids" and whole.meta["subject"] == "01" and len(whole.segments) == 2
    assert sorted(a.onset - T0 for a in whole.annotations) == [5.0, 3605.0]
    runs = list(iter_recordings(root))
    assert [(r.kind, r.meta["run"]) for r in runs] == [("bids", "01"), ("bids", "02")]
    # a run file opened on its own picks up the run's BIDS events.tsv, and reads the same samples
    one = open_recording(runs[1].path)
    assert one.kind == "edf" and [a.onset - T0 for a in one.annotations] == [3605.0]
    np.testing.assert_array_equal(_whole(one), _whole(runs[1]))
    np.testing.assert_array_equal(_whole(whole), np.concatenate([_whole(r) for r in runs]))


def test_bids_dataset_with_several_subjects_needs_one(tmp_path):
    root = _bids(tmp_path / "bids", subjects=("01", "02"))
    with pytest.raises(EegmonError, match=r"2 subjects \['01', '02'\]"):
        open_recording(root)
    assert open_recording(root, subject="02").meta["subject"] == "02"
    assert [r.meta["subject"] for r in iter_recordings(root)] == ["01", "02"]


@pytest.mark.parametrize("make, match", [
    (lambda p: p / "nope.edf", "no such file or folder"),
    (lambda p: (p / "notes.txt").write_text("hello") and p / "notes.txt", r"unknown kind of file \(\.txt\)"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "unknown kind of folder"),
    (lambda p: (p / "junk.edf").write_bytes(b"x" * 300) and p / "junk.edf", "not an EDF/BDF file"),
])
def test_bad_paths_are_named_in_the_error(tmp_path, make, match):
    path = make(tmp_path)
    with pytest.raises(EegmonError, match=match) as err:
        open_recording(path)
    assert err.value.path == str(path)


def test_archive_with_no_samples(tmp_path):
    from eegmon.archive import Archive

    Archive.create(tmp_path / "e.h5", ("a", "b"), FS).close()
    with pytest.raises(EegmonError, match="holds no samples") as err:
        open_recording(tmp_path / "e.h5")
    assert err.value.path == str(tmp_path / "e.h5")


def test_bids_dataset_with_no_eeg_runs(tmp_path):
    root = tmp_path / "bids"
    root.mkdir()
    (root / "dataset_description.json").write_text(json.dumps({"Name": "t", "BIDSVersion": "1.8.0"}))
    with pytest.raises(EegmonError, match="no EEG runs found") as err:
        open_recording(root)
    assert err.value.path == str(root)


def test_subject_on_something_else_is_refused(folder):
    with pytest.raises(EegmonError, match="not a BIDS dataset"):
        open_recording(folder[0], subject="01")


def test_kinds(folder, tmp_path):
    root, _ = folder
    renamed = tmp_path / "day.rec"  # an EDF is told by its first bytes, whatever its name
    renamed.write_bytes((root / "day_0.edf").read_bytes())
    bids = _bids(tmp_path / "bids")
    assert [recording_kind(p) for p in (root, root / "day_0.edf", renamed, bids)] == ["folder", "edf", "edf", "bids"]


def test_old_names_still_work_with_a_warning(folder, tmp_path):
    root, _ = folder
    with pytest.warns(DeprecationWarning, match="open_recording"):
        from eegmon.source import open_source

        source = open_source(root)
    with pytest.warns(DeprecationWarning, match="segments"):
        assert source.spans == source.segments
    with pytest.warns(DeprecationWarning, match="eegmon.io.import_sources"):
        from eegmon.commands.import_ import import_sources as old_import
    assert old_import is import_sources
    with pytest.warns(DeprecationWarning, match="write_recording_events"):
        from eegmon.commands.detect import write_outputs
    written = write_outputs(tmp_path / "out", source, [])
    assert [p.name for p in written] == ["day_0_events.tsv", "day_1_events.tsv"]


def test_commands_no_longer_hold_library_code():
    import eegmon.commands.detect as detect
    import eegmon.commands.import_ as import_

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "import_sources" not in vars(import_) and "write_outputs" not in vars(detect)
        with pytest.raises(AttributeError):
            import_._read_sources  # noqa: B018 - the attribute access is the test


@pytest.fixture(scope="module")
def gappy(tmp_path_factory):
    """A device folder of three files of different lengths (whole 1-s records) with gaps between."""
    root = tmp_path_factory.mktemp("gappy")
    for i, seconds in enumerate((3, 2, 1)):
        write_edf(root / f"f{i}.edf", digital(2, FS * seconds, seed=i), start=START + dt.timedelta(seconds=10 * i))
    source = open_recording(root)
    return source, _whole(source)


@settings(max_examples=60, deadline=None)
@given(chunk=st.floats(0.001, 5.0), a=st.floats(-2.0, 30.0), length=st.floats(0.0, 35.0))
def test_chunks_concatenated_are_the_whole_read(gappy, chunk, a, length):
    source, whole = gappy
    times = np.concatenate([s.start + np.arange(s.n_samples) / source.fs for s in source.segments])
    start, stop = T0 + a, T0 + a + length
    got = list(source.chunks(chunk, start=start, stop=stop))
    keep = (times >= start - 1e-3 / source.fs) & (times < stop - 1e-3 / source.fs)
    x = np.concatenate([c for _, c in got]) if got else np.zeros((0, 2))
    np.testing.assert_array_equal(x, whole[keep])
    assert all(c.shape[1] == 2 and 0 < len(c) <= max(round(chunk * source.fs), 1) for _, c in got)
    # each chunk's time is the time of its first sample
    firsts = np.cumsum([0] + [len(c) for _, c in got])[:-1]
    np.testing.assert_allclose([t for t, _ in got], times[keep][firsts] if got else [], rtol=0, atol=1e-6)
