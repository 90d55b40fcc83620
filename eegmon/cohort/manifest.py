"""The run manifest: what went in (with checksums), with which parameters, what came out, how long it took.

It is one JSON file in the output folder, replaced atomically as recordings finish (at most every
few seconds, see :meth:`Manifest.set`) and at the end, so a run that is killed keeps what it
finished, but for the last few seconds. A re-run skips a recording when its entry says done,
its inputs have the same checksums, the parameters and eegmon version are the same and its outputs
are still there with the recorded sizes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import EegmonError
from ..io._files import write_text_atomic

NAME = "batch-manifest.json"
FORMAT = "eegmon-batch/1"


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's content."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def file_checksum(path: str) -> tuple[str, int, int, str]:
    """``(path, size, mtime_ns, sha256)`` of a file; the stat is taken first, so a file changed while it
    is read gets a new stat next time and is hashed again."""
    st = os.stat(path)
    return path, st.st_size, st.st_mtime_ns, sha256(Path(path))


def digest_of(obj: Any) -> str:
    """Short SHA-256 of a JSON-able object (keys sorted), to compare parameter sets."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


class Manifest:
    """The run manifest of one output folder.

    Parameters
    ----------
    out_dir : Path
        The output folder; the manifest is ``out_dir / "batch-manifest.json"``.
    """

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / NAME
        self._saved_at, self._save_s = float("-inf"), 0.0
        self.doc: dict[str, Any] = {"format": FORMAT, "recordings": {}, "files": {}, "runs": []}
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise EegmonError(f"cannot read the run manifest ({err}); move it away to start afresh.",
                                  self.path) from None
            if doc.get("format") != FORMAT:
                raise EegmonError(f"not an eegmon batch manifest (format {doc.get('format')!r}, expected "
                                  f"{FORMAT!r}).", self.path)
            self.doc = doc

    @property
    def recordings(self) -> dict[str, dict[str, Any]]:
        """Entries by recording base name."""
        return self.doc["recordings"]

    def stale(self, path: Path) -> bool:
        """Whether the file's cached checksum is missing or its size or mtime changed since."""
        st = path.stat()
        cached = self.doc["files"].get(str(path.resolve()))
        return cached is None or cached["size"] != st.st_size or cached["mtime_ns"] != st.st_mtime_ns

    def store(self, path: str, size: int, mtime_ns: int, digest: str) -> None:
        """Cache a checksum computed elsewhere (by :func:`file_checksum` on a worker)."""
        self.doc["files"][str(Path(path).resolve())] = {"size": size, "mtime_ns": mtime_ns, "sha256": digest}

    def checksum(self, path: Path) -> dict[str, Any]:
        """``{path, size, sha256}`` of an input file; the hash is reused while size and mtime are unchanged."""
        if self.stale(path):
            self.store(*file_checksum(str(path)))
        cached = self.doc["files"][str(path.resolve())]
        return {"path": str(path), "size": cached["size"], "sha256": cached["sha256"]}

    def may_skip(self, base: str, params_id: str) -> bool:
        """Whether a recording has a result under the same parameters (its inputs decide the rest)."""
        entry = self.recordings.get(base)
        return entry is not None and entry.get("params_id") == params_id and entry.get("inputs_id") is not None

    def up_to_date(self, base: str, inputs_id: str, params_id: str, *, retry_failed: bool) -> bool:
        """Whether a recording's last result stands: same inputs and parameters, outputs intact.

        A failed recording stands too (it would fail again) unless ``retry_failed``.
        """
        entry = self.recordings.get(base)
        if entry is None or entry["inputs_id"] != inputs_id or entry["params_id"] != params_id:
            return False
        if entry["status"] == "failed":
            return not retry_failed
        return all(Path(o["path"]).is_file() and Path(o["path"]).stat().st_size == o["size"]
                   for o in entry["outputs"])

    def set(self, base: str, entry: dict[str, Any]) -> None:
        """Record a recording's result; write the manifest when a write is due.

        A write is due once ten times the last write's duration (and at least a second) has
        passed: the manifest of a cohort of 30,000 recordings is tens of MB, and writing it after
        every recording would cost more than the work. A crash loses at most the entries of that
        interval; those recordings are simply run again.
        """
        self.recordings[base] = entry
        if time.monotonic() - self._saved_at >= max(1.0, 10.0 * self._save_s):
            self.save()

    def save(self) -> None:
        """Write the manifest atomically (a reader sees the old or the new one, never half)."""
        t0 = time.monotonic()
        self.doc["eegmon_version"] = __version__
        write_text_atomic(self.path, json.dumps(self.doc, indent=1) + "\n")
        self._saved_at = time.monotonic()
        self._save_s = self._saved_at - t0
