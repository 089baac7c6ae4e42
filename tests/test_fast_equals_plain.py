"""Every fast form against the plain form it replaces where speed matters (see :mod:`rpnumpy.fast`).

==========================================  ============================================  ========================
fast form                                   plain form                                    agreement checked
==========================================  ============================================  ========================
``rpnumpy.fast.FusedAdam``                  ``rpnumpy.optim.Adam``                        1e-12 relative, 200 steps
``FusedAdam``, subnormal moments zeroed     ``rpnumpy.optim.Adam``                        1e-6 relative, 901 steps
``fit(batch_buffer=True)``                  ``fit(batch_buffer=False)`` (``x[rows]``)     bit for bit
``rpnumpy.fast.fwht_blocked``               ``rpnumpy.hadamard.fwht`` (radix 2)           exact on integers, 1e-12
HalfLayer / PRP ``"srht"`` backward         the same layer over the dense matrix          1e-12 absolute
``EUGen.inference_function``                ``EUGen.forward``                             1e-12 relative
``closed_form.RidgeAccumulator`` (stream)   ``closed_form.ridge_normal_equations``        1e-10 relative
==========================================  ============================================  ========================
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import random_grads_sequence, run_planted_steps

from rpnumpy.closed_form import RidgeAccumulator, fit_ridge, ridge_normal_equations
from rpnumpy.fast import FusedAdam, eugen_inference, fwht_blocked
from rpnumpy.gradcheck import PASS_THRESHOLD, check_gradients, relative_error
from rpnumpy.hadamard import fwht
from rpnumpy.layers import PRP, Dense, EUGen, HalfLayer, ReLU, Sequential
from rpnumpy.losses import SoftmaxCrossEntropy
from rpnumpy.optim import Adam
from rpnumpy.testing import check_backward_contract, perturb_params
from rpnumpy.training import fit


def _blobs(rng, n=300, dtype=np.float64):
    y = rng.integers(0, 3, n)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    x = (centers[y] + 0.5 * rng.standard_normal((n, 2))).astype(dtype)
    return x, y


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_adam_equals_the_textbook_adam(weight_decay, dtype, rng):
    """The fast form against the plain one over 200 steps: relative difference below 1e-12 (float64), 1e-5 (float32)."""
    plain = Sequential(Dense(7, 5, rng=0, dtype=dtype), ReLU(), Dense(5, 3, rng=1, dtype=dtype))
    fused = Sequential(Dense(7, 5, rng=0, dtype=dtype), ReLU(), Dense(5, 3, rng=1, dtype=dtype))
    seq = [{k: g.astype(dtype) for k, g in grads.items()} for grads in random_grads_sequence(plain, rng, 200)]
    a = Adam(plain, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=weight_decay)
    b = FusedAdam(fused, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=weight_decay)
    run_planted_steps(plain, a, seq)
    run_planted_steps(fused, b, seq)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for key in plain.params:
        scale = np.abs(plain.params[key]).max()
        assert np.abs(plain.params[key] - fused.params[key]).max() <= tol * scale, key
        assert fused.params[key].dtype == dtype
    for mine, theirs in zip(a.m + a.v, b.m + b.v):
        np.testing.assert_allclose(theirs, mine, rtol=1e-10 if dtype == np.float64 else 1e-4, atol=1e-30)


def _subnormal_count(arrays) -> int:
    return sum(int(np.count_nonzero((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny))) for a in arrays)


def test_fused_adam_zeroes_moments_before_they_turn_subnormal(rng):
    """A gradient that stops: the textbook m decays into subnormals; FusedAdam's is zeroed first, same parameters."""
    plain = Dense(6, 4, rng=0, dtype=np.float32)
    fused = Dense(6, 4, rng=0, dtype=np.float32)
    first = random_grads_sequence(plain, rng, 1)
    stopped = [{k: np.zeros_like(g) for k, g in first[0].items()}] * 900  # m = 0.1 g 0.9^t reaches 1e-38 by t ~ 800
    a, b = Adam(plain, lr=1e-3), FusedAdam(fused, lr=1e-3)
    run_planted_steps(plain, a, first + stopped)
    run_planted_steps(fused, b, first + stopped)
    assert _subnormal_count(a.m) > 0  # what the flush prevents
    assert _subnormal_count(b.m_sum + b.v_sum) == 0
    assert np.count_nonzero(np.concatenate([m.ravel() for m in b.m_sum])) == 0  # flushed, not merely rescaled
    for key in plain.params:
        scale = np.abs(plain.params[key]).max()
        assert np.abs(plain.params[key] - fused.params[key]).max() <= 1e-6 * scale, key


