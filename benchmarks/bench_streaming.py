"""Live monitoring: per-chunk latency, streams per core, alert delivery latency, 30-day soak.

Data: the eegmon simulator's endless source (2 channels, 207 Hz, background EEG), generated
once per run; the bundled generic classifier.

Rows:

- ``chunk_latency_median`` / ``chunk_latency_p99`` / ``chunk_latency_window``: wall time of one
  1/8-s chunk through the whole live pipeline (``StreamEngine.push``: ordering, causal filters,
  window features, adaptive normalisation, classifier, post-processing, alert check), median and
  99th percentile over all chunks, and median over the chunks that complete a window (1 in 8:
  they run the estimator; the engine filters the 7 chunks before one with it, which it holds
  until then). Reference: a straightforward SciPy/NumPy chunk loop doing the same
  work: ``scipy.signal.sosfilt`` with carried ``zi``, a NumPy ring buffer, the features of
  ``benchmarks/reference_features.py`` on each completed window and the same estimator.
- ``streams_per_core``: how many real-time 2-channel 207 Hz streams (1/8-s chunks) one core
  sustains = stream-seconds processed per CPU second (``time.process_time``), with a
  :class:`~eegmon.streaming.engine.Monitor` batching the estimator call across streams;
  reference: the SciPy loop, one stream at a time. Target (issue #15): >= 5,000.
- ``alert_latency_median`` / ``alert_latency_p95``: from ``Outbox.record_event`` (event and alert
  committed; the commit wakes the delivery worker) to the JSON webhook's arrival at an
  ``http.server`` on 127.0.0.1; reference: apprise posting the same message directly (no outbox).
- ``onset_to_push_median`` / ``_p95``: true seizure onset to the ntfy push's arrival at a receiver on
  127.0.0.1 that speaks ntfy's publish API, on the realistic simulator (``simulate(difficulty=
  "realistic")``, 2 channels at 207 Hz, the bundled generic model, the policy's default alert rules,
  an ``[ack] secret`` so the push carries its Acknowledge action). The recording is fed in 1/8-s
  chunks as fast as possible between detections; from the chunk that completes a detection until its
  push has arrived, chunks are fed at real time, as a live device would send them, so the delivery
  competes with live processing. onset -> push = (end of the triggering window - true onset) +
  (wall time from that chunk's arrival to the push's arrival). ``_detection_median`` is the first
  part alone and ``_delivery_median`` the second; ``_sensitivity`` is the share of seizures pushed
  (onset within 30 s before to the end of the seizure), ``_false_per_24h`` the other pushes. No
  reference: the targets are a median <= 10 s and a p95 <= 20 s.
- ``soak_30d_rss_start`` / ``_rss_end`` / ``_rss_growth``: resident memory of a 30-day (--quick:
  2-day) replay through one engine that also writes the archive (5-minute segments) and the
  outbox, in 10-minute chunks (a few distinct simulated hours reused with advancing
  timestamps), measured after the first day and at the end; ``_last_day_vs_first``: processing
  time of the last simulated day over the first (archive growth must not slow it down).
- ``soak_6h_live_chunks_rss_start`` / ``_rss_end``: the same in 1/8-s chunks (the live size) for
  6 hours (--quick: 30 minutes), measured after a quarter and at the end.
- ``ack_200_clients_requests_per_s`` / ``_errors`` / ``_resets`` / ``_latency_p50`` / ``_p95``: 200
  client threads released at once, each POSTing a distinct valid acknowledgement token to an
  :class:`~eegmon.streaming.ack.AckServer` on 127.0.0.1 over a fresh connection (requests answered
  200 per second, median of the rounds; errors and resets summed over the rounds; latency from
  connect to the answer read, over all requests). Reference: the same server in the old configuration (listen
  backlog 5, a thread per connection without bound), which reset a third of such requests.
- ``delivery_after_20s_down_median`` / ``_max``: a JSON webhook receiver on 127.0.0.1 is down
  (port closed) for 20 s (--quick: 2 s) while an alert is pending in a :class:`LiveSystem`, then
  comes back; time from its return to the alert's arrival, over several trials run side by side.
  It is set by the outbox's retry backoff, read from the policy defaults (``[delivery]``).
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import math
import os
import socket
import statistics
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path

import _harness
import numpy as np
from eegmon.detectors import DETECTOR_COLUMNS, load_detector
from eegmon.streaming.engine import Monitor, StreamEngine
from eegmon.streaming.sources import SimSource
from reference_features import window_features
from scipy import signal

FS = 207.0
CHUNK = 26  # 1/8 s at 207 Hz
T0 = 1.7e9


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(v.split()[1]) for v in f if v.startswith("VmRSS")) / 1024


class ReferenceLoop:
    """The straightforward SciPy/NumPy chunk loop: filter with zi, ring buffer, features per window, estimator."""

    def __init__(self, model) -> None:
        self.est = model.estimator
        self.win, self.hop = int(model.window_s * FS), int(model.hop_s * FS)
        b = signal.butter(4, [0.5, 40.0], btype="bandpass", fs=FS, output="sos")
        notch = signal.tf2sos(*signal.iirnotch(50.0, 30.0, fs=FS))
        self.sos = np.vstack([b, notch])
        self.zi = np.zeros((self.sos.shape[0], 2, 2))
        self.raw = np.zeros((self.win, 2))
        self.filt = np.zeros((self.win, 2))
        self.fill = 0
        self.since = 0
        self.n_col = len(DETECTOR_COLUMNS)

    def push(self, x: np.ndarray) -> float | None:
        y, self.zi = signal.sosfilt(self.sos, x, axis=0, zi=self.zi)
        n = x.shape[0]
        self.raw = np.concatenate([self.raw[n:], x])
        self.filt = np.concatenate([self.filt[n:], y])
        self.fill += n
        self.since += n
        if self.fill < self.win or self.since < self.hop:
            return None
        self.since -= self.hop
        feats = window_features(self.raw, self.filt, FS, self.win, self.win)
        cols = np.stack([v[0] for v in feats.values()], axis=1)  # (n_ch, n_feat)
        rows = np.zeros((2, self.n_col))
        k = min(self.n_col, cols.shape[1])
        rows[:, :k] = np.nan_to_num(cols[:, :k])
        return float(self.est.predict_proba(rows)[:, -1].max())


def signal_pool(seconds: float, seed: int = 1) -> np.ndarray:
    src = SimSource(seed, chunk_s=seconds, speed=math.inf, start=T0, max_s=seconds, seizure_every_s=1e9)
    return next(iter(src))[1]


def bench_chunk_latency(model, name, seconds: float) -> list[dict]:
    x = signal_pool(seconds)
    chunks = [x[i:i + CHUNK] for i in range(0, x.shape[0] - CHUNK + 1, CHUNK)]
    eng = StreamEngine("bench", model, fs=FS, channels=("E1-E2", "E2-E3"), clip_level=3276.7, name=name)
    ref = ReferenceLoop(model)
    ours, theirs, ours_w, theirs_w = [], [], [], []
    warm = int(120 * FS / CHUNK)
    for i, c in enumerate(chunks):
        w0 = eng.stats.windows
        t = time.perf_counter()
        eng.push(T0 + i * CHUNK / FS if i == 0 else None, c)
        dt = time.perf_counter() - t
        t = time.perf_counter()
        p = ref.push(c)
        dr = time.perf_counter() - t
        if i < warm:
            continue
        ours.append(dt)
        theirs.append(dr)
        if eng.stats.windows > w0:
            ours_w.append(dt)
        if p is not None:
            theirs_w.append(dr)
    q = lambda v, p: float(np.percentile(v, p))  # noqa: E731
    ref_name = "SciPy sosfilt(zi) + NumPy ring buffer + reference features + same estimator"
    return [
        _harness.row("chunk_latency_median", "s", q(ours, 50), q(theirs, 50), ref_name),
        _harness.row("chunk_latency_p99", "s", q(ours, 99), q(theirs, 99), ref_name),
        _harness.row("chunk_latency_window", "s", q(ours_w, 50), q(theirs_w, 50), ref_name),
    ]


def bench_streams(model, name, n_streams: int, seconds: float) -> dict:
    x = signal_pool(seconds, seed=2)
    chunks = [x[i:i + CHUNK] for i in range(0, x.shape[0] - CHUNK + 1, CHUNK)]
    mon = Monitor()
    for k in range(n_streams):
        mon.add(StreamEngine(f"s{k}", model, fs=FS, channels=("E1-E2", "E2-E3"), clip_level=3276.7, name=name))
    warm = int(30 * FS / CHUNK)
    if len(chunks) <= warm:
        raise ValueError(f"bench_streams needs more than the 30 s of warm-up, got {seconds:g} s.")
    for i, c in enumerate(chunks[:warm]):
        mon.push_many([(s, T0 + i * CHUNK / FS if i == 0 else None, c) for s in mon.engines])
    cpu = time.process_time()
    for c in chunks[warm:]:
        mon.push_many([(s, None, c) for s in mon.engines])
    cpu = time.process_time() - cpu
    stream_s = n_streams * len(chunks[warm:]) * CHUNK / FS
    ours = stream_s / cpu
    refs = [ReferenceLoop(model) for _ in range(min(n_streams, 20))]
    for c in chunks[:warm]:
        for r in refs:
            r.push(c)
    cpu = time.process_time()
    for c in chunks[warm:]:
        for r in refs:
            r.push(c)
    cpu = time.process_time() - cpu
    theirs = len(refs) * len(chunks[warm:]) * CHUNK / FS / cpu
    return _harness.row("streams_per_core", "streams", ours, theirs,
                        "SciPy/NumPy chunk loop, one stream at a time", higher_is_better=True)


def bench_alert_latency(n: int, tmp) -> list[dict]:
    import apprise
    from eegmon.streaming.channels import Channels
    from eegmon.streaming.outbox import DeliveryWorker, Outbox, SeizureEvent, alert_key, event_id
    from eegmon.streaming.policy import AlertRules, Contact, Policy

    arrivals: dict[str, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            arrivals[self.headers.get("X-Idempotency-Key")] = time.perf_counter()
            self.send_response(200)
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"json://127.0.0.1:{httpd.server_address[1]}/hook"
    policy = Policy((Contact("c", (url,)),), AlertRules(refractory_s=1.0, escalate_after_min=0, max_reminders=0))
    outbox = Outbox(os.path.join(tmp, "bench.sqlite"), policy)
    worker = DeliveryWorker(outbox, Channels(), interval_s=0.05).start()
    ours = []
    try:
        for i in range(n + 1):
            ev = SeizureEvent(event_id("b", T0 + 100.0 * i), "b", T0 + 100.0 * i, 0.9, T0 + 100.0 * i + 5)
            t = time.perf_counter()
            outbox.record_event(ev)
            key = alert_key(ev.id, "c", 0, "initial")
            while key not in arrivals:
                time.sleep(0.001)
            if i:
                ours.append(arrivals[key] - t)
        theirs = []
        for i in range(n + 1):
            key = f"direct{i}"
            app = apprise.Apprise()
            t = time.perf_counter()
            app.add(f"{url}?+X-Idempotency-Key={key}")
            app.notify(body="Possible seizure", title="Seizure alert")
            while key not in arrivals:
                time.sleep(0.001)
            if i:
                theirs.append(arrivals[key] - t)
    finally:
        worker.stop()
        httpd.shutdown()
        httpd.server_close()
    ref = "apprise JSON POST straight away (no outbox)"
    return [
        _harness.row("alert_latency_median", "s", statistics.median(ours), statistics.median(theirs), ref),
        _harness.row("alert_latency_p95", "s", float(np.percentile(ours, 95)), float(np.percentile(theirs, 95)), ref),
    ]


def _ntfy_receiver(arrivals: dict[str, float]) -> ThreadingHTTPServer:
    """A minimal ntfy publish endpoint on 127.0.0.1 recording when each seizure alert's push arrived."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802
            t = time.time()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            click = body.get("click") or self.headers.get("X-Click", "")
            if "t=" in click:  # the ack token's payload names the event
                payload = click.split("t=", 1)[1].split(".")[0]
                eid = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["e"]
                arrivals.setdefault(eid, t)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def bench_onset_to_push(model, name, days: float, tmp: str) -> list[dict]:
    from eegmon.streaming.live import LiveSystem
    from eegmon.streaming.policy import AckSettings, Contact, Policy
    from eegmon.streaming.sources import ReplaySource

    from eegmon.io import read_events_tsv
    from eegmon.simulate import simulate

    folder = Path(tmp) / "realistic"
    sim = simulate(folder, days=days, seizures_per_day=12.0, seed=11, difficulty="realistic", quiet=True)
    truth = sorted((a.onset, a.onset + a.duration) for f in sorted(folder.glob("*_events.tsv"))
                   for a in read_events_tsv(f).events if a.label.startswith("sz"))
    arrivals: dict[str, float] = {}
    httpd = _ntfy_receiver(arrivals)
    policy = Policy((Contact("caregiver", (f"ntfy://127.0.0.1:{httpd.server_address[1]}/bench",)),),
                    ack=AckSettings(secret="bench-onset-to-push-secret", port=0))
    src = ReplaySource(folder, speed=math.inf)
    pushed = []  # (event, wall time of the chunk that completed its detection)
    with LiveSystem(Path(tmp) / "onset.sqlite", policy, serve_acks=False, interval_s=0.05) as live:
        eng = live.add_stream("bench", model, fs=src.fs, channels=src.channels, clip_level=src.clip_level,
                              name=name)
        live_until: tuple[float, float] | None = None  # (stream time, wall time) of the pacing origin
        for t0, x in src:
            if live_until is not None:
                if pushed[-1][0].id in arrivals or time.time() - live_until[1] > 60.0:
                    live_until = None
                else:  # real time until the push is in: a live device sends a chunk every 1/8 s
                    time.sleep(max(0.0, live_until[1] + (t0 + len(x) / src.fs - live_until[0]) - time.time()))
            wall = time.time()
            for ev in eng.push(t0, x):
                pushed.append((ev, wall))
                live_until = (t0 + len(x) / src.fs, wall)
        live.drain(30.0)
        deadline = time.time() + 30.0
        while any(ev.id not in arrivals for ev, _ in pushed) and time.time() < deadline:
            time.sleep(0.05)
    httpd.shutdown()
    httpd.server_close()
    detection, delivery, hit = [], [], set()
    for ev, wall in pushed:
        sz = next((s for s in truth if s[0] - 30.0 <= ev.onset <= s[1]), None)
        if sz is None or sz in hit or ev.id not in arrivals:
            continue
        hit.add(sz)
        detection.append(ev.detected_at - sz[0])
        delivery.append(arrivals[ev.id] - wall)
    total = np.add(detection, delivery)
    if not total.size:
        raise SystemExit("bench_onset_to_push: no seizure of the realistic simulation was pushed")
    hours = sim.recorded_s / 3600
    print(f"onset -> push: {len(hit)} of {len(truth)} seizures pushed, {len(pushed) - len(hit)} other pushes "
          f"in {hours:.1f} h", flush=True)
    return [
        _harness.row("onset_to_push_median", "s", float(np.median(total))),
        _harness.row("onset_to_push_p95", "s", float(np.percentile(total, 95))),
        _harness.row("onset_to_push_detection_median", "s", float(np.median(detection))),
        _harness.row("onset_to_push_delivery_median", "s", float(np.median(delivery))),
        _harness.row("onset_to_push_sensitivity", "fraction", len(hit) / max(len(truth), 1),
                     higher_is_better=True),
        _harness.row("onset_to_push_false_per_24h", "per 24 h", (len(pushed) - len(hit)) / hours * 24),
    ]


