r"""The cos and sin towers: one input tower, the bias a phase on the parameter side.

The maps (real form of the paper's complex features)
----------------------------------------------------
The lemma of :mod:`rpnumpy.features.urf` with :math:`u = ix` and :math:`v = w`
(so :math:`u^\top u = -\|x\|^2`) gives

.. math:: e^{i w^\top x} = \mathbb E_g\big[(1+4M)^{d/2}\, e^{\|x\|^2/2 - M\|g\|^2 + i \gamma g^\top x}\,
          e^{\gamma g^\top w - \|w\|^2/2 - M\|g\|^2}\big].

Multiply by :math:`e^{ib}` and take the real part (cos) or the imaginary part (sin). With
:math:`\theta_k = \gamma\,g_k^\top x`, :math:`\mu_k(x) = C e^{\|x\|^2/2 - M\|g_k\|^2}` and
:math:`\nu_k(w) = C e^{\gamma g_k^\top w - \|w\|^2/2 - M\|g_k\|^2}`, the addition theorems
:math:`\cos(\theta + b) = \cos\theta\cos b - \sin\theta\sin b` and
:math:`\sin(\theta + b) = \cos\theta\sin b + \sin\theta\cos b` split each direction into a pair:

.. math:: \Phi(x) = [\mu \odot \cos\theta,\ \mu \odot \sin\theta], \quad
          \Psi_{\cos}(w, b) = [\nu\cos b,\ -\nu \sin b], \quad
          \Psi_{\sin}(w, b) = [\nu\sin b,\ \nu\cos b],

so that :math:`\Phi^\top\Psi = \sum_k \mu_k \nu_k \cos(\theta_k + b)` (or sin). ``D = 2m``. The
paper (Sehanobish, Choromanski et al., "Scalable Neural Network Kernels", ICLR 2024,
arXiv:2310.13225) writes the same estimator with complex features on the two binary frequencies
:math:`\xi = \pm 1/2\pi`; this real form needs no complex dtype. The input tower is the **same**
for sin and cos, and the bias is a phase on the weight side only. The lemma with
:math:`u = ix`, :math:`v = -ix'` shows :math:`\mathbb E[\Phi(x)^\top\Phi(x')] = e^{x^\top x'}`:
the input tower alone is a random-feature map of the exponential (softmax) kernel.

Variance
--------
Let :math:`Z = m \mu_k \nu_k e^{i(\theta_k + b)}` be the complex one-direction estimate, so that
:math:`Z_{\cos} = \operatorname{Re}Z` and :math:`Z_{\sin} = \operatorname{Im}Z`, and
:math:`(\operatorname{Re}Z)^2 = (|Z|^2 + \operatorname{Re}Z^2)/2`,
:math:`(\operatorname{Im}Z)^2 = (|Z|^2 - \operatorname{Re}Z^2)/2`. The second-moment identity of
:mod:`rpnumpy.features.urf` at :math:`(u, v, u', v') = (ix, w, -ix, w)` and at
:math:`(ix, w, ix, w)` gives, with :math:`t = w^\top x`,

.. math:: \mathbb E|Z|^2 = K e^{\|x\|^2 + \eta\|w\|^2}, \qquad
          \mathbb E Z^2 = K e^{\eta(\|w\|^2 - \|x\|^2)}\, e^{i(4\rho t + 2b)},

hence

.. math:: \mathbb E Z_{\cos/\sin}^2 = \tfrac K2 e^{\eta\|w\|^2}\big(e^{\|x\|^2}
          \pm e^{-\eta\|x\|^2}\cos(4\rho t + 2b)\big)

(+ for cos, − for sin), and :math:`\operatorname{Var}Z = \mathbb E Z^2 - f(t + b)^2`.
"""

from __future__ import annotations

import numpy as np

from .urf import GaussianLemmaTower

__all__ = ["CosTower", "SinTower", "TrigTower"]


def cos_pair(u: np.ndarray, cos_phase: np.ndarray, sin_phase: np.ndarray) -> np.ndarray:
    r""":math:`[u\cos\varphi,\ -u\sin\varphi]`: the parameter tower of :math:`\cos(\theta + \varphi)`."""
    return np.concatenate([u * cos_phase, -u * sin_phase], axis=1)


