r"""The towers built on the Gaussian lemma (cos, sin, exp, gaussian): what they share.

The Gaussian lemma
------------------
For :math:`g \sim N(0, I_d)`, a vector :math:`a` and :math:`\beta > -1/2`, completing the square
in the Gaussian integral gives

.. math:: \mathbb E_g\big[e^{a^\top g - \beta\|g\|^2}\big] = (1+2\beta)^{-d/2}\, e^{a^\top a / (2(1+2\beta))},

and both sides are analytic in :math:`a`, so it holds for complex :math:`a` as well, with
:math:`a^\top a` the bilinear form (not :math:`\|a\|^2`). Take :math:`\beta = 2M`,
:math:`\gamma = \sqrt{1+4M}` and :math:`a = \gamma(u+v)`: then :math:`a^\top a/(2(1+4M)) = (u+v)^\top(u+v)/2`
and, for complex :math:`u, v` and :math:`M > -1/4`,

.. math:: e^{u^\top v} = (1+4M)^{d/2}\,\mathbb E_g\Big[e^{\gamma g^\top u - u^\top u/2 - M\|g\|^2}\,
          e^{\gamma g^\top v - v^\top v/2 - M\|g\|^2}\Big].

:math:`M` is the lemma's **variance parameter** (``variance_param``): every :math:`M > -1/4`
gives the same expectation, but not the same variance. The towers average over :math:`m`
directions :math:`g_1, \dots, g_m`, each side carrying the constant :math:`C = (1+4M)^{d/4}/\sqrt m`,
which is kept **in log space** together with :math:`-M\|g_k\|^2` (:math:`(1+4M)^{d/4}` alone
overflows float32 for :math:`d = 768, M = 1`).

The second moment
-----------------
Write :math:`Z = m\,\Phi_k\Psi_k` for the estimate from one direction (a cos/sin pair for the trig
towers); the estimate is the mean of :math:`m` such :math:`Z`, so its variance is
:math:`\operatorname{Var}Z/m` for i.i.d. draws. For two such single-direction products, one for
:math:`(u, v)` and one for :math:`(u', v')` on the **same** :math:`g`, the lemma with
:math:`\beta = 4M` and :math:`a = \gamma\,\sigma`, :math:`\sigma = u + v + u' + v'`, gives

.. math:: \mathbb E[Z Z'] = K\,\exp\Big(\frac\rho2\,\sigma^\top\sigma
          - \frac{u^\top u + v^\top v + u'^\top u' + v'^\top v'}{2}\Big), \qquad
          K = \Big(\frac{(1+4M)^2}{1+8M}\Big)^{d/2}, \quad \rho = \frac{1+4M}{1+8M},

finite only for :math:`M > -1/8`. Each tower's variance is this identity at its own
:math:`u, v` (derived in its module); they also use :math:`\eta = 2\rho - 1 = 1/(1+8M)`.
:math:`M > 0` damps only the :math:`\|w\|^2` term and multiplies by :math:`K \ge 1`, which grows
with :math:`d`: ``variance_param = 0`` is the safe default. The :math:`\|x\|^2` term is never
damped: **normalise inputs** to :math:`\|x\| \lesssim 1`.
"""

from __future__ import annotations

import math
import warnings
from abc import abstractmethod
from typing import Any

import numpy as np

from .._deprecation import warn_moved
from .._validation import check_real
from .base import RandomFeatureTower, RandomFeatureVarianceWarning

__all__ = ["GaussianLemmaTower"]


