"""Planted mistakes for the checks of notebook 02: plausible wrong answers each check must reject."""

import math

import numpy as np

# Exercise 2.1: the effective weight P ⊙ (α wᵀ).


def _weff_mask_only(P, alpha, w):
    return np.outer(alpha, w)


def _weff_swapped(P, alpha, w):
    if P.shape[0] == P.shape[1]:
        return P * np.outer(w, alpha)  # alpha on the columns, w on the rows
    return P * np.outer(alpha, w)  # (where the shapes forbid the swap)


def _weff_missing_w(P, alpha, w):
    return P * alpha[:, None]


def _weff_missing_alpha(P, alpha, w):
    return P * w


# Exercise 2.2: PRP's backward pass.


def _prp_dx_without_alpha(dy, x, alpha, P, w):
    g_u = (dy * w) @ P.T
    return g_u, (g_u * x).sum(axis=0), (dy * ((x * alpha) @ P)).sum(axis=0), dy.sum(axis=0)


def _prp_dalpha_without_w(dy, x, alpha, P, w):
    g_u = (dy * w) @ P.T
    return g_u * alpha, ((dy @ P.T) * x).sum(axis=0), (dy * ((x * alpha) @ P)).sum(axis=0), dy.sum(axis=0)


def _prp_dw_without_alpha(dy, x, alpha, P, w):
    g_u = (dy * w) @ P.T
    return g_u * alpha, (g_u * x).sum(axis=0), (dy * (x @ P)).sum(axis=0), dy.sum(axis=0)


def _prp_means(dy, x, alpha, P, w):
    g_u = (dy * w) @ P.T
    return g_u * alpha, (g_u * x).mean(axis=0), (dy * ((x * alpha) @ P)).mean(axis=0), dy.mean(axis=0)


def _prp_dw_per_sample(dy, x, alpha, P, w):
    g_u = (dy * w) @ P.T
    return g_u * alpha, (g_u * x).sum(axis=0), dy * ((x * alpha) @ P), dy.sum(axis=0)


# Exercise 2.3: the tied autoencoder's gradient for the shared P.


def _forward_terms(x, dy, P, params):
    p = params
    h = ((x * p["alpha_e"]) @ P) * p["w_e"] + p["b_e"]
    delta_e = ((dy * p["w_d"]) @ P) * p["alpha_d"]
    encoder = (x * p["alpha_e"]).T @ (delta_e * p["w_e"])
    decoder = (h * p["alpha_d"]).T @ (dy * p["w_d"])
    return encoder, decoder


def _tied_encoder_only(x, dy, P, params):
    return _forward_terms(x, dy, P, params)[0]


def _tied_decoder_only(x, dy, P, params):
    return _forward_terms(x, dy, P, params)[1].T


def _tied_decoder_not_transposed(x, dy, P, params):
    encoder, decoder = _forward_terms(x, dy, P, params)
    return encoder + decoder if decoder.shape == encoder.shape else decoder


def _tied_mean_of_terms(x, dy, P, params):
    encoder, decoder = _forward_terms(x, dy, P, params)
    return (encoder + decoder.T) / 2


# Exercise 2.4: the Johnson-Lindenstrauss minimum dimension.


def _jl_truncated(n, eps):
    return int(4 * math.log(n) / (eps**2 / 2 - eps**3 / 3))


def _jl_log10(n, eps):
    return math.ceil(4 * math.log10(n) / (eps**2 / 2 - eps**3 / 3))


def _jl_no_cubic_term(n, eps):
    return math.ceil(4 * math.log(n) / (eps**2 / 2))


def _jl_float(n, eps):
    return 4 * math.log(n) / (eps**2 / 2 - eps**3 / 3)


#: check name -> wrong answers it must reject.
WRONG = {
    "check_effective_weight": [_weff_mask_only, _weff_swapped, _weff_missing_w, _weff_missing_alpha],
    "check_prp_backward": [_prp_dx_without_alpha, _prp_dalpha_without_w, _prp_dw_without_alpha, _prp_means,
                           _prp_dw_per_sample],
    "check_tied_gradient_of_P": [_tied_encoder_only, _tied_decoder_only, _tied_decoder_not_transposed,
                                 _tied_mean_of_terms],
    "check_jl_min_dim": [_jl_truncated, _jl_log10, _jl_no_cubic_term, _jl_float],
}
