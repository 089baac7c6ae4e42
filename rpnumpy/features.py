r"""Closed-form random feature maps for one neuron, :math:`f(w^\top x + b) \approx \Phi(x)^\top\Psi(w, b)`.

A dense unit computes :math:`f(w^\top x + b)`. The SNNK paper (Sehanobish,
Choromanski et al., ICLR 2024, "Scalable Neural Network Kernels") writes it as
an expectation of a dot product of two random feature vectors that share the
same random draws,

.. math:: f(w^\top x + b) = \mathbb E\big[\Phi(x)^\top \Psi(w, b)\big],

the **input tower** :math:`\Phi` seeing only :math:`x`, the **parameter tower**
:math:`\Psi` only :math:`(w, b)`. For the *universal random features* (URFs)
below the identity is exact in expectation for every number of features
:math:`m`; the error is a Monte Carlo error of variance :math:`O(1/m)`.

Where the maps come from (see ``research/snnk.md`` §2 for the derivations)
----------------------------------------------------------------------------
**Fourier step.** With :math:`f(z) = \int \tau(\xi) e^{2\pi i\xi z}\,d\xi`,

.. math:: f(w^\top x + b) = \mathbb E_{\xi\sim p}\Big[\tfrac{\tau(\xi)}{p(\xi)}\,e^{2\pi i\xi b}\,
          e^{(2\pi i\xi x)^\top w}\Big].

**Gaussian lemma** (with the variance parameter :math:`M > -1/4`, :math:`c = \sqrt{1+4M}`):
for complex :math:`u, v` and :math:`g \sim N(0, I_d)`,

.. math:: e^{u^\top v} = (1+4M)^{d/2}\,\mathbb E_g\Big[e^{c g^\top u - u^\top u/2 - M\|g\|^2}\,
          e^{c g^\top v - v^\top v/2 - M\|g\|^2}\Big].

Taking :math:`u = 2\pi i\xi x` and :math:`v = w` splits the exponential of the
dot product into an :math:`x`-factor and a :math:`w`-factor. Draw
:math:`g_1..g_m` (the columns of ``G``) and, if needed, :math:`\xi_1..\xi_m`;
every tower carries the constant :math:`C = (1+4M)^{d/4}/\sqrt m`, which is
kept **in log space** (:math:`(1+4M)^{d/4}` alone overflows float32 for
:math:`d = 768, M = 1`).

The activations (``activation=``), in the real-valued form (no complex dtype)
---------------------------------------------------------------------------
Write :math:`\theta_k = c\,g_k^\top x`, :math:`h_k(x) = C e^{\|x\|^2/2 - M\|g_k\|^2}`,
:math:`u_k(w) = C e^{c g_k^\top w - \|w\|^2/2 - M\|g_k\|^2}`.

``"cos"``, ``"sin"`` (paper, real form ours)
    :math:`\tau` sits on the binary frequencies :math:`\xi = \pm 1/2\pi`; both
    signs are used with the same :math:`g_k` (an antithetic pair), whose real
    part is

    .. math:: \Phi(x) = [h \odot \cos\theta,\ h \odot \sin\theta], \quad
              \Psi_{\cos}(w, b) = [u\cos b,\ -u \sin b], \quad
              \Psi_{\sin}(w, b) = [u\sin b,\ u\cos b],

    so that :math:`\Phi^\top\Psi = \sum_k h_k u_k \cos(\theta_k + b)` (or sin).
    ``D = 2m``. The input tower is the **same** for sin and cos, and the bias
    is a phase on the weight side only. :math:`\mathbb E[\Phi(x)^\top\Phi(x')] = e^{x^\top x'}`:
    the input tower alone is a random-feature map of the exponential
    (softmax) kernel.
``"exp"`` (positive random features; FAVOR+ at ``M = 0``)
    No frequency is needed:
    :math:`\Phi_k(x) = C e^{c g_k^\top x - \|x\|^2/2 - M\|g_k\|^2}`,
    :math:`\Psi_k(w, b) = e^{b}\,u_k(w)`. ``D = m``, all features positive.
``"gaussian"``, :math:`f(z) = e^{-z^2/2}` (our worked example)
    :math:`\tau(\xi) = \sqrt{2\pi}e^{-2\pi^2\xi^2}` is itself a density, so
    :math:`\xi_k \sim N(0, 1/4\pi^2)` with importance weight 1. With
    :math:`\zeta_k = 2\pi\xi_k \sim N(0, 1)`, the cos maps with
    :math:`\theta_k = \zeta_k c\,g_k^\top x`, :math:`h_k = C e^{\zeta_k^2\|x\|^2/2 - M\|g_k\|^2}`
    and the phase :math:`\zeta_k b`. ``D = 2m``. **Heavy tails**: the
    variance is finite only for :math:`\|x\|^2 < 1/2`
    (:math:`\mathbb E[e^{\zeta^2\|x\|^2}] = (1-2\|x\|^2)^{-1/2}`), and for
    :math:`\|x\|^2 \ge 1` not even the mean exists, so the estimate is
    meaningless there. A :class:`RandomFeatureVarianceWarning` says so.
``"relu"``: **not a URF, and not an estimate of ReLU(wᵀx)**
    ReLU has no Fourier transform (as a function), so the SNNK code uses the
    same map on both towers, :math:`\Phi(x) = \Psi(x) = \max(x G, \kappa)/\sqrt m`,
    without bias. For :math:`\kappa = 0` it estimates the **arc-cosine
    kernel** of order 1 (Cho & Saul, 2009),

    .. math:: \mathbb E[\Phi(x)^\top\Phi(w)] = \frac{\|x\|\|w\|}{2\pi}\big(\sin\alpha + (\pi-\alpha)\cos\alpha\big),
              \qquad \alpha = \angle(x, w),

    which depends on both norms and the angle, not on :math:`w^\top x` alone.
    ``D = m``. :meth:`RandomFeatureMap.target` returns that kernel and refuses
    :math:`\kappa \ne 0` (no closed form is implemented for the clipped map).

Variance (``predicted_variance``, our derivations, ``research/snnk.md`` §2.4)
---------------------------------------------------------------------------
One feature gives :math:`Z = m\,\Phi_k\Psi_k` (a pair for the trig towers);
the estimate is the mean of :math:`m` such :math:`Z`, so its variance is
:math:`\operatorname{Var}Z/m` for i.i.d. draws. With
:math:`P = ((1+4M)^2/(1+8M))^{d/2}`, :math:`\epsilon = 1/(1+8M)`,
:math:`\rho = (1+4M)/(1+8M)` and :math:`s = w^\top x`:

* cos / sin:
  :math:`\mathbb E Z^2 = \tfrac P2 e^{\epsilon\|w\|^2}\big(e^{\|x\|^2} \pm e^{-\epsilon\|x\|^2}\cos(4\rho s + 2b)\big)`
  (+ for cos, − for sin). Their sum, the complex estimator's second moment,
  is :math:`P e^{\|x\|^2 + \epsilon\|w\|^2}`, the digest's law.
* exp: :math:`\operatorname{Var}Z = e^{2(s+b)}\big(P e^{(2\rho-1)(\|x\|^2+\|w\|^2) + (4\rho-2)s} - 1\big)`,
  which is :math:`e^{2(s+b)}(e^{\|x+w\|^2}-1)` at :math:`M = 0`.
* gaussian: the cos formula with :math:`x \to \zeta x`, :math:`b \to \zeta b`,
  averaged over :math:`\zeta \sim N(0,1)`:
  :math:`\mathbb E Z^2 = \tfrac P2 e^{\epsilon\|w\|^2}\big((1-2\|x\|^2)^{-1/2} + (1+2\epsilon\|x\|^2)^{-1/2}
  e^{-(4\rho s+2b)^2/(2(1+2\epsilon\|x\|^2))}\big)`.
* relu (:math:`\kappa = 0`): :math:`\mathbb E Z^2` is the arc-cosine kernel of
  order 2, :math:`\frac{\|x\|^2\|w\|^2}{2\pi}\big(3\sin\alpha\cos\alpha + (\pi-\alpha)(1+2\cos^2\alpha)\big)`
  (so :math:`1.25\|x\|^4` for :math:`w = x`).

All need :math:`M > -1/8` (else the variance is infinite: the map warns).
:math:`M > 0` damps only the :math:`\|w\|^2` term and multiplies by
:math:`P \ge 1`, which grows with :math:`d`: ``M = 0`` is the safe default.
The :math:`\|x\|^2` term is never damped: **normalise inputs** to
:math:`\|x\| \lesssim 1`.

Orthogonal draws (``draws="orthogonal"``) use
``random_matrix("gaussian_orthogonal", ...)``: orthogonal blocks from a
sign-fixed QR with chi-distributed column norms, so every column is still
exactly :math:`N(0, I_d)` and every estimator stays unbiased; the features are
then coupled and the variance is usually lower than the i.i.d. formula (which
``predicted_variance`` returns in both cases).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ._validation import check_dtype, check_float_array, check_positive_int, check_real, seed_from
from .random_matrices import random_matrix

__all__ = [
    "FEATURE_MAPS",
    "FEATURE_DRAWS",
    "RandomFeatureMap",
    "RandomFeatureVarianceWarning",
    "arc_cosine_kernel",
]

#: The activations with a closed-form feature map.
FEATURE_MAPS = ("cos", "sin", "exp", "gaussian", "relu")
#: How the Gaussian directions are drawn.
FEATURE_DRAWS = ("iid", "orthogonal")

#: Activations whose towers come from the Gaussian lemma (and so take M).
_URF_MAPS = ("cos", "sin", "exp", "gaussian")
#: Activations whose features are a cos/sin pair (D = 2m).
_TRIG_MAPS = ("cos", "sin", "gaussian")
#: The activation f of the unit f(w.x + b) that each URF tower estimates (:meth:`RandomFeatureMap.target`).
#: The relu tower estimates the arc-cosine kernel instead, so relu has no entry.
URF_ACTIVATIONS = {
    "cos": np.cos,
    "sin": np.sin,
    "exp": np.exp,
    "gaussian": lambda z: np.exp(-0.5 * z**2),
}


class RandomFeatureVarianceWarning(UserWarning):
    """The random-feature estimate is unreliable: infinite variance, an undefined mean, or overflow.

    A ``UserWarning`` (not a ``RuntimeWarning``) so that it is never confused
    with NumPy's floating-point warnings, which the test configuration turns
    into errors.
    """


def arc_cosine_kernel(x: np.ndarray, w: np.ndarray, *, order: int = 1) -> np.ndarray:
    r"""The arc-cosine kernel :math:`\mathbb E_g[\max(g^\top x, 0)^n \max(g^\top w, 0)^n]`, :math:`g \sim N(0, I)`.

    .. math::

        k_1(x, w) = \frac{\|x\|\|w\|}{2\pi}\big(\sin\alpha + (\pi - \alpha)\cos\alpha\big), \qquad
        k_2(x, w) = \frac{\|x\|^2\|w\|^2}{2\pi}\big(3\sin\alpha\cos\alpha + (\pi - \alpha)(1 + 2\cos^2\alpha)\big),

    with :math:`\alpha = \angle(x, w)`. This is Cho & Saul's (2009) kernel
    without their factor 2: it is the plain expectation, the quantity the ReLU
    tower estimates (order 1) and its per-feature second moment (order 2).

    Parameters
    ----------
    x : ndarray of shape (n, d)
    w : ndarray of shape (l, d)
    order : {1, 2}, default=1

    Returns
    -------
    ndarray of shape (n, l)
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    check_float_array(x, "x", ndim=2)
    check_float_array(w, "w", ndim=2, dtype=x.dtype)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x and w must have the same number of columns, got {x.shape[1]} and {w.shape[1]}")
    x_norm = np.linalg.norm(x, axis=1)[:, None]
    w_norm = np.linalg.norm(w, axis=1)[None, :]
    norms = x_norm * w_norm
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(norms > 0, (x @ w.T) / norms, 1.0)
    cos = np.clip(cos, -1.0, 1.0)
    angle = np.arccos(cos)
    sin = np.sqrt(1.0 - cos**2)
    if order == 1:
        return norms * (sin + (np.pi - angle) * cos) / (2 * np.pi)
    return norms**2 * (3 * sin * cos + (np.pi - angle) * (1 + 2 * cos**2)) / (2 * np.pi)


