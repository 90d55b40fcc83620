"""Clinical montages: derivations of a recording's channels, as a weight matrix.

A montage turns the stored channels ``x`` (``n_channels x n_samples``) into derivations
``weights @ x``. Channel names are read as 10-20 / 10-10 electrodes in any case and order, with a
reference suffix or an ``EEG`` prefix (``EEG FP1-REF``, ``Fp1``, ``fp1-le``) and the old names
T3/T4/T5/T6 for T7/T8/P7/P8; a channel ``A-B`` between two electrodes is a bipolar channel.

Every channel is an edge of a graph: a bipolar channel ``A-B`` joins electrodes A and B, a
referential channel ``A`` joins A and the common reference. A derivation ``A-B`` is the signed sum
of the channels on the shortest path from A to B (the differences telescope: ``(A-C) + (C-B)``),
so it is exact whether the file holds referential channels, bipolar ones, or both. An electrode
that no path reaches leaves its derivation out, with a note: never a wrong pair.

Montages (:data:`MONTAGES`):

``referential``
    The channels as stored.
``longitudinal``
    The longitudinal bipolar montage ("double banana", ACNS guideline 3): temporal and
    parasagittal chains front to back, left then right, and the midline.
``transverse``
    The transverse bipolar montage: chains left to right, front to back.
``average``
    Each referential 10-20 scalp electrode minus the mean of them all (needs referential channels;
    ear electrodes A1/A2/M1/M2 are left out of it).
``device``
    For a device's own electrodes (not 10-20, e.g. the 2-4 contacts of a subscalp lead):
    consecutive differences of referential channels ``E1-E2, E2-E3``, or, for bipolar channels
    sharing an electrode, the long derivation across them (``E1-E2 + E2-E3 = E1-E3``).

A montage file (TOML or JSON) lists custom derivations::

    name = "temporal chains"
    derivations = ["Fp1-F7", "F7-T7", "T7-avg", {label = "Cz", positive = "Cz"}]

``A-B`` is A minus B, ``A`` alone is A against the recording's reference, ``A-avg`` is A against
the average reference; a table gives ``positive``, ``negative`` (optional) and ``label``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eegmon.errors import EegmonError

#: Named montages (a montage file's path is accepted too).
MONTAGES = ("referential", "longitudinal", "transverse", "average", "device")

#: Old 10-20 names and their 10-10 equivalents.
ALIASES = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}

_REF = "<ref>"  # the common reference: the other end of every referential channel
_AVG = "avg"
_ELECTRODE = re.compile(r"(FP|AF|FT|FC|TP|CP|PO|F|C|T|P|O|I|N)(Z|[1-9]|10)", re.IGNORECASE)
_EARS = {"A1", "A2", "M1", "M2"}
# reference suffixes written by exporters (TUH: -REF / -LE; others: -AR, -AVG, -Ref)
_REF_SUFFIX = re.compile(r"[-\s](REF|LE|AR|AVG|CAR|M1M2|A1A2)$", re.IGNORECASE)

# ACNS Guideline 3 (2016), longitudinal bipolar: left temporal, right temporal, left and right
# parasagittal, midline
LONGITUDINAL = (
    ("Fp1", "F7"), ("F7", "T7"), ("T7", "P7"), ("P7", "O1"),
    ("Fp2", "F8"), ("F8", "T8"), ("T8", "P8"), ("P8", "O2"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
    ("Fz", "Cz"), ("Cz", "Pz"),
)
# transverse bipolar, left to right in rows from front to back
TRANSVERSE = (
    ("Fp1", "Fp2"),
    ("F7", "F3"), ("F3", "Fz"), ("Fz", "F4"), ("F4", "F8"),
    ("T7", "C3"), ("C3", "Cz"), ("Cz", "C4"), ("C4", "T8"),
    ("P7", "P3"), ("P3", "Pz"), ("Pz", "P4"), ("P4", "P8"),
    ("O1", "O2"),
)


def electrode(name: str) -> str | None:
    """The 10-20 / 10-10 electrode a name stands for (``"FP1"`` -> ``"Fp1"``, ``"T3"`` -> ``"T7"``), or None."""
    text = name.strip()
    m = _ELECTRODE.fullmatch(text)
    if m is None:
        return text.upper() if text.upper() in _EARS else None
    prefix, number = m.group(1).upper(), m.group(2).upper()
    canon = ("Fp" if prefix == "FP" else prefix) + ("z" if number == "Z" else number)
    return ALIASES.get(canon, canon)


def parse_channel(name: str) -> tuple[str, str] | None:
    """The electrodes a channel is recorded between: ``(A, B)``, ``(A, "<ref>")`` for a referential one, or None.

    ``EEG FP1-REF`` and ``Fp1`` give ``("Fp1", "<ref>")``, ``FP1-F7`` gives ``("Fp1", "F7")``;
    a channel that is not EEG between 10-20 electrodes (``ECG``, ``E1-E2``) gives None.
    """
    text = name.strip().rstrip(".")  # PhysioNet's EEGMMI pads labels with dots: "Fc5."
    if text.upper().startswith("EEG "):
        text = text[4:].strip()
    text = _REF_SUFFIX.sub("", text)
    parts = text.split("-")
    if len(parts) == 1:
        a = electrode(parts[0])
        return None if a is None else (a, _REF)
    if len(parts) == 2:
        a, b = electrode(parts[0]), electrode(parts[1])
        if a is not None and b is not None and a != b:
            return a, b
    return None


@dataclass(frozen=True)
class Montage:
    """Derivations of a recording's channels.

    Attributes
    ----------
    name : str
        The montage's name (a file's ``name``, or its stem).
    labels : tuple of str
        One label per derivation.
    weights : ndarray, shape (n_derivations, n_channels)
        Derivation ``k`` is ``weights[k] @ x``.
    notes : tuple of str
        What was left out and why (missing electrodes), for the viewer's status line.
    """

    name: str
    labels: tuple[str, ...]
    weights: np.ndarray
    notes: tuple[str, ...] = ()

    def apply(self, data: np.ndarray) -> np.ndarray:
        """The derivations of ``data`` (``n_channels x n_samples``)."""
        return self.weights @ data

    def bounds(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Outer bounds of the derivations from per-channel minima ``lo`` and maxima ``hi``."""
        pos, neg = np.clip(self.weights, 0, None), np.clip(self.weights, None, 0)
        return pos @ lo + neg @ hi, pos @ hi + neg @ lo

    @property
    def identity(self) -> bool:
        """True when the derivations are the channels as stored."""
        w = self.weights
        return w.shape[0] == w.shape[1] and np.array_equal(w, np.eye(w.shape[0]))


