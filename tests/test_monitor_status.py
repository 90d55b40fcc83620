"""`eegmon monitor` as a person watching it sees it: a live status line on a terminal only, local
times in the policy's zone, no third-party log lines."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sqlite3
import subprocess
import sys
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from _sim_archive import write_sim_archive
from eegmon.streaming.engine import QualityEvent
from eegmon.streaming.localtime import local_time
from test_streaming_alerts import Hook  # tests/ is on sys.path under pytest

from eegmon._logging import _own_or_warning
from eegmon.commands.monitor import Status

pytestmark = [pytest.mark.timeout(120)]

CLEAR = "\r\x1b[K"
PARIS = ZoneInfo("Europe/Paris")
POLICY = ("[patient]\ntime_zone = \"Europe/Paris\"\n[alert]\nmin_probability = 0.8\nmin_duration_s = 2.0\n"
          "escalate_after_min = 0.0\nmax_reminders = 0\n"
          "[delivery]\nbackoff_initial_s = 0.2\nbackoff_max_s = 0.5\ntimeout_s = 5.0\n"
          "[[contacts]]\nname = \"parent\"\nchannels = [\"{url}\"]\n")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "rec.h5"
    write_sim_archive(path, seconds=200.0, onsets=(100.0,), gaps=((150.0, 160.0),))
    return path


def _monitor(recording, tmp_path, url="console://", *extra):
    policy = tmp_path / "alerts.toml"
    policy.write_text(POLICY.format(url=url))
    outbox = tmp_path / "alerts.sqlite"
    cmd = [sys.executable, "-m", "eegmon.cli", "monitor", f"replay:{recording}", "--speed", "max", "--chunk-s", "1",
           "--alerts", str(policy), "--outbox", str(outbox), "--no-ack-server", "--drain-s", "60", *extra]
    return cmd, outbox


def _on_terminal(cmd, tmp_path) -> tuple[int, str, str]:
    """Run ``cmd`` with stdout on a pseudo-terminal; return (exit code, terminal output, stderr)."""
    master, slave = os.openpty()
    with open(tmp_path / "stderr.txt", "w+b") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=err,
                                env={**os.environ, "COLUMNS": "200"})
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        code = proc.wait(60)
        err.seek(0)
        return code, b"".join(chunks).decode(), err.read().decode()


def _onset(outbox) -> float:
    con = sqlite3.connect(outbox)
    try:
        (onset,), = con.execute("SELECT onset FROM events").fetchall()
    finally:
        con.close()
    return onset


def _paris(t: float) -> str:
    return dt.datetime.fromtimestamp(t, PARIS).strftime("%Y-%m-%d %H:%M:%S %Z")


def test_status_line_on_a_terminal_in_local_time(recording, tmp_path):
    cmd, outbox = _monitor(recording, tmp_path)
    code, out, err = _on_terminal(cmd, tmp_path)
    assert code == 0, err[-2000:]
    onset = _onset(outbox)
    lines = out.replace("\r\n", "\n").split("\n")
    status = [seg for ln in lines for seg in ln.split(CLEAR) if " | signal " in seg]
    assert status, out[-2000:]
    assert any(s.endswith(" CET | signal good | p=– | no event | 0 alert(s) | replay:rec.h5") for s in status), status
    assert any(re.search(r" CET \| signal good \| p=0\.\d\d \| event \(peak 0\.\d\d\)", s) for s in status), status
    # every other line was printed after the status line was cleared: none is glued to it
    others = [ln.split(CLEAR)[-1] for ln in lines]
    event = [ln for ln in others if ln.startswith("seizure event ")]
    assert len(event) == 1 and f"onset {_paris(onset)}, p=" in event[0], others
    assert all(s.endswith(" alert(s) | replay:rec.h5") for s in status), status
    summary = [ln for ln in others if ln.startswith("replay:rec.h5: ") and " h processed (up to " in ln]
    assert len(summary) == 1 and "CET), 1 detection(s)" in summary[0], others


def test_quiet_shows_no_status_line_on_a_terminal(recording, tmp_path):
    cmd, _ = _monitor(recording, tmp_path, "console://", "--quiet")
    code, out, err = _on_terminal(cmd, tmp_path)
    assert code == 0, err[-2000:]
    assert CLEAR not in out and " | signal " not in out and "seizure event" not in out


def test_on_a_pipe_no_status_line_local_times_and_no_apprise_lines(recording, tmp_path, monkeypatch):
    monkeypatch.setenv("EEGMON_TEST_HOOK_KEY", "k" * 20)
    hook = Hook().up()
    (tmp_path / "debug").mkdir()
    try:
        cmd, outbox = _monitor(recording, tmp_path, hook.url)
        runs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for c in (cmd, _monitor(recording, tmp_path / "debug", hook.url, "--debug")[0])]
        # read before waiting: the --debug run's output is larger than a pipe holds
        done, debug = (subprocess.CompletedProcess(p.args, 0, *p.communicate(timeout=100)) for p in runs)
        done.returncode, debug.returncode = (p.returncode for p in runs)
    finally:
        hook.down()
    assert done.returncode == 0, done.stderr[-2000:]
    assert debug.returncode == 0, debug.stderr[-2000:]
    assert len(hook.received) == 2  # one alert from each run (each its own outbox)
    assert "Notifying" not in done.stdout + done.stderr
    assert "(initial) sent to parent" in done.stderr  # eegmon's own INFO lines still show
    assert "Notifying 1 service(s)" in debug.stderr  # they are there to hide: --debug shows them
    assert "\x1b" not in done.stdout and "\r" not in done.stdout and " | signal " not in done.stdout
    onset = _onset(outbox)
    assert "seizure event " in done.stdout and f": onset {_paris(onset)}, p=" in done.stdout
    # the engine's log lines: local times, no epoch seconds
    assert f"onset {_paris(onset)} p=" in done.stderr
    assert f"signal quality gap at {_paris(1.7e9 + 150.0)} " in done.stderr
    assert f"{onset:.3f}" not in done.stderr + done.stdout


@pytest.mark.parametrize(("name", "level", "shown"), [
    ("eegmon.streaming", logging.INFO, True), ("eegmon", logging.DEBUG, True),
    ("apprise", logging.INFO, False), ("urllib3.connectionpool", logging.DEBUG, False),
    ("requests", logging.INFO, False), ("apprise", logging.WARNING, True), ("urllib3", logging.ERROR, True),
    ("eegmonitor", logging.INFO, False),
])
def test_third_party_records_below_warning_are_held_back(name, level, shown):
    assert _own_or_warning(logging.LogRecord(name, level, __file__, 1, "m", None, None)) is shown


def test_local_time_shows_the_zone():
    assert local_time(1.7e9, "Europe/Paris") == "2023-11-14 23:13:20 CET"
    assert local_time(1.72e9, "Europe/Paris", "%H:%M %Z") == "11:46 CEST"
    assert local_time(1.7e9, None) == local_time(1.7e9, "UTC") == "2023-11-14 22:13:20 UTC"
    assert local_time(float("nan"), "Europe/Paris") == "nan"


def test_status_text_follows_quality_events_and_silence():
    engine = SimpleNamespace(end=None, stream="s1", alerts=[], detector=SimpleNamespace(active=None), probability=None)
    now = [0.0]
    status = Status(engine, "Europe/Paris", no_data_s=5.0, clock=lambda: now[0])
    assert status.text() == "waiting for data | 0 alert(s) | s1" and status.changed()
    engine.end, status.arrived = 1.7e9, 0.0
    assert status.changed() and not status.changed()
    assert status.text() == "2023-11-14 23:13:20 CET | signal good | p=– | no event | 0 alert(s) | s1"
    status.quality(QualityEvent("s1", "bad_signal_start", 1.7e9 - 600))
    status.quality(QualityEvent("s1", "nan_start", 1.7e9 - 60))
    status.quality(QualityEvent("s1", "gap", 1.7e9 - 30))  # a point event: no state
    assert " | signal bad since 23:03 | " in status.text() and status.changed()
    status.quality(QualityEvent("s1", "bad_signal_end", 1.7e9))
    assert " | signal bad since 23:12 | " in status.text()
    status.quality(QualityEvent("s1", "nan_end", 1.7e9))
    assert " | signal good | " in status.text()
    engine.detector.active, engine.alerts, engine.probability = SimpleNamespace(peak=0.876), [object()], 0.412
    assert status.text().endswith(" | signal good | p=0.41 | event (peak 0.88) | 1 alert(s) | s1") and status.changed()
    now[0] = 5.5  # no chunk for longer than no_data_s
    assert " | signal no data since 23:13:20 | " in status.text()
