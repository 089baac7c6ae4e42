"""The layer contract, every core layer's gradients, dtypes and input validation."""

from __future__ import annotations

import numpy as np
import pytest

from rpnumpy.experiments.foundations import away_from_zero
from rpnumpy.gradcheck import PASS_THRESHOLD, check_gradients
from rpnumpy.layers import (
    ACTIVATIONS,
    GELU,
    LAYER_REGISTRY,
    Cos,
    Dense,
    Flatten,
    ReLU,
    Sequential,
    Sigmoid,
    Sin,
    Tanh,
    layer_from_config,
)
from rpnumpy.testing import check_backward_contract


def make_layers():
    """Small instances of every core layer with a suitable input shape."""
    cases = [("Dense", lambda dt: Dense(5, 4, rng=3, dtype=dt), (3, 5)), ("Flatten", lambda dt: Flatten(), (3, 2, 4))]
    for name, cls in ACTIVATIONS.items():
        cases.append((name, lambda dt, cls=cls: cls(), (4, 6)))
    cases.append(
        ("Dense-ReLU-Dense", lambda dt: Sequential(Dense(6, 5, rng=0, dtype=dt), ReLU(), Dense(5, 3, rng=1, dtype=dt)),
         (4, 6))
    )
    cases.append(
        ("Dense-Tanh-Dense-GELU",
         lambda dt: Sequential(Dense(6, 5, rng=0, dtype=dt), Tanh(), Dense(5, 4, rng=1, dtype=dt), GELU()), (4, 6))
    )
    return cases


CASES = make_layers()
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("name", "build", "shape"), CASES, ids=IDS)
def test_gradients_match_central_differences(name, build, shape, rng):
    layer = build(np.float64)
    report = check_gradients(layer, away_from_zero(rng, shape), rng=1)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    checked = {row.name for row in report.rows}
    assert checked == set(layer.params) | {"x"}


@pytest.mark.parametrize(("name", "build", "shape"), CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(name, build, shape, dtype, rng):
    layer = build(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    y = layer.forward(x)
    assert y.dtype == dtype
    dx = layer.backward(np.ones_like(y))
    assert dx.dtype == dtype and dx.shape == x.shape
    for key, g in layer.grads.items():
        assert g.dtype == dtype and g.shape == layer.params[key].shape


@pytest.mark.parametrize(("name", "build", "shape"), CASES, ids=IDS)
def test_backward_overwrites_and_keeps_gradient_arrays(name, build, shape, rng):
    check_backward_contract(build(np.float64), rng.standard_normal(shape), rng)


def test_dense_forward_and_gradients_by_formula(rng):
    layer = Dense(4, 3, rng=0)
    x, dy = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    y = layer.forward(x)
    np.testing.assert_allclose(y, x @ layer.params["W"] + layer.params["b"], rtol=1e-15)
    dx = layer.backward(dy)
    np.testing.assert_allclose(layer.grads["W"], x.T @ dy, rtol=1e-14)
    np.testing.assert_allclose(layer.grads["b"], dy.sum(0), rtol=1e-14)
    np.testing.assert_allclose(dx, dy @ layer.params["W"].T, rtol=1e-14)


def test_input_gradient_can_be_skipped(rng):
    model = Sequential(Dense(4, 3, rng=0), ReLU(), Dense(3, 2, rng=1))
    y = model.forward(rng.standard_normal((5, 4)))
    dy = rng.standard_normal(y.shape)
    assert model.backward(dy, input_grad=False) is None
    w_grad = model.grads["0.W"].copy()
    assert model.backward(dy) is not None
    np.testing.assert_array_equal(model.grads["0.W"], w_grad)


@pytest.mark.parametrize(
    ("cls", "fn", "dfn"),
    [
        (ReLU, lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
        (Sigmoid, lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
        (Tanh, np.tanh, lambda x: 1 / np.cosh(x) ** 2),
        (Sin, np.sin, np.cos),
        (Cos, np.cos, lambda x: -np.sin(x)),
    ],
)
def test_activation_values_and_derivatives(cls, fn, dfn, rng):
    x = away_from_zero(rng, (3, 7))
    layer = cls()
    np.testing.assert_allclose(layer.forward(x), fn(x), rtol=1e-12)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), dfn(x), rtol=1e-10)


def test_gelu_known_values():
    from math import erf, sqrt

    x = np.array([[-3.0, -1.0, 0.0, 0.5, 2.0]])
    expected = [v * 0.5 * (1 + erf(v / sqrt(2))) for v in x[0]]
    np.testing.assert_allclose(GELU().forward(x)[0], expected, rtol=1e-14, atol=1e-300)


def test_sigmoid_does_not_overflow():
    with np.errstate(all="raise"):
        y = Sigmoid().forward(np.array([[-1000.0, 1000.0]]))
    np.testing.assert_array_equal(y, [[0.0, 1.0]])


def test_buffers_empty_and_param_counts():
    model = Sequential(Dense(784, 256, rng=0), ReLU(), Dense(256, 10, rng=1))
    assert model.n_params == 784 * 256 + 256 + 256 * 10 + 10 == 203_530
    assert model.buffers == {} and model.n_buffer_values == 0
    assert list(model.params) == ["0.W", "0.b", "2.W", "2.b"]
    assert model.params["0.W"] is model.layers[0].params["W"]


def test_same_seed_same_initial_weights():
    a, b, c = Dense(10, 4, rng=7), Dense(10, 4, rng=7), Dense(10, 4, rng=8)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert not np.array_equal(a.params["W"], c.params["W"])
    gen = np.random.default_rng(0)
    d = Dense(10, 4, rng=gen)  # a Generator is turned into a stored int seed
    e = Dense.from_config(d.get_config())
    np.testing.assert_array_equal(d.params["W"], e.params["W"])


@pytest.mark.parametrize("init,var", [("he", 2 / 400), ("lecun", 1 / 400), ("glorot", 2 / 600)])
def test_dense_init_variance(init, var):
    w = Dense(400, 200, rng=0, init=init).params["W"]
    # 80,000 draws: the sample variance has relative std sqrt(2/80000) = 0.5%; allow 3%.
    assert abs(w.var() / var - 1) < 0.03


def test_astype_round_trip_and_config_rebuild():
    model = Sequential(Dense(6, 5, rng=0, dtype=np.float32), ReLU(), Dense(5, 3, rng=1, dtype=np.float32))
    model.params["0.W"][...] += 1.5  # trained values must survive the conversion
    m64 = model.astype(np.float64)
    assert m64.dtype == np.float64 and m64.params["0.W"].dtype == np.float64
    np.testing.assert_array_equal(m64.params["0.W"], model.params["0.W"].astype(np.float64))
    again = layer_from_config({"class": "Sequential", "config": model.get_config()})
    assert [type(layer) for layer in again.layers] == [Dense, ReLU, Dense]
    assert "Dense" in LAYER_REGISTRY and "Sequential" in LAYER_REGISTRY


# -- validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"d_in": 0, "d_out": 3}, ValueError, r"d_in must be a positive int, got 0"),
        ({"d_in": 3, "d_out": -2}, ValueError, r"d_out must be a positive int, got -2"),
        ({"d_in": 3.0, "d_out": 2}, TypeError, r"d_in must be a positive int, got 3.0"),
        ({"d_in": 3, "d_out": 2, "init": "xavier"}, ValueError, r"init must be one of .* got 'xavier'"),
        ({"d_in": 3, "d_out": 2, "dtype": np.int32}, TypeError, r"dtype must be float32 or float64, got int32"),
        ({"d_in": 3, "d_out": 2, "rng": "seed"}, TypeError, r"rng must be None, an int seed"),
        ({"d_in": 3, "d_out": 2, "rng": -1}, ValueError, r"rng must lie in \[0, 2\*\*63\), got -1"),
    ],
)
def test_dense_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Dense(**kwargs)


