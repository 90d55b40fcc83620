"""The recording archive: crash-safe, appendable, random access in absolute time.

See the package docstring and the README for the on-disk layout. Durability rules:

- sample data goes into a new immutable segment file (temp + fsync + rename) before the manifest
  mentions it, so a crash loses at most the segment being written;
- every change to a table (segments, sources, annotations, detections) is a manifest commit:
  under an exclusive ``flock`` the current manifest is re-read, changed, written to a temporary
  file, fsynced and renamed over the old one. When a method returns, its change is on disk.
"""

from __future__ import annotations

import fcntl
import math
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np

from .._checks import check_number, check_option
from .._logging import logger, progress
from ..errors import EegmonError
from ..events import REVIEW_STATUSES, Annotation
from ..io._files import fingerprint as file_fingerprint
from ..io.labels import VOCABULARY
from ..recording import Recording, physical_range
from ._layout import DECIMATION, IO_SAMPLES, from_ns, n_levels, to_ns
from ._manifest import ManifestState, read_manifest, write_manifest
from ._segment_file import fsync_path, write_segment_file

_OPEN_FILES = 128
#: Unreferenced segment files younger than this may belong to a writer that has not committed yet.
_ORPHAN_AGE_S = 600.0


@dataclass(frozen=True)
class StoredAnnotation(Annotation):
    """An :class:`~eegmon.events.Annotation` as stored in the archive, with its review trail.

    Parameters
    ----------
    id : int
        Row id, unique within its table (annotations or detections).
    reviewer : str | None
        Who last edited it.
    edited_at : float | None
        When it was last edited, seconds since the Unix epoch.
    """

    id: int = -1
    reviewer: str | None = None
    edited_at: float | None = None


@dataclass(frozen=True)
class _SegmentHandle:
    """An open segment file with its datasets and scaling looked up once."""

    file: h5py.File
    data: h5py.Dataset
    levels: list[h5py.Dataset]
    gain: np.ndarray
    offset: np.ndarray
    digital_range: np.ndarray | None


@dataclass(frozen=True)
class SegmentInfo:
    """One row of the segments table (times in seconds since the epoch)."""

    id: int
    file: str
    start: float
    stop: float
    n_samples: int
    source: str


@dataclass(frozen=True)
class ImportReport:
    """What :meth:`Archive.import_recording` did."""

    imported: tuple[str, ...]
    skipped: tuple[str, ...]
    n_segments: int
    n_samples: int
    n_annotations: int


def _event_row(ev: Annotation, id_: int, *, reviewer: str = "", edited_at_ns: int = 0) -> dict:
    return {
        "id": id_,
        "onset_ns": to_ns(ev.onset),
        "duration_s": float(ev.duration),
        "label": ev.label,
        "original_label": ev.original_label or "",
        "channels": ",".join(ev.channels),
        "confidence": math.nan if ev.confidence is None else float(ev.confidence),
        "source": ev.source,
        "status": ev.status,
        "reviewer": reviewer,
        "edited_at_ns": edited_at_ns,
    }


def _row_event(row: dict) -> StoredAnnotation:
    conf = row["confidence"]
    return StoredAnnotation(
        onset=from_ns(row["onset_ns"]),
        duration=float(row["duration_s"]),
        label=row["label"],
        channels=tuple(c for c in row["channels"].split(",") if c),
        confidence=None if math.isnan(conf) else conf,
        original_label=row["original_label"] or None,
        source=row["source"],
        status=row["status"],
        id=int(row["id"]),
        reviewer=row["reviewer"] or None,
        edited_at=from_ns(row["edited_at_ns"]) if row["edited_at_ns"] else None,
    )


def _event_key(row: dict) -> tuple:
    return (
        row["onset_ns"],
        round(row["duration_s"], 6),
        row["label"],
        row["original_label"],
        row["channels"],
        row["source"],
    )


