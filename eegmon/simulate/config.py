"""Every knob of the simulator in one documented dataclass."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .._checks import check_option
from ..errors import EegmonError

#: Artifact types the simulator writes, with the label used in ``*_artifacts.tsv``.
ARTIFACT_TYPES: dict[str, str] = {
    "musc": "muscle / EMG burst",
    "chew": "chewing: rhythmic EMG bursts at 1-2 Hz",
    "move": "movement: large slow excursions",
    "elpp": "electrode pop: step with exponential decay on one channel",
    "line": "line-noise burst (50/60 Hz and one harmonic)",
    "flat": "flat-line dropout (all channels constant)",
    "clip": "clipping: excursion beyond the amplifier rail, saturated in the digital values",
}

#: Seizure types and the share of seizures of each type.
SEIZURE_TYPES: dict[str, float] = {
    "focal_evolving": 0.45,  # low-voltage fast onset, then rhythmic discharge slowing 7 -> 2.5 Hz
    "spike_wave": 0.20,  # generalised spike-and-wave, 3.5 -> 2.5 Hz, abrupt onset and offset
    "tonic_clonic": 0.15,  # tonic muscle-like fast activity, then clonic spike bursts (hard: looks like EMG)
    "subtle_focal": 0.20,  # low amplitude, gradual onset, one channel (hard)
}


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of the subscalp-EEG simulator.

    Amplitudes are in microvolts (RMS for noise-like parts, peak for transients); rates are per
    day of recorded time; durations in seconds. Defaults describe a 2-channel subscalp device.

    Attributes
    ----------
    background_uv : float
        RMS of the broadband background.
    background_exponent : float
        Exponent beta of the background power spectrum, P(f) ~ 1/f**beta, between ~0.3 Hz and
        Nyquist (a pole/zero filter on white noise).
    channel_correlation : float
        Share (0-1) of the background common to all channels (neighbouring bipolar channels).
    alpha_uv, alpha_band : float, (float, float)
        RMS and band of the posterior alpha rhythm while awake; it waxes and wanes.
    slow_wave_uv, slow_wave_band : float, (float, float)
        RMS and band of sleep slow waves at the deepest sleep.
    spindle_uv, spindle_per_min : float, float
        Peak amplitude of 11.5-14.5 Hz sleep spindles and their rate in light (N2) sleep.
    sleep_start_h, wake_h, sleep_jitter_h, sleep_cycle_min : float
        Nightly sleep window (UTC hours) with a daily jitter (SD), and the sleep-cycle length.
    charge_start_h, charge_minutes : float, (float, float)
        Daily charging gap: start hour (SD 1.5 h) and duration range in minutes.
    dropouts_per_day, dropout_minutes : float, (float, float)
        Unplanned recording gaps: rate and log-uniform duration range in minutes.
    seizure_duration_s : (float, float)
        Range of seizure durations (each type uses a part of it).
    seizure_uv : float
        Typical peak amplitude of a seizure discharge (types scale it).
    min_seizure_interval_s : float
        Seizures closer than this to the previous one are dropped (one event per cluster).
    circadian_strength, circadian_peak_h : float
        Seizure rate multiplier ``1 + a cos(2 pi (h - peak) / 24)``; peak hour in UTC.
    multiday_strength, multiday_period_days : float
        Seizure rate multiplier ``1 + b cos(2 pi t / P + phase)``, the phase drawn from the seed.
    postictal_s : (float, float)
        Range of postictal suppression/slowing durations.
    postictal_suppression : float
        Background amplitude factor right after a seizure (recovers linearly).
    artifact_rates : dict
        Artifacts per day awake and asleep for each type in ``ARTIFACT_TYPES``.
    line_freq : float
        Mains frequency for line-noise bursts (50 or 60 Hz); harmonics above 0.45 fs are left out.
    physical_range_uv : float
        The amplifier rail: EDF physical range is +/- this, digital range +/- 32767 (int16).
    """

    background_uv: float = 9.0
    background_exponent: float = 1.6
    channel_correlation: float = 0.6
    alpha_uv: float = 7.0
    alpha_band: tuple[float, float] = (8.0, 12.0)
    slow_wave_uv: float = 28.0
    slow_wave_band: tuple[float, float] = (0.5, 2.5)
    spindle_uv: float = 18.0
    spindle_per_min: float = 3.0
    sleep_start_h: float = 23.0
    wake_h: float = 7.0
    sleep_jitter_h: float = 0.75
    sleep_cycle_min: float = 90.0
    charge_start_h: float = 19.0
    charge_minutes: tuple[float, float] = (30.0, 120.0)
    dropouts_per_day: float = 0.5
    dropout_minutes: tuple[float, float] = (2.0, 180.0)
    seizure_duration_s: tuple[float, float] = (20.0, 180.0)
    seizure_uv: float = 110.0
    min_seizure_interval_s: float = 1800.0
    circadian_strength: float = 0.7
    circadian_peak_h: float = 5.0
    multiday_strength: float = 0.6
    multiday_period_days: float = 9.0
    postictal_s: tuple[float, float] = (60.0, 300.0)
    postictal_suppression: float = 0.3
    artifact_rates: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {
            # (per day awake, per day asleep)
            "musc": (40.0, 6.0),
            "chew": (10.0, 0.0),
            "move": (16.0, 6.0),
            "elpp": (8.0, 4.0),
            "line": (4.0, 1.0),
            "flat": (3.0, 2.0),
            "clip": (3.0, 1.0),
        }
    )
    line_freq: float = 50.0
    physical_range_uv: float = 1000.0

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> SimulationConfig:
        """Defaults overridden by the fields of a JSON object (unknown names are an error)."""
        path = Path(path)
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise EegmonError(f"cannot read simulator config: {err.strerror or err}", path) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise EegmonError(f"simulator config is not valid JSON: {err}", path) from None
        if not isinstance(values, dict):
            raise EegmonError(f"simulator config must be a JSON object, got {type(values).__name__}.", path)
        defaults = cls()
        names = [f.name for f in dataclasses.fields(cls)]
        kwargs = {}
        for name, value in values.items():
            try:
                check_option("config field", name, names)
            except EegmonError as err:
                raise EegmonError(err.message, path) from None
            default = getattr(defaults, name)
            if isinstance(default, tuple):
                value = tuple(value)
            elif isinstance(default, dict):
                value = {**default, **{k: tuple(v) for k, v in value.items()}}
            if isinstance(default, float) and not isinstance(value, int | float):
                raise EegmonError(f"config field {name!r} must be a number, got {value!r}.", path)
            kwargs[name] = float(value) if isinstance(default, float) else value
        return cls(**kwargs)
