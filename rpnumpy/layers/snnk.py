r"""The SNNK layer (Sehanobish, Choromanski et al., ICLR 2024): a dense layer rewritten as two random towers.

A dense unit :math:`f(w_j^\top x + b_j)` is, in expectation, the dot product
:math:`\Phi(x)^\top\Psi(w_j, b_j)` of an input tower and a parameter tower that
share fixed random draws (:mod:`rpnumpy.features`). Stacking the parameter
towers of all output units into a matrix :math:`V` gives the *scalable neural
network kernel* layer

.. math:: \hat y = \Phi(x)\, V + c,

in which :math:`\Phi` is fixed and only :math:`V` (and the bias :math:`c`, ``params["b"]``) are trained.
:math:`V = \Psi(W, b_{dense})^\top` reproduces the dense layer on average
(:meth:`SNNK.from_dense`); once :math:`V` is free the layer is any linear
read-out of the random features, "strictly more expressive" in the paper's words.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._deprecation import moved_attribute, renamed_config_keys, renamed_keywords
from .._validation import check_dtype, check_positive_int, seed_from
from ..features import FEATURE_MAPS, TOWERS, RandomFeatureTower, random_feature_tower
from .base import Layer, config_dim
from .core import Dense

__all__ = ["SNNK"]

#: Constructor keywords and config keys renamed: old name -> new name.
_RENAMED = {"m": "n_directions", "M": "variance_param"}


class SNNK(Layer):
    r"""Scalable neural network kernel layer, :math:`\hat y = \Phi(x) V + c` (``c`` is ``params["b"]``).

    Shapes (row-vector convention): :math:`x` is ``(n, d_in)``,
    :math:`\Phi(x)` is ``(n, D)``, ``V`` is ``(D, d_out)`` and is **the
    paper's** :math:`V^\top` (the paper writes :math:`\hat y = \Psi(W, b)\Phi(x)`
    with :math:`\Psi(W, b) \in \mathbb R^{l \times D}`). ``D`` is ``2m`` for
    cos, sin and gaussian, ``m`` for exp and relu (``tower.n_features``), with
    :math:`m` the number of random directions (``n_directions``).
    The random directions ``G`` (``d_in x m``, columns :math:`g_k \sim N(0, I)`)
    and, for the gaussian activation, the frequencies ``xi`` are buffers,
    rebuilt from the seed; no gradient is computed for them.

    Forward: :math:`\Phi` is the tower's input tower (``tower.forward_input``;
    the maps are written out in :mod:`rpnumpy.features`):

    * cos, sin, gaussian: :math:`\Phi = [e^{\Lambda}\odot\cos\Theta,\ e^{\Lambda} \odot \sin\Theta]`
      (:class:`~rpnumpy.features.trig.TrigTower`);
    * exp: :math:`\Phi = e^{\Lambda}` (:class:`~rpnumpy.features.exp.ExpTower`);
    * relu: :math:`\Phi = \max(XG, \kappa)/\sqrt m` (:class:`~rpnumpy.features.relu.ReLUTower`).

    Backward, given :math:`\delta = \partial L/\partial\hat y`:

    .. math::

        \frac{\partial L}{\partial V} = \Phi^\top\delta, \qquad
        \frac{\partial L}{\partial c} = \textstyle\sum_n \delta_{n,:}, \qquad
        \partial\Phi := \delta V^\top ,

    and :math:`\partial L/\partial x` is ``tower.backward_input`` of :math:`\partial\Phi`: for the
    trig towers :math:`(\partial\Theta\,\Gamma^\top)_i + 2(\sum_k q_k\,\partial\Lambda_{ik})\,x_i` (the projection
    :math:`\Theta = X\Gamma`, :math:`\Gamma = \gamma G` with :math:`\gamma = \sqrt{1+4M}`, and
    :math:`\Lambda_{ik} = q_k\|x_i\|^2 + \log C - M\|g_k\|^2`, :math:`q_k = 1/2`; see
    :class:`~rpnumpy.features.urf.GaussianLemmaTower`) with
    :math:`\partial\Theta = \partial\Phi^{s}\odot\Phi^{c} - \partial\Phi^{c}\odot\Phi^{s}` and
    :math:`\partial\Lambda = \partial\Phi^{c}\odot\Phi^{c} + \partial\Phi^{s}\odot\Phi^{s}`; for exp,
    with :math:`E = \partial\Phi \odot \Phi`, :math:`(E\,\Gamma^\top)_i - (\sum_k E_{ik})\,x_i`; for relu
    :math:`\big((\partial\Phi \odot 1[XG > \kappa])\, G^\top\big)/\sqrt m` (the derivations are in
    the tower classes). The backward pass needs only :math:`\Phi` and :math:`x` (relu: the mask).
    ``backward(dy, input_grad=False)`` skips :math:`\partial\Phi` and the tower's backward pass.

    Parameters
    ----------
    d_in, d_out : int
    n_directions : int
        :math:`m`, the number of random directions of the tower.
    activation : {'cos', 'sin', 'exp', 'gaussian', 'relu'}, default='relu'
        The tower (see :mod:`rpnumpy.features`). **relu estimates the
        arc-cosine kernel (the clamped ReLU kernel for kappa != 0), not ReLU(wᵀx).**
    variance_param : float, default=0.0
        :math:`M`, the variance parameter of the URF towers' Gaussian lemma
        (> -1/4; > -1/8 for finite variance); relu needs 0.
    draws : {'iid', 'orthogonal'}, default='iid'
    kappa : float, default=0.0
        Floor of the ReLU tower, :math:`\max(XG, \kappa)`; the tower then estimates
        :func:`~rpnumpy.features.clamped_relu_kernel` (the SNNK authors' code uses -5).
    bias : bool, default=True
        Learn an output bias ``b`` (added after the product, as in a dense layer).
    rng : None, int or Generator
        One int seed is drawn from it; ``G``, ``xi`` and the initial ``V``
        come from it.
    dtype : float32 or float64, default=float64
    m, M
        Deprecated spellings of ``n_directions`` and ``variance_param``.

    Attributes
    ----------
    tower : RandomFeatureTower
        The random-feature tower (:func:`rpnumpy.features.random_feature_tower`),
        built from the layer's seed.

    Notes
    -----
    **Initialisation (our choice; the paper's code does the same with its own
    initial weights).** ``V = Ψ(W₀, 0)ᵀ`` for a random :math:`W_0` with i.i.d.
    :math:`N(0, 1/d_{in})` entries (LeCun), drawn from the layer's seed and
    then discarded: at the start the layer *is* the random-feature estimate of
    a freshly initialised dense layer :math:`f(xW_0)` (of the arc-cosine layer
    for relu), with :math:`\|w_j\|^2 \approx 1` so that the towers' variance
    factor :math:`e^{\|w\|^2}` stays moderate. ``b`` starts at zero. Use
    :meth:`from_dense` to start from a trained layer instead.

    Inputs should have :math:`\|x\| \lesssim 1` for the URF towers (the
    variance grows like :math:`e^{\|x\|^2}`); the tower warns with a
    :class:`~rpnumpy.features.RandomFeatureVarianceWarning` on overflow.
    """

    RENAMED_CONFIG_KEYS = _RENAMED

    def __init__(
        self,
        d_in: int,
        d_out: int,
        n_directions: int | None = None,
        *,
        activation: str = "relu",
        variance_param: float = 0.0,
        draws: str = "iid",
        kappa: float = 0.0,
        bias: bool = True,
        rng: Any = None,
        dtype: Any = np.float64,
        **renamed: Any,
    ) -> None:
        values = renamed_keywords("rpnumpy.layers.SNNK", renamed, {
            "m": ("n_directions", n_directions, None), "M": ("variance_param", variance_param, 0.0)})
        self._build(d_in, d_out, values["n_directions"], activation=activation,
                    variance_param=values["variance_param"], draws=draws, kappa=kappa, bias=bias, rng=rng,
                    dtype=dtype)
        self._init_params(self._initial_v())

    def _build(
        self, d_in: int, d_out: int, n_directions: int | None, *, activation: str, variance_param: float,
        draws: str, kappa: float, bias: bool, rng: Any, dtype: Any,
    ) -> None:
        """Everything but the parameters: sizes, the tower and its buffers."""
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        if n_directions is None:
            raise TypeError("SNNK needs n_directions, the number of random directions of its tower")
        self.n_directions = check_positive_int(n_directions, "n_directions")
        if activation not in FEATURE_MAPS:
            raise ValueError(f"activation must be one of {list(FEATURE_MAPS)}, got {activation!r}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool, got {bias!r} of type {type(bias).__name__}")
        super().__init__(check_dtype(dtype))
        self.seed = seed_from(rng)
        self.tower: RandomFeatureTower = random_feature_tower(
            activation, self.d_in, self.n_directions, variance_param=variance_param, draws=draws, kappa=kappa,
            rng=self.seed, dtype=self.dtype,
        )
        tower_config = self.tower.get_config()
        self.activation, self.draws = activation, draws
        self.variance_param = tower_config.get("variance_param", 0.0)
        self.kappa = tower_config.get("kappa", 0.0)
        self.bias = bias
        self.buffers["G"] = self.tower.G
        if self.tower.xi is not None:
            self.buffers["xi"] = self.tower.xi

    def _init_params(self, v: np.ndarray) -> None:
        """``V`` (C-contiguous, the layer's dtype) and a zero ``b``."""
        self._add_param("V", np.ascontiguousarray(v, dtype=self.dtype))
        if self.bias:
            self._add_param("b", np.zeros(self.d_out, dtype=self.dtype))

    def _initial_v(self) -> np.ndarray:
        # W0 comes from the second child stream of the seed (the first gives the gaussian's xi).
        stream = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(2)[1])
        w0 = stream.standard_normal((self.d_out, self.d_in)) / math.sqrt(self.d_in)
        return self.tower.weight_features(w0.astype(self.dtype)).T

    @property
    def n_features(self) -> int:
        """``D``, the width of :math:`\\Phi(x)` and the number of rows of ``V``."""
        return self.tower.n_features

    feature_map = moved_attribute("rpnumpy.layers.SNNK", "feature_map", "tower")
    m = moved_attribute("rpnumpy.layers.SNNK", "m", "n_directions")

    @classmethod
    def from_dense(
        cls,
        dense: Dense,
        n_directions: int | None = None,
        *,
        activation: str,
        variance_param: float = 0.0,
        draws: str = "iid",
        kappa: float = 0.0,
        bias: bool = True,
        rng: Any = None,
        **renamed: Any,
    ) -> SNNK:
        r"""An SNNK layer whose ``V = Ψ(W, b)ᵀ`` is computed from a (trained) dense layer.

        ``dense`` computes ``x @ W + b`` with ``W`` of shape ``(d_in, d_out)``:
        the rows of ``W.T`` are the weight vectors :math:`w_j` of the output
        units. With ``V = weight_features(W.T, b).T`` and a zero SNNK bias,
        the layer's output is an unbiased estimate of
        :math:`f(xW + b)` for cos, sin, exp and gaussian: the dense layer
        followed by the activation ``f``. No default ``V`` is drawn.

        **relu is different**: ``V = Φ(Wᵀ)ᵀ`` gives the *arc-cosine* layer
        :math:`y_j = k_1(x, w_j)` (:math:`k_\kappa(x, w_j)` for ``kappa != 0``), not
        :math:`\mathrm{ReLU}(xW + b)`, and the dense bias has no place in the ReLU tower: it is not used.

        Parameters
        ----------
        dense : Dense
        n_directions, activation, variance_param, draws, kappa, bias, rng
            As for the constructor (``m``, ``M``: the deprecated spellings). The
            dtype is the dense layer's.
        """
        if not isinstance(dense, Dense):
            raise TypeError(f"dense must be a rpnumpy Dense layer, got {type(dense).__name__}")
        if "dtype" in renamed:
            raise TypeError("from_dense takes the dtype of the dense layer; do not pass dtype")
        values = renamed_keywords("rpnumpy.layers.SNNK.from_dense", renamed, {
            "m": ("n_directions", n_directions, None), "M": ("variance_param", variance_param, 0.0)})
        layer = cls.__new__(cls)  # _build then _init_params: the constructor, without drawing a default V
        layer._build(dense.d_in, dense.d_out, values["n_directions"], activation=activation,
                     variance_param=values["variance_param"], draws=draws, kappa=kappa, bias=bias, rng=rng,
                     dtype=dense.dtype)
        # A C-contiguous copy, not the transposed view: the tower's einsum and matmul sum in another order on
        # a strided input, and V would change in the last bits.
        weights = np.ascontiguousarray(dense.params["W"].T)
        dense_bias = None if activation == "relu" else dense.params["b"]
        layer._init_params(layer.tower.weight_features(weights, dense_bias).T)
        return layer

    def _forward(self, x):
        features, tower_cache = self.tower.forward_input(x)
        y = features @ self.params["V"]
        if self.bias:
            y += self.params["b"]
        return y, (features, tower_cache)

    def _param_backward(self, dy, cache):
        features, _ = cache
        np.matmul(features.T, dy, out=self.grads["V"])  # ∂L/∂V = Φᵀ δ
        if self.bias:
            np.sum(dy, axis=0, out=self.grads["b"])  # ∂L/∂b = Σ_n δ

    def _backward(self, dy, cache):
        self._param_backward(dy, cache)
        _, tower_cache = cache
        d_features = dy @ self.params["V"].T  # ∂Φ = δ Vᵀ
        return self.tower.backward_input(d_features, tower_cache)

    def get_config(self) -> dict[str, Any]:
        return {
            "d_in": self.d_in,
            "d_out": self.d_out,
            "n_directions": self.n_directions,
            "activation": self.activation,
            "variance_param": self.variance_param,
            "draws": self.draws,
            "kappa": self.kappa,
            "bias": self.bias,
            "rng": self.seed,
            **super().get_config(),
        }

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int] | None:
        config = renamed_config_keys("SNNK", config, cls.RENAMED_CONFIG_KEYS)
        d_in, d_out = config_dim(config, "d_in"), config_dim(config, "d_out")
        m = config_dim(config, "n_directions")
        tower = TOWERS.get(config.get("activation"))
        if tower is None:
            return None  # the constructor names the allowed activations
        n_features = tower.features_per_direction * m
        bias = d_out if config.get("bias", True) else 0
        return n_features * d_out + bias, d_in * m + tower.frequencies_per_direction * m

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SNNK:
        """Build the layer from ``get_config()``; configs saved with the old keys ``m``, ``M`` load too."""
        return cls(**renamed_config_keys("SNNK", config, cls.RENAMED_CONFIG_KEYS))
