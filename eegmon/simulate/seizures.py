"""Seizures as hard as real ones: evolving rhythmic discharges scaled to a target RMS ratio.

A seizure's size is set against its *local* background: the discharge gain (and, for ratios near
or below 1, how much of the background it replaces) is solved so that the seizure-to-background
RMS ratio (2-s windows, 1-40 Hz, median over the seizure over the median of the 300 s before
onset, largest over the involved channels) equals a target drawn from the difficulty's
distribution. :func:`insert_seizures` does this on any array, real or simulated; ``simulate()``
uses the same insertion on its own background at difficulty ``realistic``/``hard``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import signal

from .._checks import check_number, check_option
from ..errors import EegmonError
from .config import DIFFICULTIES, SEIZURE_TYPES
from .signals import _spike_wave, edge_sos, smooth_noise
from .timeline import _SEIZURE_DURATIONS, seizure_field

#: Window (s), baseline before onset (s) and band (Hz) of the seizure-to-background RMS ratio.
WINDOW_S, BASELINE_S, BAND = 2.0, 300.0, (1.0, 40.0)
#: Background (s) that must precede every inserted seizure, and the shortest seizure (s).
MIN_LEAD_S, MIN_DURATION_S = 30.0, 10.0
#: Arrays shorter than this (s) get seizures of 10-60 s (longer ones use each type's own range).
SHORT_ARRAY_S = 600.0
#: Limits of :func:`insert_seizures`.
MAX_CHANNELS, FS_RANGE = 64, (100.0, 1024.0)
_PAD_S = 5.0


@dataclass(frozen=True)
class InsertedSeizure:
    """One seizure put into an array by :func:`insert_seizures`.

    Attributes
    ----------
    onset_s, offset_s : float
        Seconds from the array's first sample (on the sample grid).
    kind : str
        One of ``SEIZURE_TYPES``.
    target_ratio : float
        The seizure-to-background RMS ratio it was scaled to.
    channels : tuple of int
        Involved channels (weight at least half the largest); the ratio holds on their maximum.
    field : tuple of float
        Weight of the discharge on every channel (0 where absent).
    gain_uv : float
        Peak scale of the discharge in microvolts.
    suppression : float
        Share of the background removed on the most involved channel during the seizure (0-1).
    """

    onset_s: float
    offset_s: float
    kind: str
    target_ratio: float
    channels: tuple[int, ...]
    field: tuple[float, ...]
    gain_uv: float
    suppression: float

    @property
    def duration_s(self) -> float:
        """Seizure length in seconds."""
        return self.offset_s - self.onset_s

    def as_dict(self) -> dict:
        """A JSON-ready dict of the fields plus ``duration_s``."""
        return {**asdict(self), "channels": list(self.channels), "field": list(self.field),
                "duration_s": self.duration_s}


# --------------------------------------------------------------------------- waveforms

def _sharp(phase: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Rhythmic wave from a sine (``k`` = 0) to a sharp, harmonic-rich sawtooth-like wave (``k`` = 1)."""
    out = np.zeros_like(phase)
    power = np.zeros_like(phase)
    for h in range(1, 5):
        weight = k ** (h - 1) / h
        out += weight * np.sin(h * phase)
        power += weight * weight
    return out / np.sqrt(power)  # the RMS of a unit sine, whatever the sharpness


def _discharge(rng, fs, freq, amp, sharp, spike_wave):
    """A rhythmic discharge with per-sample frequency, amplitude, sharpness and spike-wave share."""
    n = freq.size
    freq = freq * (1.0 + 0.05 * smooth_noise(rng, n, 0.4 * fs))
    phase = 2 * np.pi * np.cumsum(freq) / fs + rng.uniform(0, 2 * np.pi)
    return amp * ((1 - spike_wave) * _sharp(phase, sharp) + spike_wave * 1.6 * _spike_wave(phase))


