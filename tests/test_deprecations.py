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
