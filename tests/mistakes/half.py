"""Planted mistakes for the checks of notebook 01 (half layers): plausible wrong answers each check must reject."""

import numpy as np


def _counts_no_output_bias(d_in, H, n_classes):
    return 2 * H + H * n_classes, d_in * H, (d_in + 1) * H + (H + 1) * n_classes


def _counts_R_trainable(d_in, H, n_classes):
    return d_in * H + 2 * H + (H + 1) * n_classes, d_in * H, (d_in + 1) * H + (H + 1) * n_classes


def _counts_mlp_without_hidden_bias(d_in, H, n_classes):
    return 2 * H + (H + 1) * n_classes, d_in * H, d_in * H + (H + 1) * n_classes


def _counts_as_floats(d_in, H, n_classes):
    return 2.0 * H + (H + 1) * n_classes, d_in * H / 1.0, (d_in + 1.0) * H + (H + 1) * n_classes


def _template_local_mean(x_train, chosen):
    columns = x_train[chosen].T - x_train[chosen].mean(axis=0)[:, None]
    return columns / np.linalg.norm(columns, axis=0)


def _template_not_centred(x_train, chosen):
    columns = x_train[chosen].T
    return columns / np.linalg.norm(columns, axis=0)


def _template_rows_normalised(x_train, chosen):
    columns = x_train[chosen].T - x_train.mean(axis=0)[:, None]
    return columns / np.linalg.norm(columns, axis=1, keepdims=True)


def _template_transposed(x_train, chosen):
    columns = x_train[chosen] - x_train.mean(axis=0)
    return columns / np.linalg.norm(columns, axis=1, keepdims=True)


def _backward_without_g_prime(dz, cache, g_prime):
    x, R, u, a, s = cache
    return (dz * u) @ R.T, np.sum(dz * a, axis=0), np.sum(dz, axis=0)


def _backward_dx_without_u(dz, cache, g_prime):
    x, R, u, a, s = cache
    delta = dz * g_prime(s)
    return delta @ R.T, np.sum(delta * a, axis=0), np.sum(delta, axis=0)


def _backward_du_with_s(dz, cache, g_prime):
    x, R, u, a, s = cache
    delta = dz * g_prime(s)
    return (delta * u) @ R.T, np.sum(delta * s, axis=0), np.sum(delta, axis=0)


def _backward_relu_mask_always(dz, cache, g_prime):
    x, R, u, a, s = cache
    delta = dz * (s > 0)  # ReLU's derivative whatever g is
    return (delta * u) @ R.T, np.sum(delta * a, axis=0), np.sum(delta, axis=0)


def _backward_mean_du0(dz, cache, g_prime):
    x, R, u, a, s = cache
    delta = dz * g_prime(s)
    return (delta * u) @ R.T, np.sum(delta * a, axis=0), np.mean(delta, axis=0)


def _grad_R_without_u(dz, cache, g_prime):
    x, R, u, a, s = cache
    return x.T @ (dz * g_prime(s))


def _grad_R_without_g_prime(dz, cache, g_prime):
    x, R, u, a, s = cache
    return x.T @ (dz * u)


def _grad_R_transposed(dz, cache, g_prime):
    x, R, u, a, s = cache
    return ((dz * g_prime(s)) * u).T @ x


def _grad_R_zero(dz, cache, g_prime):
    x, R, u, a, s = cache
    return np.zeros_like(R)  # "the gradient stops at the random weights"


#: check name -> wrong answers it must reject.
WRONG = {
    "check_half_parameter_counts": [_counts_no_output_bias, _counts_R_trainable, _counts_mlp_without_hidden_bias,
                                    _counts_as_floats],
    "check_template_matrix": [_template_local_mean, _template_not_centred, _template_rows_normalised,
                              _template_transposed],
    "check_half_backward": [_backward_without_g_prime, _backward_dx_without_u, _backward_du_with_s,
                            _backward_relu_mask_always, _backward_mean_du0],
    "check_sensitivity_of_R": [_grad_R_without_u, _grad_R_without_g_prime, _grad_R_transposed, _grad_R_zero],
}
