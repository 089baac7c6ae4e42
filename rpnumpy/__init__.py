"""rpnumpy: neural layers built on fixed random matrices, in plain NumPy.

Every layer has a hand-written forward and backward pass and follows one
contract (see :mod:`rpnumpy.layers.base`): ``forward(x)``, ``backward(dy) -> dx``,
trainable arrays in ``params``, their gradients in ``grads`` and fixed random
matrices in ``buffers``.

The layers of the four papers:

* :class:`HalfLayer`: Alpaydin, half layers, :math:`z = g(u \\odot (xR) + u_0)`;
* :class:`PRP`, :class:`PRPAutoencoder` (and the baseline :class:`LowRank`): Szorc, parametrized
  random projections, :math:`y = ((x \\odot \\alpha) P) \\odot w + b`;
* :class:`SNNK`, :class:`InputTower`, :class:`FullyBundledNetwork`, :class:`TwoTowerMLP`: Sehanobish et al.,
  scalable neural network kernels and universal random features (ICLR 2024, arXiv:2310.13225);
* :class:`EUGen`: Kim et al., norm-augmented random features (NeurIPS 2025).

Importing the package registers every layer and network class, so any model file loads.
See ``ARCHITECTURE.md`` for a map of the package and a reading path.
"""

from . import gradcheck, layers, losses, optim, random_matrices
from .bundling import FullyBundledNetwork, InputTower, L2Normalize, TwoTowerMLP
from .gradcheck import check_gradients, check_vjp, relative_error
from .io import load_model, save_model
from .layers import (
    GELU,
    PRP,
    SNNK,
    Conv2D,
    Cos,
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
    Sigmoid,
    Sin,
    Tanh,
)
from .losses import MeanSquaredError, SoftmaxCrossEntropy
from .optim import SGD, Adam
from .random_matrices import random_matrix
from .training import History, TrainingDivergedError, evaluate, fit, predict

__version__ = "0.2.0"

__all__ = [
    "GELU",
    "PRP",
    "SGD",
    "SNNK",
    "Adam",
    "Conv2D",
    "Cos",
    "Dense",
    "EUGen",
    "Flatten",
    "FullyBundledNetwork",
    "HalfLayer",
    "History",
    "InputTower",
    "L2Normalize",
    "Layer",
    "LowRank",
    "MaxPool2D",
    "MeanSquaredError",
    "PRPAutoencoder",
    "PolynomialActivation",
    "ReLU",
    "Reshape",
    "Sequential",
    "Sigmoid",
    "Sin",
    "SoftmaxCrossEntropy",
    "Tanh",
    "TrainingDivergedError",
    "TwoTowerMLP",
    "__version__",
    "check_gradients",
    "check_vjp",
    "evaluate",
    "fit",
    "gradcheck",
    "layers",
    "load_model",
    "losses",
    "optim",
    "predict",
    "random_matrices",
    "random_matrix",
    "relative_error",
    "save_model",
]
