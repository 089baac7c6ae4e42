r"""Layer-wise knowledge transfer without back-propagation: a trained MLP becomes an EUGen network.

The EUGen paper (Kim et al., NeurIPS 2025, §5 of the digest) distils a pre-trained network
into EUGen layers one layer at a time. With the random matrices :math:`G_{ij}` fixed, an
EUGen layer :math:`y = F(x) A + b` is linear in its trainable read-out :math:`(A, b)`, so
fitting it to the teacher's outputs is a ridge least-squares problem with a closed-form
solution: no gradient is ever computed.

Recipe (what :func:`transfer` does)
-----------------------------------
Walk the teacher, a :class:`~rpnumpy.layers.Sequential` of :class:`~rpnumpy.layers.Dense`
layers, element-wise activations and parameter-free layers. Every ``Dense`` followed by an
activation :math:`\sigma` is a *hidden pair* :math:`x \mapsto \sigma(xW + b)`, and is replaced,
first to last, by a new layer built by ``make_layer(d_in, d_out, dtype)``:

1. **Inputs.** :math:`X` are the calibration inputs as they arrive at the pair, either through
   the *student's* already-converted layers (``inputs="student"``, the default: each layer
   learns to correct the errors of the layers before it) or through the *teacher's*
   (``inputs="teacher"``, for comparison: every layer is fitted in isolation).
2. **Targets.** :math:`Y` are the teacher's outputs of the pair, :math:`\sigma(X_T W + b)`,
   computed from the teacher's own inputs :math:`X_T` (the student should reproduce the
   teacher, not the teacher's response to the student's errors).
3. **Closed form.** With features :math:`Z = F(X)` minus the constant column (the intercept
   replaces it), the read-out minimises

   .. math:: \|Z A + \mathbf 1 b^\top - Y\|_F^2 + \lambda \|A\|_F^2 ,\qquad
             \lambda = \lambda_{rel}\cdot\operatorname{tr}(Z^\top Z)/D ,

   the intercept :math:`b` unpenalised. :math:`Z^\top Z` and :math:`Z^\top Y` are summed over
   mini-batches of ``batch_size`` rows in float64 (:class:`~rpnumpy.closed_form.RidgeAccumulator`),
   so the :math:`N\times M` feature matrix is never stored (memory: :math:`O(M^2 + Mt)` for the
   sums, plus the student's and the teacher's activations at the current depth), and the system
   is solved by Cholesky. The relative :math:`\lambda_{rel}` (default :math:`10^{-6}`) is ours: the digest
   suggests :math:`10^{-6}\ldots10^{-3}` of :math:`\operatorname{tr}(F^\top F)/M`.
4. **Linear-layer merging** (``merge=True``, the paper's §4.3). When the activation is followed
   by a linear layer :math:`y = hV + c` (the next ``Dense``), the pair *and* that layer are
   replaced by one layer fitted directly against the merged block's output
   :math:`\sigma(X_T W + b)V + c`. Its read-out is :math:`A' = AV` (row convention; the
   paper's :math:`VA`), so the wide hidden width disappears: the replaced block's
   :math:`d\,h + h + h\,t + t` parameters become :math:`M t + t` (:math:`M = 1 + mk` for
   EUGen) instead of :math:`M h + h + h t + t` without merging. Because the ridge solution is
   linear in the targets (and :math:`\lambda` depends only on :math:`Z`), fitting against the
   merged output gives exactly :func:`merge_linear` of the unmerged fit.
5. **The data-free variant** (``method="data_free"``, EUGen only; Theorem 3.1). No regression:
   row :math:`r` of :math:`A^\top` is the weight-side feature :math:`g(w_r)` of the teacher's
   weights, :meth:`EUGen.weight_features <rpnumpy.layers.eugen.EUGen.weight_features>`, for a
   degree-:math:`k` polynomial :math:`p \approx \sigma` fitted by
   :func:`~rpnumpy.polyfit.fit_polynomial` on :math:`[-R, R]`, :math:`R` the
   ``interval_quantile`` quantile of :math:`|XW + b|` over the calibration inputs. The output
   is then an unbiased (but noisy) estimate of :math:`p(XW + b)`; calibration data set only
   the interval.

Layers that are not replaced are copied (the output layer, say); with ``refit_dense=True`` a
copied ``Dense`` is itself re-fitted in closed form to the teacher's output from the student's
inputs (ours: the same least squares, applied to the read-out layer).

The same machinery fits other layers whose output is linear in their trainable arrays, for
comparisons at matched parameter counts: :class:`~rpnumpy.layers.snnk.SNNK` (its fixed tower
:math:`\Phi(x)` plays the role of :math:`F(x)`) and :class:`~rpnumpy.layers.LowRank` (the
closed-form *reduced-rank* ridge regression, see :func:`fit_layer`).

Examples
--------
>>> import numpy as np
>>> from rpnumpy.layers import Dense, ReLU, Sequential
>>> teacher = Sequential(Dense(6, 16, rng=0), ReLU(), Dense(16, 3, rng=1))
>>> x = np.random.default_rng(0).standard_normal((500, 6))
>>> student, report = transfer_to_eugen(teacher, x, m=8, order=2, merge=True, rng=0)
>>> [type(layer).__name__ for layer in student.layers]
['EUGen']
>>> report.student_params, report.teacher_params
(54, 163)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._deprecation import moved_attribute, renamed_keywords
from ._validation import (
    as_generator,
    check_float_array,
    check_positive_float,
    check_positive_int,
    check_probability,
    seed_from,
)
from .closed_form import RidgeAccumulator, ridge_l2_from_trace
from .features import FEATURE_DRAWS, FEATURE_MAPS
from .layers import ACTIVATIONS, Dense, Layer, LowRank, PolynomialActivation, Sequential
from .layers.eugen import EUGEN_DRAWS, EUGen
from .layers.snnk import SNNK
from .polyfit import POLYFIT_METHODS, fit_polynomial, interval_from_preactivations
from .training import predict

__all__ = [
    "EUGenFactory",
    "LayerTransfer",
    "LowRankFactory",
    "PolynomialActivation",
    "SNNKFactory",
    "TransferReport",
    "fit_layer",
    "merge_linear",
    "set_data_free",
    "transfer",
    "transfer_to_eugen",
]

#: Default rows per mini-batch when features are accumulated.
BATCH_SIZE = 2048


_ACTIVATION_TYPES = (*ACTIVATIONS.values(), PolynomialActivation)


def _activation_function(layer: Layer) -> Callable[[np.ndarray], np.ndarray]:
    """The scalar function of an activation layer, for polynomial fitting (float64, no cache)."""
    run = layer.inference_function()  # activations have no dtype of their own: float64 stays float64
    return lambda s: run(np.asarray(s, dtype=np.float64))


# -- factories of student layers ----------------------------------------------------------------------
class EUGenFactory:
    """Builds the EUGen layers of a student: ``factory(d_in, d_out, dtype) -> EUGen``.

    Each call draws a fresh layer seed from ``rng``, so an int ``rng`` makes the whole student
    reproducible and two factories with the same int draw the same :math:`G_{ij}`.

    Parameters
    ----------
    m : int
        Features per order.
    order : int, default=2
        :math:`k`; the layer has :math:`M = 1 + mk` features.
    norm_term : bool, default=True
    draws : {'iid', 'rademacher', 'orthogonal'}, default='iid'
    rng : None, int or Generator
    """

    def __init__(self, m: int, order: int = 2, *, norm_term: bool = True, draws: str = "iid", rng: Any = None) -> None:
        self.m = check_positive_int(m, "m")
        self.order = check_positive_int(order, "order")
        if not isinstance(norm_term, bool):
            raise TypeError(f"norm_term must be a bool, got {norm_term!r}")
        if draws not in EUGEN_DRAWS:
            raise ValueError(f"draws must be one of {list(EUGEN_DRAWS)}, got {draws!r}")
        self.norm_term, self.draws = norm_term, draws
        self._rng = as_generator(rng)

    def __call__(self, d_in: int, d_out: int, dtype: Any) -> EUGen:
        return EUGen(d_in, d_out, self.m, self.order, norm_term=self.norm_term, draws=self.draws,
                     rng=seed_from(self._rng), dtype=dtype)

    def __repr__(self) -> str:
        return f"EUGen(m={self.m}, k={self.order}, norm_term={self.norm_term}, draws={self.draws!r})"


class SNNKFactory:
    """Builds SNNK layers (``activation`` tower, :math:`D` features) for a student; see :class:`EUGenFactory`.

    Parameters
    ----------
    n_directions : int
        :math:`m`, the random directions of each layer's tower (``D = m`` for the relu tower).
    activation : str, default='relu'
    draws : {'iid', 'orthogonal'}, default='iid'
    rng : None, int or Generator
    m
        Deprecated spelling of ``n_directions``.
    """

    def __init__(
        self,
        n_directions: int | None = None,
        *,
        activation: str = "relu",
        draws: str = "iid",
        rng: Any = None,
        **renamed: Any,
    ) -> None:
        n_directions = renamed_keywords("rpnumpy.transfer.SNNKFactory", renamed,
                                        {"m": ("n_directions", n_directions, None)})["n_directions"]
        if n_directions is None:
            raise TypeError("SNNKFactory needs n_directions, the number of random directions of each tower")
        self.n_directions = check_positive_int(n_directions, "n_directions")
        if activation not in FEATURE_MAPS:
            raise ValueError(f"activation must be one of {list(FEATURE_MAPS)}, got {activation!r}")
        if draws not in FEATURE_DRAWS:
            raise ValueError(f"draws must be one of {list(FEATURE_DRAWS)}, got {draws!r}")
        self.activation, self.draws = activation, draws
        self._rng = as_generator(rng)

    def __call__(self, d_in: int, d_out: int, dtype: Any) -> SNNK:
        return SNNK(d_in, d_out, self.n_directions, activation=self.activation, draws=self.draws,
                    rng=seed_from(self._rng), dtype=dtype)

    m = moved_attribute("rpnumpy.transfer.SNNKFactory", "m", "n_directions")

    def __repr__(self) -> str:
        return f"SNNK(n_directions={self.n_directions}, activation={self.activation!r})"


class LowRankFactory:
    """Builds :class:`~rpnumpy.layers.LowRank` layers of rank ``rank`` (a linear layer: no activation)."""

    def __init__(self, rank: int) -> None:
        self.rank = check_positive_int(rank, "rank")

    def __call__(self, d_in: int, d_out: int, dtype: Any) -> LowRank:
        return LowRank(d_in, d_out, self.rank, rng=0, dtype=dtype)

    def __repr__(self) -> str:
        return f"LowRank(rank={self.rank})"


# -- closed-form fits of one layer ----------------------------------------------------------------------
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


# -- the report ------------------------------------------------------------------------------------------
@dataclass
class LayerTransfer:
    """What happened to one group of teacher layers.

    Attributes
    ----------
    teacher_layers : tuple of int
        Indices of the teacher layers this student layer replaces (or copies).
    action : str
        ``"replaced"``, ``"merged"`` (replaced together with the next linear layer),
        ``"refit"`` (a Dense re-fitted in closed form) or ``"copied"``.
    description : str
        E.g. ``"Dense(784->512) + ReLU + Dense(512->256) -> EUGen(784->256, M=513)"``.
    fit_mse : float
        Mean squared error, on the calibration set, of the layer's output for the inputs it
        was fitted on (student's or teacher's) against the teacher's output.
    chain_mse : float
        The same for the student's own chain: student network so far against teacher network so
        far (equals ``fit_mse`` with student inputs).
    target_variance : float
        Mean variance of the teacher's outputs (to read the MSEs as a fraction).
    l2 : float or None
        The absolute ridge penalty (None for copies and the data-free variant).
    interval : float or None
        :math:`R` of the polynomial fit (data-free variant only).
    coefficients : tuple of float or None
        The fitted polynomial :math:`a_0..a_k` of the activation on :math:`[-R, R]`
        (:func:`~rpnumpy.polyfit.fit_polynomial`; data-free variant only).
    seconds : float
        Wall time of this step (features, accumulation, solve and the forward passes).
    teacher_params, student_params : int
        Trainable parameters of the replaced teacher layers and of the student layer.
    """

    teacher_layers: tuple[int, ...]
    action: str
    description: str
    fit_mse: float
    chain_mse: float
    target_variance: float
    l2: float | None
    interval: float | None
    coefficients: tuple[float, ...] | None
    seconds: float
    teacher_params: int
    student_params: int


@dataclass
class TransferReport:
    """Summary of a :func:`transfer` run: one :class:`LayerTransfer` per student layer.

    ``seconds`` is the wall time of the whole transfer, teacher forward passes included.
    ``student_fixed`` counts the fixed random values (buffers, rebuilt from seeds).
    """

    method: str
    inputs: str
    merge: bool
    n_calibration: int
    layers: list[LayerTransfer] = field(default_factory=list)
    seconds: float = 0.0
    teacher_params: int = 0
    student_params: int = 0
    student_fixed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {key: ([vars(layer) | {"teacher_layers": list(layer.teacher_layers),
                                      "coefficients": None if layer.coefficients is None else list(layer.coefficients)}
                       for layer in value]
                      if key == "layers" else value) for key, value in vars(self).items()}

    def __str__(self) -> str:
        rows = [f"transfer ({self.method}, {self.inputs} inputs{', merged' if self.merge else ''}, "
                f"N={self.n_calibration}): {self.seconds:.2f} s, trainable {self.teacher_params:,} -> "
                f"{self.student_params:,}"]
        for layer in self.layers:
            rows.append(f"  {layer.action:>8}  {layer.description}: fit MSE {layer.fit_mse:.3g}, chain MSE "
                        f"{layer.chain_mse:.3g} (target variance {layer.target_variance:.3g}), {layer.seconds:.2f} s")
        return "\n".join(rows)


# -- the transfer ------------------------------------------------------------------------------------------
def _name(layer: Layer) -> str:
    if isinstance(layer, Dense):
        return f"Dense({layer.d_in}->{layer.d_out})"
    if isinstance(layer, LowRank):
        return f"{type(layer).__name__}({layer.d_in}->{layer.d_out}, rank={layer.rank})"
    if isinstance(layer, (EUGen, SNNK)):
        size = "M" if isinstance(layer, EUGen) else "D"
        return f"{type(layer).__name__}({layer.d_in}->{layer.d_out}, {size}={layer.n_features})"
    return type(layer).__name__


def _plan(teacher: Sequential, merge: bool) -> list[tuple[str, tuple[int, ...]]]:
    """Split the teacher into steps: ("replace", (i, i+1)), ("merge", (i, i+1, i+2)) or ("copy", (i,))."""
    layers, steps, i = teacher.layers, [], 0
    while i < len(layers):
        pair = isinstance(layers[i], Dense) and i + 1 < len(layers) and isinstance(layers[i + 1], _ACTIVATION_TYPES)
        if pair and merge and i + 2 < len(layers) and isinstance(layers[i + 2], Dense):
            steps.append(("merge", (i, i + 1, i + 2)))
            i += 3
        elif pair:
            steps.append(("replace", (i, i + 1)))
            i += 2
        else:
            steps.append(("copy", (i,)))
            i += 1
    return steps


def _check_teacher(teacher: Any) -> None:
    if not isinstance(teacher, Sequential):
        raise TypeError(f"teacher must be a Sequential, got {type(teacher).__name__}")
    for i, layer in enumerate(teacher.layers):
        if not isinstance(layer, (Dense, *_ACTIVATION_TYPES)) and (layer.params or layer.buffers):
            raise ValueError(f"teacher layer {i} is {type(layer).__name__}: transfer handles Dense layers, "
                             f"element-wise activations and parameter-free layers only")


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    difference = np.subtract(a, b, dtype=np.float64)
    return float(np.vdot(difference, difference) / difference.size)


def _run(layers: list[Layer], x: np.ndarray, batch_size: int) -> np.ndarray:
    """``x`` through ``layers`` in batches, by their inference functions (no cache is touched)."""
    for layer in layers:
        x = predict(layer, x, batch_size=batch_size)
    return x


def transfer(
    teacher: Sequential,
    x_calib: np.ndarray,
    make_layer: Callable[[int, int, Any], Layer],
    *,
    inputs: str = "student",
    method: str = "ridge",
    merge: bool = False,
    refit_dense: bool = False,
    l2_relative: float = 1e-6,
    batch_size: int = BATCH_SIZE,
    interval_quantile: float = 0.999,
    poly_method: str = "chebyshev",
) -> tuple[Sequential, TransferReport]:
    r"""Convert a trained MLP layer by layer, in closed form: no back-propagation (module docstring).

    Parameters
    ----------
    teacher : Sequential
        Dense layers, element-wise activations (:data:`~rpnumpy.layers.ACTIVATIONS` or
        :class:`PolynomialActivation`) and parameter-free layers. It is not modified (its layers
        run only their inference functions).
    x_calib : ndarray of shape (N, d_in)
        Calibration inputs in the teacher's dtype (training images, say; labels are not used).
    make_layer : callable ``(d_in, d_out, dtype) -> Layer``
        Builds each replacement: :class:`EUGenFactory`, :class:`SNNKFactory` or
        :class:`LowRankFactory`.
    inputs : {'student', 'teacher'}, default='student'
        What each replacement is fitted on: the student's own upstream outputs or the teacher's.
    method : {'ridge', 'data_free'}, default='ridge'
        ``'data_free'`` (EUGen only) uses the teacher's weights and a polynomial fit of the
        activation instead of a regression.
    merge : bool, default=False
        Merge a following Dense layer into the replacement (fit against the block output).
    refit_dense : bool, default=False
        Re-fit the Dense layers that are copied (the output layer) in closed form on the
        student's inputs (with ``method='ridge'``; ours).
    l2_relative : float, default=1e-6
        :math:`\lambda / (\operatorname{tr}(Z^\top Z)/D)`.
    batch_size : int, default=2048
        Rows per mini-batch for forward passes and Gram accumulation.
    interval_quantile : float, default=0.999
        Data-free variant: :math:`R` is this quantile of the calibration :math:`|xW + b|`.
    poly_method : {'chebyshev', 'least_squares', 'bernstein'}, default='chebyshev'
        Data-free variant: how the activation is fitted (:func:`~rpnumpy.polyfit.fit_polynomial`).

    Returns
    -------
    student : Sequential
        New layers (copies of the teacher's where not replaced), in the teacher's dtype.
    report : TransferReport
    """
    _check_teacher(teacher)
    dtype = teacher.dtype
    x_calib = check_float_array(x_calib, "x_calib", ndim=2, dtype=dtype)
    first = next((layer for layer in teacher.layers if isinstance(layer, Dense)), None)
    if first is not None and x_calib.shape[1] != first.d_in:
        raise ValueError(f"x_calib has {x_calib.shape[1]} features but the teacher's first Dense expects "
                         f"d_in={first.d_in}")
    if x_calib.shape[0] < 2:
        raise ValueError(f"x_calib must hold at least 2 samples, got {x_calib.shape[0]}")
    if not callable(make_layer):
        raise TypeError(f"make_layer must be callable (d_in, d_out, dtype) -> Layer, got {type(make_layer).__name__}")
    if inputs not in ("student", "teacher"):
        raise ValueError(f"inputs must be 'student' or 'teacher', got {inputs!r}")
    if method not in ("ridge", "data_free"):
        raise ValueError(f"method must be 'ridge' or 'data_free', got {method!r}")
    for flag_name, flag in (("merge", merge), ("refit_dense", refit_dense)):
        if not isinstance(flag, bool):
            raise TypeError(f"{flag_name} must be a bool, got {flag!r}")
    l2_relative = check_positive_float(l2_relative, "l2_relative", allow_zero=True)
    batch_size = check_positive_int(batch_size, "batch_size")
    interval_quantile = check_probability(interval_quantile, "interval_quantile", allow_zero=False, allow_one=True)
    if poly_method not in POLYFIT_METHODS:
        raise ValueError(f"poly_method must be one of {list(POLYFIT_METHODS)}, got {poly_method!r}")
    steps = _plan(teacher, merge)
    if not any(kind != "copy" for kind, _ in steps):
        raise ValueError("teacher has no Dense layer followed by an activation: nothing to replace")

    start = time.perf_counter()
    report = TransferReport(method, inputs, merge, x_calib.shape[0], teacher_params=teacher.n_params)
    student_layers: list[Layer] = []
    x_teacher = x_student = x_calib
    for kind, indices in steps:
        step_start = time.perf_counter()
        group = [teacher.layers[i] for i in indices]
        y_teacher = _run(group, x_teacher, batch_size)
        x_fed = x_student if inputs == "student" else x_teacher
        l2 = interval = coefficients = None
        if kind == "copy":
            layer = _copy(group[0])
            action = "copied"
            if isinstance(layer, Dense) and refit_dense and method == "ridge":
                l2 = fit_layer(layer, x_fed, y_teacher, l2_relative=l2_relative, batch_size=batch_size)
                action = "refit"
        else:
            dense, activation = group[0], group[1]
            linear = group[2] if kind == "merge" else None
            layer = make_layer(dense.d_in, dense.d_out if linear is None else linear.d_out, dtype)
            _check_made(layer, dense.d_in, dense.d_out if linear is None else linear.d_out, dtype)
            action = "merged" if linear is not None else "replaced"
            if method == "ridge":
                l2 = fit_layer(layer, x_fed, y_teacher, l2_relative=l2_relative, batch_size=batch_size)
            else:
                if not isinstance(layer, EUGen):
                    raise ValueError(f"method='data_free' needs EUGen layers, but make_layer built "
                                     f"{type(layer).__name__}")
                pre = _run([dense], x_fed, batch_size)
                interval = interval_from_preactivations(pre, interval_quantile)
                coefficients = fit_polynomial(_activation_function(activation), layer.order, interval,
                                              method=poly_method)
                set_data_free(layer, dense, coefficients, linear)
                coefficients = tuple(float(a) for a in coefficients)
        y_fed = _run([layer], x_fed, batch_size)
        x_student_next = y_fed if x_fed is x_student else _run([layer], x_student, batch_size)
        replaced = " + ".join(_name(teacher.layers[i]) for i in indices)
        description = replaced if kind == "copy" else f"{replaced} -> {_name(layer)}"
        report.layers.append(LayerTransfer(
            teacher_layers=tuple(indices), action=action, description=description,
            fit_mse=_mse(y_fed, y_teacher), chain_mse=_mse(x_student_next, y_teacher),
            target_variance=float(np.mean(np.var(y_teacher, axis=0, dtype=np.float64))), l2=l2,
            interval=interval, coefficients=coefficients, seconds=time.perf_counter() - step_start,
            teacher_params=sum(layer_.n_params for layer_ in group), student_params=layer.n_params,
        ))
        student_layers.append(layer)
        x_teacher, x_student = y_teacher, x_student_next
    student = Sequential(*student_layers)
    report.seconds = time.perf_counter() - start
    report.student_params = student.n_params
    report.student_fixed = student.n_buffer_values
    return student, report


def _copy(layer: Layer) -> Layer:
    """An independent copy of a teacher layer (same parameters)."""
    return layer.astype(layer.dtype) if layer.dtype is not None else type(layer).from_config(layer.get_config())


def _check_made(layer: Any, d_in: int, d_out: int, dtype: Any) -> None:
    if not isinstance(layer, (EUGen, SNNK, Dense, LowRank)):
        raise TypeError(f"make_layer must build an EUGen, SNNK, Dense or LowRank layer, got {type(layer).__name__}")
    if (layer.d_in, layer.d_out) != (d_in, d_out) or layer.dtype != dtype:
        raise ValueError(f"make_layer built a {layer.d_in}->{layer.d_out} layer of dtype {layer.dtype}, "
                         f"but {d_in}->{d_out} of dtype {dtype} was asked for")


def transfer_to_eugen(
    teacher: Sequential,
    x_calib: np.ndarray,
    m: int,
    order: int = 2,
    *,
    norm_term: bool = True,
    draws: str = "iid",
    rng: Any = None,
    **options: Any,
) -> tuple[Sequential, TransferReport]:
    """:func:`transfer` with EUGen layers of ``m`` features per order and order ``order``.

    ``options`` are :func:`transfer`'s keyword arguments (``inputs``, ``method``, ``merge``, ...).
    """
    return transfer(teacher, x_calib, EUGenFactory(m, order, norm_term=norm_term, draws=draws, rng=rng), **options)
