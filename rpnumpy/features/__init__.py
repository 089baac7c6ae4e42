r"""Closed-form random feature maps for one neuron, :math:`f(w^\top x + b) \approx \Phi(x)^\top\Psi(w, b)`.

A dense unit computes :math:`f(w^\top x + b)`. The SNNK paper (Sehanobish, Choromanski et al.,
"Scalable Neural Network Kernels", ICLR 2024, arXiv:2310.13225) writes it as an expectation of a
dot product of two random feature vectors that share the same random draws,

.. math:: f(w^\top x + b) = \mathbb E\big[\Phi(x)^\top \Psi(w, b)\big],

the **input tower** :math:`\Phi` seeing only :math:`x`, the **parameter tower** :math:`\Psi` only
:math:`(w, b)`. For the *universal random features* (URFs: cos, sin, exp, gaussian) the identity
is exact in expectation for every number of random directions :math:`m`; the error is a Monte
Carlo error of variance :math:`O(1/m)`.

Where the maps come from
------------------------
**Fourier step.** With :math:`f(z) = \int \tau(\xi) e^{2\pi i\xi z}\,d\xi` and any density
:math:`p` of frequencies,

.. math:: f(w^\top x + b) = \mathbb E_{\xi\sim p}\Big[\tfrac{\tau(\xi)}{p(\xi)}\,e^{2\pi i\xi b}\,
          e^{(2\pi i\xi x)^\top w}\Big].

**Gaussian lemma** (:mod:`rpnumpy.features.urf`, with the variance parameter :math:`M > -1/4`
and :math:`\gamma = \sqrt{1+4M}`): for complex :math:`u, v` and :math:`g \sim N(0, I_d)`,

.. math:: e^{u^\top v} = (1+4M)^{d/2}\,\mathbb E_g\Big[e^{\gamma g^\top u - u^\top u/2 - M\|g\|^2}\,
          e^{\gamma g^\top v - v^\top v/2 - M\|g\|^2}\Big].

Taking :math:`u = 2\pi i\xi x` and :math:`v = w` splits the exponential of the dot product into
an :math:`x`-factor and a :math:`w`-factor. Draw :math:`g_1, \dots, g_m` (the columns of ``G``)
and, if needed, :math:`\xi_1, \dots, \xi_m`, and average.

The towers
----------
One class per activation, each in its own module with its maps, their derivation, the
backward formulas and the variance (:meth:`~RandomFeatureTower.predicted_variance`):

* ``"cos"``: :class:`CosTower`, ``D = 2m``, estimates :math:`\cos(w^\top x + b)` (:mod:`rpnumpy.features.trig`);
* ``"sin"``: :class:`SinTower`, ``D = 2m``, :math:`\sin(w^\top x + b)`, with the same input tower as cos;
* ``"exp"``: :class:`ExpTower`, ``D = m``, :math:`e^{w^\top x + b}`, all features positive
  (:mod:`rpnumpy.features.exp`);
* ``"gaussian"``: :class:`GaussianTower`, ``D = 2m``, :math:`e^{-(w^\top x + b)^2/2}`, with heavy tails
  (:mod:`rpnumpy.features.gaussian`);
* ``"relu"``: :class:`ReLUTower`, ``D = m``, the clamped ReLU kernel :func:`clamped_relu_kernel`
  (the arc-cosine kernel :func:`arc_cosine_kernel` at :math:`\kappa = 0`), **not**
  :math:`\mathrm{ReLU}(w^\top x + b)` (:mod:`rpnumpy.features.relu`).

The symbols and their names in the code: :math:`m` is ``n_directions`` (the number of random
directions), :math:`D` is ``n_features``, :math:`M` is ``variance_param`` (URF towers only;
finite variance needs :math:`M > -1/8`, ``0`` is the safe default) and :math:`\kappa` is
``kappa`` (the ReLU tower's floor). :func:`random_feature_tower` builds a tower from the
activation's name.

Orthogonal draws (``draws="orthogonal"``; Yu et al., "Orthogonal Random Features", NeurIPS 2016)
use ``random_matrix("gaussian_orthogonal", ...)``: orthogonal blocks from a sign-fixed QR with
chi-distributed column norms, so every column is still exactly :math:`N(0, I_d)` and every
estimator stays unbiased; the features are then coupled and the variance is usually lower than
the i.i.d. formula (which ``predicted_variance`` returns in both cases).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._deprecation import warn_moved
from .._validation import check_real
from .base import FEATURE_DRAWS, RandomFeatureTower, RandomFeatureVarianceWarning
from .exp import ExpTower
from .gaussian import GaussianTower
from .relu import ReLUTower, arc_cosine_kernel, clamped_relu_kernel
from .trig import CosTower, SinTower, TrigTower
from .urf import GaussianLemmaTower

__all__ = [
    "FEATURE_DRAWS",
    "FEATURE_MAPS",
    "TOWERS",
    "URF_ACTIVATIONS",
    "CosTower",
    "ExpTower",
    "GaussianLemmaTower",
    "GaussianTower",
    "RandomFeatureMap",
    "RandomFeatureTower",
    "RandomFeatureVarianceWarning",
    "ReLUTower",
    "SinTower",
    "TrigTower",
    "arc_cosine_kernel",
    "clamped_relu_kernel",
    "random_feature_tower",
]

#: The tower class of every activation with a closed-form feature map.
TOWERS: dict[str, type[RandomFeatureTower]] = {
    "cos": CosTower,
    "sin": SinTower,
    "exp": ExpTower,
    "gaussian": GaussianTower,
    "relu": ReLUTower,
}
#: The activations with a closed-form feature map.
FEATURE_MAPS = tuple(TOWERS)
#: The activation f of the unit f(w.x + b) that each URF tower estimates (its ``target``).
#: The relu tower estimates the clamped ReLU kernel instead, so relu has no entry.
URF_ACTIVATIONS = {
    name: cls.activation_function for name, cls in TOWERS.items() if issubclass(cls, GaussianLemmaTower)
}


def random_feature_tower(
    activation: str,
    d: int,
    n_directions: int,
    *,
    variance_param: float = 0.0,
    draws: str = "iid",
    kappa: float = 0.0,
    rng: Any = None,
    dtype: Any = np.float64,
) -> RandomFeatureTower:
    r"""The random-feature tower of ``activation``: an instance of ``TOWERS[activation]``.

    Parameters
    ----------
    activation : {'cos', 'sin', 'exp', 'gaussian', 'relu'}
    d : int
        Input dimension.
    n_directions : int
        :math:`m`, the number of random directions. ``n_features`` is ``2m``
        for cos, sin and gaussian, ``m`` for exp and relu.
    variance_param : float, default=0.0
        :math:`M` of the Gaussian lemma (> -1/4; > -1/8 for a finite variance).
        Only the URF towers use it; ``relu`` requires 0.
    draws : {'iid', 'orthogonal'}, default='iid'
    kappa : float, default=0.0
        The ReLU tower's floor, :math:`\max(xG, \kappa)`. Only ``relu`` uses it;
        the others require 0.
    rng : None, int or numpy.random.Generator
    dtype : float32 or float64, default=float64

    Returns
    -------
    RandomFeatureTower
        ``random_feature_tower(**tower.get_config())`` rebuilds it bit for bit.

    Examples
    --------
    >>> import numpy as np
    >>> tower = random_feature_tower("cos", d=3, n_directions=200_000, rng=0)
    >>> x = np.array([[0.3, -0.2, 0.1]]); w = np.array([[0.2, 0.4, -0.3]]); b = np.array([0.5])
    >>> bool(abs(tower.estimate(x, w, b) - tower.target(x, w, b))[0, 0] < 0.02)
    True
    """
    if activation not in TOWERS:
        raise ValueError(f"activation must be one of {list(FEATURE_MAPS)}, got {activation!r}")
    cls = TOWERS[activation]
    if issubclass(cls, GaussianLemmaTower):
        if check_real(kappa, "kappa") != 0.0:
            raise ValueError(f"kappa only applies to activation='relu'; {activation} needs kappa=0, got {kappa!r}")
        return cls(d, n_directions, variance_param=variance_param, draws=draws, rng=rng, dtype=dtype)
    if check_real(variance_param, "variance_param") != 0.0:
        urf = [name for name, tower in TOWERS.items() if issubclass(tower, GaussianLemmaTower)]
        raise ValueError(
            f"variance_param only applies to the URF activations {urf}; {activation} needs variance_param=0, "
            f"got {variance_param!r}"
        )
    return cls(d, n_directions, kappa=kappa, draws=draws, rng=rng, dtype=dtype)


def RandomFeatureMap(  # the deprecated class name, now a function
    activation: str,
    d: int,
    m: int,
    *,
    M: float = 0.0,
    draws: str = "iid",
    kappa: float = 0.0,
    rng: Any = None,
    dtype: Any = np.float64,
) -> RandomFeatureTower:
    """Deprecated: ``random_feature_tower(activation, d, n_directions=m, variance_param=M, ...)``.

    Returns the tower that :func:`random_feature_tower` builds, with a ``DeprecationWarning``.
    """
    warn_moved("rpnumpy.features.RandomFeatureMap", "rpnumpy.features.random_feature_tower")
    return random_feature_tower(activation, d, m, variance_param=M, draws=draws, kappa=kappa, rng=rng, dtype=dtype)
