r"""Networks adapted from a pretrained ReLU MLP: fine-tuning, linear probes, adapters and SNNK uptraining.

The pretrained network (the *backbone*) is a :class:`~rpnumpy.layers.Sequential` of
``Dense, ReLU, Dense, ReLU, ..., Dense`` (:func:`rpnumpy.models.teacher_mlp` builds one). Every
builder here copies the backbone's layers it keeps (the backbone is never modified), drops its
output layer and puts a new one, ``Dense(h, n_classes)`` (LeCun, seeded ``seed + 1000``), on top.
What is trained is whatever the returned network exposes in ``params``; the rest is wrapped in
:class:`~rpnumpy.layers.Frozen`.

* :func:`fine_tuned_mlp`: every layer trained (full fine-tuning).
* :func:`linear_probe_mlp`: the whole hidden stack frozen, only the new output layer trained.
* :func:`adapter_mlp`: the hidden stack frozen, with a residual adapter after every hidden ReLU
  (:class:`~rpnumpy.layers.BottleneckAdapter` or :class:`~rpnumpy.layers.SNNKAdapter`).
* :func:`uptrained_mlp`: the last hidden pair ``Dense + ReLU`` replaced by a ReLU-SNNK layer
  initialised from the dense weights (:func:`uptraining_layer`), everything before it frozen.

**Uptraining** (the SNNK authors' term, "Scalable Neural Network Kernels", ICLR 2024,
arXiv:2310.13225; the recipe below is as their public code describes it, not from the paper's
text): a pretrained feed-forward block :math:`x \mapsto \mathrm{ReLU}(xW + b)` becomes the SNNK layer
:math:`\hat y = \Phi(\tilde x)\,V + c` with the ReLU tower :math:`\Phi(z) = \max(zG, \kappa)/\sqrt m`,
:math:`V = \Phi(W^\top)^\top` (the parameter tower of the dense weights, :meth:`SNNK.from_dense
<rpnumpy.layers.SNNK.from_dense>`) and :math:`c = 0`; the authors L2-normalise the layer's input,
:math:`\tilde x = x/\|x\|`, and clamp at :math:`\kappa = -5`. What the layer then computes at the
start, in expectation over :math:`G`, is the kernel :math:`E_g[\max(g^\top\tilde x, \kappa)\max(g^\top w_j, \kappa)]`:

* for :math:`\kappa = 0` the arc-cosine kernel :math:`k_1(\tilde x, w_j) = \frac{\|\tilde x\|\|w_j\|}{2\pi}
  (\sin\omega + (\pi - \omega)\cos\omega)` (:func:`rpnumpy.features.arc_cosine_kernel`), a smooth,
  always positive cousin of :math:`\mathrm{ReLU}(\tilde x^\top w_j)` and not equal to it;
* for :math:`\kappa = -5` and :math:`\|\tilde x\| = 1`, :math:`g^\top\tilde x \sim N(0, 1)` falls below
  :math:`-5` with probability :math:`3\cdot 10^{-7}`, so the clamp almost never acts on the input side and
  the kernel is, to that accuracy, :math:`E[(g^\top\tilde x)\max(g^\top w_j, -5)] = \tilde x^\top w_j\,
  P(g^\top w_j > -5)`: nearly the *linear* layer :math:`\tilde x^\top w_j` (our derivation, by Stein's
  lemma: :math:`E[Z f(Y)] = \operatorname{Cov}(Z, Y)\,E[f'(Y)]` for jointly Gaussian :math:`Z, Y`).

The dense bias :math:`b` has no place in the ReLU tower and is dropped. Training then moves
:math:`V` and :math:`c` freely.
"""

from __future__ import annotations

from typing import Any

from ._validation import check_positive_int, check_real
from .bundling import L2Normalize
from .layers import SNNK, BottleneckAdapter, Dense, Frozen, Layer, ReLU, Sequential, SNNKAdapter

__all__ = [
    "ADAPTERS",
    "adapter_mlp",
    "backbone_parts",
    "fine_tuned_mlp",
    "linear_probe_mlp",
    "uptrained_mlp",
    "uptraining_layer",
]

#: The adapter kinds of :func:`adapter_mlp`.
ADAPTERS = ("bottleneck", "snnk")


def backbone_parts(backbone: Sequential) -> tuple[list[Dense], Dense]:
    """The hidden Dense layers (each followed by a ReLU) and the output Dense of a ReLU MLP, as copies."""
    if not isinstance(backbone, Sequential):
        raise TypeError(f"backbone must be a Sequential ReLU MLP, got {type(backbone).__name__}")
    layers = backbone.layers
    pattern_ok = len(layers) >= 3 and len(layers) % 2 == 1 and all(
        isinstance(layer, Dense) if i % 2 == 0 else isinstance(layer, ReLU) for i, layer in enumerate(layers))
    if not pattern_ok:
        names = [type(layer).__name__ for layer in layers]
        raise ValueError(f"backbone must be Dense, ReLU, ..., Dense with at least one hidden layer, got {names}")
    copies = [layer.astype(layer.dtype) for layer in layers[::2]]
    return copies[:-1], copies[-1]


