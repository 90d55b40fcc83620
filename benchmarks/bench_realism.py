"""Simulator realism: the statistics of ``eegmon simulate`` beside those of real recordings.

Every row is a statistic: ``eegmon`` holds the simulator's value, ``reference`` the real
recordings' (``reference_name`` says which), and ``ratio`` is null, since neither side is
"better"; rows without real data have a null reference. All statistics come from
:mod:`eegmon.simulate.measure`, which the generators never use, applied alike to both sides.

Background and artifacts: the Muse headband recordings (``muse_eegnotebooks``, 172 files of
2-4 min, 50 healthy subjects doing ERP tasks, 256 Hz, TP9/TP10 behind the ears, the sites closest
to a subscalp device; ``--quick``: every fourth file) against the awake part of a simulation
(2 channels, 207 Hz, seed 2027, 2 days; ``--quick``: 0.3 day) cut into 240-s chunks like the
Muse files (chunks with a seizure or its postictal period, a flat-line dropout, or within 5 min
of sleep are left out). Each statistic is computed per chunk (file) and channel, and the row
holds the median. Rows ending in ``_easy`` are the same for ``--difficulty easy``.

Seizures: the seizure-to-background RMS ratio (2-s windows, 1-40 Hz, median over the seizure over
the median of the 300 s before onset, largest over the seizure's channels), measured on the
written EDF+ files of a seizure-dense simulation (8 seizures/day for 5 days; ``--quick``: 12/day
for 1 day) at each difficulty, and on Muse files with one seizure put in by ``insert_seizures``. References: the 10
CHB-MIT scalp seizures of ``chbmit_windows`` (10-s ictal against 10-s pre-ictal windows, the
larger of F7-T7 and T7-P7, the nearest pairs to a subscalp temporal montage) and the 5 Dog_1
intracranial seizures of ``kaggle_dog1`` against the dog's interictal runs (median over the 16
contacts; intracranial seizures stand out more than subscalp ones).

Real-data rows are skipped when ``../shared/realdata`` is absent. Cite: NeuroTechX eeg-notebooks
(BSD-3-Clause); Shoeb 2009 / PhysioNet (CHB-MIT); Baldassano et al. 2017 (UPenn/Mayo challenge).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import _harness
import numpy as np

from eegmon.simulate import insert_seizures, measure, simulate

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
MUSE, DOG, CHBMIT = REALDATA / "muse_eegnotebooks", REALDATA / "kaggle_dog1", REALDATA / "chbmit_windows"
CHBMIT_NAME = "chbmit_windows: 10 scalp seizures, 10-s ictal vs pre-ictal, max of F7-T7/T7-P7"
DOG_NAME = "kaggle_dog1: 5 intracranial seizures vs interictal runs, median of 16 contacts"
SEED, FS, CHUNK_S = 2027, 207.0, 240.0
START = "2025-01-06T09:00:00+00:00"
#: (row, unit) of each background statistic, in table order.
STATS = [(f"rel_{b}", "fraction") for b in measure.BANDS] + [
    ("slope", "log10 power/log10 Hz"), ("alpha_peak_db", "dB"), ("rms_p5", "x median"), ("rms_p25", "x median"),
    ("rms_p75", "x median"), ("rms_p95", "x median"), ("rms_p99", "x median"), ("log_rms_sd", "ln uV"),
    ("line_length", "1/s"), ("ll_p95", "x median"), ("kurtosis", "excess"), ("window_kurtosis", "excess"),
    ("correlation", "r"),
] + [(f"artifacts_{k}_per_h", "1/h") for k in measure.FINDER_KINDS] + [("artifact_time_share", "fraction")]
EASY_ROWS = ("rel_delta", "slope", "rms_p95", "rms_p99", "log_rms_sd", "kurtosis", "artifacts_slow_per_h",
             "artifacts_emg_per_h", "artifacts_jump_per_h")


def _read_edf(path: Path) -> tuple[np.ndarray, float]:
    import edfio

    edf = edfio.read_edf(path)
    return np.stack([s.data for s in edf.signals], axis=1), float(edf.signals[0].sampling_frequency)


def chunk_stats(chunks: list[np.ndarray], fs: float) -> dict[str, float]:
    """Median over chunks and channels of each statistic of :data:`STATS`."""
    per: dict[str, list[float]] = {}
    counts = dict.fromkeys(measure.FINDER_KINDS, 0)
    hours = flagged = 0.0
    for x in chunks:
        for name, values in {**measure.spectral_shape(x, fs), **measure.amplitude_stats(x, fs)}.items():
            per.setdefault(name, []).extend(np.atleast_1d(values))
        per.setdefault("correlation", []).append(measure.channel_correlation(x, fs))
        found = measure.find_artifacts(x, fs)
        seconds = np.zeros(int(x.shape[0] / fs) + 1, dtype=bool)
        for a, b, kind in found:
            counts[kind] += 1
            seconds[int(a):int(b)] = True
        hours += x.shape[0] / fs / 3600.0
        flagged += seconds.sum()
    out = {name: float(np.median(values)) for name, values in per.items()}
    out.update({f"artifacts_{k}_per_h": n / hours for k, n in counts.items()})
    out["artifact_time_share"] = flagged / (hours * 3600.0)
    return out


# --------------------------------------------------------------------------- real data

def muse_files(quick: bool) -> list[Path]:
    files = sorted(MUSE.glob("*/*.edf"))
    return files[::4] if quick else files


def muse_tp(files: list[Path]) -> list[np.ndarray]:
    """TP9 and TP10 of each Muse file (columns 0 and 3)."""
    return [_read_edf(f)[0][:, [0, 3]] for f in files]


def chbmit_ratios() -> list[float]:
    ratios = []
    for ictal in sorted(CHBMIT.glob("*/ictal/*.npy")):
        pre = ictal.parent.parent / "preictal_10s" / ictal.name.replace("_ictal.npy", "_preictal10s.npy")
        a, b = np.load(ictal).T[:, [1, 2]], np.load(pre).T[:, [1, 2]]  # F7-T7, T7-P7
        ratio = np.median(measure.window_rms(a, 256.0), axis=0) / np.median(measure.window_rms(b, 256.0), axis=0)
        ratios.append(float(ratio.max()))
    return ratios


def dog_ratios() -> list[float]:
    runs = [_read_edf(p) for p in sorted(DOG.glob("*interictal*.edf"))]
    fs = runs[0][1]
    base = np.median(np.concatenate([measure.window_rms(x, fs) for x, _ in runs]), axis=0)
    return [float(np.median(np.median(measure.window_rms(_read_edf(p)[0], fs), axis=0) / base))
            for p in sorted(DOG.glob("*_ictal_from_onset.edf"))]


# --------------------------------------------------------------------------- simulated data

def _truth(folder: Path) -> dict:
    return json.loads((folder / "simulation.json").read_text())


def _unix(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def awake_chunks(folder: Path) -> tuple[list[np.ndarray], float]:
    """240-s chunks of the awake, seizure-free, dropout-free recording."""
    truth = _truth(folder)
    sleep = [(_unix(s["start"]) - 300, _unix(s["end"]) + 300) for s in truth["sleep"]]
    busy = [(s["onset_unix_s"] - 10, s["onset_unix_s"] + s["duration_s"] + s["postictal_s"]) for s in truth["seizures"]]
    busy += [(a["onset_unix_s"], a["onset_unix_s"] + a["duration_s"]) for a in truth["artifacts"]
             if a["type"] == "flat"]
    chunks = []
    for entry in truth["files"]:
        x, fs = _read_edf(folder / entry["name"])
        t0, n = _unix(entry["start"]), int(CHUNK_S * fs)
        for i in range(0, x.shape[0] - n + 1, n):
            a, b = t0 + i / fs, t0 + (i + n) / fs
            if not any(lo < b and a < hi for lo, hi in sleep + busy):
                chunks.append(x[i:i + n])
    return chunks, fs


def seizure_ratios(folder: Path) -> list[float]:
    """The measured ratio of every seizure in a simulation, from its EDF+ files and truth."""
    truth = _truth(folder)
    names = truth["channels"]
    ratios = []
    for entry in truth["files"]:
        seizures = [s for s in truth["seizures"] if s["file"] == entry["name"]]
        if not seizures:
            continue
        x, fs = _read_edf(folder / entry["name"])
        for sz in seizures:
            onset = sz["onset_unix_s"] - _unix(entry["start"])
            ratios.append(measure.seizure_rms_ratio(x, fs, onset, onset + sz["duration_s"],
                                                    channels=[names.index(c) for c in sz["channels"]]))
    return ratios


def inserted_ratios(backgrounds: list[np.ndarray]) -> list[float]:
    """Measured ratio of one seizure put by ``insert_seizures`` into each real background (256 Hz)."""
    ratios = []
    for i, x in enumerate(backgrounds):
        y, seizures = insert_seizures(x, 256.0, rng=np.random.default_rng(SEED + i), n_seizures=1)
        s = seizures[0]
        ratios.append(measure.seizure_rms_ratio(y, 256.0, s.onset_s, s.offset_s, channels=s.channels))
    return ratios


def _distribution(ratios: list[float]) -> dict[str, float]:
    r = np.asarray(ratios)
    return {"median": float(np.median(r)), "below_1.5": float(np.mean(r < 1.5)), "below_1": float(np.mean(r < 1.0))}


# --------------------------------------------------------------------------- rows

def _stat_row(name: str, unit: str, ours: float, real: float | None, real_name: str | None) -> dict:
    row = _harness.row(name, unit, ours, real, real_name if real is not None else None)
    row["ratio"] = None  # a statistic: neither side is better
    return row


def _ratio_rows(prefix: str, ours: list[float], refs: list[tuple[str, list[float] | None, str]]) -> list[dict]:
    rows = [_stat_row(f"{prefix}_count", "seizures", float(len(ours)), None, None)]
    mine = _distribution(ours)
    for suffix, real, real_name in refs:
        if suffix and not real:
            continue  # a second reference's rows repeat ours: only worth it beside real values
        theirs = _distribution(real) if real else {}
        for stat, value in mine.items():
            unit = "ratio" if stat == "median" else "fraction"
            rows.append(_stat_row(f"{prefix}_{stat}{suffix}", unit, value, theirs.get(stat), real_name))
    return rows


def main() -> None:
    args = _harness.parse_args(__doc__)
    have_real = MUSE.is_dir() and DOG.is_dir() and CHBMIT.is_dir()
    real = muse = None
    if have_real:
        muse = muse_tp(muse_files(args.quick))
        real = chunk_stats(muse, 256.0)
    muse_name = f"muse_eegnotebooks TP9/TP10 (awake, {len(muse or [])} files)"
    days = 0.3 if args.quick else 2.0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sims = {}
        for difficulty in ("realistic", "easy"):
            folder = Path(tmp) / difficulty
            simulate(folder, days=days, fs=FS, seed=SEED, start=START, difficulty=difficulty, quiet=True)
            sims[difficulty] = chunk_stats(*awake_chunks(folder))
        for name, unit in STATS:
            ref = real[name] if real else None
            results.append(_stat_row(name, unit, sims["realistic"][name], ref, muse_name))
        for name, unit in STATS:
            if name in EASY_ROWS:
                results.append(_stat_row(f"{name}_easy", unit, sims["easy"][name], real[name] if real else None,
                                         muse_name))
        sz_days, sz_rate = (1.0, 12.0) if args.quick else (5.0, 8.0)
        ratios = {}
        for difficulty in ("realistic", "hard", "easy"):
            folder = Path(tmp) / f"sz-{difficulty}"
            simulate(folder, days=sz_days, fs=FS, seed=SEED + 1, start=START, seizures_per_day=sz_rate,
                     difficulty=difficulty, quiet=True)
            ratios[difficulty] = seizure_ratios(folder)
    refs = [("", chbmit_ratios() if have_real else None, CHBMIT_NAME),
            ("_dog", dog_ratios() if have_real else None, DOG_NAME)]
    results += _ratio_rows("sz_ratio", ratios["realistic"], refs)
    results += _ratio_rows("sz_ratio_hard", ratios["hard"], refs[:1])
    results += _ratio_rows("sz_ratio_easy", ratios["easy"], refs[:1])
    if have_real:
        results += _ratio_rows("inserted_muse_sz_ratio", inserted_ratios(muse), refs[:1])
    _harness.finish("realism", results, args)


if __name__ == "__main__":
    main()
