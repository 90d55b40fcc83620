"""``simulate()``: plan a recording, generate each file and write EDF+, events.tsv and the truth."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .._atomic import TEMP_MARKER, atomic_path
from .._checks import check_number
from .._logging import logger, progress
from ..errors import EegmonError
from ..events import Annotation, to_datetime
from ..io._files import write_text_atomic
from ..io.events_tsv import write_events_tsv
from . import realistic, signals
from .artifacts import draw_fields
from .config import ARTIFACT_TYPES, LEGACY_ARTIFACT_TYPES, SimulationConfig
from .timeline import DAY, FileSpan, Timeline, awake_fraction, plan, sleep_depth

DIGITAL_MAX = 32767
BLOCK_S = 3600.0


@dataclass
class SimulationResult:
    """What a simulation wrote, with counts for a summary."""

    out_dir: Path
    edf_files: list[Path]
    n_seizures: int
    n_hard_seizures: int
    artifacts: dict[str, int]
    recorded_s: float
    span_s: float
    elapsed_s: float
    gaps: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        """A short human summary."""
        arts = ", ".join(f"{k} {v}" for k, v in self.artifacts.items())
        return (
            f"wrote {len(self.edf_files)} EDF+ files to {self.out_dir} in {self.elapsed_s:.1f} s\n"
            f"  recorded {self.recorded_s / 3600:.1f} h of {self.span_s / 3600:.1f} h "
            f"({len(self.gaps)} gaps)\n"
            f"  seizures: {self.n_seizures} ({self.n_hard_seizures} hard)\n"
            f"  artifacts: {arts}"
        )


def channel_names(n_channels: int) -> tuple[str, ...]:
    """Bipolar subscalp channel names ``E1-E2``, ``E2-E3``, ..."""
    return tuple(f"E{i + 1}-E{i + 2}" for i in range(n_channels))


def _record_duration(fs: float) -> float:
    for seconds in (1, 2, 4, 5, 10, 20, 25, 50, 100):
        if abs(fs * seconds - round(fs * seconds)) < 1e-9:
            return float(seconds)
    raise EegmonError(f"--fs {fs} Hz gives no whole number of samples per EDF data record of 1-100 s.")


def _parse_start(start: str | float | dt.datetime) -> float:
    if isinstance(start, int | float):
        value = float(start)
    else:
        if isinstance(start, str):
            try:
                start = dt.datetime.fromisoformat(start)
            except ValueError:
                raise EegmonError(f"--start must be an ISO 8601 date-time such as 2025-01-06T09:00:00+00:00, "
                                  f"got {start!r}.") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        value = start.timestamp()
    if value != np.floor(value):
        raise EegmonError(f"--start must fall on a whole second (EDF headers have 1-s resolution), got {start}.")
    if not 0 <= value < 4102444800:  # EDF+ dates cover 1985-2084; keep to the Unix era before 2100
        raise EegmonError(f"--start must be between 1970 and 2100, got {start}.")
    return value


def _stem(subject: str, t: float) -> str:
    return f"{subject}_{to_datetime(t).strftime('%Y%m%d_%H%M%S')}"


def open_out_dir(out_dir: Path, overwrite: bool, what: str) -> list[Path]:
    """Create ``out_dir`` (writable); its visible entries, which must be none unless ``overwrite``.

    ``what`` names what ``--overwrite`` replaces, for the message.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise EegmonError("exists and is not a directory.", out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EegmonError(f"cannot create output directory: {err.strerror or err}", out_dir) from None
    entries = [p for p in out_dir.iterdir() if not p.name.startswith(".")]
    if entries and not overwrite:
        raise EegmonError(f"output directory is not empty ({len(entries)} entries); "
                          f"choose an empty one or pass --overwrite to replace {what}.", out_dir)
    probe = out_dir / ".eegmon-write-test"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise EegmonError(f"output directory is not writable: {err.strerror or err}", out_dir) from None
    return entries


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    for p in open_out_dir(out_dir, overwrite, "a previous simulation"):
        if p.is_file() and (p.suffix == ".edf" or p.name.endswith((".tsv", ".tmp"))
                          or TEMP_MARKER in p.name or p.name == "simulation.json"):
            p.unlink()


@dataclass(frozen=True)
class _FileJob:
    out_dir: Path
    stem: str
    span: FileSpan
    fs: float
    record_s: float
    names: tuple[str, ...]
    cfg: SimulationConfig
    seed: int
    sleep: tuple[tuple[float, float], ...]
    seizures: tuple
    artifacts: tuple
    subject: str
    fields: dict | None = None


def _levels(job: _FileJob, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Per-second levels of background, alpha and slow waves (sleep, postictal state)."""
    cfg = job.cfg
    grid = job.span.start + np.arange(int(np.ceil(job.span.duration)) + 2, dtype=float)
    awake = awake_fraction(grid, list(job.sleep))
    depth = sleep_depth(grid, list(job.sleep), cfg.sleep_cycle_min * 60.0)
    alpha_mod = 0.55 + 0.45 * np.tanh(signals.smooth_noise(rng, grid.size, 20.0))
    bg = 1.0 + 0.15 * (1.0 - awake)
    alpha = awake * alpha_mod
    slow = (1.0 - awake) * np.clip((depth - 0.3) / 0.6, 0.0, 1.0)
    for sz in job.seizures:
        end = sz.onset + sz.duration
        during = (grid >= sz.onset) & (grid < end)
        alpha[during] *= 0.3
        r = (grid - end) / sz.postictal
        after = (r >= 0) & (r < 1)
        recovery = cfg.postictal_suppression + (1 - cfg.postictal_suppression) * r[after]
        bg[after] *= recovery
        alpha[after] *= recovery
        slow[after] = np.maximum(slow[after], 0.6 * (1 - r[after]))
    n2 = (1.0 - awake) * ((depth > 0.2) & (depth < 0.7))
    return grid - job.span.start, bg, alpha, slow, n2


def _generate(job: _FileJob) -> np.ndarray:
    """Samples of one file in microvolts, shape (n_samples, n_channels), float32."""
    if job.cfg.difficulty != "easy":
        return realistic.generate(job)
    cfg, fs, span = job.cfg, job.fs, job.span
    n_ch = len(job.names)
    n = int(round(span.duration * fs))
    rng = np.random.default_rng(np.random.SeedSequence(job.seed, spawn_key=(1, span.index)))
    grid, bg_level, alpha_level, slow_level, n2 = _levels(job, rng)
    background = signals.Background(rng, cfg, fs, n_ch)
    out = np.empty((n, n_ch), dtype=np.float32)
    block = int(BLOCK_S * fs)
    for i in range(0, n, block):
        j = min(i + block, n)
        t = np.arange(i, j) / fs
        out[i:j] = background.block(j - i, np.interp(t, grid, bg_level), np.interp(t, grid, alpha_level),
                                    np.interp(t, grid, slow_level))
    spindle_gain = rng.uniform(0.6, 1.0, n_ch)
    counts = rng.poisson(cfg.spindle_per_min / 60.0 * n2)
    for second in np.repeat(np.arange(counts.size), counts):
        wave = signals.spindle(rng, fs, cfg.spindle_uv)
        i0 = int((second + rng.uniform()) * fs)
        seg = out[i0:i0 + wave.size]
        seg += (wave[: seg.shape[0], None] * spindle_gain).astype(np.float32)
    for sz in job.seizures:
        srng = np.random.default_rng(np.random.SeedSequence(job.seed, spawn_key=(3, sz.index)))
        wave = signals.seizure(srng, sz.kind, sz.duration, fs, cfg.seizure_uv * sz.amplitude)
        i0 = int(round((sz.onset - span.start) * fs))
        out[i0:i0 + wave.size] += (wave[:, None] * np.asarray(sz.field)).astype(np.float32)
    flats = []
    for art in job.artifacts:
        arng = np.random.default_rng(np.random.SeedSequence(job.seed, spawn_key=(4, art.index)))
        wave = signals.artifact(arng, art.kind, art.duration, fs, cfg)
        i0 = int(round((art.onset - span.start) * fs))
        if art.kind == "flat":
            flats.append((i0, i0 + wave.size))
            continue
        seg = out[i0:i0 + wave.size, list(art.channels)]
        out[i0:i0 + wave.size, list(art.channels)] = seg + wave[: seg.shape[0], None].astype(np.float32)
    for i0, i1 in flats:  # a dropout replaces whatever else was there
        out[i0:i1] = 0.0
    return out


def _write_file(job: _FileJob) -> str:
    import edfio

    samples = _generate(job)
    scale = DIGITAL_MAX / job.cfg.physical_range_uv
    np.multiply(samples, scale, out=samples)  # in place: a day of samples is large
    np.rint(samples, out=samples)
    np.clip(samples, -DIGITAL_MAX, DIGITAL_MAX, out=samples)
    digital = samples.astype(np.int16)
    del samples
    start = to_datetime(job.span.start)
    edf_signals = [
        edfio.EdfSignal.from_digital(
            np.ascontiguousarray(digital[:, c]), job.fs, label=name, physical_dimension="uV",
            physical_range=(-job.cfg.physical_range_uv, job.cfg.physical_range_uv),
            digital_range=(-DIGITAL_MAX, DIGITAL_MAX), transducer_type="subscalp electrode",
            prefiltering="none",
        )
        for c, name in enumerate(job.names)
    ]
    edf = edfio.Edf(
        edf_signals,
        patient=edfio.Patient(code=job.subject),
        recording=edfio.Recording(startdate=start.date(), equipment_code="eegmon-sim"),
        starttime=start.time(),
        data_record_duration=job.record_s,
        annotations=[],
    )
    path = job.out_dir / f"{job.stem}.edf"
    with atomic_path(path) as tmp:
        edf.write(tmp)
    seizures = [Annotation(onset=s.onset, duration=s.duration, label="sz", channels=s.channels(job.names))
                for s in job.seizures]
    write_events_tsv(job.out_dir / f"{job.stem}_events.tsv", seizures, job.span.start, job.span.duration)
    artifacts = [Annotation(onset=a.onset, duration=a.duration, label=a.kind,
                            channels=tuple(job.names[c] for c in a.channels)) for a in job.artifacts]
    write_events_tsv(job.out_dir / f"{job.stem}_artifacts.tsv", artifacts, job.span.start, job.span.duration)
    return str(path)


def _gaps_between(timeline: Timeline) -> list[dict]:
    gaps = []
    for a, b in zip(timeline.files[:-1], timeline.files[1:], strict=True):
        g0, g1 = a.start + a.duration, b.start
        if g1 > g0:
            kinds = {g.kind for g in timeline.gaps if g.start < g1 and g.end > g0} or {"dropout"}
            gaps.append({"start": to_datetime(g0).isoformat(), "duration_s": g1 - g0, "kind": "+".join(sorted(kinds))})
    return gaps


def _truth_json(timeline: Timeline, params: dict, names: tuple[str, ...], stems: list[str]) -> dict:
    def where(t: float) -> str:
        return next(s for s, f in zip(stems, timeline.files, strict=True) if f.start <= t < f.start + f.duration)

    from .. import __version__

    return {
        "generator": f"eegmon {__version__}",
        "difficulty": params["config"]["difficulty"],
        "parameters": params,
        "channels": list(names),
        "start": to_datetime(timeline.start).isoformat(),
        "end": to_datetime(timeline.end).isoformat(),
        "multiday_phase_rad": timeline.multiday_phase,
        "files": [{"name": f"{s}.edf", "start": to_datetime(f.start).isoformat(), "duration_s": f.duration}
                  for s, f in zip(stems, timeline.files, strict=True)],
        "gaps": _gaps_between(timeline),
        "sleep": [{"start": to_datetime(a).isoformat(), "end": to_datetime(b).isoformat()} for a, b in timeline.sleep],
        "seizures": [{"onset": to_datetime(s.onset).isoformat(), "onset_unix_s": s.onset, "duration_s": s.duration,
                      "type": s.kind, "hard": s.hard, "channels": list(s.channels(names)),
                      "field": list(s.field), "amplitude_factor": s.amplitude, "target_ratio": s.target_ratio,
                      "postictal_s": s.postictal,
                      "file": f"{where(s.onset)}.edf"} for s in timeline.seizures],
        "artifacts": [{"onset_unix_s": a.onset, "duration_s": a.duration, "type": a.kind,
                       "channels": [names[c] for c in a.channels]} for a in timeline.artifacts],
    }


def simulate(
    out_dir: str | os.PathLike,
    *,
    days: float,
    fs: float = 207.0,
    n_channels: int = 2,
    seizures_per_day: float = 2.0,
    seed: int = 0,
    start: str | float | dt.datetime = "2025-01-06T09:00:00+00:00",
    subject: str = "sim01",
    config: SimulationConfig | None = None,
    n_jobs: int | None = None,
    overwrite: bool = False,
    quiet: bool = False,
    difficulty: str | None = None,
) -> SimulationResult:
    """Simulate a device-like subscalp EEG recording with exact ground truth.

    Parameters
    ----------
    out_dir : path-like
        Directory to write; created if needed, must be empty unless ``overwrite``.
    days : float
        Simulated period in days (0 < days <= 3650); gaps make the recorded time shorter.
    fs : float
        Sampling rate in Hz (64-2048).
    n_channels : int
        Number of bipolar channels (1-8).
    seizures_per_day : float
        Mean seizure rate before circadian and multi-day modulation (0-100).
    seed : int
        Seed; the same seed and arguments give byte-identical files.
    start : str | float | datetime
        Absolute start (ISO 8601, UTC if no offset, or seconds since the epoch), whole seconds.
    subject : str
        Subject code in file names and the EDF+ patient field (letters, digits, '-').
    config : SimulationConfig | None
        Simulator parameters; defaults to ``SimulationConfig()``.
    n_jobs : int | None
        Worker processes; None uses every CPU. The output does not depend on it.
    overwrite : bool
        Replace a previous simulation's files in ``out_dir``.
    quiet : bool
        No progress bar.
    difficulty : str | None
        ``easy`` (the original simulator, sample for sample), ``realistic`` or ``hard``; overrides
        ``config.difficulty`` (default ``realistic``). See :data:`~eegmon.simulate.DIFFICULTIES`.

    Returns
    -------
    SimulationResult
    """
    days = check_number("--days", days, low=0, high=3650, low_inclusive=False)
    fs = check_number("--fs", fs, low=64, high=2048)
    n_channels = check_number("--channels", n_channels, low=1, high=8, integer=True)
    seizures_per_day = check_number("--seizures-per-day", seizures_per_day, low=0, high=100)
    seed = check_number("--seed", seed, low=0, high=2**63 - 1, integer=True)
    if not subject or not all(c.isalnum() or c == "-" for c in subject):
        raise EegmonError(f"--subject must be letters, digits and '-', got {subject!r}.")
    if n_jobs is not None:
        n_jobs = check_number("--jobs", n_jobs, low=1, high=256, integer=True)
    cfg = config or SimulationConfig()
    if difficulty is not None:
        cfg = replace(cfg, difficulty=difficulty)
    if cfg.line_freq >= 0.45 * fs:
        raise EegmonError(f"--fs {fs} Hz is too low for {cfg.line_freq} Hz line noise (needs fs > "
                          f"{cfg.line_freq / 0.45:.0f} Hz); use a higher --fs or set line_freq.")
    t0 = time.perf_counter()
    record_s = _record_duration(fs)
    start_s = _parse_start(start)
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir, overwrite)

    timeline = plan(cfg, start=start_s, days=days, record_s=record_s, seizures_per_day=seizures_per_day,
                    n_channels=n_channels, seed=seed)
    if not timeline.files:
        raise EegmonError(f"--days {days} leaves no recorded time after the planned gaps; simulate a longer period.")
    names = channel_names(n_channels)
    stems = [_stem(subject, f.start) for f in timeline.files]
    fields = None
    if cfg.difficulty != "easy":  # artifact fields are one per recording: the same montage all along
        fields = draw_fields(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,))), n_channels)
    jobs = []
    for stem, span in zip(stems, timeline.files, strict=True):
        end = span.start + span.duration
        jobs.append(_FileJob(
            out_dir, stem, span, fs, record_s, names, cfg, seed, tuple(timeline.sleep),
            tuple(s for s in timeline.seizures if span.start <= s.onset < end),
            tuple(a for a in timeline.artifacts if span.start <= a.onset < end),
            subject, fields,
        ))
    workers = min(n_jobs or os.cpu_count() or 1, len(jobs))
    logger.info("simulating %.1f days (%d files) with %d worker(s)", days, len(jobs), workers)
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            paths = list(progress(pool.map(_write_file, jobs), total=len(jobs), desc="simulate", quiet=quiet,
                                  unit="file"))
    else:
        paths = [_write_file(job) for job in progress(jobs, desc="simulate", quiet=quiet, unit="file")]

    params = {"days": days, "fs": fs, "channels": n_channels, "seizures_per_day": seizures_per_day, "seed": seed,
              "subject": subject, "config": asdict(cfg)}
    truth = _truth_json(timeline, params, names, stems)
    write_text_atomic(out_dir / "simulation.json", json.dumps(truth, indent=1) + "\n")

    kinds = LEGACY_ARTIFACT_TYPES if cfg.difficulty == "easy" else ARTIFACT_TYPES
    counts = {k: sum(a.kind == k for a in timeline.artifacts) for k in kinds}
    recorded = sum(f.duration for f in timeline.files)
    return SimulationResult(
        out_dir=out_dir, edf_files=[Path(p) for p in paths], n_seizures=len(timeline.seizures),
        n_hard_seizures=sum(s.hard for s in timeline.seizures), artifacts=counts, recorded_s=recorded,
        span_s=timeline.end - timeline.start, elapsed_s=time.perf_counter() - t0, gaps=truth["gaps"],
    )


__all__ = ["DAY", "SimulationResult", "channel_names", "simulate"]
