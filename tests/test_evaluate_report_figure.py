"""The evaluation report's figures, rendered with matplotlib's Agg backend and checked as a reader sees them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from hypothesis import example, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from eegmon.evaluate.report import (  # noqa: E402
    MAX_NAME,
    _short,
    false_alarm_onsets,
    false_alarms_figure,
    latency_figure,
    timelines_figure,
    write_report,
)
from eegmon.evaluate.scoring import score_recording  # noqa: E402
from eegmon.evaluate.summary import Evaluation  # noqa: E402

START = 1.7e9  # 2023-11-14 22:13:20 UTC
LONG_NAME = "sub-03_ses-01_task-szMonitoring_run-00_events_with_a_very_long_name_indeed"


def _evaluation(with_false_alarms: bool = True) -> Evaluation:
    hyp1 = [(3605.0, 3650.0), (7200.0, 7230.0), (40000.0, 40900.0)] if with_false_alarms else [(3605.0, 3650.0)]
    return Evaluation([
        score_recording([(3600, 3660)], hyp1, 2 * 86400.0, name="sub-01_ses-01_task-szMonitoring_run-00_events",
                        subject="01", start=START),
        score_recording([(100, 160)], [(50, 1100)] if with_false_alarms else [], 5 * 3600.0,
                        name="sub-02_ses-01_task-szMonitoring_run-00_events", subject="02", start=START + 3600),
        score_recording([(100, 160)], [], 5 * 3600.0, name=LONG_NAME, subject="03", start=START + 3600),
    ])


def _inside_canvas(fig) -> None:
    """Everything drawn (tick labels, titles, legends: the tight bounding box) lies inside the figure."""
    renderer = fig.canvas.get_renderer()
    width, height = fig.canvas.get_width_height()
    for box in [ax.get_tightbbox(renderer) for ax in fig.axes] + [lg.get_window_extent(renderer) for lg in fig.legends]:
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, (box, width, height)


def _display_y(ax, collection: PolyCollection) -> float:
    """Display y (pixels, up) of the centre of a collection's first bar."""
    verts = collection.get_paths()[0].vertices
    return float(ax.transData.transform(verts.mean(axis=0))[1])


def test_timeline_legend_says_where_the_bars_are():
    fig = timelines_figure(_evaluation())
    fig.canvas.draw()
    ax = fig.axes[0]
    bars: dict[str, PolyCollection] = {}
    for c in ax.collections:  # the first of each label: recording 0's
        bars.setdefault(c.get_label(), c)
    grey = next(c for c in ax.collections if not c.get_label() or c.get_label().startswith("_"))
    centre = _display_y(ax, grey)  # recording 0's span bar
    legend = {t.get_text().split(" (")[0]: t.get_text() for t in fig.legends[0].get_texts()}
    assert set(legend) == {"true seizures", "detections"}
    for label, text in legend.items():
        y = _display_y(ax, bars[label])
        assert ("above" in text) == (y > centre) and ("below" in text) == (y < centre), (label, text, y, centre)
    title = ax.get_title()
    assert title.index("true seizures") < title.index("above") < title.index("detections") < title.index("below")


def test_timeline_labels_are_whole_and_fit_in_the_figure():
    ev = _evaluation()
    fig = timelines_figure(ev)
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:2] == [r.name for r in ev.recordings[:2]]  # not cut
    assert labels[2].startswith("sub-03_ses-01") and labels[2].endswith("long_name_indeed")
    _inside_canvas(fig)


def test_short_events_are_drawn_visibly():
    fig = timelines_figure(_evaluation())
    fig.canvas.draw()
    ax = fig.axes[0]
    ref = next(c for c in ax.collections if c.get_label() == "true seizures")
    box = ref.get_paths()[0].get_extents(ax.transData)  # a 60-s seizure on a 48-h axis
    assert box.width >= 1.5


def test_false_alarms_chart_counts_what_szcore_counts():
    ev = _evaluation()
    assert [len(false_alarm_onsets(r)) for r in ev.recordings] == [int(r.event.fp) for r in ev.recordings]
    assert sum(r.event.fp for r in ev.recordings) == 7  # 1 + 3 split pieces, and 3 split pieces after a hit
    fig = false_alarms_figure(ev)
    fig.canvas.draw()
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights) == 7
    lo, hi = ax.get_ylim()
    assert lo == 0 and hi >= max(heights) >= 1  # not the degenerate -0.04..0.04 axis of an all-zero chart
    _inside_canvas(fig)


def test_no_false_alarms_says_so():
    fig = false_alarms_figure(_evaluation(with_false_alarms=False))
    fig.canvas.draw()
    ax = fig.axes[0]
    assert any(t.get_text().startswith("no false alarms") for t in ax.texts)
    assert ax.get_ylim() == (0, 1)
    _inside_canvas(fig)


def test_no_detected_seizure_says_so():
    ev = Evaluation([score_recording([(100, 160)], [], 3600.0, name="a", subject="01", start=START)])
    fig = latency_figure(ev)
    assert any("no seizure was detected" in t.get_text() for t in fig.axes[0].texts)


def test_report_embeds_the_three_figures(tmp_path):
    out = tmp_path / "r.html"
    write_report(_evaluation(), out)
    assert out.read_text().count("data:image/png;base64,") == 3


@given(st.text(min_size=1, max_size=200))
@example("0" * 26 + "…" + "0" * 60)  # found by hypothesis: a name holding an ellipsis itself
def test_short_names(name):
    out = _short(name)
    assert len(out) <= MAX_NAME
    if len(name) <= MAX_NAME:
        assert out == name
    else:
        # the name may hold an ellipsis itself: some ellipsis of the output must join a head and a tail
        assert any(out[p] == "…" and p >= MAX_NAME // 2 - 1 and name.startswith(out[:p])
                   and name.endswith(out[p + 1:]) for p in range(len(out)))


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
