r"""Figures of the library: the Johnson–Lindenstrauss checks and the learning-rate range test.

Every function here draws into a matplotlib ``Axes`` and returns it: pass
``ax=`` to draw into an existing one (a panel of a larger figure), or leave it
out and a new :class:`matplotlib.figure.Figure` is made, not registered with
``pyplot`` (reach it as ``ax.figure``, save it with ``ax.figure.savefig``).
The numbers come from the computing modules (:mod:`rpnumpy.jl`,
:mod:`rpnumpy.lr_finder`); nothing here computes anything they do not.

matplotlib is imported inside the functions, so ``import rpnumpy`` (and
``import rpnumpy.plotting``) does not import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._validation import check_open_unit, check_points, check_positive_int, check_positive_ints
from .jl import johnson_lindenstrauss_min_dim, pairwise_sq_distances
from .lr_finder import LRRangeResult

__all__ = [
    "plot_min_dim",
    "plot_distance_scatter",
    "plot_ratio_hist",
    "plot_fraction_within",
    "plot_lr_range",
]


def _new_axes(ax: Any) -> Any:
    """``ax`` itself, or the axes of a new figure (not registered with pyplot)."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=(5, 4)).add_subplot()


# --------------------------------------------------------------------------- Johnson–Lindenstrauss


def plot_min_dim(
    ax: Any = None,
    *,
    eps_values: Sequence[float] = (0.1, 0.2, 0.3, 0.5),
    n_samples: ArrayLike | None = None,
) -> Any:
    r"""The JL bound :func:`rpnumpy.jl.johnson_lindenstrauss_min_dim` against the number of points, one line per eps.

    Log-log axes: the bound
    :math:`k = \lceil 4 \ln n / (\varepsilon^2/2 - \varepsilon^3/3) \rceil`
    grows like :math:`\ln n` and like :math:`1/\varepsilon^2`, and is the same
    for every original dimension.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        Drawn into if given; otherwise a new :class:`matplotlib.figure.Figure`
        is made (reach it as ``ax.figure``).
    eps_values : sequence of float, default=(0.1, 0.2, 0.3, 0.5)
        Each in the open interval (0, 1).
    n_samples : array_like of int, optional
        The x grid; default 60 points from 10 to 10**9.

    Returns
    -------
    matplotlib.axes.Axes
    """
    eps_values = [check_open_unit(eps, "eps_values[]") for eps in eps_values]
    n = np.unique(np.logspace(1, 9, 60).astype(np.int64)) if n_samples is None else np.asarray(n_samples)
    ax = _new_axes(ax)
    for eps in eps_values:
        ax.plot(n, johnson_lindenstrauss_min_dim(n, eps), label=f"eps = {eps:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of points n")
    ax.set_ylabel("minimum target dimension k (coordinates)")
    ax.set_title("Johnson–Lindenstrauss bound")
    ax.legend(loc="lower right")
    return ax


def plot_distance_scatter(
    x: np.ndarray,
    projected: np.ndarray,
    eps: float,
    ax: Any = None,
    *,
    gridsize: int = 50,
    colorbar: bool = True,
    method: str = "gram",
) -> Any:
    r"""Hexbin of projected against original squared pairwise distances, with the :math:`(1 \pm \varepsilon)` bands.

    Points on the diagonal are preserved exactly; the dashed lines
    :math:`y = (1 \pm \varepsilon)\,x` bound the JL band. Pairs at zero
    original distance are left out. Distances are those of
    :func:`rpnumpy.jl.pairwise_sq_distances`, in squared units of ``x``.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
    projected : ndarray of shape (n_samples, k)
        The same points after the map, row for row (e.g. ``x @ R``).
    eps : float in (0, 1)
    ax : matplotlib.axes.Axes, optional
    gridsize : int, default=50
    colorbar : bool, default=True
        Add a colour bar (pair counts, log scale) to ``ax.figure``.
    method : {'gram', 'exact'}, default='gram'

    Returns
    -------
    matplotlib.axes.Axes
    """
    eps = check_open_unit(eps, "eps")
    x = check_points(x, "x")
    projected = check_points(projected, "projected")
    gridsize = check_positive_int(gridsize, "gridsize")
    if projected.shape[0] != x.shape[0]:
        raise ValueError(f"projected must have one row per row of x ({x.shape[0]}), got shape {projected.shape}")
    original = pairwise_sq_distances(x, method=method)
    after = pairwise_sq_distances(projected, method=method)
    keep = original > 0
    original, after = original[keep], after[keep]
    ax = _new_axes(ax)
    cells = ax.hexbin(original, after, gridsize=gridsize, mincnt=1, bins="log")
    top = float(max(original.max(), after.max())) if original.size else 1.0
    line = np.array([0.0, top])
    ax.plot(line, line, color="black", linewidth=1, label="preserved")
    ax.plot(line, (1 + eps) * line, color="black", linestyle="--", linewidth=1, label=f"1 ± {eps:g}")
    ax.plot(line, (1 - eps) * line, color="black", linestyle="--", linewidth=1)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("original squared distance (squared units of x)")
    ax.set_ylabel("projected squared distance (squared units of x)")
    ax.set_title(f"pairwise distances, d = {x.shape[1]} to k = {projected.shape[1]}")
    ax.legend(loc="upper left")
    if colorbar:
        ax.figure.colorbar(cells, ax=ax, label="pairs per cell (count)")
    return ax