class RandomFeatureMap:
    r"""The two towers :math:`\Phi` (input) and :math:`\Psi` (parameters) of one activation.

    ``input_features(x) @ weight_features(w, b).T`` is an unbiased estimate
    of ``f(x @ w.T + b)`` (of the arc-cosine kernel for ``"relu"``), with
    variance ``predicted_variance(x, w, b)``. See the module docstring for the
    maps, their derivation and their variance.

    Parameters
    ----------
    activation : {'cos', 'sin', 'exp', 'gaussian', 'relu'}
    d : int
        Input dimension.
    m : int
        Number of random directions :math:`g_k` (and frequencies).
        ``n_features`` is ``2m`` for cos, sin and gaussian, ``m`` for exp and relu.
    M : float, default=0.0
        Variance parameter of the Gaussian lemma; must be > -1/4, and > -1/8
        for a finite variance (a :class:`RandomFeatureVarianceWarning`
        otherwise). ``M = 0`` is best for small norms or large ``d`` (see the
        module docstring). Only the URF activations use it; ``relu`` requires 0.
    draws : {'iid', 'orthogonal'}, default='iid'
        I.i.d. Gaussian directions, or orthogonal random features (orthogonal
        blocks with chi norms, still marginally :math:`N(0, I_d)`).
    kappa : float, default=0.0
        The ReLU tower's floor, :math:`\max(xG, \kappa)`; the SNNK code offers
        -5 as an option. Only ``relu`` uses it; the others require 0.
    rng : None, int or numpy.random.Generator
        Randomness for ``G`` (and ``xi``); stored as one int ``seed`` from which
        both are rebuilt bit for bit.
    dtype : float32 or float64, default=float64
        dtype of ``G``, ``xi`` and the features. Inputs must have this dtype.

    Attributes
    ----------
    G : ndarray of shape (d, m)
        Column ``k`` is :math:`g_k \sim N(0, I_d)`, so ``x @ G`` holds
        :math:`g_k^\top x` (the paper's ``G`` is this matrix transposed).
    xi : ndarray of shape (m,) or None
        The frequencies :math:`\xi_k \sim N(0, 1/4\pi^2)` of the gaussian
        activation; None otherwise (cos/sin use the two binary frequencies
        :math:`\pm 1/2\pi` analytically, through the real form).
    n_features : int
        :math:`D`, the width of both towers' outputs.
    seed : int

    Examples
    --------
    >>> import numpy as np
    >>> fmap = RandomFeatureMap("cos", d=3, m=200_000, rng=0)
    >>> x = np.array([[0.3, -0.2, 0.1]]); w = np.array([[0.2, 0.4, -0.3]]); b = np.array([0.5])
    >>> bool(abs(fmap.estimate(x, w, b) - fmap.target(x, w, b))[0, 0] < 0.02)
    True
    """

    def __init__(
        self,
        activation: str,
        d: int,
        m: int,
        *,
        M: float = 0.0,
        draws: str = "iid",
        kappa: float = 0.0,
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        if activation not in FEATURE_MAPS:
            raise ValueError(f"activation must be one of {list(FEATURE_MAPS)}, got {activation!r}")
        self.d = check_positive_int(d, "d")
        self.m = check_positive_int(m, "m")
        if draws not in FEATURE_DRAWS:
            raise ValueError(f"draws must be one of {list(FEATURE_DRAWS)}, got {draws!r}")
        self.M = check_real(M, "M")
        self.kappa = check_real(kappa, "kappa")
        if activation == "relu" and self.M != 0.0:
            raise ValueError(f"M only applies to the URF activations {list(_URF_MAPS)}; relu needs M=0, got {M!r}")
        if activation != "relu" and self.kappa != 0.0:
            raise ValueError(f"kappa only applies to activation='relu'; {activation} needs kappa=0, got {kappa!r}")
        if self.M <= -0.25:
            raise ValueError(f"M must be > -1/4 (the Gaussian lemma needs 1 + 4M > 0), got {M!r}")
        if activation in _URF_MAPS and self.M <= -0.125:
            warnings.warn(
                f"M={self.M!r} <= -1/8: the estimator is unbiased but its variance is infinite "
                f"(the second moment needs 1 + 8M > 0); use M > -1/8, M = 0 is the safe default",
                RandomFeatureVarianceWarning,
                stacklevel=2,
            )
        self.activation = activation
        self.draws = draws
        self.dtype = check_dtype(dtype)
        self.seed = seed_from(rng)
        self.n_features = 2 * self.m if activation in _TRIG_MAPS else self.m

        kind = "gaussian" if draws == "iid" else "gaussian_orthogonal"
        self.G = random_matrix(kind, (self.d, self.m), self.seed, variance=1.0, dtype=self.dtype)
        self.xi: np.ndarray | None = None
        if activation == "gaussian":
            # The frequencies come from an independent stream derived from the same seed.
            stream = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(1)[0])
            self.xi = (stream.standard_normal(self.m) / (2 * np.pi)).astype(self.dtype)
        # The towers read G and xi through the constants _precompute folds them into, so writing
        # into them later would change nothing: they are read-only, and a substitute is refused.
        for fixed in (self.G, self.xi):
            if fixed is not None:
                fixed.flags.writeable = False
        self._precompute()

    # -- constants ----------------------------------------------------------
    def _precompute(self) -> None:
        """Fold every constant of the towers into a projection matrix and a per-feature log-scale.

        Both towers are exponentials of ``x @ projection + quadratic * ||x||^2 + log_scale``
        (times cos/sin of the projection for the trig maps), so the forward
        and backward passes are written once for all URF activations.
        """
        self._inv_sqrt_m = 1.0 / math.sqrt(self.m)
        if self.activation == "relu":
            return
        g64 = self.G.astype(np.float64)
        c = math.sqrt(1.0 + 4.0 * self.M)
        # log C - M ||g_k||^2 with C = (1+4M)^{d/4} / sqrt(m): never formed outside the exponent.
        log_scale = 0.25 * self.d * math.log1p(4.0 * self.M) - 0.5 * math.log(self.m)
        log_scale = log_scale - self.M * np.einsum("ik,ik->k", g64, g64)
        self._log_scale = log_scale.astype(self.dtype)
        self._weight_projection = self.G if self.M == 0.0 else (c * g64).astype(self.dtype)
        if self.activation == "gaussian":
            zeta = 2 * np.pi * self.xi.astype(np.float64)
            self._input_projection = (c * g64 * zeta).astype(self.dtype)
            self._quadratic = (0.5 * zeta**2).astype(self.dtype)  # +zeta^2 ||x||^2 / 2
            self._phase_frequency = zeta.astype(self.dtype)  # the bias enters as the phase zeta * b
        else:
            self._input_projection = self._weight_projection
            self._quadratic = np.full(self.m, 0.5 if self.activation in ("cos", "sin") else -0.5, dtype=self.dtype)
            self._phase_frequency = None

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
        if self.activation == "relu":
            if np.any(b != 0):
                raise ValueError(
                    "the ReLU tower has no bias (Phi = Psi = max(x G, kappa)/sqrt(m) estimates the arc-cosine "
                    "kernel of x and w); pass b=None"
                )
            return None
        return b

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
                stacklevel=3,
            )
        with np.errstate(over="ignore"):
            return np.exp(exponent, out=exponent)

    def _warn_gaussian_tail(self, x_sq: np.ndarray) -> None:
        largest = float(x_sq.max()) if x_sq.size else 0.0
        if self.activation == "gaussian" and largest >= 0.5:
            extra = " and for ||x||^2 >= 1 not even its mean exists" if largest >= 1 else ""
            warnings.warn(
                f"gaussian activation: the largest squared input norm ||x||^2 is {largest:.4g} >= 1/2; the "
                f"estimator's variance is infinite there (E[e^(zeta^2 ||x||^2)] = (1 - 2||x||^2)^(-1/2)){extra}. "
                f"Scale inputs to ||x||^2 < 1/2",
                RandomFeatureVarianceWarning,
                stacklevel=3,
            )

    # -- the towers -----------------------------------------------------------
    def _forward_input(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """Φ(x) and what its backward pass needs (no input validation: the callers do it)."""
        if self.activation == "relu":
            pre = x @ self.G
            mask = pre > self.kappa
            features = np.maximum(pre, self.kappa, out=pre)
            features *= self._inv_sqrt_m
            return features, mask
        x_sq = np.einsum("ij,ij->i", x, x)
        self._warn_gaussian_tail(x_sq)
        projected = x @ self._input_projection
        exponent = np.multiply.outer(x_sq, self._quadratic)
        exponent += self._log_scale
        if self.activation == "exp":
            exponent += projected
            return self._exp(exponent, x_sq, "x"), x
        h = self._exp(exponent, x_sq, "x")
        features = np.concatenate([h * np.cos(projected), h * np.sin(projected)], axis=1)
        return features, x

    def _backward_input(self, d_features: np.ndarray, features: np.ndarray, cache: Any) -> np.ndarray:
        r"""dL/dx from dL/dΦ (see :class:`~rpnumpy.layers.SNNK` for the formulas)."""
        if self.activation == "relu":
            masked = d_features * cache
            dx = masked @ self.G.T
            dx *= self._inv_sqrt_m
            return dx
        x = cache
        if self.activation == "exp":
            d_exponent = d_features * features  # ∂Φ/∂(exponent) = Φ
            d_projected = d_exponent
        else:
            m = self.m
            d_cos, d_sin = d_features[:, :m], d_features[:, m:]
            h_cos, h_sin = features[:, :m], features[:, m:]
            d_projected = d_sin * h_cos - d_cos * h_sin  # H ⊙ (-dC ⊙ sinΘ + dS ⊙ cosΘ)
            d_exponent = d_cos * h_cos + d_sin * h_sin  # dH ⊙ H
        dx = d_projected @ self._input_projection.T
        # ∂(quadratic_k ||x||^2)/∂x = 2 quadratic_k x: one row scale per sample.
        dx += (2 * (d_exponent @ self._quadratic))[:, None] * x
        return dx

    def input_features(self, x: np.ndarray) -> np.ndarray:
        """The input tower Φ(x).

        Parameters
        ----------
        x : ndarray of shape (n, d)

        Returns
        -------
        ndarray of shape (n, n_features)
        """
        self._check_rows(x, "x")
        return self._forward_input(x)[0]

    def weight_features(self, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        r"""The parameter tower Ψ(w, b), one row per neuron.

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
        ndarray of shape (l, n_features)
        """
        self._check_rows(w, "w")
        b = self._check_bias(b, w.shape[0])
        if self.activation == "relu":
            return self._forward_input(w)[0]
        w_sq = np.einsum("ij,ij->i", w, w)
        exponent = w @ self._weight_projection
        exponent -= 0.5 * w_sq[:, None]
        exponent += self._log_scale
        if self.activation == "exp":
            if b is not None:
                exponent += b[:, None]
            return self._exp(exponent, w_sq, "w")
        u = self._exp(exponent, w_sq, "w")
        if b is None:
            b = np.zeros(w.shape[0], dtype=self.dtype)
        phase = b[:, None] if self._phase_frequency is None else np.multiply.outer(b, self._phase_frequency)
        cos_b, sin_b = np.cos(phase), np.sin(phase)
        if self.activation == "sin":
            return np.concatenate([u * sin_b, u * cos_b], axis=1)
        return np.concatenate([u * cos_b, -u * sin_b], axis=1)

    def estimate(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        """``input_features(x) @ weight_features(w, b).T``: the random-feature estimate of ``target``.

        Returns
        -------
        ndarray of shape (n, l)
        """
        return self.input_features(x) @ self.weight_features(w, b).T

    def target(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        r"""What :meth:`estimate` is unbiased for: :math:`f(x w^\top + b)`, or the arc-cosine kernel for relu.

        Raises
        ------
        NotImplementedError
            For ``relu`` with ``kappa != 0``: the clipped map
            :math:`\max(xG, \kappa)` estimates a kernel with no closed form
            here (a bivariate-normal integral).
        """
        self._check_rows(x, "x")
        self._check_rows(w, "w")
        b = self._check_bias(b, w.shape[0])
        if self.activation == "relu":
            self._refuse_clipped_relu("target")
            return arc_cosine_kernel(x, w)
        z = x @ w.T
        if b is not None:
            z += b
        if self.activation == "exp":
            with np.errstate(over="ignore"):
                return np.exp(z)
        return URF_ACTIVATIONS[self.activation](z)

    def _refuse_clipped_relu(self, what: str) -> None:
        if self.kappa != 0.0:
            raise NotImplementedError(
                f"{what} has a closed form only for the ReLU tower with kappa=0 (the arc-cosine kernel); "
                f"kappa={self.kappa!r} clips at a non-zero floor"
            )

    def predicted_variance(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        r"""Variance of :meth:`estimate` for i.i.d. draws: :math:`\operatorname{Var}(Z)/m`, entry-wise.

        The closed forms are in the module docstring (our derivations). For
        ``draws='orthogonal'`` this is still the i.i.d. value; orthogonal
        draws usually do better. Infinite entries (gaussian with
        :math:`\|x\|^2 \ge 1/2`, or overflow) come with a
        :class:`RandomFeatureVarianceWarning`.

        Returns
        -------
        ndarray of shape (n, l)
        """
        self._check_rows(x, "x")
        self._check_rows(w, "w")
        b = self._check_bias(b, w.shape[0])
        if self.activation == "relu":
            self._refuse_clipped_relu("predicted_variance")
            first = arc_cosine_kernel(x, w)
            return (arc_cosine_kernel(x, w, order=2) - first**2) / self.m
        x_sq = np.einsum("ij,ij->i", x, x)[:, None]
        w_sq = np.einsum("ij,ij->i", w, w)[None, :]
        s = x @ w.T
        bias = np.zeros_like(w_sq) if b is None else b[None, :]
        M, d = self.M, self.d
        log_p = 0.5 * d * (2 * math.log1p(4 * M) - math.log1p(8 * M))
        eps = 1.0 / (1.0 + 8 * M)
        rho = (1.0 + 4 * M) / (1.0 + 8 * M)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.activation == "exp":
                excess = np.expm1(log_p + (2 * rho - 1) * (x_sq + w_sq) + (4 * rho - 2) * s)
                variance = np.exp(2 * (s + bias)) * excess
            elif self.activation in ("cos", "sin"):
                sign = 1.0 if self.activation == "cos" else -1.0
                second = 0.5 * np.exp(log_p + eps * w_sq) * (
                    np.exp(x_sq) + sign * np.exp(-eps * x_sq) * np.cos(4 * rho * s + 2 * bias)
                )
                mean = np.cos(s + bias) if self.activation == "cos" else np.sin(s + bias)
                variance = second - mean**2
            else:
                self._warn_gaussian_tail(x_sq)
                spread = 1.0 + 2 * eps * x_sq
                heavy = np.where(x_sq < 0.5, 1.0 / np.sqrt(np.maximum(1.0 - 2 * x_sq, 0.0)), np.inf)
                second = 0.5 * np.exp(log_p + eps * w_sq) * (
                    heavy + np.exp(-((4 * rho * s + 2 * bias) ** 2) / (2 * spread)) / np.sqrt(spread)
                )
                variance = second - np.exp(-((s + bias) ** 2))
        variance = variance / self.m
        if self.activation != "gaussian" and not np.all(np.isfinite(variance)):
            warnings.warn(
                f"{self.activation}: the predicted variance overflows (largest ||x||^2 = {float(x_sq.max()):.4g}, "
                f"||w||^2 = {float(w_sq.max()):.4g}); it grows like e^(||x||^2 + ||w||^2): scale to norm <= 1",
                RandomFeatureVarianceWarning,
                stacklevel=2,
            )
        return variance

    # -- bookkeeping ----------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (``rng`` as the int seed): ``RandomFeatureMap(**config)`` rebuilds the map."""
        return {
            "activation": self.activation,
            "d": self.d,
            "m": self.m,
            "M": self.M,
            "draws": self.draws,
            "kappa": self.kappa,
            "rng": self.seed,
            "dtype": self.dtype.name,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"RandomFeatureMap({args})"
