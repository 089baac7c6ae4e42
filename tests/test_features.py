"""Closed-form random-feature towers: unbiasedness, the variance law, warnings, validation, dtypes.

Statistical tests use fixed seeds and margins of 5 standard errors, each derived from a
stated closed form (or, for orthogonal draws, which have none, from the seeds themselves).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import integrate

from rpnumpy.features import (
    FEATURE_MAPS,
    RandomFeatureVarianceWarning,
    ReLUTower,
    arc_cosine_kernel,
    clamped_relu_kernel,
    random_feature_tower,
)

URF_MAPS = ("cos", "sin", "exp", "gaussian")
Z_MARGIN = 5.0  # standard errors
#: Floors of the clamped ReLU tower, below and above 0 (-5 is the SNNK authors' value).
KAPPAS = (-5.0, -1.0, -0.5, 0.5, 1.0)
SQRT2, SQRT2PI = math.sqrt(2.0), math.sqrt(2.0 * math.pi)


def _rows_with_norm(rng, n, d, norm):
    a = rng.standard_normal((n, d))
    return a * (norm / np.linalg.norm(a, axis=1, keepdims=True))


def _per_feature_samples(tower, x, w, b):
    """The m i.i.d. one-feature estimates Z_k = m Φ_k(x) Ψ_k(w, b) (a cos/sin pair counts as one feature)."""
    products = tower.input_features(x)[0] * tower.weight_features(w, b)[0]
    if tower.n_features == 2 * tower.n_directions:
        products = products[: tower.n_directions] + products[tower.n_directions :]
    return tower.n_directions * products


# --------------------------------------------------------------------------- unbiasedness
@pytest.mark.parametrize("draws", ["iid", "orthogonal"])
@pytest.mark.parametrize(
    "activation, M", [(a, M) for a in URF_MAPS for M in (0.0, 0.5)] + [("relu", 0.0)]
)
def test_mean_over_seeds_matches_the_target(activation, M, draws):
    rng = np.random.default_rng(7)
    d, m, n_seeds = 4, 64, 300
    x = _rows_with_norm(rng, 3, d, 0.5)
    w = _rows_with_norm(rng, 3, d, 0.5)
    b = None if activation == "relu" else rng.uniform(-1, 1, 3)
    estimates = np.stack([
        random_feature_tower(activation, d, m, variance_param=M, draws=draws, rng=s).estimate(x, w, b)
        for s in range(n_seeds)
    ])
    tower = random_feature_tower(activation, d, m, variance_param=M, draws=draws, rng=0)
    target = tower.target(x, w, b)
    standard_error = np.sqrt(tower.predicted_variance(x, w, b) / n_seeds)  # i.i.d. closed form
    if draws == "orthogonal":
        # No closed form for coupled draws: take the larger of the i.i.d. value and the seeds' own spread.
        standard_error = np.maximum(standard_error, estimates.std(axis=0, ddof=1) / math.sqrt(n_seeds))
    error = np.abs(estimates.mean(axis=0) - target)
    assert np.all(error < Z_MARGIN * standard_error), (error / standard_error).max()
    if draws == "iid":
        # The seeds' spread agrees with the predicted variance (sample variance of 300 draws: within ~±25 %).
        ratio = estimates.var(axis=0, ddof=1) / tower.predicted_variance(x, w, b)
        assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio


def test_large_m_estimates_every_activation_closely():
    rng = np.random.default_rng(3)
    x = _rows_with_norm(rng, 5, 6, 0.5)
    w = _rows_with_norm(rng, 4, 6, 0.6)
    b = rng.uniform(-1, 1, 4)
    for activation in FEATURE_MAPS:
        tower = random_feature_tower(activation, 6, 100_000, rng=11)
        bias = None if activation == "relu" else b
        error = np.abs(tower.estimate(x, w, bias) - tower.target(x, w, bias))
        assert np.all(error < Z_MARGIN * np.sqrt(tower.predicted_variance(x, w, bias))), activation


def test_real_form_equals_the_complex_antithetic_pair():
    """The paper's complex maps Φ± = C e^{‖x‖²/2 − M‖g‖²} e^{±icgᵀx}, with the 1/√2 (and 1/i for sin) factors."""
    rng = np.random.default_rng(0)
    d, m, M = 5, 40, 0.3
    x, w, b = _rows_with_norm(rng, 3, d, 0.7), _rows_with_norm(rng, 2, d, 0.8), rng.uniform(-1, 1, 2)
    cos_map = random_feature_tower("cos", d, m, variance_param=M, rng=4)
    sin_map = random_feature_tower("sin", d, m, variance_param=M, rng=4)
    g = cos_map.G
    c = math.sqrt(1 + 4 * M)
    log_c = d / 4 * math.log(1 + 4 * M) - 0.5 * math.log(m) - M * (g**2).sum(0)
    phi_plus = np.exp(log_c + 0.5 * (x**2).sum(1)[:, None] + 1j * c * x @ g)
    phi = np.concatenate([phi_plus, phi_plus.conj()], axis=1) / math.sqrt(2)
    u = np.exp(log_c + c * w @ g - 0.5 * (w**2).sum(1)[:, None])
    psi_plus, psi_minus = u * np.exp(1j * b)[:, None], u * np.exp(-1j * b)[:, None]
    psi_cos = np.concatenate([psi_plus, psi_minus], axis=1) / math.sqrt(2)
    psi_sin = np.concatenate([psi_plus, -psi_minus], axis=1) / (math.sqrt(2) * 1j)
    np.testing.assert_allclose(cos_map.estimate(x, w, b), (phi @ psi_cos.T).real, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sin_map.estimate(x, w, b), (phi @ psi_sin.T).real, rtol=1e-12, atol=1e-14)
    # The input tower does not depend on the activation.
    np.testing.assert_array_equal(cos_map.input_features(x), sin_map.input_features(x))


