"""Detection quality (issue 5): eegmon's detectors beside a literature reference and a published peer.

Simulated data (SzCORE event scoring, ``eegmon.evaluate``): a fresh simulator seed (2026; the
generic model was trained on 101-104 and tuned on 999), 2 channels at 207 Hz, the default 2
seizures/day, 30 days (``--quick``: 2 days; the row names say which). Detectors, each run once
over the whole recording (in parallel worker processes) and scored the same way:

- ``classifier``: the bundled generic model; ``line-length``: the line-length detector;
- reference ``gotman-style``: ``reference_detectors.GotmanDetector`` (Gotman 1982 half-wave
  criteria, published thresholds) through the same post-processing as the generic model;
- peer ``brainmaze-eeg-models`` (CNN+BiLSTM of Sladky et al. 2022, ONNX, the optional extra
  ``peer``): our 207 Hz resampled to 250 Hz, 300-s windows, each channel, max over channels,
  the same post-processing. It costs ~1.7 s of CPU per channel-hour, so the full run scores it
  on the first simulated files up to 36 h (with our classifier scored on the same files for
  the side-by-side) and ``--quick`` skips it. Windows every 279.5 s (the largest step that
  leaves no hole after dropping 10 s at each window edge), not the published 20 s step.

Real data (``../shared/realdata/bonn``, skipped when absent; Andrzejak et al. 2001): each
23.6-s single-channel segment gets a score, the 90th percentile of its window probabilities,
and the AUC of S (ictal) against each non-seizure set Z, O, N, F (F, interictal from the
epileptogenic zone, is the hard case):

- generic (no training on Bonn): the bundled classifier and line-length; reference: the
  Gotman criteria with the absolute half-wave amplitude in place of the relative one (a
  23.6-s segment has no 16-s background 12 s earlier);
- patient-specific: 5-fold by segment number (train on 4/5 of the segments of all sets, S = 1,
  others 0, test on the rest): an eegmon ``FeatureClassifier`` on eegmon's detector rows,
  reference: a logistic regression on log band powers (``reference_detectors``), same folds.

Ratios: > 1 means eegmon is better (eegmon/reference for sensitivity, F1, AUC; reference/eegmon
for false alarms per 24 h and latency). When either value is 0 or missing (e.g. no false
alarm at all, or no detection so no latency) the ratio is null; so is a latency ratio when
either latency is <= 0 (median detection at or before the annotated onset; SzCORE clips
early detections at -30 s).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import _harness
import numpy as np

SEED = 2026
PEER_FS = 250
PEER_HOURS = 36.0
BONN = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata" / "bonn"
BONN_FS = 173.61
BONN_SETS = ("Z", "O", "N", "F")
SEGMENT_Q = 90.0  # segment score: this percentile of the window probabilities
METRICS = (("sensitivity", "fraction", True), ("fp_per_24h", "1/24h", False), ("latency_median_s", "s", False),
           ("f1", "fraction", True))


# --------------------------------------------------------------------------- simulated data (workers)

def _pack(events) -> list[tuple]:
    return [(e.onset, e.duration, e.confidence, tuple(e.channels), e.source) for e in events]


def _unpack(packed) -> list:
    from eegmon.events import Annotation

    return [Annotation(onset=o, duration=d, label="sz", channels=ch, confidence=c, source=s)
            for o, d, c, ch, s in packed]


def _postprocess_params() -> dict:
    from eegmon.detectors.generic import bundled_model

    return dict(bundled_model().postprocess)


class _InfAsMissing:
    """Estimator proxy: infinite feature values become NaN (missing) before ``predict_proba``.

    Workaround: on the 30-day seed-2026 simulation a fully flat window gives ``kurtosis = inf``
    in eegmon's detector rows and the estimator raises (a bug in eegmon, reported); the
    benchmark counts those rows and lets the runner treat them as bad signal (p = 0).
    """

    def __init__(self, est) -> None:
        self.est, self.classes_, self.n_rows = est, est.classes_, 0

    def predict_proba(self, X):
        bad = np.isinf(X)
        if bad.any():
            self.n_rows += int(bad.any(axis=1).sum())
            X = np.where(bad, np.nan, X)
        return self.est.predict_proba(X)


def run_eegmon(folder: str, detector: str) -> tuple[list[tuple], float, str]:
    """Worker: one eegmon detector over the device folder; events, CPU seconds, note."""
    from eegmon.detectors.batch import detect_source

    from eegmon.commands.detect import load_detection_model
    from eegmon.source import open_source

    t0 = time.process_time()
    model, name = load_detection_model(detector, None)
    model.estimator = guard = _InfAsMissing(model.estimator)
    result = detect_source(open_source(folder), model, name=name)
    note = f"{guard.n_rows} window-channel rows with infinite features (treated as missing)" if guard.n_rows else ""
    return _pack(result.events), time.process_time() - t0, note


def run_gotman(folder: str) -> tuple[list[tuple], float, str]:
    """Worker: the Gotman-style reference over the device folder, same post-processing as ours."""
    from eegmon.detectors import PostProcessor
    from reference_detectors import GotmanDetector

    from eegmon.source import open_source

    t0 = time.process_time()
    source = open_source(folder)
    det = GotmanDetector(source.fs, len(source.channels))
    post = PostProcessor(**_postprocess_params(), window_s=det.window_s, channel_names=source.channels,
                         source="detector:gotman-style")
    events = []
    for t, x in source.chunks(600.0):
        times, flags = det.push(x, t)
        if times.size:
            events += post.update(times, flags.max(axis=1), flags)
    events += post.flush()
    return _pack(events), time.process_time() - t0, ""


def _segments(source, t_lo: float, t_hi: float):
    """Contiguous runs of samples of ``source`` inside [t_lo, t_hi): (t_start, (n, n_ch))."""
    run_t, parts, expect = None, [], None
    for t, x in source.chunks(600.0):
        if t >= t_hi or t + len(x) / source.fs <= t_lo:
            continue
        if parts and abs(t - expect) > 1.0 / source.fs:
            yield run_t, np.concatenate(parts)
            parts = []
        if not parts:
            run_t = t
        parts.append(x)
        expect = t + len(x) / source.fs
    if parts:
        yield run_t, np.concatenate(parts)


def run_peer(folder: str, t_lo: float, t_hi: float) -> tuple[list[tuple] | None, float, str]:
    """Worker: brainmaze-eeg-models over the files in [t_lo, t_hi); events, CPU s, note."""
    t0 = time.process_time()
    try:
        from brainmaze_eeg_models.seizure import load_trained_model, predict_channel_seizure_probability
    except ImportError as err:
        return None, 0.0, f"brainmaze-eeg-models not installed ({err}); install the 'peer' extra"
    from math import gcd

    from eegmon.detectors import PostProcessor
    from scipy.signal import resample_poly

    from eegmon.source import open_source

    source = open_source(folder)
    model = load_trained_model("modelA")
    post = PostProcessor(**_postprocess_params(), window_s=1.5, channel_names=source.channels,
                         source="detector:brainmaze")
    fs_in = int(round(source.fs))
    g = gcd(PEER_FS, fs_in)
    events = []
    for t_start, x in _segments(source, t_lo, t_hi):
        if len(x) / source.fs < 300.0:
            continue  # the model needs at least one 300-s window
        per_ch = []
        for c in range(x.shape[1]):
            xr = resample_poly(x[:, c].astype(np.float64), PEER_FS // g, fs_in // g)
            _, p = predict_channel_seizure_probability(xr, PEER_FS, model=model, step_s=279.5)
            per_ch.append(p)
        n = min(len(p) for p in per_ch) // 2 * 2
        cp = np.stack([p[:n] for p in per_ch], axis=1)  # (n, n_ch) on a 0.5-s grid, NaN = not evaluated
        with np.errstate(all="ignore"):
            # column j covers [j/2 - 0.5, j/2 + 0.5) s; pairs (2k, 2k+1) -> one value per second
            # covering [k - 0.5, k + 1) s
            cp = np.fmax(cp[0::2], cp[1::2])
        cp = np.nan_to_num(cp, nan=0.0)
        times = t_start + np.arange(cp.shape[0]) + 1.0
        events += post.update(times, cp.max(axis=1), cp)
    events += post.flush()
    return _pack(events), time.process_time() - t0, "modelA, step 279.5 s"


def _score(ref_folder: Path, source, events, out: Path, files=None) -> dict:
    """SzCORE event scores of ``events`` against the ground truth (only ``files`` if given)."""
    from eegmon.commands.detect import write_outputs
    from eegmon.evaluate import evaluate

    out.mkdir(parents=True)
    written = write_outputs(out / "hyp", source, events)
    ref = ref_folder
    if files is not None:
        keep = {Path(f).stem for f in files}
        ref = out / "ref"
        ref.mkdir()
        for p in written:
            stem = p.name[: -len("_events.tsv")]
            if stem in keep:
                (ref / p.name).symlink_to(ref_folder / p.name)
            else:
                p.unlink()
    return evaluate(ref, out / "hyp").to_json()["event"]


def _rows(prefix: str, ours: dict, ref: dict | None, ref_name: str) -> list[dict]:
    rows = []
    for key, unit, hib in METRICS:
        r = _harness.row(f"{prefix}_{key}", unit, ours.get(key), None if ref is None else ref.get(key),
                         ref_name, higher_is_better=hib)
        if key.startswith("latency") and r["ratio"] is not None and min(r["eegmon"], r["reference"]) <= 0:
            r["ratio"] = None  # a latency <= 0 (detected at or before the marked onset) has no meaningful ratio
        rows.append(r)
    return rows


def simulated(args, results: list[dict]) -> None:
    from eegmon.simulate import simulate
    from eegmon.source import open_source

    days = 2.0 if args.quick else 30.0
    tag = f"sim{days:g}d{'_quick' if args.quick else ''}"
    with tempfile.TemporaryDirectory(prefix="eegmon-bench-detection-") as tmp:
        # EEGMON_BENCH_SIM_CACHE=DIR keeps the simulation there between runs (~2 GB for 30 days)
        cache = os.environ.get("EEGMON_BENCH_SIM_CACHE")
        folder = Path(cache) / f"sim{days:g}d-seed{SEED}" if cache else Path(tmp) / "sim"
        t0 = time.perf_counter()
        if not (folder / "simulation.json").is_file():
            simulate(folder, days=days, seed=SEED, quiet=True, overwrite=True)
        print(f"simulated {days:g} days (seed {SEED}) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        source = open_source(folder)
        files = source.files()
        peer_files, hours = [], 0.0
        for origin, start, stop in files:
            if hours + (stop - start) / 3600 > PEER_HOURS and peer_files:
                break
            peer_files.append((origin, start, stop))
            hours += (stop - start) / 3600
        t0 = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
            jobs = {}
            if not args.quick:  # the longest job first
                jobs["peer"] = pool.submit(run_peer, str(folder), peer_files[0][1], peer_files[-1][2])
            jobs["classifier"] = pool.submit(run_eegmon, str(folder), "classifier")
            jobs["line-length"] = pool.submit(run_eegmon, str(folder), "line-length")
            jobs["gotman"] = pool.submit(run_gotman, str(folder))
            out = {}
            for k, f in jobs.items():
                try:
                    out[k] = f.result()
                except Exception as err:  # report the failure in the rows, keep the other detectors
                    out[k] = (None, 0.0, f"FAILED: {type(err).__name__}: {err}")
        print(f"detection wall time {time.perf_counter() - t0:.0f} s; CPU s: "
              + ", ".join(f"{k} {v[1]:.0f}" for k, v in out.items()), file=sys.stderr)
        for k, v in out.items():
            if v[2]:
                print(f"{k}: {v[2]}", file=sys.stderr)
        work = Path(tmp) / "score"
        scores = {k: {} if out[k][0] is None else _score(folder, source, _unpack(out[k][0]), work / k)
                  for k in ("classifier", "line-length", "gotman")}
        for k, s in scores.items():
            print(f"{tag} {k}: {s}", file=sys.stderr)
        results += _rows(f"{tag}_classifier", scores["classifier"], scores["gotman"], "gotman-style")
        results += _rows(f"{tag}_line_length", scores["line-length"], scores["gotman"], "gotman-style")
        # the peer, on the first files only, beside our classifier on the same files
        ptag = f"peer_brainmaze_{tag}_skipped" if args.quick else f"peer_brainmaze_{tag}_first{hours:.0f}h"
        if args.quick:
            note, peer_score, ours = "skipped in --quick (~1.7 s CPU per channel-hour)", None, {}
        else:
            events, _, note = out["peer"]
            names = [o for o, _, _ in peer_files]
            ours = {} if out["classifier"][0] is None else \
                _score(folder, source, _unpack(out["classifier"][0]), work / "classifier-peer-files", names)
            peer_score = None if events is None else _score(folder, source, _unpack(events), work / "peer", names)
            print(f"{ptag} classifier: {ours}\n{ptag} brainmaze: {peer_score}", file=sys.stderr)
        print(f"peer brainmaze-eeg-models: {note}", file=sys.stderr)
        results += _rows(ptag, ours, peer_score, "brainmaze-eeg-models")


# --------------------------------------------------------------------------- Bonn

def _bonn_segments(n_per_set: int) -> dict[str, list[tuple[int, np.ndarray]]]:
    out = {}
    for s in (*BONN_SETS, "S"):
        paths = sorted(p for p in (BONN / s).iterdir() if p.suffix.lower() == ".txt")[:n_per_set]
        out[s] = [(int("".join(ch for ch in p.stem if ch.isdigit())), np.loadtxt(p)) for p in paths]
    return out


def _auc(pos, neg) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg]))


def bonn(args, results: list[dict]) -> None:
    if not BONN.is_dir():
        print(f"Bonn data not found at {BONN}: real-data rows skipped", file=sys.stderr)
        return
    from eegmon.detectors import DetectionModel, FeatureClassifier
    from eegmon.detectors.runner import FeatureStream, StreamingDetector
    from reference_detectors import band_power_rows, gotman_segment_score, logistic_band_power

    from eegmon.commands.detect import load_detection_model

    n = 10 if args.quick else 60
    tag = f"bonn{'_quick' + str(n) if args.quick else ''}"
    t0 = time.perf_counter()
    data = _bonn_segments(n)
    scores: dict[str, dict[str, list[float]]] = {}
    # "stream": the segments, shuffled (seed 0), are fed to one detector as one recording with gaps, as
    # a patient-adaptive detector meets a patient's data: the baseline learns the recording's background
    # without labels, one causal pass. "isolated": each 23.6-s segment alone, scored against the
    # population prior from simulated subscalp EEG (Bonn amplitudes are far outside it).
    order = [(s, i) for s, segs in data.items() for i in range(len(segs))]
    perm = np.random.default_rng(0).permutation(len(order))
    for det in ("classifier", "line-length"):
        model, _ = load_detection_model(det, None)
        scores[det], scores[det + ":isolated"] = {}, {}
        for s, segs in data.items():
            vals = []
            for _, x in segs:
                run = StreamingDetector(model, BONN_FS, ["EEG"], clip_level=1e4)
                vals.append(float(np.percentile(run.push(x[:, None], 0.0).proba, SEGMENT_Q)))
            scores[det + ":isolated"][s] = vals
        run = StreamingDetector(model, BONN_FS, ["EEG"], clip_level=1e4)
        for k, j in enumerate(perm):
            s, i = order[j]
            proba = run.push(data[s][i][1][:, None], 100.0 * k).proba
            scores[det].setdefault(s, []).append(float(np.percentile(proba, SEGMENT_Q)) if proba.size else 0.0)
    scores["gotman"] = {s: [gotman_segment_score(x, BONN_FS, q=SEGMENT_Q) for _, x in segs]
                        for s, segs in data.items()}
    for s in BONN_SETS:
        ref = _auc(scores["gotman"]["S"], scores["gotman"][s])
        for det in ("classifier", "line-length"):
            for mode, key in (("generic", det), ("generic_isolated", det + ":isolated")):
                results.append(_harness.row(f"{tag}_{mode}_{det.replace('-', '_')}_auc_S_vs_{s}", "AUC",
                                            _auc(scores[key]["S"], scores[key][s]), ref,
                                            "gotman-style (absolute amplitude)", higher_is_better=True))
    # patient-specific: 5 folds by segment number
    template = DetectionModel("classifier", None, fs=207.0)
    rows, bp = {}, {}
    for s, segs in data.items():
        for num, x in segs:
            _, r = FeatureStream(template, BONN_FS, ["EEG"], clip_level=1e4).push(x[:, None], 0.0)
            rows[s, num] = r[:, 0, :]
            bp[s, num] = band_power_rows(x, BONN_FS)
    keys = sorted(rows)
    fold = {k: (k[1] - 1) % 5 for k in keys}
    ours_s, ref_s = {}, {}
    for f in range(5):
        train = [k for k in keys if fold[k] != f]
        test = [k for k in keys if fold[k] == f]
        y = np.concatenate([np.full(len(rows[k]), k[0] == "S", np.int8) for k in train])
        yb = np.concatenate([np.full(len(bp[k]), k[0] == "S", np.int8) for k in train])
        clf = FeatureClassifier(random_state=0).fit(np.nan_to_num(np.concatenate([rows[k] for k in train])), y)
        lr = logistic_band_power(np.concatenate([bp[k] for k in train]), yb)
        for k in test:
            ours_s[k] = float(np.percentile(clf.predict_proba(np.nan_to_num(rows[k]))[:, 1], SEGMENT_Q))
            ref_s[k] = float(np.percentile(lr.predict_proba(bp[k])[:, 1], SEGMENT_Q))
    for s in BONN_SETS:
        pos = [k for k in keys if k[0] == "S"]
        neg = [k for k in keys if k[0] == s]
        results.append(_harness.row(
            f"{tag}_patient_specific_classifier_auc_S_vs_{s}", "AUC", _auc([ours_s[k] for k in pos],
                                                                          [ours_s[k] for k in neg]),
            _auc([ref_s[k] for k in pos], [ref_s[k] for k in neg]), "logistic regression on band powers",
            higher_is_better=True))
    print(f"Bonn ({n} segments per set) in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def main() -> None:
    args = _harness.parse_args(__doc__)
    results: list[dict] = []
    simulated(args, results)
    bonn(args, results)
    _harness.finish("detection", results, args)


if __name__ == "__main__":
    main()
