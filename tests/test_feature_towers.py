"""The tower classes: bit-for-bit equal to the single class they replace, gradients, the factory, deprecations.

``_OldRandomFeatureMap`` below is the arithmetic of the class ``rpnumpy.features.RandomFeatureMap``
that the tower classes replaced (its warnings and docstrings left out): the towers must give the
same G, xi, features, input gradients, targets and variances, bit for bit, for the same seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rpnumpy.features import (
    FEATURE_MAPS,
    TOWERS,
    URF_ACTIVATIONS,
    CosTower,
    ExpTower,
    GaussianTower,
    RandomFeatureTower,
    ReLUTower,
    SinTower,
    arc_cosine_kernel,
    random_feature_tower,
)
from rpnumpy.gradcheck import PASS_THRESHOLD, numerical_gradient, relative_error
from rpnumpy.random_matrices import random_matrix


class _OldRandomFeatureMap:
    """The computations of the replaced ``RandomFeatureMap`` (validation and warnings omitted)."""

    def __init__(self, activation, d, m, *, M=0.0, draws="iid", kappa=0.0, rng=0, dtype=np.float64):
        self.activation, self.d, self.m, self.M, self.kappa = activation, d, m, float(M), float(kappa)
        self.dtype, self.seed = np.dtype(dtype), rng
        self.n_features = 2 * m if activation in ("cos", "sin", "gaussian") else m
        kind = "gaussian" if draws == "iid" else "gaussian_orthogonal"
        self.G = random_matrix(kind, (d, m), self.seed, variance=1.0, dtype=self.dtype)
        self.xi = None
        if activation == "gaussian":
            stream = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(1)[0])
            self.xi = (stream.standard_normal(self.m) / (2 * np.pi)).astype(self.dtype)
        self._inv_sqrt_m = 1.0 / math.sqrt(self.m)
        if activation == "relu":
            return
        g64 = self.G.astype(np.float64)
        c = math.sqrt(1.0 + 4.0 * self.M)
        log_scale = 0.25 * self.d * math.log1p(4.0 * self.M) - 0.5 * math.log(self.m)
        log_scale = log_scale - self.M * np.einsum("ik,ik->k", g64, g64)
        self._log_scale = log_scale.astype(self.dtype)
        self._weight_projection = self.G if self.M == 0.0 else (c * g64).astype(self.dtype)
        if activation == "gaussian":
            zeta = 2 * np.pi * self.xi.astype(np.float64)
            self._input_projection = (c * g64 * zeta).astype(self.dtype)
            self._quadratic = (0.5 * zeta**2).astype(self.dtype)
            self._phase_frequency = zeta.astype(self.dtype)
        else:
            self._input_projection = self._weight_projection
            self._quadratic = np.full(self.m, 0.5 if activation in ("cos", "sin") else -0.5, dtype=self.dtype)
            self._phase_frequency = None

    def forward_input(self, x):
        if self.activation == "relu":
            pre = x @ self.G
            mask = pre > self.kappa
            features = np.maximum(pre, self.kappa, out=pre)
            features *= self._inv_sqrt_m
            return features, mask
        x_sq = np.einsum("ij,ij->i", x, x)
        projected = x @ self._input_projection
        exponent = np.multiply.outer(x_sq, self._quadratic)
        exponent += self._log_scale
        if self.activation == "exp":
            exponent += projected
            return np.exp(exponent, out=exponent), x
        h = np.exp(exponent, out=exponent)
        return np.concatenate([h * np.cos(projected), h * np.sin(projected)], axis=1), x

    def backward_input(self, d_features, features, cache):
        if self.activation == "relu":
            dx = (d_features * cache) @ self.G.T
            dx *= self._inv_sqrt_m
            return dx
        x = cache
        if self.activation == "exp":
            d_exponent = d_features * features
            d_projected = d_exponent
        else:
            m = self.m
            d_cos, d_sin = d_features[:, :m], d_features[:, m:]
            h_cos, h_sin = features[:, :m], features[:, m:]
            d_projected = d_sin * h_cos - d_cos * h_sin
            d_exponent = d_cos * h_cos + d_sin * h_sin
        dx = d_projected @ self._input_projection.T
        dx += (2 * (d_exponent @ self._quadratic))[:, None] * x
        return dx

    def weight_features(self, w, b=None):
        if self.activation == "relu":
            return self.forward_input(w)[0]
        w_sq = np.einsum("ij,ij->i", w, w)
        exponent = w @ self._weight_projection
        exponent -= 0.5 * w_sq[:, None]
        exponent += self._log_scale
        if self.activation == "exp":
            if b is not None:
                exponent += b[:, None]
            return np.exp(exponent, out=exponent)
        u = np.exp(exponent, out=exponent)
        if b is None:
            b = np.zeros(w.shape[0], dtype=self.dtype)
        phase = b[:, None] if self._phase_frequency is None else np.multiply.outer(b, self._phase_frequency)
        cos_b, sin_b = np.cos(phase), np.sin(phase)
        if self.activation == "sin":
            return np.concatenate([u * sin_b, u * cos_b], axis=1)
        return np.concatenate([u * cos_b, -u * sin_b], axis=1)

    def target(self, x, w, b=None):
        if self.activation == "relu":
            return arc_cosine_kernel(x, w)
        z = x @ w.T
        if b is not None:
            z += b
        functions = {"cos": np.cos, "sin": np.sin, "exp": np.exp, "gaussian": lambda z: np.exp(-0.5 * z**2)}
        return functions[self.activation](z)

    def predicted_variance(self, x, w, b=None):
        if self.activation == "relu":
            first = arc_cosine_kernel(x, w)
            return (arc_cosine_kernel(x, w, order=2) - first**2) / self.m
        x_sq = np.einsum("ij,ij->i", x, x)[:, None]
        w_sq = np.einsum("ij,ij->i", w, w)[None, :]
        s = x @ w.T
        bias = np.zeros_like(w_sq) if b is None else b[None, :]
        M, d = self.M, self.d
        log_p = 0.5 * d * (2 * math.log1p(4 * M) - math.log1p(8 * M))
        eps = 1.0 / (1.0 + 8 * M)
        rho = (1.0 + 4 * M) / (1.0 + 8 * M)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.activation == "exp":
                excess = np.expm1(log_p + (2 * rho - 1) * (x_sq + w_sq) + (4 * rho - 2) * s)
                variance = np.exp(2 * (s + bias)) * excess
            elif self.activation in ("cos", "sin"):
                sign = 1.0 if self.activation == "cos" else -1.0
                second = 0.5 * np.exp(log_p + eps * w_sq) * (
                    np.exp(x_sq) + sign * np.exp(-eps * x_sq) * np.cos(4 * rho * s + 2 * bias)
                )
                mean = np.cos(s + bias) if self.activation == "cos" else np.sin(s + bias)
                variance = second - mean**2
            else:
                spread = 1.0 + 2 * eps * x_sq
                heavy = np.where(x_sq < 0.5, 1.0 / np.sqrt(np.maximum(1.0 - 2 * x_sq, 0.0)), np.inf)
                second = 0.5 * np.exp(log_p + eps * w_sq) * (
                    heavy + np.exp(-((4 * rho * s + 2 * bias) ** 2) / (2 * spread)) / np.sqrt(spread)
                )
                variance = second - np.exp(-((s + bias) ** 2))
        return variance / self.m


def _rows_with_norm(rng, n, d, norm, dtype=np.float64):
    a = rng.standard_normal((n, d))
    return (a * (norm / np.linalg.norm(a, axis=1, keepdims=True))).astype(dtype)


# (activation, variance parameter, kappa): every tower, with and without the parameter that is its own.
SETTINGS = [(a, M, 0.0) for a in ("cos", "sin", "exp", "gaussian") for M in (0.0, 0.3)]
SETTINGS += [("relu", 0.0, 0.0), ("relu", 0.0, -0.2)]


# --------------------------------------------------------------------------- bit for bit
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("draws", ["iid", "orthogonal"])
@pytest.mark.parametrize("activation, M, kappa", SETTINGS)
def test_every_tower_equals_the_replaced_class_bit_for_bit(activation, M, kappa, draws, dtype):
    rng = np.random.default_rng(0)
    d, m = 5, 7
    for seed in (0, 1, 2**40 + 3):
        old = _OldRandomFeatureMap(activation, d, m, M=M, draws=draws, kappa=kappa, rng=seed, dtype=dtype)
        new = random_feature_tower(activation, d, m, variance_param=M, draws=draws, kappa=kappa, rng=seed,
                                   dtype=dtype)
        x, w = _rows_with_norm(rng, 4, d, 0.6, dtype), _rows_with_norm(rng, 3, d, 0.5, dtype)
        b = None if activation == "relu" else rng.uniform(-1, 1, 3).astype(dtype)
        np.testing.assert_array_equal(new.G, old.G, strict=True)
        if old.xi is None:
            assert new.xi is None
        else:
            np.testing.assert_array_equal(new.xi, old.xi, strict=True)
        phi, cache = new.forward_input(x)
        old_phi, old_cache = old.forward_input(x)
        np.testing.assert_array_equal(phi, old_phi, strict=True)
        d_phi = rng.standard_normal(phi.shape).astype(dtype)
        np.testing.assert_array_equal(new.backward_input(d_phi, cache), old.backward_input(d_phi, old_phi, old_cache),
                                      strict=True)
        for bias in (None, b):
            np.testing.assert_array_equal(new.weight_features(w, bias), old.weight_features(w, bias), strict=True)
            if kappa == 0.0:
                np.testing.assert_array_equal(new.target(x, w, bias), old.target(x, w, bias), strict=True)
                np.testing.assert_array_equal(new.predicted_variance(x, w, bias), old.predicted_variance(x, w, bias),
                                              strict=True)


def test_the_comparison_can_fail():
    """A different seed, or a different variance parameter, changes the features the test compares."""
    x = _rows_with_norm(np.random.default_rng(0), 3, 4, 0.5)
    reference = _OldRandomFeatureMap("cos", 4, 6, M=0.3, rng=5).forward_input(x)[0]
    assert not np.array_equal(random_feature_tower("cos", 4, 6, variance_param=0.3, rng=6).input_features(x), reference)
    assert not np.array_equal(random_feature_tower("cos", 4, 6, variance_param=0.2, rng=5).input_features(x), reference)


# --------------------------------------------------------------------------- gradients
def _check_pair(forward, backward, arrays, rng):
    """Central differences of L = <forward(*arrays), delta> against backward(delta) for every array."""
    out, cache = forward(*arrays)
    delta = rng.standard_normal(out.shape)
    analytic = backward(delta, cache)
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)
    errors = []
    for array, grad in zip(arrays, analytic):
        numeric = numerical_gradient(lambda: float(np.sum(forward(*arrays)[0] * delta)), array)
        errors.append(relative_error(grad, numeric))
    return errors


@pytest.mark.parametrize("draws", ["iid", "orthogonal"])
@pytest.mark.parametrize("activation, M, kappa", SETTINGS)
def test_gradcheck_input_tower(activation, M, kappa, draws, rng):
    tower = random_feature_tower(activation, 4, 6, variance_param=M, draws=draws, kappa=kappa, rng=3)
    x = _rows_with_norm(rng, 5, 4, 0.6)
    errors = _check_pair(tower.forward_input, tower.backward_input, [x], rng)
    assert max(errors) < PASS_THRESHOLD, errors


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("draws", ["iid", "orthogonal"])
@pytest.mark.parametrize("activation, M, kappa", SETTINGS)
def test_gradcheck_parameter_tower(activation, M, kappa, draws, with_bias, rng):
    tower = random_feature_tower(activation, 4, 6, variance_param=M, draws=draws, kappa=kappa, rng=4)
    w = _rows_with_norm(rng, 3, 4, 0.7)
    if activation == "relu" or not with_bias:
        arrays = [w]
        _, cache = tower.forward_weights(w)
        assert tower.backward_weights(np.ones((3, tower.n_features)), cache)[1] is None  # no bias: db is None
        errors = _check_pair(tower.forward_weights, lambda d, c: tower.backward_weights(d, c)[0], arrays, rng)
    else:
        arrays = [w, rng.uniform(-1, 1, 3)]
        errors = _check_pair(tower.forward_weights, tower.backward_weights, arrays, rng)
    assert max(errors) < PASS_THRESHOLD, errors


def test_relu_accepts_a_zero_bias_and_gives_no_bias_gradient(rng):
    tower = ReLUTower(4, 6, rng=0)
    w = _rows_with_norm(rng, 3, 4, 0.7)
    psi, cache = tower.forward_weights(w, np.zeros(3))
    np.testing.assert_array_equal(psi, tower.input_features(w))
    dw, db = tower.backward_weights(np.ones_like(psi), cache)
    assert db is None and dw.shape == w.shape


def test_backward_passes_refuse_a_gradient_of_the_wrong_shape(rng):
    tower = CosTower(4, 6, rng=0)
    _, cache = tower.forward_input(_rows_with_norm(rng, 5, 4, 0.5))
    with pytest.raises(ValueError, match=r"d_phi must have the shape of the tower's output \(5, 12\), got \(5, 6\)"):
        tower.backward_input(np.zeros((5, 6)), cache)
    _, cache = tower.forward_weights(_rows_with_norm(rng, 2, 4, 0.5))
    with pytest.raises(TypeError, match="d_psi has dtype float32 but float64 was expected"):
        tower.backward_weights(np.zeros((2, 12), dtype=np.float32), cache)


# --------------------------------------------------------------------------- the factory and the registry
def test_registry_and_factory_build_the_right_class():
    assert TOWERS == {"cos": CosTower, "sin": SinTower, "exp": ExpTower, "gaussian": GaussianTower, "relu": ReLUTower}
    assert FEATURE_MAPS == ("cos", "sin", "exp", "gaussian", "relu")
    assert set(URF_ACTIVATIONS) == {"cos", "sin", "exp", "gaussian"}
    for name, cls in TOWERS.items():
        tower = random_feature_tower(name, 3, 4, rng=0)
        assert type(tower) is cls and isinstance(tower, RandomFeatureTower) and tower.activation == name
        twin = random_feature_tower(**tower.get_config())
        assert type(twin) is cls and twin.get_config() == tower.get_config()
    assert CosTower(3, 4, variance_param=0.2, rng=1).get_config() == {
        "activation": "cos", "d": 3, "n_directions": 4, "variance_param": 0.2, "draws": "iid", "rng": 1,
        "dtype": "float64"}
    assert ReLUTower(3, 4, kappa=-1.0, rng=1).get_config() == {
        "activation": "relu", "d": 3, "n_directions": 4, "kappa": -1.0, "draws": "iid", "rng": 1, "dtype": "float64"}
    assert repr(ExpTower(3, 4, rng=2)) == (
        "ExpTower(d=3, n_directions=4, variance_param=0.0, draws='iid', rng=2, dtype='float64')")


def test_factory_refuses_the_other_towers_parameter():
    with pytest.raises(ValueError, match=r"variance_param only applies to the URF activations \['cos', 'sin', "
                                         r"'exp', 'gaussian'\]; relu needs variance_param=0, got 0.5"):
        random_feature_tower("relu", 3, 4, variance_param=0.5)
    with pytest.raises(ValueError, match="kappa only applies to activation='relu'; exp needs kappa=0, got -5"):
        random_feature_tower("exp", 3, 4, kappa=-5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'kappa'"):
        CosTower(3, 4, kappa=0.0)


# --------------------------------------------------------------------------- deprecations
def test_random_feature_map_is_deprecated_and_returns_the_tower():
    with pytest.warns(DeprecationWarning, match=r"rpnumpy.features.RandomFeatureMap has moved to "
                                                r"rpnumpy.features.random_feature_tower"):
        from rpnumpy.features import RandomFeatureMap

        fmap = RandomFeatureMap("gaussian", 4, 5, M=0.2, draws="orthogonal", rng=9)
    expected = random_feature_tower("gaussian", 4, 5, variance_param=0.2, draws="orthogonal", rng=9)
    assert type(fmap) is GaussianTower and fmap.get_config() == expected.get_config()
    np.testing.assert_array_equal(fmap.G, expected.G)
    with pytest.warns(DeprecationWarning, match="GaussianTower.m has moved to GaussianTower.n_directions"):
        assert fmap.m == 5
    with pytest.warns(DeprecationWarning, match="GaussianTower.M has moved to GaussianTower.variance_param"):
        assert fmap.M == 0.2
