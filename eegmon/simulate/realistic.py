"""Samples of one file at difficulty ``realistic``/``hard`` (``easy`` is the legacy path in writer.py).

Order of the parts: background (state levels per second), unlabelled single spindles in N2, the
labelled artifacts and sleep transients, then the seizures, each scaled against the signal that
is already there (artifacts included, as a seizure in a real recording would be), and last the
flat-line dropouts, which replace everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import signals
from .artifacts import artifact_waveform
from .background import ALPHA_EYES_OPEN, RealisticBackground, amplitude_drift, eyes_closed
from .seizures import ictal_waveform, insert_scaled
from .timeline import awake_fraction, sleep_depth

if TYPE_CHECKING:
    from .writer import _FileJob

BLOCK_S = 3600.0


def _levels(job: _FileJob, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-second levels of the background parts (wake/sleep state, eyes, drift, postictal state)."""
    cfg = job.cfg
    grid = job.span.start + np.arange(int(np.ceil(job.span.duration)) + 2, dtype=float)
    awake = awake_fraction(grid, list(job.sleep))
    depth = sleep_depth(grid, list(job.sleep), cfg.sleep_cycle_min * 60.0)
    asleep = 1.0 - awake
    wax = 0.6 + 0.4 * np.tanh(signals.smooth_noise(rng, grid.size, 10.0))
    closed = eyes_closed(rng, grid.size)
    levels = {
        "bg": amplitude_drift(rng, grid.size) * (1.0 + 0.15 * asleep),
        "alpha": awake * (ALPHA_EYES_OPEN + (1.0 - ALPHA_EYES_OPEN) * closed) * wax,
        "theta": 0.8 * asleep * np.clip(1.0 - depth / 0.3, 0.0, 1.0) * wax,
        "slow": asleep * np.clip((depth - 0.3) / 0.6, 0.0, 1.0),
    }
    for sz in job.seizures:
        r = (grid - sz.onset - sz.duration) / sz.postictal
        after = (r >= 0) & (r < 1)
        recovery = cfg.postictal_suppression + (1 - cfg.postictal_suppression) * r[after]
        for name in ("bg", "alpha", "theta"):
            levels[name][after] *= recovery
        levels["slow"][after] = np.maximum(levels["slow"][after], 0.6 * (1 - r[after]))
    levels["n2"] = asleep * ((depth > 0.2) & (depth < 0.7))
    levels["grid"] = grid - job.span.start
    return levels


def _background(job: _FileJob, rng: np.random.Generator, levels: dict[str, np.ndarray], n: int) -> np.ndarray:
    fs, n_ch = job.fs, len(job.names)
    background = RealisticBackground(rng, job.cfg, fs, n_ch)
    out = np.empty((n, n_ch), dtype=np.float32)
    block = int(BLOCK_S * fs)
    for i in range(0, n, block):
        j = min(i + block, n)
        t = np.arange(i, j) / fs
        at = {name: np.interp(t, levels["grid"], levels[name]) if np.any(levels[name][int(i / fs):int(j / fs) + 2])
              else np.zeros(1) for name in ("bg", "alpha", "theta", "slow")}
        out[i:j] = background.block(j - i, at["bg"], at["alpha"], at["theta"], at["slow"])
    return out


def _add_spindles(out: np.ndarray, job: _FileJob, rng: np.random.Generator, n2: np.ndarray) -> None:
    gain = rng.uniform(0.6, 1.0, out.shape[1])
    counts = rng.poisson(job.cfg.spindle_per_min / 60.0 * n2)
    for second in np.repeat(np.arange(counts.size), counts):
        wave = signals.spindle(rng, job.fs, job.cfg.spindle_uv)
        i0 = int((second + rng.uniform()) * job.fs)
        seg = out[i0:i0 + wave.size]
        seg += (wave[: seg.shape[0], None] * gain).astype(np.float32)


def _add_artifacts(out: np.ndarray, job: _FileJob) -> list[tuple[int, int]]:
    """Add every artifact but the flat lines, whose sample ranges are returned."""
    flats = []
    for art in job.artifacts:
        arng = np.random.default_rng(np.random.SeedSequence(job.seed, spawn_key=(4, art.index)))
        wave = artifact_waveform(arng, art.kind, art.duration, job.fs, job.cfg, job.fields, art.channels)
        i0 = int(round((art.onset - job.span.start) * job.fs))
        if art.kind == "flat":
            flats.append((i0, i0 + wave.shape[0]))
            continue
        cols = list(art.channels)
        seg = out[i0:i0 + wave.shape[0], cols]
        out[i0:i0 + wave.shape[0], cols] = seg + wave[: seg.shape[0]].astype(np.float32)
    return flats


def _add_seizures(out: np.ndarray, job: _FileJob) -> None:
    for sz in job.seizures:
        srng = np.random.default_rng(np.random.SeedSequence(job.seed, spawn_key=(3, sz.index)))
        wave = ictal_waveform(srng, sz.kind, sz.duration, job.fs, sz.field)
        involved = [job.names.index(c) for c in sz.channels(job.names)]
        i0 = int(round((sz.onset - job.span.start) * job.fs))
        insert_scaled(out, job.fs, i0, wave, involved, sz.target_ratio, srng, sz.kind)


def generate(job: _FileJob) -> np.ndarray:
    """Samples of one file in microvolts, shape (n_samples, n_channels), float32."""
    n = int(round(job.span.duration * job.fs))
    # SFC64 draws normal numbers a quarter faster than the default PCG64; the background needs billions.
    rng = np.random.Generator(np.random.SFC64(np.random.SeedSequence(job.seed, spawn_key=(1, job.span.index))))
    levels = _levels(job, rng)
    out = _background(job, rng, levels, n)
    _add_spindles(out, job, rng, levels["n2"])
    flats = _add_artifacts(out, job)
    _add_seizures(out, job)
    for i0, i1 in flats:  # a dropout replaces whatever else was there
        out[i0:i1] = 0.0
    return out
