"""The plan of a simulated recording: files and gaps, sleep, seizures and artifacts in absolute time.

Everything here is drawn from one seeded generator before any signal is made, so the truth is
fixed by the seed alone and the files can then be generated in any order or in parallel.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .config import ARTIFACT_TYPES, LEGACY_ARTIFACT_TYPES, SEIZURE_TYPES, SimulationConfig

DAY = 86400.0
HARD_SEIZURE_TYPES = ("tonic_clonic", "subtle_focal")

#: Duration range (s) of each seizure type, inside SimulationConfig.seizure_duration_s.
_SEIZURE_DURATIONS = {
    "focal_evolving": (45.0, 180.0),
    "spike_wave": (20.0, 45.0),
    "tonic_clonic": (50.0, 120.0),
    "subtle_focal": (25.0, 90.0),
}
#: Duration range (s) of each artifact type.
ARTIFACT_DURATIONS = {
    "musc": (1.0, 20.0),
    "chew": (5.0, 30.0),
    "move": (2.0, 10.0),
    "elpp": (1.0, 3.0),
    "line": (10.0, 300.0),
    "flat": (2.0, 120.0),
    "clip": (1.0, 5.0),
    "eyeb": (30.0, 600.0),
    "eyem": (3.0, 60.0),
    "eyer": (10.0, 120.0),
    "sway": (10.0, 180.0),
    "rhmv": (5.0, 60.0),
    "kcmp": (1.3, 2.0),
    "vrtx": (0.5, 8.0),
    "spnd": (10.0, 60.0),
    "arsl": (3.0, 15.0),
    "hhyp": (2.0, 15.0),
}
#: Sleep-depth range (see :func:`sleep_depth`) in which each sleep-stage-bound type occurs while asleep:
#: N2 for K-complexes and spindle trains, drowsiness/N1 for vertex waves, roving eyes and hypnagogic
#: hypersynchrony. Other types occur at any depth.
_SLEEP_DEPTHS = {
    "kcmp": (0.2, 0.7),
    "spnd": (0.2, 0.7),
    "vrtx": (0.0, 0.25),
    "eyer": (0.0, 0.25),
    "hhyp": (0.0, 0.25),
}


@dataclass(frozen=True)
class FileSpan:
    """One exported file: absolute start (whole seconds) and length in whole data records."""

    index: int
    start: float
    duration: float


@dataclass(frozen=True)
class Gap:
    """A span with no recording, and why (``charging`` or ``dropout``)."""

    start: float
    end: float
    kind: str


@dataclass(frozen=True)
class SeizureSpec:
    """A planned seizure: onset/duration in absolute time, type, per-channel field and gains."""

    index: int
    onset: float
    duration: float
    kind: str
    field: tuple[float, ...]
    amplitude: float
    postictal: float
    target_ratio: float | None = None

    @property
    def hard(self) -> bool:
        """Seizures meant to be hard to detect (artifact-like or faint, or a target ratio below 1.5)."""
        return self.kind in HARD_SEIZURE_TYPES or (self.target_ratio is not None and self.target_ratio < 1.5)

    def channels(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Channels where the discharge is at least half its maximum."""
        top = max(self.field)
        return tuple(n for n, w in zip(names, self.field, strict=True) if w >= 0.5 * top)


@dataclass(frozen=True)
class ArtifactSpec:
    """A planned artifact: type, absolute onset/duration and the channels it is on."""

    index: int
    kind: str
    onset: float
    duration: float
    channels: tuple[int, ...]


@dataclass(frozen=True)
class Timeline:
    """The whole plan of a simulation."""

    start: float
    end: float
    files: list[FileSpan]
    gaps: list[Gap]
    sleep: list[tuple[float, float]]
    seizures: list[SeizureSpec]
    artifacts: list[ArtifactSpec]
    multiday_phase: float


def _union(intervals: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    merged: list[list] = []
    for a, b, kind in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b, kind])
    return [tuple(m) for m in merged]