def plot_ratio_hist(ratios: ArrayLike, eps: float, ax: Any = None, *, bins: int = 50) -> Any:
    r"""Histogram of distance ratios with the :math:`(1 \pm \varepsilon)` band.

    The ratios are those of :func:`rpnumpy.jl.distortion_ratios`. The range is
    [0, 2] (or up to the largest ratio if that is larger); the title gives the
    fraction of pairs inside the band, :math:`|r - 1| < \varepsilon`.

    Parameters
    ----------
    ratios : array_like of float
        Projected over original squared distance, one value per pair (dimensionless).
    eps : float in (0, 1)
    ax : matplotlib.axes.Axes, optional
    bins : int, default=50

    Returns
    -------
    matplotlib.axes.Axes
    """
    eps = check_open_unit(eps, "eps")
    bins = check_positive_int(bins, "bins")
    values = np.asarray(ratios, dtype=np.float64).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"ratios must be a non-empty array of finite values, got {values.size} values")
    ax = _new_axes(ax)
    ax.hist(values, bins=bins, range=(0.0, max(2.0, float(values.max()))), color="C0")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.axvline(1.0 - eps, color="black", linestyle="--", linewidth=1)
    ax.axvline(1.0 + eps, color="black", linestyle="--", linewidth=1)
    inside = float(np.mean(np.abs(values - 1.0) < eps))
    ax.set_xlabel("projected / original squared distance (ratio)")
    ax.set_ylabel("pairs (count)")
    ax.set_title(f"{inside:.1%} of {values.size} pairs within 1 ± {eps:g}")
    return ax


def plot_fraction_within(
    ks: Sequence[int],
    fractions_by_kind: Mapping[str, ArrayLike],
    eps: float,
    bound_k: int | None = None,
    ax: Any = None,
    *,
    target: float | None = 0.95,
) -> Any:
    r"""Fraction of pairs within :math:`(1 \pm \varepsilon)` against :math:`k`, one line per family.

    Parameters
    ----------
    ks : sequence of int
        The target dimensions (log-scaled x axis).
    fractions_by_kind : mapping of str to array_like
        For each family, shape ``(len(ks),)`` or ``(len(ks), n_seeds)`` as
        returned by :func:`rpnumpy.jl.fraction_within`; with several seeds the
        mean is drawn and the min-max range over seeds shaded.
    eps : float in (0, 1)
    bound_k : int, optional
        :func:`rpnumpy.jl.johnson_lindenstrauss_min_dim` for the data, drawn as a vertical line.
    ax : matplotlib.axes.Axes, optional
    target : float, optional, default=0.95
        Drawn as a horizontal dotted line; ``None`` for none.

    Returns
    -------
    matplotlib.axes.Axes
    """
    eps = check_open_unit(eps, "eps")
    ks_arr = check_positive_ints(ks, "ks")
    curves = {kind: np.asarray(fractions, dtype=np.float64) for kind, fractions in fractions_by_kind.items()}
    for kind, values in curves.items():
        if values.ndim not in (1, 2) or values.shape[0] != ks_arr.size:
            raise ValueError(
                f"fractions_by_kind[{kind!r}] must have shape ({ks_arr.size},) or ({ks_arr.size}, n_seeds), "
                f"got {values.shape}"
            )
    if bound_k is not None:
        bound_k = check_positive_int(bound_k, "bound_k")
    ax = _new_axes(ax)
    for kind, values in curves.items():
        if values.ndim == 1:
            ax.plot(ks_arr, values, marker="o", markersize=3, label=kind)
        else:
            (line,) = ax.plot(ks_arr, values.mean(axis=1), marker="o", markersize=3, label=kind)
            ax.fill_between(ks_arr, values.min(axis=1), values.max(axis=1), color=line.get_color(), alpha=0.2)
    if bound_k is not None:
        ax.axvline(bound_k, color="black", linestyle="--", linewidth=1, label=f"JL bound k = {bound_k}")
    if target is not None:
        ax.axhline(target, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("target dimension k (coordinates)")
    ax.set_ylabel(f"fraction of pairs within 1 ± {eps:g}")
    ax.legend(loc="lower right")
    return ax


# --------------------------------------------------------------------------- learning-rate range test


def plot_lr_range(result: LRRangeResult, ax: Any = None, *, label: str | None = None) -> Any:
    r"""Smoothed loss of a learning-rate range test against the rate, with the suggested rate marked.

    The x axis is logarithmic, like the sweep
    :math:`\eta_t = \eta_{min} (\eta_{max}/\eta_{min})^{t/(T-1)}`; the dotted
    vertical line, in the curve's colour, is ``result.suggested_lr`` (the rate
    at the smoothed minimum divided by ten). Several results can share one
    ``ax``, each with its ``label``.

    Parameters
    ----------
    result : LRRangeResult
        As returned by :func:`rpnumpy.lr_finder.lr_range_test`.
    ax : matplotlib.axes.Axes, optional
    label : str, optional
        Legend entry of the curve.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(result, LRRangeResult):
        raise TypeError(f"result must be an LRRangeResult (from lr_range_test), got {type(result).__name__}")
    ax = _new_axes(ax)
    (line,) = ax.plot(result.lrs, result.smoothed, label=label)
    ax.axvline(result.suggested_lr, color=line.get_color(), linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("smoothed training loss (batch mean)")
    ax.set_title("learning-rate range test")
    return ax
