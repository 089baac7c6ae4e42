"""PRP layers, the low-rank baseline, the tied autoencoder, the LR range test and storage accounting."""

from __future__ import annotations

import numpy as np
import pytest

from rpnumpy.gradcheck import PASS_THRESHOLD, check_gradients, numerical_gradient, relative_error
from rpnumpy.io import load_model, save_model
from rpnumpy.layers import PRP, PRP_SCHEMES, Dense, LowRank, PRPAutoencoder, ReLU, Sequential
from rpnumpy.losses import MeanSquaredError, SoftmaxCrossEntropy
from rpnumpy.lr_finder import lr_range_test
from rpnumpy.optim import Adam
from rpnumpy.storage import bits_per_accuracy_point, storage_report
from rpnumpy.testing import check_backward_contract, perturb_params
from rpnumpy.training import fit


@pytest.mark.parametrize("scheme", PRP_SCHEMES)
@pytest.mark.parametrize("shape", [(5, 4), (4, 7)])
def test_prp_gradcheck(scheme, shape, rng):
    layer = PRP(*shape, scheme=scheme, rng=1)
    perturb_params(layer, rng)
    report = check_gradients(layer, rng.standard_normal((3, shape[0])), rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    assert {r.name for r in report.rows} == {"alpha", "w", "b", "x"} and report.buffers == ["P"]


def test_prp_forward_backward_by_formula(rng):
    layer = PRP(6, 4, rng=0)
    perturb_params(layer, rng)
    p = layer.buffers["P"]
    alpha, w, b = layer.params["alpha"], layer.params["w"], layer.params["b"]
    x, g = rng.standard_normal((5, 6)), rng.standard_normal((5, 4))
    y = layer.forward(x)
    np.testing.assert_allclose(y, x @ layer.effective_weight + b, rtol=1e-12)
    np.testing.assert_allclose(y, ((x * alpha) @ p) * w + b, rtol=1e-14)
    dx = layer.backward(g)
    g_u = (g * w) @ p.T
    np.testing.assert_allclose(layer.grads["alpha"], (g_u * x).sum(0), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["w"], (g * ((x * alpha) @ p)).sum(0), rtol=1e-12)
    np.testing.assert_allclose(dx, g_u * alpha, rtol=1e-12)


def test_prp_initialisation_is_the_plain_random_projection(rng):
    layer = PRP(30, 10, rng=3)
    x = rng.standard_normal((4, 30))
    np.testing.assert_allclose(layer.forward(x), x @ layer.buffers["P"], rtol=1e-14)
    assert layer.n_params == 30 + 2 * 10


@pytest.mark.parametrize("scheme", PRP_SCHEMES)
def test_prp_matrix_scales(scheme):
    p = PRP(400, 300, scheme=scheme, rng=0).buffers["P"]
    col_sq = (p**2).sum(0)
    assert abs(col_sq.mean() - 1) < 0.02  # every scheme: columns of (expected) unit norm
    if scheme == "orthogonal":
        np.testing.assert_allclose(p.T @ p, np.eye(300), atol=1e-12)


@pytest.mark.parametrize("scheme", ["sparse_ternary", "ternary_equal"])
def test_ternary_schemes_round_trip_and_differ(scheme, tmp_path, rng):
    """Both readings of the paper's ternary scheme: rebuilt from the seed by save/load, and not the same matrix."""
    model = Sequential(PRP(12, 8, scheme=scheme, rng=5), ReLU(), PRP(8, 3, scheme=scheme, rng=6))
    perturb_params(model[0], rng)
    x = rng.standard_normal((4, 12))
    loaded = load_model(save_model(model, tmp_path / "ternary.npz"))
    assert loaded[0].scheme == scheme and loaded[0].get_config() == model[0].get_config()
    np.testing.assert_array_equal(loaded[0].buffers["P"], model[0].buffers["P"])
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    other = "ternary_equal" if scheme == "sparse_ternary" else "sparse_ternary"
    assert not np.array_equal(PRP(12, 8, scheme=other, rng=5).buffers["P"], model[0].buffers["P"])
    ae = PRPAutoencoder(12, 4, scheme=scheme, rng=3)
    np.testing.assert_array_equal(load_model(save_model(ae, tmp_path / "ae.npz")).buffers["P"], ae.buffers["P"])


def test_prp_mlp_parameter_count_matches_the_paper():
    prp = Sequential(PRP(784, 512, rng=0), ReLU(), PRP(512, 256, rng=1), ReLU(), PRP(256, 10, rng=2))
    dense = Sequential(Dense(784, 512, rng=0), ReLU(), Dense(512, 256, rng=1), ReLU(), Dense(256, 10, rng=2))
    assert prp.n_params == 3108 and dense.n_params == 535_818
    assert round(dense.n_params / prp.n_params) == 172


def test_prp_training_leaves_p_untouched_and_learns(rng):
    x = rng.standard_normal((300, 10))
    y = (x[:, :3].sum(1) > 0).astype(np.int64)
    model = Sequential(PRP(10, 32, rng=0), ReLU(), PRP(32, 2, rng=1))
    before = {k: v.copy() for k, v in model.buffers.items()}
    hist = fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=Adam(model, lr=0.03), epochs=15, batch_size=32,
               validation_data=(x, y), rng=0, progress=False)
    for key, value in model.buffers.items():
        assert np.array_equal(value, before[key])
    assert hist.test_accuracy[-1] > 0.85


