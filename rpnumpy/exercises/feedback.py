"""What every exercise check shares: running the student's function, comparing, and saying what is wrong.

A check never raises and never prints: it returns a :class:`Feedback`, which a notebook shows as
its cell's output. Its first line is the verdict (``correct``, ``not correct yet``, ``not
implemented yet`` or ``raised an error``); the lines after it say which output or gradient is
wrong, for which input, by how much and where, and end with a hint. A hint points at the mistake
(a missing factor, a transposed product); it never gives the solution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Feedback", "ExerciseFailure", "attempt", "compare", "diagnose", "unpack", "verdict"]

#: Relative error below which an answer computed in float64 counts as equal to the reference.
TOLERANCE = 1e-8


@dataclass
class Feedback:
    """The verdict of one exercise check.

    Attributes
    ----------
    exercise : str
        The exercise's title, e.g. ``"Exercise 1.2: the half layer's backward pass"``.
    status : {'correct', 'wrong', 'not implemented', 'error'}
    lines : list of str
        What was found, most important first; the last one is a hint when there is one.
    """

    exercise: str
    status: str
    lines: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True only for a correct answer."""
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = {
            "correct": "correct",
            "wrong": "not correct yet",
            "not implemented": "not implemented yet: write the function above, run its cell, then run this check again",
            "error": "your function raised an error",
        }[self.status]
        mark = {"correct": "✓", "wrong": "✗", "not implemented": "…", "error": "✗"}[self.status]
        return "\n".join([f"{mark} {self.exercise}: {head}", *(f"  {line}" for line in self.lines)])

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's display
        printer.text(str(self))


class ExerciseFailure(Exception):
    """Raised inside a check to stop at the first problem; :func:`verdict` turns it into a :class:`Feedback`."""

    def __init__(self, status: str, *lines: str) -> None:
        super().__init__(lines[0] if lines else status)
        self.status, self.lines = status, list(lines)


def attempt(function: Callable[..., Any], *args: Any, what: str = "your function", **kwargs: Any) -> Any:
    """Call the student's ``function``; a stub or an exception becomes an :class:`ExerciseFailure`."""
    if not callable(function):
        raise ExerciseFailure("error", f"{what} must be a function; you passed {type(function).__name__}")
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    try:
        return function(*copies, **kwargs)
    except NotImplementedError:
        raise ExerciseFailure("not implemented") from None
    except Exception as exc:  # the student's code may raise anything; say what and where
        raise ExerciseFailure("error", f"{what} raised {type(exc).__name__}: {exc}") from None


def unpack(result: Any, names: Sequence[str], what: str = "your function") -> tuple[Any, ...]:
    """``result`` as a tuple of ``len(names)`` values, or an :class:`ExerciseFailure` saying what was expected."""
    if len(names) == 1:
        return (result,)
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        got = f"a tuple of {len(result)}" if isinstance(result, (tuple, list)) else type(result).__name__
        raise ExerciseFailure("wrong", f"{what} must return ({', '.join(names)}), {len(names)} values; "
                                       f"you returned {got}")
    return tuple(result)


def compare(
    name: str,
    got: Any,
    expected: np.ndarray,
    *,
    case: str = "",
    tolerance: float = TOLERANCE,
    hints: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Raise an :class:`ExerciseFailure` describing how ``got`` differs from ``expected``.

    Checks, in order: that ``got`` is an ndarray, its shape, that it is finite, and its values
    (relative error :math:`\\max|a-b| / \\max|b|` below ``tolerance``). For wrong values it reports the
    largest error, where it is, the two values there, and, if ``got`` matches one of the ``hints``'
    arrays (plausible wrong answers computed by the check), that hint.
    """
    where = f" for {case}" if case else ""
    if not isinstance(got, np.ndarray):
        raise ExerciseFailure("wrong", f"{name} must be a numpy array{where}; you returned {type(got).__name__}")
    if got.shape != expected.shape:
        raise ExerciseFailure("wrong", f"{name} has shape {got.shape} but should have shape {expected.shape}{where}",
                              *_shape_hint(got.shape, expected.shape))
    if not np.all(np.isfinite(got)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        raise ExerciseFailure("wrong", f"{name} holds {got[bad]} at index {bad}{where}: every entry must be finite")
    scale = max(float(np.max(np.abs(expected))) if expected.size else 0.0, 1e-12)
    error = np.abs(got.astype(np.float64) - expected)
    relative = float(error.max()) / scale if error.size else 0.0
    if relative <= tolerance:
        return
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape))
    lines = [f"{name} is wrong{where}: relative error {relative:.2g}",
             f"the largest difference is at index {index}: yours {got[index]:.6g}, expected {expected[index]:.6g}"]
    hint = diagnose(got, hints or {}, tolerance)
    if hint:
        lines.append(f"hint: {hint}")
    raise ExerciseFailure("wrong", *lines)


def _shape_hint(got: Sequence[int], expected: Sequence[int]) -> list[str]:
    if tuple(got) == tuple(expected)[::-1]:
        return ["hint: that is the transposed shape; check the order of the factors of your product"]
    if len(got) == len(expected) - 1 or len(got) == len(expected) + 1:
        return ["hint: a sum over an axis is missing or one too many (check the axis= of your sums)"]
    return []


def diagnose(got: np.ndarray, hints: Mapping[str, np.ndarray], tolerance: float = TOLERANCE) -> str | None:
    """The hint whose array ``got`` equals (to ``tolerance``), if any: a recognised plausible mistake."""
    for hint, wrong in hints.items():
        wrong = np.asarray(wrong)
        if wrong.shape == got.shape:
            scale = max(float(np.max(np.abs(wrong))) if wrong.size else 0.0, 1e-12)
            if float(np.max(np.abs(got - wrong))) / scale <= max(tolerance, 1e-6):
                return hint
    return None


def verdict(exercise: str, check: Callable[[], str | None]) -> Feedback:
    """Run ``check()`` and turn its outcome into a :class:`Feedback`.

    ``check`` raises :class:`ExerciseFailure` at the first problem; if it returns, the answer is
    correct, and the string it may return (what was checked, e.g. "3 inputs, relative error 2e-12")
    becomes the feedback's line.
    """
    try:
        summary = check()
    except ExerciseFailure as failure:
        return Feedback(exercise, failure.status, failure.lines)
    return Feedback(exercise, "correct", [summary] if summary else [])
