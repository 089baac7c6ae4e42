r"""Checks for the exercises of notebook 02 (PRP layers and Johnson-Lindenstrauss).

The PRP layer, in the course's row convention, is :math:`y = ((x \odot \alpha) P) \odot w + b` with
:math:`P \in \mathbb R^{d_{in}\times d_{out}}` fixed and :math:`\alpha \in \mathbb R^{d_{in}}`,
:math:`w, b \in \mathbb R^{d_{out}}` trained. The checks compare the student's functions with the
library's own computation: :attr:`rpnumpy.layers.PRP.effective_weight`, :meth:`rpnumpy.layers.PRP.backward`,
:meth:`rpnumpy.layers.PRPAutoencoder.true_gradient_of_P` and
:func:`rpnumpy.jl.johnson_lindenstrauss_min_dim`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real

import numpy as np

from ..jl import johnson_lindenstrauss_min_dim
from ..layers.prp import PRP, PRPAutoencoder
from .feedback import ExerciseFailure, Feedback, attempt, compare, unpack, verdict

__all__ = ["check_effective_weight", "check_prp_backward", "check_tied_gradient_of_P", "check_jl_min_dim"]

#: Shapes (d_in, d_out) of the PRP checks: a usual layer, one input, one output, a square one.
_PRP_SHAPES = [(5, 3), (1, 4), (4, 1), (3, 3)]


def _perturb(layer: PRP | PRPAutoencoder, seed: int) -> PRP | PRPAutoencoder:
    """Move every trainable vector off its initial value: scales uniform in [0.5, 1.5], biases N(0, 0.5^2)."""
    rng = np.random.default_rng(seed)
    for key, value in layer.params.items():
        value[...] = rng.normal(0.0, 0.5, value.shape) if key.startswith("b") else rng.uniform(0.5, 1.5, value.shape)
    return layer


def _random_prp(d_in: int, d_out: int, seed: int) -> PRP:
    """A float64 PRP layer with every trainable vector moved off its initial value (no entry 0 or 1)."""
    return _perturb(PRP(d_in, d_out, rng=seed), seed + 100)


def check_effective_weight(effective_weight: Callable) -> Feedback:
    r"""Exercise 2.1: the effective weight :math:`W_{eff} = P \odot (\alpha w^\top)` of a PRP layer.

    The student's ``effective_weight(P, alpha, w)`` receives :math:`P` of shape ``(d_in, d_out)``,
    :math:`\alpha` of shape ``(d_in,)`` and :math:`w` of shape ``(d_out,)``, and returns the
    ``(d_in, d_out)`` matrix with :math:`(W_{eff})_{ij} = \alpha_i P_{ij} w_j`, so that
    :math:`y = x W_{eff} + b`.
    """

    def run() -> str:
        for seed, (d_in, d_out) in enumerate(_PRP_SHAPES):
            layer = _random_prp(d_in, d_out, seed)
            P, alpha, w = layer.buffers["P"], layer.params["alpha"], layer.params["w"]
            got = attempt(effective_weight, P, alpha, w, what="effective_weight")
            square = d_in == d_out
            compare("W_eff", got, layer.effective_weight, case=f"P of shape {P.shape}", hints={
                "alpha scales the rows of P (one per input) and w its columns (one per output), not the other way "
                "round": P * np.outer(w, alpha) if square else np.zeros(0),
                "the mask alpha w^T multiplies P entry by entry: P itself is missing": np.outer(alpha, w),
                "w is missing: each column j of P is scaled by w_j too": P * alpha[:, None],
                "alpha is missing: each row i of P is scaled by alpha_i too": P * w[None, :],
                "that is a matrix product of P with the mask; the mask multiplies P entry by entry":
                    (P @ np.outer(alpha, w).T if square else np.zeros(0)),
            })
        return f"{len(_PRP_SHAPES)} layers, including one input, one output and a square P"

    return verdict("Exercise 2.1: the effective weight of a PRP layer", run)


def check_prp_backward(prp_backward: Callable) -> Feedback:
    r"""Exercise 2.2: PRP's backward pass.

    The student's ``prp_backward(dy, x, alpha, P, w)`` receives the upstream gradient
    :math:`\delta = \partial L/\partial y` of shape ``(n, d_out)``, the layer's input :math:`x` of shape
    ``(n, d_in)``, and :math:`\alpha`, :math:`P`, :math:`w`; it returns ``(dx, dalpha, dw, db)``:

    .. math::

        \delta_U = (\delta \odot w) P^\top, \quad \frac{\partial L}{\partial x} = \delta_U \odot \alpha, \quad
        \frac{\partial L}{\partial \alpha} = \textstyle\sum_n \delta_U \odot x, \quad
        \frac{\partial L}{\partial w} = \textstyle\sum_n \delta \odot Z, \quad
        \frac{\partial L}{\partial b} = \textstyle\sum_n \delta,

    with :math:`Z = (x \odot \alpha) P`. The reference is :meth:`rpnumpy.layers.PRP.backward`.
    """
    shapes = [(4, 5, 3), (1, 4, 2), (3, 3, 1), (2, 1, 3), (3, 4, 4)]

    def run() -> str:
        for seed, (n, d_in, d_out) in enumerate(shapes):
            layer = _random_prp(d_in, d_out, seed)
            P, alpha, w = layer.buffers["P"], layer.params["alpha"], layer.params["w"]
            rng = np.random.default_rng(seed + 200)
            x, dy = rng.standard_normal((n, d_in)), rng.standard_normal((n, d_out))
            result = attempt(prp_backward, dy, x, alpha, P, w, what="prp_backward")
            dx, dalpha, dw, db = unpack(result, ("dx", "dalpha", "dw", "db"), "prp_backward")
            layer.forward(x)
            expected_dx = layer.backward(dy)
            grads = layer.grads
            case = f"x of shape {x.shape}, P of shape {P.shape}"
            g_u = (dy * w) @ P.T
            z = (x * alpha) @ P
            square = d_in == d_out
            compare("dx", dx, expected_dx, case=case, hints={
                "dx is delta_U times alpha: the input modulation alpha is missing": g_u,
                "the upstream gradient must be multiplied by w before the product with P^T": (dy @ P.T) * alpha,
                "the product with P goes back through P^T, not P": ((dy * w) @ P) * alpha if square else np.zeros(0),
            })
            compare("dalpha", dalpha, grads["alpha"], case=case, hints={
                "dalpha sums delta_U * x over the batch; the factor w inside delta_U is missing":
                    ((dy @ P.T) * x).sum(axis=0),
                "dalpha is a sum over the batch (axis=0), not a mean": (g_u * x).mean(axis=0),
                "dalpha multiplies delta_U by the input x, not by alpha": (g_u * alpha).sum(axis=0),
            })
            compare("dw", dw, grads["w"], case=case, hints={
                "dw multiplies delta by Z = (x * alpha) P: the factor alpha inside Z is missing":
                    (dy * (x @ P)).sum(axis=0),
                "dw is a sum over the batch (axis=0), not a mean": (dy * z).mean(axis=0),
                "dw multiplies delta by Z, the output before the modulation by w and the bias":
                    (dy * (z * w + layer.params["b"])).sum(axis=0),
            })
            compare("db", db, grads["b"], case=case, hints={
                "db is the sum over the batch, not the mean": dy.mean(axis=0),
            })
        return f"{len(shapes)} inputs, including a single sample, a single input and a single output"

    return verdict("Exercise 2.2: PRP's backward pass", run)


def _autoencoder_terms(ae: PRPAutoencoder, x: np.ndarray, dy: np.ndarray) -> dict[str, np.ndarray]:
    """Plausible wrong answers for a linear tied autoencoder (identity activations)."""
    p, P = ae.params, ae.buffers["P"]
    h = ((x * p["alpha_e"]) @ P) * p["w_e"] + p["b_e"]
    delta_e = ((dy * p["w_d"]) @ P) * p["alpha_d"]
    encoder = (x * p["alpha_e"]).T @ (delta_e * p["w_e"])
    decoder = (h * p["alpha_d"]).T @ (dy * p["w_d"])  # (k, d): the gradient for P^T, not yet for P
    no_alpha_d = (x * p["alpha_e"]).T @ (((dy * p["w_d"]) @ P) * p["w_e"])
    return {"encoder": encoder, "decoder": decoder.T, "decoder_untransposed": decoder, "no_alpha_d": no_alpha_d}


def check_tied_gradient_of_P(tied_gradient_of_P: Callable) -> Feedback:
    r"""Exercise 2.3: the gradient of the tied autoencoder's shared matrix :math:`P`.

    The autoencoder (identity activations) is :math:`h = ((x\odot\alpha_e)P)\odot w_e + b_e`,
    :math:`\hat x = ((h\odot\alpha_d)P^\top)\odot w_d + b_d`. The student's
    ``tied_gradient_of_P(x, dy, P, params)`` receives :math:`x` (``(n, d)``), :math:`\delta = \partial L/\partial
    \hat x` (``(n, d)``), :math:`P` (``(d, k)``) and the dict ``params`` of the six vectors (``alpha_e``,
    ``w_e``, ``b_e``, ``alpha_d``, ``w_d``, ``b_d``), and returns :math:`\partial L/\partial P` of shape
    ``(d, k)``: the sum of the encoder's and the decoder's contributions. The reference is
    :meth:`rpnumpy.layers.PRPAutoencoder.true_gradient_of_P`, itself checked against central differences on
    the shared buffer in ``tests/test_prp.py``.
    """
    shapes = [(4, 6, 3), (1, 5, 2), (3, 4, 1), (2, 3, 3)]

    def run() -> str:
        for seed, (n, d, k) in enumerate(shapes):
            ae = PRPAutoencoder(d, k, hidden_activation=None, output_activation=None, scheme="gaussian", rng=seed)
            _perturb(ae, seed + 300)
            rng = np.random.default_rng(seed + 400)
            x, dy = rng.standard_normal((n, d)), rng.standard_normal((n, d))
            params = {key: value.copy() for key, value in ae.params.items()}
            got = attempt(tied_gradient_of_P, x, dy, ae.buffers["P"], params, what="tied_gradient_of_P")
            ae.forward(x)
            expected = ae.true_gradient_of_P(dy)
            terms = _autoencoder_terms(ae, x, dy)
            compare("dP", got, expected, case=f"x of shape {x.shape}, P of shape {(d, k)}", hints={
                "that is the encoder's contribution alone: P is used twice, and the decoder's use adds its own "
                "term": terms["encoder"],
                "that is the decoder's contribution alone: P is used twice, and the encoder's use adds its own "
                "term": terms["decoder"],
                "the decoder reads P^T, so its contribution to P is the transpose of the gradient for P^T":
                    terms["encoder"] + terms["decoder_untransposed"] if d == k else np.zeros(0),
                "on the way back to the code h the decoder's input modulation alpha_d is missing":
                    terms["no_alpha_d"] + terms["decoder"],
                "the two uses' contributions add up; they are not averaged": (terms["encoder"] + terms["decoder"]) / 2,
            })
        return f"{len(shapes)} autoencoders, including a single sample, a bottleneck of 1 and k = d"

    return verdict("Exercise 2.3: the gradient of the tied autoencoder's shared P", run)


def _as_dimension(value: object, case: str) -> int:
    """The student's k as an int, or an ExerciseFailure saying why it is not one."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.ndarray)):
        raise ExerciseFailure("wrong", f"k must be a number for {case}; you returned {type(value).__name__}")
    if isinstance(value, np.ndarray):
        if value.shape != ():
            raise ExerciseFailure("wrong", f"k must be a single number for {case}; you returned an array of "
                                           f"shape {value.shape}")
        value = value.item()
    if isinstance(value, Integral):
        return int(value)
    if not math.isfinite(value):
        raise ExerciseFailure("wrong", f"k is {value} for {case}: it must be a finite number",
                              "hint: check the denominator eps^2/2 - eps^3/3 (and n >= 1)")
    if value != math.floor(value):
        raise ExerciseFailure("wrong", f"k is {value} for {case}, not a whole number",
                              "hint: k is a dimension: the smallest integer that satisfies the inequality")
    return int(value)


