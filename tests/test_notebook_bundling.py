"""The claims notebook 04 (bundling) demonstrates with one seed, checked here with fixed seeds and stated margins.

* The second hidden layer of a two-tower cos MLP is biased towards 0: averaged over the first tower's draws,
  :math:`\\mathbb E\\cos(s + \\nu) = \\cos s\\,\\mathbb E\\cos\\nu` for a symmetric error
  :math:`\\nu`, a shrinkage whose size :math:`|\\cos s|(1 - e^{-\\sigma^2/2}) \\approx |\\cos s|\\sigma^2/2`
  falls like :math:`1/m_1`.
* The closed form with :math:`\\lambda = 0` is the minimum of the training MSE: Adam on the same features ends above it.

(The first layer's unbiasedness, the arc-cosine kernel of ReLU towers, and the closed form against lstsq, across
mini-batch splits and with a free intercept, are tested in ``tests/test_bundling.py`` and
``tests/test_closed_form.py``.)
"""

from __future__ import annotations

import numpy as np

from rpnumpy.bundling import FullyBundledNetwork
from rpnumpy.closed_form import ridge_normal_equations
from rpnumpy.features import random_feature_tower
from rpnumpy.layers import Dense
from rpnumpy.losses import MeanSquaredError
from rpnumpy.optim import Adam
from rpnumpy.training import fit


def cos_layers(seed=0, widths=(8, 16, 12), scale=0.25):
    """The notebook's first two cos layers: weights N(0, scale^2), biases U(-1, 1)."""
    gen = np.random.default_rng(seed)
    return [(gen.standard_normal((a, b)) * scale, gen.uniform(-1, 1, b)) for a, b in zip(widths[:-1], widths[1:])]


def second_layer_given_first(m1, draws, seed=0):
    """cos(h1_hat W2 + b2) over ``draws`` first towers of width m1 (the second tower averaged out exactly), and s."""
    (W1, b1), (W2, b2) = cos_layers(seed)
    x = np.random.default_rng(1).standard_normal((6, 8)) * 0.3
    h1 = np.cos(x @ W1 + b1)
    s = h1 @ W2 + b2
    seeds = np.random.default_rng([seed, m1])
    wide, eps = [], []
    for _ in range(draws):
        tower = random_feature_tower("cos", 8, m1, rng=seeds)
        h1_hat = tower.input_features(x) @ tower.weight_features(W1.T, b1).T
        wide.append(np.cos(h1_hat @ W2 + b2))
        eps.append((h1_hat - h1) @ W2)
    return np.array(wide), np.array(eps), s


def test_the_second_layer_is_shrunk_towards_zero_by_the_first_towers_noise():
    draws = 2000
    wide, eps, s = second_layer_given_first(4, draws)
    bias = wide.mean(0) - np.cos(s)
    standard_error = wide.std(0, ddof=1) / np.sqrt(draws)
    assert np.abs(bias / standard_error).max() > 10  # a bias, not Monte Carlo noise
    assert np.mean(np.abs(wide.mean(0)) < np.abs(np.cos(s))) >= 0.85  # towards 0, on most entries
    # E cos(s + eps) = cos s E cos eps - sin s E sin eps: the sin term is small (eps nearly symmetric) ...
    np.testing.assert_allclose(wide.mean(0), np.cos(s) * np.cos(eps).mean(0) - np.sin(s) * np.sin(eps).mean(0),
                               rtol=0, atol=1e-12)
    shrinkage = np.abs(np.cos(s) * (1 - np.cos(eps).mean(0))).mean()
    assert np.abs(np.sin(s) * np.sin(eps).mean(0)).mean() < 0.25 * shrinkage
    # ... and the Gaussian prediction |cos s| (1 - exp(-sigma^2 / 2)) gives the size within 20%.
    predicted = np.abs(np.cos(s) * (1 - np.exp(-eps.var(0) / 2))).mean()
    assert abs(np.abs(bias).mean() / predicted - 1) < 0.2


def test_the_second_layer_bias_falls_like_one_over_m1():
    biases = []
    for m1 in (8, 64):
        wide, _, s = second_layer_given_first(m1, 2000)
        biases.append(np.abs(wide.mean(0) - np.cos(s)).mean())
    assert 4 < biases[0] / biases[1] < 16  # 1/m1 gives 8 for m1 = 8 -> 64; noise and higher orders, a factor 2


def test_adam_ends_above_the_training_mse_of_the_closed_form():
    gen = np.random.default_rng(3)
    x = gen.standard_normal((2000, 8)) / np.sqrt(8)
    y = np.sin(x @ gen.standard_normal((8, 1)) + 0.5) + 0.05 * gen.standard_normal((2000, 1))
    net = FullyBundledNetwork.build(8, 1, 128, "relu", relu_bias=True, rng=0)
    z = net.features(x)
    V, c = ridge_normal_equations(z, y, 0.0)
    floor = np.mean((z @ V + c - y) ** 2)
    for lr in (1e-3, 1e-2):
        head = Dense(128, 1, rng=0, init="lecun")
        fit(head, z, y, loss=MeanSquaredError(), optimizer=Adam(head, lr=lr), epochs=20, batch_size=128, rng=0,
            progress=False)
        assert np.mean((head.forward(z) - y) ** 2) >= floor * (1 - 1e-12)
    assert floor < 0.1 * np.var(y)  # and the floor is a real fit
