"""What a worker does with one unit of work (one recording, or one time chunk of it).

:func:`run_item` never raises: a failure comes back as a result with its error, so one bad
recording cannot stop the others, whatever the engine (Dask or a process pool).
"""

from __future__ import annotations

import functools
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._deprecated import moved
from .._threads import limit_threads
from ..archive.feature_file import FeatureWriter, features_path
from ..errors import EegmonError
from ..events import Annotation
from .manifest import file_checksum
from .plan import Chunk

TASKS = ("detect", "features", "import", "evaluate")
_READ_S = 600.0  # seconds read at a time: memory is bounded by it, not by the recording
_TAIL_S = 60.0


@dataclass(frozen=True)
class Params:
    """Everything that decides a task's outputs (and so goes into the run manifest)."""

    task: str
    detector: str = "classifier"
    model: str | None = None
    line_freq: float = 50.0
    chunk_hours: float | None = 168.0
    warmup_hours: float | None = None  # None: 24 time constants of the model's adaptive baseline

    def record(self) -> dict:
        """The parameters as they go into the manifest."""
        return asdict(self)


@dataclass(frozen=True)
class WorkItem:
    """One unit of work: a chunk of a recording, and where its outputs go."""

    base: str
    path: str
    truth: str | None
    chunk: Chunk
    n_chunks: int
    out_dir: str
    params: Params
    hash_files: tuple[str, ...] = ()  # inputs to checksum first (then their data is in the page cache)


@dataclass
class ItemResult:
    """What a unit of work produced (or its error)."""

    base: str
    part: int
    error: str | None = None
    internal: bool = False  # a bug rather than bad input
    seconds: float = 0.0
    events: list[Annotation] = field(default_factory=list)
    start: float = 0.0
    stop: float = 0.0
    recorded_s: float = 0.0
    truth: list[tuple[float, float]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    checksums: list[tuple[str, int, int, str]] = field(default_factory=list)


@functools.lru_cache(maxsize=4)
def detection_model(detector: str, model: str | None):
    """The model for a detector name or model file, loaded once per worker process."""
    from ..detectors import load_detector

    return load_detector(detector, None if model is None else Path(model))


def _keep(t, chunk: Chunk) -> np.ndarray:
    """True where time(s) ``t`` belong to the chunk."""
    t = np.asarray(t, dtype=float)
    ok = np.ones(t.shape, dtype=bool)
    if chunk.keep_from is not None:
        ok &= t >= chunk.keep_from
    if chunk.keep_to is not None:
        ok &= t < chunk.keep_to
    return ok


def _detect(item: WorkItem, source) -> list[Annotation]:
    from ..detectors.runner import StreamingDetector

    model, name = detection_model(item.params.detector, item.params.model)
    runner = StreamingDetector(model, source.fs, source.channels, clip_level=source.clip_level, name=name,
                               line_freq=item.params.line_freq)
    chunk = item.chunk
    events: list[Annotation] = []
    for t0, x in source.chunks(_READ_S, start=chunk.read_from, stop=chunk.keep_to):
        events += runner.push(x, t0).events
    if chunk.keep_to is None:
        events += runner.flush()
    else:
        # Read on past the chunk until no event that began in it is still open (or may still begin:
        # an onset lies one window before the first window that crosses the threshold).
        settled = chunk.keep_to + model.window_s + model.hop_s
        for t0, x in source.chunks(_TAIL_S, start=chunk.keep_to):
            events += runner.push(x, t0).events
            onset = runner.open_onset
            if t0 + len(x) / source.fs >= settled and (onset is None or onset >= chunk.keep_to):
                break
        else:
            events += runner.flush()
    return [e for e in events if _keep(e.onset, chunk)]


def _features(item: WorkItem, source) -> list[str]:
    from ..detectors.runner import FeatureStream

    model, _ = detection_model(item.params.detector, item.params.model)
    pipeline = FeatureStream(model, source.fs, source.channels, clip_level=source.clip_level,
                             line_freq=item.params.line_freq).pipeline  # the detector's own chain
    path = features_path(Path(item.out_dir), item.base, item.chunk.part if item.n_chunks > 1 else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    attrs = {"window_s": model.window_s, "hop_s": model.hop_s, "fs": pipeline.fs}
    with FeatureWriter(path, pipeline.feature_names, source.channels, attrs=attrs) as out:
        for t0, x in source.chunks(_READ_S, start=item.chunk.read_from, stop=item.chunk.keep_to):
            table = pipeline.push(x, t0)
            keep = _keep(table.times, item.chunk)
            out.append(table.times[keep], table.values[keep])
    return [str(path)]


def _import(item: WorkItem, source) -> list[str]:
    from ..io.ingest import import_sources

    out = Path(item.out_dir) / (item.base + ".h5")
    out.parent.mkdir(parents=True, exist_ok=True)
    import_sources(out, [item.path], append=out.exists())
    return [str(out)]


def _truth(item: WorkItem, source) -> list[tuple[float, float]]:
    """Ground-truth seizures (onset, offset) in s since the epoch."""
    if item.truth is not None:
        from ..io.events_tsv import read_events_tsv

        events = read_events_tsv(item.truth, recording_start=source.start, source="ground_truth").events
    else:
        events = [a for a in source.annotations if not a.source.startswith("detector")]
    return sorted((e.onset, e.offset) for e in events if e.is_seizure)


def _run(item: WorkItem, result: ItemResult, source) -> None:
    result.start, result.stop, result.recorded_s = source.start, source.stop, source.recorded_s
    task = item.params.task
    if task in ("detect", "evaluate"):
        result.events = _detect(item, source)
        if item.chunk.part == 0:
            result.truth = _truth(item, source)
    elif task == "features":
        result.outputs = _features(item, source)
    elif task == "import":
        result.outputs = _import(item, source)
    else:
        raise EegmonError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}.")


def run_item(item: WorkItem) -> ItemResult:
    """Do one unit of work; errors are caught and returned, never raised."""
    from ..io import open_recording

    result = ItemResult(item.base, item.chunk.part)
    t0 = time.perf_counter()
    try:
        result.checksums = [file_checksum(p) for p in item.hash_files]
        # A worker is one core's worth of work: with the feature kernels' default of one thread per
        # CPU, two workers on two cores were no faster than one.
        with limit_threads(1):
            _run(item, result, open_recording(item.path))
    except EegmonError as err:
        result.error = str(err)
    except (OSError, ValueError) as err:
        # Unreadable or malformed files surface as these from h5py, edfio and NumPy.
        result.error = f"{item.path}: {type(err).__name__}: {err}"
    except Exception as err:  # noqa: BLE001 - a bug in one recording must not stop the cohort
        result.error = f"{item.path}: internal error {type(err).__name__}: {err}\n{traceback.format_exc()}"
        result.internal = True
    result.seconds = time.perf_counter() - t0
    return result


__getattr__ = moved(__name__, {
    "one_core": ("eegmon._threads.limit_threads(1)", lambda: functools.partial(limit_threads, 1)),
})
