"""The package logger and the progress bar used by long-running work."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

logger = logging.getLogger("eegmon")
logger.addHandler(logging.NullHandler())

T = TypeVar("T")


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
