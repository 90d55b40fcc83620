"""The archive's parts behind the Archive facade, and the one feature-file layout."""

from __future__ import annotations

import ast
import inspect
import os
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from eegmon.archive import Archive
from eegmon.archive.events import EventTable
from eegmon.archive.feature_file import FeatureWriter, features_path, merge_parts, read_feature_file
from eegmon.archive.importer import Importer
from eegmon.archive.manifest import Manifest, create_manifest, read_manifest
from eegmon.archive.reads import SegmentReader
from eegmon.errors import EegmonError
from eegmon.events import Annotation
from eegmon.features import FEATURE_NAMES, FeatureTable

ROOT = Path(__file__).resolve().parents[1]
T0 = 1.7e9


def _table(t0: float, n: int, rng, channels=("a", "b")) -> FeatureTable:
    return FeatureTable(t0 + np.arange(1, n + 1) * 0.5, rng.normal(size=(n, len(channels), len(FEATURE_NAMES))),
                        FEATURE_NAMES, tuple(channels))


def _private_attributes(path: Path) -> list[str]:
    """``x._name`` where ``x`` is not ``self`` or ``cls``: one object reaching into another's privates."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
            out.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    return out


def test_parts_talk_through_public_methods():
    bad = [hit for p in sorted((ROOT / "eegmon" / "archive").glob("*.py")) for hit in _private_attributes(p)]
    assert bad == []


def test_no_code_reaches_into_the_archive_facade():
    private = {name for name in vars(Archive) if name.startswith("_") and not name.startswith("__")}
    private |= {"_manifest", "_annotations", "_detections", "_importer", "_derived", "_reader", "_handle"}
    hits = []
    for folder in ("eegmon", "detectors", "streaming", "viewer", "benchmarks"):
        for p in sorted((ROOT / folder).rglob("*.py")):
            if "archive" not in p.relative_to(ROOT).parts:
                hits += [h for h in _private_attributes(p) if h.rsplit(" .", 1)[1] in private]
    assert hits == []


def test_facade_keeps_the_signatures_other_code_uses():
    def params(f):
        return list(inspect.signature(f).parameters)

    assert params(Archive.open) == ["path", "mode"]
    assert params(Archive.create) == ["path", "channels", "fs", "meta"]
    assert params(Archive.read) == ["self", "start", "stop", "channels"]
    assert params(Archive.minmax) == ["self", "start", "stop", "n_pixels", "channels"]
    assert params(Archive.annotations) == params(Archive.detections) == ["self", "start", "stop"]
    assert params(Archive.update_annotation) == ["self", "id", "status", "reviewer", "label", "onset", "duration",
                                                 "channels", "confidence"]
    assert params(Archive.update_detection) == ["self", "id", "status", "reviewer", "label", "onset", "duration"]
    for name in ("channels", "fs", "physical_range", "segments", "gaps", "start", "stop", "features_stop"):
        assert isinstance(inspect.getattr_static(Archive, name), property), name


def test_parts_share_one_manifest(tmp_path):
    path = tmp_path / "p.h5"
    manifest = Manifest(path, create_manifest(path, ("a", "b"), 100.0, {}), writable=True)
    annotations = EventTable(manifest, "annotations")
    importer, reader = Importer(manifest, annotations), SegmentReader(manifest)
    x = np.arange(2000, dtype=np.int16).reshape(2, 1000)
    importer.append_segment(T0, x, [0.5, 0.5], [1.0, 2.0], source="live:x")
    [ann_id] = annotations.add([Annotation(onset=T0 + 1, duration=2, label="sz")])
    _, uv = reader.read(T0, T0 + 10)
    np.testing.assert_array_equal(uv, x * 0.5 + np.array([[1.0], [2.0]]))
    # a second handle sees both commits once it re-reads the manifest
    other = Manifest(path, manifest.state, writable=False)
    other.refresh()
    assert [s.source for s in other.segments()] == ["live:x"]
    assert [e.id for e in EventTable(other, "annotations").select()] == [ann_id]
    with pytest.raises(EegmonError, match="read-only"):
        EventTable(other, "annotations").add([Annotation(onset=T0, duration=1, label="sz")])
    reader.close()


def test_one_event_table_class_serves_both_tables(tmp_path):
    with Archive.create(tmp_path / "e.h5", ["a"], 100.0) as arc:
        ev = Annotation(onset=T0, duration=5, label="sz", source="detector:x")
        assert arc.add_annotations([ev]) == arc.add_detections([ev]) == [1]  # ids count per table
        assert arc.add_detections([ev]) == [1]  # the same row is not stored twice
        arc.update_detection(1, status="rejected", reviewer="dr.x")
        assert [e.status for e in arc.detections()] == ["rejected"]
        assert [e.status for e in arc.annotations()] == ["unreviewed"]
        with pytest.raises(EegmonError, match="no detection with id 7"):
            arc.update_detection(7, status="confirmed")
        with pytest.raises(EegmonError, match="no annotation with id 7"):
            arc.update_annotation(7, status="confirmed")
        manifest = Manifest(arc.path, read_manifest(arc.path), writable=True)
        with pytest.raises(EegmonError, match="Allowed values are 'annotations', 'detections'"):
            EventTable(manifest, "annotation")


def test_features_nothing_is_an_empty_table_of_the_right_shape(tmp_path, rng_seed):
    rng = np.random.default_rng(rng_seed)
    with Archive.create(tmp_path / "f.h5", ["a", "b"], 200.0) as arc:
        none = arc.features()
        assert none.times.shape == (0,) and none.values.shape == (0, 2, 0)
        assert none.values.dtype == none.times.dtype == np.float64 and none.channel_names == ("a", "b")
        assert np.isnan(arc.features_stop)
        arc.write_features(_table(1000.0, 4, rng))
        outside = arc.features(5000.0, 6000.0)  # a span with nothing still names what is stored
        assert outside.values.shape == (0, 2, len(FEATURE_NAMES)) and outside.feature_names == FEATURE_NAMES
        assert len(arc.features(1000.0, 1001.0)) == 1


def _layout(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {name: (ds.dtype, ds.shape[1:], ds.maxshape, ds.compression) for name, ds in f.items()}


def test_archive_blocks_and_batch_tables_share_one_layout(tmp_path, rng_seed):
    rng = np.random.default_rng(rng_seed)
    table = _table(1000.0, 50, rng)
    with Archive.create(tmp_path / "a.h5", ["a", "b"], 200.0) as arc:
        arc.write_features(table)
        [block] = (tmp_path / "a.h5.d").glob("feat_*.h5")
    batch = features_path(tmp_path, "sub-01_run-01", None)
    with FeatureWriter(batch, table.feature_names, table.channel_names, attrs={"window_s": 2.0}) as out:
        out.append(table.times[:20], table.values[:20])
        out.append(table.times[20:], table.values[20:])
    assert _layout(block) == _layout(batch)
    for path in (block, batch):
        back = read_feature_file(path)
        np.testing.assert_array_equal(back.values, table.values)
        assert (back.feature_names, back.channel_names) == (table.feature_names, table.channel_names)
        back = FeatureTable.from_hdf5(h5py.File(path, "r"))  # the documented plain-h5py reading
        np.testing.assert_array_equal(back.times, table.times)
    with h5py.File(batch, "r") as f:
        assert f.attrs["window_s"] == 2.0


def test_batch_parts_merge_into_one_table(tmp_path, rng_seed):
    rng = np.random.default_rng(rng_seed)
    tables = [_table(1000.0 + 100 * k, 7, rng) for k in range(3)]
    for k, t in enumerate(tables):
        with FeatureWriter(features_path(tmp_path, "r", k), t.feature_names, t.channel_names,
                           attrs={"fs": 256.0}) as out:
            out.append(t.times, t.values)
    merged = read_feature_file(merge_parts(tmp_path, "r", 3))
    np.testing.assert_array_equal(merged.values, FeatureTable.concat(tables).values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r_features.h5"]


def test_batch_table_of_earlier_versions_is_still_read(tmp_path, rng_seed):
    rng = np.random.default_rng(rng_seed)
    table = _table(1000.0, 9, rng, channels=("E1-E2", "E2-E3"))
    old = tmp_path / "old_features.h5"
    with h5py.File(old, "w") as f:  # the layout eegmon batch wrote before it shared the archive's
        f.attrs.update({"feature_names": list(table.feature_names), "channels": list(table.channel_names),
                        "window_s": 2.0, "hop_s": 1.0, "fs": 256.0})
        f.create_dataset("times", data=table.times, maxshape=(None,), chunks=(4096,))
        f.create_dataset("values", data=table.values, maxshape=(None, 2, len(FEATURE_NAMES)),
                         chunks=(4096, 2, len(FEATURE_NAMES)))
    back = read_feature_file(old, start=1001.0, stop=1003.0)
    assert back.channel_names == ("E1-E2", "E2-E3")
    np.testing.assert_array_equal(back.times, table.times[1:5])
    np.testing.assert_array_equal(back.values, table.values[1:5])


def test_feature_writer_that_fails_leaves_no_file(tmp_path):
    path = tmp_path / "x_features.h5"
    with pytest.raises(RuntimeError, match="cut"), FeatureWriter(path, FEATURE_NAMES, ("a",)) as out:
        out.append(np.array([1.0]), np.zeros((1, 1, len(FEATURE_NAMES))))
        raise RuntimeError("cut")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(EegmonError, match="must not set"):
        FeatureWriter(path, FEATURE_NAMES, ("a",), attrs={"channel_names": ["a"]})


def test_old_cohort_feature_file_names_warn_and_still_work(tmp_path):
    import eegmon.cohort.feature_file as old

    with pytest.warns(DeprecationWarning, match="eegmon.archive.feature_file.FeatureWriter"):
        writer = old.FeatureWriter
    with pytest.warns(DeprecationWarning):
        assert old.features_path(tmp_path, "b", 3) == features_path(tmp_path, "b", 3)
    attrs = {"feature_names": ["ll"], "channels": ["a", "b"], "fs": 256.0}
    with writer(tmp_path / "b.h5", attrs, 2, 1) as out:  # the old signature
        out.append(np.array([1.0, 2.0]), np.ones((2, 2, 1)))
    back = read_feature_file(tmp_path / "b.h5")
    assert back.channel_names == ("a", "b") and back.feature_names == ("ll",) and len(back) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            old.nothing_here  # noqa: B018


def test_writer_clears_stale_temporaries_of_derived_files(tmp_path):
    path = tmp_path / "o.h5"
    Archive.create(path, ["a"], 100.0).close()
    seg_dir = tmp_path / "o.h5.d"
    stale, fresh = seg_dir / "feat_1_2.h5.tmp-0badf00d", seg_dir / "trend_x.h5.tmp-00c0ffee"
    for p in (stale, fresh):
        p.write_bytes(b"half a file")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    Archive.open(path, "r").close()
    assert stale.exists()  # a reader never deletes
    Archive.open(path, "a").close()
    assert not stale.exists() and fresh.exists()  # a young one may be a live writer's
