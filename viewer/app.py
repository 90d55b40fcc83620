"""The Qt review window: thin widgets over :class:`~eegmon.viewer.model.ViewerModel`.

Imports Qt and pyqtgraph; nothing in eegmon imports this module except ``eegmon view`` (lazily).
Curves are ``PlotCurveItem`` on a ``GraphicsLayoutWidget().addPlot()`` plot with 1-px cosmetic pens
and antialiasing off; the model already reduced the data to at most ``4 * n_pixels`` points per
trace (raw) or 2 per pixel (min/max), so no pyqtgraph-side downsampling is needed.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from ..events import REVIEW_STATUSES
from ..forecast.risk import RISK_LEVELS
from ..forecast.store import TREND_PREFIX
from ..io.labels import VOCABULARY
from ._qtfix import check_qt_platform, guard_singleton_refcounts
from .export import export_events_tsv, export_summary
from .model import PAGE_SIZES, QUICK_LABELS, EventRow, ViewerModel

#: (keys, what they do, MainWindow method): the help dialog and the shortcuts are built from it.
SHORTCUTS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("Right", "PgDown"), "next page", "next_page"),
    (("Left", "PgUp"), "previous page", "previous_page"),
    (("Shift+Right",), "half a page forward (also: mouse wheel)", "half_page_forward"),
    (("Shift+Left",), "half a page back", "half_page_back"),
    (("1", "2", "3", "4", "5", "6"), "page size 10 s / 30 s / 1 min / 5 min / 1 h / 1 day", "page_size_key"),
    (("0",), "whole recording on one page", "zoom_all"),
    (("+", "="), "global gain up", "gain_up"),
    (("-",), "global gain down", "gain_down"),
    (("Alt+Down", "Alt+Up"), "select the next / previous trace", "select_trace_key"),
    (("*",), "gain of the selected trace up", "trace_gain_up"),
    (("/",), "gain of the selected trace down", "trace_gain_down"),
    (("F2",), "high-pass: off / 0.5 / 1 / 5 Hz", "cycle_highpass"),
    (("F3",), "low-pass: off / 70 / 40 / 30 / 15 Hz", "cycle_lowpass"),
    (("F4",), "notch: off / 50 / 60 Hz", "cycle_notch"),
    (("B",), "montage: next of referential, longitudinal and transverse bipolar, average, device", "toggle_montage"),
    (("Return", "Enter"), "jump to the event selected in the list (its onset a quarter into the page)",
     "jump_to_selected"),
    (("N",), "next event", "next_event"),
    (("P",), "previous event", "previous_event"),
    (("U",), "next unreviewed event", "next_unreviewed"),
    (("Shift+U",), "previous unreviewed event", "previous_unreviewed"),
    (("C",), "confirm the current event", "confirm"),
    (("R",), "reject the current event", "reject"),
    (("X",), "mark the current event unreviewed", "mark_unreviewed"),
    (("L",), "relabel the current event", "relabel"),
    (("Ctrl+Left", "Ctrl+Right"), "move the current event's onset by -1 / +1 s (or drag its left edge)",
     "nudge_onset_key"),
    (("Alt+Left", "Alt+Right"), "move the current event's offset by -1 / +1 s (or drag its right edge)",
     "nudge_offset_key"),
    (("A",), "add a seizure annotation over the middle third of the page (or drag on the trace)",
     "add_annotation_key"),
    (("Ctrl+Z",), "undo", "undo"),
    (("Ctrl+Shift+Z", "Ctrl+Y"), "redo", "redo"),
    (("Ctrl+R",), "reload the archive (data and events written by other processes meanwhile)", "reload"),
    (("Ctrl+E",), "export reviewed events (events.tsv) and the review summary (PNG/HTML)", "export_dialog"),
    (("Ctrl+T",), "train the patient's model from this review (in the background; stored in the archive)",
     "train_model"),
    (("F1", "?"), "this help", "show_help"),
    (("Ctrl+Q",), "quit", "close"),
)

HIGHPASS_STEPS = (None, 0.5, 1.0, 5.0)
LOWPASS_STEPS = (None, 70.0, 40.0, 30.0, 15.0)
NOTCH_STEPS = (None, 50.0, 60.0)
STATUS_COLOURS = {"unreviewed": (230, 180, 0), "confirmed": (220, 40, 40), "rejected": (140, 140, 140)}
#: Risk level -> colour of its bars in the overview's risk lane, in the order of ``RISK_LEVELS``
#: (Okabe-Ito bluish green, orange, vermillion: told apart with the common colour-vision deficiencies).
RISK_COLOURS = {"low": (0, 158, 115), "medium": (230, 159, 0), "high": (213, 94, 0)}
TRACE_PEN = pg.mkPen((20, 20, 20), width=1, cosmetic=True)
#: Half the height of a trace's lane (traces are one unit apart): drawn values are clipped to it.
LANE_HALF = 0.5
#: Rows of event labels above the traces; labels that fit in none are left out (the band stays).
LABEL_ROWS = 4
SELECTED_TRACE_PEN = pg.mkPen((0, 70, 200), width=1, cosmetic=True)


def _fmt_span(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.3g} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def _local(t: float, zone: dt.tzinfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Absolute time ``t`` (seconds since the epoch) as wall-clock time in ``zone``."""
    return dt.datetime.fromtimestamp(t, tz=zone).strftime(fmt)


def _utc_offset(t: float, zone: dt.tzinfo) -> float:
    """Seconds ``zone`` is ahead of UTC at absolute time ``t`` (daylight saving time included)."""
    return dt.datetime.fromtimestamp(t, tz=zone).utcoffset().total_seconds()


class KernelWarmup:
    """Compiles the display filters' Numba kernels in a background thread, once per process.

    The first filtered page would otherwise compile them on the UI thread (about 3 s here), and
    keys typed meanwhile would be applied seconds late. :meth:`start` returns at once; the window
    starts it when it opens and waits for it (:meth:`wait`) only when a filter is switched on
    before it finished. Compiling runs on tiny arrays of the dtype and layout the model filters
    (C-contiguous float64, ``filter_signal(..., zero_phase=True)``).
    """

    _lock = threading.Lock()
    _thread: threading.Thread | None = None
    _done = threading.Event()
    #: Seconds the warm-up took (None until it finished), and the error it met (None when none).
    seconds: float | None = None
    error: BaseException | None = None

    @classmethod
    def start(cls) -> None:
        """Start the warm-up thread unless it was started before."""
        with cls._lock:
            if cls._thread is None:
                cls._thread = threading.Thread(target=cls._run, name="eegmon-kernel-warmup", daemon=True)
                cls._thread.start()

    @classmethod
    def _run(cls) -> None:
        t0 = time.perf_counter()
        try:
            from ..dsp import design_filter, filter_signal

            sos = np.vstack([design_filter("highpass", 256.0, low=0.5, order=2),
                             design_filter("notch", 256.0, line_freq=50.0)])
            filter_signal(np.zeros((64, 2)), sos, zero_phase=True)
        except BaseException as err:  # noqa: BLE001 - the UI thread then compiles and reports it
            cls.error = err
        finally:
            cls.seconds = time.perf_counter() - t0
            cls._done.set()

    @classmethod
    def done(cls) -> bool:
        """True when the kernels are compiled (or the warm-up gave up)."""
        return cls._done.is_set()

    @classmethod
    def wait(cls, timeout: float | None = None) -> bool:
        """Wait until the warm-up finished (starting it if needed); return :meth:`done`."""
        cls.start()
        return cls._done.wait(timeout)


