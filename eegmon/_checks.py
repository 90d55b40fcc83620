"""Validation helpers shared at the API edge (MNE-style messages)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any

from .errors import EegmonError


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise with a suggestion."""
    allowed = list(allowed)
    if value in allowed:
        return value
    options = ", ".join(repr(a) for a in allowed)
    msg = f"Invalid value for the {name!r} parameter. Allowed values are {options}, but got {value!r} instead."
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
    if close:
        msg += f" Did you mean {close[0]!r}?"
    raise EegmonError(msg)


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    integer: bool = False,
) -> float | int:
    """Check that ``value`` is a finite real number in the given range and return it."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = int(value) if integer else float(value)
        except (TypeError, ValueError):
            raise EegmonError(f"{name} must be {kind}, got {value!r}.") from None
    if integer and int(value) != value:
        raise EegmonError(f"{name} must be {kind}, got {value!r}.")
    if not math.isfinite(value):
        raise EegmonError(f"{name} must be a finite number, got {value!r}.")
    lo_ok = low is None or (value >= low if low_inclusive else value > low)
    hi_ok = high is None or (value <= high if high_inclusive else value < high)
    if not (lo_ok and hi_ok):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        left = "[" if low_inclusive and low is not None else "("
        right = "]" if high_inclusive and high is not None else ")"
        interval = f"{left}{lo}, {hi}{right}"
        raise EegmonError(f"{name} must be {kind} in the range {interval}, got {value!r}.")
    return int(value) if integer else float(value)
