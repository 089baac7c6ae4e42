"""EUGen layers: gradients, the norm at x = 0, the unbiased polynomial estimator and its variance, storage."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from rpnumpy.gradcheck import PASS_THRESHOLD, check_gradients
from rpnumpy.io import load_model, save_model
from rpnumpy.layers import LowRank, ReLU, Sequential
from rpnumpy.layers.eugen import EUGEN_DRAWS, EUGen, balanced_scales, estimator_variance, hadamard_features
from rpnumpy.random_matrices import random_matrix
from rpnumpy.testing import check_backward_contract, perturb_params

DRAWS = list(EUGEN_DRAWS)


# -- gradients -------------------------------------------------------------------------------------
@pytest.mark.parametrize("draws", DRAWS)
@pytest.mark.parametrize("norm_term", [True, False])
@pytest.mark.parametrize("train_G", [False, True])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_gradcheck(order, train_G, norm_term, draws, rng):
    layer = EUGen(4, 3, m=5, order=order, norm_term=norm_term, draws=draws, train_G=train_G, rng=7)
    perturb_params(layer, rng)
    report = check_gradients(layer, 0.7 * rng.standard_normal((3, 4)), rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    expected = {"A", "b", "x"} | ({"G"} if train_G else set())
    assert {row.name for row in report.rows} == expected
    assert report.buffers == ([] if train_G else ["G"])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("train_G", [False, True])
def test_backward_contract(train_G, bias, rng):
    layer = EUGen(6, 4, m=8, order=3, train_G=train_G, bias=bias, rng=1)
    perturb_params(layer, rng)
    check_backward_contract(layer, rng.standard_normal((5, 6)), rng)
    assert ("b" in layer.params) == bias and ("G" in layer.params) == train_G and ("G" in layer.buffers) != train_G


def test_fixed_G_gets_no_gradient_and_backward_matches_the_formulas(rng):
    layer = EUGen(5, 2, m=6, order=2, rng=3)
    perturb_params(layer, rng)
    x, dy = rng.standard_normal((4, 5)), rng.standard_normal((4, 2))
    layer.forward(x)
    dx = layer.backward(dy)
    assert "G" not in layer.grads
    np.testing.assert_array_equal(layer.buffer_grads["G"], 0.0)
    # The same gradients written out by hand for order 2: H_2 = P_21 * P_22.
    x_plus = np.column_stack([x, np.ones(4), np.linalg.norm(x, axis=1)])
    G11, G21, G22 = (layer.projection(i, j) for i, j in ((1, 1), (2, 1), (2, 2)))
    P11, P21, P22 = x_plus @ G11, x_plus @ G21, x_plus @ G22
    F = np.column_stack([np.ones(4), P11, P21 * P22])
    np.testing.assert_allclose(layer.forward(x), F @ layer.params["A"] + layer.params["b"], rtol=1e-13)
    np.testing.assert_allclose(layer.grads["A"], F.T @ dy, rtol=1e-13)
    dF = dy @ layer.params["A"].T
    dH1, dH2 = dF[:, 1:7], dF[:, 7:]
    dx_plus = dH1 @ G11.T + (dH2 * P22) @ G21.T + (dH2 * P21) @ G22.T
    expected = dx_plus[:, :5] + dx_plus[:, 6:7] * x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(dx, expected, rtol=1e-12)


def test_features_keep_no_cache(rng):
    layer = EUGen(4, 2, m=3, order=2, rng=0)
    x1, x2, dy = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((3, 2))
    layer.forward(x1)
    dx_before = layer.backward(dy)
    layer.forward(x1)
    layer.features(x2)  # must not replace the cache of the forward pass
    np.testing.assert_array_equal(layer.backward(dy), dx_before)


@pytest.mark.torch
def test_matches_pytorch_autograd_including_a_zero_input(rng):
    torch = pytest.importorskip("torch")
    layer = EUGen(4, 3, m=5, order=3, train_G=True, rng=2)
    perturb_params(layer, rng)
    x, dy = rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    x[2] = 0.0
    layer.forward(x)
    dx = layer.backward(dy)

    tx, tG, tA, tb = (torch.tensor(v, requires_grad=True) for v in (x, layer.G, layer.params["A"], layer.params["b"]))
    ones = torch.ones(4, 1, dtype=torch.float64)
    x_plus = torch.cat([tx, ones, torch.linalg.vector_norm(tx, dim=1, keepdim=True)], 1)
    P = x_plus @ tG
    m = 5
    blocks = [torch.ones(4, 1, dtype=torch.float64), P[:, :m], P[:, m:2 * m] * P[:, 2 * m:3 * m],
              P[:, 3 * m:4 * m] * P[:, 4 * m:5 * m] * P[:, 5 * m:]]
    y = torch.cat(blocks, 1) @ tA + tb
    y.backward(torch.tensor(dy))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)  # PyTorch also uses 0 at x = 0
    np.testing.assert_allclose(layer.grads["G"], tG.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["A"], tA.grad.numpy(), rtol=1e-12, atol=1e-12)


# -- the norm at x = 0 -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_zero_input_forward_and_backward_are_finite(dtype, rng):
    layer = EUGen(3, 2, m=4, order=3, rng=5, dtype=dtype)
    perturb_params(layer, rng)
    x = rng.standard_normal((3, 3)).astype(dtype)
    x[1] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division-by-zero or invalid-value warning either
        y = layer.forward(x)
        dx = layer.backward(rng.standard_normal(y.shape).astype(dtype))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    assert layer.augment(x)[1, -1] == 0.0


def test_norm_gradient_at_zero_is_the_subgradient_zero(rng):
    """dx(0) uses d||x||/dx = 0: the mean of the one-sided limits along +u and -u (the centre of the kink)."""
    layer = EUGen(3, 2, m=4, order=2, rng=6)
    perturb_params(layer, rng)
    dy = rng.standard_normal((1, 2))
    u = rng.standard_normal(3)
    u /= np.linalg.norm(u)

    def dx_at(point):
        layer.forward(point[None, :])
        return layer.backward(dy)[0]

    at_zero, eps = dx_at(np.zeros(3)), 1e-9
    plus, minus = dx_at(eps * u), dx_at(-eps * u)
    np.testing.assert_allclose(at_zero, (plus + minus) / 2, rtol=1e-7, atol=1e-12)
    # The one-sided limits differ by 2 g_n u: the norm column's gradient g_n times d||x||/dx = +-u.
    x_plus = np.array([[0.0, 0.0, 0.0, 1.0, 0.0]])  # [x, 1, ||x||] at x = 0
    G11, G21, G22 = (layer.projection(i, j) for i, j in ((1, 1), (2, 1), (2, 2)))
    dF = dy @ layer.params["A"].T
    dH1, dH2 = dF[:, 1:5], dF[:, 5:]
    g_norm = (dH1 @ G11[-1] + (dH2 * (x_plus @ G22)) @ G21[-1] + (dH2 * (x_plus @ G21)) @ G22[-1])[0]
    np.testing.assert_allclose(plus - minus, 2 * g_norm * u, rtol=1e-6)
    assert abs(g_norm) > 1e-3  # the test would be empty if the norm column had no gradient
    # Without the norm term there is no kink: dx(0) is the ordinary gradient.
    plain = EUGen(3, 2, m=4, order=2, norm_term=False, rng=6)
    perturb_params(plain, rng)
    report = check_gradients(plain, np.zeros((1, 3)), rng=0)
    assert report.max_relative_error < PASS_THRESHOLD


# -- the unbiased polynomial estimator (Theorem 3.1) -----------------------------------------------
COEFFICIENTS = [0.1, -0.5, 0.3, -0.2]  # sigma(s) = 0.1 - 0.5 s + 0.3 s^2 - 0.2 s^3: negative terms included


def _estimates(draws, x, w, b, c, n_seeds=2000, m=16):
    """The estimate features(x) @ weight_features(...).T for n_seeds independent layers."""
    out = np.empty((n_seeds, x.shape[0], w.shape[0]))
    for seed in range(n_seeds):
        layer = EUGen(x.shape[1], 1, m=m, order=3, draws=draws, rng=seed)
        out[seed] = layer.features(x) @ layer.weight_features(w, b, COEFFICIENTS, c).T
    return out, layer


@pytest.fixture(scope="module")
def problem():
    gen = np.random.default_rng(0)
    x, w = 0.3 * gen.standard_normal((2, 3)), 0.3 * gen.standard_normal((2, 3))
    b, c = np.array([0.2, -0.1]), np.array([0.3, -0.2])
    s = x @ w.T + b + c * np.linalg.norm(x, axis=1, keepdims=True)
    return x, w, b, c, np.polynomial.polynomial.polyval(s, COEFFICIENTS)


@pytest.fixture(scope="module")
def monte_carlo(problem):
    x, w, b, c, _ = problem
    return {draws: _estimates(draws, x, w, b, c) for draws in DRAWS}


def _variance_standard_error(samples):
    """Standard error of the sample variance, sqrt((mu_4 - sigma^4)/N), from the samples' own moments."""
    centred = samples - samples.mean(0)
    return np.sqrt(((centred**4).mean(0) - (centred**2).mean(0) ** 2) / samples.shape[0])


