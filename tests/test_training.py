"""fit / evaluate / predict: batching without copies, dtypes, divergence, determinism and real MNIST."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from rpnumpy.experiments.foundations import MLP_BATCH, MLP_EPOCHS, MLP_LR
from rpnumpy.fast import FusedAdam
from rpnumpy.layers import PRP, Dense, EUGen, HalfLayer, Layer, ReLU, Sequential
from rpnumpy.losses import MeanSquaredError, SoftmaxCrossEntropy
from rpnumpy.models import mnist_mlp
from rpnumpy.optim import SGD, Adam
from rpnumpy.training import TrainingDivergedError, evaluate, fit, predict

RESULTS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "results.md"


class Spy(Layer):
    """Identity layer that records what the training loop feeds it."""

    input_ndim = None

    def __init__(self):
        super().__init__()
        self.seen = []

    def _forward(self, x):
        self.seen.append((x.dtype, x.base if x.base is not None else x, x.shape[0]))
        return x, None

    def _backward(self, dy, cache):
        return dy


def _blobs(rng, n=300, dtype=np.float64):
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    x = (centers[y] + 0.5 * rng.standard_normal((n, 2))).astype(dtype)
    return x, y


def test_batches_are_views_of_one_buffer_and_float32_stays_float32(rng):
    x, y = _blobs(rng, n=300, dtype=np.float32)
    spy = Spy()
    model = Sequential(spy, Dense(2, 3, rng=0, dtype=np.float32))
    fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(model, lr=0.1), epochs=2, batch_size=64,
        rng=0, progress=False)
    dtypes, bases, sizes = zip(*spy.seen[1:])  # the first call is fit's check of the targets on one sample
    assert set(dtypes) == {np.dtype(np.float32)}
    assert sizes == (64, 64, 64, 64, 44) * 2  # the last batch of an epoch is smaller
    assert len({id(b) for b in bases}) == 1  # every batch of both epochs is a view of the same buffer
    assert bases[0] is not x and bases[0].shape == (64, 2)  # one batch-sized buffer, no copy of the data set


def test_learns_blobs_and_is_deterministic(rng):
    x, y = _blobs(rng)
    runs = []
    for _ in range(2):
        model = Sequential(Dense(2, 16, rng=0), ReLU(), Dense(16, 3, rng=1))
        hist = fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=Adam(model, lr=0.05), epochs=15,
                   batch_size=32, validation_data=(x, y), rng=7, progress=False)
        runs.append((model, hist))
    (m1, h1), (m2, h2) = runs
    for key in m1.params:
        np.testing.assert_array_equal(m1.params[key], m2.params[key])
    assert h1.epochs == 15 and len(h1.test_accuracy) == 15 and len(h1.epoch_seconds) == 15
    assert h1.test_accuracy[-1] > 0.95
    assert h1.loss[-1] < h1.loss[0]
    scores = evaluate(m1, x, y)
    logits = predict(m1, x, batch_size=37)
    assert scores["accuracy"] == pytest.approx(np.mean(logits.argmax(1) == y))
    assert scores["accuracy"] == pytest.approx(h1.test_accuracy[-1])


def test_predict_uses_the_inference_functions_and_leaves_training_state_alone(rng):
    model = Sequential(PRP(6, 9, rng=0), ReLU(), HalfLayer(9, 7, rng=1), EUGen(7, 4, m=5, order=3, rng=2))
    for value in model.params.values():  # trained-looking parameters, so that folding matters
        value += 0.3 * rng.standard_normal(value.shape)
    x = rng.standard_normal((23, 6))
    y = rng.integers(0, 4, 23)
    expected = model.forward(x)
    model.forward(x[:5])  # a pending forward: predict must not replace its cache
    logits = predict(model, x, batch_size=10)  # batches of 10, 10 and 3
    np.testing.assert_allclose(logits, expected, rtol=1e-12, atol=1e-12)
    assert model.layers[0]._cache[0].shape[0] == 5
    assert evaluate(model, x, y)["accuracy"] == pytest.approx(np.mean(expected.argmax(1) == y))


def test_regression_with_mse_records_no_accuracy(rng):
    x = rng.standard_normal((200, 3))
    t = x @ np.array([[1.0], [-2.0], [0.5]])
    model = Dense(3, 1, rng=0)
    hist = fit(model, x, t, loss=MeanSquaredError(), optimizer=SGD(model, lr=0.1), epochs=20,
               validation_data=(x, t), rng=0, progress=False)
    assert hist.train_accuracy == [] and hist.test_accuracy == []
    assert hist.test_loss[-1] < 1e-6


def test_an_exploding_step_is_divergence_too(rng):
    """One step with lr = 1e300 leaves a finite first loss but non-finite parameters: refused, not returned."""
    x, y = _blobs(rng)
    model = Dense(2, 3, rng=0)
    with pytest.raises(TrainingDivergedError, match=r"at epoch 1, step \d+ of 10") as info:
        fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(model, lr=1e300), epochs=2, batch_size=32,
            rng=0, progress=False, validation_data=(x, y))
    assert info.value.epoch == 1 and info.value.history.epochs == 0
    model = Dense(2, 3, rng=0)
    with pytest.raises(TrainingDivergedError, match=r"the loss became .* at epoch 1, step 2 of 10"):
        fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(model, lr=1e5), epochs=1, batch_size=32,
            rng=0, progress=False)


def test_divergence_stops_with_a_clear_message(rng):
    x, y = _blobs(rng)
    x[5, 0] = np.nan
    model = Dense(2, 3, rng=0)
    with pytest.raises(TrainingDivergedError, match=r"the loss became nan at epoch 1, step \d+ of 10") as info:
        fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(model, lr=0.1), epochs=3, batch_size=32,
            rng=0, progress=False)
    assert "smaller learning rate (now 0.1)" in str(info.value)
    assert info.value.history.epochs == 0


def test_fit_validation(rng):
    x, y = _blobs(rng)
    model = Dense(2, 3, rng=0)
    opt = SGD(model, lr=0.1)
    loss = SoftmaxCrossEntropy()
    with pytest.raises(TypeError, match=r"x_train has dtype float32 but float64 was expected"):
        fit(model, x.astype(np.float32), y, loss=loss, optimizer=opt)
    with pytest.raises(ValueError, match=r"same number of samples, got 300 and 299"):
        fit(model, x, y[:-1], loss=loss, optimizer=opt)
    with pytest.raises(ValueError, match=r"epochs must be a positive int, got 0"):
        fit(model, x, y, loss=loss, optimizer=opt, epochs=0)
    with pytest.raises(TypeError, match=r"loss must be a rpnumpy.losses.Loss"):
        fit(model, x, y, loss=np.mean, optimizer=opt)
    with pytest.raises(TypeError, match=r"optimizer must be a rpnumpy.optim.Optimizer"):
        fit(model, x, y, loss=loss, optimizer=None)


def test_fit_refuses_before_changing_anything(rng):
    """Everything is checked before the first step: the parameters are untouched after each refusal."""
    x, y = _blobs(rng)
    model = Dense(2, 3, rng=0)
    before = {k: v.copy() for k, v in model.params.items()}
    opt, loss = SGD(model, lr=0.1), SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match=r"optimizer must be built on this model"):
        fit(model, x, y, loss=loss, optimizer=SGD(Dense(2, 3, rng=0), lr=0.1))
    with pytest.raises(ValueError, match=r"optimizer must be built on this model"):
        fit(model.astype(np.float32), x.astype(np.float32), y, loss=loss, optimizer=opt)
    with pytest.raises(ValueError, match=r"x_test has samples of shape \(3,\), x_train \(2,\)"):
        fit(model, x, y, loss=loss, optimizer=opt, validation_data=(np.ones((5, 3)), y[:5]))
    with pytest.raises(ValueError, match=r"y_test labels must lie in \[0, 2\] for 3 classes, got values from 0 to 7"):
        fit(model, x, y, loss=loss, optimizer=opt, validation_data=(x[:5], np.array([0, 1, 2, 7, 1])))
    with pytest.raises(TypeError, match=r"y_test must be an integer array of class labels, got float64"):
        fit(model, x, y, loss=loss, optimizer=opt, validation_data=(x[:5], y[:5].astype(float)))
    bad = y.copy()
    bad[-1] = -1
    with pytest.raises(ValueError, match=r"y_train labels must lie in \[0, 2\]"):
        fit(model, x, bad, loss=loss, optimizer=opt)
    with pytest.raises(ValueError, match=r"x_train must hold at least one sample, got shape \(0, 2\)"):
        fit(model, x[:0], y[:0], loss=loss, optimizer=opt)
    for key, value in model.params.items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.data
def test_mlp_reaches_published_mnist_accuracy(mnist):
    """docs/results.md publishes the 784-256-10 MLP's test accuracy; this run must reproduce it."""
    x_train, y_train, x_test, y_test = mnist
    model = mnist_mlp(seed=0)
    hist = fit(model, x_train, y_train, loss=SoftmaxCrossEntropy(), optimizer=FusedAdam(model, lr=MLP_LR),
               epochs=MLP_EPOCHS, batch_size=MLP_BATCH, validation_data=(x_test, y_test), rng=0, progress=False)
    accuracy = hist.test_accuracy[-1]
    assert accuracy >= 0.975, f"test accuracy {accuracy:.4f} after {MLP_EPOCHS} epochs is below 97.5%"
    published = re.search(r"MNIST test accuracy of the 784-256-10 MLP: \*\*(\d+\.\d+)%\*\*", RESULTS_PAGE.read_text())
    assert published, "docs/results.md must state the measured MNIST accuracy"
    # Same seed, same data: only floating-point summation order (BLAS threads) can differ.
    assert abs(100 * accuracy - float(published.group(1))) < 0.15
