r"""Reference forward passes of rpnumpy's layers in HIPS autograd; gradients by reverse-mode autodiff.

Written from the papers' formulas (and the layer docstrings' statements of them), independently of
rpnumpy's code: nothing here imports rpnumpy. A layer is described by plain data,

* ``spec``: ``{"class": name, "config": {...}}``, the layer's ``get_config()`` as saved by
  :func:`rpnumpy.io.save_model` (sizes, scheme names, activations, seeds);
* ``arrays``: the parameters and the fixed random matrices, by the names rpnumpy gives them;
* ``x``: the input batch, one sample per row.

:func:`value_and_gradients` returns the output and, for an upstream gradient :math:`\delta`, the
gradients of :math:`L = \langle f(x; \theta), \delta\rangle` with respect to every parameter and the
input, computed by ``autograd.make_vjp``: no derivative below is written by hand.

Conventions (rpnumpy's, restated): row vectors, so a matrix of shape ``(d_in, d_out)`` acts as
``x @ M``; images in NCHW layout; convolution is a cross-correlation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import autograd.numpy as anp
import numpy as np
from autograd import make_vjp
from autograd.scipy.special import erf

__all__ = ["FORWARDS", "forward", "value_and_gradients"]

Arrays = Mapping[str, object]


def _activation(name: str | None, s):
    """The element-wise non-linearities, from their textbook definitions."""
    if name is None:
        return s
    if name == "relu":
        return anp.maximum(s, 0.0)
    if name == "sigmoid":
        return 0.5 * (anp.tanh(0.5 * s) + 1.0)  # = 1/(1 + e^{-s}), without overflow
    if name == "tanh":
        return anp.tanh(s)
    if name == "sin":
        return anp.sin(s)
    if name == "cos":
        return anp.cos(s)
    if name == "gelu":
        return 0.5 * s * (1.0 + erf(s / math.sqrt(2.0)))  # s * Phi(s), the exact GELU
    raise NotImplementedError(f"no reference for activation {name!r}")


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def dense(config: dict, a: Arrays, x):
    """:math:`y = xW + b`."""
    return anp.dot(x, a["W"]) + a["b"]


def low_rank(config: dict, a: Arrays, x):
    """:math:`y = x U V^\\top + b`."""
    return anp.dot(anp.dot(x, a["U"]), a["V"].T) + a["b"]


def flatten(config: dict, a: Arrays, x):
    return anp.reshape(x, (x.shape[0], -1))


def reshape(config: dict, a: Arrays, x):
    return anp.reshape(x, (x.shape[0], *config["shape"]))


def half_layer(config: dict, a: Arrays, x):
    r"""Alpaydin's half units :math:`z_h = g(u_h\, r_h^\top x + u_{h0})`.

    All units at once: column h of ``R`` is :math:`r_h`.
    """
    return _activation(config.get("activation"), anp.dot(x, a["R"]) * a["u"] + a["u0"])


def _prp(x, alpha, p, w, b):
    r"""Szorc's PRP, :math:`y = \big(P^\top (x \odot \alpha)\big) \odot w + b`, for row vectors."""
    return anp.dot(x * alpha, p) * w + b


def prp(config: dict, a: Arrays, x):
    return _prp(x, a["alpha"], a["P"], a["w"], a["b"])


def prp_autoencoder(config: dict, a: Arrays, x):
    r""":math:`h = g_h(\mathrm{PRP}_e(x))`, :math:`\hat x = g_o(\mathrm{PRP}_d(h))`.

    Tied: the decoder's matrix is the encoder's transposed, :math:`P^\top`.
    """
    p_dec = a["P"].T if config.get("tied", True) else a["P_dec"]
    h = _activation(config.get("hidden_activation"), _prp(x, a["alpha_e"], a["P"], a["w_e"], a["b_e"]))
    return _activation(config.get("output_activation", "sigmoid"), _prp(h, a["alpha_d"], p_dec, a["w_d"], a["b_d"]))


def conv2d(config: dict, a: Arrays, x):
    r"""Cross-correlation :math:`y_{nfij} = b_f + \sum_{c,u,v} W_{fcuv}\,\tilde x_{n,c,s_h i+u,s_w j+v}`.

    Summed over the kernel offsets :math:`(u, v)` as strided slices of the zero-padded input
    (a different route from rpnumpy's im2col). The padding is built by concatenation.
    """
    w = a["W"]
    kh, kw = w.shape[2:]
    sh, sw = _pair(config.get("stride", 1))
    ph, pw = _pair(config.get("padding", 0))
    n, c, h, wd = x.shape
    if ph:
        rows = anp.zeros((n, c, ph, wd))
        x = anp.concatenate([rows, x, rows], axis=2)
    if pw:
        cols = anp.zeros((n, c, x.shape[2], pw))
        x = anp.concatenate([cols, x, cols], axis=3)
    ho = (x.shape[2] - kh) // sh + 1
    wo = (x.shape[3] - kw) // sw + 1
    y = 0.0
    for u in range(kh):
        for v in range(kw):
            window = x[:, :, u : u + sh * (ho - 1) + 1 : sh, v : v + sw * (wo - 1) + 1 : sw]
            y = y + anp.einsum("fc,ncij->nfij", w[:, :, u, v], window)
    return y + anp.reshape(a["b"], (1, -1, 1, 1))


