"""The rpnumpy side of the reference comparisons (this module imports rpnumpy; the references do not)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..gradcheck import relative_error
from .cases import LayerCase

#: Forward outputs and every gradient must agree with a reference to this relative error (float64).
REFERENCE_TOL = 1e-10

Reference = Callable[..., tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]]


def compare_with_reference(case: LayerCase, reference: Reference, seed: int = 0) -> dict[str, float]:
    """Relative errors between rpnumpy and ``reference`` for one sample of ``case``.

    The reference receives only plain data: the layer's spec (``get_config()``), copies of its
    parameters and buffers, the input and the upstream gradient. Keys of the result: ``"output"``,
    ``"x"`` (the input gradient) and ``"grad/<param>"``.
    """
    layer, x, dy = case.sample(seed)
    spec = {"class": type(layer).__name__, "config": layer.get_config()}
    params = {k: v.copy() for k, v in layer.params.items()}
    buffers = {k: v.copy() for k, v in layer.buffers.items()}
    y = layer.forward(x)
    dx = layer.backward(dy, input_grad=case.input_grad)
    y_ref, grads_ref, dx_ref = reference(spec, params, buffers, x.copy(), dy.copy())
    if set(grads_ref) != set(layer.grads):
        raise AssertionError(f"{case.name}: the reference has gradients {sorted(grads_ref)}, "
                             f"rpnumpy {sorted(layer.grads)}")
    errors = {"output": relative_error(y, y_ref)}
    if case.input_grad:
        errors["x"] = relative_error(dx, dx_ref)
    errors.update({f"grad/{k}": relative_error(g, grads_ref[k]) for k, g in layer.grads.items()})
    return errors


def describe(errors: dict[str, float]) -> str:
    """The errors as one line, worst first (for assertion messages)."""
    return ", ".join(f"{k} {v:.1e}" for k, v in sorted(errors.items(), key=lambda kv: -kv[1]))
