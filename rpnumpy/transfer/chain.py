"""The layer-by-layer transfer of a whole network (see :mod:`rpnumpy.transfer`) and its report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import (
    check_float_array,
    check_positive_float,
    check_positive_int,
    check_probability,
)
from ..layers import Dense, Layer, LowRank, Sequential
from ..layers.eugen import EUGen
from ..layers.snnk import SNNK
from ..polyfit import POLYFIT_METHODS, fit_polynomial, interval_from_preactivations
from ..training import predict
from .factories import EUGenFactory
from .fit import _ACTIVATION_TYPES, BATCH_SIZE, _activation_function, fit_layer, set_data_free

__all__ = ["LayerTransfer", "TransferReport", "transfer", "transfer_to_eugen"]


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
    _check_transfer_arguments(teacher, x_calib, make_layer, inputs, method, merge, refit_dense, poly_method)
    l2_relative = check_positive_float(l2_relative, "l2_relative", allow_zero=True)
    batch_size = check_positive_int(batch_size, "batch_size")
    interval_quantile = check_probability(interval_quantile, "interval_quantile", allow_zero=False, allow_one=True)
    steps = _plan(teacher, merge)
    if not any(kind != "copy" for kind, _ in steps):
        raise ValueError("teacher has no Dense layer followed by an activation: nothing to replace")
    options = {"make_layer": make_layer, "inputs": inputs, "method": method, "refit_dense": refit_dense,
               "l2_relative": l2_relative, "batch_size": batch_size, "interval_quantile": interval_quantile,
               "poly_method": poly_method}

    start = time.perf_counter()
    report = TransferReport(method, inputs, merge, x_calib.shape[0], teacher_params=teacher.n_params)
    student_layers: list[Layer] = []
    x_teacher = x_student = x_calib
    for kind, indices in steps:
        layer, x_teacher, x_student, record = _transfer_step(teacher, kind, indices, x_teacher, x_student, **options)
        report.layers.append(record)
        student_layers.append(layer)
    student = Sequential(*student_layers)
    report.seconds = time.perf_counter() - start
    report.student_params = student.n_params
    report.student_fixed = student.n_buffer_values
    return student, report


def _check_transfer_arguments(teacher, x_calib, make_layer, inputs, method, merge, refit_dense, poly_method) -> None:
    _check_teacher(teacher)
    check_float_array(x_calib, "x_calib", ndim=2, dtype=teacher.dtype)
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
    if poly_method not in POLYFIT_METHODS:
        raise ValueError(f"poly_method must be one of {list(POLYFIT_METHODS)}, got {poly_method!r}")


def _transfer_step(teacher, kind, indices, x_teacher, x_student, *, make_layer, inputs, method, refit_dense,
                   l2_relative, batch_size, interval_quantile, poly_method):
    """One step of the plan: build (or copy) and fit the layer; return it, the next inputs and its record."""
    step_start = time.perf_counter()
    group = [teacher.layers[i] for i in indices]
    y_teacher = _run(group, x_teacher, batch_size)  # the targets: the teacher's block on the teacher's inputs
    x_fed = x_student if inputs == "student" else x_teacher
    l2 = interval = coefficients = None
    if kind == "copy":
        layer, action = _copy(group[0]), "copied"
        if isinstance(layer, Dense) and refit_dense and method == "ridge":
            l2 = fit_layer(layer, x_fed, y_teacher, l2_relative=l2_relative, batch_size=batch_size)
            action = "refit"
    else:
        dense, activation = group[0], group[1]
        linear = group[2] if kind == "merge" else None
        d_out = dense.d_out if linear is None else linear.d_out
        layer = make_layer(dense.d_in, d_out, teacher.dtype)
        _check_made(layer, dense.d_in, d_out, teacher.dtype)
        action = "merged" if linear is not None else "replaced"
        if method == "ridge":
            l2 = fit_layer(layer, x_fed, y_teacher, l2_relative=l2_relative, batch_size=batch_size)
        else:
            if not isinstance(layer, EUGen):
                raise ValueError(f"method='data_free' needs EUGen layers, but make_layer built {type(layer).__name__}")
            interval = interval_from_preactivations(_run([dense], x_fed, batch_size), interval_quantile)
            coefficients = fit_polynomial(_activation_function(activation), layer.order, interval, method=poly_method)
            set_data_free(layer, dense, coefficients, linear)
            coefficients = tuple(float(a) for a in coefficients)
    y_fed = _run([layer], x_fed, batch_size)
    x_student_next = y_fed if x_fed is x_student else _run([layer], x_student, batch_size)
    replaced = " + ".join(_name(teacher.layers[i]) for i in indices)
    record = LayerTransfer(
        teacher_layers=tuple(indices), action=action,
        description=replaced if kind == "copy" else f"{replaced} -> {_name(layer)}",
        fit_mse=_mse(y_fed, y_teacher), chain_mse=_mse(x_student_next, y_teacher),
        target_variance=float(np.mean(np.var(y_teacher, axis=0, dtype=np.float64))), l2=l2,
        interval=interval, coefficients=coefficients, seconds=time.perf_counter() - step_start,
        teacher_params=sum(member.n_params for member in group), student_params=layer.n_params,
    )
    return layer, y_teacher, x_student_next, record


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
