"""Planted mistakes for the checks of notebook 06: each one a plausible wrong answer the check must reject."""

import numpy as np


# -- Exercise 6.1: the relative error
def _rel_by_a_only(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(a))


def _rel_mean(a, b):
    return np.mean(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)))


def _rel_entrywise(a, b):
    return np.max(np.abs(a - b) / np.abs(b))


def _rel_no_max(a, b):
    return np.abs(a - b) / max(np.max(np.abs(a)), np.max(np.abs(b)))


# -- Exercise 6.2: a central-difference gradient
def _ng_forward(f, x, h):
    grad = np.zeros_like(x)
    f0 = f(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        grad[i] = (f(x) - f0) / h
        x[i] = original
    return grad


def _ng_missing_two(f, x, h):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        plus = f(x)
        x[i] = original - h
        minus = f(x)
        x[i] = original
        grad[i] = (plus - minus) / h
    return grad


def _ng_not_restored(f, x, h):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += h
        plus = f(x)
        x[i] -= 2 * h
        minus = f(x)
        grad[i] = (plus - minus) / (2 * h)
    return grad


def _ng_own_step(f, x, h):
    h = 1e-6  # ignores the step it is given
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        plus = f(x)
        x[i] = original - h
        minus = f(x)
        x[i] = original
        grad[i] = (plus - minus) / (2 * h)
    return grad


# -- Exercise 6.3: the layer normalisation's backward pass
def _ln_planted_bug(dy, cache):
    x_hat, sigma, gamma = cache
    lead = tuple(range(dy.ndim - 1))
    g = dy * gamma
    dx = (g - g.mean(axis=-1, keepdims=True)) / sigma  # the term through sigma is missing
    return dx, (dy * x_hat).sum(axis=lead), dy.sum(axis=lead)


def _ln_sigma_squared(dy, cache):
    x_hat, sigma, gamma = cache
    lead = tuple(range(dy.ndim - 1))
    g = dy * gamma
    dx = (g - g.mean(axis=-1, keepdims=True) - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)) / sigma**2
    return dx, (dy * x_hat).sum(axis=lead), dy.sum(axis=lead)


def _ln_gamma_forgotten(dy, cache):
    x_hat, sigma, gamma = cache
    lead = tuple(range(dy.ndim - 1))
    dx = (dy - dy.mean(axis=-1, keepdims=True) - x_hat * (dy * x_hat).mean(axis=-1, keepdims=True)) / sigma
    return dx, (dy * x_hat).sum(axis=lead), dy.sum(axis=lead)


def _ln_batch_axis_only(dy, cache):
    x_hat, sigma, gamma = cache
    g = dy * gamma
    dx = (g - g.mean(axis=-1, keepdims=True) - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)) / sigma
    return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)  # wrong for a 3-d batch


# -- Exercise 6.4: the L2 normalisation's backward pass
def _l2_no_projection(dy, x):
    return dy / np.linalg.norm(x, axis=-1, keepdims=True)


def _l2_norm_squared(dy, x):
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    y = x / norm
    return (dy - y * (y * dy).sum(axis=-1, keepdims=True)) / norm**2


def _l2_projects_on_x(dy, x):
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    y = x / norm
    return (dy - x * (y * dy).sum(axis=-1, keepdims=True)) / norm


#: check name -> wrong answers it must reject.
WRONG = {
    "check_relative_error": [_rel_by_a_only, _rel_mean, _rel_entrywise, _rel_no_max],
    "check_numerical_gradient": [_ng_forward, _ng_missing_two, _ng_not_restored, _ng_own_step],
    "check_layer_norm_backward": [_ln_planted_bug, _ln_sigma_squared, _ln_gamma_forgotten, _ln_batch_axis_only],
    "check_l2_normalize_backward": [_l2_no_projection, _l2_norm_squared, _l2_projects_on_x],
}
