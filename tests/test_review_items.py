"""One review item per seizure: grouping, decisions on the item, and every count of seizures.

A seizure found by two detectors and marked in the ground truth is three rows of the archive
and one item: the viewer lists it once, a decision applies to all three, and the export, the
summaries, training and forecasting count it once.
"""

from __future__ import annotations

import numpy as np
import pytest
from eegmon.viewer.export import export_events_tsv, reviewed_events, summary_table
from eegmon.viewer.model import ViewerModel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eegmon.archive import Archive
from eegmon.archive.review import group_events, review_items, seizures
from eegmon.errors import EegmonError
from eegmon.events import Annotation
from eegmon.forecast.seizures import from_archive
from eegmon.io import open_recording, read_events_tsv

T0 = 1.736e9
SPAN = 4 * 3600.0


def _archive(path, detections=(), annotations=()) -> Archive:
    arc = Archive.create(path, ["E1-E2", "E2-E3"], 16.0)
    arc.append_segment(T0, np.zeros((2, int(SPAN * 16)), dtype=np.int16), [0.1, 0.1], [0.0, 0.0])
    arc.add_detections(detections)
    arc.add_annotations(annotations)
    return arc


def _det(onset, duration, detector, p=0.9, label="sz"):
    return Annotation(T0 + onset, duration, label, confidence=p, source=f"detector:{detector}")


def _ann(onset, duration, source="ground_truth", label="sz"):
    return Annotation(T0 + onset, duration, label, source=source)


def test_overlapping_events_of_any_source_are_one_item_transitively(tmp_path):
    with _archive(tmp_path / "a.h5",
                  [_det(100, 30, "classifier", 0.8), _det(125, 40, "line-length", 0.95),  # chained by overlap
                   _det(1000, 20, "classifier", 0.6)],
                  [_ann(160, 20), _ann(110, 5, "diary"), _ann(105, 300, label="musc"),  # an artifact stays alone
                   _ann(2000, 30)]) as arc:
        items = review_items(arc)
    seizure_items = [it for it in items if it.is_seizure]
    assert len(seizure_items) == 3 and len(items) == 4
    first = seizure_items[0]
    assert len(first.members) == 4 and first.found_by == ("classifier", "line-length")
    assert first.sources == ("detector:classifier", "detector:line-length", "diary", "ground_truth")
    assert (first.onset, first.offset) == (T0 + 100, T0 + 180) and first.probability == 0.95
    assert first.kind == "detection" and first.label == "sz" and first.status == "unreviewed"
    assert [it.kind for it in seizure_items[1:]] == ["detection", "annotation"]
    assert next(it for it in items if not it.is_seizure).members[0][1].label == "musc"


def test_an_items_status_is_its_latest_decision(tmp_path):
    with _archive(tmp_path / "a.h5", [_det(100, 30, "a"), _det(110, 30, "b")]) as arc:
        item = review_items(arc)[0]
        (_, a), (_, b) = item.members
        arc.update_detection(a.id, reviewer="x", status="confirmed")
        arc.update_detection(b.id, reviewer="y", status="rejected")
        item = review_items(arc)[0]
        assert item.status == "rejected" and item.reviewer == "y"
        arc.update_detection(a.id, reviewer="x", status="confirmed")
        assert review_items(arc)[0].status == "confirmed"
    # before any decision: the shared status, else unreviewed
    items = group_events([("detection", a), ("detection", b)])
    assert items[0].status == "unreviewed"


def test_viewer_decisions_apply_to_the_item_and_undo_together(tmp_path):
    with _archive(tmp_path / "a.h5", [_det(100, 30, "classifier"), _det(110, 30, "line-length")],
                  [_ann(105, 20)]) as arc:
        model = ViewerModel(arc, reviewer="dr.x", n_pixels=200)
        rows = model.events()
        assert len(rows) == 1 and len(rows[0].keys) == 3
        assert rows[0].event.source == "ground_truth+detector:classifier+line-length"
        model.confirm(("detection", 2))  # any member's key stands for its item
        assert {ev.status for ev in [*arc.detections(), *arc.annotations()]} == {"confirmed"}
        assert model.counts() == {"reviewed": 1, "remaining": 0, "total": 1}
        assert model.undo() == "confirm"
        assert {ev.status for ev in [*arc.detections(), *arc.annotations()]} == {"unreviewed"}


