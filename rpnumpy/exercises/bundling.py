r"""Checks for the exercises of notebook 04 (network bundling and the closed form).

* :func:`check_relu_two_towers`: the two-step bundle recursion of a ReLU MLP with two hidden layers,
  :math:`z_j = \Phi_j([z_{j-1}, 1])`, :math:`\Omega_j = \Psi_j([W_j^\top\Omega_{j-1}, b_j])`,
  :math:`V = \Omega_2^\top W_{out}`, against :func:`rpnumpy.bundling.bundle_mlp`;
* :func:`check_ridge_with_intercept`: ridge regression with an unpenalised intercept, against
  :func:`rpnumpy.closed_form.ridge_normal_equations`;
* :func:`check_streamed_classifier`: the MSE classifier on one-hot targets, its normal equations
  summed over mini-batches, against :class:`rpnumpy.closed_form.RidgeAccumulator`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..bundling import bundle_mlp, one_hot
from ..closed_form import RidgeAccumulator, ridge_normal_equations
from ..layers import Dense, ReLU, Sequential
from .feedback import ExerciseFailure, Feedback, attempt, compare, unpack, verdict

__all__ = ["check_relu_two_towers", "check_ridge_with_intercept", "check_streamed_classifier"]


# -- Exercise 4.1: the two-tower form of a ReLU MLP ------------------------------------------------
#: (n, d, d_1, d_2, d_out, m_1, m_2): d = d_1 = d_2 first (so that a forgotten transpose has the right shape
#: and is caught by its values), a usual case, one sample and one output.
_RELU_SHAPES = [(4, 4, 4, 4, 3, 10, 6), (5, 3, 6, 4, 2, 16, 8), (1, 5, 3, 2, 1, 8, 12)]


def _relu_mlp(d: int, d1: int, d2: int, d_out: int, gen: np.random.Generator) -> Sequential:
    """``Dense(d, d1), ReLU, Dense(d1, d2), ReLU, Dense(d2, d_out)`` with non-zero biases."""
    layers = [Dense(d, d1, rng=0), ReLU(), Dense(d1, d2, rng=1), ReLU(), Dense(d2, d_out, rng=2)]
    for layer in layers[::2]:
        layer.params["W"][...] = gen.standard_normal(layer.params["W"].shape) / np.sqrt(layer.d_in)
        layer.params["b"][...] = gen.uniform(-1, 1, layer.d_out)
    return Sequential(*layers)


def _with_column(a: np.ndarray, value: float | np.ndarray) -> np.ndarray:
    """``[a, value]``: one column appended (a constant or a vector)."""
    column = np.broadcast_to(np.asarray(value, dtype=a.dtype).reshape(-1, 1), (a.shape[0], 1))
    return np.hstack([a, column])


def check_relu_two_towers(relu_two_towers: Callable) -> Feedback:
    r"""Exercise 4.1: the two-tower form of the ReLU MLP ``x -> Dense, ReLU, Dense, ReLU, Dense``.

    The student's ``relu_two_towers(x, W1, b1, W2, b2, W_out, tower1, tower2)`` returns
    ``(z2, Omega1, Omega2, V)``: the input tower :math:`z_2 = \Phi_2([\Phi_1([x, 1]), 1])`,
    the weight tower :math:`\Omega_1 = \Psi_1([W_1^\top, b_1])`,
    :math:`\Omega_2 = \Psi_2([W_2^\top\Omega_1, b_2])`, and :math:`V = \Omega_2^\top W_{out}`.
    ``tower1`` and ``tower2`` are :class:`~rpnumpy.features.ReLUTower` objects on ``d + 1`` and
    ``m_1 + 1`` inputs; the reference is :func:`~rpnumpy.bundling.bundle_mlp` with the same towers.
    """

    def run() -> str:
        gen = np.random.default_rng(41)
        for n, d, d1, d2, d_out, m1, m2 in _RELU_SHAPES:
            model = _relu_mlp(d, d1, d2, d_out, gen)
            x = gen.standard_normal((n, d))
            bundled = bundle_mlp(model, [m1, m2], rng=int(gen.integers(1000)))
            tower1, tower2 = bundled.tower.towers
            (W1, b1), (W2, b2), (W_out, _) = ((layer.params["W"], layer.params["b"]) for layer in model.layers[::2])
            result = attempt(relu_two_towers, x, W1, b1, W2, b2, W_out, tower1, tower2, what="relu_two_towers")
            z2, omega1, omega2, V = unpack(result, ("z2", "Omega1", "Omega2", "V"), "relu_two_towers")
            case = f"x of shape {x.shape}, widths d = {d}, d_1 = {d1}, d_2 = {d2}, m_1 = {m1}, m_2 = {m2}"

            z1_zero, z1 = (tower1.input_features(_with_column(x, value)) for value in (0.0, 1.0))
            compare("z2", z2, bundled.features(x), case=case, hints={
                "append a constant 1 to the input of each ReLU tower, not 0: [w, b] . [z, 1] = w . z + b":
                    tower2.input_features(_with_column(z1_zero, 0.0)),
                "the first tower's input is [x, 1], with a constant 1 appended":
                    tower2.input_features(_with_column(z1_zero, 1.0)),
                "the second tower's input is [z1, 1]: it needs the appended 1 too":
                    tower2.input_features(_with_column(z1, 0.0)),
            })
            expected1, expected2 = bundled.weight_tower
            no_bias1 = tower1.weight_features(_with_column(np.ascontiguousarray(W1.T), 0.0))
            compare("Omega1", omega1, expected1, case=case, hints={
                "b_1 is missing: the ReLU tower carries the bias as the last coordinate, [W_1^T, b_1]": no_bias1,
                "the rows fed to Psi_1 are the units' weight vectors: the columns of W_1, i.e. the rows of W_1.T":
                    tower1.weight_features(_with_column(W1, b1)) if d == d1 else np.zeros(0),
            })
            compare("Omega2", omega2, expected2, case=case, hints={
                "b_2 is missing: the rows fed to Psi_2 are [W_2^T Omega_1, b_2]":
                    tower2.weight_features(_with_column(W2.T @ expected1, 0.0)),
                "Omega_2 is built on Omega_1 with its bias: Omega_1 = Psi_1([W_1^T, b_1]) feeds W_2^T Omega_1":
                    tower2.weight_features(_with_column(W2.T @ no_bias1, b2)),
                "W_2 enters transposed: unit k of layer 2 has the weight vector (W_2^T Omega_1)[k]":
                    tower2.weight_features(_with_column(W2 @ expected1, b2)) if d1 == d2 else np.zeros(0),
            })
            compare("V", V, bundled.V, case=case)
        return (f"{len(_RELU_SHAPES)} MLPs, one of them with a single sample and a single output, "
                "all four arrays equal to bundle_mlp's")

    return verdict("Exercise 4.1: the two-tower form of a ReLU MLP", run)


# -- Exercise 4.2: ridge regression with an unpenalised intercept --------------------------------
#: (N, D, t, lambda): a usual case, fewer samples than features, one target, no penalty.
_RIDGE_CASES = [(40, 5, 3, 0.5), (3, 6, 2, 0.1), (25, 4, 1, 2.0), (30, 4, 2, 0.0)]


def _ridge_hints(Z: np.ndarray, Y: np.ndarray, lam: float) -> tuple[dict, dict]:
    """Plausible wrong (V, c): the intercept penalised too, the intercept dropped, the penalty on the mean."""
    N, D = Z.shape
    Z_tilde = np.hstack([Z, np.ones((N, 1))])
    penalised = np.linalg.lstsq(Z_tilde.T @ Z_tilde + lam * np.eye(D + 1), Z_tilde.T @ Y, rcond=None)[0]
    dropped, _ = ridge_normal_equations(Z, Y, lam, fit_intercept=False)
    on_mean = ridge_normal_equations(Z, Y, lam * N)
    v_hints = {
        "the intercept is penalised too: Lambda = diag(lambda, ..., lambda, 0) leaves c free": penalised[:D],
        "the intercept is missing: solve with Z_tilde = [Z, 1], the column of ones gives c": dropped,
        "lambda is added to the sums Z_tilde^T Z_tilde themselves, not to their mean over the N rows": on_mean[0],
    }
    c_hints = {
        "the intercept is penalised too: Lambda = diag(lambda, ..., lambda, 0) leaves c free": penalised[D],
        "lambda is added to the sums Z_tilde^T Z_tilde themselves, not to their mean over the N rows": on_mean[1],
    }
    return v_hints, c_hints


def check_ridge_with_intercept(ridge_with_intercept: Callable) -> Feedback:
    r"""Exercise 4.2: :math:`\min_{V, c} \|ZV + \mathbf 1 c^\top - Y\|_F^2 + \lambda\|V\|_F^2`, ``c`` not penalised.

    The student's ``ridge_with_intercept(Z, Y, lam)`` returns ``(V, c)`` of shapes ``(D, t)`` and
    ``(t,)``; the reference is :func:`~rpnumpy.closed_form.ridge_normal_equations`.
    """

    def run() -> str:
        gen = np.random.default_rng(42)
        for N, D, t, lam in _RIDGE_CASES:
            Z = gen.standard_normal((N, D)) + 1.0  # features with a non-zero mean: the intercept matters
            Y = Z @ gen.standard_normal((D, t)) + 3.0 + 0.1 * gen.standard_normal((N, t))
            result = attempt(ridge_with_intercept, Z, Y, lam, what="ridge_with_intercept")
            V, c = unpack(result, ("V", "c"), "ridge_with_intercept")
            expected_v, expected_c = ridge_normal_equations(Z, Y, lam)
            v_hints, c_hints = _ridge_hints(Z, Y, lam)
            case = f"Z of shape {Z.shape}, Y of shape {Y.shape}, lam = {lam:g}"
            compare("V", V, expected_v, case=case, hints=v_hints)
            if isinstance(c, np.ndarray) and c.shape == (1, t):
                raise ExerciseFailure("wrong", f"c has shape {c.shape} but should have shape ({t},) for {case}",
                                      "hint: c is one intercept per target column, a 1-d array")
            compare("c", c, expected_c, case=case, hints=c_hints)
        return (f"{len(_RIDGE_CASES)} problems: fewer samples than features, one target, and no penalty "
                "among them")

    return verdict("Exercise 4.2: ridge regression with an unpenalised intercept", run)


# -- Exercise 4.3: the MSE classifier, streamed --------------------------------------------------
#: (batch sizes, D, n_classes, lambda): uneven batches, one-row batches, one batch in which a class is absent.
_CLASSIFIER_CASES = [((7, 7, 7, 3), 5, 3, 0.3), ((1,) * 9, 4, 2, 1.0), ((20,), 6, 4, 0.05)]


def check_streamed_classifier(streamed_classifier: Callable) -> Feedback:
    r"""Exercise 4.3: the MSE classifier :math:`\hat Y = ZV + \mathbf 1 c^\top` on one-hot targets, from batches.

    The student's ``streamed_classifier(batches, n_classes, lam)`` receives a list of
    ``(Z_b, labels_b)`` (features ``(n_b, D)``, integer labels ``(n_b,)``), sums
    :math:`\tilde Z_b^\top\tilde Z_b` and :math:`\tilde Z_b^\top Y_b` over the batches with
    :math:`Y_b` the one-hot rows of ``labels_b``, and returns ``(V, c)`` of shapes
    ``(D, n_classes)`` and ``(n_classes,)``: the ridge solution with an unpenalised intercept
    (:class:`~rpnumpy.closed_form.RidgeAccumulator`).
    """

    def run() -> str:
        gen = np.random.default_rng(43)
        for sizes, D, k, lam in _CLASSIFIER_CASES:
            batches = [(gen.standard_normal((n, D)) + 0.5, gen.integers(0, k - (len(sizes) == 1), n))
                       for n in sizes]
            result = attempt(streamed_classifier, [(Z.copy(), y.copy()) for Z, y in batches], k, lam,
                             what="streamed_classifier")
            V, c = unpack(result, ("V", "c"), "streamed_classifier")
            case = f"{len(sizes)} batches of {'/'.join(map(str, sizes))} rows, D = {D}, {k} classes, lam = {lam:g}"
            if isinstance(V, np.ndarray) and V.shape == (D, 1):
                raise ExerciseFailure("wrong", f"V has shape {V.shape} but should have shape ({D}, {k}) for {case}",
                                      "hint: a classifier's targets are one-hot rows, one column per class, "
                                      "not the labels themselves")
            reference = _accumulate(batches, D, k)
            per_batch = [_accumulate([batch], D, k) for batch in batches]
            mean_of_solutions = [np.mean([acc.solve(lam)[i] for acc in per_batch], axis=0) for i in (0, 1)]
            no_intercept = _accumulate(batches, D, k, fit_intercept=False).solve(lam)
            lam_per_batch = reference.solve(lam * len(batches))
            hints = [{
                "solve once, from the sums over every batch: the mean of per-batch solutions is not the solution":
                    mean_of_solutions[i],
                "the penalty is added once, to the summed system, not once per batch": lam_per_batch[i],
                "the intercept is missing: append a column of ones to every batch's Z": no_intercept[i],
            } for i in (0, 1)]
            expected_v, expected_c = reference.solve(lam)
            compare("V", V, expected_v, case=case, hints=hints[0])
            compare("c", c, expected_c, case=case, hints=hints[1])
        return f"{len(_CLASSIFIER_CASES)} streams: uneven batches, one-row batches, a class that never occurs"

    return verdict("Exercise 4.3: the MSE classifier, streamed", run)


def _accumulate(batches: list, D: int, k: int, *, fit_intercept: bool = True) -> RidgeAccumulator:
    """The library's sums over ``batches`` of ``(Z_b, labels_b)``, one-hot targets."""
    acc = RidgeAccumulator(D, k, fit_intercept=fit_intercept)
    for Z, labels in batches:
        acc.update(Z, one_hot(labels, k))
    return acc
