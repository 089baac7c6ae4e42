"""Every registered layer case against an independent HIPS-autograd implementation of its formulas.

Forward outputs and every gradient (each parameter and the input) must agree with the reference to
a relative error below 1e-10 in float64; the reference in ``rpnumpy/testing/autograd_reference.py``
differentiates its forward pass automatically and never sees rpnumpy's code.
"""

from __future__ import annotations

import pytest
from conftest import assert_reference_loads_alone

from rpnumpy.layers import PRP
from rpnumpy.testing import autograd_reference
from rpnumpy.testing.cases import LAYER_CASES, get_case
from rpnumpy.testing.compare import REFERENCE_TOL, compare_with_reference, describe

IDS = [case.name for case in LAYER_CASES]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_forward_and_gradients_match_autograd(case, seed):
    errors = compare_with_reference(case, autograd_reference.value_and_gradients, seed)
    assert max(errors.values()) < REFERENCE_TOL, f"{case.name}: {describe(errors)}"


def test_every_registered_layer_class_has_an_autograd_reference():
    assert {case.layer for case in LAYER_CASES} <= set(autograd_reference.FORWARDS)


def test_a_dropped_factor_in_a_backward_pass_is_caught(monkeypatch):
    """The comparison can fail: PRP's input gradient without its factor alpha is off by far more than 1e-10."""

    def without_alpha(self, dy, cache):
        return self._param_backward(dy, cache)  # the bug: dL/dx is G_U * alpha, the factor alpha is missing

    monkeypatch.setattr(PRP, "_backward", without_alpha)
    errors = compare_with_reference(get_case("PRP[gaussian]"), autograd_reference.value_and_gradients)
    assert errors["x"] > 1e-2
    assert max(v for k, v in errors.items() if k != "x") < REFERENCE_TOL  # the report points at the input gradient


def test_the_reference_does_not_import_rpnumpy():
    assert_reference_loads_alone("autograd_reference.py")
