"""Half layers: gradients, the zero update to R, the four schemes, storage, and dtypes."""

from __future__ import annotations

import numpy as np
import pytest

from rpnumpy.gradcheck import PASS_THRESHOLD, check_gradients, numerical_gradient, relative_error
from rpnumpy.io import load_model, model_file_size, save_model
from rpnumpy.layers import Dense, HalfLayer, Sequential, template_matrix, true_gradient_of_R
from rpnumpy.losses import SoftmaxCrossEntropy
from rpnumpy.optim import Adam
from rpnumpy.random_matrices import mexican_hat_matrix, pack_binary_matrix, unpack_binary_matrix
from rpnumpy.testing import check_backward_contract
from rpnumpy.training import fit

SCHEMES = ["normal", "binary", "mexican_hat", "template"]


def make_half(scheme, d_in=16, d_out=6, dtype=np.float64, activation="relu", seed=3):
    templates = np.random.default_rng(99).random((40, d_in)).astype(dtype)
    return HalfLayer(d_in, d_out, scheme=scheme, rng=seed, activation=activation, templates=templates,
                     dtype=dtype)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", None])
def test_gradcheck_every_scheme(scheme, activation, rng):
    layer = make_half(scheme, activation=activation)
    x = rng.standard_normal((5, 16))
    if activation == "relu":
        layer.params["u0"][...] = rng.uniform(0.3, 1.0, 6) * rng.choice([-1, 1], 6)  # stay off the kink
    report = check_gradients(layer, x, rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    assert {r.name for r in report.rows} == {"u", "u0", "x"}
    assert report.buffers == ["R"]


def test_backward_by_formula(rng):
    layer = make_half("normal", activation="tanh")
    x, dz = rng.standard_normal((5, 16)), rng.standard_normal((5, 6))
    z = layer.forward(x)
    a = x @ layer.buffers["R"]
    s = a * layer.params["u"] + layer.params["u0"]
    np.testing.assert_allclose(z, np.tanh(s), rtol=1e-14)
    dx = layer.backward(dz)
    delta = dz * (1 - np.tanh(s) ** 2)
    np.testing.assert_allclose(layer.grads["u"], (delta * a).sum(0), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["u0"], delta.sum(0), rtol=1e-12)
    np.testing.assert_allclose(dx, (delta * layer.params["u"]) @ layer.buffers["R"].T, rtol=1e-12)


def test_r_is_a_buffer_with_exactly_zero_update_and_unchanged_by_training(rng):
    half = HalfLayer(20, 32, scheme="normal", rng=0)
    model = Sequential(half, Dense(32, 3, rng=1))
    r_before = half.buffers["R"].copy()
    u_before = half.params["u"].copy()
    assert "R" not in half.params and "R" not in half.grads
    assert set(model.params) == {"0.u", "0.u0", "1.W", "1.b"}
    x = rng.standard_normal((200, 20))
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)
    fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=Adam(model, lr=0.01), epochs=3, batch_size=32,
        rng=0, progress=False)
    assert np.array_equal(half.buffers["R"], r_before)  # bit for bit
    assert half.buffers["R"].tobytes() == r_before.tobytes()
    assert not np.array_equal(half.params["u"], u_before)  # the trainable part did move
    zero = half.buffer_grads["R"]
    assert zero.shape == r_before.shape and not zero.any()


def test_true_sensitivity_to_r_is_not_zero_and_matches_finite_differences(rng):
    layer = make_half("normal", activation="tanh")
    x, dz = rng.standard_normal((4, 16)), rng.standard_normal((4, 6))
    layer.forward(x)
    formula = true_gradient_of_R(layer, dz)
    numeric = numerical_gradient(lambda: float(np.sum(layer.forward(x) * dz)), layer.buffers["R"])
    assert np.abs(formula).max() > 1e-2  # the loss does depend on R ...
    assert relative_error(formula, numeric) < PASS_THRESHOLD  # ... exactly as the formula says
    assert not layer.buffer_grads["R"].any()  # ... yet R receives no update


def test_first_layer_skips_input_gradient(rng):
    model = Sequential(make_half("binary"), Dense(6, 2, rng=0))
    model.forward(rng.standard_normal((3, 16)))
    assert model.backward(rng.standard_normal((3, 2)), input_grad=False) is None


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(scheme, dtype, rng):
    layer = make_half(scheme, dtype=dtype)
    assert layer.buffers["R"].dtype == dtype and layer.params["u"].dtype == dtype
    y = layer.forward(rng.random((3, 16)).astype(dtype))
    assert y.dtype == dtype
    assert layer.backward(np.ones_like(y)).dtype == dtype