class _Graph:
    """Electrodes joined by the channels that record between them."""

    def __init__(self, channels: tuple[str, ...]) -> None:
        self.n = len(channels)
        self.edges: dict[str, list[tuple[str, int, float]]] = {}
        self.referential: dict[str, int] = {}  # electrode -> its referential channel
        seen: set[frozenset] = set()
        for k, name in enumerate(channels):
            pair = parse_channel(name)
            if pair is None or frozenset(pair) in seen:  # a duplicate channel (CHB-MIT's T8-P8): the first
                continue
            seen.add(frozenset(pair))
            a, b = pair
            self.edges.setdefault(a, []).append((b, k, 1.0))  # going a -> b subtracts b: + channel
            self.edges.setdefault(b, []).append((a, k, -1.0))
            if b == _REF and a not in _EARS:  # ear references are not scalp sites: not in the average
                self.referential.setdefault(a, k)

    def electrodes(self) -> set[str]:
        return set(self.edges) - {_REF}

    def path(self, a: str, b: str) -> np.ndarray | None:
        """Weights of ``a - b`` along the shortest path of channels, or None when none joins them."""
        if a not in self.edges or b not in self.edges:
            return None
        back: dict[str, tuple[str, int, float] | None] = {a: None}
        queue = deque([a])
        while queue and b not in back:
            node = queue.popleft()
            for nxt, k, sign in self.edges[node]:
                if nxt not in back:
                    back[nxt] = (node, k, sign)
                    queue.append(nxt)
        if b not in back:
            return None
        w = np.zeros(self.n)
        node = b
        while back[node] is not None:
            prev, k, sign = back[node]
            w[k] += sign
            node = prev
        return w

    def average(self, a: str) -> np.ndarray | None:
        """Weights of ``a`` minus the mean of the referential electrodes, or None if ``a`` is not referential."""
        if a not in self.referential or len(self.referential) < 2:
            return None
        w = np.zeros(self.n)
        w[list(self.referential.values())] = -1.0 / len(self.referential)
        w[self.referential[a]] += 1.0
        return w


