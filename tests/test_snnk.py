"""The SNNK layer: gradients (every tower, dx included), the contract, from_dense, saving, dtypes, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rpnumpy.features import FEATURE_MAPS, arc_cosine_kernel, random_feature_tower
from rpnumpy.gradcheck import PASS_THRESHOLD, check_gradients
from rpnumpy.io import load_model, save_model
from rpnumpy.layers import Dense, Sequential
from rpnumpy.layers.snnk import SNNK
from rpnumpy.losses import MeanSquaredError
from rpnumpy.optim import Adam
from rpnumpy.testing import check_backward_contract, perturb_params
from rpnumpy.training import fit

Z_MARGIN = 5.0  # standard errors


def _small_inputs(rng, n, d, norm=0.5, dtype=np.float64):
    """Rows of norm about ``norm``: the URF towers carry e^{‖x‖²/2}, so the tests stay in their good regime."""
    x = rng.standard_normal((n, d))
    return (x * (norm / np.linalg.norm(x, axis=1, keepdims=True))).astype(dtype)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("draws", ["iid", "orthogonal"])
@pytest.mark.parametrize("activation", FEATURE_MAPS)
def test_gradcheck_every_tower(activation, draws, bias, rng):
    M = 0.0 if activation == "relu" else 0.2  # a non-zero M exercises the ‖g‖² terms
    layer = SNNK(4, 3, 6, activation=activation, variance_param=M, draws=draws, bias=bias, rng=1)
    perturb_params(layer, rng)
    report = check_gradients(layer, _small_inputs(rng, 5, 4), rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    assert {row.name for row in report.rows} == ({"V", "b", "x"} if bias else {"V", "x"})
    assert report.buffers == (["G", "xi"] if activation == "gaussian" else ["G"])


def test_gradcheck_clipped_relu(rng):
    layer = SNNK(4, 3, 8, activation="relu", kappa=-0.3, rng=2)
    perturb_params(layer, rng)
    report = check_gradients(layer, _small_inputs(rng, 5, 4), rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)


@pytest.mark.parametrize("activation", FEATURE_MAPS)
def test_backward_contract(activation, rng):
    layer = SNNK(5, 3, 7, activation=activation, rng=0)
    check_backward_contract(layer, _small_inputs(rng, 4, 5), rng)


@pytest.mark.parametrize("activation", FEATURE_MAPS)
def test_forward_is_features_times_v_plus_b(activation, rng):
    layer = SNNK(5, 3, 7, activation=activation, draws="orthogonal", rng=4)
    perturb_params(layer, rng)
    x = _small_inputs(rng, 4, 5)
    expected = layer.tower.input_features(x) @ layer.params["V"] + layer.params["b"]
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-13)
    assert layer.params["V"].shape == (layer.n_features, 3)
    assert layer.n_params == layer.n_features * 3 + 3
    assert layer.buffers["G"] is layer.tower.G


def test_trig_input_gradient_matches_the_written_formula(rng):
    """dX = c·dΘ Gᵀ + diag(Σ_k dH_ik H_ik) X for the cos tower, written out here from its maps."""
    layer = SNNK(4, 3, 6, activation="cos", variance_param=0.3, rng=3)
    perturb_params(layer, rng)
    x, dy = _small_inputs(rng, 5, 4), rng.standard_normal((5, 3))
    layer.forward(x)
    dx = layer.backward(dy)
    g, m, c = layer.buffers["G"], 6, math.sqrt(1 + 4 * 0.3)
    theta = c * x @ g
    h = np.exp(4 / 4 * math.log(1 + 4 * 0.3) - 0.5 * math.log(m) - 0.3 * (g**2).sum(0) + 0.5 * (x**2).sum(1)[:, None])
    d_features = dy @ layer.params["V"].T
    d_cos, d_sin = d_features[:, :m], d_features[:, m:]
    d_theta = h * (-d_cos * np.sin(theta) + d_sin * np.cos(theta))
    d_h = d_cos * np.cos(theta) + d_sin * np.sin(theta)
    expected = c * d_theta @ g.T + (d_h * h).sum(1)[:, None] * x
    np.testing.assert_allclose(dx, expected, rtol=1e-12)


# --------------------------------------------------------------------------- from_dense
def _small_dense(rng, d_in, d_out, norm):
    dense = Dense(d_in, d_out, rng=0)
    dense.params["W"][...] = _small_inputs(rng, d_out, d_in, norm).T  # columns (the w_j) of norm `norm`
    dense.params["b"][...] = rng.uniform(-1, 1, d_out)
    return dense


@pytest.mark.parametrize("activation", ["cos", "sin", "exp", "gaussian"])
def test_from_dense_reproduces_the_dense_layer_on_average(activation, rng):
    d_in, d_out, m, n_seeds = 4, 3, 64, 200
    dense = _small_dense(rng, d_in, d_out, 0.5)
    x = _small_inputs(rng, 5, d_in, 0.5)
    outputs = np.stack([SNNK.from_dense(dense, m, activation=activation, rng=s).forward(x) for s in range(n_seeds)])
    tower = random_feature_tower(activation, d_in, m, rng=0)
    w, b = dense.params["W"].T.copy(), dense.params["b"]
    target = tower.target(x, w, b)
    np.testing.assert_allclose(target, {"cos": np.cos, "sin": np.sin, "exp": np.exp,
                                        "gaussian": lambda z: np.exp(-z**2 / 2)}[activation](dense.forward(x)))
    standard_error = np.sqrt(tower.predicted_variance(x, w, b) / n_seeds)
    error = np.abs(outputs.mean(axis=0) - target)
    assert np.all(error < Z_MARGIN * standard_error), (error / standard_error).max()


def test_from_dense_relu_gives_the_arc_cosine_layer_not_relu(rng):
    d_in, d_out, m, n_seeds = 4, 3, 64, 200
    dense = _small_dense(rng, d_in, d_out, 0.8)
    x = _small_inputs(rng, 5, d_in, 0.8)
    outputs = np.stack([SNNK.from_dense(dense, m, activation="relu", rng=s).forward(x) for s in range(n_seeds)])
    w = dense.params["W"].T.copy()
    kernel = arc_cosine_kernel(x, w)
    standard_error = np.sqrt(random_feature_tower("relu", d_in, m, rng=0).predicted_variance(x, w) / n_seeds)
    assert np.all(np.abs(outputs.mean(axis=0) - kernel) < Z_MARGIN * standard_error)
    relu_of_dense = np.maximum(dense.forward(x), 0)
    assert np.abs(kernel - relu_of_dense).max() > 20 * standard_error.max()  # a different function


def test_from_dense_copies_dtype_and_zeroes_the_bias(rng):
    dense = Dense(6, 2, rng=1, dtype=np.float32)
    layer = SNNK.from_dense(dense, 8, activation="cos", draws="orthogonal", rng=3)
    assert layer.dtype == np.float32 and layer.params["V"].dtype == np.float32
    assert np.all(layer.params["b"] == 0)
    expected = layer.tower.weight_features(dense.params["W"].T.copy(), dense.params["b"]).T
    np.testing.assert_array_equal(layer.params["V"], expected)
    with pytest.raises(TypeError, match="dense must be a rpnumpy Dense layer, got SNNK"):
        SNNK.from_dense(layer, 8, activation="cos")
    with pytest.raises(TypeError, match="from_dense takes the dtype of the dense layer"):
        SNNK.from_dense(dense, 8, activation="cos", dtype=np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("activation", FEATURE_MAPS)
def test_from_dense_is_bitwise_the_layer_built_then_overwritten(activation, bias, dtype, rng):
    """from_dense skips the default V; the layer equals one constructed normally, then given V and a zero b."""
    dense = Dense(5, 3, rng=0, dtype=dtype)
    dense.params["W"][...] = _small_inputs(rng, 3, 5, 0.6, dtype).T
    dense.params["b"][...] = rng.uniform(-1, 1, 3)
    kwargs = {"draws": "orthogonal", "bias": bias, "rng": 11}
    layer = SNNK.from_dense(dense, 6, activation=activation, **kwargs)
    # The construction from_dense used before: a full constructor (default V drawn), then V and b overwritten.
    old = SNNK(dense.d_in, dense.d_out, 6, activation=activation, dtype=dense.dtype, **kwargs)
    weights = np.ascontiguousarray(dense.params["W"].T)
    dense_bias = None if activation == "relu" else dense.params["b"]
    old.params["V"][...] = old.tower.weight_features(weights, dense_bias).T
    if old.bias:
        old.params["b"].fill(0)
    assert layer.params.keys() == old.params.keys() and layer.buffers.keys() == old.buffers.keys()
    for name, value in old.params.items():
        assert layer.params[name].dtype == value.dtype and layer.params[name].flags.c_contiguous
        np.testing.assert_array_equal(layer.params[name], value, strict=True)
        np.testing.assert_array_equal(layer.grads[name], old.grads[name], strict=True)
    for name, value in old.buffers.items():
        np.testing.assert_array_equal(layer.buffers[name], value, strict=True)
    assert layer.get_config() == old.get_config()
    x = _small_inputs(rng, 4, 5, 0.5, dtype)
    np.testing.assert_array_equal(layer.forward(x), old.forward(x), strict=True)


# --------------------------------------------------------------------------- default initialisation
def test_default_v_is_the_tower_of_a_lecun_dense_layer(rng):
    """The documented start V = Ψ(W₀)ᵀ with W₀ ~ N(0, 1/d_in), checked through relu's V.

    Given G, V_kj = max(g_kᵀw_j, 0)/√m with w_j ~ N(0, I/d_in), so E[V_kj² | G] = ‖g_k‖²/(2 d_in m).
    """
    d_in, d_out, m = 50, 400, 30
    layer = SNNK(d_in, d_out, m, activation="relu", rng=5)
    squares = layer.params["V"] ** 2
    expected = (layer.buffers["G"] ** 2).sum(axis=0) / (2 * d_in * m)
    standard_error = squares.std(axis=1, ddof=1) / math.sqrt(d_out)
    assert np.all(np.abs(squares.mean(axis=1) - expected) < Z_MARGIN * standard_error)
    assert np.all(layer.params["b"] == 0)


# --------------------------------------------------------------------------- training, saving, dtypes, seeds
def test_training_v_fits_a_teacher(rng):
    x = _small_inputs(rng, 400, 5, 0.7)
    teacher = _small_dense(rng, 5, 2, 1.0)
    y = np.sin(teacher.forward(x))
    model = SNNK(5, 2, 64, activation="cos", rng=0)
    loss = MeanSquaredError()
    before = loss.forward(model.forward(x), y)
    fit(model, x, y, loss=loss, optimizer=Adam(model, lr=0.01), epochs=40, batch_size=40, rng=0, progress=False)
    after = loss.forward(model.forward(x), y)
    assert after < 0.05 * before, (before, after)


@pytest.mark.parametrize("activation", ["gaussian", "relu"])
def test_save_load_round_trip(activation, tmp_path, rng):
    model = Sequential(SNNK(6, 4, 10, activation=activation, draws="orthogonal", variance_param=0.0, rng=7),
                       Dense(4, 2, rng=1))
    perturb_params(model[0], rng)
    x = _small_inputs(rng, 3, 6)
    path = save_model(model, tmp_path / "snnk.npz")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    for key, value in model.buffers.items():
        np.testing.assert_array_equal(loaded.buffers[key], value)
    stored = np.load(path)
    assert not any(name.startswith("buffer/") for name in stored.files)  # G and xi come back from the seed
    save_model(model, tmp_path / "with_buffers.npz", store_buffers=True)
    np.testing.assert_array_equal(load_model(tmp_path / "with_buffers.npz").forward(x), model.forward(x))


def test_clamped_relu_round_trip_keeps_kappa(tmp_path, rng):
    """kappa = -5 (the SNNK authors' floor) survives save/load, from_dense and the tower's target."""
    layer = SNNK.from_dense(Dense(6, 4, rng=3), 10, activation="relu", kappa=-5.0, rng=7)
    x = _small_inputs(rng, 3, 6) * 8.0  # large enough for g.x to reach the floor
    loaded = load_model(save_model(layer, tmp_path / "clamped.npz"))
    assert loaded.kappa == -5.0 and loaded.tower.kappa == -5.0 and loaded.get_config() == layer.get_config()
    np.testing.assert_array_equal(loaded.forward(x), layer.forward(x))
    assert np.any(x @ layer.tower.G < -5.0)  # the floor is reached: the comparison below can tell the floors apart
    plain = SNNK.from_dense(Dense(6, 4, rng=3), 10, activation="relu", rng=7)
    assert not np.array_equal(plain.forward(x), layer.forward(x))


@pytest.mark.parametrize("activation", FEATURE_MAPS)
def test_float32_stays_float32(activation, rng):
    layer = SNNK(6, 3, 8, activation=activation, rng=2, dtype=np.float32)
    x = _small_inputs(rng, 4, 6, dtype=np.float32)
    y = layer.forward(x)
    dx = layer.backward(rng.standard_normal(y.shape).astype(np.float32))
    assert y.dtype == dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())
    assert all(v.dtype == np.float32 for v in layer.buffers.values())
    wide = layer.astype(np.float64)
    np.testing.assert_array_equal(wide.buffers["G"].astype(np.float32), layer.buffers["G"])
    np.testing.assert_allclose(wide.forward(x.astype(np.float64)), y, rtol=1e-4, atol=1e-5)
    with pytest.raises(TypeError, match="x has dtype float64 but float32 was expected"):
        layer.forward(x.astype(np.float64))


def test_config_and_seed_determinism(rng):
    layer = SNNK(5, 3, 9, activation="gaussian", variance_param=0.1, draws="orthogonal", bias=False, rng=11)
    config = layer.get_config()
    assert config == {"d_in": 5, "d_out": 3, "n_directions": 9, "activation": "gaussian", "variance_param": 0.1,
                      "draws": "orthogonal", "kappa": 0.0, "bias": False, "rng": 11, "dtype": "float64"}
    twin = SNNK.from_config(config)
    x = _small_inputs(rng, 4, 5)
    np.testing.assert_array_equal(twin.forward(x), layer.forward(x))  # same G, xi and initial V
    other = SNNK(5, 3, 9, activation="gaussian", variance_param=0.1, draws="orthogonal", bias=False, rng=12)
    assert not np.array_equal(other.buffers["G"], layer.buffers["G"])
    from_generator = SNNK(5, 3, 9, rng=np.random.default_rng(3))
    assert from_generator.seed == SNNK(5, 3, 9, rng=np.random.default_rng(3)).seed


def test_validation_errors(rng):
    with pytest.raises(ValueError, match=r"activation must be one of \['cos', 'sin', 'exp', 'gaussian', 'relu'\]"):
        SNNK(3, 2, 4, activation="gelu")
    with pytest.raises(ValueError, match="n_directions must be a positive int, got 0"):
        SNNK(3, 2, 0)
    with pytest.raises(TypeError, match="SNNK needs n_directions"):
        SNNK(3, 2)
    with pytest.raises(TypeError, match="bias must be a bool, got 1"):
        SNNK(3, 2, 4, bias=1)
    with pytest.raises(ValueError, match="relu needs variance_param=0"):
        SNNK(3, 2, 4, variance_param=0.5)
    with pytest.raises(TypeError, match=r"rpnumpy.layers.SNNK\(\) got an unexpected keyword argument 'width'"):
        SNNK(3, 2, 4, width=3)
    with pytest.raises(ValueError, match="x has 4 features but the layer expects d_in=3"):
        SNNK(3, 2, 4, rng=0).forward(np.zeros((2, 4)))


# --------------------------------------------------------------------------- the old names
def test_old_keywords_m_and_M_work_with_a_warning(rng):
    new = SNNK(4, 3, 6, activation="cos", variance_param=0.2, rng=2)
    with pytest.warns(DeprecationWarning) as caught:
        old = SNNK(4, 3, m=6, activation="cos", M=0.2, rng=2)
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2
    assert messages[0].startswith("rpnumpy.layers.SNNK(M=...) has moved to rpnumpy.layers.SNNK(variance_param=...)")
    assert messages[1].startswith("rpnumpy.layers.SNNK(m=...) has moved to rpnumpy.layers.SNNK(n_directions=...)")
    assert old.get_config() == new.get_config()
    x = _small_inputs(rng, 3, 4)
    np.testing.assert_array_equal(old.forward(x), new.forward(x))
    with pytest.raises(TypeError, match="got both n_directions= and its old name m="):
        SNNK(4, 3, 6, m=6)
    dense = Dense(4, 3, rng=0)
    with pytest.warns(DeprecationWarning, match=r"SNNK.from_dense\(m=...\) has moved to"):
        from_old = SNNK.from_dense(dense, m=6, activation="exp", rng=1)
    np.testing.assert_array_equal(from_old.params["V"], SNNK.from_dense(dense, 6, activation="exp", rng=1).params["V"])


def test_feature_map_and_m_attributes_are_deprecated():
    layer = SNNK(4, 3, 6, activation="sin", rng=0)
    with pytest.warns(DeprecationWarning, match="SNNK.feature_map has moved to rpnumpy.layers.SNNK.tower"):
        assert layer.feature_map is layer.tower
    with pytest.warns(DeprecationWarning, match="rpnumpy.layers.SNNK.m has moved to rpnumpy.layers.SNNK.n_directions"):
        assert layer.m == 6


def test_a_config_saved_with_the_old_keys_loads(tmp_path, rng):
    """Configs written before the rename (keys "m" and "M") load, with a warning that is not a "has moved to" error."""
    from rpnumpy.layers.base import layer_from_config

    new = SNNK(5, 3, 7, activation="gaussian", variance_param=0.1, draws="orthogonal", rng=4)
    old_config = {"d_in": 5, "d_out": 3, "m": 7, "activation": "gaussian", "M": 0.1, "draws": "orthogonal",
                  "kappa": 0.0, "bias": True, "rng": 4, "dtype": "float64"}
    with pytest.warns(DeprecationWarning, match=r"this SNNK config uses the old keys \['m', 'M'\], now "
                                                r"\['n_directions', 'variance_param'\]") as caught:
        loaded = layer_from_config({"class": "SNNK", "config": old_config})
    assert not any("has moved to" in str(w.message) for w in caught)
    assert loaded.get_config() == new.get_config()
    x = _small_inputs(rng, 3, 5)
    np.testing.assert_array_equal(loaded.forward(x), new.forward(x))
    with pytest.raises(ValueError, match="must not hold both 'm' and 'n_directions'"):
        SNNK.from_config({**new.get_config(), "m": 7})
