"""Bundling: the two-tower form of an MLP and the fully bundled network fitted in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from rpnumpy.bundling import (
    FullyBundledNetwork,
    InputTower,
    L2Normalize,
    bundle_mlp,
    l2_normalize,
    mlp_forward,
    one_hot,
    split_mlp,
)
from rpnumpy.features import arc_cosine_kernel, clamped_relu_kernel
from rpnumpy.gradcheck import PASS_THRESHOLD, check_gradients
from rpnumpy.io import load_model, save_model
from rpnumpy.layers import Cos, Dense, ReLU, Sequential, Sin
from rpnumpy.losses import MeanSquaredError
from rpnumpy.optim import Adam
from rpnumpy.testing import check_backward_contract
from rpnumpy.training import fit


def augmented_lstsq(Z, Y, l2=0.0):
    """Reference ridge with an unpenalised intercept: lstsq on [Z 1; sqrt(l2) I 0] against [Y; 0]."""
    n, D = Z.shape
    top = np.hstack([Z, np.ones((n, 1))])
    rows = [top]
    targets = [Y]
    if l2 > 0:
        rows.append(np.hstack([np.sqrt(l2) * np.eye(D), np.zeros((D, 1))]))
        targets.append(np.zeros((D, Y.shape[1])))
    solution = np.linalg.lstsq(np.vstack(rows), np.vstack(targets), rcond=None)[0]
    return solution[:D], solution[D]


def teacher_data(n, d=5, t=2, seed=0):
    """y = sin(x W) + noise; the teacher W is the same for every seed, the samples are not."""
    w = np.random.default_rng(1000 + d).standard_normal((d, t))
    gen = np.random.default_rng(seed)
    x = gen.standard_normal((n, d)) / np.sqrt(d)
    y = np.sin(x @ w) + 0.05 * gen.standard_normal((n, t))
    return x, y


# -- the closed form ------------------------------------------------------------
@pytest.mark.parametrize("activations", ["relu", ["relu", "relu"], "cos", ["exp", "sin"]])
@pytest.mark.parametrize("l2", [0.0, 1e-2])
def test_closed_form_equals_lstsq_on_the_concatenated_data(activations, l2):
    x, y = teacher_data(400)
    net = FullyBundledNetwork.build(5, 2, 24, activations, radius=0.7, rng=1)
    net.fit_closed_form(x, y, l2=l2, batch_size=37)
    coef, intercept = augmented_lstsq(net.features(x), y, l2)
    scale = max(np.abs(coef).max(), np.abs(intercept).max())
    assert np.abs(net.V - coef).max() <= 1e-8 * scale
    assert np.abs(net.c - intercept).max() <= 1e-8 * scale


def test_closed_form_does_not_depend_on_the_mini_batch_split():
    x, y = teacher_data(500)
    solutions = []
    for batch_size in (1, 7, 64, 500, 4096):
        net = FullyBundledNetwork.build(5, 2, [32, 16], "relu", relu_bias=True, rng=2)
        net.fit_closed_form(x, y, l2=1e-3, batch_size=batch_size)
        solutions.append((net.V.copy(), net.c.copy()))
    for V, c in solutions[1:]:
        np.testing.assert_allclose(V, solutions[0][0], rtol=0, atol=1e-10 * np.abs(solutions[0][0]).max())
        np.testing.assert_allclose(c, solutions[0][1], rtol=0, atol=1e-10 * np.abs(solutions[0][0]).max())


def test_the_intercept_is_not_penalised():
    x, y = teacher_data(300)
    net = FullyBundledNetwork.build(5, 2, 40, "relu", relu_bias=True, rng=3)
    for l2 in (0.0, 1.0, 1e3):
        net.fit_closed_form(x, y, l2=l2)
        V, c = net.V.copy(), net.c.copy()
        net.fit_closed_form(x, y + [5.0, -2.0], l2=l2)  # shifting the targets moves c only, for any penalty
        np.testing.assert_allclose(net.V, V, rtol=0, atol=1e-9 * max(1.0, np.abs(V).max()))
        np.testing.assert_allclose(net.c - c, [5.0, -2.0], rtol=0, atol=1e-8)
    net.fit_closed_form(x, y, l2=1e12)  # V crushed to ~0: c is the target mean, not shrunk towards 0
    assert np.abs(net.V).max() < 1e-8
    np.testing.assert_allclose(net.c, y.mean(axis=0), rtol=0, atol=1e-8)


def test_several_penalties_are_scored_on_held_out_rows_then_refitted_on_all():
    x, y = teacher_data(400)
    net = FullyBundledNetwork.build(5, 2, 64, "relu", relu_bias=True, rng=13)
    grid = (1e-8, 1e-4, 1e-2, 10.0)
    result = net.fit_closed_form(x, y, l2=grid, relative=True, validation_fraction=0.25)
    # The scores are those of a fit on the first 300 rows, measured on the last 100.
    part = FullyBundledNetwork.build(5, 2, 64, "relu", relu_bias=True, rng=13)
    for value in grid:
        part.fit_closed_form(x[:300], y[:300], l2=value, relative=True)
        expected = np.mean((part.predict(x[300:]) - y[300:]) ** 2)
        assert result.validation_mse[value] == pytest.approx(expected, rel=1e-9)
    assert result.chosen == min(grid, key=result.validation_mse.get) and result.relative
    # The final solve uses all 400 rows with the chosen penalty.
    single = FullyBundledNetwork.build(5, 2, 64, "relu", relu_bias=True, rng=13)
    again = single.fit_closed_form(x, y, l2=result.chosen, relative=True)
    assert again.l2 == pytest.approx(result.l2, rel=1e-12) and result.accumulator.n_samples == 400
    np.testing.assert_allclose(net.V, single.V, rtol=0, atol=1e-9 * np.abs(single.V).max())
    with pytest.raises(ValueError, match="validation_fraction"):
        net.fit_closed_form(x[:3], y[:3], l2=grid, validation_fraction=0.1)


def test_fewer_samples_than_features_interpolates_like_lstsq():
    x, y = teacher_data(20)
    net = FullyBundledNetwork.build(5, 2, 100, "relu", rng=4)  # 20 samples, 101 unknowns per target
    net.fit_closed_form(x, y)
    Z = net.features(x)
    coef, intercept = augmented_lstsq(Z, y)
    assert np.all(np.isfinite(net.V))
    np.testing.assert_allclose(net.predict(x), Z @ coef + intercept, rtol=0, atol=1e-9)
    np.testing.assert_allclose(net.predict(x), y, rtol=0, atol=1e-9)  # interpolation


def test_dead_relu_features_are_handled():
    gen = np.random.default_rng(5)
    direction = gen.standard_normal(4)
    t = gen.uniform(0.5, 2.0, 40)
    x = t[:, None] * direction  # all inputs on one ray: features with g.direction < 0 are exactly 0
    y = (3 * t - 1)[:, None]
    net = FullyBundledNetwork.build(4, 1, 50, "relu", rng=6)
    net.fit_closed_form(x, y)
    Z = net.features(x)
    dead = np.all(Z == 0, axis=0)
    assert 10 <= dead.sum() <= 40  # about half of the 50 directions point away from the ray
    assert np.all(np.isfinite(net.V)) and np.all(net.V[dead] == 0)  # minimum norm: no weight on dead features
    coef, intercept = augmented_lstsq(Z, y)
    np.testing.assert_allclose(net.predict(x), Z @ coef + intercept, rtol=0, atol=1e-9)
    np.testing.assert_allclose(net.predict(x), y, rtol=0, atol=1e-9)  # y is linear in t, and so are the features


def test_closed_form_is_no_worse_than_adam_on_the_same_features():
    x, y = teacher_data(2000, seed=7)
    x_test, y_test = teacher_data(1000, seed=8)
    net = FullyBundledNetwork.build(5, 2, 128, "relu", relu_bias=True, rng=9)
    net.fit_closed_form(x, y, l2=1e-4)
    closed = np.mean((net.predict(x_test) - y_test) ** 2)
    sgd = FullyBundledNetwork.build(5, 2, 128, "relu", relu_bias=True, rng=9)  # same seed: same tower
    np.testing.assert_array_equal(sgd.tower.buffers["G1"], net.tower.buffers["G1"])
    z, z_test = sgd.features(x), sgd.features(x_test)
    fit(sgd.head, z, y, loss=MeanSquaredError(), optimizer=Adam(sgd.head, lr=1e-2), epochs=30, batch_size=64,
        rng=0, progress=False)
    trained = np.mean((sgd.head.forward(z_test) - y_test) ** 2)
    assert closed <= trained
    assert closed < 0.1 * np.var(y_test)  # and the fit is a real one


def test_training_the_whole_network_with_fit_trains_the_head_only():
    x, y = teacher_data(256)
    net = FullyBundledNetwork.build(5, 2, 32, "cos", radius=0.5, rng=10)
    assert set(net.params) == {"1.W", "1.b"} and net.n_params == 2 * (64 + 1)
    G = net.tower.buffers["G1"].copy()
    history = fit(net, x, y, loss=MeanSquaredError(), optimizer=Adam(net, lr=1e-2), epochs=5, rng=0, progress=False)
    assert history.loss[-1] < history.loss[0]
    np.testing.assert_array_equal(net.tower.buffers["G1"], G)
    net.forward(x[:3])
    with pytest.raises(NotImplementedError, match="input gradient"):
        net.backward(np.ones((3, 2)))


def test_float32_stays_float32():
    x, y = teacher_data(200)
    net = FullyBundledNetwork.build(5, 2, 16, "relu", rng=11, dtype=np.float32)
    net.fit_closed_form(x.astype(np.float32), y.astype(np.float32))
    assert net.V.dtype == np.float32 and net.features(x.astype(np.float32)).dtype == np.float32
    with pytest.raises(TypeError, match="dtype"):
        net.fit_closed_form(x, y)


def test_save_load_rebuilds_the_tower_from_its_seed(tmp_path):
    x, y = teacher_data(100)
    net = FullyBundledNetwork.build(5, 2, [16, 8], ["gaussian", "relu"], radius=0.5, relu_bias=True, rng=12)
    net.fit_closed_form(x, y, l2=1e-3)
    path = save_model(net, tmp_path / "bundled.npz")
    loaded = load_model(path)
    assert type(loaded) is FullyBundledNetwork and set(loaded.buffers) == {"0.G1", "0.xi1", "0.G2"}
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))
    with np.load(path) as contents:
        assert not any(key.startswith("buffer/") for key in contents.files)  # seeds, not matrices
    assert type(net.astype(np.float32)) is FullyBundledNetwork


# -- the two-tower form -----------------------------------------------------------
def small_mlp(activation, seed=0, d=4, hidden=6, d_out=2, scale=0.25):
    """An MLP with small weights (the URF towers need norms <= 1), biases in [-1, 1]."""
    gen = np.random.default_rng(seed)
    first, out = Dense(d, hidden, rng=seed), Dense(hidden, d_out, rng=seed + 1)
    first.params["W"][...] = gen.standard_normal((d, hidden)) * scale
    first.params["b"][...] = gen.uniform(-1, 1, hidden)
    out.params["b"][...] = gen.standard_normal(d_out)
    return [first, activation, out]


@pytest.mark.parametrize("activation", [Cos(), Sin(), "exp", "gaussian"])
def test_first_layer_bundling_is_unbiased_over_seeds(activation):
    model = small_mlp(activation)
    x = np.random.default_rng(1).standard_normal((5, 4)) * 0.25
    w, b, name = split_mlp(model)[0][0]
    exact_hidden = {"cos": np.cos, "sin": np.sin, "exp": np.exp,
                    "gaussian": lambda s: np.exp(-s * s / 2)}[name](x @ w + b)
    seeds, m = 400, 32
    hidden = np.empty((seeds, 5, 6))
    output = np.empty((seeds, 5, 2))
    for s in range(seeds):
        bundled = bundle_mlp(model, m, rng=s)
        hidden[s] = bundled.hidden(x)[0]
        output[s] = bundled.predict(x)
    tower = bundled.tower.towers[0]
    predicted_se = np.sqrt(tower.predicted_variance(x, np.ascontiguousarray(w.T), b) / seeds)
    # Every hidden entry within 5 predicted standard errors of f(x W + b) (a 5-sigma miss has p ~ 6e-7).
    assert np.all(np.abs(hidden.mean(0) - exact_hidden) <= 5 * predicted_se)
    # The read-out is linear in the hidden layer, so the output is unbiased too (5 empirical standard errors).
    empirical_se = output.std(0, ddof=1) / np.sqrt(seeds)
    assert np.all(np.abs(output.mean(0) - mlp_forward(model, x)) <= 5 * empirical_se)


def test_relu_towers_estimate_the_arc_cosine_kernel_not_relu():
    model = small_mlp(ReLU(), scale=1.0)
    x = np.random.default_rng(2).standard_normal((5, 4))
    w, b = model[0].params["W"], model[0].params["b"]
    augmented_x = np.hstack([x, np.ones((5, 1))])
    augmented_w = np.hstack([w.T, b[:, None]])
    kernel = arc_cosine_kernel(augmented_x, augmented_w)
    seeds = 300
    hidden = np.mean([bundle_mlp(model, 64, rng=s).hidden(x)[0] for s in range(seeds)], axis=0)
    tower = bundle_mlp(model, 64, rng=0).tower.towers[0]
    se = np.sqrt(tower.predicted_variance(augmented_x, augmented_w) / seeds)
    assert np.all(np.abs(hidden - kernel) <= 5 * se)
    relu = np.maximum(x @ w + b, 0)
    assert np.abs(kernel - relu).max() > 0.2  # a different function: the ReLU MLP is not reproduced



@pytest.mark.parametrize("kappa", [-1.0, 0.5])
def test_clamped_relu_towers_estimate_the_clamped_kernel_and_keep_kappa(kappa, tmp_path):
    model = small_mlp(ReLU(), scale=1.0)
    x = np.random.default_rng(2).standard_normal((5, 4))
    w, b = model[0].params["W"], model[0].params["b"]
    augmented_x, augmented_w = np.hstack([x, np.ones((5, 1))]), np.hstack([w.T, b[:, None]])
    kernel = clamped_relu_kernel(augmented_x, augmented_w, kappa)
    seeds = 300
    hidden = np.mean([bundle_mlp(model, 64, kappa=kappa, rng=s).hidden(x)[0] for s in range(seeds)], axis=0)
    bundled = bundle_mlp(model, 64, kappa=kappa, rng=0)
    tower = bundled.tower.towers[0]
    assert tower.kappa == kappa and bundled.tower.kappa == kappa
    se = np.sqrt(tower.predicted_variance(augmented_x, augmented_w) / seeds)
    assert np.all(np.abs(hidden - kernel) <= 5 * se)
    assert np.abs(kernel - arc_cosine_kernel(augmented_x, augmented_w)).max() > 0.05  # the floor matters here
    loaded = load_model(save_model(bundled, tmp_path / "bundled.npz"))
    assert loaded.tower.kappa == kappa and loaded.tower.towers[0].kappa == kappa
    np.testing.assert_array_equal(loaded.predict(x), bundled.predict(x))

def test_two_tower_shapes_and_the_fully_bundled_copy():
    model = Sequential(Dense(4, 6, rng=0), ReLU(), Dense(6, 5, rng=1), Sin(), Dense(5, 3, rng=2))
    bundled = bundle_mlp(model, [16, 8], rng=3)
    assert [a.shape for a in bundled.A] == [(6, 16), (5, 16)]  # relu: D = m; sin: D = 2m
    assert bundled.V.shape == (16, 3) and bundled.n_params == 16 * 3 + 3
    x = np.random.default_rng(4).standard_normal((7, 4))
    np.testing.assert_allclose(bundled.predict(x), bundled.hidden(x)[-1] @ model[4].params["W"] + model[4].params["b"],
                               rtol=1e-12, atol=1e-12)
    net = bundled.fully_bundled()
    np.testing.assert_allclose(net.predict(x), bundled.predict(x), rtol=1e-12, atol=1e-12)


# -- L2Normalize and the input tower ----------------------------------------------------
def test_l2_normalize_layer_gradients_and_zero_rows(rng):
    layer = L2Normalize(1.5)
    x = rng.standard_normal((4, 5))
    report = check_gradients(layer, x, rng=0)
    assert report.passed(PASS_THRESHOLD), report
    check_backward_contract(layer, x, rng)
    y = layer.forward(np.vstack([x, np.zeros((1, 5))]))
    np.testing.assert_allclose(np.linalg.norm(y[:4], axis=1), 1.5, rtol=1e-14)
    assert np.all(y[4] == 0) and np.all(layer.backward(np.ones((5, 5)))[4] == 0)
    np.testing.assert_allclose(l2_normalize(x, 1.5), layer.forward(x), rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_l2_normalize_and_its_layer_compute_what_they_always_did(dtype, rng):
    """Bitwise: l2_normalize is z * (r/||z||); the layer is (x * (1/||x||)) * r, its backward from those unit rows."""
    x = np.vstack([rng.standard_normal((6, 5)) * 3, np.zeros((1, 5))]).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    scale, inverse = np.zeros_like(norms), np.zeros_like(norms)
    np.divide(1.7, norms, out=scale, where=norms > 0)
    np.divide(1, norms, out=inverse, where=norms > 0)
    unit = x * inverse[:, None]
    np.testing.assert_array_equal(l2_normalize(x, 1.7), x * scale[:, None], strict=True)
    layer = L2Normalize(1.7)
    np.testing.assert_array_equal(layer.forward(x), unit * 1.7, strict=True)
    along = np.einsum("ij,ij->i", unit, dy)
    expected_dx = (dy - unit * along[:, None]) * (1.7 * inverse)[:, None]
    np.testing.assert_array_equal(layer.backward(dy), expected_dx, strict=True)


def test_mlp_forward_applies_each_activation_as_written(rng):
    x = rng.standard_normal((6, 3))
    dense = [Dense(3, 4, rng=1), Dense(4, 2, rng=2)]
    functions = {"cos": np.cos, "sin": np.sin, "exp": np.exp, "gaussian": lambda s: np.exp(-0.5 * s * s),
                 "relu": lambda s: np.maximum(s, 0)}
    for name, f in functions.items():
        expected = f(dense[0].forward(x)) @ dense[1].params["W"] + dense[1].params["b"]
        np.testing.assert_array_equal(mlp_forward([dense[0], name, dense[1]], x), expected, strict=True)


def test_renormalisation_keeps_a_second_trig_tower_finite():
    x = np.random.default_rng(3).standard_normal((10, 8))
    with pytest.warns(UserWarning, match="overflow"):
        InputTower(8, [256, 64], "cos", rng=0).forward(x * 6)  # ||z_1||^2 ~ e^(||x||^2): the next tower overflows
    z = InputTower(8, [256, 64], "cos", radius=1.0, rng=0).forward(x * 6)
    assert np.all(np.isfinite(z)) and z.shape == (10, 128)


# -- validation --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"d_in": 0}, ValueError, "d_in must be a positive int"),
        ({"widths": []}, ValueError, "widths must be"),
        ({"widths": [8, -1]}, ValueError, r"widths\[1\] must be a positive int"),
        ({"activations": "tanh"}, ValueError, r"activations\[0\] must be one of"),
        ({"activations": ["relu"], "widths": [4, 4]}, ValueError, "activations must have one entry per tower"),
        ({"draws": "sobol"}, ValueError, "draws must be one of"),
        ({"radius": -1.0}, ValueError, "radius must be a finite number > 0"),
        ({"relu_bias": "yes"}, TypeError, "relu_bias must be a bool"),
        ({"variance_param": "big"}, TypeError, "variance_param must be a finite real number"),
        ({"variance_param": float("inf")}, ValueError, "variance_param must be finite, got inf"),
        ({"kappa": True}, TypeError, "kappa must be a finite real number, got True of type bool"),
    ],
)
def test_input_tower_validation_names_the_parameter(kwargs, error, match):
    args = {"d_in": 4, "widths": 8, "activations": "relu", **kwargs}
    with pytest.raises(error, match=match):
        InputTower(args.pop("d_in"), args.pop("widths"), args.pop("activations"), **args)


def test_fit_and_network_validation_names_the_parameter():
    x, y = teacher_data(50)
    net = FullyBundledNetwork.build(5, 2, 8, rng=0)
    with pytest.raises(ValueError, match=r"y must have shape \(50, 2\)"):
        net.fit_closed_form(x, y[:, :1])
    with pytest.raises(ValueError, match="x has 3 features but the network expects d_in=5"):
        net.fit_closed_form(x[:, :3], y)
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        net.fit_closed_form(x, y, l2=-1.0)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        net.fit_closed_form(x, y, batch_size=0)
    with pytest.raises(ValueError, match="head.d_in must equal tower.n_features=8"):
        FullyBundledNetwork(net.tower, Dense(9, 2, rng=0))
    with pytest.raises(TypeError, match="tower must be an InputTower"):
        FullyBundledNetwork(Dense(5, 8, rng=0), Dense(8, 2, rng=0))
    with pytest.raises(ValueError, match=r"model\[1\] must be an activation"):
        split_mlp([Dense(3, 4, rng=0), "tanh", Dense(4, 1, rng=0)])
    with pytest.raises(ValueError, match=r"model\[2\] has d_in=5"):
        split_mlp([Dense(3, 4, rng=0), ReLU(), Dense(5, 1, rng=0)])
    with pytest.raises(ValueError, match="at least one hidden layer"):
        split_mlp([Dense(3, 4, rng=0)])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        one_hot(np.array([0, 3]), 3)
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


# -- the old names ------------------------------------------------------------------
def test_old_keyword_M_and_attributes_work_with_a_warning():
    new = InputTower(4, [8, 6], ["cos", "exp"], variance_param=0.2, rng=5)
    with pytest.warns(DeprecationWarning, match=r"rpnumpy.bundling.InputTower\(M=...\) has moved to "
                                                r"rpnumpy.bundling.InputTower\(variance_param=...\)"):
        old = InputTower(4, [8, 6], ["cos", "exp"], M=0.2, rng=5)
    assert old.get_config() == new.get_config() and old.get_config()["variance_param"] == 0.2
    x = np.random.default_rng(0).standard_normal((3, 4)) * 0.3
    np.testing.assert_array_equal(old.forward(x), new.forward(x))
    with pytest.warns(DeprecationWarning, match="feature_maps has moved to rpnumpy.bundling.InputTower.towers"):
        assert old.feature_maps is old.towers
    with pytest.warns(DeprecationWarning, match="InputTower.M has moved to rpnumpy.bundling.InputTower.variance_param"):
        assert old.M == 0.2
    with pytest.warns(DeprecationWarning, match=r"FullyBundledNetwork.build\(M=...\) has moved to"):
        net = FullyBundledNetwork.build(4, 2, 8, "cos", M=0.2, rng=1)
    assert net.tower.variance_param == 0.2
    model = small_mlp(Cos())
    with pytest.warns(DeprecationWarning, match=r"rpnumpy.bundling.bundle_mlp\(M=...\) has moved to"):
        bundled = bundle_mlp(model, 16, M=0.1, rng=2)
    np.testing.assert_array_equal(bundled.V, bundle_mlp(model, 16, variance_param=0.1, rng=2).V)


def test_an_input_tower_config_saved_with_the_old_key_loads():
    new = InputTower(4, [8, 6], ["gaussian", "relu"], variance_param=0.1, relu_bias=True, rng=3)
    old_config = {key if key != "variance_param" else "M": value for key, value in new.get_config().items()}
    with pytest.warns(DeprecationWarning, match=r"this InputTower config uses the old keys \['M'\]") as caught:
        loaded = InputTower.from_config(old_config)
    assert not any("has moved to" in str(w.message) for w in caught)
    assert loaded.get_config() == new.get_config()
