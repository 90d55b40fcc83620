"""The fast paths behind the viewer on a month of events: array grouping, lazy rows, binned marks, the journal.

Each fast path is checked against the plain one it replaces: NumPy grouping against the object
grouping it came from, the array filter against ``EventFilter.keep``, the binned marks against
the items' spans, and the decisions journal against a SIGKILL in the middle of an append.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
from eegmon.viewer.model import EventFilter, ViewerModel, merge_spans
from hypothesis import given, settings
from hypothesis import strategies as st

from eegmon.archive import Archive
from eegmon.archive import manifest as manifest_module
from eegmon.archive._layout import EVENT_DTYPE, EVENT_FIELDS
from eegmon.archive.events import event_row, row_event
from eegmon.archive.manifest import journal_path, read_token
from eegmon.archive.review import _TOUCH_S, ReviewIndex, ReviewItem, group_events
from eegmon.events import Annotation

T0 = 1.736e9
SOURCES = ("detector:classifier", "detector:line-length", "ground_truth", "diary", "reviewer:dr.x")
LABELS = ("sz", "sz_foc", "musc", "eyem")
STATUSES = ("unreviewed", "confirmed", "rejected")


def _object_grouping(events):
    """The object grouping the viewer used before arrays (the reference for group_order)."""
    order = sorted(events, key=lambda m: (m[1].onset, m[0], m[1].id))
    items, group, end = [], [], -float("inf")
    for member in order:
        ev = member[1]
        if not ev.is_seizure:
            items.append(ReviewItem((member,)))
            continue
        if group and ev.onset > end + _TOUCH_S:
            items.append(ReviewItem(tuple(group)))
            group = []
        group.append(member)
        end = max(end, ev.offset) if len(group) > 1 else ev.offset
    if group:
        items.append(ReviewItem(tuple(group)))
    return sorted(items, key=lambda it: (it.members[0][1].onset, it.members[0][0], it.members[0][1].id))


def _table(specs) -> np.ndarray:
    """An event table (EVENT_DTYPE records) from (onset, duration, label, source, status, confidence, edited) specs."""
    rows = []
    for i, (on, dur, label, source, status, conf, edited) in enumerate(specs, start=1):
        ev = Annotation(T0 + on, dur, label, confidence=conf, source=source, status=status)
        row = event_row(ev, i, reviewer="dr.x" if edited else "", edited_at_ns=int(T0 * 1e9) + edited * 10**9)
        rows.append(tuple(row[f] for f in EVENT_FIELDS))
    return np.array(rows, dtype=EVENT_DTYPE) if rows else np.zeros(0, dtype=EVENT_DTYPE)


# onsets on a coarse grid and durations that make ends touch exactly: the edge cases of the rule
_event = st.tuples(st.integers(0, 400).map(lambda k: k * 2.5), st.sampled_from([0.0, 2.5, 5.0, 7.5, 40.0, 1.3]),
                   st.sampled_from(LABELS), st.sampled_from(SOURCES), st.sampled_from(STATUSES),
                   st.one_of(st.none(), st.floats(0, 1)), st.integers(0, 3))
_tables = st.tuples(st.lists(_event, max_size=30), st.lists(_event, max_size=30))


@settings(max_examples=200, deadline=None)
@given(_tables)
def test_array_grouping_equals_the_object_grouping(tables):
    ann, det = _table(tables[0]), _table(tables[1])
    objects = [*(("annotation", row_event(r)) for r in ann), *(("detection", row_event(r)) for r in det)]
    expected = _object_grouping(objects)
    index = ReviewIndex(ann, det)
    assert list(index) == expected
    assert group_events(objects) == expected
    assert len(index) == len(expected)
    for i, item in enumerate(expected):  # the arrays say what the items say
        assert (index.onset[i], index.offset[i]) == (item.onset, item.offset)
        assert (index.label[i], index.status[i]) == (item.label, item.status)
        kind, last = item.members[-1]
        assert index.find(kind, last.id) == i
        p = item.probability
        assert (np.isnan(index.probability[i]) and p is None) or index.probability[i] == p


_filters = st.builds(EventFilter, sources=st.lists(st.sampled_from(["detector", "ground_truth", "diary",
                                                                    "detector:classifier", "reviewer"]),
                                                   max_size=2).map(tuple),
                     labels=st.lists(st.sampled_from(LABELS), max_size=2).map(tuple),
                     statuses=st.lists(st.sampled_from(STATUSES), max_size=2).map(tuple),
                     min_probability=st.sampled_from([0.0, 0.3, 0.8]))


@settings(max_examples=150, deadline=None)
@given(_tables, _filters)
def test_the_array_filter_keeps_what_keep_keeps(tables, flt):
    from eegmon.viewer.model import EventRow

    index = ReviewIndex(_table(tables[0]), _table(tables[1]))
    expected = [flt.keep(EventRow.of(item)) for item in index]
    assert flt.mask(index).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1000), st.floats(0, 50)), max_size=40), st.sampled_from([0.5, 3.0, 20.0]))
def test_merged_spans_cover_every_span_and_nothing_a_pixel_away(spans, width):
    x0 = np.array([a for a, _ in spans])
    x1 = np.array([a + d for a, d in spans])
    a, b = merge_spans(x0, x1, width)
    assert np.all(b - a >= width - 1e-9) and np.all(a[1:] > b[:-1] + width)  # disjoint, sorted, a pixel apart
    for s, e in zip(x0, x1, strict=True):  # every span inside one merged span
        assert np.any((a <= s) & (e <= b))
    for lo, hi in zip(a, b, strict=True):  # every merged span made of spans at most a pixel apart
        inside = (x0 >= lo) & (x0 <= hi)
        assert inside.any() and lo == x0[inside].min()
        reach = np.maximum(x1[inside], x0[inside] + width)
        assert hi == reach.max()


def _archive(path, n_artifacts=300) -> Archive:
    arc = Archive.create(path, ["E1-E2", "E2-E3"], 16.0)
    arc.append_segment(T0, np.zeros((2, 16 * 7200), dtype=np.int16), [0.1, 0.1], [0.0, 0.0])
    rng = np.random.default_rng(3)
    on = np.sort(rng.uniform(0, 7000, n_artifacts))
    arc.add_annotations([Annotation(T0 + t, float(d), "eyem") for t, d in zip(on, rng.uniform(0.5, 30, on.size),
                                                                             strict=True)])
    arc.add_annotations([Annotation(T0 + 1000, 60, "sz"), Annotation(T0 + 4000, 30, "sz", source="diary")])
    arc.add_detections([Annotation(T0 + 1010, 40, "sz", confidence=0.9, source="detector:classifier"),
                        Annotation(T0 + 1020, 30, "sz", confidence=0.7, source="detector:line-length"),
                        Annotation(T0 + 6000, 20, "sz", confidence=0.4, source="detector:classifier")])
    return arc


def test_binned_marks_cover_exactly_the_items_spans(tmp_path):
    with _archive(tmp_path / "a.h5") as arc:
        model = ViewerModel(arc, reviewer="dr.x", n_pixels=400)
        model.confirm(("detection", 1))
        model.reject(model.events()[5].key)
        start, stop, n = model.start, model.stop, 400
        marks = model.event_marks(start, stop, n)
        width = (stop - start) / n
        rows = list(model.all_events)
        assert {k for k in marks} == {(r.event.status, r.kind) for r in rows}
        for r in rows:  # each item inside a mark of its status and lane
            a, b = marks[(r.event.status, r.kind)]
            assert np.any((a <= r.event.onset) & (r.event.offset <= b))
        for (status, kind), (a, b) in marks.items():  # each mark is the union of its items, give or take a pixel
            mine = [r for r in rows if (r.event.status, r.kind) == (status, kind)]
            on = np.array([r.event.onset for r in mine])
            off = np.array([r.event.offset for r in mine])
            for lo, hi in zip(a, b, strict=True):
                assert np.any(on == lo)
                assert hi <= off.max() + width
        # a page's marks hold only the page's items
        page = model.event_marks(T0 + 900, T0 + 1100, n)
        assert set(page) <= set(marks)
        assert all(np.all(b >= T0 + 900) and np.all(a < T0 + 1100) for a, b in page.values())


def test_lazy_rows_are_the_rows_and_keys_find_their_place(tmp_path):
    with _archive(tmp_path / "a.h5") as arc:
        model = ViewerModel(arc, reviewer="dr.x", n_pixels=400)
        model.set_event_filter(labels=("sz",))
        rows = model.events()
        assert len(rows) == 3 and [len(r.keys) for r in rows] == [3, 1, 1]
        assert list(rows.keys) == [r.key for r in rows] and rows[-1].key == rows[2].key
        assert rows.keys.index(rows[1].key) == 1 and rows[1].key in rows.keys
        assert ("annotation", 10**6) not in rows.keys
        with pytest.raises(ValueError, match="not listed"):
            rows.keys.index(("detection", 1))  # in the first item, but not its key
        assert [r.key for r in rows[1:]] == [r.key for r in list(rows)[1:]]
        page = model.events_in(T0 + 995, T0 + 1005)
        assert [r.key for r in page] == [r.key for r in model.all_events if r.event.offset >= T0 + 995
                                         and r.event.onset < T0 + 1005]


# ---------------------------------------------------------------------------------------------- the journal

def _statuses(path) -> dict[tuple[str, int], str]:
    with Archive.open(path) as arc:
        return {**{("annotation", e.id): e.status for e in arc.annotations()},
                **{("detection", e.id): e.status for e in arc.detections()}}


def test_a_decision_appends_to_the_journal_and_leaves_the_manifest_alone(tmp_path):
    path = tmp_path / "a.h5"
    with _archive(path, n_artifacts=20) as arc:
        before = path.read_bytes()
        token = read_token(path)
        arc.update_events([("detection", 1, {"status": "confirmed"}), ("annotation", 21, {"status": "confirmed"})],
                          reviewer="dr.x")
        assert path.read_bytes() == before  # the manifest was not rewritten
        journal = journal_path(path, token)
        size = journal.stat().st_size
        arc.update_detection(2, status="rejected", reviewer="dr.y")
        assert journal.stat().st_size > size
        other = Archive.open(path)  # a reader sees the journaled decisions at once ...
        assert {e.id: e.status for e in other.detections()} == {1: "confirmed", 2: "rejected", 3: "unreviewed"}
        arc.update_detection(3, status="confirmed", reviewer="dr.y")
        other.refresh()  # ... and the ones after it on refresh
        assert other.detections()[2].status == "confirmed" and other.detections()[2].reviewer == "dr.y"
        arc.add_annotations([Annotation(T0 + 50, 1.0, "musc")])  # a full write folds the journal
        assert not journal.exists() and read_token(path) != token
    with h5py.File(path, "r") as f:  # folded: the manifest alone, read with plain h5py, holds the decisions
        det = f["detections"][()]
        assert [s.decode() for s in det["status"]] == ["confirmed", "rejected", "confirmed"]
    assert _statuses(path)[("annotation", 21)] == "confirmed"


def test_two_writers_journaling_do_not_lose_each_others_decisions(tmp_path):
    path = tmp_path / "a.h5"
    _archive(path, n_artifacts=5).close()
    a, b = Archive.open(path, "a"), Archive.open(path, "a")
    a.update_detection(1, status="confirmed", reviewer="a")
    b.update_detection(2, status="rejected", reviewer="b")  # b's view was stale: it reads a's record first
    a.update_events([("detection", 3, {"status": "confirmed"}), ("annotation", 1, {"label": "musc"})], reviewer="a")
    b.add_annotations([Annotation(T0 + 7, 1.0, "move")])  # b folds: a's last record must be in its manifest
    statuses = _statuses(path)
    assert [statuses[("detection", i)] for i in (1, 2, 3)] == ["confirmed", "rejected", "confirmed"]
    assert next(e for e in Archive.open(path).annotations() if e.id == 1).label == "musc"
    a.close()
    b.close()


def test_a_long_journal_is_folded_by_the_next_decision(tmp_path, monkeypatch):
    path = tmp_path / "a.h5"
    monkeypatch.setattr(manifest_module, "JOURNAL_MAX_BYTES", 1500)
    with _archive(path, n_artifacts=5) as arc:
        tokens = set()
        for i in range(12):
            tokens.add(read_token(path))
            arc.update_detection(1 + i % 3, status=STATUSES[i % 3], reviewer=f"r{i}")
        assert len(tokens) > 1  # folded at least once
        assert journal_path(path, read_token(path)).stat().st_size <= 1500 + 1000
    with Archive.open(path) as arc:
        assert [(e.status, e.reviewer) for e in arc.detections()] == [("unreviewed", "r9"), ("confirmed", "r10"),
                                                                      ("rejected", "r11")]


TORN_CHILD = textwrap.dedent("""
    import os, sys, time
    from eegmon.archive import Archive

    arc = Archive.open(sys.argv[1], "a")
    arc.update_events([("detection", 1, {"status": "rejected"})], reviewer="first")  # complete
    real = os.write

    def torn(fd, data):
        n = real(fd, data[: len(data) // 2])  # half of the record is on disk when the kill comes
        os.fsync(fd)
        print("torn", flush=True)
        time.sleep(60)
        return n

    os.write = torn
    arc.update_events([("detection", 2, {"status": "confirmed"}), ("detection", 3, {"status": "confirmed"}),
                       ("annotation", 301, {"status": "confirmed"})], reviewer="second")
""")


@pytest.mark.timeout(120)
def test_a_decision_killed_mid_append_is_lost_whole_and_the_journal_goes_on(tmp_path):
    path = tmp_path / "a.h5"
    _archive(path).close()
    token = read_token(path)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-c", TORN_CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "torn"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    journal = journal_path(path, token)
    torn_size = journal.stat().st_size
    statuses = _statuses(path)
    # the first decision is there, none of the second's three rows is (all or nothing)
    assert statuses[("detection", 1)] == "rejected"
    assert [statuses[k] for k in (("detection", 2), ("detection", 3), ("annotation", 301))] == ["unreviewed"] * 3
    with Archive.open(path, "a") as arc:  # the next writer drops the torn tail and appends after the good records
        arc.update_events([("detection", 2, {"status": "rejected"})], reviewer="third")
        records, end = manifest_module.read_journal(journal)
        assert len(records) == 2 and end == journal.stat().st_size != torn_size
        model = ViewerModel(arc, reviewer="dr.v", n_pixels=200)
        model.confirm(("annotation", 301))  # the item of the seizure: annotation 301 and detections 1 and 2
    statuses = _statuses(path)
    assert [statuses[k] for k in (("detection", 1), ("detection", 2), ("annotation", 301))] == ["confirmed"] * 3
    assert statuses[("detection", 3)] == "unreviewed"
    with Archive.open(path, "a") as arc:
        arc.add_annotations([Annotation(T0 + 9, 1.0, "move")])  # fold
    stale = journal.with_name(f"events-{token}.journal")
    assert not stale.exists()
    stale.write_bytes(b"\0" * 8)  # a journal of a replaced manifest is never read, and a writer removes it
    assert _statuses(path)[("detection", 1)] == "confirmed"
    Archive.open(path, "a").close()
    assert not stale.exists()


def test_the_grouping_is_kept_until_the_tables_change(tmp_path):
    path = tmp_path / "a.h5"
    with _archive(path) as arc:
        model = ViewerModel(arc, reviewer="dr.x", n_pixels=400)
        index = model._index
        model.refresh()
        assert model._index is index  # nothing committed: not grouped again
        with Archive.open(path, "a") as other:  # another process reviews
            other.update_detection(3, status="rejected", reviewer="dr.y")
        model.refresh()
        assert model._index is index  # this handle has not re-read the archive yet
        arc.refresh()
        model.refresh()
        assert model._index is not index and model.event(("detection", 3)).event.status == "rejected"
        model.confirm(("detection", 1))  # a decision in place: its item updated, not regrouped
        assert model._index is not index and model.event(("detection", 2)).event.status == "confirmed"


def test_the_window_draws_a_month_of_marks_as_merged_bars(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from eegmon.viewer.app import MainWindow

    with _archive(tmp_path / "a.h5", n_artifacts=2000) as arc:
        win = MainWindow(ViewerModel(arc, reviewer="dr.x", n_pixels=300), csa_columns=0)
        qtbot.addWidget(win)
        model = win.model
        bars = win.event_marks["unreviewed"].opts
        marks = model.event_marks(model.start, model.stop, model.n_pixels)
        expected = sum(a.size for (status, _), (a, _) in marks.items() if status == "unreviewed")
        assert len(bars["x0"]) == expected < len(model.all_events)  # merged: fewer bars than items
        assert np.all(np.asarray(bars["x1"]) - np.asarray(bars["x0"]) > 0)
        win.zoom_all()  # more than 50 events on the page: bars, no editable bands
        assert win.event_bands == [] and win._regions
        win.model.set_page_size(30)
        win.model.center_on(T0 + 1030)
        win.refresh_trace()
        assert ("annotation", 2001) in [r.event_key for r in win.event_bands]  # the seizure item, editable
