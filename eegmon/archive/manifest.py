"""The manifest ``ARCHIVE.h5``: every table of the archive, and its journal of event edits.

A commit brings the manifest up to date under an exclusive ``flock`` on ``ARCHIVE.h5.d/lock``,
applies one change and writes the whole manifest back through :func:`eegmon._atomic.atomic_h5`
(temporary file, fsync, rename, fsync of the folder), so a reader (or a restart after kill -9)
sees either the old or the new manifest, never a mix, and no writer loses another's change.

Edits of existing event rows (a review decision) are the exception: rewriting a manifest of tens
of thousands of events for each decision took about a second, so :meth:`Manifest.commit_events`
appends the edited rows, whole, as one record to the journal of the current manifest
(``ARCHIVE.h5.d/events-<token>.journal``; ``token`` is the manifest's ``journal_token``
attribute, new at every full write) and fsyncs it. A record is framed by its length and CRC-32:
a reader applies the complete records in order and stops at a torn one, so a crash mid-append
loses that one decision whole and nothing else. The next full write folds the journal into the
tables; the new manifest has a new token, so the old journal (deleted after the rename, or by
the next writer after a crash) is never applied twice.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from .._atomic import TEMP_MARKER, atomic_h5, exclusive_lock, fsync_dir
from ..errors import EegmonError
from ._layout import (
    EVENT_DTYPE,
    EVENT_FIELDS,
    FORMAT,
    FORMAT_VERSION,
    GAP_DTYPE,
    SEGMENT_DTYPE,
    SOURCE_DTYPE,
    from_ns,
)

#: Unreferenced segment files younger than this may belong to a writer that has not committed yet.
_ORPHAN_AGE_S = 600.0
#: The names of the tables that hold events (their rows have the columns of ``EVENT_DTYPE``).
EVENT_TABLE_NAMES = ("annotations", "detections")
#: A journal longer than this is folded into the manifest by the next event commit (a full write),
#: so opening an archive never replays more than about this much.
JOURNAL_MAX_BYTES = 1 << 20
#: Frame of a journal record: payload length and CRC-32 (little-endian uint32 each), then the payload.
_FRAME = struct.Struct("<II")


def _no_events() -> np.ndarray:
    return np.zeros(0, dtype=EVENT_DTYPE)


@dataclass(eq=False)
class ManifestState:
    """In-memory copy of the manifest: attributes, row dicts of the small tables, event tables as arrays.

    ``annotations`` and ``detections`` are structured arrays of ``EVENT_DTYPE`` (strings as
    ``str`` objects), read-only once read or committed: an archive holds tens of thousands of
    events, and a Python object per row made opening a month of recording take a second.
    ``token`` names the manifest file the state was read from (``""``: never written) and
    ``journal_bytes`` says how much of that file's journal is folded in.
    """

    channels: tuple[str, ...]
    fs: float
    created_ns: int
    segments: list[dict] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)
    annotations: np.ndarray = field(default_factory=_no_events)
    detections: np.ndarray = field(default_factory=_no_events)
    meta: dict = field(default_factory=dict)
    token: str = ""
    journal_bytes: int = 0
    #: ``(table, row index)`` of the event rows :meth:`put_event` replaced (what a journal record holds).
    edited: list[tuple[str, int]] = field(default_factory=list, compare=False, repr=False)

    def table(self, name: str) -> list[dict] | np.ndarray:
        """One table: ``"segments"`` or ``"sources"`` (row dicts), ``"annotations"`` or ``"detections"`` (arrays)."""
        if name not in ("segments", "sources", *EVENT_TABLE_NAMES):
            raise ValueError(f"no manifest table {name!r}.")
        return getattr(self, name)

    def set_events(self, name: str, rows: np.ndarray) -> None:
        """Replace a whole event table (rows of ``EVENT_DTYPE``), e.g. with rows added."""
        if name not in EVENT_TABLE_NAMES:
            raise ValueError(f"no event table {name!r}.")
        setattr(self, name, rows)

    def writable_events(self, name: str) -> np.ndarray:
        """An event table to change in place: the table itself, or a copy of it when it is shared (read-only)."""
        table = self.table(name)
        if not table.flags.writeable:
            table = table.copy()
            self.set_events(name, table)
        return table

    def put_event(self, name: str, index: int, row: dict) -> None:
        """Replace row ``index`` of an event table with ``row`` (a dict of every column); noted in :attr:`edited`."""
        self.writable_events(name)[index] = tuple(row[f] for f in EVENT_FIELDS)
        self.edited.append((name, int(index)))

    def copy(self) -> ManifestState:
        """A copy a commit may change: the small tables' rows copied, each event table on its first change."""
        return ManifestState(self.channels, self.fs, self.created_ns, [dict(r) for r in self.segments],
                             [dict(r) for r in self.sources], self.annotations, self.detections,
                             dict(self.meta), self.token, self.journal_bytes)

    def freeze(self) -> None:
        """Make the event tables read-only (the state is shared once read or committed; copies share them)."""
        for name in EVENT_TABLE_NAMES:
            self.table(name).flags.writeable = False

    def gaps(self) -> list[tuple[int, int]]:
        """(start_ns, stop_ns) of the holes between consecutive segments (> half a sample)."""
        out = []
        segs = sorted(self.segments, key=lambda s: s["start_ns"])
        tol = int(0.5e9 / self.fs)
        for a, b in zip(segs, segs[1:], strict=False):
            if b["start_ns"] - a["stop_ns"] > tol:
                out.append((a["stop_ns"], b["start_ns"]))
        return out


