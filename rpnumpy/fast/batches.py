"""Mini-batches gathered into one reused buffer: :class:`BatchBuffer`, equal to fancy indexing."""

from __future__ import annotations

import numpy as np

__all__ = ["BatchBuffer"]


class BatchBuffer:
    """Gather the rows of a mini-batch into arrays allocated once per training run.

    ``gather(rows)`` returns ``(x[rows], y[rows])`` exactly (the same values, bit for bit) as views
    of two buffers of ``batch_size`` rows, written in place by ``np.take(..., out=...)``. No array
    is allocated per step, and the batch is still in the cache when the first matrix product reads
    it. The views are overwritten by the next ``gather``: use a batch before asking for the next.

    Parameters
    ----------
    x, y : ndarray
        The training inputs and targets, ``len(x) == len(y)``.
    batch_size : int
        The largest batch that will be gathered.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
        self.x, self.y = x, y
        rows = min(batch_size, x.shape[0])
        self._x = np.empty((rows, *x.shape[1:]), dtype=x.dtype)
        self._y = np.empty((rows, *y.shape[1:]), dtype=y.dtype)

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(x[rows], y[rows])`` as views of the buffers; ``rows`` must be valid row indices."""
        xb, yb = self._x[: len(rows)], self._y[: len(rows)]
        # mode="clip" skips the bounds check that makes NumPy gather into a hidden temporary first:
        # the rows come from a permutation of range(len(x)), always in range.
        np.take(self.x, rows, axis=0, out=xb, mode="clip")
        np.take(self.y, rows, axis=0, out=yb, mode="clip")
        return xb, yb