@pytest.mark.parametrize("draws", DRAWS)
def test_estimator_is_unbiased_with_negative_coefficients(draws, problem, monte_carlo):
    *_, target = problem
    estimates, _ = monte_carlo[draws]
    standard_error = estimates.std(0, ddof=1) / math.sqrt(len(estimates))
    # 4 entries; |z| < 4 has a false-alarm rate below 3e-4 in all, and the seeds are fixed.
    assert np.all(np.abs(estimates.mean(0) - target) < 4 * standard_error)


@pytest.mark.parametrize("draws", ["iid", "rademacher"])
def test_predicted_variance_matches_the_monte_carlo_variance(draws, problem, monte_carlo):
    x, w, b, c, _ = problem
    estimates, layer = monte_carlo[draws]
    predicted = layer.predicted_variance(x, w, b, COEFFICIENTS, c)
    empirical = estimates.var(0, ddof=1)
    assert np.all(np.abs(empirical - predicted) < 4 * _variance_standard_error(estimates))
    # ...and the mean is within 4 predicted standard errors, the form the brief asks for.
    *_, target = problem
    assert np.all(np.abs(estimates.mean(0) - target) < 4 * np.sqrt(predicted / len(estimates)))


def test_orthogonal_rows_lower_the_variance(problem, monte_carlo):
    x, w, b, c, _ = problem
    iid, layer = monte_carlo["iid"]
    orthogonal, _ = monte_carlo["orthogonal"]
    difference = iid.var(0, ddof=1) - orthogonal.var(0, ddof=1)
    margin = 4 * np.hypot(_variance_standard_error(iid), _variance_standard_error(orthogonal))
    assert np.all(difference > margin)


