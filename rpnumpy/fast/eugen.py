r"""EUGen inference with the feature products formed in place: :func:`eugen_inference`.

:meth:`EUGen.forward <rpnumpy.layers.EUGen.forward>` computes :math:`X_+ G` (every projection
:math:`P_{ij}` at once), multiplies the factors of each order into a new array :math:`H_i`,
concatenates :math:`F = [1, H_1, \dots, H_k]` and reads it with one product by :math:`A`. For
inference, nothing needs to be kept, so the function built here writes :math:`X_+ G` into a buffer
:math:`B = [1, P_{11}, P_{21}, P_{22}, \dots]` (the blocks in storage order) and multiplies each
:math:`H_i` in place into the columns of its first factor :math:`P_{i1}`. For order
:math:`k \le 2`, :math:`F` is then exactly the first :math:`1 + mk` columns of :math:`B` and one
product reads it; each higher order adds one product. :math:`X_+` and :math:`B` are allocated once
per batch size and thread, and reused. The outputs equal ``forward``'s up to rounding (the tests
check a relative difference below 1e-12 in float64).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..layers.eugen import EUGen

__all__ = ["eugen_inference"]


def eugen_inference(layer: EUGen) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``f(x)`` equal to ``layer.forward(x)``, keeping no cache, holding the parameters of now.

    Safe to call from several threads at once (each thread has its own buffers).
    """
    from ..layers.eugen import _block_offset

    m, k, d, dtype = layer.m, layer.order, layer.d_in, layer.dtype
    G = layer.G.copy() if layer.train_G else layer.G
    A = layer.params["A"].copy()
    b = layer.params["b"].copy() if layer.bias else None
    first = [1 + _block_offset(i, 1, m) for i in range(1, k + 1)]  # the column of H_i (its P_i1) in B
    n_direct = 1 + min(k, 2) * m  # [1, H_1, H_2] are adjacent in B
    per_thread = threading.local()

    def buffers(n: int) -> tuple[np.ndarray, np.ndarray]:
        if getattr(per_thread, "n", None) != n:
            x_plus = np.empty((n, layer.width_plus), dtype=dtype)
            x_plus[:, d] = 1
            B = np.empty((n, 1 + G.shape[1]), dtype=dtype)
            B[:, 0] = 1
            per_thread.n, per_thread.arrays = n, (x_plus, B)
        return per_thread.arrays

    def run(x: np.ndarray) -> np.ndarray:
        layer._check_input(x)
        x_plus, B = buffers(x.shape[0])
        x_plus[:, :d] = x
        if layer.norm_term:
            x_plus[:, d + 1] = np.sqrt(np.einsum("ij,ij->i", x, x))
        np.matmul(x_plus, G, out=B[:, 1:])
        for i in range(2, k + 1):
            H = B[:, first[i - 1]: first[i - 1] + m]
            for j in range(1, i):
                H *= B[:, first[i - 1] + j * m: first[i - 1] + (j + 1) * m]
        y = B[:, :n_direct] @ A[:n_direct]
        for i in range(3, k + 1):
            y += B[:, first[i - 1]: first[i - 1] + m] @ A[1 + (i - 1) * m: 1 + i * m]
        if b is not None:
            y += b
        return y

    return run