def _focal_evolving(rng, fs, tau, duration):
    onset = min(0.15, 10.0 / duration) * rng.uniform(0.5, 1.0)
    late = np.clip((tau - onset) / (1 - onset), 0.0, 1.0)
    f0, f1 = rng.uniform(5.0, 9.0), rng.uniform(1.8, 3.2)
    fast = rng.uniform(14.0, 25.0) if rng.uniform() < 0.4 else rng.uniform(7.0, 10.0)
    freq = np.where(tau < onset, fast, f0 * (f1 / f0) ** late)
    amp = np.where(tau < onset, 0.35, 0.5 + 0.5 * np.sqrt(late))
    end = rng.uniform(0.8, 0.92)  # termination: irregular bursts as the rhythm breaks up
    gate = np.where(tau > end, 0.55 + 0.45 * np.sin(2 * np.pi * np.cumsum(0.6 + 0.4 * late) / fs), 1.0)
    return _discharge(rng, fs, freq, amp * gate, 0.2 + 0.7 * late, rng.uniform(0.3, 0.8) * late ** 2)


def _spike_wave_seizure(rng, fs, tau, duration):
    freq = rng.uniform(3.0, 4.0) - rng.uniform(0.3, 0.9) * tau
    amp = np.exp(0.15 * smooth_noise(rng, tau.size, 2.0 * fs))
    return _discharge(rng, fs, freq, amp, np.full(tau.size, 0.8), np.full(tau.size, rng.uniform(0.6, 1.0)))


def _tonic_clonic(rng, fs, tau, duration):
    tonic = tau < rng.uniform(0.2, 0.35)
    emg = signal.sosfilt(edge_sos(fs, min(20.0, 0.3 * fs), "highpass"), rng.standard_normal(tau.size))
    clonic_tau = np.clip((tau - 0.3) / 0.7, 0.0, 1.0)
    freq = np.where(tonic, rng.uniform(10.0, 18.0), 4.0 * (1.0 / 4.0) ** clonic_tau)
    amp = np.where(tonic, 0.3 + 0.5 * tau / 0.35, 1.0)
    x = _discharge(rng, fs, freq, amp, np.where(tonic, 0.3, 1.0), np.where(tonic, 0.0, 0.9))
    # clonic bursts: the discharge gated on and off, the silences lengthening as the rate falls
    phase = 2 * np.pi * np.cumsum(freq) / fs
    gate = np.where(tonic, 1.0, (np.cos(phase) > -0.2 - 0.6 * (1 - clonic_tau)).astype(float))
    return x * gate + emg * np.where(tonic, 0.6, 0.3 * gate * (1 - tau))


def _subtle_focal(rng, fs, tau, duration):
    f0 = rng.uniform(4.0, 7.0) if rng.uniform() < 0.6 else rng.uniform(2.0, 3.5)
    freq = f0 * (1.0 + (rng.uniform(0.6, 0.85) - 1.0) * tau)
    amp = np.clip(tau / rng.uniform(0.2, 0.5), 0.15, 1.0)
    return _discharge(rng, fs, freq, amp, rng.uniform(0.0, 0.2) + rng.uniform(0.2, 0.5) * tau, np.zeros(tau.size))


_KINDS = {"focal_evolving": _focal_evolving, "spike_wave": _spike_wave_seizure, "tonic_clonic": _tonic_clonic,
          "subtle_focal": _subtle_focal}


