"""Deprecated: the demo is one module, :mod:`eegmon.demo` (``replay_demo`` moved there)."""

from __future__ import annotations

from eegmon._deprecated import moved


def _true_onsets():
    from eegmon.demo import true_seizures

    return lambda folder: [a.onset for a in true_seizures(folder)]


__getattr__ = moved(__name__, {
    "replay_demo": ("eegmon.demo.replay_demo", None),
    "true_onsets": ("eegmon.demo.true_seizures (Annotations, not onsets)", _true_onsets),
})