def _table(rows: list[dict], dtype: np.dtype) -> np.ndarray:
    arr = np.zeros(len(rows), dtype=dtype)
    for name in dtype.names:
        arr[name] = [r[name] for r in rows] if rows else []
    return arr


def _events(ds: h5py.Dataset) -> np.ndarray:
    """An event table as stored, its strings decoded (each distinct string once: most repeat)."""
    raw = ds[()]
    out = np.empty(len(raw), dtype=EVENT_DTYPE)
    for name in EVENT_FIELDS:
        col = raw[name]
        if EVENT_DTYPE[name].kind != "O":
            out[name] = col
            continue
        memo: dict = {}
        out[name] = [memo[v] if v in memo else memo.setdefault(v, v.decode("utf-8") if isinstance(v, bytes) else v)
                     for v in col.tolist()]
    return out


def _rows(ds: h5py.Dataset) -> list[dict]:
    arr = ds[()]
    names = arr.dtype.names
    out = []
    for rec in arr:
        row = {}
        for n, v in zip(names, rec.tolist(), strict=True):
            row[n] = v.decode("utf-8") if isinstance(v, bytes) else v
        out.append(row)
    return out


def journal_path(path: Path, token: str) -> Path:
    """The journal of event edits of the manifest ``path`` whose ``journal_token`` is ``token``."""
    return segment_dir(path) / f"events-{token}.journal"


def read_token(path: Path) -> str:
    """The ``journal_token`` of the manifest at ``path`` (``""`` for a manifest written without one)."""
    with h5py.File(path, "r") as f:
        token = f.attrs.get("journal_token", "")
    return token.decode() if isinstance(token, bytes) else str(token)


