r"""Property-based gradient checks (hypothesis): every layer case at random sizes, batch sizes and seeds.

For each registered case, hypothesis draws every size of the case inside its ``dim_ranges``, a
batch size from 1 to 5 and a seed; the layer (parameters moved off their initial values) must pass
the central-difference check in float64 (relative error < 1e-7 for every parameter and the input),
with output and input-gradient shapes as the case predicts.

Random small sizes also produce arrays whose whole gradient is tiny: a single saturated sigmoid
unit, a ReLU CNN with one output in which almost every unit is off. A relative error cannot judge
those, because central differences have a round-off floor: each evaluation of
:math:`L = \sum y \odot \delta` is off by a few :math:`\varepsilon \sum |y \odot \delta|`, so the
difference quotient is off by about :math:`\varepsilon \sum|y \odot \delta| / (2h)`, around 1e-10
here. An array passes if its relative error is below 1e-7 **or** its absolute error is below
:data:`ROUNDOFF_MARGIN` times that floor (both in the report). A wrong gradient is off by the size
of the gradient itself, far above the floor unless the gradient is itself at the round-off level.

The example count is bounded so that the whole file runs in well under a minute, and the examples
are derandomized (the same ones on every run) so CI never flakes. For a longer, randomized
exploration set ``RPNUMPY_HYPOTHESIS_EXPLORE=1`` (200 fresh examples per case).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rpnumpy.gradcheck import DEFAULT_STEP, PASS_THRESHOLD
from rpnumpy.testing.cases import LAYER_CASES, LayerCase, check_case_gradients

EXPLORE = os.environ.get("RPNUMPY_HYPOTHESIS_EXPLORE") == "1"
SETTINGS = settings(
    max_examples=200 if EXPLORE else 6,
    deadline=None,
    derandomize=not EXPLORE,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
#: How many times the central difference's round-off estimate an absolute error may reach.
ROUNDOFF_MARGIN = 10.0


@st.composite
def sized_samples(draw, case: LayerCase):
    """A resized copy of ``case`` (every size drawn in its range), a batch size and a seed."""
    dims = {key: draw(st.integers(low, high), label=key) for key, (low, high) in case.dim_ranges.items()}
    n = draw(st.integers(1, 5), label="batch")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    return case.with_dims(**dims), n, seed


@pytest.mark.parametrize("case", LAYER_CASES, ids=[case.name for case in LAYER_CASES])
def test_gradient_check_passes_at_random_sizes(case):
    if not (case.build().params or case.input_grad):
        pytest.skip(f"{case.name} has no parameters and no input gradient: nothing to differentiate")
    @SETTINGS
    @given(sized_samples(case))
    def check(sample):
        resized, n, seed = sample
        rng = np.random.default_rng(seed)
        layer = resized.build(np.float64, rng)
        x = resized.make_input(np.float64, rng, n)
        y = layer.forward(x)
        assert y.shape == resized.output_shape(n)
        dy = rng.standard_normal(y.shape)
        report = check_case_gradients(resized, layer, x, dy=dy, title=f"{resized.name} {dict(resized.dims)} n={n}")
        floor = ROUNDOFF_MARGIN * np.finfo(np.float64).eps * np.sum(np.abs(y * dy)) / (2 * DEFAULT_STEP)
        for row in report.rows:
            assert row.relative_error < PASS_THRESHOLD or row.absolute_error < floor, (
                f"{row.name}: round-off floor {floor:.1e}\n{report}")
        assert {row.name for row in report.rows} == set(layer.params) | ({"x"} if case.input_grad else set())

    check()
