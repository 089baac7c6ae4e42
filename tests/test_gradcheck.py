"""The gradient checker itself: its formula, its refusal of float32, and that it catches bugs."""

from __future__ import annotations

import numpy as np
import pytest

from rpnumpy.gradcheck import (
    GradcheckError,
    check_gradients,
    check_vjp,
    numerical_gradient,
    relative_error,
)
from rpnumpy.layers import Dense, Sequential, Tanh


def test_relative_error_formula():
    a = np.array([1.0, -4.0, 0.0])
    b = np.array([1.0, -4.0004, 0.0])
    assert relative_error(a, b) == pytest.approx(0.0004 / 4.0004, rel=1e-12)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.zeros(2), np.array([1e-9, 0.0])) == pytest.approx(1e-9 / 1e-8)  # the 1e-8 floor
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_of_known_function_and_restores_entries():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    before = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(np.sin(x) * x)), x)
    np.testing.assert_allclose(grad, np.sin(before) + before * np.cos(before), rtol=1e-8)
    np.testing.assert_array_equal(x, before)


def test_entry_is_restored_when_function_raises():
    x = np.array([1.0, 2.0])

    def boom() -> float:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        numerical_gradient(boom, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_refuses_float32():
    layer = Dense(3, 2, rng=0, dtype=np.float32)
    with pytest.raises(TypeError, match=r"gradient checks need float64, but x has dtype float32"):
        check_gradients(layer, np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(TypeError, match=r"params\['W'\] has dtype float32"):
        check_gradients(layer, np.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"array has dtype float32"):
        numerical_gradient(lambda: 0.0, np.zeros(2, dtype=np.float32))


class _BrokenDense(Dense):
    """dW is off by a transposed-batch mistake: x.T @ dy scaled by 1.001 on one column."""

    def _backward(self, dy, x):
        dx = super()._backward(dy, x)
        self.grads["W"][:, 0] *= 1.001
        return dx


class _BrokenInputGrad(Dense):
    def _backward(self, dy, x):
        super()._backward(dy, x)
        return dy @ self.params["W"].T * 0.999


def test_planted_bugs_are_caught(rng):
    x = rng.standard_normal((4, 5))
    report = check_gradients(_BrokenDense(5, 3, rng=0), x)
    assert not report.passed()
    failed = {row.name for row in report.rows if row.relative_error >= 1e-7}
    assert failed == {"W"}
    with pytest.raises(GradcheckError, match=r"gradient check failed"):
        report.raise_if_failed()
    report = check_gradients(_BrokenInputGrad(5, 3, rng=0), x)
    assert {row.name for row in report.rows if row.relative_error >= 1e-7} == {"x"}


def test_report_reads_well_and_sampling_limits_entries(rng):
    model = Sequential(Dense(20, 10, rng=0), Tanh(), Dense(10, 3, rng=1))
    report = check_gradients(model, rng.standard_normal((3, 20)), max_entries=15, title="mlp")
    assert [r.n_checked for r in report.rows] == [15, 10, 15, 3, 15]
    assert report.passed()
    text = str(report)
    assert "mlp: gradient check" in text and "0.W" in text and "PASS" in text
    assert "| `2.b` | param | (3,) | 3 |" in report.to_markdown()


def test_caller_input_is_not_modified(rng):
    x = rng.standard_normal((2, 4))
    before = x.copy()
    check_gradients(Dense(4, 2, rng=0), x)
    np.testing.assert_array_equal(x, before)


# -- check_vjp: a plain function and its hand-written vector-Jacobian product ----------------------------------
def _affine(x, w):
    return x @ w


def test_check_vjp_passes_a_correct_product_and_flags_wrong_ones(rng):
    x, w = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    dy = rng.standard_normal((4, 3))
    good = check_vjp(_affine, (x, w), dy, (dy @ w.T, x.T @ dy))
    assert good.passed() and good.relative_error < 1e-9
    # A transposed product for w (x.T @ dy is (5, 3); dy.T @ x is its transpose, so reshape it wrongly).
    square_x, square_w = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    square_dy = rng.standard_normal((4, 4))
    transposed = check_vjp(_affine, (square_x, square_w), square_dy, (square_dy @ square_w.T, square_dy.T @ square_x))
    assert not transposed.passed()
    assert transposed.rows[0].relative_error < 1e-9 and transposed.rows[1].relative_error > 0.1  # names the input
    # A missing factor: the derivative of tanh without the chain rule's (1 - tanh^2).
    dt = rng.standard_normal((4, 5))
    missing = check_vjp(np.tanh, x, dt, dt)
    assert not missing.passed() and missing.relative_error > 0.1
    text = str(missing)
    assert "x (4, 5): relative error" in text and "WRONG" in text and "yours" in text and "FAIL" in text
    index, analytic, numeric = missing.rows[0].worst[0]
    assert abs(analytic - numeric) == pytest.approx(np.abs(dt - dt * (1 - np.tanh(x) ** 2)).max(), rel=1e-6)
    assert dt[index] == analytic  # the worst entry is reported by its index, with the value given


def test_check_vjp_single_input_and_validation(rng):
    x, dy = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    assert check_vjp(np.sin, x, dy, dy * np.cos(x)).passed()
    x_before = x.copy()
    check_vjp(lambda a: a.__imul__(2), x, dy, 2 * dy)  # f may even write into its argument: it gets copies
    np.testing.assert_array_equal(x, x_before)
    with pytest.raises(TypeError, match=r"gradient checks need float64, but x has dtype float32"):
        check_vjp(np.sin, x.astype(np.float32), dy, dy)
    with pytest.raises(ValueError, match=r"dx must have the shape of x, \(3, 2\), got \(2, 3\)"):
        check_vjp(np.sin, x, dy, dy.T)
    with pytest.raises(ValueError, match=r"dy must have the shape of f's output, \(3, 2\), got \(2,\)"):
        check_vjp(np.sin, x, dy[0], dy)
    with pytest.raises(ValueError, match=r"dx must hold one gradient per input: 2 inputs, got 1 gradients"):
        check_vjp(_affine, (x, x.T), dy, (dy,))
    with pytest.raises(TypeError, match=r"dx must be a numpy.ndarray, got NoneType"):
        check_vjp(np.sin, x, dy, None)
