"""The recording archive: crash-safe, appendable, random access in absolute time.

See the package docstring and docs/archive.md for the on-disk layout. :class:`Archive` is a facade over
parts that each do one job and talk through public methods:

- :class:`~eegmon.archive.manifest.Manifest`: opening, the tables as last read, durable commits;
- :class:`~eegmon.archive.importer.Importer`: segments and whole recordings in, the sources table;
- :class:`~eegmon.archive.events.EventTable`: the annotations and the detections tables;
- :class:`~eegmon.archive.derived.DerivedData`: feature blocks and trends beside the segments;
- :class:`~eegmon.archive.reads.SegmentReader`: samples, the min/max pyramid, processing windows.

Durability rules:

- sample data goes into a new immutable segment file (temp + fsync + rename) before the manifest
  mentions it, so a crash loses at most the segment being written;
- every change to a table (segments, sources, annotations, detections) is a manifest commit:
  under an exclusive ``flock`` the current manifest is brought up to date, changed, written to a
  temporary file, fsynced and renamed over the old one. When a method returns, its change is on disk;
- edits of existing events (review decisions: ``update_annotation``, ``update_detection``,
  ``update_events``) are one fsynced, checksummed record appended to the manifest's journal of
  event edits instead (see :mod:`eegmon.archive.manifest`): as durable and all-or-nothing, at a
  cost that does not grow with the number of events. Readers apply the journal; the next full
  commit folds it into the manifest.
"""

from __future__ import annotations

import difflib
import math
import os
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._checks import check_number, check_option
from ..errors import EegmonError
from ..events import Annotation
from ..recording import Recording, Segment
from ._layout import from_ns
from .derived import DerivedData
from .events import EventTable, StoredAnnotation
from .importer import Importer, ImportReport
from .manifest import Manifest, ManifestState, SegmentInfo, create_manifest, read_manifest, remove_orphans
from .reads import SegmentReader

if TYPE_CHECKING:
    import mne

    from ..features import FeatureTable

__all__ = ["Archive", "ImportReport", "SegmentInfo", "StoredAnnotation", "check_time_zone"]

#: The time zone of an archive that never had one set (archives written before time zones were stored).
DEFAULT_TIME_ZONE = "UTC"


def check_time_zone(name: str) -> str:
    """Return ``name`` when it is an IANA time zone this system knows (``Europe/London``), else raise.

    Raises
    ------
    EegmonError
        Saying what was expected and what came.
    """
    try:
        zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        known = {z.casefold(): z for z in zoneinfo.available_timezones()}
        close = difflib.get_close_matches(str(name).casefold(), known, n=1)
        hint = f" Did you mean {known[close[0]]!r}?" if close else ""
        raise EegmonError(f"Expected an IANA time zone name such as 'Europe/London', 'America/New_York' or "
                          f"'UTC', got {name!r}.{hint}") from None
    return str(name)


