"""Closed-form layer-wise transfer (rpnumpy.transfer): exactness, the input option, merging, the data-free variant."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rpnumpy.gradcheck import PASS_THRESHOLD, check_gradients
from rpnumpy.layers import Dense, LowRank, ReLU, Sequential, Tanh
from rpnumpy.layers.eugen import EUGen
from rpnumpy.layers.snnk import SNNK
from rpnumpy.polyfit import fit_polynomial
from rpnumpy.testing import check_backward_contract
from rpnumpy.transfer import (
    EUGenFactory,
    LowRankFactory,
    PolynomialActivation,
    SNNKFactory,
    fit_layer,
    merge_linear,
    set_data_free,
    transfer,
    transfer_to_eugen,
)

QUADRATIC = [0.3, -0.5, 0.25]  # sigma(s) = 0.3 - 0.5 s + 0.25 s^2, a negative coefficient included


def _poly_teacher(seed: int = 0) -> Sequential:
    """4 -> 6 -> 5 -> 3 with quadratic activations: an EUGen student of order 2 can represent it exactly."""
    return Sequential(Dense(4, 6, rng=seed, init="lecun"), PolynomialActivation(QUADRATIC),
                      Dense(6, 5, rng=seed + 1, init="lecun"), PolynomialActivation(QUADRATIC),
                      Dense(5, 3, rng=seed + 2, init="lecun"))


def _relu_teacher(d: int = 12, seed: int = 0) -> Sequential:
    return Sequential(Dense(d, 10, rng=seed), ReLU(), Dense(10, 8, rng=seed + 1), ReLU(), Dense(8, 3, rng=seed + 2))


# -- the polynomial activation -------------------------------------------------------------------------
def test_polynomial_activation_values_gradients_and_dtype(rng):
    layer = PolynomialActivation([1.0, -2.0, 0.0, 0.5])
    x = rng.standard_normal((4, 5))
    np.testing.assert_allclose(layer.forward(x), 1 - 2 * x + 0.5 * x**3, rtol=1e-14)
    report = check_gradients(layer, x, rng=0)
    assert report.max_relative_error < PASS_THRESHOLD, str(report)
    check_backward_contract(layer, x, rng)
    assert layer.forward(x.astype(np.float32)).dtype == np.float32
    assert PolynomialActivation.from_config(layer.get_config()).coefficients.tolist() == [1.0, -2.0, 0.0, 0.5]
    with pytest.raises(ValueError, match="coefficients must be a non-empty 1-D sequence"):
        PolynomialActivation([])


# -- exactness on a teacher the student can represent ----------------------------------------------------
@pytest.mark.parametrize("merge", [False, True])
def test_student_reproduces_an_exactly_representable_teacher(merge, rng):
    # Order-2 features of x+ (p = d + 2 entries) span every quadratic form once m >= p(p+1)/2
    # (21 for d = 4, 36 for d = 6): m = 64 leaves no residual, so the fit is exact up to round-off.
    # With lambda = 0 the Gram matrix is singular (the order-1 block has rank p < m): the minimum-norm
    # least-squares branch of the solver is exercised, and the error is measured on unseen inputs.
    teacher = _poly_teacher()
    x_calib, x_new = rng.standard_normal((600, 4)), rng.standard_normal((200, 4))
    student, report = transfer_to_eugen(teacher, x_calib, m=64, order=2, rng=0, merge=merge, l2_relative=0.0)
    expected = teacher.forward(x_new)
    np.testing.assert_allclose(student.forward(x_new), expected, rtol=0, atol=1e-9 * np.abs(expected).max())
    replaced = [layer for layer in report.layers if layer.action in ("replaced", "merged")]
    assert len(replaced) == (1 if merge else 2)
    assert all(layer.fit_mse < 1e-18 * layer.target_variance for layer in replaced)
    assert report.seconds > 0 and report.student_params == student.n_params
    assert report.teacher_params == teacher.n_params


def test_a_relu_teacher_is_not_exact_but_improves_with_m(rng):
    teacher = _relu_teacher(d=6)
    x = rng.standard_normal((2000, 6))
    errors = [transfer_to_eugen(teacher, x, m=m, order=2, rng=0)[1].layers[1].chain_mse for m in (4, 16, 64)]
    assert errors[0] > errors[1] > errors[2] > 0


# -- student inputs against teacher inputs ------------------------------------------------------------
def test_student_inputs_fit_what_the_student_actually_receives(rng):
    teacher = _relu_teacher()
    x = rng.standard_normal((500, 12))
    options = {"l2_relative": 0.0, "merge": False}  # M - 1 = 8 < d + 2: the Gram matrices are invertible
    student_s, rep_s = transfer(teacher, x, EUGenFactory(4, 2, rng=3), inputs="student", **options)
    student_t, rep_t = transfer(teacher, x, EUGenFactory(4, 2, rng=3), inputs="teacher", **options)
    # The first EUGen sees the raw input either way: identical fits.
    np.testing.assert_array_equal(student_s[0].params["A"], student_t[0].params["A"])
    # The second: fitted on the student's first-layer outputs, or on the teacher's.
    h_student, h_teacher = student_s[0].forward(x), teacher[1].forward(teacher[0].forward(x))
    target = teacher[3].forward(teacher[2].forward(h_teacher))
    for model, fed in ((student_s, h_student), (student_t, h_teacher)):
        reference = EUGen.from_config(model[1].get_config())
        fit_layer(reference, fed, target, l2_relative=0.0)
        np.testing.assert_allclose(model[1].params["A"], reference.params["A"], rtol=1e-9, atol=1e-12)
    # Least squares on the student's own inputs minimises the student's chain error at that layer;
    # the teacher-input fit is a competitor for the same objective, so it can only do worse there,
    # and it wins (by the same argument) on the teacher's inputs.
    assert rep_s.layers[1].chain_mse <= rep_t.layers[1].chain_mse
    assert rep_t.layers[1].fit_mse <= rep_s.layers[1].fit_mse
    assert rep_s.layers[1].fit_mse == rep_s.layers[1].chain_mse
    assert rep_t.layers[1].chain_mse > rep_t.layers[1].fit_mse  # the error the teacher-input fit ignores


# -- linear-layer merging -------------------------------------------------------------------------------
@pytest.mark.parametrize("l2_relative", [0.0, 1e-3])
def test_merging_equals_the_unmerged_fit_followed_by_V(l2_relative, rng):
    teacher = Sequential(Dense(5, 40, rng=0), Tanh(), Dense(40, 3, rng=1))
    x, x_new = rng.standard_normal((800, 5)), rng.standard_normal((100, 5))
    unmerged, rep_u = transfer_to_eugen(teacher, x, m=12, order=2, rng=7, l2_relative=l2_relative)
    merged, rep_m = transfer_to_eugen(teacher, x, m=12, order=2, rng=7, l2_relative=l2_relative, merge=True)
    assert [type(layer).__name__ for layer in unmerged.layers] == ["EUGen", "Dense"]
    assert [type(layer).__name__ for layer in merged.layers] == ["EUGen"]
    V, c = teacher[2].params["W"], teacher[2].params["b"]
    A, b = unmerged[0].params["A"], unmerged[0].params["b"]
    # Ridge is linear in the targets (and lambda depends on the features only): A' = A V, b' = b V + c.
    np.testing.assert_allclose(merged[0].params["A"], A @ V, rtol=1e-10, atol=1e-10 * np.abs(A @ V).max())
    np.testing.assert_allclose(merged[0].params["b"], b @ V + c, rtol=1e-10, atol=1e-10)
    out_u, out_m = unmerged.forward(x_new), merged.forward(x_new)
    np.testing.assert_allclose(out_m, out_u, rtol=0, atol=1e-10 * np.abs(out_u).max())
    algebraic = merge_linear(unmerged[0], unmerged[1])
    np.testing.assert_allclose(algebraic.forward(x_new), out_u, rtol=0, atol=1e-10 * np.abs(out_u).max())
    # Parameters: M t + t instead of M h + h + h t + t (M = 1 + m k = 25, h = 40, t = 3).
    assert rep_m.student_params == 25 * 3 + 3 < rep_u.student_params == 25 * 40 + 40 + 40 * 3 + 3


def test_merge_linear_for_every_readout_layer(rng):
    dense = Dense(7, 4, rng=1)
    x = rng.standard_normal((6, 9))
    for layer in (EUGen(9, 7, m=5, order=3, bias=False, rng=0), SNNK(9, 7, 6, rng=0), Dense(9, 7, rng=0),
                  LowRank(9, 7, 5, rng=0), LowRank(9, 7, 2, rng=0)):
        for value in layer.params.values():
            value[...] = rng.standard_normal(value.shape)
        merged = merge_linear(layer, dense)
        np.testing.assert_allclose(merged.forward(x), dense.forward(layer.forward(x)), rtol=1e-12, atol=1e-12)
        assert merged.d_out == 4
    with pytest.raises(ValueError, match="d_out=7 but dense expects d_in=3"):
        merge_linear(Dense(9, 7, rng=0), Dense(3, 2, rng=0))


class _EUGenSubclass(EUGen):
    """A subclass: the read-out is found by isinstance, not by the exact type."""


def test_subclasses_of_readout_layers_are_merged_and_named(rng):
    layer, dense = _EUGenSubclass(9, 7, m=5, order=2, rng=0), Dense(7, 4, rng=1)
    layer.params["A"][...] = rng.standard_normal(layer.params["A"].shape)
    x = rng.standard_normal((6, 9))
    merged = merge_linear(layer, dense)
    assert type(merged) is _EUGenSubclass
    np.testing.assert_allclose(merged.forward(x), dense.forward(layer.forward(x)), rtol=1e-12, atol=1e-12)
    teacher = Sequential(Dense(9, 7, rng=0), ReLU(), Dense(7, 4, rng=1))
    _, report = transfer(teacher, rng.standard_normal((50, 9)),
                         lambda d_in, d_out, dtype: _EUGenSubclass(d_in, d_out, 5, 2, rng=0, dtype=dtype), merge=True)
    assert report.layers[0].description.endswith("-> _EUGenSubclass(9->4, M=11)")


# -- the data-free variant ---------------------------------------------------------------------------------
def test_data_free_student_is_unbiased_for_a_polynomial_teacher(rng):
    """Mean over S = 400 seeds within 4.5 predicted standard errors of the teacher, entry by entry.

    The margin: the mean of S independent estimates has standard error sqrt(Var/S), Var from
    ``EUGen.predicted_variance`` (the variance formula of notebook 05, section 4). With 24 entries, a correct
    estimator fails this with probability < 24 * 7e-6. The sample variance must also match the
    formula (mean ratio within [0.7, 1.4]; one entry's ratio has a relative standard error of about
    0.1–0.2 at S = 400 for these heavy-tailed products), so the margin is the right size, not a vacuous one.
    """
    teacher = Sequential(Dense(3, 4, rng=5, init="lecun"), PolynomialActivation(QUADRATIC))
    x_calib = 0.5 * rng.standard_normal((50, 3))
    x_eval = 0.5 * rng.standard_normal((6, 3))
    target = teacher.forward(x_eval)
    seeds = 400
    outputs = np.stack([transfer_to_eugen(teacher, x_calib, m=8, order=2, rng=seed, method="data_free")[0]
                        .forward(x_eval) for seed in range(seeds)])
    dense = teacher[0]
    variance = EUGen(3, 4, m=8, order=2, rng=0).predicted_variance(x_eval, np.ascontiguousarray(dense.params["W"].T),
                                                                   dense.params["b"], QUADRATIC)
    z = (outputs.mean(0) - target) / np.sqrt(variance / seeds)
    assert np.abs(z).max() < 4.5, z
    ratio = outputs.var(0, ddof=1) / variance
    assert 0.7 < ratio.mean() < 1.4, ratio


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("activation", "poly_method"), [(ReLU(), "chebyshev"), (Tanh(), "least_squares")])
def test_merged_data_free_layer_is_merge_linear_of_the_unmerged_one(bias, activation, poly_method, rng):
    """The merged data-free read-out is built directly on the merged layer: the same as the hidden-width layer
    (same seed, hence the same G_ij) set data-free and then merged by merge_linear; the recorded coefficients
    are fit_polynomial's for the block's activation, the layer's order, the recorded interval and poly_method."""
    teacher = Sequential(Dense(6, 10, rng=0), activation, Dense(10, 4, rng=1))
    x = rng.standard_normal((300, 6))

    def make_layer(d_in, d_out, dtype):
        return EUGen(d_in, d_out, 7, 3, bias=bias, rng=11, dtype=dtype)

    student, report = transfer(teacher, x, make_layer, method="data_free", merge=True, poly_method=poly_method)
    (step,) = report.layers
    assert step.action == "merged" and step.l2 is None and step.interval > 0
    expected = fit_polynomial(activation.inference_function(), 3, step.interval, method=poly_method)
    assert isinstance(step.coefficients, tuple) and len(step.coefficients) == 4
    np.testing.assert_array_equal(step.coefficients, expected)
    assert json.loads(json.dumps(report.as_dict()))["layers"][0]["coefficients"] == list(step.coefficients)

    dense, linear = teacher[0], teacher[2]
    unmerged = make_layer(6, 10, np.float64)
    set_data_free(unmerged, dense, step.coefficients)
    old = merge_linear(unmerged, linear)
    new = student[0]
    np.testing.assert_array_equal(new.G, old.G)
    for name, value in old.params.items():
        scale = np.abs(value).max()
        np.testing.assert_allclose(new.params[name], value, rtol=0, atol=1e-12 * scale, err_msg=name)
    x_new = rng.standard_normal((20, 6))
    np.testing.assert_allclose(new.forward(x_new), linear.forward(unmerged.forward(x_new)), rtol=1e-10,
                               atol=1e-12 * np.abs(old.forward(x_new)).max())
    # The same through set_data_free(..., linear) on a fresh layer of the merged width.
    direct = make_layer(6, 4, np.float64)
    set_data_free(direct, dense, step.coefficients, linear)
    for name, value in new.params.items():
        np.testing.assert_array_equal(direct.params[name], value, err_msg=name)


