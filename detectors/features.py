"""Detector inputs: per-(window, channel) rows built from the signal pipeline's feature table.

The rows are meant to mean the same thing on any device, montage, gain and rate:

- amplitude features enter as log10 ratios to the channel's own adaptive baseline, learnt from
  the recording itself (only from windows that pass the signal-quality gate), so a device's
  gain, a DC offset or an exporter's header range do not matter once the baseline is warm;
  while it warms up, the baseline is blended with a population prior from real EEG, so that the
  probability of the first windows is meaningful, but no event can start then (see
  :class:`eegmon.detectors.StreamingDetector`);
- shape features (relative band powers, spectral shape, Hjorth, rhythm) are amplitude-free and
  sign-free (the absolute skewness, not its sign, so a polarity flip changes nothing);
- context features are causal means over the last ``CONTEXT_WINDOWS`` windows of the channel:
  a seizure is sustained and evolving, most artifacts are brief;
- spatial features say how many of the recording's good channels rise together in this window,
  as a fraction (so they mean the same for 2 or 64 channels);
- ``baseline_prior_weight`` says how much of the channel's baseline is still the population
  prior (1 on the first window, about 0 once warm), so that the estimator can judge a cold
  start differently from a warm one.

The columns the estimator sees are ``DETECTOR_COLUMNS``; each row also carries the
``GATE_COLUMNS`` that the signal-quality gate and the warm-up read (not given to the estimator).
"""

from __future__ import annotations

import numpy as np

from eegmon.features import FeatureTable

from ._kernels import detector_rows

#: Amplitude features, used as log10(value / channel baseline).
AMPLITUDE = ("line_length", "rms", "teager_energy", "power_delta", "power_theta", "power_alpha", "power_beta",
             "power_gamma")
#: Amplitude-free features used as they are (``abs_skewness`` is |skewness|).
SHAPE = ("rel_power_delta", "rel_power_theta", "rel_power_alpha", "rel_power_beta", "rel_power_gamma",
         "spectral_edge_frequency", "spectral_entropy", "dominant_frequency", "hjorth_mobility",
         "hjorth_complexity", "zero_crossing_rate", "abs_skewness", "kurtosis", "rhythm_frequency",
         "rhythm_fraction")
#: Causal context: columns averaged over the last CONTEXT_WINDOWS windows, the one whose spread is
#: taken there, and columns averaged over the last LONG_WINDOWS windows, with their rise (the mean
#: of the last RISE_WINDOWS minus the long mean: how the channel is evolving).
CONTEXT = ("rel_log_line_length", "rel_log_power_delta", "rel_log_power_theta", "rel_log_power_alpha",
           "rel_log_power_beta", "rel_log_power_gamma", "rhythm_fraction")
LONG = ("rel_log_line_length", "rel_log_rms", "rel_power_gamma", "rhythm_fraction", "rhythm_frequency")
CONTEXT_WINDOWS, LONG_WINDOWS, RISE_WINDOWS = 10, 30, 5
#: A channel "rises" when its line length is this many log10 units above its baseline (x1.5).
RISE_LOG10 = float(np.log10(1.5))
_OWN = tuple(f"rel_log_{f}" for f in AMPLITUDE) + SHAPE
DETECTOR_COLUMNS: tuple[str, ...] = (
    _OWN + tuple(f"ctx_{c}" for c in CONTEXT) + ("ctx_std_rhythm_frequency",)
    + tuple(f"long_{c}" for c in LONG) + tuple(f"rise_{c}" for c in LONG)
    + ("spatial_rise_fraction", "spatial_median_rel_log_line_length", "baseline_prior_weight"))
#: Per-row columns after DETECTOR_COLUMNS, read by the gate and the warm-up, never by the estimator.
GATE_COLUMNS = ("flat_fraction", "clip_fraction", "line_noise_ratio", "nan_fraction", "warm")
ROW_COLUMNS = DETECTOR_COLUMNS + GATE_COLUMNS

_TINY = 1e-12
_QUALITY = ("flat_fraction", "clip_fraction", "line_noise_ratio", "nan_fraction")
_N_AMP = len(AMPLITUDE)
_CTX_IDX = np.array([_OWN.index(c) for c in CONTEXT])
_LONG_IDX = np.array([_OWN.index(c) for c in LONG])
_RFREQ = _OWN.index("rhythm_frequency")
_REL_LL = _OWN.index("rel_log_line_length")
_LENGTHS = np.array([CONTEXT_WINDOWS, LONG_WINDOWS, RISE_WINDOWS], dtype=np.int64)


