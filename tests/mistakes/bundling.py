"""Planted mistakes for the checks of the bundling exercises: plausible wrong answers each check must reject."""

import numpy as np


def _append(a, value):
    """``[a, value]``: one column appended (a constant or one value per row)."""
    return np.hstack([a, np.broadcast_to(np.reshape(value, (-1, 1)), (a.shape[0], 1))])


def _two_towers(x, W1, b1, W2, b2, W_out, tower1, tower2, *, bias1=True, bias2=True, transpose=True):
    z2 = tower2.input_features(_append(tower1.input_features(_append(x, 1.0)), 1.0))
    omega1 = tower1.weight_features(_append(W1.T if transpose else W1, b1 if bias1 else 0.0))
    omega2 = tower2.weight_features(_append(W2.T @ omega1, b2 if bias2 else 0.0))
    return z2, omega1, omega2, omega2.T @ W_out


def _two_towers_without_b2(*args):
    return _two_towers(*args, bias2=False)


def _two_towers_without_b1(*args):
    return _two_towers(*args, bias1=False)


def _two_towers_untransposed_w1(*args):
    return _two_towers(*args, transpose=False)


def _ridge(Z, Y, lam, *, intercept=True, penalise_intercept=False, scale=1.0):
    Z_tilde = np.hstack([Z, np.ones((len(Z), 1))]) if intercept else Z
    penalty = lam * scale * np.eye(Z_tilde.shape[1])
    if intercept and not penalise_intercept:
        penalty[-1, -1] = 0.0
    solution = np.linalg.lstsq(Z_tilde.T @ Z_tilde + penalty, Z_tilde.T @ Y, rcond=None)[0]
    return (solution[:-1], solution[-1]) if intercept else (solution, np.zeros(Y.shape[1]))


def _ridge_penalised_intercept(Z, Y, lam):
    return _ridge(Z, Y, lam, penalise_intercept=True)


def _ridge_dropped_intercept(Z, Y, lam):
    return _ridge(Z, Y, lam, intercept=False)


def _ridge_penalty_on_the_mean(Z, Y, lam):
    return _ridge(Z, Y, lam, scale=len(Z))


def _one_hot(labels, k):
    return np.eye(k)[labels]


def _batch_sums(batches, k, intercept=True):
    gram = moment = 0.0
    for Z, labels in batches:
        Z_tilde = np.hstack([Z, np.ones((len(Z), 1))]) if intercept else Z
        gram = gram + Z_tilde.T @ Z_tilde
        moment = moment + Z_tilde.T @ _one_hot(labels, k)
    return gram, moment


def _solve(gram, moment, lam, intercept=True):
    D = gram.shape[0] - int(intercept)
    system = gram.copy()
    system[np.arange(D), np.arange(D)] += lam
    solution = np.linalg.solve(system, moment)
    return (solution[:D], solution[D]) if intercept else (solution, np.zeros(moment.shape[1]))


def _classifier_mean_of_batch_solutions(batches, k, lam):
    solutions = [_solve(*_batch_sums([batch], k), lam) for batch in batches]
    return np.mean([V for V, _ in solutions], axis=0), np.mean([c for _, c in solutions], axis=0)


def _classifier_penalty_per_batch(batches, k, lam):
    return _solve(*_batch_sums(batches, k), lam * len(batches))


def _classifier_dropped_intercept(batches, k, lam):
    return _solve(*_batch_sums(batches, k, intercept=False), lam, intercept=False)


def _classifier_labels_as_targets(batches, k, lam):
    gram, _ = _batch_sums(batches, k)
    moment = sum(np.hstack([Z, np.ones((len(Z), 1))]).T @ labels[:, None].astype(float) for Z, labels in batches)
    return _solve(gram, moment, lam)


#: check name -> wrong answers.
WRONG: dict = {
    "check_relu_two_towers": [_two_towers_without_b2, _two_towers_without_b1, _two_towers_untransposed_w1],
    "check_ridge_with_intercept": [_ridge_penalised_intercept, _ridge_dropped_intercept, _ridge_penalty_on_the_mean],
    "check_streamed_classifier": [_classifier_mean_of_batch_solutions, _classifier_penalty_per_batch,
                                  _classifier_dropped_intercept, _classifier_labels_as_targets],
}
