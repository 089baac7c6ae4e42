"""The gradient checker itself: its formula, its refusal of float32, and that it catches bugs."""

from __future__ import annotations

import numpy as np
import pytest

from rpnumpy.gradcheck import (
    GradcheckError,
    check_gradients,
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
