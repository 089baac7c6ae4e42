r"""Optimizers that update a model's ``params`` in place from its ``grads``.

An optimizer is built on anything with ``params`` and ``grads`` dictionaries
(a layer or a :class:`~rpnumpy.layers.Sequential`). It keeps references to
those arrays, so build it *after* the model is in its final dtype. Buffers
(fixed random matrices) are never seen and never updated.

The update rules follow PyTorch's definitions exactly, so that rpnumpy and
PyTorch runs with the same hyper-parameters are comparable step for step.
Each ``step`` is written as its equations read; parameters are updated in place
(the optimizer and the model share the arrays). :class:`rpnumpy.fast.FusedAdam`
is the same Adam update computed with fewer passes over memory, for training
speed, with moments that would turn subnormal set to zero (subnormal arithmetic
is many times slower on some CPUs), and is tested equal to :class:`Adam`.
"""

from __future__ import annotations

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
        self.velocity = [np.zeros_like(p) for p in self.params]

    def step(self) -> None:
        self.t += 1
        for theta, grad, v in zip(self.params, self.grads, self.velocity):
            g = grad + self.weight_decay * theta if self.weight_decay else grad
            if self.momentum:
                v[...] = g if self.t == 1 else self.momentum * v + g
                g = v
            theta -= self.lr * g


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, Algorithm 1).

    With :math:`g_t = \nabla_\theta L + \lambda\theta` (weight decay :math:`\lambda`, L2 as in
    PyTorch's ``Adam``, not AdamW), moments started at zero:

    .. math::

        m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2, \\
        \hat m_t &= \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad
        \theta_t = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon} .

    The bias corrections :math:`1-\beta^t` undo the pull of the zero start towards zero in the
    first steps. This is PyTorch's formulation (:math:`\epsilon` added after the square root).

    Parameters
    ----------
    model : object with ``params`` and ``grads``
    lr : float, default=1e-3
        :math:`\eta`.
    betas : (float, float), default=(0.9, 0.999)
    eps : float, default=1e-8
    weight_decay : float >= 0, default=0.0

    Attributes
    ----------
    m, v : list of ndarray
        The moments :math:`m_t, v_t`, one array per parameter.

    See Also
    --------
    rpnumpy.fast.FusedAdam : the same update in fewer passes over memory, without subnormal moments.
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
        self._init_moments()

    def _init_moments(self) -> None:
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]

    def step(self) -> None:
        self.t += 1
        b1, b2, t = self.beta1, self.beta2, self.t
        for theta, grad, m, v in zip(self.params, self.grads, self.m, self.v):
            g = grad + self.weight_decay * theta if self.weight_decay else grad
            m[...] = b1 * m + (1 - b1) * g
            v[...] = b2 * v + (1 - b2) * g * g
            m_hat = m / (1 - b1**t)
            v_hat = v / (1 - b2**t)
            theta -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
