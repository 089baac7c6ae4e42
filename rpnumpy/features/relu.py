r"""The ReLU tower: **not a universal random feature, and not an estimate of** :math:`\mathrm{ReLU}(w^\top x)`.

ReLU has no Fourier transform (as a function), so the Gaussian lemma does not apply. The
ReLU tower, as the SNNK authors' code builds it, uses the same map on both sides, without bias:

.. math:: \Phi(x) = \Psi(x) = \max(xG, \kappa)/\sqrt m .

For :math:`\kappa = 0` one direction gives :math:`Z = m\Phi_k(x)\Psi_k(w) = \max(g_k^\top x, 0)\max(g_k^\top w, 0)`,
whose mean is the **arc-cosine kernel** of order 1 (Cho & Saul, "Kernel Methods for Deep
Learning", NeurIPS 2009),

.. math:: \mathbb E[\Phi(x)^\top\Psi(w)] = k_1(x, w)
          = \frac{\|x\|\|w\|}{2\pi}\big(\sin\omega + (\pi-\omega)\cos\omega\big),
          \qquad \omega = \angle(x, w),

which depends on both norms and the angle, not on :math:`w^\top x` alone. ``D = m``.
:math:`\mathbb E Z^2` is the kernel of order 2, :math:`k_2(x, w)`, so
:math:`\operatorname{Var}Z = k_2 - k_1^2` (:math:`1.25\|x\|^4` for :math:`w = x`). For
:math:`\kappa \ne 0` (the floor :math:`\max(xG, \kappa)`, offered as -5 by the SNNK code) the
kernel is a bivariate-normal integral with no closed form here: :meth:`ReLUTower.target` and
:meth:`ReLUTower.predicted_variance` refuse it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_float_array, check_real
from .base import RandomFeatureTower

__all__ = ["ReLUTower", "arc_cosine_kernel"]


def arc_cosine_kernel(x: np.ndarray, w: np.ndarray, *, order: int = 1) -> np.ndarray:
    r"""The arc-cosine kernel :math:`\mathbb E_g[\max(g^\top x, 0)^n \max(g^\top w, 0)^n]`, :math:`g \sim N(0, I)`.

    .. math::

        k_1(x, w) = \frac{\|x\|\|w\|}{2\pi}\big(\sin\omega + (\pi - \omega)\cos\omega\big), \qquad
        k_2(x, w) = \frac{\|x\|^2\|w\|^2}{2\pi}\big(3\sin\omega\cos\omega + (\pi - \omega)(1 + 2\cos^2\omega)\big),

    with :math:`\omega = \angle(x, w)`. This is the kernel of Cho & Saul ("Kernel Methods for Deep
    Learning", NeurIPS 2009) without their factor 2: it is the plain expectation, the quantity the
    ReLU tower estimates (order 1) and its per-feature second moment (order 2).

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


class ReLUTower(RandomFeatureTower):
    r"""The ReLU tower :math:`\Phi(x) = \Psi(x) = \max(xG, \kappa)/\sqrt m`: estimates the arc-cosine kernel.

    Forward and backward (the same map on both sides, with :math:`w` in place of :math:`x`):

    .. math:: \Phi(x) = \max(xG, \kappa)/\sqrt m, \qquad
              \frac{\partial L}{\partial x} = \big((\partial\Phi \odot 1[xG > \kappa])\, G^\top\big)/\sqrt m .

    There is no bias: ``forward_weights`` refuses a non-zero ``b`` and ``backward_weights``
    returns ``db = None``.

    Parameters
    ----------
    d, n_directions, draws, rng, dtype
        See :class:`~rpnumpy.features.base.RandomFeatureTower`.
    kappa : float, default=0.0
        The floor :math:`\kappa` of :math:`\max(xG, \kappa)`; only :math:`\kappa = 0` has a
        closed-form :meth:`target` and :meth:`predicted_variance`.
    """

    activation = "relu"

    def __init__(
        self,
        d: int,
        n_directions: int,
        *,
        kappa: float = 0.0,
        draws: str = "iid",
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        self.kappa = check_real(kappa, "kappa")
        super().__init__(d, n_directions, draws=draws, rng=rng, dtype=dtype)

    def _check_bias(self, b: Any, n_rows: int) -> None:
        b = super()._check_bias(b, n_rows)
        if b is not None and np.any(b != 0):
            raise ValueError(
                "the ReLU tower has no bias (Phi = Psi = max(x G, kappa)/sqrt(m) estimates the arc-cosine "
                "kernel of x and w); pass b=None"
            )
        return None

    def _forward_input(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        pre = x @ self.G
        mask = pre > self.kappa
        features = np.maximum(pre, self.kappa, out=pre)
        features *= self._inv_sqrt_m
        return features, (mask,)

    def _backward_input(self, d_phi: np.ndarray, cache: tuple) -> np.ndarray:
        (mask,) = cache
        masked = d_phi * mask
        dx = masked @ self.G.T
        dx *= self._inv_sqrt_m
        return dx

    def _forward_weights(self, w: np.ndarray, b: None) -> tuple[np.ndarray, tuple]:
        return self._forward_input(w)

    def _backward_weights(self, d_psi: np.ndarray, cache: tuple) -> tuple[np.ndarray, None]:
        return self._backward_input(d_psi, cache), None

    def _refuse_clipped(self, what: str) -> None:
        if self.kappa != 0.0:
            raise NotImplementedError(
                f"{what} has a closed form only for the ReLU tower with kappa=0 (the arc-cosine kernel); "
                f"kappa={self.kappa!r} clips at a non-zero floor"
            )

    def target(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        r"""What :meth:`estimate` is unbiased for: the arc-cosine kernel :math:`k_1(x, w)`, shape ``(n, l)``.

        Raises
        ------
        NotImplementedError
            For ``kappa != 0``: the clipped map :math:`\max(xG, \kappa)` estimates a
            kernel with no closed form here (a bivariate-normal integral).
        """
        self._check_rows(x, "x")
        self._check_rows(w, "w")
        self._check_bias(b, w.shape[0])
        self._refuse_clipped("target")
        return arc_cosine_kernel(x, w)

    def predicted_variance(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        r"""Variance of :meth:`estimate` for i.i.d. draws: :math:`(k_2 - k_1^2)/m`, entry-wise, shape ``(n, l)``."""
        self._check_rows(x, "x")
        self._check_rows(w, "w")
        self._check_bias(b, w.shape[0])
        self._refuse_clipped("predicted_variance")
        first = arc_cosine_kernel(x, w)
        return (arc_cosine_kernel(x, w, order=2) - first**2) / self.n_directions

    def _own_config(self) -> dict[str, Any]:
        return {"kappa": self.kappa}
