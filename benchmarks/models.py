r"""The benchmarked models, their data, and the matrix-product FLOPs they cost.

Each model exists twice: in rpnumpy (:func:`build_rpnumpy_model`) and as its PyTorch twin built from
the same weights (:func:`build_torch_model`, a :class:`rpnumpy.testing.torch_reference.TorchTwin`: the
parameters become ``torch.nn.Parameter`` objects, the fixed matrices registered buffers, the forward pass the
reference implementation the tests compare rpnumpy with).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from rpnumpy.fast.optim import FusedAdam
from rpnumpy.layers import PRP, SNNK, Dense, EUGen, HalfLayer, ReLU, Sequential
from rpnumpy.layers.base import layer_spec

try:
    import torch
except ImportError:
    torch = None

__all__ = ["ARCHITECTURE", "MODELS", "build_rpnumpy_model", "build_torch_model", "load_data", "model_matmul_flops",
           "peak_fractions", "synthetic_data"]

#: Layer widths of the benchmarked MLP.
ARCHITECTURE = (784, 256, 10)
LEARNING_RATE = 1e-3



def synthetic_data(n_train: int, n_test: int, *, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Random MNIST-shaped data: float32 images in [0, 1] and int64 labels 0..9.

    Each class has a random prototype image and samples are noisy copies of it,
    so the data are learnable, but the accuracies mean nothing about MNIST.
    """
    gen = np.random.default_rng(seed)
    d, k = ARCHITECTURE[0], ARCHITECTURE[-1]
    prototypes = gen.random((k, d), dtype=np.float32)
    out = []
    for n in (n_train, n_test):
        y = gen.integers(0, k, size=n, dtype=np.int64)
        x = prototypes[y] + gen.normal(0.0, 0.3, size=(n, d)).astype(np.float32)
        np.clip(x, 0.0, 1.0, out=x)
        out += [x, y]
    return tuple(out)


def load_data(
    n_train: int | None = None, n_test: int | None = None, *, synthetic: bool = False
) -> tuple[tuple[np.ndarray, ...], str]:
    """``((x_train, y_train, x_test, y_test), name)``: MNIST, or synthetic data of the same shapes.

    ``n_train``/``n_test`` keep only the first images of each set.
    """
    if synthetic:
        return synthetic_data(n_train or 60000, n_test or 10000), "synthetic"
    from rpnumpy.datasets import load_mnist

    x_train, y_train, x_test, y_test = load_mnist(dtype=np.float32)
    arrays = (x_train[:n_train], y_train[:n_train], x_test[:n_test], y_test[:n_test])
    return tuple(np.ascontiguousarray(a) for a in arrays), "mnist"




#: PRP's rate, from the learning-rate range test of the PRP chapter (the MLP rate leaves it under 90%).
PRP_LEARNING_RATE = 0.04
#: Random directions of the SNNK model's ReLU tower (D = m features) and of each EUGen order.
SNNK_M = 256
EUGEN_M = 256
EUGEN_ORDER = 2


class ModelSpec(NamedTuple):
    """A benchmarked model: what it is, and the Adam learning rate both frameworks train it with."""

    description: str
    lr: float = LEARNING_RATE


#: The models this script can time, by ``--model`` name.
MODELS = {
    "mlp": ModelSpec("MLP 784-256-10 (ReLU)"),
    "half": ModelSpec("HalfLayer(784->1024, normal R, ReLU) + Dense(1024->10)"),
    "prp": ModelSpec("PRP 784-512-256-10 (Gaussian P, ReLU)", PRP_LEARNING_RATE),
    "snnk": ModelSpec(f"SNNK(784->256, ReLU tower, m={SNNK_M}) + Dense(256->10)"),
    "eugen": ModelSpec(f"EUGen(784->256, order {EUGEN_ORDER}, m={EUGEN_M}) + ReLU + Dense(256->10)"),
}


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")


def build_rpnumpy_model(seed: int = 0, model: str = "mlp") -> tuple[Sequential, FusedAdam]:
    """The benchmark model in float32 and its Adam optimizer (see :data:`MODELS`).

    ``"mlp"``: the 784-256-10 ReLU MLP. ``"half"``: a half layer of 1024 units
    (R fixed, only u and u0 trained) and a dense softmax layer. ``"prp"``: three
    PRP layers (P fixed; alpha, w, b trained). ``"snnk"``: the SNNK chapter's
    model, the MLP's hidden Dense+ReLU replaced by SNNK(784 -> 256) with a ReLU
    tower (G fixed, V and b trained). ``"eugen"``: the EUGen chapter's student
    shape, EUGen(784 -> 256) of order 2 (G fixed, A and b trained), ReLU and a
    dense softmax layer, here trained by back-propagation.
    """
    _check_model(model)
    d_in, _, d_out = ARCHITECTURE
    f32 = np.float32
    if model == "prp":
        net = Sequential(PRP(d_in, 512, rng=seed, dtype=f32), ReLU(),
                         PRP(512, 256, rng=seed + 1, dtype=f32), ReLU(),
                         PRP(256, d_out, rng=seed + 2, dtype=f32))
    elif model == "half":
        net = Sequential(HalfLayer(d_in, 1024, scheme="normal", rng=seed, dtype=f32),
                         Dense(1024, d_out, rng=seed + 1, dtype=f32))
    elif model == "snnk":
        net = Sequential(SNNK(d_in, 256, SNNK_M, activation="relu", rng=seed, dtype=f32),
                         Dense(256, d_out, rng=seed + 1, init="lecun", dtype=f32))
    elif model == "eugen":
        net = Sequential(EUGen(d_in, 256, EUGEN_M, EUGEN_ORDER, rng=seed, dtype=f32), ReLU(),
                         Dense(256, d_out, rng=seed + 1, dtype=f32))
    else:
        net = Sequential(Dense(d_in, 256, rng=seed, dtype=f32), ReLU(), Dense(256, d_out, rng=seed + 1, dtype=f32))
    return net, FusedAdam(net, lr=MODELS[model].lr)


