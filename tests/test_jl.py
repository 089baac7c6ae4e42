"""Johnson–Lindenstrauss: the bound's exact values, the JL scaling of every family, and the issue's acceptance check.

Timing note: the QR-based families ('orthogonal', 'gaussian_orthogonal') need a 10,000 x 1,063 QR per trial
at the acceptance size; they are far slower when OpenBLAS runs several threads on a machine that is already
busy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from rpnumpy.jl import (
    JL_KINDS,
    distortion_ratios,
    distortion_report,
    fraction_within,
    jl_projection_matrix,
    jl_scale,
    johnson_lindenstrauss_min_dim,
    pairwise_sq_distances,
    smallest_k_reaching,
)
from rpnumpy.random_matrices import MATRIX_KINDS, random_matrix


def formula(n: float, eps: float) -> float:
    """The bound exactly as written in the issue, in Python floats."""
    return 4 * math.log(n) / (eps**2 / 2 - eps**3 / 3)


# --------------------------------------------------------------------------- the bound


@pytest.mark.parametrize(
    ("n", "eps", "expected"),
    [
        # 4 ln 100 = 18.4207; 0.2^2/2 - 0.2^3/3 = 0.0173333; 18.4207 / 0.0173333 = 1062.73 -> 1063
        (100, 0.2, 1063),
        # 4 ln 1e6 = 55.2620; 0.005 - 0.000333 = 0.0046667; 55.2620 / 0.0046667 = 11841.87 -> 11842
        (1_000_000, 0.1, 11842),
        (10**6, 0.1, 11842),
        # 18.4207 / (0.125 - 0.0416667) = 221.05 -> 222
        (100, 0.5, 222),
        # one point: no pair, nothing to preserve
        (1, 0.5, 0),
        # scikit-learn pins 368416070986 for this case (issue #17111, a 32-bit overflow); it truncates
        # 368416070986.187 where the smallest k satisfying k >= bound is one more.
        (100, 1e-5, 368_416_070_987),
    ],
)
def test_known_values(n, eps, expected):
    k = johnson_lindenstrauss_min_dim(n, eps)
    assert type(k) is int and k == expected
    assert k == math.ceil(formula(n, eps))


def test_float_n_samples_and_exact_python_int_beyond_int64():
    assert johnson_lindenstrauss_min_dim(1e6, 0.1) == 11842
    assert johnson_lindenstrauss_min_dim(10**30, 0.5) == math.ceil(formula(10**30, 0.5))  # n beyond int64
    k = johnson_lindenstrauss_min_dim(100, 1e-12)  # ~3.7e24: no int64 overflow for scalar input
    assert isinstance(k, int) and k > 2**63 and k == math.ceil(formula(100, 1e-12))


@pytest.mark.parametrize("n", [2, 3, 10, 100, 12345, 10**9, 2**62])
@pytest.mark.parametrize("eps", [1e-5, 0.01, 0.1, 0.2, 0.5, 0.9, 0.999])
def test_smallest_integer_satisfying_the_inequality(n, eps):
    k = johnson_lindenstrauss_min_dim(n, eps)
    bound = formula(n, eps)
    assert k >= bound > k - 1


def test_monotone_in_n_and_eps():
    n = np.unique(np.logspace(0.5, 12, 200).astype(np.int64))
    k_n = johnson_lindenstrauss_min_dim(n, 0.3)
    assert np.all(np.diff(k_n) >= 0) and k_n[-1] > k_n[0]
    eps = np.linspace(0.01, 0.99, 99)
    k_eps = johnson_lindenstrauss_min_dim(1000, eps)
    assert np.all(np.diff(k_eps) <= 0) and k_eps[0] > 500 * k_eps[-1]


def test_vectorised_and_broadcast():
    n = np.array([10, 100, 1000, 10**7])
    eps = np.array([0.05, 0.2, 0.6])
    k = johnson_lindenstrauss_min_dim(n[:, None], eps[None, :])
    assert k.shape == (4, 3) and k.dtype == np.int64
    for i, ni in enumerate(n.tolist()):
        for j, ej in enumerate(eps.tolist()):
            assert k[i, j] == johnson_lindenstrauss_min_dim(ni, ej)
    np.testing.assert_array_equal(johnson_lindenstrauss_min_dim([100, 10_000], 0.5), [222, 443])
    # int64 inputs whose products would overflow 32 bits
    assert johnson_lindenstrauss_min_dim(np.array([100]), 1e-5).tolist() == [368_416_070_987]


def test_array_result_beyond_int64_raises():
    with pytest.raises(OverflowError, match="int64 range"):
        johnson_lindenstrauss_min_dim(np.array([100, 200]), 1e-12)


@pytest.mark.parametrize("eps", [0, 1, 1.0, -0.1, 1.5, float("nan"), float("inf")])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match=r"eps must lie in the open interval \(0, 1\), got"):
        johnson_lindenstrauss_min_dim(100, eps)


def test_bad_eps_in_an_array_is_named():
    with pytest.raises(ValueError, match=r"eps must lie in .* got \[1.5\] \(at 1 of 3 positions\)"):
        johnson_lindenstrauss_min_dim(100, [0.1, 1.5, 0.3])


@pytest.mark.parametrize("n", [0, -5, 2.5, float("nan")])
def test_bad_n_samples(n):
    with pytest.raises(ValueError, match=r"n_samples must be integers >= 1, got"):
        johnson_lindenstrauss_min_dim(n, 0.5)


def test_vectorised_n_check_catches_a_single_bad_entry():
    # The precedence bug `np.any(n) <= 0` would let [100, 0] through; `np.any(n <= 0)` does not.
    with pytest.raises(ValueError, match=r"n_samples must be integers >= 1, got \[0\] \(at 1 of 3 positions\)"):
        johnson_lindenstrauss_min_dim([100, 0, 5], 0.5)


@pytest.mark.parametrize(("n", "eps"), [(True, 0.5), ("100", 0.5), (100, "0.5"), (100, False), ([[1, 2], [3]], 0.5)])
def test_non_numeric_arguments(n, eps):
    with pytest.raises(TypeError, match="must be a real number"):
        johnson_lindenstrauss_min_dim(n, eps)


# --------------------------------------------------------------------------- JL scaling of the families


def test_jl_kinds_cover_every_library_kind_but_mexican_hat():
    # A new matrix kind must be classified here (with its JL scaling) or rejected like mexican_hat.
    assert set(JL_KINDS) | {"mexican_hat"} == set(MATRIX_KINDS)


@pytest.mark.parametrize("kind", JL_KINDS)
def test_jl_scale_values(kind):
    assert jl_scale(kind, 400, 100) == pytest.approx(2.0, rel=1e-15)
    assert jl_scale(kind, 100, 100) == 1.0
    expanding = jl_scale(kind, 50, 200)
    assert expanding == (1.0 if kind == "orthogonal" else pytest.approx(0.5, rel=1e-15))


@pytest.mark.parametrize("kind", JL_KINDS)
@pytest.mark.parametrize("shape", [(60, 20), (20, 60)])
def test_projection_matrix_is_the_library_matrix_times_jl_scale(kind, shape):
    d_in, k = shape
    r = jl_projection_matrix(kind, d_in, k, seed=3)
    assert r.shape == shape and r.dtype == np.float64
    np.testing.assert_allclose(r, jl_scale(kind, d_in, k) * random_matrix(kind, shape, 3), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(r, jl_projection_matrix(kind, d_in, k, seed=3))
    r32 = jl_projection_matrix(kind, d_in, k, seed=3, dtype=np.float32)
    assert r32.dtype == np.float32
    np.testing.assert_array_equal(r32, r.astype(np.float32))


def test_orthogonal_projection_matrix_structure():
    r = jl_projection_matrix("orthogonal", 90, 10, seed=0)
    np.testing.assert_allclose(r.T @ r, 9.0 * np.eye(10), atol=1e-12)  # columns of norm sqrt(d/k) = 3
    r = jl_projection_matrix("orthogonal", 10, 90, seed=0)
    np.testing.assert_allclose(r @ r.T, np.eye(10), atol=1e-12)  # expanding: an isometry


@pytest.mark.parametrize("kind", JL_KINDS)
def test_squared_norms_preserved_in_expectation(kind):
    d, k, n_seeds = 128, 32, 300
    rng = np.random.default_rng(0)
    fixed = np.zeros((4, d))
    fixed[0, 0] = 1.0  # one-hot
    fixed[1] = 1.0  # constant
    fixed[2, : d // 2] = rng.standard_normal(d // 2) * 5.0  # half the coordinates
    fixed[3] = rng.standard_normal(d) * np.linspace(0.1, 3.0, d)  # anisotropic
    random_x = rng.standard_normal((200, d)) * rng.lognormal(size=(200, 1))
    x = np.vstack([fixed, random_x])
    sq_norms = np.sum(x**2, axis=1)
    ratios = np.array([np.sum((x @ jl_projection_matrix(kind, d, k, seed)) ** 2, axis=1) for seed in range(n_seeds)])
    ratios /= sq_norms
    # For a fixed x, ||xR||^2/||x||^2 has standard deviation at most about sqrt(2/k) = 0.25 over seeds
    # (exactly that for the Gaussian, less for the others), so the mean over 300 seeds has standard
    # error <= 0.0144: the margin 0.065 is 4.5 standard errors for each of the four fixed vectors.
    np.testing.assert_allclose(ratios[:, :4].mean(axis=0), 1.0, atol=0.065)
    # Over all 204 vectors and 300 seeds the mean is far tighter.
    assert abs(ratios.mean() - 1.0) < 0.01


def test_mexican_hat_is_refused_and_why():
    for call in (lambda: jl_scale("mexican_hat", 784, 100), lambda: jl_projection_matrix("mexican_hat", 784, 100, 0)):
        with pytest.raises(ValueError, match="'mexican_hat' is not a Johnson-Lindenstrauss family"):
            call()
    # The reason: E||e_p R||^2 depends on the pixel p. A corner pixel (outside every receptive field's
    # reach) is nearly annihilated while a central pixel is not, so no single scale preserves norms.
    r = random_matrix("mexican_hat", (784, 256), seed=0)
    row_energy = np.sum(r**2, axis=1).reshape(28, 28)
    assert row_energy[0, 0] < 0.01 * row_energy[14, 14]  # measured: 0.0023 against 1.12


@pytest.mark.parametrize(("kind", "match"), [("gauss", "kind must be one of"), (3, "kind must be one of")])
def test_unknown_kind(kind, match):
    with pytest.raises(ValueError, match=match):
        jl_scale(kind, 10, 3)


def test_bad_sizes():
    with pytest.raises(ValueError, match="k must be a positive int, got 0"):
        jl_projection_matrix("gaussian", 10, 0, seed=0)
    with pytest.raises(TypeError, match="d_in must be a positive int"):
        jl_scale("gaussian", 10.0, 3)


# --------------------------------------------------------------------------- distances and ratios


def test_pairwise_sq_distances_matches_brute_force():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 7)) + 100.0  # an offset that the Gram method must not suffer from
    brute = np.array([np.sum((x[i] - x[j]) ** 2) for i in range(30) for j in range(i + 1, 30)])
    for method in ("gram", "exact"):
        d = pairwise_sq_distances(x, method=method)
        assert d.shape == (30 * 29 // 2,) and d.dtype == np.float64
        np.testing.assert_allclose(d, brute, rtol=1e-10)
    d32 = pairwise_sq_distances(x.astype(np.float32))
    assert d32.dtype == np.float64
    np.testing.assert_allclose(d32, pdist(x.astype(np.float32).astype(np.float64), "sqeuclidean"), rtol=1e-9)


def test_pairwise_duplicates_are_exactly_zero_and_small_cases():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 300))
    x[4] = x[1]
    d = pairwise_sq_distances(x)
    zero = d == 0
    assert zero.sum() == 1 and np.flatnonzero(zero)[0] == 7  # pair (1, 4): 5 pairs of row 0, then (1,2), (1,3)
    assert np.all(d >= 0)
    assert pairwise_sq_distances(np.ones((1, 3))).shape == (0,)
    np.testing.assert_array_equal(pairwise_sq_distances(np.ones((3, 3))), 0.0)


def test_pairwise_validation():
    with pytest.raises(TypeError, match="x must have dtype float32 or float64"):
        pairwise_sq_distances(np.ones((3, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        pairwise_sq_distances(np.ones(3))
    with pytest.raises(ValueError, match="x must hold finite values only, got 1 NaN/inf"):
        pairwise_sq_distances(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="method must be 'gram' or 'exact', got 'fast'"):
        pairwise_sq_distances(np.ones((3, 2)), method="fast")


def test_distortion_ratios():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((10, 20))
    x[7] = x[2]
    np.testing.assert_allclose(distortion_ratios(x, x), 1.0, rtol=1e-12)
    r = distortion_ratios(x, 3.0 * x)
    assert r.size == 45 - 1  # the duplicate pair is left out, not 0/0
    np.testing.assert_allclose(r, 9.0, rtol=1e-12)
    q = jl_projection_matrix("orthogonal", 20, 20, seed=0)  # square orthogonal: an exact rotation
    np.testing.assert_allclose(distortion_ratios(x, x @ q), 1.0, rtol=1e-10)
    with pytest.raises(ValueError, match=r"projected must have one row per row of x \(10\), got shape \(9, 3\)"):
        distortion_ratios(x, np.ones((9, 3)))


# --------------------------------------------------------------------------- reports


def test_distortion_report_structure_and_isometry():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((12, 40))
    rows = distortion_report(x, k=40, eps=0.1, kinds=["orthogonal", "gaussian"], seeds=[5, 6, 7])
    assert [row["kind"] for row in rows] == ["orthogonal", "gaussian"]
    ortho, gauss = rows
    assert ortho["k"] == 40 and ortho["n_pairs"] == 66 and ortho["n_trials"] == 3 and ortho["eps"] == 0.1
    # orthogonal with k = d is a rotation: every pair preserved to rounding
    assert ortho["max_abs_deviation"] < 1e-10 and ortho["trials_all_within"] == 1.0
    assert ortho["fraction_within"] == 1.0 and ortho["min_fraction_within"] == 1.0
    np.testing.assert_array_equal(ortho["seeds"], [5, 6, 7])
    for key in ("fraction_within_by_seed", "max_abs_deviation_by_seed", "all_within_by_seed"):
        assert gauss[key].shape == (3,)
    assert gauss["max_abs_deviation"] == gauss["max_abs_deviation_by_seed"].max() > 0.05
    assert 0.0 <= gauss["min_fraction_within"] <= gauss["fraction_within"] <= 1.0
    auto = distortion_report(x, k="auto", eps=0.5, kinds=["rademacher"], seeds=[0])
    assert auto[0]["k"] == johnson_lindenstrauss_min_dim(12, 0.5) == 120


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k": "big"}, ValueError, "k must be a positive int or 'auto', got 'big'"),
        ({"k": 0}, ValueError, "k must be a positive int, got 0"),
        ({"eps": 1.0}, ValueError, r"eps must lie in the open interval \(0, 1\), got 1.0"),
        ({"eps": float("nan")}, ValueError, r"eps must lie in the open interval \(0, 1\), got nan"),
        ({"kinds": "gaussian"}, TypeError, "kinds must be a sequence of kind names"),
        ({"kinds": ["gaussian", "mexican_hat"]}, ValueError, "not a Johnson-Lindenstrauss family"),
        ({"kinds": []}, ValueError, "kinds must name at least one kind"),
        ({"seeds": []}, ValueError, "seeds must hold at least one seed"),
        ({"seeds": [-1]}, ValueError, r"seeds\[\] must lie in \[0, 2\*\*63\)"),
    ],
)
def test_distortion_report_validation(kwargs, error, match):
    args = {"k": 5, "eps": 0.2, **kwargs}
    with pytest.raises(error, match=match):
        distortion_report(np.eye(4), **args)


def test_distortion_report_needs_distinct_points():
    with pytest.raises(ValueError, match="at least 2 points"):
        distortion_report(np.ones((1, 4)), k=2, eps=0.2)
    with pytest.raises(ValueError, match="no pair of distinct points"):
        distortion_report(np.ones((3, 4)), k=2, eps=0.2)


def test_fraction_within_shape_and_extremes():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((25, 30))
    f = fraction_within(x, [1, 5, 30], 0.3, kind="orthogonal", seeds=[0, 1])
    assert f.shape == (3, 2) and np.all((f >= 0) & (f <= 1))
    np.testing.assert_array_equal(f[2], 1.0)  # k = d: a rotation
    assert f[0].max() < 0.5  # k = 1: one direction cannot hold 300 pairs within 1 +- 0.3
    with pytest.raises(ValueError, match=r"ks must hold positive ints, got 0 in \[0, 3\]"):
        fraction_within(x, [0, 3], 0.3)


def test_smallest_k_reaching():
    ks = [10, 20, 40, 80]
    assert smallest_k_reaching(ks, [0.5, 0.96, 0.97, 0.99]) == 20
    assert smallest_k_reaching(ks, [0.96, 0.94, 0.97, 0.99]) == 40  # must stay above from there on
    assert smallest_k_reaching(ks, [0.96, 0.97, 0.98, 0.9]) is None
    assert smallest_k_reaching(ks, [0.99] * 4) == 10
    per_seed = np.array([[0.9, 0.95], [0.96, 0.94], [0.97, 0.99], [1.0, 1.0]])
    assert smallest_k_reaching(ks, per_seed) == 40  # every seed must reach it
    assert smallest_k_reaching(ks, per_seed, target=0.9) == 10
    with pytest.raises(ValueError, match="ks must be strictly increasing"):
        smallest_k_reaching([10, 10], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"fractions must have shape \(4,\) or \(4, n_seeds\)"):
        smallest_k_reaching(ks, [1.0, 1.0])


# --------------------------------------------------------------------------- the acceptance check

N_POINTS, DIM, EPS, N_TRIALS = 100, 10_000, 0.2, 20
BOUND_K = johnson_lindenstrauss_min_dim(N_POINTS, EPS)  # 1063


@pytest.fixture(scope="module")
def synthetic_points() -> np.ndarray:
    """100 points in R^10000: 50 dense anisotropic Gaussian points and 50 sparse ones (1% non-zeros).

    The sparse points make some difference vectors sparse too, the hardest case for the sparse
    ternary and binary matrices; for the Gaussian and orthogonal kinds the data barely matter
    (their distribution is rotation invariant: only the correlations between pairs depend on x).
    """
    rng = np.random.default_rng(2024)
    dense = rng.standard_normal((N_POINTS // 2, DIM)) * rng.lognormal(sigma=0.5, size=DIM)
    sparse = np.where(rng.random((N_POINTS // 2, DIM)) < 0.01, rng.standard_normal((N_POINTS // 2, DIM)), 0.0)
    return np.vstack([dense, 10.0 * sparse])


@pytest.fixture(scope="module")
def acceptance(synthetic_points):
    """The 20-trial report at the issue's size, computed once per family and shared by the tests."""
    cache: dict[str, dict] = {}

    def report(kind: str) -> dict:
        if kind not in cache:
            cache[kind] = distortion_report(synthetic_points, BOUND_K, EPS, kinds=[kind], seeds=range(N_TRIALS))[0]
        return cache[kind]

    return report