def test_set_data_free_checks_the_widths():
    dense, linear = Dense(6, 10, rng=0), Dense(10, 4, rng=1)
    with pytest.raises(ValueError, match="layer is 6->4 but dense is 6->10"):
        set_data_free(EUGen(6, 4, m=3, rng=0), dense, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"layer is 6->10 but dense \+ linear is 6->4"):
        set_data_free(EUGen(6, 10, m=3, rng=0), dense, [0.0, 1.0], linear)
    with pytest.raises(ValueError, match="dense has d_out=10 but linear expects d_in=4"):
        set_data_free(EUGen(6, 3, m=3, rng=0), dense, [0.0, 1.0], Dense(4, 3, rng=0))
    with pytest.raises(TypeError, match="linear must be None or a Dense layer, got ReLU"):
        set_data_free(EUGen(6, 4, m=3, rng=0), dense, [0.0, 1.0], ReLU())


def test_ridge_steps_record_no_polynomial(rng):
    _, report = transfer_to_eugen(_relu_teacher(), rng.standard_normal((100, 12)), m=4, rng=0, refit_dense=True)
    assert [layer.coefficients for layer in report.layers] == [None, None, None]
    assert [layer.interval for layer in report.layers] == [None, None, None]


def test_data_free_needs_eugen_layers(rng):
    with pytest.raises(ValueError, match="method='data_free' needs EUGen layers, but make_layer built SNNK"):
        transfer(_relu_teacher(), rng.standard_normal((20, 12)), SNNKFactory(8, rng=0), method="data_free")