def test_fused_adam_flush_threshold_stays_within_a_factor_of_tiny():
    """tau = tiny / max(beta, 1/2)^K: a few times tiny for the default betas, at most 2^K times tiny for any beta."""
    from rpnumpy.fast.optim import FLUSH_EVERY

    model = Dense(2, 2, rng=0, dtype=np.float32)
    tiny = np.finfo(np.float32).tiny
    (tau_m, tau_v), *_ = FusedAdam(model)._flush_below
    assert tau_m == pytest.approx(tiny / 0.9**FLUSH_EVERY) and tau_m < 6 * tiny
    assert tau_v == pytest.approx(tiny / 0.999**FLUSH_EVERY) and tau_v < 1.02 * tiny
    (tau_m, tau_v), *_ = FusedAdam(model, betas=(0.0, 0.1))._flush_below
    assert tau_m == tau_v == pytest.approx(tiny * 2.0**FLUSH_EVERY)


def test_the_batch_buffer_gives_the_same_training_as_fancy_indexing(rng):
    """The fast form (one reused buffer) against the plain one (x[rows]): the same batches, bit for bit."""
    x, y = _blobs(rng)
    results = []
    for batch_buffer in (True, False):
        model = Sequential(Dense(2, 8, rng=0), ReLU(), Dense(8, 3, rng=1))
        hist = fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=Adam(model, lr=0.01), epochs=3,
                   batch_size=32, rng=5, progress=False, batch_buffer=batch_buffer)
        results.append((model, hist))
    (fast, h_fast), (plain, h_plain) = results
    assert h_fast.loss == h_plain.loss
    for key in fast.params:
        np.testing.assert_array_equal(fast.params[key], plain.params[key])


@pytest.mark.parametrize("d", [1, 2, 8, 32, 64, 512, 2048, 2**14])
@pytest.mark.parametrize("max_factor", [2, 4, 32])
def test_blocked_fwht_equals_the_radix2_transform(d, max_factor, rng):
    """The fast form against the plain one: exactly on integers (every sum is exact), to 1e-12 on floats."""
    integers = rng.integers(-1000, 1000, size=(3, d)).astype(np.float64)
    np.testing.assert_array_equal(fwht_blocked(integers, max_factor=max_factor), fwht(integers))
    x = rng.standard_normal((3, d))
    expected = fwht(x)
    np.testing.assert_allclose(fwht_blocked(x, max_factor=max_factor), expected, rtol=1e-12, atol=1e-12 * d)
    y = x.copy()
    assert fwht_blocked(y, out=y, max_factor=max_factor) is y  # in place, for odd and even numbers of factors
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12 * d)


def _prp_dense_twin(layer: PRP) -> PRP:
    twin = PRP(layer.d_in, layer.d_out, scheme="gaussian", rng=0)
    np.copyto(twin.buffers["P"], layer.buffers["P"])
    for key, value in layer.params.items():
        np.copyto(twin.params[key], value)
    return twin


def _half_dense_twin(layer: HalfLayer) -> HalfLayer:
    twin = HalfLayer(layer.d_in, layer.d_out, scheme="normal", activation=layer.activation, rng=0)
    np.copyto(twin.buffers["R"], layer.buffers["R"])
    for key, value in layer.params.items():
        np.copyto(twin.params[key], value)
    return twin