@pytest.mark.parametrize("kind", JL_KINDS)
def test_acceptance_bound_k_keeps_every_distance_in_95_percent_of_trials(acceptance, kind):
    """The issue's check: d = 10,000, n = 100, eps = 0.2, k = the bound (1063), 20 seeded trials.

    "All pairwise distances within (1 +- eps)": a distance ratio sqrt(r) lies in (0.8, 1.2) exactly when the
    squared ratio r lies in (0.64, 1.44), which |r - 1| < 0.36 guarantees. Measured: every family keeps
    every distance inside in 20 of 20 trials (the worst squared ratio is off by about 0.2).
    """
    assert BOUND_K == 1063
    row = acceptance(kind)
    assert row["n_pairs"] == N_POINTS * (N_POINTS - 1) // 2 and row["n_trials"] == N_TRIALS
    distances_within = np.mean(np.asarray(row["max_abs_deviation_by_seed"]) < 1 - (1 - EPS) ** 2)
    assert distances_within >= 0.95, row["max_abs_deviation_by_seed"]


@pytest.mark.parametrize("kind", JL_KINDS)
def test_acceptance_squared_distances_what_holds_with_margin(acceptance, kind):
    """The stricter reading, squared distances within (1 +- eps), the bound's own statement.

    Measured (seeds 0-19): rademacher, sparse_ternary and orthogonal 20/20; ternary_equal 19/20; gaussian
    18/20 (94/100 over seeds 0-99): the chi-square tail puts the Gaussian's per-trial success near 0.965, so
    "at least 19 of 20" would hold only ~85% of the time. Asserted: what holds with margin.
    """
    row = acceptance(kind)
    # At most 3 of 20 trials with a pair outside the band: with a per-trial success rate of 0.94 (the
    # lowest estimate, Gaussian over 100 seeds) that has probability 0.97; measured: at most 2 of 20.
    assert row["trials_all_within"] >= 0.85, row["max_abs_deviation_by_seed"]
    # Every trial within 1 +- 0.23, and the typical worst pair well inside the band: a ratio has standard
    # deviation sqrt(2/k) = 0.043 and the worst of 4,950 sits near 0.165. Measured worst: 0.2009 (gaussian),
    # 0.2233 (ternary_equal, seed 16, one pair; over seeds 0-59 its other trials stay below 0.204 and its
    # median worst is 0.167, as rademacher's 0.161 and sparse_ternary's 0.168).
    assert row["max_abs_deviation"] < 0.23
    assert row["median_max_abs_deviation"] < 0.19
    # Almost every pair is inside: the expected number outside is ~0.04 of 4,950 per trial.
    assert row["min_fraction_within"] > 0.999