# -- closed-form fits of single layers -------------------------------------------------------------------
def test_fit_layer_recovers_exact_readouts(rng):
    x = rng.standard_normal((300, 6))
    for layer in (EUGen(6, 3, m=10, order=2, rng=1), EUGen(6, 3, m=10, order=2, bias=False, rng=1),
                  SNNK(6, 3, 20, rng=1), Dense(6, 3, rng=1)):
        truth = type(layer).from_config(layer.get_config())
        for value in truth.params.values():
            value[...] = rng.standard_normal(value.shape)
        y = truth.forward(x)
        fit_layer(layer, x, y, l2_relative=0.0, batch_size=64)
        np.testing.assert_allclose(layer.forward(x), y, rtol=0, atol=1e-9 * np.abs(y).max())


def test_low_rank_fit_is_the_reduced_rank_regression_optimum(rng):
    """At lambda = 0 the best rank-r fit leaves SSE(full) + the discarded eigenvalues of the fitted values' scatter."""
    x = rng.standard_normal((400, 8))
    y = x @ rng.standard_normal((8, 5)) + 0.3 * rng.standard_normal((400, 5)) + 2.0
    layer = LowRank(8, 5, 2, rng=0)
    fit_layer(layer, x, y, l2_relative=0.0)
    full = Dense(8, 5, rng=0)
    fit_layer(full, x, y, l2_relative=0.0)
    fitted = full.forward(x) - y.mean(0)
    eigenvalues = np.linalg.eigvalsh(fitted.T @ fitted)  # ascending
    sse_full = np.sum((full.forward(x) - y) ** 2)
    np.testing.assert_allclose(np.sum((layer.forward(x) - y) ** 2), sse_full + eigenvalues[:3].sum(), rtol=1e-10)
    exact = x @ (rng.standard_normal((8, 2)) @ rng.standard_normal((2, 5))) - 1.0  # a rank-2 map is recovered
    fit_layer(layer, x, exact, l2_relative=0.0)
    np.testing.assert_allclose(layer.forward(x), exact, rtol=0, atol=1e-9 * np.abs(exact).max())


