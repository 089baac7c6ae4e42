r"""A registry of small, named configurations of every rpnumpy layer ("layer cases").

One contract test suite, the reference comparisons (autograd, PyTorch), the
property-based tests and ``python -m rpnumpy gradcheck`` all run over the same
list, :data:`LAYER_CASES`, so a layer added here is checked everywhere at once.

A case is a name such as ``"PRP[orthogonal]"`` or ``"HalfLayer[binary,relu]"``
(the layer class, then its configuration in brackets), a builder
``case.build(dtype, rng) -> layer`` and an input builder
``case.make_input(dtype, rng) -> x``. Every random-matrix scheme of every layer
has its own case: the schemes are read from the layers' own constants
(:data:`~rpnumpy.layers.HALF_SCHEMES`, :data:`~rpnumpy.layers.PRP_SCHEMES`, ...,
and the schemes that are ours, such as ``"srht"``), so a scheme added there is
covered here without an edit.

The case type, and the choices that make the checks meaningful, are in
:mod:`rpnumpy.testing.case`.

Examples
--------
>>> import numpy as np
>>> from rpnumpy.testing import get_case
>>> case = get_case("PRP[orthogonal]")
>>> layer, x = case.build(np.float64, 0), case.make_input(np.float64, 0)
>>> layer.forward(x).shape == case.output_shape(len(x))
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..bundling import FullyBundledNetwork, InputTower, L2Normalize, bundle_mlp
from ..features import FEATURE_DRAWS, FEATURE_MAPS
from ..layers import (
    ACTIVATIONS,
    EUGEN_DRAWS,
    GELU,
    HALF_SCHEMES,
    PRP,
    PRP_SCHEMES,
    SNNK,
    BottleneckAdapter,
    Conv2D,
    Dense,
    EUGen,
    Flatten,
    Frozen,
    HalfLayer,
    Layer,
    LowRank,
    MaxPool2D,
    PolynomialActivation,
    PRPAutoencoder,
    ReLU,
    Reshape,
    Sequential,
    Sin,
    SNNKAdapter,
)
from ..layers import half as _half_module
from ..layers import prp as _prp_module
from .case import INPUT_KINDS, LayerCase, _Dims, _seed, case_rng, check_case_gradients, perturb_params

__all__ = [
    "INPUT_KINDS",
    "LAYER_CASES",
    "LayerCase",
    "case_rng",
    "check_case_gradients",
    "covered_layers",
    "get_case",
    "perturb_params",
    "registry_summary",
]


# -- the cases, family by family ----------------------------------------------------------------------------


def _flat_in(key: str = "d_in") -> Callable[[int, _Dims], tuple[int, ...]]:
    return lambda n, d: (n, d[key])


def _flat_out(key: str = "d_out") -> Callable[[int, _Dims], tuple[int, ...]]:
    return lambda n, d: (n, d[key])


def _dense_cases() -> list[LayerCase]:
    return [
        LayerCase(
            "Dense", "Dense",
            lambda dt, rng, d: Dense(d["d_in"], d["d_out"], rng=_seed(rng), dtype=dt),
            _flat_in(), _flat_out(), {"d_in": 5, "d_out": 4}, {"d_in": (1, 7), "d_out": (1, 6)},
            description="y = xW + b",
        ),
        LayerCase(
            "LowRank[rank2]", "LowRank",
            lambda dt, rng, d: LowRank(d["d_in"], d["d_out"], d["rank"], rng=_seed(rng), dtype=dt),
            _flat_in(), _flat_out(), {"d_in": 6, "d_out": 5, "rank": 2},
            {"d_in": (2, 7), "d_out": (2, 7), "rank": (1, 2)},
            description="y = x U V^T + b, the baseline of PRP",
        ),
    ]


def _shape_cases() -> list[LayerCase]:
    return [
        LayerCase(
            "Flatten", "Flatten", lambda dt, rng, d: Flatten(),
            lambda n, d: (n, d["c"], d["h"], d["w"]), lambda n, d: (n, d["c"] * d["h"] * d["w"]),
            {"c": 2, "h": 3, "w": 2}, {"c": (1, 3), "h": (1, 4), "w": (1, 4)},
            description="(n, c, h, w) -> (n, c*h*w)",
        ),
        LayerCase(
            "Reshape", "Reshape", lambda dt, rng, d: Reshape((1, d["h"], d["w"])),
            lambda n, d: (n, d["h"] * d["w"]), lambda n, d: (n, 1, d["h"], d["w"]),
            {"h": 3, "w": 4}, {"h": (1, 5), "w": (1, 5)},
            description="(n, h*w) -> (n, 1, h, w)",
        ),
    ]


def _activation_cases() -> list[LayerCase]:
    return [
        LayerCase(
            cls.__name__, cls.__name__, lambda dt, rng, d, cls=cls: cls(),
            _flat_in("d"), _flat_out("d"), {"d": 6}, {"d": (1, 8)},
            input_kind="away_from_zero", description=f"element-wise {name}",
        )
        for name, cls in ACTIVATIONS.items()
    ]


def _our_schemes(module: Any) -> tuple[str, ...]:
    """Schemes a layer module accepts besides its paper's (``"srht"``), from its ``_OUR_SCHEMES``."""
    return tuple(getattr(module, "_OUR_SCHEMES", ()))


