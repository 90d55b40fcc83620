"""Review -> retrain -> re-run: labels from the review, the archive's model versions, detect --model archive.

A 1-h simulated recording (2 seizures) imported into a real archive; detections are added by
hand where the test needs them, and decided as a reviewer would (eegmon.archive.review.decide).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _archive_helpers import tree_digest
from eegmon.detectors.generic import bundled_model
from eegmon.detectors.retrain import compare_with_review, review_labels
from eegmon.detectors.training import feature_batches, rows_from_features

from eegmon.archive import Archive
from eegmon.archive.events import StoredAnnotation
from eegmon.archive.models import read_registry, store_model
from eegmon.archive.review import ReviewItem, decide, review_items
from eegmon.cli import main
from eegmon.events import Annotation
from eegmon.io import open_recording
from eegmon.simulate import simulate


@pytest.fixture(scope="module")
def base_archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("retrain")
    simulate(root / "sim", days=1 / 24, seizures_per_day=72, seed=6, quiet=True, n_jobs=1, difficulty="easy")
    arc = root / "p.h5"
    assert main(["import", str(root / "sim"), "-o", str(arc), "-q"]) == 0
    return arc


@pytest.fixture
def archive(base_archive, tmp_path) -> Path:
    out = tmp_path / "p.h5"
    shutil.copy(base_archive, out)
    shutil.copytree(base_archive.with_name("p.h5.d"), tmp_path / "p.h5.d")
    return out


def _truth(path: Path) -> list[Annotation]:
    with Archive.open(path) as arc:
        return sorted((a for a in arc.annotations() if a.is_seizure), key=lambda a: a.onset)


def _review(path: Path) -> dict[str, ReviewItem]:
    """Detections over the 1st seizure (confirmed), on background (rejected, and relabelled), the 2nd (left)."""
    truth = _truth(path)
    assert len(truth) == 2
    t0 = truth[0].onset
    dets = {"hit": Annotation(truth[0].onset + 2, truth[0].duration - 4, "sz", source="detector:classifier"),
            "false": Annotation(t0 + 600, 40.0, "sz", source="detector:classifier"),
            "musc": Annotation(t0 + 900, 30.0, "sz", source="detector:classifier"),
            "open": Annotation(truth[1].onset, 30.0, "sz", source="detector:classifier")}
    with Archive.open(path, "a") as arc:
        arc.add_detections(dets.values())
        items = {name: next(it for it in review_items(arc) if it.onset <= d.onset < it.offset + 1e-6)
                 for name, d in dets.items()}
        decide(arc, items["hit"], "dr.smith", status="confirmed")
        decide(arc, items["false"], "dr.smith", status="rejected")
        decide(arc, items["musc"], "dr.jones", status="confirmed", label="musc")
        for annotation in truth[1:]:  # the 2nd seizure's annotation: the item's decision is this rejection
            arc.update_annotation(next(a.id for a in arc.annotations() if a.onset == annotation.onset),
                                  reviewer="dr.smith", status="rejected")
        return {name: next(it for it in review_items(arc) if it.onset <= d.onset < it.offset + 1e-6)
                for name, d in dets.items()}


def test_review_labels_and_lineage(archive):
    items = _review(archive)
    with Archive.open(archive) as arc:
        labels = review_labels(review_items(arc))
    assert items["hit"].status == "confirmed" and items["false"].status == "rejected"
    assert [(round(s.onset), round(s.offset)) for s in labels.seizures] == [
        (round(items["hit"].onset), round(items["hit"].offset))]
    # the open detection overlaps the 2nd seizure, whose annotation was rejected: the item's latest
    # decision is that rejection, so it is a hard negative, not left out
    assert sorted(labels.hard) == sorted([(items["false"].onset, items["false"].offset),
                                          (items["musc"].onset, items["musc"].offset),
                                          (items["open"].onset, items["open"].offset)])
    assert labels.ignore == [] and labels.left_out == 0
    lineage = labels.lineage()
    assert lineage["confirmed"] == 1 and lineage["rejected"] == 3
    assert lineage["reviewers"] == ["dr.jones", "dr.smith"]
    assert lineage["latest_edit"] is not None and lineage["latest_edit"].endswith("+00:00")


def test_unreviewed_detection_is_left_out(archive):
    truth = _truth(archive)
    with Archive.open(archive, "a") as arc:
        arc.add_detections([Annotation(truth[0].onset + 1800, 30.0, "sz", source="detector:classifier")])
        labels = review_labels(review_items(arc))
    assert labels.left_out == 1 and labels.ignore == [(truth[0].onset + 1800, truth[0].onset + 1830)]
    # the annotated seizures nobody rejected are seizures
    assert labels.annotated == 2 and len(labels.seizures) == 2


def test_rows_follow_the_review(archive):
    truth = _truth(archive)
    source = open_recording(archive)
    model = bundled_model()
    batches = list(feature_batches(source.chunks(600.0), fs=source.fs, channels=source.channels, model=model,
                                   clip_level=source.clip_level))
    times = np.concatenate([t for t, _, _ in batches])
    n_ch = len(source.channels)
    seizure, hard, ignore = truth[0], (truth[0].onset + 600, truth[0].onset + 640), (truth[0].onset + 900,
                                                                                     truth[0].onset + 930)

    def rows(**kw):
        return rows_from_features(batches, channels=source.channels, seizures=[seizure], model=model,
                                  rng=np.random.default_rng(0), hours=1.0, min_negatives=10**9, **kw)

    def windows(a, b):
        return int(((times > a) & (times <= b)).sum()) * n_ch

    plain = rows()
    assert (plain.y == 1).sum() > 0 and plain.weight is None
    reviewed = rows(hard=[hard], ignore=[ignore], hard_weight=3.0)
    # rejected: every window kept as background, weighted; unreviewed: no row at all
    assert (reviewed.weight == 3.0).sum() == windows(*hard)
    assert np.all(reviewed.y[reviewed.weight == 3.0] == 0)
    assert len(plain.y) - len(reviewed.y) == windows(*ignore)
    assert (reviewed.y == 1).sum() == (plain.y == 1).sum()


def _write(payload: bytes):
    def write(path: Path) -> None:
        path.write_bytes(payload)
    return write


def test_registry_versions_and_lineage_leave_the_archive_digest_alone(archive):
    before = tree_digest(archive)
    review = {"confirmed": 14, "rejected": 9, "left_out": 2, "annotated": 0,
              "latest_edit": "2025-02-01T10:00:00+00:00", "reviewers": ["dr.smith"]}
    v1 = store_model(archive, _write(b"one"), base="generic", review=review, training={"seizures": 14})
    v2 = store_model(archive, _write(b"two"), base="generic", review={**review, "confirmed": 15}, training={})
    registry = read_registry(archive)
    assert [v.id for v in registry.versions] == ["v0001", "v0002"] and registry.current == "v0002"
    assert v1.previous is None and v2.previous == "v0001" and v2.name == "patient-v2"
    assert registry.get("v1") == v1 and registry.get("latest") == v2 and registry.get("current") == v2
    assert v1.describe() == "from 14 confirmed, 9 rejected items reviewed up to 2025-02-01 by dr.smith"
    assert (archive.with_name("p.h5.d") / "models" / v1.file).read_bytes() == b"one"
    assert tree_digest(archive) == before  # the segment folder's own files are untouched
    with Archive.open(archive) as arc:
        assert len(arc.segments) >= 1


STORE_LOOP = textwrap.dedent("""
    import sys
    from eegmon.archive.models import store_model
    print("ready", flush=True)
    while True:
        store_model(sys.argv[1], lambda p: p.write_bytes(b"x" * 200_000), base="generic",
                    review={"confirmed": 1}, training={"pad": "y" * 50_000})