def test_snnk_and_low_rank_students_at_matched_parameters(rng):
    teacher = _relu_teacher()
    x = rng.standard_normal((400, 12))
    eugen, rep_e = transfer(teacher, x, EUGenFactory(6, 2, rng=0), merge=True, refit_dense=True)
    snnk, rep_s = transfer(teacher, x, SNNKFactory(13, rng=0), merge=True, refit_dense=True)
    rank = LowRank.rank_for_budget(12, 8, 13 * 8 + 8)
    low, rep_l = transfer(teacher, x, LowRankFactory(rank), merge=True, refit_dense=True)
    assert rep_e.student_params == rep_s.student_params == 13 * 8 + 8 + 8 * 3 + 3
    assert rep_l.student_params <= rep_e.student_params and [r.action for r in rep_l.layers] == \
        ["merged", "copied", "refit"]
    for model in (eugen, snnk, low):
        assert model.forward(x).shape == (400, 3)


def test_float32_teacher_gives_a_float32_student(rng):
    teacher = _relu_teacher().astype(np.float32)
    x = rng.standard_normal((300, 12)).astype(np.float32)
    student, report = transfer_to_eugen(teacher, x, m=8, rng=0, merge=True, refit_dense=True)
    assert student.dtype == np.float32 and student.forward(x).dtype == np.float32
    assert [layer.action for layer in report.layers] == ["merged", "copied", "refit"]
    assert "EUGen(12->8, M=17)" in str(report)


