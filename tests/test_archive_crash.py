"""Crash safety: a real subprocess is killed with SIGKILL mid-import and mid-edit; nothing stored is lost."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest
from _archive_helpers import START, digital, write_edf

from eegmon.archive import Archive
from eegmon.events import Annotation

FS = 207
N = FS * 3800  # just over three I/O steps (8**6 samples): a kill can land between chunks
N_FILES = 4

IMPORT_CHILD = textwrap.dedent("""
    import sys, time
    from eegmon.archive import Archive
    from eegmon.io import read_edf
    arc = Archive.open(sys.argv[1], "a")
    for path in sys.argv[2:]:
        rec = read_edf(path)
        seg = rec.segments[0]
        def slow(a, b, orig=seg.reader):
            print("writing", flush=True)
            time.sleep(0.05)
            return orig(a, b)
        seg.reader = slow
        arc.import_recording(rec)
        print("committed", flush=True)
""")

EDIT_CHILD = textwrap.dedent("""
    import sys
    from eegmon.archive import Archive
    arc = Archive.open(sys.argv[1], "a")
    i = 0
    while True:
        i += 1
        arc.update_annotation(1, status="confirmed", reviewer=f"r{i}")
        print(i, flush=True)
""")


def _child(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE, text=True, env=env)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    d = tmp_path_factory.mktemp("src")
    out = []
    for i in range(N_FILES):
        x = digital(2, N, seed=i)
        out.append((write_edf(d / f"f{i}.edf", x, start=START + dt.timedelta(hours=2 * i)), x))
    return out


def _verify(path, sources) -> Archive:
    """Every segment in the reopened archive is bit-exact; its manifest opens cleanly."""
    arc = Archive.open(path)
    by_path = {str(p): x for p, x in sources}
    for seg, row in zip(arc.segments, h5py.File(path, "r")["segments"][()], strict=True):
        with h5py.File(arc.seg_dir / seg.file, "r") as f:
            x = by_path[seg.source]
            off = int(row["source_offset"])
            np.testing.assert_array_equal(f["data"][()], x[:, off : off + seg.n_samples])
    return arc


@pytest.mark.timeout(120)
@pytest.mark.parametrize("delay", [0.0, 0.04, 0.09, 0.13])
def test_kill_during_import(tmp_path, sources, delay):
    path = tmp_path / "a.h5"
    Archive.create(path, ["EEG1", "EEG2"], FS).close()
    proc = _child(IMPORT_CHILD, path, *(p for p, _ in sources))
    committed = 0
    snapshot = None
    stored: dict[str, bytes] = {}
    try:
        for line in proc.stdout:
            if line.strip() == "committed":
                committed += 1
                if committed == 2:
                    snapshot = _verify(path, sources)
                    stored = {s.file: (snapshot.seg_dir / s.file).read_bytes() for s in snapshot.segments}
            elif committed == 2 and line.strip() == "writing":
                time.sleep(delay)
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert snapshot is not None
    after = _verify(path, sources)
    # what was stored before the crash is still there, byte for byte
    for name, content in stored.items():
        assert (after.seg_dir / name).read_bytes() == content
    assert {s.file for s in snapshot.segments} <= {s.file for s in after.segments}
    assert len([r for r in after.sources if r["complete"]]) >= 2
    # the next import completes the job: skips finished files, redoes the cut one
    with Archive.open(path, "a") as arc:
        from eegmon.io import read_edf

        for p, _ in sources:
            arc.import_recording(read_edf(p))
    final = _verify(path, sources)
    assert final.n_samples == N * N_FILES
    assert len(final.sources) == N_FILES


@pytest.mark.timeout(60)
def test_reviewer_edit_survives_kill(tmp_path):
    path = tmp_path / "a.h5"
    with Archive.create(path, ["EEG1"], FS) as arc:
        arc.add_annotations([Annotation(onset=START.timestamp() + 10, duration=5, label="sz")])
    proc = _child(EDIT_CHILD, path)
    last = 0
    try:
        for line in proc.stdout:
            last = int(line)
            if last >= 15:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    [ann] = Archive.open(path).annotations()
    assert ann.status == "confirmed"
    # every edit reported as done is on disk (a later one may be too)
    assert int(ann.reviewer[1:]) >= last


COMMIT_CHILD = textwrap.dedent("""
    import os, sys, time
    from eegmon.archive import Archive
    from eegmon.events import Annotation

    def slow_replace(src, dst, _replace=os.replace):
        print("renaming", flush=True)
        time.sleep(30)
        _replace(src, dst)

    arc = Archive.open(sys.argv[1], "a")
    os.replace = slow_replace  # the manifest's temporary file is complete; the rename never happens
    arc.add_annotations([Annotation(onset=1.7e9, duration=1.0, label="sz")])
""")


@pytest.mark.timeout(60)
def test_kill_between_manifest_write_and_rename(tmp_path, sources):
    path = tmp_path / "a.h5"
    from eegmon.io import read_edf

    with Archive.create(path, ["EEG1", "EEG2"], FS) as arc:
        arc.import_recording(read_edf(sources[0][0]))
    before = path.read_bytes()
    proc = _child(COMMIT_CHILD, path)
    try:
        assert proc.stdout.readline().strip() == "renaming"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert path.read_bytes() == before  # the old manifest is intact; the new one never landed
    [tmp] = list(tmp_path.glob("a.h5.tmp-*"))
    _verify(path, sources)
    assert Archive.open(path).annotations() == []
    old = time.time() - 3600
    os.utime(tmp, (old, old))
    stray = path.with_name("a.h5.d") / "seg_00000000000000000001_deadbeef.h5.tmp"
    stray.write_bytes(b"half a segment")
    os.utime(stray, (old, old))
    Archive.open(path, "a").close()  # a writer clears what crashed writers left behind
    assert not tmp.exists() and not stray.exists()
    _verify(path, sources)


def test_two_writers_do_not_lose_each_others_edits(tmp_path):
    path = tmp_path / "a.h5"
    Archive.create(path, ["EEG1"], FS).close()
    a, b = Archive.open(path, "a"), Archive.open(path, "a")
    a.add_annotations([Annotation(onset=START.timestamp(), duration=1, label="sz")])
    b.add_annotations([Annotation(onset=START.timestamp() + 5, duration=1, label="musc")])  # b's view was stale
    a.update_annotation(2, status="rejected", reviewer="x")
    labels = [(e.label, e.status) for e in Archive.open(path).annotations()]
    assert labels == [("sz", "unreviewed"), ("musc", "rejected")]