class TimeAxis(pg.AxisItem):
    """Bottom axis in wall-clock time of ``zone`` for x values relative to ``origin`` (absolute seconds)."""

    def __init__(self, origin: float, zone: dt.tzinfo = dt.UTC, **kwargs) -> None:
        super().__init__("bottom", **kwargs)
        self.origin = origin
        self.zone = zone

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph API)
        if spacing >= 86400:
            fmt = "%m-%d"
        elif spacing >= 3600:
            fmt = "%m-%d %H:%M"
        elif spacing >= 60:
            fmt = "%H:%M"
        elif spacing >= 1:
            fmt = "%H:%M:%S"
        else:
            fmt = "%H:%M:%S.%f"
        out = []
        for v in values:
            text = _local(self.origin + v, self.zone, fmt)
            out.append(text[:-4] if fmt.endswith("%f") else text)
        return out

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph API)
        span = maxVal - minVal
        if span <= 0:
            return super().tickSpacing(minVal, maxVal, size)
        nice = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                172800, 604800)
        target = span / max(size / 110, 1)
        major = next((n for n in nice if n >= target), nice[-1])
        minor = next((n for n in reversed(nice) if n <= major / 4), major / 5)
        return [(major, 0), (minor, 0)]

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph API)
        # ticks on round wall-clock times of the zone: offset by the origin's phase and the zone's
        # UTC offset at the left edge (a daylight-saving change inside a page shifts later ticks)
        shift = _utc_offset(self.origin + minVal, self.zone)
        out = []
        for spacing, _ in self.tickSpacing(minVal, maxVal, size):
            first = math.ceil((self.origin + minVal + shift) / spacing) * spacing - shift - self.origin
            out.append((spacing, list(np.arange(first, maxVal, spacing))))
        return out


class TraceViewBox(pg.ViewBox):
    """The trace's view box: the wheel pages, a left-drag draws a new annotation."""

    def __init__(self, on_wheel: Callable[[int], None], on_drag_done: Callable[[float, float], None]) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=False, y=False)
        self._on_wheel = on_wheel
        self._on_drag_done = on_drag_done
        self._drag_region: pg.LinearRegionItem | None = None

    def wheelEvent(self, ev, axis=None):  # noqa: N802 (Qt API)
        self._on_wheel(1 if ev.delta() < 0 else -1)
        ev.accept()

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt API)
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        x0 = self.mapSceneToView(ev.buttonDownScenePos()).x()
        x1 = self.mapSceneToView(ev.scenePos()).x()
        if self._drag_region is None:
            self._drag_region = pg.LinearRegionItem((x0, x1), movable=False, brush=(0, 120, 255, 60))
            self.addItem(self._drag_region)
        self._drag_region.setRegion(sorted((x0, x1)))
        if ev.isFinish():
            self.removeItem(self._drag_region)
            self._drag_region = None
            if abs(x1 - x0) > 0:
                self._on_drag_done(min(x0, x1), max(x0, x1))


class OverviewViewBox(pg.ViewBox):
    """An overview lane's view box: click or drag to move the page there."""

    def __init__(self, on_pick: Callable[[float], None]) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=False, y=False)
        self._on_pick = on_pick

    def mouseClickEvent(self, ev):  # noqa: N802 (Qt API)
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self._on_pick(self.mapSceneToView(ev.scenePos()).x())

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (Qt API)
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self._on_pick(self.mapSceneToView(ev.scenePos()).x())

    def wheelEvent(self, ev, axis=None):  # noqa: N802 (Qt API)
        ev.ignore()


class EventsTableModel(QtCore.QAbstractTableModel):
    """The events list as a lazy Qt table model (cells are formatted only when shown).

    Parameters
    ----------
    zone : tzinfo
        Onsets are shown as wall-clock times of this zone; the time column's header names it.
    zone_name : str
        The zone's name for the header (``Europe/London``, ``UTC``).
    """

    def __init__(self, zone: dt.tzinfo = dt.UTC, zone_name: str = "UTC") -> None:
        super().__init__()
        self.rows: list[EventRow] = []
        self.zone = zone
        self.headers = (f"time ({zone_name})", "dur s", "label", "source", "status", "p")

    def set_rows(self, rows: list[EventRow]) -> None:
        """Replace the rows."""
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent=None) -> int:  # noqa: N802 (Qt API)
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent=None) -> int:  # noqa: N802 (Qt API)
        return len(self.headers)

    def headerData(self, section, orientation, role=QtCore.Qt.ItemDataRole.DisplayRole):  # noqa: N802 (Qt API)
        if role == QtCore.Qt.ItemDataRole.DisplayRole and orientation == QtCore.Qt.Orientation.Horizontal:
            return self.headers[section]
        return None

    def data(self, index, role=QtCore.Qt.ItemDataRole.DisplayRole):
        ev = self.rows[index.row()].event
        col = index.column()
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return _local(ev.onset, self.zone, "%m-%d %H:%M:%S")
            if col == 1:
                return f"{ev.duration:.1f}"
            if col == 5:
                return "" if ev.confidence is None else f"{ev.confidence:.2f}"
            return (ev.label, ev.source, ev.status)[col - 2] if 2 <= col <= 4 else None
        if role == QtCore.Qt.ItemDataRole.ForegroundRole and col == 4:
            return QtGui.QColor(*STATUS_COLOURS.get(ev.status, (0, 0, 0)))
        return None