def test_scheme_values():
    n = HalfLayer(784, 300, scheme="N", rng=0).buffers["R"]
    assert abs(n.var() - 1) < 0.02 and abs(n.mean()) < 0.01  # N(0, 1), 235,200 draws
    b = HalfLayer(784, 300, scheme="B", rng=0).buffers["R"]
    assert set(np.unique(b)) == {-1.0, 1.0}
    m = HalfLayer(784, 300, scheme="M", rng=0).buffers["R"]
    np.testing.assert_allclose(np.linalg.norm(m, axis=0), 1.0, rtol=1e-12)
    # Receptive fields: each column peaks (in absolute value) inside the central 20x20 box.
    peak_rows, peak_cols = np.divmod(np.abs(m).argmax(axis=0), 28)
    assert peak_rows.min() >= 3 and peak_rows.max() <= 24 and peak_cols.min() >= 3 and peak_cols.max() <= 24
    # On- and off-centre fields in roughly equal numbers.
    centre_sign = np.sign(m[np.abs(m).argmax(axis=0), np.arange(300)])
    assert 0.4 < (centre_sign > 0).mean() < 0.6


def test_template_matrix_uses_training_examples_centred_and_balanced(rng):
    x = rng.random((100, 12))
    labels = np.repeat(np.arange(5), 20)
    r = template_matrix(x, 10, seed=4, labels=labels)
    centred = x - x.mean(0)
    unit = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    matches = [np.flatnonzero(np.all(np.isclose(unit, col), axis=1)) for col in r.T]
    assert all(len(m) == 1 for m in matches)  # every column is one training example
    chosen = np.concatenate(matches)
    assert len(set(chosen)) == 10
    assert np.bincount(labels[chosen], minlength=5).tolist() == [2, 2, 2, 2, 2]
    with pytest.raises(ValueError, match=r"d_out=200 templates need at least as many training examples, got 100"):
        template_matrix(x, 200, seed=0)


def test_same_seed_same_matrix_and_config_round_trip():
    for scheme in ("normal", "binary", "mexican_hat"):
        a = HalfLayer(49, 8, scheme=scheme, rng=5)
        b = HalfLayer.from_config(a.get_config())
        np.testing.assert_array_equal(a.buffers["R"], b.buffers["R"])
        np.testing.assert_array_equal(a.params["u"], b.params["u"])


def test_saved_model_stores_seed_not_r_except_templates(tmp_path, rng):
    model = Sequential(HalfLayer(784, 1024, scheme="N", rng=0, dtype=np.float32), Dense(1024, 10, rng=1,
                                                                                     dtype=np.float32))
    small = model_file_size(model)
    big = model_file_size(model, store_buffers=True)
    assert big - small >= 784 * 1024 * 4  # R in float32
    assert small < 60_000  # u, u0, W, b and the config: about 12,298 float32 values
    loaded = load_model(save_model(model, tmp_path / "m.npz"))
    np.testing.assert_array_equal(loaded.buffers["0.R"], model.buffers["0.R"])

    x_train = rng.random((50, 16))
    tmodel = Sequential(HalfLayer(16, 8, scheme="T", rng=0, templates=x_train), Dense(8, 2, rng=1))
    path = save_model(tmodel, tmp_path / "t.npz")
    with np.load(path) as archive:
        assert "buffer/0.R" in archive.files  # built from data: always stored
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.buffers["0.R"], tmodel.buffers["0.R"])
    x = rng.random((3, 16))
    np.testing.assert_array_equal(loaded.forward(x), tmodel.forward(x))
    converted = tmodel.astype(np.float32)
    np.testing.assert_array_equal(converted.buffers["0.R"], tmodel.buffers["0.R"].astype(np.float32))


def test_binary_matrix_packs_to_one_bit_per_weight():
    r = HalfLayer(784, 1024, scheme="B", rng=2).buffers["R"]
    packed = pack_binary_matrix(r)
    assert packed.nbytes == 784 * 1024 // 8 == 100_352
    np.testing.assert_array_equal(unpack_binary_matrix(packed, r.shape), r)
    with pytest.raises(ValueError, match=r"single value ±c"):
        pack_binary_matrix(HalfLayer(16, 4, scheme="N", rng=0).buffers["R"])


