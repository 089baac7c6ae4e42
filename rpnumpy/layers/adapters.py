r"""Adapters for a pretrained network, and a wrapper that freezes a layer.

An *adapter* is a small residual block inserted into a frozen pretrained network, so that only the
adapter (and a new output layer) is trained on a new task. Both adapters here start as the
identity, so that inserting them does not change the pretrained network.

* :class:`BottleneckAdapter`: the usual dense bottleneck (Houlsby et al., "Parameter-Efficient
  Transfer Learning for NLP", ICML 2019, arXiv:1902.00751, Section 2.1): down-project to width
  :math:`r`, a non-linearity, up-project, add the input,
  :math:`y = x + \mathrm{ReLU}(xW_{down} + b_{down})W_{up} + b_{up}`, with :math:`W_{up} = 0` at the start.
* :class:`SNNKAdapter`: the SNNK adapter (Sehanobish, Choromanski et al., "Scalable Neural Network
  Kernels", ICLR 2024, arXiv:2310.13225): the down-projection and non-linearity are replaced by a
  fixed random-feature tower :math:`\Phi` (:mod:`rpnumpy.features`), so that only the read-out
  :math:`V` is trained, :math:`y = x + \Phi(x)V + b`, with :math:`V = 0` at the start. With the
  ReLU tower and :math:`m` random directions it holds :math:`md + d` trainable values against the
  :math:`2rd + r + d` of a bottleneck adapter of width :math:`r`. The residual form and the zero
  start are the usual adapter choices; the tower, its floor :math:`\kappa` and the zero start of
  :math:`V` are ours to choose (the paper's text is not available to us beyond its abstract).
* :class:`Frozen`: any layer (or :class:`~rpnumpy.layers.Sequential`) with its parameters turned into
  fixed arrays: it passes gradients through to its input but exposes nothing to train.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import check_dtype, check_positive_int, seed_from
from ..features import FEATURE_MAPS, RandomFeatureTower, random_feature_tower
from .base import Layer, config_dim, declared_sizes, layer_from_config, layer_spec

__all__ = ["BottleneckAdapter", "Frozen", "SNNKAdapter"]


class BottleneckAdapter(Layer):
    r"""Residual dense bottleneck, :math:`y = x + \mathrm{ReLU}(xW_{down} + b_{down})\,W_{up} + b_{up}`.

    Forward, for a batch :math:`x` of shape ``(n, d)`` and width :math:`r`:

    .. math::

        z = xW_{down} + b_{down} \in \mathbb R^{n\times r}, \qquad h = \max(z, 0), \qquad
        y = x + hW_{up} + b_{up} .

    Backward, given :math:`\delta = \partial L/\partial y`:

    .. math::

        \frac{\partial L}{\partial W_{up}} = h^\top\delta, \quad
        \frac{\partial L}{\partial b_{up}} = \textstyle\sum_n \delta_{n,:}, \quad
        \partial z = (\delta W_{up}^\top) \odot 1[z > 0], \quad
        \frac{\partial L}{\partial W_{down}} = x^\top \partial z, \quad
        \frac{\partial L}{\partial b_{down}} = \textstyle\sum_n \partial z_{n,:}, \quad
        \frac{\partial L}{\partial x} = \delta + \partial z\, W_{down}^\top .

    Parameters
    ----------
    d : int
        Input and output width.
    width : int
        :math:`r`, the bottleneck width.
    rng : None, int or Generator
        Seed of the initial :math:`W_{down}`.
    dtype : float32 or float64, default=float64

    Notes
    -----
    **Initialisation.** :math:`W_{down}` has i.i.d. :math:`N(0, 2/d)` entries (He), :math:`b_{down}`,
    :math:`W_{up}` and :math:`b_{up}` are zero, so the adapter starts as the identity (Houlsby et al.
    start near the identity with small weights; exactly zero :math:`W_{up}` is the LoRA-style choice).
    :math:`W_{down}` receives no gradient until :math:`W_{up}` has moved off zero.
    Trainable values: :math:`2rd + r + d`.
    """

    def __init__(self, d: int, width: int, *, rng: Any = None, dtype: Any = np.float64) -> None:
        self.d = check_positive_int(d, "d")
        self.width = check_positive_int(width, "width")
        super().__init__(check_dtype(dtype))
        self.seed = seed_from(rng)
        w_down = np.random.default_rng(self.seed).standard_normal((self.d, self.width)) * math.sqrt(2.0 / self.d)
        self._add_param("W_down", w_down.astype(self.dtype))
        self._add_param("b_down", np.zeros(self.width, dtype=self.dtype))
        self._add_param("W_up", np.zeros((self.width, self.d), dtype=self.dtype))
        self._add_param("b_up", np.zeros(self.d, dtype=self.dtype))

    @property
    def d_in(self) -> int:
        return self.d

    def _forward(self, x):
        z = x @ self.params["W_down"]
        z += self.params["b_down"]
        h = np.maximum(z, 0)
        y = h @ self.params["W_up"]
        y += self.params["b_up"]
        y += x
        return y, (x, h)

    def _param_backward(self, dy, cache):
        """Fill every gradient; return ∂L/∂z for the input gradient."""
        x, h = cache
        np.matmul(h.T, dy, out=self.grads["W_up"])  # ∂L/∂W_up = hᵀ δ
        np.sum(dy, axis=0, out=self.grads["b_up"])
        dz = dy @ self.params["W_up"].T  # ∂h = δ W_upᵀ
        dz *= h > 0  # ∂z = ∂h ⊙ 1[z > 0]  (h > 0 exactly where z > 0)
        np.matmul(x.T, dz, out=self.grads["W_down"])  # ∂L/∂W_down = xᵀ ∂z
        np.sum(dz, axis=0, out=self.grads["b_down"])
        return dz

    def _backward(self, dy, cache):
        dz = self._param_backward(dy, cache)
        dx = dz @ self.params["W_down"].T
        dx += dy  # the residual path
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"d": self.d, "width": self.width, "rng": self.seed, **super().get_config()}

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        d, r = config_dim(config, "d"), config_dim(config, "width")
        return 2 * r * d + r + d, 0


class SNNKAdapter(Layer):
    r"""Residual SNNK adapter, :math:`y = x + \Phi(x)\,V + b`: a fixed random-feature tower, a trained read-out.

    Forward, for a batch :math:`x` of shape ``(n, d)``, with the tower :math:`\Phi` of
    :mod:`rpnumpy.features` (for relu, :math:`\Phi(x) = \max(xG, \kappa)/\sqrt m` with fixed
    :math:`G \in \mathbb R^{d\times m}`, :math:`G_{ij} \sim N(0, 1)`):

    .. math:: y = x + \Phi(x)\,V + b, \qquad V \in \mathbb R^{D\times d} .

    Backward, given :math:`\delta = \partial L/\partial y`:

    .. math::

        \frac{\partial L}{\partial V} = \Phi^\top\delta, \qquad
        \frac{\partial L}{\partial b} = \textstyle\sum_n \delta_{n,:}, \qquad
        \frac{\partial L}{\partial x} = \delta + \Phi^{\prime\top}(\delta V^\top),

    the last term being the tower's backward pass of :math:`\partial\Phi = \delta V^\top` (for relu,
    :math:`((\partial\Phi \odot 1[xG > \kappa])G^\top)/\sqrt m`).

    Parameters
    ----------
    d : int
        Input and output width.
    n_directions : int
        :math:`m`, the number of random directions of the tower (``D = m`` for relu and exp,
        ``2m`` for cos, sin and gaussian).
    activation : {'relu', 'cos', 'sin', 'exp', 'gaussian'}, default='relu'
        The tower. The URF towers carry :math:`e^{\|x\|^2/2}`: put an
        :class:`~rpnumpy.bundling.L2Normalize` in front of them.
    kappa : float, default=0.0
        The ReLU tower's floor :math:`\kappa`.
    draws : {'iid', 'orthogonal'}, default='iid'
    rng : None, int or Generator
        Seed of the tower's random directions.
    dtype : float32 or float64, default=float64

    Notes
    -----
    ``V`` and ``b`` start at zero, so the adapter starts as the identity; ``V`` then receives
    :math:`\Phi^\top\delta` at once (unlike the bottleneck's :math:`W_{down}`, nothing here waits).
    Trainable values: :math:`Dd + d`.
    """

    def __init__(
        self,
        d: int,
        n_directions: int,
        *,
        activation: str = "relu",
        kappa: float = 0.0,
        draws: str = "iid",
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        self.d = check_positive_int(d, "d")
        self.n_directions = check_positive_int(n_directions, "n_directions")
        if activation not in FEATURE_MAPS:
            raise ValueError(f"activation must be one of {list(FEATURE_MAPS)}, got {activation!r}")
        super().__init__(check_dtype(dtype))
        self.seed = seed_from(rng)
        self.tower: RandomFeatureTower = random_feature_tower(
            activation, self.d, self.n_directions, kappa=kappa, draws=draws, rng=self.seed, dtype=self.dtype)
        self.activation, self.draws = activation, draws
        self.kappa = self.tower.get_config().get("kappa", 0.0)
        self.buffers["G"] = self.tower.G
        if self.tower.xi is not None:
            self.buffers["xi"] = self.tower.xi
        self._add_param("V", np.zeros((self.tower.n_features, self.d), dtype=self.dtype))
        self._add_param("b", np.zeros(self.d, dtype=self.dtype))

    @property
    def d_in(self) -> int:
        return self.d

    @property
    def n_features(self) -> int:
        """``D``, the width of :math:`\\Phi(x)` and the number of rows of ``V``."""
        return self.tower.n_features

    def _forward(self, x):
        features, tower_cache = self.tower.forward_input(x)
        y = features @ self.params["V"]
        y += self.params["b"]
        y += x
        return y, (features, tower_cache)

    def _param_backward(self, dy, cache):
        features, _ = cache
        np.matmul(features.T, dy, out=self.grads["V"])  # ∂L/∂V = Φᵀ δ
        np.sum(dy, axis=0, out=self.grads["b"])

    def _backward(self, dy, cache):
        self._param_backward(dy, cache)
        _, tower_cache = cache
        dx = self.tower.backward_input(dy @ self.params["V"].T, tower_cache)  # the tower's pass of ∂Φ = δ Vᵀ
        dx += dy  # the residual path
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"d": self.d, "n_directions": self.n_directions, "activation": self.activation,
                "kappa": self.kappa, "draws": self.draws, "rng": self.seed, **super().get_config()}

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        d, m = config_dim(config, "d"), config_dim(config, "n_directions")
        two_sided = config.get("activation", "relu") in ("cos", "sin", "gaussian")
        n_features = 2 * m if two_sided else m
        return n_features * d + d, d * m + (m if config.get("activation") == "gaussian" else 0)


class Frozen(Layer):
    r"""A layer whose parameters are fixed: :math:`y = f(x; \theta)` with :math:`\theta` held constant.

    Forward and backward are the wrapped layer's: :math:`y = f(x;\theta)` and
    :math:`\partial L/\partial x = J_x f^\top \delta`. The wrapped layer's parameters become
    ``buffers`` (under the same keys, next to its own buffers): an optimizer built on a network
    holding a ``Frozen`` layer never sees them, and a saved model stores them (they are not
    rebuildable from a seed). ``backward(dy, input_grad=False)`` does nothing.

    The input gradient is the wrapped layer's full backward pass, which also writes the wrapped
    layer's own ``grads`` (unused): for a :class:`~rpnumpy.layers.Dense` layer that is one matrix
    product per step more than :math:`\delta W^\top` alone.

    Parameters
    ----------
    layer : Layer
        The layer to freeze (a :class:`~rpnumpy.layers.Sequential` too). It is used, not copied.
    """

    input_ndim = None

    def __init__(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"layer must be a rpnumpy Layer, got {type(layer).__name__}")
        clash = sorted(set(layer.params) & set(layer.buffers))
        if clash:
            raise ValueError(f"layer has parameters and buffers with the same keys {clash}; cannot freeze it")
        super().__init__(layer.dtype)
        self.layer = layer
        self.buffers.update(layer.params)
        self.buffers.update(layer.buffers)

    @property
    def rebuildable_buffers(self) -> set[str]:
        return set(self.layer.rebuildable_buffers)

    def _check_input(self, x: np.ndarray) -> None:
        self.layer._check_input(x)

    def _forward(self, x):
        return self.layer.forward(x), None

    def _backward(self, dy, cache):
        return self.layer.backward(dy)

    def inference_function(self) -> Callable[[np.ndarray], np.ndarray]:
        return self.layer.inference_function()

    def get_config(self) -> dict[str, Any]:
        return {"layer": layer_spec(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Frozen:
        if not isinstance(config, dict) or set(config) != {"layer"}:
            raise ValueError(f"a Frozen config must be {{'layer': spec}}, got keys {sorted(config)}")
        return cls(layer_from_config(config["layer"]))

    def astype(self, dtype: Any) -> Frozen:
        return Frozen(self.layer.astype(dtype))

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int] | None:
        sizes = declared_sizes(config["layer"])
        return None if sizes is None else (0, sizes[0] + sizes[1])