def _half_factory(scheme: str, activation: str | None) -> Callable[[np.dtype, np.random.Generator, _Dims], Layer]:
    def factory(dtype: np.dtype, rng: np.random.Generator, d: _Dims) -> Layer:
        if scheme == "mexican_hat":
            return HalfLayer(d["h"] * d["w"], d["d_out"], scheme=scheme, activation=activation,
                             image_shape=(d["h"], d["w"]), rng=_seed(rng), dtype=dtype)
        if scheme == "template":
            # Stand-in "training examples": the scheme draws d_out of them, so supply a few more.
            templates = rng.standard_normal((d["d_out"] + 3, d["d_in"]))
            return HalfLayer(d["d_in"], d["d_out"], scheme=scheme, activation=activation, templates=templates,
                             rng=_seed(rng), dtype=dtype)
        return HalfLayer(d["d_in"], d["d_out"], scheme=scheme, activation=activation, rng=_seed(rng), dtype=dtype)

    return factory


def _half_cases() -> list[LayerCase]:
    def case(scheme: str, activation: str | None) -> LayerCase:
        name = f"HalfLayer[{scheme},{activation or 'identity'}]"
        description = f"z = g(u * (xR) + u0), R by the {scheme} scheme, g = {activation or 'identity'}"
        if scheme == "mexican_hat":  # fields on an h x w image grid: d_in = h*w
            return LayerCase(
                name, "HalfLayer", _half_factory(scheme, activation),
                lambda n, d: (n, d["h"] * d["w"]), _flat_out(), {"h": 3, "w": 3, "d_out": 5},
                {"h": (2, 5), "w": (2, 5), "d_out": (1, 6)}, description=description,
            )
        return LayerCase(
            name, "HalfLayer", _half_factory(scheme, activation), _flat_in(), _flat_out(),
            {"d_in": 6, "d_out": 5}, {"d_in": (1, 7), "d_out": (1, 6)}, description=description,
        )

    schemes = [*dict.fromkeys(HALF_SCHEMES.values()), *_our_schemes(_half_module)]
    # Every scheme with ReLU (the paper's networks), then every other activation once with the normal scheme.
    cases = [case(scheme, "relu") for scheme in schemes]
    cases += [case("normal", activation) for activation in [None, *ACTIVATIONS] if activation != "relu"]
    return cases


