"""Random matrices: bit-identical under a seed, and the variances and structure their docstrings state."""

from __future__ import annotations

import numpy as np
import pytest

from rpnumpy.random_matrices import (
    MATRIX_KINDS,
    equal_ternary_matrix,
    gaussian_matrix,
    gaussian_orthogonal_matrix,
    orthogonal_matrix,
    rademacher_matrix,
    random_matrix,
    sparse_ternary_matrix,
)


@pytest.mark.parametrize("kind", sorted(MATRIX_KINDS))
@pytest.mark.parametrize("shape", [(49, 20), (16, 50)])
def test_same_seed_bit_identical_other_seed_different(kind, shape):
    a = random_matrix(kind, shape, seed=11)
    b = random_matrix(kind, shape, seed=11)
    c = random_matrix(kind, shape, seed=12)
    assert a.shape == shape and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    f32 = random_matrix(kind, shape, seed=11, dtype=np.float32)
    assert f32.dtype == np.float32
    np.testing.assert_array_equal(f32, a.astype(np.float32))  # float32 is the rounded float64 matrix


@pytest.mark.parametrize("kind", ["gaussian", "rademacher", "sparse_ternary", "ternary_equal", "gaussian_orthogonal"])
@pytest.mark.parametrize(("variance", "expected"), [("fan_in", 1 / 400), ("fan_out", 1 / 300), (2.0, 2.0)])
def test_entry_variance(kind, variance, expected):
    m = random_matrix(kind, (400, 300), seed=0, variance=variance)
    # 120,000 entries: the sample variance's relative std is at most sqrt(2/120000) ~ 0.4%
    # (larger for the sparse kind: kurtosis 3 -> ~0.5%); a 3% margin is > 5 standard errors.
    assert abs(m.var() / expected - 1) < 0.03
    assert abs(m.mean()) < 4 * np.sqrt(expected / m.size)


def test_rademacher_values_and_binary_scheme():
    m = rademacher_matrix((64, 32), seed=1, variance=1.0)
    assert set(np.unique(m)) == {-1.0, 1.0}
    assert abs((m > 0).mean() - 0.5) < 0.03


def test_sparse_ternary_achlioptas_frequencies():
    d_in = 300
    m = sparse_ternary_matrix((d_in, 400), seed=2)
    value = np.sqrt(3 / d_in)
    np.testing.assert_allclose(sorted(np.unique(m)), [-value, 0.0, value], rtol=1e-15)
    # 120,000 entries; std of a frequency ~ 0.0014, margin 0.006.
    assert abs((m > 0).mean() - 1 / 6) < 0.006
    assert abs((m < 0).mean() - 1 / 6) < 0.006
    assert abs((m == 0).mean() - 2 / 3) < 0.006


def test_equal_ternary_frequencies_scale_and_moments():
    """Values ±sqrt(3/(2 d_in)) and 0 with probability 1/3 each: variance 1/d_in, fourth moment 1.5/d_in²."""
    d_in = 300
    m = equal_ternary_matrix((d_in, 400), seed=2)
    value = np.sqrt(3 / (2 * d_in))
    np.testing.assert_allclose(sorted(np.unique(m)), [-value, 0.0, value], rtol=1e-15)
    # 120,000 entries; std of a frequency sqrt((1/3)(2/3)/120000) ~ 0.0014, margin 0.007 (5 standard errors).
    for frequency in ((m > 0).mean(), (m < 0).mean(), (m == 0).mean()):
        assert abs(frequency - 1 / 3) < 0.007
    # E R² = (2/3) a² = 1/d_in and E R⁴ = (2/3) a⁴ = 1.5/d_in²: the sample means are the non-zero frequency
    # (std 0.0014 relative to 2/3, so 0.2%) times a constant; 1% margins.
    assert abs((m**2).mean() * d_in - 1) < 0.01
    assert abs((m**4).mean() * d_in**2 - 1.5) < 0.015
    # The published description's literal scale sqrt(3/d_in) is variance 2/d_in: the same signs, values times sqrt(2).
    literal = equal_ternary_matrix((d_in, 400), seed=2, variance=2 / d_in)
    np.testing.assert_allclose(sorted(np.unique(literal)), [-np.sqrt(3 / d_in), 0.0, np.sqrt(3 / d_in)], rtol=1e-15)
    np.testing.assert_array_equal(np.sign(literal), np.sign(m))
    # Not Achlioptas' matrix under another name: a third of the entries are zero, not two thirds.
    assert abs((sparse_ternary_matrix((d_in, 400), seed=2) == 0).mean() - (m == 0).mean() - 1 / 3) < 0.01


