"""Crash-safe file writes: a file appears under its name only complete and on disk.

Every writer in eegmon that replaces or creates a file does it the same way: write a temporary
file in the same folder (``<name>.tmp-<random>``, so a rename never crosses file systems), fsync
it, rename it over the target with :func:`os.replace` (atomic on POSIX) and fsync the folder so
the rename itself survives a power cut. A reader, or a restart after ``kill -9``, sees the old
file or the new one, never a mix. If the block raises, the temporary file is removed and the old
file is left untouched; a hard crash can leave a temporary behind, and a name with ``.tmp-`` in it
is never a finished file.

HDF5 files are built in memory and written in one go when complete (:func:`atomic_h5`): HDF5
2.0 crashes the process (a segmentation fault) when it closes a file after a failed write to
disk, such as on a full or read-only file system, so HDF5 itself must never write to disk. A
failed write is then an ordinary ``OSError`` and the temporary file is removed.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from ._checks import check_option

#: Marker in the name of every temporary file made here (what crash clean-ups look for).
TEMP_MARKER = ".tmp-"


def fsync_path(path: str | os.PathLike) -> None:
    """fsync a file or (on POSIX) a directory by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike) -> None:
    """fsync a directory, so that renames and new names in it are durable (a no-op off POSIX)."""
    if os.name == "posix":
        fsync_path(path)


def temp_path(path: str | os.PathLike) -> Path:
    """A fresh temporary name beside ``path``: ``<name>.tmp-<8 hex digits>``."""
    path = Path(path)
    return path.with_name(f"{path.name}{TEMP_MARKER}{secrets.token_hex(4)}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` durably.

    For writers that open a file by name (h5py, zipfile, edfio). The yielded path does not exist
    yet. When the block ends without error the temporary file is fsynced, renamed over ``path``
    and the folder fsynced; when it raises, the temporary file is deleted and ``path`` is left as
    it was.

    Parameters
    ----------
    path : path-like
        The file to create or replace; its folder must exist.

    Examples
    --------
    >>> with atomic_path(out) as tmp:  # doctest: +SKIP
    ...     with h5py.File(tmp, "w") as f:
    ...         f["x"] = data
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):  # e.g. a read-only file system: the original error matters
            tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


@contextmanager
def atomic_h5(path: str | os.PathLike, **kwargs) -> Iterator:
    """Create an HDF5 file (an ``h5py.File`` open for writing) that replaces ``path`` durably.

    The file is built in memory (HDF5's core driver) and written to a temporary file when the
    block ends, then fsynced and renamed as in :func:`atomic_path`: HDF5 never sees a failing disk
    (see the module docstring), and memory holds one file, so callers keep files bounded (a
    segment, a feature block, a manifest).

    Parameters
    ----------
    path : path-like
        The file to create or replace; its folder must exist.
    **kwargs
        More ``h5py.File`` arguments, e.g. ``libver``.

    Raises
    ------
    OSError
        The file could not be written (the disk is full, read-only, failing); ``path`` is untouched.
    """
    import h5py

    with atomic_path(path) as tmp:
        f = h5py.File(tmp, "w", driver="core", backing_store=True, **kwargs)
        try:
            yield f
        except BaseException:
            with suppress(Exception):  # the image is discarded; only the caller's error matters
                f.close()
            raise
        try:
            f.close()  # writes the image
        except RuntimeError as err:  # h5py reports some failed writes of the image as RuntimeError
            raise OSError(str(err)) from err


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, encoding: str = "utf-8") -> Iterator[IO]:
    """Open a file for writing that replaces ``path`` durably when the block ends without error.

    Parameters
    ----------
    path : path-like
        The file to create or replace; its folder must exist.
    mode : {"wb", "w"}
        Binary or text.
    encoding : str
        Text encoding (text mode only).

    Yields
    ------
    file : file object
        Open on the temporary file; see :func:`atomic_path` for what happens at the end.
    """
    check_option("mode", mode, ("wb", "w"))
    text = {"encoding": encoding} if mode == "w" else {}
    with atomic_path(path) as tmp, open(tmp, mode.replace("w", "x"), **text) as f:
        yield f


@contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block: one writer at a time."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
