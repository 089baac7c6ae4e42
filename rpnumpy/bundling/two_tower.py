r"""The two-tower form of a trained MLP: :func:`bundle_mlp` and :class:`TwoTowerMLP` (see :mod:`rpnumpy.bundling`)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._deprecation import renamed_keywords
from .._validation import check_float_array, check_positive_int
from ..features import FEATURE_MAPS, URF_ACTIVATIONS
from ..layers import Cos, Dense, Layer, ReLU, Sequential, Sin
from .networks import FullyBundledNetwork
from .towers import InputTower

__all__ = ["ACTIVATION_LAYERS", "TwoTowerMLP", "bundle_mlp", "mlp_forward", "split_mlp"]

#: Activation layers that bundling recognises, by the feature map they become.
ACTIVATION_LAYERS: dict[type[Layer], str] = {ReLU: "relu", Sin: "sin", Cos: "cos"}

#: The activations themselves, for :func:`mlp_forward` (relu as the MLP computes it).
_ACTIVATION_FUNCTIONS = {**URF_ACTIVATIONS, "relu": lambda s: np.maximum(s, 0)}



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


class TwoTowerMLP(FullyBundledNetwork):
    r"""An MLP rewritten as an input tower and a weight tower (see :mod:`rpnumpy.bundling`).

    Built by :func:`bundle_mlp`. It is a :class:`FullyBundledNetwork` whose read-out was computed
    from the MLP's weights instead of fitted: :math:`V = \Omega_L^\top W_{out}`, :math:`c = b_{out}`,
    so :math:`\hat y = z_L(x)\,V + c`. It also keeps the weight tower :math:`\Omega_1, \dots, \Omega_L`
    (buffers ``"Omega1"``, ``"Omega2"``, ...; stored in model files, since no seed rebuilds them),
    from which :meth:`hidden` estimates every hidden layer of the MLP.

    Unbiased for the first hidden layer of a cos/sin/exp/gaussian MLP only; for relu the towers
    estimate arc-cosine kernels, not the MLP.

    Parameters
    ----------
    tower : InputTower
        :math:`z_L = \Phi_L\circ\dots\circ\Phi_1(x)`, with ``relu_bias=True``.
    head : Dense
        Holds :math:`V` (``W``, shape ``(D_L, d_out)``) and :math:`c` (``b``).
    weight_tower : list of ndarray
        :math:`\Omega_j` of shape ``(d_j, D_j)``, row ``k`` the feature vector of hidden unit ``k``.

    Attributes
    ----------
    weight_tower : list of ndarray
        The :math:`\Omega_j` (``A`` is the same list, the name used before).
    """

    def __init__(self, tower: InputTower, head: Dense, weight_tower: Sequence[np.ndarray]) -> None:
        super().__init__(tower, head)
        if len(weight_tower) != len(tower.towers):
            raise ValueError(f"weight_tower must hold one matrix per tower ({len(tower.towers)}), "
                             f"got {len(weight_tower)}")
        self.weight_tower = []
        for j, (omega, layer_tower) in enumerate(zip(weight_tower, tower.towers), start=1):
            omega = check_float_array(np.ascontiguousarray(omega), f"weight_tower[{j - 1}]", ndim=2, dtype=self.dtype)
            if omega.shape[1] != layer_tower.n_features:
                raise ValueError(f"weight_tower[{j - 1}] must have {layer_tower.n_features} columns (the features of "
                                 f"tower {j}), got shape {omega.shape}")
            self.buffers[f"Omega{j}"] = omega
            self.weight_tower.append(omega)

    @property
    def A(self) -> list[np.ndarray]:  # noqa: N802 (the name of earlier versions)
        """The weight tower, :attr:`weight_tower`."""
        return self.weight_tower

    @property
    def rebuildable_buffers(self) -> set[str]:
        return super().rebuildable_buffers - {f"Omega{j}" for j in range(1, len(self.weight_tower) + 1)}

    def hidden(self, x: np.ndarray) -> list[np.ndarray]:
        r"""Estimates of the hidden layers, ``[z_1 @ Omega_1.T, ..., z_L @ Omega_L.T]`` (each ``(n, d_j)``)."""
        check_float_array(x, "x", ndim=2, dtype=self.dtype)
        out, z = [], x
        for j, (layer_tower, omega) in enumerate(zip(self.tower.towers, self.weight_tower)):
            z = layer_tower.input_features(self.tower.tower_input(j, z))
            out.append(z @ omega.T)
        return out

    def fully_bundled(self) -> FullyBundledNetwork:
        """The same towers and read-out as a plain :class:`FullyBundledNetwork` (to refit or train).

        The tower object is shared: it has no parameters, so nothing the new network trains changes it.
        """
        net = FullyBundledNetwork(self.tower, Dense(self.tower.n_features, self.head.d_out, rng=0, init="lecun",
                                                    dtype=self.dtype))
        net.set_readout(self.V, self.c)
        return net

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_tower_shapes": [list(omega.shape) for omega in self.weight_tower]}

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int] | None:
        shapes = config.get("weight_tower_shapes") if isinstance(config, dict) else None
        sizes = FullyBundledNetwork.config_sizes({"layers": config.get("layers")}) if isinstance(config, dict) else None
        pairs = isinstance(shapes, list) and all(isinstance(s, list) and len(s) == 2 for s in shapes)
        if sizes is None or not pairs:
            return None  # from_config explains what it needs
        omega = sum(check_positive_int(rows, "weight_tower_shapes rows")
                    * check_positive_int(columns, "weight_tower_shapes columns") for rows, columns in shapes)
        return sizes[0], sizes[1] + omega

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TwoTowerMLP:
        """Rebuild from ``get_config()``: the weight tower starts at zero and a model file fills it in."""
        shapes = config.get("weight_tower_shapes") if isinstance(config, dict) else None
        if not isinstance(shapes, list) or not all(isinstance(s, list) and len(s) == 2 for s in shapes):
            raise ValueError(f"a TwoTowerMLP config needs 'weight_tower_shapes', a list of [rows, columns], "
                             f"got {shapes!r}")
        network = FullyBundledNetwork.from_config({"layers": config.get("layers")})
        return cls(network.tower, network.head, [np.zeros(shape, dtype=network.dtype) for shape in shapes])

    def astype(self, dtype: Any) -> TwoTowerMLP:
        return type(self)(self.tower.astype(dtype), self.head.astype(dtype),
                          [omega.astype(dtype) for omega in self.weight_tower])


def bundle_mlp(
    model: Any,
    widths: int | Sequence[int],
    *,
    variance_param: float = 0.0,
    draws: str = "iid",
    kappa: float = 0.0,
    rng: Any = None,
    **renamed: Any,
) -> TwoTowerMLP:
    r"""Rewrite a trained MLP in the two-tower form: fixed input tower, weights pushed through the weight tower.

    .. math:: z_j = \Phi_j(z_{j-1}), \qquad \Omega_j = \Psi_j(W_j \Omega_{j-1}, b_j), \qquad
              \hat y = z_L\,(\Omega_L^\top W_{out}) + b_{out}

    (the effective weights ``W_j.T @ Omega_{j-1}`` are the rows fed to :math:`\Psi_j`;
    :math:`\Omega_0 = I`). Computed in the model's dtype.

    Parameters
    ----------
    model : Sequential or list
        ``Dense, activation, ..., Dense`` as read by :func:`split_mlp`.
    widths : int or sequence of int
        :math:`m_j` per hidden layer (one int: all the same).
    variance_param : float, default=0.0
        :math:`M`, the variance parameter of the URF towers.
    draws : {'iid', 'orthogonal'}
    kappa : float, default=0.0
        Floor of the relu towers, :math:`\max(zG, \kappa)` on both sides (the towers then estimate
        :func:`~rpnumpy.features.clamped_relu_kernel`).
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
                       draws=draws, kappa=kappa, radius=None, relu_bias=True, rng=rng, dtype=dtype)
    weight_tower: list[np.ndarray] = []
    previous = None  # Omega_{j-1}; Omega_0 = I is never formed
    for (w, b, name), layer_tower in zip(hidden, tower.towers):
        rows = w.T if previous is None else w.T @ previous  # W_j Omega_{j-1}, shape (d_j, D_{j-1})
        if name == "relu":
            rows = np.concatenate([rows, b[:, None]], axis=1)  # [w, b] . [z, 1] = w.z + b
            previous = layer_tower.weight_features(np.ascontiguousarray(rows))
        else:
            previous = layer_tower.weight_features(np.ascontiguousarray(rows), b)
        weight_tower.append(previous)
    head = Dense(tower.n_features, w_out.shape[1], rng=0, init="lecun", dtype=dtype)
    network = TwoTowerMLP(tower, head, weight_tower)
    network.set_readout(weight_tower[-1].T @ w_out, b_out)  # V = Omega_L^T W_out, c = b_out
    return network
