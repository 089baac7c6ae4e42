"""Checks for the exercises of notebook 00 (foundations): an affine layer and ReLU by hand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .feedback import Feedback, attempt, compare, unpack, verdict

__all__ = ["check_affine_backward", "check_relu_backward"]

#: Shapes (n, d, k) of the checks: a usual batch, a single sample and a single output.
_AFFINE_SHAPES = [(4, 5, 3), (1, 3, 2), (6, 2, 1)]


def check_affine_backward(affine_backward: Callable) -> Feedback:
    r"""Exercise 0.1: the backward pass of :math:`y = xW + b`.

    The student's ``affine_backward(dout, cache)`` receives :math:`\delta = \partial L/\partial y` and
    ``cache = (x, W, b)`` and returns ``(dx, dW, db)``: :math:`\delta W^\top`, :math:`x^\top\delta`,
    :math:`\sum_n \delta_n`.
    """

    def run() -> str:
        rng = np.random.default_rng(0)
        for n, d, k in _AFFINE_SHAPES:
            x, W, b = rng.standard_normal((n, d)), rng.standard_normal((d, k)), rng.standard_normal(k)
            dout = rng.standard_normal((n, k))
            result = attempt(affine_backward, dout, (x, W, b), what="affine_backward")
            dx, dW, db = unpack(result, ("dx", "dW", "db"), "affine_backward")
            case = f"x of shape {x.shape}, W of shape {W.shape}"
            compare("dx", dx, dout @ W.T, case=case,
                    hints={"dx is dout times W, not W transposed the other way round: check the factor order": (
                        (W @ dout.T).T if d == k else np.zeros(0))})
            compare("dW", dW, x.T @ dout, case=case,
                    hints={"dW sums over the batch: it is x transposed times dout": x[0][:, None] * dout[0]})
            compare("db", db, dout.sum(axis=0), case=case,
                    hints={"db sums dout over the batch axis (axis=0), not over the outputs":
                           dout.sum(axis=1) if n == k else np.zeros(0),
                           "db is the sum over the batch, not the mean": dout.mean(axis=0)})
        return f"{len(_AFFINE_SHAPES)} inputs, including a single sample and a single output"

    return verdict("Exercise 0.1: the affine layer's backward pass", run)


def check_relu_backward(relu_backward: Callable) -> Feedback:
    r"""Exercise 0.2: the backward pass of :math:`y = \max(x, 0)`: :math:`\delta \odot [x > 0]`."""

    def run() -> str:
        rng = np.random.default_rng(1)
        for shape in [(4, 6), (1, 3), (2, 3, 4)]:
            x = rng.standard_normal(shape)
            x.flat[0] = 0.0  # the kink: its derivative is taken as 0
            dout = rng.standard_normal(shape)
            dx = attempt(relu_backward, dout, x, what="relu_backward")
            compare("dx", dx, dout * (x > 0), case=f"x of shape {shape}",
                    hints={"the derivative of ReLU multiplies dout; it does not replace it": (x > 0).astype(float),
                           "at x = 0 exactly, take the derivative as 0 (x > 0, not x >= 0)": dout * (x >= 0)})
        return "3 inputs, a 3-d one and the kink at 0 included"

    return verdict("Exercise 0.2: ReLU's backward pass", run)