def ictal_waveform(rng: np.random.Generator, kind: str, duration: float, fs: float,
                   field: Sequence[float]) -> np.ndarray:
    """A seizure discharge on every channel, shape (n, len(field)), of unit scale (RMS ~0.7 at full strength).

    Frequency and morphology evolve over the seizure (see ``SEIZURE_TYPES``): ``focal_evolving``
    a fast or alpha-range onset, then rhythmic theta slowing to delta while it sharpens into
    spike-and-wave, breaking up in bursts at the end; ``spike_wave`` 3-4 Hz spike-and-wave slowing
    a little; ``tonic_clonic`` fast tonic activity with EMG, then clonic bursts with lengthening
    silences; ``subtle_focal`` a faint theta or delta rhythm building up slowly. Channels get the
    discharge weighted by ``field``; in focal types it reaches channels farther from the focus
    later (propagation) and some bipolar channels see it inverted.
    """
    n = int(round(duration * fs))
    tau = np.linspace(0.0, 1.0, n, endpoint=False)
    x = _KINDS[kind](rng, fs, tau, duration)
    x *= np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.3 * fs))
    field = np.asarray(field, dtype=float)
    focus = int(np.argmax(field))
    generalised = kind in ("spike_wave", "tonic_clonic")
    out = np.zeros((n, field.size))
    for c in np.flatnonzero(field > 0.02):
        delay = rng.uniform(0.0, 0.2) if generalised else abs(c - focus) * rng.uniform(0.5, 3.0)
        shift = min(int(delay * fs), n // 3)
        sign = -1.0 if c != focus and rng.uniform() < 0.3 else 1.0
        out[shift:, c] = sign * field[c] * x[: n - shift]
    return out


def _suppression_profile(rng: np.random.Generator, kind: str, n: int, fs: float) -> tuple[float, np.ndarray,
                                                                                           float, np.ndarray]:
    """How the seizure replaces the background: (base depth, its profile, onset decrement depth, profile)."""
    ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / fs)
    depth = rng.uniform(0.0, 0.5)
    onset = np.zeros(n)
    decrement = 0.0
    if kind != "spike_wave" and rng.uniform() < 0.3:  # electrodecremental onset
        decrement = rng.uniform(0.5, 0.9)
        k = int(rng.uniform(2.0, 8.0) * fs)
        onset[:k] = np.minimum(ramp[:k], np.clip((k - np.arange(k)) / fs, 0.0, 1.0))
    return depth, ramp, decrement, onset


# --------------------------------------------------------------------------- scaling

def _band_sos(fs: float) -> np.ndarray:
    return signal.butter(4, [BAND[0], min(BAND[1], 0.45 * fs)], btype="bandpass", fs=fs, output="sos")