def layer_matmul_flops(layer: Any, *, first: bool, train: bool = True) -> int:
    r"""Matrix-product FLOPs per input row of one layer: forward, plus backward when ``train``.

    Two FLOPs per multiply-add, counting exactly the products rpnumpy computes
    in :func:`rpnumpy.training.fit`: weight gradients only for trainable
    matrices, and the input gradient only when the layer is not ``first``
    (``fit`` asks the first layer for none). Element-wise work, reductions and
    bias additions are not counted. PyTorch computes the same products for
    the twin models (no gradient for buffers, none for the input data).
    """
    if isinstance(layer, (Dense, HalfLayer, PRP)):
        # Dense: x W; backward dW = x^T dy and dx = dy W^T.  HalfLayer: x R; backward only dx (nothing for R).
        # PRP: (x alpha) P; backward (dy w) P^T, needed for alpha's gradient even in the first layer.
        backward = {Dense: 1 + (not first), HalfLayer: int(not first), PRP: 1}[type(layer)]
        return 2 * layer.d_in * layer.d_out * (1 + (backward if train else 0))
    if isinstance(layer, SNNK):
        projection = 2 * layer.d_in * layer.n_directions  # S = x G
        readout = 2 * layer.n_features * layer.d_out  # Phi V
        backward = readout + ((readout + projection) if not first else 0)  # dV; dPhi = dy V^T and dS G^T
        return projection + readout + (backward if train else 0)
    if isinstance(layer, EUGen):
        projection = 2 * layer.width_plus * layer.m * layer.n_blocks  # x+ G
        readout = 2 * layer.n_features * layer.d_out  # F A
        backward = readout  # dA = F^T dy
        if layer.train_G or not first:
            backward += readout  # dF = dy A^T
        if layer.train_G:
            backward += projection
        if not first:
            backward += projection  # dx+ = dP G^T
        return projection + readout + (backward if train else 0)
    if layer.params:
        raise TypeError(f"no FLOP count for {type(layer).__name__}")
    return 0


def model_matmul_flops(model: Sequential, *, train: bool = True) -> int:
    """Matrix-product FLOPs per input row of the whole model (see :func:`layer_matmul_flops`)."""
    return sum(layer_matmul_flops(layer, first=(i == 0), train=train) for i, layer in enumerate(model.layers))


def peak_fractions(results: dict[str, Any], peak_gflops: float | None) -> dict[str, float | None]:
    """Share of the float32 matmul peak that each framework's median training epoch reaches.

    Parameters
    ----------
    results : dict
        A :func:`run_benchmark` result (``matmul_flops`` and, per framework, ``train_seconds``).
    peak_gflops : float or None
        The peak in GFLOP/s; None when it is unknown.

    Returns
    -------
    dict
        ``{"rpnumpy": share, "torch": share}``: matrix-product FLOPs of a training epoch over its median
        time, divided by the peak; None without a peak or for a framework that did not run.
    """
    return {
        name: None if peak_gflops is None or results.get(name) is None
        else results["matmul_flops"]["train_epoch"] / results[name]["train_seconds"]["median"] / (peak_gflops * 1e9)
        for name in ("rpnumpy", "torch")
    }




def build_torch_model(seed: int = 0, model: str = "mlp", *, fused_adam: bool = False) -> tuple[Any, Any]:
    """The PyTorch twin of :func:`build_rpnumpy_model`'s model, from the same initial weights, and its Adam.

    ``fused_adam=True`` asks for PyTorch's fused Adam kernel (``torch.optim.Adam(..., fused=True)``,
    opt-in on the CPU); the default is PyTorch's default implementation.
    """
    if torch is None:
        raise RuntimeError("PyTorch is not installed")
    from rpnumpy.testing.torch_reference import TorchTwin

    net, _ = build_rpnumpy_model(seed, model)
    twin = TorchTwin(layer_spec(net), net.params, net.buffers, dtype=torch.float32)
    return twin, torch.optim.Adam(twin.parameters(), lr=MODELS[model].lr, fused=True if fused_adam else None)