@pytest.mark.parametrize("M", [0.0, 0.3])
def test_trig_input_tower_estimates_the_exponential_kernel(M):
    rng = np.random.default_rng(5)
    d, m, n_seeds = 4, 64, 300
    x, x2 = _rows_with_norm(rng, 3, d, 0.5), _rows_with_norm(rng, 3, d, 0.6)
    kernels = []
    for seed in range(n_seeds):
        tower = random_feature_tower("cos", d, m, variance_param=M, rng=seed)
        kernels.append(tower.input_features(x) @ tower.input_features(x2).T)
    kernels = np.stack(kernels)
    standard_error = kernels.std(axis=0, ddof=1) / math.sqrt(n_seeds)
    error = np.abs(kernels.mean(axis=0) - np.exp(x @ x2.T))
    assert np.all(error < Z_MARGIN * standard_error), (error / standard_error).max()


# --------------------------------------------------------------------------- the variance law
def _complex_fourth_moment(d, x_sq, w_sq, M):
    """E|Z|⁴ of the complex cos/sin estimator (our derivation, same lemma).

    ((1+4M)⁴/(1+16M))^{d/2} e^{2‖x‖² + 6‖w‖²/(1+16M)}, finite for M > −1/16.
    """
    return ((1 + 4 * M) ** 4 / (1 + 16 * M)) ** (d / 2) * math.exp(2 * x_sq + 6 * w_sq / (1 + 16 * M))


@pytest.mark.parametrize("M, expected", [(0.0, 3.669), (0.25, 3.292), (1.0, 8.269)])
def test_complex_second_moment_at_known_points(M, expected):
    """d = 3, ‖x‖ = 0.7, ‖w‖ = 0.9: E|Z|² = ((1+4M)²/(1+8M))^{d/2} e^{‖x‖² + ‖w‖²/(1+8M)} (rpnumpy.features.trig)."""
    rng = np.random.default_rng(1)
    d, n = 3, 400_000
    x, w = _rows_with_norm(rng, 1, d, 0.7), _rows_with_norm(rng, 1, d, 0.9)
    cos_map = random_feature_tower("cos", d, n, variance_param=M, rng=21)
    sin_map = random_feature_tower("sin", d, n, variance_param=M, rng=21)
    # Var(cos) + Var(sin) = (E|Z|² − |e^{iwᵀx}|²)/m for the complex estimator Z = Z_cos + i Z_sin.
    formula = n * (cos_map.predicted_variance(x, w) + sin_map.predicted_variance(x, w))[0, 0] + 1.0
    assert abs(formula - expected) < 5e-4
    z_sq = _per_feature_samples(cos_map, x, w, None) ** 2 + _per_feature_samples(sin_map, x, w, None) ** 2
    fourth = _complex_fourth_moment(d, 0.49, 0.81, M)
    standard_error = math.sqrt((fourth - formula**2) / n)
    assert abs(z_sq.mean() - formula) < Z_MARGIN * standard_error, (z_sq.mean(), formula, standard_error)


