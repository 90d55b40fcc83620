"""Artifact and sleep-transient waveforms of difficulty ``realistic``/``hard``.

Each type has the shape of the real thing (docs/simulator.md has the table with sources) and an
amplitude drawn log-normal around ``SimulationConfig.artifact_uv[kind]`` with the spread of
:data:`AMPLITUDE_SD`, so artifacts come in every size. Sources seen on several channels (eyes,
vertex, movement) share one waveform weighted by a per-recording field (:func:`draw_fields`);
muscle is independent noise on each channel under a common envelope.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from .config import SimulationConfig
from .signals import band_sos, edge_sos, smooth_noise

#: SD of the natural log of the amplitude of each type (heavy tails for movement and muscle); draws
#: are kept within 3 SD.
AMPLITUDE_SD = {"musc": 0.8, "chew": 0.6, "move": 0.8, "elpp": 0.6, "line": 0.6, "eyeb": 0.8, "eyem": 0.5,
                "eyer": 0.4, "sway": 0.6, "rhmv": 0.5, "kcmp": 0.35, "vrtx": 0.35, "spnd": 0.35, "arsl": 0.5,
                "hhyp": 0.35}
#: Which per-recording field (see :func:`draw_fields`) weights each common-source type.
SOURCE = {"eyeb": "eye", "eyem": "eye", "eyer": "eye", "move": "motion", "sway": "motion", "rhmv": "motion",
          "kcmp": "vertex", "vrtx": "vertex", "spnd": "vertex", "hhyp": "vertex", "arsl": "vertex",
          "elpp": "motion", "line": "motion"}


def draw_fields(rng: np.random.Generator, n_channels: int) -> dict[str, np.ndarray]:
    """Per-channel weights of each artifact source for one recording (largest magnitude 1).

    Eye, vertex and motion sources reach every channel with a gain of 0.4-1; distant sources (eyes,
    vertex) have the same polarity on neighbouring bipolar channels, while a local one (a moving
    electrode or cable) shows with opposite polarity on a channel in three; muscle gains are 0.3-1.
    """
    fields = {}
    for source, flip in (("eye", 0.0), ("vertex", 0.0), ("motion", 0.3), ("muscle", 0.0)):
        gain = rng.uniform(0.4 if source != "muscle" else 0.3, 1.0, n_channels)
        gain *= np.where(rng.uniform(size=n_channels) < flip, -1.0, 1.0)
        fields[source] = gain / np.max(np.abs(gain))
    return fields


def _ramp(n: int, fs: float, seconds: float) -> np.ndarray:
    return np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (seconds * fs + 1))


def _emg(rng: np.random.Generator, n: int, fs: float, n_channels: int) -> np.ndarray:
    """Unit-RMS surface EMG: noise high-passed at 20 Hz, independent on each channel."""
    return signal.sosfilt(edge_sos(fs, min(20.0, 0.3 * fs), "highpass"), rng.standard_normal((n, n_channels)), axis=0)


def _pulses(n: int, fs: float, times: np.ndarray, heights: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``kernel`` placed at ``times`` (s) with ``heights``, summed, trimmed to ``n`` samples."""
    out = np.zeros(n + kernel.size)
    idx = (times * fs).astype(int)
    keep = idx < n
    np.add.at(out, (idx[keep, None] + np.arange(kernel.size)).ravel(), (heights[keep, None] * kernel).ravel())
    return out[:n]


def _event_times(rng: np.random.Generator, duration: float, mean_gap: float, min_gap: float) -> np.ndarray:
    """Event times in [0, duration): gamma(2) intervals of mean ``mean_gap`` and at least ``min_gap``."""
    count = int(duration / mean_gap * 2 + 4)
    gaps = np.maximum(rng.gamma(2.0, mean_gap / 2.0, count), min_gap)
    times = rng.uniform(0, mean_gap) + np.concatenate([[0.0], np.cumsum(gaps)])
    return times[times < duration]


def blink_kernel(fs: float, rise_s: float) -> np.ndarray:
    """One blink: a half-Gaussian rise of SD ``rise_s`` to a peak of 1 and a fall 1.4 times slower."""
    fall_s = 1.4 * rise_s
    t = np.arange(-int(4 * rise_s * fs), int(4 * fall_s * fs)) / fs
    return np.exp(-0.5 * (t / np.where(t < 0, rise_s, fall_s)) ** 2)


def _eyeb(rng, n, fs, amp):
    rate = rng.uniform(8.0, 30.0) / 60.0
    times = _event_times(rng, n / fs, 1.0 / rate, 0.3)
    doubles = times[rng.uniform(size=times.size) < 0.1] + rng.uniform(0.3, 0.5)
    times = np.concatenate([times, doubles])
    heights = amp * rng.lognormal(0.0, 0.25, times.size)
    return -_pulses(n, fs, times, heights, blink_kernel(fs, rng.uniform(0.022, 0.038)))