class TrigTower(GaussianLemmaTower):
    r"""The input tower :math:`\Phi = [e^{\Lambda}\odot\cos\Theta,\ e^{\Lambda}\odot\sin\Theta]` (cos, sin, gaussian).

    Forward (rows :math:`x_i`, directions :math:`k`): :math:`\Theta = x\Gamma`,
    :math:`\Lambda_{ik} = q_k\|x_i\|^2 + \log C - M\|g_k\|^2`; the parameter tower
    :math:`\Psi = [\Psi^1, \Psi^2]` is :math:`e^{\Lambda^\Psi}` rotated by the phase :math:`\varphi`
    (:math:`\varphi_{jk} = b_j`; :math:`\zeta_k b_j` for gaussian).

    Backward. Split :math:`\Phi = [\Phi^{c} \mid \Phi^{s}]` and
    :math:`\partial\Phi = [\partial\Phi^{c} \mid \partial\Phi^{s}]` into their cos and sin halves.
    Because :math:`e^{\Lambda}\cos\Theta` and :math:`e^{\Lambda}\sin\Theta` are the features themselves,

    .. math:: \partial\Theta = \partial\Phi^{s}\odot\Phi^{c} - \partial\Phi^{c}\odot\Phi^{s}, \qquad
              \partial\Lambda = \partial\Phi^{c}\odot\Phi^{c} + \partial\Phi^{s}\odot\Phi^{s}, \qquad
              \frac{\partial L}{\partial x_i} = (\partial\Theta\,\Gamma^\top)_i
              + 2\Big(\sum_k q_k\,\partial\Lambda_{ik}\Big)x_i

    (for cos and sin :math:`\Gamma = \gamma G` and :math:`2q_k = 1`). On the parameter side, both arrangements
    satisfy :math:`\partial\Psi^1/\partial\varphi = \Psi^2`, :math:`\partial\Psi^2/\partial\varphi = -\Psi^1`
    and :math:`\partial\Psi/\partial\Lambda^\Psi = \Psi`, so with
    :math:`\partial\Psi = [\partial\Psi^1 \mid \partial\Psi^2]`

    .. math:: \partial\Lambda^\Psi = \partial\Psi^1\odot\Psi^1 + \partial\Psi^2\odot\Psi^2, \qquad
              \partial\varphi = \partial\Psi^1\odot\Psi^2 - \partial\Psi^2\odot\Psi^1,

    .. math:: \frac{\partial L}{\partial w_j} = (\partial\Lambda^\Psi (\gamma G)^\top)_j
              - \Big(\sum_k \partial\Lambda^\Psi_{jk}\Big) w_j, \qquad
              \frac{\partial L}{\partial b_j} = \sum_k \partial\varphi_{jk}\,\frac{\partial\varphi_{jk}}{\partial b_j}

    (the last factor is 1 for cos and sin, :math:`\zeta_k` for gaussian). The backward passes need
    only :math:`x` and :math:`\Phi` (:math:`w` and :math:`\Psi`).
    """

    features_per_direction = 2
    _quadratic_coefficient = 0.5
    #: +1 where the parameter tower's second moment adds Re Z² (cos), -1 where it subtracts it (sin).
    _second_moment_sign = 1.0

    def _forward_input(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        x_sq, projected, exponent = self._input_exponent(x)
        h = self._exp(exponent, x_sq, "x")
        features = np.concatenate([h * np.cos(projected), h * np.sin(projected)], axis=1)
        return features, (x, features)

    def _backward_input(self, d_phi: np.ndarray, cache: tuple) -> np.ndarray:
        x, features = cache
        m = self.n_directions
        d_cos, d_sin = d_phi[:, :m], d_phi[:, m:]
        h_cos, h_sin = features[:, :m], features[:, m:]
        d_projected = d_sin * h_cos - d_cos * h_sin  # e^Λ ⊙ (-∂Φᶜ ⊙ sinΘ + ∂Φˢ ⊙ cosΘ)
        d_exponent = d_cos * h_cos + d_sin * h_sin  # ∂Λ, since ∂Φ/∂Λ = Φ
        return self._input_gradient(x, d_projected, d_exponent)

    def _phase(self, b: np.ndarray) -> np.ndarray:
        """The phase of every feature: the bias itself, shape ``(l, 1)``."""
        return b[:, None]

    def _bias_gradient(self, d_phase: np.ndarray) -> np.ndarray:
        return d_phase.sum(axis=1)

    def _arrange(self, u: np.ndarray, cos_phase: np.ndarray, sin_phase: np.ndarray) -> np.ndarray:
        """The parameter tower from the magnitudes and the phase."""
        return cos_pair(u, cos_phase, sin_phase)

    def _forward_weights(self, w: np.ndarray, b: np.ndarray | None) -> tuple[np.ndarray, tuple]:
        w_sq, exponent = self._weight_exponent(w)
        u = self._exp(exponent, w_sq, "w")
        phase = self._phase(np.zeros(w.shape[0], dtype=self.dtype) if b is None else b)
        features = self._arrange(u, np.cos(phase), np.sin(phase))
        return features, (w, features, b is not None)

    def _backward_weights(self, d_psi: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray | None]:
        w, features, has_bias = cache
        m = self.n_directions
        d_first, d_second = d_psi[:, :m], d_psi[:, m:]
        first, second = features[:, :m], features[:, m:]
        d_exponent = d_first * first + d_second * second
        dw = self._weight_gradient(w, d_exponent)
        if not has_bias:
            return dw, None
        return dw, self._bias_gradient(d_first * second - d_second * first)

    def _direction_variance(self, x_sq: np.ndarray, w_sq: np.ndarray, s: np.ndarray, bias: np.ndarray) -> np.ndarray:
        log_p, eps, rho = self._second_moment_constants()
        second = 0.5 * np.exp(log_p + eps * w_sq) * (
            np.exp(x_sq) + self._second_moment_sign * np.exp(-eps * x_sq) * np.cos(4 * rho * s + 2 * bias)
        )
        return second - self.activation_function(s + bias) ** 2


class CosTower(TrigTower):
    r"""The cos tower: :math:`\Phi(x)^\top\Psi(w, b)` estimates :math:`\cos(w^\top x + b)`.

    :math:`\Phi = [h\cos\theta,\ h\sin\theta]`, :math:`\Psi = [u\cos b,\ -u\sin b]`, ``D = 2m``
    (:mod:`rpnumpy.features.trig`); forward and backward formulas in :class:`TrigTower`.

    Parameters
    ----------
    d, n_directions, variance_param, draws, rng, dtype
        See :class:`~rpnumpy.features.urf.GaussianLemmaTower`.

    Examples
    --------
    >>> import numpy as np
    >>> tower = CosTower(3, 200_000, rng=0)
    >>> x = np.array([[0.3, -0.2, 0.1]]); w = np.array([[0.2, 0.4, -0.3]]); b = np.array([0.5])
    >>> bool(abs(tower.estimate(x, w, b) - tower.target(x, w, b))[0, 0] < 0.02)
    True
    """

    activation = "cos"

    @staticmethod
    def activation_function(z: np.ndarray) -> np.ndarray:
        return np.cos(z)


class SinTower(TrigTower):
    r"""The sin tower: :math:`\Phi(x)^\top\Psi(w, b)` estimates :math:`\sin(w^\top x + b)`.

    The input tower is the cos tower's; :math:`\Psi = [\nu\sin b,\ \nu\cos b]`, ``D = 2m``
    (:mod:`rpnumpy.features.trig`); forward and backward formulas in :class:`TrigTower`.

    Parameters
    ----------
    d, n_directions, variance_param, draws, rng, dtype
        See :class:`~rpnumpy.features.urf.GaussianLemmaTower`.
    """

    activation = "sin"
    _second_moment_sign = -1.0

    @staticmethod
    def activation_function(z: np.ndarray) -> np.ndarray:
        return np.sin(z)

    def _arrange(self, u: np.ndarray, cos_phase: np.ndarray, sin_phase: np.ndarray) -> np.ndarray:
        return np.concatenate([u * sin_phase, u * cos_phase], axis=1)
