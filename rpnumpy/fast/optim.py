r"""Adam in fewer passes over memory, without subnormal moments: :class:`FusedAdam`, equal to the textbook Adam."""

from __future__ import annotations

import math

import numpy as np

from ..optim import Adam

__all__ = ["FLUSH_EVERY", "FusedAdam"]

#: Steps between two flushes of subnormal moments to zero (see :class:`FusedAdam`).
FLUSH_EVERY = 16


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

    **Subnormal moments are flushed to zero.** Where a gradient stays zero (a pixel that is
    always blank, a dead ReLU unit), :math:`\tilde m` shrinks by :math:`\beta_1` every step until
    it falls below the smallest normal number of its dtype (``np.finfo(dtype).tiny``, 1.2e-38 in
    float32) and lives on as a subnormal number for about 150 more steps. Many x86 CPUs compute
    on subnormals through a slow microcode path (65 times slower per element on the Intel Xeon
    of benchmarks/RESULTS.md), and after a few epochs of MNIST training half of a layer's
    moments can be subnormal. So every :data:`FLUSH_EVERY` steps the entries with
    :math:`|\tilde m| < \tau_1 = \mathrm{tiny}/\beta_1^{K}` (and
    :math:`\tilde v < \tau_2 = \mathrm{tiny}/\beta_2^{K}`), :math:`K` = :data:`FLUSH_EVERY`,
    are set to zero: an entry above :math:`\tau` cannot decay below tiny before the next flush.
    A :math:`\beta` below 1/2 is counted as 1/2, so that :math:`\tau \le 2^K\,\mathrm{tiny}`
    (such a moment may then pass through the subnormal range between two flushes: slower, not wrong).
    The update changes by less than :math:`\tau_1 s_t/\epsilon` per entry (below 1e-32 in float32
    with the default hyper-parameters, far under a float32 parameter's rounding), and its
    denominator by a relative :math:`\sqrt{\tau_2}/\epsilon` (1e-11). In float64, tiny is
    2.2e-308 and nothing is flushed in practice.

    :attr:`m` and :attr:`v` give the textbook moments (new arrays).
    """

    def _init_moments(self) -> None:
        self.m_sum = [np.zeros_like(p) for p in self.params]  # m / (1 - beta1)
        self.v_sum = [np.zeros_like(p) for p in self.params]  # v / (1 - beta2)
        self._scratch = [np.empty_like(p) for p in self.params]
        self._small = [np.empty(p.shape, dtype=bool) for p in self.params]
        # Below these an entry could decay into the subnormal range before the next flush;
        # a beta under 1/2 is counted as 1/2 so that a threshold stays within 2**16 of tiny.
        self._flush_below = [
            (np.finfo(p.dtype).tiny / max(self.beta1, 0.5) ** FLUSH_EVERY,
             np.finfo(p.dtype).tiny / max(self.beta2, 0.5) ** FLUSH_EVERY)
            for p in self.params
        ]

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
        if self.t % FLUSH_EVERY == 0:
            self._flush_small_moments()

    def _flush_small_moments(self) -> None:
        """Set the moments that could become subnormal before the next flush to zero, in place."""
        for m, v, tmp, small, (tau_m, tau_v) in zip(
            self.m_sum, self.v_sum, self._scratch, self._small, self._flush_below
        ):
            np.less(np.abs(m, out=tmp), tau_m, out=small)
            np.copyto(m, 0, where=small)
            np.less(v, tau_v, out=small)
            np.copyto(v, 0, where=small)
