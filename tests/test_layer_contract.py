"""The layer contract, checked on every registered layer case (``rpnumpy.testing.cases.LAYER_CASES``).

For each case: shapes (and that samples are processed independently), dtype preservation
(float32 in, float32 out, and the float32 layer computing the float64 layer's function to float32
precision), the gradient check in float64, determinism under a seed, no gradient and no update for
buffers, the backward contract (overwrite, same arrays, ``input_grad=False``), the inference function
(equal to ``forward``, cache untouched) and the save/load round trip. The number of layers and cases
covered is printed at the end of the test run.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import rpnumpy
from rpnumpy._deprecation import DEPRECATED_MODULES
from rpnumpy.features import FEATURE_DRAWS, FEATURE_MAPS
from rpnumpy.gradcheck import PASS_THRESHOLD, relative_error
from rpnumpy.io import load_model, save_model
from rpnumpy.layers import EUGEN_DRAWS, HALF_SCHEMES, LAYER_REGISTRY, PRP_SCHEMES
from rpnumpy.layers import half as half_module
from rpnumpy.layers import prp as prp_module
from rpnumpy.optim import SGD, Adam
from rpnumpy.testing import check_backward_contract
from rpnumpy.testing.cases import LAYER_CASES, check_case_gradients, covered_layers, get_case, registry_summary

IDS = [case.name for case in LAYER_CASES]
SEED = 20240607

#: float32 against float64 outputs of the same case: float32 round-off is 6e-8 per operation; these
#: small layers chain a few dozen operations, so 1e-4 (about 1,700 units of round-off) is a wide
#: margin that a wrong dtype path (a float16 step, say, with round-off 5e-4) would still break.
FLOAT32_TOL = 1e-4


def _arrays_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)


def _run(layer, x, dy, input_grad=True):
    """Forward and backward; ``dx`` is None for a layer without an input gradient."""
    y = layer.forward(x)
    dx = layer.backward(dy, input_grad=input_grad)
    return y, dx, {k: g.copy() for k, g in layer.grads.items()}


@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_shapes_and_per_sample_independence(case):
    layer, x, dy = case.sample(SEED)
    y, dx, grads = _run(layer, x, dy, case.input_grad)
    assert x.shape == case.input_shape(len(x))
    assert y.shape == case.output_shape(len(x))
    assert dx is None if not case.input_grad else dx.shape == x.shape
    assert grads.keys() == layer.params.keys()
    for key, g in grads.items():
        assert g.shape == layer.params[key].shape
    # Each sample is processed on its own: a batch's rows equal the rows computed one at a time.
    single = np.concatenate([layer.forward(x[i : i + 1]) for i in range(len(x))])
    assert relative_error(single, y) < 1e-13


@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_dtype_is_preserved(case):
    layer32, x32, dy32 = case.sample(SEED, dtype=np.float32)
    for group in (layer32.params, layer32.buffers):
        for key, value in group.items():
            assert value.dtype == np.float32, key
    y32, dx32, grads32 = _run(layer32, x32, dy32, case.input_grad)
    assert y32.dtype == np.float32 and (dx32 is None or dx32.dtype == np.float32)
    assert all(g.dtype == np.float32 for g in grads32.values())
    # The same draws in float64: the float32 layer computes the same function, to float32 precision.
    y64, dx64, grads64 = _run(*case.sample(SEED, dtype=np.float64), case.input_grad)
    assert relative_error(y32, y64) < FLOAT32_TOL
    if case.input_grad:
        assert relative_error(dx32, dx64) < FLOAT32_TOL
    for key in grads64:
        assert relative_error(grads32[key], grads64[key]) < FLOAT32_TOL, key
    if layer32.dtype is not None:  # a typed layer refuses the other dtype instead of casting silently
        with pytest.raises(TypeError, match=r"dtypes are never changed silently"):
            layer32.forward(x32.astype(np.float64))


@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_gradients_match_central_differences(case):
    layer, x, _ = case.sample(SEED)
    if not (layer.params or case.input_grad):
        pytest.skip(f"{case.name} has no parameters and no input gradient: nothing to differentiate")
    report = check_case_gradients(case, layer, x, rng=SEED, title=case.name)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    assert {row.name for row in report.rows} == set(layer.params) | ({"x"} if case.input_grad else set())
    assert report.buffers == list(layer.buffers)


@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_deterministic_under_a_seed(case):
    first, second = case.sample(SEED), case.sample(SEED)
    assert _arrays_equal(first[0].params, second[0].params)
    assert _arrays_equal(first[0].buffers, second[0].buffers)
    np.testing.assert_array_equal(first[1], second[1])
    y1, dx1, g1 = _run(*first, case.input_grad)
    y2, dx2, g2 = _run(*second, case.input_grad)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(dx1, dx2)
    assert _arrays_equal(g1, g2)
    # The layer's own initialisation too (no perturbation), and its configuration rebuilds the
    # seeded fixed matrices bit for bit.
    layer = case.build(np.float64, SEED, perturb=False)
    assert _arrays_equal(layer.params, case.build(np.float64, SEED, perturb=False).params)
    rebuilt = type(layer).from_config(layer.get_config())
    for key in layer.rebuildable_buffers:
        np.testing.assert_array_equal(rebuilt.buffers[key], layer.buffers[key])
    # Another seed draws other fixed matrices.
    if layer.buffers:
        other = case.build(np.float64, SEED + 1)
        assert any(not np.array_equal(other.buffers[k], layer.buffers[k]) for k in layer.buffers)


@pytest.mark.parametrize("optimizer", [SGD, Adam])
@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_buffers_get_no_gradient_and_no_update(case, optimizer):
    layer, x, dy = case.sample(SEED)
    buffers_before = {k: v.copy() for k, v in layer.buffers.items()}
    params_before = {k: v.copy() for k, v in layer.params.items()}
    assert not set(layer.buffers) & set(layer.params)
    for key, buffer in layer.buffers.items():
        assert not any(np.shares_memory(buffer, array) for array in (*layer.params.values(), *layer.grads.values()))
        np.testing.assert_array_equal(layer.buffer_grads[key], np.zeros_like(buffer))
    step = optimizer(layer, lr=0.1)
    _run(layer, x, dy, case.input_grad)
    step.step()
    assert _arrays_equal(layer.buffers, buffers_before)
    if layer.params:  # the step did update the parameters
        assert not _arrays_equal(layer.params, params_before)


@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_backward_contract(case):
    layer, x, dy = case.sample(SEED)
    if case.input_grad:
        check_backward_contract(layer, x, np.random.default_rng(SEED))
        return
    # A layer without an input gradient says so instead of returning something wrong, and still
    # fills its parameters' gradients in place, overwriting them.
    arrays = dict(layer.grads)
    _, dx, first = _run(layer, x, dy, input_grad=False)
    _, _, second = _run(layer, x, dy, input_grad=False)
    assert dx is None and _arrays_equal(first, second)
    assert all(layer.grads[k] is arrays[k] for k in arrays)
    with pytest.raises(NotImplementedError, match=r"computes no input gradient"):
        layer.backward(dy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_inference_function_matches_forward_and_keeps_the_cache(case, dtype):
    layer, x, dy = case.sample(SEED, dtype=dtype)
    rng = np.random.default_rng(SEED)
    for value in layer.params.values():  # away from the initial values, so that folding is exercised
        value *= 1 + 0.1 * rng.standard_normal(value.shape).astype(dtype)
        value += 0.01 * rng.standard_normal(value.shape).astype(dtype)
    x_other = x[::-1].copy()
    expected_other = layer.forward(x_other)
    _, expected_dx, expected_grads = _run(layer, x, dy, case.input_grad)

    layer.forward(x)  # the cache backward will use
    run = layer.inference_function()
    out = run(x_other)
    assert out.dtype == expected_other.dtype and out.shape == expected_other.shape
    assert relative_error(out, expected_other) < (FLOAT32_TOL if dtype == np.float32 else 1e-12)
    # backward still differentiates the last forward, not the inference call
    dx = layer.backward(dy, input_grad=case.input_grad)
    assert (dx is None) == (expected_dx is None) and (dx is None or np.array_equal(dx, expected_dx))
    assert _arrays_equal({k: g.copy() for k, g in layer.grads.items()}, expected_grads)


@pytest.mark.parametrize("store_buffers", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", LAYER_CASES, ids=IDS)
def test_save_load_round_trip(case, dtype, store_buffers, tmp_path):
    layer, x, dy = case.sample(SEED, dtype=dtype)
    loaded = load_model(save_model(layer, tmp_path / "layer.npz", store_buffers=store_buffers))
    assert type(loaded) is type(layer) and loaded.get_config() == layer.get_config()
    assert _arrays_equal(loaded.params, layer.params)
    assert _arrays_equal(loaded.buffers, layer.buffers)
    y, dx, grads = _run(layer, x, dy, case.input_grad)
    y_loaded, dx_loaded, grads_loaded = _run(loaded, x, dy, case.input_grad)
    np.testing.assert_array_equal(y_loaded, y)
    np.testing.assert_array_equal(dx_loaded, dx)
    assert _arrays_equal(grads_loaded, grads)


# -- the registry itself --------------------------------------------------------------------------------------


def test_every_library_layer_class_is_covered():
    """A layer added to rpnumpy without a case here fails this test (test-only subclasses are ignored)."""
    for module in pkgutil.walk_packages(rpnumpy.__path__, "rpnumpy."):
        # Importing every module registers every layer class (the deprecated forwarding modules hold none).
        if not module.name.endswith("__main__") and module.name not in DEPRECATED_MODULES:
            try:
                importlib.import_module(module.name)
            except ModuleNotFoundError as exc:  # the PyTorch reference without its optional extra
                if exc.name != "torch":
                    raise
    library = {name for name, cls in LAYER_REGISTRY.items()
               if cls.__module__.startswith("rpnumpy.") and not name.startswith("_")}
    assert library - set(covered_layers()) == set()


def test_every_random_matrix_scheme_is_covered():
    names = [case.name for case in LAYER_CASES]
    ours = getattr(half_module, "_OUR_SCHEMES", ())  # schemes that are ours, besides the papers' ("srht")
    for scheme in (*HALF_SCHEMES.values(), *ours):
        assert any(name.startswith(f"HalfLayer[{scheme},") for name in names), scheme
    for scheme in (*PRP_SCHEMES, *getattr(prp_module, "_OUR_SCHEMES", ())):
        assert f"PRP[{scheme}]" in names
    for scheme in PRP_SCHEMES:
        assert any(name.startswith("PRPAutoencoder[") and f",{scheme}," in name for name in names), scheme
    for activation in FEATURE_MAPS:
        for draws in FEATURE_DRAWS:
            assert f"SNNK[{activation},{draws}]" in names
    for draws in EUGEN_DRAWS:
        assert any(name.startswith("EUGen[") and f",{draws}" in name for name in names), draws
    for order in (1, 2, 3):
        assert any(name.startswith(f"EUGen[order{order},") for name in names), order


def test_case_sizes_and_lookup_are_validated():
    case = get_case("Dense")
    assert case.with_dims(d_in=2).build().params["W"].shape == (2, case.dims["d_out"])
    with pytest.raises(ValueError, match=r"Dense: d_in must lie in \[1, 7\], got 9"):
        case.with_dims(d_in=9)
    with pytest.raises(ValueError, match=r"Dense has no size 'width'"):
        case.with_dims(width=3)
    with pytest.raises(ValueError, match=r"unknown layer case 'Dense\[huge\]'"):
        get_case("Dense[huge]")


def test_registry_counts():
    n_layers, n_cases = len(covered_layers()), len(LAYER_CASES)
    assert registry_summary() == f"{n_layers} layers, {n_cases} cases"
    assert n_cases >= n_layers >= 22