def _derive(graph: _Graph, name: str, wanted: list[tuple[str, str, str]]) -> Montage:
    """A montage of ``(label, positive, negative)`` derivations; those that cannot be formed become notes."""
    labels, rows, missing, unjoined = [], [], [], []
    for label, a, b in wanted:
        if b == _AVG:
            w = graph.average(a)
        elif b == _REF:
            w = graph.path(a, _REF)
        else:
            w = graph.path(a, b)
        if w is None:
            gone = [e for e in (a, b) if e not in (_AVG, _REF) and e not in graph.edges]
            (missing if gone else unjoined).append((label, gone))
            continue
        labels.append(label)
        rows.append(w)
    notes = []
    if missing and not labels and not unjoined:
        notes.append("none of its electrodes is in this recording")
    elif missing:
        electrodes = _order({e for _, gone in missing for e in gone})
        notes.append(f"{len(missing)} derivation(s) left out: no {_few(electrodes)} in this recording "
                     f"({_few([label for label, _ in missing])})")
    if unjoined:
        notes.append(f"{len(unjoined)} derivation(s) left out: no channel joins their electrodes "
                     f"({_few([label for label, _ in unjoined])})")
    weights = np.array(rows) if rows else np.zeros((0, graph.n))
    return Montage(name, tuple(labels), weights, tuple(notes))


