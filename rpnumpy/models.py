"""The networks the experiments and the notebooks train, built from one seed each.

Every builder draws each layer's random matrices and initial weights from its own seed, derived
from ``seed`` by a fixed offset, so that a model is the same whoever builds it: the experiments of
:mod:`rpnumpy.experiments`, a notebook, or a test that checks a published number.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bundling import L2Normalize
from .layers import (
    PRP,
    SNNK,
    Conv2D,
    Dense,
    Flatten,
    HalfLayer,
    LowRank,
    MaxPool2D,
    ReLU,
    Reshape,
    Sequential,
    Sigmoid,
)

__all__ = [
    "PRP_WIDTHS",
    "build_model",
    "cnn",
    "dense_autoencoder_params",
    "dense_mlp",
    "half_net",
    "lowrank_autoencoder",
    "lowrank_mlp",
    "mlp",
    "mnist_mlp",
    "prp_mlp",
    "snnk_mlp",
    "teacher_mlp",
]

#: Widths of the PRP paper's MLP, 784-512-256-10.
PRP_WIDTHS = (784, 512, 256, 10)


def mnist_mlp(seed: int, dtype: Any = np.float32) -> Sequential:
    """The 784-256-10 ReLU MLP: Dense(784, 256) (seed), ReLU, Dense(256, 10) (seed + 1)."""
    return Sequential(Dense(784, 256, rng=seed, dtype=dtype), ReLU(), Dense(256, 10, rng=seed + 1, dtype=dtype))


def mlp(width: int, seed: int, *, d_in: int = 784, dtype: Any = np.float32) -> Sequential:
    """``mlp-k``: Dense(d_in -> k) (seed), ReLU, Dense(k -> 10) (seed + 1000)."""
    return Sequential(Dense(d_in, width, rng=seed, dtype=dtype), ReLU(), Dense(width, 10, rng=seed + 1000, dtype=dtype))


def half_net(
    width: int,
    scheme: str,
    seed: int,
    *,
    d_in: int = 784,
    x_train: np.ndarray | None = None,
    y_train: np.ndarray | None = None,
    dtype: Any = np.float32,
) -> Sequential:
    """``rnd-H-S``: HalfLayer(d_in -> H, scheme S, ReLU) (seed), then Dense(H -> 10, LeCun) (seed + 1000).

    The template scheme (T) draws its columns from ``x_train`` (class-balanced by ``y_train``).
    """
    half = HalfLayer(d_in, width, scheme=scheme, rng=seed, templates=x_train, template_labels=y_train, dtype=dtype)
    return Sequential(half, Dense(width, 10, rng=seed + 1000, init="lecun", dtype=dtype))


def cnn(head: str, seed: int, *, filters: int = 16, width: int = 256, dtype: Any = np.float32) -> Sequential:
    """Conv(1 -> filters, 5x5, pad 2), ReLU, MaxPool 2, a half or dense layer of ``width``, then softmax.

    ``head="half"`` uses HalfLayer(filters*14*14 -> width, N, ReLU); ``head="dense"`` uses
    Dense(filters*14*14 -> width) + ReLU: the same network with every weight trained.
    """
    flat = filters * 14 * 14
    if head == "half":
        middle = [HalfLayer(flat, width, scheme="normal", rng=seed + 2000, dtype=dtype)]
    elif head == "dense":
        middle = [Dense(flat, width, rng=seed + 2000, dtype=dtype), ReLU()]
    else:
        raise ValueError(f"head must be 'half' or 'dense', got {head!r}")
    return Sequential(
        Reshape((1, 28, 28)),
        Conv2D(1, filters, 5, padding=2, rng=seed, dtype=dtype),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        *middle,
        Dense(width, 10, rng=seed + 1000, init="lecun", dtype=dtype),
    )


def dense_mlp(seed: int, dtype: Any = np.float32) -> Sequential:
    """The PRP paper's dense 784-512-256-10 ReLU MLP; layer ``i`` has seed ``seed + i``."""
    d = PRP_WIDTHS
    return Sequential(Dense(d[0], d[1], rng=seed, dtype=dtype), ReLU(), Dense(d[1], d[2], rng=seed + 1, dtype=dtype),
                      ReLU(), Dense(d[2], d[3], rng=seed + 2, dtype=dtype))


def prp_mlp(seed: int, scheme: str = "gaussian", dtype: Any = np.float32) -> Sequential:
    """The same shape with every Dense layer replaced by a PRP layer of the given scheme."""
    d = PRP_WIDTHS
    return Sequential(PRP(d[0], d[1], scheme=scheme, rng=seed, dtype=dtype), ReLU(),
                      PRP(d[1], d[2], scheme=scheme, rng=seed + 1, dtype=dtype), ReLU(),
                      PRP(d[2], d[3], scheme=scheme, rng=seed + 2, dtype=dtype))


