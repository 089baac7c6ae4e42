r"""Reference forward passes of rpnumpy's layers in PyTorch (float64); gradients by ``torch.autograd``.

Written from the papers' formulas, independently of rpnumpy's code (nothing here imports rpnumpy),
and built on PyTorch's own operators where it has them (``conv2d``, ``max_pool2d``, ``gelu``), so the
comparison also checks rpnumpy's conventions against the most widely used framework's. The interface
is the one of :mod:`rpnumpy.testing.autograd_reference`: a layer ``spec`` (``{"class", "config"}``), the
parameters and fixed matrices as NumPy arrays, the input batch.

Conventions (rpnumpy's, restated): row vectors (``x @ M`` with ``M`` of shape ``(d_in, d_out)``,
where ``torch.nn.Linear`` stores the transpose), NCHW images, convolution as a cross-correlation
(which is what ``torch.nn.functional.conv2d`` computes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["FORWARDS", "TorchTwin", "forward", "value_and_gradients"]

Tensors = Mapping[str, torch.Tensor]


def _activation(name: str | None, s: torch.Tensor) -> torch.Tensor:
    if name is None:
        return s
    functions = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "sin": torch.sin,
                 "cos": torch.cos, "gelu": lambda t: F.gelu(t, approximate="none")}
    if name not in functions:
        raise NotImplementedError(f"no reference for activation {name!r}")
    return functions[name](s)


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def dense(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    """:math:`y = xW + b` (``F.linear`` expects the transposed weight)."""
    return F.linear(x, a["W"].T, a["b"])


def low_rank(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    return (x @ a["U"]) @ a["V"].T + a["b"]


def flatten(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    return torch.flatten(x, start_dim=1)


def reshape(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], *config["shape"])


def half_layer(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    r""":math:`z = g(u \odot (xR) + u_0)`."""
    return _activation(config.get("activation"), torch.addcmul(a["u0"], x @ a["R"], a["u"]))


def _prp(x, alpha, p, w, b):
    r""":math:`y = \big(P^\top (x \odot \alpha)\big) \odot w + b`, for row vectors."""
    return ((x * alpha) @ p) * w + b


def prp(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    return _prp(x, a["alpha"], a["P"], a["w"], a["b"])


def prp_autoencoder(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    p_dec = a["P"].T if config.get("tied", True) else a["P_dec"]
    h = _activation(config.get("hidden_activation"), _prp(x, a["alpha_e"], a["P"], a["w_e"], a["b_e"]))
    return _activation(config.get("output_activation", "sigmoid"), _prp(h, a["alpha_d"], p_dec, a["w_d"], a["b_d"]))


def conv2d(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x, a["W"], a["b"], stride=_pair(config.get("stride", 1)), padding=_pair(config.get("padding", 0)))


def max_pool2d(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    size = _pair(config.get("pool_size", 2))
    return F.max_pool2d(x, size, stride=_pair(config.get("stride") or size))


def _tower(activation: str, g, xi, x, *, M: float = 0.0, kappa: float = 0.0) -> torch.Tensor:
    """One SNNK input tower Φ(x) (see the autograd reference for the formulas)."""
    d, m = g.shape
    if activation == "relu":
        return torch.clamp(x @ g, min=kappa) / math.sqrt(m)
    c = math.sqrt(1.0 + 4.0 * M)
    log_c = 0.25 * d * math.log(1.0 + 4.0 * M) - 0.5 * math.log(m)
    g_sq = (g * g).sum(dim=0)
    x_sq = (x * x).sum(dim=1, keepdim=True)
    if activation == "exp":
        return torch.exp(c * (x @ g) - 0.5 * x_sq - M * g_sq + log_c)
    zeta = 2.0 * math.pi * xi if activation == "gaussian" else torch.ones(m, dtype=x.dtype)
    theta = c * (x @ g) * zeta
    h = torch.exp(0.5 * zeta**2 * x_sq - M * g_sq + log_c)
    return torch.cat([h * torch.cos(theta), h * torch.sin(theta)], dim=1)


def snnk(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    r"""SNNK, :math:`y = \Phi(x) V + b`."""
    features = _tower(config["activation"], a["G"], a.get("xi"), x, M=config["variance_param"],
                      kappa=config.get("kappa", 0.0))
    y = features @ a["V"]
    return y + a["b"] if config.get("bias", True) else y


def l2_normalize(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    return config.get("radius", 1.0) * F.normalize(x, dim=1, eps=0.0)


def input_tower(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    z = x
    for j, activation in enumerate(config["activations"], start=1):
        if config.get("radius") is not None:
            z = l2_normalize({"radius": config["radius"]}, {}, z)
        relu = activation == "relu"
        if relu and config.get("relu_bias", False):
            z = torch.cat([z, torch.ones((z.shape[0], 1), dtype=z.dtype)], dim=1)
        z = _tower(activation, a[f"G{j}"], a.get(f"xi{j}"), z, M=0.0 if relu else config["variance_param"],
                   kappa=config.get("kappa", 0.0) if relu else 0.0)
    return z


def polynomial(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    coefficients = torch.tensor(config["coefficients"], dtype=x.dtype)
    return torch.stack([c * x**i for i, c in enumerate(coefficients)]).sum(dim=0)


def eugen(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    r"""EUGen, :math:`y = [1, H_1, \dots, H_k] A + b` with :math:`x_+ = [x, 1, \|x\|]` (see the autograd reference).

    Every projection :math:`Q_{ij} = x_+ G_{ij}` comes from one product with the blocks side by side.
    """
    ones = torch.ones((x.shape[0], 1), dtype=x.dtype)
    columns = [x, ones]
    if config.get("norm_term", True):
        columns.append(torch.linalg.vector_norm(x, dim=1, keepdim=True))
    m, order = config["m"], config["order"]
    q = torch.cat(columns, dim=1) @ a["G"]
    blocks, start = [ones], 0
    for i in range(1, order + 1):
        h = q[:, start: start + m]
        for j in range(1, i):
            h = h * q[:, start + j * m: start + (j + 1) * m]
        blocks.append(h)
        start += i * m
    y = torch.cat(blocks, dim=1) @ a["A"]
    return y + a["b"] if config.get("bias", True) else y


def bottleneck_adapter(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    r"""Residual bottleneck adapter: :math:`y = x + \max(xW_{down} + b_{down}, 0)W_{up} + b_{up}`."""
    return x + F.linear(torch.relu(F.linear(x, a["W_down"].T, a["b_down"])), a["W_up"].T, a["b_up"])


def snnk_adapter(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    r"""Residual SNNK adapter: :math:`y = x + \Phi(x) V + b`."""
    features = _tower(config["activation"], a["G"], a.get("xi"), x, kappa=config.get("kappa", 0.0))
    return x + features @ a["V"] + a["b"]


def frozen(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
    """The wrapped layer's forward pass, its parameters being fixed tensors."""
    return forward(config["layer"], a, x)


