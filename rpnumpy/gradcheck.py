r"""Gradient checking by central differences, in float64.

For a layer (or a whole model) :math:`y = f(x; \theta)` and a random upstream
gradient :math:`\delta`, the scalar :math:`L = \langle f(x;\theta), \delta\rangle`
has exactly the gradients that ``backward(δ)`` claims to compute. Each entry
is checked against the central difference

.. math:: \frac{\partial L}{\partial \theta_i} \approx
          \frac{L(\theta_i + h) - L(\theta_i - h)}{2h},

whose error is :math:`O(h^2)` (truncation) plus about :math:`\mathrm{eps}\,|L|/h`
(round-off), :math:`\mathrm{eps}` the machine epsilon of the dtype (``np.finfo(dtype).eps``).
In float64 (:math:`\mathrm{eps} \approx 2.2\cdot10^{-16}`) the default
:math:`h = 10^{-6}` balances the two near :math:`10^{-10}` relative error. In
float32 (:math:`\mathrm{eps} \approx 1.2\cdot10^{-7}`) round-off alone is about
:math:`10^{-1}` at that step, and no step brings the error near :math:`10^{-7}`, so a
float32 check cannot tell a bug from noise: the functions here refuse float32 with a
``TypeError``.

The upstream gradient is random, never all ones: a ones vector can make whole
terms of a backward pass cancel (a mean-centring term, for example) and hide a
bug in them.

The error measure, for the analytic gradient :math:`a` and the numerical :math:`b`:

.. math:: \operatorname{rel}(a, b) = \frac{\max_i |a_i - b_i|}{\max(\max_i|a_i|,\ \max_i|b_i|,\ 10^{-8})}

It is scale-free, and unlike an entry-wise ratio it does not blow up on
entries that are zero in both. Below ``1e-7`` is a pass for a layer in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import as_generator, check_positive_float, check_positive_int

__all__ = [
    "DEFAULT_STEP",
    "PASS_THRESHOLD",
    "GradcheckReport",
    "GradcheckRow",
    "check_gradients",
    "check_loss_gradient",
    "check_vjp",
    "VJPCheck",
    "VJPRow",
    "numerical_gradient",
    "relative_error",
]

#: Default central-difference step for float64.
DEFAULT_STEP = 1e-6
#: A single layer or a small model passes below this relative error (float64).
PASS_THRESHOLD = 1e-7


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> float:
    r"""The relative error :math:`\max|a-b| / \max(\max|a|, \max|b|, \text{floor})`.

    Parameters
    ----------
    a, b : array_like
        Arrays of the same shape.
    floor : float, default=1e-8
        Keeps the ratio finite when both arrays are (nearly) zero.

    Examples
    --------
    >>> print(f"{relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.000002])):.1e}")
    1.0e-06
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), floor)
    return float(np.max(np.abs(a - b))) / scale


def _require_float64(array: np.ndarray, name: str) -> None:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(array).__name__}")
    if array.dtype != np.float64:
        raise TypeError(
            f"gradient checks need float64, but {name} has dtype {array.dtype}: in float32 the "
            f"central difference's round-off (~1e-1 relative) swamps any bug. Convert it, "
            f"e.g. model.astype(np.float64) and x.astype(np.float64)"
        )