def test_gaussian_success_rate_at_the_bound_is_close_to_95_percent():
    """Why the literal check is marginal for the Gaussian: a pair's ratio is exactly chi2_k / k."""
    from scipy.stats import binom, chi2

    per_pair = chi2.sf((1 + EPS) * BOUND_K, BOUND_K) + chi2.cdf((1 - EPS) * BOUND_K, BOUND_K)
    assert 5e-6 < per_pair < 1e-5  # 7.2e-6: 28 times below the 2/n^2 = 2e-4 the proof allows
    n_pairs = N_POINTS * (N_POINTS - 1) // 2
    trial_success = (1 - per_pair) ** n_pairs  # pairs treated as independent (they are positively correlated)
    assert 0.95 < trial_success < 0.97
    assert 0.8 < binom.sf(N_TRIALS * 0.95 - 1, N_TRIALS, trial_success) < 0.9  # P(>= 19 of 20 succeed)


@pytest.mark.parametrize("kind", ["orthogonal", "gaussian_orthogonal"])
def test_bound_k_suffices_for_the_qr_families_at_a_smaller_size(synthetic_points, kind):
    """The 20-trial check on squared distances for the two QR-based families at d = 700, eps = 0.4 (k = 314)."""
    k = johnson_lindenstrauss_min_dim(N_POINTS, 0.4)
    assert k == 314
    row = distortion_report(synthetic_points[:, :700], k, 0.4, kinds=[kind], seeds=range(N_TRIALS))[0]
    assert row["trials_all_within"] >= 0.95, row["max_abs_deviation_by_seed"]


