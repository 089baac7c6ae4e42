r"""Checks for the exercises of notebook 06 (verifying gradients).

* :func:`check_relative_error`: the course's error measure
  :math:`\operatorname{rel}(a, b) = \max|a-b| / \max(\max|a|, \max|b|)`.
* :func:`check_numerical_gradient`: a central-difference gradient
  :math:`(f(x + h e_i) - f(x - h e_i)) / 2h` for every entry of ``x``, with ``x`` put back as it was.
* :func:`check_layer_norm_backward`: the fix of a planted bug in the backward pass of a layer
  normalisation :math:`y = \hat x \odot \gamma + \beta`, :math:`\hat x = (x - \mu)/\sigma` over the last axis.
* :func:`check_l2_normalize_backward`: the vector-Jacobian product of :math:`y = x/\lVert x\rVert`
  (over the last axis).

The expected values are written out here; ``tests/test_exercises.py`` checks each of them against
central differences (:func:`rpnumpy.gradcheck.check_vjp`).
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np

from ..gradcheck import check_vjp
from .feedback import ExerciseFailure, Feedback, attempt, compare, diagnose, unpack, verdict

__all__ = ["check_relative_error", "check_numerical_gradient", "check_layer_norm_backward",
           "check_l2_normalize_backward"]


# -- Exercise 6.1: the relative error --------------------------------------------------------------------------
def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b))))


def _relative_error_cases(rng: np.random.Generator) -> list[tuple[str, np.ndarray, np.ndarray]]:
    a = rng.standard_normal(5)
    m = rng.standard_normal((3, 4))
    z = rng.standard_normal((2, 3, 2))
    z[0, 1, 0] = 0.0
    w = z + 1e-3 * rng.standard_normal(z.shape)
    w[0, 1, 0] = 0.0  # an entry that is zero in both arrays: an entry-wise ratio divides 0 by 0 there
    return [
        ("two vectors of shape (5,)", a, a + 1e-6 * rng.standard_normal(5)),
        ("b larger than a, shape (3, 4)", m, 3.0 * m),
        ("a larger than b, shape (3, 4)", 3.0 * m, m),
        ("3-d arrays with a zero entry in both", z, w),
        ("a single entry", np.array([2.0]), np.array([2.5])),
    ]


def check_relative_error(relative_error: Callable) -> Feedback:
    r"""Exercise 6.1: :math:`\operatorname{rel}(a, b) = \max_i|a_i-b_i| / \max(\max_i|a_i|, \max_i|b_i|)`.

    The student's ``relative_error(a, b)`` receives two arrays of the same shape and returns one
    number.
    """

    def run() -> str:
        rng = np.random.default_rng(60)
        for case, a, b in _relative_error_cases(rng):
            with np.errstate(all="ignore"):  # an entry-wise ratio divides by zero: reported below
                got = attempt(relative_error, a, b, what="relative_error")
            if isinstance(got, np.ndarray) and got.shape != ():
                raise ExerciseFailure("wrong", f"relative_error must return one number; for {case} it returned an "
                                               f"array of shape {got.shape}",
                                      "hint: take the maximum over all entries (np.max without an axis)")
            if not isinstance(got, (Real, np.ndarray)) or isinstance(got, bool):
                raise ExerciseFailure("wrong", f"relative_error must return a number; it returned "
                                               f"{type(got).__name__} for {case}",
                                      "hint: end the function with return (a function without one returns None)")
            value, expected = float(got), _rel(a, b)
            if np.isfinite(value) and abs(value - expected) <= 1e-12 * expected:
                continue
            diff = np.abs(a - b)
            with np.errstate(all="ignore"):
                entrywise = {f"divide the largest difference by the largest entry, not entry by entry (by |{name}_i|): "
                             f"an entry-wise ratio blows up where an entry is (nearly) zero":
                             np.array(np.max(diff / np.abs(r))) for name, r in (("b", b), ("a", a))}
            hint = diagnose(np.array(value), {
                "divide by the larger of max|a| and max|b|, not by max|a| alone":
                    np.array(diff.max() / np.abs(a).max()),
                "divide by the larger of max|a| and max|b|, not by max|b| alone":
                    np.array(diff.max() / np.abs(b).max()),
                "take the maximum of |a - b|, not its mean": np.array(diff.mean() / max(np.abs(a).max(),
                                                                                       np.abs(b).max())),
                "the error of the largest entries counts, not a sum: use max, not sum":
                    np.array(diff.sum() / max(np.abs(a).sum(), np.abs(b).sum())),
                **entrywise,
            }, tolerance=1e-12)
            if hint is None and not np.isfinite(value):
                hint = ("an entry-wise ratio |a_i - b_i| / |b_i| divides by zero where both entries are 0: "
                        "divide the largest difference by the largest entry instead")
            lines = [f"rel(a, b) is wrong for {case}: yours {value:.6g}, expected {expected:.6g}"]
            lines.append(f"hint: {hint}" if hint else "hint: max over all entries of |a - b|, divided by the "
                                                      "larger of the two arrays' largest absolute entries")
            raise ExerciseFailure("wrong", *lines)
        return "5 pairs of arrays, one of them with an entry that is zero in both"

    return verdict("Exercise 6.1: the relative error", run)


# -- Exercise 6.2: a central-difference gradient ---------------------------------------------------------------
def _central(f: Callable[[np.ndarray], float], x: np.ndarray, h: float) -> np.ndarray:
    x = x.copy()
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        plus = f(x)
        x[i] = original - h
        minus = f(x)
        x[i] = original
        grad[i] = (plus - minus) / (2 * h)
    return grad


def _forward_difference(f: Callable[[np.ndarray], float], x: np.ndarray, h: float) -> np.ndarray:
    x = x.copy()
    grad = np.zeros_like(x)
    f0 = f(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        grad[i] = (f(x) - f0) / h
        x[i] = original
    return grad


def _numerical_gradient_cases(rng: np.random.Generator) -> list[tuple[str, Callable, np.ndarray, float]]:
    w = rng.standard_normal((3, 4))
    v = rng.standard_normal((2, 3))

    def sin_weighted(x: np.ndarray) -> float:
        return float(np.sum(np.sin(x) * w))

    def cube(x: np.ndarray) -> float:
        return float(np.sum(x**3))

    def log_sum_exp(x: np.ndarray) -> float:
        return float(np.log(np.sum(np.exp(x))))

    def sin_weighted_small(x: np.ndarray) -> float:
        return float(np.sum(np.sin(x) * v))

    return [
        ("f(x) = sum(sin(x) * w), x of shape (3, 4), h = 1e-4", sin_weighted, rng.standard_normal((3, 4)), 1e-4),
        ("f(x) = x**3, x of shape (1,), h = 1e-2", cube, np.array([0.7]), 1e-2),
        ("f(x) = log(sum(exp(x))), x of shape (2, 3, 2), h = 1e-5", log_sum_exp, rng.standard_normal((2, 3, 2)),
         1e-5),
        ("f(x) = sum(sin(x) * v), x of shape (2, 3), a large step h = 0.5", sin_weighted_small,
         rng.standard_normal((2, 3)), 0.5),
    ]


def check_numerical_gradient(numerical_gradient: Callable) -> Feedback:
    r"""Exercise 6.2: central differences :math:`(f(x + h e_i) - f(x - h e_i))/2h` for every entry of ``x``.

    The student's ``numerical_gradient(f, x, h)`` receives a function ``f(x) -> float``, an array
    ``x`` (any shape) and the step ``h``, returns an array of ``x``'s shape, and leaves ``x`` as it
    found it. A large step (h = 0.5) tells a central difference from a forward one and from a
    step of the function's own choosing.
    """

    def run() -> str:
        rng = np.random.default_rng(61)
        for case, f, x0, h in _numerical_gradient_cases(rng):
            x = x0.copy()
            grad = attempt(lambda f=f, x=x, h=h: numerical_gradient(f, x, h), what="numerical_gradient")
            if not np.array_equal(x, x0):
                index = tuple(int(i) for i in np.argwhere(x != x0)[0])
                raise ExerciseFailure("wrong", f"numerical_gradient changed x for {case}: at index {index} it left "
                                               f"{x[index]:.17g} where x held {x0[index]:.17g}",
                                      "hint: put each entry back to its original value after perturbing it")
            expected = _central(f, x0, h)
            own_step = _central(f, x0, 1e-6)  # what a step of the function's own choosing would give
            compare("the numerical gradient", grad, expected, case=case, tolerance=1e-7,
                    hints={"a central difference divides by 2h, the distance between x + h and x - h":
                           2 * expected,
                           "that is a forward difference (f(x + h) - f(x)) / h; use f(x + h) and f(x - h)":
                           _forward_difference(f, x0, h),
                           "the sign is flipped: f(x + h) - f(x - h), in that order": -expected,
                           f"use the step h you are given (here h = {h:g}), not a step of your own":
                           own_step})
        return "4 functions, x of shapes (3, 4), (1,), (2, 3, 2) and (2, 3); x left unchanged"

    return verdict("Exercise 6.2: a central-difference gradient", run)


# -- Exercise 6.3: the layer normalisation's backward pass, with its bug fixed ----------------------------------
def layer_norm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, tuple]:
    r"""The layer normalisation of notebook 06 over the last axis, and its cache ``(x_hat, sigma, gamma)``.

    :math:`\mu = \operatorname{mean}(x)`, :math:`\sigma = \sqrt{\operatorname{mean}((x-\mu)^2)}`,
    :math:`\hat x = (x - \mu)/\sigma`, :math:`y = \hat x \odot \gamma + \beta` (no stabilising constant
    under the square root).
    """
    mu = x.mean(axis=-1, keepdims=True)
    sigma = np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True))
    x_hat = (x - mu) / sigma
    return x_hat * gamma + beta, (x_hat, sigma, gamma)


def _layer_norm_parts(dy: np.ndarray, cache: tuple) -> dict[str, Any]:
    x_hat, sigma, gamma = cache
    g = dy * gamma
    lead = tuple(range(dy.ndim - 1))
    return {
        "g": g, "x_hat": x_hat, "sigma": sigma,
        "mean_g": g.mean(axis=-1, keepdims=True),
        "mean_gx": (g * x_hat).mean(axis=-1, keepdims=True),
        "dgamma": (dy * x_hat).sum(axis=lead), "dbeta": dy.sum(axis=lead),
    }


def _layer_norm_cases(rng: np.random.Generator) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    cases = []
    for case, shape in [("x of shape (4, 6)", (4, 6)), ("a single sample, x of shape (1, 5)", (1, 5)),
                        ("3-d x of shape (2, 3, 4)", (2, 3, 4))]:
        d = shape[-1]
        x = 2.0 * rng.standard_normal(shape) + 1.0
        gamma, beta = 1.0 + 0.5 * rng.standard_normal(d), 0.5 * rng.standard_normal(d)
        cases.append((case, x, gamma, beta, rng.standard_normal(shape)))
    return cases


def check_layer_norm_backward(layer_norm_backward: Callable) -> Feedback:
    r"""Exercise 6.3: the backward pass of the layer normalisation, its planted bug fixed.

    The student's ``layer_norm_backward(dy, cache)`` receives :math:`\delta` and the cache
    ``(x_hat, sigma, gamma)`` of :func:`layer_norm_forward` and returns ``(dx, dgamma, dbeta)``:

    .. math:: \frac{\partial L}{\partial x} = \frac{1}{\sigma}\Big(g - \operatorname{mean}(g)
              - \hat x \odot \operatorname{mean}(g \odot \hat x)\Big),\quad g = \delta\odot\gamma, \qquad
              \frac{\partial L}{\partial \gamma} = \textstyle\sum \delta\odot\hat x, \quad
              \frac{\partial L}{\partial \beta} = \textstyle\sum \delta,

    means over the last axis, sums over all the others.
    """

    def run() -> str:
        rng = np.random.default_rng(63)
        worst = 0.0
        for case, x, gamma, beta, dy in _layer_norm_cases(rng):
            _, cache = layer_norm_forward(x, gamma, beta)
            result = attempt(layer_norm_backward, dy, cache, what="layer_norm_backward")
            dx, dgamma, dbeta = unpack(result, ("dx", "dgamma", "dbeta"), "layer_norm_backward")
            p = _layer_norm_parts(dy, cache)
            g, x_hat, sigma = p["g"], p["x_hat"], p["sigma"]
            expected_dx = (g - p["mean_g"] - x_hat * p["mean_gx"]) / sigma
            compare("dgamma", dgamma, p["dgamma"], case=case,
                    hints={"dgamma sums dy times x_hat, the normalised input, not dy times x":
                           (dy * x).sum(axis=tuple(range(dy.ndim - 1))),
                           "dgamma is a sum over the samples, not a mean":
                           (dy * x_hat).mean(axis=tuple(range(dy.ndim - 1)))})
            compare("dbeta", dbeta, p["dbeta"], case=case,
                    hints={"dbeta is a sum over the samples, not a mean": dy.mean(axis=tuple(range(dy.ndim - 1)))})
            compare("dx", dx, expected_dx, case=case, hints={
                "sigma depends on x too: the term that comes through sigma is still missing (it is the planted "
                "bug; it vanishes when dy and gamma are all ones)": (g - p["mean_g"]) / sigma,
                "mu depends on x too: the term that comes through the mean is missing":
                    (g - x_hat * p["mean_gx"]) / sigma,
                "the gradient reaching x_hat is dy * gamma, not dy": (dy - dy.mean(axis=-1, keepdims=True) - x_hat * (
                    dy * x_hat).mean(axis=-1, keepdims=True)) / sigma,
                "divide by sigma once, not by sigma squared": (g - p["mean_g"] - x_hat * p["mean_gx"]) / sigma**2,
                "the means in dx are over the features of each sample (the last axis), as in the forward pass":
                    (g - g.mean(axis=0, keepdims=True) - x_hat * (g * x_hat).mean(axis=0, keepdims=True)) / sigma,
            })
            worst = max(worst, check_vjp(lambda a, gm, bt: layer_norm_forward(a, gm, bt)[0], [x, gamma, beta], dy,
                                         [dx, dgamma, dbeta]).relative_error)
        return f"3 inputs, a single sample and a 3-d batch included; central differences agree to {worst:.0e}"

    return verdict("Exercise 6.3: the layer normalisation's backward pass, fixed", run)


# -- Exercise 6.4: the vector-Jacobian product of an L2 normalisation ---------------------------------------------
def check_l2_normalize_backward(l2_normalize_backward: Callable) -> Feedback:
    r"""Exercise 6.4: the backward pass of :math:`y = x / \lVert x\rVert` (norm over the last axis).

    The student's ``l2_normalize_backward(dy, x)`` returns
    :math:`\partial L/\partial x = \big(\delta - y\,\langle y, \delta\rangle\big)/\lVert x\rVert`, the
    inner product over the last axis.
    """

    def run() -> str:
        rng = np.random.default_rng(64)
        worst = 0.0
        for case, shape, scale in [("x of shape (4, 5)", (4, 5), 1.0), ("a single sample, x of shape (1, 3)",
                                   (1, 3), 1.0), ("3-d x of shape (2, 3, 4)", (2, 3, 4), 1.0),
                                   ("x of shape (3, 4) with norms near 100", (3, 4), 50.0)]:
            x, dy = scale * rng.standard_normal(shape), rng.standard_normal(shape)
            norm = np.linalg.norm(x, axis=-1, keepdims=True)
            y = x / norm
            inner = (y * dy).sum(axis=-1, keepdims=True)
            expected = (dy - y * inner) / norm
            dx = attempt(l2_normalize_backward, dy, x, what="l2_normalize_backward")
            compare("dx", dx, expected, case=case, hints={
                "y's norm is always 1, so the part of dy along y must be removed (the term with <y, dy>)":
                    dy / norm,
                "the sign of the projection term: it is subtracted": (dy + y * inner) / norm,
                "divide by the norm once, not by its square": (dy - y * inner) / norm**2,
                "the inner product <y, dy> is over the features of each sample (the last axis)":
                    (dy - y * (y * dy).sum(axis=0, keepdims=True)) / norm,
                "the projection uses y = x / |x|, not x": (dy - x * inner) / norm,
            })
            worst = max(worst, check_vjp(lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True), x, dy,
                                         dx).relative_error)
        return f"4 inputs, a single sample, a 3-d batch and large norms included; central differences agree to " \
               f"{worst:.0e}"

    return verdict("Exercise 6.4: the backward pass of an L2 normalisation", run)