def numerical_gradient(
    f: Callable[[], float],
    array: np.ndarray,
    *,
    h: float = DEFAULT_STEP,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    r"""Central differences of a scalar function with respect to ``array``, in place.

    ``f`` takes no arguments and reads ``array`` (a parameter of a model, say);
    each entry is set to :math:`a_i \pm h`, ``f`` is evaluated, and the entry
    is restored exactly (also if ``f`` raises).

    Parameters
    ----------
    f : callable returning float
    array : ndarray of float64
        Perturbed in place and restored.
    h : float, default=1e-6
    indices : ndarray of int, optional
        Flat indices to check; all entries by default. Other entries of the
        result are NaN.

    Returns
    -------
    ndarray
        The numerical gradient, same shape as ``array``.
    """
    _require_float64(array, "array")
    h = check_positive_float(h, "h")
    flat = array.reshape(-1)
    if not np.shares_memory(flat, array):
        raise ValueError("array must be contiguous so that it can be perturbed in place")
    grad = np.full(array.shape, np.nan)
    grad_flat = grad.reshape(-1)
    for i in range(flat.size) if indices is None else indices:
        original = flat[i]
        try:
            flat[i] = original + h
            plus = f()
            flat[i] = original - h
            minus = f()
        finally:
            flat[i] = original
        grad_flat[i] = (plus - minus) / (2 * h)
    return grad


@dataclass
class GradcheckRow:
    """The check of one array: its name, shape, how many entries were checked and the errors."""

    name: str
    shape: tuple[int, ...]
    n_checked: int
    relative_error: float
    absolute_error: float
    kind: str = "param"


@dataclass
class GradcheckReport:
    """Per-array results of :func:`check_gradients`.

    ``str(report)`` is a readable table; :meth:`passed` and
    :meth:`raise_if_failed` turn it into a verdict.
    """

    rows: list[GradcheckRow] = field(default_factory=list)
    buffers: list[str] = field(default_factory=list)
    h: float = DEFAULT_STEP
    title: str = ""

    @property
    def max_relative_error(self) -> float:
        """The worst relative error over all checked arrays."""
        return max((row.relative_error for row in self.rows), default=0.0)

    def passed(self, threshold: float = PASS_THRESHOLD) -> bool:
        """True if every checked array's relative error is below ``threshold``."""
        return self.max_relative_error < threshold

    def raise_if_failed(self, threshold: float = PASS_THRESHOLD) -> GradcheckReport:
        """Raise ``GradcheckError`` (with the table) unless :meth:`passed`; return self."""
        if not self.passed(threshold):
            raise GradcheckError(f"gradient check failed (threshold {threshold:.0e}):\n{self}")
        return self

    def to_markdown(self, threshold: float = PASS_THRESHOLD) -> str:
        """The table as Markdown, for reports."""
        lines = [
            "| array | kind | shape | entries checked | relative error | absolute error | verdict |",
            "| --- | --- | --- | ---: | ---: | ---: | --- |",
        ]
        for r in self.rows:
            verdict = "pass" if r.relative_error < threshold else "FAIL"
            lines.append(
                f"| `{r.name}` | {r.kind} | {r.shape} | {r.n_checked:,} | {r.relative_error:.2e} "
                f"| {r.absolute_error:.2e} | {verdict} |"
            )
        for name in self.buffers:
            lines.append(f"| `{name}` | buffer | | 0 | | | fixed: no gradient computed |")
        return "\n".join(lines)

    def __str__(self) -> str:
        head = f"{self.title}: " if self.title else ""
        lines = [f"{head}gradient check, central differences h={self.h:g}, float64"]
        lines.append(f"  {'array':<16} {'kind':<7} {'shape':<14} {'checked':>9} {'rel. error':>11} {'abs. error':>11}")
        for r in self.rows:
            lines.append(
                f"  {r.name:<16} {r.kind:<7} {str(r.shape):<14} {r.n_checked:>9,} "
                f"{r.relative_error:>11.2e} {r.absolute_error:>11.2e}"
            )
        for name in self.buffers:
            lines.append(f"  {name:<16} {'buffer':<7} fixed random matrix: not trainable, no gradient computed")
        verdict = "PASS" if self.passed() else "FAIL"
        lines.append(
            f"  max relative error {self.max_relative_error:.2e} -> {verdict} (threshold {PASS_THRESHOLD:.0e})"
        )
        return "\n".join(lines)


class GradcheckError(AssertionError):
    """Raised by :meth:`GradcheckReport.raise_if_failed` (an ``AssertionError``, so tests read naturally)."""


def _pick_indices(size: int, max_entries: int | None, rng: np.random.Generator) -> np.ndarray | None:
    if max_entries is None or size <= max_entries:
        return None
    return np.sort(rng.choice(size, size=max_entries, replace=False))


def check_gradients(
    layer: Any,
    x: np.ndarray,
    *,
    dy: np.ndarray | None = None,
    rng: Any = 0,
    h: float = DEFAULT_STEP,
    max_entries: int | None = None,
    check_input: bool = True,
    title: str = "",
) -> GradcheckReport:
    r"""Check a layer's or model's ``backward`` against central differences.

    With :math:`\delta` drawn from :math:`N(0, 1)` (or given as ``dy``), the
    analytic gradients of :math:`L = \langle f(x), \delta\rangle` from
    ``backward(δ)`` are compared with numerical ones for every entry of every
    parameter and of the input ``x``.

    Parameters
    ----------
    layer : Layer
        Any object following the layer contract, in float64.
    x : ndarray of float64
        A small input batch (a few rows is plenty).
    dy : ndarray, optional
        Upstream gradient; random by default.
    rng : None, int or Generator, default=0
        For the random ``dy`` and the choice of entries.
    h : float, default=1e-6
        Central-difference step.
    max_entries : int, optional
        Check at most this many randomly chosen entries per array (for big
        layers); all entries by default.
    check_input : bool, default=True
        Also check :math:`\partial L/\partial x`.
    title : str, optional
        Shown in the report.

    Returns
    -------
    GradcheckReport

    Raises
    ------
    TypeError
        If ``x``, a parameter or a buffer is not float64.
    """
    _require_float64(x, "x")
    for key, value in layer.params.items():
        _require_float64(value, f"params[{key!r}]")
    for key, value in layer.buffers.items():
        _require_float64(value, f"buffers[{key!r}]")
    if max_entries is not None:
        max_entries = check_positive_int(max_entries, "max_entries")
    gen = as_generator(rng)
    x = np.array(x, dtype=np.float64, copy=True)  # perturbed in place below; the caller's array is untouched

    y = np.array(layer.forward(x), copy=True)
    if dy is None:
        dy = gen.standard_normal(y.shape)
    else:
        _require_float64(dy, "dy")
        if dy.shape != y.shape:
            raise ValueError(f"dy must have the output's shape {y.shape}, got {dy.shape}")
    dx = layer.backward(dy, input_grad=check_input)
    analytic = {key: np.array(g, copy=True) for key, g in layer.grads.items()}
    if check_input:
        analytic_dx = np.array(dx, copy=True)

    def loss() -> float:
        return float(np.sum(layer.forward(x) * dy))

    report = GradcheckReport(h=h, title=title, buffers=list(layer.buffers))
    targets = [(key, layer.params[key], "param") for key in layer.params]
    if check_input:
        targets.append(("x", x, "input"))
    for name, array, kind in targets:
        idx = _pick_indices(array.size, max_entries, gen)
        numeric = numerical_gradient(loss, array, h=h, indices=idx)
        exact = analytic_dx if kind == "input" else analytic[name]
        if idx is not None:
            numeric, exact = numeric.reshape(-1)[idx], exact.reshape(-1)[idx]
        report.rows.append(
            GradcheckRow(
                name=name,
                shape=tuple(array.shape),
                n_checked=array.size if idx is None else len(idx),
                relative_error=relative_error(exact, numeric),
                absolute_error=float(np.max(np.abs(exact - numeric))) if exact.size else 0.0,
                kind=kind,
            )
        )
    # Leave the layer's cache and grads as the analytic pass left them.
    layer.forward(x)
    layer.backward(dy, input_grad=check_input)
    return report


def check_loss_gradient(
    loss: Any, prediction: np.ndarray, target: np.ndarray, *, h: float = DEFAULT_STEP, title: str = ""
) -> GradcheckReport:
    """Check a loss's ``backward()`` against central differences of ``forward``.

    Parameters
    ----------
    loss : Loss
    prediction : ndarray of float64
    target : ndarray
        Labels or targets, as ``loss.forward`` expects.
    """
    _require_float64(prediction, "prediction")
    prediction = np.array(prediction, copy=True)
    loss.forward(prediction, target)
    analytic = np.array(loss.backward(), copy=True)
    numeric = numerical_gradient(lambda: loss.forward(prediction, target), prediction, h=h)
    report = GradcheckReport(h=h, title=title or type(loss).__name__)
    report.rows.append(
        GradcheckRow(
            name="prediction",
            shape=prediction.shape,
            n_checked=prediction.size,
            relative_error=relative_error(analytic, numeric),
            absolute_error=float(np.max(np.abs(analytic - numeric))),
            kind="input",
        )
    )
    return report


# -- vector-Jacobian products of plain functions ------------------------------------------------------------------
@dataclass
class VJPRow:
    """The check of one input's gradient: its errors and the entries that are furthest off.

    ``worst`` lists ``(index, analytic, numeric)`` for the entries with the largest absolute
    difference, largest first.
    """

    name: str
    shape: tuple[int, ...]
    relative_error: float
    absolute_error: float
    worst: list[tuple[tuple[int, ...], float, float]]


@dataclass
class VJPCheck:
    """The result of :func:`check_vjp`: one :class:`VJPRow` per input."""

    rows: list[VJPRow]
    h: float = DEFAULT_STEP

    @property
    def relative_error(self) -> float:
        """The worst relative error over all inputs."""
        return max((row.relative_error for row in self.rows), default=0.0)

    def passed(self, threshold: float = PASS_THRESHOLD) -> bool:
        """True if every input's relative error is below ``threshold``."""
        return self.relative_error < threshold

    def __str__(self) -> str:
        lines = [f"vector-Jacobian product check, central differences h={self.h:g}, float64"]
        for row in self.rows:
            verdict = "ok" if row.relative_error < PASS_THRESHOLD else "WRONG"
            lines.append(f"  {row.name} {row.shape}: relative error {row.relative_error:.2e} -> {verdict}")
            if row.relative_error >= PASS_THRESHOLD:
                for index, a, b in row.worst:
                    lines.append(f"      at {index}: yours {a:.6g}, central differences {b:.6g}")
        lines.append(f"  max relative error {self.relative_error:.2e} -> {'PASS' if self.passed() else 'FAIL'} "
                     f"(threshold {PASS_THRESHOLD:.0e})")
        return "\n".join(lines)


def check_vjp(
    f: Callable[..., np.ndarray],
    x: np.ndarray | Sequence[np.ndarray],
    dy: np.ndarray,
    dx: np.ndarray | Sequence[np.ndarray],
    *,
    h: float = DEFAULT_STEP,
    n_worst: int = 3,
) -> VJPCheck:
    r"""Check a hand-written vector–Jacobian product of a plain function by central differences.

    For :math:`y = f(x)` and an upstream gradient :math:`\delta` (``dy``), the vector–Jacobian
    product is :math:`\partial L/\partial x = J_f(x)^\top \delta`, the gradient of the scalar
    :math:`L(x) = \langle f(x), \delta\rangle`. It is what a backward pass returns. Each entry of
    the claimed ``dx`` is compared with :math:`(L(x + h e_i) - L(x - h e_i))/2h`.

    Parameters
    ----------
    f : callable
        ``f(x) -> y``, or ``f(x1, x2, ...) -> y`` when ``x`` is a sequence of inputs. It must not
        keep or modify its inputs (it is called on copies).
    x : ndarray of float64, or a sequence of them
        Where to check.
    dy : ndarray of float64
        The upstream gradient, of ``f(x)``'s shape. Use random values, not ones: a ones vector can
        make whole terms cancel and hide a bug.
    dx : ndarray, or a sequence of them (one per input)
        The product to check, each of its input's shape.
    h : float, default=1e-6
    n_worst : int, default=3
        How many of the most wrong entries each row reports.

    Returns
    -------
    VJPCheck
        ``result.relative_error``, ``result.passed()``, and per input the worst entries;
        ``print(result)`` says which input is wrong and where.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, dy = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    >>> result = check_vjp(np.tanh, x, dy, dy * (1 - np.tanh(x) ** 2))
    >>> result.passed()
    True
    >>> check_vjp(np.tanh, x, dy, dy * (1 - np.tanh(x))).passed()  # a wrong derivative
    False
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    several = isinstance(x, (tuple, list))
    xs = list(x) if several else [x]
    dxs = list(dx) if isinstance(dx, (tuple, list)) else [dx]
    if len(dxs) != len(xs):
        raise ValueError(f"dx must hold one gradient per input: {len(xs)} inputs, got {len(dxs)} gradients")
    names = [f"x[{i}]" for i in range(len(xs))] if several else ["x"]
    for name, value, grad in zip(names, xs, dxs):
        _require_float64(value, name)
        if not isinstance(grad, np.ndarray):
            raise TypeError(f"d{name} must be a numpy.ndarray, got {type(grad).__name__}")
        if grad.shape != value.shape:
            raise ValueError(f"d{name} must have the shape of {name}, {value.shape}, got {grad.shape}")
    _require_float64(dy, "dy")
    h = check_positive_float(h, "h")
    n_worst = check_positive_int(n_worst, "n_worst")
    xs = [np.array(value, dtype=np.float64, copy=True) for value in xs]

    def loss() -> float:
        return float(np.sum(np.asarray(f(*[value.copy() for value in xs])) * dy))

    y = np.asarray(f(*[value.copy() for value in xs]))
    if y.shape != dy.shape:
        raise ValueError(f"dy must have the shape of f's output, {y.shape}, got {dy.shape}")
    rows = []
    for name, value, grad in zip(names, xs, dxs):
        numeric = numerical_gradient(loss, value, h=h)
        diff = np.abs(grad - numeric)
        order = np.argsort(diff, axis=None)[::-1][:n_worst]
        worst = [(tuple(int(i) for i in np.unravel_index(k, value.shape)), float(grad.flat[k]), float(numeric.flat[k]))
                 for k in order]
        rows.append(VJPRow(name, tuple(value.shape), relative_error(grad, numeric),
                           float(diff.max()) if diff.size else 0.0, worst))
    return VJPCheck(rows, h)