def lowrank_mlp(seed: int, rank: int = 1, dtype: Any = np.float32) -> Sequential:
    """The same shape with LowRank layers of the given rank: the baseline at a PRP-like budget."""
    d = PRP_WIDTHS
    return Sequential(LowRank(d[0], d[1], rank, rng=seed, dtype=dtype), ReLU(),
                      LowRank(d[1], d[2], rank, rng=seed + 1, dtype=dtype), ReLU(),
                      LowRank(d[2], d[3], rank, rng=seed + 2, init="lecun", dtype=dtype))


def lowrank_autoencoder(budget: int, seed: int, dtype: Any = np.float32) -> Sequential:
    """Linear rank-r autoencoder x -> sigmoid(x U Vᵀ + b), with the largest r within ``budget`` parameters."""
    rank = LowRank.rank_for_budget(784, 784, budget)
    return Sequential(LowRank(784, 784, rank, rng=seed, init="lecun", dtype=dtype), Sigmoid())


def dense_autoencoder_params(k: int) -> int:
    """Trainable parameters of the dense autoencoder 784-k-784: 784k + k + 784k + 784."""
    return 784 * k + k + k * 784 + 784


def snnk_mlp(
    activation: str, n_directions: int, seed: int, *, radius: float = 1.0, dtype: Any = np.float32
) -> Sequential:
    """784-256-10 with the hidden Dense + ReLU replaced by SNNK(784 -> 256, ``n_directions`` random directions).

    The SNNK layer is seeded ``seed``. The trig and exp towers get :class:`~rpnumpy.bundling.L2Normalize`
    (rows rescaled to norm ``radius``) in front: their features carry :math:`e^{\\|x\\|^2/2}`. The
    read-out is Dense(256 -> 10, LeCun) (seed + 1000).
    """
    normalise = [] if activation == "relu" else [L2Normalize(radius)]
    return Sequential(*normalise, SNNK(784, 256, n_directions, activation=activation, rng=seed, dtype=dtype),
                      Dense(256, 10, rng=seed + 1000, init="lecun", dtype=dtype))


def teacher_mlp(seed: int, widths: tuple[int, ...] = PRP_WIDTHS, dtype: Any = np.float32) -> Sequential:
    """A ReLU MLP with the given widths, layer ``i`` seeded ``100 * seed + i``: the EUGen chapter's teachers."""
    layers: list = []
    for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(Dense(d_in, d_out, rng=100 * seed + i, dtype=dtype))
        if i < len(widths) - 2:
            layers.append(ReLU())
    return Sequential(*layers)


def build_model(name: str, seed: int, *, x_train: np.ndarray | None = None,
                y_train: np.ndarray | None = None) -> Sequential:
    """A model of the reproduction chapters from its name, so that a unit of work can name what it trains.

    ``rnd-H-S`` (:func:`half_net`, the T scheme drawing from ``x_train``), ``mlp-k`` (:func:`mlp`),
    ``cnn-half`` / ``cnn-dense`` (:func:`cnn`), ``dense`` (:func:`dense_mlp`), ``prp-<scheme>``
    (:func:`prp_mlp`), ``lowrank`` (:func:`lowrank_mlp`), ``dense-256`` (:func:`mnist_mlp`),
    ``snnk-<activation>-<m>`` (:func:`snnk_mlp`) and ``teacher`` (:func:`teacher_mlp`).
    """
    kind, _, rest = name.partition("-")
    if kind == "rnd":
        width, scheme = rest.split("-")
        return half_net(int(width), scheme, seed, x_train=x_train, y_train=y_train)
    if kind == "mlp":
        return mlp(int(rest), seed)
    if kind == "cnn":
        return cnn(rest, seed)
    if kind == "prp":
        return prp_mlp(seed, rest)
    if kind == "snnk":
        activation, m = rest.rsplit("-", 1)
        return snnk_mlp(activation, int(m), seed)
    simple = {"dense": dense_mlp, "lowrank": lowrank_mlp, "dense-256": mnist_mlp, "teacher": teacher_mlp}
    if name not in simple:
        raise ValueError(f"name must be rnd-H-S, mlp-k, cnn-half, cnn-dense, dense, prp-<scheme>, lowrank, dense-256, "
                         f"snnk-<activation>-<m> or teacher, got {name!r}")
    return simple[name](seed)