def test_export_summary_training_and_forecasting_count_each_seizure_once(tmp_path):
    dets = [_det(600 + 1200 * i, 40, "classifier") for i in range(5)] + \
           [_det(610 + 1200 * i, 30, "line-length") for i in range(5)] + [_det(9000, 20, "line-length", 0.4)]
    anns = [_ann(605 + 1200 * i, 35) for i in range(3)]
    with _archive(tmp_path / "a.h5", dets, anns) as arc:
        model = ViewerModel(arc, reviewer="dr.x", n_pixels=200)
        for row in model.events():
            (model.reject if row.event.onset > T0 + 8000 else model.confirm)(row.key)
        assert len(reviewed_events(arc)) == 5
        rows = summary_table(arc)
        assert sum(r["seizures"] for r in rows) == 5 and sum(r["confirmed"] for r in rows) == 5
        assert sum(r["rejected"] for r in rows) == 1
        tsv = export_events_tsv(arc, tmp_path / "events.tsv")
    assert len(read_events_tsv(tsv).events) == 5
    src = open_recording(tmp_path / "a.h5")  # what eegmon train reads
    assert len([a for a in src.annotations if a.is_seizure and a.status != "rejected"]) == 5
    assert len(from_archive(tmp_path / "a.h5").onsets) == 5


def test_training_labels_keep_unreviewed_annotations_and_leave_unreviewed_detections_out(tmp_path):
    with _archive(tmp_path / "a.h5", [_det(100, 30, "a"), _det(3000, 30, "a")],
                  [_ann(110, 20), _ann(5000, 20, label="musc")]) as arc:
        assert len(seizures(review_items(arc), annotated=True)) == 1
        assert seizures(review_items(arc)) == []
    labels = open_recording(tmp_path / "a.h5").annotations
    assert [(a.label, a.onset) for a in labels] == [("sz", T0 + 100), ("musc", T0 + 5000)]


_spans = st.lists(st.tuples(st.floats(0, SPAN - 200), st.floats(1, 150), st.integers(0, 3)), min_size=1, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_spans)
def test_confirming_every_item_exports_one_seizure_per_distinct_event(tmp_path_factory, spans):
    sources = ["detector:classifier", "detector:line-length", "ground_truth", "diary"]
    events = [Annotation(T0 + on, dur, "sz", confidence=0.5 if k < 2 else None, source=sources[k])
              for on, dur, k in spans]
    # distinct events: connected components of the overlap graph, counted independently
    parent = list(range(len(events)))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i
    for i, a in enumerate(events):
        for j, b in enumerate(events[:i]):
            if a.onset <= b.offset and b.onset <= a.offset:
                parent[root(i)] = root(j)
    distinct = len({root(i) for i in range(len(events))})
    path = tmp_path_factory.mktemp("items") / "a.h5"
    with _archive(path, [e for e in events if e.source.startswith("detector")],
                  [e for e in events if not e.source.startswith("detector")]) as arc:
        model = ViewerModel(arc, reviewer="dr.p", n_pixels=200)
        for row in model.events():
            model.confirm(row.key)
        exported = reviewed_events(arc)
    assert len(exported) == distinct
    assert all(a.offset < b.onset for a, b in zip(exported, exported[1:], strict=False))  # disjoint, in order


@pytest.mark.parametrize("gap", [0.0, 1e-3])
def test_touching_events_join_and_a_gap_keeps_them_apart(tmp_path, gap):
    with _archive(tmp_path / "a.h5", [_det(100, 30, "a"), _det(130 + gap, 30, "b")]) as arc:
        assert len(review_items(arc)) == (1 if gap == 0 else 2)


def test_a_decision_on_an_item_is_one_commit_and_all_or_nothing(tmp_path):
    with _archive(tmp_path / "a.h5", [_det(100, 30, "a"), _det(110, 30, "b")], [_ann(105, 20)]) as arc:
        item = review_items(arc)[0]
        stored = arc.update_events([(k, ev.id, {"status": "confirmed"}) for k, ev in item.members], reviewer="x")
        assert [ev.status for ev in stored] == ["confirmed"] * 3
        edited = {ev.edited_at for ev in [*arc.detections(), *arc.annotations()]}
        assert len(edited) == 3 and None not in edited
        with pytest.raises(EegmonError, match="no detection with id 99"):
            arc.update_events([("annotation", 1, {"status": "rejected"}), ("detection", 99, {"status": "rejected"})])
        assert arc.annotations()[0].status == "confirmed"  # the first edit of a refused decision is not kept
        with pytest.raises(EegmonError, match="status"):
            arc.update_events([("detection", 1, {"status": "maybe"})])
