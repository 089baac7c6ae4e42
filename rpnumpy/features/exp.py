r"""The exp tower: positive random features of :math:`e^{w^\top x + b}`.

The map
-------
The lemma of :mod:`rpnumpy.features.urf` with the real vectors :math:`u = x`, :math:`v = w`
needs no frequency at all:

.. math:: \Phi_k(x) = C e^{\gamma g_k^\top x - \|x\|^2/2 - M\|g_k\|^2}, \qquad
          \Psi_k(w, b) = e^{b}\,C e^{\gamma g_k^\top w - \|w\|^2/2 - M\|g_k\|^2},

``D = m``, every feature positive. At :math:`M = 0` these are the positive random features of
the softmax kernel (FAVOR+; Choromanski et al., "Rethinking Attention with Performers",
ICLR 2021, arXiv:2009.14794).

Variance
--------
The second-moment identity of :mod:`rpnumpy.features.urf` at :math:`(u, v, u', v') = (x, w, x, w)`,
times :math:`e^{2b}`, gives with :math:`t = w^\top x`

.. math:: \mathbb E Z^2 = K e^{2b + (2\rho - 1)(\|x\|^2 + \|w\|^2) + 4\rho t}, \qquad
          \operatorname{Var}Z = e^{2(t+b)}\big(K e^{(2\rho-1)(\|x\|^2+\|w\|^2) + (4\rho-2)t} - 1\big),

which is :math:`e^{2(t+b)}(e^{\|x+w\|^2}-1)` at :math:`M = 0` (:math:`K = \rho = 1`).
"""

from __future__ import annotations

import numpy as np

from .urf import GaussianLemmaTower

__all__ = ["ExpTower"]


class ExpTower(GaussianLemmaTower):
    r"""The exp tower: :math:`\Phi(x)^\top\Psi(w, b)` estimates :math:`e^{w^\top x + b}`.

    Forward: :math:`\Phi = e^{\Lambda}` with
    :math:`\Lambda_{ik} = \gamma\,g_k^\top x_i - \|x_i\|^2/2 + \log C - M\|g_k\|^2`, and
    :math:`\Psi = e^{\Lambda^\Psi}` with
    :math:`\Lambda^\Psi_{jk} = \gamma\,g_k^\top w_j - \|w_j\|^2/2 + \log C - M\|g_k\|^2 + b_j`.

    Backward: :math:`\partial\Phi/\partial\Lambda = \Phi`, so with :math:`E = \partial\Phi\odot\Phi` and
    :math:`F = \partial\Psi\odot\Psi`

    .. math:: \frac{\partial L}{\partial x_i} = (E\,(\gamma G)^\top)_i - \Big(\sum_k E_{ik}\Big)x_i, \qquad
              \frac{\partial L}{\partial w_j} = (F\,(\gamma G)^\top)_j - \Big(\sum_k F_{jk}\Big)w_j, \qquad
              \frac{\partial L}{\partial b_j} = \sum_k F_{jk}.

    Parameters
    ----------
    d, n_directions, variance_param, draws, rng, dtype
        See :class:`~rpnumpy.features.urf.GaussianLemmaTower`.
    """

    activation = "exp"
    _quadratic_coefficient = -0.5

    @staticmethod
    def activation_function(z: np.ndarray) -> np.ndarray:
        return np.exp(z)

    def _forward_input(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        x_sq, projected, exponent = self._input_exponent(x)
        exponent += projected
        features = self._exp(exponent, x_sq, "x")
        return features, (x, features)

    def _backward_input(self, d_phi: np.ndarray, cache: tuple) -> np.ndarray:
        x, features = cache
        d_exponent = d_phi * features  # ∂Φ/∂A = Φ, and the projection sits inside A
        return self._input_gradient(x, d_exponent, d_exponent)

    def _forward_weights(self, w: np.ndarray, b: np.ndarray | None) -> tuple[np.ndarray, tuple]:
        w_sq, exponent = self._weight_exponent(w)
        if b is not None:
            exponent += b[:, None]
        features = self._exp(exponent, w_sq, "w")
        return features, (w, features, b is not None)

    def _backward_weights(self, d_psi: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray | None]:
        w, features, has_bias = cache
        d_exponent = d_psi * features
        dw = self._weight_gradient(w, d_exponent)
        return dw, (d_exponent.sum(axis=1) if has_bias else None)

    def _direction_variance(self, x_sq: np.ndarray, w_sq: np.ndarray, s: np.ndarray, bias: np.ndarray) -> np.ndarray:
        log_p, _, rho = self._second_moment_constants()
        excess = np.expm1(log_p + (2 * rho - 1) * (x_sq + w_sq) + (4 * rho - 2) * s)
        return np.exp(2 * (s + bias)) * excess