@pytest.mark.parametrize("kind", JL_KINDS)
def test_negative_control_far_below_the_bound_the_check_fails(synthetic_points, kind):
    # At k = 20 a single ratio has standard deviation sqrt(2/20) = 0.32 > eps: among 4,950 pairs
    # some fall outside (1 +- 0.2) in essentially every trial.
    row = distortion_report(synthetic_points, 20, EPS, kinds=[kind], seeds=range(N_TRIALS))[0]
    assert row["trials_all_within"] < 0.5
    assert row["fraction_within"] < 0.6


# --------------------------------------------------------------------------- real MNIST


@pytest.mark.data
def test_mnist_fraction_within_grows_with_k_and_the_bound_is_loose(mnist):
    x = mnist[2][:300]  # 300 test images, 44,850 pairs, d = 784
    bound = johnson_lindenstrauss_min_dim(300, EPS)
    assert bound == 1317 > x.shape[1]  # the bound asks for more dimensions than the images have
    ks = [25, 100, 300]
    for kind in JL_KINDS:
        f = fraction_within(x, ks, EPS, kind=kind, seeds=range(3))
        mean = f.mean(axis=1)
        assert np.all(np.diff(mean) > 0.05), (kind, mean)
        # Measured (seeds 0-2): k = 25 keeps 0.50-0.55 of the pairs, k = 300 keeps 0.98-1.0. On a finer grid
        # (k = 100, 125, ..., 300, 350, 400; seeds 0-9) every seed keeps 95% of the pairs from k = 250 on
        # (gaussian, rademacher, sparse_ternary), 200 (gaussian_orthogonal), 175 (orthogonal): a fifth to a
        # seventh of the bound's 1317. The theory for one pair, 2 (1.96 / eps)^2 = 192, is the right scale.
        assert f[0].max() < 0.7, (kind, f[0])
        assert f[2].min() >= 0.95, (kind, f[2])
        assert smallest_k_reaching(ks, f) == 300
