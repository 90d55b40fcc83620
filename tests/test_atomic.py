"""The one atomic-write helper: a file appears only complete and durable; a failure leaves the old one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from eegmon import _atomic
from eegmon._atomic import TEMP_MARKER, atomic_path, atomic_write
from eegmon.errors import EegmonError


def test_content_appears_only_after_the_block(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with atomic_write(path, "w") as f:
        f.write("new")
        f.flush()
        assert path.read_text() == "old"  # the new bytes are in the temporary file only
        [tmp] = [p for p in tmp_path.iterdir() if p != path]
        assert TEMP_MARKER in tmp.name and tmp.read_text() == "new"
    assert path.read_text() == "new"
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("kind", ["file", "path"])
def test_exception_leaves_old_file_and_no_temporary(tmp_path, kind):
    path = tmp_path / "out.h5"
    path.write_bytes(b"old content")
    with pytest.raises(RuntimeError, match="boom"):
        if kind == "file":
            with atomic_write(path) as f:
                f.write(b"half")
                raise RuntimeError("boom")
        else:
            with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
                h5["x"] = np.arange(10)
                raise RuntimeError("boom")
    assert path.read_bytes() == b"old content"
    assert list(tmp_path.iterdir()) == [path]


def test_new_file_is_fsynced_then_renamed_then_folder_fsynced(tmp_path, monkeypatch):
    calls = []
    fsync, replace = os.fsync, os.replace

    def spy_fsync(fd):
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def spy_replace(src, dst):
        calls.append(("replace", str(dst)))
        replace(src, dst)

    monkeypatch.setattr(_atomic.os, "fsync", spy_fsync)
    monkeypatch.setattr(_atomic.os, "replace", spy_replace)
    path = tmp_path / "model.zip"
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"x")
    assert [c[0] for c in calls] == ["fsync", "replace", "fsync"]
    assert TEMP_MARKER in calls[0][1]  # the data, before it gets its name
    assert calls[1][1] == str(path) and calls[2][1] == str(tmp_path)  # then the rename itself


def test_permissions_follow_the_umask_like_a_plain_write(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    with atomic_write(tmp_path / "atomic") as f:
        f.write(b"")
    assert (tmp_path / "atomic").stat().st_mode == plain.stat().st_mode


def test_mode_is_checked():
    with pytest.raises(EegmonError, match="Allowed values are 'wb', 'w', but got 'a'"):
        with atomic_write("x", "a"):
            pass


CRASH_CHILD = textwrap.dedent("""
    import sys, time
    from eegmon._atomic import atomic_write
    with atomic_write(sys.argv[1]) as f:
        f.write(b"new" * 100000)
        f.flush()
        print("writing", flush=True)
        time.sleep(60)
""")


@pytest.mark.timeout(60)
def test_kill_while_writing_keeps_the_old_file(tmp_path):
    path = tmp_path / "state.bin"
    path.write_bytes(b"old")
    proc = subprocess.Popen([sys.executable, "-c", CRASH_CHILD, str(path)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == b"old"
    # a crash leaves the temporary (named so that clean-ups know it), never a half file under the name
    [tmp] = [p for p in tmp_path.iterdir() if p != path]
    assert TEMP_MARKER in tmp.name and tmp.stat().st_size == 300000
