r"""The Walsh–Hadamard transform in few passes over memory: :func:`fwht_blocked`.

:func:`rpnumpy.hadamard.fwht` applies :math:`H_d = H_2 \otimes \cdots \otimes H_2` as
:math:`\log_2 d` passes of butterflies over the whole batch. In NumPy every pass is a sweep over
memory, so this module groups the :math:`H_2` factors into a few blocks :math:`H_{f_i}` of order
:math:`f_i \le 32` (the Kronecker factors of a Sylvester matrix are Sylvester matrices):
``x`` is viewed as a tensor of shape :math:`(n, f_1, \dots, f_r)` with :math:`f_1 \cdots f_r = d`,
and :math:`H_{f_i}` acts on axis :math:`i` alone, as a matrix product of the ``(f_i, f_i)`` block with
every ``(f_i, f_{i+1} \cdots f_r)`` slice. That is :math:`d \sum_i f_i` multiply-adds per row
instead of :math:`d \log_2 d` additions, but in :math:`\lceil \log_2 d / 5 \rceil` passes, each at
matrix-product speed. The result equals the radix-2 transform up to rounding (exactly, for
integer-valued inputs); the tests check both.
"""

from __future__ import annotations

import functools

import numpy as np

from .._validation import check_float_array
from ..hadamard import _check_power_of_two, hadamard_matrix

__all__ = ["MAX_FACTOR", "fwht_blocked"]

#: Largest Hadamard block multiplied at once (the fastest on a 2-core x86-64 machine with OpenBLAS).
MAX_FACTOR = 32


@functools.cache
def _hadamard_block(f: int, dtype_name: str) -> np.ndarray:
    """The ±1 matrix :math:`H_f`, built once per order and dtype and kept read-only."""
    block = hadamard_matrix(f, dtype=dtype_name)
    block.flags.writeable = False
    return block


def _factor_orders(d: int, max_factor: int) -> list[int]:
    """Powers of two, each at most ``max_factor``, as equal as possible, whose product is ``d``; smallest first.

    Smallest first, because a middle axis costs one small matrix product per slice before it: a small
    first factor means fewer, larger products.
    """
    p = d.bit_length() - 1
    per_block = max(1, max_factor.bit_length() - 1)
    n_blocks = max(1, -(-p // per_block))
    base, extra = divmod(p, n_blocks)
    return [1 << (base + (i >= n_blocks - extra)) for i in range(n_blocks)]


def fwht_blocked(
    x: np.ndarray, *, out: np.ndarray | None = None, work: np.ndarray | None = None, max_factor: int = MAX_FACTOR
) -> np.ndarray:
    r""":func:`rpnumpy.hadamard.fwht` by blocks of factors: :math:`y = x H_d` (unnormalised).

    :math:`H_d` is symmetric, so this is also :math:`x H_d^\top`; divide by
    :math:`\sqrt d` for the orthogonal transform, and apply twice to get
    :math:`d\,x` back.

    Parameters
    ----------
    x : ndarray of shape (..., d), float32 or float64
        ``d`` must be a power of two (pad with zeros first). Not modified.
    out : ndarray, optional
        Receives the result (same shape and dtype as ``x``, C-contiguous; may
        be ``x`` itself).
    work : ndarray, optional
        Scratch space of the same shape and dtype, C-contiguous, for callers
        that transform many batches and want no allocation per call. Must not
        overlap ``x`` or ``out``.
    max_factor : int, default=:data:`MAX_FACTOR`
        Largest Hadamard block multiplied at once (a power of two >= 2). With
        ``max_factor=2`` this is the textbook radix-2 transform, one pass per
        factor :math:`H_2`.

    Returns
    -------
    ndarray
        ``out`` if given, else a new array.

    Notes
    -----
    ``x`` is viewed as a tensor of shape :math:`(n, f_1, \dots, f_r)` with
    :math:`f_1\cdots f_r = d`, and :math:`H_d = H_{f_1}\otimes\cdots\otimes H_{f_r}`
    (the Kronecker factors of a Sylvester matrix are Sylvester matrices). The
    factor :math:`H_{f_i}` acts on axis :math:`i` alone: a matrix product of
    the ``(f_i, f_i)`` block with every ``(f_i, f_{i+1}\cdots f_r)`` slice.
    The factors are applied one after the other, alternating between ``out``
    and ``work``, in an order that leaves the last result in ``out``.
    """
    x = check_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least one axis, got a 0-d array")
    d = _check_power_of_two(x.shape[-1], "x.shape[-1]")
    max_factor = _check_power_of_two(max_factor, "max_factor")
    if max_factor < 2:
        raise ValueError(f"max_factor must be >= 2, got {max_factor}")
    for name, array in (("out", out), ("work", work)):
        if array is not None and (array.shape != x.shape or array.dtype != x.dtype):
            raise ValueError(
                f"{name} must have x's shape {x.shape} and dtype {x.dtype}, got {array.shape} {array.dtype}"
            )
        if array is not None and not array.flags.c_contiguous:
            raise ValueError(f"{name} must be C-contiguous (the products write through reshaped views of it)")
    out = np.empty(x.shape, dtype=x.dtype) if out is None else out
    if x.size == 0:  # no rows (an empty batch): nothing to transform
        return out
    orders = _factor_orders(d, max_factor)
    in_place = np.may_share_memory(out, x)
    if work is None and (in_place or len(orders) > 1):
        work = np.empty(x.shape, dtype=x.dtype)
    # The products alternate between out and work, in the order that leaves the last one in out. The
    # first product must not write where it reads: transforming in place with an odd number of factors
    # therefore ends in work, and costs one copy back.
    first = work if in_place or len(orders) % 2 == 0 else out
    last = _apply_factors(x, orders, first, out if first is work else work)
    if last is not out:
        np.copyto(out, last)
    return out


def _apply_factors(x: np.ndarray, orders: list[int], first: np.ndarray, second: np.ndarray) -> np.ndarray:
    r"""``x`` times :math:`H_{f_1}\otimes\cdots\otimes H_{f_r}`, writing first/second alternately; return the last."""
    d = x.shape[-1]
    rows = x.size // d
    source, target, other = x, first, second
    outer = rows  # rows times the orders already applied: the leading axes of the current view
    for order in orders:
        inner = d * rows // (outer * order)
        block = _hadamard_block(order, x.dtype.name)
        if inner == 1:  # the last axis: one matrix product (rows * d / order, order) @ (order, order)
            np.matmul(source.reshape(outer, order), block, out=target.reshape(outer, order))
        else:  # any other axis: the block times each (order, inner) slice
            np.matmul(block, source.reshape(outer, order, inner), out=target.reshape(outer, order, inner))
        source, target, other = target, other, target
        outer *= order
    return source


