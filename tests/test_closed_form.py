"""Closed-form ridge regression: exact against lstsq, independent of the batching, intercept unpenalised."""

from __future__ import annotations

import numpy as np
import pytest

from rpnumpy.closed_form import RidgeAccumulator, fit_ridge, ridge_l2_from_trace
from rpnumpy.gradcheck import relative_error


def _problem(rng, n=300, d=12, t=3):
    Z = rng.standard_normal((n, d))
    V = rng.standard_normal((d, t))
    c = rng.standard_normal(t)
    Y = Z @ V + c + 0.1 * rng.standard_normal((n, t))
    return Z, Y


def test_least_squares_matches_lstsq_on_augmented_matrix(rng):
    Z, Y = _problem(rng)
    coef, intercept = fit_ridge(Z, Y)
    augmented = np.hstack([Z, np.ones((len(Z), 1))])
    expected = np.linalg.lstsq(augmented, Y, rcond=None)[0]
    assert relative_error(coef, expected[:-1]) < 1e-10
    assert relative_error(intercept, expected[-1]) < 1e-10


def test_ridge_matches_the_penalised_normal_equations_and_leaves_the_intercept_free(rng):
    Z, Y = _problem(rng)
    l2 = 7.5
    coef, intercept = fit_ridge(Z, Y, l2)
    # Independent route: centre, solve the penalised system, recover the intercept from the means.
    zc, yc = Z - Z.mean(0), Y - Y.mean(0)
    expected = np.linalg.solve(zc.T @ zc + l2 * np.eye(Z.shape[1]), zc.T @ yc)
    assert relative_error(coef, expected) < 1e-10
    assert relative_error(intercept, Y.mean(0) - Z.mean(0) @ expected) < 1e-10


def test_result_does_not_depend_on_the_mini_batch_split(rng):
    Z, Y = _problem(rng)
    whole = fit_ridge(Z, Y, 0.3)
    for batch in (1, 7, 64, 299):
        coef, intercept = fit_ridge(Z, Y, 0.3, batch_size=batch)
        assert relative_error(coef, whole[0]) < 1e-12
        assert relative_error(intercept, whole[1]) < 1e-12


def test_rank_deficient_features_get_the_minimum_norm_solution(rng):
    # Fewer samples than features, plus a dead (all-zero) feature: the Gram matrix is singular.
    Z = rng.standard_normal((5, 9))
    Z[:, 3] = 0.0
    Y = rng.standard_normal((5, 2))
    coef, intercept = fit_ridge(Z, Y)
    assert np.all(np.isfinite(coef))
    np.testing.assert_allclose(Z @ coef + intercept, Y, atol=1e-9)  # interpolates
    assert np.abs(coef[3]).max() < 1e-12  # minimum norm puts (round-off) nothing on the dead feature


def test_without_intercept_and_one_dimensional_target(rng):
    Z, Y = _problem(rng, t=1)
    coef, intercept = fit_ridge(Z, Y[:, 0], fit_intercept=False)
    assert coef.shape == (Z.shape[1], 1)
    np.testing.assert_array_equal(intercept, 0.0)
    expected = np.linalg.lstsq(Z, Y, rcond=None)[0]
    assert relative_error(coef, expected) < 1e-10


def test_float32_features_are_accumulated_in_float64(rng):
    Z, Y = _problem(rng)
    acc = RidgeAccumulator(Z.shape[1], Y.shape[1])
    acc.update(Z.astype(np.float32), Y.astype(np.float32))
    assert acc.gram.dtype == np.float64
    coef, _ = acc.solve()
    assert coef.dtype == np.float64


def test_streamed_gram_is_exactly_symmetric_and_equals_the_one_shot_sums(rng):
    Z, Y = _problem(rng)
    acc = RidgeAccumulator(Z.shape[1], Y.shape[1])
    for start in range(0, len(Z), 37):
        acc.update(Z[start:start + 37], Y[start:start + 37])
    np.testing.assert_array_equal(acc.gram, acc.gram.T)  # Cholesky reads one triangle: both must agree
    Z1 = np.hstack([Z, np.ones((len(Z), 1))])
    assert relative_error(acc.gram, Z1.T @ Z1) < 1e-13
    assert relative_error(acc.moment, Z1.T @ Y) < 1e-13


def test_relative_penalty_scales_with_the_feature_magnitude(rng):
    Z, Y = _problem(rng)
    small, big = RidgeAccumulator(12, 3), RidgeAccumulator(12, 3)
    small.update(Z, Y)
    big.update(10 * Z, Y)
    assert ridge_l2_from_trace(big, 1e-3) == pytest.approx(100 * ridge_l2_from_trace(small, 1e-3))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: RidgeAccumulator(0, 1), "n_features"),
        (lambda: RidgeAccumulator(3, 1).update(np.ones((4, 2)), np.ones(4)), r"Z must have shape \(n, 3\)"),
        (lambda: RidgeAccumulator(3, 2).update(np.ones((4, 3)), np.ones((4, 1))), r"Y must have shape \(4, 2\)"),
        (lambda: RidgeAccumulator(1, 1).update(np.array([[np.inf]]), np.ones(1)), "finite"),
        (lambda: RidgeAccumulator(3, 1).solve(), "no data accumulated"),
        (lambda: fit_ridge(np.ones((4, 3)), np.ones(4), l2=-1.0), "l2"),
    ],
)
def test_bad_input_is_refused_with_a_named_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()