class MainWindow(QtWidgets.QMainWindow):
    """The review window: overview strip, trace view, events panel. Holds the model by composition.

    Parameters
    ----------
    model : ViewerModel
        The model over an opened archive.
    csa_columns : int
        Columns of the overview's spectral lane (filled in the background after the first paint).
    utc : bool
        Show times in UTC instead of the archive's time zone (:attr:`Archive.time_zone
        <eegmon.archive.Archive.time_zone>`, the patient's).
    """

    def __init__(self, model: ViewerModel, *, csa_columns: int = 240, utc: bool = False) -> None:
        guard_singleton_refcounts(pg.Qt.QT_LIB)
        KernelWarmup.start()  # the display filters' kernels compile off the UI thread meanwhile
        super().__init__()
        pg.setConfigOptions(antialias=False, background="w", foreground="k")
        self.model = model
        #: The zone times are shown in, and its name on the page line, the events list and the overview.
        self.zone_name = "UTC" if utc else model.archive.time_zone
        zone_note = ""
        try:
            self.zone: dt.tzinfo = dt.UTC if self.zone_name == "UTC" else ZoneInfo(self.zone_name)
        except (ZoneInfoNotFoundError, ValueError):  # stored by a system whose zone database had it
            zone_note = f"time zone {self.zone_name!r} is not known on this system: times are shown in UTC"
            self.zone_name, self.zone = "UTC", dt.UTC
        self.selected_trace = 0
        self._regions: list[pg.GraphicsObject] = []
        self._region_pool: list[tuple[pg.LinearRegionItem, pg.TextItem]] = []
        self._placing_regions = False
        self._labelled_rows: list[EventRow] = []  # the page's events whose labels are shown
        self._csa_next = 0
        self._csa_columns = int(csa_columns)
        self._table_keys: Sequence[tuple[str, int]] = []
        self.setWindowTitle(f"eegmon view: {model.archive.path}  (reviewer {model.reviewer})")
        self._build_trace()
        self._build_overview()
        self._build_events_panel()
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self._splitter = splitter
        splitter.addWidget(self.overview_widget)
        trace_box = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(trace_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.page_label)
        box.addWidget(self.trace_widget)
        splitter.addWidget(trace_box)
        splitter.setSizes([220, 600])
        main = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        main.addWidget(splitter)
        main.addWidget(self.events_panel)
        main.setSizes([1200, 420])
        self.setCentralWidget(main)
        self._shortcuts = self._build_shortcuts()
        self._csa_timer = QtCore.QTimer(self)
        self._csa_timer.setInterval(0)
        self._csa_timer.timeout.connect(self._csa_step)
        self.resize(1600, 900)
        self.refresh_events()
        self.refresh_overview()
        self.refresh_trace()
        if zone_note:
            self.statusBar().showMessage(zone_note, 15000)
        self._csa_timer.start()

    # ------------------------------------------------------------------ construction
    def _build_trace(self) -> None:
        self.trace_widget = pg.GraphicsLayoutWidget()
        self.trace_widget.setAntialiasing(False)
        # page facts in a plain label outside the scene: a changing plot title re-lays out the plot
        self.page_label = QtWidgets.QLabel()
        self.page_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._left_ticks: list | None = None
        self._mark_px: tuple[int, int] | None = None
        vb = TraceViewBox(self._on_wheel, self._on_drag_add)
        self.trace_plot = self.trace_widget.addPlot(viewBox=vb,
                                                    axisItems={"bottom": TimeAxis(self.model.origin, self.zone)})
        self.trace_plot.hideButtons()
        self.trace_plot.setMenuEnabled(False)
        # label rows depend on the view's size in pixels: lay them out again when it changes
        vb.sigResized.connect(lambda _: self._place_labels(self._labelled_rows))
        # grid: opaque lines at the major time ticks in one curve (pyqtgraph's alpha grid cost ~25 ms a page)
        self.grid_curve = pg.PlotCurveItem(pen=pg.mkPen((222, 222, 222), width=1, cosmetic=True), connect="pairs")
        self.grid_curve.setZValue(-10)
        self.trace_plot.addItem(self.grid_curve)
        self.trace_curves: list[pg.PlotCurveItem] = []
        self.scale_bar = pg.PlotCurveItem(pen=pg.mkPen((0, 0, 0), width=1, cosmetic=True))
        self.scale_text = pg.TextItem(anchor=(1, 0.5), color=(0, 0, 0), fill=(255, 255, 255, 210))
        for item in (self.scale_bar, self.scale_text):
            item.setZValue(5)  # above the traces, which are added later
            self.trace_plot.addItem(item)

    def _build_overview(self) -> None:
        self.overview_widget = pg.GraphicsLayoutWidget()
        self.overview_widget.setAntialiasing(False)
        self.overview_widget.setMinimumHeight(160)
        dur = max(self.model.duration, 1.0)
        self.ov_plots = []
        # the spectrum sits in row 3 so that a risk lane can go in row 2 when a forecast is stored
        # (at open or on reload); an empty grid row takes no space, so without one nothing changes
        for row, name in zip((0, 1, 3), ("coverage", "trend", "spectrum"), strict=True):
            axis = {"bottom": TimeAxis(self.model.origin, self.zone)} if name == "spectrum" else {}
            plot = self.overview_widget.addPlot(row=row, col=0, viewBox=OverviewViewBox(self._on_overview_pick),
                                                axisItems=axis)
            plot.hideButtons()
            plot.setMenuEnabled(False)
            plot.getAxis("left").setWidth(72)
            if row:
                # what the lane shows is set by refresh_overview (the trend lane's depends on the archive)
                spectrum = name == "spectrum"
                # the trend's caption on a light box: the curve runs under it
                caption = pg.TextItem("spectrum (0-40 Hz, colour: power in dB)" if spectrum else "",
                                      color=(255, 255, 255) if spectrum else (60, 60, 60), anchor=(0, 0),
                                      fill=None if spectrum else (255, 255, 255, 190))
                caption.setParentItem(plot.getViewBox())
                caption.setPos(4, 0)
                if name == "trend":
                    self.trend_caption = caption
            if name == "spectrum":
                plot.setLabel("bottom", f"time ({self.zone_name})")
            else:
                plot.getAxis("bottom").setStyle(showValues=False)
            plot.setXRange(0, dur, padding=0)
            plot.disableAutoRange()
            self.ov_plots.append(plot)
        self.trend_plot, self.spectrum_plot = self.ov_plots[1], self.ov_plots[2]
        #: The risk lane's plot, created by :meth:`refresh_risk` once a forecast is stored.
        self.risk_plot: pg.PlotItem | None = None
        for plot in self.ov_plots[1:]:
            plot.setXLink(self.ov_plots[0])
        lane = self.ov_plots[0]
        lane.setYRange(-0.15, 2.7, padding=0)
        lane.getAxis("left").setTicks([[(0.5, "data"), (1.45, "det."), (2.05, "ann.")]])
        self.coverage_curve = pg.PlotCurveItem(pen=pg.mkPen((60, 140, 60), width=1, cosmetic=True),
                                               fillLevel=0, brush=(60, 160, 60, 150))
        lane.addItem(self.coverage_curve)
        # one bar item per status, its bars the items' spans merged at the lane's pixel width
        # (ViewerModel.event_marks): a month's tens of thousands of events are a few hundred bars
        self.event_marks = {st: pg.BarGraphItem(x0=[], x1=[], y0=[], y1=[], pen=pg.mkPen(None),
                                                brush=pg.mkBrush(*colour))
                            for st, colour in STATUS_COLOURS.items()}
        for item in self.event_marks.values():
            lane.addItem(item)
        self.trend_curve = pg.PlotCurveItem(pen=pg.mkPen((40, 40, 40), width=1, cosmetic=True), connect="finite")
        self.trend_plot.addItem(self.trend_curve)
        self.csa_image = pg.ImageItem(axisOrder="row-major")
        self.csa_image.setColorMap(pg.colormap.get("viridis"))
        self.spectrum_plot.addItem(self.csa_image)
        self.page_marks = []
        for plot in self.ov_plots[:1]:  # one lane only: a moving mark repaints the lanes under it
            mark = pg.LinearRegionItem((0, 1), movable=False, brush=(0, 90, 255, 70),
                                       pen=pg.mkPen((0, 90, 255), width=1, cosmetic=True))
            mark.setZValue(10)
            plot.addItem(mark)
            self.page_marks.append(mark)

    def _build_events_panel(self) -> None:
        self.events_panel = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(self.events_panel)
        form = QtWidgets.QGridLayout()
        self.source_box = QtWidgets.QComboBox()
        sources = sorted({*self.model.event_sources(), "detector", "reviewer"})
        self.source_box.addItems(["all sources", *sources])
        self.status_box = QtWidgets.QComboBox()
        self.status_box.addItems(["all statuses", *REVIEW_STATUSES])
        self.label_box = QtWidgets.QComboBox()
        self.label_box.addItems(["all labels", *self.model.event_labels()])
        self.prob_box = QtWidgets.QDoubleSpinBox()
        self.prob_box.setRange(0, 1)
        self.prob_box.setSingleStep(0.05)
        self.prob_box.setPrefix("p ≥ ")
        self.sort_box = QtWidgets.QComboBox()
        self.sort_box.addItems(["sort by time", "sort by probability"])
        for i, w in enumerate((self.source_box, self.status_box, self.label_box, self.prob_box, self.sort_box)):
            form.addWidget(w, i // 2, i % 2)
            signal = w.valueChanged if isinstance(w, QtWidgets.QDoubleSpinBox) else w.currentIndexChanged
            signal.connect(self._on_filter_changed)
        layout.addLayout(form)
        self.counter = QtWidgets.QLabel()
        layout.addWidget(self.counter)
        self.table = QtWidgets.QTableView()
        self.table_model = EventsTableModel(self.zone, self.zone_name)
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setStretchLastSection(True)
        header_px = self.table.fontMetrics().horizontalAdvance(self.table_model.headers[0]) + 20
        for col, width in enumerate((max(104, header_px), 48, 64, 118, 78, 40)):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection)
        self.table.doubleClicked.connect(lambda _: self.jump_to_selected())
        layout.addWidget(self.table)
        self.setStatusBar(QtWidgets.QStatusBar())

    def _build_shortcuts(self) -> list[QtGui.QShortcut]:
        out = []
        for keys, _, method in SHORTCUTS:
            for key in keys:
                sc = QtGui.QShortcut(QtGui.QKeySequence(key), self)
                sc.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
                fn = getattr(self, method)
                if method.endswith("_key"):
                    sc.activated.connect(lambda fn=fn, key=key: fn(key))
                else:
                    sc.activated.connect(lambda fn=fn: fn())
                out.append(sc)
        return out

    # ------------------------------------------------------------------ drawing
    def refresh_trace(self) -> None:
        """Redraw the current page (data from the model's cache or the archive)."""
        m = self.model
        if m.filters.active and m.lod == "raw" and not KernelWarmup.done():
            # a filtered raw page in the first seconds: its kernels are still compiling in the background
            self.statusBar().showMessage("preparing the display filters ...")
            self.statusBar().repaint()  # painted now; processing events here would run queued keys re-entrantly
            KernelWarmup.wait()
            self.statusBar().clearMessage()
        page = m.page_data()
        n = len(page.labels)
        if len(self.trace_curves) != n:
            for c in self.trace_curves:
                self.trace_plot.removeItem(c)
            self.trace_curves = []
            for _ in range(n):
                curve = pg.PlotCurveItem(pen=TRACE_PEN, connect="finite", skipFiniteCheck=True)
                self.trace_plot.addItem(curve)
                self.trace_curves.append(curve)
            self.trace_plot.setYRange(-n + 0.4, 0.6, padding=0)
            self.selected_trace = min(self.selected_trace, n - 1)
        for i, curve in enumerate(self.trace_curves):
            # every trace stays in its lane (half a spacing each side): at a high gain it flattens at
            # the lane's edge, as on a paper or clinical EEG display, instead of crossing its neighbours
            y = np.clip(page.y[i] * (m.gain(page.labels[i]) / m.scale_uv), -LANE_HALF, LANE_HALF) - i
            curve.setData(page.x, y, connect="finite")
            curve.setPen(SELECTED_TRACE_PEN if i == self.selected_trace else TRACE_PEN)
        x0, x1 = m.page_start - m.origin, m.page_stop - m.origin
        self.trace_plot.setXRange(x0, x1, padding=0)
        # apply the new range now: pyqtgraph defers it to the next paint, whose transform change then
        # asked for a second full paint of the traces (measured: two paints per page step, not one)
        self.trace_plot.getViewBox().updateMatrix()
        axis = self.trace_plot.getAxis("bottom")
        lines = axis.tickValues(x0, x1, max(self.trace_widget.width() - 80, 100))[0][1]
        gx = np.repeat(np.asarray(lines, dtype=float), 2)
        gy = np.tile([-n + 0.4, 0.6], len(lines))
        self.grid_curve.setData(gx, gy, connect="pairs")
        ticks = [[(-i, f"{lab} ×{m.gain(lab):g}" if m.gain(lab) != 1 else lab) for i, lab in enumerate(page.labels)]]
        if ticks != self._left_ticks:  # unchanged ticks: no axis repaint
            self.trace_plot.getAxis("left").setTicks(ticks)
            self._left_ticks = ticks
        # scale bar: half a trace spacing, at the right edge
        bx = x1 - (x1 - x0) * 0.01
        self.scale_bar.setData([bx, bx], [-n + 0.5, -n + 1.0])
        self.scale_text.setText(f"{m.scale_uv / 2:.3g} µV")
        self.scale_text.setPos(bx, -n + 0.75)
        self._draw_event_regions()
        f = m.filters
        filt = ", ".join(s for s in (f"HP {f.highpass:g} Hz" if f.highpass else "",
                                     f"LP {f.lowpass:g} Hz" if f.lowpass else "",
                                     f"notch {f.notch:g} Hz" if f.notch else "") if s) or "no filters"
        if page.kind == "minmax" and f.active:
            filt += " (not applied to min/max pages)"
        when = _local(m.page_start, self.zone, "%Y-%m-%d %H:%M:%S %Z")
        zone = "" if self.zone_name == "UTC" else f" ({self.zone_name})"
        self.page_label.setText(f"{when}{zone}  ·  page {_fmt_span(m.page_s)}  ·  {page.kind}  ·  "
                                 f"{filt}  ·  {m.montage}")
        # move the overview's page mark only when it moves by a pixel (a repaint of the strip otherwise)
        px = max(self.overview_widget.width(), 1) / max(m.duration, 1.0)
        where = (round(x0 * px), round(x1 * px))
        if where != self._mark_px:
            self._mark_px = where
            for mark in self.page_marks:
                mark.setRegion((x0, max(x1, x0 + m.duration / 400)))

    def _region_item(self, i: int) -> tuple[pg.LinearRegionItem, pg.TextItem]:
        """The i-th pooled event band and its label (created once, reused on every page)."""
        while len(self._region_pool) <= i:
            region = pg.LinearRegionItem((0, 1), movable=True)
            region.setZValue(-5)
            region.event_key = None
            region.sigRegionChangeFinished.connect(self._on_region_finished)
            text = pg.TextItem("", anchor=(0, 0), fill=(255, 255, 255, 210))
            text.setZValue(5)
            self.trace_plot.addItem(region)
            self.trace_plot.addItem(text)
            self._region_pool.append((region, text))
        return self._region_pool[i]

    def _on_region_finished(self, region: pg.LinearRegionItem) -> None:
        if not self._placing_regions and region.event_key is not None:
            self._on_region_moved(region.event_key, region)

    def _draw_event_regions(self) -> None:
        m = self.model
        for item in self._regions:
            self.trace_plot.removeItem(item)
        self._regions = []
        rows = m.events_in(m.page_start, m.page_stop)
        labelled = len(rows) <= 20
        bands = rows if len(rows) <= 50 else []
        if not bands and len(rows):  # wide pages: one bar item per status, not editable at this zoom
            n = len(self.trace_curves)
            marks = m.event_marks(m.page_start, m.page_stop, m.n_pixels)
            for status, colour in STATUS_COLOURS.items():
                spans = [marks[(status, kind)] for kind in ("annotation", "detection") if (status, kind) in marks]
                if not spans:
                    continue
                bars = pg.BarGraphItem(x0=np.concatenate([a for a, _ in spans]) - m.origin,
                                       x1=np.concatenate([b for _, b in spans]) - m.origin, y0=-n + 0.4, y1=0.6,
                                       brush=pg.mkBrush(*colour, 45), pen=pg.mkPen(None))
                bars.setZValue(-5)
                self.trace_plot.addItem(bars)
                self._regions.append(bars)
        self._placing_regions = True
        try:
            for i, row in enumerate(bands):
                ev = row.event
                region, text = self._region_item(i)
                colour = STATUS_COLOURS.get(ev.status, (0, 0, 255))
                selected = row.key == m.selected
                region.event_key = row.key
                region.setRegion((ev.onset - m.origin, ev.offset - m.origin))
                region.setBrush(pg.mkBrush(*colour, 90 if selected else 45))
                pen = pg.mkPen((*colour, 255), width=1, cosmetic=True,
                               style=QtCore.Qt.PenStyle.SolidLine if selected else QtCore.Qt.PenStyle.DashLine)
                for line in region.lines:
                    line.setPen(pen)
                region.show()
                if labelled:
                    p = "" if ev.confidence is None else f" p={ev.confidence:.2f}"
                    text.setText(f"{ev.label} {ev.status}{p}", color=tuple(int(c * 0.75) for c in colour))
                text.hide()
            for region, text in self._region_pool[len(bands):]:
                region.event_key = None
                region.hide()
                text.hide()
            self._labelled_rows = bands if labelled else []
            self._place_labels(self._labelled_rows)
        finally:
            self._placing_regions = False

    def _place_labels(self, rows: list[EventRow]) -> None:
        """Put the event labels in rows from the top of the trace so that no two overlap.

        Each label starts at its event's onset (or the page start); it goes in the first of
        :data:`LABEL_ROWS` rows where it overlaps no label already placed (the current event's
        first, then by onset). A label that fits in no row is left out; its band is still drawn.
        """
        m = self.model
        vb = self.trace_plot.getViewBox()
        n = max(len(self.trace_curves), 1)
        # data units per screen pixel, from the ranges refresh_trace set (the view's own transform may lag)
        per_px_x = m.page_s / max(vb.width(), 1.0)
        per_px_y = n / max(vb.height(), 1.0)
        gap = 6 * per_px_x
        for _, text in self._region_pool[:len(rows)]:
            text.hide()
        placed: list[list[tuple[float, float]]] = [[] for _ in range(LABEL_ROWS)]
        order = sorted(range(len(rows)), key=lambda i: (rows[i].key != m.selected, rows[i].event.onset))
        for i in order:
            _, text = self._region_pool[i]
            size = text.textItem.boundingRect()
            x0 = max(rows[i].event.onset, m.page_start) - m.origin
            x1 = x0 + size.width() * per_px_x
            row = next((r for r, spans in enumerate(placed)
                        if all(x1 + gap <= a or b + gap <= x0 for a, b in spans)), None)
            if row is None:
                continue
            placed[row].append((x0, x1))
            text.setPos(x0, 0.6 - row * (size.height() + 3) * per_px_y)  # 3 px between rows
            text.show()

    @property
    def event_bands(self) -> list[pg.LinearRegionItem]:
        """The editable event bands shown on the current page."""
        return [r for r, _ in self._region_pool if r.event_key is not None]

    def refresh_overview(self) -> None:
        """Redraw coverage, event marks, the trend and the risk lane (from the pyramid, tables and trends)."""
        m = self.model
        xs, ys = [], []
        for a, b in m.coverage():
            xs += [a - m.origin, a - m.origin, b - m.origin, b - m.origin]
            ys += [0.0, 1.0, 1.0, 0.0]
        self.coverage_curve.setData(np.array(xs or [0.0]), np.array(ys or [0.0]))
        self.refresh_event_marks()
        x, trend = m.trend()
        self.trend_curve.setData(x - m.origin, trend, connect="finite")
        # the model draws a detector's stored probability when there is one (see ViewerModel.trend)
        probability = any(not name.startswith(TREND_PREFIX) for name in m.archive.trends())
        if probability:
            self.trend_caption.setText("seizure probability (detector, highest per pixel, 0-1)")
            self.trend_plot.setYRange(0, 1.15, padding=0)
        else:
            self.trend_caption.setText("signal activity (max - min per pixel, mean over channels, µV)")
            if np.isfinite(trend).any():
                self.trend_plot.setYRange(0, float(np.nanpercentile(trend, 99.5)) * 1.1 or 1.0, padding=0)
        self.refresh_risk()

    def _build_risk_lane(self) -> None:
        """Add the risk lane in row 2, between the trend and the spectrum, aligned with the other lanes."""
        plot = self.overview_widget.addPlot(row=2, col=0, viewBox=OverviewViewBox(self._on_overview_pick))
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.getAxis("left").setWidth(72)  # the lanes' plot areas line up only with equal axis widths
        plot.setLabel("left", "risk")
        plot.getAxis("left").enableAutoSIPrefix(False)  # probabilities, not "risk (x0.001)"
        plot.getAxis("bottom").setStyle(showValues=False)
        plot.setXRange(0, max(self.model.duration, 1.0), padding=0)
        plot.disableAutoRange()
        plot.setXLink(self.ov_plots[0])
        # a light box behind the caption keeps it readable over the bars
        self.risk_caption = pg.TextItem("", color=(60, 60, 60), anchor=(0, 0), fill=(255, 255, 255, 190))
        self.risk_caption.setParentItem(plot.getViewBox())
        self.risk_caption.setPos(4, 0)
        # one bar item per level, as the trace's wide-page event bars are one item per status
        self.risk_bars: dict[str, pg.BarGraphItem] = {}
        for level, colour in RISK_COLOURS.items():
            bars = pg.BarGraphItem(x0=[], x1=[], y0=[], y1=[], brush=pg.mkBrush(*colour), pen=pg.mkPen(None))
            plot.addItem(bars)
            self.risk_bars[level] = bars
        self.climatology_curve = pg.PlotCurveItem(
            pen=pg.mkPen((60, 60, 60), width=1, cosmetic=True, style=QtCore.Qt.PenStyle.DashLine),
            connect="finite")
        plot.addItem(self.climatology_curve)
        self.risk_plot = plot
        self.ov_plots.insert(2, plot)
        total = sum(self._splitter.sizes()) or 820
        self._splitter.setSizes([270, max(total - 270, 400)])  # four lanes need more height than three

    def refresh_risk(self) -> None:
        """Redraw the risk lane from the stored forecasts (adding the lane when the first one appears)."""
        m = self.model
        risk = m.risk()
        if not risk.stored and self.risk_plot is None:
            return  # no forecast stored: the overview stays as it was
        if self.risk_plot is None:
            self._build_risk_lane()
        edges = risk.edges - m.origin
        # runs of pixels with the same forecast become one bar: a step plot at the lane's resolution
        change = np.flatnonzero((np.diff(risk.level) != 0) | (np.diff(risk.probability) != 0)) + 1
        starts = np.r_[0, change]
        stops = np.r_[change, risk.level.size]
        for code, level in enumerate(RISK_LEVELS):
            bars = self.risk_bars[level]
            sel = risk.level[starts] == code
            bars.setOpts(x0=edges[starts[sel]], x1=edges[stops[sel]], y0=np.zeros(int(sel.sum())),
                         y1=risk.probability[starts[sel]])
            bars.setVisible(bool(sel.any()))
        x = np.repeat(edges, 2)[1:-1]  # the climatology as a step line, broken where no forecast is
        self.climatology_curve.setData(x, np.repeat(risk.climatology, 2), connect="finite")
        top = np.nanmax(np.r_[risk.probability, risk.climatology, 0.0])
        # headroom above the highest bar for the caption
        self.risk_plot.setYRange(0, min(max(top * 1.4, 0.05), 1.0), padding=0)
        self.risk_caption.setText(f"{risk.horizon or 'no'} forecast: p(≥1 seizure); colour: level "
                                  "against the climatology (dashed)")

    def refresh_event_marks(self) -> None:
        """Redraw the overview's detection and annotation marks (items' spans, at least a pixel wide)."""
        m = self.model
        stop = max(m.stop, m.start + 1.0)
        marks = m.event_marks(m.start, stop, m.n_pixels)  # pixels of the model's width: the screen's at most
        for status, item in self.event_marks.items():
            x0, x1, y0, y1 = [], [], [], []
            for kind, (lo, hi) in (("detection", (1.2, 1.7)), ("annotation", (1.8, 2.3))):
                a, b = marks.get((status, kind), (np.zeros(0), np.zeros(0)))
                x0.append(a - m.origin)
                x1.append(b - m.origin)
                y0.append(np.full(a.size, lo))
                y1.append(np.full(a.size, hi))
            item.setOpts(x0=np.concatenate(x0), x1=np.concatenate(x1), y0=np.concatenate(y0), y1=np.concatenate(y1))
            item.setVisible(bool(sum(a.size for a in x0)))

    def _csa_step(self, batch: int = 12) -> None:
        m = self.model
        n = self._csa_columns
        if n <= 0 or self._csa_next >= n:
            self._csa_timer.stop()
            return
        if self._csa_next == 0:
            freqs, _ = m.csa_column(m.start + 2.0)
            self._csa_freqs = freqs
            self._csa = np.full((len(freqs), n), np.nan)
        width = m.duration / n
        spans = m.coverage()
        stop = min(self._csa_next + batch, n)
        for c in range(self._csa_next, stop):
            t = m.start + (c + 0.5) * width
            if any(a + 2 <= t <= b - 2 for a, b in spans):
                self._csa[:, c] = m.csa_column(t)[1]
        self._csa_next = stop
        img = self._csa
        if np.isfinite(img).any():
            lo, hi = np.nanpercentile(img, [2, 98])
            shown = np.where(np.isfinite(img), img, lo)
            self.csa_image.setImage(shown, levels=(lo, hi), autoLevels=False)
            self.csa_image.setRect(QtCore.QRectF(0, 0, m.duration, float(self._csa_freqs[-1])))
            self.spectrum_plot.setYRange(0, float(self._csa_freqs[-1]), padding=0)
        if stop >= n:
            self._csa_timer.stop()

    def finish_overview(self) -> None:
        """Compute the rest of the spectral lane now (tests and screenshots)."""
        while 0 <= self._csa_next < self._csa_columns:
            self._csa_step(batch=self._csa_columns)

    def refresh_events(self) -> None:
        """Refill the events list and the review counter from the model."""
        m = self.model
        rows = m.events()
        self._table_keys = rows.keys
        selection = self.table.selectionModel()
        selection.blockSignals(True)
        self.table_model.set_rows(rows)
        if m.selected in self._table_keys:
            self.table.selectRow(self._table_keys.index(m.selected))
        selection.blockSignals(False)
        c = m.counts()
        self.counter.setText(f"reviewed {c['reviewed']} of {c['total']}  ·  remaining {c['remaining']}")

    def _after_edit(self, message: str) -> None:
        self.refresh_events()
        self.refresh_event_marks()
        self.refresh_trace()
        self.statusBar().showMessage(f"{message}: saved to {self.model.archive.path.name}", 5000)

    # ------------------------------------------------------------------ callbacks
    def _on_wheel(self, direction: int) -> None:
        self.model.step(0.5 * direction)
        self.refresh_trace()

    def _on_overview_pick(self, x: float) -> None:
        self.model.center_on(self.model.origin + x)
        self.refresh_trace()

    def _on_drag_add(self, x0: float, x1: float) -> None:
        key = self.model.add_annotation(self.model.origin + x0, self.model.origin + x1, "sz")
        self._after_edit(f"added annotation {key[1]}")

    def _on_region_moved(self, key: tuple[str, int], region: pg.LinearRegionItem) -> None:
        a, b = region.getRegion()
        ev = self.model.event(key).event
        onset, offset = self.model.origin + a, self.model.origin + b
        if abs(onset - ev.onset) < 1e-3 and abs(offset - ev.offset) < 1e-3:
            return
        self.model.adjust(onset, offset, key=key)
        self.model.select(key)
        QtCore.QTimer.singleShot(0, lambda: self._after_edit("adjusted onset/offset"))

    def _on_table_selection(self, *_) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.model.select(self._table_keys[rows[0].row()])
            self._draw_event_regions()

    def _on_filter_changed(self, *_) -> None:
        src, st, lab = self.source_box.currentText(), self.status_box.currentText(), self.label_box.currentText()
        self.model.set_event_filter(
            sources=() if src.startswith("all") else (src,),
            statuses=() if st.startswith("all") else (st,),
            labels=() if lab.startswith("all") else (lab,),
            min_probability=float(self.prob_box.value()),
            sort="probability" if "probability" in self.sort_box.currentText() else "time",
        )
        self.refresh_events()

    # ------------------------------------------------------------------ actions (keyboard)
    def _page(self, pages: float) -> None:
        self.model.step(pages)
        self.refresh_trace()

    def next_page(self) -> None:
        """Next page."""
        self._page(1)

    def previous_page(self) -> None:
        """Previous page."""
        self._page(-1)

    def half_page_forward(self) -> None:
        """Half a page forward."""
        self._page(0.5)

    def half_page_back(self) -> None:
        """Half a page back."""
        self._page(-0.5)

    def set_page_size(self, seconds: float) -> None:
        """Change the page size (seconds), keeping the centre."""
        self.model.set_page_size(seconds)
        self.refresh_trace()

    def page_size_key(self, key: str) -> None:
        """Keys 1-6: the page sizes of :data:`PAGE_SIZES`."""
        self.set_page_size(PAGE_SIZES[int(key) - 1])

    def zoom_all(self) -> None:
        """The whole recording on one page (drawn from the min/max pyramid)."""
        self.model.zoom_all()
        self.refresh_trace()

    def gain_up(self) -> None:
        """Global gain up."""
        self.model.scale_by(2 ** 0.5)
        self.refresh_trace()

    def gain_down(self) -> None:
        """Global gain down."""
        self.model.scale_by(2 ** -0.5)
        self.refresh_trace()

    def select_trace_key(self, key: str) -> None:
        """Select the next or previous trace for its own gain."""
        n = len(self.trace_curves)
        self.selected_trace = (self.selected_trace + (1 if "Down" in key else -1)) % max(n, 1)
        self.refresh_trace()

    def trace_gain_up(self) -> None:
        """Gain of the selected trace up."""
        self.model.scale_by(2 ** 0.5, trace=self.selected_trace)
        self.refresh_trace()

    def trace_gain_down(self) -> None:
        """Gain of the selected trace down."""
        self.model.scale_by(2 ** -0.5, trace=self.selected_trace)
        self.refresh_trace()

    def _cycle(self, steps: tuple, current) -> float | None:
        i = steps.index(current) if current in steps else 0
        return steps[(i + 1) % len(steps)]

    def _set_filters(self, **changes) -> None:
        f = self.model.filters
        values = {"highpass": f.highpass, "lowpass": f.lowpass, "notch": f.notch, **changes}
        try:
            self.model.set_filters(**values)
        except Exception as err:  # noqa: BLE001 - shown to the user, the display keeps its filters
            self.statusBar().showMessage(str(err), 5000)
        self.refresh_trace()

    def cycle_highpass(self) -> None:
        """High-pass off / 0.5 / 1 / 5 Hz."""
        self._set_filters(highpass=self._cycle(HIGHPASS_STEPS, self.model.filters.highpass))

    def cycle_lowpass(self) -> None:
        """Low-pass off / 70 / 40 / 30 / 15 Hz (steps above Nyquist are skipped)."""
        step = self._cycle(LOWPASS_STEPS, self.model.filters.lowpass)
        while step is not None and step >= self.model.fs / 2:
            step = self._cycle(LOWPASS_STEPS, step)
        self._set_filters(lowpass=step)

    def cycle_notch(self) -> None:
        """Notch off / 50 / 60 Hz."""
        self._set_filters(notch=self._cycle(NOTCH_STEPS, self.model.filters.notch))

    def toggle_montage(self) -> None:
        """The next montage these channels allow (after a montage file: back to referential)."""
        names = self.model.montages()
        at = names.index(self.model.montage) if self.model.montage in names else -1
        self.model.set_montage(names[(at + 1) % len(names)])
        if self.model.montage_notes:
            self.statusBar().showMessage("; ".join(self.model.montage_notes), 8000)
        self.refresh_trace()

    def jump_to(self, key: tuple[str, int]) -> None:
        """Select an event and show it, its onset a quarter into the page (:meth:`ViewerModel.jump_to`)."""
        self.model.jump_to(key)
        self.refresh_events()
        self.refresh_trace()

    def jump_to_selected(self) -> None:
        """Jump to the event selected in the list."""
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.jump_to(self._table_keys[rows[0].row()])
        elif self._table_keys:
            self.jump_to(self._table_keys[0])

    def _neighbour(self, direction: int, unreviewed: bool) -> None:
        key = self.model.next_event(direction, unreviewed=unreviewed)
        if key is None:
            self.statusBar().showMessage("no more events" + (" to review" if unreviewed else ""), 3000)
            return
        self.refresh_events()
        self.refresh_trace()

    def next_event(self) -> None:
        """Next listed event."""
        self._neighbour(1, False)

    def previous_event(self) -> None:
        """Previous listed event."""
        self._neighbour(-1, False)

    def next_unreviewed(self) -> None:
        """Next unreviewed event."""
        self._neighbour(1, True)

    def previous_unreviewed(self) -> None:
        """Previous unreviewed event."""
        self._neighbour(-1, True)

    def _review(self, action: Callable, message: str) -> None:
        if self.model.selected is None:
            self.statusBar().showMessage("select an event first (Enter, N, U)", 3000)
            return
        action()
        self._after_edit(message)

    def confirm(self) -> None:
        """Confirm the current event (saved at once)."""
        self._review(self.model.confirm, "confirmed")

    def reject(self) -> None:
        """Reject the current event (saved at once)."""
        self._review(self.model.reject, "rejected")

    def mark_unreviewed(self) -> None:
        """Mark the current event unreviewed (saved at once)."""
        self._review(lambda: self.model.set_status("unreviewed"), "marked unreviewed")

    def relabel(self, label: str | None = None) -> None:
        """Relabel the current event (asks for the label when none is given)."""
        if self.model.selected is None:
            self.statusBar().showMessage("select an event first (Enter, N, U)", 3000)
            return
        if label is None:
            items = [*QUICK_LABELS, *[v for v in VOCABULARY if v not in QUICK_LABELS]]
            current = self.model.event(self.model.selected).event.label
            label, ok = QtWidgets.QInputDialog.getItem(self, "Relabel", "label:", items,
                                                       items.index(current) if current in items else 0, False)
            if not ok:
                return
        self._review(lambda: self.model.relabel(label), f"relabelled {label}")

    def _nudge(self, onset_delta: float, offset_delta: float) -> None:
        if self.model.selected is None:
            self.statusBar().showMessage("select an event first (Enter, N, U)", 3000)
            return
        ev = self.model.event(self.model.selected).event
        onset, offset = ev.onset + onset_delta, ev.offset + offset_delta
        if offset <= onset:
            return
        self._review(lambda: self.model.adjust(onset, offset), "adjusted")

    def nudge_onset_key(self, key: str) -> None:
        """Move the onset by one second."""
        self._nudge(1.0 if "Right" in key else -1.0, 0.0)

    def nudge_offset_key(self, key: str) -> None:
        """Move the offset by one second."""
        self._nudge(0.0, 1.0 if "Right" in key else -1.0)

    def add_annotation_key(self, key: str = "A") -> None:
        """Add a seizure annotation over the middle third of the page."""
        m = self.model
        third = m.page_s / 3
        key_ = m.add_annotation(m.page_start + third, m.page_start + 2 * third, "sz")
        self._after_edit(f"added annotation {key_[1]}")

    def undo(self) -> None:
        """Undo the last review action (a new durable edit restoring the previous values)."""
        text = self.model.undo()
        self._after_edit(f"undid {text}" if text else "nothing to undo")

    def redo(self) -> None:
        """Redo the last undone action."""
        text = self.model.redo()
        self._after_edit(f"redid {text}" if text else "nothing to redo")

    def reload(self) -> None:
        """Pick up what other processes committed (new segments from a live monitor, events)."""
        self.model.archive.refresh()
        self.model.refresh()
        self._mark_px = None
        self.refresh_events()
        self.refresh_overview()
        self.refresh_trace()
        self.statusBar().showMessage("reloaded", 3000)

    def export_to(self, folder: str | Path) -> list[Path]:
        """Write ``events.tsv`` (confirmed seizures) and ``review_summary.png/.html`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        stem = self.model.archive.path.stem
        tsv = export_events_tsv(self.model.archive, folder / f"{stem}_events.tsv")
        png, html = export_summary(self.model.archive, folder, stem=f"{stem}_review_summary")
        self.statusBar().showMessage(f"exported to {folder}", 5000)
        return [tsv, png, html]

    def export_dialog(self) -> None:
        """Ask for a folder and export into it."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Export review to folder")
        if folder:
            self.export_to(folder)

    def train_model(self) -> None:
        """Train the patient's model from this review in a worker thread; its result line goes to the status bar.

        The archive stores it as its next model version (``eegmon train ARCHIVE`` does the same);
        the window stays usable meanwhile (one Numba thread for the worker).
        """
        from concurrent.futures import ThreadPoolExecutor

        if getattr(self, "_training", None) is not None and not self._training.done():
            self.statusBar().showMessage("the patient's model is still training", 3000)
            return
        path = self.model.archive.path

        def work() -> str:
            from .._threads import limit_threads
            from ..detectors.retrain import train_from_review
            from ..errors import EegmonError

            try:
                with limit_threads(1):
                    return train_from_review(path).message(path.name)
            except EegmonError as err:
                return f"not trained: {err.message}"

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eegmon-train")
        self._training = pool.submit(work)
        pool.shutdown(wait=False)
        self.statusBar().showMessage("training the patient's model from this review...")
        self._training_timer = QtCore.QTimer(self)
        self._training_timer.timeout.connect(self._training_poll)
        self._training_timer.start(250)

    def _training_poll(self) -> None:
        if self._training.done():
            self._training_timer.stop()
            self.statusBar().showMessage(self._training.result(), 20000)

    def help_text(self) -> str:
        """The shortcuts as an HTML table."""
        rows = "".join(f"<tr><td><b>{' / '.join(keys)}</b></td><td>{what}</td></tr>" for keys, what, _ in SHORTCUTS)
        return (f"<h3>eegmon view: keyboard</h3><table cellspacing=4>{rows}</table>"
                "<p>Mouse: wheel pages by half a page; drag on the trace adds an annotation; drag an event's "
                "edges to move its onset/offset; click or drag the overview to go there. Every review action "
                "is saved to the archive at once (reviewer name and time).</p>")

    def show_help(self) -> QtWidgets.QDialog:
        """Show the shortcuts dialog (non-modal); return it."""
        dialog = QtWidgets.QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        layout = QtWidgets.QVBoxLayout(dialog)
        label = QtWidgets.QLabel(self.help_text())
        label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        layout.addWidget(label)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.close)
        layout.addWidget(buttons)
        dialog.show()
        self._help_dialog = dialog
        return dialog

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self._csa_timer.stop()
        super().closeEvent(event)