def bench_soak(model, name, days: float, tmp: str) -> list[dict]:
    """30 days through one engine writing an archive and an outbox, in 10-minute chunks."""
    from eegmon.streaming.engine import ArchiveWriter
    from eegmon.streaming.outbox import Outbox
    from eegmon.streaming.policy import Contact, Policy

    pool = [signal_pool(3600.0, seed=s) for s in range(3)]
    writer = ArchiveWriter(os.path.join(tmp, "soak.h5"), ("E1-E2", "E2-E3"), FS, source="live:soak")
    outbox = Outbox(os.path.join(tmp, "soak.sqlite"), Policy((Contact("c", ("console://",)),)))
    eng = StreamEngine("soak", model, fs=FS, channels=("E1-E2", "E2-E3"), clip_level=3276.7, name=name,
                       archive=writer, outbox=outbox)
    step = int(600 * FS)
    n_chunks = int(days * 24 * 6)
    start = None
    day_s = []
    t = t_day = time.perf_counter()
    for i in range(n_chunks):
        hour = pool[(i // 6) % 3]
        c = hour[(i % 6) * step:(i % 6 + 1) * step] + 3.0 * ((i // 6) % 5)
        eng.push(T0 + i * 600.0 if i == 0 else None, c)
        if i % 144 == 143:
            day_s.append(time.perf_counter() - t_day)
            t_day = time.perf_counter()
        if i == 24 * 6 - 1:
            start = rss_mb()
    eng.close()
    end = rss_mb()
    wall = time.perf_counter() - t
    print(f"soak: {days:g} simulated days (archive + outbox) in {wall:.0f} s ({days * 86400 / wall:.0f}x real time), "
          f"first day {day_s[0]:.1f} s, last day {day_s[-1]:.1f} s, {len(writer.arc.segments)} segments; "
          f"RSS after day 1 {start:.0f} MB, at the end {end:.0f} MB")
    tag = f"soak_{days:g}d"
    return [_harness.row(f"{tag}_rss_start", "MB", start), _harness.row(f"{tag}_rss_end", "MB", end),
            _harness.row(f"{tag}_rss_growth", "MB", end - start),
            _harness.row(f"{tag}_last_day_vs_first", "x", day_s[-1] / day_s[0])]


def bench_soak_live_chunks(model, name, hours: float) -> list[dict]:
    """Memory over ``hours`` of 1/8-s chunks (the live chunk size)."""
    pool = signal_pool(1800.0, seed=7)
    chunks = [pool[i:i + CHUNK] for i in range(0, pool.shape[0] - CHUNK + 1, CHUNK)]
    eng = StreamEngine("live", model, fs=FS, channels=("E1-E2", "E2-E3"), clip_level=3276.7, name=name)
    n = int(hours * 3600 * FS / CHUNK)
    start = None
    for i in range(n):
        eng.push(T0 if i == 0 else None, chunks[i % len(chunks)])
        if i == n // 4:
            start = rss_mb()
    eng.close()
    end = rss_mb()
    tag = f"soak_{hours:g}h_live_chunks"
    return [_harness.row(f"{tag}_rss_start", "MB", start), _harness.row(f"{tag}_rss_end", "MB", end)]


def _events(outbox, n: int, start: float) -> list[str]:
    from eegmon.streaming.outbox import SeizureEvent, event_id

    ids = []
    for i in range(n):
        onset = start + 100.0 * i
        ev = SeizureEvent(event_id("ack", onset), "ack", onset, 0.9, onset + 5)
        outbox.record_event(ev)
        ids.append(ev.id)
    return ids


def _ack_round(server, tokens: list[str]) -> dict:
    """All clients at once, one POST each on a fresh connection: throughput, latencies, errors, resets."""
    host, port = server.httpd.server_address[:2]
    n = len(tokens)
    latency: list[float | None] = [None] * n
    outcome: list[str] = ["missing"] * n
    barrier = threading.Barrier(n + 1)

    def client(i: int) -> None:
        body = urllib.parse.urlencode({"t": tokens[i]})
        barrier.wait()
        t = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=60)
            try:
                conn.request("POST", "/ack", body, {"Content-Type": "application/x-www-form-urlencoded"})
                resp = conn.getresponse()
                resp.read()
            finally:
                conn.close()
            outcome[i] = "ok" if resp.status == 200 else f"http {resp.status}"
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            outcome[i] = "reset"
        except Exception as err:  # noqa: BLE001 - every failure is counted, by kind
            outcome[i] = type(err).__name__
        latency[i] = time.perf_counter() - t

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    barrier.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    return {"rps": outcome.count("ok") / wall, "errors": sum(o != "ok" for o in outcome),
            "resets": outcome.count("reset"), "latency": [x for x in latency if x is not None]}


def bench_ack_concurrency(n_clients: int, rounds: int, tmp: str) -> list[dict]:
    """The ack server under ``n_clients`` simultaneous POSTs, against its old configuration (backlog 5)."""
    from eegmon.streaming.ack import AckServer, TokenSigner
    from eegmon.streaming.outbox import Outbox
    from eegmon.streaming.policy import AlertRules, Contact, Policy

    policy = Policy((Contact("c", ("console://",)),), AlertRules(refractory_s=1.0))
    signer = TokenSigner("bench-secret-0123456789")
    configs = {"eegmon": {}, "old": {"backlog": 5, "max_connections": 1_000_000}}
    runs: dict[str, list[dict]] = {k: [] for k in configs}
    for name, kwargs in configs.items():
        outbox = Outbox(os.path.join(tmp, f"ack-{name}.sqlite"), policy)
        warm = 20
        events = _events(outbox, warm + n_clients * rounds, T0)
        server = AckServer(signer, outbox, **kwargs).start()
        try:
            _ack_round(server, [signer.make(e, "c") for e in events[:warm]])
            for r in range(rounds):
                batch = events[warm + r * n_clients:warm + (r + 1) * n_clients]
                runs[name].append(_ack_round(server, [signer.make(e, "c") for e in batch]))
        finally:
            server.stop()
            outbox.close()

    def summary(name: str) -> dict:
        lat = np.concatenate([x["latency"] for x in runs[name]])
        return {"rps": statistics.median(x["rps"] for x in runs[name]), "errors": sum(x["errors"] for x in runs[name]),
                "resets": sum(x["resets"] for x in runs[name]), "p50": float(np.percentile(lat, 50)),
                "p95": float(np.percentile(lat, 95))}

    ours, old = summary("eegmon"), summary("old")
    print(f"\nack server, {n_clients} concurrent clients x {rounds} round(s) after a warm-up (POST of a distinct "
          "valid token each)")
    print(f"{'configuration':<46}{'req/s':>8}{'errors':>8}{'resets':>8}{'p50 s':>8}{'p95 s':>8}")
    for label, m in (("eegmon (AckServer defaults)", ours), ("old (backlog 5, a thread per connection)", old)):
        print(f"{label:<46}{m['rps']:>8.0f}{m['errors']:>8d}{m['resets']:>8d}{m['p50']:>8.3f}{m['p95']:>8.3f}")
    ref = "the same server in the old configuration (listen backlog 5, unbounded threads)"
    tag = f"ack_{n_clients}_clients"
    return [
        _harness.row(f"{tag}_requests_per_s", "req/s", ours["rps"], old["rps"], ref, higher_is_better=True),
        _harness.row(f"{tag}_errors", "requests", ours["errors"], old["errors"], ref),
        _harness.row(f"{tag}_resets", "requests", ours["resets"], old["resets"], ref),
        _harness.row(f"{tag}_latency_p50", "s", ours["p50"], old["p50"], ref),
        _harness.row(f"{tag}_latency_p95", "s", ours["p95"], old["p95"], ref),
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _delivery_trial(down_s: float, tmp: str, k: int, out: list) -> None:
    """One alert pending while its receiver is down for ``down_s``; seconds from the receiver's return to arrival."""
    from eegmon.streaming.live import LiveSystem
    from eegmon.streaming.outbox import SeizureEvent, event_id
    from eegmon.streaming.policy import parse_policy

    port = _free_port()
    arrived = threading.Event()
    at: list[float] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            at.append(time.perf_counter())
            arrived.set()
            self.send_response(200)
            self.end_headers()

    # the delivery rules are the policy's defaults: whatever backoff they say is what is measured
    policy = parse_policy({"alert": {"escalate_after_min": 0.0, "max_reminders": 0},
                           "contacts": [{"name": "c", "channels": [f"json://127.0.0.1:{port}/hook"]}]})
    live = LiveSystem(os.path.join(tmp, f"delivery-{k}.sqlite"), policy, serve_acks=False).start()
    httpd = None
    try:
        live.outbox.record_event(SeizureEvent(event_id("d", T0), "d", T0, 0.9, T0 + 5))
        time.sleep(down_s)
        httpd = HTTPServer(("127.0.0.1", port), Receiver)
        back = time.perf_counter()
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        wait = 2 * down_s + 2 * policy.delivery.backoff_max_s
        out[k] = at[0] - back if arrived.wait(wait) else math.inf
    finally:
        live.stop()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()


def bench_delivery_after_return(down_s: float, trials: int, tmp: str) -> list[dict]:
    """Receiver down for ``down_s`` with an alert pending, then back: time to arrival (trials side by side)."""
    import apprise
    from eegmon.streaming.policy import Delivery

    # warm-up: the first send loads apprise's plugins (~0.5 s), which would shift the retry schedule
    apprise.Apprise().add("json://127.0.0.1:9/warm-up")
    out = [math.nan] * trials
    threads = [threading.Thread(target=_delivery_trial, args=(down_s, tmp, k, out)) for k in range(trials)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    settings = dataclasses.asdict(Delivery())  # the defaults _delivery_trial's policy uses
    print(f"\ndelivery after a receiver down for {down_s:g} s comes back ({trials} trials; policy [delivery] "
          f"{settings}): " + ", ".join(f"{x:.2f} s" for x in sorted(out)))
    tag = f"delivery_after_{down_s:g}s_down"
    return [_harness.row(f"{tag}_median", "s", statistics.median(out)), _harness.row(f"{tag}_max", "s", max(out))]


def main() -> None:
    import tempfile

    args = _harness.parse_args(__doc__)
    model, name = load_detector("classifier", None)
    results = []
    results += bench_chunk_latency(model, name, 180.0 if args.quick else 1200.0)
    results.append(bench_streams(model, name, 100 if args.quick else 250, 35.0 if args.quick else 90.0))
    with tempfile.TemporaryDirectory() as tmp:
        results += bench_alert_latency(10 if args.quick else 40, tmp)
        results += bench_onset_to_push(model, name, 0.5 if args.quick else 2.0, tmp)
        results += bench_soak(model, name, 2.0 if args.quick else 30.0, tmp)
        results += bench_ack_concurrency(200, 1 if args.quick else 5, tmp)
        results += bench_delivery_after_return(2.0 if args.quick else 20.0, 5 if args.quick else 7, tmp)
    results += bench_soak_live_chunks(model, name, 0.5 if args.quick else 6.0)
    _harness.finish("streaming", results, args)


if __name__ == "__main__":
    main()