def test_orthogonal_columns_or_rows():
    tall = orthogonal_matrix((50, 20), seed=3)
    np.testing.assert_allclose(tall.T @ tall, np.eye(20), atol=1e-13)
    wide = orthogonal_matrix((20, 50), seed=3)
    np.testing.assert_allclose(wide @ wide.T, np.eye(20), atol=1e-13)
    x = np.random.default_rng(0).standard_normal((5, 20))
    np.testing.assert_allclose(np.linalg.norm(x @ wide, axis=1), np.linalg.norm(x, axis=1), rtol=1e-13)
    scaled = orthogonal_matrix((50, 20), seed=3, scale=2.0)
    np.testing.assert_allclose(scaled, 2 * tall, rtol=1e-15)


def test_orthogonal_is_haar_sign_fix():
    # Without the sign fix, LAPACK's QR makes the diagonal of R negative (or positive) for
    # every draw, biasing Q. With it, Q[0, 0] of a 3x3 Haar matrix is symmetric around 0:
    # over 2000 draws its mean has std ~ 0.013, and its variance is 1/3.
    first = np.array([orthogonal_matrix((3, 3), seed=s)[0, 0] for s in range(2000)])
    assert abs(first.mean()) < 0.05
    assert abs(first.var() - 1 / 3) < 0.03


def test_gaussian_orthogonal_blocks_and_chi_norms():
    d = 16
    m = gaussian_orthogonal_matrix((d, 40), seed=4, variance=1.0)
    directions = m / np.linalg.norm(m, axis=0)
    block = directions[:, :d]
    np.testing.assert_allclose(block.T @ block, np.eye(d), atol=1e-12)  # orthogonal within a block
    assert abs(directions[:, 0] @ directions[:, d]) > 1e-6  # not across blocks
    # Column norms are chi_d: E||col||^2 = d. 2000 columns of d=16 -> std of the mean ~ 0.13.
    big = gaussian_orthogonal_matrix((d, 2000), seed=5, variance=1.0)
    assert abs((np.linalg.norm(big, axis=0) ** 2).mean() - d) < 0.6


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: gaussian_matrix((0, 3), 0), ValueError, r"shape\[0\] must be a positive int, got 0"),
        (lambda: gaussian_matrix((3,), 0), ValueError, r"shape must be a pair \(d_in, d_out\), got \(3,\)"),
        (lambda: gaussian_matrix((3, 3), -5), ValueError, r"seed must lie in \[0, 2\*\*63\), got -5"),
        (lambda: gaussian_matrix((3, 3), 1.5), TypeError, r"seed must be a non-negative int"),
        (lambda: gaussian_matrix((3, 3), 0, variance="unit"), ValueError, r"variance must be 'fan_in', 'fan_out'"),
        (lambda: gaussian_matrix((3, 3), 0, variance=-1.0), ValueError, r"variance must be a finite number > 0"),
        (lambda: orthogonal_matrix((3, 3), 0, scale=0), ValueError, r"scale must be a finite number > 0, got 0.0"),
        (lambda: random_matrix("uniform", (3, 3), 0), ValueError, r"kind must be one of .* got 'uniform'"),
        (lambda: gaussian_matrix((3, 3), 0, dtype=np.float16), TypeError, r"dtype must be float32 or float64"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
