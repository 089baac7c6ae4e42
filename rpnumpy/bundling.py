r"""Network bundling: an MLP as two towers, and the fully bundled network fitted in closed form.

The SNNK paper (Sehanobish, Choromanski et al., ICLR 2024) writes one neuron
:math:`f(w^\top x + b)` as the dot product :math:`\Phi(x)^\top\Psi(w, b)` of two
random feature vectors (:mod:`rpnumpy.features`). Applied layer after layer,
this splits a whole MLP into two towers that meet only at the end (the
paper's "bundling"; the recursion below is derived step by step).

The two towers (paper's column convention)
------------------------------------------
For the MLP :math:`h_0 = x`, :math:`h_j = f_j(W_j h_{j-1} + b_j)`,
:math:`y = W_{out} h_L + b_{out}`, replace layer 1 by its SNNK:
:math:`h_1 \approx A_1 z_1` with :math:`z_1 = \Phi_1(x)` and
:math:`A_1 = \Psi_1(W_1, b_1)`. Layer 2's pre-activation
:math:`W_2 h_1 + b_2 \approx (W_2 A_1) z_1 + b_2` is then an ordinary layer
on the input :math:`z_1` with weights :math:`W_2 A_1`, and so on:

.. math::

    z_0 = x,\quad z_j = \Phi_j(z_{j-1}) \qquad
    A_0 = I,\quad A_j = \Psi_j(W_j A_{j-1}, b_j) \qquad
    \hat y = W_{out} A_L z_L + b_{out} = V z_L + b_{out}.

The **input tower** :math:`z_L` has no parameters at all (fixed random
matrices only); the **weight tower** :math:`A_L` never sees the data.

In rpnumpy's row convention
---------------------------
A :class:`~rpnumpy.layers.Dense` layer stores ``W`` of shape ``(d_in, d_out)``
and computes ``x @ W + b``: its ``W`` is the paper's :math:`W_j^\top`. Here
``z`` is a batch of rows, ``A[j]`` has shape ``(d_j, D_j)`` exactly as the
paper's :math:`A_j` (row ``k`` is the feature vector of neuron ``k``), the
weights fed to :math:`\Psi_j` are the rows of ``W_j.T @ A[j-1]``, hidden unit
estimates are ``z_j @ A[j].T``, and

.. code-block:: text

    y_hat = z_L @ V + b_out,   V = A[L].T @ W_out   (shape (D_L, d_out): the paper's V transposed)

What the two-tower form is, and is not
--------------------------------------
* cos, sin, exp, gaussian towers: the first hidden layer is estimated
  **without bias** (``E[z_1 @ A[1].T] = f_1(x @ W_1 + b_1)``, exactly). From the
  second layer on it is **not**: layer 2 applies :math:`f_2` to a *noisy*
  pre-activation, and :math:`\mathbb E f_2(s + \varepsilon) \ne f_2(s)` for a
  non-linear :math:`f_2` (Jensen). The two-tower network converges to the MLP
  as every :math:`m_j \to \infty`, but at finite width it is biased. The trig
  and exp towers also carry :math:`e^{\|z\|^2/2}`, so their error explodes
  unless every input to every tower has norm :math:`\lesssim 1`
  (:mod:`rpnumpy.features` warns).
* relu towers: the ReLU tower :math:`\max(zG, 0)/\sqrt m` is the same map on
  both sides and estimates the **arc-cosine kernel** of its two arguments,
  not :math:`\mathrm{ReLU}(w^\top z + b)`. The two-tower form of a ReLU MLP is
  therefore a *different* network (an arc-cosine kernel network initialised
  from the MLP's weights), not an approximation of the MLP. ReLU towers have
  no bias; ``bundle_mlp`` carries :math:`b_j` by appending a constant 1 to
  the tower's input and :math:`b_j` to the weight (:math:`[w, b]^\top[z, 1] = w^\top z + b`,
  our choice), so the kernel is taken between :math:`[z, 1]` and :math:`[w, b]`.

The fully bundled network
-------------------------
In its extreme form (the paper's "fully bundled network") the MLP's weights
are forgotten: :math:`\hat y = V z(x) + c` with the fixed random input tower
:math:`z = \Phi_L\circ\dots\circ\Phi_1` and only :math:`V, c` trained. The
model is linear in its parameters, so for the mean squared error the optimum
is explicit: ridge regression on the features, accumulated over mini-batches
(:class:`~rpnumpy.closed_form.RidgeAccumulator`: :math:`Z^\top Z` and
:math:`Z^\top Y` in float64, intercept not penalised, Cholesky or a
least-squares solve, never an inverse). :class:`FullyBundledNetwork` is a
:class:`~rpnumpy.layers.Sequential` of the fixed :class:`InputTower` and a
:class:`~rpnumpy.layers.Dense` head holding ``V`` and ``c``, so the *same*
model can also be trained by SGD/Adam with :func:`rpnumpy.training.fit`, saved
with :func:`rpnumpy.io.save_model` (the towers as seeds) and compared.

**Renormalisation between towers (ours).** The trig towers map a squared norm
:math:`s` to about :math:`e^{s}` (:math:`\mathbb E\|\Phi(z)\|^2 = e^{\|z\|^2}`),
so a second trig tower sees norms that make it overflow; the ReLU tower halves
the squared norm instead (:math:`\mathbb E\|\Phi(z)\|^2 = \|z\|^2/2`) and is
safe to stack. ``InputTower(radius=r)`` rescales the input of every tower to
norm ``r`` first. In a fully bundled network this is harmless (the features
are just a fixed map and ``V`` is fitted on them); it changes the function, so
the two-tower form of an MLP never uses it.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._deprecation import moved_attribute, renamed_config_keys, renamed_keywords
from ._validation import (
    check_dtype,
    check_float_array,
    check_positive_float,
    check_positive_int,
    check_probability,
    check_real,
    seed_from,
)
from .closed_form import RidgeAccumulator, ridge_l2_from_trace
from .features import FEATURE_DRAWS, FEATURE_MAPS, URF_ACTIVATIONS, RandomFeatureTower, random_feature_tower
from .layers import Cos, Dense, Layer, ReLU, Sequential, Sin
from .training import predict

__all__ = [
    "ACTIVATION_LAYERS",
    "ClosedFormFit",
    "FullyBundledNetwork",
    "InputTower",
    "L2Normalize",
    "TwoTowerMLP",
    "bundle_mlp",
    "l2_normalize",
    "mlp_forward",
    "one_hot",
    "split_mlp",
]

#: Activation layers that bundling recognises, by the feature map they become.
ACTIVATION_LAYERS: dict[type[Layer], str] = {ReLU: "relu", Sin: "sin", Cos: "cos"}

#: The activations themselves, for :func:`mlp_forward` (relu as the MLP computes it).
_ACTIVATION_FUNCTIONS = {**URF_ACTIVATIONS, "relu": lambda s: np.maximum(s, 0)}


# -- small helpers ------------------------------------------------------------
def one_hot(labels: np.ndarray, n_classes: int, dtype: Any = np.float64) -> np.ndarray:
    """Rows of the identity: ``one_hot([2, 0], 3) = [[0, 0, 1], [1, 0, 0]]``, the MSE targets of a classifier."""
    n_classes = check_positive_int(n_classes, "n_classes")
    if not isinstance(labels, np.ndarray) or not np.issubdtype(labels.dtype, np.integer) or labels.ndim != 1:
        raise TypeError(f"labels must be a 1-D integer numpy array, got {getattr(labels, 'dtype', type(labels))}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes - 1}], got values from {labels.min()} to {labels.max()}")
    out = np.zeros((labels.size, n_classes), dtype=check_dtype(dtype))
    out[np.arange(labels.size), labels] = 1
    return out


def l2_normalize(z: np.ndarray, radius: float = 1.0) -> np.ndarray:
    r"""Rescale every row to norm ``radius``: :math:`r\,z/\|z\|` (zero rows stay zero). Same dtype."""
    return _rescale_rows(z, radius)[0]


def _rescale_rows(z: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """``l2_normalize(z, radius)`` and the per-row factor ``radius / ||z||`` (0 for a zero row)."""
    norms = np.sqrt(np.einsum("ij,ij->i", z, z))
    scale = np.zeros_like(norms)
    np.divide(radius, norms, out=scale, where=norms > 0)
    return z * scale[:, None], scale


class L2Normalize(Layer):
    r"""Rescale each input row to a fixed norm, :math:`y = r\,x/\|x\|`.

    The trig and exp towers of :mod:`rpnumpy.features` carry
    :math:`e^{\|x\|^2/2}` and their variance :math:`e^{\|x\|^2}`; an MNIST image
    in [0, 1] has :math:`\|x\| \approx 9`, which overflows. Putting this layer in
    front of an :class:`~rpnumpy.layers.SNNK` with a trig tower fixes the
    input norm (our recipe, like the SNNK code's "normalize" option).

    Backward, with :math:`u = x/\|x\|`:

    .. math:: \frac{\partial L}{\partial x} = \frac{r}{\|x\|}\big(\delta - u\,(u^\top\delta)\big)

    (the component of :math:`\delta` along :math:`x` is removed: scaling
    :math:`x` does not change :math:`y`). A zero row gives zero output and zero
    gradient.

    Parameters
    ----------
    radius : float, default=1.0
        :math:`r > 0`.
    """

    input_ndim = 2

    def __init__(self, radius: float = 1.0) -> None:
        super().__init__()
        self.radius = check_positive_float(radius, "radius")

    def _forward(self, x):
        # Unit rows first, then the radius: (x / ||x||) * r, the unit rows and 1/||x|| being what backward needs.
        unit, inverse = _rescale_rows(x, 1)
        return unit * self.radius, (unit, inverse)

    def _backward(self, dy, cache):
        unit, inverse = cache
        along = np.einsum("ij,ij->i", unit, dy)
        return (dy - unit * along[:, None]) * (self.radius * inverse)[:, None]

    def get_config(self) -> dict[str, Any]:
        return {"radius": self.radius}


# -- reading an MLP -------------------------------------------------------------
def split_mlp(model: Any) -> tuple[list[tuple[np.ndarray, np.ndarray, str]], tuple[np.ndarray, np.ndarray]]:
    """Read an MLP ``Dense, act, Dense, act, ..., Dense`` into its hidden layers and its read-out.

    Parameters
    ----------
    model : Sequential or list of layers
        Dense layers alternating with activations, ending with a Dense layer.
        An activation is a :class:`~rpnumpy.layers.ReLU`, :class:`~rpnumpy.layers.Sin`
        or :class:`~rpnumpy.layers.Cos` layer, or a name in
        :data:`rpnumpy.features.FEATURE_MAPS` (``"exp"`` and ``"gaussian"`` have no
        layer class; :func:`mlp_forward` evaluates such a list).

    Returns
    -------
    hidden : list of (W, b, activation)
        ``W`` of shape ``(d_{j-1}, d_j)`` (the Dense layer's own array: the
        paper's :math:`W_j^\\top`), ``b`` of shape ``(d_j,)``, the activation's name.
    readout : (W_out, b_out)

    Raises
    ------
    ValueError
        If the layers do not follow that pattern, naming the position.
    """
    layers = list(model.layers) if isinstance(model, Sequential) else model
    if not isinstance(layers, (list, tuple)) or len(layers) < 3 or len(layers) % 2 == 0:
        raise ValueError(
            "model must be a Sequential or list [Dense, activation, ..., Dense] with at least one hidden layer, "
            f"got {model!r}"
        )
    hidden = []
    width = None
    for i, layer in enumerate(layers):
        if i % 2 == 0:
            if not isinstance(layer, Dense):
                raise ValueError(f"model[{i}] must be a Dense layer, got {type(layer).__name__}")
            if width is not None and layer.d_in != width:
                raise ValueError(f"model[{i}] has d_in={layer.d_in} but the previous Dense layer has d_out={width}")
            width = layer.d_out
            continue
        if isinstance(layer, str) and layer in FEATURE_MAPS:
            name = layer
        elif type(layer) in ACTIVATION_LAYERS:
            name = ACTIVATION_LAYERS[type(layer)]
        else:
            raise ValueError(
                f"model[{i}] must be an activation: a ReLU, Sin or Cos layer or one of {list(FEATURE_MAPS)}, "
                f"got {layer!r}"
            )
        dense = layers[i - 1]
        hidden.append((dense.params["W"], dense.params["b"], name))
    out = layers[-1]
    return hidden, (out.params["W"], out.params["b"])


def mlp_forward(model: Any, x: np.ndarray) -> np.ndarray:
    """The MLP's own output for a :func:`split_mlp`-style model (activation names allowed)."""
    hidden, (w_out, b_out) = split_mlp(model)
    h = x
    for w, b, name in hidden:
        h = _ACTIVATION_FUNCTIONS[name](h @ w + b)
    return h @ w_out + b_out


# -- the input tower ------------------------------------------------------------
def _as_list(value: Any, n: int, name: str) -> list:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value] * n
    if len(value) != n:
        raise ValueError(f"{name} must have one entry per tower ({n}), got {len(value)}: {list(value)!r}")
    return list(value)


class InputTower(Layer):
    r"""The fixed input tower :math:`z = \Phi_L \circ \dots \circ \Phi_1(x)`: random features of random features.

    Tower ``j`` is a random-feature tower (:func:`~rpnumpy.features.random_feature_tower`,
    kept in ``towers``) with ``widths[j]`` random directions acting on the previous
    tower's output (of width ``n_features`` of that tower: ``2m`` for cos/sin/gaussian,
    ``m`` for exp/relu). The layer has **no parameters**: its matrices are buffers
    ``G1, G2, ...`` (and ``xi<j>`` for the gaussian tower), rebuilt from
    the one int seed in :meth:`get_config`.

    Parameters
    ----------
    d_in : int
    widths : int or sequence of int
        :math:`m_1, \dots, m_L`; one int gives every tower of ``activations`` that width
        (a single tower when ``activations`` is one str).
    activations : str or sequence of str, default='relu'
        One name of :data:`~rpnumpy.features.FEATURE_MAPS` per tower (one str: all the same).
    variance_param : float, default=0.0
        :math:`M`, the variance parameter of the URF towers' Gaussian lemma (relu towers ignore it).
    draws : {'iid', 'orthogonal'}, default='iid'
    kappa : float, default=0.0
        Floor of the relu towers (URF towers ignore it).
    radius : float or None, default=None
        If given, the input of every tower (``x`` included) is rescaled to
        this norm first (:func:`l2_normalize`; see the module docstring).
    relu_bias : bool, default=False
        Append a constant 1 to the input of every relu tower, so that the
        weight tower can carry a bias as the last coordinate
        (:func:`bundle_mlp` sets it). In a fully bundled network it turns
        :math:`\max(zG, 0)` into the affine random features :math:`\max(zG + g_0, 0)`.
    rng : None, int or numpy.random.Generator
        One seed for the whole tower; tower ``j`` gets the ``j``-th int drawn
        from a generator seeded with it.
    dtype : float32 or float64, default=float64
    M
        Deprecated spelling of ``variance_param``.

    Notes
    -----
    ``backward`` computes no input gradient: the tower is meant as the fixed
    first stage of a network, and :func:`rpnumpy.training.fit` asks the first
    layer for none (``input_grad=False``). Asking for one raises.
    """

    def __init__(
        self,
        d_in: int,
        widths: int | Sequence[int],
        activations: str | Sequence[str] = "relu",
        *,
        variance_param: float = 0.0,
        draws: str = "iid",
        kappa: float = 0.0,
        radius: float | None = None,
        relu_bias: bool = False,
        rng: Any = None,
        dtype: Any = np.float64,
        **renamed: Any,
    ) -> None:
        variance_param = renamed_keywords("rpnumpy.bundling.InputTower", renamed,
                                          {"M": ("variance_param", variance_param, 0.0)})["variance_param"]
        self.d_in = check_positive_int(d_in, "d_in")
        if isinstance(widths, numbers.Integral) and not isinstance(widths, bool):
            towers = 1 if isinstance(activations, str) or not isinstance(activations, Sequence) else len(activations)
            widths = [widths] * max(towers, 1)
        if not isinstance(widths, Sequence) or isinstance(widths, str) or not widths:
            raise ValueError(f"widths must be a positive int or a non-empty sequence of them, got {widths!r}")
        self.widths = [check_positive_int(m, f"widths[{j}]") for j, m in enumerate(widths)]
        self.activations = _as_list(activations, len(self.widths), "activations")
        for j, name in enumerate(self.activations):
            if name not in FEATURE_MAPS:
                raise ValueError(f"activations[{j}] must be one of {list(FEATURE_MAPS)}, got {name!r}")
        if draws not in FEATURE_DRAWS:
            raise ValueError(f"draws must be one of {list(FEATURE_DRAWS)}, got {draws!r}")
        if not isinstance(relu_bias, (bool, np.bool_)):
            raise TypeError(f"relu_bias must be a bool, got {type(relu_bias).__name__}")
        super().__init__(check_dtype(dtype))
        self.variance_param = check_real(variance_param, "variance_param")
        self.kappa = check_real(kappa, "kappa")
        self.draws, self.relu_bias = draws, bool(relu_bias)
        self.radius = None if radius is None else check_positive_float(radius, "radius")
        self.seed = seed_from(rng)
        seeds = np.random.default_rng(self.seed)
        self.towers: list[RandomFeatureTower] = []
        width = self.d_in
        for j, (m, name) in enumerate(zip(self.widths, self.activations)):
            relu = name == "relu"
            tower = random_feature_tower(
                name, width + int(relu and self.relu_bias), m, variance_param=0.0 if relu else self.variance_param,
                draws=draws, kappa=self.kappa if relu else 0.0, rng=int(seeds.integers(0, 2**63 - 1)),
                dtype=self.dtype,
            )
            self.towers.append(tower)
            self.buffers[f"G{j + 1}"] = tower.G
            if tower.xi is not None:
                self.buffers[f"xi{j + 1}"] = tower.xi
            width = tower.n_features
        self.n_features = width

    feature_maps = moved_attribute("rpnumpy.bundling.InputTower", "feature_maps", "towers")
    M = moved_attribute("rpnumpy.bundling.InputTower", "M", "variance_param")

    def tower_input(self, j: int, z: np.ndarray) -> np.ndarray:
        """What tower ``j`` (0-based) is fed when the previous tower gives ``z``: renormalised, 1 appended."""
        if self.radius is not None:
            z = l2_normalize(z, self.radius)
        if self.relu_bias and self.activations[j] == "relu":
            z = np.concatenate([z, np.ones((z.shape[0], 1), dtype=z.dtype)], axis=1)
        return z

    def _forward(self, x):
        z = x
        for j, tower in enumerate(self.towers):
            z = tower.input_features(self.tower_input(j, z))
        return z, None

    def _backward(self, dy, cache):
        raise NotImplementedError(
            "InputTower computes no input gradient: it is the fixed first stage of a network "
            "(call backward with input_grad=False, as rpnumpy.training.fit does for the first layer)"
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "d_in": self.d_in,
            "widths": list(self.widths),
            "activations": list(self.activations),
            "variance_param": self.variance_param,
            "draws": self.draws,
            "kappa": self.kappa,
            "radius": self.radius,
            "relu_bias": self.relu_bias,
            "rng": self.seed,
            **super().get_config(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> InputTower:
        """Build the tower from ``get_config()``; configs saved with the old key ``M`` load too."""
        return cls(**renamed_config_keys("InputTower", config, {"M": "variance_param"}))


# -- the fully bundled network ----------------------------------------------------
@dataclass
class ClosedFormFit:
    r"""What :meth:`FullyBundledNetwork.fit_closed_form` did.

    Attributes
    ----------
    l2 : float
        The absolute penalty :math:`\lambda` of the final solve.
    chosen : float
        The candidate it came from, as given (relative if ``relative``).
    relative : bool
    validation_mse : dict of float to float
        Held-out MSE of each candidate (empty when only one was given).
    accumulator : RidgeAccumulator
        The sums over every row.
    """

    l2: float
    chosen: float
    relative: bool
    validation_mse: dict[float, float]
    accumulator: RidgeAccumulator


class FullyBundledNetwork(Sequential):
    r"""The fully bundled network :math:`\hat y = z(x)\,V + c`: a fixed input tower and a trained linear head.

    A :class:`~rpnumpy.layers.Sequential` of two layers: the parameter-free
    :class:`InputTower` :math:`z = \Phi_L\circ\dots\circ\Phi_1` and a
    :class:`~rpnumpy.layers.Dense` head whose ``W`` is ``V`` (shape
    ``(D_L, d_out)``, the paper's :math:`V^\top`) and whose ``b`` is :math:`c`.
    Trainable parameters: :math:`d_{out}(D_L + 1)` whatever the depth.

    Fitting, two ways, the same model
    ---------------------------------
    * :meth:`fit_closed_form`: the MSE optimum (ridge, intercept unpenalised),
      streaming :math:`Z^\top Z, Z^\top Y` over mini-batches.
    * back-propagation: ``rpnumpy.training.fit(net, x, Y, loss=MeanSquaredError(), ...)``
      trains the head (the tower has no parameters), recomputing the features at
      every step; or compute ``Z = net.features(x)`` once and train ``net.head``
      on ``Z`` (the same updates, much cheaper).

    Parameters
    ----------
    tower : InputTower
    head : Dense
        ``head.d_in`` must equal ``tower.n_features``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((500, 3)); y = np.sin(x @ [1.0, -0.5, 0.3])[:, None]
    >>> net = FullyBundledNetwork.build(3, 1, [256], "relu", relu_bias=True, rng=0)
    >>> _ = net.fit_closed_form(x, y, l2=1e-6)
    >>> bool(np.mean((net.predict(x) - y) ** 2) < 1e-3), net.n_params
    (True, 257)
    """

    def __init__(self, tower: InputTower, head: Dense) -> None:
        if not isinstance(tower, InputTower):
            raise TypeError(f"tower must be an InputTower, got {type(tower).__name__}")
        if not isinstance(head, Dense):
            raise TypeError(f"head must be a Dense layer, got {type(head).__name__}")
        if head.d_in != tower.n_features:
            raise ValueError(f"head.d_in must equal tower.n_features={tower.n_features}, got {head.d_in}")
        super().__init__(tower, head)

    @classmethod
    def build(
        cls,
        d_in: int,
        d_out: int,
        widths: int | Sequence[int],
        activations: str | Sequence[str] = "relu",
        *,
        variance_param: float = 0.0,
        draws: str = "iid",
        kappa: float = 0.0,
        radius: float | None = None,
        relu_bias: bool = False,
        rng: Any = None,
        dtype: Any = np.float64,
        **renamed: Any,
    ) -> FullyBundledNetwork:
        """A new network: the tower as :class:`InputTower`, the head a LeCun-initialised Dense layer.

        The arguments are :class:`InputTower`'s (``M``: the deprecated spelling of ``variance_param``)
        and ``d_out``. ``rng`` gives one seed; the tower and the head get the first and second int drawn
        from it.
        """
        variance_param = renamed_keywords("rpnumpy.bundling.FullyBundledNetwork.build", renamed,
                                          {"M": ("variance_param", variance_param, 0.0)})["variance_param"]
        seeds = np.random.default_rng(seed_from(rng))
        tower_seed, head_seed = (int(s) for s in seeds.integers(0, 2**63 - 1, size=2))
        tower = InputTower(d_in, widths, activations, variance_param=variance_param, draws=draws, kappa=kappa,
                           radius=radius, relu_bias=relu_bias, rng=tower_seed, dtype=dtype)
        head = Dense(tower.n_features, check_positive_int(d_out, "d_out"), rng=head_seed, init="lecun",
                     dtype=tower.dtype)
        return cls(tower, head)

    @property
    def tower(self) -> InputTower:
        return self.layers[0]

    @property
    def head(self) -> Dense:
        return self.layers[1]

    @property
    def V(self) -> np.ndarray:
        """The read-out matrix, shape ``(D_L, d_out)`` (the head's ``W``; the paper's :math:`V^\\top`)."""
        return self.head.params["W"]

    @property
    def c(self) -> np.ndarray:
        """The read-out intercept, shape ``(d_out,)``."""
        return self.head.params["b"]

    def features(self, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
        """:math:`z(x)` for all rows of ``x``, computed in batches: shape ``(n, D_L)``, the network's dtype."""
        check_float_array(x, "x", ndim=2, dtype=self.dtype)
        return predict(self.tower, x, batch_size=batch_size)

    def predict(self, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
        """:math:`z(x) V + c` for all rows of ``x``, in batches."""
        check_float_array(x, "x", ndim=2, dtype=self.dtype)
        return predict(self, x, batch_size=batch_size)

    def _check_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Validate a training set; return ``y`` as a 2-D array."""
        check_float_array(x, "x", ndim=2, dtype=self.dtype)
        if x.shape[1] != self.tower.d_in:
            raise ValueError(f"x has {x.shape[1]} features but the network expects d_in={self.tower.d_in}")
        d_out = self.head.d_out
        check_float_array(y, "y", ndim=(1, 2))
        if y.ndim == 1 and d_out == 1:
            y = y[:, None]
        if y.shape != (x.shape[0], d_out):
            raise ValueError(f"y must have shape ({x.shape[0]}, {d_out}) to match x and the head, got {y.shape}")
        return y

    def accumulate(self, x: np.ndarray, y: np.ndarray, *, batch_size: int = 2048) -> RidgeAccumulator:
        r"""Stream ``x`` through the tower in mini-batches and accumulate :math:`Z^\top Z` and :math:`Z^\top Y`.

        Only one batch of features is in memory at a time.

        Parameters
        ----------
        x : ndarray of shape (n, d_in), the network's dtype
        y : ndarray of shape (n, d_out), or (n,) when ``d_out == 1``
            Regression targets (one-hot rows for a classifier, see :func:`one_hot`).
        batch_size : int, default=2048
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        y = self._check_xy(x, y)
        acc = RidgeAccumulator(self.tower.n_features, self.head.d_out)
        for lo in range(0, x.shape[0], batch_size):
            acc.update(self.tower.forward(x[lo:lo + batch_size]), y[lo:lo + batch_size])
        return acc

    def fit_closed_form(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        l2: float | Sequence[float] = 0.0,
        relative: bool = False,
        validation_fraction: float = 0.1,
        batch_size: int = 2048,
    ) -> ClosedFormFit:
        r"""Set ``V, c`` to the least-squares optimum on ``(x, y)``, without back-propagation.

        .. math:: (V, c) = \arg\min \|Z V + \mathbf 1 c^\top - Y\|_F^2 + \lambda\|V\|_F^2

        solved from the normal equations of :class:`~rpnumpy.closed_form.RidgeAccumulator`
        (Cholesky; the minimum-norm least-squares solution when the system is
        singular, e.g. ``l2 = 0`` with dead ReLU features or fewer samples
        than features). The intercept is never penalised. One pass over the
        data whatever the number of penalties tried.

        Parameters
        ----------
        x, y, batch_size
            As for :meth:`accumulate`.
        l2 : float or sequence of float, default=0.0
            :math:`\lambda \ge 0`. Several values: the last ``validation_fraction``
            of the rows is held out (shuffle the rows first if they are ordered),
            each value is solved on the rest and scored by the held-out MSE,
            and the best is solved again on all rows (the held-out sums are
            simply added to the others).
        relative : bool, default=False
            Read ``l2`` relative to the features' scale:
            :math:`\lambda = l_2\,\operatorname{tr}(Z^\top Z)/D` (see
            :func:`~rpnumpy.closed_form.ridge_l2_from_trace`).
        validation_fraction : float in (0, 1), default=0.1
            Only used when several ``l2`` are given.

        Returns
        -------
        ClosedFormFit
            The penalty used, the held-out scores, and the accumulated sums
            (to re-solve for another penalty: ``net.set_readout(*fit.accumulator.solve(l2))``).
        """
        candidates = [l2] if isinstance(l2, numbers.Real) or not isinstance(l2, Sequence) else list(l2)
        if not candidates:
            raise ValueError("l2 must be a number >= 0 or a non-empty sequence of them, got an empty sequence")
        candidates = [check_positive_float(value, "l2", allow_zero=True) for value in candidates]
        if not isinstance(relative, (bool, np.bool_)):
            raise TypeError(f"relative must be a bool, got {type(relative).__name__}")
        validation_fraction = check_probability(validation_fraction, "validation_fraction", allow_zero=False)
        batch_size = check_positive_int(batch_size, "batch_size")
        y = self._check_xy(x, y)

        def absolute(acc: RidgeAccumulator, value: float) -> float:
            return ridge_l2_from_trace(acc, value) if relative else value

        scores: dict[float, float] = {}
        if len(candidates) == 1:
            chosen = candidates[0]
            acc = self.accumulate(x, y, batch_size=batch_size)
        else:
            n_held = round(validation_fraction * x.shape[0])
            n_fit = x.shape[0] - n_held
            if n_held < 1 or n_fit < 1:
                raise ValueError(
                    f"validation_fraction={validation_fraction} of {x.shape[0]} rows leaves {n_fit} to fit and "
                    f"{n_held} to validate; both must be >= 1"
                )
            acc = self.accumulate(x[:n_fit], y[:n_fit], batch_size=batch_size)
            z_held, y_held = self.features(x[n_fit:], batch_size=batch_size), y[n_fit:]
            for value in candidates:
                coef, intercept = acc.solve(absolute(acc, value))
                residual = z_held @ coef + intercept - y_held
                scores[value] = float(np.mean(residual * residual))
            chosen = min(candidates, key=scores.__getitem__)
            acc.update(z_held, y_held)  # the sums are additive: now over every row
        used = absolute(acc, chosen)
        self.set_readout(*acc.solve(used))
        return ClosedFormFit(l2=used, chosen=chosen, relative=bool(relative), validation_mse=scores, accumulator=acc)

    def set_readout(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        """Copy ``coef`` (D_L, d_out) and ``intercept`` (d_out,) into the head, cast to its dtype."""
        np.copyto(self.head.params["W"], coef, casting="unsafe")
        np.copyto(self.head.params["b"], intercept, casting="unsafe")

    def astype(self, dtype: Any) -> FullyBundledNetwork:
        return type(self)(self.tower.astype(dtype), self.head.astype(dtype))


# -- the two-tower form of an MLP -------------------------------------------------
class TwoTowerMLP:
    r"""An MLP rewritten as an input tower and a weight tower (see the module docstring).

    Built by :func:`bundle_mlp`. Unbiased for the first hidden layer of a
    cos/sin/exp/gaussian MLP only; for relu the towers estimate arc-cosine
    kernels, not the MLP.

    Attributes
    ----------
    tower : InputTower
        :math:`z_L = \Phi_L\circ\dots\circ\Phi_1(x)`, with ``relu_bias=True``.
    A : list of ndarray
        The weight tower :math:`A_1, \dots, A_L`, ``A[j]`` of shape ``(d_j, D_j)``
        (the paper's :math:`A_j`; ``A[0]`` here is :math:`A_1`).
    V : ndarray of shape (D_L, d_out)
        ``A[-1].T @ W_out``: the paper's :math:`(W_{out}A_L)^\top`.
    c : ndarray of shape (d_out,)
        ``b_out``.
    """

    def __init__(self, tower: InputTower, A: list[np.ndarray], w_out: np.ndarray, b_out: np.ndarray) -> None:
        self.tower, self.A = tower, A
        self.V = A[-1].T @ w_out
        self.c = b_out.copy()

    def hidden(self, x: np.ndarray) -> list[np.ndarray]:
        r"""Estimates of the hidden layers, ``[z_1 @ A[0].T, ..., z_L @ A[-1].T]`` (each ``(n, d_j)``)."""
        check_float_array(x, "x", ndim=2, dtype=self.tower.dtype)
        out, z = [], x
        for j, (tower, a) in enumerate(zip(self.tower.towers, self.A)):
            z = tower.input_features(self.tower.tower_input(j, z))
            out.append(z @ a.T)
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        r""":math:`\hat y = z_L(x)\,V + c`: the two towers meet in one product."""
        return self.tower.forward(x) @ self.V + self.c

    @property
    def n_params(self) -> int:
        """Numbers in the bundled read-out ``V, c``."""
        return self.V.size + self.c.size

    def fully_bundled(self) -> FullyBundledNetwork:
        """The same towers with ``V, c`` as the head of a :class:`FullyBundledNetwork` (to refit or train).

        The tower object is shared: it has no parameters, so nothing the new network trains changes it.
        """
        tower = self.tower
        head = Dense(tower.n_features, self.V.shape[1], rng=0, init="lecun", dtype=tower.dtype)
        net = FullyBundledNetwork(tower, head)
        net.set_readout(self.V, self.c)
        return net


def bundle_mlp(
    model: Any,
    widths: int | Sequence[int],
    *,
    variance_param: float = 0.0,
    draws: str = "iid",
    rng: Any = None,
    **renamed: Any,
) -> TwoTowerMLP:
    r"""Rewrite a trained MLP in the two-tower form: fixed input tower, weights pushed through the weight tower.

    .. math:: z_j = \Phi_j(z_{j-1}), \qquad A_j = \Psi_j(W_j A_{j-1}, b_j), \qquad
              \hat y = z_L\,(A_L^\top W_{out}) + b_{out}

    (the effective weights ``W_j.T @ A[j-2]`` are the rows fed to :math:`\Psi_j`;
    :math:`A_0 = I`). Computed in the model's dtype.

    Parameters
    ----------
    model : Sequential or list
        ``Dense, activation, ..., Dense`` as read by :func:`split_mlp`.
    widths : int or sequence of int
        :math:`m_j` per hidden layer (one int: all the same).
    variance_param : float, default=0.0
        :math:`M`, the variance parameter of the URF towers.
    draws : {'iid', 'orthogonal'}
    rng : None, int or Generator
        Seed of the input tower.
    M
        Deprecated spelling of ``variance_param``.

    Returns
    -------
    TwoTowerMLP
    """
    variance_param = renamed_keywords("rpnumpy.bundling.bundle_mlp", renamed,
                                      {"M": ("variance_param", variance_param, 0.0)})["variance_param"]
    hidden, (w_out, b_out) = split_mlp(model)
    if isinstance(widths, numbers.Integral) and not isinstance(widths, bool):
        widths = [widths] * len(hidden)
    dtype = w_out.dtype
    tower = InputTower(hidden[0][0].shape[0], widths, [name for _, _, name in hidden], variance_param=variance_param,
                       draws=draws, radius=None, relu_bias=True, rng=rng, dtype=dtype)
    A: list[np.ndarray] = []
    previous = None  # A_{j-1}; A_0 = I is never formed
    for (w, b, name), layer_tower in zip(hidden, tower.towers):
        rows = w.T if previous is None else w.T @ previous  # paper: W_j A_{j-1}, shape (d_j, D_{j-1})
        if name == "relu":
            rows = np.concatenate([rows, b[:, None]], axis=1)  # [w, b] . [z, 1] = w.z + b
            previous = layer_tower.weight_features(np.ascontiguousarray(rows))
        else:
            previous = layer_tower.weight_features(np.ascontiguousarray(rows), b)
        A.append(previous)
    return TwoTowerMLP(tower, A, w_out, b_out)