def _conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def _conv_cases() -> list[LayerCase]:
    def conv(kernel: tuple[int, int], stride: int, pad: int, dims: dict, ranges: dict) -> LayerCase:
        (kh, kw) = kernel

        def out(n: int, d: _Dims) -> tuple[int, ...]:
            return (n, d["c_out"], _conv_out(d["h"], kh, stride, pad), _conv_out(d["w"], kw, stride, pad))

        return LayerCase(
            f"Conv2D[{kh}x{kw},stride{stride},pad{pad}]", "Conv2D",
            lambda dt, rng, d: Conv2D(d["c_in"], d["c_out"], kernel, stride=stride, padding=pad, rng=_seed(rng),
                                      dtype=dt),
            lambda n, d: (n, d["c_in"], d["h"], d["w"]), out, dims, ranges,
            description=f"cross-correlation, kernel {kh}x{kw}, stride {stride}, zero padding {pad}",
        )

    def pool(size: int, stride: int, dims: dict, ranges: dict) -> LayerCase:
        def out(n: int, d: _Dims) -> tuple[int, ...]:
            return (n, d["c"], _conv_out(d["h"], size, stride, 0), _conv_out(d["w"], size, stride, 0))

        overlap = "overlapping " if stride < size else ""
        return LayerCase(
            f"MaxPool2D[{size}x{size},stride{stride}]", "MaxPool2D", lambda dt, rng, d: MaxPool2D(size, stride),
            lambda n, d: (n, d["c"], d["h"], d["w"]), out, dims, ranges, input_kind="distinct", batch=2,
            description=f"{overlap}max pooling {size}x{size}, stride {stride}; inputs without near-ties",
        )

    return [
        conv((3, 3), 1, 1, {"c_in": 2, "c_out": 3, "h": 5, "w": 4},
             {"c_in": (1, 3), "c_out": (1, 3), "h": (1, 6), "w": (1, 6)}),
        conv((3, 2), 2, 0, {"c_in": 2, "c_out": 2, "h": 6, "w": 5},
             {"c_in": (1, 3), "c_out": (1, 3), "h": (3, 7), "w": (2, 7)}),
        pool(2, 2, {"c": 2, "h": 4, "w": 5}, {"c": (1, 3), "h": (2, 7), "w": (2, 7)}),
        pool(3, 2, {"c": 2, "h": 5, "w": 6}, {"c": (1, 3), "h": (3, 7), "w": (3, 7)}),
    ]


def _prp_cases() -> list[LayerCase]:
    cases = [
        LayerCase(
            f"PRP[{scheme}]", "PRP",
            lambda dt, rng, d, scheme=scheme: PRP(d["d_in"], d["d_out"], scheme=scheme, rng=_seed(rng), dtype=dt),
            _flat_in(), _flat_out(), {"d_in": 6, "d_out": 4}, {"d_in": (1, 7), "d_out": (1, 7)},
            description=f"y = ((x * alpha) P) * w + b, P by the {scheme} scheme",
        )
        for scheme in (*PRP_SCHEMES, *_our_schemes(_prp_module))
    ]
    # The tied autoencoder with its default activations, the untied one, and every scheme once.
    configs = [(True, "orthogonal", None, "sigmoid"), (False, "orthogonal", None, "sigmoid")]
    configs += [(True, scheme, "tanh", None) for scheme in PRP_SCHEMES if scheme != "orthogonal"]
    for tied, scheme, hidden, output in configs:
        name = f"PRPAutoencoder[{'tied' if tied else 'untied'},{scheme},{hidden or 'identity'}/{output or 'identity'}]"
        cases.append(LayerCase(
            name, "PRPAutoencoder",
            lambda dt, rng, d, tied=tied, scheme=scheme, hidden=hidden, output=output: PRPAutoencoder(
                d["d"], d["k"], tied=tied, scheme=scheme, hidden_activation=hidden, output_activation=output,
                rng=_seed(rng), dtype=dt),
            _flat_in("d"), _flat_out("d"), {"d": 6, "k": 3}, {"d": (3, 8), "k": (1, 3)},
            description="two PRP layers; the decoder reads P transposed" if tied else
            "two PRP layers with independent matrices",
        ))
    return cases