def test_variance_numbers_quoted_for_unit_vectors():
    """Unit u, v, k = 3, m = 16/64/256: predicted variances 0.0216/0.0054/0.00135, as a secondary description
    of the EUGen paper quotes them.

    That description records neither the coefficients nor the angle; a_1 = a_2 = a_3 = 1/3 with
    u.v = 0.1 reproduces its three predictions to the printed precision (our choice).
    """
    u = np.array([[1.0, 0.0, 0.0]])
    v = np.array([[0.1, math.sqrt(1 - 0.01), 0.0]])
    a = [0.0, 1 / 3, 1 / 3, 1 / 3]
    predicted = [estimator_variance(u, v, a, m)[0, 0] for m in (16, 64, 256)]
    assert [round(p, 4) for p in predicted[:2]] == [0.0216, 0.0054] and round(predicted[2], 5) == 0.00135
    gen = np.random.default_rng(1)
    for m, pred in zip((16, 64, 256), predicted):
        n_draws = 3000
        samples = np.empty(n_draws)
        for t in range(n_draws):
            G = random_matrix("gaussian", (3, 6 * m), int(gen.integers(2**62)), variance=1.0)
            scale = np.concatenate([[a[0]], np.repeat(np.array(a[1:]) / m, m)])
            samples[t] = ((hadamard_features(v, G, m, 3) * scale) @ hadamard_features(u, G, m, 3)[0])[0]
        assert abs(samples.mean() - 0.1 / 3 - 0.01 / 3 - 0.001 / 3) < 4 * math.sqrt(pred / n_draws)
        assert abs(samples.var(ddof=1) - pred) < 4 * _variance_standard_error(samples)


