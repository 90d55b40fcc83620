"""Names kept importable for one release after a move: one module ``__getattr__`` for all of them."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved(module: str, names: dict[str, tuple[str, Callable[[], Any] | None]]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` serving names that moved elsewhere, each with a DeprecationWarning.

    Parameters
    ----------
    module : str
        The module's own name (``__name__``).
    names : dict
        Old name -> ``(new dotted path, load)``. ``load`` returns the object to hand out (an
        adapter when the signature changed); None imports the new path itself, lazily.
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new, load = names[name]
        warnings.warn(f"{module}.{name} is deprecated and will be removed in the next release; use {new}.",
                      DeprecationWarning, stacklevel=2)
        if load is not None:
            return load()
        where, _, attr = new.rpartition(".")
        return getattr(importlib.import_module(where), attr)

    return __getattr__