def _plan_gaps(rng: np.random.Generator, cfg: SimulationConfig, start: float, end: float) -> list[Gap]:
    raw: list[tuple[float, float, str]] = []
    day0 = np.floor(start / DAY) * DAY
    for day in np.arange(day0, end, DAY):
        hour = np.clip(cfg.charge_start_h + rng.normal(0.0, 1.5), 15.0, 23.0)
        length = rng.uniform(*cfg.charge_minutes) * 60.0
        raw.append((day + hour * 3600.0, day + hour * 3600.0 + length, "charging"))
    n_drop = rng.poisson(cfg.dropouts_per_day * (end - start) / DAY)
    lo, hi = np.log(cfg.dropout_minutes[0]), np.log(cfg.dropout_minutes[1])
    for onset in np.sort(rng.uniform(start, end, n_drop)):
        raw.append((onset, onset + np.exp(rng.uniform(lo, hi)) * 60.0, "dropout"))
    gaps = []
    for a, b, kind in _union(raw):
        a, b = max(a, start), min(b, end)
        # Files hold whole seconds; gaps are rounded outwards to whole seconds.
        a, b = float(np.floor(a)), float(np.ceil(b))
        if b > a:
            gaps.append(Gap(a, b, kind))
    return gaps


def _plan_files(gaps: list[Gap], start: float, end: float, record_s: float) -> list[FileSpan]:
    files: list[FileSpan] = []
    cursor = start
    bounds = [(g.start, g.end) for g in gaps] + [(end, end)]
    for gap_start, gap_end in bounds:
        seg_start, seg_end = cursor, gap_start
        cursor = gap_end
        # Long stretches are exported as files of at most a day, as a device does at midnight.
        while seg_end - seg_start >= 60.0:
            length = min(seg_end - seg_start, DAY)
            length = np.floor(length / record_s) * record_s
            files.append(FileSpan(len(files), float(seg_start), float(length)))
            seg_start += length
    return files


def _plan_sleep(rng: np.random.Generator, cfg: SimulationConfig, start: float, end: float) -> list[tuple[float, float]]:
    nights = []
    for day in np.arange(np.floor(start / DAY) * DAY - DAY, end, DAY):
        onset = day + (cfg.sleep_start_h + rng.normal(0.0, cfg.sleep_jitter_h)) * 3600.0
        wake = day + DAY + (cfg.wake_h + rng.normal(0.0, cfg.sleep_jitter_h)) * 3600.0
        if wake > start and onset < end:
            nights.append((float(onset), float(wake)))
    return nights


def awake_fraction(t: np.ndarray, sleep: list[tuple[float, float]], ramp_s: float = 300.0) -> np.ndarray:
    """1 when awake, 0 asleep, with linear transitions of ``ramp_s`` at sleep onset and waking."""
    asleep = np.zeros_like(t, dtype=float)
    for onset, wake in sleep:
        up = np.clip((t - onset) / ramp_s, 0.0, 1.0)
        down = np.clip((wake - t) / ramp_s, 0.0, 1.0)
        asleep = np.maximum(asleep, np.minimum(up, down))
    return 1.0 - asleep


def sleep_depth(t: np.ndarray, sleep: list[tuple[float, float]], cycle_s: float) -> np.ndarray:
    """Sleep depth in [0, 1]: 90-min cycles, deeper early in the night, REM-like dips at cycle ends."""
    depth = np.zeros_like(t, dtype=float)
    for onset, wake in sleep:
        inside = (t >= onset) & (t < wake)
        if not inside.any():
            continue
        since = t[inside] - onset
        phase = (since / cycle_s) % 1.0
        night = since / max(wake - onset, 1.0)
        # Descent into deep sleep, then back up to a light (REM-like) stage at each cycle's end.
        cycle = np.sin(np.pi * np.clip(phase / 0.85, 0.0, 1.0)) ** 1.5
        depth[inside] = cycle * (1.0 - 0.55 * night)
    return depth


def seizure_rate(t: np.ndarray, cfg: SimulationConfig, rate_per_day: float, phase: float) -> np.ndarray:
    """Seizure rate (per second) with a circadian and a multi-day cycle."""
    hour = (t % DAY) / 3600.0
    circadian = 1.0 + cfg.circadian_strength * np.cos(2 * np.pi * (hour - cfg.circadian_peak_h) / 24.0)
    multiday = 1.0 + cfg.multiday_strength * np.cos(2 * np.pi * t / (cfg.multiday_period_days * DAY) + phase)
    return rate_per_day / DAY * circadian * multiday