def good_windows(quality: np.ndarray, gate: dict[str, float]) -> np.ndarray:
    """True where a (window, channel) passes the signal-quality gate.

    ``quality`` is (..., 4) with the columns flat, clip, line-noise and NaN fraction; ``gate``
    holds ``max_flat``, ``max_clip`` and ``max_line_noise``. Any missing sample fails.
    """
    return ((quality[..., 0] <= gate["max_flat"]) & (quality[..., 1] <= gate["max_clip"])
            & (quality[..., 2] <= gate["max_line_noise"]) & (quality[..., 3] == 0))


class AdaptiveFeatures:
    """Stateful transform from feature tables to detector rows (one per recording/stream).

    Parameters
    ----------
    channel_names : sequence of str
        Channels of the tables that will be fed.
    gate : dict
        Signal-quality gate (see :func:`good_windows`): windows that fail it do not teach the
        baseline and are left out of the spatial features.
    baseline_minutes : float
        Time constant of the exponential baseline once warmed up.
    hop_s : float
        Hop between windows, to turn times into windows.
    prior : array (len(AMPLITUDE),) | None
        Population baseline (log10) blended in while the channel's own baseline is young; None
        means the baseline starts from the first good windows alone.
    prior_minutes : float
        How fast the prior's weight decays (e-folding, in minutes of good signal seen).
    warmup_s : float
        Seconds of good signal after which a channel's baseline counts as warm.
    rewarm_gap_s : float
        When a channel has gone longer than this without a good window (a gap in the data, or
        signal that fails the gate all that time), the device may have been taken off and put
        back: the channel starts again as at the start of a recording (its baseline is learnt
        afresh from the prior, and it is warm after ``warmup_s`` more seconds of good signal).
    """

    def __init__(self, channel_names, *, gate: dict[str, float], baseline_minutes: float = 30.0,
                 hop_s: float = 1.0, prior: np.ndarray | None = None, prior_minutes: float = 0.25,
                 warmup_s: float = 120.0, rewarm_gap_s: float = 300.0) -> None:
        self.channel_names = tuple(channel_names)
        self.gate = dict(gate)
        n_ch = len(self.channel_names)
        n = n_ch * _N_AMP
        self._state = np.zeros(n)
        self._count = np.zeros(n)
        self._alpha = hop_s / (baseline_minutes * 60.0)
        self._prior = np.zeros(n) if prior is None else np.tile(np.asarray(prior, float), n_ch)
        self._prior_windows = 0.0 if prior is None else prior_minutes * 60.0 / hop_s
        self._warm_windows = warmup_s / hop_s
        self._rewarm_gap_s = float(rewarm_gap_s)
        self._fresh = np.zeros(n_ch)  # good windows since the start or the last long stretch without one
        self._last_good = np.full(n_ch, -np.inf)
        # a ring of the last LONG_WINDOWS - 1 rows of each channel's own columns, for the context
        self._tail = np.zeros((LONG_WINDOWS - 1, n_ch, len(_OWN)))
        self._n_tail = 0
        self._names: tuple[str, ...] | None = None

    def _indices(self, table: FeatureTable) -> None:
        if self._names != table.feature_names:
            pos = {n: i for i, n in enumerate(table.feature_names)}
            self._amp_idx = np.array([pos[n] for n in AMPLITUDE])
            self._shape_idx = np.array([pos["skewness" if n == "abs_skewness" else n] for n in SHAPE])
            self._abs_idx = SHAPE.index("abs_skewness")
            self._quality_idx = np.array([pos[n] for n in _QUALITY])
            self._names = table.feature_names

    @property
    def windows_seen(self) -> np.ndarray:
        """Per channel: how many good windows its baseline has learnt from."""
        return self._count.reshape(len(self.channel_names), _N_AMP)[:, 0].copy()

    @property
    def windows_since_gap(self) -> np.ndarray:
        """Per channel: good windows since the start or since it last went ``rewarm_gap_s`` without one."""
        return self._fresh.copy()

    def transform(self, table: FeatureTable) -> np.ndarray:
        """Rows for the windows of ``table``: array (n_windows, n_channels, len(ROW_COLUMNS))."""
        self._indices(table)
        values = np.ascontiguousarray(table.values, dtype=np.float64)
        out = np.empty(values.shape[:2] + (len(ROW_COLUMNS),))
        # one Numba pass: a live stream feeds one window at a time, where a few dozen NumPy calls
        # per window cost more than the arithmetic
        gate = self.gate
        self._n_tail = detector_rows(
            values, np.ascontiguousarray(table.times, dtype=np.float64), self._amp_idx, self._shape_idx,
            self._abs_idx, self._quality_idx, float(gate["max_flat"]), float(gate["max_clip"]),
            float(gate["max_line_noise"]), self._state, self._count, self._alpha, 0.3, self._prior,
            float(self._prior_windows), float(self._warm_windows), self._fresh, self._last_good, self._rewarm_gap_s,
            self._tail, self._n_tail, _CTX_IDX, _LONG_IDX, _RFREQ, _REL_LL, RISE_LOG10, _LENGTHS, _TINY, out)
        return out