""")


@pytest.mark.parametrize("kills", [3])
def test_registry_survives_sigkill(archive, kills):
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", STORE_LOOP, str(archive)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        read_registry(archive)  # a read while it writes: never a broken file either
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        registry = read_registry(archive)
        doc = json.loads((archive.with_name("p.h5.d") / "models" / "registry.json").read_text()) \
            if registry.versions else None
        for v in registry.versions:
            assert (archive.with_name("p.h5.d") / "models" / v.file).is_file()
        if doc is not None:
            assert doc["current"] == registry.versions[-1].id
    numbers = [v.number for v in read_registry(archive).versions]
    assert numbers == list(range(1, len(numbers) + 1))


def _item(kind, id_, onset, duration, status, source="detector:classifier", label="sz") -> ReviewItem:
    return ReviewItem(((kind, StoredAnnotation(onset, duration, label, source=source, status=status, id=id_)),))


def test_compare_with_review_counts_each_item_once():
    day = 86400.0
    items = [_item("detection", 1, 1 * day, 30, "rejected"),   # cleared
             _item("detection", 2, 2 * day, 30, "rejected"),   # raised again
             _item("detection", 3, 3 * day, 30, "confirmed"),  # kept
             _item("detection", 4, 4 * day, 30, "confirmed"),  # lost
             _item("detection", 5, 5 * day, 30, "confirmed", label="musc"),  # relabelled: a false alarm, cleared
             _item("detection", 6, 0.5 * day, 30, "rejected")]  # before the span
    events = [Annotation(2 * day + 5, 20, "sz", source="detector:patient-v1"),
              Annotation(3 * day - 10, 20, "sz", source="detector:patient-v1"),
              Annotation(3 * day + 15, 20, "sz", source="detector:patient-v1"),  # same item: counted once
              Annotation(6 * day, 20, "sz", source="detector:patient-v1")]  # new, to review
    out = compare_with_review(items, events, 0.9 * day, 7 * day)
    assert (out.false_alarms, out.cleared, out.confirmed, out.lost, out.to_review) == (3, 2, 2, [4 * day], 1)
    assert "of the 3 false alarm(s), 2 would not have been raised; 1 confirmed seizure(s) lost: 1970-01-05 00:00" \
        in out.summary()
    kept = compare_with_review(items[2:3], events, 0, 7 * day)
    assert "no confirmed seizure lost (of 1)" in kept.summary()


def test_train_store_list_and_detect_with_the_archive_model(archive, capsys):
    _review(archive)
    assert main(["train", str(archive), "--trees", "10"]) == 0
    out = capsys.readouterr().out
    assert "stored as model v1 of p.h5 (from 1 confirmed, 3 rejected items reviewed up to " in out
    assert "by dr.jones, dr.smith" in out
    assert main(["train", str(archive), "--list"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith("* v0001") and "base generic (bundled" in listing
    assert main(["detect", str(archive), "--model", "archive", "--compare-days", "1"]) == 0
    out = capsys.readouterr().out
    assert "(detector patient-v1)" in out and "last 1 days: of the 3 false alarm(s)" in out
    with Archive.open(archive) as arc:
        sources = {d.source for d in arc.detections()}
        items = review_items(arc)
    assert "detector:patient-v1" in sources or "stored 0" not in out
    # a new version's detections join the old items: no reviewed item is split in two
    assert sum(it.status == "confirmed" and it.is_seizure for it in items) == 1


def test_exit_codes(archive, tmp_path, capsys):
    with Archive.open(archive, "a") as arc:  # reject every marked seizure: nothing to train on
        for a in arc.annotations():
            if a.is_seizure:
                arc.update_annotation(a.id, reviewer="dr.smith", status="rejected")
    assert main(["train", str(archive)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no confirmed seizure to train on" in err[0] and "p.h5" in err[0]
    assert main(["detect", str(archive), "--model", "archive"]) == 2
    assert "holds no model yet" in capsys.readouterr().err
    store_model(archive, _write(b"x"), base="generic", review={}, training={})
    assert main(["detect", str(archive), "--model", "archive:v7"]) == 2
    assert "no model version 'v7'" in capsys.readouterr().err
    assert main(["train", str(archive), str(archive), "--list"]) == 2