def _few(names: list[str], most: int = 6) -> str:
    """``a, b, c`` or ``a, b, ... and 4 more``: notes stay one line."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most} more"


def _device(channels: tuple[str, ...]) -> list[tuple[str, np.ndarray]]:
    """The device montage's derivations: consecutive differences, or the long one across chained bipolar channels.

    Only for a device's own electrodes: 10-20 channels chained in file order would pair electrodes
    that are not neighbours.
    """
    n = len(channels)
    out = []
    if any(parse_channel(c) is not None for c in channels):
        return out
    if all("-" not in c for c in channels):
        for i in range(n - 1):
            w = np.zeros(n)
            w[i], w[i + 1] = 1.0, -1.0
            out.append((f"{channels[i]}-{channels[i + 1]}", w))
        return out
    for i, a in enumerate(channels):
        for j, b in enumerate(channels):
            pa, pb = a.split("-"), b.split("-")
            if i != j and len(pa) == 2 and len(pb) == 2 and pa[1] == pb[0] and pa[0] != pb[1]:
                w = np.zeros(n)
                w[i] = w[j] = 1.0
                out.append((f"{pa[0]}-{pb[1]}", w))
    return out


def available_montages(channels) -> list[str]:
    """The named montages that give at least one derivation for ``channels``, in :data:`MONTAGES` order."""
    channels = tuple(channels)
    return [name for name in MONTAGES if make_montage(name, channels).labels]


def make_montage(montage: str | Path, channels) -> Montage:
    """The montage ``montage`` (a name in :data:`MONTAGES` or a montage file) of ``channels``.

    Parameters
    ----------
    montage : str | Path
        ``referential``, ``longitudinal``, ``transverse``, ``average``, ``device``, or the path of a
        ``.toml`` / ``.json`` montage file. ``bipolar`` means ``longitudinal`` where it gives a
        derivation and ``device`` otherwise.
    channels : sequence of str
        The recording's channel names.

    Returns
    -------
    Montage
        Its derivations; those that cannot be formed are left out and named in ``notes``.
    """
    channels = tuple(str(c) for c in channels)
    n = len(channels)
    key = str(montage)
    if key == "bipolar":
        longitudinal = make_montage("longitudinal", channels)
        return longitudinal if longitudinal.labels else make_montage("device", channels)
    if key not in MONTAGES:
        if Path(key).suffix.lower() in (".toml", ".json"):
            return read_montage(key, channels)
        raise EegmonError(f"montage must be one of {', '.join(MONTAGES)} or a .toml/.json montage file, "
                          f"got {str(montage)!r}.")
    if key == "referential":
        return Montage(key, channels, np.eye(n))
    if key == "device":
        rows = _device(channels)
        if not rows:
            return Montage(key, (), np.zeros((0, n)), ("the device montage is for a device's own electrodes (not "
                                                        "10-20), at least two of them",))
        return Montage(key, tuple(label for label, _ in rows), np.array([w for _, w in rows]))
    graph = _Graph(channels)
    if key == "average":
        if len(graph.referential) < 2:
            return Montage(key, (), np.zeros((0, n)),
                           ("the average reference needs at least two referential 10-20 channels",))
        return _derive(graph, key, [(f"{e}-avg", e, _AVG) for e in _order(graph.referential)])
    pairs = LONGITUDINAL if key == "longitudinal" else TRANSVERSE
    return _derive(graph, key, [(f"{a}-{b}", a, b) for a, b in pairs])


def _order(electrodes) -> list[str]:
    """Electrodes front to back, each row left to right (odd numbers left, the outermost first)."""
    rows = ("Fp", "AF", "F", "FT", "FC", "A", "M", "T", "C", "TP", "CP", "P", "PO", "O", "I", "N")

    def key(e: str) -> tuple[int, int]:
        prefix, num = re.fullmatch(r"(\D+)(z|\d+)", e).groups()
        side = 0 if num == "z" else (-int(num) if int(num) % 2 else int(num))
        return rows.index(prefix) if prefix in rows else len(rows), side
    return sorted(electrodes, key=key)


def read_montage(path: str | Path, channels) -> Montage:
    """A montage from a TOML or JSON file (see the module docstring); errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise EegmonError(f"cannot read the montage file: {err}", path) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as err:
        raise EegmonError(f"not a valid {path.suffix[1:].upper()} montage file: {err}", path) from None
    items = data.get("derivations") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise EegmonError("a montage file needs a non-empty list 'derivations'.", path)
    wanted = []
    for i, item in enumerate(items, 1):
        if isinstance(item, str):
            pos, _, neg = item.partition("-")
            label = item
        elif isinstance(item, dict) and isinstance(item.get("positive"), str):
            pos, neg = item["positive"], item.get("negative", "")
            if not isinstance(neg, str):
                raise EegmonError(f"derivation {i}: 'negative' must be an electrode name, got {neg!r}.", path)
            label = item.get("label") or (f"{pos}-{neg}" if neg else pos)
        else:
            raise EegmonError(f"derivation {i} must be a string 'A-B' or a table with 'positive' (and 'negative', "
                              f"'label'), got {item!r}.", path)
        a = electrode(pos)
        b = _AVG if neg.strip().lower() == _AVG else (_REF if not neg.strip() else electrode(neg))
        if a is None or b is None:
            bad = pos if a is None else neg
            raise EegmonError(f"derivation {i} ({label!r}): {bad.strip()!r} is not a 10-20 / 10-10 electrode "
                              "name (or 'avg').", path)
        wanted.append((str(label), a, b))
    name = data.get("name") if isinstance(data.get("name"), str) else path.stem
    return _derive(_Graph(tuple(str(c) for c in channels)), name, wanted)