def _fourth_moment_bound(activation, d, x, w, b, M):
    """An upper bound on E Z⁴ of one feature (our derivations): the second-moment estimate's error is finite.

    cos/sin: |Z_real| ≤ |Z_complex|; gaussian: the same given ζ, then E_ζ e^{2ζ²‖x‖²} = (1−4‖x‖²)^{-1/2};
    exp: exact; relu: Cauchy–Schwarz, E[a⁴b⁴] ≤ (E a⁸ E b⁸)^{1/2} with E relu(u)⁸ = 105σ⁸/2.
    """
    x_sq, w_sq = float((x**2).sum()), float((w**2).sum())
    if activation in ("cos", "sin"):
        return _complex_fourth_moment(d, x_sq, w_sq, M)
    if activation == "gaussian":
        return _complex_fourth_moment(d, 0.0, w_sq, M) / math.sqrt(1 - 4 * x_sq)
    if activation == "exp":
        s_sq = float(((x + w) ** 2).sum())
        prefactor = ((1 + 4 * M) ** 4 / (1 + 16 * M)) ** (d / 2)
        return prefactor * math.exp(4 * b[0] - 2 * (x_sq + w_sq) + 8 * (1 + 4 * M) * s_sq / (1 + 16 * M))
    return 52.5 * x_sq**2 * w_sq**2


@pytest.mark.parametrize(
    "activation, M", [(a, M) for a in URF_MAPS for M in (0.0, 0.25)] + [("relu", 0.0)]
)
def test_per_feature_second_moment_matches_the_variance_formula(activation, M):
    rng = np.random.default_rng(2)
    d, n = 3, 300_000
    x, w = _rows_with_norm(rng, 1, d, 0.4), _rows_with_norm(rng, 1, d, 0.6)  # gaussian: ‖x‖² < 1/4, finite E Z⁴
    b = None if activation == "relu" else np.array([0.3])
    tower = random_feature_tower(activation, d, n, variance_param=M, rng=8)
    second = n * tower.predicted_variance(x, w, b)[0, 0] + tower.target(x, w, b)[0, 0] ** 2
    z_sq = _per_feature_samples(tower, x, w, b) ** 2
    # The margin is the sampling error of the second-moment estimate, sd(Z²)/√n. It is meaningful only if
    # E Z⁴ is finite: the closed-form bound says so here, and the measured spread must respect it.
    standard_error = z_sq.std() / math.sqrt(n)
    assert standard_error < 1.2 * math.sqrt(_fourth_moment_bound(activation, d, x, w, b, M) / n)
    assert abs(z_sq.mean() - second) < Z_MARGIN * standard_error, (z_sq.mean(), second, standard_error)


def test_variance_closed_forms_at_known_points():
    rng = np.random.default_rng(4)
    d, m = 5, 10
    x, w = _rows_with_norm(rng, 1, d, 0.6), _rows_with_norm(rng, 1, d, 0.7)
    s = float((x * w).sum())
    exp_map = random_feature_tower("exp", d, m, rng=0)
    expected = math.exp(2 * s) * math.expm1(float(((x + w) ** 2).sum())) / m  # e^{2s}(e^{‖x+w‖²} − 1) at M = 0
    assert exp_map.predicted_variance(x, w)[0, 0] == pytest.approx(expected, rel=1e-12)
    relu_map = random_feature_tower("relu", d, m, rng=0)
    assert relu_map.predicted_variance(x, x)[0, 0] == pytest.approx(1.25 * 0.6**4 / m, rel=1e-12)
    cos_map = random_feature_tower("cos", d, m, rng=0)
    sin_map = random_feature_tower("sin", d, m, rng=0)
    total = m * (cos_map.predicted_variance(x, w) + sin_map.predicted_variance(x, w))[0, 0] + 1
    assert total == pytest.approx(math.exp(0.36 + 0.49), rel=1e-12)  # e^{‖x‖²+‖w‖²} at M = 0


