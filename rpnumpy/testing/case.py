r"""One layer case: a named, small configuration of a layer with its input (:class:`LayerCase`).

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
from ..gradcheck import GradcheckReport, check_gradients
from ..layers import Layer

__all__ = ["INPUT_KINDS", "LayerCase", "case_rng", "check_case_gradients", "perturb_params"]

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


