r"""Polynomial surrogates of activation functions, for the unbiased EUGen estimator.

Theorem 3.1 of the EUGen paper is exact only for polynomial activations
:math:`\sigma(s) = \sum_{i=0}^{k} a_i s^i`. For ReLU, GELU or tanh one first replaces
:math:`\sigma` by a polynomial that is close on the interval where the pre-activations
live, :math:`[-R, R]` (or :math:`[lo, hi]`), and accepts a bias outside it. This module
fits that polynomial and returns its **power-basis** coefficients :math:`a_0..a_k` in the
variable :math:`s` itself, which is what
:meth:`~rpnumpy.layers.eugen.EUGen.weight_features` consumes.

Three methods:

``"chebyshev"`` (default; ours)
    Interpolation at the :math:`k+1` Chebyshev points of the first kind mapped to the
    interval (:meth:`numpy.polynomial.Chebyshev.interpolate`): near-best in the maximum
    norm (within a factor :math:`2 + \tfrac{2}{\pi}\log(k+1)` of the best polynomial).
``"least_squares"`` (ours)
    Least squares on a dense uniform grid of the interval (``n_grid`` points, fitted in
    the Chebyshev basis for conditioning): the best polynomial in the mean-square sense.
``"bernstein"`` (the paper's construction, Theorem 3.4 as summarised)
    :math:`B_k f(s) = \sum_{\nu=0}^{k} f(s_\nu) \binom{k}{\nu} t^\nu (1-t)^{k-\nu}` with
    :math:`t = (s - lo)/(hi - lo)` and :math:`s_\nu = lo + \nu (hi - lo)/k`. It converges
    for every continuous :math:`f`, but slowly: the error is :math:`O(1/k)` for
    twice-differentiable :math:`f` (:math:`\approx f''(s)\,t(1-t)(hi-lo)^2/(2k)`) and only
    :math:`O(1/\sqrt k)` at a kink such as ReLU's. Chebyshev and least squares converge
    far faster at equal degree, which is why we default to them.

The power basis is ill-conditioned for high degrees: converting a Chebyshev series to it
cancels terms of size up to about :math:`2^{k}` times the result. Measured in float64 on
:math:`[-R, R]` for :math:`R` = 1, 3 and 10, the power-basis polynomial evaluates as accurately
as the Chebyshev series up to degree 40 and loses digits from about 48 on (all three methods).
EUGen uses degrees k ≤ 5, far from trouble.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.polynomial import Chebyshev, Polynomial
from numpy.polynomial import polynomial as P

from ._validation import check_positive_float, check_positive_int, check_probability, check_real_vector

__all__ = [
    "POLYFIT_METHODS",
    "PolyfitError",
    "evaluate_polynomial",
    "fit_polynomial",
    "interval_from_preactivations",
    "polynomial_error",
]

#: The fitting methods :func:`fit_polynomial` accepts.
POLYFIT_METHODS = ("chebyshev", "least_squares", "bernstein")


def _check_interval(interval: Any) -> tuple[float, float]:
    """``R`` (meaning [-R, R]) or a pair ``(lo, hi)`` with lo < hi, both finite."""
    if isinstance(interval, numbers.Real) and not isinstance(interval, bool):
        radius = check_positive_float(interval, "interval")
        return -radius, radius
    if isinstance(interval, (tuple, list, np.ndarray)) and len(interval) == 2:
        lo, hi = (float(v) for v in interval)
        if np.isfinite(lo) and np.isfinite(hi) and lo < hi:
            return lo, hi
    raise ValueError(f"interval must be a positive number R (for [-R, R]) or a pair (lo, hi) with lo < hi, "
                     f"both finite, got {interval!r}")


def _evaluate_target(f: Callable[[np.ndarray], np.ndarray], s: np.ndarray) -> np.ndarray:
    values = np.asarray(f(s), dtype=np.float64)
    if values.shape != s.shape:
        raise ValueError(f"f must map an array of shape {s.shape} to one of the same shape, got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("f returned non-finite values on the interval")
    return values


def fit_polynomial(
    f: Callable[[np.ndarray], np.ndarray],
    degree: int,
    interval: float | tuple[float, float],
    *,
    method: str = "chebyshev",
    n_grid: int = 2001,
) -> np.ndarray:
    r"""Fit a degree-``degree`` polynomial to ``f`` on ``interval``; return power-basis coefficients.

    Parameters
    ----------
    f : callable
        Vectorised function of one variable (``np.tanh``, say).
    degree : int
        :math:`k \ge 1`.
    interval : float or (float, float)
        ``R`` for :math:`[-R, R]`, or ``(lo, hi)``.
    method : {'chebyshev', 'least_squares', 'bernstein'}, default='chebyshev'
        See the module docstring; ``'bernstein'`` is the paper's construction.
    n_grid : int, default=2001
        Grid size for ``'least_squares'`` (ignored otherwise).

    Returns
    -------
    ndarray of shape (degree + 1,)
        :math:`a_0, \dots, a_k` with :math:`p(s) = \sum_i a_i s^i` (``evaluate_polynomial``).

    Examples
    --------
    >>> import numpy as np
    >>> a = fit_polynomial(lambda s: 1 - 2 * s + s**3, 3, 2.0)
    >>> bool(np.allclose(a, [1, -2, 0, 1]))
    True
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    degree = check_positive_int(degree, "degree")
    lo, hi = _check_interval(interval)
    if method not in POLYFIT_METHODS:
        raise ValueError(f"method must be one of {list(POLYFIT_METHODS)}, got {method!r}")
    n_grid = check_positive_int(n_grid, "n_grid")
    if method == "least_squares" and n_grid <= degree:
        raise ValueError(f"n_grid must exceed degree={degree} for a least-squares fit, got {n_grid}")

    if method == "chebyshev":
        series = Chebyshev.interpolate(lambda s: _evaluate_target(f, np.asarray(s)), degree, domain=[lo, hi])
    elif method == "least_squares":
        grid = np.linspace(lo, hi, n_grid)
        series = Chebyshev.fit(grid, _evaluate_target(f, grid), degree, domain=[lo, hi])
    else:
        return _bernstein_coefficients(f, degree, lo, hi)
    # convert() re-expands in the power basis of s itself (default domain and window [-1, 1]).
    coefficients = series.convert(kind=Polynomial).coef
    return np.pad(coefficients, (0, degree + 1 - coefficients.size))


