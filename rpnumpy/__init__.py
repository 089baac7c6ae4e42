"""rpnumpy: neural layers built on fixed random matrices, in plain NumPy.

Every layer has a hand-written forward and backward pass and follows one
contract (see :mod:`rpnumpy.layers.base`): ``forward(x)``, ``backward(dy) -> dx``,
trainable arrays in ``params``, their gradients in ``grads`` and fixed random
matrices in ``buffers``.
"""

from . import gradcheck, layers, losses, optim, random_matrices
from .gradcheck import check_gradients, relative_error
from .layers import GELU, Cos, Dense, Flatten, Layer, ReLU, Sequential, Sigmoid, Sin, Tanh
from .losses import MeanSquaredError, SoftmaxCrossEntropy
from .optim import SGD, Adam
from .random_matrices import random_matrix
from .training import History, TrainingDivergedError, evaluate, fit, predict

__version__ = "0.1.0"

__all__ = [
    "GELU",
    "SGD",
    "Adam",
    "Cos",
    "Dense",
    "Flatten",
    "History",
    "Layer",
    "MeanSquaredError",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Sin",
    "SoftmaxCrossEntropy",
    "Tanh",
    "TrainingDivergedError",
    "check_gradients",
    "evaluate",
    "fit",
    "gradcheck",
    "layers",
    "losses",
    "optim",
    "predict",
    "random_matrices",
    "random_matrix",
    "relative_error",
    "__version__",
]