# -- validation -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"inputs": "both"}, ValueError, "inputs must be 'student' or 'teacher', got 'both'"),
        ({"method": "sgd"}, ValueError, "method must be 'ridge' or 'data_free', got 'sgd'"),
        ({"l2_relative": -1.0}, ValueError, "l2_relative must be a finite number >= 0, got -1.0"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive int, got 0"),
        ({"merge": "yes"}, TypeError, "merge must be a bool"),
        ({"interval_quantile": 1.5}, ValueError, r"interval_quantile must lie in \(0, 1\], got 1.5"),
        ({"poly_method": "taylor"}, ValueError, "poly_method must be one of"),
    ],
)
def test_bad_options_name_the_parameter(kwargs, error, message, rng):
    with pytest.raises(error, match=message):
        transfer(_relu_teacher(), rng.standard_normal((20, 12)), EUGenFactory(4, rng=0), **kwargs)


def test_bad_teachers_inputs_and_factories_are_refused(rng):
    x = rng.standard_normal((20, 12))
    with pytest.raises(TypeError, match="teacher must be a Sequential, got Dense"):
        transfer(Dense(12, 3, rng=0), x, EUGenFactory(4, rng=0))
    with pytest.raises(ValueError, match="teacher layer 0 is EUGen: transfer handles Dense layers"):
        transfer(Sequential(EUGen(12, 3, m=2, rng=0)), x, EUGenFactory(4, rng=0))
    with pytest.raises(ValueError, match="teacher has no Dense layer followed by an activation"):
        transfer(Sequential(Dense(12, 3, rng=0)), x, EUGenFactory(4, rng=0))
    with pytest.raises(ValueError, match="x_calib has 5 features but the teacher's first Dense expects d_in=12"):
        transfer(_relu_teacher(), x[:, :5], EUGenFactory(4, rng=0))
    with pytest.raises(TypeError, match="x_calib has dtype float32 but float64 was expected"):
        transfer(_relu_teacher(), x.astype(np.float32), EUGenFactory(4, rng=0))
    with pytest.raises(ValueError, match="x_calib must hold at least 2 samples, got 1"):
        transfer(_relu_teacher(), x[:1], EUGenFactory(4, rng=0))
    with pytest.raises(ValueError, match="make_layer built a 12->3 layer"):
        transfer(_relu_teacher(), x, lambda d_in, d_out, dtype: Dense(12, 3, rng=0, dtype=dtype))
    with pytest.raises(TypeError, match="make_layer must be callable"):
        transfer(_relu_teacher(), x, "eugen")
    with pytest.raises(ValueError, match="m must be a positive int, got 0"):
        EUGenFactory(0)
    with pytest.raises(ValueError, match="activation must be one of .* got 'tanh'"):
        SNNKFactory(4, activation="tanh")
    with pytest.raises(ValueError, match=r"draws must be one of \['iid', 'orthogonal'\], got 'rademacher'"):
        SNNKFactory(4, draws="rademacher")
    with pytest.raises(ValueError, match="rank must be a positive int, got -1"):
        LowRankFactory(-1)
    with pytest.raises(ValueError, match="y must have shape \\(20, d_out=3\\) to match x"):
        fit_layer(EUGen(12, 3, m=2, rng=0), x, x)


