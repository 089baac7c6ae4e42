r"""Checks for the exercises of notebook 05 (EUGen layers).

The notebook's notation: :math:`x_+ = [x, 1, \|x\|]`, one random matrix :math:`G_{ij}` of shape
``(d+2, m)`` per factor :math:`j` of order :math:`i`, projections :math:`Q_{ij} = x_+ G_{ij}`, order-:math:`i`
features :math:`H_i = Q_{i1}\odot\cdots\odot Q_{ii}`, and a polynomial :math:`p(s) = \sum_i a_i s^i`.
The student's functions receive the matrices as a dict ``G`` with keys ``(i, j)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.polynomial import polynomial as P

from ..layers.eugen import EUGen, estimator_variance
from ..polyfit import fit_polynomial
from .feedback import ExerciseFailure, Feedback, attempt, compare, verdict

__all__ = ["check_chebyshev_fit", "check_estimator_variance", "check_order2_features", "check_weight_side"]


def _blocks(layer: EUGen) -> dict[tuple[int, int], np.ndarray]:
    """A fresh copy of the layer's matrices as a dict {(i, j): G_ij}."""
    return {(i, j): layer.projection(i, j).copy() for i in range(1, layer.order + 1) for j in range(1, i + 1)}


def _check_shape(name: str, got: object, shape: tuple[int, ...], case: str, hint: str) -> None:
    """A wrong shape gets its own message and a hint about what the columns (or entries) are."""
    if isinstance(got, np.ndarray) and got.shape != shape:
        raise ExerciseFailure("wrong", f"{name} has shape {got.shape} but should have shape {shape} for {case}",
                              f"hint: {hint}")


def _features(x_plus: np.ndarray, G: dict, m: int, order: int, combine=np.multiply) -> np.ndarray:
    """[1, H_1, ..., H_order] of augmented rows, each H_i combining its factors with ``combine``."""
    blocks = [np.ones((x_plus.shape[0], 1))]
    for i in range(1, order + 1):
        H = x_plus @ G[i, 1]
        for j in range(2, i + 1):
            H = combine(H, x_plus @ G[i, j])
        blocks.append(H)
    return np.concatenate(blocks, axis=1)


#: (n, d, m, seed) of the order-2 feature check: a batch, a single sample, one input and one feature.
_FEATURE_CASES = [(5, 4, 3, 0), (1, 3, 2, 1), (4, 1, 1, 2)]


def check_order2_features(order2_features: Callable) -> Feedback:
    r"""Exercise 5.1: EUGen's order-2 features :math:`F(x) = [1, H_1, H_2]` by hand.

    The student's ``order2_features(x, G)`` receives ``x`` of shape ``(n, d)`` and the dict ``G`` with
    keys ``(1, 1)``, ``(2, 1)``, ``(2, 2)`` (each ``(d+2, m)``) and returns ``(n, 1 + 2m)``:
    :math:`x_+ = [x, 1, \|x\|]`, :math:`H_1 = x_+G_{11}`, :math:`H_2 = (x_+G_{21})\odot(x_+G_{22})`.
    Compared with :meth:`EUGen.features <rpnumpy.layers.eugen.EUGen.features>` of a layer with the same matrices.
    """

    def run() -> str:
        rng = np.random.default_rng(50)
        for n, d, m, seed in _FEATURE_CASES:
            layer = EUGen(d, 1, m=m, order=2, rng=seed)
            x = rng.standard_normal((n, d))
            if n > 1:
                x[-1] = 0.0  # a zero row: its norm is 0
            G = _blocks(layer)
            got = attempt(order2_features, x, dict(G), what="order2_features")
            case = f"x of shape {x.shape}, m = {m}"
            _check_shape("F", got, (n, 1 + 2 * m), case,
                         "F has 1 + 2m columns: the constant feature 1 (order 0), then m columns of H_1 and m of H_2")
            row_norms = np.linalg.norm(x, axis=1, keepdims=True)
            ones = np.ones((n, 1))
            x_plus = np.hstack([x, ones, row_norms])
            hints = {
                "each factor of H_2 has its own matrix: H_2 = (x₊G₂₁) ⊙ (x₊G₂₂), not a square of one projection":
                    _features(x_plus, {**G, (2, 2): G[2, 1]}, m, 2),
                "H_2 multiplies its two factors element-wise; it does not add them":
                    _features(x_plus, G, m, 2, combine=np.add),
                "x₊ = [x, 1, ‖x‖] in this order: the 1 comes before the norm":
                    _features(np.hstack([x, row_norms, ones]), G, m, 2),
                "‖x‖ is the norm of each row (axis=1), not of the whole batch":
                    _features(np.hstack([x, ones, np.full((n, 1), np.linalg.norm(x))]), G, m, 2),
                "the last entry of x₊ is the norm ‖x‖, not its square":
                    _features(np.hstack([x, ones, row_norms**2]), G, m, 2),
            }
            compare("F", got, layer.features(x), case=case, hints=hints)
        return f"{len(_FEATURE_CASES)} inputs, a single sample, d = m = 1 and a zero row included"

    return verdict("Exercise 5.1: EUGen's order-2 features", run)