def read_journal(path: Path, offset: int = 0) -> tuple[list[list], int] | None:
    """The complete records of a journal from byte ``offset`` on, and the offset after the last one.

    None when the journal does not exist. A record cut short or damaged (a crash mid-append) ends
    the journal: it and anything after it are not applied.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return None
    records, at = [], 0
    while at + _FRAME.size <= len(data):
        length, crc = _FRAME.unpack_from(data, at)
        payload = data[at + _FRAME.size : at + _FRAME.size + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            break
        records.append(json.loads(payload))
        at += _FRAME.size + length
    return records, offset + at


def _append_journal(path: Path, offset: int, record: list) -> int:
    """Append one record at ``offset`` (dropping a torn tail a crashed writer left), fsync; return the new end."""
    payload = json.dumps(record, separators=(",", ":")).encode()
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
        frame = _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
        done = 0
        while done < len(frame):
            done += os.write(fd, frame[done:])
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        fsync_dir(path.parent)  # the journal's name must survive a power cut too
    return offset + len(frame)


def _apply_journal(state: ManifestState, records: list[list]) -> None:
    """Apply journal records to ``state`` (a copy): each row replaces the row with its id."""
    sorters: dict[str, np.ndarray] = {}  # ids are unique in a table and never change: one argsort each
    for record in records:
        for name, row in record:
            table = state.writable_events(name)
            if name not in sorters:
                sorters[name] = np.argsort(table["id"], kind="stable")
            at = sorters[name][np.searchsorted(table["id"], row["id"], sorter=sorters[name])]
            table[at] = tuple(row[f] for f in EVENT_FIELDS)


def write_manifest(path: Path, state: ManifestState) -> None:
    """Write ``state`` to ``path`` atomically (temp file, fsync, rename, fsync directory).

    The manifest gets a new ``journal_token`` (set on ``state``, with ``journal_bytes`` 0): the
    journal of the manifest it replaces is folded in and never read again.
    """
    token = secrets.token_hex(8)
    with atomic_h5(path) as f:
        f.attrs.update(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "fs": state.fs,
                "units": "uV",
                "channels": list(state.channels),
                "created_ns": state.created_ns,
                "segment_dir": path.name + ".d",
                "journal_token": token,
            }
        )
        for k, v in state.meta.items():
            f.attrs[f"meta_{k}"] = v
        tables = {
            "segments": _table(sorted(state.segments, key=lambda s: s["start_ns"]), SEGMENT_DTYPE),
            "sources": _table(state.sources, SOURCE_DTYPE),
            "annotations": state.annotations,
            "detections": state.detections,
        }
        for name, rows in tables.items():
            f.create_dataset(name, data=rows, maxshape=(None,), chunks=True)
        gaps = np.array(state.gaps(), dtype=np.int64).reshape(-1, 2)
        g = np.zeros(len(gaps), dtype=GAP_DTYPE)
        g["start_ns"], g["stop_ns"] = gaps[:, 0], gaps[:, 1]
        f.create_dataset("gaps", data=g)
    state.token, state.journal_bytes = token, 0


def read_manifest(path: Path) -> ManifestState:
    """Read the manifest at ``path`` with its journal of event edits applied."""
    for _ in range(100):
        state = _read_manifest_file(path)
        if not state.token:
            break
        journal = read_journal(journal_path(path, state.token))
        if journal is not None:
            records, state.journal_bytes = journal
            _apply_journal(state, records)
            break
        # no journal: none written yet, or a writer folded it into a newer manifest since we opened
        # ours (and deleted it); in that case read the newer one
        if read_token(path) == state.token:
            break
    state.freeze()
    return state


def _read_manifest_file(path: Path) -> ManifestState:
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise EegmonError(f"not an eegmon archive (format attribute {f.attrs.get('format')!r}).", path)
            version = int(f.attrs["format_version"])
            if version > FORMAT_VERSION:
                raise EegmonError(
                    f"archive format version {version} is newer than this eegmon ({FORMAT_VERSION}); upgrade eegmon.",
                    path,
                )
            meta = {
                k[5:]: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items() if k.startswith("meta_")
            }
            return ManifestState(
                channels=tuple(str(c) for c in f.attrs["channels"]),
                fs=float(f.attrs["fs"]),
                created_ns=int(f.attrs["created_ns"]),
                segments=_rows(f["segments"]),
                sources=_rows(f["sources"]),
                annotations=_events(f["annotations"]),
                detections=_events(f["detections"]),
                meta=meta,
                token=str(f.attrs.get("journal_token", "")),
            )
    except OSError as err:
        raise EegmonError(f"cannot open archive manifest: {err}", path) from None


def segment_dir(path: Path) -> Path:
    """The folder ``<path>.d`` beside the manifest ``path`` (segment files, derived data, the lock)."""
    return path.with_name(path.name + ".d")


@contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold the archive's writer lock (an exclusive ``flock`` on ``<path>.d/lock``) for the block."""
    with exclusive_lock(segment_dir(path) / "lock"):
        yield


