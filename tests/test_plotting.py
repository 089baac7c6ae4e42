"""The figures of rpnumpy.plotting: each draws what it is given, labels its axes and returns them; importing rpnumpy
does not import matplotlib."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rpnumpy.jl import distortion_ratios, jl_projection_matrix, johnson_lindenstrauss_min_dim, pairwise_sq_distances
from rpnumpy.lr_finder import LRRangeResult
from rpnumpy.plotting import (
    plot_distance_scatter,
    plot_fraction_within,
    plot_lr_range,
    plot_min_dim,
    plot_ratio_hist,
)


def agg_axes():
    """Axes of a bare figure on an Agg canvas (no pyplot, no window)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3), dpi=50)
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def rendered(ax) -> np.ndarray:
    """The figure rendered by Agg, as an (h, w, 4) uint8 array."""
    ax.figure.canvas.draw()
    return np.asarray(ax.figure.canvas.buffer_rgba())


def assert_drawn_and_labelled(ax, given, xlabel: str, ylabel: str) -> None:
    assert ax is given
    assert ax.get_xlabel() == xlabel
    assert ax.get_ylabel() == ylabel
    pixels = rendered(ax)
    assert pixels.shape[2] == 4 and np.any(pixels[..., :3] < 128)  # something dark was drawn


@pytest.fixture
def points():
    x = np.random.default_rng(6).standard_normal((40, 200))
    return x, x @ jl_projection_matrix("gaussian", 200, 50, seed=0)


def test_plot_min_dim_draws_the_bound():
    ax = agg_axes()
    n = np.array([10, 100, 1000, 10_000])
    out = plot_min_dim(ax, eps_values=(0.1, 0.5), n_samples=n)
    assert_drawn_and_labelled(out, ax, "number of points n", "minimum target dimension k (coordinates)")
    assert [line.get_label() for line in ax.lines] == ["eps = 0.1", "eps = 0.5"]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), johnson_lindenstrauss_min_dim(n, 0.1))
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [111, 222, 332, 443])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_title() == "Johnson–Lindenstrauss bound"


def test_plot_distance_scatter_draws_every_pair_and_the_band(points):
    x, y = points
    ax = agg_axes()
    out = plot_distance_scatter(x, y, 0.2, ax=ax, gridsize=20)
    assert_drawn_and_labelled(out, ax, "original squared distance (squared units of x)",
                              "projected squared distance (squared units of x)")
    (cells,) = ax.collections
    assert cells.get_array().sum() == 40 * 39 // 2  # every pair lands in one hexagon
    diagonal, upper, lower = ax.lines
    top = max(pairwise_sq_distances(x).max(), pairwise_sq_distances(y).max())
    np.testing.assert_allclose(diagonal.get_ydata(), [0.0, top])
    np.testing.assert_allclose(upper.get_ydata(), [0.0, 1.2 * top])
    np.testing.assert_allclose(lower.get_ydata(), [0.0, 0.8 * top])
    assert ax.get_title() == "pairwise distances, d = 200 to k = 50"
    assert len(ax.figure.axes) == 2  # the colour bar
    with pytest.raises(ValueError, match=r"projected must have one row per row of x \(40\), got shape \(39, 50\)"):
        plot_distance_scatter(x, y[:-1], 0.2, ax=agg_axes())


def test_plot_ratio_hist_counts_every_ratio(points):
    x, y = points
    ratios = distortion_ratios(x, y)
    ax = agg_axes()
    out = plot_ratio_hist(ratios, 0.2, ax=ax, bins=30)
    assert_drawn_and_labelled(out, ax, "projected / original squared distance (ratio)", "pairs (count)")
    assert len(ax.patches) == 30
    assert sum(patch.get_height() for patch in ax.patches) == ratios.size
    assert [line.get_xdata()[0] for line in ax.lines] == [1.0, 0.8, 1.2]
    inside = np.mean(np.abs(ratios - 1) < 0.2)
    assert ax.get_title() == f"{inside:.1%} of {ratios.size} pairs within 1 ± 0.2"
    with pytest.raises(ValueError, match="ratios must be a non-empty array of finite values"):
        plot_ratio_hist([1.0, np.nan], 0.2)


