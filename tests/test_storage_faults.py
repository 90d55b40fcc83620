"""Storage faults during live monitoring: a disk that fills up or fails never costs an alert.

Two kinds of fault: a Python-level one injected at the OS call every archive write ends in
(``fsync`` of the finished temporary file), which runs everywhere, and real ones (a small tmpfs
that fills up, a read-only remount) in a subprocess monitor, which need root and skip otherwise.
"""

from __future__ import annotations

import errno
import math
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest
from _sim_archive import write_sim_archive
from eegmon.detectors import load_detector
from eegmon.streaming.engine import ArchiveWriter, StreamEngine, run_source, storage_cause
from eegmon.streaming.outbox import Outbox
from eegmon.streaming.policy import AlertRules, Contact, Policy
from eegmon.streaming.sources import ReplaySource

from eegmon import _atomic
from eegmon._atomic import TEMP_MARKER, atomic_h5
from eegmon.archive import Archive

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

START = 1.7e9
ONSETS = (250.0, 1000.0)  # further apart than the default refractory period (600 s)
RULES = AlertRules(min_probability=0.8, min_duration_s=2.0, refractory_s=120.0)
POLICY = Policy(alert=RULES, contacts=(Contact("parent", ("console://",)),))


@pytest.fixture(scope="module")
def sim_archive(tmp_path_factory):
    path = tmp_path_factory.mktemp("faults") / "sim.h5"
    write_sim_archive(path, seconds=1300.0, onsets=ONSETS, gaps=())
    return path


@pytest.fixture(scope="module")
def model():
    return load_detector("classifier", None)


class DiskFault:
    """Make every archive write fail with ``err`` while ``active`` (at fsync, the last OS call before the rename)."""

    def __init__(self, monkeypatch, err: int = errno.ENOSPC) -> None:
        self.active = False
        self.failures = 0
        real = _atomic.fsync_path

        def fsync(path) -> None:
            if self.active:
                self.failures += 1
                raise OSError(err, os.strerror(err), str(path))
            real(path)

        monkeypatch.setattr(_atomic, "fsync_path", fsync)


def _live(model, sim_archive, tmp_path, *, fault_window, fault=None, outbox=None, block_s=30.0, **kw):
    """Replay ``sim_archive`` into a new archive with the fault active over ``fault_window`` (s after START)."""
    m, name = model
    src = ReplaySource(sim_archive, speed=math.inf, chunk_s=1.0)
    writer = ArchiveWriter(tmp_path / "live.h5", src.channels, src.fs, block_s=block_s, source="live:p1")
    eng = StreamEngine("p1", m, fs=src.fs, channels=src.channels, clip_level=src.clip_level, name=name, rules=RULES,
                       outbox=outbox, archive=writer, **kw)

    def chunks():
        for t0, x in src:
            if fault is not None:
                fault.active = fault_window[0] <= t0 - START < fault_window[1]
            yield t0, x

    return run_source(eng, chunks())


def _temp_files(folder: Path) -> list[Path]:
    return list(folder.rglob(f"*{TEMP_MARKER}*"))


def _near(times, truth=ONSETS, tol: float = 20.0) -> bool:
    """One time within ``tol`` s of each true onset (s after START), in order."""
    rel = [t - START for t in times]
    return len(rel) == len(truth) and all(abs(a - b) < tol for a, b in zip(rel, truth, strict=True))


def test_disk_full_keeps_alerting_and_records_the_gap(sim_archive, model, tmp_path, monkeypatch):
    fault = DiskFault(monkeypatch)
    outbox = Outbox(tmp_path / "alerts.sqlite", POLICY)
    eng = _live(model, sim_archive, tmp_path, fault_window=(200.0, 420.0), fault=fault, outbox=outbox)
    # both seizures alerted, the first one while nothing could be written
    assert _near([a.onset for a in eng.alerts])
    assert fault.failures >= 1
    # the fault reported once, its end once: quality events and a supervision notice each
    assert eng.stats.quality.get("archive_unwritable") == 1
    assert eng.stats.quality.get("archive_writable") == 1
    assert "engine_error" not in eng.stats.quality
    notices = outbox.notices()
    assert [n["kind"] for n in notices] == ["supervision", "supervision"]
    assert "disk full" in notices[0]["body"] and "saved again" in notices[1]["title"]
    outbox.close()

    with Archive.open(tmp_path / "live.h5") as arc, Archive.open(sim_archive) as ref:
        gaps = [a for a in arc.annotations() if a.label == "gap"]
        assert len(gaps) == 1 and gaps[0].source == "monitor"
        assert gaps[0].original_label == "not recorded: disk full"
        lost = (gaps[0].onset - START, gaps[0].offset - START)
        # the span lost starts at the block the fault first hit and ends where writing worked again
        assert 170.0 <= lost[0] <= 200.0 + 1e-6 and 420.0 - 1e-6 <= lost[1] <= 450.0 + 1e-6
        assert arc.gaps == [(pytest.approx(gaps[0].onset, abs=1e-3), pytest.approx(gaps[0].offset, abs=1e-3))]
        # the archive equals the source wherever it was writable
        for a, b in ((ref.start, gaps[0].onset), (gaps[0].offset, arc.stop)):
            n = int(np.floor((b - a) * ref.fs)) - 1
            _, got = arc.read(a, a + n / ref.fs)
            _, want = ref.read(a, a + n / ref.fs)
            np.testing.assert_allclose(got, want, atol=0.01)
        # detections finished while the disk was full were kept and stored later
        assert _near([d.onset for d in arc.detections()])
    assert _temp_files(tmp_path) == []