def _inside_file(files: list[FileSpan], onset: float, end: float, margin: float) -> bool:
    return any(f.start + margin <= onset and end <= f.start + f.duration - margin for f in files)


def seizure_field(rng: np.random.Generator, kind: str, n_channels: int) -> np.ndarray:
    """Per-channel weight of a seizure of ``kind`` (1 at a random focus; generalised types everywhere)."""
    focus = rng.integers(n_channels)
    if kind in ("spike_wave", "tonic_clonic"):
        return rng.uniform(0.8, 1.0, n_channels)
    if kind == "subtle_focal":
        return np.where(np.arange(n_channels) == focus, 1.0, rng.uniform(0.0, 0.25, n_channels))
    spread = rng.uniform(0.2, 0.9)
    return spread ** np.abs(np.arange(n_channels) - focus)


def _plan_seizures(
    rng: np.random.Generator, cfg: SimulationConfig, files: list[FileSpan], start: float, end: float,
    rate_per_day: float, n_channels: int, phase: float,
) -> list[SeizureSpec]:
    if rate_per_day <= 0:
        return []
    peak = rate_per_day / DAY * (1 + cfg.circadian_strength) * (1 + cfg.multiday_strength)
    n = rng.poisson(peak * (end - start))
    candidates = np.sort(rng.uniform(start, end, n))
    accept = rng.uniform(0.0, peak, n) < seizure_rate(candidates, cfg, rate_per_day, phase)
    kinds = list(SEIZURE_TYPES)
    probs = np.array([SEIZURE_TYPES[k] for k in kinds])
    seizures: list[SeizureSpec] = []
    last_end = -np.inf
    for onset in candidates[accept]:
        kind = kinds[rng.choice(len(kinds), p=probs / probs.sum())]
        lo, hi = _SEIZURE_DURATIONS[kind]
        lo, hi = max(lo, cfg.seizure_duration_s[0]), min(hi, cfg.seizure_duration_s[1])
        duration = float(np.round(np.exp(rng.uniform(np.log(lo), np.log(max(hi, lo)))), 2))
        field = seizure_field(rng, kind, n_channels)
        amplitude = float(rng.lognormal(0.0, 0.25))
        postictal = float(rng.uniform(*cfg.postictal_s))
        onset = float(np.round(onset, 2))
        if onset - last_end < cfg.min_seizure_interval_s:
            continue
        if not _inside_file(files, onset, onset + duration, margin=30.0):
            continue
        seizures.append(SeizureSpec(len(seizures), onset, duration, kind, tuple(float(w) for w in field),
                                    amplitude, postictal))
        last_end = onset + duration
    return seizures


def _plan_artifacts(
    rng: np.random.Generator, cfg: SimulationConfig, files: list[FileSpan], sleep: list[tuple[float, float]],
    start: float, end: float, n_channels: int,
) -> list[ArtifactSpec]:
    artifacts: list[ArtifactSpec] = []
    for kind in LEGACY_ARTIFACT_TYPES:
        awake_rate, asleep_rate = _rates(cfg, kind)
        peak = max(awake_rate, asleep_rate) / DAY
        if peak <= 0:
            continue
        n = rng.poisson(peak * (end - start))
        onsets = np.sort(rng.uniform(start, end, n))
        awake = awake_fraction(onsets, sleep)
        rate = (awake * awake_rate + (1 - awake) * asleep_rate) / DAY
        keep = rng.uniform(0.0, peak, n) < rate
        lo, hi = ARTIFACT_DURATIONS[kind]
        for onset in onsets[keep]:
            duration = float(np.round(np.exp(rng.uniform(np.log(lo), np.log(hi))), 2))
            if kind == "elpp":
                channels = (int(rng.integers(n_channels)),)
            elif kind == "musc":
                channels = tuple(range(n_channels)) if rng.uniform() < 0.5 else (int(rng.integers(n_channels)),)
            else:
                channels = tuple(range(n_channels))
            onset = float(np.round(onset, 2))
            if _inside_file(files, onset, onset + duration, margin=1.0):
                artifacts.append(ArtifactSpec(0, kind, onset, duration, channels))
    return artifacts


def _rates(cfg: SimulationConfig, kind: str) -> tuple[float, float]:
    """Configured (awake, asleep) rates per day of ``kind`` times the difficulty's scale."""
    return tuple(r * cfg.level.scale(kind) for r in cfg.artifact_rates.get(kind, (0.0, 0.0)))


