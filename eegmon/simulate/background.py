"""The background of difficulty ``realistic``/``hard``, calibrated on real EEG (docs/simulator.md).

Against the legacy :class:`~eegmon.simulate.signals.Background`: a knee-shaped spectrum (flat below
``background_knee_hz``, 1/f**``background_exponent`` above, after a 0.5 Hz device high-pass) fitted
on artifact-free windows of the Muse TP9/TP10 recordings; an alpha rhythm with a per-recording
peak frequency that is strong only in eyes-closed spells; drowsy theta; and an amplitude that
drifts on time scales of seconds to hours, so 2-s window RMS spreads as in real recordings.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

from .config import SimulationConfig
from .signals import _normalised, band_sos, power_law_sos, smooth_noise

#: Device high-pass (Hz) of the realistic background.
HIGHPASS_HZ = 0.5
#: SD of the natural log of the background amplitude on each time scale (s): (time scale, SD).
#: Together with the artifacts they give the 2-s window RMS spread of the Muse TP9/TP10 recordings.
AMPLITUDE_DRIFT = ((4.0, 0.06), (60.0, 0.08), (1800.0, 0.15))
#: Share of awake time spent in eyes-closed spells (strong alpha), and their mean length (s).
EYES_CLOSED_SHARE, EYES_CLOSED_S = 0.15, 40.0
#: Alpha level outside eyes-closed spells, as a share of ``alpha_uv``.
ALPHA_EYES_OPEN = 0.2


@lru_cache(maxsize=16)
def knee_sos(fs: float, exponent: float, knee_hz: float) -> np.ndarray:
    """Unit-variance filter: 0.5 Hz high-pass, flat to ``knee_hz``, then power falling as 1/f**exponent."""
    hp = signal.butter(1, HIGHPASS_HZ, btype="highpass", fs=fs, output="sos")
    return _normalised(np.vstack([hp, power_law_sos(fs, exponent, knee_hz)]), fs)


def amplitude_drift(rng: np.random.Generator, n_seconds: int) -> np.ndarray:
    """Per-second amplitude factor (median 1) drifting on the time scales of :data:`AMPLITUDE_DRIFT`."""
    log_level = np.zeros(n_seconds)
    for scale_s, sd in AMPLITUDE_DRIFT:
        log_level += sd * smooth_noise(rng, n_seconds, scale_s)
    return np.exp(log_level)


def eyes_closed(rng: np.random.Generator, n_seconds: int) -> np.ndarray:
    """Per-second 0/1 eyes-closed state: a two-state Markov chain with the share of :data:`EYES_CLOSED_SHARE`."""
    p_open = 1.0 / EYES_CLOSED_S
    p_close = p_open * EYES_CLOSED_SHARE / (1.0 - EYES_CLOSED_SHARE)
    state = np.zeros(n_seconds)
    closed = bool(rng.uniform() < EYES_CLOSED_SHARE)
    i = 0
    while i < n_seconds:  # run lengths are geometric: draw them instead of stepping each second
        run = int(rng.geometric(p_open if closed else p_close))
        state[i:i + run] = float(closed)
        i += run
        closed = not closed
    return state


class RealisticBackground:
    """Continuous realistic background for one file, block by block with filter state carried.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every random number.
    cfg : SimulationConfig
        ``background_uv`` (RMS), ``background_exponent``, ``background_knee_hz``,
        ``channel_correlation``, ``alpha_uv``/``alpha_band``, ``slow_wave_uv``/``slow_wave_band``.
    fs : float
        Sampling rate in Hz.
    n_channels : int
        Number of channels.
    """

    def __init__(self, rng: np.random.Generator, cfg: SimulationConfig, fs: float, n_channels: int):
        self.rng, self.cfg, self.n_channels = rng, cfg, n_channels
        self.broad = knee_sos(fs, cfg.background_exponent, cfg.background_knee_hz)
        lo, hi = cfg.alpha_band
        peak = rng.uniform(lo + 0.5, hi - 1.0)
        self.alpha = band_sos(fs, peak - 1.0, peak + 1.0)
        self.theta = band_sos(fs, 4.0, 7.0)
        self.slow = band_sos(fs, *cfg.slow_wave_band)
        self.gains = {name: rng.uniform(0.6, 1.0, n_channels) for name in ("alpha", "theta", "slow")}
        self._zi = {
            "broad": np.zeros((self.broad.shape[0], n_channels + 1, 2)),
            **{name: np.zeros((getattr(self, name).shape[0], 2)) for name in ("alpha", "theta", "slow")},
        }
        one = np.ones(1)
        self.block(int(60 * fs), one, one, one, one)  # warm the filters up

    def block(self, n: int, bg_level: np.ndarray, alpha_level: np.ndarray, theta_level: np.ndarray,
              slow_level: np.ndarray) -> np.ndarray:
        """Next ``n`` samples, shape (n, n_channels), in microvolts; levels are per sample (or scalars)."""
        cfg = self.cfg
        # Channel-major (one contiguous row per source) halves the cost of the filters and sums.
        white = self.rng.standard_normal((self.n_channels + 1, n), dtype=np.float32)
        broad, self._zi["broad"] = signal.sosfilt(self.broad, white, axis=1, zi=self._zi["broad"])
        rho = cfg.channel_correlation
        out = broad[1:]
        out *= np.sqrt(1 - rho)
        out += np.sqrt(rho) * broad[:1]
        out *= cfg.background_uv * bg_level
        # Alpha, theta and slow waves are disjoint bands of one noise source, so independent. The
        # source is uniform, 4 times cheaper to draw; the narrow bands make it Gaussian (excess
        # kurtosis of the filtered rhythm above -0.05 at 100 Hz and beyond).
        source = (self.rng.random(n, dtype=np.float32) - np.float32(0.5)) * np.float32(np.sqrt(12.0))
        for name, uv, level in (("alpha", cfg.alpha_uv, alpha_level), ("theta", cfg.alpha_uv, theta_level),
                                ("slow", cfg.slow_wave_uv, slow_level)):
            if not np.any(level):
                continue  # absent all block (e.g. slow waves by day): its filter state is as good as any
            rhythm, self._zi[name] = signal.sosfilt(getattr(self, name), source, zi=self._zi[name])
            rhythm *= uv * level
            for c, gain in enumerate(self.gains[name]):
                out[c] += gain * rhythm
        return out.T