def test_rademacher_variance_is_below_gaussian():
    # The reduction per factor is 2 sum_t u_t^2 v_t^2; the shared 1 * b coordinate makes it large.
    x, w, b = np.array([[0.5, 0.2]]), np.array([[0.4, -0.3]]), np.array([0.8])
    gen = np.random.default_rng(2)
    variances, errors = {}, {}
    for draws in ("iid", "rademacher"):
        samples = np.empty(3000)
        for t in range(samples.size):
            layer = EUGen(2, 1, m=8, order=2, norm_term=False, draws=draws, rng=int(gen.integers(2**62)))
            samples[t] = (layer.features(x) @ layer.weight_features(w, b, [0.0, 1.0, 1.0]).T)[0, 0]
        variances[draws], errors[draws] = samples.var(ddof=1), _variance_standard_error(samples)
        predicted = layer.predicted_variance(x, w, b, [0.0, 1.0, 1.0])[0, 0]
        assert abs(variances[draws] - predicted) < 4 * errors[draws]
    assert variances["rademacher"] < variances["iid"] - 4 * math.hypot(errors["iid"], errors["rademacher"])
    u = np.array([[0.4, -0.3, 0.8]])
    v = np.array([[0.5, 0.2, 1.0]])
    assert estimator_variance(u, v, [0, 1, 1], 8, draws="rademacher") < estimator_variance(u, v, [0, 1, 1], 8)


def test_balanced_scaling_gives_the_same_estimate(rng):
    layer = EUGen(5, 1, m=32, order=3, rng=4)
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    a = [0.2, -1.5, 0.0, 0.04]
    plain = layer.features(x) @ layer.weight_features(w, b, a).T
    balanced = layer.features(x, coefficients=a) @ layer.weight_features(w, b, a, balanced=True).T
    np.testing.assert_allclose(balanced, plain, rtol=1e-12)
    input_scale, weight_scale = balanced_scales(a, 32)
    np.testing.assert_allclose(input_scale * weight_scale, [0.2, -1.5 / 32, 0.0, 0.04 / 32], rtol=1e-15)
    np.testing.assert_array_equal(np.abs(input_scale), np.abs(weight_scale))


def test_weight_features_turn_the_layer_into_a_polynomial_dense_layer(rng):
    """Setting A = g(W) makes the layer an unbiased estimate of sigma(xW + b), here sigma(s) = 0.5 + s."""
    layer = EUGen(6, 4, m=64, order=1, norm_term=False, bias=False, rng=8)
    W, b = rng.standard_normal((6, 4)), rng.standard_normal(4)
    layer.params["A"][...] = layer.weight_features(W.T, b, [0.5, 1.0]).T
    x = rng.standard_normal((10, 6))
    # Order 1 is an unbiased but noisy estimate of x.w + b: its error is that of a rank-64 sketch.
    error = layer.forward(x) - (0.5 + x @ W + b)
    predicted = layer.predicted_variance(x, W.T, b, [0.5, 1.0])
    assert np.all(np.abs(error) < 5 * np.sqrt(predicted))


