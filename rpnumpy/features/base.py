r"""What every random-feature tower shares: the random directions, validation, the overflow guard, the config.

A tower class holds the two maps of one activation :math:`f`, the **input tower**
:math:`\Phi` and the **parameter tower** :math:`\Psi`, built on the same fixed random
directions :math:`g_1, \dots, g_m \sim N(0, I_d)` (the columns of ``G``), so that
:math:`\Phi(x)^\top\Psi(w, b)` estimates :math:`f(w^\top x + b)` (see :mod:`rpnumpy.features`).
Here :math:`m` is ``n_directions``, the number of random directions, and :math:`D` is
``n_features``, the width of both towers' outputs.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from .._deprecation import warn_moved
from .._validation import check_dtype, check_float_array, check_positive_int, seed_from
from ..random_matrices import random_matrix

__all__ = ["FEATURE_DRAWS", "RandomFeatureTower", "RandomFeatureVarianceWarning"]

#: How the Gaussian directions are drawn.
FEATURE_DRAWS = ("iid", "orthogonal")


class RandomFeatureVarianceWarning(UserWarning):
    """The random-feature estimate is unreliable: infinite variance, an undefined mean, or overflow.

    A ``UserWarning`` (not a ``RuntimeWarning``) so that it is never confused
    with NumPy's floating-point warnings, which the test configuration turns
    into errors.
    """


class RandomFeatureTower(ABC):
    r"""The input tower :math:`\Phi` and the parameter tower :math:`\Psi` of one activation.

    ``input_features(x) @ weight_features(w, b).T`` is an unbiased estimate of
    ``target(x, w, b)`` with variance ``predicted_variance(x, w, b)``. Build a
    tower with :func:`rpnumpy.features.random_feature_tower` or with its class.

    Each tower has a forward and a backward pass, so that a layer can train
    through it: ``forward_input(x) -> (Phi, cache)`` and
    ``backward_input(d_phi, cache) -> dx``;
    ``forward_weights(w, b) -> (Psi, cache)`` and
    ``backward_weights(d_psi, cache) -> (dw, db)``. A cache is an opaque tuple
    to be passed back unchanged; the backward passes give the gradients of a
    scalar :math:`L` from :math:`\partial L/\partial\Phi` (``d_phi``) or
    :math:`\partial L/\partial\Psi` (``d_psi``).

    Parameters
    ----------
    d : int
        Input dimension.
    n_directions : int
        :math:`m`, the number of random directions :math:`g_k` (and, for the
        gaussian activation, of frequencies). The estimate is a mean over the
        :math:`m` directions, so its variance falls like :math:`1/m`.
    draws : {'iid', 'orthogonal'}, default='iid'
        I.i.d. Gaussian directions, or orthogonal random features (Yu et al.,
        "Orthogonal Random Features", NeurIPS 2016): orthogonal blocks with
        chi-distributed norms, so that every column is still exactly
        :math:`N(0, I_d)` and every estimator stays unbiased.
    rng : None, int or numpy.random.Generator
        Randomness for ``G`` (and ``xi``); stored as one int ``seed`` from which
        both are rebuilt bit for bit.
    dtype : float32 or float64, default=float64
        dtype of ``G``, ``xi`` and the features. Inputs must have this dtype.

    Attributes
    ----------
    G : ndarray of shape (d, m), read-only
        Column ``k`` is :math:`g_k \sim N(0, I_d)`, so ``x @ G`` holds
        :math:`g_k^\top x` (the paper's ``G`` is this matrix transposed).
    xi : ndarray of shape (m,) or None, read-only
        The frequencies of the gaussian activation; None for the others.
    n_features : int
        :math:`D`, the width of both towers' outputs: :math:`2m` for a tower of
        cos/sin pairs, :math:`m` otherwise.
    seed : int
    """

    #: The activation's name, the tower's key in :data:`rpnumpy.features.TOWERS`.
    activation: str = ""
    #: Features per random direction: 2 for a cos/sin pair, 1 otherwise (``n_features = this * m``).
    features_per_direction: int = 1
    #: Random frequencies drawn beside ``G`` per direction (the Gaussian tower's ``xi``; 0 otherwise).
    frequencies_per_direction: int = 0

    def __init__(
        self, d: int, n_directions: int, *, draws: str = "iid", rng: Any = None, dtype: Any = np.float64
    ) -> None:
        self.d = check_positive_int(d, "d")
        self.n_directions = check_positive_int(n_directions, "n_directions")
        if draws not in FEATURE_DRAWS:
            raise ValueError(f"draws must be one of {list(FEATURE_DRAWS)}, got {draws!r}")
        self.draws = draws
        self.dtype = check_dtype(dtype)
        self.seed = seed_from(rng)
        self.n_features = self.features_per_direction * self.n_directions
        kind = "gaussian" if draws == "iid" else "gaussian_orthogonal"
        self.G = random_matrix(kind, (self.d, self.n_directions), self.seed, variance=1.0, dtype=self.dtype)
        self.xi: np.ndarray | None = self._draw_frequencies()
        # The towers read G and xi through the constants _precompute folds them into, so writing
        # into them later would change nothing: they are read-only, and a substitute is refused.
        for fixed in (self.G, self.xi):
            if fixed is not None:
                fixed.flags.writeable = False
        self._inv_sqrt_m = 1.0 / math.sqrt(self.n_directions)
        self._precompute()

    def _draw_frequencies(self) -> np.ndarray | None:
        """Random frequencies drawn beside ``G`` (None: the tower needs none)."""
        return None

    def _precompute(self) -> None:  # noqa: B027 (a hook: most towers have constants to fold, relu has none)
        """Fold the constants of the towers into arrays once (nothing by default)."""

    # -- validation ---------------------------------------------------------
    def _check_rows(self, a: Any, name: str) -> np.ndarray:
        check_float_array(a, name, ndim=2, dtype=self.dtype)
        if a.shape[1] != self.d:
            raise ValueError(f"{name} has {a.shape[1]} columns but the feature map has d={self.d}")
        return a

    def _check_bias(self, b: Any, n_rows: int) -> np.ndarray | None:
        if b is None:
            return None
        check_float_array(b, "b", ndim=1, dtype=self.dtype)
        if b.shape[0] != n_rows:
            raise ValueError(f"b must have one entry per row of w ({n_rows}), got shape {b.shape}")
        return b

    def _check_upstream(self, grad: Any, name: str, cache: tuple) -> np.ndarray:
        """An upstream gradient must have the shape of the features its cache came with."""
        check_float_array(grad, name, ndim=2, dtype=self.dtype)
        expected = (cache[0].shape[0], self.n_features)
        if grad.shape != expected:
            raise ValueError(f"{name} must have the shape of the tower's output {expected}, got {grad.shape}")
        return grad

    # -- overflow guard -----------------------------------------------------
    def _exp(self, exponent: np.ndarray, sq_norms: np.ndarray, name: str) -> np.ndarray:
        """``exp(exponent)`` in place, warning (not failing silently) if it overflows the dtype."""
        limit = math.log(np.finfo(exponent.dtype).max)
        if exponent.size and float(exponent.max()) > limit:
            warnings.warn(
                f"{self.activation} random features overflow: the exponent reaches {float(exponent.max()):.4g} "
                f"> log(max {exponent.dtype}) = {limit:.4g}; the largest squared norm ||{name}||^2 is "
                f"{float(sq_norms.max()):.4g}. The towers carry e^(||{name}||^2/2) and the variance "
                f"e^(||x||^2 + ||w||^2): scale inputs and weights to norm <= 1",
                RandomFeatureVarianceWarning,
                stacklevel=4,
            )
        with np.errstate(over="ignore"):
            return np.exp(exponent, out=exponent)

    # -- the towers, forward and backward -------------------------------------
    def forward_input(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        r"""The input tower :math:`\Phi(x)` and the cache :meth:`backward_input` needs.

        Parameters
        ----------
        x : ndarray of shape (n, d)

        Returns
        -------
        Phi : ndarray of shape (n, n_features)
        cache : tuple
        """
        self._check_rows(x, "x")
        return self._forward_input(x)

    def backward_input(self, d_phi: np.ndarray, cache: tuple) -> np.ndarray:
        r""":math:`\partial L/\partial x` from :math:`\partial L/\partial\Phi` (the formula is in the class docstring).

        Parameters
        ----------
        d_phi : ndarray of shape (n, n_features)
        cache : tuple
            From :meth:`forward_input`.

        Returns
        -------
        ndarray of shape (n, d)
        """
        self._check_upstream(d_phi, "d_phi", cache)
        return self._backward_input(d_phi, cache)

    def forward_weights(self, w: np.ndarray, b: np.ndarray | None = None) -> tuple[np.ndarray, tuple]:
        r"""The parameter tower :math:`\Psi(w, b)`, one row per neuron, and the cache of :meth:`backward_weights`.

        Parameters
        ----------
        w : ndarray of shape (l, d)
            Row ``j`` is the weight vector :math:`w_j` of neuron ``j`` (for a
            :class:`~rpnumpy.layers.Dense` layer, ``dense.params["W"].T``).
        b : ndarray of shape (l,), optional
            The biases (a phase for cos/sin/gaussian, a factor :math:`e^{b}`
            for exp). ``relu`` has no bias: a non-zero ``b`` is refused.

        Returns
        -------
        Psi : ndarray of shape (l, n_features)
        cache : tuple
        """
        self._check_rows(w, "w")
        return self._forward_weights(w, self._check_bias(b, w.shape[0]))

    def backward_weights(self, d_psi: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray | None]:
        r""":math:`(\partial L/\partial w, \partial L/\partial b)` from :math:`\partial L/\partial\Psi`.

        Parameters
        ----------
        d_psi : ndarray of shape (l, n_features)
        cache : tuple
            From :meth:`forward_weights`.

        Returns
        -------
        dw : ndarray of shape (l, d)
        db : ndarray of shape (l,) or None
            None when :meth:`forward_weights` had no bias (always for relu).
        """
        self._check_upstream(d_psi, "d_psi", cache)
        return self._backward_weights(d_psi, cache)

    @abstractmethod
    def _forward_input(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        """:meth:`forward_input` on validated input."""

    @abstractmethod
    def _backward_input(self, d_phi: np.ndarray, cache: tuple) -> np.ndarray:
        """:meth:`backward_input` on a validated gradient."""

    @abstractmethod
    def _forward_weights(self, w: np.ndarray, b: np.ndarray | None) -> tuple[np.ndarray, tuple]:
        """:meth:`forward_weights` on validated weights."""

    @abstractmethod
    def _backward_weights(self, d_psi: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`backward_weights` on a validated gradient."""

    # -- the estimate -----------------------------------------------------------
    def input_features(self, x: np.ndarray) -> np.ndarray:
        r"""The input tower :math:`\Phi(x)`, shape ``(n, n_features)`` (:meth:`forward_input` without the cache)."""
        return self.forward_input(x)[0]

    def weight_features(self, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        r"""The parameter tower :math:`\Psi(w, b)`, shape ``(l, n_features)``: :meth:`forward_weights`, no cache."""
        return self.forward_weights(w, b)[0]

    def estimate(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """``input_features(x) @ weight_features(w, b).T``: the random-feature estimate of :meth:`target`.

        Returns
        -------
        ndarray of shape (n, l)
        """
        return self.input_features(x) @ self.weight_features(w, b).T

    @abstractmethod
    def target(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """What :meth:`estimate` is unbiased for, shape ``(n, l)``."""

    @abstractmethod
    def predicted_variance(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """Variance of :meth:`estimate` for i.i.d. draws, entry-wise, shape ``(n, l)``."""

    # -- bookkeeping ----------------------------------------------------------
    def _own_config(self) -> dict[str, Any]:
        """The parameters only this kind of tower takes."""
        return {}

    def get_config(self) -> dict[str, Any]:
        """The factory's arguments (``rng`` as the int seed): ``random_feature_tower(**config)`` rebuilds the tower."""
        return {
            "activation": self.activation,
            "d": self.d,
            "n_directions": self.n_directions,
            **self._own_config(),
            "draws": self.draws,
            "rng": self.seed,
            "dtype": self.dtype.name,
        }

    def __repr__(self) -> str:
        config = self.get_config()
        del config["activation"]
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in config.items())})"

    @property
    def m(self) -> int:
        """Deprecated alias of ``n_directions``."""
        warn_moved(f"{type(self).__name__}.m", f"{type(self).__name__}.n_directions")
        return self.n_directions