def check_jl_min_dim(jl_min_dim: Callable) -> Feedback:
    r"""Exercise 2.4: the Johnson-Lindenstrauss minimum dimension.

    The student's ``jl_min_dim(n, eps)`` returns the smallest integer
    :math:`k \ge 4 \ln n / (\varepsilon^2/2 - \varepsilon^3/3)` for ``n`` points and distortion
    ``eps`` in (0, 1). The reference is :func:`rpnumpy.jl.johnson_lindenstrauss_min_dim`.
    """
    cases = [(100, 0.2), (300, 0.2), (10_000, 0.5), (1_000_000, 0.1), (2, 0.9), (1, 0.5), (60_000, 0.05)]

    def run() -> str:
        for n, eps in cases:
            case = f"n = {n}, eps = {eps}"
            k = _as_dimension(attempt(jl_min_dim, n, eps, what="jl_min_dim"), case)
            expected = int(johnson_lindenstrauss_min_dim(n, eps))
            denominator = eps**2 / 2 - eps**3 / 3
            bound = 4 * math.log(n) / denominator
            hints = {
                "that is one less than the answer: round the bound up (the smallest integer k >= bound), "
                "not down": math.floor(bound) if expected > 0 else None,
                "the lemma's logarithm is the natural one (ln), not log10": math.ceil(4 * math.log10(n) / denominator),
                "the lemma's logarithm is the natural one (ln), not log2": math.ceil(4 * math.log2(n) / denominator),
                "the denominator is eps^2/2 - eps^3/3: the cubic term is missing":
                    math.ceil(4 * math.log(n) / (eps**2 / 2)),
                "the cubic term is subtracted: eps^2/2 - eps^3/3":
                    math.ceil(4 * math.log(n) / (eps**2 / 2 + eps**3 / 3)),
                "the bound has the factor 4 ln n in the numerator": math.ceil(math.log(n) / denominator),
            }
            if k != expected:
                hint = next((text for text, wrong in hints.items() if wrong is not None and k == wrong), None)
                lines = [f"k is wrong for {case}: yours {k}, expected {expected}",
                         f"the bound 4 ln n / (eps^2/2 - eps^3/3) is {bound:.4f} there"]
                raise ExerciseFailure("wrong", *lines, *([f"hint: {hint}"] if hint else []))
        return f"{len(cases)} (n, eps) pairs, including n = 1 (no pair at all) and n = 1,000,000"

    return verdict("Exercise 2.4: the Johnson-Lindenstrauss minimum dimension", run)

