"""Run one task over every recording of a dataset, on Dask or a process pool, resumably.

The driver (this module) finds the recordings, checksums their inputs, skips those whose outputs
are up to date, cuts long recordings into chunks (:mod:`.plan`), sends the chunks to the engine
(:mod:`.engine`), and as each recording completes writes its outputs and its manifest entry
(:mod:`.manifest`). Workers only read inputs and write their own chunk files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__
from .._logging import logger, progress
from ..archive.feature_file import merge_parts
from ..errors import EegmonError
from ..io._files import write_text_atomic
from .dataset import RecordingSpec, find_recordings
from .engine import Engine, check_scheduler, open_engine
from .manifest import Manifest, digest_of, file_checksum, sha256
from .plan import Chunk, grid_period, plan_chunks
from .work import TASKS, ItemResult, Params, WorkItem, detection_model, run_item

EVALUATION = "evaluation.json"
#: Default warm-up of a chunk, in time constants of the adaptive baseline: the state left from before
#: the warm-up has then decayed to exp(-24) ~ 4e-11 of its size.
WARMUP_TIME_CONSTANTS = 24


@dataclass
class BatchReport:
    """What a batch run did.

    Attributes
    ----------
    done, skipped : list of str
        Recordings processed now, and those whose outputs were already up to date.
    failed : dict
        Recording -> error, for recordings that failed now or before (and were not retried).
    wall_s : float
        Wall-clock seconds of the run.
    hours : float
        Recorded hours processed now.
    engine : str
        The engine that ran the work, and ``workers`` its size.
    evaluation : dict | None
        The ``eegmon evaluate --json`` document (task ``evaluate``).
    """

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0
    hours: float = 0.0
    engine: str = ""
    workers: int = 0
    dashboard: str | None = None
    evaluation: dict | None = None


def _model_record(params: Params) -> dict[str, Any]:
    """The detector and a checksum of its model file (what decides the detections)."""
    from ..detectors.generic import bundled_model_sha256

    model, name = detection_model(params.detector, params.model)
    record: dict[str, Any] = {"name": name, "detector": model.detector}
    if params.model is not None:
        record["sha256"] = sha256(Path(params.model))
    elif name == "classifier":
        record["sha256"] = bundled_model_sha256()
    return record


def _params_record(params: Params) -> dict[str, Any]:
    """What decides a recording's outputs: evaluate shares detect's outputs, import needs no detector."""
    if params.task == "import":
        return {"task": "import", "eegmon_version": __version__}
    record = replace(params, task="detect" if params.task == "evaluate" else params.task).record()
    record["model"] = _model_record(params)
    record["eegmon_version"] = __version__
    return record


def _plan(spec: RecordingSpec, params: Params) -> list[Chunk]:
    if params.task == "import":
        return [Chunk(0, None, None, None)]
    from ..features import window_grid
    from ..io import open_recording

    source = open_recording(spec.path)
    model, _ = detection_model(params.detector, params.model)
    grid = window_grid(source.fs, model.window_s, model.hop_s, resample_to=model.fs)  # the pipeline's own grid
    chunk_s = None if params.chunk_hours is None else params.chunk_hours * 3600.0
    warmup_s = WARMUP_TIME_CONSTANTS * model.baseline_minutes * 60.0 if params.warmup_hours is None else \
        params.warmup_hours * 3600.0
    return plan_chunks(source, chunk_s=chunk_s, warmup_s=warmup_s, period_s=grid_period(grid), hop_s=grid.hop_s)


def _finish(spec: RecordingSpec, params: Params, out_dir: Path, results: list[ItemResult]) -> dict[str, Any]:
    """Write a completed recording's outputs; return its manifest entry fields."""
    results = sorted(results, key=lambda r: r.part)
    first = results[0]
    entry: dict[str, Any] = {"recording_hours": first.recorded_s / 3600.0, "n_chunks": len(results),
                             "compute_s": sum(r.seconds for r in results),
                             "start": first.start, "duration_s": first.stop - first.start}
    if params.task in ("detect", "evaluate"):
        from ..io.events_tsv import write_events_tsv

        events = [e for r in results for e in r.events]
        path = out_dir / (spec.base + "_events.tsv")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_events_tsv(path, events, first.start, first.stop - first.start)
        outputs = [path]
        entry["n_events"] = len(events)
        entry["truth"] = [[a - first.start, b - first.start] for a, b in first.truth]
    elif params.task == "features" and len(results) > 1:
        outputs = [merge_parts(out_dir, spec.base, len(results))]
    else:
        outputs = [Path(p) for r in results for p in r.outputs]
    entry["outputs"] = [{"path": str(p), "size": p.stat().st_size} for p in outputs]
    return entry


