"""Closed-form fits of one layer to a teacher's outputs, the data-free EUGen weights, and linear merging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import (
    check_float_array,
    check_positive_float,
    check_positive_int,
)
from ..closed_form import RidgeAccumulator, ridge_l2_from_trace
from ..layers import ACTIVATIONS, Dense, Layer, LowRank, PolynomialActivation
from ..layers.eugen import EUGen
from ..layers.snnk import SNNK

__all__ = ["BATCH_SIZE", "fit_layer", "merge_linear", "set_data_free"]

#: Default rows per mini-batch when features are accumulated.
BATCH_SIZE = 2048


_ACTIVATION_TYPES = (*ACTIVATIONS.values(), PolynomialActivation)


def _activation_function(layer: Layer) -> Callable[[np.ndarray], np.ndarray]:
    """The scalar function of an activation layer, for polynomial fitting (float64, no cache)."""
    run = layer.inference_function()  # activations have no dtype of their own: float64 stays float64
    return lambda s: run(np.asarray(s, dtype=np.float64))



def _readout(layer: Layer) -> tuple[Callable[[np.ndarray], np.ndarray], str, int]:
    """(feature map, name of the read-out matrix, first row of it that the features fill)."""
    if isinstance(layer, EUGen):
        return layer.features, "A", 1  # row 0 multiplies the constant feature: the intercept's job
    if isinstance(layer, SNNK):
        return layer.tower.input_features, "V", 0
    if isinstance(layer, Dense):
        return (lambda x: x), "W", 0
    raise TypeError(f"layer must be an EUGen, SNNK, Dense or LowRank layer, got {type(layer).__name__}")


def _ridge_sums(
    features: Callable[[np.ndarray], np.ndarray], width: int, x: np.ndarray, y: np.ndarray, batch_size: int
) -> RidgeAccumulator:
    """The ridge sums of ``(features(x), y)`` (:class:`RidgeAccumulator`), streamed ``batch_size`` rows at a time."""
    acc = RidgeAccumulator(width, y.shape[1])
    for lo in range(0, x.shape[0], batch_size):
        acc.update(features(x[lo:lo + batch_size]), y[lo:lo + batch_size])
    return acc


def fit_layer(
    layer: Layer, x: np.ndarray, y: np.ndarray, *, l2_relative: float = 1e-6, batch_size: int = BATCH_SIZE
) -> float:
    r"""Fit a layer's trainable read-out to targets in closed form (ridge least squares), in place.

    * :class:`~rpnumpy.layers.eugen.EUGen`: :math:`A` (rows 1.. ; row 0, the constant
      feature's, is set to 0 when the layer has a bias ``b``, which takes the intercept, and to
      the intercept otherwise) and ``b``.
    * :class:`~rpnumpy.layers.snnk.SNNK`: ``V`` and ``b``.
    * :class:`~rpnumpy.layers.Dense`: ``W`` and ``b`` (plain ridge regression).
    * :class:`~rpnumpy.layers.LowRank`: the reduced-rank ridge regression (ours, the
      classical construction): with the full ridge solution :math:`B_\lambda`, take the top
      :math:`r` eigenvectors :math:`V_r` of :math:`B_\lambda^\top (C + \lambda I) B_\lambda`
      (:math:`C` the centred Gram matrix of the inputs); then :math:`U = B_\lambda V_r`,
      :math:`V = V_r`. This is the exact minimiser of the ridge objective under
      :math:`\operatorname{rank} \le r` (Mukherjee & Zhu 2011: reduced-rank regression on the
      data augmented by :math:`\sqrt\lambda I`).

    :math:`\lambda = ` ``l2_relative`` :math:`\cdot \operatorname{tr}(Z^\top Z)/D`, with :math:`Z`
    the non-constant features; the intercept is not penalised. Features are computed and
    accumulated ``batch_size`` rows at a time.

    Parameters
    ----------
    layer : EUGen, SNNK, Dense or LowRank
    x : ndarray of shape (N, d_in)
        Inputs, in the layer's dtype.
    y : ndarray of shape (N, d_out)
        Targets.
    l2_relative : float, default=1e-6
        :math:`\ge 0`.
    batch_size : int, default=2048

    Returns
    -------
    float
        The absolute :math:`\lambda` used.
    """
    if not isinstance(layer, (EUGen, SNNK, Dense, LowRank)):
        raise TypeError(f"layer must be an EUGen, SNNK, Dense or LowRank layer, got {type(layer).__name__}")
    x = check_float_array(x, "x", ndim=2, dtype=layer.dtype)
    y = check_float_array(y, "y", ndim=2)
    if x.shape[1] != layer.d_in:
        raise ValueError(f"x has {x.shape[1]} features but the layer expects d_in={layer.d_in}")
    if y.shape != (x.shape[0], layer.d_out):
        raise ValueError(f"y must have shape ({x.shape[0]}, d_out={layer.d_out}) to match x, got {y.shape}")
    l2_relative = check_positive_float(l2_relative, "l2_relative", allow_zero=True)
    batch_size = check_positive_int(batch_size, "batch_size")

    if isinstance(layer, LowRank):
        return _fit_low_rank(layer, x, y, l2_relative, batch_size)
    features, name, first = _readout(layer)
    width = layer.params[name].shape[0] - first
    acc = _ridge_sums(lambda batch: features(batch)[:, first:], width, x, y, batch_size)
    l2 = ridge_l2_from_trace(acc, l2_relative)
    coef, intercept = acc.solve(l2)
    readout = layer.params[name]
    np.copyto(readout[first:], coef, casting="unsafe")
    if "b" in layer.params:
        np.copyto(layer.params["b"], intercept, casting="unsafe")
        if first:
            readout[:first] = 0
    else:  # an EUGen without bias: the constant feature's row carries the intercept
        np.copyto(readout[0], intercept, casting="unsafe")
    return l2


def _fit_low_rank(layer: LowRank, x: np.ndarray, y: np.ndarray, l2_relative: float, batch_size: int) -> float:
    acc = _ridge_sums(lambda batch: batch, layer.d_in, x, y, batch_size)
    l2 = ridge_l2_from_trace(acc, l2_relative)
    B, intercept = acc.solve(l2)
    d, n = layer.d_in, acc.n_samples
    x_mean, y_mean = acc.gram[d, :d] / n, acc.moment[d] / n
    centred_gram = acc.gram[:d, :d] - n * np.outer(x_mean, x_mean)
    centred_gram[np.arange(d), np.arange(d)] += l2
    _, vectors = np.linalg.eigh(B.T @ centred_gram @ B)  # ascending eigenvalues
    V_r = vectors[:, ::-1][:, : layer.rank]
    U = B @ V_r
    np.copyto(layer.params["U"], U, casting="unsafe")
    np.copyto(layer.params["V"], V_r, casting="unsafe")
    np.copyto(layer.params["b"], y_mean - x_mean @ U @ V_r.T, casting="unsafe")
    return l2


def set_data_free(layer: EUGen, dense: Dense, coefficients: Any, linear: Dense | None = None) -> None:
    r"""The data-free EUGen read-out of Theorem 3.1: :math:`A^\top` row :math:`r = g(w_r)`, ``b = 0`` (or merged).

    ``layer`` then outputs an unbiased estimate (over the draw of :math:`G`) of
    :math:`p(x W + b_{dense})` with :math:`p(s) = \sum_i a_i s^i`.

    With ``linear`` (:math:`z = hV + c`), the merged read-out instead: :math:`A = g^\top V`,
    ``b = c`` (or :math:`c` added to the constant feature's row of :math:`A` when the layer has
    no bias), an estimate of :math:`p(x W + b_{dense})V + c`. This is :func:`merge_linear` of the
    unmerged data-free layer, without building that layer: the weight side :math:`g` does not
    depend on the output width, so the :math:`G_{ij}` of ``layer`` serve as they are.

    Parameters
    ----------
    layer : EUGen
        Same ``d_in`` as ``dense`` and the ``d_out`` of ``dense`` (of ``linear`` if given),
        order :math:`\ge` the polynomial's degree.
    dense : Dense
    coefficients : sequence of float
        :math:`a_0..a_k`.
    linear : Dense, optional
        The linear layer after the activation, merged into the read-out; ``d_in = dense.d_out``.
    """
    if not isinstance(layer, EUGen):
        raise TypeError(f"layer must be an EUGen layer for the data-free variant, got {type(layer).__name__}")
    if not isinstance(dense, Dense):
        raise TypeError(f"dense must be a Dense layer, got {type(dense).__name__}")
    if linear is not None and not isinstance(linear, Dense):
        raise TypeError(f"linear must be None or a Dense layer, got {type(linear).__name__}")
    if linear is not None and linear.d_in != dense.d_out:
        raise ValueError(f"dense has d_out={dense.d_out} but linear expects d_in={linear.d_in}")
    d_out = dense.d_out if linear is None else linear.d_out
    if (layer.d_in, layer.d_out) != (dense.d_in, d_out):
        block = "dense" if linear is None else "dense + linear"
        raise ValueError(f"layer is {layer.d_in}->{layer.d_out} but {block} is {dense.d_in}->{d_out}")
    w = np.ascontiguousarray(dense.params["W"].T, dtype=layer.dtype)
    g = layer.weight_features(w, dense.params["b"], coefficients)
    A = layer.params["A"]
    if linear is None:
        np.copyto(A, g.T, casting="unsafe")
        if layer.bias:
            layer.params["b"].fill(0)
        return
    np.copyto(A, g.T @ linear.params["W"].astype(layer.dtype, copy=False), casting="unsafe")
    if layer.bias:
        np.copyto(layer.params["b"], linear.params["b"], casting="unsafe")
    else:  # the constant feature's row carries the bias, as in merge_linear
        A[0] += linear.params["b"]


def merge_linear(layer: Layer, dense: Dense) -> Layer:
    r"""One layer computing ``dense.forward(layer.forward(x))``: the paper's linear-layer merging.

    For a read-out layer :math:`y = F(x) A + b` followed by :math:`z = yV + c`,
    :math:`z = F(x)(AV) + (bV + c)`: the new layer stores :math:`A' = AV` (row convention; the
    paper's :math:`VA`) and :math:`b' = bV + c`, and has ``d_out = dense.d_out``. Its random
    matrices are the same (same seed). Works for EUGen (:math:`A`), SNNK (:math:`V`), Dense
    (:math:`W`) and LowRank (:math:`U V^\top W`: :math:`V' = W^\top V`, rank unchanged).

    Returns
    -------
    Layer
        A new layer; ``layer`` and ``dense`` are not modified.
    """
    if not isinstance(dense, Dense):
        raise TypeError(f"dense must be a Dense layer, got {type(dense).__name__}")
    if not isinstance(layer, (EUGen, SNNK, Dense, LowRank)):
        raise TypeError(f"layer must be an EUGen, SNNK, Dense or LowRank layer, got {type(layer).__name__}")
    if layer.d_out != dense.d_in:
        raise ValueError(f"layer has d_out={layer.d_out} but dense expects d_in={dense.d_in}")
    if layer.dtype != dense.dtype:
        raise TypeError(f"layer and dense must share one dtype, got {layer.dtype} and {dense.dtype}")
    V, c = dense.params["W"], dense.params["b"]
    config = layer.get_config()
    config["d_out"] = dense.d_out
    if isinstance(layer, LowRank):
        config["rank"] = min(layer.rank, dense.d_out)
    merged = type(layer).from_config(config)
    if isinstance(layer, LowRank) and layer.rank <= dense.d_out:
        merged.params["U"][...] = layer.params["U"]
        merged.params["V"][...] = V.T @ layer.params["V"]
    elif isinstance(layer, LowRank):  # U (Vᵀ W) has rank <= d_out < r: refactor it as Q R
        Q, R = np.linalg.qr(layer.params["U"] @ (layer.params["V"].T @ V))
        merged.params["U"][...], merged.params["V"][...] = Q, R.T
    else:
        name = _readout(layer)[1]
        merged.params[name][...] = layer.params[name] @ V
    bias = layer.params["b"] @ V + c if "b" in layer.params else c
    if "b" in merged.params:
        merged.params["b"][...] = bias
    else:  # an EUGen without bias: the constant feature's row carries it
        merged.params["A"][0] += bias
    return merged


