"""Detector inputs: per-(window, channel) rows built from the signal pipeline's feature table.

Amplitude features enter as log10 ratios to a patient-adaptive baseline (so a detector works
whatever the device's amplitude scale); shape and quality features enter as they are. The
columns are ``DETECTOR_COLUMNS``; a window's rows are its channels.
"""

from __future__ import annotations

import numpy as np

from eegmon.features import FeatureTable

from ._kernels import adaptive_baseline

#: Amplitude features, used as log10(value / patient baseline).
AMPLITUDE = ("line_length", "rms", "teager_energy", "power_delta", "power_theta", "power_alpha", "power_beta",
             "power_gamma")
#: Amplitude-free features used as they are.
SHAPE = ("rel_power_delta", "rel_power_theta", "rel_power_alpha", "rel_power_beta", "rel_power_gamma",
         "spectral_edge_frequency", "spectral_entropy", "dominant_frequency", "hjorth_mobility",
         "hjorth_complexity", "zero_crossing_rate", "skewness", "kurtosis")
QUALITY = ("flat_fraction", "clip_fraction", "line_noise_ratio", "nan_fraction")
DETECTOR_COLUMNS: tuple[str, ...] = tuple(f"rel_log_{f}" for f in AMPLITUDE) + SHAPE + QUALITY

_TINY = 1e-12


class AdaptiveFeatures:
    """Stateful transform from feature tables to detector rows (one per recording/stream).

    Parameters
    ----------
    channel_names : sequence of str
        Channels of the tables that will be fed.
    baseline_minutes : float
        Time constant of the exponential baseline once warmed up.
    hop_s : float
        Hop between windows, to turn minutes into windows.
    prior : array (len(AMPLITUDE),) | None
        Population baseline (log10) used while little of the recording has been seen; None
        means the baseline starts from the first windows alone.
    prior_minutes : float
        How fast the prior's weight decays (e-folding, in minutes of recording seen).
    """

    def __init__(self, channel_names, *, baseline_minutes: float = 30.0, hop_s: float = 1.0,
                 prior: np.ndarray | None = None, prior_minutes: float = 5.0) -> None:
        self.channel_names = tuple(channel_names)
        n = len(self.channel_names) * len(AMPLITUDE)
        self._state = np.zeros(n)
        self._count = np.zeros(n)
        self._alpha = hop_s / (baseline_minutes * 60.0)
        self._prior = np.zeros(n) if prior is None else np.tile(np.asarray(prior, float), len(self.channel_names))
        self._prior_windows = 0.0 if prior is None else prior_minutes * 60.0 / hop_s
        self._names: tuple[str, ...] | None = None
        self._amp_idx = self._shape_idx = np.zeros(0, dtype=int)

    def _indices(self, table: FeatureTable) -> None:
        if self._names != table.feature_names:
            pos = {n: i for i, n in enumerate(table.feature_names)}
            self._amp_idx = np.array([pos[n] for n in AMPLITUDE])
            self._shape_idx = np.array([pos[n] for n in SHAPE + QUALITY])
            self._names = table.feature_names

    def transform(self, table: FeatureTable) -> np.ndarray:
        """Rows for the windows of ``table``: array (n_windows, n_channels, len(DETECTOR_COLUMNS))."""
        self._indices(table)
        values = table.values
        n_win, n_ch = values.shape[:2]
        amp = np.log10(np.maximum(values[:, :, self._amp_idx], _TINY)).reshape(n_win, -1)
        amp[np.isnan(values[:, :, self._amp_idx].reshape(n_win, -1))] = np.nan
        base = np.empty_like(amp)
        adaptive_baseline(amp, self._state, self._count, self._alpha, 0.3, self._prior, self._prior_windows, base)
        rel = (amp - base).reshape(n_win, n_ch, -1)
        rows = np.concatenate([rel, values[:, :, self._shape_idx]], axis=2)
        # A (near-)flat window can give an infinite moment (kurtosis); the detectors take it as missing.
        rows[np.isinf(rows)] = np.nan
        return rows
