"""A damaged or lost alert outbox is detected, named and rebuilt from the archive (real files, processes, HTTP)."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _sim_archive import write_sim_archive
from eegmon.streaming.channels import Channels
from eegmon.streaming.outbox import DeliveryWorker, Outbox, SeizureEvent, alert_key, ledger_path, wal_problem
from eegmon.streaming.policy import load_policy
from eegmon.streaming.recovery import check_outbox
from test_streaming_alerts import Hook  # tests/ is on sys.path under pytest

from eegmon.cli import main
from eegmon.errors import EegmonError

pytestmark = [pytest.mark.timeout(150),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

HOOK_KEY = "k" * 20
SINCE = "2023-11-01T00:00:00+00:00"  # before the simulated recording (it starts at 1.7e9, in 2023-11)
DB = "live.h5.alerts.sqlite"


def _policy_text(hook: Hook) -> str:
    return ("[alert]\nmin_probability = 0.8\nmin_duration_s = 2.0\nrefractory_s = 60.0\nescalate_after_min = 0.0\n"
            "max_reminders = 0\n[delivery]\ntimeout_s = 2.0\nmax_attempts = 3\n"
            f'[[contacts]]\nname = "parent"\nchannels = ["{hook.url}"]\n')


def _monitor(folder: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "eegmon.cli", "monitor", f"replay:{folder / 'rec.h5'}", "--chunk-s", "1",
           "--alerts", str(folder / "alerts.toml"), "--archive", str(folder / "live.h5"), "--no-ack-server",
           "--speed", "max", *extra]
    return subprocess.run(cmd, env={**os.environ, "EEGMON_TEST_HOOK_KEY": HOOK_KEY}, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """One real monitor run with the receiver down: two seizures, two pending alerts, exit 1."""
    folder = tmp_path_factory.mktemp("base")
    write_sim_archive(folder / "rec.h5", seconds=500.0, onsets=(120.0, 330.0), gaps=())
    (folder / "alerts.toml").write_text(_policy_text(Hook()))  # nothing listens on its port
    done = _monitor(folder, "--drain-s", "1")
    con = sqlite3.connect(folder / DB)
    ids = [r[0] for r in con.execute("SELECT id FROM events ORDER BY onset")]
    con.close()
    return folder, done, ids


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv("EEGMON_TEST_HOOK_KEY", HOOK_KEY)
    h = Hook().up()
    yield h
    h.down()


def _copy(base, tmp_path: Path, hook: Hook) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(base[0], folder)
    (folder / "alerts.toml").write_text(_policy_text(hook))  # the receiver of this test
    return folder


def _deliver_all(folder: Path, hook: Hook, n: int) -> list[str]:
    """Run the delivery worker on the real receiver until ``n`` messages came (or 60 s); then one more round."""
    # a minute ahead: retries the earlier runs scheduled are due at once (alerts give up after an hour)
    outbox = Outbox(folder / DB, load_policy(folder / "alerts.toml"), clock=lambda: time.time() + 60.0)
    worker = DeliveryWorker(outbox, Channels(timeout_s=5.0), raise_errors=True)
    deadline = time.monotonic() + 60
    while len(hook.received) < n and time.monotonic() < deadline:
        worker.run_once()
        time.sleep(0.1)
    worker.run_once()
    outbox.close()
    return [k for k, _, _ in hook.received]


def test_monitor_ending_with_pending_alerts_exits_1_and_says_so(base):
    _, done, ids = base
    assert len(ids) == 2
    assert done.returncode == 1, done.stderr[-2000:]
    assert "2 alert(s) still pending and 0 failed" in done.stderr
    assert f"eegmon alerts deliver --outbox {base[0] / DB}" in done.stderr


def _zero(db: Path) -> None:
    db.write_bytes(b"")


def _delete(db: Path) -> None:
    db.unlink()


def _garble_header(db: Path) -> None:
    with open(db, "r+b") as f:
        f.write(b"garbage!" * 8)


def _garble_pages(db: Path) -> None:
    with open(db, "r+b") as f:
        f.seek(3 * 4096)
        f.write(b"\xff" * 3000)


@pytest.mark.parametrize("damage", [_zero, _delete, _garble_header, _garble_pages])
def test_damaged_or_lost_outbox_is_refused_then_recovered_and_each_seizure_delivered_once(base, tmp_path, hook,
                                                                                          damage, capsys):
    folder = _copy(base, tmp_path, hook)
    db = folder / DB
    damage(db)
    if damage in (_delete, _garble_header):  # what the tester saw: exit 0 and silence, or exit 3
        done = _monitor(folder, "--drain-s", "0")
        code, line = done.returncode, done.stderr.strip()
    else:
        code = main(["monitor", f"replay:{folder / 'rec.h5'}", "--alerts", str(folder / "alerts.toml"),
                     "--archive", str(folder / "live.h5"), "--no-ack-server"])
        line = capsys.readouterr().err.strip()
    assert code == 2, line[-2000:]
    assert "\n" not in line and str(db) in line and f"eegmon alerts recover --archive {folder / 'live.h5'}" in line
    assert main(["alerts", "list", "--outbox", str(db)]) == 2  # no "no seizure events"
    assert str(db) in capsys.readouterr().err
    assert main(["alerts", "recover", "--archive", str(folder / "live.h5"), "--alerts", str(folder / "alerts.toml"),
                 "--since", SINCE]) == 0
    out = capsys.readouterr().out
    moved = [p for p in folder.glob(f"{DB}.damaged-*") if p.suffix != ".ledger"]
    assert len(moved) == (0 if damage is _delete else 1)  # moved aside, never deleted
    if damage is _garble_pages:
        assert "2 already in the outbox" in out  # salvaged: not alerted a second time
    else:
        assert "2 alerted again as recovered" in out
    keys = _deliver_all(folder, hook, 2)
    assert sorted(keys) == sorted(alert_key(e, "parent", 0, "initial") for e in base[2])  # each exactly once
    if damage is not _garble_pages:
        assert all("(recovered)" in body["title"] for _, body, _ in hook.received)
    # a restarted monitor is let in, and its replay re-detecting both seizures alerts neither again
    policy = load_policy(folder / "alerts.toml")
    check_outbox(db, folder / "live.h5", policy)
    outbox = Outbox(db, policy)
    again = [SeizureEvent(e["id"], e["stream"], e["onset"], 0.9, e["onset"] + 2.0) for e in outbox.events()]
    assert len(again) == 2 and not any(outbox.record_event(ev) for ev in again)
    outbox.close()


def _running_copy(base, tmp_path: Path, hook: Hook) -> Path:
    """The files a monitor killed while its receiver is down leaves: a WAL with commits after the checkpoint."""
    folder = _copy(base, tmp_path, hook)
    live = Outbox(folder / DB, load_policy(folder / "alerts.toml"))
    down = Channels(senders={"json": lambda url, msg: (_ for _ in ()).throw(ConnectionRefusedError("down"))})
    live.deliver_due(down)  # the alerts due fail again (their retry counts go to the WAL)
    live.record_quality("replay", "gap", 1.7e9, "after the last checkpoint")
    killed = tmp_path / "killed"
    shutil.copytree(folder, killed)  # while the connection is open: the WAL and -shm are there
    live.close()
    assert (killed / f"{DB}-wal").stat().st_size > 0 and wal_problem(killed / DB) is None
    return killed


def _truncate_wal(wal: Path) -> None:
    os.truncate(wal, wal.stat().st_size - 1000)


def _garble_wal(wal: Path) -> None:
    data = bytearray(wal.read_bytes())
    data[100:400] = b"\xaa" * 300
    wal.write_bytes(bytes(data))


def _garble_wal_header(wal: Path) -> None:
    data = bytearray(wal.read_bytes())
    data[:32] = b"\x17" * 32
    wal.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [Path.unlink, _truncate_wal, _garble_wal, _garble_wal_header])
def test_damaged_wal_is_reported_and_loses_no_event_or_pending_alert(base, tmp_path, hook, damage, capsys, caplog):
    folder = _running_copy(base, tmp_path, hook)
    damage(folder / f"{DB}-wal")
    caplog.clear()
    assert main(["alerts", "list", "--outbox", str(folder / DB)]) == 0
    out = capsys.readouterr().out
    assert f"{folder / DB}: the outbox's write-ahead log is damaged" in caplog.text
    assert all(e in out for e in base[2]) and out.count("pending") == 2
    keys = _deliver_all(folder, hook, 2)
    assert sorted(keys) == sorted(alert_key(e, "parent", 0, "initial") for e in base[2])


def test_an_older_copy_of_the_outbox_is_refused_by_its_ledger(base, tmp_path, hook, capsys, caplog):
    folder = _copy(base, tmp_path, hook)
    db, policy = folder / DB, load_policy(folder / "alerts.toml")
    con = sqlite3.connect(db)  # the file as it was before the second event: its ledger says two
    con.execute("DELETE FROM alerts WHERE event_id = ?", (base[2][1],))
    con.execute("DELETE FROM events WHERE id = ?", (base[2][1],))
    con.commit()
    con.close()
    with pytest.raises(EegmonError, match=f"lost committed events: its ledger {ledger_path(db).name} lists 2") as info:
        Outbox(db, policy)
    assert str(info.value).startswith(f"{db}: ")
    shutil.copyfile(db, tmp_path / "short.sqlite")
    db.unlink()  # deleted, its ledger left: refused, and no empty file is made in its place
    with pytest.raises(EegmonError, match="lists 2 .*the file is missing"):
        Outbox(db, policy)
    assert not db.exists()
    assert main(["alerts", "list", "--outbox", str(db)]) == 2
    assert "its ledger says it held 2 event(s)" in capsys.readouterr().err
    shutil.copyfile(tmp_path / "short.sqlite", db)
    ledger_path(db).unlink()  # without the ledger, the archive's detections still tell
    caplog.set_level(logging.WARNING, logger="eegmon.streaming")
    (lost,) = check_outbox(db, folder / "live.h5", policy)
    assert "no event for 1 of the 2 alerted seizure detection" in caplog.text and "alerts recover" in caplog.text
    assert lost.onset > Outbox(db, policy).events()[0]["onset"]
    fresh = tmp_path / "fresh.sqlite"
    Outbox(fresh, policy).close()  # e.g. made by 'alerts deliver' with the wrong --outbox
    with pytest.raises(EegmonError, match="holds no seizure event but the archive .* holds 2 alerted"):
        check_outbox(fresh, folder / "live.h5", policy)


def test_recover_without_since_starts_after_the_last_delivered_alert(base, tmp_path, hook, capsys):
    folder = _copy(base, tmp_path, hook)
    db = folder / DB
    first = alert_key(base[2][0], "parent", 0, "initial")

    def only_first(url, msg):
        if msg.key != first:
            raise ConnectionRefusedError("down")

    outbox = Outbox(db, load_policy(folder / "alerts.toml"), clock=lambda: time.time() + 60.0)
    assert outbox.deliver_due(Channels(senders={"json": only_first})) == 1
    outbox.close()
    for f in folder.glob(f"{DB}*"):
        if f != ledger_path(db):
            f.unlink()  # the outbox is gone; its ledger knows the last delivered alert
    assert main(["alerts", "recover", "--archive", str(folder / "live.h5"),
                 "--alerts", str(folder / "alerts.toml")]) == 0
    out = capsys.readouterr().out
    assert "the last event an alert was delivered for" in out and "1 alerted again as recovered" in out
    assert _deliver_all(folder, hook, 1) == [alert_key(base[2][1], "parent", 0, "initial")]


def test_recover_needs_the_archive_and_alerts_only_what_the_monitor_recorded_live(tmp_path, capsys):
    import numpy as np
    from eegmon.streaming.recovery import recover_outbox

    from eegmon.archive import Archive
    from eegmon.events import Annotation

    rec = tmp_path / "imported.h5"  # an imported archive with a batch detection: never alerted
    write_sim_archive(rec, seconds=60.0, onsets=(), gaps=())
    with Archive.open(rec, "a") as arc:
        arc.add_detections([Annotation(1.7e9 + 10.0, 20.0, "sz", confidence=0.95, source="detector:x")])
    db = tmp_path / "o.sqlite"
    db.write_bytes(b"")
    policy = load_policy(None)
    assert main(["alerts", "recover", "--outbox", str(db)]) == 2
    assert "'recover' needs --archive" in capsys.readouterr().err
    report = recover_outbox(db, rec, policy, since=0.0)
    assert report.recovered == [] and Outbox(db, policy).events() == []
    # then the monitor recorded live and detected: that one is alerted again
    with Archive.open(rec, "a") as arc:
        arc.append_segment(1.7e9 + 100.0, np.zeros((len(arc.channels), 207 * 60), np.int32),
                           [0.01] * len(arc.channels), [0.0] * len(arc.channels), source="live:patient-1")
        arc.add_detections([Annotation(1.7e9 + 110.0, 20.0, "sz", confidence=0.95, source="detector:x")])
    report = recover_outbox(db, rec, policy, since=0.0)
    assert [(e.stream, e.onset) for e in report.recovered] == [("patient-1", 1.7e9 + 110.0)]
    assert report.moved_to.exists()
    (ev,) = Outbox(db, policy).events()
    assert ev["recovered_at"] is not None and ev["alerts"][0]["kind"] == "initial"
