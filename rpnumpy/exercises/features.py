r"""Checks for the exercises of notebook 03 (universal random features and SNNK).

Exercise 3.1 builds the two towers of :math:`\cos(w^\top x + b)` with the variance parameter
:math:`M`; exercise 3.2 the arc-cosine kernel :math:`k_1` that the ReLU tower estimates; exercise 3.3
the backward pass of the cos/sin input tower. Each check compares with :mod:`rpnumpy.features`
(the same random directions ``G``, taken from a tower built from a seed), and 3.3 also with central
differences (:func:`rpnumpy.gradcheck.check_vjp`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..features import arc_cosine_kernel, random_feature_tower
from ..gradcheck import check_vjp
from .feedback import ExerciseFailure, Feedback, attempt, compare, diagnose, unpack, verdict

__all__ = ["check_arc_cosine_kernel", "check_cos_towers", "check_trig_input_backward"]


def _rows(rng: np.random.Generator, n: int, d: int, norm: float) -> np.ndarray:
    """``n`` random rows in R^d, each of the given norm."""
    a = rng.standard_normal((n, d))
    return a * (norm / np.linalg.norm(a, axis=1, keepdims=True))


#: (n, n_w, d, m, M) of exercise 3.1 (n inputs, n_w weight vectors): a usual case, a single input and a single
#: neuron with M > 0, d = 1, and a high-dimensional input where (1+4M)^(d/4) alone overflows float64
#: (1.2^4000 ~ 1e316).
_COS_CASES = [(5, 3, 4, 16, 0.0), (1, 1, 3, 8, 0.5), (3, 2, 1, 5, 0.2), (2, 2, 16_000, 8, 0.05)]


def check_cos_towers(cos_towers: Callable) -> Feedback:
    r"""Exercise 3.1: the towers of :math:`\cos(w^\top x + b)`, with a bias and the variance parameter :math:`M`.

    The student's ``cos_towers(x, w, b, G, M)`` returns ``(Phi, Psi)``: :math:`\Phi(x) = [\mu\odot\cos\Theta,
    \mu\odot\sin\Theta]` of shape ``(n, 2m)`` and :math:`\Psi(w, b) = [\nu\cos b, -\nu\sin b]` of shape
    ``(l, 2m)``, equal to :class:`~rpnumpy.features.CosTower`'s ``input_features`` and ``weight_features``
    for the same ``G``.
    """

    def run() -> str:
        rng = np.random.default_rng(30)
        for n, n_w, d, m, M in _COS_CASES:
            tower = random_feature_tower("cos", d, m, variance_param=M, rng=31 + d)
            G = np.array(tower.G)  # a writeable copy: the student may do anything with it
            x, w = _rows(rng, n, d, 0.6), _rows(rng, n_w, d, 0.7)
            b = rng.uniform(-1.5, 1.5, n_w)
            case = f"x {x.shape}, w {w.shape}, G {G.shape}, M = {M}"
            try:
                result = attempt(cos_towers, x, w, b, G, M, what="cos_towers")
            except ExerciseFailure as failure:
                if failure.status == "error" and d > 1000:
                    raise ExerciseFailure("error", *failure.lines, f"this happened for {case}",
                                          "hint: for d = 16000 and M = 0.05, (1+4M)^(d/4) = 1.2^4000 is about 1e316: "
                                          "it overflows a float; add its logarithm to the exponent instead") from None
                raise
            phi, psi = unpack(result, ("Phi", "Psi"), "cos_towers")
            expected_phi, expected_psi = tower.input_features(x), tower.weight_features(w, b)
            for name, got in (("Phi", phi), ("Psi", psi)):
                if isinstance(got, np.ndarray) and got.shape == (n if name == "Phi" else n_w, 2 * m) \
                        and not np.all(np.isfinite(got)):
                    hint = ("hint: (1+4M)^(d/4) overflows here; keep log C = (d/4) log(1+4M) - (1/2) log m "
                            "inside the exponent, next to -M ||g_k||^2" if d > 1000 else
                            "hint: every feature is a finite exponential times a cos or sin")
                    raise ExerciseFailure("wrong", f"{name} has non-finite entries for {case}", hint)
            _compare_phi(phi, expected_phi, x, G, M, case)
            _compare_psi(psi, expected_psi, w, b, G, M, case)
        return (f"{len(_COS_CASES)} cases: M = 0 and M > 0, a single input and a single neuron, d = 1, "
                "and d = 16000 where the constant needs log space")

    return verdict("Exercise 3.1: the cos tower with a bias", run)


def _naive_towers(x: np.ndarray, w: np.ndarray, b: np.ndarray, G: np.ndarray, M: float, *,
                  gamma: float | None = None, log_c: float | None = None, norm_penalty: bool = True):
    """The towers with one ingredient changed, to recognise plausible mistakes."""
    d, m = G.shape
    gamma = math.sqrt(1 + 4 * M) if gamma is None else gamma
    log_c = 0.25 * d * math.log1p(4 * M) - 0.5 * math.log(m) if log_c is None else log_c
    g_sq = np.sum(G**2, axis=0) if norm_penalty else np.zeros(m)
    theta = gamma * (x @ G)
    mu = np.exp(0.5 * np.sum(x**2, axis=1, keepdims=True) + log_c - M * g_sq)
    nu = np.exp(gamma * (w @ G) - 0.5 * np.sum(w**2, axis=1, keepdims=True) + log_c - M * g_sq)
    return mu, theta, nu


def _finite(hints: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The hints whose arrays are finite (a wrong constant can overflow where the right one does not)."""
    return {hint: wrong for hint, wrong in hints.items() if np.all(np.isfinite(wrong))}


def _compare_phi(phi, expected, x, G, M, case) -> None:
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        hints = _phi_hints(x, G, M)
    compare("Phi", phi, expected, case=case, hints=_finite(hints))


def _phi_hints(x, G, M) -> dict[str, np.ndarray]:
    m = G.shape[1]
    hints = {}
    mu, theta, _ = _naive_towers(x, x, np.zeros(len(x)), G, M, gamma=1.0)
    hints["the projection is gamma x G with gamma = sqrt(1 + 4M), not x G"] = np.concatenate(
        [mu * np.cos(theta), mu * np.sin(theta)], axis=1)
    mu, theta, _ = _naive_towers(x, x, np.zeros(len(x)), G, M, log_c=-0.5 * math.log(m))
    hints["the constant C = (1+4M)^(d/4) / sqrt(m) is missing its first factor"] = np.concatenate(
        [mu * np.cos(theta), mu * np.sin(theta)], axis=1)
    mu, theta, _ = _naive_towers(x, x, np.zeros(len(x)), G, M, norm_penalty=False)
    hints["each direction carries the factor e^(-M ||g_k||^2), one per column of G"] = np.concatenate(
        [mu * np.cos(theta), mu * np.sin(theta)], axis=1)
    mu, theta, _ = _naive_towers(x, x, np.zeros(len(x)), G, M)
    hints["the input tower grows with the norm: e^(+||x||^2/2), not e^(-||x||^2/2)"] = np.concatenate(
        [mu * np.exp(-np.sum(x**2, axis=1, keepdims=True)) * np.cos(theta),
         mu * np.exp(-np.sum(x**2, axis=1, keepdims=True)) * np.sin(theta)], axis=1)
    return hints


def _compare_psi(psi, expected, w, b, G, M, case) -> None:
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        hints = _psi_hints(w, b, G, M)
    compare("Psi", psi, expected, case=case, hints=_finite(hints))


def _psi_hints(w, b, G, M) -> dict[str, np.ndarray]:
    _, _, nu = _naive_towers(w, w, b, G, M)
    cos_b, sin_b = np.cos(b)[:, None], np.sin(b)[:, None]
    hints = {
        "cos(theta + b) = cos(theta) cos(b) - sin(theta) sin(b): check the sign of the second half":
            np.concatenate([nu * cos_b, nu * sin_b], axis=1),
        "the bias b is missing: it enters as a phase, through cos(b) and sin(b)":
            np.concatenate([nu, np.zeros_like(nu)], axis=1),
        "the two halves are swapped (that arrangement gives sin(w.x + b))":
            np.concatenate([nu * sin_b, nu * cos_b], axis=1),
    }
    _, _, nu_plain = _naive_towers(w, w, b, G, M, gamma=1.0)
    hints["the parameter tower also uses gamma = sqrt(1 + 4M): e^(gamma g_k.w - ...)"] = np.concatenate(
        [nu_plain * cos_b, -nu_plain * sin_b], axis=1)
    return hints


def check_arc_cosine_kernel(arc_cosine: Callable) -> Feedback:
    r"""Exercise 3.2: :math:`k_1(x, w) = \frac{\|x\|\|w\|}{2\pi}(\sin\omega + (\pi - \omega)\cos\omega)`.

    The student's ``arc_cosine(x, w)`` takes ``x`` of shape ``(n, d)`` and ``w`` of shape ``(l, d)`` and
    returns the ``(n, l)`` matrix of kernel values, compared with :func:`rpnumpy.features.arc_cosine_kernel`.
    """

    def run() -> str:
        rng = np.random.default_rng(32)
        x1 = rng.standard_normal((1, 5))
        cases = [
            ("random x (4, 6) and w (3, 6)", rng.standard_normal((4, 6)), 0.7 * rng.standard_normal((3, 6))),
            ("one input x against w = x, 2x, 3x, 0.3x, 0.7x, -x, -3x (angles 0 and pi)", x1,
             np.array([1.0, 2.0, 3.0, 0.3, 0.7, -1.0, -3.0])[:, None] * x1),
            ("d = 1: every pair parallel or opposite", rng.standard_normal((3, 1)), rng.standard_normal((2, 1))),
            ("a single neuron w (1, 4) and x (5, 4)", rng.standard_normal((5, 4)), rng.standard_normal((1, 4))),
        ]
        for case, x, w in cases:
            got = attempt(arc_cosine, x, w, what="arc_cosine")
            expected = arc_cosine_kernel(x, w)
            if isinstance(got, np.ndarray) and got.shape == expected.shape and not np.all(np.isfinite(got)):
                bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
                raise ExerciseFailure("wrong", f"k1 holds {got[bad]} at index {bad} for {case}",
                                      "hint: rounding can push cos(omega) just past 1 or -1, where arccos is nan: "
                                      "clip it to [-1, 1] first")
            compare("k1", got, expected, case=case, hints=_kernel_hints(x, w))
        return f"{len(cases)} inputs, including parallel and opposite vectors and d = 1"

    return verdict("Exercise 3.2: the arc-cosine kernel", run)


def _kernel_hints(x: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    norms = np.linalg.norm(x, axis=1)[:, None] * np.linalg.norm(w, axis=1)[None, :]
    cos = np.clip((x @ w.T) / norms, -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sqrt(1 - cos**2)
    return {
        "that is Cho and Saul's normalisation (1/pi); the plain expectation E[relu(g.x) relu(g.w)] has 1/(2 pi)":
            norms * (sin + (np.pi - omega) * cos) / np.pi,
        "the angular factor is (pi - omega) cos(omega), not pi cos(omega)": norms * (sin + np.pi * cos) / (2 * np.pi),
        "the kernel scales with both norms, ||x|| ||w||; you have the value for unit vectors":
            (sin + (np.pi - omega) * cos) / (2 * np.pi),
        "that is ReLU(w.x), what the tower does not estimate": np.maximum(x @ w.T, 0.0),
    }


#: (n, d, m) of exercise 3.3: a usual batch, one sample, one direction, d = 1.
_BACKWARD_CASES = [(4, 3, 6), (1, 5, 4), (3, 4, 1), (2, 1, 3)]


def check_trig_input_backward(trig_input_backward: Callable) -> Feedback:
    r"""Exercise 3.3: :math:`\partial L/\partial x` of the cos/sin input tower at :math:`M = 0`.

    The student's ``trig_input_backward(x, G, d_phi)`` returns ``dx`` of shape ``(n, d)`` for
    :math:`\Phi(x) = [\mu\odot\cos(xG), \mu\odot\sin(xG)]`, :math:`\mu_{ik} = e^{\|x_i\|^2/2}/\sqrt m`, and the
    upstream gradient ``d_phi`` of shape ``(n, 2m)``. Compared with central differences and with
    :meth:`rpnumpy.features.CosTower.backward_input`.
    """

    def run() -> str:
        rng = np.random.default_rng(33)
        worst = 0.0
        for n, d, m in _BACKWARD_CASES:
            tower = random_feature_tower("cos", d, m, rng=34 + m)
            G = np.array(tower.G)
            x = _rows(rng, n, d, 0.8)
            d_phi = rng.standard_normal((n, 2 * m))
            case = f"x {x.shape}, G {G.shape}"
            dx = attempt(trig_input_backward, x, G, d_phi, what="trig_input_backward")
            phi, cache = tower.forward_input(x)
            expected = tower.backward_input(d_phi, cache)
            if isinstance(dx, np.ndarray) and dx.shape == x.shape and np.all(np.isfinite(dx)):
                vjp = check_vjp(tower.input_features, x, d_phi, dx.astype(np.float64))
                if not vjp.passed():
                    row = vjp.rows[0]
                    index, yours, numeric = row.worst[0]
                    lines = [f"dx is wrong for {case}: central differences disagree, relative error "
                             f"{vjp.relative_error:.2g}",
                             f"the largest difference is at index {index}: yours {yours:.6g}, "
                             f"central differences {numeric:.6g}"]
                    hint = diagnose(dx, _backward_hints(x, G, d_phi, phi), tolerance=1e-6)
                    if hint:
                        lines.append(f"hint: {hint}")
                    raise ExerciseFailure("wrong", *lines)
                worst = max(worst, vjp.relative_error)
            compare("dx", dx, expected, case=case, hints=_backward_hints(x, G, d_phi, phi))
        return (f"{len(_BACKWARD_CASES)} inputs (one sample, one direction, d = 1); "
                f"central differences agree to {worst:.1e}")

    return verdict("Exercise 3.3: the backward pass of the trig input tower", run)


def _backward_hints(x: np.ndarray, G: np.ndarray, d_phi: np.ndarray, phi: np.ndarray) -> dict[str, np.ndarray]:
    m = G.shape[1]
    d_cos, d_sin = d_phi[:, :m], d_phi[:, m:]
    f_cos, f_sin = phi[:, :m], phi[:, m:]
    d_theta = d_sin * f_cos - d_cos * f_sin
    d_log_mu = (d_cos * f_cos + d_sin * f_sin).sum(axis=1, keepdims=True)
    return {
        "the norm term is missing: mu = e^(||x||^2/2)/sqrt(m) depends on x too": d_theta @ G.T,
        "d(||x||^2/2)/dx is x, not 2x": d_theta @ G.T + 2 * d_log_mu * x,
        "check the signs: d cos/d theta = -sin, d sin/d theta = +cos": -d_theta @ G.T + d_log_mu * x,
        "the norm term has a wrong sign: mu grows with ||x||": d_theta @ G.T - d_log_mu * x,
    }