def _write_description(out_dir: Path, dataset: Path) -> None:
    """The BIDS-derivatives ``dataset_description.json`` (left alone if present)."""
    path = out_dir / "dataset_description.json"
    if not path.exists():
        doc = {"Name": f"eegmon batch outputs for {dataset.name}", "BIDSVersion": "1.9.0",
               "DatasetType": "derivative", "GeneratedBy": [{"Name": "eegmon", "Version": __version__}]}
        write_text_atomic(path, json.dumps(doc, indent=2) + "\n")


def _evaluate(specs: list[RecordingSpec], manifest: Manifest, out_dir: Path) -> dict:
    """Score every finished recording against its ground truth; write ``evaluation.json``."""
    from ..evaluate import evaluate_pairs
    from ..evaluate.dataset import RecordingPair
    from ..io.events_tsv import read_events_tsv

    pairs = []
    for spec in specs:
        entry = manifest.recordings.get(spec.base)
        if entry is None or entry["status"] != "done":
            continue
        start = entry["start"]
        hyp = read_events_tsv(out_dir / (spec.base + "_events.tsv"), source="hypothesis").events
        pairs.append(RecordingPair(name=spec.base, subject=spec.subject, duration=entry["duration_s"], start=start,
                                   ref=[tuple(x) for x in entry["truth"]],
                                   hyp=[(e.onset - start, e.offset - start) for e in hyp if e.is_seizure]))
    if not pairs:
        raise EegmonError("no recording finished, so there is nothing to evaluate.", out_dir)
    doc = evaluate_pairs(pairs).to_json()
    write_text_atomic(out_dir / EVALUATION, json.dumps(doc, indent=2) + "\n")
    return doc


def run_batch(dataset: str | os.PathLike, out_dir: str | os.PathLike, params: Params, *, scheduler: str = "local",
              workers: int | None = None, retry_failed: bool = False, quiet: bool = True) -> BatchReport:
    """Run ``params.task`` over every recording of ``dataset``.

    Parameters
    ----------
    dataset : path-like
        A BIDS dataset, a folder of archives / device folders, or a list file
        (see :func:`eegmon.cohort.find_recordings`).
    out_dir : path-like
        Output folder (BIDS-derivatives layout, with ``batch-manifest.json``); created if needed.
    params : Params
        The task and its parameters.
    scheduler : str
        ``local`` (a Dask LocalCluster; a process pool without Dask), ``processes`` or a Dask
        scheduler address.
    workers : int | None
        Worker processes for ``local`` / ``processes`` (default: one per CPU).
    retry_failed : bool
        Run again the recordings that failed before with the same inputs and parameters.
    quiet : bool
        No progress bars or messages.

    Returns
    -------
    BatchReport
    """
    if params.task not in TASKS:
        raise EegmonError(f"--task must be one of {', '.join(TASKS)}, got {params.task!r}.")
    if params.chunk_hours is not None and not params.chunk_hours > 0:
        raise EegmonError(f"--chunk-hours must be > 0, got {params.chunk_hours}.")
    if params.warmup_hours is not None and not params.warmup_hours >= 0:
        raise EegmonError(f"--warmup-hours must be >= 0, got {params.warmup_hours}.")
    check_scheduler(scheduler, workers)
    t_start = time.perf_counter()
    dataset, out_dir = Path(dataset), Path(out_dir)
    specs = find_recordings(dataset)
    record = _params_record(params)  # loads the model: a bad --model fails here, before any work
    params_id = digest_of(record)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EegmonError(f"cannot create the output folder: {err.strerror or err}", out_dir) from None
    manifest = Manifest(out_dir)
    manifest.doc.update(task=params.task, dataset=str(dataset.resolve()), params=record, params_id=params_id)
    _write_description(out_dir, dataset)

    report = BatchReport()
    with ExitStack() as stack:
        stack.callback(manifest.save)  # what finished is kept, also when interrupted
        opened: list[Engine] = []

        def engine() -> Engine:
            """The engine, started on first use: a re-run with nothing to do starts none."""
            if not opened:
                started = stack.enter_context(open_engine(scheduler, workers))
                report.engine, report.workers, report.dashboard = started.name, started.workers, started.dashboard
                if started.dashboard and not quiet:
                    logger.info("Dask dashboard: %s", started.dashboard)
                opened.append(started)
            return opened[0]

        # Checksums are computed on the workers: on a first run over terabytes this is as much reading
        # as the work itself, more than one driver can do. A recording that will run anyway has its
        # inputs hashed by the worker that runs it, just before it reads them (so from the page cache
        # then); only the inputs of recordings that may be up to date are hashed first, to decide.
        may_skip = [spec for spec in specs if manifest.may_skip(spec.base, params_id)]
        stale = sorted({str(f) for spec in may_skip for f in spec.input_files() if manifest.stale(f)})
        if stale:
            sums = engine().map_unordered(file_checksum, stale)
            for _, got in progress(sums, total=len(stale), desc="checksums", quiet=quiet, unit="file"):
                if not isinstance(got, BaseException):  # a file that vanished fails its recording below
                    manifest.store(*got)
        items, pending = _check_and_plan(specs, params, params_id, manifest, report, out_dir, retry_failed, quiet)
        if items:
            _collect(engine().map_unordered(run_item, items), pending, params, out_dir, manifest, report, quiet)
    if params.task == "evaluate":
        report.evaluation = _evaluate(specs, manifest, out_dir)
    report.wall_s = time.perf_counter() - t_start
    manifest.doc["runs"].append({
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "task": params.task,
        "engine": report.engine or None, "workers": report.workers or None, "wall_s": round(report.wall_s, 3),
        "done": len(report.done), "skipped": len(report.skipped), "failed": len(report.failed),
        "recording_hours": round(report.hours, 4),
        "hours_per_s": round(report.hours / report.wall_s, 3) if report.done else None})
    manifest.save()
    return report