def test_disk_full_until_the_end_loses_no_alert(sim_archive, model, tmp_path, monkeypatch):
    fault = DiskFault(monkeypatch, errno.EROFS)
    eng = _live(model, sim_archive, tmp_path, fault_window=(100.0, 1e9), fault=fault)
    assert len(eng.alerts) == len(ONSETS)
    assert eng.stats.quality.get("archive_unwritable") == 1
    assert "archive_writable" not in eng.stats.quality
    assert eng.archive.fault is not None and eng.archive.fault.cause == "read-only file system"
    with Archive.open(tmp_path / "live.h5") as arc:
        assert arc.stop - START <= 100.0 + 1e-6  # nothing after the fault began
        assert arc.detections() == []
    assert _temp_files(tmp_path) == []


class FullOutbox(Outbox):
    """An outbox whose database cannot be written while ``full`` (SQLite's own error for a full disk)."""

    full = False

    def record_event(self, ev):
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        return super().record_event(ev)

    def record_quality(self, *args):
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        return super().record_quality(*args)

    def queue_notice(self, *args, **kwargs):
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")
        return super().queue_notice(*args, **kwargs)


def test_unwritable_outbox_sends_alerts_directly(sim_archive, model, tmp_path, monkeypatch, capsys):
    fault = DiskFault(monkeypatch)
    outbox = FullOutbox(tmp_path / "alerts.sqlite", POLICY)
    sent: list[tuple[str, str]] = []
    m, name = model
    src = ReplaySource(sim_archive, speed=math.inf, chunk_s=1.0)
    writer = ArchiveWriter(tmp_path / "live.h5", src.channels, src.fs, block_s=30.0)
    eng = StreamEngine("p1", m, fs=src.fs, channels=src.channels, clip_level=src.clip_level, name=name, rules=RULES,
                       outbox=outbox, archive=writer, last_resort=lambda title, body: sent.append((title, body)))

    def chunks():
        for t0, x in src:
            # the disk is full for both from 300 s on (archive and outbox on one file system)
            outbox.full = fault.active = t0 - START >= 300.0
            yield t0, x

    run_source(eng, chunks())
    titles = [t for t, _ in sent]  # POLICY has no [patient]: the default alias
    # the first seizure went through the outbox, the second directly; each fault told once
    assert len(eng.alerts) == 2
    assert [e["onset"] for e in outbox.events()] == [eng.alerts[0].onset]
    assert titles.count("Seizure alert: the patient") == 1
    assert titles.count("eegmon: alert outbox not writable") == 1
    assert titles.count("eegmon: recording not saved") == 1
    err = capsys.readouterr().err
    assert err.count("eegmon: Seizure alert: the patient: eegmon detected a possible seizure of the patient") == 1
    assert "p1" not in err  # the stream id may be an identifier: never in a message
    assert "cannot be written (disk full)" in err
    outbox.close()


