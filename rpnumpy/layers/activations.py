r"""Element-wise activations, :math:`y = g(x)` and :math:`\partial L/\partial x = \delta \odot g'(x)`.

Each activation caches the cheapest thing its derivative needs: the output
when :math:`g'` is a function of :math:`y` (sigmoid, tanh, ReLU), the input
otherwise (sin, cos, GELU, polynomials). They accept float32 or float64 and return the same
dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from .._validation import check_real_vector
from .base import Layer

__all__ = ["ReLU", "Sigmoid", "Tanh", "Sin", "Cos", "GELU", "PolynomialActivation", "ACTIVATIONS"]


class _Elementwise(Layer):
    """An element-wise function: any input shape, either float dtype, no parameters."""

    input_ndim = None

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        return 0, 0


class ReLU(_Elementwise):
    r"""Rectified linear unit, :math:`y = \max(x, 0)`.

    Backward: :math:`\partial L/\partial x = \delta \odot [x > 0]`. The
    derivative at exactly 0 is taken as 0 (a subgradient).
    """

    def _forward(self, x):
        y = np.maximum(x, 0)
        return y, y

    def _backward(self, dy, y):
        return dy * (y > 0)


class Sigmoid(_Elementwise):
    r"""Logistic sigmoid, :math:`y = \sigma(x) = 1/(1 + e^{-x})`.

    Backward: :math:`\partial L/\partial x = \delta \odot y(1 - y)`. Computed
    with ``scipy.special.expit``, which does not overflow for large ``|x|``.
    """

    def _forward(self, x):
        y = special.expit(x)
        return y, y

    def _backward(self, dy, y):
        return dy * y * (1 - y)


class Tanh(_Elementwise):
    r"""Hyperbolic tangent. Backward: :math:`\partial L/\partial x = \delta \odot (1 - y^2)`."""

    def _forward(self, x):
        y = np.tanh(x)
        return y, y

    def _backward(self, dy, y):
        return dy * (1 - y * y)


class Sin(_Elementwise):
    r"""Sine. Backward: :math:`\partial L/\partial x = \delta \odot \cos x`."""

    def _forward(self, x):
        return np.sin(x), x

    def _backward(self, dy, x):
        return dy * np.cos(x)


class Cos(_Elementwise):
    r"""Cosine. Backward: :math:`\partial L/\partial x = -\delta \odot \sin x`."""

    def _forward(self, x):
        return np.cos(x), x

    def _backward(self, dy, x):
        return -dy * np.sin(x)


class GELU(_Elementwise):
    r"""Gaussian error linear unit, exact form :math:`y = x\,\Phi(x)`.

    :math:`\Phi` is the standard normal CDF (``scipy.special.ndtr``), not the
    tanh approximation. Backward:

    .. math:: \partial L/\partial x = \delta \odot \big(\Phi(x) + x\,\varphi(x)\big),
              \qquad \varphi(x) = e^{-x^2/2}/\sqrt{2\pi}.
    """

    _INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

    def _forward(self, x):
        cdf = special.ndtr(x)
        return x * cdf, (x, cdf)

    def _backward(self, dy, cache):
        x, cdf = cache
        pdf = np.exp(-0.5 * x * x) * self._INV_SQRT_2PI
        return dy * (cdf + x * pdf)


class PolynomialActivation(_Elementwise):
    r"""Element-wise polynomial :math:`y = p(x) = \sum_{i=0}^{k} a_i x^i`.

    The activation for which Theorem 3.1 of the EUGen paper (Kim et al., NeurIPS 2025) is exact,
    so a teacher built with it is one an :class:`~rpnumpy.layers.EUGen` student of order
    :math:`\ge k` can reproduce (up to the random features' span). It takes its coefficients as
    an argument, so it is not in :data:`ACTIVATIONS`.
    Backward: :math:`\partial L/\partial x = \delta \odot p'(x)`,
    :math:`p'(x) = \sum_{i\ge1} i\,a_i x^{i-1}`. Both are evaluated by Horner's scheme in the
    input's dtype (float32 stays float32).

    Parameters
    ----------
    coefficients : sequence of float
        :math:`a_0, \dots, a_k` (power basis, lowest degree first), finite.
    """

    def __init__(self, coefficients: Any) -> None:
        super().__init__()
        a = check_real_vector(coefficients, "coefficients")
        if a.size == 0 or not np.all(np.isfinite(a)):
            raise ValueError(f"coefficients must be a non-empty 1-D sequence of finite numbers, got {coefficients!r}")
        self.coefficients = a

    @staticmethod
    def _horner(coefficients: np.ndarray, x: np.ndarray) -> np.ndarray:
        y = np.full_like(x, coefficients[-1])
        for a in coefficients[-2::-1]:
            y *= x
            y += a
        return y

    def _forward(self, x):
        return self._horner(self.coefficients, x), x

    def _backward(self, dy, x):
        a = self.coefficients
        slope = self._horner(a[1:] * np.arange(1, a.size), x) if a.size > 1 else np.zeros_like(x)
        return dy * slope

    def __call__(self, s: np.ndarray) -> np.ndarray:
        """:math:`p(s)` in float64, keeping no cache: usable as ``f`` in :func:`~rpnumpy.polyfit.fit_polynomial`."""
        return self._horner(self.coefficients, np.asarray(s, dtype=np.float64))

    def get_config(self) -> dict[str, Any]:
        return {"coefficients": self.coefficients.tolist()}


#: Activation classes by lower-case name, for configurations and the CLI.
ACTIVATIONS: dict[str, type[Layer]] = {
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "sin": Sin,
    "cos": Cos,
    "gelu": GELU,
}
