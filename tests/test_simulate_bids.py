"""The simulated BIDS cohort: layout, reading back with mne-bids and read_bids, determinism, refusals, CLI."""

from __future__ import annotations

import datetime as dt
import filecmp
import json
from pathlib import Path

import pytest
from mne_bids import find_matching_paths

from eegmon.cli import main
from eegmon.errors import EegmonError
from eegmon.io import read_bids
from eegmon.simulate import simulate, simulate_bids

# small and fast: 2.4 h per subject at the lowest rate that still carries 50 Hz line noise; seed 3 gives
# one subject two runs (a dropout) and both subjects seizures, so every check below has something to check
ARGS = {"subjects": 2, "days": 0.1, "fs": 128.0, "seizures_per_day": 20.0, "seed": 3, "n_jobs": 1, "quiet": True}
BASE = "task-szMonitoring"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("bids") / "cohort"
    return root, simulate_bids(root, **ARGS)


def _truth(root: Path, label: str) -> dict:
    return json.loads((root / "sourcedata" / label / "simulation.json").read_text())


def test_layout_and_names(cohort):
    root, edfs = cohort
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    expected = ["README", "dataset_description.json", "participants.tsv"]
    for label in ("sub-01", "sub-02"):
        n_runs = len(_truth(root, label)["files"])
        expected.append(f"sourcedata/{label}/simulation.json")
        for i in range(n_runs):
            base = f"{label}_ses-01_{BASE}_run-{i:02d}"
            expected.append(f"sourcedata/{label}/{base}_artifacts.tsv")
            expected += [f"{label}/ses-01/eeg/{base}_{suffix}"
                         for suffix in ("channels.tsv", "eeg.edf", "eeg.json", "events.tsv")]
    assert files == sorted(expected)
    assert edfs == sorted(root.rglob("*_eeg.edf")) and len(edfs) == 3
    assert not root.with_name("cohort.partial").exists(), "the build folder is renamed, not left behind"

    desc = json.loads((root / "dataset_description.json").read_text())
    assert desc["BIDSVersion"] == "1.9.0" and desc["DatasetType"] == "raw"
    assert desc["GeneratedBy"][0]["Name"] == "eegmon" and desc["GeneratedBy"][0]["Version"]
    assert (root / "participants.tsv").read_text() == "participant_id\nsub-01\nsub-02\n"
    assert "no real patients" in (root / "README").read_text()

    truth = _truth(root, "sub-01")
    sidecar = json.loads((root / f"sub-01/ses-01/eeg/sub-01_ses-01_{BASE}_run-01_eeg.json").read_text())
    assert sidecar["TaskName"] == "szMonitoring" and sidecar["SamplingFrequency"] == 128.0
    assert sidecar["PowerLineFrequency"] == 50 and sidecar["EEGReference"] == "bipolar"
    assert sidecar["RecordingType"] == "continuous"
    assert sidecar["RecordingDuration"] == truth["files"][1]["duration_s"]
    channels = (root / f"sub-01/ses-01/eeg/sub-01_ses-01_{BASE}_run-00_channels.tsv").read_text().splitlines()
    assert channels == ["name\ttype\tunits\tsampling_frequency\tstatus", "E1-E2\tEEG\tuV\t128\tgood",
                        "E2-E3\tEEG\tuV\t128\tgood"]


def test_mne_bids_finds_every_run(cohort):
    root, edfs = cohort
    paths = find_matching_paths(root, datatypes="eeg", suffixes="eeg", extensions=[".edf"])
    assert sorted(Path(p.fpath) for p in paths) == edfs
    assert sorted((p.subject, p.session, p.task, p.run) for p in paths) == [
        ("01", "01", "szMonitoring", "00"), ("01", "01", "szMonitoring", "01"), ("02", "01", "szMonitoring", "00")]


def test_read_bids_gives_every_run_with_its_true_seizures(cohort):
    root, _ = cohort
    runs = read_bids(root)
    assert [(r.subject, r.run) for r in runs] == [("01", "00"), ("01", "01"), ("02", "00")]
    n_seizures = 0
    for r in runs:
        truth = _truth(root, f"sub-{r.subject}")
        entry = truth["files"][int(r.run)]  # run-NN is the NN-th file of simulation.json (time order)
        assert r.recording.start == dt.datetime.fromisoformat(entry["start"]).timestamp()
        mine = [s for s in truth["seizures"] if s["file"] == entry["name"]]
        want = [x for s in mine for x in (s["onset_unix_s"], s["duration_s"])]
        got = [x for a in r.recording.annotations if a.label == "sz" for x in (a.onset, a.duration)]
        assert got == pytest.approx(want, abs=1e-3)  # events.tsv keeps milliseconds
        n_seizures += len(got) // 2
    assert n_seizures == sum(len(_truth(root, s)["seizures"]) for s in ("sub-01", "sub-02")) > 0


