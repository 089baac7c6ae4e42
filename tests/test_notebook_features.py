"""The claims of notebook 03 (universal random features and SNNK), checked small and with fixed seeds.

The notebook shows one run of each experiment; these tests check the statements its prose makes about
them, on smaller versions that run in seconds: the hand-written towers equal the library's, the
error falls like 1/m and matches the predicted variance, orthogonal draws do better, a large variance
parameter M hurts at small norms, the best M shrinks with d, and ``from_dense`` starts an SNNK layer
close to a teacher. Unbiasedness, the variance formulas, the arc-cosine kernel and the gradients are
tested in ``test_features.py``, ``test_feature_towers.py`` and ``test_snnk.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rpnumpy.features import random_feature_tower
from rpnumpy.gradcheck import relative_error
from rpnumpy.layers import SNNK, Dense, Sequential, Sin
from rpnumpy.losses import MeanSquaredError
from rpnumpy.optim import Adam
from rpnumpy.training import fit

#: Statistical claims: within this many standard errors.
Z_MARGIN = 5.0


def _rows(gen: np.random.Generator, n: int, d: int, norm: float) -> np.ndarray:
    a = gen.standard_normal((n, d))
    return a * (norm / np.linalg.norm(a, axis=1, keepdims=True))


# -- the towers by hand, as in the notebook's section 3 (M = 0, no bias on the trig towers) ----------------
def _trig_input(x, G):
    theta, mu = x @ G, np.exp(0.5 * np.sum(x**2, axis=1, keepdims=True)) / math.sqrt(G.shape[1])
    return np.concatenate([mu * np.cos(theta), mu * np.sin(theta)], axis=1)


def _trig_magnitude(w, G):
    return np.exp(w @ G - 0.5 * np.sum(w**2, axis=1, keepdims=True)) / math.sqrt(G.shape[1])


def _exp_tower(x, G, b=0.0):
    return np.exp(x @ G - 0.5 * np.sum(x**2, axis=1, keepdims=True) + np.reshape(b, (-1, 1))) / math.sqrt(G.shape[1])


def _relu_tower(x, G):
    return np.maximum(x @ G, 0.0) / math.sqrt(G.shape[1])


@pytest.mark.parametrize("activation", ["cos", "sin", "exp", "relu"])
def test_towers_by_hand_equal_the_library(activation):
    gen = np.random.default_rng(0)
    x, w, b = _rows(gen, 6, 5, 0.6), _rows(gen, 4, 5, 0.8), gen.uniform(-1, 1, 4)
    tower = random_feature_tower(activation, 5, 64, rng=7)
    G = tower.G
    if activation in ("cos", "sin"):
        nu = _trig_magnitude(w, G)
        halves = [nu, np.zeros_like(nu)] if activation == "cos" else [np.zeros_like(nu), nu]
        phi, psi, bias = _trig_input(x, G), np.concatenate(halves, axis=1), None
    elif activation == "exp":
        phi, psi, bias = _exp_tower(x, G), _exp_tower(w, G, b), b
    else:
        phi, psi, bias = _relu_tower(x, G), _relu_tower(w, G), None
    assert relative_error(phi, tower.input_features(x)) < 1e-12
    assert relative_error(psi, tower.weight_features(w, bias)) < 1e-12


# -- error against m ------------------------------------------------------------------------------------
def _kernel_mse(activation, d, norm, m, draws, redraws, variance_param=0.0):
    """Mean MSE over 20 x 20 pairs and ``redraws`` towers, its standard error, and the predicted MSE."""
    gen = np.random.default_rng(0)
    x, w = _rows(gen, 20, d, norm), _rows(gen, 20, d, norm)
    b = None if activation == "relu" else gen.uniform(-1, 1, 20)
    errors = []
    for s in range(redraws):
        tower = random_feature_tower(activation, d, m, variance_param=variance_param, draws=draws, rng=1000 + s)
        if s == 0:
            truth, predicted = tower.target(x, w, b), float(tower.predicted_variance(x, w, b).mean())
        errors.append(np.mean((tower.estimate(x, w, b) - truth) ** 2))
    errors = np.array(errors)
    return errors.mean(), errors.std(ddof=1) / math.sqrt(redraws), predicted


@pytest.mark.parametrize("activation", ["cos", "exp", "relu"])
def test_iid_mse_is_the_predicted_variance_and_falls_like_one_over_m(activation):
    ms = (16, 64, 256)
    cells = [_kernel_mse(activation, 8, 0.5, m, "iid", 20) for m in ms]
    for mean, se, predicted in cells:  # unbiased: the expected MSE is the variance
        assert abs(mean - predicted) < Z_MARGIN * se, (mean, predicted, se)
    slope = np.polyfit(np.log(ms), np.log([c[0] for c in cells]), 1)[0]
    assert -1.15 < slope < -0.85, slope


@pytest.mark.parametrize("activation", ["cos", "relu"])
def test_orthogonal_draws_beat_iid_draws(activation):
    for m in (16, 64):
        iid, _, _ = _kernel_mse(activation, 8, 0.5, m, "iid", 20)
        orthogonal, _, _ = _kernel_mse(activation, 8, 0.5, m, "orthogonal", 20)
        assert orthogonal < iid, (m, orthogonal, iid)


def test_a_large_variance_parameter_hurts_at_small_norms():
    """cos, d = 4, norm 0.3: M = 0.5 more than 5x worse than M = 0, predicted and measured."""
    zero, _, predicted_zero = _kernel_mse("cos", 4, 0.3, 256, "iid", 10)
    half, _, predicted_half = _kernel_mse("cos", 4, 0.3, 256, "iid", 10, variance_param=0.5)
    assert predicted_half > 5 * predicted_zero
    assert half > 5 * zero


def _complex_second_moment(d, x_sq, w_sq, M):
    return ((1 + 4 * M) ** 2 / (1 + 8 * M)) ** (d / 2) * math.exp(x_sq + w_sq / (1 + 8 * M))


def test_the_best_variance_parameter_is_small_positive_and_shrinks_with_d():
    grid = np.linspace(-0.1, 1.0, 2201)
    best = {}
    for d in (3, 8, 32):
        moments = np.array([_complex_second_moment(d, 0.49, 0.81, M) for M in grid])
        best[d] = grid[moments.argmin()]
        assert 0.5 < best[d] / (0.81 / (2 * d)) < 1.5  # near the small-M optimum |w|^2 / 2d
    assert best[3] > best[8] > best[32] > 0
    assert _complex_second_moment(32, 0.49, 0.81, 0.5) > _complex_second_moment(32, 0.49, 0.81, 0.0)


# -- the teacher-student run ------------------------------------------------------------------------------
def _teacher_task():
    gen = np.random.default_rng(1)
    first = Dense(8, 16, rng=10)
    first.params["W"][...] = gen.standard_normal((8, 16)) / math.sqrt(8)
    first.params["b"][...] = gen.uniform(-1, 1, 16)
    second = Dense(16, 1, rng=11)
    second.params["W"][...] = 0.5 * gen.standard_normal((16, 1))
    x = gen.standard_normal((1500, 8)) / math.sqrt(8)
    y = Sequential(first, Sin(), second).forward(x) + 0.05 * gen.standard_normal((1500, 1))
    return first, second, x[:1000], y[:1000], x[1000:], y[1000:]


def _copy(layer: Dense) -> Dense:
    twin = Dense(layer.d_in, layer.d_out, rng=0)
    for key in layer.params:
        twin.params[key][...] = layer.params[key]
    return twin


def test_from_dense_starts_close_to_the_teacher_and_training_improves_it():
    first, second, x_tr, y_tr, x_te, y_te = _teacher_task()
    mse = MeanSquaredError()

    def test_mse(model):
        return mse.forward(model.forward(x_te), y_te)

    random_v = test_mse(Sequential(SNNK(8, 16, 64, activation="sin", rng=3), Dense(16, 1, rng=2)))
    warm = {m: Sequential(SNNK.from_dense(first, m, activation="sin", rng=3), _copy(second)) for m in (64, 256)}
    before = {m: test_mse(model) for m, model in warm.items()}
    assert before[64] < 0.5 * random_v  # the teacher's tower starts far closer than a random V
    assert before[256] < before[64]  # and closer with more directions (variance ~ 1/m)
    model = warm[64]
    fit(model, x_tr, y_tr, loss=MeanSquaredError(), optimizer=Adam(model, lr=0.003), epochs=10, batch_size=64,
        rng=0, progress=False)
    assert test_mse(model) < before[64]
    assert test_mse(model) < 0.2 * float(y_te.var())  # explains more than 80% of the variance
