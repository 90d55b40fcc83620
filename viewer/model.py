"""The viewer's data model: what to show and how to review it, with no Qt (tested without a screen).

:class:`ViewerModel` holds the page (start, size), channels, gains, display filters and montage,
decides the level of detail of every read, caches what it read, lists and filters the events, and
applies review actions as undoable commands that write to the archive at once.

Level of detail: a page with fewer than ``4 * n_pixels`` samples is read raw (``Archive.read``,
display filters and montage applied on the fly); a wider page is drawn from the archive's min/max
pyramid (``Archive.minmax``), so no raw samples are read for spans wider than the screen can show.

Events: a month of recording holds tens of thousands of events (most of them artifact
annotations). The model keeps the archive's review items as arrays (:class:`ReviewIndex`) and
filters, counts, bisects and bins them there; an :class:`EventRow` is made only for an item that
is read (a visible row of the list, an event of the page), and the lists it returns are lazy
sequences (:class:`EventRows`).

Undo: the archive stores the last state of each event only. Undoing an edit is another durable
edit that restores the previous values (with the reviewer and a new edit time); undoing an added
annotation marks it ``rejected`` (the archive has no deletion), and redo restores its status.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from .._checks import check_number, check_option
from ..archive import Archive
from ..archive.archive import StoredAnnotation
from ..archive.review import KINDS, ReviewIndex, ReviewItem
from ..errors import EegmonError
from ..events import REVIEW_STATUSES, Annotation
from ..forecast.risk import RISK_LEVELS
from ..forecast.store import TREND_PREFIX, stored_forecasts, trend_names
from ..io.labels import VOCABULARY
from ..montage import Montage, available_montages, make_montage

#: Page sizes in seconds offered by the viewer (10 s ... one day).
PAGE_SIZES: tuple[float, ...] = (10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0)
#: Read raw samples when the page holds fewer than this many samples per pixel.
RAW_SAMPLES_PER_PIXEL = 4
#: Labels offered when relabelling, most common first.
QUICK_LABELS: tuple[str, ...] = ("sz", "sz_foc", "sz_foc_a", "sz_foc_ia", "sz_foc_f2b", "sz_gen", "sz_uc",
                                 "artf", "musc", "move", "elpp")
#: Forecast horizons the overview's risk lane can draw, preferred first (the first one stored is drawn).
RISK_HORIZONS: tuple[str, ...] = ("24h", "1h")
EventKind = Literal["detection", "annotation"]


@dataclass(frozen=True)
class DisplayFilters:
    """Display filters applied to raw pages (Hz; None = off).

    Parameters
    ----------
    highpass : float | None
        High-pass edge.
    lowpass : float | None
        Low-pass edge.
    notch : float | None
        Mains frequency to notch (with harmonics).
    """

    highpass: float | None = None
    lowpass: float | None = None
    notch: float | None = None

    @property
    def active(self) -> bool:
        """True when any filter is on."""
        return any(v is not None for v in (self.highpass, self.lowpass, self.notch))


@dataclass(frozen=True)
class PageData:
    """What the trace view draws for one page.

    Parameters
    ----------
    kind : {"raw", "minmax"}
        Raw samples or per-pixel min/max envelope.
    start, stop : float
        Page span, absolute seconds.
    x : ndarray, shape (n,)
        Times relative to :attr:`ViewerModel.origin` (seconds); for ``minmax`` each pixel edge
        appears twice so that the drawn line strokes min -> max.
    y : ndarray, shape (n_traces, n)
        Microvolts (NaN = gap; the curve is broken there).
    labels : tuple of str
        Trace names (channels, or the montage's derivations such as ``Fp1-F7``).
    """

    kind: str
    start: float
    stop: float
    x: np.ndarray
    y: np.ndarray
    labels: tuple[str, ...]


@dataclass(frozen=True)
class RiskData:
    """What the overview's risk lane draws: the stored forecast covering each overview pixel.

    Parameters
    ----------
    horizon : str
        The horizon drawn (``"24h"`` or ``"1h"``); ``""`` when no forecast is stored.
    edges : ndarray, shape (n_pixels + 1,)
        Pixel edges, absolute seconds.
    probability : ndarray, shape (n_pixels,)
        Probability of at least one seizure in the window covering the pixel (NaN: none covers it).
    level : ndarray of int8, shape (n_pixels,)
        Its risk level code, an index into :data:`~eegmon.forecast.risk.RISK_LEVELS` (-1: none).
    climatology : ndarray, shape (n_pixels,)
        The climatological probability that level was judged against (NaN: none).
    """

    horizon: str
    edges: np.ndarray
    probability: np.ndarray
    level: np.ndarray
    climatology: np.ndarray

    @property
    def stored(self) -> bool:
        """True when a forecast is stored (the overview then shows the risk lane)."""
        return bool(self.horizon)

    @property
    def centers(self) -> np.ndarray:
        """Pixel centres, absolute seconds."""
        return (self.edges[:-1] + self.edges[1:]) / 2


@dataclass(frozen=True)
class EventRow:
    """One row of the events panel: a review item (one seizure, whatever found it) or a stored event.

    ``event`` is the item as one event (its span, label, status and best probability; its source
    names every detector and annotation source that found it) and ``item`` the grouped events.
    """

    kind: EventKind
    event: StoredAnnotation
    item: ReviewItem | None = None

    @property
    def key(self) -> tuple[str, int]:
        """``(kind, id)`` of the item's first event, unique across both tables."""
        return (self.kind, self.event.id)

    @property
    def keys(self) -> tuple[tuple[str, int], ...]:
        """``(kind, id)`` of every event of the item."""
        return self.key if self.item is None else self.item.keys

    @property
    def sources(self) -> tuple[str, ...]:
        """Sources of the item's events."""
        return (self.event.source,) if self.item is None else self.item.sources

    @classmethod
    def of(cls, item: ReviewItem) -> EventRow:
        """The panel row of a review item."""
        kind, first = item.members[0]
        if len(item.members) == 1:  # most items (artifacts, lone detections): the event itself
            return cls(kind, first, item)
        found = item.found_by
        others = sorted({ev.source for k, ev in item.members if k == "annotation"})
        source = "+".join(others + ([f"detector:{'+'.join(found)}"] if found else []))
        latest = max((ev.edited_at for _, ev in item.members if ev.edited_at is not None), default=None)
        ev = StoredAnnotation(item.onset, item.duration, item.label, first.channels, item.probability,
                              first.original_label, source, item.status, id=first.id, reviewer=item.reviewer,
                              edited_at=latest)
        return cls(kind, ev, item)


@dataclass(frozen=True)
class EventFilter:
    """Which events the panel lists.

    Parameters
    ----------
    sources, labels, statuses : tuple of str
        Keep only these (empty = all). A source prefix like ``detector`` matches ``detector:*``.
    min_probability : float
        Drop detections with a confidence below this (events without a confidence are kept).
    sort : {"time", "probability"}
        Order: by onset, or by decreasing confidence.
    """

    sources: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    min_probability: float = 0.0
    sort: str = "time"

    def keep(self, row: EventRow) -> bool:
        """True when ``row`` passes the filter."""
        ev = row.event
        if self.sources and not any(src == s or src.split(":")[0] == s for src in row.sources for s in self.sources):
            return False
        if self.labels and ev.label not in self.labels:
            return False
        if self.statuses and ev.status not in self.statuses:
            return False
        return ev.confidence is None or ev.confidence >= self.min_probability

    def mask(self, index: ReviewIndex) -> np.ndarray:
        """:meth:`keep` of the row of every item of ``index``, on its arrays (grouped items ask their item)."""
        keep = np.isnan(index.probability) | (index.probability >= self.min_probability)
        if self.labels:
            keep &= _member_of(index.label, set(self.labels))
        if self.statuses:
            keep &= _member_of(index.status, set(self.statuses))
        if self.sources:
            def match(src: str) -> bool:
                return any(src == s or src.split(":")[0] == s for s in self.sources)

            keep &= _member_of(index.source, {src for src in index.source_names if match(src)})
            for i in np.flatnonzero(index.size > 1):  # a grouped item passes when any member's source does
                keep[i] = _passes_others(self, index, i) and any(map(match, index[i].sources))
        return keep


def _member_of(values: np.ndarray, wanted: set[str]) -> np.ndarray:
    """``[v in wanted for v in values]`` for an array of strings, as a boolean array."""
    out = np.zeros(len(values), dtype=bool)
    for w in wanted:  # a few values: one vectorised comparison each
        out |= values == w
    return out


def _passes_others(flt: EventFilter, index: ReviewIndex, i: int) -> bool:
    """Whether item ``i`` passes every criterion of ``flt`` but the sources."""
    p = index.probability[i]
    return ((not flt.labels or index.label[i] in flt.labels) and (not flt.statuses or index.status[i] in flt.statuses)
            and (np.isnan(p) or p >= flt.min_probability))


def merge_spans(x0: np.ndarray, x1: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Spans ``[x0, x1]`` as few as possible: each at least ``width`` wide, merged where closer than ``width``.

    For drawing many events at a coarse zoom (``width``: one pixel): every span lies inside an
    output span, and every point of an output span is within ``width`` of an input span.
    Returns the merged ``(starts, stops)``, sorted.
    """
    x0, x1 = np.asarray(x0, dtype=float), np.asarray(x1, dtype=float)
    if not x0.size:
        return x0, x1
    order = np.argsort(x0, kind="stable")
    a = x0[order]
    b = np.maximum(x1[order], a + width)
    ends = np.maximum.accumulate(b)
    starts = np.r_[True, a[1:] > ends[:-1] + width]
    first = np.flatnonzero(starts)
    last = np.r_[first[1:] - 1, a.size - 1]
    return a[first], ends[last]


class EventRows(Sequence):
    """A list of events-panel rows over a :class:`ReviewIndex`, each row made when it is read.

    Parameters
    ----------
    index : ReviewIndex
        The items.
    rows : dict
        The rows made so far, by item (shared with the model, which drops rows its edits change).
    items : ndarray of int
        The items listed, in order.
    """

    def __init__(self, index: ReviewIndex, rows: dict[int, EventRow], items: np.ndarray) -> None:
        self.review, self._rows, self.items = index, rows, np.asarray(items, dtype=np.intp)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return EventRows(self.review, self._rows, self.items[i])
        item = int(self.items[i])
        row = self._rows.get(item)
        if row is None:
            row = self._rows[item] = EventRow.of(self.review[item])
        return row

    def __iter__(self) -> Iterator[EventRow]:
        return (self[i] for i in range(len(self)))

    @property
    def keys(self) -> EventKeys:
        """The rows' keys (``(kind, id)`` of each item's first event), without making the rows."""
        return EventKeys(self.review, self.items)


class EventKeys(Sequence):
    """The keys of :class:`EventRows`, read from the index's arrays."""

    def __init__(self, index: ReviewIndex, items: np.ndarray) -> None:
        self.review, self.items = index, items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return EventKeys(self.review, self.items[i])
        item = self.items[i]
        return KINDS[self.review.kind[item]], int(self.review.ids[item])

    def index(self, key) -> int:
        """Position of ``key`` (ValueError when it is not listed)."""
        item = self.review.find(*key) if len(key) == 2 else None
        hits = np.flatnonzero(self.items == item) if item is not None else []
        if len(hits) and self[int(hits[0])] == tuple(key):
            return int(hits[0])
        raise ValueError(f"{key!r} is not listed.")

    def __contains__(self, key) -> bool:
        try:
            self.index(tuple(key))
        except (ValueError, TypeError):
            return False
        return True


@dataclass
class EditCommand:
    """A review edit of one event: ``after`` values on do, ``before`` values on undo."""

    kind: EventKind
    id: int
    before: dict
    after: dict
    text: str

    def apply(self, model: ViewerModel, undo: bool) -> None:
        model._write(self.kind, self.id, self.before if undo else self.after)


@dataclass
class ItemCommand:
    """One review decision on a review item: an edit of each of its events, in one commit, undone together."""

    edits: list[EditCommand]
    text: str

    def apply(self, model: ViewerModel, undo: bool) -> None:
        changes = [(e.kind, e.id, e.before if undo else e.after) for e in self.edits]
        stored = model.archive.update_events(changes, reviewer=model.reviewer)
        if any("onset" in c or "duration" in c for _, _, c in changes):
            model.reload_events()  # spans moved: the grouping may change
        else:
            model._replace_members(list(zip([k for k, _, _ in changes], stored, strict=True)))


@dataclass
class AddCommand:
    """A new annotation added by the reviewer; undo marks it rejected (the archive never deletes)."""

    annotation: Annotation
    text: str
    id: int | None = None
    status_before_undo: str = "confirmed"

    def apply(self, model: ViewerModel, undo: bool) -> None:
        if undo:
            model._write("annotation", self.id, {"status": "rejected"})
        elif self.id is None:
            self.id = model.archive.add_annotations([self.annotation])[0]
            # stamped as an edit: adding it is the reviewer's decision on the item it joins
            model._write("annotation", self.id, {"status": self.annotation.status})
        else:
            model._write("annotation", self.id, {"status": self.status_before_undo})


@dataclass
class _History:
    done: list = field(default_factory=list)
    undone: list = field(default_factory=list)


class ViewerModel:
    """State of one viewer over one archive; every review action is on disk when its method returns.

    Parameters
    ----------
    archive : Archive
        Opened with ``mode="a"`` to review (``"r"`` to browse only).
    reviewer : str | None
        Stored with every edit; defaults to ``$USER`` (or ``"reviewer"``).
    n_pixels : int
        Width of the trace in pixels: sets the level of detail.
    cache_size : int
        Pages kept in the read cache.
    """

    def __init__(self, archive: Archive, *, reviewer: str | None = None, n_pixels: int = 1600,
                 cache_size: int = 32) -> None:
        self.archive = archive
        self.reviewer = reviewer or os.environ.get("USER") or "reviewer"
        self.n_pixels = int(check_number("n_pixels", n_pixels, low=16, integer=True))
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._cache_size = int(cache_size)
        self.origin = float(archive.start)
        self.page_s = 30.0
        self.page_start = self.origin
        self.scale_uv = 100.0
        self.trace_gain: dict[str, float] = {}
        self.filters = DisplayFilters()
        self._montage: Montage = make_montage("referential", self.channels)
        self.montage = "referential"
        self.event_filter = EventFilter()
        self.selected: tuple[str, int] | None = None
        self._history = _History()
        self._index: ReviewIndex | None = None
        self.reload_events()

    # ------------------------------------------------------------------ recording facts
    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names of the archive."""
        return tuple(self.archive.channels)

    @property
    def fs(self) -> float:
        """Sampling rate in Hz."""
        return float(self.archive.fs)

    @property
    def start(self) -> float:
        """Recording start, absolute seconds."""
        return float(self.archive.start)

    @property
    def stop(self) -> float:
        """Recording end, absolute seconds."""
        return float(self.archive.stop)

    @property
    def duration(self) -> float:
        """Recording span in seconds (gaps included)."""
        return self.stop - self.start

    @property
    def page_stop(self) -> float:
        """End of the current page, absolute seconds."""
        return self.page_start + self.page_s

    @property
    def trace_labels(self) -> tuple[str, ...]:
        """Names of the drawn traces in the current montage."""
        return self._montage.labels

    def montages(self) -> list[str]:
        """The named montages these channels allow (:func:`eegmon.montage.available_montages`)."""
        return available_montages(self.channels)

    # ------------------------------------------------------------------ navigation
    def _clamp(self, start: float) -> float:
        latest = max(self.stop - self.page_s, self.start)
        return float(min(max(start, self.start), latest))

    def goto(self, t: float) -> None:
        """Start the page at absolute time ``t`` (clamped to the recording)."""
        self.page_start = self._clamp(float(t))

    def center_on(self, t: float) -> None:
        """Centre the page on absolute time ``t``."""
        self.goto(float(t) - self.page_s / 2)

    def step(self, pages: float) -> None:
        """Move by ``pages`` pages (1 = next page, -0.5 = back half a page)."""
        self.goto(self.page_start + pages * self.page_s)

    def set_page_size(self, seconds: float) -> None:
        """Change the page size, keeping the page centre where it is."""
        seconds = check_number("page size", seconds, low=1.0 / self.fs, low_inclusive=False)
        centre = self.page_start + self.page_s / 2
        self.page_s = float(min(seconds, max(self.duration, 1.0)))
        self.center_on(centre)

    def zoom_all(self) -> None:
        """Show the whole recording on one page."""
        self.page_s = max(self.duration, 1.0)
        self.page_start = self.start

    # ------------------------------------------------------------------ display settings
    def set_filters(self, highpass: float | None = None, lowpass: float | None = None,
                    notch: float | None = None) -> None:
        """Set the display filters (None = off); they apply to raw pages."""
        nyq = self.fs / 2
        for name, value in (("highpass", highpass), ("lowpass", lowpass), ("notch", notch)):
            if value is not None:
                check_number(name, value, low=0.0, high=nyq, low_inclusive=False, high_inclusive=False)
        if highpass is not None and lowpass is not None and highpass >= lowpass:
            raise EegmonError(f"The high-pass edge must be below the low-pass edge, got {highpass} and {lowpass}.")
        self.filters = DisplayFilters(highpass, lowpass, notch)

    def set_montage(self, montage: str | os.PathLike) -> None:
        """Show the montage ``montage``: a name of :data:`eegmon.montage.MONTAGES` or a montage file.

        ``bipolar`` is the longitudinal bipolar montage for 10-20 channels, the device's own otherwise.
        Derivations whose electrodes are missing are left out; :attr:`montage_notes` says which.
        """
        made = make_montage(montage, self.channels)
        if not made.labels:
            why = "; ".join(made.notes) or "no derivation can be formed"
            raise EegmonError(f"The {made.name} montage cannot be shown for channels {list(self.channels)}: {why}.")
        self._montage = made
        self.montage = made.name

    @property
    def montage_notes(self) -> tuple[str, ...]:
        """What the current montage left out and why (empty when nothing was)."""
        return self._montage.notes

    def scale_by(self, factor: float, trace: int | None = None) -> None:
        """Multiply the global gain (``trace=None``) or one trace's gain (index in :attr:`trace_labels`).

        The global gain is kept as :attr:`scale_uv`, the microvolts spanned by one trace spacing.
        """
        factor = check_number("factor", factor, low=0.0, low_inclusive=False)
        if trace is None:
            self.scale_uv = float(np.clip(self.scale_uv / factor, 0.1, 1e5))
        else:
            label = self.trace_labels[trace]
            self.trace_gain[label] = float(np.clip(self.gain(label) * factor, 1e-3, 1e3))

    def gain(self, label: str) -> float:
        """Gain of one trace relative to the global scale (1 = as the others)."""
        return self.trace_gain.get(label, 1.0)

    # ------------------------------------------------------------------ level of detail
    @property
    def lod(self) -> str:
        """``"raw"`` when the page has fewer than 4 samples per pixel, else ``"minmax"``."""
        return "raw" if self.page_s * self.fs < RAW_SAMPLES_PER_PIXEL * self.n_pixels else "minmax"

    def _cached(self, key: tuple, compute):
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = compute()
        self._cache[key] = value
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return value

    def _sos(self) -> np.ndarray | None:
        if not self.filters.active:
            return None  # and do not import the Numba kernels
        from ..dsp import design_filter

        f, parts = self.filters, []
        if f.highpass is not None:
            parts.append(design_filter("highpass", self.fs, low=f.highpass, order=2))
        if f.lowpass is not None:
            parts.append(design_filter("lowpass", self.fs, high=f.lowpass, order=4))
        if f.notch is not None:
            parts.append(design_filter("notch", self.fs, line_freq=f.notch))
        return np.vstack(parts) if parts else None

    def _read_raw(self, start: float, stop: float) -> tuple[float, np.ndarray]:
        sos = self._sos()
        if sos is None:
            return self.archive.read(start, stop)
        # filter a padded window so the page's edges carry no start-up transient
        pad = max(2.0, 3.0 / self.filters.highpass) if self.filters.highpass else 2.0
        n_pad = int(round(pad * self.fs))
        t0, data = self.archive.read(start - n_pad / self.fs, stop + n_pad / self.fs)
        from ..dsp import filter_signal

        out = np.full_like(data, np.nan)
        finite = np.isfinite(data).all(axis=0)
        if finite.sum() > 10 * sos.shape[0] + 2:
            # NaN gaps restart the filter state; zero-phase needs finite runs, so filter each run
            edges = np.flatnonzero(np.diff(np.r_[0, finite.astype(np.int8), 0]))
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                if b - a > 6 * sos.shape[0] + 1:
                    out[:, a:b] = filter_signal(data[:, a:b].T, sos, zero_phase=True).T
        n = data.shape[1] - 2 * n_pad
        return start, out[:, n_pad : n_pad + n]

    def _montage_raw(self, data: np.ndarray) -> np.ndarray:
        return data if self._montage.identity else self._montage.apply(data)

    def _montage_bounds(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (lo, hi) if self._montage.identity else self._montage.bounds(lo, hi)

    def page_data(self, start: float | None = None, stop: float | None = None) -> PageData:
        """The traces of the current page (or of ``[start, stop)``), at the level of detail it needs.

        Raw pages carry display filters and montage; min/max pages carry the montage as an outer
        bound (e.g. ``min(A) - max(B)`` .. ``max(A) - min(B)``) and no filters.
        """
        start = self.page_start if start is None else float(start)
        stop = self.page_stop if stop is None else float(stop)
        raw = (stop - start) * self.fs < RAW_SAMPLES_PER_PIXEL * self.n_pixels
        key = ("raw" if raw else "minmax", round(start, 6), round(stop, 6), self.n_pixels, self.filters,
               self.montage, self._montage.weights.tobytes())

        def compute() -> PageData:
            if raw:
                t0, data = self._read_raw(start, stop)
                x = (t0 - self.origin) + np.arange(data.shape[1]) / self.fs
                return PageData("raw", start, stop, x, self._montage_raw(data), self.trace_labels)
            edges, lo, hi = self._minmax(start, stop, self.n_pixels)
            lo, hi = self._montage_bounds(lo, hi)
            x = np.repeat(edges[:-1] + (edges[1] - edges[0]) / 2 - self.origin, 2)
            y = np.empty((lo.shape[0], 2 * lo.shape[1]))
            y[:, 0::2], y[:, 1::2] = lo, hi
            return PageData("minmax", start, stop, x, y, self.trace_labels)

        return self._cached(key, compute)

    def _minmax(self, start: float, stop: float, n_pixels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._cached(("mm", round(start, 6), round(stop, 6), n_pixels),
                            lambda: self.archive.minmax(start, stop, n_pixels))

    def overview(self, n_pixels: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Whole-recording min/max envelope from the pyramid (cached): ``(edges, mins, maxs)``."""
        return self._minmax(self.start, max(self.stop, self.start + 1.0), n_pixels or self.n_pixels)

    def trend(self, n_pixels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The overview's trend: a detector's seizure probability per pixel, else signal activity.

        When ``eegmon detect`` stored a probability-per-minute trend in the archive (the bundled
        classifier's first, else any), each pixel shows the highest probability in it (0-1).
        Otherwise: mean over channels of (max - min) per pixel from the pyramid, µV.
        Forecast trends (``forecast:*``, see :meth:`risk`) are not a detector's probability and
        are never drawn here.
        """
        stored = {name: tv for name, tv in self._cached(("trends",), self.archive.trends).items()
                  if not name.startswith(TREND_PREFIX)}
        if stored:
            name = "detector:classifier" if "detector:classifier" in stored else sorted(stored)[0]
            times, values = stored[name]
            edges = np.linspace(self.start, max(self.stop, self.start + 1.0), (n_pixels or self.n_pixels) + 1)
            centers = (edges[:-1] + edges[1:]) / 2
            out = np.full(centers.size, np.nan)
            if times.size:
                bin_s = float(np.min(np.diff(times))) if times.size > 1 else 60.0
                # pixels narrower than a bin take the bin they lie in ...
                j = np.searchsorted(times, centers, side="right") - 1
                inside = (j >= 0) & (centers - times[np.maximum(j, 0)] < bin_s)
                out[inside] = values[j[inside]]
                # ... wider pixels the highest of the bins that start in them
                idx = np.searchsorted(edges, times, side="right") - 1
                ok = (idx >= 0) & (idx < out.size)
                np.fmax.at(out, idx[ok], values[ok])
            return centers, out
        edges, lo, hi = self.overview(n_pixels)
        width = hi - lo
        count = np.isfinite(width).sum(axis=0)
        rng = np.where(count > 0, np.nansum(width, axis=0) / np.maximum(count, 1), np.nan)
        return (edges[:-1] + edges[1:]) / 2, rng

    def risk_horizon(self) -> str:
        """The forecast horizon the risk lane draws: the first of :data:`RISK_HORIZONS` stored, else ``""``."""
        stored = self._cached(("trends",), self.archive.trends)
        return next((h for h in RISK_HORIZONS if trend_names(h)[0] in stored), "")

    def risk(self, n_pixels: int | None = None) -> RiskData:
        """The stored seizure-risk forecast per overview pixel (cached), for the overview's risk lane.

        Draws one horizon: ``24h`` when it is stored, else ``1h`` (a fixed choice, not one that
        follows the zoom, so the lane means the same thing at every page size). A pixel takes the
        forecast window holding its centre; a pixel wider than a window (``1h`` over months) takes
        the highest-risk window starting in it (highest level, then highest probability), so no
        high-risk hour disappears at a coarse zoom. Pixels no window covers are NaN / -1. Windows
        are ``[start, start + horizon_s)`` as ``eegmon forecast`` stored them; the part beyond the
        recording's end is not in the overview.

        Parameters
        ----------
        n_pixels : int | None
            Overview width in pixels (default :attr:`n_pixels`).

        Returns
        -------
        RiskData
            With ``horizon == ""`` and every pixel empty when no forecast is stored.
        """
        n = int(n_pixels or self.n_pixels)
        return self._cached(("risk", n), lambda: self._risk(n))

    def _risk(self, n: int) -> RiskData:
        horizon = self.risk_horizon()
        edges = np.linspace(self.start, max(self.stop, self.start + 1.0), n + 1)
        prob, clim = np.full(n, np.nan), np.full(n, np.nan)
        level = np.full(n, -1, dtype=np.int8)
        items = stored_forecasts(self.archive, horizon) if horizon else []
        if items:
            starts = np.array([f.start for f in items])
            stops = starts + np.array([f.horizon_s for f in items])
            p = np.array([f.probability for f in items])
            lv = np.array([RISK_LEVELS.index(f.level) for f in items], dtype=np.int8)
            c = np.array([f.climatology for f in items])
            centers = (edges[:-1] + edges[1:]) / 2
            j = np.searchsorted(starts, centers, side="right") - 1
            inside = (j >= 0) & (centers < stops[np.maximum(j, 0)])
            prob[inside], level[inside], clim[inside] = p[j[inside]], lv[j[inside]], c[j[inside]]
            if float(np.min(stops - starts)) < edges[1] - edges[0]:
                # windows narrower than a pixel: the riskiest starting in it; fancy assignment with
                # repeated indices keeps the last value, so assign in order of increasing risk
                idx = np.searchsorted(edges, starts, side="right") - 1
                order = np.lexsort((p, lv))
                order = order[(idx[order] >= 0) & (idx[order] < n)]
                prob[idx[order]], level[idx[order]], clim[idx[order]] = p[order], lv[order], c[order]
        return RiskData(horizon, edges, prob, level, clim)

    def coverage(self) -> list[tuple[float, float]]:
        """Spans with data, absolute seconds (gaps are what lies between)."""
        return [(s.start, s.stop) for s in self.archive.segments]

    def csa_column(self, t: float, *, window_s: float = 4.0, fmax: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
        """One column of the compressed spectral array: log power (dB) of a ``window_s`` snippet at ``t``.

        The overview's spectral lane is sampled: one short raw read per screen column, never the
        whole span. Returns ``(freqs, power_db)`` with NaN power when the snippet is in a gap.
        """
        n = int(round(window_s * self.fs))
        _, data = self.archive.read(t - window_s / 2, t - window_s / 2 + n / self.fs)
        freqs = np.fft.rfftfreq(n, 1 / self.fs)
        keep = (freqs > 0) & (freqs <= fmax)
        if not np.isfinite(data).all():
            return freqs[keep], np.full(int(keep.sum()), np.nan)
        x = data - data.mean(axis=1, keepdims=True)
        spec = np.abs(np.fft.rfft(x * np.hanning(n), axis=1)) ** 2
        return freqs[keep], 10 * np.log10(spec[:, keep].mean(axis=0) + 1e-12)

    def refresh(self) -> None:
        """Forget cached reads and re-read the events (after ``archive.refresh()`` saw new commits)."""
        self._cache.clear()
        self.reload_events()

    # ------------------------------------------------------------------ events
    def reload_events(self) -> None:
        """Re-read both event tables from the archive (after a commit or a refresh) and group them into items.

        The grouping is kept while the archive's tables are the ones it was made from.
        """
        tables = (self.archive.event_columns("annotations"), self.archive.event_columns("detections"))
        if self._index is None or any(a is not b for a, b in zip(self._index.tables, tables, strict=True)):
            self._index = ReviewIndex(*tables)
            self._rows: dict[int, EventRow] = {}
            idx = self._index
            # a row's event ends at onset + duration, which for a grouped item is computed from its span
            self._ends = np.where(idx.size > 1, idx.onset + (idx.offset - idx.onset), idx.offset)
            # a page finds its items by bisection over the onsets, from one longest item before its start
            self._longest = float(np.max(idx.offset - idx.onset)) + 1.0 if len(idx) else 0.0
        if getattr(self, "selected", None) is not None:  # an edit can regroup: keep the item selected
            item = self._index.find(*self.selected)
            if item is not None:
                self.selected = self._key(item)

    def _key(self, item: int) -> tuple[str, int]:
        return KINDS[self._index.kind[item]], int(self._index.ids[item])

    def _listed(self, items: np.ndarray) -> EventRows:
        return EventRows(self._index, self._rows, items)

    def _replace_members(self, stored: list[tuple[EventKind, StoredAnnotation]]) -> None:
        """Put events edited in place (same spans: same grouping) into their rows, without re-reading the archive."""
        for item in self._index.replace(stored):
            self._rows.pop(item, None)

    @property
    def all_events(self) -> EventRows:
        """Every review item (:mod:`eegmon.archive.review`: one per seizure, whatever found it), by onset."""
        return self._listed(np.arange(len(self._index)))

    def _filtered(self) -> np.ndarray:
        """The items :attr:`event_filter` lists, by onset."""
        return np.flatnonzero(self.event_filter.mask(self._index))

    def events(self) -> EventRows:
        """Events passing :attr:`event_filter`, in its order."""
        items = self._filtered()
        if self.event_filter.sort == "probability":
            p = self._index.probability[items]
            items = items[np.lexsort((self._index.onset[items], -np.where(np.isnan(p), -1.0, p)))]
        return self._listed(items)

    def event_sources(self) -> list[str]:
        """The sources of the listed rows, up to the colon (``detector``, ``ground_truth``, ...), sorted."""
        idx = self._index
        single = {src.split(":")[0] for src in set(idx.source[idx.size == 1].tolist())}  # few distinct
        return sorted(single | {self._listed([i])[0].event.source.split(":")[0] for i in np.flatnonzero(idx.size > 1)})

    def event_labels(self) -> list[str]:
        """The labels of the rows, sorted."""
        return sorted(set(self._index.label.tolist()))

    def set_event_filter(self, **changes) -> None:
        """Change the events filter (fields of :class:`EventFilter`)."""
        if "sort" in changes:
            check_option("sort", changes["sort"], ["time", "probability"])
        for st in changes.get("statuses", ()):
            check_option("statuses", st, REVIEW_STATUSES)
        self.event_filter = replace(self.event_filter, **changes)

    def event(self, key: tuple[str, int]) -> EventRow:
        """The item holding the event ``key == (kind, id)``."""
        item = self._index.find(*key)
        if item is None:
            raise EegmonError(f"no {key[0]} with id {key[1]}.", self.archive.path)
        return self._listed([item])[0]

    def _items_in(self, start: float, stop: float) -> np.ndarray:
        idx = self._index
        i0 = int(np.searchsorted(idx.onset, start - self._longest, side="left"))
        i1 = int(np.searchsorted(idx.onset, stop, side="left"))
        return i0 + np.flatnonzero(self._ends[i0:i1] >= start)

    def events_in(self, start: float, stop: float) -> EventRows:
        """Events overlapping ``[start, stop)`` (unfiltered: the trace shows them all)."""
        return self._listed(self._items_in(start, stop))

    def event_marks(self, start: float, stop: float,
                    n_pixels: int) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        """The items overlapping ``[start, stop)`` as few spans as a plot ``n_pixels`` wide can show.

        By ``(status, kind)`` (``kind`` of the row: its first event's), the items' spans merged
        where they are less than a pixel apart and each at least a pixel wide
        (:func:`merge_spans`), absolute seconds: how the overview and a wide page draw a month's
        tens of thousands of events as a few hundred rectangles.
        """
        idx = self._index
        items = self._items_in(start, stop)
        width = (stop - start) / max(int(n_pixels), 1)
        out = {}
        for status in REVIEW_STATUSES:
            for code, kind in enumerate(KINDS):
                sel = items[(idx.kind[items] == code) & _member_of(idx.status[items], {status})]
                if sel.size:
                    out[(status, kind)] = merge_spans(idx.onset[sel], self._ends[sel], width)
        return out

    def counts(self) -> dict[str, int]:
        """Review progress over the listed (filtered) events: ``reviewed``, ``remaining``, ``total``."""
        items = self._filtered()
        reviewed = int(np.count_nonzero(~_member_of(self._index.status[items], {"unreviewed"})))
        return {"reviewed": reviewed, "remaining": len(items) - reviewed, "total": len(items)}

    def select(self, key: tuple[str, int] | None) -> None:
        """Make ``key`` the current event (review keys act on it)."""
        self.selected = None if key is None else self.event(key).key

    def jump_to(self, key: tuple[str, int], *, context_s: float | None = None) -> None:
        """Select an event and show its onset a quarter into the page, widening the page to hold it.

        The onset is at ``page_start + page_s / 4`` (context before it, the event after it), as a
        clinician reads a seizure from its onset on. The page grows to the next of
        :data:`PAGE_SIZES` when the event and ``context_s`` after it (default 5 s) do not fit in the
        three quarters after the onset; an event too long for any page still shows its onset.
        Near the recording's ends the page is clamped, which keeps the onset in view.
        """
        row = self.event(key)
        self.selected = row.key
        ev = row.event
        context = 5.0 if context_s is None else float(context_s)
        need = (ev.duration + context) / 0.75
        if need > self.page_s:
            bigger = [p for p in PAGE_SIZES if p >= need]
            self.page_s = min(bigger[0] if bigger else need, max(self.duration, 1.0))
        self.goto(ev.onset - self.page_s / 4)

    def _neighbour(self, direction: int, *, unreviewed: bool) -> tuple[str, int] | None:
        items = self._filtered()  # by onset, kind and id of the first event: the items' own order
        current = self._index.find(*self.selected) if self.selected is not None else None
        if current is not None and self._key(current) != tuple(self.selected):
            current = None
        todo = _member_of(self._index.status[items], {"unreviewed"})
        if unreviewed:
            keep = todo | (items == current)
            items, todo = items[keep], todo[keep]
        if not items.size:
            return None
        at = int(np.searchsorted(items, current)) if current is not None else -1
        if 0 <= at < items.size and items[at] == current:
            i = at + direction
        else:
            centre = self.page_start + self.page_s / 2
            i = int(np.searchsorted(self._index.onset[items], centre, side="right" if direction > 0 else "left"))
            i = i if direction > 0 else i - 1
        if unreviewed:
            while 0 <= i < items.size and not todo[i]:
                i += direction
        return self._key(int(items[i])) if 0 <= i < items.size else None

    def next_event(self, direction: int = 1, *, unreviewed: bool = False) -> tuple[str, int] | None:
        """Jump to the next (``direction=1``) or previous (-1) listed event; return its key or None."""
        key = self._neighbour(direction, unreviewed=unreviewed)
        if key is not None:
            self.jump_to(key)
        return key

    # ------------------------------------------------------------------ review actions (undoable, durable)
    def _write(self, kind: EventKind, id_: int, values: dict) -> StoredAnnotation:
        update = self.archive.update_detection if kind == "detection" else self.archive.update_annotation
        stored = update(id_, reviewer=self.reviewer, **values)
        self.reload_events()
        return stored

    def _run(self, cmd) -> None:
        cmd.apply(self, undo=False)
        self._history.done.append(cmd)
        self._history.undone.clear()
        if isinstance(cmd, AddCommand):
            self.reload_events()

    def _edit(self, key: tuple[str, int] | None, text: str, **after) -> StoredAnnotation:
        key = self.selected if key is None else tuple(key)
        if key is None:
            raise EegmonError("no event is selected.")
        row = self.event(key)
        # a decision is on the item: every detector's event and annotation of this seizure
        edits = [EditCommand(kind, ev.id, {k: getattr(ev, k) for k in after}, after, text)
                 for kind, ev in row.item.members]
        self._run(ItemCommand(edits, text))
        return self.event(key).event

    def confirm(self, key: tuple[str, int] | None = None) -> StoredAnnotation:
        """Mark the selected (or given) event confirmed; on disk when this returns."""
        return self._edit(key, "confirm", status="confirmed")

    def reject(self, key: tuple[str, int] | None = None) -> StoredAnnotation:
        """Mark the selected (or given) event rejected; on disk when this returns."""
        return self._edit(key, "reject", status="rejected")

    def set_status(self, status: str, key: tuple[str, int] | None = None) -> StoredAnnotation:
        """Set any review status (``unreviewed`` too)."""
        check_option("status", status, REVIEW_STATUSES)
        return self._edit(key, f"mark {status}", status=status)

    def relabel(self, label: str, key: tuple[str, int] | None = None) -> StoredAnnotation:
        """Change the label (from the vocabulary); on disk when this returns."""
        label = check_option("label", label, VOCABULARY)
        return self._edit(key, f"relabel {label}", label=label)

    def adjust(self, onset: float, offset: float, key: tuple[str, int] | None = None) -> StoredAnnotation:
        """Move the onset/offset of an event (absolute seconds); on disk when this returns."""
        onset, offset = float(onset), float(offset)
        if offset < onset:
            raise EegmonError(f"The offset must not be before the onset, got {onset} and {offset}.")
        return self._edit(key, "adjust", onset=onset, duration=offset - onset)

    def add_annotation(self, onset: float, offset: float, label: str = "sz",
                       channels: Sequence[str] = ()) -> tuple[str, int]:
        """Add a reviewer annotation (source ``reviewer:<name>``, status confirmed); return its key."""
        onset, offset = float(onset), float(offset)
        if offset <= onset:
            raise EegmonError(f"An annotation needs offset > onset, got {onset} and {offset}.")
        label = check_option("label", label, VOCABULARY)
        ann = Annotation(onset=onset, duration=offset - onset, label=label, channels=tuple(channels),
                         source=f"reviewer:{self.reviewer}", status="confirmed")
        cmd = AddCommand(ann, f"add {label}")
        self._run(cmd)
        self.selected = self.event(("annotation", cmd.id)).key  # it may join the item of a detection
        return self.selected

    @property
    def can_undo(self) -> bool:
        """True when there is an action to undo."""
        return bool(self._history.done)

    @property
    def can_redo(self) -> bool:
        """True when there is an undone action to redo."""
        return bool(self._history.undone)

    def undo(self) -> str | None:
        """Undo the last action (a durable edit restoring the previous values); return its text."""
        if not self._history.done:
            return None
        cmd = self._history.done.pop()
        cmd.apply(self, undo=True)
        self._history.undone.append(cmd)
        return cmd.text

    def redo(self) -> str | None:
        """Redo the last undone action; return its text."""
        if not self._history.undone:
            return None
        cmd = self._history.undone.pop()
        cmd.apply(self, undo=False)
        self._history.done.append(cmd)
        self.reload_events()
        return cmd.text
