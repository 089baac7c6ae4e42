r"""The gaussian tower, :math:`f(z) = e^{-z^2/2}`: the cos tower at random frequencies.

The map
-------
:math:`e^{-z^2/2} = \mathbb E_\zeta[\cos(\zeta z)]` for :math:`\zeta \sim N(0, 1)` (the
characteristic function of the standard normal). In the Fourier form of the paper
(Sehanobish, Choromanski et al., "Scalable Neural Network Kernels", ICLR 2024, arXiv:2310.13225),
:math:`f(z) = \int\tau(\xi)e^{2\pi i\xi z}d\xi` with :math:`\tau(\xi) = \sqrt{2\pi}e^{-2\pi^2\xi^2}`,
which is itself the density of :math:`\xi \sim N(0, 1/4\pi^2)`: sampling :math:`\xi` from it
leaves importance weight 1, and :math:`\zeta = 2\pi\xi`. So

.. math:: e^{-(w^\top x + b)^2/2} = \mathbb E_\zeta\big[\cos((\zeta x)^\top w + \zeta b)\big],

and the cos tower (:mod:`rpnumpy.features.trig`) applied to :math:`\zeta_k x` with the phase
:math:`\zeta_k b`, one frequency :math:`\zeta_k` per direction :math:`g_k`, is unbiased:
:math:`\theta_k = \zeta_k\gamma\,g_k^\top x`, :math:`\mu_k = C e^{\zeta_k^2\|x\|^2/2 - M\|g_k\|^2}`,
:math:`\Psi = [\nu\cos(\zeta b),\ -\nu\sin(\zeta b)]`. ``D = 2m``.

**Heavy tails.** :math:`\mu_k` carries :math:`e^{\zeta_k^2\|x\|^2/2}`. Since
:math:`\mathbb E_\zeta[e^{a\zeta^2}] = (1-2a)^{-1/2}` for :math:`a < 1/2` and is infinite
otherwise, the variance is finite only for :math:`\|x\|^2 < 1/2`, and for :math:`\|x\|^2 \ge 1`
not even :math:`\mathbb E|Z|` is finite, so the estimate is meaningless there. A
:class:`~rpnumpy.features.RandomFeatureVarianceWarning` says so.

Variance
--------
Given :math:`\zeta`, the cos formula holds with :math:`x \to \zeta x`, :math:`s \to \zeta s`,
:math:`b \to \zeta b`. Averaging over :math:`\zeta` with the identity above and
:math:`\mathbb E[e^{-\beta\zeta^2}\cos(t\zeta)] = (1+2\beta)^{-1/2}e^{-t^2/(2(1+2\beta))}`:

.. math:: \mathbb E Z^2 = \tfrac K2 e^{\eta\|w\|^2}\Big((1-2\|x\|^2)^{-1/2} + (1+2\eta\|x\|^2)^{-1/2}
          e^{-(4\rho t+2b)^2/(2(1+2\eta\|x\|^2))}\Big), \qquad
          \operatorname{Var}Z = \mathbb E Z^2 - e^{-(s+b)^2}.
"""

from __future__ import annotations

import warnings

import numpy as np

from .base import RandomFeatureVarianceWarning
from .trig import TrigTower, cos_pair

__all__ = ["GaussianTower"]


class GaussianTower(TrigTower):
    r"""The gaussian tower: :math:`\Phi(x)^\top\Psi(w, b)` estimates :math:`e^{-(w^\top x + b)^2/2}`.

    The trig towers' forward and backward passes (:class:`~rpnumpy.features.trig.TrigTower`)
    with the projection :math:`\Gamma = \gamma G\operatorname{diag}(\zeta)`, the quadratic coefficients
    :math:`q_k = \zeta_k^2/2` and the phase :math:`\varphi_{jk} = \zeta_k b_j`, so that
    :math:`\partial L/\partial b_j = \sum_k \zeta_k\,\partial\varphi_{jk}`.

    Parameters
    ----------
    d, n_directions, variance_param, draws, rng, dtype
        See :class:`~rpnumpy.features.urf.GaussianLemmaTower`. Inputs should have
        :math:`\|x\|^2 < 1/2` (see the module docstring).

    Attributes
    ----------
    xi : ndarray of shape (m,), read-only
        The frequencies :math:`\xi_k \sim N(0, 1/4\pi^2)` (:math:`\zeta_k = 2\pi\xi_k`), drawn from
        the first child of the tower's seed, independent of ``G``.
    """

    activation = "gaussian"

    @staticmethod
    def activation_function(z: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * z**2)

    frequencies_per_direction = 1

    def _draw_frequencies(self) -> np.ndarray:
        # The frequencies come from an independent stream derived from the same seed.
        stream = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(1)[0])
        return (stream.standard_normal(self.n_directions) / (2 * np.pi)).astype(self.dtype)

    def _input_constants(self, c: float, g64: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zeta = 2 * np.pi * self.xi.astype(np.float64)
        self._phase_frequency = zeta.astype(self.dtype)  # the bias enters as the phase zeta * b
        return (c * g64 * zeta).astype(self.dtype), (0.5 * zeta**2).astype(self.dtype)  # +zeta^2 ||x||^2 / 2

    def _check_input_norms(self, x_sq: np.ndarray) -> None:
        largest = float(x_sq.max()) if x_sq.size else 0.0
        if largest >= 0.5:
            extra = " and for ||x||^2 >= 1 not even its mean exists" if largest >= 1 else ""
            warnings.warn(
                f"gaussian activation: the largest squared input norm ||x||^2 is {largest:.4g} >= 1/2; the "
                f"estimator's variance is infinite there (E[e^(zeta^2 ||x||^2)] = (1 - 2||x||^2)^(-1/2)){extra}. "
                f"Scale inputs to ||x||^2 < 1/2",
                RandomFeatureVarianceWarning,
                stacklevel=5,
            )

    def _phase(self, b: np.ndarray) -> np.ndarray:
        return np.multiply.outer(b, self._phase_frequency)

    def _bias_gradient(self, d_phase: np.ndarray) -> np.ndarray:
        return d_phase @ self._phase_frequency

    def _arrange(self, u: np.ndarray, cos_phase: np.ndarray, sin_phase: np.ndarray) -> np.ndarray:
        return cos_pair(u, cos_phase, sin_phase)

    def _direction_variance(self, x_sq: np.ndarray, w_sq: np.ndarray, s: np.ndarray, bias: np.ndarray) -> np.ndarray:
        self._check_input_norms(x_sq)
        log_p, eps, rho = self._second_moment_constants()
        spread = 1.0 + 2 * eps * x_sq
        heavy = np.where(x_sq < 0.5, 1.0 / np.sqrt(np.maximum(1.0 - 2 * x_sq, 0.0)), np.inf)
        second = 0.5 * np.exp(log_p + eps * w_sq) * (
            heavy + np.exp(-((4 * rho * s + 2 * bias) ** 2) / (2 * spread)) / np.sqrt(spread)
        )
        return second - np.exp(-((s + bias) ** 2))  # minus f(s + b)^2

    def _check_variance(self, variance: np.ndarray, x_sq: np.ndarray, w_sq: np.ndarray) -> None:
        """Infinite entries here come from the heavy tail, already warned about."""