def _eyem(rng, n, fs, amp):
    """Saccades: eye position steps (50-100 ms) every 0.4-2 s, mean-reverting, seen through a 0.5 Hz high-pass."""
    times = _event_times(rng, n / fs, rng.uniform(0.4, 2.0), 0.15)
    steps = amp * rng.normal(0.0, 1.0, times.size)
    position = np.zeros(n)
    idx = (times * fs).astype(int)
    np.add.at(position, idx, steps)
    position = np.cumsum(position)
    position -= signal.lfilter([1 - np.exp(-1 / (3 * fs))], [1, -np.exp(-1 / (3 * fs))], position)  # reversion
    width = max(int(rng.uniform(0.05, 0.1) * fs), 1)  # saccade duration
    position = np.convolve(position, np.ones(width) / width, mode="same")
    return signal.sosfilt(edge_sos(fs, 0.5, "highpass", order=1), position)


def _eyer(rng, n, fs, amp):
    """Slow roving eye movements: smooth 0.1-0.5 Hz swings."""
    return amp * signal.sosfilt(band_sos(fs, 0.1, 0.5), rng.standard_normal(n)) * _ramp(n, fs, 2.0)


def _swing(rng, n, fs, f_lo, f_hi, harmonics):
    """A quasi-rhythmic waveform of peak ~1: frequency drifting 15 % around a draw in [f_lo, f_hi]."""
    freq = rng.uniform(f_lo, f_hi) * (1.0 + 0.15 * np.tanh(smooth_noise(rng, n, 3.0 * fs)))
    phase = 2 * np.pi * np.cumsum(freq) / fs + rng.uniform(0, 2 * np.pi)
    wave = np.sin(phase)
    for k, weight in enumerate(harmonics, start=2):
        wave += weight * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    envelope = np.exp(0.3 * smooth_noise(rng, n, 2.0 * fs))
    return wave * envelope / (1.0 + sum(harmonics)), phase


def _sway(rng, n, fs, amp):
    wave, _ = _swing(rng, n, fs, 0.4, 1.5, (0.3, 0.1))
    return amp * wave * _ramp(n, fs, 1.5)


def _rhmv(rng, n, fs, amp):
    """Rhythmic movement at 2-6 Hz with harmonics and, half the time, EMG locked to the rhythm."""
    wave, phase = _swing(rng, n, fs, 2.0, 6.0, (rng.uniform(0.1, 0.5), rng.uniform(0.0, 0.3)))
    out = amp * wave
    if rng.uniform() < 0.5:
        locked = np.maximum(np.sin(phase + rng.uniform(0, 2 * np.pi)), 0.0) ** 2
        out = out + 0.5 * amp * locked * _emg(rng, n, fs, 1)[:, 0]
    return out * _ramp(n, fs, 2.0)


def _kcmp(rng, n, fs, amp):
    """K-complex: a sharp negative wave then a slow positive one; a third are followed by a spindle."""
    t = np.arange(n) / fs
    t0 = rng.uniform(0.3, 0.45)
    neg = -np.exp(-0.5 * ((t - t0) / rng.uniform(0.05, 0.09)) ** 2)
    pos = 0.6 * np.exp(-0.5 * ((t - t0 - rng.uniform(0.35, 0.55)) / rng.uniform(0.12, 0.2)) ** 2)
    out = amp * (neg + pos)
    if rng.uniform() < 0.35:
        out += 0.3 * amp * _spindle(rng, n, fs, start=min(t0 + 0.8, n / fs))
    return out


def _spindle(rng, n, fs, start, length=None):
    t = np.arange(n) / fs - start
    length = rng.uniform(0.5, 2.0) if length is None else length
    envelope = np.exp(-0.5 * ((t - length / 2) / (length / 5)) ** 2)
    return envelope * np.sin(2 * np.pi * rng.uniform(11.5, 14.5) * t + rng.uniform(0, 2 * np.pi))


def _vrtx(rng, n, fs, amp):
    """Vertex sharp waves: biphasic 0.1-0.25 s transients, single or in runs 0.5-1.5 s apart."""
    times = _event_times(rng, max(n / fs - 0.3, 0.01), rng.uniform(0.5, 1.5), 0.4)
    width = rng.uniform(0.04, 0.07)
    t = np.arange(int(8 * width * fs)) / fs - 4 * width
    kernel = -(t / width) * np.exp(0.5 - 0.5 * (t / width) ** 2)  # Gaussian derivative, peak 1
    return _pulses(n, fs, times, amp * rng.lognormal(0.0, 0.2, times.size), kernel)


def _spnd(rng, n, fs, amp):
    out = np.zeros(n)
    for start in _event_times(rng, max(n / fs - 2.0, 0.01), rng.uniform(2.0, 6.0), 1.5):
        out += amp * rng.lognormal(0.0, 0.2) * _spindle(rng, n, fs, start)
    return out