class GaussianLemmaTower(RandomFeatureTower):
    r"""A tower from the Gaussian lemma: every feature is an exponential of the input, times cos/sin for trig towers.

    Both towers are built from the projection :math:`\Theta = x\Gamma` (:math:`\Gamma = \gamma G`; for gaussian
    :math:`\gamma G\operatorname{diag}(\zeta)`) and the per-feature exponents

    .. math:: \Lambda_{ik} = q_k\|x_i\|^2 + \log C - M\|g_k\|^2, \qquad
              \Lambda^{\Psi}_{jk} = \gamma\,g_k^\top w_j - \|w_j\|^2/2 + \log C - M\|g_k\|^2 :

    the exp tower is :math:`e^{\Theta + \Lambda}` (:math:`q_k = -1/2`), the trig towers are :math:`e^{\Lambda}`
    times cos and sin of :math:`\Theta` (:math:`q_k = 1/2`, or :math:`\zeta_k^2/2`). So every
    backward pass ends in the same two lines: given :math:`\partial\Theta` and :math:`\partial A`
    (for exp, :math:`\partial\Theta = \partial\Lambda`),

    .. math:: \frac{\partial L}{\partial x_i} = (\partial\Theta\,\Gamma^\top)_i
              + 2\Big(\sum_k q_k\,\partial\Lambda_{ik}\Big)x_i, \qquad
              \frac{\partial L}{\partial w_j} = (\partial\Lambda^{\Psi} (\gamma G)^\top)_j
              - \Big(\sum_k \partial\Lambda^{\Psi}_{jk}\Big)w_j .

    Parameters
    ----------
    d, n_directions, draws, rng, dtype
        As for :class:`~rpnumpy.features.base.RandomFeatureTower`.
    variance_param : float, default=0.0
        :math:`M` of the Gaussian lemma; must be > -1/4, and > -1/8 for a
        finite variance (a :class:`RandomFeatureVarianceWarning` otherwise).
        ``0`` is best for small norms or large ``d`` (see the module docstring).
    """

    #: :math:`q_k` for the towers whose quadratic coefficient is one constant.
    _quadratic_coefficient: float = 0.5

    def __init__(
        self,
        d: int,
        n_directions: int,
        *,
        variance_param: float = 0.0,
        draws: str = "iid",
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        value = check_real(variance_param, "variance_param")
        if value <= -0.25:
            raise ValueError(
                f"variance_param must be > -1/4 (the Gaussian lemma needs 1 + 4M > 0), got {variance_param!r}"
            )
        self.variance_param = value
        super().__init__(d, n_directions, draws=draws, rng=rng, dtype=dtype)
        if value <= -0.125:
            warnings.warn(
                f"variance_param={value!r} <= -1/8: the estimator is unbiased but its variance is infinite "
                f"(the second moment needs 1 + 8M > 0); use variance_param > -1/8, 0 is the safe default",
                RandomFeatureVarianceWarning,
                stacklevel=3,
            )

    # -- constants ----------------------------------------------------------
    def _precompute(self) -> None:
        """Fold every constant of the towers into the projections, the log-scales and the quadratic coefficients."""
        g64 = self.G.astype(np.float64)
        M = self.variance_param
        c = math.sqrt(1.0 + 4.0 * M)
        # log C - M ||g_k||^2 with C = (1+4M)^{d/4} / sqrt(m): never formed outside the exponent.
        log_scale = 0.25 * self.d * math.log1p(4.0 * M) - 0.5 * math.log(self.n_directions)
        log_scale = log_scale - M * np.einsum("ik,ik->k", g64, g64)
        self._log_scale = log_scale.astype(self.dtype)
        self._weight_projection = self.G if M == 0.0 else (c * g64).astype(self.dtype)
        self._input_projection, self._quadratic = self._input_constants(c, g64)

    def _input_constants(self, c: float, g64: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""The input tower's projection :math:`\Gamma` and quadratic coefficients :math:`q_k`."""
        return self._weight_projection, np.full(self.n_directions, self._quadratic_coefficient, dtype=self.dtype)

    def _check_input_norms(self, x_sq: np.ndarray) -> None:
        """Warn about inputs the tower cannot estimate well (nothing by default)."""

    # -- the exponents and their gradients ---------------------------------------
    def _input_exponent(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r""":math:`\|x_i\|^2`, the projection :math:`\Theta = x\Gamma` and the exponent :math:`\Lambda` (class doc)."""
        x_sq = np.einsum("ij,ij->i", x, x)
        self._check_input_norms(x_sq)
        projected = x @ self._input_projection
        exponent = np.multiply.outer(x_sq, self._quadratic)
        exponent += self._log_scale
        return x_sq, projected, exponent

    def _input_gradient(self, x: np.ndarray, d_projected: np.ndarray, d_exponent: np.ndarray) -> np.ndarray:
        r""":math:`\partial\Theta\,\Gamma^\top + 2(\partial\Lambda\,q)\,x`: via the projection and :math:`\|x\|^2`."""
        dx = d_projected @ self._input_projection.T
        # ∂(q_k ||x||^2)/∂x = 2 q_k x: one row scale per sample.
        dx += (2 * (d_exponent @ self._quadratic))[:, None] * x
        return dx

    def _weight_exponent(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`\|w_j\|^2` and :math:`\gamma\,g_k^\top w_j - \|w_j\|^2/2 + \log C - M\|g_k\|^2`."""
        w_sq = np.einsum("ij,ij->i", w, w)
        exponent = w @ self._weight_projection
        exponent -= 0.5 * w_sq[:, None]
        exponent += self._log_scale
        return w_sq, exponent

    def _weight_gradient(self, w: np.ndarray, d_exponent: np.ndarray) -> np.ndarray:
        r""":math:`\partial\Lambda\,(\gamma G)^\top - (\sum_k \partial\Lambda_{jk})\,w_j`."""
        dw = d_exponent @ self._weight_projection.T
        dw -= d_exponent.sum(axis=1)[:, None] * w
        return dw

    # -- what the estimate estimates, and how well ---------------------------------
    @staticmethod
    @abstractmethod
    def activation_function(z: np.ndarray) -> np.ndarray:
        """The activation :math:`f` applied element-wise."""

    def target(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        r"""What :meth:`estimate` is unbiased for: :math:`f(x w^\top + b)`, shape ``(n, l)``."""
        self._check_rows(x, "x")
        self._check_rows(w, "w")
        b = self._check_bias(b, w.shape[0])
        z = x @ w.T
        if b is not None:
            z += b
        with np.errstate(over="ignore"):
            return self.activation_function(z)

    def _second_moment_constants(self) -> tuple[float, float, float]:
        r""":math:`\log K`, :math:`\eta` and :math:`\rho` of the module docstring."""
        M, d = self.variance_param, self.d
        log_p = 0.5 * d * (2 * math.log1p(4 * M) - math.log1p(8 * M))
        eps = 1.0 / (1.0 + 8 * M)
        rho = (1.0 + 4 * M) / (1.0 + 8 * M)
        return log_p, eps, rho

    @abstractmethod
    def _direction_variance(self, x_sq: np.ndarray, w_sq: np.ndarray, s: np.ndarray, bias: np.ndarray) -> np.ndarray:
        r""":math:`\operatorname{Var}Z` of one direction, from :math:`\|x\|^2` (column), :math:`\|w\|^2` (row),
        :math:`s = x w^\top` and the biases (row)."""

    def predicted_variance(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        r"""Variance of :meth:`estimate` for i.i.d. draws: :math:`\operatorname{Var}(Z)/m`, entry-wise.

        The closed forms are derived in the tower's module. For
        ``draws='orthogonal'`` this is still the i.i.d. value; orthogonal
        draws usually do better. Infinite entries (gaussian with
        :math:`\|x\|^2 \ge 1/2`, :math:`M \le -1/8`, or overflow) come with a
        :class:`RandomFeatureVarianceWarning`.

        Returns
        -------
        ndarray of shape (n, l)
        """
        self._check_rows(x, "x")
        self._check_rows(w, "w")
        b = self._check_bias(b, w.shape[0])
        if self.variance_param <= -0.125:  # warned at construction: the second moment diverges
            return np.full((x.shape[0], w.shape[0]), np.inf)
        x_sq = np.einsum("ij,ij->i", x, x)[:, None]
        w_sq = np.einsum("ij,ij->i", w, w)[None, :]
        s = x @ w.T
        bias = np.zeros_like(w_sq) if b is None else b[None, :]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            variance = self._direction_variance(x_sq, w_sq, s, bias)
        variance = variance / self.n_directions
        self._check_variance(variance, x_sq, w_sq)
        return variance

    def _check_variance(self, variance: np.ndarray, x_sq: np.ndarray, w_sq: np.ndarray) -> None:
        if not np.all(np.isfinite(variance)):
            warnings.warn(
                f"{self.activation}: the predicted variance overflows (largest ||x||^2 = {float(x_sq.max()):.4g}, "
                f"||w||^2 = {float(w_sq.max()):.4g}); it grows like e^(||x||^2 + ||w||^2): scale to norm <= 1",
                RandomFeatureVarianceWarning,
                stacklevel=3,
            )

    # -- bookkeeping ----------------------------------------------------------
    def _own_config(self) -> dict[str, Any]:
        return {"variance_param": self.variance_param}

    @property
    def M(self) -> float:
        """Deprecated alias of ``variance_param``."""
        warn_moved(f"{type(self).__name__}.M", f"{type(self).__name__}.variance_param")
        return self.variance_param
