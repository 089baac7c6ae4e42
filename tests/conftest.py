"""Shared fixtures: seeds, tolerances and access to the real data sets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def assert_reference_loads_alone(filename: str) -> None:
    """A reference file of rpnumpy.testing loads on its own, as a plain module outside the package, importing no
    rpnumpy module: it cannot borrow rpnumpy's code for what it checks."""
    import rpnumpy.testing

    path = Path(rpnumpy.testing.__file__).with_name(filename)
    code = ("import importlib.util, sys; "
            f"spec = importlib.util.spec_from_file_location('standalone_reference', {str(path)!r}); "
            "spec.loader.exec_module(importlib.util.module_from_spec(spec)); "
            "print(sorted(m for m in sys.modules if m == 'rpnumpy' or m.startswith('rpnumpy.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    if result.stdout.strip() != "[]":
        raise AssertionError(f"{filename} imports rpnumpy modules: {result.stdout.strip()}")


def run_planted_steps(model, optimizer, grads_sequence) -> None:
    """Write each dict of gradients into ``model.grads`` and take an optimizer step."""
    for grads in grads_sequence:
        for key, g in grads.items():
            model.grads[key][...] = g
        optimizer.step()


def random_grads_sequence(model, rng, n: int = 5) -> list[dict]:
    """``n`` dicts of N(0, 1) gradients, one array per parameter of ``model``."""
    return [{k: rng.standard_normal(p.shape) for k, p in model.params.items()} for _ in range(n)]


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
