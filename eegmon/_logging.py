"""The package logger, the CLI's log set-up, the progress bar and the live status line."""

from __future__ import annotations

import logging
import math
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

logger = logging.getLogger("eegmon")
logger.addHandler(logging.NullHandler())

T = TypeVar("T")


class _StderrHandler(logging.StreamHandler):
    """A handler that writes to ``sys.stderr`` as it is when a record comes, not when it was made.

    So that a :class:`StatusLine`, which wraps ``sys.stderr`` while it runs, is cleared before a log line.
    """

    @property
    def stream(self) -> TextIO:  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ sets it: nothing to keep
        pass


def _own_or_warning(record: logging.LogRecord) -> bool:
    """eegmon's records at any level; other libraries' (apprise, urllib3, requests) from WARNING up only.

    Their INFO lines ("Notifying 1 service(s).") mean nothing to the person watching the monitor.
    """
    return record.levelno >= logging.WARNING or record.name == "eegmon" or record.name.startswith("eegmon.")


def configure(*, debug: bool = False, quiet: bool = False) -> None:
    """Log to stderr, one message a line: INFO by default, WARNING with ``quiet``, everything with ``debug``.

    Third-party INFO and DEBUG records are shown with ``debug`` only. Like
    :func:`logging.basicConfig`, nothing changes when the root logger has handlers already.
    """
    handler = _StderrHandler()
    if not debug:
        handler.addFilter(_own_or_warning)
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler])


def progress(
    iterable: Iterable[T], *, total: int | None = None, desc: str = "", quiet: bool = False, unit: str = "it",
    leave: bool = False,
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when stderr is a terminal and ``quiet`` is False.

    ``leave`` keeps the finished bar on screen: for the one long step of a command, whose bar
    would otherwise vanish before the user looks (the step after a long start-up).
    """
    if quiet or not sys.stderr.isatty():
        yield from iterable
        return
    from tqdm import tqdm

    yield from tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=sys.stderr)


_CLEAR = "\r\x1b[K"  # back to the line's start and erase it (ANSI)


class _Clearing:
    """A text stream that clears the status line before any text goes through it."""

    def __init__(self, stream: TextIO, status: StatusLine) -> None:
        self._stream, self._status = stream, status

    def write(self, text: str) -> int:
        with self._status.lock:
            if text:
                self._status.clear()
            return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class StatusLine:
    """One line of status on a terminal, redrawn in place at most every ``interval_s``.

    Used as a context manager: on entry it draws ``text()`` and wraps ``sys.stdout`` and
    ``sys.stderr`` so that any other output (prints, log lines, console alerts, from any thread)
    first clears the line, which the next redraw brings back; a background thread redraws it
    every ``interval_s`` too, so that it stays current when the caller is blocked (a source
    without data). On exit the line is cleared and the streams restored.

    Parameters
    ----------
    text : callable
        Returns the line to show (cut to the terminal's width).
    stream : text stream
        The terminal.
    interval_s : float
        Least time between two redraws.
    clock : callable
        Monotonic clock (seconds).
    """

    def __init__(self, text: Callable[[], str], stream: TextIO, *, interval_s: float = 0.25,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.text, self.stream, self.interval_s, self.clock = text, stream, interval_s, clock
        self.lock = threading.RLock()
        self._shown = False
        self._drawn = -math.inf
        self._done = threading.Event()
        self._saved: tuple[TextIO, TextIO] | None = None
        self._thread: threading.Thread | None = None

    def refresh(self, *, force: bool = False) -> None:
        """Redraw the line if ``interval_s`` has passed since the last redraw (or ``force``)."""
        with self.lock:
            now = self.clock()
            if not force and now - self._drawn < self.interval_s:
                return
            self._drawn = now
            width = max(shutil.get_terminal_size().columns - 1, 20)
            self.stream.write(_CLEAR + self.text()[:width])
            self.stream.flush()
            self._shown = True

    def clear(self) -> None:
        """Erase the line (if shown) and leave the cursor at its start."""
        with self.lock:
            if self._shown:
                self._shown = False
                self.stream.write(_CLEAR)
                self.stream.flush()

    def _tick(self) -> None:
        while not self._done.wait(self.interval_s):
            self.refresh()

    def __enter__(self) -> StatusLine:
        self._saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Clearing(sys.stdout, self), _Clearing(sys.stderr, self)
        self.refresh(force=True)
        self._thread = threading.Thread(target=self._tick, name="eegmon-status", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        with self.lock:
            self.clear()
            sys.stdout, sys.stderr = self._saved