def test_snnk_factory_takes_n_directions_and_the_old_keyword_m_with_a_warning():
    factory = SNNKFactory(6, activation="cos", rng=0)
    assert factory.n_directions == 6 and repr(factory) == "SNNK(n_directions=6, activation='cos')"
    layer = factory(4, 3, np.float64)
    assert layer.n_directions == 6 and layer.n_features == 12 and layer.activation == "cos"
    with pytest.warns(DeprecationWarning, match=r"rpnumpy.transfer.SNNKFactory\(m=...\) has moved to "
                                                r"rpnumpy.transfer.SNNKFactory\(n_directions=...\)"):
        old = SNNKFactory(m=6, activation="cos", rng=0)
    assert old(4, 3, np.float64).get_config() == layer.get_config()
    with pytest.warns(DeprecationWarning, match="SNNKFactory.m has moved to rpnumpy.transfer.SNNKFactory.n_directions"):
        assert old.m == 6
    with pytest.raises(TypeError, match="SNNKFactory needs n_directions"):
        SNNKFactory()


def test_snnk_factory_passes_kappa_to_the_relu_tower():
    factory = SNNKFactory(6, kappa=-5.0, rng=0)
    assert repr(factory) == "SNNK(n_directions=6, activation='relu', kappa=-5)"
    layer = factory(4, 3, np.float64)
    assert layer.kappa == -5.0 and layer.tower.kappa == -5.0 and layer.get_config()["kappa"] == -5.0
    assert SNNKFactory(6, rng=0)(4, 3, np.float64).kappa == 0.0
    with pytest.raises(ValueError, match="kappa only applies to activation='relu'; cos needs kappa=0, got -5"):
        SNNKFactory(6, activation="cos", kappa=-5)
    with pytest.raises(TypeError, match="kappa must be a finite real number, got '1' of type str"):
        SNNKFactory(6, kappa="1")