# -- construction, seeds, storage, dtypes ------------------------------------------------------------
def test_shapes_and_seeded_blocks():
    layer = EUGen(8, 3, m=16, order=3, rng=11)
    assert layer.n_features == 1 + 16 * 3 and layer.params["A"].shape == (49, 3)
    assert layer.buffers["G"].shape == (10, 16 * 6) and layer.n_blocks == 6
    blocks = [layer.projection(i, j) for i in (1, 2, 3) for j in range(1, i + 1)]
    assert all(not np.shares_memory(p, q) or p is q for p in blocks for q in blocks)
    assert len({p.tobytes() for p in blocks}) == 6  # never one matrix reused inside a product
    smaller = EUGen(8, 3, m=16, order=2, rng=11)  # block (i, j) does not depend on the order
    for i, j in ((1, 1), (2, 1), (2, 2)):
        np.testing.assert_array_equal(smaller.projection(i, j), layer.projection(i, j))
    np.testing.assert_array_equal(EUGen(8, 3, m=16, order=3, rng=11).buffers["G"], layer.buffers["G"])


def test_draws_have_unit_variance_and_orthogonal_blocks():
    for draws in ("iid", "orthogonal"):
        G = EUGen(30, 1, m=64, order=2, draws=draws, rng=1).buffers["G"]
        # 32 x 192 entries of variance 1: the sample variance has standard error about sqrt(2/6144) = 0.018.
        assert abs(G.var() - 1) < 4 * 0.018
    np.testing.assert_array_equal(np.abs(EUGen(30, 1, m=64, order=2, draws="rademacher", rng=1).G), 1.0)
    block = EUGen(30, 1, m=20, order=1, draws="orthogonal", rng=2).projection(1, 1)  # 20 columns, one block of 32
    gram = block.T @ block
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-12)


@pytest.mark.parametrize("norm_term", [True, False])
def test_default_initialisation_of_A_follows_the_documented_scale(norm_term):
    d, m, k = 20, 400, 2
    layer = EUGen(d, 50, m=m, order=k, norm_term=norm_term, rng=3)
    A, q = layer.params["A"], (2 * d + 1 if norm_term else d + 1)  # E||x+||^2 for unit-variance inputs
    np.testing.assert_array_equal(A[0], 0.0)
    for i in (1, 2):
        block = A[1 + (i - 1) * m: 1 + i * m]
        expected = 1 / math.sqrt(k * m * q**i)
        # 20,000 normal entries: the sample std has relative standard error 1/sqrt(2 * 20000) = 0.005.
        assert abs(block.std() / expected - 1) < 4 * 0.005
    if norm_term:
        assert EUGen(d, 50, m=m, order=k, norm_term=False, rng=3).params["A"][1:m + 1].std() > A[1:m + 1].std()


@pytest.mark.parametrize("train_G", [False, True])
def test_save_load_round_trip(tmp_path, rng, train_G):
    model = Sequential(EUGen(6, 5, m=8, order=2, draws="orthogonal", train_G=train_G, rng=3), ReLU(),
                       EUGen(5, 2, m=4, order=3, norm_term=False, bias=False, rng=4))
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape)  # trained values, G included when trainable
    loaded = load_model(save_model(model, tmp_path / "eugen.npz"))
    assert repr(loaded) == repr(model)
    for key in model.params:
        np.testing.assert_array_equal(loaded.params[key], model.params[key])
    for key in model.buffers:  # rebuilt from the seed, bit for bit
        np.testing.assert_array_equal(loaded.buffers[key], model.buffers[key])
    x = rng.standard_normal((3, 6))
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))


def test_float32_is_preserved(rng):
    layer = EUGen(4, 3, m=6, order=3, train_G=True, rng=0, dtype=np.float32)
    assert all(v.dtype == np.float32 for v in (*layer.params.values(), *layer.grads.values()))
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == layer.features(x).dtype == np.float32
    w = rng.standard_normal((2, 4)).astype(np.float32)
    assert layer.weight_features(w, None, [0, 1, 0.5]).dtype == np.float32
    with pytest.raises(TypeError, match="dtypes are never changed silently"):
        layer.forward(x.astype(np.float64))
    double = layer.astype(np.float64)  # same seed, matrices drawn in float64
    np.testing.assert_allclose(double.forward(x.astype(np.float64)), y, rtol=1e-4, atol=1e-5)


