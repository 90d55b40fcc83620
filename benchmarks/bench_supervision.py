"""Time from a monitor's SIGKILL to the watchdog's "monitoring stopped" notice, queued and delivered.

A real ``eegmon monitor sim:1 --speed 1`` writes its heartbeat into an outbox; once it has
beaten, it is killed with SIGKILL at a random moment of its heartbeat period, while
:func:`eegmon.streaming.supervision.watch` (the watchdog and a delivery worker, what
``eegmon alerts watch`` runs) watches the same outbox and delivers to a JSON webhook on
127.0.0.1. The full run uses the policy's default settings (``heartbeat_s = 10``,
``stale_s = 60``: expected 50 to 65 s, the watchdog checking every 5 s); ``--quick`` scales them
down ten times. There is no reference: the rows say how long a family waits to hear that
nothing watches any more.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _harness import finish, parse_args, row
from eegmon.streaming.outbox import Outbox
from eegmon.streaming.policy import load_policy
from eegmon.streaming.supervision import HEARTBEAT_KEY, watch


class Receiver:
    """A JSON webhook on 127.0.0.1 noting when each message arrives."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append((time.time(), body.get("title", "")))
                self.send_response(200)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def _wait(cond, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"bench_supervision: timed out waiting for {what}")
        time.sleep(0.05)


def _beat(db, policy):
    """The heartbeat in ``db``, read with plain sqlite3 (the monitor may still be creating the file)."""
    if not db.exists():
        return None
    con = sqlite3.connect(db, timeout=10)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = ?", (HEARTBEAT_KEY,)).fetchone()
    except sqlite3.Error:  # the schema is not there yet
        return None
    finally:
        con.close()
    return None if row is None else json.loads(row[0])
def one_kill(folder: Path, receiver: Receiver, heartbeat_s: float, stale_s: float) -> tuple[float, float]:
    """(SIGKILL to queued, SIGKILL to delivered) in seconds for one monitor."""
    path = folder / "alerts.toml"
    path.write_text(f"[supervision]\nheartbeat_s = {heartbeat_s}\nstale_s = {stale_s}\nno_data_s = 0\n"
                    f"bad_signal_min = 0\n[[contacts]]\nname = \"parent\"\nchannels = [\"{receiver.url}\"]\n")
    policy = load_policy(path)
    db = folder / "o.sqlite"
    cmd = [sys.executable, "-m", "eegmon.cli", "monitor", "sim:1", "--speed", "1", "--outbox", str(db),
           "--alerts", str(path), "--no-ack-server", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    watcher = None
    try:
        _wait(lambda: _beat(db, policy), 120, "the monitor's first heartbeat")
        watcher = threading.Thread(target=watch, args=(db, policy), kwargs={"stop": stop.is_set}, daemon=True)
        watcher.start()
        time.sleep(heartbeat_s + random.uniform(0, heartbeat_s))  # any moment of the heartbeat period
        before = len(receiver.received)
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.time()
        proc.wait(10)
        outbox = Outbox(db, policy)
        queued = _wait(lambda: [n["created"] for n in outbox.notices() if n["kind"] == "supervision:stopped"],
                       stale_s * 3 + 30, "the notice")[0]
        delivered = _wait(lambda: receiver.received[before:], 60, "the delivery")[0][0]
        outbox.close()
        return queued - killed, delivered - killed
    finally:
        stop.set()
        if watcher is not None:
            watcher.join(30)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    heartbeat_s, stale_s = (1.0, 6.0) if args.quick else (10.0, 60.0)
    repeats = 3 if args.quick else 5
    receiver = Receiver()
    queued, delivered = [], []
    for i in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            q, d = one_kill(Path(tmp), receiver, heartbeat_s, stale_s)
        queued.append(q)
        delivered.append(d)
        print(f"kill {i + 1}/{repeats}: queued after {q:.1f} s, delivered after {d:.1f} s", flush=True)
    receiver.httpd.shutdown()
    tag = f"hb{heartbeat_s:g}_stale{stale_s:g}"
    finish("supervision", [row(f"sigkill_to_notice_queued_{tag}", "s", statistics.median(queued)),
                           row(f"sigkill_to_notice_delivered_{tag}", "s", statistics.median(delivered)),
                           row(f"sigkill_to_notice_delivered_max_{tag}", "s", max(delivered))], args)


if __name__ == "__main__":
    main()