def _head(d: int, n_classes: int, seed: int, dtype: Any) -> Dense:
    return Dense(d, check_positive_int(n_classes, "n_classes"), rng=seed + 1000, init="lecun", dtype=dtype)


def fine_tuned_mlp(backbone: Sequential, seed: int, *, n_classes: int = 10) -> Sequential:
    """The backbone's hidden layers (copied, all trainable) and a new output layer."""
    hidden, _ = backbone_parts(backbone)
    layers: list[Layer] = []
    for dense in hidden:
        layers += [dense, ReLU()]
    return Sequential(*layers, _head(hidden[-1].d_out, n_classes, seed, backbone.dtype))


def linear_probe_mlp(backbone: Sequential, seed: int, *, n_classes: int = 10) -> Sequential:
    """The backbone's hidden stack frozen, and a new output layer: the floor of every adaptation."""
    hidden, _ = backbone_parts(backbone)
    stack: list[Layer] = []
    for dense in hidden:
        stack += [dense, ReLU()]
    return Sequential(Frozen(Sequential(*stack)), _head(hidden[-1].d_out, n_classes, seed, backbone.dtype))


def adapter_mlp(
    backbone: Sequential, adapter: str, width: int, seed: int, *, n_classes: int = 10, kappa: float = 0.0
) -> Sequential:
    """Frozen hidden layers with a residual adapter after every hidden ReLU, and a new output layer.

    Parameters
    ----------
    backbone : Sequential
        ``Dense, ReLU, ..., Dense``.
    adapter : {'bottleneck', 'snnk'}
        :class:`~rpnumpy.layers.BottleneckAdapter` of width ``width``, or
        :class:`~rpnumpy.layers.SNNKAdapter` with the ReLU tower and ``width`` random directions.
    width : int
    seed : int
        Adapter ``i`` is seeded ``seed + 100 + i``; the output layer ``seed + 1000``.
    n_classes : int, default=10
    kappa : float, default=0.0
        The ReLU tower's floor (SNNK adapters only).
    """
    if adapter not in ADAPTERS:
        raise ValueError(f"adapter must be one of {list(ADAPTERS)}, got {adapter!r}")
    width = check_positive_int(width, "width")
    hidden, _ = backbone_parts(backbone)
    layers: list[Layer] = []
    for i, dense in enumerate(hidden):
        if adapter == "bottleneck":
            block: Layer = BottleneckAdapter(dense.d_out, width, rng=seed + 100 + i, dtype=dense.dtype)
        else:
            block = SNNKAdapter(dense.d_out, width, kappa=kappa, rng=seed + 100 + i, dtype=dense.dtype)
        layers += [Frozen(dense), ReLU(), block]
    return Sequential(*layers, _head(hidden[-1].d_out, n_classes, seed, backbone.dtype))


def uptraining_layer(
    dense: Dense, n_directions: int, *, kappa: float = -5.0, normalise: bool = True, rng: Any = None
) -> Layer:
    r"""The ReLU-SNNK layer that replaces ``dense`` + ReLU, initialised from its weights: :math:`V = \Phi(W^\top)^\top`.

    Returns ``Sequential(L2Normalize(1), SNNK)`` with ``normalise`` (the SNNK authors' recipe, with
    their :math:`\kappa = -5`), the bare :class:`~rpnumpy.layers.SNNK` layer otherwise. See the module
    docstring for what it computes at the start. ``rng`` seeds the random directions :math:`G`.
    """
    if not isinstance(dense, Dense):
        raise TypeError(f"dense must be a Dense layer, got {type(dense).__name__}")
    if not isinstance(normalise, bool):
        raise TypeError(f"normalise must be a bool, got {normalise!r}")
    snnk = SNNK.from_dense(dense, check_positive_int(n_directions, "n_directions"), activation="relu",
                           kappa=check_real(kappa, "kappa"), rng=rng)
    return Sequential(L2Normalize(1.0), snnk) if normalise else snnk


def uptrained_mlp(
    backbone: Sequential, n_directions: int, seed: int, *, kappa: float = -5.0, normalise: bool = True,
    n_classes: int = 10,
) -> Sequential:
    """The backbone with its last hidden ``Dense + ReLU`` replaced by :func:`uptraining_layer`, and a new head.

    The hidden layers before it are frozen; the SNNK layer (``V``, ``b``) and the new output layer
    are trained. The SNNK layer is seeded ``seed + 200``.
    """
    hidden, _ = backbone_parts(backbone)
    layers: list[Layer] = []
    for dense in hidden[:-1]:
        layers += [dense, ReLU()]
    frozen = [Frozen(Sequential(*layers))] if layers else []
    snnk = uptraining_layer(hidden[-1], n_directions, kappa=kappa, normalise=normalise, rng=seed + 200)
    return Sequential(*frozen, snnk, _head(hidden[-1].d_out, n_classes, seed, backbone.dtype))

