"""Layers: the contract (:class:`Layer`, :class:`Sequential`) and every layer built on it."""

from .activations import ACTIVATIONS, GELU, Cos, PolynomialActivation, ReLU, Sigmoid, Sin, Tanh
from .adapters import BottleneckAdapter, Frozen, SNNKAdapter
from .base import LAYER_REGISTRY, Layer, Sequential, layer_from_config
from .conv import Conv2D, MaxPool2D
from .core import Dense, Flatten, Reshape
from .eugen import EUGEN_DRAWS, EUGen
from .half import HALF_SCHEMES, HalfLayer, template_matrix, true_gradient_of_R
from .prp import PRP, PRP_SCHEMES, LowRank, PRPAutoencoder
from .snnk import SNNK

__all__ = [
    "ACTIVATIONS",
    "LAYER_REGISTRY",
    "BottleneckAdapter",
    "Conv2D",
    "Cos",
    "Dense",
    "EUGEN_DRAWS",
    "EUGen",
    "Flatten",
    "Frozen",
    "GELU",
    "HALF_SCHEMES",
    "HalfLayer",
    "Layer",
    "LowRank",
    "PRP",
    "PRPAutoencoder",
    "PRP_SCHEMES",
    "PolynomialActivation",
    "MaxPool2D",
    "ReLU",
    "SNNK",
    "SNNKAdapter",
    "Reshape",
    "Sequential",
    "Sigmoid",
    "Sin",
    "Tanh",
    "layer_from_config",
    "template_matrix",
    "true_gradient_of_R",
]
