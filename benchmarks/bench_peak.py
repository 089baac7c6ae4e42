"""The machine's float32 matrix-multiply peak, and the same products in NumPy's BLAS and in PyTorch's.

``C = A @ B`` with ``A``, ``B`` of shape ``(n, n)`` costs ``2 n^3`` FLOPs (one
multiply and one add per term). For each size the best of ``repeats`` timed
products is kept (after one untimed product that warms caches, threads and
page tables); the peak is the best over the sizes. "Best of" rather than the
median, because the peak is what the hardware and BLAS *can* do: training
runs are then measured against it as a fraction.

:func:`compare_blas` times the products that dominate the benchmark's models (``x @ W`` for
their first layers, at the training batch of 128 rows and the inference batch of 1000) in
NumPy (OpenBLAS) and in PyTorch (MKL on x86), so that a ratio in the suite can be read against
what the two BLAS libraries alone do on the same machine.

Usage::

    python benchmarks/bench_peak.py [--sizes 2048 3072 4096] [--repeats 5] [--threads K] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

#: Square sizes timed by default: large enough that the product is compute-bound on any current CPU.
DEFAULT_SIZES = (2048, 3072, 4096)
DEFAULT_REPEATS = 5

#: (rows, inner, columns) of ``x @ W``: the first layer of each model (MLP and SNNK 784 -> 256, PRP 784 -> 512,
#: half layer 784 -> 1024, EUGen's x+ G 786 -> 768), at the training and the inference batch.
MODEL_PRODUCTS = tuple(
    (rows, inner, cols) for rows in (128, 1000) for inner, cols in ((784, 256), (784, 512), (784, 1024), (786, 768))
)

__all__ = ["DEFAULT_REPEATS", "DEFAULT_SIZES", "MODEL_PRODUCTS", "compare_blas", "measure_matmul_peak", "main"]


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


def compare_blas(
    shapes: tuple[tuple[int, int, int], ...] = MODEL_PRODUCTS, *, rounds: int = 7, calls: int = 20,
    pause: float = 0.5, seed: int = 0,
) -> list[dict[str, Any]] | None:
    """Time the same float32 products ``x @ W`` in NumPy and in PyTorch; None without PyTorch.

    For each shape, ``rounds`` rounds alternate the two libraries (NumPy first), each timing
    ``calls`` products into a preallocated output after a ``pause`` (so that the other library's
    worker threads have stopped spinning: OpenBLAS's keep a core busy for about 0.1 s after a
    product); the best round of each is kept, as for the peak.

    Returns
    -------
    list of dict
        One ``{"shape", "numpy_seconds", "torch_seconds", "ratio"}`` per shape: seconds per product,
        and NumPy/PyTorch.
    """
    try:
        import torch
    except ImportError:
        return None
    if rounds < 1 or calls < 1:
        raise ValueError(f"rounds and calls must be >= 1, got {rounds} and {calls}")
    gen = np.random.default_rng(seed)
    rows = []
    for shape in shapes:
        n, d, k = (int(v) for v in shape)
        x = gen.standard_normal((n, d), dtype=np.float32)
        w = gen.standard_normal((d, k), dtype=np.float32)
        out = np.empty((n, k), dtype=np.float32)
        tx, tw, tout = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(out.copy())
        runs = {"numpy": partial(np.matmul, x, w, out=out), "torch": partial(torch.matmul, tx, tw, out=tout)}
        best = {name: float("inf") for name in runs}
        for _ in range(rounds):
            for name, run in runs.items():
                time.sleep(pause)
                run()  # untimed: wakes the library's threads
                start = time.perf_counter()
                for _ in range(calls):
                    run()
                best[name] = min(best[name], (time.perf_counter() - start) / calls)
        rows.append({"shape": [n, d, k], "numpy_seconds": best["numpy"], "torch_seconds": best["torch"],
                     "ratio": best["numpy"] / best["torch"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure numpy's float32 matrix-multiply peak (GFLOP/s).")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--threads", type=int, default=None, help="numpy's BLAS threads (default: unchanged)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--compare-torch", action="store_true",
                        help="also time the models' first-layer products in NumPy and in PyTorch")
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
    if args.compare_torch:
        rows = compare_blas()
        if rows is None:
            print("PyTorch is not installed: no comparison")
        for row in rows or []:
            n, d, k = row["shape"]
            print(f"{n:>5} x {d} @ {d} x {k:<5} numpy {row['numpy_seconds'] * 1e3:7.3f} ms  "
                  f"torch {row['torch_seconds'] * 1e3:7.3f} ms  numpy/torch {row['ratio']:.2f}")
        result["blas"] = rows
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