def test_standardize_gives_unit_preactivations(rng):
    x = rng.random((500, 16))
    layer = HalfLayer(16, 6, scheme="N", rng=0, activation=None).standardize(x)
    s = layer.forward(x)
    np.testing.assert_allclose(s.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(s.std(0), 1, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"scheme": "uniform"}, ValueError, r"scheme must be one of .* got 'uniform'"),
        ({"activation": "softplus"}, ValueError, r"activation must be None or one of .* got 'softplus'"),
        ({"scheme": "template"}, ValueError, r"the template scheme needs templates=x_train"),
        ({"scheme": "T", "templates": np.zeros((5, 3))}, ValueError, r"templates have 3 features but d_in=16"),
        ({"scheme": "M", "d_in": 15}, ValueError, r"image_shape is needed when d_in is not a perfect square"),
        ({"d_out": 0}, ValueError, r"d_out must be a positive int, got 0"),
    ],
)
def test_validation(kwargs, error, match):
    args = {"d_in": 16, "d_out": 4, "rng": 0, **kwargs}
    with pytest.raises(error, match=match):
        HalfLayer(**args)


def test_mexican_hat_rejects_bad_grid():
    with pytest.raises(ValueError, match=r"image_shape \(5, 5\) has 25 pixels but d_in=16"):
        mexican_hat_matrix((16, 3), 0, image_shape=(5, 5))


def test_cnn_with_half_layer_gradcheck(rng):
    from rpnumpy.layers import Conv2D, Flatten, MaxPool2D, ReLU, Reshape

    model = Sequential(
        Reshape((1, 6, 6)), Conv2D(1, 2, 3, padding=1, rng=0), ReLU(), MaxPool2D(2), Flatten(),
        HalfLayer(18, 5, scheme="normal", rng=1, activation="tanh"), Dense(5, 3, rng=2),
    )
    report = check_gradients(model, rng.standard_normal((2, 36)), rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    assert {r.name for r in report.rows} == {"1.W", "1.b", "5.u", "5.u0", "6.W", "6.b", "x"}
    assert report.buffers == ["5.R"]


@pytest.mark.data
def test_rnd_256_n_reaches_published_mnist_accuracy(mnist):
    """docs/results.md publishes rnd-256-N's MNIST accuracy; seed 0 of the chapter's recipe must reach >= 92%."""
    import re
    from pathlib import Path

    from rpnumpy.experiments.half import EPOCHS, LR, train_and_score
    from rpnumpy.models import half_net

    model = half_net(256, "N", 0)
    assert model.n_params == 3082
    _, test_acc, _ = train_and_score(model, mnist, epochs=EPOCHS, lr=LR, seed=0, progress=False, label="rnd-256-N")
    assert test_acc >= 0.92, f"rnd-256-N reached {test_acc:.4f} on MNIST"
    readme = (Path(__file__).resolve().parents[1] / "docs" / "results.md").read_text()
    published = re.search(r"\| `rnd-256-N` \| 3,082 \| [\d,]+ \| (\d+\.\d+) ± (\d+\.\d+)", readme)
    assert published, "docs/results.md must publish rnd-256-N's MNIST accuracy in the half-layer table"
    mean, std = float(published.group(1)), float(published.group(2))
    # One seed of the three: within 3 published standard deviations (plus 0.2 points of BLAS summation noise).
    assert abs(100 * test_acc - mean) <= 3 * std + 0.2


def test_half_layer_as_a_later_layer_and_stacked(rng):
    from rpnumpy.layers import ReLU, Tanh

    model = Sequential(Dense(7, 6, rng=0), Tanh(), HalfLayer(6, 5, scheme="B", rng=1, activation="tanh"),
                       HalfLayer(5, 4, scheme="N", rng=2, activation="sigmoid"), Dense(4, 3, rng=3), ReLU())
    x = rng.standard_normal((3, 7))
    model.layers[4].params["b"][...] = 2.0  # keep the final ReLU away from its kink
    report = check_gradients(model, x, rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    assert report.buffers == ["2.R", "3.R"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_backward_contract(scheme, rng):
    check_backward_contract(make_half(scheme), rng.standard_normal((4, 16)), rng)
