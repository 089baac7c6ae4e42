"""Losses: values, gradients against central differences, stability and validation."""

from __future__ import annotations

import numpy as np
import pytest

from rpnumpy.gradcheck import PASS_THRESHOLD, check_loss_gradient
from rpnumpy.losses import MeanSquaredError, SoftmaxCrossEntropy, log_softmax


def test_cross_entropy_value_and_gradient_by_formula(rng):
    z = rng.standard_normal((6, 4))
    t = rng.integers(0, 4, 6)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    loss = SoftmaxCrossEntropy()
    assert loss.forward(z, t) == pytest.approx(-np.mean(np.log(p[np.arange(6), t])), rel=1e-14)
    expected = p.copy()
    expected[np.arange(6), t] -= 1
    np.testing.assert_allclose(loss.backward(), expected / 6, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("loss", "make_target"),
    [
        (SoftmaxCrossEntropy(), lambda rng: rng.integers(0, 5, 7)),
        (MeanSquaredError(), lambda rng: rng.standard_normal((7, 5))),
    ],
    ids=["cross-entropy", "mse"],
)
def test_loss_gradients_match_central_differences(loss, make_target, rng):
    report = check_loss_gradient(loss, rng.standard_normal((7, 5)), make_target(rng))
    assert report.max_relative_error < PASS_THRESHOLD, str(report)


def test_cross_entropy_is_stable_for_huge_logits():
    z = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4]])
    loss = SoftmaxCrossEntropy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is harmless
        value = loss.forward(z, np.array([0, 1]))
        grad = loss.backward()
    assert value == pytest.approx(np.log(2) / 2, rel=1e-12)
    np.testing.assert_allclose(grad, [[0, 0, 0], [0, -0.25, 0.25]], atol=1e-15)
    np.testing.assert_allclose(np.exp(log_softmax(z)).sum(1), 1.0, rtol=1e-15)


def test_float32_stays_float32(rng):
    z = rng.standard_normal((4, 3)).astype(np.float32)
    loss = SoftmaxCrossEntropy()
    loss.forward(z, np.array([0, 1, 2, 0]))
    assert loss.backward().dtype == np.float32
    mse = MeanSquaredError()
    mse.forward(z, np.zeros_like(z))
    assert mse.backward().dtype == np.float32


def test_mse_value():
    mse = MeanSquaredError()
    assert mse.forward(np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2))) == pytest.approx(7.5)
    np.testing.assert_allclose(mse.backward(), [[0.5, 1.0], [1.5, 2.0]])


def test_loss_validation():
    z = np.zeros((3, 4))
    with pytest.raises(TypeError, match=r"target must be an integer array of class labels, got float64"):
        SoftmaxCrossEntropy().forward(z, np.zeros(3))
    with pytest.raises(ValueError, match=r"target labels must lie in \[0, 3\] for 4 classes, got values from 0 to 4"):
        SoftmaxCrossEntropy().forward(z, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"target must have shape \(3,\) to match the logits, got \(2,\)"):
        SoftmaxCrossEntropy().forward(z, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"target must have the prediction's shape \(3, 4\), got \(3, 3\)"):
        MeanSquaredError().forward(z, np.zeros((3, 3)))
    with pytest.raises(RuntimeError, match=r"backward was called before forward"):
        MeanSquaredError().backward()
