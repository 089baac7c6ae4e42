"""Where the fast SRHT overtakes a dense Gaussian projection: time against input dimension d.

For every d of the grid (powers of two, 64 ... 16384 by default), a batch of
128 float32 rows is projected to a fixed output dimension k two ways:

* dense: ``x @ G`` with a Gaussian ``G`` of shape ``(d, k)``, one BLAS product,
  ``2 n d k`` FLOPs;
* SRHT: :meth:`rpnumpy.hadamard.SRHT.apply`, signs, a fast Walsh–Hadamard
  transform of the padded batch (:func:`rpnumpy.hadamard.fwht`, a few
  Kronecker-factor products) and a column gather: ``O(n d log d)``,
  independent of k while ``k <= d``.

and the same for the backward direction (``g @ G.T`` against
:meth:`~rpnumpy.hadamard.SRHT.apply_transpose`), which a layer needs for its
input gradient. Each operation is timed ``repeats`` times, the two methods
alternating, and the median is kept. The crossover is the smallest d of the
grid from which the SRHT is faster at that d and at every larger d.

Usage::

    python benchmarks/bench_srht.py [--k 256] [--d 64 128 ... 16384] [--batch 128] [--repeats 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    import rpnumpy  # noqa: F401
except ImportError:  # run from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rpnumpy.hadamard import SRHT
from rpnumpy.random_matrices import gaussian_matrix

#: The issue's range 256 ... 16384, extended down to 64 so that a crossover below 256 is bracketed too.
DEFAULT_DIMS = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
DEFAULT_K = 256
BATCH = 128

__all__ = ["BATCH", "DEFAULT_DIMS", "DEFAULT_K", "crossover", "time_projections", "main"]


def _median_seconds(functions: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median wall time of each function, the functions called in turn ``repeats`` times (after one warm-up)."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for fn in functions.values():
        fn()
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def time_projections(
    dims: Sequence[int] = DEFAULT_DIMS, k: int = DEFAULT_K, *, batch: int = BATCH, repeats: int = 15, seed: int = 0
) -> list[dict[str, Any]]:
    """Median seconds of the dense and SRHT projections (forward and transposed) for every d.

    Returns one row per d: ``d``, ``d_padded``, ``k``, ``batch`` and ``dense_forward``,
    ``srht_forward``, ``dense_backward``, ``srht_backward`` (seconds), plus the SRHT's
    agreement with its dense matrix (``max_abs_error``, float32) as a check that the two
    compute the same map.
    """
    gen = np.random.default_rng(seed)
    rows = []
    for d in dims:
        x = gen.standard_normal((batch, d), dtype=np.float32)
        g = gen.standard_normal((batch, k), dtype=np.float32)
        dense = gaussian_matrix((d, k), seed, dtype=np.float32)
        srht = SRHT(d, k, seed, dtype=np.float32)
        error = float(np.max(np.abs(srht.apply(x) - x @ srht.to_dense())))
        medians = _median_seconds(
            {  # default arguments bind this iteration's arrays
                "dense_forward": lambda x=x, dense=dense: x @ dense,
                "srht_forward": lambda x=x, srht=srht: srht.apply(x),
                "dense_backward": lambda g=g, dense=dense: g @ dense.T,
                "srht_backward": lambda g=g, srht=srht: srht.apply_transpose(g),
            },
            repeats,
        )
        rows.append({"d": d, "d_padded": srht.d_padded, "k": k, "batch": batch, **medians, "max_abs_error": error})
    return rows


def crossover(rows: list[dict[str, Any]], direction: str = "forward") -> int | None:
    """Smallest d from which the SRHT is faster than the dense product at every larger d of the grid (or None)."""
    faster = [row[f"srht_{direction}"] < row[f"dense_{direction}"] for row in rows]
    if not faster or not faster[-1]:
        return None
    first = len(faster)
    while first > 0 and faster[first - 1]:
        first -= 1
    return int(rows[first]["d"])


def format_rows(rows: list[dict[str, Any]]) -> str:
    head = ("d", "dense fwd", "SRHT fwd", "ratio", "dense bwd", "SRHT bwd", "ratio")
    lines = [" ".join(f"{h:>{w}}" for h, w in zip(head, (6, 10, 10, 6, 10, 10, 6)))]
    for row in rows:
        lines.append(
            f"{row['d']:>6} {row['dense_forward'] * 1e3:>8.3f}ms {row['srht_forward'] * 1e3:>8.3f}ms "
            f"{row['srht_forward'] / row['dense_forward']:>6.2f} {row['dense_backward'] * 1e3:>8.3f}ms "
            f"{row['srht_backward'] * 1e3:>8.3f}ms {row['srht_backward'] / row['dense_backward']:>6.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SRHT against a dense Gaussian projection: the crossover dimension.")
    parser.add_argument("--k", type=int, default=DEFAULT_K, help=f"output dimension (default {DEFAULT_K})")
    parser.add_argument("--d", type=int, nargs="+", default=list(DEFAULT_DIMS), help="input dimensions")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = time_projections(args.d, args.k, batch=args.batch, repeats=args.repeats)
    print(f"batch {args.batch}, k = {args.k}, float32, medians of {args.repeats}; ratio = SRHT / dense")
    print(format_rows(rows))
    for direction in ("forward", "backward"):
        print(f"crossover ({direction}): d = {crossover(rows, direction)}")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "crossover": {
            "forward": crossover(rows, "forward"), "backward": crossover(rows, "backward")}}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
