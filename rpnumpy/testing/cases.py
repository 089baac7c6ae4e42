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

Three choices make the checks meaningful (all ours):

* **Parameters are moved off their initial values.** A freshly built PRP layer
  has :math:`\alpha = w = 1` and :math:`b = 0`; a backward pass that swapped
  :math:`\alpha` and :math:`w`, or forgot a factor :math:`w`, would still pass a
  gradient check there. :meth:`LayerCase.build` therefore adds
  :math:`0.5\,\max(\mathrm{rms}(p), 0.3)\,N(0, 1)` noise to every parameter
  (``perturb=False`` keeps the initial values).
* **Inputs stay away from kinks.** Element-wise activations get inputs at
  least 0.1 away from 0 (ReLU's kink), and max pooling gets inputs whose values
  are all at least 0.01 apart (no near-ties inside a window), so a central
  difference with step :math:`10^{-6}` never straddles a non-differentiable
  point.
* **Random-feature layers get inputs of norm below 1**, as their papers advise
  (SNNK's towers carry :math:`e^{\|x\|^2/2}`; its gaussian tower has a finite
  variance only for :math:`\|x\|^2 < 1/2`): rows of norm uniform in
  :math:`[0.3, 0.6]`.

Every draw (seeds of the fixed matrices, parameter noise, inputs) is made in
float64 from the ``rng`` passed in and only then cast, so the float32 build of
a case is the float64 build rounded, and two builds from equal seeds are
identical bit for bit.

Shapes
------
Each case has default sizes (``dims``), small enough that a full gradient
check takes milliseconds, and ranges (``dim_ranges``) for property-based
tests; :meth:`LayerCase.with_dims` makes a resized copy. Every combination of
sizes inside the ranges is valid for the layer.

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

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from .._validation import as_generator, check_dtype, check_positive_int
from ..bundling import FullyBundledNetwork, InputTower, L2Normalize, bundle_mlp
from ..features import FEATURE_DRAWS, FEATURE_MAPS
from ..gradcheck import GradcheckReport, check_gradients
from ..layers import (
    ACTIVATIONS,
    EUGEN_DRAWS,
    GELU,
    HALF_SCHEMES,
    PRP,
    PRP_SCHEMES,
    SNNK,
    Conv2D,
    Dense,
    EUGen,
    Flatten,
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
)
from ..layers import half as _half_module
from ..layers import prp as _prp_module

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

#: How :meth:`LayerCase.make_input` fills an input (see the module docstring).
INPUT_KINDS = ("normal", "away_from_zero", "distinct", "bounded_norm")

_Dims = Mapping[str, int]


def _seed(rng: np.random.Generator) -> int:
    """One int seed for a layer's fixed matrix or initial weights, drawn from ``rng``."""
    return int(rng.integers(0, 2**31 - 1))


def perturb_params(layer: Layer, rng: np.random.Generator) -> Layer:
    r"""Move every parameter off its initial value: :math:`p \leftarrow p + 0.5\max(\mathrm{rms}(p), 0.3)\,\varepsilon`.

    :math:`\varepsilon \sim N(0, 1)` entry-wise, drawn in float64 in the order
    of ``layer.params`` and cast to the layer's dtype. The floor 0.3 gives
    parameters that start at zero (biases) a typical size. Returns ``layer``.
    """
    for value in layer.params.values():
        wide = value.astype(np.float64)
        scale = 0.5 * max(float(np.sqrt(np.mean(wide * wide))) if wide.size else 0.0, 0.3)
        wide += scale * rng.standard_normal(wide.shape)
        np.copyto(value, wide, casting="unsafe")
    return layer


@dataclass(frozen=True)
class LayerCase:
    """One named, small configuration of a layer, with its input.

    Attributes
    ----------
    name : str
        ``"Class[configuration]"``, e.g. ``"HalfLayer[binary,relu]"``; unique.
    layer : str
        The layer class name (the "family"); for :class:`Sequential` cases the
        outer class.
    factory : callable
        ``factory(dtype, rng, dims) -> Layer``: builds the layer with initial
        parameters, drawing every seed from ``rng``.
    input_shape_fn, output_shape_fn : callable
        ``(n, dims) -> tuple``: shapes of a batch of ``n`` inputs and outputs
        (:meth:`input_shape` and :meth:`output_shape` apply them to :attr:`dims`).
    dims : mapping of str to int
        The default sizes.
    dim_ranges : mapping of str to (int, int)
        Inclusive ranges of every size in ``dims`` for property-based tests.
    input_kind : {'normal', 'away_from_zero', 'distinct', 'bounded_norm'}
        How inputs are drawn: :math:`N(0, 1)`; :math:`N(0, 1)` pushed 0.1 away
        from 0; distinct values 0.01 apart; rows of norm uniform in [1/2, 1].
    input_scale : float
        Factor applied to the inputs after drawing.
    batch : int
        Default batch size.
    description : str
        One line on what the case exercises.
    input_grad : bool
        False for a layer that computes no input gradient by design (the
        :class:`~rpnumpy.bundling.InputTower`, the fixed first stage of a
        network, raises if asked); its checks cover the parameters only.
    """

    name: str
    layer: str
    factory: Callable[[np.dtype, np.random.Generator, _Dims], Layer] = field(repr=False)
    input_shape_fn: Callable[[int, _Dims], tuple[int, ...]] = field(repr=False)
    output_shape_fn: Callable[[int, _Dims], tuple[int, ...]] = field(repr=False)
    dims: _Dims = field(default_factory=dict)
    dim_ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    input_kind: str = "normal"
    input_scale: float = 1.0
    batch: int = 3
    description: str = ""
    input_grad: bool = True

    def __post_init__(self) -> None:
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(f"input_kind must be one of {INPUT_KINDS}, got {self.input_kind!r}")
        if set(self.dim_ranges) != set(self.dims):
            raise ValueError(f"{self.name}: dim_ranges must cover exactly the dims {sorted(self.dims)}")
        object.__setattr__(self, "dims", MappingProxyType(dict(self.dims)))
        object.__setattr__(self, "dim_ranges", MappingProxyType(dict(self.dim_ranges)))

    def build(self, dtype: Any = np.float64, rng: Any = 0, *, perturb: bool = True) -> Layer:
        """Build the layer in ``dtype``; with ``perturb`` its parameters are moved off their initial values.

        Parameters
        ----------
        dtype : float32 or float64
        rng : int or numpy.random.Generator
            Every seed and every parameter perturbation is drawn from it.
        perturb : bool, default=True
            Apply :func:`perturb_params` after construction.
        """
        dtype = check_dtype(dtype)
        gen = as_generator(rng)
        layer = self.factory(dtype, gen, self.dims)
        return perturb_params(layer, gen) if perturb else layer

    def make_input(self, dtype: Any = np.float64, rng: Any = 0, n: int | None = None) -> np.ndarray:
        """A batch of ``n`` inputs (default :attr:`batch`), drawn in float64 and cast to ``dtype``."""
        dtype = check_dtype(dtype)
        gen = as_generator(rng)
        n = self.batch if n is None else check_positive_int(n, "n")
        shape = self.input_shape(n)
        if self.input_kind == "normal":
            x = gen.standard_normal(shape)
        elif self.input_kind == "away_from_zero":
            u = gen.standard_normal(shape)
            x = np.sign(u) * (0.1 + np.abs(u))
        elif self.input_kind == "distinct":  # a random permutation of evenly spaced values 0.01 apart
            size = math.prod(shape)
            x = gen.permutation((np.arange(size) - (size - 1) / 2) * 0.01).reshape(shape)
        else:  # bounded_norm: random directions, norms uniform in [1/2, 1] (times input_scale)
            u = gen.standard_normal(shape)
            norms = np.linalg.norm(u.reshape(n, -1), axis=1).reshape((n,) + (1,) * (len(shape) - 1))
            x = u / np.where(norms > 0, norms, 1.0) * gen.uniform(0.5, 1.0, size=norms.shape)
        return (x * self.input_scale).astype(dtype)

    def input_shape(self, n: int) -> tuple[int, ...]:
        """Shape of a batch of ``n`` inputs, at this case's sizes."""
        return tuple(self.input_shape_fn(n, self.dims))

    def output_shape(self, n: int) -> tuple[int, ...]:
        """Shape of the output for a batch of ``n`` inputs, at this case's sizes."""
        return tuple(self.output_shape_fn(n, self.dims))

    def with_dims(self, **dims: int) -> LayerCase:
        """A copy with some sizes changed (each must lie in its :attr:`dim_ranges`)."""
        for key, value in dims.items():
            if key not in self.dims:
                raise ValueError(f"{self.name} has no size {key!r}; its sizes are {sorted(self.dims)}")
            low, high = self.dim_ranges[key]
            if not low <= check_positive_int(value, key) <= high:
                raise ValueError(f"{self.name}: {key} must lie in [{low}, {high}], got {value}")
        return replace(self, dims={**self.dims, **dims})

    def sample(self, seed: int = 0, *, dtype: Any = np.float64) -> tuple[Layer, np.ndarray, np.ndarray]:
        """``(layer, x, dy)`` for this case from one seed: the layer, an input batch and an upstream gradient.

        ``dy`` is :math:`N(0, 1)` of the output's shape (never all ones, which can
        hide a bug). The generator is :func:`case_rng` of ``(seed, name)``, so a
        case's sample does not change when other cases are added.
        """
        gen = case_rng(self.name, seed)
        layer = self.build(dtype, gen)
        x = self.make_input(dtype, gen)
        dy = gen.standard_normal(self.output_shape(len(x))).astype(dtype)
        return layer, x, dy


def check_case_gradients(case: LayerCase, layer: Layer, x: np.ndarray, **kwargs: Any) -> GradcheckReport:
    """:func:`~rpnumpy.gradcheck.check_gradients` for a layer of ``case``.

    The input gradient is checked too, unless the case has none (``case.input_grad``).
    Keyword arguments are passed on (``dy``, ``rng``, ``h``, ``title``, ...).
    """
    if case.input_grad:
        return check_gradients(layer, x, **kwargs)
    return check_gradients(layer, x, check_input=False, **kwargs)


def case_rng(name: str, seed: int = 0) -> np.random.Generator:
    """A generator that depends on ``seed`` and the case's name only (CRC-32 of the name)."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode())])


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


def _all_cases() -> tuple[LayerCase, ...]:
    cases = [*_dense_cases(), *_shape_cases(), *_activation_cases(), *_half_cases(), *_conv_cases(),
             *_prp_cases(), *_snnk_cases(), *_eugen_cases(), *_bundling_and_transfer_cases(), *_sequential_cases()]
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