def test_arc_cosine_kernel_special_angles_and_monte_carlo():
    x = np.array([[0.6, 0.0, 0.0]])
    assert arc_cosine_kernel(x, x)[0, 0] == pytest.approx(0.36 / 2, rel=1e-14)
    assert arc_cosine_kernel(x, np.array([[0.0, 0.5, 0.0]]))[0, 0] == pytest.approx(0.3 / (2 * np.pi), rel=1e-14)
    assert arc_cosine_kernel(x, -x)[0, 0] == pytest.approx(0.0, abs=1e-15)
    assert arc_cosine_kernel(x, x, order=2)[0, 0] == pytest.approx(1.5 * 0.6**4, rel=1e-14)
    rng = np.random.default_rng(0)
    a, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 3))
    g = rng.standard_normal((3, 400_000))
    relu_a, relu_w = np.maximum(a @ g, 0), np.maximum(w @ g, 0)
    for order in (1, 2):
        samples = relu_a[:, None, :] ** order * relu_w[None, :, :] ** order
        se = samples.std(axis=2) / math.sqrt(g.shape[1])
        assert np.all(np.abs(samples.mean(axis=2) - arc_cosine_kernel(a, w, order=order)) < Z_MARGIN * se)


# --------------------------------------------------------------------------- the clamped ReLU tower
def _clamp_moment_given(mu, tau, kappa, order):
    """E[max(b, κ)^order] for b ~ N(mu, tau²): the one-dimensional closed form (a point mass for tau = 0)."""
    if tau == 0.0:
        return max(mu, kappa) ** order
    t = (kappa - mu) / tau
    below, above = 0.5 * math.erfc(-t / SQRT2), 0.5 * math.erfc(t / SQRT2)  # P(b ≤ κ), P(b > κ)
    density = math.exp(-0.5 * t * t) / SQRT2PI
    if order == 1:
        return kappa * below + mu * above + tau * density
    return kappa**2 * below + (mu * mu + tau * tau) * above + tau * (mu + kappa) * density


