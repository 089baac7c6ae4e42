"""Every registered layer case against an independent PyTorch (float64, torch.autograd) implementation.

Forward outputs and every gradient (each parameter and the input) must agree to a relative error
below 1e-10. PyTorch is an optional extra (``pip install rpnumpy[torch]``; CI installs it): without
it these tests are skipped, with that reason.
"""

from __future__ import annotations

import pytest
from conftest import assert_reference_loads_alone

torch = pytest.importorskip(
    "torch", reason="PyTorch is not installed (optional extra: pip install 'rpnumpy[torch]'); "
    "the PyTorch reference comparison is skipped"
)

from rpnumpy.testing import torch_reference  # noqa: E402  (needs torch)
from rpnumpy.testing.cases import LAYER_CASES  # noqa: E402
from rpnumpy.testing.compare import REFERENCE_TOL, compare_with_reference, describe  # noqa: E402

pytestmark = pytest.mark.torch
IDS = [case.name for case in LAYER_CASES]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_forward_and_gradients_match_pytorch(case, seed):
    errors = compare_with_reference(case, torch_reference.value_and_gradients, seed)
    assert max(errors.values()) < REFERENCE_TOL, f"{case.name}: {describe(errors)}"


def test_every_registered_layer_class_has_a_pytorch_reference():
    assert {case.layer for case in LAYER_CASES} <= set(torch_reference.FORWARDS)


def test_the_reference_does_not_import_rpnumpy():
    assert_reference_loads_alone("torch_reference.py")
