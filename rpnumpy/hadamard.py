r"""The fast Walsh–Hadamard transform and the subsampled randomized Hadamard transform (SRHT).

The Hadamard matrix
-------------------
Sylvester's Hadamard matrix of order :math:`d = 2^p` is built by doubling,

.. math::

    H_1 = (1), \qquad
    H_{2m} = \begin{pmatrix} H_m & H_m \\ H_m & -H_m \end{pmatrix} = H_2 \otimes H_m ,

so :math:`H_d = H_2 \otimes H_2 \otimes \cdots \otimes H_2` (:math:`p` factors) and
:math:`(H_d)_{ij} = (-1)^{\operatorname{popcount}(i \,\&\, j)}`. Its entries are
:math:`\pm 1`, it is symmetric, and :math:`H_d H_d = d\,I`: the *normalised*
matrix :math:`H_d/\sqrt d` is orthogonal (and its own inverse).

The fast transform
------------------
Computing :math:`xH_d` as a matrix product costs :math:`d^2` multiply-adds per
row. The Kronecker structure does better: a factor :math:`H_f` acting on one
axis of ``x`` reshaped to a tensor of shape :math:`(f_1, \dots, f_r)`, with
:math:`f_1 \cdots f_r = d`, is applied to all the others at once. The
textbook radix-2 transform takes every :math:`f_i = 2` (:math:`\log_2 d`
passes of additions and subtractions, :math:`d \log_2 d` operations per row).
:func:`fwht` groups the :math:`H_2` factors into a few blocks
:math:`H_{f_i}` of order :math:`f_i \le 32`, each applied by a matrix
product: :math:`d \sum_i f_i` multiply-adds per row instead of
:math:`d\log_2 d` additions, but in :math:`\lceil \log_2 d / 5 \rceil` passes
over memory instead of :math:`\log_2 d`, each running at matrix-product speed.
For a fixed block size that is still :math:`O(d \log d)`. (This grouping is
ours, a choice for speed in NumPy; the radix-2 transform gives the same
numbers up to rounding, and ``max_factor=2`` selects it.)

The SRHT
--------
The subsampled randomized Hadamard transform (Ailon & Chazelle, 2009; Tropp,
2011) is a Johnson–Lindenstrauss projection that costs :math:`O(d\log d)` per
row instead of a dense projection's :math:`O(dk)`. In rpnumpy's row-vector
convention, for :math:`x \in \mathbb R^{d}` padded with zeros to
:math:`d' = 2^{\lceil \log_2 d \rceil}`:

.. math::

    x S = \sqrt{\tfrac{d'}{k}}\; x D \,\tfrac{1}{\sqrt{d'}} H_{d'}\, P ,

with :math:`D` a diagonal of independent random signs, :math:`H_{d'}/\sqrt{d'}`
the normalised Hadamard matrix and :math:`P` a :math:`d' \times k` selection
of :math:`k` distinct coordinates drawn uniformly without replacement. Every
entry of :math:`S` is :math:`\pm 1/\sqrt k`. :math:`D` spreads the energy of
any fixed :math:`x` evenly over the coordinates of :math:`xDH`, so that keeping
a random few of them is like sampling a random projection; see :class:`SRHT`
for the scaling and the expectation.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ._validation import check_dtype, check_float_array, check_positive_float, check_positive_int, check_seed

__all__ = ["MAX_FACTOR", "SRHT", "fwht", "hadamard_matrix", "next_power_of_two"]

#: Largest Hadamard block :func:`fwht` multiplies by (measured fastest on the development machine).
MAX_FACTOR = 32


def next_power_of_two(d: int) -> int:
    """The smallest power of two ``>= d`` (1 for ``d = 1``)."""
    d = check_positive_int(d, "d")
    return 1 << (d - 1).bit_length()


def _check_power_of_two(d: int, name: str) -> int:
    d = check_positive_int(d, name)
    if d & (d - 1):
        raise ValueError(f"{name} must be a power of two, got {d}")
    return d


def _odd_popcount(values: np.ndarray) -> np.ndarray:
    """1 where a non-negative integer has an odd number of set bits, else 0 (works with NumPy 1.x too).

    XOR-folding the halves of the word onto each other keeps the parity of its bits in the lowest bit.
    """
    v = values.astype(np.int64, copy=True)
    for shift in (32, 16, 8, 4, 2, 1):
        v ^= v >> shift
    return v & 1


def hadamard_matrix(d: int, *, normalized: bool = False, dtype: Any = np.float64) -> np.ndarray:
    r"""Sylvester's Hadamard matrix, :math:`(H_d)_{ij} = (-1)^{\operatorname{popcount}(i \& j)}`.

    Parameters
    ----------
    d : int
        The order, a power of two.
    normalized : bool, default=False
        Return :math:`H_d/\sqrt d` (orthogonal) instead of the :math:`\pm 1` matrix.
    dtype : float32 or float64, default=float64

    Returns
    -------
    ndarray of shape (d, d)
    """
    d = _check_power_of_two(d, "d")
    dtype = check_dtype(dtype)
    index = np.arange(d)
    odd = _odd_popcount(np.bitwise_and.outer(index, index))
    matrix = 1.0 - 2.0 * odd
    if normalized:
        matrix /= math.sqrt(d)
    return matrix.astype(dtype, copy=False)


@functools.cache
def _hadamard_block(f: int, dtype_name: str) -> np.ndarray:
    """The ±1 matrix :math:`H_f`, built once per order and dtype and kept read-only."""
    block = hadamard_matrix(f, dtype=dtype_name)
    block.flags.writeable = False
    return block


def _factor_orders(d: int, max_factor: int) -> list[int]:
    """Powers of two, each at most ``max_factor``, as equal as possible, whose product is ``d``; smallest first.

    Smallest first, because a middle axis costs one small matrix product per slice before it: a small
    first factor means fewer, larger products (measured: 10-35% faster for d = 2048 ... 16384).
    """
    p = d.bit_length() - 1
    per_block = max(1, max_factor.bit_length() - 1)
    n_blocks = max(1, -(-p // per_block))
    base, extra = divmod(p, n_blocks)
    return [1 << (base + (i >= n_blocks - extra)) for i in range(n_blocks)]


def fwht(
    x: np.ndarray, *, out: np.ndarray | None = None, work: np.ndarray | None = None, max_factor: int = MAX_FACTOR
) -> np.ndarray:
    r"""Fast Walsh–Hadamard transform along the last axis: :math:`y = x H_d` (unnormalised).

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


