"""What the experiments adapters, eugen_speed and layer_approximation share: data, statistics, formatting."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from . import units

__all__ = ["dataset", "single_blas_thread", "group_by", "mean_std", "relative_mse", "relative_mse_parts"]


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Run a unit of work on one BLAS thread: reproducible bits, and no oversubscription on a shared machine.

    Unlike :func:`rpnumpy._blas.one_blas_thread` (which holds a lock, and which the library calls
    inside), this may enclose library code that limits the threads itself.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def dataset(name: str, n_train: int | None = None, n_test: int | None = None) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test)`` of ``"mnist"`` or ``"fashion_mnist"``, the first rows of each split.

    Read through the runner's loader (:func:`.units.dataset`: its data folder and download setting, one load
    per process); ``None`` keeps a whole split.
    """
    if name not in ("mnist", "fashion_mnist"):
        raise ValueError(f"dataset must be one of ['mnist', 'fashion_mnist'], got {name!r}")
    return units.dataset(name.replace("_", "-"), (n_train, n_test))


def relative_mse_parts(y_hat: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r""":math:`(\|\hat Y - Y\|_F^2, \|Y - \bar Y\|_F^2)` in float64, :math:`\bar Y` the column means of :math:`Y`."""
    y64 = np.asarray(y, dtype=np.float64)
    error = float(np.sum((np.asarray(y_hat, dtype=np.float64) - y64) ** 2))
    spread = float(np.sum((y64 - y64.mean(axis=0)) ** 2))
    return error, spread


def relative_mse(y_hat: np.ndarray, y: np.ndarray) -> float:
    r"""Relative MSE :math:`\|\hat Y - Y\|_F^2 / \|Y - \bar Y\|_F^2` (that is :math:`1 - R^2`).

    0 is a perfect fit; 1 is what predicting every output's mean gives.
    """
    error, spread = relative_mse_parts(y_hat, y)
    return error / spread if spread > 0 else math.inf


def mean_std(values: Sequence[float], digits: int = 4) -> str:
    """``"mean ± std"`` (sample std, ddof=1; ``± 0`` written for one value)."""
    values = [float(v) for v in values]
    mean = sum(values) / len(values)
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def group_by(results: Iterable[dict[str, Any]], keys: Sequence[str]) -> dict[tuple, list[dict[str, Any]]]:
    """The results grouped by the values of ``keys`` (in first-seen order)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault(tuple(result[key] for key in keys), []).append(result)
    return groups


def closer_section(module: Any, captions: dict[str, str], cost: Callable[[dict[str, Any]], float]) -> Any:
    """A chapter section (:class:`.report.Section`) of a module whose ``render(results)`` returns Markdown and figures.

    ``adapters``, ``eugen_speed`` and ``layer_approximation`` render from their results alone
    (``render(results) -> (markdown, {file name: Figure})``), so they can be run and read without a
    report; this puts their text and figures into a chapter's report, each figure with its caption.
    """
    from pathlib import Path

    from .report import Section

    def render(ctx: Any, results: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        text, figures = module.render([result for _, result in results])
        ctx.text(text)
        for filename, fig in figures.items():
            ctx.figure(fig, Path(filename).stem, captions[filename])

    return Section(module.__name__.rsplit(".", 1)[-1], module.units, module.run_unit, render, cost)
