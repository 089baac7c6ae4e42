"""Checks of the layer contract that any layer, rpnumpy's or your own, can be put through.

:func:`check_layer` runs them all on one layer and one input batch and raises
:class:`ContractError` (an ``AssertionError``) naming the rule that is broken:

* **gradients**: ``backward`` agrees with central differences (float64, relative error below
  :data:`~rpnumpy.gradcheck.PASS_THRESHOLD`) for every parameter and the input;
* **backward** (:func:`check_backward_contract`): ``grads`` has the keys of ``params``, ``backward``
  overwrites instead of accumulating, writes into the same arrays every time (optimizers hold
  references to them), and with ``input_grad=False`` returns None and leaves the parameter gradients
  exactly as the full pass computed them;
* **buffers**: a fixed random matrix shares no memory with a parameter or a gradient, and an
  optimizer step leaves it unchanged;
* **inference**: :meth:`~rpnumpy.layers.Layer.inference_function` computes ``forward``'s output and
  leaves the cache alone (a ``backward`` after it still differentiates the last ``forward``).

Examples
--------
>>> import numpy as np
>>> from rpnumpy.layers import PRP
>>> from rpnumpy.testing import check_layer, perturb_params
>>> layer = perturb_params(PRP(6, 4, rng=0), np.random.default_rng(1))
>>> check_layer(layer, np.random.default_rng(2).standard_normal((3, 6)))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import as_generator
from ..gradcheck import PASS_THRESHOLD, check_gradients, relative_error

__all__ = ["ContractError", "check_backward_contract", "check_layer"]


class ContractError(AssertionError):
    """A layer breaks a rule of the layer contract; the message names the rule and the array."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def check_backward_contract(layer: Any, x: np.ndarray, rng: Any = 0) -> None:
    """The rules of ``backward`` (see the module docstring), for one input batch.

    Raises
    ------
    ContractError
        Naming the rule that is broken.
    """
    gen = as_generator(rng)
    name = type(layer).__name__
    _require(layer.params.keys() == layer.grads.keys(),
             f"{name}: grads must have the keys of params, got {sorted(layer.grads)} and {sorted(layer.params)}")
    arrays = dict(layer.grads)
    dy = gen.standard_normal(layer.forward(x).shape).astype(x.dtype)
    dx1 = layer.backward(dy)
    first = {k: g.copy() for k, g in layer.grads.items()}
    dx2 = layer.backward(dy)
    _require(dx1 is not None and dx1.shape == x.shape,
             f"{name}: backward must return dL/dx of the input's shape {x.shape}, got "
             f"{None if dx1 is None else dx1.shape}")
    _require(np.array_equal(dx1, dx2), f"{name}: two backward calls with the same dy gave different dx")
    for key, g in layer.grads.items():
        _require(np.array_equal(g, first[key]), f"{name}: grads[{key!r}] accumulates; backward must overwrite it")
        _require(g is arrays[key], f"{name}: grads[{key!r}] was replaced by a new array; write into it in place")
    _require(layer.backward(dy, input_grad=False) is None, f"{name}: backward(dy, input_grad=False) must return None")
    for key, g in layer.grads.items():
        _require(np.array_equal(g, first[key]),
                 f"{name}: with input_grad=False, grads[{key!r}] differs from the full backward pass's")
        _require(g is arrays[key], f"{name}: grads[{key!r}] was replaced by a new array; write into it in place")


def _check_buffers(layer: Any, x: np.ndarray, rng: np.random.Generator) -> None:
    from ..optim import SGD

    name = type(layer).__name__
    before = {k: v.copy() for k, v in layer.buffers.items()}
    for key, buffer in layer.buffers.items():
        _require(key not in layer.params, f"{name}: {key!r} is both a buffer and a parameter")
        shared = [k for k, a in (*layer.params.items(), *layer.grads.items()) if np.shares_memory(buffer, a)]
        _require(not shared, f"{name}: buffer {key!r} shares memory with {shared}")
    if layer.params:
        y = layer.forward(x)
        layer.backward(rng.standard_normal(y.shape).astype(y.dtype), input_grad=False)
        SGD(layer, lr=0.1).step()
    for key, value in layer.buffers.items():
        _require(np.array_equal(value, before[key]), f"{name}: an optimizer step changed buffer {key!r}")


def _check_inference(layer: Any, x: np.ndarray, rng: np.random.Generator) -> None:
    name = type(layer).__name__
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape).astype(y.dtype)
    expected_dx = layer.backward(dy)
    expected = {k: g.copy() for k, g in layer.grads.items()}
    other = x[::-1].copy()
    reference = layer.forward(other)
    layer.forward(x)
    out = layer.inference_function()(other)
    tolerance = 1e-4 if out.dtype == np.float32 else 1e-12
    _require(out.shape == reference.shape and out.dtype == reference.dtype,
             f"{name}: inference_function gives {out.shape} {out.dtype}, forward {reference.shape} {reference.dtype}")
    error = relative_error(out, reference)
    _require(error < tolerance, f"{name}: inference_function differs from forward by {error:.1e} (> {tolerance:g})")
    dx = layer.backward(dy)
    _require(np.array_equal(dx, expected_dx), f"{name}: inference_function changed the cache backward uses")
    for key, g in layer.grads.items():
        _require(np.array_equal(g, expected[key]), f"{name}: inference_function changed the cache backward uses")


def check_layer(layer: Any, x: np.ndarray, *, rng: Any = 0, gradients: bool = True) -> None:
    """Put ``layer`` through every check of the module docstring with the input batch ``x``.

    Parameters
    ----------
    layer : Layer
        Move its parameters off their initial values first (:func:`~rpnumpy.testing.perturb_params`):
        a backward pass that swaps two parameters can pass a check at a symmetric start.
    x : ndarray
        A small batch (a few rows) in the layer's dtype. The gradient check needs float64.
    rng : int or numpy.random.Generator, default=0
        For the upstream gradients.
    gradients : bool, default=True
        Run the central-difference gradient check (float64 only).

    Raises
    ------
    ContractError
        Naming the rule that is broken.
    """
    gen = as_generator(rng)
    if gradients:
        report = check_gradients(layer, x, rng=gen, title=type(layer).__name__)
        _require(report.passed(), f"{type(layer).__name__}: the gradient check failed "
                                  f"(threshold {PASS_THRESHOLD:.0e}):\n{report}")
    check_backward_contract(layer, x, gen)
    _check_inference(layer, x, gen)
    _check_buffers(layer, x, gen)
