"""Layers: the contract (:class:`Layer`, :class:`Sequential`) and every layer built on it."""

from .activations import ACTIVATIONS, GELU, Cos, ReLU, Sigmoid, Sin, Tanh
from .base import LAYER_REGISTRY, Layer, Sequential, layer_from_config
from .core import Dense, Flatten

__all__ = [
    "ACTIVATIONS",
    "LAYER_REGISTRY",
    "Cos",
    "Dense",
    "Flatten",
    "GELU",
    "Layer",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Sin",
    "Tanh",
    "layer_from_config",
]
