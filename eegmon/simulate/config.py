"""Every knob of the simulator in one documented dataclass."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from .._checks import check_option
from ..errors import EegmonError

#: Artifact types the simulator writes, with the label used in ``*_artifacts.tsv``. The first seven
#: (:data:`LEGACY_ARTIFACT_TYPES`) are the only ones at difficulty ``easy``; the rest are added at
#: ``realistic`` and ``hard`` (eye, cable and rhythmic-movement artifacts, and sleep transients that
#: mimic seizures; they are labelled here although the sleep ones are physiological).
ARTIFACT_TYPES: dict[str, str] = {
    "musc": "muscle / EMG burst",
    "chew": "chewing: rhythmic EMG bursts at 1-2 Hz",
    "move": "movement: large slow excursions",
    "elpp": "electrode pop: step with exponential decay on one channel",
    "line": "line-noise burst (50/60 Hz and one harmonic)",
    "flat": "flat-line dropout (all channels constant)",
    "clip": "clipping: excursion beyond the amplifier rail, saturated in the digital values",
    "eyeb": "eye blinks: a run of 0.15-0.3 s monophasic deflections, 8-30 per minute",
    "eyem": "saccadic eye movements: steps decaying with the 0.5 Hz high-pass, polarity by channel",
    "eyer": "slow roving eye movements: 0.1-0.5 Hz swings in drowsiness and light sleep",
    "sway": "cable sway: slow quasi-rhythmic 0.4-1.5 Hz swings while walking or moving",
    "rhmv": "rhythmic movement (tremor, tooth-brushing, rocking, patting): 2-6 Hz bursts (seizure mimic)",
    "kcmp": "K-complex: sharp negative then slow positive wave, 0.5-1.5 s, in N2 sleep",
    "vrtx": "vertex sharp waves, single or in short runs, in drowsiness and N1 sleep",
    "spnd": "spindle train: 11-15 Hz spindles repeating every 2-6 s in N2 sleep",
    "arsl": "arousal burst: abrupt alpha/beta activity and EMG, 3-15 s, out of sleep",
    "hhyp": "hypnagogic hypersynchrony: rhythmic 3-5 Hz high-amplitude theta at sleep onset (seizure mimic)",
}
#: The artifact types of the original simulator (all that difficulty ``easy`` writes).
LEGACY_ARTIFACT_TYPES: tuple[str, ...] = ("musc", "chew", "move", "elpp", "line", "flat", "clip")
#: Artifact types that are hard mimics of a seizure (rhythmic, or sleep transients).
MIMIC_ARTIFACT_TYPES: tuple[str, ...] = ("rhmv", "sway", "chew", "kcmp", "vrtx", "spnd", "arsl", "hhyp", "eyer")

#: Seizure types and the share of seizures of each type.
SEIZURE_TYPES: dict[str, float] = {
    "focal_evolving": 0.45,  # low-voltage fast onset, then rhythmic discharge slowing 7 -> 2.5 Hz
    "spike_wave": 0.20,  # generalised spike-and-wave, 3.5 -> 2.5 Hz, abrupt onset and offset
    "tonic_clonic": 0.15,  # tonic muscle-like fast activity, then clonic spike bursts (hard: looks like EMG)
    "subtle_focal": 0.20,  # low amplitude, gradual onset, one channel (hard)
}


@dataclass(frozen=True)
class Difficulty:
    """One difficulty level of the simulator.

    Attributes
    ----------
    name : str
        ``easy``, ``realistic`` or ``hard``.
    description : str
        One line for the documentation and ``--help``.
    ratio_median, ratio_sigma : float
        The seizure-to-background RMS ratio is drawn log-normal with this median and this SD of
        its natural log (see :func:`eegmon.simulate.insert_seizures`).
    ratio_range : (float, float)
        Drawn ratios are clipped to this range.
    rate_scale : dict
        Multiplier of ``SimulationConfig.artifact_rates`` per artifact type (1 when missing).
    """

    name: str
    description: str
    ratio_median: float
    ratio_sigma: float
    ratio_range: tuple[float, float]
    rate_scale: dict[str, float]

    def scale(self, kind: str) -> float:
        """Multiplier of the configured rate of artifact type ``kind``."""
        return self.rate_scale.get(kind, 1.0)

    def draw_ratios(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` seizure-to-background RMS ratios from this level's log-normal distribution.

        The quantiles are stratified (a golden-ratio sequence from a random start, in random
        order), so even a handful of seizures follows the distribution's median and tails.
        """
        u = (rng.uniform() + np.arange(n) * 0.6180339887498949) % 1.0
        z = stats.norm.ppf(np.clip(rng.permutation(u), 1e-6, 1 - 1e-6))
        return np.clip(self.ratio_median * np.exp(self.ratio_sigma * z), *self.ratio_range)


