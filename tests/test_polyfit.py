"""Polynomial surrogates of activations: exactness, convergence, the paper's Bernstein rate, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

from rpnumpy.polyfit import (
    POLYFIT_METHODS,
    evaluate_polynomial,
    fit_polynomial,
    interval_from_preactivations,
    polynomial_error,
)


def relu(s):
    return np.maximum(s, 0.0)


def gelu(s):
    return 0.5 * s * (1.0 + erf(s / math.sqrt(2.0)))


ACTIVATIONS = {"relu": relu, "gelu": gelu, "tanh": np.tanh}


@pytest.mark.parametrize("method", ["chebyshev", "least_squares"])
@pytest.mark.parametrize("interval", [2.0, (-1.0, 3.0)])
def test_exact_for_a_polynomial(method, interval):
    true = np.array([0.5, -2.0, 0.0, 1.0, -0.25])  # negative coefficients, a zero one
    for degree in (4, 6):
        a = fit_polynomial(lambda s: evaluate_polynomial(true, s), degree, interval, method=method)
        assert a.shape == (degree + 1,)
        np.testing.assert_allclose(a, np.pad(true, (0, degree - 4)), atol=1e-11)


def test_bernstein_reproduces_lines_and_has_the_textbook_bias_on_a_square():
    a = fit_polynomial(lambda s: 3.0 - 2.0 * s, 5, (-1.0, 4.0), method="bernstein")
    np.testing.assert_allclose(a, [3.0, -2.0, 0, 0, 0, 0], atol=1e-12)
    # On [0, 1], B_k(t^2) = t^2 + t(1 - t)/k: the O(1/k) bias, exactly.
    for k in (2, 5, 10):
        a = fit_polynomial(np.square, k, (0.0, 1.0), method="bernstein")
        np.testing.assert_allclose(a[:3], [0.0, 1.0 / k, 1.0 - 1.0 / k], atol=1e-12)
        np.testing.assert_allclose(a[3:], 0.0, atol=1e-10)


def test_chebyshev_interpolates_at_the_chebyshev_nodes():
    degree, lo, hi = 6, -3.0, 2.0
    a = fit_polynomial(np.tanh, degree, (lo, hi))
    j = np.arange(degree + 1)
    nodes = (lo + hi) / 2 + (hi - lo) / 2 * np.cos((2 * j + 1) * np.pi / (2 * (degree + 1)))
    np.testing.assert_allclose(evaluate_polynomial(a, nodes), np.tanh(nodes), atol=1e-13)


def test_least_squares_residual_is_orthogonal_to_the_polynomials_on_its_grid():
    degree, n_grid = 5, 501
    a = fit_polynomial(gelu, degree, 3.0, method="least_squares", n_grid=n_grid)
    grid = np.linspace(-3.0, 3.0, n_grid)
    residual = gelu(grid) - evaluate_polynomial(a, grid)
    basis = np.polynomial.chebyshev.chebvander(grid / 3.0, degree)  # a well-conditioned basis of the same space
    assert np.max(np.abs(basis.T @ residual)) < 1e-10 * np.sum(np.abs(residual))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("method", POLYFIT_METHODS)
def test_error_decreases_with_degree(name, method):
    f = ACTIVATIONS[name]
    errors = [polynomial_error(f, fit_polynomial(f, k, 3.0, method=method), 3.0).max_error for k in (2, 4, 8, 16)]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("degree", [4, 8])
def test_chebyshev_beats_bernstein_at_equal_degree(name, degree):
    f = ACTIVATIONS[name]
    cheb = polynomial_error(f, fit_polynomial(f, degree, 3.0), 3.0)
    bern = polynomial_error(f, fit_polynomial(f, degree, 3.0, method="bernstein"), 3.0)
    # Measured ratios (max and rms errors) lie between 0.01 and 0.53 for these cases.
    assert cheb.max_error < 0.6 * bern.max_error and cheb.rms_error < 0.6 * bern.rms_error


def test_bernstein_rate_at_relus_kink_is_one_over_sqrt_k():
    # At the kink B_k(relu)(0) = (2R/k) E[(nu - k/2)+], nu ~ Binomial(k, 1/2), which tends to
    # (hi - lo) / sqrt(8 pi k): the O(1/sqrt k) rate for a Lipschitz function with a kink.
    radius = 3.0
    for k in (32, 64):
        a = fit_polynomial(relu, k, radius, method="bernstein")
        asymptotic = 2 * radius / math.sqrt(8 * math.pi * k)
        assert abs(evaluate_polynomial(a, 0.0) / asymptotic - 1) < 0.02


def test_error_report_shows_the_bias_outside_the_interval():
    a = fit_polynomial(relu, 6, 2.0)
    report = polynomial_error(relu, a, 2.0, widen=2.0)
    assert report.interval == (-2.0, 2.0) and report.outside == (-4.0, 4.0)
    assert report.s.shape == report.error.shape
    inside = (report.s >= -2) & (report.s <= 2)
    assert np.max(np.abs(report.error[inside])) <= report.max_error + 1e-12
    assert report.rms_error < report.max_error < 0.15
    assert report.max_error_outside > 10 * report.max_error  # a degree-6 polynomial runs away from ReLU
    exact = polynomial_error(np.square, fit_polynomial(np.square, 2, 2.0), 2.0)
    assert exact.max_error < 1e-12 and exact.max_error_outside < 1e-12


def test_interval_from_preactivations():
    s = np.arange(-1000.0, 1001.0)
    assert interval_from_preactivations(s, quantile=1.0) == 1000.0
    assert interval_from_preactivations(s, quantile=0.5) == pytest.approx(np.quantile(np.abs(s), 0.5))
    # Standard normal pre-activations: R estimates the 0.999 quantile of |N(0,1)|, 3.2905. The
    # standard error of a sample quantile is sqrt(q(1-q)/n)/density = sqrt(0.999*0.001/2e5)/(2*phi(3.29)) = 0.020.
    gaussian = np.random.default_rng(0).standard_normal(200_000)
    assert abs(interval_from_preactivations(gaussian) - 3.2905) < 4 * 0.020


def test_validation_names_the_parameter():
    with pytest.raises(ValueError, match="degree must be a positive int, got 0"):
        fit_polynomial(np.tanh, 0, 1.0)
    with pytest.raises(ValueError, match="interval must be a positive number R"):
        fit_polynomial(np.tanh, 3, (2.0, 1.0))
    with pytest.raises(ValueError, match="interval must be a finite number > 0"):
        fit_polynomial(np.tanh, 3, -1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        fit_polynomial(np.tanh, 3, 1.0, method="taylor")
    with pytest.raises(TypeError, match="f must be callable"):
        fit_polynomial(3.0, 3, 1.0)
    with pytest.raises(ValueError, match="f must map an array of shape"):
        fit_polynomial(lambda s: 1.0, 3, 1.0)
    with pytest.raises(ValueError, match="n_grid must exceed degree=5"):
        fit_polynomial(np.tanh, 5, 1.0, method="least_squares", n_grid=5)
    with pytest.raises(ValueError, match="f returned non-finite values"):
        fit_polynomial(lambda s: np.full_like(s, np.nan), 3, 1.0, method="bernstein")
    with pytest.raises(ValueError, match="widen must be >= 1"):
        polynomial_error(np.tanh, [0, 1], 1.0, widen=0.5)
    with pytest.raises(ValueError, match=r"quantile must lie in \(0, 1\]"):
        interval_from_preactivations(np.ones(3), quantile=0.0)
    with pytest.raises(ValueError, match="s must hold at least one"):
        interval_from_preactivations(np.array([]))
    with pytest.raises(ValueError, match="quantile of \\|s\\| is 0"):
        interval_from_preactivations(np.zeros(4))
