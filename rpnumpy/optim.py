r"""Optimizers that update a model's ``params`` in place from its ``grads``.

An optimizer is built on anything with ``params`` and ``grads`` dictionaries
(a layer or a :class:`~rpnumpy.layers.Sequential`). It keeps references to
those arrays, so build it *after* the model is in its final dtype. Buffers
(fixed random matrices) are never seen and never updated.

The update rules follow PyTorch's definitions exactly, so that rpnumpy and
PyTorch runs with the same hyper-parameters are comparable step for step.
Every update is done in place with preallocated scratch arrays: a step
allocates nothing proportional to the model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._validation import check_positive_float, check_probability

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """Base class. Subclasses implement :meth:`step`."""

    def __init__(self, model: Any, lr: float) -> None:
        params = getattr(model, "params", None)
        grads = getattr(model, "grads", None)
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise TypeError(
                f"model must have 'params' and 'grads' dictionaries, got {type(model).__name__}"
            )
        if params.keys() != grads.keys():
            raise ValueError(
                f"model.params and model.grads must have the same keys, got {sorted(params)} and {sorted(grads)}"
            )
        self.lr = check_positive_float(lr, "lr")
        self.names = list(params)
        self.params = [params[k] for k in self.names]
        self.grads = [grads[k] for k in self.names]
        self.t = 0

    def step(self) -> None:
        """Apply one update to every parameter, in place."""
        raise NotImplementedError


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum and weight decay.

    With :math:`g_t = \nabla_\theta L + \lambda\theta` (weight decay
    :math:`\lambda`) and velocity :math:`v`:

    .. math:: v_t = \mu v_{t-1} + g_t, \qquad \theta_t = \theta_{t-1} - \eta v_t

    (:math:`v_1 = g_1`), or plain :math:`\theta_t = \theta_{t-1} - \eta g_t`
    when :math:`\mu = 0`.

    Parameters
    ----------
    model : object with ``params`` and ``grads``
    lr : float, default=0.01
        Learning rate :math:`\eta`.
    momentum : float in [0, 1), default=0.0
        :math:`\mu`.
    weight_decay : float >= 0, default=0.0
        :math:`\lambda` (an L2 penalty :math:`\tfrac{\lambda}{2}\|\theta\|^2`).
    """

    def __init__(self, model: Any, lr: float = 0.01, *, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(model, lr)
        self.momentum = check_probability(momentum, "momentum")
        self.weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
        self.velocity = [np.zeros_like(p) for p in self.params] if self.momentum else []
        self._scratch = [np.empty_like(p) for p in self.params]

    def step(self) -> None:
        self.t += 1
        for i, (p, g) in enumerate(zip(self.params, self.grads)):
            tmp = self._scratch[i]
            if self.weight_decay:
                np.multiply(p, self.weight_decay, out=tmp)
                tmp += g
                g = tmp
            if self.momentum:
                v = self.velocity[i]
                if self.t == 1:
                    np.copyto(v, g)
                else:
                    v *= self.momentum
                    v += g
                g = v
            np.multiply(g, self.lr, out=tmp)
            p -= tmp


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), in PyTorch's formulation.

    .. math::

        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \theta_t &= \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
                    \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Parameters
    ----------
    model : object with ``params`` and ``grads``
    lr : float, default=1e-3
    betas : (float, float), default=(0.9, 0.999)
    eps : float, default=1e-8
    weight_decay : float >= 0, default=0.0
        Added to the gradient as :math:`\lambda\theta` (L2, not AdamW).

    Notes
    -----
    How the step is computed (ours; the same update up to floating-point
    rounding). A step is a handful of passes over every parameter, and for
    a small network they cost as much as the matrix products, so it is
    written to make as few passes as possible, in place, with one scratch
    array per parameter. The moments are kept as exponentially weighted
    *sums*, :math:`\tilde m = m/(1-\beta_1)` and :math:`\tilde v = v/(1-\beta_2)`:

    .. math::

        \tilde m_t = \beta_1 \tilde m_{t-1} + g_t, \qquad
        \tilde v_t = \beta_2 \tilde v_{t-1} + g_t^2, \qquad
        \theta_t = \theta_{t-1} - \frac{\tilde m_t}{a_t \sqrt{\tilde v_t} + e_t},

    with :math:`s_t = \eta(1-\beta_1)/(1-\beta_1^t)`,
    :math:`a_t = \sqrt{(1-\beta_2)/(1-\beta_2^t)}\,/\,s_t` and
    :math:`e_t = \epsilon/s_t` (divide the numerator and denominator of the
    textbook update by :math:`s_t`). All constants are folded into the two
    scalars :math:`a_t, e_t`, so a step is 10 passes over memory (2 for
    :math:`\tilde m`, 3 for :math:`\tilde v`, 5 for the update) instead of 13.
    :attr:`m` and :attr:`v` give the textbook moments.
    """

    def __init__(
        self,
        model: Any,
        lr: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(model, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1 = check_probability(betas[0], "betas[0]")
        self.beta2 = check_probability(betas[1], "betas[1]")
        self.eps = check_positive_float(eps, "eps")
        self.weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
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