def _bernstein_coefficients(f: Callable, degree: int, lo: float, hi: float) -> np.ndarray:
    r"""Power-basis coefficients of the Bernstein polynomial :math:`B_k f` on [lo, hi].

    In :math:`t = (s - lo)/(hi - lo)`, :math:`B_k f(t) = \sum_r \binom{k}{r} \Delta^r f_0\, t^r`
    (forward differences of the samples :math:`f_\nu = f(s_\nu)`), exact in rational
    arithmetic; then :math:`t` is substituted as a degree-1 polynomial in :math:`s`.
    """
    nodes = lo + (hi - lo) * np.arange(degree + 1) / degree
    samples = _evaluate_target(f, nodes)
    in_t = np.array([math.comb(degree, r) * np.diff(samples, n=r)[0] for r in range(degree + 1)])
    t_of_s = Polynomial([-lo / (hi - lo), 1.0 / (hi - lo)])
    result = Polynomial(in_t)(t_of_s).coef  # composition p(t(s))
    return np.pad(result, (0, degree + 1 - result.size))


def evaluate_polynomial(coefficients: Any, s: np.ndarray) -> np.ndarray:
    r""":math:`p(s) = \sum_i a_i s^i` (Horner's scheme, :func:`numpy.polynomial.polynomial.polyval`).

    ``coefficients`` must be a non-empty 1-D sequence of finite real numbers (lowest degree first).
    """
    a = check_real_vector(coefficients, "coefficients")
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"coefficients must be a non-empty sequence of finite numbers, got {coefficients!r}")
    return P.polyval(np.asarray(s), a)


