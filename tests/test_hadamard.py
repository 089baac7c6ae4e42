"""The fast Walsh–Hadamard transform, the SRHT operator and kind, and the half/PRP layers' ``"srht"`` scheme."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from rpnumpy.fast.hadamard import _factor_orders, fwht_blocked
from rpnumpy.hadamard import SRHT, _odd_popcount, fwht, hadamard_matrix, next_power_of_two
from rpnumpy.io import load_model, model_file_size, save_model
from rpnumpy.jl import distortion_report, jl_projection_matrix
from rpnumpy.layers import PRP, Dense, HalfLayer, ReLU, Sequential
from rpnumpy.random_matrices import random_matrix, srht_matrix

# --------------------------------------------------------------------------- Hadamard matrix and fwht


@pytest.mark.parametrize("d", [1, 2, 4, 8, 64, 256])
def test_hadamard_matrix_is_sylvesters(d):
    h = hadamard_matrix(d)
    np.testing.assert_array_equal(h, scipy.linalg.hadamard(d))
    np.testing.assert_array_equal(h @ h, d * np.eye(d))  # symmetric and H H = d I
    hn = hadamard_matrix(d, normalized=True, dtype=np.float32)
    assert hn.dtype == np.float32
    np.testing.assert_allclose(hn @ hn.T, np.eye(d), atol=1e-6)


def test_popcount_parity_matches_counting_bits(rng):
    values = np.concatenate([np.arange(4096), rng.integers(0, 2**62, 1000)])
    expected = np.array([bin(int(v)).count("1") % 2 for v in values])
    np.testing.assert_array_equal(_odd_popcount(values), expected)


def test_next_power_of_two_and_factor_orders():
    assert [next_power_of_two(d) for d in (1, 2, 3, 784, 1024, 1025)] == [1, 2, 4, 1024, 1024, 2048]
    for d in (1, 2, 64, 1024, 2**14, 2**15):
        for max_factor in (2, 4, 32, 64):
            orders = _factor_orders(d, max_factor)
            assert math.prod(orders) == d and max(orders) <= max(max_factor, 1)
            assert max(orders) <= 2 * min(orders)  # balanced
    assert _factor_orders(2**14, 32) == [16, 32, 32]  # smallest first
    assert _factor_orders(2**14, 2) == [2] * 14  # the radix-2 transform


@pytest.mark.parametrize("d", [1, 2, 8, 32, 64, 512, 2048])
def test_radix2_fwht_equals_the_matrix_product(d, rng):
    x = rng.standard_normal((3, d))
    x_before = x.copy()
    np.testing.assert_allclose(fwht(x), x @ scipy.linalg.hadamard(d), rtol=1e-12, atol=1e-12 * d)
    np.testing.assert_array_equal(x, x_before)  # the input is never written
    v = rng.standard_normal(16)
    np.testing.assert_allclose(fwht(v), scipy.linalg.hadamard(16) @ v, rtol=1e-13)  # a single vector
    batch = rng.standard_normal((2, 3, 64)).astype(np.float32)
    assert fwht(batch).shape == batch.shape and fwht(batch).dtype == np.float32
    np.testing.assert_allclose(fwht(fwht(batch)) / 64, batch, atol=1e-5)  # H H = d I


def test_blocked_fwht_shapes_dtypes_buffers(rng):
    x = rng.standard_normal((2, 3, 256)).astype(np.float32)
    y = fwht_blocked(x)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, fwht(x), rtol=1e-4, atol=1e-4)
    out, work = np.empty_like(x), np.empty_like(x)
    x_before = x.copy()
    assert fwht_blocked(x, out=out, work=work) is out
    np.testing.assert_array_equal(x, x_before)  # the input is never written
    columns = rng.standard_normal((64, 5)).T  # a non-contiguous input is read correctly
    np.testing.assert_allclose(fwht_blocked(columns), columns @ scipy.linalg.hadamard(64), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: fwht(np.ones((2, 12))), ValueError, r"x.shape\[-1\] must be a power of two, got 12"),
        (lambda: fwht_blocked(np.ones((2, 12))), ValueError, r"x.shape\[-1\] must be a power of two, got 12"),
        (lambda: fwht_blocked(np.ones(8), max_factor=3), ValueError, r"max_factor must be a power of two, got 3"),
        (lambda: fwht_blocked(np.ones(8), max_factor=1), ValueError, r"max_factor must be >= 2, got 1"),
        (lambda: fwht_blocked(np.ones(8), out=np.ones(4)), ValueError,
         r"out must have x's shape \(8,\) and dtype float64"),
        (lambda: fwht_blocked(np.ones((4, 8)), work=np.ones((8, 4)).T), ValueError, r"work must be C-contiguous"),
        (lambda: fwht(np.ones(8, dtype=np.int64)), TypeError, r"x must .*float"),
        (lambda: fwht(np.float64(1.0)), TypeError, r"x must be a numpy.ndarray"),
        (lambda: hadamard_matrix(6), ValueError, r"d must be a power of two, got 6"),
    ],
)
def test_fwht_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------- the SRHT operator

SHAPES = [(784, 256), (784, 1024), (1024, 100), (64, 64), (60, 20), (20, 60), (5, 40), (1, 1)]


@pytest.mark.parametrize(("d_in", "k"), SHAPES)
def test_srht_operator_equals_its_dense_matrix(d_in, k, rng):
    s = SRHT(d_in, k, seed=7)
    dense = s.to_dense()
    assert dense.shape == (d_in, k) and s.shape == (d_in, k)
    np.testing.assert_array_equal(dense, srht_matrix((d_in, k), 7))
    np.testing.assert_array_equal(dense, random_matrix("srht", (d_in, k), 7))
    x, g = rng.standard_normal((6, d_in)), rng.standard_normal((6, k))
    np.testing.assert_allclose(s.apply(x), x @ dense, rtol=0, atol=1e-12)
    np.testing.assert_allclose(s.apply_transpose(g), g @ dense.T, rtol=0, atol=1e-12)
    # Scratch arrays are reused across calls, batch sizes and directions: nothing leaks between calls.
    np.testing.assert_allclose(s.apply(x[:2]), x[:2] @ dense, rtol=0, atol=1e-12)
    np.testing.assert_allclose(s.apply(x), x @ dense, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("d_in", "k"), SHAPES)
def test_srht_entries_norms_and_blocks(d_in, k):
    s = SRHT(d_in, k, seed=1, scale=2.5)
    dense = s.to_dense()
    np.testing.assert_allclose(np.abs(dense), 2.5 / math.sqrt(d_in), rtol=1e-15)  # every entry is +-c
    np.testing.assert_allclose(np.linalg.norm(dense, axis=0), 2.5, rtol=1e-13)  # every column has norm `scale`
    assert s.d_padded == next_power_of_two(d_in) and s.n_blocks == math.ceil(k / s.d_padded)
    assert len(np.unique(s.columns)) == k  # k distinct columns of the stacked blocks
    np.testing.assert_allclose(dense, 2.5 * SRHT(d_in, k, seed=1).to_dense(), rtol=1e-15)  # scale only scales


def test_srht_columns_orthogonal_without_padding_and_the_jl_scaling(rng):
    s = SRHT(256, 100, seed=0)
    dense = s.to_dense()
    np.testing.assert_allclose(dense.T @ dense, np.eye(100), atol=1e-14)  # distinct Hadamard columns
    # With every coordinate kept (k = d') and the JL scale sqrt(d/k) = 1 the map is an isometry.
    full = SRHT(256, 256, seed=3, scale=1.0)
    x = rng.standard_normal((4, 256))
    np.testing.assert_allclose(np.linalg.norm(full.apply(x), axis=1), np.linalg.norm(x, axis=1), rtol=1e-13)
    jl_srht = SRHT(300, 40, 5, scale=math.sqrt(300 / 40)).to_dense()
    np.testing.assert_array_equal(jl_projection_matrix("srht", 300, 40, 5), jl_srht)


def test_srht_float32_and_validation(rng):
    s = SRHT(100, 30, seed=2, dtype=np.float32)
    x = rng.standard_normal((4, 100)).astype(np.float32)
    y = s.apply(x)
    assert y.dtype == np.float32 and s.apply_transpose(y).dtype == np.float32
    np.testing.assert_array_equal(s.to_dense(), srht_matrix((100, 30), 2, dtype=np.float32))
    np.testing.assert_allclose(y, x @ s.to_dense(), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="x has dtype float64 but float32 was expected"):
        s.apply(x.astype(np.float64))
    with pytest.raises(ValueError, match=r"x must have 100 columns, got shape \(4, 99\)"):
        s.apply(x[:, :99])
    with pytest.raises(ValueError, match=r"g must have 30 columns"):
        s.apply_transpose(x)
    with pytest.raises(ValueError, match=r"scale must be a finite number > 0, got -1.0"):
        SRHT(4, 2, seed=0, scale=-1.0)
    with pytest.raises(ValueError, match=r"k must be a positive int, got 0"):
        SRHT(4, 0, seed=0)


# --------------------------------------------------------------------------- Johnson–Lindenstrauss


def test_random_signs_are_what_makes_subsampling_safe():
    """A Hadamard row has all its energy on one coordinate of xH; the signs D spread it over all of them.

    x = row 5 of H_256 / 16 (unit norm): without D, xH = 16 e_5, so keeping k = 32 of the 256
    coordinates would give the squared-norm ratio 0 or d/k = 8. With D, every coordinate of xDH is a
    sum of 256 random signs, and the ratio behaves like a chi-square over k with the finite-population
    factor: standard deviation about sqrt(2/k) sqrt(1 - k/d) = 0.23 (measured 0.229 over seeds 0-199).
    The mean over 200 seeds then has standard error 0.016; the margin 0.065 is 4 standard errors.
    """
    d, k = 256, 32
    x = hadamard_matrix(d)[5:6] / math.sqrt(d)
    no_signs = (x @ hadamard_matrix(d))[0] ** 2  # energy per coordinate without D: all on one of them
    assert np.count_nonzero(no_signs > 1e-12) == 1
    ratios = np.array([np.sum((x @ jl_projection_matrix("srht", d, k, seed)) ** 2) for seed in range(200)])
    assert abs(ratios.mean() - 1.0) < 0.065
    assert 0.15 < ratios.std() < 0.3  # spread like a projection's, not the 0-or-8 of plain sampling


def test_srht_distortion_at_a_fixed_seed_like_the_other_families():
    """distortion_report on 60 sparse points in d = 1000 (padded to 1024), k = 600, eps = 0.3, 10 seeds.

    Sparse points are where plain coordinate sampling fails; the randomized Hadamard transform must
    keep them like a Gaussian projection does. A pair's squared-distance ratio has standard deviation
    sqrt(2/k) = 0.058 for the Gaussian and about sqrt(2/k) sqrt(1 - k/d') = 0.037 for the SRHT, which
    samples 600 of 1024 coordinates without replacement: eps = 0.3 is 5 (Gaussian) and 8 (SRHT)
    standard deviations, so a pair outside the band is not expected in any trial. Measured (seeds
    0-9): worst pair 0.138 (SRHT) and 0.228 (Gaussian), medians over trials 0.130 and 0.201, near
    the 3.5 standard deviations expected for the worst of 1,770 pairs.
    """
    gen = np.random.default_rng(11)
    points = np.where(gen.random((60, 1000)) < 0.02, gen.standard_normal((60, 1000)), 0.0)
    srht, gaussian = distortion_report(points, 600, 0.3, kinds=["srht", "gaussian"], seeds=range(10))
    assert srht["trials_all_within"] == 1.0 and srht["min_fraction_within"] == 1.0
    assert gaussian["trials_all_within"] == 1.0
    assert srht["max_abs_deviation"] < 0.2  # 5.4 of the SRHT's standard deviations
    assert srht["median_max_abs_deviation"] < gaussian["median_max_abs_deviation"]


# --------------------------------------------------------------------------- layers with the srht scheme


def test_srht_layers_float32_files_and_read_only_matrix(tmp_path, rng):
    model = Sequential(HalfLayer(50, 64, scheme="srht", rng=1, dtype=np.float32),
                       PRP(64, 20, scheme="srht", rng=2, dtype=np.float32), ReLU(),
                       Dense(20, 3, rng=3, dtype=np.float32))
    x = rng.standard_normal((7, 50)).astype(np.float32)
    y = model.forward(x)
    assert y.dtype == np.float32 and model.backward(np.ones_like(y)).dtype == np.float32
    with pytest.raises(ValueError, match="read-only"):
        model.buffers["0.R"][0, 0] = 3.0
    path = save_model(model, tmp_path / "m.npz")
    np.testing.assert_array_equal(load_model(path).forward(x), y)
    assert model_file_size(model) < model_file_size(model, store_buffers=True) - 50 * 64 * 4
    wide = model.astype(np.float64)
    np.testing.assert_allclose(wide.forward(x.astype(np.float64)), y, rtol=1e-4, atol=1e-4)


def test_srht_scheme_messages_keep_the_papers_lists():
    paper_list = r"\['gaussian', 'sparse_ternary', 'orthogonal', 'ternary_equal'\]"
    with pytest.raises(ValueError, match=rf"scheme must be one of {paper_list} or 'srht', got 'hadamard'"):
        PRP(4, 3, scheme="hadamard")
    with pytest.raises(ValueError, match=r"scheme must be one of .* or 'srht', got 'uniform'"):
        HalfLayer(4, 3, scheme="uniform")