def test_order_one_without_norm_is_a_low_rank_layer(rng):
    """Unification: y = [1, x_+ G] A + b = x (G_x A_1) + (g_1 A_1 + A_0 + b), a rank-m layer."""
    d, m, d_out = 7, 3, 5
    eugen = EUGen(d, d_out, m=m, order=1, norm_term=False, rng=2)
    perturb_params(eugen, rng)
    G, A, b = eugen.buffers["G"], eugen.params["A"], eugen.params["b"]
    low_rank = LowRank(d, d_out, rank=m, rng=0)
    low_rank.params["U"][...] = G[:d]
    low_rank.params["V"][...] = A[1:].T
    low_rank.params["b"][...] = G[d] @ A[1:] + A[0] + b
    x = rng.standard_normal((6, d))
    np.testing.assert_allclose(eugen.forward(x), low_rank.forward(x), rtol=1e-12, atol=1e-12)


def test_validation_names_the_parameter(rng):
    with pytest.raises(ValueError, match="m must be a positive int, got 0"):
        EUGen(3, 2, m=0)
    with pytest.raises(ValueError, match="draws must be one of"):
        EUGen(3, 2, m=4, draws="gaussian")
    with pytest.raises(TypeError, match="norm_term must be a bool"):
        EUGen(3, 2, m=4, norm_term=1)
    layer = EUGen(3, 2, m=4, order=2, rng=0)
    w = rng.standard_normal((2, 3))
    with pytest.raises(ValueError, match="coefficients has degree 3 but the layer's order is 2"):
        layer.weight_features(w, None, [0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"w must have shape \(l, d_in=3\)"):
        layer.weight_features(rng.standard_normal((2, 4)), None, [0, 1])
    with pytest.raises(ValueError, match=r"b must be a scalar or have shape \(2,\)"):
        layer.weight_features(w, np.zeros(3), [0, 1])
    with pytest.raises(ValueError, match="c must be None or 0 for a layer built with norm_term=False"):
        EUGen(3, 2, m=4, norm_term=False, rng=0).weight_features(w, None, [0, 1], c=0.5)
    with pytest.raises(ValueError, match="x has 4 features but the layer expects d_in=3"):
        layer.features(rng.standard_normal((2, 4)))
    with pytest.raises(ValueError, match=r"need 1 <= j <= i <= order=2"):
        layer.projection(1, 2)
    with pytest.raises(ValueError, match="coefficients must be finite"):
        layer.weight_features(w, None, [0, np.nan])
    with pytest.raises(ValueError, match="coefficients must be a non-empty 1-D sequence"):
        balanced_scales([], 4)
    with pytest.raises(ValueError, match="u and v must be .* of the same width p"):
        estimator_variance(np.ones((2, 3)), np.ones((1, 4)), [0, 1], 4)
    with pytest.raises(ValueError, match="draws must be one of"):
        estimator_variance(np.ones((2, 3)), np.ones((1, 3)), [0, 1], 4, draws="qmc")


def test_inference_function_reuses_its_buffers_without_aliasing_its_outputs():
    rng = np.random.default_rng(3)
    layer = EUGen(5, 3, m=4, order=3, rng=0)
    layer.params["A"] += rng.standard_normal(layer.params["A"].shape)
    x = rng.standard_normal((7, 5))
    run = layer.inference_function()
    first = run(x)
    kept = first.copy()
    smaller = run(x[:3])  # a new batch size: new buffers
    again = run(x)
    assert np.array_equal(first, kept)  # later calls never write into an earlier result
    np.testing.assert_allclose(first, layer.forward(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(smaller, layer.forward(x[:3]), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(again, first)
    # the function holds the parameters of the moment it was built
    layer.params["A"] *= 2
    np.testing.assert_array_equal(run(x), first)
