"""The layout ARCHITECTURE.md promises: small modules, and no library code importing what surrounds it."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rpnumpy"
SURROUNDINGS = ("experiments", "testing", "models", "plotting", "course", "exercises")


def test_no_module_is_over_600_lines():
    long = {str(path.relative_to(PACKAGE)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600}
    assert not long, long


def test_the_library_core_imports_nothing_that_surrounds_it():
    core = [path for path in PACKAGE.rglob("*.py")
            if path.relative_to(PACKAGE).parts[0] not in {*SURROUNDINGS, "models.py", "models_adapters.py",
                                                          "plotting.py", "cli.py", "__main__.py", "chapters",
                                                          "_deprecation.py", "exchange.py", "layer_cases.py",
                                                          "report.py", "__init__.py"}]
    # At import time: a method may import plotting lazily to draw its own result (LRRangeResult.plot).
    pattern = re.compile(rf"^from \.+({'|'.join(SURROUNDINGS)})\b", re.M)
    found = [f"{path.relative_to(PACKAGE)}: {match.group(0).strip()}"
             for path in core for match in pattern.finditer(path.read_text(encoding="utf-8"))]
    assert not found, found
