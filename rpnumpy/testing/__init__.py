"""Testing tools: the registry of layer cases, the contract checks and independent references.

* :mod:`rpnumpy.testing.cases`: :data:`LAYER_CASES`, a small named configuration of every layer
  with its input, over which the contract tests, the reference comparisons, the property-based
  tests and ``python -m rpnumpy gradcheck`` all run.
* :mod:`rpnumpy.testing.contract`: :func:`check_layer` and :func:`check_backward_contract`, the
  rules every layer keeps, usable on a layer of your own.
* :mod:`rpnumpy.testing.autograd_reference` and :mod:`rpnumpy.testing.torch_reference`: the forward
  pass of every layer written again in HIPS autograd and in PyTorch, with gradients by automatic
  differentiation; :func:`compare_with_reference` compares a case with one of them. They need the
  optional packages ``autograd`` and ``torch`` and are imported only when used.
"""

from .cases import (
    LAYER_CASES,
    LayerCase,
    case_rng,
    check_case_gradients,
    covered_layers,
    get_case,
    perturb_params,
    registry_summary,
)
from .compare import REFERENCE_TOL, compare_with_reference, describe
from .contract import ContractError, check_backward_contract, check_layer

__all__ = [
    "LAYER_CASES",
    "REFERENCE_TOL",
    "ContractError",
    "LayerCase",
    "case_rng",
    "check_backward_contract",
    "check_case_gradients",
    "check_layer",
    "compare_with_reference",
    "covered_layers",
    "describe",
    "get_case",
    "perturb_params",
    "registry_summary",
]
