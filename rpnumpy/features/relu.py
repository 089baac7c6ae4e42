r"""The ReLU tower: **not a universal random feature, and not an estimate of** :math:`\mathrm{ReLU}(w^\top x)`.

ReLU has no Fourier transform (as a function), so the Gaussian lemma does not apply. The
ReLU tower, as the SNNK authors' code builds it, uses the same map on both sides, without bias:

.. math:: \Phi(x) = \Psi(x) = \max(xG, \kappa)/\sqrt m .

One direction gives :math:`Z = m\Phi_k(x)\Psi_k(w) = \max(g_k^\top x, \kappa)\max(g_k^\top w, \kappa)`,
whose mean is a kernel of :math:`x` and :math:`w`, ``D = m``. For :math:`\kappa = 0` it is the
**arc-cosine kernel** of order 1 (Cho & Saul, "Kernel Methods for Deep Learning", NeurIPS 2009),

.. math:: \mathbb E[\Phi(x)^\top\Psi(w)] = k_1(x, w)
          = \frac{\|x\|\|w\|}{2\pi}\big(\sin\omega + (\pi-\omega)\cos\omega\big),
          \qquad \omega = \angle(x, w),

which depends on both norms and the angle, not on :math:`w^\top x` alone.
:math:`\mathbb E Z^2` is the kernel of order 2, :math:`k_2(x, w)`, so
:math:`\operatorname{Var}Z = k_2 - k_1^2` (:math:`1.25\|x\|^4` for :math:`w = x`).

For :math:`\kappa \ne 0` (the floor :math:`\max(xG, \kappa)`; the SNNK authors' code uses
:math:`\kappa = -5`) the mean is the **clamped ReLU kernel**
:math:`k_\kappa(x, w) = \mathbb E[\max(g^\top x, \kappa)\max(g^\top w, \kappa)]`
(:func:`clamped_relu_kernel`), a closed form in the standard normal density and distribution
function and Owen's :math:`T` function, derived below; its per-feature second moment has a
closed form of the same kind.

The clamped ReLU kernel
-----------------------
Write :math:`a = g^\top x = \sigma_x u`, :math:`b = g^\top w = \sigma_w v` with
:math:`\sigma_x = \|x\|`, :math:`\sigma_w = \|w\|`: :math:`(u, v)` are standard normals with
correlation :math:`\rho = \cos\omega`; let :math:`s = \sqrt{1 - \rho^2} = \sin\omega`,
:math:`h = \kappa/\sigma_x`, :math:`k = \kappa/\sigma_w`, :math:`\varphi` and :math:`\Phi_N`
the standard normal density and distribution function.

**Truncated moments.** Let :math:`M_{ij}(h, k) = \mathbb E[u^i v^j\,1\{u > h\}\,1\{v > k\}]`
(:math:`h` or :math:`k` may be :math:`-\infty`: no truncation in that variable). Stein's lemma
for the pair, :math:`\mathbb E[u\,q(u, v)] = \mathbb E[\partial_u q] + \rho\,\mathbb E[\partial_v q]`,
applied to :math:`q = u^i v^j 1\{u > h\}1\{v > k\}` (the derivative of an indicator is a point mass
on its edge) gives the recursion

.. math:: M_{i+1, j} = i M_{i-1, j} + \varphi(h) h^i C_j
          + \rho\big(j M_{i, j-1} + \varphi(k) k^j D_i\big),

and the same with the roles of :math:`(u, h, C)` and :math:`(v, k, D)` exchanged, where
:math:`C_j = \mathbb E[V^j 1\{V > k\}]` for :math:`V = (v \mid u = h) \sim N(\rho h, s^2)`,
:math:`D_i = \mathbb E[U^i 1\{U > h\}]` for :math:`U = (u \mid v = k) \sim N(\rho k, s^2)`. For
:math:`V \sim N(\mu, s^2)` and :math:`t = (k - \mu)/s`,

.. math:: C_0 = \Phi_N(-t), \quad C_1 = \mu\Phi_N(-t) + s\varphi(t), \quad
          C_2 = (\mu^2 + s^2)\Phi_N(-t) + s(\mu + k)\varphi(t).

The recursion starts from the orthant probability :math:`M_{00} = L(h, k) = P(u > h, v > k)`.
Here :math:`h` and :math:`k` have the sign of :math:`\kappa` and :math:`k/h = \sigma_x/\sigma_w`, so
Owen's formula with his :math:`T` function (Owen, "Tables for Computing Bivariate Normal
Probabilities", Ann. Math. Statist. 27, 1956) reads

.. math:: L(h, k) = \tfrac12\big(\Phi_N(-h) + \Phi_N(-k)\big)
          - T\Big(h, \frac{\sigma_x/\sigma_w - \rho}{s}\Big) - T\Big(k, \frac{\sigma_w/\sigma_x - \rho}{s}\Big),
          \qquad T(h, \alpha) = \frac1{2\pi}\int_0^\alpha \frac{e^{-h^2(1 + t^2)/2}}{1 + t^2}\,dt

(the general formula's correction term vanishes because :math:`hk \ge 0`). The first rung
already gives :math:`F(h, k) = \mathbb E[(u - h)_+(v - k)_+] = M_{11} - kM_{10} - hM_{01} + hkM_{00}`:

.. math:: F(h, k) = (\rho + hk)L(h, k) - k\varphi(h)\Phi_N\Big(\frac{\rho h - k}{s}\Big)
          - h\varphi(k)\Phi_N\Big(\frac{\rho k - h}{s}\Big) + s\,\varphi(h)\,\varphi\Big(\frac{k - \rho h}{s}\Big).

**The kernel, κ ≥ 0.** :math:`\max(a, \kappa) = \kappa + \sigma_x(u - h)_+`, so

.. math:: k_\kappa(x, w) = \kappa^2 + \kappa\sigma_x e(h) + \kappa\sigma_w e(k) + \sigma_x\sigma_w F(h, k),
          \qquad e(h) = \mathbb E(u - h)_+ = \varphi(h) - h\Phi_N(-h),

a sum of non-negative terms. At :math:`\kappa = 0`, :math:`L(0, 0) = (\pi - \omega)/2\pi` and
:math:`F(0, 0) = \rho L(0, 0) + s/2\pi`: the arc-cosine kernel :math:`k_1`.

**The kernel, κ < 0.** The same sum would subtract terms of size :math:`\kappa^2` to leave one of
size :math:`\sigma_x\sigma_w`. Instead write :math:`\max(a, \kappa) = a + (\kappa - a)_+` and flip
the signs, :math:`u' = -u`, :math:`v' = -v` (the same law), :math:`H = -h > 0`, :math:`K = -k > 0`:
:math:`\max(a, \kappa) = -\sigma_x\big(u' - (u' - H)_+\big)`. Stein's lemma gives
:math:`\mathbb E[u'(v' - K)_+] = \rho\,\Phi_N(-K)`, so

.. math:: k_\kappa(x, w) = \sigma_x\sigma_w\Big(\rho\big(1 - \Phi_N(-H) - \Phi_N(-K)\big) + F(H, K)\Big):

:math:`x^\top w = \sigma_x\sigma_w\rho` plus corrections from the tails beyond the floor.

**The variance.** Per direction, :math:`\operatorname{Var}Z = \mathbb E Z^2 - k_\kappa^2`, and
:math:`\operatorname{Var}\,\Phi(x)^\top\Psi(w) = \operatorname{Var}Z/m` for i.i.d. directions. With
:math:`P = (u - h)_+`, :math:`Q = (v - k)_+`, every moment below is a combination of the
:math:`M_{ij}` (expand the polynomials). For :math:`\kappa \ge 0`, :math:`Z - \kappa^2 = Y =
\kappa\sigma_x P + \kappa\sigma_w Q + \sigma_x\sigma_w PQ`, and :math:`\operatorname{Var}Z =
\mathbb E Y^2 - (\mathbb E Y)^2` (:math:`Y` is small where :math:`Z \approx \kappa^2`, so nothing
cancels). For :math:`\kappa < 0`, :math:`Z = \sigma_x\sigma_w W`,
:math:`W = (u' - (u' - H)_+)(v' - (v' - K)_+)`, and with
:math:`(u' - (u' - H)_+)^2 = u'^2 - (u'^2 - H^2)1\{u' > H\}`,

.. math:: \mathbb E W^2 = 1 + 2\rho^2 - \mathbb E[u'^2(v'^2 - K^2)1\{v' > K\}]
          - \mathbb E[v'^2(u'^2 - H^2)1\{u' > H\}] + \mathbb E[(u'^2 - H^2)(v'^2 - K^2)1\{u' > H, v' > K\}].

A zero vector is handled by the same formulas: :math:`g^\top x = 0`, the factor
:math:`\max(0, \kappa)` is a constant.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import ndtr, owens_t

from .._validation import check_float_array, check_real
from .base import RandomFeatureTower

__all__ = ["ReLUTower", "arc_cosine_kernel", "clamped_relu_kernel"]


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
    _check_pair(x, w)
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


def _check_pair(x: np.ndarray, w: np.ndarray) -> None:
    check_float_array(x, "x", ndim=2)
    check_float_array(w, "w", ndim=2, dtype=x.dtype)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x and w must have the same number of columns, got {x.shape[1]} and {w.shape[1]}")


def _normal_pdf(z: np.ndarray) -> np.ndarray:
    r""":math:`\varphi(z)`, 0 at :math:`\pm\infty`."""
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` for a denominator >= 0, with its limit (±inf, or 0 for 0/0) where it is 0."""
    safe = np.where(denominator > 0, denominator, 1.0)
    limit = np.where(numerator == 0, 0.0, np.copysign(np.inf, numerator))
    return np.where(denominator > 0, numerator / safe, limit)


