r"""Adam in fewer passes over memory: :class:`FusedAdam`, equal to :class:`rpnumpy.optim.Adam`."""

from __future__ import annotations

import math

import numpy as np

from ..optim import Adam

__all__ = ["FusedAdam"]


class FusedAdam(Adam):
    r"""The Adam update of :class:`~rpnumpy.optim.Adam`, with every constant folded into two scalars.

    For a small network a step of Adam costs as much as the matrix products, because it makes a
    dozen passes over every parameter. This class keeps the moments as exponentially weighted
    *sums*, :math:`\tilde m = m/(1-\beta_1)` and :math:`\tilde v = v/(1-\beta_2)`:

    .. math::

        \tilde m_t = \beta_1 \tilde m_{t-1} + g_t, \qquad
        \tilde v_t = \beta_2 \tilde v_{t-1} + g_t^2, \qquad
        \theta_t = \theta_{t-1} - \frac{\tilde m_t}{a_t \sqrt{\tilde v_t} + e_t},

    with :math:`s_t = \eta(1-\beta_1)/(1-\beta_1^t)`,
    :math:`a_t = \sqrt{(1-\beta_2)/(1-\beta_2^t)}\,/\,s_t` and :math:`e_t = \epsilon/s_t`: the
    textbook update with its numerator and denominator divided by :math:`s_t`. A step is then 10
    passes over memory (2 for :math:`\tilde m`, 3 for :math:`\tilde v`, 5 for the update), in place,
    with one scratch array per parameter. It equals :class:`~rpnumpy.optim.Adam` up to rounding
    (the tests check a relative difference below 1e-12 in float64 after many steps).

    :attr:`m` and :attr:`v` give the textbook moments (new arrays).
    """

    def _init_moments(self) -> None:
        self.m_sum = [np.zeros_like(p) for p in self.params]  # m / (1 - beta1)
        self.v_sum = [np.zeros_like(p) for p in self.params]  # v / (1 - beta2)
        self._scratch = [np.empty_like(p) for p in self.params]

    @property
    def m(self) -> list[np.ndarray]:
        """The first moments :math:`m_t`, one new array per parameter."""
        return [(1.0 - self.beta1) * m for m in self.m_sum]

    @property
    def v(self) -> list[np.ndarray]:
        """The second moments :math:`v_t`, one new array per parameter."""
        return [(1.0 - self.beta2) * v for v in self.v_sum]

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        s = self.lr * (1.0 - b1) / (1.0 - b1**self.t)
        a = math.sqrt((1.0 - b2) / (1.0 - b2**self.t)) / s
        e = self.eps / s
        for p, g, m, v, tmp in zip(self.params, self.grads, self.m_sum, self.v_sum, self._scratch):
            if self.weight_decay:  # g + lambda * theta, in the scratch array (squared in place below)
                np.multiply(p, self.weight_decay, out=tmp)
                tmp += g
                g = tmp
            m *= b1
            m += g
            np.multiply(g, g, out=tmp)
            v *= b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp *= a
            tmp += e
            np.divide(m, tmp, out=tmp)
            p -= tmp