#: The difficulty levels. ``easy`` is the original simulator, sample for sample (legacy background,
#: seizures far above the background, the seven legacy artifact types); its ratio distribution is
#: only used by :func:`~eegmon.simulate.insert_seizures`, and matches what the original simulator
#: measures (median 6.8). ``realistic`` is calibrated on real recordings (docs/simulator.md);
#: ``hard`` lowers the ratios further and makes the seizure mimics three times more frequent.
#: At ``realistic``, the legacy types' rates (kept as they were for ``easy``) are raised to the rates
#: the artifact finder measures on the Muse recordings (docs/simulator.md).
_REALISTIC_RATE_SCALE = {"musc": 5.0, "chew": 1.5, "move": 10.0, "elpp": 2.0}
DIFFICULTIES: dict[str, Difficulty] = {
    "easy": Difficulty("easy", "the original simulator: seizures stand far above a stationary background",
                       6.5, 0.9, (1.5, 30.0),
                       {k: 0.0 for k in ARTIFACT_TYPES if k not in LEGACY_ARTIFACT_TYPES}),
    "realistic": Difficulty("realistic", "background, artifacts and seizure amplitudes calibrated on real EEG",
                            2.0, 0.7, (0.35, 20.0), _REALISTIC_RATE_SCALE),
    "hard": Difficulty("hard", "lower seizure-to-background ratios and three times more seizure mimics",
                       1.4, 0.6, (0.3, 12.0),
                       {**_REALISTIC_RATE_SCALE,
                        **{k: 3.0 * _REALISTIC_RATE_SCALE.get(k, 1.0) for k in MIMIC_ARTIFACT_TYPES},
                        "kcmp": 2.0, "spnd": 2.0}),  # K-complexes and spindles would crowd N2 at 3 times
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
        Artifacts per day awake and asleep for each type in ``ARTIFACT_TYPES`` (the rate if the
        whole day were spent awake or asleep; sleep transients fall only in their sleep stages),
        multiplied by the difficulty's ``rate_scale``.
    artifact_uv : dict
        Typical amplitude (median of a log-normal draw; peak for transients, RMS for EMG) of each
        artifact type at ``realistic``/``hard``; ``easy`` keeps the original fixed ranges.
    line_freq : float
        Mains frequency for line-noise bursts (50 or 60 Hz); harmonics above 0.45 fs are left out.
    physical_range_uv : float
        The amplifier rail: EDF physical range is +/- this, digital range +/- 32767 (int16).
    background_knee_hz : float
        At ``realistic``/``hard`` the background spectrum is flat below this frequency and falls as
        1/f**background_exponent above it (fitted on the Muse TP9/TP10 recordings), after a
        0.5 Hz device high-pass.
    difficulty : str
        ``easy``, ``realistic`` (default) or ``hard``; see :data:`DIFFICULTIES`.
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
            "eyeb": (320.0, 0.0),
            "eyem": (450.0, 0.0),
            "eyer": (6.0, 60.0),
            "sway": (24.0, 0.0),
            "rhmv": (6.0, 0.5),
            "kcmp": (0.0, 1440.0),
            "vrtx": (4.0, 400.0),
            "spnd": (0.0, 240.0),
            "arsl": (0.0, 150.0),
            "hhyp": (0.0, 40.0),
        }
    )
    line_freq: float = 50.0
    physical_range_uv: float = 1000.0
    artifact_uv: dict[str, float] = field(
        default_factory=lambda: {
            "musc": 30.0, "chew": 60.0, "move": 120.0, "elpp": 250.0, "line": 25.0, "flat": 0.0, "clip": 0.0,
            "eyeb": 200.0, "eyem": 40.0, "eyer": 25.0, "sway": 30.0, "rhmv": 25.0, "kcmp": 45.0, "vrtx": 25.0,
            "spnd": 15.0, "arsl": 20.0, "hhyp": 35.0,
        }
    )
    background_knee_hz: float = 6.0
    difficulty: str = "realistic"

    def __post_init__(self) -> None:
        check_option("difficulty", self.difficulty, DIFFICULTIES)
        for name in ("artifact_rates", "artifact_uv"):
            for kind in getattr(self, name):
                check_option(f"{name} type", kind, ARTIFACT_TYPES)

    @property
    def level(self) -> Difficulty:
        """The :class:`Difficulty` of :attr:`difficulty`."""
        return DIFFICULTIES[self.difficulty]

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
                if not isinstance(value, dict):
                    raise EegmonError(f"config field {name!r} must be a JSON object, got {value!r}.", path)
                cast = tuple if isinstance(next(iter(default.values())), tuple) else float
                try:
                    value = {**default, **{k: cast(v) for k, v in value.items()}}
                except (TypeError, ValueError):
                    raise EegmonError(f"config field {name!r} has a value that is not a "
                                      f"{'pair of numbers' if cast is tuple else 'number'}: {value!r}.", path) from None
            if isinstance(default, float) and not isinstance(value, int | float):
                raise EegmonError(f"config field {name!r} must be a number, got {value!r}.", path)
            kwargs[name] = float(value) if isinstance(default, float) else value
        try:
            return cls(**kwargs)
        except EegmonError as err:
            raise EegmonError(err.message, path) from None