#: (neurons l, d, m, coefficients a_0..a_k, seed) of the weight-side check.
_WEIGHT_CASES = [(3, 4, 5, [0.1, -0.5, 0.3, -0.2], 3), (1, 2, 1, [0.0, 2.0], 4), (2, 3, 4, [-1.0, 0.5, -0.25], 5)]


def check_weight_side(weight_side: Callable) -> Feedback:
    r"""Exercise 5.2: the data-free weight side :math:`g(w)` of Theorem 3.1.

    The student's ``weight_side(w, b, c, a, G)`` receives ``w`` of shape ``(l, d)``, ``b`` and ``c`` of
    shape ``(l,)``, the coefficients ``a`` (:math:`a_0..a_k`) and the dict ``G`` of the
    :math:`G_{ij}`, :math:`1 \le j \le i \le k`, and returns ``(l, 1 + mk)``: :math:`g_0 = a_0` and
    :math:`g_i = \frac{a_i}{m}\bigodot_j (w_+G_{ij})` with :math:`w_+ = [w, b, c]`. Compared with
    :meth:`EUGen.weight_features <rpnumpy.layers.eugen.EUGen.weight_features>`.
    """

    def run() -> str:
        rng = np.random.default_rng(51)
        for n_neurons, d, m, a, seed in _WEIGHT_CASES:
            k = len(a) - 1
            layer = EUGen(d, 1, m=m, order=k, rng=seed)
            w = rng.standard_normal((n_neurons, d))
            b, c = rng.standard_normal(n_neurons), rng.standard_normal(n_neurons)
            G = _blocks(layer)
            got = attempt(weight_side, w, b, c, list(a), dict(G), what="weight_side")
            case = f"{n_neurons} neuron(s), d = {d}, m = {m}, a = {a}"
            _check_shape("g", got, (n_neurons, 1 + m * k), case,
                         "one row per neuron; the columns are g_0 (one value), then m columns for each order 1..k")
            w_plus = np.hstack([w, b[:, None], c[:, None]])
            expected = layer.weight_features(w, b, a, c)
            unscaled = _features(w_plus, G, m, k)
            order_of = np.concatenate([[0], np.repeat(np.arange(1, k + 1), m)])
            a_of = np.asarray(a, dtype=float)[order_of]
            scale_a0_by_m = unscaled * a_of / m
            hints = {
                "the order-i block carries a_i/m: the mean over the m rows of G_ij needs the 1/m":
                    unscaled * a_of,
                "g_0 = a_0 is the single constant feature's weight: it is not divided by m":
                    scale_a0_by_m,
                "divide by m once per order (the mean over m rows), not by m^i":
                    unscaled * a_of / np.where(order_of > 0, float(m) ** order_of, 1.0),
                "the sign of a_i belongs on the weight side: Theorem 3.1 holds for negative coefficients too":
                    unscaled * np.abs(a_of) / np.where(order_of > 0, m, 1),
                "w₊ = [w, b, c] in this order, matching x₊ = [x, 1, ‖x‖]":
                    _features(np.hstack([w, c[:, None], b[:, None]]), G, m, k) * a_of / np.where(order_of > 0, m, 1),
            }
            compare("g", got, expected, case=case, hints=hints)
        return f"{len(_WEIGHT_CASES)} layers of orders 1 to 3, negative coefficients and a single neuron included"

    return verdict("Exercise 5.2: the weight side g(w) of Theorem 3.1", run)


