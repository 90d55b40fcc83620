"""Thread pools limited for a block of work: Numba's (the feature and forest kernels) and BLAS/OpenMP's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager


@contextmanager
def limit_threads(n: int = 1, *, blas: bool = True) -> Iterator[None]:
    """Run the block with at most ``n`` Numba threads (and ``n`` BLAS/OpenMP threads if ``blas``).

    Parameters
    ----------
    n : int
        Threads allowed.
    blas : bool
        Also limit the BLAS/OpenMP pools (threadpoolctl). It inspects the loaded libraries on every
        entry (about a millisecond), so the per-chunk live path limits Numba alone.

    Notes
    -----
    Numba's thread count is per calling thread: the limit holds for this thread's kernels only, and
    the count before is restored on exit. Nothing is set when Numba already runs ``n`` threads.
    """
    import numba

    before = numba.get_num_threads()
    with ExitStack() as stack:
        if before > n:
            numba.set_num_threads(n)
            stack.callback(numba.set_num_threads, before)
        if blas:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(n))
        yield