def test_low_rank_gradcheck_formula_and_budget(rng):
    layer = LowRank(7, 5, 2, rng=0)
    report = check_gradients(layer, rng.standard_normal((3, 7)), rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    x = rng.standard_normal((3, 7))
    np.testing.assert_allclose(layer.forward(x), x @ layer.params["U"] @ layer.params["V"].T, rtol=1e-13)
    assert layer.n_params == 2 * (7 + 5) + 5
    assert LowRank.rank_for_budget(784, 512, 3108) == 2  # (3108 - 512) // (784 + 512)
    assert LowRank.rank_for_budget(784, 10, 8000) == 10
    w = LowRank(400, 300, 50, rng=1).params
    assert abs((w["U"] @ w["V"].T).var() * 400 / 2 - 1) < 0.05  # He variance 2/d_in for the product
    with pytest.raises(ValueError, match=r"rank must be at most min\(d_in, d_out\)=5, got 6"):
        LowRank(7, 5, 6)


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("hidden", [None, "tanh"])
def test_autoencoder_gradcheck(tied, hidden, rng):
    ae = PRPAutoencoder(8, 3, tied=tied, hidden_activation=hidden, rng=0)
    perturb_params(ae, rng)
    report = check_gradients(ae, rng.random((3, 8)), rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    assert report.buffers == (["P"] if tied else ["P", "P_dec"])


def test_tied_decoder_is_the_same_buffer_and_p_gradient_sums_both_uses(rng):
    ae = PRPAutoencoder(9, 4, hidden_activation="tanh", rng=2)
    perturb_params(ae, rng)
    assert np.shares_memory(ae.decoder_matrix, ae.buffers["P"]) and ae.decoder_matrix.base is ae.buffers["P"]
    np.testing.assert_array_equal(ae.decoder_matrix, ae.buffers["P"].T)
    x, dy = rng.random((3, 9)), rng.standard_normal((3, 9))
    ae.forward(x)
    formula = ae.true_gradient_of_P(dy)
    # Perturbing the one buffer moves the encoder and the decoder together: the numerical
    # gradient is the sum of both contributions, and so must the formula be.
    numeric = numerical_gradient(lambda: float(np.sum(ae.forward(x) * dy)), ae.buffers["P"])
    assert relative_error(formula, numeric) < PASS_THRESHOLD
    assert np.abs(formula).max() > 1e-3
    assert not ae.buffer_grads["P"].any()


def test_tied_autoencoder_beats_untied(rng):
    # Data on a 5-dimensional subspace of R^30, bottleneck k = 12. The tied decoder reads the
    # encoder's matrix transposed, so the untrained map is the projection P P^T; the untied one
    # starts from an unrelated random map and only its diagonal modulations can adapt. (On MNIST
    # the untied autoencoder does no better than the mean image: see the PRP chapter.)
    basis = np.linalg.qr(rng.standard_normal((30, 5)))[0]
    x = rng.standard_normal((600, 5)) @ basis.T
    baseline = float(((x - x.mean(0)) ** 2).mean())  # error of predicting the mean
    errors = {}
    for tied in (True, False):
        ae = PRPAutoencoder(30, 12, tied=tied, output_activation=None, rng=1)
        hist = fit(ae, x, x, loss=MeanSquaredError(), optimizer=Adam(ae, lr=0.01), epochs=40, batch_size=32,
                   validation_data=(x, x), rng=0, progress=False)
        errors[tied] = hist.test_loss[-1]
    # Measured with this seed: tied 0.048, untied 0.065, mean 0.170.
    assert errors[True] < 0.35 * baseline
    assert errors[False] > 1.2 * errors[True]


def test_autoencoder_save_load_keeps_tie(tmp_path, rng):
    ae = PRPAutoencoder(16, 4, rng=3)
    perturb_params(ae, rng)
    loaded = load_model(save_model(ae, tmp_path / "ae.npz"))
    x = rng.random((2, 16))
    np.testing.assert_array_equal(loaded.forward(x), ae.forward(x))
    assert np.shares_memory(loaded.decoder_matrix, loaded.buffers["P"])
    untied = PRPAutoencoder(16, 4, tied=False, rng=3)
    again = PRPAutoencoder.from_config(untied.get_config())
    np.testing.assert_array_equal(again.buffers["P_dec"], untied.buffers["P_dec"])
    assert not np.array_equal(untied.buffers["P_dec"], untied.buffers["P"].T)


def test_lr_range_test_finds_a_sensible_rate(rng):
    x = rng.standard_normal((500, 10))
    y = (x[:, 0] > 0).astype(np.int64)

    def build():
        model = Sequential(Dense(10, 16, rng=0), ReLU(), Dense(16, 2, rng=1))
        return model, Adam(model)

    result = lr_range_test(build, x, y, loss=SoftmaxCrossEntropy(), lr_min=1e-5, lr_max=10.0, steps=200, rng=0)
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) <= 200
    assert np.all(np.diff(result.lrs) > 0)
    assert 1e-4 <= result.suggested_lr <= 1.0 and result.suggested_lr == pytest.approx(result.best_lr / 10)
    assert result.smoothed.min() < 0.5 * result.smoothed[0]  # the loss fell during the sweep
    assert result.plot().get_xscale() == "log"
    with pytest.raises(ValueError, match=r"lr_max must exceed lr_min=0.1, got 0.01"):
        lr_range_test(build, x, y, loss=SoftmaxCrossEntropy(), lr_min=0.1, lr_max=0.01)


def test_storage_report_seed_against_stored_matrix():
    model = Sequential(PRP(784, 512, rng=0, dtype=np.float32), ReLU(), PRP(512, 10, rng=1, dtype=np.float32))
    report = storage_report(model, accuracy=0.9)
    assert report["trainable"] == 784 + 1024 + 512 + 20
    assert report["fixed"] == 784 * 512 + 512 * 10
    assert report["bytes_stored"] - report["bytes_seeded"] >= report["fixed"] * 4
    assert report["bits_per_point_seeded"] == pytest.approx(8 * report["bytes_seeded"] / 90)
    with pytest.raises(ValueError, match=r"accuracy must be a fraction in \(0, 1\], got 91.5"):
        bits_per_accuracy_point(1000, 91.5)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: PRP(4, 3, scheme="hadamard"),
         r"scheme must be one of \['gaussian', 'sparse_ternary', 'orthogonal', 'ternary_equal'\]"),
        (lambda: PRP(0, 3), r"d_in must be a positive int, got 0"),
        (lambda: PRPAutoencoder(8, 3, hidden_activation="swish"), r"hidden_activation must be None or one of"),
        (lambda: PRPAutoencoder(8, 3, tied="yes"), r"tied must be a bool, got 'yes'"),
        (lambda: LowRank(4, 3, 1, init="xavier"), r"init must be 'he' or 'lecun', got 'xavier'"),
    ],
)
def test_validation(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.mark.data
def test_prp_mlp_reaches_published_mnist_accuracy(mnist):
    """Seed 0 of the all-PRP MLP of docs/results.md (Gaussian P, its range-test rate) against its published mean."""
    import re
    from pathlib import Path

    from rpnumpy.experiments.prp import EPOCHS
    from rpnumpy.models import prp_mlp
    from rpnumpy.training import evaluate

    readme = (Path(__file__).resolve().parents[1] / "docs" / "results.md").read_text()
    lr = float(re.search(r"PRP \*\*([\d.e-]+)\*\*", readme).group(1))
    published = re.search(r"\| `prp-gaussian` \| 3,108 \| 535,040 \| (\d+\.\d+) ± (\d+\.\d+)", readme)
    assert published, "docs/results.md must publish the all-PRP MLP's MNIST accuracy"
    mean, std = float(published.group(1)), float(published.group(2))
    x_train, y_train, x_test, y_test = mnist
    model = prp_mlp(0)
    fit(model, x_train, y_train, loss=SoftmaxCrossEntropy(), optimizer=Adam(model, lr=lr), epochs=EPOCHS,
        rng=0, progress=False)
    accuracy = 100 * evaluate(model, x_test, y_test)["accuracy"]
    assert accuracy > 90.0
    assert abs(accuracy - mean) <= 3 * std + 0.2


@pytest.mark.parametrize(
    ("build", "d_in"),
    [
        (lambda: PRP(6, 4, scheme="orthogonal", rng=0), 6),
        (lambda: LowRank(6, 4, 2, rng=0), 6),
        (lambda: PRPAutoencoder(8, 3, hidden_activation="tanh", rng=0), 8),
        (lambda: PRPAutoencoder(8, 3, tied=False, rng=0), 8),
    ],
    ids=["PRP", "LowRank", "tied-autoencoder", "untied-autoencoder"],
)
def test_backward_contract(build, d_in, rng):
    check_backward_contract(build(), rng.standard_normal((5, d_in)), rng)
