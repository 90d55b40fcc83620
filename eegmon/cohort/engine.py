"""Where units of work run: a Dask cluster (local or remote) or a plain process pool.

All engines take the same picklable work items and give back the same results, so a job's
outputs do not depend on where it ran. Dask is optional (``pip install eegmon[cluster]``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from .._logging import logger
from ..errors import EegmonError


@dataclass
class Engine:
    """A running engine; :meth:`map_unordered` runs work on it.

    Attributes
    ----------
    name : str
        ``dask-local``, ``dask`` (an existing cluster) or ``processes``.
    workers : int
        Worker processes.
    dashboard : str | None
        The Dask dashboard address, when there is one.
    """

    name: str
    workers: int
    dashboard: str | None
    _submit: Callable[[Callable, Any], Any]
    _completed: Callable[[list], Iterator[Any]]

    def map_unordered(self, fn: Callable, items: list) -> Iterator[tuple[Any, Any]]:
        """Run ``fn`` on every item; yield ``(item, result)`` as they finish (any order).

        When the engine itself fails an item (its worker process died, say), the result is the
        exception, so the other items still come back.
        """
        futures = {self._submit(fn, item): item for item in items}
        for future in self._completed(list(futures)):
            try:
                result = future.result()
            except Exception as err:  # noqa: BLE001 - reported per item by the caller
                result = err
            yield futures[future], result


def default_workers() -> int:
    """Worker processes for this machine: one per CPU this process may use."""
    return max(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 1)


def dask_available() -> bool:
    """Whether ``dask.distributed`` can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _process_pool(workers: int) -> Iterator[Engine]:
    import multiprocessing

    # spawn, as Dask's local workers: no inherited locks or threads from the parent.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield Engine("processes", workers, None, pool.submit, as_completed)


@contextmanager
def _dask(address: str | None, workers: int | None) -> Iterator[Engine]:
    import importlib.util

    import dask
    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_completed

    # Dask's own INFO messages (and the noise of workers shutting down) are not the user's business;
    # errors in the work come back through the futures.
    if not logger.isEnabledFor(logging.DEBUG):
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
    cluster = None
    # The dashboard needs bokeh (the cluster extra); a local cluster listens on this machine only.
    dashboard = "127.0.0.1:0" if importlib.util.find_spec("bokeh") else None
    if address is None:
        # Dask's workers start with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc map and unmap
        # every large array: detection ran 30 % slower. Our workers' memory is bounded by the chunk
        # read, so they keep glibc's default.
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=dashboard, silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as err:
            raise EegmonError(f"cannot reach the Dask scheduler: {err}", address) from None
    try:
        n = len(client.scheduler_info(n_workers=-1)["workers"]) if address else workers
        link = client.dashboard_link if (address or dashboard) else None
        yield Engine("dask-local" if address is None else "dask", n, link, partial(client.submit, pure=False),
                     dask_completed)
    finally:
        client.close()  # before the cluster: closing the cluster first leaves the client retrying
        if cluster is not None:
            cluster.close()


def check_scheduler(scheduler: str, workers: int | None) -> None:
    """Raise :class:`EegmonError` unless ``scheduler`` and ``workers`` are usable (see :func:`open_engine`)."""
    if workers is not None and workers < 1:
        raise EegmonError(f"--workers must be >= 1, got {workers}.")
    if scheduler in ("local", "processes"):
        return
    if ":" not in scheduler:
        raise EegmonError(f"--scheduler must be local, processes or a Dask address such as tcp://host:8786, "
                          f"got {scheduler!r}.")
    if not dask_available():
        raise EegmonError("a Dask scheduler address needs Dask: pip install 'eegmon[cluster]'.", scheduler)


@contextmanager
def open_engine(scheduler: str = "local", workers: int | None = None) -> Iterator[Engine]:
    """Start (or connect to) an engine for the length of a ``with`` block.

    Parameters
    ----------
    scheduler : str
        ``local``: a Dask ``LocalCluster`` of ``workers`` processes on this machine (a process
        pool when Dask is not installed); ``processes``: a plain process pool; an address such as
        ``tcp://host:8786``: an existing Dask scheduler (``workers`` is then the cluster's).
    workers : int | None
        Worker processes for ``local`` and ``processes``; one per CPU by default.
    """
    check_scheduler(scheduler, workers)
    n = workers or default_workers()
    if scheduler == "processes" or (scheduler == "local" and not dask_available()):
        if scheduler == "local":
            logger.warning("Dask is not installed (pip install 'eegmon[cluster]'): using a process pool")
        with _process_pool(n) as engine:
            yield engine
    else:
        with _dask(None if scheduler == "local" else scheduler, n) as engine:
            yield engine
