"""Signal generators of the simulator: background, sleep graphoelements, seizures and artifacts.

All functions return microvolts as float arrays and take their randomness from the generator
they are given, so the same generator state gives the same samples.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

from .config import SimulationConfig


@lru_cache(maxsize=32)
def _unit_variance(sos_bytes: bytes, fs: float) -> float:
    """Gain that gives unit output variance for unit white noise (from the impulse response)."""
    sos = np.frombuffer(sos_bytes).reshape(-1, 6).copy()
    impulse = np.zeros(int(fs * 120))
    impulse[0] = 1.0
    h = signal.sosfilt(sos, impulse)
    return float(1.0 / np.sqrt(np.sum(h * h)))


def _normalised(sos: np.ndarray, fs: float) -> np.ndarray:
    sos = np.array(sos, dtype=float)
    sos[0, :3] *= _unit_variance(sos.tobytes(), fs)
    return sos


@lru_cache(maxsize=16)
def power_law_sos(fs: float, exponent: float, f_low: float = 0.3) -> np.ndarray:
    """A filter whose output power spectrum falls as 1/f**exponent above ``f_low`` (unit variance).

    Poles are spread two per decade from ``f_low`` to Nyquist; each zero sits above its pole at
    the ratio that gives the mean slope ``-exponent / 2`` in amplitude (the classic pole/zero
    approximation of fractional noise).
    """
    ratio = np.sqrt(10.0)
    slope = exponent / 2.0
    poles = f_low * ratio ** np.arange(int(np.ceil(np.log(fs / 2 / f_low) / np.log(ratio))))
    zeros = poles * ratio**slope
    z, p, k = signal.bilinear_zpk(-2 * np.pi * zeros, -2 * np.pi * poles, 1.0, fs)
    return _normalised(signal.zpk2sos(z, p, k), fs)


@lru_cache(maxsize=32)
def band_sos(fs: float, low: float, high: float, order: int = 2) -> np.ndarray:
    """Unit-variance Butterworth band-pass for narrow-band rhythms."""
    return _normalised(signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos"), fs)


@lru_cache(maxsize=32)
def edge_sos(fs: float, cutoff: float, btype: str, order: int = 4) -> np.ndarray:
    """Unit-variance Butterworth high- or low-pass."""
    return _normalised(signal.butter(order, cutoff, btype=btype, fs=fs, output="sos"), fs)


def smooth_noise(rng: np.random.Generator, n: int, correlation_samples: float) -> np.ndarray:
    """Slowly varying unit-variance noise (first-order low-pass of white noise)."""
    a = np.exp(-1.0 / max(correlation_samples, 1.0))
    x = signal.lfilter([np.sqrt(1 - a * a)], [1.0, -a], rng.standard_normal(n + int(5 * correlation_samples)))
    return x[-n:]


class Background:
    """Continuous background for one file, produced block by block with filter state carried.

    Broadband 1/f noise (part common to all channels), an alpha rhythm when awake and slow waves
    in deep sleep; the caller supplies the per-sample levels of each part.
    """

    def __init__(self, rng: np.random.Generator, cfg: SimulationConfig, fs: float, n_channels: int):
        self.rng = rng
        self.cfg = cfg
        self.n_channels = n_channels
        self.pink = power_law_sos(fs, cfg.background_exponent)
        self.alpha = band_sos(fs, *cfg.alpha_band)
        self.slow = band_sos(fs, *cfg.slow_wave_band)
        self.alpha_gain = rng.uniform(0.5, 1.0, n_channels)
        self.slow_gain = rng.uniform(0.7, 1.0, n_channels)
        self._zi = {
            "pink": np.zeros((self.pink.shape[0], 2, n_channels + 1)),
            "alpha": np.zeros((self.alpha.shape[0], 2)),
            "slow": np.zeros((self.slow.shape[0], 2)),
        }
        self.block(int(60 * fs), np.ones(1), np.ones(1), np.ones(1))  # warm the filters up

    def block(self, n: int, bg_level: np.ndarray, alpha_level: np.ndarray, slow_level: np.ndarray) -> np.ndarray:
        """Next ``n`` samples, shape (n, n_channels), in microvolts."""
        cfg = self.cfg
        # float32 noise halves the cost of the dominant step; the spectra are unaffected.
        white = self.rng.standard_normal((n, self.n_channels + 1), dtype=np.float32)
        pink, self._zi["pink"] = signal.sosfilt(self.pink, white, axis=0, zi=self._zi["pink"])
        rho = cfg.channel_correlation
        out = np.sqrt(rho) * pink[:, :1] + np.sqrt(1 - rho) * pink[:, 1:]
        out *= (cfg.background_uv * bg_level)[:, None]
        alpha, self._zi["alpha"] = signal.sosfilt(self.alpha, self.rng.standard_normal(n, dtype=np.float32),
                                            zi=self._zi["alpha"])
        out += (cfg.alpha_uv * alpha_level * alpha)[:, None] * self.alpha_gain
        slow, self._zi["slow"] = signal.sosfilt(self.slow, self.rng.standard_normal(n, dtype=np.float32),
                                           zi=self._zi["slow"])
        out += (cfg.slow_wave_uv * slow_level * slow)[:, None] * self.slow_gain
        return out


def spindle(rng: np.random.Generator, fs: float, amplitude: float) -> np.ndarray:
    """One sleep spindle: 11.5-14.5 Hz, 0.5-2 s, waxing and waning (Gaussian envelope)."""
    duration = rng.uniform(0.5, 2.0)
    t = np.arange(int(duration * fs)) / fs
    envelope = np.exp(-0.5 * ((t - duration / 2) / (duration / 5)) ** 2)
    return amplitude * envelope * np.sin(2 * np.pi * rng.uniform(11.5, 14.5) * t + rng.uniform(0, 2 * np.pi))


def _spike_wave(phase: np.ndarray) -> np.ndarray:
    """One spike-and-slow-wave complex per cycle of ``phase`` (radians), peak ~1."""
    u = (phase / (2 * np.pi)) % 1.0
    spike = np.exp(-0.5 * ((u - 0.08) / 0.025) ** 2) - 0.35 * np.exp(-0.5 * ((u - 0.16) / 0.03) ** 2)
    wave = -0.55 * np.exp(-0.5 * ((u - 0.5) / 0.13) ** 2)
    return spike + wave + 0.1  # the constant keeps each cycle near zero mean


def _discharge(rng, fs, n, freq, amp, sharp):
    """A rhythmic discharge with per-sample frequency, amplitude and spike-wave sharpness (0-1)."""
    freq = freq * (1.0 + 0.04 * smooth_noise(rng, n, 0.5 * fs))
    phase = 2 * np.pi * np.cumsum(freq) / fs + rng.uniform(0, 2 * np.pi)
    return amp * ((1 - sharp) * np.sin(phase) + sharp * 1.6 * _spike_wave(phase))


def seizure(rng: np.random.Generator, kind: str, duration: float, fs: float, peak_uv: float) -> np.ndarray:
    """Seizure discharge of ``kind`` lasting ``duration`` s; frequency falls, amplitude rises.

    Types (see ``SEIZURE_TYPES``): ``focal_evolving`` low-voltage fast onset then 7 -> 2.5 Hz
    evolving to spike-wave; ``spike_wave`` 3.5 -> 2.5 Hz generalised spike-and-wave;
    ``tonic_clonic`` muscle-like fast tonic phase then slowing clonic spike bursts;
    ``subtle_focal`` faint 5 -> 3.5 Hz with a slow build-up.
    """
    n = int(round(duration * fs))
    tau = np.linspace(0.0, 1.0, n, endpoint=False)
    if kind == "focal_evolving":
        onset = min(0.12, 8.0 / duration)
        f0, f1 = rng.uniform(6.0, 8.0), rng.uniform(2.0, 3.0)
        late = np.clip((tau - onset) / (1 - onset), 0.0, 1.0)
        freq = np.where(tau < onset, rng.uniform(15.0, 22.0), f0 * (f1 / f0) ** late)
        amp = np.where(tau < onset, 0.25, 0.45 + 0.55 * np.sqrt(late))
        x = _discharge(rng, fs, n, freq, amp, 0.8 * late)
    elif kind == "spike_wave":
        freq = rng.uniform(3.2, 3.8) + (rng.uniform(2.3, 2.7) - 3.5) * tau
        x = _discharge(rng, fs, n, freq, 0.8 + 0.5 * tau, np.full(n, 0.9))
    elif kind == "tonic_clonic":
        tonic = tau < 0.3
        emg = signal.sosfilt(edge_sos(fs, min(20.0, 0.3 * fs), "highpass"), rng.standard_normal(n))
        freq = np.where(tonic, rng.uniform(9.0, 12.0), 5.0 * (1.5 / 5.0) ** np.clip((tau - 0.3) / 0.7, 0, 1))
        amp = np.where(tonic, 0.4, 2.0)
        x = _discharge(rng, fs, n, freq, amp, np.where(tonic, 0.0, 1.0))
        x += emg * np.where(tonic, 0.7, 0.35 * (1 - tau))
    elif kind == "subtle_focal":
        freq = 5.0 + (3.5 - 5.0) * tau
        amp = 0.35 * np.clip(tau / 0.4, 0.15, 1.0)
        x = _discharge(rng, fs, n, freq, amp, np.full(n, 0.3))
    else:
        raise ValueError(f"unknown seizure type {kind!r}")
    taper = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.3 * fs))
    return peak_uv * x * taper


def artifact(rng: np.random.Generator, kind: str, duration: float, fs: float, cfg: SimulationConfig) -> np.ndarray:
    """Additive waveform (microvolts) of an artifact, or the flat-line/clip marker.

    ``flat`` returns zeros (the caller replaces the signal by a constant); ``clip`` returns an
    excursion 1.5-3 times the amplifier rail, which the int16 conversion saturates.
    """
    n = max(int(round(duration * fs)), 1)
    t = np.arange(n) / fs
    ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.05 * fs + 1))
    if kind == "musc":
        hp = edge_sos(fs, min(20.0, 0.3 * fs), "highpass")
        return rng.uniform(15.0, 80.0) * signal.sosfilt(hp, rng.standard_normal(n)) * ramp
    if kind == "chew":
        hp = edge_sos(fs, min(20.0, 0.3 * fs), "highpass")
        rate, width = rng.uniform(1.0, 1.8), rng.uniform(0.15, 0.3)
        bursts = ((t * rate) % 1.0) < width * rate
        return rng.uniform(40.0, 120.0) * signal.sosfilt(hp, rng.standard_normal(n)) * bursts
    if kind == "move":
        lp = edge_sos(fs, 1.5, "lowpass", order=2)
        return rng.uniform(80.0, 300.0) * signal.sosfilt(lp, rng.standard_normal(n)) * ramp
    if kind == "elpp":
        out = np.zeros(n)
        for _ in range(rng.integers(1, 4)):
            k = rng.integers(0, n)
            decay = np.exp(-np.arange(n - k) / (rng.uniform(0.05, 0.3) * fs))
            out[k:] += rng.choice([-1.0, 1.0]) * rng.uniform(150.0, 600.0) * decay
        return out
    if kind == "line":
        amp = rng.uniform(10.0, 60.0)
        out = np.sin(2 * np.pi * cfg.line_freq * t + rng.uniform(0, 2 * np.pi))
        if 2 * cfg.line_freq < 0.45 * fs:
            out += 0.3 * np.sin(2 * np.pi * 2 * cfg.line_freq * t + rng.uniform(0, 2 * np.pi))
        return amp * out * ramp
    if kind == "flat":
        return np.zeros(n)
    if kind == "clip":
        shape = np.sin(np.pi * t / duration) ** 0.5
        return rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 3.0) * cfg.physical_range_uv * shape
    raise ValueError(f"unknown artifact type {kind!r}")
