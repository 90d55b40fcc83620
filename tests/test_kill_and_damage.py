"""SIGKILL of a live monitor at a random moment, then a damaged WAL or a lost outbox: every seizure alerted once.

Each case kills a real ``eegmon monitor`` (archive, outbox, a real webhook receiver on 127.0.0.1)
at a random moment of its run, damages the outbox's write-ahead log in a random way (or deletes
the outbox), and starts
again as a user would: when the monitor refuses the outbox it runs ``eegmon alerts recover``.
Whatever the moment and the damage, each true seizure reaches the receiver under one idempotency
key, no other alert arrives, and the archive equals the source.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _sim_archive import write_sim_archive
from eegmon.streaming.outbox import Outbox
from eegmon.streaming.policy import load_policy
from test_outbox_integrity import DB, HOOK_KEY, SINCE, _deliver_all, _policy_text
from test_streaming_alerts import Hook

from eegmon.archive import Archive

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

START = 1.7e9
ONSETS = (120.0, 330.0)


def _cmd(folder: Path, speed: str) -> list[str]:
    return [sys.executable, "-m", "eegmon.cli", "monitor", f"replay:{folder / 'rec.h5'}", "--chunk-s", "1",
            "--alerts", str(folder / "alerts.toml"), "--archive", str(folder / "live.h5"), "--no-ack-server",
            "--speed", speed, "--drain-s", "20"]


def _damage(db: Path, rng: random.Random) -> str:
    """Damage the outbox's WAL (delete, truncate, garble) or lose the whole outbox; say what was done."""
    wal = Path(f"{db}-wal")
    how = rng.choice(["delete", "truncate", "garble", "lose the outbox"])
    if how == "lose the outbox":
        for p in (db, wal, Path(f"{db}-shm")):
            p.unlink(missing_ok=True)
    elif not wal.exists() or wal.stat().st_size == 0:
        return "no WAL left"
    elif how == "delete":
        wal.unlink()
    elif how == "truncate":
        os.truncate(wal, rng.randrange(0, wal.stat().st_size))
    else:
        with open(wal, "r+b") as f:
            f.seek(rng.randrange(0, wal.stat().st_size))
            f.write(bytes(rng.randrange(256) for _ in range(64)))
    return how


@pytest.mark.parametrize("seed", range(4))
def test_kill_at_a_random_moment_then_a_damaged_wal(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    monkeypatch.setenv("EEGMON_TEST_HOOK_KEY", HOOK_KEY)
    env = {**os.environ, "EEGMON_TEST_HOOK_KEY": HOOK_KEY}
    write_sim_archive(tmp_path / "rec.h5", seconds=500.0, onsets=ONSETS, gaps=())
    hook = Hook().up()
    try:
        (tmp_path / "alerts.toml").write_text(_policy_text(hook))
        proc = subprocess.Popen(_cmd(tmp_path, "50"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # a random moment of the run: start-up takes seconds, the replay 10 s at 50x
        time.sleep(rng.uniform(2.0, 14.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        damage = _damage(tmp_path / DB, rng)
        print(f"seed {seed}: killed, then WAL damage: {damage}")

        again = subprocess.run(_cmd(tmp_path, "max"), env=env, capture_output=True, text=True, timeout=180)
        if again.returncode == 2 and "eegmon alerts recover" in again.stderr:
            recovered = subprocess.run(
                [sys.executable, "-m", "eegmon.cli", "alerts", "recover", "--archive", str(tmp_path / "live.h5"),
                 "--alerts", str(tmp_path / "alerts.toml"), "--since", SINCE],
                env=env, capture_output=True, text=True, timeout=120)
            assert recovered.returncode == 0, recovered.stderr
            print(f"seed {seed}: refused, recovered")
            again = subprocess.run(_cmd(tmp_path, "max"), env=env, capture_output=True, text=True, timeout=180)
        assert again.returncode in (0, 1), f"{damage}: {again.stderr[-2000:]}"
        keys = _deliver_all(tmp_path, hook, len(ONSETS))
    finally:
        hook.down()

    # each seizure under one key (a repeat of a key is the at-least-once duplicate a receiver drops)
    assert len(set(keys)) == len(ONSETS), f"{damage}: keys {keys}"
    box = Outbox(tmp_path / DB, load_policy(tmp_path / "alerts.toml"))
    events = box.events()
    box.close()
    assert len(events) == len(ONSETS) and all(abs(e["onset"] - START - t) < 20 for e, t in zip(events, ONSETS,
                                                                                              strict=True))
    initial = {a["key"] for e in events for a in e["alerts"] if a["kind"] == "initial"}
    assert set(keys) == initial, damage

    with Archive.open(tmp_path / "live.h5") as arc, Archive.open(tmp_path / "rec.h5") as ref:
        assert arc.gaps == [] and arc.start == pytest.approx(ref.start) and arc.stop == pytest.approx(ref.stop)
        n = int((ref.stop - ref.start) * ref.fs) - 1
        _, got = arc.read(ref.start, ref.start + n / ref.fs)
        _, want = ref.read(ref.start, ref.start + n / ref.fs)
        np.testing.assert_allclose(got, want, atol=0.01)