#: (n inputs, l neurons, width p of the augmented vectors, coefficients, m).
_VARIANCE_CASES = [(3, 2, 5, [0.1, -0.5, 0.3, -0.2], 16), (1, 1, 3, [0.0, 1 / 3, 1 / 3, 1 / 3], 1),
                   (4, 3, 2, [2.0, -1.0], 7)]


def _variance(u: np.ndarray, v: np.ndarray, a: list, m: int, *, isserlis: float = 2.0, mean_term: bool = True,
              power_of_a: int = 2, per_order_m: bool = False) -> np.ndarray:
    """The variance formula, or one of its plausible misreadings (for the hints)."""
    s = v @ u.T
    fourth = np.outer((v**2).sum(1), (u**2).sum(1)) + isserlis * s**2
    total = np.zeros_like(s)
    for i in range(1, len(a)):
        total += a[i] ** power_of_a / (m**i if per_order_m else m) * (fourth**i - (s ** (2 * i) if mean_term else 0.0))
    return total


def check_estimator_variance(variance: Callable) -> Feedback:
    r"""Exercise 5.3: the variance of the Theorem 3.1 estimator for Gaussian rows.

    The student's ``variance(u, v, a, m)`` receives the weight side :math:`u = w_+` of shape ``(l, p)``,
    the input side :math:`v = x_+` of shape ``(n, p)``, the coefficients and ``m``, and returns
    ``(n, l)``: :math:`\sum_{i\ge1}\frac{a_i^2}{m}[(\|u\|^2\|v\|^2 + 2s^2)^i - s^{2i}]`, :math:`s = u^\top v`.
    Compared with :func:`~rpnumpy.layers.eugen.estimator_variance`.
    """

    def run() -> str:
        rng = np.random.default_rng(52)
        for n, n_neurons, p, a, m in _VARIANCE_CASES:
            u, v = 0.7 * rng.standard_normal((n_neurons, p)), 0.7 * rng.standard_normal((n, p))
            got = attempt(variance, u.copy(), v.copy(), list(a), m, what="variance")
            case = f"u of shape {u.shape}, v of shape {v.shape}, a = {[round(t, 3) for t in a]}, m = {m}"
            if isinstance(got, np.ndarray) and got.shape == (n_neurons, n) and n != n_neurons:
                raise ExerciseFailure("wrong", f"the variance has shape {got.shape} but should have shape "
                                               f"{(n, n_neurons)} for {case}",
                                      "hint: one row per input (v), one column per neuron (u): s = v uᵀ")
            hints = {
                "subtract the squared mean: Var = E[Z²] − (E Z)², and E Z = s^i for each order's product":
                    _variance(u, v, a, m, mean_term=False),
                "the Gaussian fourth moment is E[(gᵀu)²(gᵀv)²] = ‖u‖²‖v‖² + 2s² (Isserlis), twice s²":
                    _variance(u, v, a, m, isserlis=1.0),
                "the fourth moment needs the 2s² term of Isserlis' theorem, not ‖u‖²‖v‖² alone":
                    _variance(u, v, a, m, isserlis=0.0),
                "the coefficient enters squared: Var(a Z) = a² Var(Z)":
                    _variance(u, v, a, m, power_of_a=1),
                "the m rows of each order are averaged once: divide by m, not by m^i":
                    _variance(u, v, a, m, per_order_m=True),
                "the m rows are averaged: the variance of a mean of m independent terms carries 1/m":
                    m * _variance(u, v, a, m),
            }
            compare("the variance", got, estimator_variance(u, v, a, m), case=case, hints=hints)
        return f"{len(_VARIANCE_CASES)} problems, m = 1, a single input and neuron, and vectors of length 2 included"

    return verdict("Exercise 5.3: the variance of the estimator", run)