def _inputs(files: list[Path], manifest: Manifest) -> dict[str, Any]:
    """The manifest's ``inputs`` (path, size, SHA-256 of each file) and ``inputs_id`` of a recording.

    A file that cannot be read gives no checksum: the recording then never counts as up to date.
    """
    try:
        inputs = [manifest.checksum(p) for p in files]
    except OSError:
        return {"inputs": [], "inputs_id": None}
    return {"inputs": inputs, "inputs_id": digest_of([(Path(i["path"]).name, i["sha256"]) for i in inputs])}


def _check_and_plan(specs: list[RecordingSpec], params: Params, params_id: str, manifest: Manifest,
                    report: BatchReport, out_dir: Path, retry_failed: bool, quiet: bool) -> tuple[list, dict]:
    """The work items of the recordings that are not up to date (largest first), and those recordings."""
    sized: list[tuple[float, WorkItem]] = []
    pending: dict[str, tuple[RecordingSpec, dict[str, Any], int, list[Path]]] = {}
    for spec in progress(specs, desc="check inputs", quiet=quiet, unit="rec"):
        entry: dict[str, Any] = {"path": str(spec.path), "subject": spec.subject, "params_id": params_id}
        files = spec.input_files()
        try:
            if manifest.may_skip(spec.base, params_id):
                entry.update(_inputs(files, manifest))
                if manifest.up_to_date(spec.base, entry["inputs_id"], params_id, retry_failed=retry_failed):
                    old = manifest.recordings[spec.base]
                    if old["status"] == "failed":
                        report.failed[spec.base] = old["error"]
                    else:
                        report.skipped.append(spec.base)
                    continue
            chunks = _plan(spec, params)
            size = sum(f.stat().st_size for f in files) / len(chunks)
        except (EegmonError, OSError, ValueError) as err:
            if "inputs_id" not in entry:  # so that it is not retried while its inputs stay the same
                entry.update(_inputs(files, manifest))
            manifest.set(spec.base, {**entry, "status": "failed", "error": str(err), "outputs": []})
            report.failed[spec.base] = str(err)
            continue
        pending[spec.base] = (spec, entry, len(chunks), files)
        to_hash = () if "inputs_id" in entry else tuple(str(f) for f in files)
        sized += [(size, WorkItem(spec.base, str(spec.path), None if spec.truth is None else str(spec.truth), c,
                                  len(chunks), str(out_dir), params, to_hash if c.part == 0 else ()))
                  for c in chunks]
    manifest.save()
    # Largest first, so that a big recording does not run alone at the end while the other workers idle.
    return [item for _, item in sorted(sized, key=lambda x: -x[0])], pending


def _collect(results, pending: dict, params: Params, out_dir: Path, manifest: Manifest, report: BatchReport,
             quiet: bool) -> None:
    """Gather chunk results; finish each recording as its last chunk comes in."""
    parts: dict[str, list[ItemResult]] = {}

    def finished():
        for item, result in results:
            if isinstance(result, BaseException):
                result = ItemResult(item.base, item.chunk.part, error=f"{item.path}: the worker failed: "
                                    f"{type(result).__name__}: {result}", internal=True)
            got = parts.setdefault(item.base, [])
            got.append(result)
            if len(got) == pending[item.base][2]:
                yield item.base

    for base in progress(finished(), total=len(pending), desc=f"{params.task}", quiet=quiet, unit="rec"):
        spec, entry, _, files = pending[base]
        got = parts.pop(base)
        if "inputs_id" not in entry:
            for checksum in (c for r in got for c in r.checksums):
                manifest.store(*checksum)
            entry.update(_inputs(files, manifest))
        errors = [r.error for r in sorted(got, key=lambda r: r.part) if r.error]
        if not errors:
            try:
                entry.update(_finish(spec, params, out_dir, got), status="done", error=None)
            except (EegmonError, OSError) as err:
                errors = [str(err)]
        if errors:
            for r in got:  # chunk files of a failed recording are of no use
                for p in r.outputs:
                    Path(p).unlink(missing_ok=True)
            entry.update(status="failed", error=errors[0], outputs=[])
            report.failed[base] = errors[0]
        else:
            report.done.append(base)
            report.hours += entry["recording_hours"]
        entry["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        manifest.set(base, entry)