def max_pool2d(config: dict, a: Arrays, x):
    r""":math:`y_{ncij} = \max_{u,v} x_{n,c,s_h i+u,s_w j+v}` (floor mode: rows no window reaches are dropped)."""
    kh, kw = _pair(config.get("pool_size", 2))
    sh, sw = _pair(config.get("stride") or (kh, kw))
    ho = (x.shape[2] - kh) // sh + 1
    wo = (x.shape[3] - kw) // sw + 1
    windows = [x[:, :, u : u + sh * (ho - 1) + 1 : sh, v : v + sw * (wo - 1) + 1 : sw]
               for u in range(kh) for v in range(kw)]
    return anp.max(anp.stack(windows), axis=0)


def _tower(activation: str, g, xi, x, *, M: float = 0.0, kappa: float = 0.0):
    r"""One random-feature input tower :math:`\Phi(x)` of SNNK (Sehanobish, Choromanski et al., arXiv:2310.13225).

    ``g`` holds the directions :math:`g_k` as columns (``x @ g`` is :math:`g_k^\top x`). With the
    variance parameter :math:`M` (the config's ``variance_param``), :math:`c = \sqrt{1+4M}` and
    :math:`C = (1+4M)^{d/4}/\sqrt m`:

    * relu: :math:`\Phi = \max(xG, \kappa)/\sqrt m`;
    * exp: :math:`\Phi_k = C e^{c g_k^\top x - \|x\|^2/2 - M\|g_k\|^2}`;
    * cos, sin: :math:`\theta_k = c g_k^\top x`, :math:`h_k = C e^{\|x\|^2/2 - M\|g_k\|^2}`,
      :math:`\Phi = [h \cos\theta, h \sin\theta]`;
    * gaussian: the same with :math:`\zeta_k = 2\pi\xi_k`: :math:`\theta_k = \zeta_k c g_k^\top x`,
      :math:`h_k = C e^{\zeta_k^2\|x\|^2/2 - M\|g_k\|^2}`.
    """
    d, m = g.shape
    if activation == "relu":
        return anp.maximum(anp.dot(x, g), kappa) / math.sqrt(m)
    c = math.sqrt(1.0 + 4.0 * M)
    log_c = 0.25 * d * math.log(1.0 + 4.0 * M) - 0.5 * math.log(m)
    g_sq = np.sum(g * g, axis=0)
    x_sq = anp.sum(x * x, axis=1, keepdims=True)
    if activation == "exp":
        return anp.exp(c * anp.dot(x, g) - 0.5 * x_sq - M * g_sq + log_c)
    zeta = 2.0 * math.pi * xi if activation == "gaussian" else np.ones(m)
    theta = c * anp.dot(x, g) * zeta
    h = anp.exp(0.5 * zeta**2 * x_sq - M * g_sq + log_c)
    return anp.concatenate([h * anp.cos(theta), h * anp.sin(theta)], axis=1)


def snnk(config: dict, a: Arrays, x):
    r"""SNNK: :math:`y = \Phi(x) V + b`; ``V`` is the paper's :math:`V^\top`."""
    features = _tower(config["activation"], a["G"], a.get("xi"), x, M=config["variance_param"],
                      kappa=config.get("kappa", 0.0))
    y = anp.dot(features, a["V"])
    return y + a["b"] if config.get("bias", True) else y


def l2_normalize(config: dict, a: Arrays, x):
    r""":math:`y = r\,x/\|x\|`, row by row."""
    return config.get("radius", 1.0) * x / anp.sqrt(anp.sum(x * x, axis=1, keepdims=True))


def input_tower(config: dict, a: Arrays, x):
    """Towers in sequence; tower j's input is renormalised to ``radius`` and, for relu with ``relu_bias``, gets a 1."""
    z = x
    for j, activation in enumerate(config["activations"], start=1):
        if config.get("radius") is not None:
            z = l2_normalize({"radius": config["radius"]}, {}, z)
        relu = activation == "relu"
        if relu and config.get("relu_bias", False):
            z = anp.concatenate([z, anp.ones((z.shape[0], 1))], axis=1)
        z = _tower(activation, a[f"G{j}"], a.get(f"xi{j}"), z, M=0.0 if relu else config["variance_param"],
                   kappa=config.get("kappa", 0.0) if relu else 0.0)
    return z


def polynomial(config: dict, a: Arrays, x):
    r""":math:`y = \sum_i a_i x^i`, element-wise."""
    return sum(coefficient * x**i for i, coefficient in enumerate(config["coefficients"]))


