r"""The learning-rate range test: sweep the rate up exponentially and watch the loss.

Starting from a fresh model, the rate at step :math:`t` of :math:`T` is

.. math:: \eta_t = \eta_{min} \left(\eta_{max}/\eta_{min}\right)^{t/(T-1)},

one mini-batch per step. The loss is smoothed with a bias-corrected
exponential moving average,

.. math:: a_t = \beta a_{t-1} + (1 - \beta) L_t, \quad a_{-1} = 0, \qquad \hat L_t = a_t / (1 - \beta^{t+1}),

with :math:`\beta = 0.98`, and the sweep stops early when :math:`\hat L_t`
exceeds ``stop_factor`` times its minimum so far (or the loss turns
non-finite). The suggested rate is the rate at the smoothed minimum divided by
ten: a rate where the loss still falls fast, safely below the point where it
blows up. This is the generic procedure, not a grid of rates taken from any
one paper. :func:`rpnumpy.plotting.plot_lr_range` (or ``result.plot()``) draws
the curve.

References
----------
L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", IEEE
Winter Conference on Applications of Computer Vision (WACV) 2017, Section 3.3
("How can one estimate reasonable minimum and maximum boundary values?"): the
range test, one short run with the rate increased from a small to a large
value while the accuracy is watched. Smith increases the rate linearly over a
few epochs; the exponential sweep here spends the same number of steps on
every order of magnitude, and watches the smoothed loss instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import as_generator, check_float_array, check_positive_float, check_positive_int, check_probability
from .losses import Loss

__all__ = ["LRRangeResult", "lr_range_test"]


@dataclass
class LRRangeResult:
    """Rates tried, raw and smoothed losses, and the suggested rate."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggested_lr: float
    best_lr: float

    def plot(self, ax: Any = None, label: str | None = None) -> Any:
        """Smoothed loss against the rate (log axis), with the suggestion marked; returns the Axes.

        Same as :func:`rpnumpy.plotting.plot_lr_range` ``(self, ax, label=label)``.
        """
        from .plotting import plot_lr_range

        return plot_lr_range(self, ax, label=label)


def lr_range_test(
    build: Callable[[], tuple[Any, Any]],
    x: np.ndarray,
    y: np.ndarray,
    *,
    loss: Loss,
    lr_min: float = 1e-6,
    lr_max: float = 1.0,
    steps: int = 300,
    batch_size: int = 128,
    beta: float = 0.98,
    stop_factor: float = 4.0,
    rng: Any = None,
) -> LRRangeResult:
    """Run the learning-rate range test.

    Parameters
    ----------
    build : callable returning (model, optimizer)
        Makes a *fresh* model and its optimizer; the optimizer's ``lr``
        attribute is set before every step.
    x, y : ndarray
        Training data (in the model's dtype) and labels or targets.
    loss : Loss
    lr_min, lr_max : float
        The sweep's end points.
    steps : int, default=300
    batch_size : int, default=128
    beta : float, default=0.98
        Smoothing of the loss.
    stop_factor : float, default=4.0
        Stop when the smoothed loss exceeds this multiple of its minimum.
    rng : None, int or Generator
        Drives the batch sampling.

    Returns
    -------
    LRRangeResult
    """
    lr_min = check_positive_float(lr_min, "lr_min")
    lr_max = check_positive_float(lr_max, "lr_max")
    if lr_max <= lr_min:
        raise ValueError(f"lr_max must exceed lr_min={lr_min:g}, got {lr_max:g}")
    steps = check_positive_int(steps, "steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    beta = check_probability(beta, "beta")
    check_float_array(x, "x")
    if len(y) != len(x):
        raise ValueError(f"x and y must have the same number of samples, got {len(x)} and {len(y)}")
    gen = as_generator(rng)
    model, optimizer = build()
    lrs = lr_min * (lr_max / lr_min) ** (np.arange(steps) / max(steps - 1, 1))
    raw, smooth = [], []
    average, best = 0.0, math.inf
    for t, lr in enumerate(lrs):
        idx = gen.integers(0, len(x), size=batch_size)
        optimizer.lr = float(lr)
        value = loss.forward(model.forward(x[idx]), y[idx])
        if not math.isfinite(value):
            break
        model.backward(loss.backward(), input_grad=False)
        optimizer.step()
        average = beta * average + (1 - beta) * value
        smoothed = average / (1 - beta ** (t + 1))
        raw.append(value)
        smooth.append(smoothed)
        best = min(best, smoothed)
        if smoothed > stop_factor * best:
            break
    smooth_arr = np.array(smooth)
    best_lr = float(lrs[int(np.argmin(smooth_arr))])
    return LRRangeResult(lrs[: len(raw)], np.array(raw), smooth_arr, best_lr / 10.0, best_lr)