def _window_sums(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Sum of a*b over consecutive ``n``-sample windows of channel-major arrays, shape (windows, channels)."""
    m = a.shape[1] // n
    return np.einsum("cwi,cwi->wc", a[:, : m * n].reshape(a.shape[0], m, n), b[:, : m * n].reshape(b.shape[0], m, n))


def _solve(sums: dict, base: np.ndarray, n: int, target: float, depth: float) -> tuple[float, float]:
    """Depth and gain that make the max over channels of the median window-RMS ratio ``target``."""
    def ratio(d: float, g: float) -> float:
        power = (sums["yy"] - 2 * d * sums["ye"] + 2 * g * sums["yw"] + d * d * sums["ee"] - 2 * d * g * sums["ew"]
                 + g * g * sums["ww"]) / n
        return float(np.max(np.median(np.sqrt(np.maximum(power, 0.0)), axis=0) / base))

    for _ in range(8):  # replace more of the background until the discharge alone can set the ratio
        if ratio(depth, 0.0) <= 0.7 * target or depth >= 1.0:
            break
        depth = min(1.0, depth + 0.5 * (1.0 - depth) + 0.1)
    hi = 1.0
    while ratio(depth, hi) < target and hi < 1e9:
        hi *= 2.0
    lo = 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ratio(depth, mid) < target else (lo, mid)
    return depth, 0.5 * (lo + hi)


def insert_scaled(y: np.ndarray, fs: float, i0: int, wave: np.ndarray, involved: Sequence[int], target: float,
                  rng: np.random.Generator, kind: str) -> tuple[float, float]:
    """Add ``wave`` (unit scale, shape (n, n_channels)) at sample ``i0`` of ``y`` in place, scaled to ``target``.

    The background of ``y`` under the seizure is attenuated (an electrodecremental onset in some
    seizures), fully on the involved channels and in proportion to the discharge elsewhere; the
    depth and gain are solved on the involved channels against the median 2-s RMS of the
    ``BASELINE_S`` before ``i0``.

    Returns
    -------
    (gain_uv, suppression)
    """
    n, n_all = wave.shape
    win = int(round(WINDOW_S * fs))
    i1 = i0 + n
    b0 = max(i0 - int(round(BASELINE_S * fs)), 0)
    pad = int(_PAD_S * fs)
    lo, hi = max(b0 - pad, 0), min(i1 + pad, y.shape[0])
    weight = np.max(np.abs(wave), axis=0)
    # the share of the background a seizure may replace: all of it on involved channels (weight >= 0.5)
    weight = np.minimum(2.0 * weight / max(weight.max(), 1e-12), 1.0)
    depth, profile, decrement, onset = _suppression_profile(rng, kind, n, fs)
    keep = 1.0 - decrement * onset[:, None] * weight          # the fixed electrodecremental part
    scalable = profile[:, None] * weight * keep               # the part scaled by the solved depth

    chans = list(involved)
    sos = _band_sos(fs)
    a, b = i0 - lo, i1 - lo
    # Channel-major copies (a contiguous row per channel) make the filters several times faster.
    seg = np.ascontiguousarray(y[lo:hi, chans].T, dtype=float)
    # The scaled parts are zero outside the seizure: filter them over the seizure and a margin only.
    e0, e1 = max(a - pad, 0), min(b + pad, seg.shape[1])
    parts = np.zeros((2, len(chans), e1 - e0))
    parts[0, :, a - e0:b - e0] = seg[:, a:b] * scalable[:, chans].T
    parts[1, :, a - e0:b - e0] = wave[:, chans].T
    seg[:, a:b] *= keep[:, chans].T
    fy = signal.sosfiltfilt(sos, seg - seg.mean(axis=1, keepdims=True), axis=1)
    before = fy[:, b0 - lo:a][:, ::-1]
    base = np.maximum(np.median(np.sqrt(_window_sums(before, before, win) / win), axis=0), 1e-9)
    fe, fw = signal.sosfiltfilt(sos, parts, axis=2)
    ictal = {"y": fy[:, a:b], "e": fe[:, a - e0:b - e0], "w": fw[:, a - e0:b - e0]}
    sums = {p + q: _window_sums(ictal[p], ictal[q], win) for p, q in ("yy", "ye", "yw", "ee", "ew", "ww")}
    depth, gain = _solve(sums, base, win, target, depth)
    factor = keep - depth * scalable
    y[i0:i1] = (y[i0:i1] * factor + gain * wave).astype(y.dtype)
    return gain, float(1.0 - factor[:, int(np.argmax(weight))].min())


# --------------------------------------------------------------------------- the public API

def _check_array(x, fs) -> tuple[np.ndarray, float]:
    fs = check_number("fs", fs, low=FS_RANGE[0], high=FS_RANGE[1])
    x = np.asarray(x)
    if x.ndim != 2 or not 1 <= x.shape[1] <= MAX_CHANNELS:
        raise EegmonError(f"x must be shaped (n_samples, n_channels) with 1-{MAX_CHANNELS} channels, "
                          f"got shape {x.shape}.")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise EegmonError(f"x must hold real numbers (microvolts), got dtype {x.dtype}.")
    if not np.all(np.isfinite(x)):
        raise EegmonError("x has NaN or infinite samples; fill or cut the gaps before inserting seizures.")
    if x.shape[0] < (MIN_LEAD_S + MIN_DURATION_S + 1.0) * fs:
        raise EegmonError(f"x holds {x.shape[0] / fs:g} s; a seizure needs at least "
                          f"{MIN_LEAD_S + MIN_DURATION_S + 1.0:g} s ({MIN_LEAD_S:g} s of background before it).")
    return x.astype(float), fs


def _kind_shares(kinds) -> dict[str, float]:
    """Seizure types to draw from and their probabilities (``SEIZURE_TYPES`` shares, or uniform)."""
    if kinds is None:
        total = sum(SEIZURE_TYPES.values())
        return {k: v / total for k, v in SEIZURE_TYPES.items()}
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    if not kinds:
        raise EegmonError("kinds must name at least one seizure type, got an empty list.")
    for kind in kinds:
        check_option("kinds", kind, SEIZURE_TYPES)
    return {k: 1.0 / len(set(kinds)) for k in dict.fromkeys(kinds)}


def _check_involved(involved, n_channels: int):
    """``channels_involved`` validated: None, 'all', a count, or a list of distinct channel indices."""
    if involved is None:
        return None
    if isinstance(involved, str):
        return check_option("channels_involved", involved, ["all"])
    if isinstance(involved, int | np.integer):
        return check_number("channels_involved", involved, low=1, high=n_channels, integer=True)
    chans = [check_number("channels_involved index", c, low=0, high=n_channels - 1, integer=True) for c in involved]
    if not chans or len(set(chans)) != len(chans):
        raise EegmonError(f"channels_involved must list distinct channel indices, got {list(involved)!r}.")
    return chans


def _field(rng: np.random.Generator, kind: str, n_channels: int, involved) -> np.ndarray:
    """Per-channel weight: the type's own field, or the channels asked for (1 on the first, 0.5-1 on the rest)."""
    if involved is None:
        return seizure_field(rng, kind, n_channels)
    if involved == "all":
        chans = list(rng.permutation(n_channels))
    elif isinstance(involved, int):
        start = int(rng.integers(0, n_channels - involved + 1))
        chans = list(start + rng.permutation(involved))
    else:
        chans = involved
    field = np.zeros(n_channels)
    field[chans] = rng.uniform(0.5, 1.0, len(chans))
    field[chans[0]] = 1.0
    return field


def _duration_range(kind: str, length_s: float) -> tuple[float, float]:
    room = length_s - MIN_LEAD_S - 1.0
    lo, hi = (MIN_DURATION_S, 60.0) if length_s < SHORT_ARRAY_S else _SEIZURE_DURATIONS[kind]
    hi = min(hi, room)
    return min(lo, hi), hi


def _draw_duration(rng: np.random.Generator, kind: str, length_s: float, cap: float = np.inf) -> float:
    lo, hi = _duration_range(kind, length_s)
    hi = min(hi, cap)
    if hi < MIN_DURATION_S:
        raise EegmonError(f"no room for a seizure of at least {MIN_DURATION_S:g} s there.")
    lo = min(max(lo, MIN_DURATION_S), hi)
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _place(rng, shares, n_seizures, onsets, length_s, min_gap_s) -> list[tuple[float, float, str]]:
    """(onset, duration, kind) of each seizure, in time order, all inside the array."""
    gap = max(min_gap_s, MIN_LEAD_S)
    kinds, probs = list(shares), np.array(list(shares.values()))
    if onsets is None:
        drawn = [kinds[i] for i in rng.choice(len(kinds), size=n_seizures, p=probs)]
        durations = [_draw_duration(rng, k, length_s) for k in drawn]
        free = length_s - MIN_LEAD_S - 1.0 - sum(durations) - gap * (n_seizures - 1)
        if free < 0:
            raise EegmonError(f"{n_seizures} seizure(s) with {gap:g} s between them do not fit in "
                              f"{length_s:g} s of samples; ask for fewer or a smaller min_gap_s.")
        spacing = rng.dirichlet(np.ones(n_seizures + 1)) * free
        placed, t = [], MIN_LEAD_S
        for k, d, s in zip(drawn, durations, spacing[:-1], strict=True):
            t += s
            placed.append((t, d, k))
            t += d + gap
        return placed
    onsets = sorted(check_number("onsets", o, low=MIN_LEAD_S, high=length_s - MIN_DURATION_S - 1.0)
                    for o in onsets)
    placed = []
    for i, onset in enumerate(onsets):
        nxt = onsets[i + 1] - gap if i + 1 < len(onsets) else length_s - 1.0
        if nxt - onset < MIN_DURATION_S:
            raise EegmonError(f"onset {onset:g} s leaves no room for a {MIN_DURATION_S:g}-s seizure and {gap:g} s "
                              "of background before the next onset or the end.")
        kind = kinds[rng.choice(len(kinds), p=probs)]
        placed.append((onset, _draw_duration(rng, kind, length_s, cap=nxt - onset), kind))
    return placed


def insert_seizures(
    x, fs: float, *, rng: np.random.Generator | int, n_seizures: int | None = None,
    onsets: Sequence[float] | None = None, difficulty: str = "realistic", kinds: Sequence[str] | str | None = None,
    min_gap_s: float = BASELINE_S, channels_involved: int | str | Sequence[int] | None = None,
) -> tuple[np.ndarray, list[InsertedSeizure]]:
    """Insert simulated seizures into a given (real or simulated) background.

    Each seizure is an evolving rhythmic discharge (:func:`ictal_waveform`) that partly replaces
    the background under it; its gain is solved against the local background of ``x`` so that
    its seizure-to-background RMS ratio (2-s windows, 1-40 Hz, median over the seizure over the
    median of the 300 s before onset, or all there is after at least 30 s; maximum over the
    involved channels) equals a target drawn from the difficulty's distribution (``realistic``:
    median 2, 34 % below 1.5; see ``DIFFICULTIES``).

    Parameters
    ----------
    x : array-like, shape (n_samples, n_channels)
        Background in microvolts, 1-64 channels, finite.
    fs : float
        Sampling rate in Hz (100-1024).
    rng : numpy.random.Generator | int
        Source of randomness (an int seeds a new generator).
    n_seizures : int | None
        How many seizures to place at random; exactly one of ``n_seizures`` and ``onsets``.
    onsets : sequence of float | None
        Onsets in seconds from the first sample (each at least 30 s in).
    difficulty : str
        ``easy``, ``realistic`` or ``hard``: the target-ratio distribution.
    kinds : str | sequence of str | None
        Seizure types to draw from (uniformly); None uses ``SEIZURE_TYPES`` with its shares.
    min_gap_s : float
        Background between one seizure's end and the next onset (at least 30 s is kept).
    channels_involved : int | 'all' | sequence of int | None
        None: the type's own field (focal types spread from a random focus); an int: that many
        neighbouring channels; ``'all'``; or these channel indices (the first is the focus).

    Returns
    -------
    y : ndarray, shape of ``x``, float64
        ``x`` with the seizures in it.
    seizures : list of InsertedSeizure
        In time order. Arrays shorter than 10 minutes get seizures of 10-60 s; longer ones each
        type's duration range (20-180 s), always inside the array.
    """
    x, fs = _check_array(x, fs)
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(check_number("rng", rng, low=0, integer=True))
    if (n_seizures is None) == (onsets is None):
        raise EegmonError("give exactly one of n_seizures and onsets.")
    if n_seizures is not None:
        n_seizures = check_number("n_seizures", n_seizures, low=0, high=10000, integer=True)
    level = DIFFICULTIES[check_option("difficulty", difficulty, DIFFICULTIES)]
    shares = _kind_shares(kinds)
    min_gap_s = check_number("min_gap_s", min_gap_s, low=0.0)
    channels_involved = _check_involved(channels_involved, x.shape[1])
    placed = _place(rng, shares, n_seizures, onsets, x.shape[0] / fs, min_gap_s)
    targets = level.draw_ratios(rng, len(placed))
    y = x.copy()
    out = []
    for (onset, duration, kind), target in zip(placed, targets, strict=True):
        i0 = int(round(onset * fs))
        n = min(int(round(duration * fs)), y.shape[0] - i0)
        field = _field(rng, kind, x.shape[1], channels_involved)
        wave = ictal_waveform(rng, kind, n / fs, fs, field)
        involved = tuple(int(c) for c in np.flatnonzero(field >= 0.5 * field.max()))
        gain, suppression = insert_scaled(y, fs, i0, wave, involved, float(target), rng, kind)
        out.append(InsertedSeizure(i0 / fs, (i0 + wave.shape[0]) / fs, kind, float(target), involved,
                                   tuple(float(w) for w in field), float(gain), suppression))
    return y, out


__all__ = ["InsertedSeizure", "ictal_waveform", "insert_scaled", "insert_seizures"]
