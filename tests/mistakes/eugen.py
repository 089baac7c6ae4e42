"""Planted mistakes for the checks of notebook 05 (EUGen): plausible wrong answers each check must reject."""

import numpy as np

# -- Exercise 5.1: order-2 features -------------------------------------------------------------------------


def _augment(x, norm):
    return np.hstack([x, np.ones((x.shape[0], 1)), norm])


def _order2_reused_matrix(x, G):
    x_plus = _augment(x, np.linalg.norm(x, axis=1, keepdims=True))
    Q = x_plus @ G[2, 1]
    return np.hstack([np.ones((x.shape[0], 1)), x_plus @ G[1, 1], Q * Q])  # one matrix for both factors


def _order2_batch_norm(x, G):
    x_plus = _augment(x, np.full((x.shape[0], 1), np.linalg.norm(x)))  # the norm of the whole batch
    return np.hstack([np.ones((x.shape[0], 1)), x_plus @ G[1, 1], (x_plus @ G[2, 1]) * (x_plus @ G[2, 2])])


def _order2_no_constant(x, G):
    x_plus = _augment(x, np.linalg.norm(x, axis=1, keepdims=True))
    return np.hstack([x_plus @ G[1, 1], (x_plus @ G[2, 1]) * (x_plus @ G[2, 2])])


def _order2_sum(x, G):
    x_plus = _augment(x, np.linalg.norm(x, axis=1, keepdims=True))
    return np.hstack([np.ones((x.shape[0], 1)), x_plus @ G[1, 1], x_plus @ G[2, 1] + x_plus @ G[2, 2]])


# -- Exercise 5.2: the weight side g(w) ---------------------------------------------------------------------


def _weight_side(w, b, c, a, G, *, per_order, constant, plus=None):
    k, m = len(a) - 1, G[1, 1].shape[1]
    w_plus = np.column_stack([w, b, c]) if plus is None else plus
    blocks = [np.full((w.shape[0], 1), constant(a[0], m))]
    for i in range(1, k + 1):
        H = np.ones((w.shape[0], m))
        for j in range(1, i + 1):
            H = H * (w_plus @ G[i, j])
        blocks.append(per_order(a[i], m, i) * H)
    return np.hstack(blocks)


def _weight_no_mean(w, b, c, a, G):
    return _weight_side(w, b, c, a, G, per_order=lambda ai, m, i: ai, constant=lambda a0, m: a0)


def _weight_constant_over_m(w, b, c, a, G):
    return _weight_side(w, b, c, a, G, per_order=lambda ai, m, i: ai / m, constant=lambda a0, m: a0 / m)


def _weight_m_to_the_i(w, b, c, a, G):
    return _weight_side(w, b, c, a, G, per_order=lambda ai, m, i: ai / m**i, constant=lambda a0, m: a0)


def _weight_swapped_b_c(w, b, c, a, G):
    return _weight_side(w, b, c, a, G, per_order=lambda ai, m, i: ai / m, constant=lambda a0, m: a0,
                        plus=np.column_stack([w, c, b]))


def _weight_abs_coefficients(w, b, c, a, G):
    return _weight_side(w, b, c, a, G, per_order=lambda ai, m, i: abs(ai) / m, constant=lambda a0, m: a0)


# -- Exercise 5.3: the variance -------------------------------------------------------------------------------


def _variance(u, v, a, m, *, isserlis=2.0, mean=True, power=2):
    s = v @ u.T
    fourth = np.outer((v**2).sum(1), (u**2).sum(1)) + isserlis * s**2
    total = np.zeros_like(s)
    for i in range(1, len(a)):
        total += a[i] ** power / m * (fourth**i - (s ** (2 * i) if mean else 0.0))
    return total


def _variance_no_mean(u, v, a, m):
    return _variance(u, v, a, m, mean=False)


def _variance_one_s_squared(u, v, a, m):
    return _variance(u, v, a, m, isserlis=1.0)


def _variance_transposed(u, v, a, m):
    return _variance(u, v, a, m).T


def _variance_a_not_squared(u, v, a, m):
    return _variance(u, v, a, m, power=1)


# -- Exercise 5.4: the Chebyshev fit --------------------------------------------------------------------------


def _solve(f, nodes):
    return np.linalg.solve(np.vander(nodes, increasing=True), f(nodes))


def _chebyshev_nodes(k):
    return np.cos((2 * np.arange(k + 1) + 1) * np.pi / (2 * (k + 1)))


def _fit_unmapped(f, k, R):
    return _solve(f, _chebyshev_nodes(k))  # nodes left on [-1, 1]


def _fit_in_t(f, k, R):
    return np.linalg.solve(np.vander(_chebyshev_nodes(k), increasing=True), f(R * _chebyshev_nodes(k)))


def _fit_highest_first(f, k, R):
    return np.polyfit(R * _chebyshev_nodes(k), f(R * _chebyshev_nodes(k)), k)


def _fit_equispaced(f, k, R):
    return _solve(f, np.linspace(-R, R, k + 1))


def _fit_one_degree_too_many(f, k, R):
    return _solve(f, R * _chebyshev_nodes(k + 1))


#: check name -> wrong answers.
WRONG = {
    "check_order2_features": [_order2_reused_matrix, _order2_batch_norm, _order2_no_constant, _order2_sum],
    "check_weight_side": [_weight_no_mean, _weight_constant_over_m, _weight_m_to_the_i, _weight_swapped_b_c,
                          _weight_abs_coefficients],
    "check_estimator_variance": [_variance_no_mean, _variance_one_s_squared, _variance_transposed,
                                 _variance_a_not_squared],
    "check_chebyshev_fit": [_fit_unmapped, _fit_in_t, _fit_highest_first, _fit_equispaced, _fit_one_degree_too_many],
}
