"""Running a factorisation on one BLAS thread.

A blocked LAPACK factorisation (a Householder QR, say) adds up its updates in an order that depends
on how many threads share the work, so its last bits do too (up to 3e-16 between 1 and 2 OpenBLAS
threads). :func:`one_blas_thread` limits NumPy's and SciPy's BLAS libraries to one thread for the
duration of a ``with`` block, through threadpoolctl, so that the result is the same whatever the
process's thread count. On one thread a factorisation also stays fast when the machine's cores are
shared with other processes, where the threads of a multi-threaded factorisation wait for each other.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread"]

#: Controls the BLAS thread pools of NumPy and SciPy (created on first use, once both are imported).
_CONTROLLER: list[ThreadpoolController] = []
#: One block at a time may change the limit: two overlapping limits would restore each other's saved
#: values in the wrong order.
_LOCK = threading.Lock()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with every BLAS library of the process limited to one thread, then restore the limits."""
    with _LOCK:
        if not _CONTROLLER:
            import scipy.linalg  # noqa: F401  (load SciPy's BLAS before the controller lists the libraries)

            _CONTROLLER.append(ThreadpoolController())
        with _CONTROLLER[0].limit(limits=1, user_api="blas"):
            yield
