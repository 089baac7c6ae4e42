"""Names that moved keep working from their old place, with a DeprecationWarning naming the new place."""

from __future__ import annotations

import importlib
import sys

import pytest

from rpnumpy._deprecation import DEPRECATED_MODULES

NEW_PLACE = {
    "rpnumpy.layer_cases": ("rpnumpy.testing.cases", "LAYER_CASES"),
    "rpnumpy.exchange": ("rpnumpy.testing.exchange", "read_case"),
    "rpnumpy.report": ("rpnumpy.experiments.report", "RunContext"),
    "rpnumpy.chapters.half": ("rpnumpy.experiments.half", "train_and_score"),
    "rpnumpy.chapters.prp": ("rpnumpy.experiments.prp", "run"),
    "rpnumpy.chapters.snnk": ("rpnumpy.experiments.snnk", "race"),
    "rpnumpy.chapters.eugen": ("rpnumpy.experiments.eugen", "run"),
    "rpnumpy.chapters.foundations": ("rpnumpy.experiments.foundations", "run"),
}


@pytest.mark.parametrize("old", sorted(NEW_PLACE))
def test_a_moved_module_warns_and_forwards(old):
    new, name = NEW_PLACE[old]
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=rf"{old} has moved to {new}"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_every_forwarding_module_is_listed():
    assert set(NEW_PLACE) | {"rpnumpy.chapters"} == set(DEPRECATED_MODULES)


@pytest.mark.parametrize("name", ["plot_min_dim", "plot_distance_scatter", "plot_ratio_hist", "plot_fraction_within"])
def test_a_plot_read_from_rpnumpy_jl_warns_and_forwards(name):
    import rpnumpy.jl
    import rpnumpy.plotting

    with pytest.warns(DeprecationWarning, match=rf"rpnumpy\.jl\.{name} has moved to rpnumpy\.plotting\.{name}"):
        old = getattr(rpnumpy.jl, name)
    assert old is getattr(rpnumpy.plotting, name)


def test_from_rpnumpy_jl_import_a_plot_warns():
    with pytest.warns(DeprecationWarning, match=r"rpnumpy\.jl\.plot_min_dim has moved to rpnumpy\.plotting"):
        from rpnumpy.jl import plot_min_dim
    from rpnumpy.plotting import plot_min_dim as new

    assert plot_min_dim is new


def test_rpnumpy_jl_still_refuses_unknown_names():
    import rpnumpy.jl

    with pytest.raises(AttributeError, match="module 'rpnumpy.jl' has no attribute 'plot_nothing'"):
        rpnumpy.jl.plot_nothing  # noqa: B018
