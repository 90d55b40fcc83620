"""eegmon batch: whole datasets on a real Dask LocalCluster and a process pool, resumable, fault-tolerant."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eegmon.cli import main
from eegmon.cohort import Params, find_recordings, run_batch
from eegmon.cohort.batch import _plan
from eegmon.cohort.plan import grid_period, plan_chunks
from eegmon.cohort.work import WorkItem, run_item
from eegmon.errors import EegmonError
from eegmon.features import window_grid
from eegmon.io import open_recording
from eegmon.io.events_tsv import read_events_tsv

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "sim"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """A simulated BIDS dataset: 4 subjects x 1 day (one EDF run per calendar day)."""
    from eegmon.simulate import simulate_bids

    root = tmp_path_factory.mktemp("cohort") / "bids"
    simulate_bids(root, subjects=4, days=1.0, seizures_per_day=4.0, seed=5, quiet=True)
    return root


@pytest.fixture(scope="module")
def alone(cohort, tmp_path_factory) -> dict[str, bytes]:
    """``eegmon detect`` run on each recording alone: derivative base -> events.tsv bytes."""
    out = tmp_path_factory.mktemp("alone")
    result = {}
    for spec in find_recordings(cohort):
        tsv = out / (spec.base.replace("/", "_") + ".tsv")
        assert main(["detect", str(spec.path), "-o", str(tsv), "-q"]) == 0
        result[spec.base] = tsv.read_bytes()
    return result


def _outputs(out: Path, bases) -> dict[str, bytes]:
    return {b: (out / (b + "_events.tsv")).read_bytes() for b in bases}


def _n_events(tsv: bytes) -> int:
    return sum(1 for line in tsv.decode().splitlines()[1:] if "\tsz" in line)


@pytest.mark.parametrize("scheduler", ["local", "processes"])
def test_batch_equals_detect_alone(cohort, alone, tmp_path, scheduler):
    out = tmp_path / "out"
    report = run_batch(cohort, out, Params("detect"), scheduler=scheduler, workers=2)
    assert report.engine == ("dask-local" if scheduler == "local" else "processes")
    assert report.workers == 2
    assert sorted(report.done) == sorted(alone) and not report.failed
    assert _outputs(out, alone) == alone
    assert sum(_n_events(v) for v in alone.values()) >= 3  # the comparison is about real detections
    assert (out / "dataset_description.json").is_file()


def test_outputs_read_by_evaluate_and_szcore_layout(cohort, tmp_path):
    out = tmp_path / "out"
    report = run_batch(cohort, out, Params("evaluate"), scheduler="processes", workers=2)
    # The derivatives mirror the dataset: every run's events.tsv has a hypothesis at the same relative path.
    truth = sorted(p.relative_to(cohort) for p in cohort.rglob("sub-*_events.tsv"))
    hyp = sorted(p.relative_to(out) for p in out.rglob("sub-*_events.tsv"))
    assert truth == hyp and len(truth) == len(report.done)
    assert main(["evaluate", "--ref", str(cohort), "--hyp", str(out), "--json", str(tmp_path / "e.json"), "-q"]) == 0
    assert json.loads((out / "evaluation.json").read_text()) == json.loads((tmp_path / "e.json").read_text())
    assert report.evaluation["event"]["n_ref"] >= 3
    assert report.evaluation["event"]["sensitivity"] > 0.5


def _manifest(out: Path) -> dict:
    return json.loads((out / "batch-manifest.json").read_text())


def test_manifest_records_inputs_parameters_and_timings(cohort, tmp_path):
    out = tmp_path / "out"
    run_batch(cohort, out, Params("detect", detector="line-length", line_freq=60.0), scheduler="processes",
              workers=1)
    doc = _manifest(out)
    from eegmon import __version__

    assert doc["eegmon_version"] == __version__ and doc["task"] == "detect"
    assert doc["params"]["line_freq"] == 60.0 and doc["params"]["model"]["name"] == "line-length"
    for base, entry in doc["recordings"].items():
        assert entry["status"] == "done" and entry["compute_s"] > 0 and entry["recording_hours"] > 0.5
        for item in entry["inputs"]:
            assert item["sha256"] == hashlib.sha256(Path(item["path"]).read_bytes()).hexdigest()
        assert {Path(i["path"]).name for i in entry["inputs"]} >= {Path(entry["path"]).name}
        assert entry["outputs"][0]["path"].endswith(base + "_events.tsv")
    (run,) = doc["runs"]
    assert run["done"] == len(doc["recordings"]) and run["wall_s"] > 0 and run["hours_per_s"] > 0


def test_classifier_manifest_names_the_model_file(cohort, tmp_path):
    from eegmon.detectors.generic import bundled_model_sha256

    spec = find_recordings(cohort)[0]
    listing = tmp_path / "one.txt"
    listing.write_text(f"{spec.path}\n")
    run_batch(listing, tmp_path / "out", Params("detect"), scheduler="processes", workers=1)
    assert _manifest(tmp_path / "out")["params"]["model"]["sha256"] == bundled_model_sha256()


def _broken_copy(cohort: Path, dest: Path) -> tuple[Path, str, str]:
    """The cohort with one truncated EDF (fails when opened) and one corrupt events.tsv (fails in the worker)."""
    shutil.copytree(cohort, dest)
    specs = find_recordings(dest)
    edf = specs[1].path
    with open(edf, "r+b") as f:
        f.truncate(os.path.getsize(edf) // 3 + 7)
    bad_tsv = specs[-1].truth
    bad_tsv.write_text("onset\tduration\teventType\nsoon\t12\tsz\n")
    return dest, specs[1].base, specs[-1].base


def test_failed_recordings_are_reported_and_do_not_stop_the_others(cohort, alone, tmp_path, capsys):
    data, truncated, corrupt = _broken_copy(cohort, tmp_path / "bids")
    out = tmp_path / "out"
    assert main(["batch", str(data), "-o", str(out), "--workers", "2", "-q"]) == 1
    err = capsys.readouterr().err
    assert f"failed: {truncated}" in err and f"failed: {corrupt}" in err
    doc = _manifest(out)
    assert doc["recordings"][truncated]["status"] == "failed"
    assert "truncated" in doc["recordings"][truncated]["error"]
    assert "soon" in doc["recordings"][corrupt]["error"]
    good = set(alone) - {truncated, corrupt}
    assert {b for b, e in doc["recordings"].items() if e["status"] == "done"} == good
    assert _outputs(out, good) == {b: alone[b] for b in good}
    assert not (out / (truncated + "_events.tsv")).exists()

    # Unchanged inputs: a failed recording stays failed (and is not run) unless --retry-failed.
    report = run_batch(data, out, Params("detect"), scheduler="processes", workers=1)
    assert not report.done and set(report.failed) == {truncated, corrupt} and set(report.skipped) == good
    report = run_batch(data, out, Params("detect"), scheduler="processes", workers=1, retry_failed=True)
    assert not report.done and set(report.failed) == {truncated, corrupt}
    # Repairing an input changes its checksum, so that recording runs again by itself.
    shutil.copy(cohort / Path(corrupt).parent / (Path(corrupt).name + "_events.tsv"),
                data / Path(corrupt).parent / (Path(corrupt).name + "_events.tsv"))
    report = run_batch(data, out, Params("detect"), scheduler="processes", workers=1)
    assert report.done == [corrupt] and set(report.failed) == {truncated}
    assert (out / (corrupt + "_events.tsv")).read_bytes() == alone[corrupt]


def test_rerun_skips_up_to_date_and_redoes_what_changed(tmp_path):
    data, out = tmp_path / "devices", tmp_path / "out"
    for name in ("P1", "P2", "P3"):
        shutil.copytree(SAMPLE, data / name)
    bases = sorted(s.base for s in find_recordings(data))
    run_batch(data, out, Params("detect"), scheduler="processes", workers=2)
    first = _outputs(out, bases)
    stamp = {b: (out / (b + "_events.tsv")).stat().st_mtime_ns for b in bases}
    report = run_batch(data, out, Params("detect"), scheduler="processes", workers=2)
    assert sorted(report.skipped) == bases and not report.done and report.engine == ""  # no engine started
    assert {b: (out / (b + "_events.tsv")).stat().st_mtime_ns for b in bases} == stamp
    # A deleted output is redone, and so is a recording whose input changed; the others stand, also
    # one whose file was touched but not changed (its checksum is computed again and found equal).
    (out / (bases[0] + "_events.tsv")).unlink()
    os.utime(data / "P3" / "simulation.json", ns=(1, 1))
    (data / "P2" / "sim01_20250106_210000_artifacts.tsv").write_text("onset\tduration\teventType\n")
    report = run_batch(data, out, Params("detect"), scheduler="processes", workers=2)
    assert sorted(report.done) == bases[:2] and report.skipped == bases[2:] and _outputs(out, bases) == first
    # Other parameters: everything is redone.
    report = run_batch(data, out, Params("detect", line_freq=60.0), scheduler="processes", workers=2)
    assert sorted(report.done) == bases
    assert len(_manifest(out)["runs"]) == 4


def test_chunked_detection_and_features_equal_the_whole_recording(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    for task in ("detect", "features"):
        run_batch(SAMPLE, whole, Params(task), scheduler="processes", workers=1)
        run_batch(SAMPLE, split, Params(task, chunk_hours=0.75, warmup_hours=0.5), scheduler="processes",
                  workers=2)
    (base,) = _manifest(split)["recordings"]
    assert _manifest(split)["recordings"][base]["n_chunks"] == 6
    # The same events; a confidence (peak probability) may differ in its second decimal: a 0.5-h
    # warm-up is one time constant of the adaptive baseline, not the default 24.
    def rows(folder):
        return [r.split("\t") for r in (folder / (base + "_events.tsv")).read_text().splitlines()[1:]]

    assert [r[:3] + r[4:] for r in rows(split)] == [r[:3] + r[4:] for r in rows(whole)]
    assert [float(r[3]) for r in rows(split)] == pytest.approx([float(r[3]) for r in rows(whole)], abs=0.05)
    with h5py.File(whole / (base + "_features.h5")) as a, h5py.File(split / (base + "_features.h5")) as b:
        np.testing.assert_array_equal(a["times"][:], b["times"][:])
        np.testing.assert_allclose(a["values"][:], b["values"][:], rtol=1e-9, atol=1e-12)
        assert list(a.attrs["feature_names"]) == list(b.attrs["feature_names"])
    assert not list(split.rglob("*.part*"))  # chunk files merged and removed


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory) -> tuple[str, list]:
    """The bundled model with a 3-minute adaptive baseline (so 1-2 h of warm-up is 20-40 time constants),
    and its events on the whole sample recording in one pass."""
    import dataclasses

    from eegmon.detectors import save_model
    from eegmon.detectors.generic import bundled_model

    path = tmp_path_factory.mktemp("model") / "quick.eegmon-model"
    save_model(dataclasses.replace(bundled_model(), baseline_minutes=3.0), path)
    spec = find_recordings(SAMPLE)[0]
    params = Params("detect", model=str(path))
    whole = run_item(WorkItem(spec.base, str(spec.path), None, _plan(spec, params)[0], 1, "", params))
    assert whole.error is None and len(whole.events) >= 3
    return str(path), whole.events


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunk_h=st.floats(0.3, 2.0), warmup_h=st.floats(1.0, 2.0))
def test_any_chunking_gives_the_same_events(quick_model, chunk_h, warmup_h):
    """Property: chunks run apart (in any order), each warmed up for >= 20 baseline time constants, give
    the events of one pass over the recording."""
    model, whole = quick_model
    params = Params("detect", model=model, chunk_hours=chunk_h, warmup_hours=warmup_h)
    spec = find_recordings(SAMPLE)[0]
    chunks = _plan(spec, params)
    assert len(chunks) >= 2
    parts = [run_item(WorkItem(spec.base, str(spec.path), None, c, len(chunks), "", params))
             for c in reversed(chunks)]
    assert all(p.error is None for p in parts)
    events = sorted((e for p in parts for e in p.events), key=lambda e: e.onset)
    assert [(round(e.onset, 6), round(e.duration, 6), e.channels) for e in events] == \
        [(round(e.onset, 6), round(e.duration, 6), e.channels) for e in whole]
    np.testing.assert_allclose([e.confidence for e in events], [e.confidence for e in whole], atol=1e-6)


def test_plan_chunks_grid_and_boundaries():
    source = open_recording(SAMPLE)
    def period(fs: float, proc_fs: float) -> float | None:
        return grid_period(window_grid(fs, 2.0, 1.0, resample_to=proc_fs))

    assert period(207.0, 207.0) == 1.0
    assert period(256.0, 207.0) == 1.0
    assert period(256.5, 207.0) == 2.0
    assert period(200.5, 200.5) == 200 / 200.5  # the pipeline's hop is a whole 200 samples
    assert period(np.pi * 100, 207.0) is None
    assert plan_chunks(source, chunk_s=None, warmup_s=0, period_s=1.0, hop_s=1.0)[0].read_from is None
    chunks = plan_chunks(source, chunk_s=1800.0, warmup_s=600.0, period_s=1.0, hop_s=1.0)
    assert chunks[0].keep_from is None and chunks[-1].keep_to is None
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.keep_to == b.keep_from  # every moment belongs to exactly one chunk
    for c in chunks[1:]:
        span = max((s for s in source.segments if s.start <= c.keep_from), key=lambda s: s.start)
        # boundaries half a hop off the window grid; reads start on it, at least the warm-up early
        assert (c.keep_from - span.start) % 1.0 == pytest.approx(0.5)
        assert c.read_from <= c.keep_from - 600.0
        start = max((s for s in source.segments if s.start <= c.read_from), key=lambda s: s.start).start
        assert (c.read_from - start) % 1.0 == pytest.approx(0.0, abs=1e-6)


def test_import_task_makes_one_archive_per_recording(tmp_path):
    from eegmon.archive import Archive

    data = tmp_path / "devices"
    data.mkdir()
    later = "sim01_20250107_001256"
    shutil.copytree(SAMPLE, data / "P01", ignore=shutil.ignore_patterns(later + "*"))
    shutil.copytree(SAMPLE, data / "P-02")
    p01, p02 = "sub-P01/eeg/sub-P01_task-monitoring", "sub-P02/eeg/sub-P02_task-monitoring"
    report = run_batch(data, tmp_path / "out", Params("import"), scheduler="processes", workers=2)
    assert sorted(report.done) == [p01, p02]  # done is in completion order: look up by recording

    def n_samples(base: str) -> int:
        with Archive.open(tmp_path / "out" / (base + ".h5")) as arc:
            return sum(s.n_samples for s in arc.segments)

    total = sum(s.n_samples for s in open_recording(SAMPLE).segments)
    assert n_samples(p02) == total > n_samples(p01)
    # The next day's file arrives in one device folder: only that archive is updated, by appending.
    for f in SAMPLE.glob(later + "*"):
        shutil.copy(f, data / "P01")
    report = run_batch(data, tmp_path / "out", Params("import"), scheduler="processes", workers=1)
    assert report.done == [p01] and report.skipped == [p02]
    assert n_samples(p01) == total


def test_datasets_folder_and_list_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(SAMPLE, data / "dev_A")
    assert main(["import", str(SAMPLE), "-o", str(data / "arch.h5"), "-q"]) == 0
    specs = find_recordings(data)
    assert [(s.base, s.path.name) for s in specs] == [("sub-arch/eeg/sub-arch_task-monitoring", "arch.h5"),
                                                      ("sub-devA/eeg/sub-devA_task-monitoring", "dev_A")]
    assert any(p.parent.name == "arch.h5.d" for p in specs[0].input_files())
    listing = tmp_path / "lists" / "cohort.txt"
    listing.parent.mkdir()
    listing.write_text("# patients\n../data/dev_A\n\n" + str(data / "arch.h5") + "\n")
    assert [s.path.name for s in find_recordings(listing)] == ["dev_A", "arch.h5"]
    assert find_recordings(SAMPLE)[0].path == SAMPLE  # a device folder is a one-recording dataset

    listing.write_text("../data/dev_A\n../data/nowhere\n")
    with pytest.raises(EegmonError, match="line 2: ../data/nowhere does not exist"):
        find_recordings(listing)
    shutil.copy(SAMPLE / "sim01_20250107_001256.edf", data / "loose.edf")
    with pytest.raises(EegmonError, match="mixes recordings"):
        find_recordings(data)
    (data / "loose.edf").unlink()
    shutil.copytree(SAMPLE, data / "dev-A")
    with pytest.raises(EegmonError, match="same subject label 'devA'"):
        find_recordings(data)


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "none"), "-o", str(tmp_path / "o")]) == 2
    assert "no such dataset" in capsys.readouterr().err
    assert main(["batch", str(SAMPLE), "-o", str(tmp_path / "o"), "--scheduler", "yarn"]) == 2
    err = capsys.readouterr().err
    assert "--scheduler must be local, processes or a Dask address" in err and len(err.strip().splitlines()) == 1
    assert main(["batch", str(SAMPLE), "-o", str(tmp_path / "o"), "--model", str(tmp_path / "m.eegmon-model")]) == 2
    assert main(["batch", str(SAMPLE), "-o", str(tmp_path / "o"), "--workers", "0"]) == 2
    assert not (tmp_path / "o").exists()  # nothing is written on bad input
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "batch-manifest.json").write_text("{not json")
    assert main(["batch", str(SAMPLE), "-o", str(tmp_path / "o")]) == 2
    assert "cannot read the run manifest" in capsys.readouterr().err


def test_without_dask_local_falls_back_to_a_process_pool(tmp_path):
    out = tmp_path / "out"
    # A real interpreter in which dask.distributed cannot be imported (as after pip install eegmon).
    code = ("import sys; sys.modules['distributed'] = None; from eegmon.cli import main; "
            f"sys.exit(main(['batch', {str(SAMPLE)!r}, '-o', {str(out)!r}, '--workers', '1']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Dask is not installed" in proc.stderr and "on processes (1 workers)" in proc.stdout
    tsv = next(out.rglob("*_events.tsv"))
    assert len(read_events_tsv(tsv).events) == 4


def test_existing_dask_cluster_by_address(tmp_path):
    """The recipe in docs/cohort.md: 'dask scheduler' and 'dask worker' processes, then --scheduler ADDRESS."""
    dask = Path(sys.executable).parent / "dask"
    info = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                               "127.0.0.1:0", "--scheduler-file", str(info)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        for _ in range(300):
            if info.exists() and info.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen([str(dask), "worker", address, "--nworkers", "1", "--nthreads", "1"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        report = run_batch(SAMPLE, tmp_path / "out", Params("detect"), scheduler=address)
        assert report.engine == "dask" and report.workers == 1 and len(report.done) == 1
        assert main(["detect", str(SAMPLE), "-o", str(tmp_path / "alone.tsv"), "-q"]) == 0
        assert next((tmp_path / "out").rglob("*_events.tsv")).read_bytes() == (tmp_path / "alone.tsv").read_bytes()
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


def test_unreachable_scheduler_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["batch", str(SAMPLE), "-o", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:1", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eegmon batch: error: tcp://127.0.0.1:1: cannot reach the Dask scheduler")
    assert len(err.splitlines()) == 1


def test_manifest_writes_are_throttled_but_never_lost(tmp_path):
    from eegmon.cohort.manifest import Manifest

    manifest = Manifest(tmp_path)
    manifest.set("a", {"status": "done"})  # the first write is due at once
    for i in range(500):  # then at most one write per second: 500 entries do not mean 500 rewrites
        manifest.set(f"b{i}", {"status": "done"})
    on_disk = json.loads((tmp_path / "batch-manifest.json").read_text())["recordings"]
    assert "a" in on_disk and len(on_disk) < 501
    manifest.save()
    assert len(Manifest(tmp_path).recordings) == 501


def test_outputs_inside_the_dataset_derivatives_folder(tmp_path):
    """The usual BIDS place for results: DATASET/derivatives/eegmon; it must not feed back as input or truth."""
    from eegmon.simulate import simulate_bids

    root = tmp_path / "bids"
    simulate_bids(root, subjects=1, days=0.2, fs=128.0, seizures_per_day=20.0, seed=2, quiet=True)
    out = root / "derivatives" / "eegmon"
    first = run_batch(root, out, Params("evaluate"), scheduler="processes", workers=1)
    again = run_batch(root, out, Params("evaluate"), scheduler="processes", workers=1)
    assert sorted(again.skipped) == sorted(first.done)  # done is in completion order
    assert len(first.done) == len(list(root.glob("sub-*/*/eeg/*_eeg.edf")))
    assert main(["evaluate", "--ref", str(root), "--hyp", str(out), "--json", str(tmp_path / "e.json"), "-q"]) == 0
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc == json.loads((out / "evaluation.json").read_text()) and doc["event"]["n_ref"] >= 1
