r"""The fixed input tower of a bundled network: random features of random features, and row normalisation.

:class:`InputTower` chains random-feature maps :math:`z = \Phi_L\circ\dots\circ\Phi_1(x)` (one
:mod:`rpnumpy.features` tower per step); :class:`L2Normalize` rescales rows to a fixed norm, which the
trig and exp towers need (see :mod:`rpnumpy.bundling`).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._deprecation import moved_attribute, renamed_config_keys, renamed_keywords
from .._validation import (
    check_dtype,
    check_float_array,
    check_positive_float,
    check_positive_int,
    check_real,
    seed_from,
)
from ..features import FEATURE_DRAWS, FEATURE_MAPS, TOWERS, RandomFeatureTower, random_feature_tower
from ..layers import Layer
from ..layers.base import config_dim

__all__ = ["InputTower", "L2Normalize", "l2_normalize"]


def l2_normalize(z: np.ndarray, radius: float = 1.0) -> np.ndarray:
    r"""Rescale every row to norm ``radius``: :math:`r\,z/\|z\|` (zero rows stay zero). Same dtype."""
    z = check_float_array(z, "z", ndim=2)
    return _rescale_rows(z, check_positive_float(radius, "radius"))[0]


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

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        return 0, 0


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

    RENAMED_CONFIG_KEYS = {"M": "variance_param"}

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
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int] | None:
        config = renamed_config_keys("InputTower", config, cls.RENAMED_CONFIG_KEYS)
        width = config_dim(config, "d_in")
        widths, activations = config.get("widths"), config.get("activations")
        if not isinstance(widths, list) or not isinstance(activations, list) or len(widths) != len(activations):
            return None  # the constructor explains what it needs
        fixed = 0
        for j, (m, name) in enumerate(zip(widths, activations)):
            m = check_positive_int(m, f"config['widths'][{j}]")
            tower = TOWERS.get(name)
            if tower is None:
                return None
            width += int(name == "relu" and bool(config.get("relu_bias", False)))
            fixed += width * m + tower.frequencies_per_direction * m
            width = tower.features_per_direction * m
        return 0, fixed

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> InputTower:
        """Build the tower from ``get_config()``; configs saved with the old key ``M`` load too."""
        return cls(**renamed_config_keys("InputTower", config, cls.RENAMED_CONFIG_KEYS))


