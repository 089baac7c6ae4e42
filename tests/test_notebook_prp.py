"""The claims notebook 02 (PRP layers and Johnson-Lindenstrauss) makes, checked cheaply.

* a PRP layer's effective weight has d_in + d_out - 1 degrees of freedom, because (c alpha, w / c) is the
  same layer (and fewer when P's nonzero pattern falls into blocks);
* a training step of a first layer needs two matrix products for dense and for PRP alike, and a hidden
  layer three for dense against two for PRP;
* at initialisation a PRP layer, rescaled, is the library's Johnson-Lindenstrauss projection with its seed;
* PRP beats a low-rank network with the same budget on MNIST (a claim of the paper, as described).

The Johnson-Lindenstrauss claims on synthetic data and MNIST are in ``tests/test_jl.py``, the parameter counts
(535,818 against 3,108) and the tied-against-untied autoencoder in ``tests/test_prp.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from rpnumpy.jl import jl_projection_matrix, jl_scale
from rpnumpy.layers import PRP, Dense
from rpnumpy.losses import SoftmaxCrossEntropy
from rpnumpy.models import lowrank_mlp, prp_mlp
from rpnumpy.optim import Adam
from rpnumpy.testing import perturb_params
from rpnumpy.training import evaluate, fit


def _jacobian_of_effective_weight(P: np.ndarray, alpha: np.ndarray, w: np.ndarray) -> np.ndarray:
    """d vec(W_eff) / d(alpha, w) for W_eff = P * outer(alpha, w): shape (d_in d_out, d_in + d_out)."""
    d_in, d_out = P.shape
    j_alpha = np.einsum("ik,ij,j->ijk", np.eye(d_in), P, w).reshape(d_in * d_out, d_in)
    j_w = np.einsum("i,ij,jl->ijl", alpha, P, np.eye(d_out)).reshape(d_in * d_out, d_out)
    return np.hstack([j_alpha, j_w])


@pytest.mark.parametrize(("d_in", "d_out"), [(8, 6), (6, 8), (1, 4), (5, 1), (1, 1), (12, 12)])
def test_rescaling_alpha_and_w_is_the_same_layer_and_costs_one_degree_of_freedom(d_in, d_out, rng):
    layer = perturb_params(PRP(d_in, d_out, rng=3), rng)
    alpha, w = layer.params["alpha"].copy(), layer.params["w"].copy()
    x = rng.standard_normal((4, d_in))
    before = layer.forward(x)
    layer.params["alpha"][...], layer.params["w"][...] = -2.5 * alpha, w / -2.5
    np.testing.assert_allclose(layer.forward(x), before, rtol=1e-13, atol=1e-13)

    jacobian = _jacobian_of_effective_weight(layer.buffers["P"], alpha, w)
    # The Jacobian is right: a finite step along it predicts the change of W_eff.
    step = 1e-6 * rng.standard_normal(d_in + d_out)
    moved = layer.buffers["P"] * np.outer(alpha + step[:d_in], w + step[d_in:])
    np.testing.assert_allclose((moved - layer.buffers["P"] * np.outer(alpha, w)).ravel(), jacobian @ step,
                               rtol=0, atol=1e-10)
    assert np.linalg.matrix_rank(jacobian) == d_in + d_out - 1
    assert np.abs(jacobian @ np.concatenate([alpha, -w])).max() < 1e-14  # the direction of (c alpha, w / c)


def test_with_zeros_in_p_the_rank_drops_by_one_per_block_of_its_nonzero_pattern():
    d_in, d_out = 6, 5
    gen = np.random.default_rng(0)
    alpha, w = gen.uniform(0.5, 1.5, d_in), gen.uniform(0.5, 1.5, d_out)
    blocks_seen = set()
    for seed in range(40):
        P = PRP(d_in, d_out, scheme="sparse_ternary", rng=seed).buffers["P"]
        nonzero = P != 0
        graph = np.block([[np.zeros((d_in, d_in)), nonzero], [nonzero.T, np.zeros((d_out, d_out))]])
        blocks = connected_components(graph, directed=False)[0]
        blocks_seen.add(blocks)
        assert np.linalg.matrix_rank(_jacobian_of_effective_weight(P, alpha, w)) == d_in + d_out - blocks, seed
    assert 1 in blocks_seen and max(blocks_seen) >= 3  # the check covered connected and split patterns


class _CountingArray(np.ndarray):
    """An array that counts the matrix products it takes part in (every other operation is plain)."""

    products = 0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc is np.matmul:
            _CountingArray.products += 1
        plain = tuple(a.view(np.ndarray) if isinstance(a, _CountingArray) else a for a in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, _CountingArray) else o for o in kwargs["out"])
        return getattr(ufunc, method)(*plain, **kwargs)


def _products_of_one_step(layer, first: bool, rng) -> int:
    """Matrix products of one forward and one backward pass through ``layer`` (its input and matrix counted)."""
    name = "P" if isinstance(layer, PRP) else "W"
    store = layer.buffers if name == "P" else layer.params
    store[name] = store[name].view(_CountingArray)
    x = rng.standard_normal((16, layer.d_in)).view(_CountingArray)
    _CountingArray.products = 0
    layer.forward(x)
    layer.backward(rng.standard_normal((16, layer.d_out)), input_grad=not first)
    return _CountingArray.products


@pytest.mark.parametrize("first", [True, False], ids=["first layer", "hidden layer"])
def test_a_training_step_costs_two_products_in_a_first_layer_for_dense_and_prp_alike(first, rng):
    dense = _products_of_one_step(Dense(20, 7, rng=0), first, rng)
    prp = _products_of_one_step(PRP(20, 7, rng=0), first, rng)
    assert (dense, prp) == ((2, 2) if first else (3, 2))


@pytest.mark.parametrize("scheme", ["gaussian", "sparse_ternary", "orthogonal"])
@pytest.mark.parametrize(("d_in", "d_out"), [(64, 24), (24, 64)])
def test_prp_at_initialisation_is_the_jl_projection_with_its_seed(scheme, d_in, d_out, rng):
    x = rng.standard_normal((10, d_in))
    projected = PRP(d_in, d_out, scheme=scheme, rng=7).forward(x) * jl_scale(scheme, d_in, d_out)
    np.testing.assert_allclose(projected, x @ jl_projection_matrix(scheme, d_in, d_out, 7), rtol=1e-12, atol=1e-12)


@pytest.mark.data
def test_prp_beats_the_low_rank_network_with_the_same_budget_on_mnist(mnist):
    """One epoch on 5,000 images, the notebook's range-test rates (PRP 0.04, low-rank 0.001).

    Measured: PRP 75.3%, rank-1 low-rank 13.8% on the first 5,000 test images (about 3 s of CPU).
    """
    x_train, y_train, x_test, y_test = mnist
    accuracy = {}
    for name, build, lr in (("prp", prp_mlp, 0.04), ("lowrank", lowrank_mlp, 0.001)):
        model = build(0)
        assert model.n_params == 3_108
        fit(model, x_train[:5_000], y_train[:5_000], loss=SoftmaxCrossEntropy(), optimizer=Adam(model, lr=lr),
            epochs=1, rng=0, progress=False)
        accuracy[name] = evaluate(model, x_test[:5_000], y_test[:5_000])["accuracy"]
    assert accuracy["prp"] > 0.65 and accuracy["prp"] > accuracy["lowrank"] + 0.4, accuracy