def remove_orphans(path: Path) -> None:
    """Delete what crashed writers left beside the manifest ``path``: unreferenced segment files and
    temporary files older than ``_ORPHAN_AGE_S`` (a younger one may be a live writer's)."""
    seg_dir = segment_dir(path)
    now = time.time()
    with writer_lock(path):
        try:
            with h5py.File(path, "r") as f:
                referenced = {v.decode() if isinstance(v, bytes) else v for v in f["segments"]["file"]}
        except OSError as err:
            raise EegmonError(f"cannot open archive manifest: {err}", path) from None
        leftovers = {p for p in seg_dir.glob("seg_*") if p.name not in referenced}
        leftovers |= set(seg_dir.glob(f"*{TEMP_MARKER}*"))
        leftovers |= set(path.parent.glob(f"{path.name}{TEMP_MARKER}*"))
        for p in leftovers:
            try:
                if now - p.stat().st_mtime > _ORPHAN_AGE_S:
                    p.unlink()
            except FileNotFoundError:
                pass
        # journals of replaced manifests (a writer crashed between the rename and the deletion):
        # folded into the current manifest, never read again; only writers make them, under this lock
        current = journal_path(path, read_token(path))
        for p in seg_dir.glob("events-*.journal"):
            if p != current:
                p.unlink(missing_ok=True)


def create_manifest(path: Path, channels: tuple[str, ...], fs: float, meta: dict) -> ManifestState:
    """Write a new, empty manifest and make its segment folder; return its state."""
    if path.exists():
        raise EegmonError("archive already exists; open it (or import with --append) instead.", path)
    if not path.parent.is_dir():
        raise EegmonError("the archive's parent directory does not exist.", path)
    segment_dir(path).mkdir(exist_ok=True)
    state = ManifestState(channels=channels, fs=fs, created_ns=time.time_ns(), meta=dict(meta))
    write_manifest(path, state)
    state.freeze()
    return state


@dataclass(frozen=True)
class SegmentInfo:
    """One row of the segments table (times in seconds since the epoch)."""

    id: int
    file: str
    start: float
    stop: float
    n_samples: int
    source: str