def test_plot_fraction_within_draws_means_ranges_and_the_bound():
    ks = [10, 50, 200]
    fractions = {"gaussian": np.array([[0.4, 0.5], [0.8, 0.82], [0.97, 0.99]]), "orthogonal": [0.5, 0.9, 1.0]}
    ax = agg_axes()
    out = plot_fraction_within(ks, fractions, 0.2, bound_k=1063, ax=ax)
    assert_drawn_and_labelled(out, ax, "target dimension k (coordinates)", "fraction of pairs within 1 ± 0.2")
    gaussian, orthogonal, bound, target = ax.lines
    np.testing.assert_allclose(gaussian.get_ydata(), [0.45, 0.81, 0.98])
    np.testing.assert_allclose(orthogonal.get_ydata(), [0.5, 0.9, 1.0])
    assert bound.get_xdata()[0] == 1063 and target.get_ydata()[0] == 0.95
    assert len(ax.collections) == 1  # the min-max band of the family with several seeds
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match=r"fractions_by_kind\['gaussian'\] must have shape \(3,\)"):
        plot_fraction_within(ks, {"gaussian": [0.1, 0.2]}, 0.2)


def test_plot_lr_range_and_the_method_draw_the_same_curve():
    lrs = np.logspace(-5, 0, 11)
    smoothed = (np.log10(lrs) + 2.0) ** 2 + 0.1
    result = LRRangeResult(lrs, smoothed + 0.05, smoothed, suggested_lr=1e-3, best_lr=1e-2)
    ax = agg_axes()
    out = plot_lr_range(result, ax, label="dense")
    assert_drawn_and_labelled(out, ax, "learning rate η", "smoothed training loss (batch mean)")
    curve, suggestion = ax.lines
    np.testing.assert_array_equal(curve.get_xdata(), lrs)
    np.testing.assert_array_equal(curve.get_ydata(), smoothed)
    assert curve.get_label() == "dense" and suggestion.get_xdata()[0] == 1e-3
    assert ax.get_xscale() == "log"
    via_method = result.plot()
    np.testing.assert_array_equal(via_method.lines[0].get_ydata(), smoothed)
    assert via_method.get_xlabel() == ax.get_xlabel()
    with pytest.raises(TypeError, match="result must be an LRRangeResult"):
        plot_lr_range({"lrs": lrs})


def test_without_ax_each_plot_makes_its_own_bare_figure(points):
    from matplotlib.axes import Axes

    x, y = points
    result = LRRangeResult(np.array([1e-3, 1e-2]), np.ones(2), np.ones(2), suggested_lr=1e-3, best_lr=1e-2)
    made = [
        plot_min_dim(),
        plot_distance_scatter(x, y, 0.2),
        plot_ratio_hist(distortion_ratios(x, y), 0.2),
        plot_fraction_within([10, 20], {"gaussian": [0.5, 0.6]}, 0.2),
        plot_lr_range(result),
    ]
    for ax in made:
        assert isinstance(ax, Axes)
        assert ax.figure.canvas.manager is None  # not registered with pyplot
    assert len({id(ax.figure) for ax in made}) == len(made)


def test_importing_rpnumpy_does_not_import_matplotlib():
    code = (
        "import importlib, pkgutil, sys, warnings\n"
        "import rpnumpy\n"
        "assert 'matplotlib' not in sys.modules, 'import rpnumpy imported matplotlib'\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "for info in pkgutil.walk_packages(rpnumpy.__path__, 'rpnumpy.'):\n"
        "    if info.name in ('rpnumpy.__main__', 'rpnumpy.testing.torch_reference'):\n"
        "        continue\n"
        "    importlib.import_module(info.name)\n"
        "    assert 'matplotlib' not in sys.modules, f'import {info.name} imported matplotlib'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