@dataclass(frozen=True)
class PolyfitError:
    """Errors of a polynomial surrogate inside its interval and the bias outside.

    Attributes
    ----------
    interval : (float, float)
        Where the polynomial was fitted.
    max_error, rms_error : float
        :math:`\\max |f - p|` and the root-mean-square error on a uniform grid of the interval.
    outside : (float, float)
        The wider interval also examined.
    max_error_outside : float
        :math:`\\max |f - p|` on the parts of ``outside`` beyond ``interval``: the bias the
        estimator carries for pre-activations that leave the fitted range.
    s, error : ndarray
        The grid over ``outside`` and :math:`p(s) - f(s)` on it (for plots).
    """

    interval: tuple[float, float]
    max_error: float
    rms_error: float
    outside: tuple[float, float]
    max_error_outside: float
    s: np.ndarray
    error: np.ndarray


def polynomial_error(
    f: Callable[[np.ndarray], np.ndarray],
    coefficients: Any,
    interval: float | tuple[float, float],
    *,
    widen: float = 1.5,
    n_points: int = 4001,
) -> PolyfitError:
    """Measure a surrogate's error on its interval and its bias on a wider one.

    Parameters
    ----------
    f : callable
        The function that was approximated.
    coefficients : sequence of float
        Power-basis coefficients (from :func:`fit_polynomial`).
    interval : float or (float, float)
        The fitting interval.
    widen : float, default=1.5
        The outside interval has the same centre and ``widen`` times the width.
    n_points : int, default=4001
        Grid points over the outside interval.

    Returns
    -------
    PolyfitError
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    lo, hi = _check_interval(interval)
    widen = check_positive_float(widen, "widen")
    if widen < 1:
        raise ValueError(f"widen must be >= 1 (the outside interval contains the fitted one), got {widen}")
    n_points = check_positive_int(n_points, "n_points")
    if n_points < 3:
        raise ValueError(f"n_points must be at least 3, got {n_points}")
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    out_lo, out_hi = centre - widen * half, centre + widen * half
    s = np.linspace(out_lo, out_hi, n_points)
    error = evaluate_polynomial(coefficients, s) - _evaluate_target(f, s)
    inside_grid = np.linspace(lo, hi, n_points)
    inside_error = evaluate_polynomial(coefficients, inside_grid) - _evaluate_target(f, inside_grid)
    beyond = (s < lo) | (s > hi)
    return PolyfitError(
        interval=(lo, hi),
        max_error=float(np.max(np.abs(inside_error))),
        rms_error=float(np.sqrt(np.mean(inside_error**2))),
        outside=(out_lo, out_hi),
        max_error_outside=float(np.max(np.abs(error[beyond]))) if np.any(beyond) else 0.0,
        s=s,
        error=error,
    )


def interval_from_preactivations(s: np.ndarray, quantile: float = 0.999) -> float:
    r"""The half-width :math:`R` of a symmetric fitting interval: a quantile of :math:`|s|`.

    Our recipe: pre-activations :math:`s = xW + b` of calibration inputs,
    :math:`R` = the 99.9th percentile of :math:`|s|`; one in a thousand then falls outside
    :math:`[-R, R]`, where the surrogate is biased.

    Parameters
    ----------
    s : array_like
        Calibration pre-activations (any shape).
    quantile : float, default=0.999
        In (0, 1].

    Returns
    -------
    float
        :math:`R > 0`.
    """
    quantile = check_probability(quantile, "quantile", allow_zero=False, allow_one=True)
    values = np.asarray(s, dtype=np.float64)
    if values.size == 0:
        raise ValueError("s must hold at least one pre-activation, got an empty array")
    if not np.all(np.isfinite(values)):
        raise ValueError("s must hold finite pre-activations")
    radius = float(np.quantile(np.abs(values), quantile))
    if radius <= 0:
        raise ValueError(f"the {quantile} quantile of |s| is 0: the pre-activations are all (nearly) zero")
    return radius
