"""kill -9 of a real `eegmon monitor` between the outbox commit and delivery; the restart delivers exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from _sim_archive import write_sim_archive
from eegmon.streaming.outbox import alert_key
from test_streaming_alerts import Hook  # tests/ is on sys.path under pytest

pytestmark = [pytest.mark.timeout(150),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]


def _rows(db, sql):
    if not db.exists():
        return []
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:  # schema not there yet
        return []
    finally:
        con.close()


def test_kill_between_commit_and_delivery_then_restart_delivers_once(tmp_path, monkeypatch):
    rec = tmp_path / "rec.h5"
    write_sim_archive(rec, seconds=400.0, onsets=(150.0,), gaps=())
    hook = Hook()  # its port is chosen but nothing listens yet: the server is down
    monkeypatch.setenv("EEGMON_TEST_HOOK_KEY", "k" * 20)
    policy = tmp_path / "alerts.toml"
    policy.write_text(
        "[alert]\nmin_probability = 0.8\nmin_duration_s = 2.0\nescalate_after_min = 0.0\nmax_reminders = 0\n"
        "[delivery]\nbackoff_initial_s = 0.2\nbackoff_max_s = 0.5\nmax_attempts = 1000\ntimeout_s = 2.0\n"
        f"[[contacts]]\nname = \"parent\"\nchannels = [\"{hook.url}\"]\n")
    live = tmp_path / "live.h5"
    db = tmp_path / "live.h5.alerts.sqlite"
    cmd = [sys.executable, "-m", "eegmon.cli", "monitor", f"replay:{rec}", "--chunk-s", "1",
           "--alerts", str(policy), "--archive", str(live), "--no-ack-server", "--warmup-s", "300"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd + ["--speed", "100", "--drain-s", "600"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 100
        while time.monotonic() < deadline and proc.poll() is None:
            if _rows(db, "SELECT key FROM alerts WHERE state = 'pending'"):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        events = _rows(db, "SELECT id FROM events")
        assert len(events) == 1
        os.kill(proc.pid, signal.SIGKILL)  # committed, not delivered (the server is down)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert hook.received == []
    hook.up()
    try:
        done = subprocess.run(cmd + ["--speed", "max", "--drain-s", "60"], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        hook.down()
    key = alert_key(events[0][0], "parent", 0, "initial")
    assert [k for k, _, _ in hook.received] == [key]  # delivered, exactly once
    assert _rows(db, "SELECT state FROM alerts") == [("sent",)]
    assert len(_rows(db, "SELECT id FROM events")) == 1  # the restart's replay did not make a second event
    out = subprocess.run([sys.executable, "-m", "eegmon.cli", "alerts", "list", "--outbox", str(db)],
                         capture_output=True, text=True, timeout=60)
    assert events[0][0] in out.stdout and "sent" in out.stdout
