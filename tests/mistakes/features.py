"""Planted mistakes for the checks of notebook 03: plausible wrong answers each check must reject."""

import numpy as np


def _cos_parts(x, w, G, M, *, gamma=None, log_space=True):
    d, m = G.shape
    gamma = np.sqrt(1 + 4 * M) if gamma is None else gamma
    scale = -M * np.sum(G**2, axis=0)
    if log_space:
        scale = scale + d / 4 * np.log1p(4 * M) - 0.5 * np.log(m)
    mu = np.exp(0.5 * np.sum(x**2, axis=1, keepdims=True) + scale)
    nu = np.exp(gamma * (w @ G) - 0.5 * np.sum(w**2, axis=1, keepdims=True) + scale)
    if not log_space:  # C formed on its own: (1+4M)^(d/4) overflows for large d
        with np.errstate(over="ignore", invalid="ignore"):
            constant = np.power(1 + 4 * M, d / 4) / np.sqrt(m)
            mu, nu = mu * constant, nu * constant
    return mu, gamma * (x @ G), nu


def _cos_sign_of_sin_half(x, w, b, G, M):
    mu, theta, nu = _cos_parts(x, w, G, M)
    phi = np.concatenate([mu * np.cos(theta), mu * np.sin(theta)], axis=1)
    return phi, np.concatenate([nu * np.cos(b)[:, None], nu * np.sin(b)[:, None]], axis=1)


def _cos_no_bias(x, w, b, G, M):
    mu, theta, nu = _cos_parts(x, w, G, M)
    phi = np.concatenate([mu * np.cos(theta), mu * np.sin(theta)], axis=1)
    return phi, np.concatenate([nu, np.zeros_like(nu)], axis=1)


def _cos_without_gamma(x, w, b, G, M):
    mu, theta, nu = _cos_parts(x, w, G, M, gamma=1.0)
    phi = np.concatenate([mu * np.cos(theta), mu * np.sin(theta)], axis=1)
    return phi, np.concatenate([nu * np.cos(b)[:, None], -nu * np.sin(b)[:, None]], axis=1)


def _cos_constant_outside_the_exponent(x, w, b, G, M):
    mu, theta, nu = _cos_parts(x, w, G, M, log_space=False)
    with np.errstate(invalid="ignore"):
        phi = np.concatenate([mu * np.cos(theta), mu * np.sin(theta)], axis=1)
        return phi, np.concatenate([nu * np.cos(b)[:, None], -nu * np.sin(b)[:, None]], axis=1)


def _arc_cosine_cho_saul_factor(x, w):
    norms = np.linalg.norm(x, axis=1)[:, None] * np.linalg.norm(w, axis=1)[None, :]
    cos = np.clip((x @ w.T) / norms, -1, 1)
    omega = np.arccos(cos)
    return norms * (np.sin(omega) + (np.pi - omega) * cos) / np.pi


def _arc_cosine_unit_vectors(x, w):
    norms = np.linalg.norm(x, axis=1)[:, None] * np.linalg.norm(w, axis=1)[None, :]
    cos = np.clip((x @ w.T) / norms, -1, 1)
    omega = np.arccos(cos)
    return (np.sin(omega) + (np.pi - omega) * cos) / (2 * np.pi)


def _arc_cosine_unclipped(x, w):
    norms = np.linalg.norm(x, axis=1)[:, None] * np.linalg.norm(w, axis=1)[None, :]
    cos = (x @ w.T) / norms
    with np.errstate(invalid="ignore"):
        omega = np.arccos(cos)
    return norms * (np.sin(omega) + (np.pi - omega) * cos) / (2 * np.pi)


def _arc_cosine_relu(x, w):
    return np.maximum(x @ w.T, 0.0)


def _trig_parts(x, G, d_phi):
    m = G.shape[1]
    theta = x @ G
    mu = np.exp(0.5 * np.sum(x**2, axis=1, keepdims=True)) / np.sqrt(m)
    phi_c, phi_s = mu * np.cos(theta), mu * np.sin(theta)
    d_c, d_s = d_phi[:, :m], d_phi[:, m:]
    return d_s * phi_c - d_c * phi_s, np.sum(d_c * phi_c + d_s * phi_s, axis=1, keepdims=True)


def _trig_backward_without_norm_term(x, G, d_phi):
    d_theta, _ = _trig_parts(x, G, d_phi)
    return d_theta @ G.T


def _trig_backward_twice_the_norm_term(x, G, d_phi):
    d_theta, d_log_mu = _trig_parts(x, G, d_phi)
    return d_theta @ G.T + 2 * d_log_mu * x


def _trig_backward_sign_of_theta(x, G, d_phi):
    d_theta, d_log_mu = _trig_parts(x, G, d_phi)
    return -d_theta @ G.T + d_log_mu * x


#: check name -> wrong answers it must reject.
WRONG: dict = {
    "check_cos_towers": [_cos_sign_of_sin_half, _cos_no_bias, _cos_without_gamma, _cos_constant_outside_the_exponent],
    "check_arc_cosine_kernel": [_arc_cosine_cho_saul_factor, _arc_cosine_unit_vectors, _arc_cosine_unclipped,
                                _arc_cosine_relu],
    "check_trig_input_backward": [_trig_backward_without_norm_term, _trig_backward_twice_the_norm_term,
                                  _trig_backward_sign_of_theta],
}
