"""Putting samples into an archive: live segments and whole recordings, resumable after a crash.

Sample data goes into a new immutable segment file (``_segment_file.py``) before a manifest commit
mentions it, so a crash loses at most the segment being written. Each source file is fingerprinted
and listed in the sources table once all its segments are committed: a completed file is skipped by
the next import, a cut-short one is imported again from scratch.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._checks import check_number
from .._logging import logger, progress
from ..errors import EegmonError
from ..events import Annotation
from ..io._files import fingerprint as file_fingerprint
from ..recording import Recording, physical_range
from ._layout import DECIMATION, IO_SAMPLES, from_ns, n_levels, to_ns
from ._segment_file import write_segment_file
from .events import EventTable
from .manifest import Manifest, ManifestState

#: Most raw sample bytes in one segment file: a segment is built in memory before it is written
#: (:func:`eegmon._atomic.atomic_h5`), so longer pieces of many-channel recordings are split.
SEGMENT_BYTES = 256 * 2**20


@dataclass(frozen=True)
class ImportReport:
    """What :meth:`Archive.import_recording` did."""

    imported: tuple[str, ...]
    skipped: tuple[str, ...]
    n_segments: int
    n_samples: int
    n_annotations: int


class Importer:
    """Writes segments into one archive and keeps its sources table.

    Parameters
    ----------
    manifest : Manifest
        The archive's manifest, through which every segment is committed.
    annotations : EventTable
        The archive's annotations, which an import adds the recording's to.
    """

    def __init__(self, manifest: Manifest, annotations: EventTable) -> None:
        self.manifest = manifest
        self.annotations = annotations

    @property
    def sources(self) -> list[dict]:
        """The sources table: one row per imported file (fingerprint, path, n_samples, complete)."""
        return [dict(r) for r in self.manifest.state.sources]

    def has_source(self, fingerprint: str) -> bool:
        """True if a file with this fingerprint was completely imported."""
        return any(r["fingerprint"] == fingerprint and r["complete"] for r in self.manifest.state.sources)

    def _io_step(self) -> int:
        return max(IO_SAMPLES, DECIMATION ** n_levels(self.manifest.fs))

    def _check_no_overlap(self, start_ns: int, stop_ns: int, source: str, ignore: frozenset = frozenset()) -> None:
        """Raise naming both files if ``[start_ns, stop_ns)`` overlaps a stored segment (not in ``ignore``)."""
        tol = int(0.5e9 / self.manifest.fs)
        for r in self.manifest.segment_rows:
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
            self.manifest.seg_dir / name,
            chunks,
            n_samples=n_samples,
            n_channels=len(self.manifest.channels),
            dtype=dtype,
            fs=self.manifest.fs,
            start_ns=start_ns,
            gain=gain,
            offset=offset,
            channels=self.manifest.channels,
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

        try:
            return int(self.manifest.commit(add))
        except BaseException:
            # not in the manifest: remove it now rather than leave it for the next writer's clean-up
            with suppress(OSError):
                (self.manifest.seg_dir / name).unlink(missing_ok=True)
            raise

    def append_segment(
        self, start: float, digital: np.ndarray, gain: Sequence[float], offset: Sequence[float], *, source: str = ""
    ) -> int:
        """Store one contiguous block of digital samples as a new segment; return its id."""
        self.manifest.require_writable()
        n_ch = len(self.manifest.channels)
        digital = np.asarray(digital)
        if digital.dtype not in (np.int16, np.int32) or digital.ndim != 2 or digital.shape[0] != n_ch:
            raise EegmonError(
                f"digital must be an int16 or int32 array of shape ({n_ch}, n), got {digital.dtype} {digital.shape}."
            )
        gain, offset = np.asarray(gain, float), np.asarray(offset, float)
        if (
            gain.shape != (n_ch,)
            or offset.shape != gain.shape
            or not (np.all(np.isfinite(gain)) and np.all(np.isfinite(offset)))
        ):
            raise EegmonError(f"gain and offset must be {n_ch} finite numbers.")
        start = check_number("start", start)
        n = digital.shape[1]
        if n == 0:
            raise EegmonError("digital has no samples.")
        start_ns = to_ns(start)
        stop_ns = start_ns + int(round(n * 1e9 / self.manifest.fs))
        self._check_no_overlap(start_ns, stop_ns, source)
        step = self._io_step()
        chunks = (digital[:, i : i + step] for i in range(0, n, step))
        return self._write_segment(start_ns, stop_ns, n, chunks, digital.dtype, gain, offset, source, "", 0)

    @staticmethod
    def _fingerprints(rec: Recording) -> dict[str, str]:
        sources = sorted({s.source for s in rec.segments})
        return {s: file_fingerprint(s) if s and Path(s).is_file() else "" for s in sources}

    def check_recording(self, rec: Recording, fingerprints: dict[str, str] | None = None) -> None:
        """Raise EegmonError if ``rec`` cannot be imported (channels, rate, overlap); write nothing."""
        channels, fs = self.manifest.channels, self.manifest.fs
        src = rec.meta.get("source") or (rec.segments[0].source if rec.segments else None)
        if tuple(rec.channels) != channels:
            raise EegmonError(f"channels {list(rec.channels)} differ from the archive's {list(channels)}.", src)
        if abs(rec.fs - fs) > 1e-9 * fs:
            raise EegmonError(f"sampling rate {rec.fs:g} Hz differs from the archive's {fs:g} Hz.", src)
        fingerprints = self._fingerprints(rec) if fingerprints is None else fingerprints
        for seg in rec.segments:
            if self.has_source(fingerprints.get(seg.source, "")):
                continue
            # segments of an earlier, interrupted import of this same file will be replaced
            stale = frozenset(
                r["file"] for r in self.manifest.segment_rows if r["source_fingerprint"] == fingerprints.get(seg.source)
            )
            start_ns = to_ns(seg.start)
            self._check_no_overlap(start_ns, start_ns + int(round(seg.n_samples * 1e9 / fs)), seg.source, stale)

    def import_recording(
        self,
        rec: Recording,
        *,
        max_segment_s: float = 86400.0,
        quiet: bool = True,
        annotations: Iterable[Annotation] = (),
    ) -> ImportReport:
        """Import a recording, skipping files imported before; see :meth:`Archive.import_recording`."""
        self.manifest.require_writable()
        max_segment_s = check_number("max_segment_s", max_segment_s, low=1.0)
        fs = self.manifest.fs
        fps = self._fingerprints(rec)
        sources = sorted(fps)
        self.check_recording(rec, fps)
        skipped = tuple(s for s in sources if fps[s] and self.has_source(fps[s]))
        todo = [s for s in rec.segments if s.source not in skipped]
        stale = {fps[s] for s in sources if s not in skipped and fps[s]}
        if stale & {r["source_fingerprint"] for r in self.manifest.segment_rows}:
            self.manifest.commit(
                lambda st: st.segments.__setitem__(
                    slice(None), [r for r in st.segments if r["source_fingerprint"] not in stale]
                )
            )
        step = self._io_step()
        pieces = []
        for seg in todo:
            fits = SEGMENT_BYTES // (len(self.manifest.channels) * np.dtype(seg.dtype).itemsize)
            max_n = max(step, int(min(max_segment_s * fs, fits)) // step * step)
            pieces += [(seg, a, min(a + max_n, seg.n_samples)) for a in range(0, seg.n_samples, max_n)]
        done = 0
        last_piece = {p[0].source: i for i, p in enumerate(pieces)}
        for i, (seg, a, b) in enumerate(progress(pieces, total=len(pieces), desc="import", quiet=quiet, unit="seg")):
            chunks = (seg.read_digital(j, min(j + step, b)) for j in range(a, b, step))
            # times from the source's start in integer ns, so split pieces abut exactly
            base = to_ns(seg.start)
            self._write_segment(
                base + int(round(a * 1e9 / fs)),
                base + int(round(b * 1e9 / fs)),
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
                self.manifest.commit(
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
        n_before = len(self.annotations)
        self.annotations.add(anns)
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
            n_annotations=len(self.annotations) - n_before,
        )