def open_viewer(archive_path: str | Path, *, reviewer: str | None = None, montage: str | Path = "referential",
                utc: bool = False, show: bool = True, exec_: bool = True,
                close_after: float | None = None) -> int | MainWindow:
    """Open the review window on an archive.

    Parameters
    ----------
    archive_path : path-like
        The archive (opened for writing so review actions are saved; read-only when it cannot be).
    reviewer : str | None
        Name stored with every edit (default ``$USER``).
    montage : str | Path
        The montage shown first (:data:`eegmon.montage.MONTAGES` or a montage file); B cycles them.
    utc : bool
        Show times in UTC, not in the archive's time zone.
    show, exec_ : bool
        Show the window; run the Qt event loop until it closes (then return the exit code).
        With ``exec_=False`` the window is returned.
    close_after : float | None
        Close the window after this many seconds (smoke tests).

    Raises
    ------
    EegmonError
        When Qt cannot open a window here (no display, or its system libraries are missing):
        creating the application would abort the process.
    """
    from ..archive import Archive

    app = QtWidgets.QApplication.instance()
    if app is None:
        check_qt_platform()
        app = QtWidgets.QApplication([])
    try:
        arc = Archive.open(archive_path, "a")
    except Exception:  # noqa: BLE001 - fall back to browsing only (e.g. a read-only archive)
        arc = Archive.open(archive_path, "r")
    model = ViewerModel(arc, reviewer=reviewer)
    model.set_montage(montage)
    win = MainWindow(model, utc=utc)
    if model.montage_notes:
        win.statusBar().showMessage("; ".join(model.montage_notes), 10000)
    if show:
        win.show()
    if not exec_:
        return win
    if close_after is not None:
        QtCore.QTimer.singleShot(int(close_after * 1000), win.close)
    code = app.exec()
    # delete the window while the interpreter is whole: PySide6 6.12 crashed at exit otherwise
    win.deleteLater()
    app.processEvents()
    del win
    gc.collect()
    arc.close()
    return int(code)


__all__ = ["SHORTCUTS", "MainWindow", "EventRow", "open_viewer"]
