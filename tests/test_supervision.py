"""Supervision alarms: no data, bad signal, battery, a monitor killed with SIGKILL, the dead-man ping."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from eegmon.streaming.channels import Channels
from eegmon.streaming.live import LiveSystem
from eegmon.streaming.outbox import Outbox
from eegmon.streaming.policy import AlertRules, Contact, PatientSettings, Policy, Supervision, load_policy
from eegmon.streaming.supervision import HEARTBEAT_KEY, DeadManPing, Heartbeat, Watchdog
from test_streaming_alerts import Hook  # tests/ is on sys.path under pytest

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]


class Clock:
    def __init__(self, t: float = 1.7e9) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _policy(**supervision) -> Policy:
    sup = {"no_data_s": 0.0, "bad_signal_min": 0.0, "battery_low": 0.0, "heartbeat_s": 0.0, "stale_s": 0.0,
           **supervision}
    return Policy((Contact("mum", ("fake://mum",)),), AlertRules(escalate_after_min=0.0, max_reminders=0),
                  patient=PatientSettings(alias="Sam", time_zone="Europe/Paris"), supervision=Supervision(**sup))


def _live(tmp_path, policy, clock):
    sent: list = []
    live = LiveSystem(tmp_path / "o.sqlite", policy, channels=Channels(senders={"fake": lambda u, m: sent.append(m)}),
                      interval_s=0.02).start()
    live.watcher.clock = clock  # before add_stream: watching starts on the fake clock
    from eegmon.detectors import load_detector

    model, name = load_detector("line-length", None)
    engine = live.add_stream("p1", model, fs=128.0, channels=["a", "b"], name=name)
    return live, engine, sent


def _kinds(outbox: Outbox, kind: str) -> list[str]:
    return [n["title"] for n in outbox.notices() if n["kind"] == f"supervision:{kind}"]


def _wait(cond, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_unplugged_source_alarms_once_and_recovers_once(tmp_path):
    clock = Clock()
    live, engine, sent = _live(tmp_path, _policy(no_data_s=30.0), clock)
    try:
        rng = np.random.default_rng(0)
        engine.push(1.7e9, rng.normal(0, 20, (128, 2)))
        live.watcher.check()  # the thread's round (every second) that sees the chunk
        clock.t += 29.0
        live.watcher.check()
        assert _kinds(live.outbox, "no_data") == []  # not yet
        clock.t += 2.0  # the source stops sending
        for _ in range(3):
            live.watcher.check()
        assert _kinds(live.outbox, "no_data") == ["eegmon: no data from Sam's EEG device"]
        body = live.outbox.notices()[0]["body"]
        assert "Europe/Paris" in body and "near the base station" in body and "p1" not in body
        engine.push(1.7e9 + 1.0, rng.normal(0, 20, (128, 2)))  # plugged in again
        for _ in range(3):
            live.watcher.check()
        assert _kinds(live.outbox, "no_data") == ["eegmon: no data from Sam's EEG device",
                                                  "eegmon: Sam's EEG device is sending again"]
        assert _wait(lambda: len(sent) == 2)  # delivered by the worker
        assert [m.title for m in sent] == _kinds(live.outbox, "no_data")
    finally:
        live.stop()


def test_flat_signal_longer_than_the_setting_alarms_once_and_good_signal_recovers(tmp_path):
    clock = Clock()
    live, engine, _ = _live(tmp_path, _policy(bad_signal_min=1.0), clock)
    try:
        t = 1.7e9
        for _ in range(10):  # flat: the quality gate flags it
            engine.push(t, np.zeros((128, 2)))
            t += 1.0
        assert "bad_signal_start" in engine.stats.quality
        clock.t += 59.0
        live.watcher.check()
        assert _kinds(live.outbox, "bad_signal") == []  # shorter than bad_signal_min
        clock.t += 2.0
        live.watcher.check()
        live.watcher.check()
        assert _kinds(live.outbox, "bad_signal") == ["eegmon: bad EEG signal from Sam's device"]
        rng = np.random.default_rng(1)
        for _ in range(10):
            engine.push(t, rng.normal(0, 20, (128, 2)))
            t += 1.0
        assert "bad_signal_end" in engine.stats.quality
        live.watcher.check()
        live.watcher.check()
        assert _kinds(live.outbox, "bad_signal") == ["eegmon: bad EEG signal from Sam's device",
                                                     "eegmon: Sam's EEG signal is good again"]
    finally:
        live.stop()


def test_low_battery_from_a_source_alarms_once_with_hysteresis(tmp_path):
    clock = Clock()
    live, _, _ = _live(tmp_path, _policy(battery_low=0.15), clock)
    try:
        live.watcher.battery("p1", 0.5)
        live.watcher.battery("p1", 0.1)
        live.watcher.battery("p1", 0.09)
        live.watcher.battery("p1", 0.17)  # above the limit, within the hysteresis: still low
        assert _kinds(live.outbox, "battery") == ["eegmon: Sam's EEG device battery is low"]
        live.watcher.battery("p1", 0.8)
        live.watcher.battery("p1", 0.9)
        assert _kinds(live.outbox, "battery") == ["eegmon: Sam's EEG device battery is low",
                                                  "eegmon: Sam's EEG device is charged"]
    finally:
        live.stop()


def test_a_source_reporting_its_battery_is_polled(tmp_path):
    from eegmon.detectors import load_detector

    class Source:  # a device that reports its battery (None while it does not know)
        levels = [None, 0.6, 0.12, 0.11, 0.1]

        def battery(self):
            return self.levels.pop(0) if len(self.levels) > 1 else self.levels[0]

    model, name = load_detector("line-length", None)
    with LiveSystem(tmp_path / "o.sqlite", _policy(battery_low=0.15), channels=Channels(senders={})) as live:
        live.add_stream("p1", model, fs=128.0, channels=["a", "b"], name=name, battery=Source().battery)
        for _ in range(6):
            live.watcher.check()
        assert _kinds(live.outbox, "battery") == ["eegmon: Sam's EEG device battery is low"]



def test_the_simulated_device_runs_its_battery_down_and_the_monitor_alarms(tmp_path):
    from eegmon.detectors import load_detector
    from eegmon.streaming.sources import SimSource

    src = SimSource(3, speed=float("inf"), start=1.7e9, max_s=40.0, battery_h=30 / 3600)  # empty after 30 s
    assert src.battery() == 1.0
    model, name = load_detector("line-length", None)
    with LiveSystem(tmp_path / "o.sqlite", _policy(battery_low=0.15), channels=Channels(senders={})) as live:
        eng = live.add_stream("p1", model, fs=src.fs, channels=src.channels, name=name, battery=src.battery)
        levels = []
        for t0, x in src:
            eng.push(t0, x)
            levels.append(src.battery())
            live.watcher.check()
        assert levels == sorted(levels, reverse=True) and levels[-1] == 0.0
        assert levels[len(levels) // 2] == pytest.approx(1 - 20 / 30, abs=0.01)  # linear in stream time
        assert _kinds(live.outbox, "battery") == ["eegmon: Sam's EEG device battery is low"]
    with pytest.raises(Exception, match="battery_h"):
        SimSource(0, battery_h=0)


def test_the_heartbeat_says_when_data_last_arrived(tmp_path):
    clock = Clock()
    live, eng, _ = _live(tmp_path, _policy(), clock)
    try:
        beat = Heartbeat(live.outbox, 10.0, clock=clock, last_data=live.watcher.last_data)
        beat.beat()
        assert live.outbox.get_meta(HEARTBEAT_KEY)["data"] is None  # alive, but nothing has come yet
        eng.push(1.7e9, np.zeros((128, 2)))
        clock.t += 5
        live.watcher.check()
        arrived = clock.t
        clock.t += 30  # the device falls silent: the process still beats
        live.watcher.check()
        beat.beat()
        got = live.outbox.get_meta(HEARTBEAT_KEY)
        assert got["t"] == clock.t and got["data"] == arrived
    finally:
        live.stop()

class Pings:
    """An HTTP server on 127.0.0.1 counting GETs."""

    def __init__(self) -> None:
        pings = self
        self.count = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):  # noqa: N802
                pings.count += 1
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"OK")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ping/abc"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_dead_man_ping_runs_with_the_engines_and_stops_with_them(tmp_path):
    pings = Pings()
    try:
        ping = DeadManPing(pings.url, 0.05).start()
        assert _wait(lambda: pings.count >= 3)
        ping.stop()
        after = pings.count
        time.sleep(0.3)
        assert pings.count == after and ping.sent == after
        live, _, _ = _live(tmp_path, _policy(deadman_url=pings.url, deadman_every_s=0.05), Clock())
        assert _wait(lambda: pings.count >= after + 2)
        live.stop()
        stopped = pings.count
        time.sleep(0.3)
        assert pings.count == stopped
    finally:
        pings.close()
    DeadManPing(pings.url, 1.0).ping()  # the server is gone: logged, never raised


def test_clean_stop_is_recorded_and_told_once_not_as_a_crash(tmp_path):
    clock = Clock()
    policy = _policy(heartbeat_s=10.0, stale_s=60.0)
    live, _, _ = _live(tmp_path, policy, clock)
    watchdog = Watchdog(live.outbox, policy, clock=clock)
    clock.t = time.time()
    assert watchdog.check() is None
    live.stop(reason="ended")
    outbox = Outbox(tmp_path / "o.sqlite", policy)
    watchdog = Watchdog(outbox, policy, clock=clock)
    clock.t += 3600.0  # long after: still told as ended, not as a crash
    assert [watchdog.check() for _ in range(3)] == ["ended"] * 3
    assert Watchdog(outbox, policy, clock=clock).check() == "ended"  # a restarted watchdog repeats nothing
    assert _kinds(outbox, "stopped") == ["eegmon: monitoring of Sam ended"]
    with pytest.raises(ValueError, match="reason"):
        Heartbeat(outbox, 1.0).stop("crashed")
    policy = _policy(heartbeat_s=10.0, stale_s=60.0)
    from eegmon.detectors import load_detector

    model, name = load_detector("line-length", None)
    with pytest.raises(ZeroDivisionError), LiveSystem(tmp_path / "x.sqlite", policy,
                                                      channels=Channels(senders={})) as live:
        live.add_stream("p1", model, fs=128.0, channels=["a", "b"], name=name)
        raise ZeroDivisionError("an error ends the monitor: told as such, not as a stop by the user")
    outbox = Outbox(tmp_path / "x.sqlite", policy)
    assert Watchdog(outbox, policy, clock=clock).check() == "failed"
    assert _kinds(outbox, "stopped") == ["eegmon: monitoring of Sam stopped after an error"]


def _monitor(db, policy, env):
    cmd = [sys.executable, "-m", "eegmon.cli", "monitor", "sim:1", "--speed", "1", "--chunk-s", "0.5",
           "--outbox", str(db), "--alerts", str(policy), "--no-ack-server", "--quiet"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkilled_monitor_alarms_once_and_restart_recovers_once(tmp_path, monkeypatch):
    hook = Hook()  # nothing listens: the notices stay queued
    monkeypatch.setenv("EEGMON_TEST_HOOK_KEY", "k" * 20)
    path = tmp_path / "alerts.toml"
    path.write_text("[patient]\nalias = \"Sam\"\n[supervision]\nheartbeat_s = 0.2\nstale_s = 2.0\n"
                    f"[[contacts]]\nname = \"parent\"\nchannels = [\"{hook.url}\"]\n")
    policy = load_policy(path)
    db = tmp_path / "o.sqlite"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = _monitor(db, path, env)
    watchdog = None
    try:
        assert _wait(lambda: db.exists() and _beat(db, policy) is not None, 90), proc.stderr.read()[-2000:]
        outbox = Outbox(db, policy)
        watchdog = Watchdog(outbox, policy)
        assert watchdog.check() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert _wait(lambda: watchdog.check() == "stale", 30)
        for _ in range(3):
            assert watchdog.check() == "stale"
        assert _kinds(outbox, "stopped") == ["eegmon: monitoring of Sam has stopped"]
        proc = _monitor(db, path, env)  # restarted
        assert _wait(lambda: watchdog.check() is None, 90)
        for _ in range(3):
            watchdog.check()
        assert _kinds(outbox, "stopped") == ["eegmon: monitoring of Sam has stopped",
                                             "eegmon: monitoring of Sam is running again"]
        proc.send_signal(signal.SIGTERM)  # a clean stop
        proc.wait(60)
        assert _wait(lambda: watchdog.check() == "stopped", 30)
        assert _kinds(outbox, "stopped")[2:] == ["eegmon: monitoring of Sam was stopped"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


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


def test_alerts_watch_command_tells_a_stale_heartbeat_and_stops_on_sigterm(tmp_path):
    """`eegmon alerts watch` as its own process: a monitor whose heartbeat is old is told once, on the console."""
    import signal
    import subprocess
    import sys
    import time

    from eegmon.streaming.outbox import Outbox
    from eegmon.streaming.policy import load_policy
    from eegmon.streaming.supervision import HEARTBEAT_KEY

    policy_file = tmp_path / "alerts.toml"
    policy_file.write_text('[patient]\nalias = "Sam"\n[supervision]\nheartbeat_s = 1.0\nstale_s = 2.0\n'
                           '[[contacts]]\nname = "mum"\nchannels = ["console://"]\n')
    db = tmp_path / "alerts.sqlite"
    box = Outbox(db, load_policy(policy_file))
    box.set_meta(HEARTBEAT_KEY, {"run": "r1", "t": time.time() - 600.0, "state": "running"})  # a monitor that died
    box.close()
    proc = subprocess.Popen([sys.executable, "-m", "eegmon.cli", "alerts", "watch", "--outbox", str(db),
                             "--alerts", str(policy_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            box = Outbox(db, load_policy(policy_file))
            sent = [n for n in box.notices() if n["state"] == "sent"]
            box.close()
            if sent:
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert [n["kind"] for n in sent] == ["supervision:stopped"] and "Sam" in sent[0]["title"] + sent[0]["body"]
    assert out.count("[SUPERVISION:STOPPED]") == 1, out
