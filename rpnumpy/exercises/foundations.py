r"""Checks for the exercises of notebook 00 (foundations): the backward passes of a two-layer network.

The network is :math:`S = XW_1 + b_1`, :math:`Z = \max(S, 0)`, :math:`\hat Y = ZW_2 + b_2` and the mean
softmax cross-entropy of the logits :math:`\hat Y` against integer labels :math:`t`. Each check runs the
student's function on a usual batch, a single sample and an awkward shape (one output, a 3-d array, or
logits large enough to overflow ``np.exp``) and compares it with rpnumpy's own computation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..losses import SoftmaxCrossEntropy
from .feedback import ExerciseFailure, Feedback, attempt, compare, unpack, verdict

__all__ = ["check_affine_backward", "check_relu_backward", "check_cross_entropy_backward"]

#: Shapes (n, d_in, d_out) of the affine checks: a usual batch, a single sample and a single output.
_AFFINE_SHAPES = [(4, 5, 3), (1, 3, 2), (6, 2, 1), (3, 4, 4)]


def check_affine_backward(affine_backward: Callable) -> Feedback:
    r"""Exercise 0.1: the backward pass of :math:`y = xW + b`.

    The student's ``affine_backward(dy, cache)`` receives :math:`\delta = \partial L/\partial y`
    (shape ``(n, d_out)``) and ``cache = (x, W, b)`` and returns ``(dx, dW, db)``:
    :math:`\delta W^\top`, :math:`x^\top\delta`, :math:`\sum_i \delta_{i,:}`.
    """

    def run() -> str:
        rng = np.random.default_rng(0)
        for n, d, k in _AFFINE_SHAPES:
            x, W, b = rng.standard_normal((n, d)), rng.standard_normal((d, k)), rng.standard_normal(k)
            dy = rng.standard_normal((n, k))
            result = attempt(affine_backward, dy, (x, W, b), what="affine_backward")
            dx, dW, db = unpack(result, ("dx", "dW", "db"), "affine_backward")
            case = f"x of shape {x.shape}, W of shape {W.shape}"
            compare("dx", dx, dy @ W.T, case=case,
                    hints={"dx multiplies dy by W transposed; check which of W and W.T you used": dy @ W
                           if d == k else np.zeros(0)})
            compare("dW", dW, x.T @ dy, case=case,
                    hints={"dW sums over the whole batch: it is x transposed times dy": x[:1].T @ dy[:1],
                           "dW is x.T @ dy; yours is its transpose (dy.T @ x), which has the right shape only "
                           "when d_in = d_out": (dy.T @ x) if d == k else np.zeros(0)})
            compare("db", db, dy.sum(axis=0), case=case,
                    hints={"db sums dy over the batch axis (axis=0), not over the outputs":
                           dy.sum(axis=1) if n == k else np.zeros(0),
                           "db is the sum over the batch, not the mean": dy.mean(axis=0)})
        return f"{len(_AFFINE_SHAPES)} inputs, including a single sample and a single output"

    return verdict("Exercise 0.1: the affine layer's backward pass", run)


def check_relu_backward(relu_backward: Callable) -> Feedback:
    r"""Exercise 0.2: the backward pass of :math:`y = \max(x, 0)`: :math:`\delta \odot [x > 0]`.

    The student's ``relu_backward(dy, x)`` receives the upstream gradient and the layer's input.
    """

    def run() -> str:
        rng = np.random.default_rng(1)
        for shape in [(4, 6), (1, 3), (2, 3, 4)]:
            x = rng.standard_normal(shape)
            x.flat[0] = 0.0  # the kink: its derivative is taken as 0
            dy = rng.standard_normal(shape)
            dx = attempt(relu_backward, dy, x, what="relu_backward")
            compare("dx", dx, dy * (x > 0), case=f"x of shape {shape}",
                    hints={"the derivative of ReLU multiplies dy; it does not replace it": (x > 0).astype(float),
                           "at x = 0 exactly, take the derivative as 0 (x > 0, not x >= 0)": dy * (x >= 0),
                           "the mask is where the input x was positive, not where dy is": dy * (dy > 0)})
        return "3 inputs, a 3-d one and the kink at 0 included"

    return verdict("Exercise 0.2: ReLU's backward pass", run)


def _softmax(logits: np.ndarray, axis: int = 1) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _cross_entropy_cases(rng: np.random.Generator) -> list[tuple[str, np.ndarray, np.ndarray]]:
    big = np.array([[1000.0, 0.0, -1000.0], [-800.0, 800.0, 799.0]])
    return [
        ("5 samples, 4 classes", rng.standard_normal((5, 4)) * 2, rng.integers(0, 4, size=5)),
        ("a single sample", rng.standard_normal((1, 3)), np.array([2])),
        ("2 classes", rng.standard_normal((6, 2)), np.array([0, 1, 1, 0, 1, 0])),
        ("logits of size 1000 (np.exp(1000) overflows)", big, np.array([1, 2])),
    ]


def check_cross_entropy_backward(cross_entropy_backward: Callable) -> Feedback:
    r"""Exercise 0.3: the gradient of the mean softmax cross-entropy with respect to the logits.

    The student's ``cross_entropy_backward(logits, t)`` receives logits :math:`\hat Y` of shape
    ``(n, d_out)`` and integer labels ``t`` of shape ``(n,)`` and returns
    :math:`\partial L/\partial \hat Y = (\operatorname{softmax}(\hat Y) - T)/n`, ``T`` the one-hot labels,
    finite even for logits of size 1000. The expected value comes from
    :class:`rpnumpy.losses.SoftmaxCrossEntropy`.
    """

    def run() -> str:
        rng = np.random.default_rng(2)
        for case, logits, t in _cross_entropy_cases(rng):
            large = bool(np.abs(logits).max() > 100)
            n = logits.shape[0]
            loss = SoftmaxCrossEntropy()
            loss.forward(logits, t)
            expected = loss.backward()
            with np.errstate(all="ignore"):  # a naive softmax overflows on the large logits: say so below
                dlogits = attempt(cross_entropy_backward, logits, t, what="cross_entropy_backward")
            onehot = np.eye(logits.shape[1])[t]
            probabilities = _softmax(logits)
            try:
                compare("dlogits", dlogits, expected, case=case,
                        hints={"divide by the batch size n: the loss is a mean over the batch":
                               probabilities - onehot,
                               "the sign is flipped: it is softmax minus one-hot, not one-hot minus softmax":
                               (onehot - probabilities) / n,
                               "subtract the one-hot labels from the probabilities": probabilities / n,
                               "softmax normalises each row (axis=1), over the classes of one sample":
                               (_softmax(logits, axis=0) - onehot) / n})
            except ExerciseFailure as failure:
                if large and not any(line.startswith("hint:") for line in failure.lines):
                    failure.lines.append("hint: subtract each row's maximum before np.exp (the log-sum-exp "
                                         "trick): it changes no probability, and no exponent is then positive")
                raise
        return "4 inputs, a single sample, 2 classes and logits of size 1000 included"

    return verdict("Exercise 0.3: the gradient of the softmax cross-entropy", run)