def _conditional_moments(
    mu: np.ndarray, s: np.ndarray, lower: np.ndarray, gap: np.ndarray
) -> tuple[np.ndarray, ...]:
    r""":math:`C_j = \mathbb E[V^j 1\{V > \text{lower}\}]`, :math:`j = 0, 1, 2`, for :math:`V \sim N(\mu, s^2)`.

    ``gap`` is ``lower - mu``, passed in because the caller computes it without cancellation. ``lower``
    may be :math:`-\infty`; ``s = 0`` gives the limits of a point mass at :math:`\mu`.
    """
    t = _ratio(gap, s)
    tail, density = ndtr(-t), _normal_pdf(t)
    finite_lower = np.where(np.isfinite(lower), lower, 0.0)  # density is 0 where lower = -inf
    return tail, mu * tail + s * density, (mu * mu + s * s) * tail + s * (mu + finite_lower) * density


def _orthant(h: np.ndarray, k: np.ndarray, rho: np.ndarray, s: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    r""":math:`L(h, k) = P(u > h, v > k)` by Owen's formula, for :math:`hk \ge 0` and ``ratio`` :math:`= k/h`.

    ``h`` or ``k`` may be :math:`-\infty` (no truncation in that variable).
    """
    if np.all(np.isneginf(h)) or np.all(np.isneginf(k)):
        return ndtr(-h) * ndtr(-k)
    alpha_h, alpha_k = _ratio((ratio - 1.0) + (1.0 - rho), s), _ratio((1.0 / ratio - 1.0) + (1.0 - rho), s)
    return 0.5 * (ndtr(-h) + ndtr(-k)) - owens_t(h, alpha_h) - owens_t(k, alpha_k)


def _truncated_moments(
    h: np.ndarray, k: np.ndarray, rho: np.ndarray, s: np.ndarray, ratio: np.ndarray
) -> dict[tuple[int, int], np.ndarray]:
    r""":math:`M_{ij} = \mathbb E[u^i v^j 1\{u > h\}1\{v > k\}]`, :math:`i, j \le 2` (the module's recursion).

    ``h`` and ``k`` are arrays of one shape, either of which may be all :math:`-\infty`; ``ratio`` is
    :math:`k/h` (used only when both are finite).
    """
    finite_h, finite_k = np.where(np.isfinite(h), h, 0.0), np.where(np.isfinite(k), k, 0.0)
    edge_h, edge_k = _normal_pdf(h), _normal_pdf(k)  # φ(h), φ(k): 0 at -inf
    # k - ρh as (k - h) + (1 - ρ)h: near ρ = 1 the plain difference would lose every digit of (1 - ρ)h,
    # and t = (k - ρh)/s divides that loss by s.
    one_minus_rho = 1.0 - rho
    c0, c1, c2 = _conditional_moments(rho * finite_h, s, k, (k - finite_h) + one_minus_rho * finite_h)  # v | u = h
    d0, d1, _ = _conditional_moments(rho * finite_k, s, h, (h - finite_k) + one_minus_rho * finite_k)  # u | v = k
    m = {(0, 0): _orthant(h, k, rho, s, ratio)}
    m[1, 0] = edge_h * c0 + rho * edge_k * d0
    m[0, 1] = edge_k * d0 + rho * edge_h * c0
    m[2, 0] = m[0, 0] + edge_h * finite_h * c0 + rho * edge_k * d1
    m[0, 2] = m[0, 0] + edge_k * finite_k * d0 + rho * edge_h * c1
    m[1, 1] = edge_h * c1 + rho * (m[0, 0] + edge_k * finite_k * d0)
    m[2, 1] = m[0, 1] + edge_h * finite_h * c1 + rho * (m[1, 0] + edge_k * finite_k * d1)
    m[1, 2] = m[1, 0] + edge_k * finite_k * d1 + rho * (m[0, 1] + edge_h * finite_h * c1)
    m[2, 2] = m[0, 2] + edge_h * finite_h * c2 + rho * (2 * m[1, 1] + edge_k * finite_k**2 * d1)
    return m


def _expect(m: dict[tuple[int, int], np.ndarray], p: list, q: list) -> np.ndarray:
    r""":math:`\mathbb E[p(u)\,q(v)\,1_R]` from the truncated moments of the region :math:`R`; ``p``, ``q`` hold the
    polynomials' coefficients, constant first."""
    return sum(p[i] * q[j] * m[i, j] for i in range(len(p)) for j in range(len(q)))


def _clamped_moments(x: np.ndarray, w: np.ndarray, kappa: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and variance of :math:`Z = \max(g^\top x, \kappa)\max(g^\top w, \kappa)`, float64, shape ``(n, l)``.

    The formulas are in the module docstring.
    """
    x, w = x.astype(np.float64), w.astype(np.float64)
    sigma_x = np.linalg.norm(x, axis=1)[:, None]
    sigma_w = np.linalg.norm(w, axis=1)[None, :]
    both = (sigma_x > 0) & (sigma_w > 0)
    rho = np.clip(np.where(both, (x @ w.T) / np.where(both, sigma_x * sigma_w, 1.0), 0.0), -1.0, 1.0)
    s = np.sqrt((1.0 - rho) * (1.0 + rho))
    # A zero norm: any finite h does, since every term that uses it is multiplied by that norm.
    scale_x = np.broadcast_to(np.where(sigma_x > 0, sigma_x, 1.0), rho.shape)
    scale_w = np.broadcast_to(np.where(sigma_w > 0, sigma_w, 1.0), rho.shape)
    ratio = scale_x / scale_w  # k/h
    none = np.full(rho.shape, -np.inf)
    if kappa >= 0:
        h, k = kappa / scale_x, kappa / scale_w
        both_sides = _truncated_moments(h, k, rho, s, ratio)
        x_side = _truncated_moments(h, none, rho, s, ratio)
        w_side = _truncated_moments(none, k, rho, s, ratio)
        shift_h, shift_k = [-h, 1.0], [-k, 1.0]  # u - h, v - k
        square_h, square_k = [h * h, -2 * h, 1.0], [k * k, -2 * k, 1.0]
        mean_y = (kappa * sigma_x * _expect(x_side, shift_h, [1.0]) + kappa * sigma_w * _expect(w_side, [1.0], shift_k)
                  + sigma_x * sigma_w * _expect(both_sides, shift_h, shift_k))
        mean_y_sq = (
            kappa**2 * sigma_x**2 * _expect(x_side, square_h, [1.0])
            + kappa**2 * sigma_w**2 * _expect(w_side, [1.0], square_k)
            + sigma_x**2 * sigma_w**2 * _expect(both_sides, square_h, square_k)
            + 2 * kappa**2 * sigma_x * sigma_w * _expect(both_sides, shift_h, shift_k)
            + 2 * kappa * sigma_x**2 * sigma_w * _expect(both_sides, square_h, shift_k)
            + 2 * kappa * sigma_x * sigma_w**2 * _expect(both_sides, shift_h, square_k)
        )
        return kappa**2 + mean_y, mean_y_sq - mean_y**2
    big_h, big_k = -kappa / scale_x, -kappa / scale_w  # H = -h, K = -k
    both_sides = _truncated_moments(big_h, big_k, rho, s, ratio)
    x_side = _truncated_moments(big_h, none, rho, s, ratio)
    w_side = _truncated_moments(none, big_k, rho, s, ratio)
    mean_w = rho * (1.0 - ndtr(-big_h) - ndtr(-big_k)) + _expect(both_sides, [-big_h, 1.0], [-big_k, 1.0])
    clip_h, clip_k = [-big_h * big_h, 0.0, 1.0], [-big_k * big_k, 0.0, 1.0]  # u'^2 - H^2, v'^2 - K^2
    mean_w_sq = (1.0 + 2 * rho**2 - _expect(w_side, [0.0, 0.0, 1.0], clip_k) - _expect(x_side, clip_h, [0.0, 0.0, 1.0])
                 + _expect(both_sides, clip_h, clip_k))
    scale = sigma_x * sigma_w
    return scale * mean_w, scale**2 * (mean_w_sq - mean_w**2)


def clamped_relu_kernel(x: np.ndarray, w: np.ndarray, kappa: float, *, order: int = 1) -> np.ndarray:
    r"""The clamped ReLU kernel :math:`\mathbb E[\max(g^\top x, \kappa)^n \max(g^\top w, \kappa)^n]`, g ~ N(0, I).

    Order 1 is :math:`k_\kappa(x, w)`, what the ReLU tower with floor :math:`\kappa` estimates; order 2
    is the per-feature second moment :math:`\mathbb E Z^2`. Both are closed forms in
    :math:`\varphi`, :math:`\Phi_N` and Owen's :math:`T` (derived in :mod:`rpnumpy.features.relu`),
    exact to rounding error: not a quadrature, not a Monte Carlo estimate. At :math:`\kappa = 0`
    they equal :func:`arc_cosine_kernel` of the same order.

    Parameters
    ----------
    x : ndarray of shape (n, d)
    w : ndarray of shape (l, d)
        Same dtype as ``x``.
    kappa : float
        The floor :math:`\kappa`, any finite real.
    order : {1, 2}, default=1

    Returns
    -------
    ndarray of shape (n, l)
        In the dtype of ``x`` (computed in float64).
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    kappa = check_real(kappa, "kappa")
    _check_pair(x, w)
    mean, variance = _clamped_moments(x, w, kappa)
    result = mean if order == 1 else variance + mean**2
    return result.astype(x.dtype, copy=False)


class ReLUTower(RandomFeatureTower):
    r"""The ReLU tower :math:`\Phi(x) = \Psi(x) = \max(xG, \kappa)/\sqrt m`: estimates the clamped ReLU kernel.

    Unbiased for :math:`k_\kappa(x, w) = \mathbb E[\max(g^\top x, \kappa)\max(g^\top w, \kappa)]`
    (:func:`clamped_relu_kernel`), the arc-cosine kernel :math:`k_1` at :math:`\kappa = 0`.

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
        The floor :math:`\kappa` of :math:`\max(xG, \kappa)`, any finite real (the SNNK
        authors' code uses -5).
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
                "the ReLU tower has no bias (Phi = Psi = max(x G, kappa)/sqrt(m) estimates the clamped ReLU "
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

    def target(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        r"""What :meth:`estimate` is unbiased for: :math:`k_\kappa(x, w)`, shape ``(n, l)``.

        :func:`arc_cosine_kernel` for ``kappa == 0``, :func:`clamped_relu_kernel` otherwise.
        """
        self._check_rows(x, "x")
        self._check_rows(w, "w")
        self._check_bias(b, w.shape[0])
        if self.kappa == 0.0:
            return arc_cosine_kernel(x, w)
        return clamped_relu_kernel(x, w, self.kappa)

    def predicted_variance(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        r"""Variance of :meth:`estimate` for i.i.d. draws, :math:`\operatorname{Var}Z/m`, entry-wise, shape ``(n, l)``.

        :math:`(k_2 - k_1^2)/m` for ``kappa == 0``; otherwise the closed form of the module docstring,
        computed without forming :math:`\mathbb E Z^2 - k_\kappa^2` where the two nearly cancel.
        """
        self._check_rows(x, "x")
        self._check_rows(w, "w")
        self._check_bias(b, w.shape[0])
        if self.kappa == 0.0:
            first = arc_cosine_kernel(x, w)
            return (arc_cosine_kernel(x, w, order=2) - first**2) / self.n_directions
        _, variance = _clamped_moments(x, w, self.kappa)
        return (variance / self.n_directions).astype(self.dtype, copy=False)

    def _own_config(self) -> dict[str, Any]:
        return {"kappa": self.kappa}
