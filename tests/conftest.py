"""Shared fixtures: seeds, tolerances and access to the real data sets."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

#: Gradient-check threshold for a single layer or a small model in float64.
PASS_THRESHOLD = 1e-7


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


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """After a run that included the layer contract suite, say how many layers and cases it covered."""
    outcomes = {"passed": 0, "failed": 0}
    for outcome in outcomes:
        outcomes[outcome] = sum(
            1 for report in terminalreporter.stats.get(outcome, [])
            if getattr(report, "when", "call") == "call" and "test_layer_contract.py" in report.nodeid
        )
    if not any(outcomes.values()):
        return
    from rpnumpy.testing.cases import registry_summary

    terminalreporter.write_sep("-", "layer contract")
    terminalreporter.write_line(
        f"layer contract: {registry_summary()} (rpnumpy.testing.cases); "
        f"{outcomes['passed']} checks passed, {outcomes['failed']} failed"
    )
