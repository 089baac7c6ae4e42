"""Planted mistakes for the checks of notebook 00: each one a plausible wrong answer the check must reject."""

import numpy as np


def _affine_mean_db(dy, cache):
    x, W, b = cache
    return dy @ W.T, x.T @ dy, dy.mean(axis=0)


def _affine_transposed_dw(dy, cache):
    x, W, b = cache
    return dy @ W.T, dy.T @ x, dy.sum(axis=0)


def _affine_w_not_transposed(dy, cache):
    # runs only where d_in = d_out; elsewhere it raises, which the check reports as an error first
    x, W, b = cache
    return dy @ W if W.shape[0] == W.shape[1] else dy @ W.T, x.T @ dy, dy.sum(axis=0)


def _affine_first_sample_only(dy, cache):
    x, W, b = cache
    return dy @ W.T, x[:1].T @ dy[:1], dy.sum(axis=0)


def _relu_at_zero(dy, x):
    return dy * (x >= 0)


def _relu_mask_only(dy, x):
    return (x > 0).astype(dy.dtype)


def _relu_mask_of_dy(dy, x):
    return dy * (dy > 0)


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _ce_no_mean(logits, t):
    p = _softmax(logits)
    p[np.arange(len(t)), t] -= 1
    return p


def _ce_sign_flipped(logits, t):
    p = _softmax(logits)
    p[np.arange(len(t)), t] -= 1
    return -p / len(t)


def _ce_overflows(logits, t):
    e = np.exp(logits)  # no shift: np.exp(1000) is inf, inf / inf is nan
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(t)), t] -= 1
    return p / len(t)


def _ce_probabilities_only(logits, t):
    return _softmax(logits) / len(t)


#: check name -> wrong answers it must reject.
WRONG = {
    "check_affine_backward": [_affine_mean_db, _affine_transposed_dw, _affine_w_not_transposed,
                              _affine_first_sample_only],
    "check_relu_backward": [_relu_at_zero, _relu_mask_only, _relu_mask_of_dy],
    "check_cross_entropy_backward": [_ce_no_mean, _ce_sign_flipped, _ce_overflows, _ce_probabilities_only],
}
