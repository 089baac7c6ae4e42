"""Shared fixtures: seeds, tolerances and access to the real data sets."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

#: Gradient-check threshold for a single layer or a small model in float64.
GRADCHECK_TOL = 1e-7


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def _data_available() -> bool:
    from rpnumpy.datasets import FILENAMES, candidate_dirs

    return any(all((d / f).exists() for f in FILENAMES) for d in candidate_dirs("mnist"))


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST as float32, or a skip (a failure under CI, where the data must be there)."""
    if not _data_available():
        message = "real MNIST not found: set RPNUMPY_DATA to a folder holding mnist/ (CI sets ../shared/data)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from rpnumpy.datasets import load_mnist

    return load_mnist(download=False)