class SRHT:
    r"""Subsampled randomized Hadamard transform: a structured random matrix :math:`S` of shape ``(d_in, k)``.

    .. math::

        S = c\; D \, H_{d'} \, P ,\qquad S_{ij} = \pm c ,

    with :math:`d' = 2^{\lceil\log_2 d_{in}\rceil}` (the input is padded with
    zeros), :math:`D = \operatorname{diag}(\pm 1)` random signs,
    :math:`H_{d'}` the :math:`\pm 1` Hadamard matrix, :math:`P` a selection of
    :math:`k` of its :math:`d'` columns drawn without replacement, and
    :math:`c = \text{scale}/\sqrt{d_{in}}`. When :math:`k > d'` the columns
    come from :math:`\lceil k/d'\rceil` independent blocks (own signs, own
    selection; every block but the last uses all :math:`d'` columns).

    **Scaling.** For any fixed :math:`x`, :math:`\|x D H_{d'}\|^2 = d'\|x\|^2`
    and each coordinate is kept with probability :math:`k/d'`, so over the
    draw of :math:`P`

    .. math:: E\|xS\|^2 = c^2\,\frac{k}{d'}\, d'\,\|x\|^2 = \text{scale}^2\,\frac{k}{d_{in}}\,\|x\|^2 .

    * ``scale=1`` (the default) follows the library's ``fan_in`` convention
      (:mod:`rpnumpy.random_matrices`): entries :math:`\pm 1/\sqrt{d_{in}}`,
      every column of norm exactly 1, :math:`E\|xS\|^2 = (k/d_{in})\|x\|^2`.
    * ``scale=sqrt(d_in / k)`` gives the Johnson–Lindenstrauss SRHT,
      :math:`S = \sqrt{d'/k}\, D\,(H_{d'}/\sqrt{d'})\,P` with entries
      :math:`\pm 1/\sqrt k` and :math:`E\|xS\|^2 = \|x\|^2`
      (what :func:`rpnumpy.jl.jl_projection_matrix` builds).

    When :math:`d_{in} = d'` and :math:`k \le d'` the columns are exactly
    orthogonal (distinct Hadamard columns), :math:`S^\top S = \text{scale}^2 I`;
    with padding they are orthogonal only over all :math:`d'` rows, of which
    :math:`S` keeps the first :math:`d_{in}`.

    The operator never forms :math:`S`: :meth:`apply` costs one
    :func:`fwht` of the padded batch, :math:`O(d' \log d')` per row (times the
    number of blocks), against :math:`O(d_{in} k)` for a dense product.
    :meth:`to_dense` builds :math:`S` for reference, and
    :func:`rpnumpy.random_matrices.srht_matrix` (kind ``"srht"``) returns
    exactly that matrix.

    Parameters
    ----------
    d_in, k : int
        Input and output dimension.
    seed : int
        :math:`S` is a pure function of ``(d_in, k, seed, scale)``.
    scale : float, default=1.0
        Norm of every column (see above).
    dtype : float32 or float64, default=float64
        Dtype of the batches :meth:`apply` accepts and returns. A float32
        operator uses the rounded float64 signs, like the dense matrices.

    Attributes
    ----------
    d_padded : int
        :math:`d'`.
    n_blocks : int
        Number of independent blocks, :math:`\lceil k/d'\rceil`.
    signs : ndarray of shape (n_blocks, d_in)
        :math:`c` times each block's random signs (the scale is folded in here).
    columns : ndarray of int64, shape (k,)
        Output ``j`` is column ``columns[j] % d_padded`` of the transform of
        block ``columns[j] // d_padded``.

    Notes
    -----
    ``x @ srht`` and ``g @ srht.T`` work as for a matrix (they call
    :meth:`apply` and :meth:`apply_transpose`), so layers can hold either a
    dense matrix or an SRHT. The scratch arrays for the padded batch are
    kept between calls (sized for the largest batch seen), so a training loop
    allocates only the outputs.

    Examples
    --------
    >>> import numpy as np
    >>> s = SRHT(784, 256, seed=0)
    >>> x = np.random.default_rng(1).standard_normal((5, 784))
    >>> bool(np.allclose(s.apply(x), x @ s.to_dense()))
    True
    >>> bool(np.allclose(np.linalg.norm(s.to_dense(), axis=0), 1.0))
    True
    """

    # Make ``ndarray @ SRHT`` defer to SRHT.__rmatmul__ instead of trying to convert the operator to an array.
    __array_ufunc__ = None

    def __init__(self, d_in: int, k: int, seed: int, *, scale: float = 1.0, dtype: Any = np.float64) -> None:
        self.d_in = check_positive_int(d_in, "d_in")
        self.k = check_positive_int(k, "k")
        self.seed = check_seed(seed)
        self.scale = check_positive_float(scale, "scale")
        self.dtype = check_dtype(dtype)
        self.d_padded = next_power_of_two(self.d_in)
        self.n_blocks = -(-self.k // self.d_padded)
        rng = np.random.default_rng(self.seed)
        bits = rng.integers(0, 2, size=(self.n_blocks, self.d_in), dtype=np.int8)
        c = self.scale / math.sqrt(self.d_in)
        self.signs = np.where(bits == 1, c, -c).astype(self.dtype)
        per_block = [min(self.d_padded, self.k - b * self.d_padded) for b in range(self.n_blocks)]
        self.columns = np.concatenate(
            [b * self.d_padded + rng.permutation(self.d_padded)[:count] for b, count in enumerate(per_block)]
        ).astype(np.int64)
        self._scratch_arrays: tuple[np.ndarray, ...] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(d_in, k)``, the shape of :math:`S`."""
        return (self.d_in, self.k)

    @property
    def T(self) -> _SRHTTranspose:  # noqa: N802 (named like ndarray.T)
        """The transpose :math:`S^\\top`, as an operator: ``g @ srht.T`` calls :meth:`apply_transpose`."""
        return _SRHTTranspose(self)

    def _scratch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` rows of the three kept scratch arrays (input, work, result), each (n, n_blocks, d_padded).

        Separate input and result arrays let :func:`fwht` run without a final copy whatever its number
        of factors. They grow with the largest batch seen and are views afterwards.
        """
        if self._scratch_arrays is None or self._scratch_arrays[0].shape[0] < n:
            shape = (n, self.n_blocks, self.d_padded)
            self._scratch_arrays = tuple(np.empty(shape, dtype=self.dtype) for _ in range(3))
        return tuple(array[:n] for array in self._scratch_arrays)

    def _check_batch(self, x: Any, width: int, name: str) -> np.ndarray:
        x = check_float_array(x, name, ndim=2, dtype=self.dtype)
        if x.shape[1] != width:
            raise ValueError(f"{name} must have {width} columns, got shape {x.shape}")
        return x

    def _transform(self, source: np.ndarray, work: np.ndarray, result: np.ndarray) -> np.ndarray:
        """:func:`fwht` of every (row, block) of ``source`` into ``result``, returned as (n, n_blocks * d')."""
        rows = source.shape[0] * self.n_blocks
        fwht(source.reshape(rows, self.d_padded), out=result.reshape(rows, self.d_padded),
             work=work.reshape(rows, self.d_padded))
        return result.reshape(source.shape[0], -1)

    def apply(self, x: np.ndarray) -> np.ndarray:
        r""":math:`xS` for a batch ``x`` of shape ``(n, d_in)``; returns a new ``(n, k)`` array.

        Each block: multiply by the (scaled) signs into the zero-padded
        scratch array, transform with :func:`fwht`, keep the selected columns.
        """
        x = self._check_batch(x, self.d_in, "x")
        padded, work, result = self._scratch(x.shape[0])
        np.multiply(x[:, None, :], self.signs, out=padded[:, :, : self.d_in])
        padded[:, :, self.d_in :] = 0
        return np.take(self._transform(padded, work, result), self.columns, axis=1)

    def apply_transpose(self, g: np.ndarray) -> np.ndarray:
        r""":math:`gS^\top` for a batch ``g`` of shape ``(n, k)``; returns a new ``(n, d_in)`` array.

        :math:`S^\top = c\,P^\top H_{d'} D` (:math:`H` is symmetric): scatter
        ``g`` into the selected columns of a zero array, transform, keep the
        first ``d_in`` columns times the signs, and add up the blocks.
        """
        g = self._check_batch(g, self.k, "g")
        n = g.shape[0]
        scattered, work, result = self._scratch(n)
        flat = scattered.reshape(n, -1)
        flat.fill(0)
        flat[:, self.columns] = g
        self._transform(scattered, work, result)
        blocks = result[:, :, : self.d_in]
        if self.n_blocks == 1:  # the signed block straight into a new array
            return np.multiply(blocks[:, 0, :], self.signs[0])
        blocks *= self.signs
        return blocks.sum(axis=1)

    def to_dense(self) -> np.ndarray:
        r"""The matrix :math:`S`, shape ``(d_in, k)``: :math:`S_{ij} = \text{signs}_{b,i}\,(H_{d'})_{i,\,c_j}`.

        Built entry by entry from :math:`(H_{d'})_{ic} = (-1)^{\operatorname{popcount}(i\&c)}`,
        in float64 and then cast, without any transform.
        """
        blocks, within = np.divmod(self.columns, self.d_padded)
        odd = _odd_popcount(np.bitwise_and.outer(np.arange(self.d_in), within))
        signs64 = self.signs.astype(np.float64)
        matrix = signs64[blocks].T * (1.0 - 2.0 * odd)
        return matrix.astype(self.dtype, copy=False)

    def __rmatmul__(self, x: np.ndarray) -> np.ndarray:
        return self.apply(x)

    def __repr__(self) -> str:
        return f"SRHT(d_in={self.d_in}, k={self.k}, seed={self.seed}, scale={self.scale!r}, dtype={self.dtype.name})"


class _SRHTTranspose:
    """:math:`S^\\top` of an :class:`SRHT`, for ``g @ srht.T``."""

    __array_ufunc__ = None

    def __init__(self, srht: SRHT) -> None:
        self.srht = srht

    @property
    def shape(self) -> tuple[int, int]:
        return (self.srht.k, self.srht.d_in)

    @property
    def T(self) -> SRHT:  # noqa: N802
        return self.srht

    def __rmatmul__(self, g: np.ndarray) -> np.ndarray:
        return self.srht.apply_transpose(g)