def test_forward_rejects_bad_inputs():
    layer = Dense(4, 2, rng=0)
    with pytest.raises(ValueError, match=r"x has 3 features but the layer expects d_in=4"):
        layer.forward(np.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"x has dtype float32 but float64 was expected"):
        layer.forward(np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(TypeError, match=r"x must have dtype float32 or float64, got uint8"):
        layer.forward(np.zeros((2, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"x must have 2 dimensions, got shape \(4,\)"):
        layer.forward(np.zeros(4))
    with pytest.raises(TypeError, match=r"x must be a numpy.ndarray, got list"):
        layer.forward([[0.0] * 4])
    with pytest.raises(RuntimeError, match=r"Dense.backward was called before forward"):
        Dense(4, 2, rng=0).backward(np.zeros((2, 2)))


def test_sequential_rejects_mixed_dtypes_and_non_layers():
    with pytest.raises(TypeError, match=r"all layers must share one dtype"):
        Sequential(Dense(3, 2, rng=0, dtype=np.float32), Dense(2, 2, rng=0))
    with pytest.raises(TypeError, match=r"layers\[1\] must be a Layer, got (function|ufunc)"):
        Sequential(Dense(3, 2, rng=0), np.tanh)


def test_layer_from_config_errors():
    with pytest.raises(ValueError, match=r"unknown layer class 'Nope'"):
        layer_from_config({"class": "Nope", "config": {}})
    with pytest.raises(ValueError, match=r"invalid config for layer Dense"):
        layer_from_config({"class": "Dense", "config": {"d_in": 3, "rng": 0}})
    with pytest.raises(ValueError, match=r"must be a dict with keys 'class' and 'config'"):
        layer_from_config(["Dense"])


def test_reshape_round_trip_and_validation(rng):
    from rpnumpy.layers import Reshape

    layer = Reshape((1, 4, 5))
    x = rng.standard_normal((3, 20))
    y = layer.forward(x)
    assert y.shape == (3, 1, 4, 5) and np.shares_memory(x, y)
    np.testing.assert_array_equal(layer.backward(y), x)
    assert Reshape.from_config(layer.get_config()).shape == (1, 4, 5)
    with pytest.raises(ValueError, match=r"x has 21 values per sample \(shape \(3, 21\)\) but .* needs 20"):
        layer.forward(rng.standard_normal((3, 21)))
    with pytest.raises(ValueError, match=r"shape\[1\] must be a positive int, got 0"):
        Reshape((1, 0))
