r"""The SNNK layer (Sehanobish, Choromanski et al., ICLR 2024): a dense layer rewritten as two random towers.

A dense unit :math:`f(w_j^\top x + b_j)` is, in expectation, the dot product
:math:`\Phi(x)^\top\Psi(w_j, b_j)` of an input tower and a parameter tower that
share fixed random draws (:mod:`rpnumpy.features`). Stacking the parameter
towers of all output units into a matrix :math:`V` gives the *scalable neural
network kernel* layer

.. math:: y = \Phi(x)\, V + b,

in which :math:`\Phi` is fixed and only :math:`V` (and :math:`b`) are trained.
:math:`V = \Psi(W, b_{dense})^\top` reproduces the dense layer on average
(:meth:`SNNK.from_dense`); once :math:`V` is free the layer is any linear
read-out of the random features, "strictly more expressive" in the paper's words.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_dtype, check_positive_int, seed_from
from ..features import FEATURE_MAPS, RandomFeatureMap
from .base import Layer
from .core import Dense

__all__ = ["SNNK"]


class SNNK(Layer):
    r"""Scalable neural network kernel layer, :math:`y = \Phi(x) V + b`.

    Shapes (row-vector convention): :math:`x` is ``(n, d_in)``,
    :math:`\Phi(x)` is ``(n, D)``, ``V`` is ``(D, d_out)`` and is **the
    paper's** :math:`V^\top` (the paper writes :math:`\hat y = \Psi(W, b)\Phi(x)`
    with :math:`\Psi(W, b) \in \mathbb R^{l \times D}`). ``D`` is ``2m`` for
    cos, sin and gaussian, ``m`` for exp and relu (``feature_map.n_features``).
    The random directions ``G`` (``d_in x m``, columns :math:`g_k \sim N(0, I)`)
    and, for the gaussian activation, the frequencies ``xi`` are buffers,
    rebuilt from the seed; no gradient is computed for them.

    Forward, with :math:`S = X P` the projection (:math:`P = cG`; for the
    gaussian activation :math:`P = cG\operatorname{diag}(\zeta)`,
    :math:`\zeta = 2\pi\xi`) and the per-feature exponent
    :math:`A_{ik} = \log C - M\|g_k\|^2 + q_k\|x_i\|^2`:

    * cos, sin, gaussian: :math:`H = e^{A}`, :math:`\Phi = [H\odot\cos S,\ H \odot \sin S]`,
      with :math:`q_k = 1/2` (:math:`\zeta_k^2/2` for gaussian);
    * exp: :math:`\Phi = e^{S + A}` with :math:`q_k = -1/2`;
    * relu: :math:`\Phi = \max(XG, \kappa)/\sqrt m`.

    Backward, given :math:`\delta = \partial L/\partial Y`:

    .. math::

        \frac{\partial L}{\partial V} = \Phi^\top\delta, \qquad
        \frac{\partial L}{\partial b} = \textstyle\sum_n \delta_{n,:}, \qquad
        \partial\Phi := \delta V^\top .

    The input gradient goes back through the tower (the digest's §1.5 for
    the trig towers; the others are our derivations):

    * cos, sin, gaussian: split :math:`\partial\Phi = [\partial C \mid \partial S']`; then
      :math:`\partial S = H\odot(-\partial C\odot\sin S + \partial S'\odot\cos S)`,
      :math:`\partial H\odot H = H\odot(\partial C\odot\cos S + \partial S'\odot\sin S)` and

      .. math:: \frac{\partial L}{\partial x_i} = (\partial S\, P^\top)_i
                + 2\Big(\sum_k q_k\,(\partial H \odot H)_{ik}\Big) x_i ,

      the second term because :math:`\partial H_{ik}/\partial x_i = 2 q_k H_{ik} x_i`
      (for cos/sin, :math:`2q_k = 1`: the digest's :math:`\operatorname{diag}(\sum_k dH_{ik}H_{ik})X`);
    * exp: with :math:`E = \partial\Phi \odot \Phi`,
      :math:`\partial L/\partial x_i = (E P^\top)_i - \big(\sum_k E_{ik}\big) x_i`;
    * relu: :math:`\partial L/\partial X = \big((\partial\Phi \odot 1[XG > \kappa])\, G^\top\big)/\sqrt m`.

    Both :math:`H\cos S` and :math:`H\sin S` are the features themselves, so
    the backward pass needs only :math:`\Phi` and :math:`x` (relu: the mask).
    ``backward(dy, input_grad=False)`` skips :math:`\partial\Phi` and the
    product with :math:`P^\top`.

    Parameters
    ----------
    d_in, d_out : int
    m : int
        Number of random directions.
    activation : {'cos', 'sin', 'exp', 'gaussian', 'relu'}, default='relu'
        The tower (see :mod:`rpnumpy.features`). **relu estimates the
        arc-cosine kernel, not ReLU(wᵀx).**
    M : float, default=0.0
        Variance parameter of the URF towers (> -1/4; > -1/8 for finite variance).
    draws : {'iid', 'orthogonal'}, default='iid'
    kappa : float, default=0.0
        Floor of the ReLU tower.
    bias : bool, default=True
        Learn an output bias ``b`` (added after the product, as in a dense layer).
    rng : None, int or Generator
        One int seed is drawn from it; ``G``, ``xi`` and the initial ``V``
        come from it.
    dtype : float32 or float64, default=float64

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
    variance grows like :math:`e^{\|x\|^2}`); the feature map warns with a
    :class:`~rpnumpy.features.RandomFeatureVarianceWarning` on overflow.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        m: int,
        *,
        activation: str = "relu",
        M: float = 0.0,
        draws: str = "iid",
        kappa: float = 0.0,
        bias: bool = True,
        rng: Any = None,
        dtype: Any = np.float64,
        _zero_v: bool = False,
    ) -> None:
        # _zero_v (private, for from_dense): start from V = 0 instead of drawing W0 and running its tower.
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        self.m = check_positive_int(m, "m")
        if activation not in FEATURE_MAPS:
            raise ValueError(f"activation must be one of {list(FEATURE_MAPS)}, got {activation!r}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool, got {bias!r} of type {type(bias).__name__}")
        super().__init__(check_dtype(dtype))
        self.seed = seed_from(rng)
        self.feature_map = RandomFeatureMap(
            activation, self.d_in, self.m, M=M, draws=draws, kappa=kappa, rng=self.seed, dtype=self.dtype
        )
        self.activation = activation
        self.bias = bias
        self.buffers["G"] = self.feature_map.G
        if self.feature_map.xi is not None:
            self.buffers["xi"] = self.feature_map.xi
        if _zero_v:
            self._add_param("V", np.zeros((self.n_features, self.d_out), dtype=self.dtype))
        else:
            self._add_param("V", self._initial_v())
        if bias:
            self._add_param("b", np.zeros(self.d_out, dtype=self.dtype))

    def _initial_v(self) -> np.ndarray:
        # W0 comes from the second child stream of the seed (the first gives the gaussian's xi).
        stream = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(2)[1])
        w0 = stream.standard_normal((self.d_out, self.d_in)) / math.sqrt(self.d_in)
        return np.ascontiguousarray(self.feature_map.weight_features(w0.astype(self.dtype)).T)

    @property
    def n_features(self) -> int:
        """``D``, the width of :math:`\\Phi(x)` and the number of rows of ``V``."""
        return self.feature_map.n_features

    @classmethod
    def from_dense(cls, dense: Dense, m: int, *, activation: str, **kwargs: Any) -> SNNK:
        r"""An SNNK layer whose ``V = Ψ(W, b)ᵀ`` is computed from a (trained) dense layer.

        ``dense`` computes ``x @ W + b`` with ``W`` of shape ``(d_in, d_out)``:
        the rows of ``W.T`` are the weight vectors :math:`w_j` of the output
        units. With ``V = weight_features(W.T, b).T`` and a zero SNNK bias,
        the layer's output is an unbiased estimate of
        :math:`f(xW + b)` for cos, sin, exp and gaussian: the dense layer
        followed by the activation ``f``.

        **relu is different**: ``V = Φ(Wᵀ)ᵀ`` gives the *arc-cosine* layer
        :math:`y_j = k_1(x, w_j)`, not :math:`\mathrm{ReLU}(xW + b)`, and the
        dense bias has no place in the ReLU tower: it is not used.

        Parameters
        ----------
        dense : Dense
        m : int
        activation : {'cos', 'sin', 'exp', 'gaussian', 'relu'}
        **kwargs
            Other constructor arguments (``M``, ``draws``, ``kappa``, ``bias``,
            ``rng``). The dtype is the dense layer's.
        """
        if not isinstance(dense, Dense):
            raise TypeError(f"dense must be a rpnumpy Dense layer, got {type(dense).__name__}")
        if "dtype" in kwargs:
            raise TypeError("from_dense takes the dtype of the dense layer; do not pass dtype")
        # V is overwritten below, so the constructor skips the default V (and b starts at zero anyway).
        layer = cls(dense.d_in, dense.d_out, m, activation=activation, dtype=dense.dtype, _zero_v=True, **kwargs)
        # A C-contiguous copy, not the transposed view: the tower's einsum and matmul sum in another order on
        # a strided input, and V would change in the last bits.
        weights = np.ascontiguousarray(dense.params["W"].T)
        dense_bias = None if activation == "relu" else dense.params["b"]
        layer.params["V"][...] = layer.feature_map.weight_features(weights, dense_bias).T
        return layer

    def _forward(self, x):
        features, tower_cache = self.feature_map._forward_input(x)
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
        features, tower_cache = cache
        d_features = dy @ self.params["V"].T  # ∂Φ = δ Vᵀ
        return self.feature_map._backward_input(d_features, features, tower_cache)

    def get_config(self) -> dict[str, Any]:
        fmap = self.feature_map
        return {
            "d_in": self.d_in,
            "d_out": self.d_out,
            "m": self.m,
            "activation": self.activation,
            "M": fmap.M,
            "draws": fmap.draws,
            "kappa": fmap.kappa,
            "bias": self.bias,
            "rng": self.seed,
            **super().get_config(),
        }
