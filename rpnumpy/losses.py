r"""Losses with their gradients.

A loss follows the layer contract's shape: ``forward(prediction, target)``
returns the scalar loss (a Python float) and ``backward()`` returns
:math:`\partial L/\partial\,\text{prediction}` for the last forward call, in
the prediction's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import check_float_array

__all__ = ["Loss", "SoftmaxCrossEntropy", "MeanSquaredError", "log_softmax"]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    r"""Row-wise :math:`\log\operatorname{softmax}(\hat y)_k = \hat y_k - \log\sum_j e^{\hat y_j}`, computed stably.

    The log-sum-exp is taken after subtracting the row maximum :math:`\mu = \max_j \hat y_j`:
    :math:`\log\sum_j e^{\hat y_j} = \mu + \log\sum_j e^{\hat y_j - \mu}`, so no exponent is
    positive and nothing overflows, even for logits of 1e4.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


class Loss:
    """Base class: ``forward(prediction, target) -> float`` and ``backward() -> dL/dprediction``."""

    def __init__(self) -> None:
        self._cache: Any = None

    def __call__(self, prediction: np.ndarray, target: np.ndarray) -> float:
        return self.forward(prediction, target)

    def forward(self, prediction: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward was called before forward")
        return self._backward(self._cache)

    def _backward(self, cache: Any) -> np.ndarray:
        raise NotImplementedError

    def check_target(self, target: Any, prediction: np.ndarray, name: str = "target") -> None:
        """Raise if ``target`` cannot be compared with ``prediction`` (shape, dtype, label range).

        Lets a training loop refuse bad targets before its first step.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SoftmaxCrossEntropy(Loss):
    r"""Mean cross-entropy of a softmax over logits, for integer class labels.

    Forward, for logits :math:`\hat y` of shape ``(n, d_out)`` (one row :math:`\hat y_i` per sample) and
    labels :math:`t_i \in \{0, \dots, d_{out}-1\}`:

    .. math:: L = -\frac{1}{n}\sum_{i=1}^{n} \log \operatorname{softmax}(\hat y_i)_{t_i}
              = \frac{1}{n}\sum_i \Big(\operatorname{logsumexp}(\hat y_i) - \hat y_{i,t_i}\Big)

    Backward:

    .. math:: \frac{\partial L}{\partial \hat y_{ik}} = \frac{1}{n}\big(\operatorname{softmax}(\hat y_i)_k
              - [k = t_i]\big)

    The softmax and the cross-entropy are fused: the gradient is exact and
    well conditioned, where differentiating a separate softmax layer would
    divide by probabilities that underflow to 0.
    """

    def check_target(self, target: Any, prediction: np.ndarray, name: str = "target") -> None:
        _check_labels(target, check_float_array(prediction, "prediction", ndim=2), name)

    def forward(self, prediction: np.ndarray, target: np.ndarray) -> float:
        logits = _check_not_empty(check_float_array(prediction, "prediction", ndim=2))
        labels = _check_labels(target, logits)
        logp = log_softmax(logits)
        rows = np.arange(logits.shape[0])
        loss = -float(logp[rows, labels].mean(dtype=np.float64))
        self._cache = (logp, labels)
        return loss

    def _backward(self, cache):
        logp, labels = cache
        n = logp.shape[0]
        grad = np.exp(logp)
        grad[np.arange(n), labels] -= 1
        grad *= 1.0 / n
        return grad


class MeanSquaredError(Loss):
    r"""Mean squared error over every entry.

    .. math:: L = \frac{1}{N}\sum_{i,k} (\hat y_{ik} - y_{ik})^2, \qquad
              \frac{\partial L}{\partial \hat y} = \frac{2}{N}(\hat y - y)

    with :math:`N` the number of entries (``prediction.size``).
    """

    def check_target(self, target: Any, prediction: np.ndarray, name: str = "target") -> None:
        prediction = check_float_array(prediction, "prediction")
        target = check_float_array(target, name, dtype=prediction.dtype)
        if target.shape[1:] != prediction.shape[1:] or target.shape[0] != prediction.shape[0]:
            raise ValueError(f"{name} must have the prediction's shape {prediction.shape}, got {target.shape}")

    def forward(self, prediction: np.ndarray, target: np.ndarray) -> float:
        self.check_target(target, prediction)
        _check_not_empty(prediction)
        diff = prediction - target
        self._cache = diff
        return float(np.mean(diff * diff, dtype=np.float64))

    def _backward(self, diff):
        return diff * (2.0 / diff.size)


def _check_not_empty(prediction: np.ndarray) -> np.ndarray:
    if prediction.size == 0:
        raise ValueError(f"prediction must hold at least one value: the mean loss of an empty batch is undefined, "
                         f"got shape {prediction.shape}")
    return prediction


def _check_labels(target: Any, logits: np.ndarray, name: str = "target") -> np.ndarray:
    if not isinstance(target, np.ndarray) or not np.issubdtype(target.dtype, np.integer):
        kind = target.dtype if isinstance(target, np.ndarray) else type(target).__name__
        raise TypeError(f"{name} must be an integer array of class labels, got {kind}")
    if target.shape != (logits.shape[0],):
        raise ValueError(f"{name} must have shape ({logits.shape[0]},) to match the logits, got {target.shape}")
    if target.size and (target.min() < 0 or target.max() >= logits.shape[1]):
        raise ValueError(
            f"{name} labels must lie in [0, {logits.shape[1] - 1}] for {logits.shape[1]} classes, "
            f"got values from {target.min()} to {target.max()}"
        )
    return target