def eugen(config: dict, a: Arrays, x):
    r"""EUGen (Kim et al.): :math:`y = [1, H_1, \dots, H_k]\,A + b`, :math:`H_i = \bigodot_{j \le i} x_+ G_{ij}`.

    :math:`x_+ = [x, 1, \|x\|]` (``[x, 1]`` without the norm term). ``G`` holds the blocks
    :math:`G_{ij}` (each ``(d+2, m)``, the paper's transposed) side by side in the order
    (1,1), (2,1), (2,2), (3,1), ...; ``A`` is the paper's :math:`A^\top`.
    """
    n = x.shape[0]
    columns = [x, anp.ones((n, 1))]
    if config.get("norm_term", True):
        columns.append(anp.sqrt(anp.sum(x * x, axis=1, keepdims=True)))
    x_plus = anp.concatenate(columns, axis=1)
    m, order, g = config["m"], config["order"], a["G"]
    blocks, start = [anp.ones((n, 1))], 0
    for i in range(1, order + 1):
        h = 1.0
        for _ in range(i):
            h = h * anp.dot(x_plus, g[:, start : start + m])
            start += m
        blocks.append(h)
    y = anp.dot(anp.concatenate(blocks, axis=1), a["A"])
    return y + a["b"] if config.get("bias", True) else y


def bottleneck_adapter(config: dict, a: Arrays, x):
    r"""Residual bottleneck adapter: :math:`y = x + \max(xW_{down} + b_{down}, 0)W_{up} + b_{up}`."""
    h = anp.maximum(anp.dot(x, a["W_down"]) + a["b_down"], 0.0)
    return x + anp.dot(h, a["W_up"]) + a["b_up"]


def snnk_adapter(config: dict, a: Arrays, x):
    r"""Residual SNNK adapter: :math:`y = x + \Phi(x) V + b`."""
    features = _tower(config["activation"], a["G"], a.get("xi"), x, kappa=config.get("kappa", 0.0))
    return x + anp.dot(features, a["V"]) + a["b"]


def frozen(config: dict, a: Arrays, x):
    """The wrapped layer's forward pass; its parameters arrive as fixed arrays (no gradient is asked of them)."""
    return forward(config["layer"], a, x)


def _element_wise(name: str) -> Callable:
    return lambda config, a, x: _activation(name, x)


def sequential(config: dict, a: Arrays, x):
    """The layers in order; layer ``i``'s arrays are named ``"i.<name>"``."""
    for i, spec in enumerate(config["layers"]):
        prefix = f"{i}."
        x = forward(spec, {k[len(prefix):]: v for k, v in a.items() if k.startswith(prefix)}, x)
    return x


#: Reference forward pass by rpnumpy class name.
FORWARDS: dict[str, Callable] = {
    "Dense": dense,
    "LowRank": low_rank,
    "Flatten": flatten,
    "Reshape": reshape,
    "ReLU": _element_wise("relu"),
    "Sigmoid": _element_wise("sigmoid"),
    "Tanh": _element_wise("tanh"),
    "Sin": _element_wise("sin"),
    "Cos": _element_wise("cos"),
    "GELU": _element_wise("gelu"),
    "HalfLayer": half_layer,
    "PRP": prp,
    "PRPAutoencoder": prp_autoencoder,
    "Conv2D": conv2d,
    "MaxPool2D": max_pool2d,
    "SNNK": snnk,
    "EUGen": eugen,
    "L2Normalize": l2_normalize,
    "PolynomialActivation": polynomial,
    "InputTower": input_tower,
    "FullyBundledNetwork": sequential,
    "TwoTowerMLP": sequential,  # its weight tower is not used by the forward pass
    "Sequential": sequential,
    "BottleneckAdapter": bottleneck_adapter,
    "SNNKAdapter": snnk_adapter,
    "Frozen": frozen,
}


def forward(spec: dict, arrays: Arrays, x):
    """The output of the layer ``spec`` with ``arrays`` (parameters and fixed matrices) on ``x``."""
    name = spec["class"]
    if name not in FORWARDS:
        raise NotImplementedError(f"no autograd reference for layer class {name!r}")
    return FORWARDS[name](spec["config"], arrays, x)


def value_and_gradients(
    spec: dict, params: Mapping[str, np.ndarray], buffers: Mapping[str, np.ndarray], x: np.ndarray, dy: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    r"""Output, parameter gradients and input gradient of :math:`L = \langle f(x), \delta\rangle`, by autograd.

    Returns
    -------
    y : ndarray
    grads : dict of str to ndarray
        :math:`\partial L/\partial \theta` for every parameter (buffers get none: they are constants).
    dx : ndarray
        :math:`\partial L/\partial x`.
    """
    fixed = {k: np.asarray(v, dtype=np.float64) for k, v in buffers.items()}

    def output(variables: dict):
        return forward(spec, {**fixed, **variables["params"]}, variables["x"])

    variables = {"x": np.asarray(x, dtype=np.float64),
                 "params": {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}}
    vjp, y = make_vjp(output)(variables)
    grads = vjp(np.asarray(dy, dtype=np.float64))
    return np.asarray(y), {k: np.asarray(v) for k, v in grads["params"].items()}, np.asarray(grads["x"])
