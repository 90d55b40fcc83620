"""The live part of ``make demo``: replay a recording through the monitor and print alerts as they fire."""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from eegmon.errors import EegmonError


def true_onsets(folder: str | Path) -> list[float]:
    """Seizure onsets (s since the epoch) from the ``*_events.tsv`` files of a device folder."""
    from eegmon.io.events_tsv import read_events_tsv

    out = []
    for path in sorted(Path(folder).glob("*_events.tsv")):
        if path.name.endswith("_artifacts.tsv"):
            continue
        out += [e.onset for e in read_events_tsv(path).events if e.is_seizure]
    return sorted(out)


def replay_demo(folder: str | Path, out: Callable[[str], None] = print, *, chunk_s: float = 2.0,
                model: str = "classifier") -> str:
    """Replay ``folder`` at full speed through the live monitor; print each alert; return a summary.

    The monitor runs as ``eegmon monitor replay:FOLDER`` does (engine, SQLite outbox, delivery
    worker with a console channel), in a temporary directory. Each alert line gives the detected
    onset and the delay of the alert after the true onset (from the folder's ``*_events.tsv``),
    in stream time: what a caregiver would experience live.

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
    from eegmon.detectors import load_detector

    from eegmon.events import to_datetime

    from .channels import Channels
    from .engine import StreamEngine
    from .outbox import DeliveryWorker, Outbox
    from .policy import AlertRules, Contact, Policy
    from .sources import ReplaySource

    folder = Path(folder)
    if not folder.is_dir():
        raise EegmonError("no such folder.", folder)
    truth = true_onsets(folder)
    m, name = load_detector(model, None)
    src = ReplaySource(folder, speed=math.inf, chunk_s=chunk_s)
    rules = AlertRules(min_probability=0.8, min_duration_s=5.0, refractory_s=600.0, escalate_after_min=0.0,
                       max_reminders=0)
    policy = Policy((Contact("caregiver", ("console://",)),), rules)
    lines: list[str] = []

    def on_event(ev) -> None:
        near = [t for t in truth if t - 120.0 <= ev.onset <= t + 300.0]
        delay = f"{ev.detected_at - near[0]:5.1f} s after the true onset" if near else "no seizure there (false alarm)"
        line = (f"  ALERT {to_datetime(ev.detected_at):%Y-%m-%d %H:%M:%S}  onset {to_datetime(ev.onset):%H:%M:%S}  "
                f"p={ev.probability:.2f}  {delay}  (engine {ev.latency_s * 1e3:.1f} ms)")
        lines.append(line)
        out(line)

    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        outbox = Outbox(Path(tmp) / "alerts.sqlite", policy)
        delivered: list[str] = []
        worker = DeliveryWorker(outbox, Channels(console=delivered.append), interval_s=0.05).start()
        out(f"live monitor: replaying {src.src.recorded_s / 3600:.1f} h of {folder} at full speed "
            f"({chunk_s:g}-s chunks), console alerts")
        eng = StreamEngine("demo", m, fs=src.fs, channels=src.channels, clip_level=src.clip_level, name=name,
                           rules=rules, outbox=outbox, on_event=on_event)
        for t0, x in src:
            eng.push(t0, x)
        eng.close()
        deadline = time.monotonic() + 10.0
        while outbox.alerts("pending") and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.stop()
        sent = len(outbox.alerts("sent"))
        outbox.close()
    wall = time.perf_counter() - t_start
    hits = [t for t in truth if any(t - 120.0 <= a.onset <= t + 300.0 for a in eng.alerts)]
    delays = [min(a.detected_at - t for a in eng.alerts if t - 120.0 <= a.onset <= t + 300.0) for t in hits]
    false = [a for a in eng.alerts if not any(t - 120.0 <= a.onset <= t + 300.0 for t in truth)]
    lat = eng.stats.latencies_s
    summary = [
        f"live monitor: {len(eng.alerts)} alert(s) for {len(truth)} true seizure(s): {len(hits)} detected, "
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
