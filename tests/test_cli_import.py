"""``eegmon import`` / ``eegmon info``: the daily routine, and bad input leaving the archive untouched."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import pytest
from _archive_helpers import REALDATA, START, digital, tree_digest, write_edf

from eegmon.archive import Archive
from eegmon.cli import main

FS = 207


@pytest.fixture
def device(tmp_path):
    src = tmp_path / "device"
    src.mkdir()
    for i in range(3):
        write_edf(
            src / f"sim01_{i}.edf",
            digital(2, FS * 300, seed=i),
            start=START + dt.timedelta(hours=i),
            annotations=[(5.0, 3.0, "Seizure")],
        )
    return src


def test_import_info_append(tmp_path, device, capsys):
    out = tmp_path / "p.h5"
    assert main(["import", str(device), "-o", str(out), "--quiet"]) == 0
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["segments"] == 3 and info["gaps"] == 2 and info["annotations"] == {"sz": 3}
    digest = tree_digest(out)
    assert main(["import", str(device), "-o", str(out), "--append", "-q"]) == 0  # nothing new: unchanged
    assert {k: v for k, v in tree_digest(out).items() if k != out.name} == {
        k: v for k, v in digest.items() if k != out.name
    }
    assert len(Archive.open(out).segments) == 3
    write_edf(device / "sim01_3.edf", digital(2, FS * 300, seed=3), start=START + dt.timedelta(hours=3))
    assert main(["import", str(device), "-o", str(out), "--append"]) == 0
    assert "imported 1 file(s)" in capsys.readouterr().out
    assert len(Archive.open(out).segments) == 4
    main(["info", str(out)])
    assert "4 from 4 file(s); 3 gap(s)" in capsys.readouterr().out


def _spoil_truncate(p):
    p.write_bytes(p.read_bytes()[:-100])


def _spoil_count(p):
    raw = p.read_bytes()
    p.write_bytes(raw[:236] + b"5".ljust(8) + raw[244:])


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "make,args,match",
    [
        (lambda d: (d / "x.edf").write_bytes(b""), ["x.edf"], "empty"),
        (lambda d: (d / "x.edf").write_bytes(b"\x89PNG\r\n" * 100), ["x.edf"], "not an EDF/BDF file"),
        (
            lambda d: _spoil_truncate(write_edf(d / "x.edf", digital(2, FS * 60), start=START + dt.timedelta(days=1))),
            ["x.edf"],
            "truncated",
        ),
        (
            lambda d: _spoil_count(write_edf(d / "x.edf", digital(2, FS * 60), start=START + dt.timedelta(days=1))),
            ["x.edf"],
            "record count",
        ),
        (lambda d: None, ["missing.edf"], "no such"),
        (
            lambda d: write_edf(d / "x.edf", digital(2, FS * 60), start=START + dt.timedelta(minutes=2)),
            ["x.edf"],
            "overlaps",
        ),
        (
            lambda d: (d / "sim01_0_events.tsv").write_text("onset\tduration\teventType\n290\t20\tsz\n"),
            ["--annotations", "sim01_0_events.tsv"],
            "outside its recording",
        ),
        (
            lambda d: (d / "sim01_0_events.tsv").write_text("onset\tduration\teventType\n1\tx\tsz\n"),
            ["--annotations", "sim01_0_events.tsv"],
            "line 2",
        ),
        (
            lambda d: (d / "sim01_1.csv_bi").write_text("channel,start_time,stop_time\n"),
            ["--annotations", "sim01_1.csv_bi"],
            "expected the header",
        ),
    ],
)
def test_bad_input_exit_2_archive_unchanged(tmp_path, device, make, args, match):
    out = tmp_path / "p.h5"
    assert main(["import", str(device), "-o", str(out), "-q"]) == 0
    digest = tree_digest(out)
    make(tmp_path)
    cmd = [sys.executable, "-m", "eegmon.cli", "import"]
    files = [a if a.startswith("--") else str(tmp_path / a) for a in args]
    if files[0].startswith("--"):
        cmd += [str(device), *files]
    else:
        cmd += files
    proc = subprocess.run([*cmd, "-o", str(out), "--append"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0]
    assert str(tmp_path) in lines[0]  # names the file
    assert tree_digest(out) == digest


def test_import_new_archive_refuses_existing_and_missing_append(tmp_path, device, capsys):
    out = tmp_path / "p.h5"
    assert main(["import", str(device), "-o", str(out), "-q"]) == 0
    assert main(["import", str(device), "-o", str(out)]) == 2
    assert main(["import", str(device), "-o", str(tmp_path / "new.h5"), "--append"]) == 2
    assert not (tmp_path / "new.h5").exists()
    err = capsys.readouterr().err
    assert "use --append" in err and "does not exist" in err


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")
def test_import_with_real_chbmit_summary(tmp_path, capsys):
    # an EDF named like chb01_03.edf (the real signals are not here) anchors the real summary
    edf = write_edf(tmp_path / "chb01_03.edf", digital(2, 256 * 3600, seed=1), fs=256)
    out = tmp_path / "chb01.h5"
    summary = REALDATA / "annotations" / "chbmit" / "chb01-summary.txt"
    assert main(["import", str(edf), "-o", str(out), "-q", "--annotations", str(summary)]) == 0
    [sz] = Archive.open(out).annotations()
    assert (sz.onset - START.timestamp(), sz.duration, sz.label) == (2996.0, 40.0, "sz")


def test_bids_dataset_needs_one_subject(tmp_path, capsys):
    root = tmp_path / "bids"
    for sub in ("01", "02"):
        eeg = root / f"sub-{sub}" / "eeg"
        eeg.mkdir(parents=True)
        write_edf(eeg / f"sub-{sub}_task-sz_eeg.edf", digital(2, FS * 60))
        (eeg / f"sub-{sub}_task-sz_events.tsv").write_text("onset\tduration\teventType\n5\t10\tsz\n")
    (root / "dataset_description.json").write_text(json.dumps({"Name": "x", "BIDSVersion": "1.8.0"}))
    out = tmp_path / "b.h5"
    assert main(["import", str(root), "-o", str(out)]) == 2
    assert "2 subjects ['01', '02']" in capsys.readouterr().err and not out.exists()
    assert main(["import", str(root), "-o", str(out), "--subject", "02", "-q"]) == 0
    [ann] = Archive.open(out).annotations()
    assert (ann.label, ann.onset - START.timestamp()) == ("sz", 5.0)


def test_import_simulator_device_folder(tmp_path):
    simulate = pytest.importorskip("eegmon.simulate").simulate
    from eegmon.io import VOCABULARY

    sim = tmp_path / "sim"
    simulate(sim, days=0.3, seed=3, quiet=True)
    truth = json.loads((sim / "simulation.json").read_text())
    out = tmp_path / "sim.h5"
    assert main(["import", str(sim), "-o", str(out), "-q"]) == 0
    with Archive.open(out) as arc:
        assert len(arc.segments) == len(truth["files"]) and arc.fs == 207
        assert len(arc.gaps) == len(truth["gaps"])
        anns = arc.annotations()
        assert {a.label for a in anns} <= set(VOCABULARY) - {"unknown"}
        szs = sorted(a.onset for a in anns if a.is_seizure)
        assert len(szs) == len(truth["seizures"]) >= 1  # seed 3: one seizure, two files, one gap
        assert szs == pytest.approx(sorted(s["onset_unix_s"] for s in truth["seizures"]), abs=1e-2)
        _, data = arc.read(arc.start, arc.start + 60)
        assert np.isfinite(data).all()
