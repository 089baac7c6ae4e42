"""Dense and Flatten: the ordinary layers the random-projection layers are compared with."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_dtype, check_positive_int, seed_from
from .base import Layer, config_dim

__all__ = ["Dense", "Flatten", "Reshape"]

#: Variance of the initial weights from the fan-in and fan-out (for a convolution,
#: ``in_channels*kh*kw`` and ``out_channels*kh*kw``).
INIT_VARIANCE = {
    "he": lambda fan_in, fan_out: 2.0 / fan_in,
    "lecun": lambda fan_in, fan_out: 1.0 / fan_in,
    "glorot": lambda fan_in, fan_out: 2.0 / (fan_in + fan_out),
}


class Dense(Layer):
    r"""Fully connected layer, :math:`y = xW + b`.

    Forward, for a batch :math:`x` of shape ``(n, d_in)``:

    .. math:: y = x W + b, \qquad W \in \mathbb{R}^{d_{in}\times d_{out}},\ b \in \mathbb{R}^{d_{out}}

    Backward, given :math:`\delta = \partial L/\partial y` of shape ``(n, d_out)``:

    .. math::

        \frac{\partial L}{\partial W} = x^\top \delta, \qquad
        \frac{\partial L}{\partial b} = \textstyle\sum_{i} \delta_{i,:}, \qquad
        \frac{\partial L}{\partial x} = \delta W^\top.

    Three matrix products per step in all (one forward, two backward); the
    last is skipped with ``backward(dy, input_grad=False)``.

    Parameters
    ----------
    d_in, d_out : int
        Input and output widths.
    rng : None, int or numpy.random.Generator
        Randomness for the initial ``W`` (pass an int for reproducible results).
    init : {'he', 'lecun', 'glorot'}, default='he'
        :math:`W_{ij} \sim N(0, \sigma^2)` with :math:`\sigma^2 = 2/d_{in}`
        (He, for ReLU networks), :math:`1/d_{in}` (LeCun) or
        :math:`2/(d_{in}+d_{out})` (Glorot). ``b`` starts at zero.
    dtype : float32 or float64, default=float64
    """

    def __init__(
        self, d_in: int, d_out: int, *, rng: Any = None, init: str = "he", dtype: Any = np.float64
    ) -> None:
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        if init not in INIT_VARIANCE:
            raise ValueError(f"init must be one of {sorted(INIT_VARIANCE)}, got {init!r}")
        super().__init__(check_dtype(dtype))
        self.init = init
        self.seed = seed_from(rng)
        std = math.sqrt(INIT_VARIANCE[init](self.d_in, self.d_out))
        w = np.random.default_rng(self.seed).standard_normal((self.d_in, self.d_out)) * std
        self._add_param("W", w.astype(self.dtype))
        self._add_param("b", np.zeros(self.d_out, dtype=self.dtype))

    def _forward(self, x):
        y = x @ self.params["W"]
        y += self.params["b"]
        return y, x

    def _backward(self, dy, x):
        self._param_backward(dy, x)
        return dy @ self.params["W"].T

    def _param_backward(self, dy, x):
        np.matmul(x.T, dy, out=self.grads["W"])
        np.sum(dy, axis=0, out=self.grads["b"])

    def get_config(self) -> dict[str, Any]:
        return {"d_in": self.d_in, "d_out": self.d_out, "rng": self.seed, "init": self.init, **super().get_config()}

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        d_in, d_out = config_dim(config, "d_in"), config_dim(config, "d_out")
        return d_in * d_out + d_out, 0


class Flatten(Layer):
    """Reshape ``(n, d1, d2, ...)`` to ``(n, d1*d2*...)``; backward reshapes back.

    A view, not a copy, whenever the input is contiguous.
    """

    input_ndim = None

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        return 0, 0

    def _check_input(self, x: np.ndarray) -> None:
        super()._check_input(x)
        if x.ndim < 1:
            raise ValueError(f"x must have at least 1 dimension (the samples), got shape {x.shape}")

    def _forward(self, x):
        # The width from the shape, not -1: an empty batch (n = 0) has no size to infer it from.
        return x.reshape(x.shape[0], math.prod(x.shape[1:])), x.shape

    def _backward(self, dy, shape):
        return dy.reshape(shape)


class Reshape(Layer):
    """Reshape ``(n, ...)`` to ``(n, *shape)``; backward reshapes back.

    For example ``Reshape((1, 28, 28))`` turns MNIST's rows of 784 pixels into
    one-channel images for :class:`~rpnumpy.layers.Conv2D`. A view, not a copy,
    whenever the input is contiguous.

    Parameters
    ----------
    shape : tuple of int
        The per-sample shape.
    """

    input_ndim = None

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        if not isinstance(shape, (tuple, list)) or not shape:
            raise ValueError(f"shape must be a non-empty tuple of positive ints, got {shape!r}")
        self.shape = tuple(check_positive_int(s, f"shape[{i}]") for i, s in enumerate(shape))

    def _check_input(self, x: np.ndarray) -> None:
        super()._check_input(x)
        size = int(np.prod(self.shape))
        per_sample = int(np.prod(x.shape[1:]))
        if x.ndim < 2 or per_sample != size:
            raise ValueError(
                f"x has {per_sample} values per sample (shape {x.shape}) but shape {self.shape} needs {size}"
            )

    def _forward(self, x):
        return x.reshape(x.shape[0], *self.shape), x.shape

    def _backward(self, dy, shape):
        return dy.reshape(shape)

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        return 0, 0
