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
row. The Kronecker structure does better: :func:`fwht` is the textbook radix-2
transform, :math:`\log_2 d` passes of additions and subtractions
(:math:`d \log_2 d` operations per row). :func:`rpnumpy.fast.fwht_blocked`
computes the same numbers in fewer passes over memory by grouping the
:math:`H_2` factors into blocks applied by small matrix products; the SRHT
below uses it.

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

import math
import threading
from typing import Any

import numpy as np

from ._validation import check_dtype, check_float_array, check_positive_float, check_positive_int, check_seed

__all__ = ["SRHT", "fwht", "hadamard_matrix", "next_power_of_two"]


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


def fwht(x: np.ndarray) -> np.ndarray:
    r"""Fast Walsh–Hadamard transform along the last axis, :math:`y = x H_d` (unnormalised): the radix-2 form.

    :math:`H_d = H_2 \otimes H_{d/2}` splits every row into two halves :math:`(a, b)` and maps
    them to :math:`(a H_{d/2} + b H_{d/2},\ a H_{d/2} - b H_{d/2})`. Unrolled, the transform is
    :math:`\log_2 d` passes of *butterflies*: in pass :math:`s` (:math:`h = 2^s`), every pair of
    entries :math:`h` apart inside a block of :math:`2h` becomes :math:`(a + b, a - b)`.
    :math:`d \log_2 d` additions per row, against :math:`d^2` multiply-adds for the product with
    :math:`H_d`.

    :math:`H_d` is symmetric, so this is also :math:`x H_d^\top`; divide by :math:`\sqrt d` for the
    orthogonal transform, and apply twice to get :math:`d\,x` back. :func:`rpnumpy.fast.fwht_blocked`
    computes the same transform with fewer passes over memory (what :class:`SRHT` uses).

    Parameters
    ----------
    x : ndarray of shape (..., d), float32 or float64
        ``d`` must be a power of two (pad with zeros first). Not modified.

    Returns
    -------
    ndarray
        A new array of ``x``'s shape and dtype.

    Examples
    --------
    >>> fwht(np.array([1.0, 0.0, 0.0, 0.0]))  # the first row of H_4
    array([1., 1., 1., 1.])
    >>> fwht(np.array([0.0, 1.0, 0.0, 0.0]))  # the second row
    array([ 1., -1.,  1., -1.])
    """
    x = check_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least one axis, got a 0-d array")
    d = _check_power_of_two(x.shape[-1], "x.shape[-1]")
    y = x.reshape(-1, d).copy()
    h = 1
    while h < d:
        pairs = y.reshape(-1, d // (2 * h), 2, h)  # pairs[:, block, 0] and pairs[:, block, 1] are h apart
        a, b = pairs[:, :, 0, :].copy(), pairs[:, :, 1, :]
        pairs[:, :, 0, :] += b  # a + b
        pairs[:, :, 1, :] = a - b
        h *= 2
    return y.reshape(x.shape)


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
    The operator is applied by its methods, :meth:`apply` (:math:`xS`) and
    :meth:`apply_transpose` (:math:`gS^\top`); :meth:`to_dense` gives the matrix
    they equal. The scratch arrays for the padded batch are kept between calls
    (one set per thread, sized for the largest batch seen), so a training loop
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
        self._per_thread = threading.local()  # each thread's scratch arrays

    @property
    def shape(self) -> tuple[int, int]:
        """``(d_in, k)``, the shape of :math:`S`."""
        return (self.d_in, self.k)

    def _scratch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` rows of the three kept scratch arrays (input, work, result), each (n, n_blocks, d_padded).

        Separate input and result arrays let the blocked transform run without a final copy whatever its
        number of factors. They grow with the largest batch seen and are views afterwards.
        """
        arrays = getattr(self._per_thread, "arrays", None)
        if arrays is None or arrays[0].shape[0] < n:
            shape = (n, self.n_blocks, self.d_padded)
            arrays = self._per_thread.arrays = tuple(np.empty(shape, dtype=self.dtype) for _ in range(3))
        return tuple(array[:n] for array in arrays)

    def _check_batch(self, x: Any, width: int, name: str) -> np.ndarray:
        x = check_float_array(x, name, ndim=2, dtype=self.dtype)
        if x.shape[1] != width:
            raise ValueError(f"{name} must have {width} columns, got shape {x.shape}")
        return x

    def _transform(self, source: np.ndarray, work: np.ndarray, result: np.ndarray) -> np.ndarray:
        """The transform of every (row, block) of ``source`` into ``result``, returned as (n, n_blocks * d')."""
        from .fast.hadamard import fwht_blocked  # the blocked transform imports this module's helpers

        rows = source.shape[0] * self.n_blocks
        fwht_blocked(source.reshape(rows, self.d_padded), out=result.reshape(rows, self.d_padded),
                     work=work.reshape(rows, self.d_padded))
        return result.reshape(source.shape[0], self.n_blocks * self.d_padded)

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
        flat = scattered.reshape(n, self.n_blocks * self.d_padded)
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

    def __repr__(self) -> str:
        return f"SRHT(d_in={self.d_in}, k={self.k}, seed={self.seed}, scale={self.scale!r}, dtype={self.dtype.name})"
