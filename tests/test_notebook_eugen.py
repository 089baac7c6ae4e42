"""The claims notebook 05 (EUGen) makes from its one-seed runs, checked here on small synthetic problems.

The notebook shows each claim on one draw at its own size; these tests check the same claims, with fixed seeds,
on problems small enough to run in seconds: the closed-form fit to a teacher layer (section 6) and the growth
of the estimator's variance with the order and the input norm (section 4).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from rpnumpy.layers import Dense
from rpnumpy.layers.eugen import EUGen, estimator_variance
from rpnumpy.polyfit import fit_polynomial, interval_from_preactivations
from rpnumpy.transfer import fit_layer

D_IN, D_OUT = 32, 16
#: m = 16 < d: a compressed layer; m = 64 >= d + 2: order 1 spans every affine function of x+.
M_SMALL, M_LARGE = 16, 64


def _gelu(s: np.ndarray) -> np.ndarray:
    return s * ndtr(s)


def _relative_test_error(prediction: np.ndarray, Y: np.ndarray) -> float:
    return float(((prediction - Y) ** 2).sum() / ((Y - Y.mean(0)) ** 2).sum())


@pytest.fixture(scope="module")
def teacher_fits():
    """Ridge fits of EUGen students (k = 1..3, both m, with and without the norm term) to two GELU teachers."""
    gen = np.random.default_rng(0)
    W, b, c = gen.standard_normal((D_IN, D_OUT)), 0.5 * gen.standard_normal(D_OUT), gen.standard_normal(D_OUT)

    def inputs(n):
        return gen.standard_normal((n, D_IN)) / math.sqrt(D_IN) * gen.uniform(0.5, 1.5, (n, 1))

    X_train, X_test = inputs(2000), inputs(1000)
    teachers = {"plain": lambda X: _gelu(X @ W + b),
                "norm-dependent": lambda X: _gelu(X @ W + b + c * np.linalg.norm(X, axis=1, keepdims=True))}
    errors, affine = {}, {}
    for name, teacher in teachers.items():
        Y_train, Y_test = teacher(X_train), teacher(X_test)
        dense = Dense(D_IN, D_OUT, rng=0)
        fit_layer(dense, X_train, Y_train)
        affine[name] = _relative_test_error(dense.forward(X_test), Y_test)
        for k in (1, 2, 3):
            for m in (M_SMALL, M_LARGE):
                for norm_term in (False, True):
                    student = EUGen(D_IN, D_OUT, m=m, order=k, norm_term=norm_term, rng=1)
                    fit_layer(student, X_train, Y_train)
                    errors[name, k, m, norm_term] = _relative_test_error(student.forward(X_test), Y_test)
    data_free = {}
    interval = interval_from_preactivations(X_train @ W + b)
    Y_test = teachers["plain"](X_test)
    for k in (1, 2, 3):
        student = EUGen(D_IN, D_OUT, m=M_LARGE, order=k, norm_term=False, bias=False, rng=1)
        student.params["A"][...] = student.weight_features(W.T, b, fit_polynomial(_gelu, k, interval)).T
        data_free[k] = _relative_test_error(student.forward(X_test), Y_test)
    return errors, affine, data_free


def test_with_fewer_directions_than_inputs_the_order_lowers_the_error(teacher_fits):
    errors, _, _ = teacher_fits
    for name in ("plain", "norm-dependent"):
        for norm_term in (False, True):
            by_order = [errors[name, k, M_SMALL, norm_term] for k in (1, 2, 3)]
            assert by_order[0] > by_order[1] > by_order[2], (name, norm_term, by_order)
            assert by_order[2] < 0.9 * by_order[0], (name, norm_term, by_order)


def test_order_one_with_enough_directions_is_the_best_affine_map(teacher_fits):
    errors, affine, _ = teacher_fits
    # m >= d + 2 random directions span every affine function of x+ = [x, 1]: the same least-squares optimum.
    assert errors["plain", 1, M_LARGE, False] == pytest.approx(affine["plain"], rel=1e-4)


def test_the_norm_term_helps_the_norm_dependent_teacher_more(teacher_fits):
    errors, _, _ = teacher_fits
    for k in (1, 2, 3):
        for m in (M_SMALL, M_LARGE):
            gain = {name: errors[name, k, m, False] / errors[name, k, m, True] for name in ("plain", "norm-dependent")}
            assert gain["norm-dependent"] > gain["plain"], (k, m, gain)
            assert gain["norm-dependent"] > 1.05, (k, m, gain)
        assert errors["plain", k, M_LARGE, False] > errors["plain", k, M_LARGE, True]  # and the plain one at m >= d+2


def test_the_data_free_read_out_is_far_noisier_than_the_ridge_fit(teacher_fits):
    errors, _, data_free = teacher_fits
    for k in (1, 2, 3):
        assert data_free[k] > 1 > errors["plain", k, M_LARGE, False]  # worse than predicting the mean
        assert data_free[k] > 5 * errors["plain", k, M_LARGE, False]


def test_the_variance_grows_with_the_order_and_faster_with_the_input_norm():
    gen = np.random.default_rng(3)
    direction = gen.standard_normal(8)
    direction /= np.linalg.norm(direction)
    w = gen.standard_normal((1, 8))
    w /= np.linalg.norm(w)
    layer = EUGen(8, 1, m=64, order=3, rng=0)

    def variance(norm, order):
        return layer.predicted_variance(norm * direction[None, :], w, [0.5], [0.0] * order + [1.0]).item()

    at_one = [variance(1.0, i) for i in (1, 2, 3)]
    growth = [variance(3.0, i) / variance(1.0, i) for i in (1, 2, 3)]
    assert at_one[0] < at_one[1] < at_one[2]
    assert 1 < growth[0] < growth[1] < growth[2]
    # the norm entry of x+: ||x+||^2 = 2||x||^2 + 1 with it, ||x||^2 + 1 without, so it costs variance
    u = np.array([[0.3, -0.2, 0.5, 0.1]])
    with_norm, without = np.array([[0.6, 0.8, 1.0, 1.0]]), np.array([[0.6, 0.8, 1.0, 0.0]])
    for order in (1, 2, 3):
        monomial = [0.0] * order + [1.0]
        assert estimator_variance(u, with_norm, monomial, 16) > estimator_variance(u, without, monomial, 16)