def _element_wise(name: str) -> Callable:
    return lambda config, a, x: _activation(name, x)


def sequential(config: dict, a: Tensors, x: torch.Tensor) -> torch.Tensor:
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


def forward(spec: dict, tensors: Tensors, x: torch.Tensor) -> torch.Tensor:
    name = spec["class"]
    if name not in FORWARDS:
        raise NotImplementedError(f"no PyTorch reference for layer class {name!r}")
    return FORWARDS[name](spec["config"], tensors, x)


def value_and_gradients(
    spec: dict, params: Mapping[str, np.ndarray], buffers: Mapping[str, np.ndarray], x: np.ndarray, dy: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    r"""Output, parameter gradients and input gradient of :math:`L = \langle f(x), \delta\rangle`, by torch.autograd.

    Everything is converted to float64 tensors; parameters and the input require gradients, the
    fixed matrices do not.
    """
    def tensor(array: np.ndarray, grad: bool) -> torch.Tensor:
        return torch.tensor(np.asarray(array, dtype=np.float64), dtype=torch.float64, requires_grad=grad)

    x_t = tensor(x, True)
    params_t = {k: tensor(v, True) for k, v in params.items()}
    buffers_t = {k: tensor(v, False) for k, v in buffers.items()}
    y = forward(spec, {**buffers_t, **params_t}, x_t)
    inputs = [x_t, *params_t.values()]
    grads = torch.autograd.grad(y, inputs, grad_outputs=tensor(dy, False), allow_unused=True)
    as_array = [np.zeros(t.shape) if g is None else g.detach().numpy() for t, g in zip(inputs, grads)]
    return y.detach().numpy(), dict(zip(params_t, as_array[1:])), as_array[0]


class TorchTwin(torch.nn.Module):
    """A trainable PyTorch module computing what an rpnumpy layer or network computes.

    Built from plain data, as the functions above are: the layer's ``spec`` (``{"class", "config"}``, as
    :func:`rpnumpy.layers.base.layer_spec` gives it), its parameters (which become ``torch.nn.Parameter``s,
    trained by any ``torch.optim`` optimizer) and its fixed matrices (registered buffers: no gradient,
    never updated). Its forward pass is :func:`forward`. The benchmarks time rpnumpy against these twins,
    started from the same weights.

    Parameters
    ----------
    spec : dict
    params, buffers : mapping of str to ndarray
    dtype : torch.dtype, default=torch.float32
    """

    def __init__(self, spec: dict, params: Mapping[str, np.ndarray], buffers: Mapping[str, np.ndarray],
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.spec = spec
        self._names = {}  # the rpnumpy key of every parameter and buffer, by its attribute name here
        for i, (key, value) in enumerate(params.items()):
            self.register_parameter(f"param{i}", torch.nn.Parameter(torch.tensor(np.asarray(value), dtype=dtype)))
            self._names[f"param{i}"] = key
        for i, (key, value) in enumerate(buffers.items()):
            self.register_buffer(f"buffer{i}", torch.tensor(np.asarray(value), dtype=dtype))
            self._names[f"buffer{i}"] = key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arrays = {self._names[name]: tensor for name, tensor in (*self.named_parameters(), *self.named_buffers())}
        return forward(self.spec, arrays, x)
