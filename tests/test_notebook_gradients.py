"""The claims of notebooks 00 (foundations) and 06 (verifying gradients) about gradient checks, on small inputs.

The notebooks show one run of each; these tests hold the claims their prose makes:

* central differences have a V-shaped error whose bottom is near :math:`u^{2/3}` (:math:`u` the unit
  round-off) at a step near :math:`u^{1/3}`: about 1e-11 in float64 and 1e-6 to 1e-5 in float32;
* a float32 check of a small network cannot get below 10x the float64 pass threshold at any step;
* a real bug of a few 1e-4 (the tanh approximation's derivative behind an exact GELU) is separated from
  correct code by orders of magnitude in float64 and indistinguishable from it in float32;
* the per-array report of ``check_gradients`` points at the arrays a planted bug breaks, and nothing else;
* the expected values of the exercise checks agree with central differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rpnumpy.exercises import foundations, gradients
from rpnumpy.gradcheck import PASS_THRESHOLD, check_gradients, check_vjp, relative_error
from rpnumpy.layers import GELU, Dense, Layer, ReLU, Sequential
from rpnumpy.losses import SoftmaxCrossEntropy
from rpnumpy.testing import get_case


# -- notebook 06, section 1: the V curve -----------------------------------------------------------------------
def _median_errors(dtype, steps, points, central=True):
    def f(x):
        return np.sin(x) * np.exp(x)

    exact = (np.cos(points) + np.sin(points)) * np.exp(points)
    errors = []
    for h in steps:
        x, step = points.astype(dtype), dtype(h)
        estimate = (f(x + step) - f(x - step)) / (dtype(2) * step) if central else (f(x + step) - f(x)) / step
        errors.append(float(np.median(np.abs(estimate.astype(np.float64) - exact) / np.abs(exact))))
    return np.array(errors)


def test_the_v_curve_bottoms_out_near_u_to_the_two_thirds():
    points = np.random.default_rng(0).uniform(0.5, 1.5, 50)
    steps = np.logspace(-13, 0, 53)
    bottoms = {}
    for dtype in (np.float64, np.float32):
        errors = _median_errors(dtype, steps, points)
        best = int(np.argmin(errors))
        bottoms[dtype] = (steps[best], errors[best])
        u = np.finfo(dtype).eps / 2
        assert 0.1 < errors[best] / u ** (2 / 3) < 10, (dtype, errors[best])
        assert 0.1 < steps[best] / u ** (1 / 3) < 10, (dtype, steps[best])
    (h64, e64), (h32, e32) = bottoms[np.float64], bottoms[np.float32]
    assert 1e-7 <= h64 <= 1e-4 and e64 < 1e-10
    assert 1e-3 <= h32 <= 1e-1 and e32 > 1e-7
    # rpnumpy's default step is near the float64 bottom; the forward difference is far worse at its best.
    assert _median_errors(np.float64, [1e-6], points)[0] < 1e-9
    assert 100 * e64 < _median_errors(np.float64, steps, points, central=False).min()


# -- notebook 00, section 4.1: a float32 check of a small network ----------------------------------------------
def _tiny_network_errors(dtype, steps):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((5, 10)), rng.integers(0, 4, size=5)
    model = Sequential(Dense(10, 8, rng=1), ReLU(), Dense(8, 4, rng=2))
    for p in model.params.values():
        p += 0.1 * rng.standard_normal(p.shape)  # biases off zero
    loss = SoftmaxCrossEntropy()
    loss.forward(model.forward(x), t)
    model.backward(loss.backward())
    exact = model.grads["0.W"].copy()  # float64 analytic gradient: the reference
    model = model.astype(dtype)
    xs, W = x.astype(dtype), model.params["0.W"]
    errors = []
    for h in steps:
        numeric = np.zeros(W.shape)
        for i in np.ndindex(W.shape):
            original = W[i]
            W[i] = original + dtype(h)
            plus = loss.forward(model.forward(xs), t)
            W[i] = original - dtype(h)
            minus = loss.forward(model.forward(xs), t)
            W[i] = original
            numeric[i] = (float(plus) - float(minus)) / (2 * float(dtype(h)))
        errors.append(relative_error(exact, numeric))
    return np.array(errors)


def test_a_float32_check_of_a_small_network_never_gets_near_the_threshold():
    steps = 10.0 ** -np.arange(1, 13)
    float32 = _tiny_network_errors(np.float32, steps)
    assert float32.min() > 10 * PASS_THRESHOLD
    assert np.all(float32[steps <= 1e-9] >= 0.99)  # flat at 1: w + h rounds back to w, the difference is 0
    assert _tiny_network_errors(np.float64, [1e-6])[0] < 1e-8


# -- notebook 06, section 2: a bug float32 cannot see ------------------------------------------------------------
class _TanhGELUBackward(GELU):
    def _backward(self, dy, cache):
        x, _ = cache
        k = math.sqrt(2 / math.pi)
        t = np.tanh(k * (x + 0.044715 * x**3))
        return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x**2))


def _input_gradient_error(model, x, dy, h, entries):
    model.forward(x)
    analytic = model.backward(dy).reshape(-1)[entries]
    flat, numeric = x.reshape(-1), []
    for i in entries:
        original = flat[i]
        flat[i] = original + h
        plus = np.sum(model.forward(x) * dy, dtype=x.dtype)
        flat[i] = original - h
        minus = np.sum(model.forward(x) * dy, dtype=x.dtype)
        flat[i] = original
        numeric.append((plus - minus) / (x.dtype.type(2) * h))
    return relative_error(analytic, np.array(numeric))


def test_the_gelu_bug_is_plain_in_float64_and_invisible_in_float32():
    errors = {key: [] for key in ("ok64", "bug64", "ok32", "bug32")}
    for trial in range(12):
        rng = np.random.default_rng(trial)
        x, dy = rng.standard_normal((32, 128)), rng.standard_normal((32, 64))
        entries = rng.choice(x.size, 20, replace=False)
        for key, dtype, h, activation in (("ok64", np.float64, 1e-6, GELU),
                                          ("bug64", np.float64, 1e-6, _TanhGELUBackward),
                                          ("ok32", np.float32, 1e-3, GELU),
                                          ("bug32", np.float32, 1e-3, _TanhGELUBackward)):
            model = Sequential(Dense(128, 64, rng=trial, dtype=dtype), activation())
            errors[key].append(_input_gradient_error(model, x.astype(dtype), dy.astype(dtype), dtype(h), entries))
    assert max(errors["ok64"]) < PASS_THRESHOLD < min(errors["bug64"])
    assert min(errors["bug64"]) / max(errors["ok64"]) > 1e3
    assert 0.5 < np.median(errors["ok32"]) / np.median(errors["bug32"]) < 2


# -- notebook 06, section 3: the per-array report points at the bug -----------------------------------------------
class _StudentPRP(Layer):
    def __init__(self, P, alpha, w, b, *, planted_bug):
        super().__init__(np.float64)
        self.buffers["P"] = P
        for name, value in (("alpha", alpha), ("w", w), ("b", b)):
            self._add_param(name, value.copy())
        self.planted_bug = planted_bug

    def _forward(self, x):
        y0 = (x * self.params["alpha"]) @ self.buffers["P"]
        return y0 * self.params["w"] + self.params["b"], (x, y0)

    def _backward(self, dy, cache):
        x, y0 = cache
        P = self.buffers["P"]
        np.sum(dy, axis=0, out=self.grads["b"])
        np.sum(dy * y0, axis=0, out=self.grads["w"])
        d_xa = (dy * self.params["w"]) @ (P if self.planted_bug else P.T)
        np.sum(d_xa * x, axis=0, out=self.grads["alpha"])
        return d_xa * self.params["alpha"]


def test_the_report_points_at_the_arrays_a_missing_transpose_breaks():
    prp, x, dy = get_case("PRP[gaussian]").with_dims(d_in=6, d_out=6).sample(seed=6)
    arrays = {k: prp.params[k].copy() for k in ("alpha", "w", "b")}
    report = check_gradients(_StudentPRP(prp.buffers["P"].copy(), **arrays, planted_bug=True), x, dy=dy)
    failing = {row.name for row in report.rows if row.relative_error >= PASS_THRESHOLD}
    assert failing == {"alpha", "x"}
    assert all(row.relative_error < 1e-8 for row in report.rows if row.name in {"w", "b"})
    fixed = _StudentPRP(prp.buffers["P"].copy(), **arrays, planted_bug=False)
    assert check_gradients(fixed, x, dy=dy).max_relative_error < 1e-8
    np.testing.assert_allclose(fixed.forward(x), prp.forward(x), rtol=1e-14, atol=0)
    np.testing.assert_allclose(fixed.backward(dy), prp.backward(dy), rtol=1e-14, atol=1e-15)


# -- the exercise checks' expected values against central differences ---------------------------------------------
@pytest.mark.parametrize("shape", [(4, 6), (1, 5), (2, 3, 4)])
def test_the_layer_norm_formula_agrees_with_central_differences(shape):
    rng = np.random.default_rng(3)
    x, dy = 2.0 * rng.standard_normal(shape) + 1.0, rng.standard_normal(shape)
    gamma, beta = 1.0 + 0.5 * rng.standard_normal(shape[-1]), 0.5 * rng.standard_normal(shape[-1])
    _, cache = gradients.layer_norm_forward(x, gamma, beta)
    p = gradients._layer_norm_parts(dy, cache)
    dx = (p["g"] - p["mean_g"] - p["x_hat"] * p["mean_gx"]) / p["sigma"]
    result = check_vjp(lambda a, g, b: gradients.layer_norm_forward(a, g, b)[0], [x, gamma, beta], dy,
                       [dx, p["dgamma"], p["dbeta"]])
    assert result.relative_error < PASS_THRESHOLD, str(result)


def test_the_cross_entropy_and_l2_formulas_agree_with_central_differences():
    rng = np.random.default_rng(4)
    for _, logits, t in foundations._cross_entropy_cases(rng)[:3]:
        loss = SoftmaxCrossEntropy()
        loss.forward(logits, t)
        expected = (foundations._softmax(logits) - np.eye(logits.shape[1])[t]) / len(t)
        result = check_vjp(lambda z, loss=loss, t=t: np.array(loss.forward(z, t)), logits, np.array(1.0), expected)
        assert result.relative_error < PASS_THRESHOLD, str(result)
    x, dy = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    y = x / norm
    result = check_vjp(lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True), x, dy,
                       (dy - y * (y * dy).sum(axis=-1, keepdims=True)) / norm)
    assert result.relative_error < PASS_THRESHOLD, str(result)
