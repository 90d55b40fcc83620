"""Deprecated: the demo is one module, :mod:`eegmon.demo` (``replay_demo`` moved there)."""

from __future__ import annotations

import warnings


def __getattr__(name: str):
    if name not in ("replay_demo", "true_onsets"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from eegmon import demo

    new = "eegmon.demo.replay_demo" if name == "replay_demo" else "eegmon.demo.true_seizures"
    warnings.warn(f"eegmon.streaming.demo.{name} is deprecated and will be removed in the next release; "
                  f"use {new}.", DeprecationWarning, stacklevel=2)
    if name == "replay_demo":
        return demo.replay_demo
    return lambda folder: [a.onset for a in demo.true_seizures(folder)]