def _clamped_kernel_by_quadrature(x, w, kappa, order):
    """E[max(a, κ)^n max(b, κ)^n] as a 1-D integral over u = a/‖x‖, b | u in closed form (scipy.integrate.quad).

    Independent of the library's bivariate closed form; quad is split at the kinks u = κ/‖x‖ and, for parallel
    vectors, u = κ/(ρ‖w‖), and asked for a relative error of 1e-13.
    """
    sx, sw = float(np.linalg.norm(x)), float(np.linalg.norm(w))
    rho = float(np.clip(x @ w / (sx * sw), -1.0, 1.0))
    tau = sw * math.sqrt(max(1.0 - rho * rho, 0.0))
    tau = 0.0 if tau < 1e-7 * sw else tau

    def integrand(u):
        weight = math.exp(-0.5 * u * u) / SQRT2PI
        return max(sx * u, kappa) ** order * _clamp_moment_given(sw * rho * u, tau, kappa, order) * weight

    kinks = [kappa / sx] + ([kappa / (sw * rho)] if tau == 0.0 else [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return integrate.quad(integrand, -40.0, 40.0, points=kinks, epsabs=0.0, epsrel=1e-13, limit=400)[0]


def _pairs_of_every_kind(rng, d=3):
    """Rows of several norms, with a parallel, an antiparallel, an equal and an orthogonal partner."""
    x = _rows_with_norm(rng, 4, d, 1.0) * np.array([[0.4], [1.0], [2.0], [3.5]])
    w = _rows_with_norm(rng, 3, d, 1.0) * np.array([[0.6], [1.5], [2.5]])
    orthogonal = np.cross(x[1], w[0])
    return x, np.vstack([w, 0.7 * x[2], -1.3 * x[1], x[3], orthogonal * (1.2 / np.linalg.norm(orthogonal))])


@pytest.mark.parametrize("order", [1, 2])
def test_clamped_relu_kernel_at_kappa_zero_is_the_arc_cosine_kernel(order):
    x, w = _pairs_of_every_kind(np.random.default_rng(0))
    x = np.vstack([x, np.zeros((1, 3))])  # a zero row
    # 1e-12: near ω = π the order-2 arc-cosine formula cancels (3 sinω cosω against (π − ω)(1 + 2cos²ω)) and
    # keeps fewer digits than the clamped form (at x[3], w[3], cos ω = -0.91: 2e-13 against 3e-14, by quadrature).
    np.testing.assert_allclose(clamped_relu_kernel(x, w, 0.0, order=order), arc_cosine_kernel(x, w, order=order),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kappa", KAPPAS + (2.0,))
def test_clamped_relu_kernel_matches_a_one_dimensional_quadrature(kappa):
    """Closed form against quad to 1e-11 relative, or 1e-14 of (‖x‖‖w‖)^order absolute for values far below that
    scale (an orthogonal pair at κ = -5 gives k ≈ 2e-13 ‖x‖‖w‖, a product of two Gaussian tails)."""
    x, w = _pairs_of_every_kind(np.random.default_rng(1))
    scale = np.linalg.norm(x, axis=1)[:, None] * np.linalg.norm(w, axis=1)[None, :]
    for order in (1, 2):
        closed = clamped_relu_kernel(x, w, kappa, order=order)
        reference = np.array([[_clamped_kernel_by_quadrature(a, b, kappa, order) for b in w] for a in x])
        assert np.all(np.abs(closed - reference) <= 1e-11 * np.abs(reference) + 1e-14 * scale**order)


@pytest.mark.parametrize("kappa", KAPPAS)
def test_clamped_relu_kernel_monte_carlo(kappa):
    rng = np.random.default_rng(2)
    x = _rows_with_norm(rng, 2, 3, 1.0) * np.array([[0.8], [3.0]])
    w = _rows_with_norm(rng, 3, 3, 1.0) * np.array([[0.5], [1.5], [4.0]])
    g = rng.standard_normal((3, 400_000))
    clamped_x, clamped_w = np.maximum(x @ g, kappa), np.maximum(w @ g, kappa)
    for order in (1, 2):
        samples = clamped_x[:, None, :] ** order * clamped_w[None, :, :] ** order
        se = samples.std(axis=2) / math.sqrt(g.shape[1])
        error = np.abs(samples.mean(axis=2) - clamped_relu_kernel(x, w, kappa, order=order))
        assert np.all(error < Z_MARGIN * se), (order, (error / se).max())


@pytest.mark.parametrize("kappa", [-1.0, 0.0, 1.5])
def test_clamped_relu_kernel_with_a_zero_vector(kappa):
    """g·0 = 0, so max(0, κ) is a constant factor: k = max(0, κ) E max(b, κ), E Z² = max(0, κ)² E max(b, κ)²."""
    zero, w = np.zeros((1, 3)), np.array([[0.3, -1.2, 0.9]])
    sigma = float(np.linalg.norm(w))
    floor = max(0.0, kappa)
    for order in (1, 2):
        expected = floor**order * _clamp_moment_given(0.0, sigma, kappa, order)
        assert clamped_relu_kernel(zero, w, kappa, order=order)[0, 0] == pytest.approx(expected, rel=1e-14, abs=1e-300)
        assert clamped_relu_kernel(w, zero, kappa, order=order)[0, 0] == pytest.approx(expected, rel=1e-14, abs=1e-300)
        assert clamped_relu_kernel(zero, zero, kappa, order=order)[0, 0] == floor ** (2 * order)
    variance = ReLUTower(3, 10, kappa=kappa, rng=0).predicted_variance(zero, w)[0, 0]
    spread = _clamp_moment_given(0.0, sigma, kappa, 2) - _clamp_moment_given(0.0, sigma, kappa, 1) ** 2
    assert variance == pytest.approx(floor**2 * spread / 10, rel=1e-13, abs=1e-300)


@pytest.mark.parametrize("kappa", KAPPAS)
def test_clamped_tower_variance_is_the_second_moment_minus_the_square(kappa):
    """predicted_variance · m + target² against the quadrature of E Z² (the variance is computed without it)."""
    x, w = _pairs_of_every_kind(np.random.default_rng(3))
    tower = ReLUTower(3, 16, kappa=kappa, rng=0)
    second = tower.n_directions * tower.predicted_variance(x, w) + tower.target(x, w) ** 2
    reference = np.array([[_clamped_kernel_by_quadrature(a, b, kappa, 2) for b in w] for a in x])
    scale = np.linalg.norm(x, axis=1)[:, None] * np.linalg.norm(w, axis=1)[None, :]
    assert np.all(np.abs(second - reference) <= 1e-11 * reference + 1e-14 * scale**2)
    assert np.all(tower.predicted_variance(x, w) > 0)


@pytest.mark.parametrize("draws", ["iid", "orthogonal"])
@pytest.mark.parametrize("kappa", KAPPAS)
def test_clamped_tower_mean_over_seeds_matches_the_target(kappa, draws):
    """As test_mean_over_seeds_matches_the_target, with norms (0.5 to 4) at which each floor is reached."""
    rng = np.random.default_rng(7)
    d, m, n_seeds = 4, 64, 300
    x = _rows_with_norm(rng, 3, d, 1.0) * np.array([[0.5], [1.5], [4.0]])
    w = _rows_with_norm(rng, 3, d, 1.0) * np.array([[0.8], [2.0], [3.0]])
    estimates = np.stack([ReLUTower(d, m, kappa=kappa, draws=draws, rng=s).estimate(x, w) for s in range(n_seeds)])
    tower = random_feature_tower("relu", d, m, draws=draws, kappa=kappa, rng=0)
    variance = tower.predicted_variance(x, w)
    standard_error = np.sqrt(variance / n_seeds)
    if draws == "orthogonal":
        standard_error = np.maximum(standard_error, estimates.std(axis=0, ddof=1) / math.sqrt(n_seeds))
    error = np.abs(estimates.mean(axis=0) - tower.target(x, w))
    assert np.all(error < Z_MARGIN * standard_error), (error / standard_error).max()
    if draws == "iid":
        ratio = estimates.var(axis=0, ddof=1) / variance  # sample variance of 300 draws: within ~±25 %
        assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio


@pytest.mark.parametrize("kappa", KAPPAS)
def test_clamped_tower_per_feature_second_moment(kappa):
    """As test_per_feature_second_moment_matches_the_variance_formula, E Z⁴ bounded by Cauchy–Schwarz:
    |max(a, κ)| ≤ |κ| + |a|, so E max(a, κ)⁸ ≤ 2⁷(κ⁸ + 105σ⁸) and E Z⁴ ≤ (E max(a, κ)⁸ E max(b, κ)⁸)^{1/2}."""
    rng = np.random.default_rng(2)
    d, n = 3, 300_000
    x, w = _rows_with_norm(rng, 1, d, 1.5), _rows_with_norm(rng, 1, d, 2.5)
    tower = random_feature_tower("relu", d, n, kappa=kappa, rng=8)
    second = n * tower.predicted_variance(x, w)[0, 0] + tower.target(x, w)[0, 0] ** 2
    z_sq = _per_feature_samples(tower, x, w, None) ** 2
    standard_error = z_sq.std() / math.sqrt(n)
    bound = 2**7 * math.sqrt((kappa**8 + 105 * 1.5**8) * (kappa**8 + 105 * 2.5**8))
    assert standard_error < 1.2 * math.sqrt(bound / n)
    assert abs(z_sq.mean() - second) < Z_MARGIN * standard_error, (z_sq.mean(), second, standard_error)


def test_clamped_tower_float32_and_kappa_zero():
    rng = np.random.default_rng(4)
    x, w = _rows_with_norm(rng, 3, 4, 1.2), _rows_with_norm(rng, 2, 4, 2.0)
    tower64 = ReLUTower(4, 8, kappa=-1.0, rng=0)
    tower32 = ReLUTower(4, 8, kappa=-1.0, rng=0, dtype=np.float32)
    for method in ("target", "predicted_variance"):
        got = getattr(tower32, method)(x.astype(np.float32), w.astype(np.float32))
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, getattr(tower64, method)(x, w), rtol=2e-6)
    # κ = 0 keeps the arc-cosine formulas themselves.
    plain = ReLUTower(4, 8, rng=0)
    np.testing.assert_array_equal(plain.target(x, w), arc_cosine_kernel(x, w))
    assert not np.allclose(tower64.target(x, w), plain.target(x, w))


# --------------------------------------------------------------------------- warnings
def test_gaussian_heavy_tail_warns_and_reports_infinite_variance():
    tower = random_feature_tower("gaussian", 3, 50, rng=0)
    x = np.array([[0.6, 0.5, 0.0]])  # ‖x‖² = 0.61 ≥ 1/2
    w = np.array([[0.1, 0.2, 0.3]])
    with pytest.warns(RandomFeatureVarianceWarning, match=r"\|\|x\|\|\^2 is 0.61 >= 1/2; the estimator's variance"):
        tower.input_features(x)
    with pytest.warns(RandomFeatureVarianceWarning, match="variance is infinite"):
        variance = tower.predicted_variance(x, w)
    assert np.isinf(variance).all()
    with pytest.warns(RandomFeatureVarianceWarning, match="not even its mean exists"):
        tower.input_features(np.array([[1.0, 0.5, 0.0]]))


def test_variance_param_below_minus_one_eighth_warns_and_below_minus_one_quarter_fails():
    with pytest.warns(RandomFeatureVarianceWarning, match=r"variance_param=-0.2 <= -1/8: the estimator is unbiased"):
        tower = random_feature_tower("cos", 3, 10, variance_param=-0.2, rng=0)
    x = np.full((2, 3), 0.1)
    assert np.all(np.isinf(tower.predicted_variance(x, x)))  # 1 + 8M < 0: the second moment diverges
    with pytest.raises(ValueError, match=r"variance_param must be > -1/4 \(the Gaussian lemma needs 1 \+ 4M > 0\), "
                                         r"got -0.25"):
        random_feature_tower("exp", 3, 10, variance_param=-0.25, rng=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overflow_warns_instead_of_returning_silent_inf(dtype):
    limit = math.log(np.finfo(dtype).max)
    x = np.zeros((1, 3), dtype=dtype)
    x[0, 0] = math.sqrt(2 * limit + 20)  # e^{‖x‖²/2} overflows
    tower = random_feature_tower("cos", 3, 8, rng=0, dtype=dtype)
    with pytest.warns(RandomFeatureVarianceWarning, match=r"cos random features overflow: .*\|\|x\|\|\^2 is"):
        features = tower.input_features(x)
    assert np.isinf(features).any()
    w = x.copy()
    with pytest.warns(RandomFeatureVarianceWarning, match="predicted variance overflows"):
        tower.predicted_variance(x[:, :] * 0, w)


def test_small_norms_raise_no_warning():
    rng = np.random.default_rng(0)
    x, w = _rows_with_norm(rng, 4, 5, 0.5), _rows_with_norm(rng, 3, 5, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for activation in FEATURE_MAPS:
            tower = random_feature_tower(activation, 5, 32, rng=1)
            tower.estimate(x, w)
            tower.predicted_variance(x, w)


def test_large_dimension_and_m_stay_finite_in_log_space():
    """(1+4M)^{d/4} = 5^196 ≈ 1e137 for d = 784, M = 1: kept inside the exponent, never formed."""
    rng = np.random.default_rng(0)
    d, m, M = 784, 16, 1.0
    tower = random_feature_tower("exp", d, m, variance_param=M, rng=3)
    x = _rows_with_norm(rng, 2, d, 0.5)
    features = tower.input_features(x)
    g = tower.G
    log_expected = (d / 4) * math.log(5) - 0.5 * math.log(m) - M * (g**2).sum(0) + math.sqrt(5) * x @ g - 0.125
    assert np.all(np.isfinite(features)) and np.all(features > 0)
    np.testing.assert_allclose(np.log(features), log_expected, rtol=1e-12)


# --------------------------------------------------------------------------- validation
def test_validation_errors_name_the_parameter():
    names = r"\['cos', 'sin', 'exp', 'gaussian', 'relu'\]"
    with pytest.raises(ValueError, match=rf"activation must be one of {names}, got 'tanh'"):
        random_feature_tower("tanh", 3, 4)
    with pytest.raises(ValueError, match="d must be a positive int, got 0"):
        random_feature_tower("cos", 0, 4)
    with pytest.raises(TypeError, match="n_directions must be a positive int"):
        random_feature_tower("cos", 3, 4.0)
    with pytest.raises(ValueError, match=r"draws must be one of \['iid', 'orthogonal'\], got 'qr'"):
        random_feature_tower("cos", 3, 4, draws="qr")
    with pytest.raises(ValueError, match="relu needs variance_param=0, got 0.5"):
        random_feature_tower("relu", 3, 4, variance_param=0.5)
    with pytest.raises(ValueError, match="kappa only applies to activation='relu'; cos needs kappa=0, got -5"):
        random_feature_tower("cos", 3, 4, kappa=-5)
    with pytest.raises(ValueError, match="variance_param must be finite, got nan"):
        random_feature_tower("cos", 3, 4, variance_param=float("nan"))
    with pytest.raises(ValueError, match="kappa must be finite, got -inf"):
        random_feature_tower("relu", 3, 4, kappa=-float("inf"))
    with pytest.raises(TypeError, match="variance_param must be a finite real number, got '0.1' of type str"):
        random_feature_tower("cos", 3, 4, variance_param="0.1")
    with pytest.raises(TypeError, match="kappa must be a finite real number, got False of type bool"):
        random_feature_tower("relu", 3, 4, kappa=False)
    tower = random_feature_tower("cos", 3, 4, rng=0)
    with pytest.raises(ValueError, match="x has 2 columns but the feature map has d=3"):
        tower.input_features(np.zeros((5, 2)))
    with pytest.raises(TypeError, match="x has dtype float32 but float64 was expected"):
        tower.input_features(np.zeros((5, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"b must have one entry per row of w \(2\), got shape \(3,\)"):
        tower.weight_features(np.zeros((2, 3)), np.zeros(3))
    relu = random_feature_tower("relu", 3, 4, rng=0)
    with pytest.raises(ValueError, match="the ReLU tower has no bias"):
        relu.weight_features(np.ones((2, 3)), np.ones(2))
    ones = np.ones((2, 3))
    np.testing.assert_array_equal(relu.weight_features(ones, np.zeros(2)), relu.input_features(ones))
    with pytest.raises(ValueError, match="order must be 1 or 2, got 3"):
        clamped_relu_kernel(ones, ones, -1.0, order=3)
    with pytest.raises(ValueError, match="kappa must be finite, got nan"):
        clamped_relu_kernel(ones, ones, float("nan"))
    with pytest.raises(ValueError, match="x and w must have the same number of columns, got 3 and 2"):
        clamped_relu_kernel(ones, np.ones((2, 2)), -1.0)
    with pytest.raises(TypeError, match="w has dtype float32 but float64 was expected"):
        clamped_relu_kernel(ones, ones.astype(np.float32), -1.0)


# --------------------------------------------------------------------------- determinism and dtypes
@pytest.mark.parametrize("draws", ["iid", "orthogonal"])
def test_seed_determinism_and_config_round_trip(draws):
    x = np.random.default_rng(0).standard_normal((3, 6)) * 0.2
    a = random_feature_tower("gaussian", 6, 20, draws=draws, rng=42)
    b = random_feature_tower(**a.get_config())
    np.testing.assert_array_equal(a.G, b.G)
    np.testing.assert_array_equal(a.xi, b.xi)
    np.testing.assert_array_equal(a.input_features(x), b.input_features(x))
    c = random_feature_tower("gaussian", 6, 20, draws=draws, rng=43)
    assert not np.array_equal(a.G, c.G) and not np.array_equal(a.xi, c.xi)
    from_generator = random_feature_tower("cos", 6, 20, rng=np.random.default_rng(5))
    again = random_feature_tower("cos", 6, 20, rng=np.random.default_rng(5))
    assert from_generator.seed == again.seed and np.array_equal(from_generator.G, again.G)
    assert random_feature_tower("cos", 6, 20, rng=1).xi is None


@pytest.mark.parametrize("activation", FEATURE_MAPS)
def test_float32_is_preserved_and_close_to_float64(activation):
    rng = np.random.default_rng(0)
    x64, w64 = _rows_with_norm(rng, 4, 5, 0.5), _rows_with_norm(rng, 3, 5, 0.5)
    b64 = None if activation == "relu" else rng.uniform(-1, 1, 3)
    f32 = random_feature_tower(activation, 5, 16, draws="orthogonal", rng=9, dtype=np.float32)
    f64 = random_feature_tower(activation, 5, 16, draws="orthogonal", rng=9)
    np.testing.assert_array_equal(f32.G, f64.G.astype(np.float32))
    x32, w32 = x64.astype(np.float32), w64.astype(np.float32)
    b32 = None if b64 is None else b64.astype(np.float32)
    phi, psi = f32.input_features(x32), f32.weight_features(w32, b32)
    assert phi.dtype == np.float32 and psi.dtype == np.float32
    assert f32.estimate(x32, w32, b32).dtype == np.float32
    np.testing.assert_allclose(phi, f64.input_features(x64), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(psi, f64.weight_features(w64, b64), rtol=2e-5, atol=1e-6)


def test_feature_widths_and_orthogonal_columns():
    assert [random_feature_tower(a, 3, 10, rng=0).n_features for a in FEATURE_MAPS] == [20, 20, 10, 20, 10]
    g = random_feature_tower("cos", 8, 8, draws="orthogonal", rng=0).G
    gram = g.T @ g
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0, atol=1e-12)  # one block: orthogonal columns


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["cos", "sin", "exp", "gaussian"])
def test_target_is_the_activation_of_the_pre_activation(activation, dtype, rng):
    """Bitwise: target(x, w, b) = f(x @ w.T + b), with f as written out here."""
    functions = {"cos": np.cos, "sin": np.sin, "exp": np.exp, "gaussian": lambda z: np.exp(-0.5 * z**2)}
    tower = random_feature_tower(activation, 3, 4, rng=0, dtype=dtype)
    x, w = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((2, 3)).astype(dtype)
    b = rng.standard_normal(2).astype(dtype)
    np.testing.assert_array_equal(tower.target(x, w), functions[activation](x @ w.T), strict=True)
    np.testing.assert_array_equal(tower.target(x, w, b), functions[activation](x @ w.T + b), strict=True)