def _stage_weight(kind: str, onsets: np.ndarray, sleep: list[tuple[float, float]], cfg: SimulationConfig) -> np.ndarray:
    """Rate of ``kind`` at ``onsets`` as a share of its peak rate (awake/asleep rates, sleep stage)."""
    awake_rate, asleep_rate = _rates(cfg, kind)
    awake = awake_fraction(onsets, sleep)
    asleep = 1.0 - awake
    if kind in _SLEEP_DEPTHS:
        lo, hi = _SLEEP_DEPTHS[kind]
        depth = sleep_depth(onsets, sleep, cfg.sleep_cycle_min * 60.0)
        asleep = asleep * ((depth >= lo) & (depth < hi))
    return (awake * awake_rate + asleep * asleep_rate) / max(awake_rate, asleep_rate)


def _plan_new_artifacts(
    rng: np.random.Generator, cfg: SimulationConfig, files: list[FileSpan], sleep: list[tuple[float, float]],
    start: float, end: float, n_channels: int,
) -> list[ArtifactSpec]:
    """The artifact types beyond the legacy seven (realistic/hard only), from their own random stream."""
    artifacts: list[ArtifactSpec] = []
    for kind in ARTIFACT_TYPES:
        if kind in LEGACY_ARTIFACT_TYPES:
            continue
        peak = max(_rates(cfg, kind)) / DAY
        if peak <= 0:
            continue
        onsets = np.sort(rng.uniform(start, end, rng.poisson(peak * (end - start))))
        weight = _stage_weight(kind, onsets, sleep, cfg)
        onsets = onsets[rng.uniform(0.0, 1.0, onsets.size) < weight]
        lo, hi = ARTIFACT_DURATIONS[kind]
        durations = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi), onsets.size)), 2)
        for onset, duration in zip(np.round(onsets, 2), durations, strict=True):
            if _inside_file(files, float(onset), float(onset + duration), margin=1.0):
                artifacts.append(ArtifactSpec(0, kind, float(onset), float(duration), tuple(range(n_channels))))
    return artifacts


def _numbered(artifacts: list[ArtifactSpec]) -> list[ArtifactSpec]:
    artifacts = sorted(artifacts, key=lambda a: (a.onset, a.kind))
    return [ArtifactSpec(i, a.kind, a.onset, a.duration, a.channels) for i, a in enumerate(artifacts)]


def plan(
    cfg: SimulationConfig, *, start: float, days: float, record_s: float, seizures_per_day: float,
    n_channels: int, seed: int,
) -> Timeline:
    """Draw the whole plan of a simulation from ``seed``.

    Parameters
    ----------
    cfg : SimulationConfig
        Simulator parameters.
    start : float
        Absolute start, whole seconds since the Unix epoch.
    days : float
        Length of the simulated period in days (recorded time is shorter by the gaps).
    record_s : float
        EDF data-record duration; file lengths are whole records.
    seizures_per_day : float
        Mean seizure rate before the cycles modulate it.
    n_channels : int
        Number of channels.
    seed : int
        Seed of the plan; signals use further streams of the same seed.

    Returns
    -------
    Timeline
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    end = start + float(np.round(days * DAY))
    gaps = _plan_gaps(rng, cfg, start, end)
    files = _plan_files(gaps, start, end, record_s)
    sleep = _plan_sleep(rng, cfg, start, end)
    phase = float(rng.uniform(0, 2 * np.pi))
    seizures = _plan_seizures(rng, cfg, files, start, end, seizures_per_day, n_channels, phase)
    artifacts = _plan_artifacts(rng, cfg, files, sleep, start, end, n_channels)
    if cfg.difficulty != "easy":
        # Further streams of the seed, so seizure times and legacy draws match across difficulties.
        ratios = cfg.level.draw_ratios(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(5,))),
                                       len(seizures))
        seizures = [dataclasses.replace(s, target_ratio=float(np.round(r, 3)))
                    for s, r in zip(seizures, ratios, strict=True)]
        extra = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(6,)))
        artifacts += _plan_new_artifacts(extra, cfg, files, sleep, start, end, n_channels)
    return Timeline(start, end, files, gaps, sleep, seizures, _numbered(artifacts), phase)
