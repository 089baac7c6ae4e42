"""The course's exercises: every check passes the reference solution in its notebook and fails planted mistakes.

The reference solutions are the notebooks' cells tagged ``solution``; the cell after each one calls
the check (``check_name(function)``). Each check must also fail at least one plausible wrong
answer, listed in :data:`WRONG` below, and report a stub as "not implemented yet".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from mistakes import bundling, eugen, features, foundations, gradients, half, prp

import rpnumpy.exercises as exercises

MISTAKE_MODULES = (foundations, half, prp, features, bundling, eugen, gradients)

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHECK_CALL = re.compile(r"^\s*(check_\w+)\((\w+)\)\s*$", re.M)


def _tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def solutions() -> list[tuple[str, str, str, str]]:
    """(notebook, check name, function name, solution source) for every solution cell."""
    found = []
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells):
            if "solution" not in _tags(cell):
                continue
            call = next((CHECK_CALL.search(_source(c)) for c in cells[i + 1:] if c["cell_type"] == "code"), None)
            if call is None:
                raise AssertionError(f"{path.name}: the solution cell {i} is not followed by a check_...(...) call")
            found.append((path.name, call.group(1), call.group(2), _source(cell)))
    return found


SOLUTIONS = solutions()


def _define(source: str, name: str):
    namespace: dict = {"np": np}
    exec(compile(source, name, "exec"), namespace)
    return namespace


#: check name -> wrong answers it must reject, one module of planted mistakes per notebook (tests/mistakes/).
WRONG = {name: functions for module in MISTAKE_MODULES for name, functions in module.WRONG.items()}


def _stub(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize(("notebook", "check", "function", "source"), SOLUTIONS,
                         ids=[f"{nb}:{check}" for nb, check, _, _ in SOLUTIONS])
def test_the_reference_solution_passes(notebook, check, function, source):
    feedback = getattr(exercises, check)(_define(source, f"{notebook} solution")[function])
    assert feedback.passed, str(feedback)


@pytest.mark.parametrize("check", sorted(WRONG))
def test_planted_mistakes_fail_with_a_hint_and_stubs_are_not_implemented(check):
    for wrong in WRONG[check]:
        feedback = getattr(exercises, check)(wrong)
        assert feedback.status == "wrong", f"{check} accepted {wrong.__name__}:\n{feedback}"
        assert len(feedback.lines) >= 2, str(feedback)  # what is wrong, and where
    stub = getattr(exercises, check)(_stub)
    assert stub.status == "not implemented" and "not implemented yet" in str(stub)


def test_every_check_is_used_by_a_notebook_and_has_planted_mistakes():
    checks = {name for name in exercises.__all__ if name.startswith("check_")}
    assert checks == set(WRONG), "every check needs planted mistakes in WRONG"
    assert checks <= {check for _, check, _, _ in SOLUTIONS}, "every check is an exercise of a notebook"


def test_the_course_has_enough_exercises():
    per_notebook = {path.name: 0 for path in NOTEBOOKS}
    exercise_cells = 0
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if "exercise" in _tags(cell):
                exercise_cells += 1
                per_notebook[path.name] += 1
    assert exercise_cells >= 21 and len(SOLUTIONS) >= exercise_cells
    assert min(per_notebook.values()) >= 3, per_notebook