def _sequential_cases() -> list[LayerCase]:
    def mlp(dt: np.dtype, rng: np.random.Generator, d: _Dims) -> Layer:
        return Sequential(Dense(d["d_in"], d["hidden"], rng=_seed(rng), dtype=dt), ReLU(),
                          Dense(d["hidden"], d["d_out"], rng=_seed(rng), dtype=dt))

    def cnn(dt: np.dtype, rng: np.random.Generator, d: _Dims) -> Layer:
        h, w = d["h"], d["w"]
        flat = 2 * (h // 2) * (w // 2)
        return Sequential(
            Reshape((1, h, w)), Conv2D(1, 2, 3, padding=1, rng=_seed(rng), dtype=dt), ReLU(),
            MaxPool2D(2), Flatten(), HalfLayer(flat, d["d_out"], scheme="binary", activation="tanh",
                                               rng=_seed(rng), dtype=dt),
        )

    def random_mlp(dt: np.dtype, rng: np.random.Generator, d: _Dims) -> Layer:
        return Sequential(
            PRP(d["d_in"], d["hidden"], scheme="orthogonal", rng=_seed(rng), dtype=dt), GELU(),
            HalfLayer(d["hidden"], d["d_out"], scheme="normal", activation="sigmoid", rng=_seed(rng), dtype=dt),
        )

    sizes = {"d_in": 6, "hidden": 5, "d_out": 3}
    ranges = {"d_in": (1, 7), "hidden": (1, 6), "d_out": (1, 4)}
    return [
        LayerCase("Sequential[Dense-ReLU-Dense]", "Sequential", mlp, _flat_in(), _flat_out(), sizes, ranges,
                  description="a two-layer perceptron"),
        LayerCase("Sequential[PRP-GELU-HalfLayer]", "Sequential", random_mlp, _flat_in(), _flat_out(), sizes,
                  ranges, description="two random-matrix layers in a row"),
        LayerCase("Sequential[Reshape-Conv2D-ReLU-MaxPool2D-Flatten-HalfLayer]", "Sequential", cnn,
                  lambda n, d: (n, d["h"] * d["w"]), _flat_out(), {"h": 6, "w": 5, "d_out": 4},
                  {"h": (2, 7), "w": (2, 7), "d_out": (1, 4)}, batch=2,
                  description="a small CNN ending in a half layer"),
    ]


def _snnk_cases() -> list[LayerCase]:
    def case(activation: str, draws: str, *, variance_param: float = 0.0, kappa: float = 0.0,
             bias: bool = True) -> LayerCase:
        # The names write the variance parameter as M (the paper's symbol): they are part of the exchange files.
        extras = ([f"M={variance_param:g}"] * (variance_param != 0.0) + [f"kappa={kappa:g}"] * (kappa != 0.0)
                  + ["no-bias"] * (not bias))
        return LayerCase(
            f"SNNK[{','.join([activation, draws, *extras])}]", "SNNK",
            lambda dt, rng, d: SNNK(d["d_in"], d["d_out"], d["n_directions"], activation=activation,
                                    variance_param=variance_param, draws=draws, kappa=kappa, bias=bias,
                                    rng=_seed(rng), dtype=dt),
            _flat_in(), _flat_out(), {"d_in": 4, "d_out": 3, "n_directions": 5},
            {"d_in": (1, 6), "d_out": (1, 4), "n_directions": (1, 6)},
            input_kind="bounded_norm", input_scale=0.6,
            description=f"y = Phi(x) V + b, the {activation} tower, {draws} directions",
        )

    cases = [case(activation, draws) for activation in FEATURE_MAPS for draws in FEATURE_DRAWS]
    # The variance parameter M (URF towers), the ReLU tower's floor kappa, and no bias.
    return cases + [case("cos", "iid", variance_param=0.3), case("exp", "orthogonal", variance_param=0.25, bias=False),
                    case("relu", "iid", kappa=-0.2, bias=False)]


def _eugen_cases() -> list[LayerCase]:
    def case(order: int, draws: str, *, norm_term: bool = True, train_G: bool = False, bias: bool = True) -> LayerCase:
        extras = ["no-norm"] * (not norm_term) + ["train_G"] * train_G + ["no-bias"] * (not bias)
        return LayerCase(
            f"EUGen[{','.join([f'order{order}', draws, *extras])}]", "EUGen",
            lambda dt, rng, d: EUGen(d["d_in"], d["d_out"], d["m"], order, norm_term=norm_term, draws=draws,
                                     train_G=train_G, bias=bias, rng=_seed(rng), dtype=dt),
            _flat_in(), _flat_out(), {"d_in": 4, "d_out": 3, "m": 3}, {"d_in": (1, 6), "d_out": (1, 4), "m": (1, 4)},
            input_scale=0.5,
            description=f"y = [1, H_1..H_{order}](x+) A + b, {draws} G" + (", G trained" if train_G else ""),
        )

    cases = [case(order, "iid") for order in (1, 2, 3)]
    cases += [case(2, draws) for draws in EUGEN_DRAWS if draws != "iid"]
    return cases + [case(2, "iid", norm_term=False), case(2, "iid", train_G=True),
                    case(3, "orthogonal", train_G=True, bias=False)]


def _bundling_and_transfer_cases() -> list[LayerCase]:
    """The layers of the SNNK bundling module and of the layer-transfer module."""

    def tower(widths: tuple[int, ...], activations: tuple[str, ...], *, radius: float | None = None,
              relu_bias: bool = False, draws: str = "iid") -> Callable[[np.dtype, np.random.Generator, _Dims], Layer]:
        return lambda dt, rng, d: InputTower(d["d_in"], [d[f"m{j + 1}"] for j in range(len(widths))],
                                             list(activations), radius=radius, relu_bias=relu_bias, draws=draws,
                                             rng=_seed(rng), dtype=dt)

    def tower_width(activation: str, key: str) -> Callable[[int, _Dims], tuple[int, ...]]:
        return lambda n, d: (n, d[key] * (2 if activation in ("cos", "sin", "gaussian") else 1))

    def bundled(dt: np.dtype, rng: np.random.Generator, d: _Dims) -> Layer:
        first = tower((0, 0), ("relu", "relu"), relu_bias=True)(dt, rng, d)
        return FullyBundledNetwork(first, Dense(first.n_features, d["d_out"], rng=_seed(rng), dtype=dt))

    def two_tower(dt: np.dtype, rng: np.random.Generator, d: _Dims) -> Layer:
        mlp = Sequential(Dense(d["d_in"], d["h1"], rng=_seed(rng), dtype=dt), ReLU(),
                         Dense(d["h1"], d["h2"], rng=_seed(rng), dtype=dt), Sin(),
                         Dense(d["h2"], d["d_out"], rng=_seed(rng), dtype=dt))
        return bundle_mlp(mlp, [d["m1"], d["m2"]], rng=_seed(rng))

    sizes = {"d_in": 4, "m1": 5, "m2": 3}
    ranges = {"d_in": (1, 6), "m1": (1, 6), "m2": (1, 4)}
    return [
        LayerCase(
            "L2Normalize[radius=1.5]", "L2Normalize", lambda dt, rng, d: L2Normalize(1.5),
            _flat_in("d"), _flat_out("d"), {"d": 5}, {"d": (1, 7)},
            description="y = r x / ||x||, the row normalisation in front of a random-feature tower",
        ),
        LayerCase(
            "PolynomialActivation[degree3]", "PolynomialActivation",
            lambda dt, rng, d: PolynomialActivation([0.5, -1.0, 0.3, 0.2]),
            _flat_in("d"), _flat_out("d"), {"d": 6}, {"d": (1, 8)},
            description="y = 0.5 - x + 0.3 x^2 + 0.2 x^3 element-wise (the teacher EUGen represents exactly)",
        ),
        LayerCase(
            "InputTower[relu,cos,radius=1,relu_bias]", "InputTower",
            tower((0, 0), ("relu", "cos"), radius=1.0, relu_bias=True), _flat_in(), tower_width("cos", "m2"),
            sizes, ranges, input_grad=False,
            description="random features of random features (parameter-free, no input gradient)",
        ),
        LayerCase(
            "InputTower[exp,gaussian,radius=0.6,orthogonal]", "InputTower",
            tower((0, 0), ("exp", "gaussian"), radius=0.6, draws="orthogonal"), _flat_in(),
            tower_width("gaussian", "m2"), sizes, ranges, input_grad=False,
            description="two URF towers on renormalised inputs",
        ),
        LayerCase(
            "FullyBundledNetwork[relu,relu,relu_bias]", "FullyBundledNetwork", bundled, _flat_in(), _flat_out(),
            {**sizes, "d_out": 2}, {**ranges, "d_out": (1, 3)}, input_grad=False,
            description="a fixed two-tower input stage and a trained linear head",
        ),
        LayerCase(
            "TwoTowerMLP[relu,sin]", "TwoTowerMLP", two_tower, _flat_in(), _flat_out(),
            {**sizes, "h1": 4, "h2": 3, "d_out": 2}, {**ranges, "h1": (1, 5), "h2": (1, 4), "d_out": (1, 3)},
            input_grad=False, description="a trained MLP rewritten as an input tower and a weight tower",
        ),
    ]


def _adapter_cases() -> list[LayerCase]:
    """The residual adapters and the frozen-layer wrapper (rpnumpy.layers.adapters)."""

    def frozen_mlp(dt: np.dtype, rng: np.random.Generator, d: _Dims) -> Layer:
        return Frozen(Sequential(Dense(d["d_in"], d["hidden"], rng=_seed(rng), dtype=dt), GELU(),
                                 Dense(d["hidden"], d["d_out"], rng=_seed(rng), dtype=dt)))

    return [
        LayerCase(
            "BottleneckAdapter", "BottleneckAdapter",
            lambda dt, rng, d: BottleneckAdapter(d["d"], d["width"], rng=_seed(rng), dtype=dt),
            _flat_in("d"), _flat_out("d"), {"d": 5, "width": 3}, {"d": (1, 7), "width": (1, 4)},
            input_kind="away_from_zero",
            description="y = x + relu(x W_down + b_down) W_up + b_up",
        ),
        LayerCase(
            "SNNKAdapter[relu,iid]", "SNNKAdapter",
            lambda dt, rng, d: SNNKAdapter(d["d"], d["n_directions"], rng=_seed(rng), dtype=dt),
            _flat_in("d"), _flat_out("d"), {"d": 4, "n_directions": 5}, {"d": (1, 6), "n_directions": (1, 6)},
            input_kind="bounded_norm", input_scale=0.6,
            description="y = x + Phi(x) V + b, the relu tower",
        ),
        LayerCase(
            "SNNKAdapter[relu,orthogonal,kappa=-0.2]", "SNNKAdapter",
            lambda dt, rng, d: SNNKAdapter(d["d"], d["n_directions"], kappa=-0.2, draws="orthogonal",
                                           rng=_seed(rng), dtype=dt),
            _flat_in("d"), _flat_out("d"), {"d": 4, "n_directions": 5}, {"d": (1, 6), "n_directions": (1, 6)},
            input_kind="bounded_norm", input_scale=0.6,
            description="y = x + Phi(x) V + b, the relu tower clamped at kappa = -0.2",
        ),
        LayerCase(
            "SNNKAdapter[cos,iid]", "SNNKAdapter",
            lambda dt, rng, d: SNNKAdapter(d["d"], d["n_directions"], activation="cos", rng=_seed(rng), dtype=dt),
            _flat_in("d"), _flat_out("d"), {"d": 4, "n_directions": 3}, {"d": (1, 6), "n_directions": (1, 4)},
            input_kind="bounded_norm", input_scale=0.6,
            description="y = x + Phi(x) V + b, the cos tower",
        ),
        LayerCase(
            "Frozen[Dense-GELU-Dense]", "Frozen", frozen_mlp, _flat_in(), _flat_out(),
            {"d_in": 5, "hidden": 4, "d_out": 3}, {"d_in": (1, 7), "hidden": (1, 5), "d_out": (1, 4)},
            description="a two-layer perceptron with its weights fixed (buffers): input gradient only",
        ),
    ]


def _all_cases() -> tuple[LayerCase, ...]:
    cases = [*_dense_cases(), *_shape_cases(), *_activation_cases(), *_half_cases(), *_conv_cases(),
             *_prp_cases(), *_snnk_cases(), *_eugen_cases(), *_bundling_and_transfer_cases(), *_adapter_cases(),
             *_sequential_cases()]
    names = [case.name for case in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RuntimeError(f"duplicate layer case names: {duplicates}")
    return tuple(cases)


#: Every registered case, in a fixed order.
LAYER_CASES: tuple[LayerCase, ...] = _all_cases()
_BY_NAME = {case.name: case for case in LAYER_CASES}


def get_case(name: str) -> LayerCase:
    """The case called ``name`` (see :data:`LAYER_CASES`)."""
    if name not in _BY_NAME:
        raise ValueError(f"unknown layer case {name!r}; known cases: {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def covered_layers(cases: tuple[LayerCase, ...] = LAYER_CASES) -> list[str]:
    """The layer classes the cases cover, in order of first appearance (inner layers of a Sequential not counted)."""
    return list(dict.fromkeys(case.layer for case in cases))


def registry_summary(cases: tuple[LayerCase, ...] = LAYER_CASES) -> str:
    """One line: how many layers and cases are registered."""
    return f"{len(covered_layers(cases))} layers, {len(cases)} cases"