def test_an_archive_that_cannot_be_written_at_start_is_a_clear_error(sim_archive, tmp_path, monkeypatch, capsys):
    from eegmon.cli import main
    from eegmon.errors import EegmonError

    fault = DiskFault(monkeypatch)
    fault.active = True
    with pytest.raises(EegmonError, match=r"cannot write the archive \(disk full\)"):
        ArchiveWriter(tmp_path / "new.h5", ("a", "b"), 200.0)
    rc = main(["monitor", f"replay:{sim_archive}", "--speed", "max", "--archive", str(tmp_path / "new.h5"),
               "--outbox", str(tmp_path / "alerts.sqlite"), "--no-ack-server"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "new.h5" in err[0] and "disk full" in err[0]
    assert _temp_files(tmp_path) == [] and not (tmp_path / "new.h5").exists()


def test_last_resort_reaches_every_channel(tmp_path):
    from eegmon.streaming.channels import Channels
    from eegmon.streaming.live import LiveSystem

    got: list[tuple[str, str]] = []
    channels = Channels(senders={"test": lambda url, msg: got.append((url, msg.title))})
    policy = Policy(alert=RULES, contacts=(Contact("a", ("test://1", "test://2")), Contact("b", ("test://3",))))
    live = LiveSystem(tmp_path / "alerts.sqlite", policy, channels=channels, serve_acks=False)
    live.last_resort("Seizure alert", "body", pause_s=0.0).join(30)
    assert sorted(got) == [("test://1", "Seizure alert"), ("test://2", "Seizure alert"), ("test://3", "Seizure alert")]
    live.stop()


def test_storage_cause_names_the_fault(tmp_path):
    assert storage_cause(OSError(errno.ENOSPC, "x"), tmp_path) == "disk full"
    assert storage_cause(OSError(errno.EROFS, "x"), tmp_path) == "read-only file system"
    wrapped = RuntimeError("write failed")
    wrapped.__cause__ = OSError(errno.EIO, "x")
    assert storage_cause(wrapped, tmp_path) == "I/O error"
    assert storage_cause(sqlite3.OperationalError("database or disk is full"), tmp_path) == "disk full"
    assert storage_cause(ValueError("odd"), tmp_path) == "ValueError: odd"


def test_atomic_h5_failure_leaves_nothing(tmp_path, monkeypatch):
    fault = DiskFault(monkeypatch)
    target = tmp_path / "x.h5"
    with atomic_h5(target) as f:
        f["a"] = np.arange(10)
    fault.active = True
    with pytest.raises(OSError), atomic_h5(target) as f:
        f["a"] = np.arange(20)
    with h5py.File(target, "r") as f:  # the old file is untouched
        assert f["a"].shape == (10,)
    assert _temp_files(tmp_path) == []


# ---------------------------------------------------------------------- real file systems (root only)
def _can_mount(folder: Path) -> bool:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True)
    if ok.returncode != 0:
        return False
    subprocess.run(["umount", str(folder)], check=True)
    return True


@pytest.fixture
def tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if not _can_mount(mnt):
        pytest.skip("mounting a tmpfs needs root (and a Linux kernel that allows it)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)], check=True)
    yield mnt
    subprocess.run(["mount", "-o", "remount,rw", str(mnt)], capture_output=True)
    subprocess.run(["umount", "-l", str(mnt)], check=True)


def _fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` up to ``leave`` free bytes; return the filler file."""
    filler = folder / "filler"
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with open(filler, "wb") as f:
        f.truncate(0)
        f.write(b"\0" * max(0, free - leave))
    return filler


def _monitor(sim_archive, mnt: Path, outbox: Path, on_line, speed: str = "100"):
    """Run ``eegmon monitor`` on the replay, archive in ``mnt``; ``on_line(line)`` sees each stderr line."""
    cmd = [sys.executable, "-X", "faulthandler", "-m", "eegmon.cli", "monitor", f"replay:{sim_archive}",
           "--speed", speed, "--chunk-s", "1", "--archive", str(mnt / "p.h5"), "--outbox", str(outbox),
           "--no-ack-server", "--drain-s", "60"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(proc.stdout), daemon=True)
    reader.start()
    err = []
    for line in proc.stderr:
        err.append(line)
        on_line(line)
    proc.wait(240)
    reader.join(30)
    return proc.returncode, "".join(out), "".join(err)


def _check_archive(path: Path, cause: str, source: Path) -> None:
    """The archive equals ``source`` where it was written, every span it lacks is a ``gap`` annotation
    naming ``cause``, and every detection is stored."""
    with Archive.open(path) as arc, Archive.open(source) as ref:
        n = int((ref.stop - ref.start) * ref.fs) - 1
        _, got = arc.read(ref.start, ref.start + n / ref.fs)
        _, want = ref.read(ref.start, ref.start + n / ref.fs)
        written = np.isfinite(got)
        assert written.mean() > 0.5
        np.testing.assert_allclose(got[written], want[written], atol=0.01)
        gaps = [a for a in arc.annotations() if a.label == "gap"]
        assert all(g.original_label == f"not recorded: {cause}" for g in gaps)
        for a, b in arc.gaps:
            assert any(g.onset <= a + 1e-3 and g.offset >= b - 1e-3 for g in gaps), (a, b, gaps)
        assert arc.stop - START == pytest.approx(1300.0, abs=1.0)
        assert _near([d.onset for d in arc.detections()])


def _check_outbox(outbox: Path) -> None:
    box = Outbox(outbox, POLICY)
    events = box.events()
    box.close()
    assert _near([e["onset"] for e in events])
    keys = [a["key"] for e in events for a in e["alerts"] if a["kind"] == "initial"]
    assert len(keys) == len(set(keys)) == len(ONSETS)
    assert all(a["state"] == "sent" for e in events for a in e["alerts"] if a["kind"] == "initial")


def test_real_disk_full_then_freed(sim_archive, tmpfs, tmp_path):
    filler = _fill(tmpfs, 400_000)  # room for the manifest and a block or two, not for the replay

    def on_line(line: str) -> None:
        if "not writable" in line and filler.exists():
            filler.unlink()  # space comes back

    rc, out, err = _monitor(sim_archive, tmpfs, tmp_path / "alerts.sqlite", on_line)
    assert rc == 1, f"exit {rc}:\n{err[-3000:]}"
    assert "could not always be written (disk full)" in err
    assert "Segmentation fault" not in err and "Traceback" not in err
    assert err.count("not writable (disk full)") == 1
    assert "writable again" in err
    _check_outbox(tmp_path / "alerts.sqlite")
    _check_archive(tmpfs / "p.h5", "disk full", sim_archive)
    assert _temp_files(tmpfs) == []


def test_real_read_only_remount(sim_archive, tmpfs, tmp_path):
    state = {"ro": False}
    done = threading.Event()

    def read_only_after_first_block() -> None:
        manifest = tmpfs / "p.h5"
        while not done.is_set():
            try:
                with Archive.open(manifest) as arc:
                    stored = bool(arc.segments)
            except Exception:  # noqa: BLE001 - not created yet
                stored = False
            if stored:
                state["ro"] = subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)]).returncode == 0
                if state["ro"]:
                    return
            done.wait(0.05)

    def on_line(line: str) -> None:
        if "not writable" in line:
            subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)

    watcher = threading.Thread(target=read_only_after_first_block, daemon=True)
    watcher.start()
    rc, out, err = _monitor(sim_archive, tmpfs, tmp_path / "alerts.sqlite", on_line, speed="100")
    done.set()
    watcher.join(30)
    assert state["ro"], "the remount did not happen"
    assert rc == 1, f"exit {rc}:\n{err[-3000:]}"
    assert "could not always be written (read-only file system)" in err
    assert "Traceback" not in err
    assert err.count("not writable (read-only file system)") == 1
    assert "writable again" in err
    _check_outbox(tmp_path / "alerts.sqlite")
    _check_archive(tmpfs / "p.h5", "read-only file system", sim_archive)


# ---------------------------------------------------------------------- an outbox that cannot be written
class _ReadOnlyConnection:
    """A real connection whose writes fail like SQLite's on a full disk while ``WRITES_FAIL`` is set."""

    def __init__(self, con: sqlite3.Connection) -> None:
        object.__setattr__(self, "_con", con)

    def __setattr__(self, name, value) -> None:  # row_factory
        setattr(self._con, name, value)

    def execute(self, sql: str, *args):
        head = sql.lstrip().split(None, 1)[0].upper()
        if _WRITES_FAIL.is_set() and (head in ("INSERT", "UPDATE", "DELETE", "BEGIN") or "checkpoint" in sql):
            raise sqlite3.OperationalError("database or disk is full")
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


_WRITES_FAIL = threading.Event()


@pytest.fixture
def unwritable_outbox(tmp_path, monkeypatch):
    """An outbox whose later connections fail every write while ``_WRITES_FAIL`` is set."""
    from eegmon.streaming import outbox as outbox_module
    from eegmon.streaming.channels import Channels

    real = outbox_module.connect
    monkeypatch.setattr(outbox_module, "connect", lambda *a, **k: _ReadOnlyConnection(real(*a, **k)))
    got: list[str] = []
    failing = threading.Event()

    def send(url, msg):
        if failing.is_set():
            raise OSError("receiver down")
        got.append(msg.key)

    now = [START]
    policy = Policy(alert=RULES, contacts=(Contact("parent", ("test://a",)),))
    box = Outbox(tmp_path / "alerts.sqlite", policy, clock=lambda: now[0])
    _WRITES_FAIL.clear()
    yield box, Channels(senders={"test": send}), got, failing, now
    _WRITES_FAIL.clear()
    box.close()


def test_an_alert_sent_while_the_outbox_is_full_is_sent_once(unwritable_outbox):
    from eegmon.streaming.outbox import DeliveryWorker, SeizureEvent, event_id

    box, channels, got, _, now = unwritable_outbox
    worker = DeliveryWorker(box, channels)
    ev = SeizureEvent(event_id("p1", START), "p1", START, 0.9, START + 5)
    assert box.record_event(ev)
    _WRITES_FAIL.set()
    for _ in range(5):  # the state cannot be stored: rounds go on, the message is not sent again
        worker.run_once()
        now[0] += 1.0
    assert len(got) == 1
    assert box.alerts("pending") and not box.alerts("sent")
    _WRITES_FAIL.clear()
    worker.run_once()  # the state is stored now
    assert len(got) == 1
    assert [a["state"] for a in box.alerts()] == ["sent"]


def test_a_failed_attempt_not_stored_is_not_retried_at_once(unwritable_outbox):
    from eegmon.streaming.outbox import DeliveryWorker, SeizureEvent, event_id

    box, channels, got, failing, now = unwritable_outbox
    worker = DeliveryWorker(box, channels)
    attempts = []
    channels.senders["test"] = lambda url, msg: (attempts.append(now[0]), (_ for _ in ()).throw(OSError("down")))
    assert box.record_event(SeizureEvent(event_id("p1", START), "p1", START, 0.9, START + 5))
    _WRITES_FAIL.set()
    for _ in range(20):  # 20 rounds in 2 s of the outbox's clock
        worker.run_once()
        now[0] += 0.1
    # the backoff is kept in memory: 1, 2 s ... not one attempt per round
    assert 2 <= len(attempts) <= 3
    assert box.alerts("pending")


def test_a_finished_detection_never_alerted_while_running_is_alerted_late(model, tmp_path):
    from eegmon.events import Annotation

    m, name = model
    outbox = Outbox(tmp_path / "alerts.sqlite", POLICY)
    eng = StreamEngine("p1", m, fs=207.0, channels=("E1-E2", "E2-E3"), name=name, rules=RULES, outbox=outbox)
    joined = Annotation(START + 100.0, 40.0, "sz", ("E1-E2",), 0.93, source="detector:x")
    weak = Annotation(START + 400.0, 40.0, "sz", (), 0.5, source="detector:x")
    short = Annotation(START + 800.0, 1.0, "sz", (), 0.99, source="detector:x")
    out = eng._late_alerts([joined, weak, short], arrival=0.0, t_window=START + 141.0)
    assert [(a.onset, a.probability, a.channels) for a in out] == [(START + 100.0, 0.93, ("E1-E2",))]
    assert eng._late_alerts([joined], arrival=0.0, t_window=START + 150.0) == []  # alerted once
    assert [e["onset"] for e in outbox.events()] == [START + 100.0]
    outbox.close()


def test_a_quality_event_met_again_after_a_restart_is_stored_once(tmp_path):
    box = Outbox(tmp_path / "alerts.sqlite", POLICY)
    for _ in range(2):
        box.record_quality("p1", "gap", START + 100.123456, "3.000 s without samples")
    box.record_quality("p1", "gap", START + 200.0, "1.000 s without samples")
    box.record_quality("p2", "gap", START + 100.123456, "3.000 s without samples")
    assert sorted((q["stream"], q["t"]) for q in box.quality()) == [
        ("p1", START + 100.123456), ("p1", START + 200.0), ("p2", START + 100.123456)]
    box.close()


def test_batch_detections_do_not_block_a_first_monitor_start(sim_archive, tmp_path):
    """Detections of 'eegmon detect' over imported data were never alerted: no outbox is fine beside them."""
    import shutil

    from eegmon.streaming.recovery import check_outbox

    from eegmon.errors import EegmonError
    from eegmon.events import Annotation

    arc_path = tmp_path / "imported.h5"
    shutil.copy(sim_archive, arc_path)
    shutil.copytree(f"{sim_archive}.d", f"{arc_path}.d")
    seizure = Annotation(START + 250.0, 60.0, "sz", (), 0.95, source="detector:classifier")
    with Archive.open(arc_path, "a") as arc:
        arc.add_detections([seizure])
    assert check_outbox(tmp_path / "alerts.sqlite", arc_path, POLICY) == []
    # the same detection in samples the monitor recorded live: its outbox must exist
    with Archive.open(arc_path, "a") as arc:
        arc.append_segment(START + 2000.0, np.zeros((len(arc.channels), 207 * 600), np.int32), [0.01] * 2, [0.0] * 2,
                           source="live:p1")
        arc.add_detections([Annotation(START + 2100.0, 60.0, "sz", (), 0.95, source="detector:classifier")])
    with pytest.raises(EegmonError, match="outbox is missing"):
        check_outbox(tmp_path / "alerts.sqlite", arc_path, POLICY)