class Manifest:
    """The manifest of one open archive: its tables as last read, and durable commits.

    Every change goes through :meth:`commit`; the other parts of :class:`~eegmon.archive.Archive`
    read :attr:`state` and never change it themselves.

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
        self.seg_dir = segment_dir(path)
        self.writable = writable
        self._set(state)

    def _set(self, state: ManifestState) -> None:
        self._state = state
        self._segments = sorted(state.segments, key=lambda r: r["start_ns"])
        self._starts = np.array([r["start_ns"] for r in self._segments], dtype=np.int64)
        self._stops = np.array([r["stop_ns"] for r in self._segments], dtype=np.int64)

    # ------------------------------------------------------------------ what is stored
    @property
    def state(self) -> ManifestState:
        """The manifest as last read or committed (do not change it; use :meth:`commit`)."""
        return self._state

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names in storage order."""
        return self._state.channels

    @property
    def fs(self) -> float:
        """Sampling rate in Hz."""
        return self._state.fs

    @property
    def segment_rows(self) -> list[dict]:
        """Rows of the segments table ordered by start time."""
        return self._segments

    @property
    def starts(self) -> np.ndarray:
        """``start_ns`` of :attr:`segment_rows`."""
        return self._starts

    @property
    def stops(self) -> np.ndarray:
        """``stop_ns`` of :attr:`segment_rows`."""
        return self._stops

    def segments(self) -> list[SegmentInfo]:
        """The segments table as :class:`SegmentInfo`, ordered by start time."""
        return [
            SegmentInfo(
                int(r["id"]), r["file"], from_ns(r["start_ns"]), from_ns(r["stop_ns"]), int(r["n_samples"]), r["source"]
            )
            for r in self._segments
        ]

    def overlapping(self, start_ns: int, stop_ns: int) -> range:
        """Indices into :attr:`segment_rows` of the segments that may overlap ``[start_ns, stop_ns)``."""
        i0 = max(int(np.searchsorted(self._stops, start_ns, side="right")) - 1, 0)
        i1 = int(np.searchsorted(self._starts, stop_ns, side="left"))
        # stops are not sorted if segments ever overlapped; they never do, so this is exact
        return range(i0, i1)

    # ------------------------------------------------------------------ changing it
    def _current(self) -> ManifestState:
        """The manifest as on disk now: :attr:`state` plus journal records appended since, else a full read.

        Under the writer lock this is what a commit changes. A commit by this handle or another
        that appended to the journal costs a look at the token and the journal's new bytes; a
        full write by another handle (a new token) costs a full read.
        """
        state = self._state
        if state.token and read_token(self.path) == state.token:
            journal = read_journal(journal_path(self.path, state.token), state.journal_bytes)
            if journal is None and state.journal_bytes == 0:
                return state
            if journal is not None:
                records, end = journal
                if not records:
                    return state
                state = state.copy()
                _apply_journal(state, records)
                state.journal_bytes = end
                state.freeze()
                return state
        return read_manifest(self.path)

    def refresh(self) -> None:
        """Re-read the manifest (to see what another process committed)."""
        self._set(self._current())

    def require_writable(self) -> None:
        """Raise EegmonError unless this handle was opened for writing."""
        if not self.writable:
            raise EegmonError("archive is open read-only; open it with mode='a' to change it.", self.path)

    def commit(self, change: Callable[[ManifestState], object]) -> object:
        """Apply ``change`` to the current on-disk manifest and write it durably; return its result.

        ``change`` gets a copy of the manifest as it is on disk under the lock, so concurrent
        writers never lose each other's changes; when this returns, the change is on disk.
        """
        self.require_writable()
        with writer_lock(self.path):
            result, state = self._write(change)
        self._set(state)
        return result

    def _write(self, change: Callable[[ManifestState], object]) -> tuple[object, ManifestState]:
        """Apply ``change`` to a copy of the current manifest and write it whole; under the writer lock."""
        state = self._current().copy()
        folded = journal_path(self.path, state.token) if state.token else None
        result = change(state)
        write_manifest(self.path, state)
        if folded is not None:
            folded.unlink(missing_ok=True)  # now in the manifest; a crash before this leaves it to remove_orphans
        state.edited.clear()
        state.freeze()
        return result, state

    def commit_events(self, change: Callable[[ManifestState], object]) -> object:
        """Like :meth:`commit` for a change that only edits existing event rows (:meth:`ManifestState.put_event`).

        The edited rows go to the manifest's journal as one record (fsynced): all of them are on
        disk when this returns, or, after a crash mid-append, none. Its cost grows with the edit,
        not with the archive. A long journal is folded by a full write instead.
        """
        self.require_writable()
        with writer_lock(self.path):
            base = self._current()
            if not base.token or base.journal_bytes > JOURNAL_MAX_BYTES:
                result, state = self._write(change)
            else:
                state = base.copy()
                result = change(state)
                edited = dict.fromkeys(state.edited)  # a row edited twice: its last value, once
                record = [[name, dict(zip(EVENT_FIELDS, state.table(name)[i].item(), strict=True))]
                          for name, i in edited]
                if record:
                    state.journal_bytes = _append_journal(journal_path(self.path, state.token),
                                                          base.journal_bytes, record)
                state.edited.clear()
                state.freeze()
        self._set(state)
        return result