class Archive:
    """An eegmon recording archive (one patient: one channel set, one sampling rate).

    Use :meth:`create` or :meth:`open`; do not call the constructor. An archive opened for writing
    (``mode="a"``) can import recordings, append segments and edit tables; any number of readers
    may have it open at the same time.

    Parameters
    ----------
    path : Path
        The manifest file ``ARCHIVE.h5``; segment files live in ``ARCHIVE.h5.d/``.
    state : ManifestState
        The manifest as last read.
    writable : bool
        Whether this handle may change the archive.
    """

    def __init__(self, path: Path, state: ManifestState, writable: bool) -> None:
        manifest = Manifest(path, state, writable)
        self._manifest = manifest
        self.path = manifest.path
        self.seg_dir = manifest.seg_dir
        self._annotations = EventTable(manifest, "annotations")
        self._detections = EventTable(manifest, "detections")
        self._importer = Importer(manifest, self._annotations)
        self._derived = DerivedData(manifest)
        self._reader = SegmentReader(manifest)

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(
        cls, path: str | os.PathLike, channels: Sequence[str], fs: float, *, meta: dict | None = None
    ) -> Archive:
        """Create a new, empty archive and return it open for writing.

        Parameters
        ----------
        path : path-like
            The manifest file to create (conventionally ``*.h5``); ``<path>.d/`` is created beside it.
        channels : sequence of str
            Channel names, in storage order.
        fs : float
            Sampling rate in Hz.
        meta : dict | None
            String/number attributes stored as ``meta_<key>`` on the manifest.
        """
        channels = tuple(str(c) for c in channels)
        if not channels or len(set(channels)) != len(channels):
            raise EegmonError(f"channels must be a non-empty list of unique names, got {list(channels)}.")
        fs = check_number("fs", fs, low=0, low_inclusive=False)
        path = Path(path)
        return cls(path, create_manifest(path, channels, fs, meta or {}), writable=True)

    @classmethod
    def open(cls, path: str | os.PathLike, mode: str = "r") -> Archive:
        """Open an existing archive.

        Parameters
        ----------
        path : path-like
            The manifest file ``ARCHIVE.h5``.
        mode : {"r", "a"}
            Read only, or read and write.
        """
        check_option("mode", mode, ("r", "a"))
        path = Path(path)
        if not path.is_file():
            raise EegmonError("no such archive (expected the manifest file written by 'eegmon import').", path)
        arc = cls(path, read_manifest(path), writable=mode == "a")
        if mode == "a":
            remove_orphans(path)
        return arc

    def close(self) -> None:
        """Close cached segment files."""
        self._reader.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<Archive {self.path.name}: {len(self.channels)} ch @ {self.fs:g} Hz, "
            f"{len(self._manifest.segment_rows)} segments, {len(self._annotations)} annotations>"
        )

    def refresh(self) -> None:
        """Re-read the manifest (to see what another process committed)."""
        self._manifest.refresh()

    # ------------------------------------------------------------------ properties
    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names in storage order."""
        return self._manifest.channels

    @property
    def fs(self) -> float:
        """Sampling rate in Hz."""
        return self._manifest.fs

    @property
    def segments(self) -> list[SegmentInfo]:
        """The segments table, ordered by start time."""
        return self._manifest.segments()

    def segment(self, info: SegmentInfo) -> Segment:
        """A row of :attr:`segments` as a :class:`eegmon.recording.Segment` (its digital samples, read
        lazily by sample index, and their scaling to µV): what :func:`eegmon.io.open_recording` streams."""
        return self._reader.segment(info)

    @property
    def physical_range(self) -> np.ndarray:
        """Each channel's (low, high) range in µV over every stored segment, shape (n_channels, 2).

        A sample held at a rail is clipping; the range is the widest its sources declared (an
        EDF header's physical range per channel).
        """
        return self._reader.physical_range

    @property
    def time_zone(self) -> str:
        """The patient's IANA time zone (``Europe/London``): how wall-clock times are shown.

        Times are stored in UTC whatever this says; it only tells readers (the viewer) the local
        time. ``"UTC"`` for an archive that never had one set. Setting it checks the name and
        commits it to the manifest at once (durable when the assignment returns).
        """
        return str(self._manifest.state.meta.get("time_zone", DEFAULT_TIME_ZONE))

    @time_zone.setter
    def time_zone(self, name: str) -> None:
        name = check_time_zone(name)

        def change(state: ManifestState) -> None:
            state.meta["time_zone"] = name

        self._manifest.commit(change)

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """``(start, stop)`` of every gap between segments, seconds since the epoch."""
        return [(from_ns(a), from_ns(b)) for a, b in self._manifest.state.gaps()]

    @property
    def start(self) -> float:
        """Time of the first sample (NaN when empty)."""
        starts = self._manifest.starts
        return from_ns(starts[0]) if len(starts) else math.nan

    @property
    def stop(self) -> float:
        """Time just after the last sample (NaN when empty)."""
        stops = self._manifest.stops
        return from_ns(stops.max()) if len(stops) else math.nan

    @property
    def n_samples(self) -> int:
        """Samples per channel over all segments."""
        return int(sum(r["n_samples"] for r in self._manifest.segment_rows))

    @property
    def sources(self) -> list[dict]:
        """The sources table: one row per imported file (fingerprint, path, n_samples, complete)."""
        return self._importer.sources

    def has_source(self, fingerprint: str) -> bool:
        """True if a file with this fingerprint was completely imported."""
        return self._importer.has_source(fingerprint)

    # ------------------------------------------------------------------ writing samples
    def append_segment(
        self, start: float, digital: np.ndarray, gain: Sequence[float], offset: Sequence[float], *, source: str = ""
    ) -> int:
        """Store one contiguous block of digital samples as a new segment; return its id.

        Parameters
        ----------
        start : float
            Absolute time of the first sample, seconds since the epoch.
        digital : ndarray, shape (n_channels, n_samples), int16 or int32
            Digital samples in the archive's channel order.
        gain, offset : sequence of float, length n_channels
            ``uV = digital * gain + offset`` per channel.
        source : str
            Where the samples come from (file path, ``live:<device>``).
        """
        return self._importer.append_segment(start, digital, gain, offset, source=source)

    def check_recording(self, rec: Recording, fingerprints: dict[str, str] | None = None) -> None:
        """Raise EegmonError if ``rec`` cannot be imported (channels, rate, overlap); write nothing.

        Files already imported (same fingerprint) are not checked: an import skips them.
        """
        self._importer.check_recording(rec, fingerprints)

    def import_recording(
        self,
        rec: Recording,
        *,
        max_segment_s: float = 86400.0,
        quiet: bool = True,
        annotations: Iterable[Annotation] = (),
    ) -> ImportReport:
        """Import a recording (from any reader), skipping files imported before.

        Each source file is fingerprinted; a file whose import completed earlier is skipped (with
        its annotations), one whose import was cut short by a crash is re-imported from scratch.
        Everything is checked before anything is written.

        Parameters
        ----------
        rec : Recording
            The recording; its channels and sampling rate must match the archive's.
        max_segment_s : float
            Longer source segments are stored as several consecutive segment files of at most this
            length (and of at most ``SEGMENT_BYTES``, 256 MiB, of raw samples: a segment is built in
            memory before it is written), so a crash loses at most this much.
        quiet : bool
            No progress bar.
        annotations : iterable of Annotation
            Further annotations to add with the recording's own (deduplicated).
        """
        return self._importer.import_recording(rec, max_segment_s=max_segment_s, quiet=quiet,
                                               annotations=annotations)

    # ------------------------------------------------------------------ event tables
    def annotations(self, start: float | None = None, stop: float | None = None) -> list[StoredAnnotation]:
        """Annotations overlapping ``[start, stop)`` (all by default), ordered by onset."""
        return self._annotations.select(start, stop)

    def add_annotations(self, events: Iterable[Annotation]) -> list[int]:
        """Add annotations durably; return their ids (an identical existing row is reused, not duplicated)."""
        return self._annotations.add(events)

    def update_annotation(
        self,
        id: int,
        *,
        status: str | None = None,
        reviewer: str | None = None,
        label: str | None = None,
        onset: float | None = None,
        duration: float | None = None,
        channels: Sequence[str] | None = None,
        confidence: float | None = None,
    ) -> StoredAnnotation:
        """Edit one annotation (a reviewer's decision); the edit is on disk when this returns.

        Parameters
        ----------
        id : int
            Row id from :meth:`annotations`.
        status : {"unreviewed", "confirmed", "rejected"} | None
            New review status.
        reviewer : str | None
            Who made the edit; stored with the edit time.
        label, onset, duration, channels, confidence
            New values; None leaves a field unchanged.
        """
        return self._annotations.update(
            id,
            reviewer,
            status=status,
            label=label,
            onset=onset,
            duration=duration,
            channels=channels,
            confidence=confidence,
        )

    def detections(self, start: float | None = None, stop: float | None = None) -> list[StoredAnnotation]:
        """Detections overlapping ``[start, stop)`` (all by default), ordered by onset."""
        return self._detections.select(start, stop)

    def add_detections(self, events: Iterable[Annotation]) -> list[int]:
        """Add detector output durably (``source`` should be ``detector:<name>``); return ids."""
        return self._detections.add(events)

    def update_detection(
        self,
        id: int,
        *,
        status: str | None = None,
        reviewer: str | None = None,
        label: str | None = None,
        onset: float | None = None,
        duration: float | None = None,
    ) -> StoredAnnotation:
        """Edit one detection (confirm/reject in review); durable when this returns."""
        return self._detections.update(id, reviewer, status=status, label=label, onset=onset, duration=duration)

    def update_events(self, edits: Sequence[tuple[str, int, dict]], reviewer: str | None = None
                      ) -> list[StoredAnnotation]:
        """Edit several events in one durable commit (a review decision on a review item).

        Parameters
        ----------
        edits : sequence of (kind, id, changes)
            ``kind`` is ``"detection"`` or ``"annotation"``; ``changes`` as for
            :meth:`update_annotation` (``status``, ``label``, ``onset``, ``duration``, ...).
        reviewer : str | None
            Who made the edits.

        Returns
        -------
        list of StoredAnnotation
            The events as stored, in the order of ``edits``. Either all edits are on disk when this
            returns, or (an unknown id, a bad value) none is.
        """
        tables = {"detection": self._detections, "annotation": self._annotations}
        for kind, _, _ in edits:
            check_option("kind", kind, list(tables))
        checked = [(tables[kind], int(id_), tables[kind].checked(dict(changes))) for kind, id_, changes in edits]
        if not checked:
            return []
        return self._manifest.commit_events(lambda state: [table.apply(state, id_, reviewer, changes)
                                                           for table, id_, changes in checked])

    def event_columns(self, table: str) -> np.ndarray:
        """The ``"annotations"`` or ``"detections"`` table as last read: a read-only structured array.

        One record per stored event with the columns of the archive's layout (``id``, ``onset_ns``,
        ``duration_s``, ``label``, ``status``, ...; strings as ``str``), in storage order: for code
        that works on every event at once (grouping a month's review items) without an object per
        event. :meth:`annotations` and :meth:`detections` give the same rows as objects.
        """
        tables = {"annotations": self._annotations, "detections": self._detections}
        check_option("table", table, list(tables))
        return tables[table].columns

    # ------------------------------------------------------------------ features and trends
    def write_features(self, table: FeatureTable) -> None:
        """Store a block of window features (an ``eegmon.features.FeatureTable``) durably.

        Each block is an immutable file ``ARCHIVE.h5.d/feat_<first_ns>_<last_ns>.h5`` (window end
        times) in the layout of :mod:`eegmon.archive.feature_file`, made through a temporary file,
        fsync and rename: a crash loses at most the block being written. An empty table stores nothing.
        """
        self._derived.write_features(table)

    @property
    def features_stop(self) -> float:
        """End time of the last stored feature window (s since the epoch), NaN without features."""
        return self._derived.features_stop

    def features(self, start: float | None = None, stop: float | None = None) -> FeatureTable:
        """Stored window features with end times in ``[start, stop)`` as one ``FeatureTable``.

        Empty (no windows) when none are stored there; with no features stored at all, the empty
        table has the archive's channels and no feature columns.
        """
        return self._derived.features(start, stop)

    def write_trend(self, name: str, times: np.ndarray, values: np.ndarray,
                    attrs: dict[str, str] | None = None) -> None:
        """Store (replace) a named trend, e.g. a detector's seizure probability per minute.

        Written to ``ARCHIVE.h5.d/trend_<name>.h5`` (datasets ``time_ns``, int64 bin starts, and
        ``value``, float32; attribute ``name`` and each of ``attrs`` as ``attr_<key>``) through a
        temporary file, fsync and rename, so a
        reader sees the old or the new trend, never half of one.
        """
        self._derived.write_trend(name, times, values, attrs)

    def trends(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every stored trend: ``{name: (bin start times in s since the epoch, values)}``."""
        return self._derived.trends()

    def trend_attrs(self, name: str) -> dict[str, str]:
        """The string attributes written with trend ``name`` (``attrs`` of :meth:`write_trend`)."""
        return self._derived.trend_attrs(name)

    # ------------------------------------------------------------------ reading
    def read(self, start: float, stop: float, channels: Sequence[str] | str | None = None) -> tuple[float, np.ndarray]:
        """Samples in microvolts over ``[start, stop)`` in absolute time, NaN where there is no data.

        The output is on the grid ``t0 + i / fs`` with ``t0 = start``; a segment's samples are placed
        at the nearest grid point (at most half a sample of shift).

        Parameters
        ----------
        start, stop : float
            Absolute times, seconds since the Unix epoch.
        channels : sequence of str | str | None
            Channels to return, in that order; all by default.

        Returns
        -------
        t0 : float
            Time of the first output sample (``start``).
        data : ndarray of float64, shape (n_channels, round((stop - start) * fs))
            Microvolts; NaN in gaps and outside the recording.
        """
        return self._reader.read(start, stop, channels)

    def minmax(
        self, start: float, stop: float, n_pixels: int, channels: Sequence[str] | str | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-pixel minimum and maximum in microvolts from the pyramid (no raw samples on wide spans).

        Pixel ``p`` covers ``[start + p * w, start + (p + 1) * w)`` with ``w = (stop - start) / n_pixels``.
        The coarsest pyramid level whose blocks are no wider than a pixel is used (raw samples when a
        pixel is narrower than 8 samples); a block is counted in the pixel where it starts.

        Returns
        -------
        edges : ndarray, shape (n_pixels + 1,)
            Pixel boundaries in absolute seconds.
        mins, maxs : ndarray of float64, shape (n_channels, n_pixels)
            NaN for pixels with no data.
        """
        return self._reader.minmax(start, stop, n_pixels, channels)

    def iter_chunks(
        self,
        chunk_s: float,
        overlap_s: float = 0.0,
        *,
        start: float | None = None,
        stop: float | None = None,
        channels: Sequence[str] | str | None = None,
    ) -> Iterator[tuple[float, np.ndarray]]:
        """Yield ``(t0, data)`` windows for processing, skipping windows that fall wholly in gaps.

        Windows step by ``chunk_s``; each (but the first) starts ``overlap_s`` earlier so that it
        overlaps the previous one. ``data`` is as returned by :meth:`read` (NaN in gaps).
        """
        return self._reader.iter_chunks(chunk_s, overlap_s, start=start, stop=stop, channels=channels)

    # ------------------------------------------------------------------ interoperability
    def to_mne(self, start: float | None = None, stop: float | None = None, *,
               channels: Sequence[str] | str | None = None, annotations: bool = True) -> mne.io.RawArray:
        """A span as an MNE Raw in volts with its annotations, detections and gaps: see
        :func:`eegmon.archive.interop.to_mne`."""
        from .interop import to_mne

        return to_mne(self, start, stop, channels=channels, annotations=annotations)