def test_subject_k_is_simulate_with_seed_plus_k(cohort, tmp_path):
    root, _ = cohort
    plain = tmp_path / "plain"
    simulate(plain, days=ARGS["days"], fs=ARGS["fs"], seizures_per_day=ARGS["seizures_per_day"],
             seed=ARGS["seed"] + 2, subject="sub-02", n_jobs=1, quiet=True)
    (edf,) = plain.glob("*.edf")
    assert filecmp.cmp(edf, root / f"sub-02/ses-01/eeg/sub-02_ses-01_{BASE}_run-00_eeg.edf", shallow=False)
    assert filecmp.cmp(edf.with_name(edf.stem + "_events.tsv"),
                       root / f"sub-02/ses-01/eeg/sub-02_ses-01_{BASE}_run-00_events.tsv", shallow=False)


def test_same_seed_gives_identical_files(cohort, tmp_path):
    root, edfs = cohort
    again = simulate_bids(tmp_path / "again", **ARGS)
    assert [p.relative_to(tmp_path / "again") for p in again] == [p.relative_to(root) for p in edfs]
    for a, b in zip(edfs, again, strict=True):
        assert filecmp.cmp(a, b, shallow=False)
        events = a.name.replace("_eeg.edf", "_events.tsv")
        assert filecmp.cmp(a.with_name(events), b.with_name(events), shallow=False)
    assert not filecmp.cmp(edfs[0], edfs[2], shallow=False), "subjects have their own seeds"


def test_refuses_a_non_empty_root_and_leaves_it_alone(tmp_path):
    root = tmp_path / "taken"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(EegmonError, match="not empty.*--overwrite"):
        simulate_bids(root, **ARGS)
    # overwrite only ever deletes a dataset we wrote, never someone's folder
    with pytest.raises(EegmonError, match="only replaces a BIDS dataset written by eegmon"):
        simulate_bids(root, **ARGS, overwrite=True)
    assert [p.name for p in root.iterdir()] == ["notes.txt"]
    assert not root.with_name("taken.partial").exists()


def test_overwrite_replaces_a_previous_cohort(tmp_path):
    root = tmp_path / "ds"
    small = {**ARGS, "subjects": 1, "days": 0.05}
    simulate_bids(root, **small)
    (root / "sub-01" / "stale.txt").write_text("from the old dataset")
    edfs = simulate_bids(root, **{**small, "seed": 7}, overwrite=True)
    assert [p.name for p in edfs] == [f"sub-01_ses-01_{BASE}_run-00_eeg.edf"]
    assert not (root / "sub-01" / "stale.txt").exists()
    assert _truth(root, "sub-01")["parameters"]["seed"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"], "no .partial or old tree left behind"


def test_a_failed_run_leaves_no_dataset(tmp_path):
    root = tmp_path / "ds"
    # fs 100 passes the argument checks but simulate() refuses it for 50 Hz line noise, after the build began
    with pytest.raises(EegmonError, match="too low for 50"):
        simulate_bids(root, **{**ARGS, "fs": 100.0})
    assert list(tmp_path.iterdir()) == []


def test_leftover_partial_folders(tmp_path):
    root = tmp_path / "ds"
    partial = tmp_path / "ds.partial"
    partial.mkdir()
    (partial / "mine.txt").write_text("not from eegmon")
    with pytest.raises(EegmonError, match="not left by eegmon"):
        simulate_bids(root, **{**ARGS, "subjects": 1, "days": 0.05})
    (partial / "mine.txt").unlink()
    (partial / ".eegmon-partial").write_bytes(b"")  # as an interrupted run leaves it
    (partial / "sub-01").mkdir()
    simulate_bids(root, **{**ARGS, "subjects": 1, "days": 0.05})
    assert not partial.exists() and (root / "dataset_description.json").is_file()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"subjects": 0}, r"--subjects must be an integer in the range \[1, 999\], got 0"),
    ({"subjects": 1.5}, "--subjects must be an integer"),
    ({"days": 0}, "--days must be a number"),
    ({"seed": -1}, "--seed must be an integer"),
])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, kwargs, match):
    with pytest.raises(EegmonError, match=match):
        simulate_bids(tmp_path / "ds", **{**ARGS, **kwargs})
    assert list(tmp_path.iterdir()) == []


def test_cli_bids(tmp_path, capsys):
    root = tmp_path / "cli"
    code = main(["simulate", str(root), "--bids", "--subjects", "2", "--days", "0.05", "--fs", "128", "--seed", "3",
                 "--jobs", "1"])
    assert code == 0
    assert "2 simulated subject(s)" in capsys.readouterr().out
    assert sorted({r.subject for r in read_bids(root)}) == ["01", "02"]


@pytest.mark.parametrize(("extra", "needle"), [
    ([], "--subjects is only valid with --bids"),
    (["--bids", "--subject", "p1"], "--subject does not apply with --bids"),
])
def test_cli_usage_errors_exit_2(tmp_path, capsys, extra, needle):
    args = ["simulate", str(tmp_path / "x"), "--days", "0.05", "--fs", "128"]
    args += ["--subjects", "2"] if not extra else extra
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
