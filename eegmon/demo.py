"""``eegmon demo``: the end-to-end path on the bundled sample, summarised for a newcomer.

:func:`demo` runs it all: the recording against its ground truth (:func:`run_demo`), import into
an archive, both bundled detectors over the archive scored with SzCORE (:func:`detect_demo`),
then the live monitor replaying the recording at full speed with console alerts
(:func:`replay_demo`). A detection or an alert is a hit when it overlaps a true seizure widened
by the SzCORE tolerances the evaluator uses (:func:`is_hit`).

This module runs every floor of eegmon (detectors, streaming) from the core on purpose: it is the
tour the CLI's ``demo`` command gives, and it imports them only inside its functions.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import EegmonError
from .evaluate.scoring import TOLERANCE_END, TOLERANCE_START
from .events import Annotation, to_datetime
from .io.events_tsv import read_events_tsv

#: The committed sample (see sample_data/README.md); the same arguments re-create it.
SAMPLE_ARGS = dict(days=0.1667, start="2025-01-06T21:00:00+00:00", seed=17, seizures_per_day=30.0, n_jobs=1)


def sample_dir() -> Path | None:
    """The bundled sample recording in a source checkout, or None when not installed from one."""
    path = Path(__file__).resolve().parents[1] / "sample_data" / "sim"
    return path if (path / "simulation.json").is_file() else None


def _simulate_sample(out_dir: Path) -> Path:
    from .simulate import SimulationConfig, simulate

    config_path = Path(__file__).resolve().parents[1] / "sample_data" / "demo_config.json"
    config = SimulationConfig.from_json(config_path) if config_path.is_file() else None
    simulate(out_dir, config=config, quiet=True, **SAMPLE_ARGS)
    return out_dir


def _line_length(x: np.ndarray) -> float:
    return float(np.mean(np.abs(np.diff(x, axis=0))))


def resolve_sample(data: str | os.PathLike | None, workdir: Path) -> Path:
    """The folder to demo: ``data``, else the bundled sample, else the sample simulated into ``workdir``."""
    if data is not None:
        return Path(data)
    return sample_dir() or _simulate_sample(workdir / "sim")


def run_demo(folder: str | os.PathLike) -> str:
    """Summarise a simulated recording folder against its ground truth; return the text.

    Parameters
    ----------
    folder : path-like
        Folder written by ``eegmon simulate``.
    """
    import edfio

    folder = Path(folder)
    edf_paths = sorted(folder.glob("*.edf"))
    if not edf_paths:
        raise EegmonError("no .edf files found; expected a folder written by 'eegmon simulate'.", folder)
    lines = [f"eegmon demo on {folder}", ""]
    spans, seizures, artifacts, ratios = [], [], [], []
    for path in edf_paths:
        try:
            edf = edfio.read_edf(path)
        except Exception as err:  # edfio raises several types for malformed files
            raise EegmonError(f"not a readable EDF file: {err}", path) from None
        start = edf.startdatetime.replace(tzinfo=dt.UTC).timestamp()
        spans.append((start, start + edf.duration))
        events_path = path.with_name(path.stem + "_events.tsv")
        truth = read_events_tsv(events_path).events if events_path.exists() else []
        art_path = path.with_name(path.stem + "_artifacts.tsv")
        artifacts += read_events_tsv(art_path).events if art_path.exists() else []
        if not truth:
            continue
        fs = edf.signals[0].sampling_frequency
        data_uv = np.stack([s.data for s in edf.signals], axis=1)
        for ev in truth:
            i0, i1 = int((ev.onset - start) * fs), int((ev.offset - start) * fs)
            base = data_uv[max(i0 - int(300 * fs), 0):i0]
            ratios.append(_line_length(data_uv[i0:i1]) / max(_line_length(base), 1e-9))
            seizures.append(ev)
    recorded = sum(b - a for a, b in spans)
    gaps = [(a[1], b[0]) for a, b in zip(spans[:-1], spans[1:], strict=True) if b[0] > a[1]]
    lines.append(f"recording   {to_datetime(spans[0][0]):%Y-%m-%d %H:%M} to {to_datetime(spans[-1][1]):%Y-%m-%d %H:%M} "
                 f"UTC, {len(edf_paths)} EDF+ files, {recorded / 3600:.2f} h recorded, {len(gaps)} gap(s) "
                 f"totalling {sum(b - a for a, b in gaps) / 60:.1f} min")
    lines.append(f"seizures    {len(seizures)} in the ground truth (events.tsv)")
    for ev, ratio in zip(seizures, ratios, strict=True):
        lines.append(f"  {to_datetime(ev.onset):%Y-%m-%d %H:%M:%S}  {ev.duration:6.1f} s  "
                     f"channels {','.join(ev.channels) or 'all'}  line length x{ratio:.1f} vs the 5 min before")
    kinds: dict[str, int] = {}
    for a in artifacts:
        kinds[a.label] = kinds.get(a.label, 0) + 1
    lines.append("artifacts   " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return "\n".join(lines)


def is_hit(onset: float, offset: float, truth: Annotation) -> bool:
    """True when ``[onset, offset]`` overlaps the true seizure widened by the SzCORE tolerances.

    30 s before its onset and 60 s after its offset (``eegmon.evaluate.scoring.TOLERANCE_START``
    and ``TOLERANCE_END``), as the evaluator counts a true positive.
    """
    return truth.onset - TOLERANCE_START <= offset and onset <= truth.offset + TOLERANCE_END


def true_seizures(folder: str | os.PathLike) -> list[Annotation]:
    """The ground-truth seizures of a device folder, by onset."""
    from .io import read_device_folder

    return sorted((a for a in read_device_folder(folder).annotations if a.is_seizure), key=lambda a: a.onset)


def detect_demo(folder: str | os.PathLike, workdir: str | os.PathLike, out: Callable[[str], None] = print, *,
                quiet: bool = False) -> list[Annotation]:
    """Import ``folder`` into an archive in ``workdir``, run both bundled detectors, score and store them.

    Prints (through ``out``) the archive, each detector's SzCORE scores and each detection as a
    true seizure (:func:`is_hit`) or a false alarm; returns every detection.
    """
    from .archive import Archive
    from .detectors import load_detector
    from .detectors.batch import detect_source
    from .evaluate import evaluate
    from .io import open_recording, read_device_folder
    from .io.events_tsv import write_events_tsv

    folder, workdir = Path(folder), Path(workdir)
    archive = workdir / "demo.h5"
    rec = read_device_folder(folder)
    with Archive.create(archive, channels=rec.channels, fs=rec.fs) as arc:
        arc.import_recording(rec)
        out(f"\narchive     imported into {archive.name}: {len(arc.segments)} segment(s), "
            f"{len(arc.annotations())} annotations")
    source, files = open_recording(archive), open_recording(folder).files()
    truth = true_seizures(folder)
    out("\ndetection   (SzCORE event scoring against the ground truth)")
    detections = []
    for name in ("classifier", "line-length"):
        model, label = load_detector(name, None)
        result = detect_source(source, model, name=label, quiet=quiet)
        detections += result.events
        hyp = workdir / f"hyp-{name}"
        hyp.mkdir()
        for origin, start, stop in files:  # one events.tsv per recording file, as the evaluator pairs them
            write_events_tsv(hyp / f"{Path(origin).stem}_events.tsv",
                             [e for e in result.events if start <= e.onset < stop], start, stop - start)
        e = evaluate(folder, hyp).to_json()["event"]
        lat = "n/a" if e["latency_median_s"] is None else f"{e['latency_median_s']:.1f} s"
        out(f"  {name:<12} {len(result.events)} detections: sensitivity {e['sensitivity']:.0%}, "
            f"FP/24h {e['fp_per_24h']:.1f}, median latency {lat}")
        for ev in result.events:
            hit = any(is_hit(ev.onset, ev.offset, t) for t in truth)
            out(f"    {to_datetime(ev.onset):%H:%M:%S}  {ev.duration:5.0f} s  p={ev.confidence:.2f}  "
                f"{'true seizure' if hit else 'false alarm'}")
    with Archive.open(archive, "a") as arc:
        stored = len(arc.add_detections(detections))
    out(f"\nstored {stored} detection(s) in the archive, unreviewed, ready for review "
        "(eegmon detect ARCHIVE.h5 does this for any archive)")
    return detections


def replay_demo(folder: str | os.PathLike, out: Callable[[str], None] = print, *, chunk_s: float = 2.0,
                model: str = "classifier") -> str:
    """Replay ``folder`` at full speed through the live monitor; print each alert; return a summary.

    The monitor runs as ``eegmon monitor replay:FOLDER`` does (:class:`eegmon.streaming.live.LiveSystem`:
    engine, SQLite outbox, delivery worker with a console channel), in a temporary directory. Each
    alert line gives the detected onset and the delay of the alert after the true onset (from the
    folder's ground truth), in stream time: what a caregiver would experience live.

    Parameters
    ----------
    folder : path-like
        A device folder with ground truth (e.g. ``sample_data/sim``).
    out : callable
        Where lines go (default: print).
    chunk_s : float
        Chunk length; the alert time is known to within one chunk.
    model : str
        Detector name.
    """
    from .detectors import load_detector
    from .streaming.channels import Channels
    from .streaming.live import LiveSystem
    from .streaming.policy import AlertRules, Contact, Policy
    from .streaming.sources import ReplaySource

    folder = Path(folder)
    if not folder.is_dir():
        raise EegmonError("no such folder.", folder)
    truth = true_seizures(folder)
    m, name = load_detector(model, None)
    src = ReplaySource(folder, speed=math.inf, chunk_s=chunk_s)
    rules = AlertRules(min_probability=0.8, min_duration_s=2.0, refractory_s=600.0, escalate_after_min=0.0,
                       max_reminders=0)
    policy = Policy((Contact("caregiver", ("console://",)),), rules)

    def hits(alert) -> list[Annotation]:  # the alert's event so far runs from its onset to the alert
        return [t for t in truth if is_hit(alert.onset, alert.detected_at, t)]

    def on_event(ev) -> None:
        near = hits(ev)
        delay = (f"{ev.detected_at - near[0].onset:5.1f} s after the true onset" if near
                 else "no seizure there (false alarm)")
        out(f"  ALERT {to_datetime(ev.detected_at):%Y-%m-%d %H:%M:%S}  onset {to_datetime(ev.onset):%H:%M:%S}  "
            f"p={ev.probability:.2f}  {delay}  (engine {ev.latency_s * 1e3:.1f} ms)")

    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveSystem(Path(tmp) / "alerts.sqlite", policy, channels=Channels(console=lambda line: None),
                          interval_s=0.05).start()
        out(f"live monitor: replaying {src.src.recorded_s / 3600:.1f} h of {folder} at full speed "
            f"({chunk_s:g}-s chunks), console alerts")
        try:
            eng = live.add_stream("demo", m, fs=src.fs, channels=src.channels, clip_level=src.clip_level, name=name,
                                  on_event=on_event)
            for t0, x in src:
                eng.push(t0, x)
        finally:
            live.stop(drain_s=10.0)
        sent = len(live.outbox.alerts("sent"))
        live.outbox.close()
    wall = time.perf_counter() - t_start
    hit = [t for t in truth if any(is_hit(a.onset, a.detected_at, t) for a in eng.alerts)]
    delays = [min(a.detected_at - t.onset for a in eng.alerts if is_hit(a.onset, a.detected_at, t)) for t in hit]
    false = [a for a in eng.alerts if not hits(a)]
    lat = eng.stats.latencies_s
    summary = [
        f"live monitor: {len(eng.alerts)} alert(s) for {len(truth)} true seizure(s): {len(hit)} detected, "
        f"{len(false)} false alarm(s); {sent} delivered through the outbox",
        (f"  alert delay after true onset: median {sorted(delays)[len(delays) // 2]:.1f} s, max {max(delays):.1f} s"
         if delays else "  no seizure alerted"),
        f"  replayed {eng.stats.samples / src.fs / 3600:.1f} h in {wall:.1f} s "
        f"({eng.stats.samples / src.fs / max(wall, 1e-9):.0f}x real time); engine latency max "
        f"{max(lat) * 1e3 if lat else 0.0:.1f} ms; quality events {sum(eng.stats.quality.values())}",
    ]
    text = "\n".join(summary)
    out(text)
    return text


def demo(data: str | os.PathLike | None = None, *, chunk_s: float = 1.0, quiet: bool = False,
         engine_log: bool = False, out: Callable[[str], None] = print) -> None:
    """The whole demo (what ``eegmon demo`` prints), in a temporary folder.

    Parameters
    ----------
    data : path-like | None
        A simulated recording folder (default: the bundled sample, re-simulated when eegmon does
        not run from a source checkout).
    chunk_s : float
        Chunk length of the live replay in seconds.
    quiet : bool
        No progress bars.
    engine_log : bool
        Keep the live engine's log lines (for operators; the demo prints each alert itself).
    out : callable
        Where lines go.
    """
    import logging

    with tempfile.TemporaryDirectory(prefix="eegmon-demo-") as tmp:
        folder = resolve_sample(data, Path(tmp))
        out(run_demo(folder))
        detect_demo(folder, tmp, out, quiet=quiet)
        if not engine_log:
            logging.getLogger("eegmon.streaming").setLevel(logging.WARNING)
        out("\nlive monitor (the same recording replayed at full speed, as 'eegmon monitor replay:FOLDER')")
        replay_demo(folder, out=out, chunk_s=chunk_s)
    out("\neegmon is research software, not a certified medical device.")
