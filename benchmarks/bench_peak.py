"""The machine's float32 matrix-multiply peak, as numpy's BLAS delivers it on large square matrices.

``C = A @ B`` with ``A``, ``B`` of shape ``(n, n)`` costs ``2 n^3`` FLOPs (one
multiply and one add per term). For each size the best of ``repeats`` timed
products is kept (after one untimed product that warms caches, threads and
page tables); the peak is the best over the sizes. "Best of" rather than the
median, because the peak is what the hardware and BLAS *can* do: training
runs are then measured against it as a fraction.

Usage::

    python benchmarks/bench_peak.py [--sizes 2048 3072 4096] [--repeats 5] [--threads K] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Square sizes timed by default: large enough that the product is compute-bound on any current CPU.
DEFAULT_SIZES = (2048, 3072, 4096)
DEFAULT_REPEATS = 5

__all__ = ["DEFAULT_REPEATS", "DEFAULT_SIZES", "measure_matmul_peak", "main"]


def measure_matmul_peak(
    sizes: tuple[int, ...] = DEFAULT_SIZES, repeats: int = DEFAULT_REPEATS, *, dtype: Any = np.float32, seed: int = 0
) -> dict[str, Any]:
    """Time ``np.matmul`` of square matrices; return GFLOP/s per size and the peak.

    Returns
    -------
    dict
        ``{"dtype", "repeats", "per_size": {n: {"best_seconds", "gflops"}}, "peak_gflops", "peak_size"}``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if not sizes or any(int(n) < 1 for n in sizes):
        raise ValueError(f"sizes must be positive ints, got {sizes!r}")
    gen = np.random.default_rng(seed)
    per_size: dict[str, dict[str, float]] = {}
    for n in sizes:
        n = int(n)
        a = gen.standard_normal((n, n), dtype=np.float64).astype(dtype)
        b = gen.standard_normal((n, n), dtype=np.float64).astype(dtype)
        c = np.empty((n, n), dtype=dtype)
        np.matmul(a, b, out=c)  # untimed: first touch of c, BLAS threads started
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(a, b, out=c)
            best = min(best, time.perf_counter() - start)
        per_size[str(n)] = {"best_seconds": best, "gflops": 2.0 * n**3 / best / 1e9}
    peak_size = max(per_size, key=lambda k: per_size[k]["gflops"])
    return {
        "dtype": np.dtype(dtype).name,
        "repeats": repeats,
        "per_size": per_size,
        "peak_gflops": per_size[peak_size]["gflops"],
        "peak_size": int(peak_size),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure numpy's float32 matrix-multiply peak (GFLOP/s).")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--threads", type=int, default=None, help="numpy's BLAS threads (default: unchanged)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_mlp import configure_threads

        configure_threads(args.threads)
    result = measure_matmul_peak(tuple(args.sizes), args.repeats)
    for n, row in result["per_size"].items():
        seconds, gflops = row["best_seconds"], row["gflops"]
        print(f"{n:>6} x {n:<6} best of {args.repeats}: {seconds * 1e3:8.1f} ms  {gflops:7.1f} GFLOP/s")
    print(f"peak: {result['peak_gflops']:.1f} GFLOP/s (float32, n = {result['peak_size']})")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
