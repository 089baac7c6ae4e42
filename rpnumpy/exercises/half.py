r"""Checks for the exercises of notebook 01 (half layers).

A half layer computes, for a batch :math:`X` (``n x d_in``) and a fixed matrix :math:`R` (``d_in x H``),

.. math:: A = XR, \qquad S = A \odot u + u_0, \qquad Z = g(S),

with only :math:`u` and :math:`u_0` trained. The exercises: count its parameters against an MLP's
(1.1), build the template scheme's matrix (1.2), write its backward pass (1.3), and the sensitivity
:math:`\partial L/\partial R = X^\top(\Delta \odot u)` that backpropagation would give if :math:`R`
were trained (1.4).
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral

import numpy as np

from ..gradcheck import check_vjp
from ..layers import Dense, HalfLayer, ReLU, Sequential, true_gradient_of_R
from .feedback import ExerciseFailure, Feedback, attempt, compare, unpack, verdict

__all__ = ["check_half_backward", "check_half_parameter_counts", "check_sensitivity_of_R", "check_template_matrix"]

#: (d_in, H, n_classes) of the parameter-count check: the notebook's two models, a tiny network, one unit and
#: one class, and an MLP wider than its input.
_COUNT_SHAPES = [(784, 256, 10), (784, 1024, 10), (5, 3, 2), (1, 1, 1), (20, 64, 1)]

#: (n, d_in, H, activation) of the backward checks: a usual batch, one sample, one unit, a smooth activation.
_BACKWARD_CASES = [(4, 5, 3, "relu"), (1, 3, 2, "relu"), (6, 4, 1, "relu"), (5, 6, 4, "tanh")]


def _g_prime(activation: str) -> Callable[[np.ndarray], np.ndarray]:
    """:math:`g'(s)` of the activations the checks use (ReLU's derivative at 0 taken as 0)."""
    if activation == "relu":
        return lambda s: (s > 0).astype(s.dtype)
    return lambda s: 1.0 - np.tanh(s) ** 2


def check_half_parameter_counts(parameter_counts: Callable) -> Feedback:
    r"""Exercise 1.1: trainable and fixed numbers of a half network, and of an MLP of the same width.

    The student's ``parameter_counts(d_in, H, n_classes)`` returns ``(half_trainable, half_fixed,
    mlp_trainable)`` for HalfLayer(d_in -> H) + Dense(H -> n_classes) and for the MLP
    Dense(d_in -> H) + ReLU + Dense(H -> n_classes): :math:`2H + (H+1)K`, :math:`d_{in}H` and
    :math:`(d_{in}+1)H + (H+1)K`. They are compared with the ``n_params`` and ``n_buffer_values`` of
    those models built by rpnumpy.
    """

    def run() -> str:
        for d, H, K in _COUNT_SHAPES:
            half = Sequential(HalfLayer(d, H, rng=0), Dense(H, K, rng=1))
            dense = Sequential(Dense(d, H, rng=0), ReLU(), Dense(H, K, rng=1))
            expected = (half.n_params, half.n_buffer_values, dense.n_params)
            result = attempt(parameter_counts, d, H, K, what="parameter_counts")
            got = unpack(result, ("half_trainable", "half_fixed", "mlp_trainable"), "parameter_counts")
            case = f"d_in={d}, H={H}, n_classes={K}"
            hints = {
                "half_trainable": {
                    2 * H + H * K: "the output layer has a bias for each class as well as its H x K weights",
                    H + (H + 1) * K: "each half unit has two trainable numbers, its scale u_h and its shift u_h0",
                    d * H + 2 * H + (H + 1) * K: "R is fixed: its entries are not trainable (they are the "
                                                 "second number)",
                    2 * H: "count the output layer too: the network is the half layer and a dense layer",
                },
                "half_fixed": {
                    d * H + 2 * H: "u and u0 are trained: only the entries of R are fixed",
                    0: "R is not trained, but the network still holds its d_in x H entries",
                    (d + 1) * H: "stage 1 has no random bias: R alone is fixed",
                },
                "mlp_trainable": {
                    d * H + (H + 1) * K: "the MLP's hidden layer has a bias for each of its H units",
                    (d + 1) * H + H * K: "the output layer has a bias for each class",
                    (d + 1) * H: "count the output layer too",
                },
            }
            for name, value, want in zip(("half_trainable", "half_fixed", "mlp_trainable"), got, expected):
                if isinstance(value, bool) or not isinstance(value, Integral):
                    raise ExerciseFailure("wrong", f"{name} must be an int for {case}; you returned "
                                                   f"{type(value).__name__} {value!r}",
                                          "hint: a count is a whole number (use // for divisions, or int(...))")
                if int(value) != want:
                    hint = hints[name].get(int(value), "count, layer by layer, every weight and every bias")
                    raise ExerciseFailure("wrong", f"{name} is wrong for {case}: yours {int(value):,}, "
                                                   f"expected {want:,} (off by {int(value) - want:+,})",
                                          f"hint: {hint}")
        return f"{len(_COUNT_SHAPES)} networks, from 784 -> 1024 -> 10 down to one unit and one class"

    return verdict("Exercise 1.1: parameter counts of a half network and an MLP", run)


def _template_cases() -> list[tuple[np.ndarray, np.ndarray, str]]:
    rng = np.random.default_rng(11)
    pixels = rng.random((40, 16)) * (rng.random((40, 16)) > 0.4)  # non-negative "images" with blank pixels
    return [
        (pixels, np.array([3, 17, 0, 29, 8]), "40 images of 16 pixels, 5 templates"),
        (rng.standard_normal((12, 7)), np.array([5]), "12 examples of 7 features, 1 template"),
        (rng.random((30, 3)) + 2.0, np.array([1, 2, 26, 14, 4, 11, 9, 22]), "30 examples of 3 features, "
                                                                             "8 templates (more than features)"),
    ]


def check_template_matrix(template_columns: Callable) -> Feedback:
    r"""Exercise 1.2: the template scheme's matrix :math:`r_h = (x^{(t_h)} - \bar x)/\lVert x^{(t_h)} - \bar x\rVert`.

    The student's ``template_columns(x_train, chosen)`` returns the ``(d_in, H)`` matrix whose
    column :math:`h` is training example ``chosen[h]`` minus the mean of *all* training examples,
    scaled to unit norm, as :func:`rpnumpy.layers.half.template_matrix` builds it.
    """

    def run() -> str:
        for x, chosen, case in _template_cases():
            mean = x.mean(axis=0)
            centred = x[chosen].T - mean[:, None]
            expected = centred / np.linalg.norm(centred, axis=0)
            plain = x[chosen].T
            local = x[chosen].T - x[chosen].mean(axis=0)[:, None]
            R = attempt(template_columns, x, chosen.copy(), what="template_columns")
            compare("R", R, expected, case=case, hints={
                "centre with the mean of all training examples, not only of the chosen ones":
                    local / np.maximum(np.linalg.norm(local, axis=0), 1e-300),
                "subtract the training-set mean before normalising": plain / np.linalg.norm(plain, axis=0),
                "each column (one template) gets unit norm, not each row (one feature)":
                    centred / np.linalg.norm(centred, axis=1, keepdims=True),
                "a column is centred and then scaled to unit norm": centred,
            })
        return f"{len(_template_cases())} training sets, including a single template and more templates than features"

    return verdict("Exercise 1.2: the template scheme's matrix", run)


def _half_case(n: int, d: int, H: int, activation: str, seed: int):
    """A float64 half layer at a generic point (u of both signs, u0 not zero), its forward and backward pass."""
    rng = np.random.default_rng(seed)
    layer = HalfLayer(d, H, scheme="N", rng=seed, activation=activation)
    layer.params["u"][...] *= rng.uniform(0.5, 2.0, size=H) * rng.choice([-1.0, 1.0], size=H)
    layer.params["u0"][...] = 0.3 * rng.standard_normal(H)
    R, u, u0 = layer.buffers["R"].copy(), layer.params["u"].copy(), layer.params["u0"].copy()
    for _ in range(1000):  # for ReLU, every pre-activation away from the kink at 0
        x = rng.standard_normal((n, d))
        if activation != "relu" or np.abs((x @ R) * u + u0).min() > 0.05:
            break
    a = x @ R
    s = a * u + u0
    dz = rng.standard_normal((n, H))
    layer.forward(x)
    dx = layer.backward(dz)
    return layer, (x, R, u, a, s), dz, dx


def check_half_backward(half_backward: Callable) -> Feedback:
    r"""Exercise 1.3: the half layer's backward pass.

    The student's ``half_backward(dz, cache, g_prime)`` receives :math:`\delta = \partial L/\partial Z`
    (``n x H``), ``cache = (x, R, u, a, s)`` of the forward pass and the derivative ``g_prime`` of the
    activation, and returns ``(dx, du, du0)``: with :math:`\Delta = \delta \odot g'(S)`,
    :math:`(\Delta \odot u)R^\top`, :math:`\sum_t \Delta_{th}A_{th}` and :math:`\sum_t \Delta_{th}`.
    Compared with :class:`~rpnumpy.layers.HalfLayer`'s own backward pass.
    """

    def run() -> str:
        for k, (n, d, H, activation) in enumerate(_BACKWARD_CASES):
            layer, cache, dz, dx_expected = _half_case(n, d, H, activation, seed=20 + k)
            x, R, u, a, s = cache
            g = _g_prime(activation)(s)
            delta = dz * g
            result = attempt(half_backward, dz, cache, _g_prime(activation), what="half_backward")
            dx, du, du0 = unpack(result, ("dx", "du", "du0"), "half_backward")
            case = f"n={n}, d_in={d}, H={H}, g={activation}"
            compare("du", du, layer.grads["u"], case=case, hints={
                "apply g'(s) first: the error signal at s is delta * g'(s), not delta": np.sum(dz * a, axis=0),
                "u multiplies a = xR, not s: weight each sample's error signal by its projection a":
                    np.sum(delta * s, axis=0),
                "du sums the error signal times the projection a over the batch": np.sum(delta, axis=0),
                "du sums over the batch (axis=0), it does not average": np.mean(delta * a, axis=0),
                "use the g_prime you are given (here g is not always ReLU)": np.sum(dz * (s > 0) * a, axis=0),
            })
            compare("du0", du0, layer.grads["u0"], case=case, hints={
                "apply g'(s) first: the error signal at s is delta * g'(s), not delta": np.sum(dz, axis=0),
                "du0 sums over the batch (axis=0), it does not average": np.mean(delta, axis=0),
                "du0 is the plain sum of the error signal, like a bias": np.sum(delta * a, axis=0),
            })
            compare("dx", dx, dx_expected, case=case, hints={
                "the input gradient goes back through the effective weights u_h r_h: multiply by u before R^T":
                    delta @ R.T,
                "apply g'(s) first: the error signal at s is delta * g'(s), not delta": (dz * u) @ R.T,
                "dx flows back through u and R only, not through the projection a": (delta * u * a) @ R.T,
            })
        return (f"{len(_BACKWARD_CASES)} layers, with one sample, one unit and a smooth activation (tanh) "
                f"among them")

    return verdict("Exercise 1.3: the half layer's backward pass", run)


def check_sensitivity_of_R(grad_R: Callable) -> Feedback:
    r"""Exercise 1.4: the sensitivity :math:`\partial L/\partial R = X^\top(\Delta \odot u)`.

    The student's ``grad_R(dz, cache, g_prime)`` takes the arguments of Exercise 1.3 and returns the
    ``(d_in, H)`` matrix backpropagation would give if :math:`R` were trained. Compared with
    :func:`~rpnumpy.layers.true_gradient_of_R`; a correct answer is also checked against central
    differences of :math:`\langle g((XR)\odot u + u_0), \delta\rangle` in :math:`R`.
    """

    def run() -> str:
        smooth_error = None
        for k, (n, d, H, activation) in enumerate(_BACKWARD_CASES):
            layer, cache, dz, _ = _half_case(n, d, H, activation, seed=40 + k)
            x, R, u, a, s = cache
            delta = dz * _g_prime(activation)(s)
            expected = true_gradient_of_R(layer, dz)
            dR = attempt(grad_R, dz, cache, _g_prime(activation), what="grad_R")
            case = f"n={n}, d_in={d}, H={H}, g={activation}"
            compare("dR", dR, expected, case=case, hints={
                "R sits inside u * (xR): the error signal is multiplied by u on its way to R": x.T @ delta,
                "apply g'(s) first: the error signal at s is delta * g'(s), not delta": x.T @ (dz * u),
                "dR sums over the batch, it does not average": x.T @ (delta * u) / n,
                "R gets a zero update, but the loss does depend on R: its derivative is not zero":
                    np.zeros_like(expected),
            })
            if activation == "tanh":
                u0 = layer.params["u0"]

                def f(matrix, x=x, u=u, u0=u0):
                    return np.tanh((x @ matrix) * u + u0)

                smooth_error = check_vjp(f, R.copy(), dz, dR).relative_error
        return (f"{len(_BACKWARD_CASES)} layers, equal to rpnumpy's true_gradient_of_R; with tanh also to "
                f"central differences (relative error {smooth_error:.0e})")

    return verdict("Exercise 1.4: the sensitivity of the loss to R", run)
