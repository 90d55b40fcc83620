"""Small file helpers: readable-file checks, content fingerprints, number cells, atomic text writes."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

from .._atomic import atomic_write
from ..errors import EegmonError

_FINGERPRINT_BLOCK = 1 << 20


def check_file(path: str | os.PathLike, *, what: str = "file") -> Path:
    """Return ``path`` as a Path if it is a readable, non-empty regular file, else raise EegmonError."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise EegmonError(f"no such {what}.", path) from None
    except OSError as err:
        raise EegmonError(f"cannot access {what}: {err.strerror or err}.", path) from None
    if not path.is_file():
        raise EegmonError(f"expected a {what}, got a directory or special file.", path)
    if st.st_size == 0:
        raise EegmonError(f"empty {what} (0 bytes).", path)
    if not os.access(path, os.R_OK):
        raise EegmonError(f"cannot read {what}: permission denied.", path)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a text file (UTF-8) under a temporary name, fsync and rename it: a reader sees the old or the
    new file, never half of one."""
    with atomic_write(path, "w") as f:
        f.write(text)


def fingerprint(path: str | os.PathLike) -> str:
    """SHA-256 over the size, the first and the last MiB of a file.

    Cheap enough to run on every file of a device folder before import, and it tells apart two
    recordings even when they share a header (different data or length).
    """
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        h.update(f.read(_FINGERPRINT_BLOCK))
        if size > _FINGERPRINT_BLOCK:
            f.seek(max(size - _FINGERPRINT_BLOCK, _FINGERPRINT_BLOCK))
            h.update(f.read(_FINGERPRINT_BLOCK))
    return h.hexdigest()


def parse_number(text: str, what: str, lineno: int, path: Path, *, allow_na: bool = False) -> float | None:
    """A finite number from an annotation file's cell, or a clear error naming the line (``n/a`` -> None
    when ``allow_na``)."""
    text = text.strip()
    if allow_na and text.lower() in ("n/a", "na", ""):
        return None
    try:
        value = float(text)
    except ValueError:
        raise EegmonError(f"line {lineno}: {what} must be a number, got {text!r}.", path) from None
    if not math.isfinite(value):
        raise EegmonError(f"line {lineno}: {what} must be finite, got {text!r}.", path)
    return value