def _check_event(ev: Annotation, what: str) -> None:
    if not isinstance(ev, Annotation):
        raise EegmonError(f"{what} must be eegmon.events.Annotation objects, got {type(ev).__name__}.")
    if not (math.isfinite(ev.onset) and math.isfinite(ev.duration) and ev.duration >= 0):
        raise EegmonError(
            f"{what} need a finite onset and a duration >= 0, got onset={ev.onset!r}, duration={ev.duration!r}."
        )
    check_option("status", ev.status, REVIEW_STATUSES)


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
        self.path = path
        self.seg_dir = path.with_name(path.name + ".d")
        self._state = state
        self._writable = writable
        self._files: OrderedDict[str, _SegmentHandle] = OrderedDict()
        self._index()

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
        path = Path(path)
        channels = tuple(str(c) for c in channels)
        if not channels or len(set(channels)) != len(channels):
            raise EegmonError(f"channels must be a non-empty list of unique names, got {list(channels)}.")
        fs = check_number("fs", fs, low=0, low_inclusive=False)
        if path.exists():
            raise EegmonError("archive already exists; open it (or import with --append) instead.", path)
        if not path.parent.is_dir():
            raise EegmonError("the archive's parent directory does not exist.", path)
        seg_dir = path.with_name(path.name + ".d")
        seg_dir.mkdir(exist_ok=True)
        state = ManifestState(channels=channels, fs=fs, created_ns=time.time_ns(), meta=dict(meta or {}))
        write_manifest(path, state)
        return cls(path, state, writable=True)

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
            arc._remove_orphans()
        return arc

    def close(self) -> None:
        """Close cached segment files."""
        for h in self._files.values():
            h.file.close()
        self._files.clear()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<Archive {self.path.name}: {len(self.channels)} ch @ {self.fs:g} Hz, "
            f"{len(self._state.segments)} segments, {len(self._state.annotations)} annotations>"
        )

    def refresh(self) -> None:
        """Re-read the manifest (to see what another process committed)."""
        self._state = read_manifest(self.path)
        self._index()

    # ------------------------------------------------------------------ properties
    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names in storage order."""
        return self._state.channels

    @property
    def fs(self) -> float:
        """Sampling rate in Hz."""
        return self._state.fs

    @property
    def segments(self) -> list[SegmentInfo]:
        """The segments table, ordered by start time."""
        return [
            SegmentInfo(
                int(r["id"]), r["file"], from_ns(r["start_ns"]), from_ns(r["stop_ns"]), int(r["n_samples"]), r["source"]
            )
            for r in self._segs
        ]

    @property
    def physical_range(self) -> np.ndarray:
        """Each channel's (low, high) range in µV over every stored segment, shape (n_channels, 2).

        A sample held at a rail is clipping; the range is the widest its sources declared (an
        EDF header's physical range per channel).
        """
        known = self._state.meta.get("physical_range")
        if known is not None:
            return np.asarray(known, dtype=float)
        if not self._segs:
            raise EegmonError("the archive holds no samples yet.", self.path)
        h = self._handle(self._segs[0]["file"])  # archives written before the range was kept
        return physical_range(h.gain, h.offset, h.data.dtype, h.digital_range)

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """``(start, stop)`` of every gap between segments, seconds since the epoch."""
        return [(from_ns(a), from_ns(b)) for a, b in self._state.gaps()]

    @property
    def start(self) -> float:
        """Time of the first sample (NaN when empty)."""
        return from_ns(self._starts[0]) if len(self._starts) else math.nan

    @property
    def stop(self) -> float:
        """Time just after the last sample (NaN when empty)."""
        return from_ns(self._stops.max()) if len(self._stops) else math.nan

    @property
    def n_samples(self) -> int:
        """Samples per channel over all segments."""
        return int(sum(r["n_samples"] for r in self._segs))

    @property
    def sources(self) -> list[dict]:
        """The sources table: one row per imported file (fingerprint, path, n_samples, complete)."""
        return [dict(r) for r in self._state.sources]

    def has_source(self, fingerprint: str) -> bool:
        """True if a file with this fingerprint was completely imported."""
        return any(r["fingerprint"] == fingerprint and r["complete"] for r in self._state.sources)

    # ------------------------------------------------------------------ writing
    def _require_writable(self) -> None:
        if not self._writable:
            raise EegmonError("archive is open read-only; open it with mode='a' to change it.", self.path)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        fd = os.open(self.seg_dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _commit(self, change: Callable[[ManifestState], object]) -> object:
        """Apply ``change`` to the current on-disk manifest and write it durably; return its result."""
        self._require_writable()
        with self._lock():
            state = read_manifest(self.path)
            result = change(state)
            write_manifest(self.path, state)
        self._state = state
        self._index()
        return result

    def _remove_orphans(self) -> None:
        """Delete what crashed writers left: unreferenced segment files and manifest temporaries."""
        now = time.time()
        with self._lock():
            referenced = {r["file"] for r in read_manifest(self.path).segments}
            leftovers = [p for p in self.seg_dir.glob("seg_*") if p.name not in referenced]
            leftovers += list(self.path.parent.glob(self.path.name + ".tmp-*"))
            for p in leftovers:
                try:
                    if now - p.stat().st_mtime > _ORPHAN_AGE_S:
                        p.unlink()
                except FileNotFoundError:
                    pass

    def _check_no_overlap(self, start_ns: int, stop_ns: int, source: str, ignore: frozenset = frozenset()) -> None:
        """Raise naming both files if ``[start_ns, stop_ns)`` overlaps a stored segment (not in ``ignore``)."""
        tol = int(0.5e9 / self.fs)
        for r in self._segs:
            if r["file"] not in ignore and start_ns < r["stop_ns"] - tol and r["start_ns"] < stop_ns - tol:
                raise EegmonError(
                    f"overlaps data already in the archive from {r['source'] or r['file']} "
                    f"({from_ns(r['start_ns']):.3f}-{from_ns(r['stop_ns']):.3f} s since epoch).",
                    source or None,
                )

    def _write_segment(
        self,
        start_ns: int,
        stop_ns: int,
        n_samples: int,
        chunks: Iterable[np.ndarray],
        dtype: np.dtype,
        gain: np.ndarray,
        offset: np.ndarray,
        source: str,
        fingerprint: str,
        source_offset: int,
        digital_range: np.ndarray | None = None,
    ) -> int:
        name = f"seg_{start_ns:020d}_{uuid.uuid4().hex[:8]}.h5"
        write_segment_file(
            self.seg_dir / name,
            chunks,
            n_samples=n_samples,
            n_channels=len(self.channels),
            dtype=dtype,
            fs=self.fs,
            start_ns=start_ns,
            gain=gain,
            offset=offset,
            channels=self.channels,
            source=source,
            source_offset=source_offset,
            digital_range=digital_range,
        )

        rails = physical_range(gain, offset, dtype, digital_range)

        def add(state: ManifestState) -> int:
            known = state.meta.get("physical_range")
            state.meta["physical_range"] = rails if known is None else np.column_stack(
                [np.minimum(known[:, 0], rails[:, 0]), np.maximum(known[:, 1], rails[:, 1])])
            new_id = max((r["id"] for r in state.segments), default=0) + 1
            state.segments.append(
                {
                    "id": new_id,
                    "file": name,
                    "start_ns": start_ns,
                    "stop_ns": stop_ns,
                    "n_samples": n_samples,
                    "source": source,
                    "source_fingerprint": fingerprint,
                    "source_offset": source_offset,
                }
            )
            return new_id

        return int(self._commit(add))

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
        self._require_writable()
        digital = np.asarray(digital)
        if digital.dtype not in (np.int16, np.int32) or digital.ndim != 2 or digital.shape[0] != len(self.channels):
            raise EegmonError(
                f"digital must be an int16 or int32 array of shape ({len(self.channels)}, n), "
                f"got {digital.dtype} {digital.shape}."
            )
        gain, offset = np.asarray(gain, float), np.asarray(offset, float)
        if (
            gain.shape != (len(self.channels),)
            or offset.shape != gain.shape
            or not (np.all(np.isfinite(gain)) and np.all(np.isfinite(offset)))
        ):
            raise EegmonError(f"gain and offset must be {len(self.channels)} finite numbers.")
        start = check_number("start", start)
        n = digital.shape[1]
        if n == 0:
            raise EegmonError("digital has no samples.")
        start_ns = to_ns(start)
        stop_ns = start_ns + int(round(n * 1e9 / self.fs))
        self._check_no_overlap(start_ns, stop_ns, source)
        step = self._io_step()
        chunks = (digital[:, i : i + step] for i in range(0, n, step))
        return self._write_segment(start_ns, stop_ns, n, chunks, digital.dtype, gain, offset, source, "", 0)

    def _io_step(self) -> int:
        return max(IO_SAMPLES, DECIMATION ** n_levels(self.fs))

    @staticmethod
    def _fingerprints(rec: Recording) -> dict[str, str]:
        sources = sorted({s.source for s in rec.segments})
        return {s: file_fingerprint(s) if s and Path(s).is_file() else "" for s in sources}

    def check_recording(self, rec: Recording, fingerprints: dict[str, str] | None = None) -> None:
        """Raise EegmonError if ``rec`` cannot be imported (channels, rate, overlap); write nothing.

        Files already imported (same fingerprint) are not checked: an import skips them.
        """
        src = rec.meta.get("source") or (rec.segments[0].source if rec.segments else None)
        if tuple(rec.channels) != self.channels:
            raise EegmonError(f"channels {list(rec.channels)} differ from the archive's {list(self.channels)}.", src)
        if abs(rec.fs - self.fs) > 1e-9 * self.fs:
            raise EegmonError(f"sampling rate {rec.fs:g} Hz differs from the archive's {self.fs:g} Hz.", src)
        fingerprints = self._fingerprints(rec) if fingerprints is None else fingerprints
        for seg in rec.segments:
            if self.has_source(fingerprints.get(seg.source, "")):
                continue
            # segments of an earlier, interrupted import of this same file will be replaced
            stale = frozenset(r["file"] for r in self._segs if r["source_fingerprint"] == fingerprints.get(seg.source))
            start_ns = to_ns(seg.start)
            self._check_no_overlap(start_ns, start_ns + int(round(seg.n_samples * 1e9 / self.fs)), seg.source, stale)

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
            length, so a crash loses at most this much.
        quiet : bool
            No progress bar.
        annotations : iterable of Annotation
            Further annotations to add with the recording's own (deduplicated).
        """
        self._require_writable()
        max_segment_s = check_number("max_segment_s", max_segment_s, low=1.0)
        fps = self._fingerprints(rec)
        sources = sorted(fps)
        self.check_recording(rec, fps)
        skipped = tuple(s for s in sources if fps[s] and self.has_source(fps[s]))
        todo = [s for s in rec.segments if s.source not in skipped]
        stale = {fps[s] for s in sources if s not in skipped and fps[s]}
        if stale & {r["source_fingerprint"] for r in self._segs}:
            self._commit(
                lambda st: st.segments.__setitem__(
                    slice(None), [r for r in st.segments if r["source_fingerprint"] not in stale]
                )
            )
        step = self._io_step()
        max_n = max(step, int(max_segment_s * self.fs) // step * step)
        pieces = [(seg, a, min(a + max_n, seg.n_samples)) for seg in todo for a in range(0, seg.n_samples, max_n)]
        done = 0
        last_piece = {p[0].source: i for i, p in enumerate(pieces)}
        for i, (seg, a, b) in enumerate(progress(pieces, total=len(pieces), desc="import", quiet=quiet, unit="seg")):
            chunks = (seg.read_digital(j, min(j + step, b)) for j in range(a, b, step))
            # times from the source's start in integer ns, so split pieces abut exactly
            base = to_ns(seg.start)
            self._write_segment(
                base + int(round(a * 1e9 / self.fs)),
                base + int(round(b * 1e9 / self.fs)),
                b - a,
                chunks,
                np.dtype(seg.dtype),
                seg.gain,
                seg.offset,
                seg.source,
                fps.get(seg.source, ""),
                seg.source_offset + a,
                seg.digital_range,
            )
            done += b - a
            if last_piece[seg.source] == i and fps.get(seg.source):
                n_src = sum(s.n_samples for s in todo if s.source == seg.source)
                self._commit(
                    lambda st, src=seg.source, n=n_src: st.sources.append(
                        {
                            "fingerprint": fps[src],
                            "path": src,
                            "n_samples": n,
                            "complete": 1,
                            "imported_at_ns": time.time_ns(),
                        }
                    )
                )
        # a skipped file's own annotations were stored with it; explicit ones are deduplicated on add
        anns = [
            e
            for e in rec.annotations
            if not any(
                s.start - 1e-6 <= e.onset <= s.start + s.n_samples / rec.fs for s in rec.segments if s.source in skipped
            )
        ] + list(annotations)
        n_before = len(self._state.annotations)
        self.add_annotations(anns)
        logger.debug(
            "imported %d file(s), skipped %d already imported; %d samples",
            len(sources) - len(skipped),
            len(skipped),
            done,
        )
        return ImportReport(
            imported=tuple(s for s in sources if s not in skipped),
            skipped=skipped,
            n_segments=len(pieces),
            n_samples=done,
            n_annotations=len(self._state.annotations) - n_before,
        )

    # ------------------------------------------------------------------ event tables
    def _add_events(self, table: str, events: Iterable[Annotation]) -> list[int]:
        events = list(events)
        for ev in events:
            _check_event(ev, table)

        def add(state: ManifestState) -> list[int]:
            rows = getattr(state, table)
            known = {_event_key(r): r["id"] for r in rows}
            next_id = max((r["id"] for r in rows), default=0) + 1
            ids = []
            for ev in events:
                row = _event_row(ev, next_id)
                key = _event_key(row)
                if key in known:
                    ids.append(int(known[key]))
                    continue
                rows.append(row)
                known[key] = next_id
                ids.append(next_id)
                next_id += 1
            return ids

        return list(self._commit(add)) if events else []

    def _events(self, table: str, start: float | None, stop: float | None) -> list[StoredAnnotation]:
        out = [_row_event(r) for r in getattr(self._state, table)]
        if start is not None:
            out = [e for e in out if e.offset >= start]
        if stop is not None:
            out = [e for e in out if e.onset < stop]
        return sorted(out, key=lambda e: (e.onset, e.id))

    def _update_event(self, table: str, id: int, reviewer: str | None, **changes) -> StoredAnnotation:
        changes = {k: v for k, v in changes.items() if v is not None}
        if "status" in changes:
            check_option("status", changes["status"], REVIEW_STATUSES)
        if "label" in changes:
            check_option("label", changes["label"], VOCABULARY)
        for name in ("onset", "duration"):
            if name in changes:
                changes[name] = check_number(name, changes[name], low=0 if name == "duration" else None)
        if "confidence" in changes:
            changes["confidence"] = check_number("confidence", changes["confidence"], low=0, high=1)
        if "channels" in changes:
            changes["channels"] = tuple(str(c) for c in changes["channels"])
            unknown = set(changes["channels"]) - set(self.channels)
            if unknown:
                raise EegmonError(f"unknown channel(s) {sorted(unknown)}; the archive has {list(self.channels)}.")

        def edit(state: ManifestState) -> StoredAnnotation:
            rows = getattr(state, table)
            for i, row in enumerate(rows):
                if row["id"] == id:
                    ev = replace(_row_event(row), **changes)
                    rows[i] = _event_row(ev, id, reviewer=reviewer or row["reviewer"], edited_at_ns=time.time_ns())
                    return _row_event(rows[i])
            raise EegmonError(f"no {table[:-1]} with id {id}.", self.path)

        return self._commit(edit)  # type: ignore[return-value]

    def annotations(self, start: float | None = None, stop: float | None = None) -> list[StoredAnnotation]:
        """Annotations overlapping ``[start, stop)`` (all by default), ordered by onset."""
        return self._events("annotations", start, stop)

    def add_annotations(self, events: Iterable[Annotation]) -> list[int]:
        """Add annotations durably; return their ids (an identical existing row is reused, not duplicated)."""
        return self._add_events("annotations", events)

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
        return self._update_event(
            "annotations",
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
        return self._events("detections", start, stop)

    def add_detections(self, events: Iterable[Annotation]) -> list[int]:
        """Add detector output durably (``source`` should be ``detector:<name>``); return ids."""
        return self._add_events("detections", events)

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
        return self._update_event(
            "detections", id, reviewer, status=status, label=label, onset=onset, duration=duration
        )

    # ------------------------------------------------------------------ features
    def write_features(self, table) -> None:
        """Store a block of window features (an ``eegmon.features.FeatureTable``) durably.

        Each block is an immutable file ``ARCHIVE.h5.d/feat_<first_ns>_<last_ns>.h5`` (window end
        times) holding the table as :meth:`FeatureTable.to_hdf5` writes it, made through a
        temporary file, fsync and rename: a crash loses at most the block being written.
        """
        self._require_writable()
        if len(table) == 0:
            return
        first, last = to_ns(float(table.times[0])), to_ns(float(table.times[-1]))
        path = self.seg_dir / f"feat_{first:020d}_{last:020d}.h5"
        tmp = path.with_name(path.name + ".tmp")
        with h5py.File(tmp, "w") as f:
            table.to_hdf5(f)
        fsync_path(tmp)
        os.replace(tmp, path)
        fsync_path(self.seg_dir)

    def _feature_files(self) -> list[tuple[int, int, Path]]:
        out = []
        for path in self.seg_dir.glob("feat_*.h5"):
            first, last = path.stem.split("_")[1:3]
            out.append((int(first), int(last), path))
        return sorted(out)

    @property
    def features_stop(self) -> float | None:
        """End time of the last stored feature window (s since the epoch), None without features."""
        files = self._feature_files()
        return from_ns(max(last for _, last, _ in files)) if files else None

    def features(self, start: float | None = None, stop: float | None = None):
        """Stored window features with end times in ``[start, stop)`` as one ``FeatureTable`` (None if none)."""
        from ..features import FeatureTable

        lo = -np.inf if start is None else start
        hi = np.inf if stop is None else stop
        tables = []
        for first, last, path in self._feature_files():
            if from_ns(last) < lo or from_ns(first) >= hi:
                continue
            with h5py.File(path, "r") as f:
                t = FeatureTable.from_hdf5(f)
            keep = (t.times >= lo) & (t.times < hi)
            tables.append(FeatureTable(t.times[keep], t.values[keep], t.feature_names, t.channel_names))
        return FeatureTable.concat(tables) if tables else None

    # ------------------------------------------------------------------ trends
    def _trend_path(self, name: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        return self.seg_dir / f"trend_{safe}.h5"

    def write_trend(self, name: str, times: np.ndarray, values: np.ndarray) -> None:
        """Store (replace) a named trend, e.g. a detector's seizure probability per minute.

        Written to ``ARCHIVE.h5.d/trend_<name>.h5`` (datasets ``time_ns``, int64 bin starts, and
        ``value``, float32; attribute ``name``) through a temporary file, fsync and rename, so a
        reader sees the old or the new trend, never half of one.
        """
        self._require_writable()
        times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=np.float32)
        if times.shape != values.shape or times.ndim != 1:
            raise EegmonError(f"trend times and values must be 1-D of equal length, got {times.shape} and "
                              f"{values.shape}.")
        path = self._trend_path(name)
        tmp = path.with_name(path.name + ".tmp")
        with h5py.File(tmp, "w") as f:
            f.attrs["name"] = name
            f.create_dataset("time_ns", data=(times * 1e9).round().astype(np.int64))
            f.create_dataset("value", data=values)
        fsync_path(tmp)
        os.replace(tmp, path)
        fsync_path(self.seg_dir)

    def trends(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every stored trend: ``{name: (bin start times in s since the epoch, values)}``."""
        out = {}
        for path in sorted(self.seg_dir.glob("trend_*.h5")):
            with h5py.File(path, "r") as f:
                out[str(f.attrs["name"])] = (f["time_ns"][()] / 1e9, f["value"][()].astype(float))
        return out

    # ------------------------------------------------------------------ reading
    def _index(self) -> None:
        self._segs = sorted(self._state.segments, key=lambda r: r["start_ns"])
        self._starts = np.array([r["start_ns"] for r in self._segs], dtype=np.int64)
        self._stops = np.array([r["stop_ns"] for r in self._segs], dtype=np.int64)

    def _handle(self, name: str) -> _SegmentHandle:
        if name in self._files:
            self._files.move_to_end(name)
            return self._files[name]
        try:
            f = h5py.File(self.seg_dir / name, "r")
        except OSError as err:
            raise EegmonError(f"cannot open segment file {name}: {err}", self.seg_dir / name) from None
        data = f["data"]
        levels = [f[f"minmax/L{k}"] for k in range(1, len(f["minmax"]) + 1)]
        entry = _SegmentHandle(f, data, levels, data.attrs["gain"][()], data.attrs["offset"][()],
                               data.attrs["digital_range"][()] if "digital_range" in data.attrs else None)
        self._files[name] = entry
        if len(self._files) > _OPEN_FILES:
            self._files.popitem(last=False)[1].file.close()
        return entry

    def _channel_index(self, channels: Sequence[str] | str | None) -> np.ndarray:
        if channels is None:
            return np.arange(len(self.channels))
        if isinstance(channels, str):
            channels = [channels]
        idx = []
        for c in channels:
            check_option("channels", c, self.channels)
            idx.append(self.channels.index(c))
        return np.array(idx, dtype=int)

    def _overlapping(self, start_ns: int, stop_ns: int) -> range:
        i0 = max(int(np.searchsorted(self._stops, start_ns, side="right")) - 1, 0)
        i1 = int(np.searchsorted(self._starts, stop_ns, side="left"))
        # stops are not sorted if segments ever overlapped; they never do, so this is exact
        return range(i0, i1)

    def _check_span(self, start: float, stop: float) -> tuple[float, float]:
        start = check_number("start", start)
        stop = check_number("stop", stop)
        if stop <= start:
            raise EegmonError(f"stop must be after start, got start={start}, stop={stop}.")
        return start, stop

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
        start, stop = self._check_span(start, stop)
        ch = self._channel_index(channels)
        n = int(round((stop - start) * self.fs))
        out = np.full((len(ch), n), np.nan)
        start_ns, stop_ns = to_ns(start), to_ns(stop)
        all_ch = len(ch) == len(self.channels) and np.array_equal(ch, np.arange(len(ch)))
        for i in self._overlapping(start_ns, stop_ns):
            row = self._segs[i]
            off = int(round((row["start_ns"] - start_ns) * self.fs / 1e9))
            j0, j1 = max(0, -off), min(int(row["n_samples"]), n - off)
            if j1 <= j0:
                continue
            h = self._handle(row["file"])
            gain, offset = h.gain, h.offset
            block = h.data[:, j0:j1]
            if not all_ch:
                block = block[ch]
            out[:, off + j0 : off + j1] = block * gain[ch, None] + offset[ch, None]
        return start, out

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
        start, stop = self._check_span(start, stop)
        n_pixels = int(check_number("n_pixels", n_pixels, low=1, integer=True))
        ch = self._channel_index(channels)
        width = (stop - start) / n_pixels
        mins = np.full((len(ch), n_pixels), np.nan)
        maxs = np.full((len(ch), n_pixels), np.nan)
        levels = n_levels(self.fs)
        level = 0
        while level < levels and DECIMATION ** (level + 1) / self.fs <= width:
            level += 1
        block = DECIMATION**level
        start_ns, stop_ns = to_ns(start), to_ns(stop)
        for i in self._overlapping(start_ns, stop_ns):
            row = self._segs[i]
            seg_t0 = from_ns(row["start_ns"])
            n = int(row["n_samples"])
            j0 = max(0, math.floor((start - seg_t0) * self.fs))
            j1 = min(n, math.ceil((stop - seg_t0) * self.fs))
            if j1 <= j0:
                continue
            b0, b1 = j0 // block, -(-j1 // block)
            h = self._handle(row["file"])
            gain, offset = h.gain, h.offset
            if level == 0:
                raw = h.data[:, b0:b1][ch]
                lo = hi = raw
            else:
                pyr = h.levels[level - 1][:, b0:b1, :][ch]
                lo, hi = pyr[..., 0], pyr[..., 1]
            g, o = gain[ch, None], offset[ch, None]
            lo_uv, hi_uv = lo * g + o, hi * g + o
            lo_uv, hi_uv = np.minimum(lo_uv, hi_uv), np.maximum(lo_uv, hi_uv)
            t = seg_t0 + np.arange(b0, b1) * block / self.fs
            pix = np.clip(np.floor((t - start) / width).astype(np.int64), 0, n_pixels - 1)
            first = np.flatnonzero(np.r_[True, np.diff(pix) > 0])
            p = pix[first]
            mins[:, p] = np.fmin(mins[:, p], np.minimum.reduceat(lo_uv, first, axis=1))
            maxs[:, p] = np.fmax(maxs[:, p], np.maximum.reduceat(hi_uv, first, axis=1))
        edges = start + np.arange(n_pixels + 1) * width
        return edges, mins, maxs

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
        chunk_s = check_number("chunk_s", chunk_s, low=0, low_inclusive=False)
        overlap_s = check_number("overlap_s", overlap_s, low=0)
        if not self._segs:
            return
        t = self.start if start is None else start
        end = self.stop if stop is None else stop
        first = True
        while t < end:
            a = t if first else t - overlap_s
            b = min(t + chunk_s, end)
            a_ns, b_ns = to_ns(a), to_ns(b)
            rows = (self._segs[i] for i in self._overlapping(a_ns, b_ns))
            if any(r["start_ns"] < b_ns and r["stop_ns"] > a_ns for r in rows):
                yield self.read(a, b, channels)
            first = False
            t += chunk_s
