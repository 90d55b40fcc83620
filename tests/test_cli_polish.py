"""The CLI's manners: a closed pipe, the progress bar, figures with sensible precision, helpful BIDS errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from _archive_helpers import digital, write_edf
from _terminal import FakeTerminal

from eegmon.cli import main
from eegmon.commands.crossval import summary_lines
from eegmon.errors import EegmonError
from eegmon.io import read_bids

FS = 207


@pytest.fixture
def edf(tmp_path):
    return write_edf(tmp_path / "rec.edf", digital(2, FS * 1200))  # 20 min: two 600-s chunks


@pytest.fixture
def archive(tmp_path, edf):
    out = tmp_path / "rec.h5"
    assert main(["import", str(edf), "-o", str(out), "-q"]) == 0
    return out


# ---------------------------------------------------------------- a reader that goes away

def test_closed_stdout_pipe_exits_0_quietly(archive):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write meets a broken pipe
    try:
        proc = subprocess.run([sys.executable, "-m", "eegmon.cli", "info", str(archive)], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_closed_pipe_keeps_the_verdict_of_a_finished_job(archive, monkeypatch, capsys):
    read_end, write_end = os.pipe()
    os.close(read_end)
    stdout = open(write_end, "w")  # closed below, after main has pointed it at devnull

    def run(args):
        print("a problem the user asked to be told about")  # buffered: the pipe breaks at main's flush
        return 1

    monkeypatch.setattr("sys.stdout", stdout)
    monkeypatch.setattr("eegmon.commands.info.run", run)
    try:
        assert main(["info", str(archive)]) == 1
    finally:
        stdout.close()
    assert capsys.readouterr().err == ""


def test_broken_pipe_elsewhere_is_still_an_internal_error(archive, monkeypatch, capsys):
    def run(args):
        raise BrokenPipeError(32, "Broken pipe")  # e.g. a socket to a notification service

    monkeypatch.setattr("eegmon.commands.info.run", run)
    assert main(["info", str(archive)]) == 3
    assert "internal error: BrokenPipeError" in capsys.readouterr().err


# ---------------------------------------------------------------- progress bar of eegmon detect

def test_detect_shows_a_progress_bar_on_a_terminal(edf, monkeypatch, capsys):
    term = FakeTerminal()
    monkeypatch.setattr("sys.stderr", term)
    assert main(["detect", str(edf), "--detector", "line-length"]) == 0
    assert "detect:" in term.text and "2/2" in term.text and "chunk" in term.text
    assert "seizure detection(s)" in capsys.readouterr().out


def test_detect_has_no_bar_when_quiet_or_not_a_terminal(edf, monkeypatch, capsys):
    assert main(["detect", str(edf), "--detector", "line-length"]) == 0  # stderr captured: not a terminal
    assert "chunk" not in capsys.readouterr().err
    term = FakeTerminal()
    monkeypatch.setattr("sys.stderr", term)
    assert main(["detect", str(edf), "--detector", "line-length", "-q"]) == 0
    assert term.text == ""


# ---------------------------------------------------------------- figures

def _doc(latency):
    event = {"sensitivity": 0.9375, "precision": 0.8125, "f1": 0.8666666666666667, "fp_per_24h": 0.41666666666,
             "latency_median_s": latency, "n_ref": 16, "n_hyp": 18, "hours": 23.456789}
    sample = {"sensitivity": 0.71234, "precision": 0.60987, "f1": 0.65713, "fp_per_24h": 12.3456789}
    return {"event": event, "sample": sample}


def test_crossval_summary_rounds_every_figure():
    lines = summary_lines(_doc(1.2699999809265137), "loso", 16, 4)
    text = "\n".join(lines)
    assert lines[0] == "loso: 16 folds over 4 patient(s), 16 test seizures, 23.5 test hours"
    assert lines[-1] == "latency  median 1.3 s"
    assert "93.8%" in lines[1] and "0.87" in lines[1] and "0.42" in lines[1]
    assert lines[2].startswith("sample")
    assert not re.search(r"\d\.\d{3,}", text), text  # no float printed at full precision


def test_crossval_summary_without_detections_says_na():
    assert summary_lines(_doc(None), "loso", 1, 1)[-1] == "latency  median n/a"


# ---------------------------------------------------------------- BIDS subjects

@pytest.fixture
def bids(tmp_path):
    root = tmp_path / "bids"
    for sub in ("01", "02", "03"):
        eeg = root / f"sub-{sub}" / "eeg"
        eeg.mkdir(parents=True)
        write_edf(eeg / f"sub-{sub}_task-sz_eeg.edf", digital(2, FS * 10))
    (root / "dataset_description.json").write_text(json.dumps({"Name": "x", "BIDSVersion": "1.8.0"}))
    return root


def test_unknown_bids_subject_names_the_ones_that_exist(bids, tmp_path, capsys):
    out = tmp_path / "b.h5"
    assert main(["import", str(bids), "-o", str(out), "--subject", "99"]) == 2
    err = capsys.readouterr().err
    assert f"{bids}: no subject '99' in the dataset; subjects: 01, 02, 03." in err
    assert len(err.splitlines()) == 1 and not out.exists()


def test_read_bids_checks_every_requested_subject(bids):
    with pytest.raises(EegmonError, match="no subject '7' in the dataset; subjects: 01, 02, 03"):
        read_bids(bids, subjects=["02", "7"])
    assert [r.subject for r in read_bids(bids, subjects=["02", "03"])] == ["02", "03"]