@pytest.mark.parametrize(("d_in", "d_out"), [(24, 10), (16, 40), (33, 33)])
def test_half_layer_srht_gradcheck_and_equals_the_dense_path(d_in, d_out, rng):
    layer = HalfLayer(d_in, d_out, scheme="srht", activation="tanh", rng=4)
    np.testing.assert_array_equal(np.abs(layer.buffers["R"]), 1.0)  # entries +-1, like the binary scheme
    np.testing.assert_allclose(layer.params["u"], 1 / math.sqrt(d_in), rtol=1e-14)
    layer.params["u0"][...] = rng.standard_normal(d_out)
    x = rng.standard_normal((5, d_in))
    report = check_gradients(layer, x, rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    twin = _half_dense_twin(layer)
    dz = rng.standard_normal((5, d_out))
    np.testing.assert_allclose(layer.forward(x), twin.forward(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dz), twin.backward(dz), rtol=0, atol=1e-12)
    for key in layer.grads:
        np.testing.assert_allclose(layer.grads[key], twin.grads[key], rtol=0, atol=1e-12)
    check_backward_contract(layer, x, rng)


@pytest.mark.parametrize(("d_in", "d_out"), [(24, 10), (16, 40), (32, 32)])
def test_prp_srht_gradcheck_and_equals_the_dense_path(d_in, d_out, rng):
    layer = PRP(d_in, d_out, scheme="srht", rng=5)
    np.testing.assert_allclose(np.linalg.norm(layer.buffers["P"], axis=0), 1.0, rtol=1e-13)
    for key in layer.params:
        layer.params[key][...] = rng.uniform(0.5, 1.5, layer.params[key].shape)
    x = rng.standard_normal((5, d_in))
    report = check_gradients(layer, x, rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    twin = _prp_dense_twin(layer)
    dy = rng.standard_normal((5, d_out))
    np.testing.assert_allclose(layer.forward(x), twin.forward(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dy), twin.backward(dy), rtol=0, atol=1e-12)
    for key in layer.grads:
        np.testing.assert_allclose(layer.grads[key], twin.grads[key], rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.effective_weight, twin.effective_weight, rtol=0, atol=0)
    check_backward_contract(layer, x, rng)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_eugen_inference_equals_the_forward_pass(order, dtype, rng):
    layer = perturb_params(EUGen(9, 4, 6, order, rng=3, dtype=dtype), rng)
    x = rng.standard_normal((11, 9)).astype(dtype) * 0.5
    expected = layer.forward(x)
    run = eugen_inference(layer)
    assert relative_error(run(x), expected) < (1e-12 if dtype == np.float64 else 1e-5)
    assert relative_error(run(x[:4]), expected[:4]) < (1e-12 if dtype == np.float64 else 1e-5)  # another batch size
    assert relative_error(run(x), expected) < (1e-12 if dtype == np.float64 else 1e-5)  # buffers reused cleanly


def test_eugen_inference_is_safe_from_several_threads(rng):
    from concurrent.futures import ThreadPoolExecutor

    layer = perturb_params(EUGen(9, 4, 6, 3, rng=3), rng)
    inputs = [rng.standard_normal((n, 9)) for n in (5, 7, 5, 9, 7, 5) * 4]
    expected = [layer.forward(x) for x in inputs]
    run = layer.inference_function()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, inputs))
    for got, want in zip(results, expected):
        assert relative_error(got, want) < 1e-12


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.0, 1e-3, 10.0])
def test_streamed_ridge_equals_the_normal_equations(fit_intercept, l2, rng):
    Z = rng.standard_normal((500, 12))
    Y = Z @ rng.standard_normal((12, 3)) + 2.0 + 0.1 * rng.standard_normal((500, 3))
    coef, intercept = ridge_normal_equations(Z, Y, l2, fit_intercept=fit_intercept)
    acc = RidgeAccumulator(12, 3, fit_intercept=fit_intercept)
    for lo in range(0, 500, 64):
        acc.update(Z[lo:lo + 64], Y[lo:lo + 64])
    streamed = acc.solve(l2)
    assert relative_error(streamed[0], coef) < 1e-10
    assert relative_error(streamed[1], intercept) < 1e-10 or not fit_intercept
    assert relative_error(fit_ridge(Z, Y, l2, fit_intercept=fit_intercept, batch_size=100)[0], coef) < 1e-10
    # The plain form is the textbook solution: the gradient of the penalised loss vanishes there.
    residual = Z @ coef + intercept - Y
    gradient = Z.T @ residual + l2 * coef
    assert np.abs(gradient).max() < 1e-9 * np.abs(Z.T @ Y).max()