def _relu(s: np.ndarray) -> np.ndarray:
    return np.maximum(s, 0.0)


#: (name, function, degree k, R) of the Chebyshev-fit check.
_FIT_CASES = [("ReLU", _relu, 4, 3.0), ("ReLU", _relu, 3, 1.5), ("tanh", np.tanh, 5, 2.0), ("ReLU", _relu, 1, 0.5)]


def _interpolant(f: Callable, nodes: np.ndarray) -> np.ndarray:
    """Power-basis coefficients of the polynomial of degree len(nodes) - 1 through (nodes, f(nodes))."""
    return np.linalg.solve(np.vander(nodes, increasing=True), f(nodes))


def check_chebyshev_fit(chebyshev_fit: Callable) -> Feedback:
    r"""Exercise 5.4: a Chebyshev fit of an activation on :math:`[-R, R]`, in the power basis.

    The student's ``chebyshev_fit(f, k, R)`` returns the :math:`k+1` coefficients :math:`a_0..a_k` of the
    degree-:math:`k` polynomial that interpolates ``f`` at the Chebyshev points
    :math:`s_j = R\cos\frac{(2j+1)\pi}{2(k+1)}`, :math:`j = 0..k`. Compared with
    :func:`rpnumpy.polyfit.fit_polynomial` (``method="chebyshev"``).
    """

    def run() -> str:
        for name, f, k, R in _FIT_CASES:
            got = attempt(chebyshev_fit, f, k, R, what="chebyshev_fit")
            case = f"{name}, degree k = {k}, R = {R:g}"
            if isinstance(got, (list, tuple)):
                got = np.asarray(got, dtype=float)
            _check_shape("a", got, (k + 1,), case,
                         "a degree-k polynomial has k + 1 coefficients a_0..a_k: use k + 1 nodes")
            expected = fit_polynomial(f, k, R, method="chebyshev")
            t = np.cos((2 * np.arange(k + 1) + 1) * np.pi / (2 * (k + 1)))
            hints = {
                "those are coefficients in t = s/R: the result must be a polynomial in s itself (a_i scales as R^-i)":
                    expected * R ** np.arange(k + 1),
                "your polynomial interpolates f at nodes in [-1, 1]: map the nodes to [-R, R] by s_j = R t_j":
                    _interpolant(f, t),
                "your nodes lie in [0, R]: the interval is [-R, R], so s_j = R t_j":
                    _interpolant(f, R * (t + 1) / 2),
                "the coefficients come lowest power first (a_0 first); np.polyfit lists the highest power first":
                    expected[::-1],
                "those are equispaced nodes; the Chebyshev points cluster towards ±R: s_j = R cos((2j+1)π/(2k+2))":
                    _interpolant(f, np.linspace(-R, R, k + 1)),
                "those are the Chebyshev extrema R cos(jπ/k); use the zeros of T_(k+1), R cos((2j+1)π/(2k+2))":
                    _interpolant(f, R * np.cos(np.arange(k + 1) * np.pi / k)),
            }
            compare("a", got, expected, case=case, tolerance=1e-7, hints=hints)
            grid = np.linspace(-R, R, 201)
            compare("p(s) on a grid of [-R, R]", P.polyval(grid, got), P.polyval(grid, expected), case=case,
                    tolerance=1e-7)
        return f"{len(_FIT_CASES)} fits (ReLU and tanh, degrees 1 to 5, R from 0.5 to 3)"

    return verdict("Exercise 5.4: a Chebyshev fit of ReLU", run)