def _arsl(rng, n, fs, amp):
    """Arousal: abrupt alpha and beta activity decaying over the event (the EMG is added by the caller)."""
    t = np.arange(n) / fs
    decay = np.exp(-t / max(rng.uniform(0.3, 0.8) * n / fs, 0.5))
    alpha = signal.sosfilt(band_sos(fs, 8.0, 12.0), rng.standard_normal(n))
    beta = signal.sosfilt(band_sos(fs, 15.0, min(25.0, 0.45 * fs)), rng.standard_normal(n))
    return amp * (alpha + 0.6 * beta) * decay * _ramp(n, fs, 0.1)


def _hhyp(rng, n, fs, amp):
    """Hypnagogic hypersynchrony: rhythmic 3-5 Hz waves, waxing and waning."""
    wave, _ = _swing(rng, n, fs, 3.0, 5.0, (rng.uniform(0.0, 0.3),))
    return amp * wave * np.sin(np.pi * np.arange(n) / n) ** 0.5


def _move(rng, n, fs, amp):
    cutoff = rng.choice([1.0, 1.5, 2.0, 2.5, 3.0])  # a few cutoffs, so the filter designs stay cached
    x = signal.sosfilt(edge_sos(fs, cutoff, "lowpass", order=2), rng.standard_normal(n))
    return amp * x * _ramp(n, fs, 0.2)


def _elpp(rng, n, fs, amp):
    out = np.zeros(n)
    for _ in range(rng.integers(1, 4)):
        k = rng.integers(0, n)
        decay = np.exp(-np.arange(n - k) / (rng.uniform(0.05, 0.4) * fs))
        out[k:] += rng.choice([-1.0, 1.0]) * amp * rng.lognormal(0.0, 0.3) * decay
    return out


def _line(rng, n, fs, amp, line_freq):
    t = np.arange(n) / fs
    out = np.sin(2 * np.pi * line_freq * t + rng.uniform(0, 2 * np.pi))
    if 2 * line_freq < 0.45 * fs:
        out += 0.3 * np.sin(2 * np.pi * 2 * line_freq * t + rng.uniform(0, 2 * np.pi))
    return amp * out * _ramp(n, fs, 0.05)


_COMMON = {"eyeb": _eyeb, "eyem": _eyem, "eyer": _eyer, "sway": _sway, "rhmv": _rhmv, "kcmp": _kcmp,
           "vrtx": _vrtx, "spnd": _spnd, "arsl": _arsl, "hhyp": _hhyp, "move": _move, "elpp": _elpp}


def _muscle_envelope(rng, n, fs, kind):
    if kind == "chew":
        rate = rng.uniform(1.0, 2.0) * (1.0 + 0.08 * smooth_noise(rng, n, fs))
        phase = np.cumsum(rate) / fs
        width = rng.uniform(0.2, 0.45)
        return np.clip(np.sin(np.pi * (phase % 1.0) / width), 0.0, None) * ((phase % 1.0) < width)
    if kind == "arsl":
        return np.exp(-np.arange(n) / (rng.uniform(1.0, 4.0) * fs)) * _ramp(n, fs, 0.05)
    return np.exp(0.4 * smooth_noise(rng, n, 0.3 * fs)) * _ramp(n, fs, rng.uniform(0.02, 0.15))


def artifact_waveform(rng: np.random.Generator, kind: str, duration: float, fs: float, cfg: SimulationConfig,
                      fields: dict[str, np.ndarray], channels: tuple[int, ...]) -> np.ndarray:
    """Additive waveform (microvolts) of one artifact of ``kind`` on ``channels``, shape (n, len(channels)).

    ``flat`` is all zeros (the caller replaces the signal by a constant) and ``clip`` an excursion
    1.5-3 times the amplifier rail, which the int16 conversion saturates.
    """
    n = max(int(round(duration * fs)), 1)
    chans = list(channels)
    amp = cfg.artifact_uv.get(kind, 0.0) * np.exp(AMPLITUDE_SD.get(kind, 0.5) * np.clip(rng.standard_normal(), -3, 3))
    if kind == "flat":
        return np.zeros((n, len(chans)))
    if kind == "clip":
        shape = np.sin(np.pi * np.arange(n) / n) ** 0.5
        wave = rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 3.0) * cfg.physical_range_uv * shape
        return np.repeat(wave[:, None], len(chans), axis=1)
    out = np.zeros((n, len(chans)))
    if kind in _COMMON or kind == "line":
        wave = _line(rng, n, fs, amp, cfg.line_freq) if kind == "line" else _COMMON[kind](rng, n, fs, amp)
        out += wave[:, None] * fields[SOURCE[kind]][chans]
    if kind in ("musc", "chew", "arsl", "move"):
        emg_amp = amp if kind in ("musc", "chew") else amp * rng.uniform(0.1, 0.5)
        envelope = _muscle_envelope(rng, n, fs, kind)
        out += emg_amp * envelope[:, None] * _emg(rng, n, fs, len(chans)) * np.abs(fields["muscle"][chans])
    return out
