"""Peak resident memory of one training epoch, for one model in one framework, in a fresh process.

Run once per (model, framework) by ``bench_suite.py``, each time in a new
Python process, so that no measurement inherits another's memory. The
process imports only what its framework needs: for rpnumpy, PyTorch is
blocked (``sys.modules["torch"] = None``), because importing it alone maps a
few hundred MB.

Two numbers, both from the kernel:

* ``process_peak_mib``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, the
  process's peak resident set over its whole life (imports, data, model,
  training), converted from KiB (Linux) to MiB;
* ``training_peak_mib`` and ``training_increment_mib``: just before the epoch
  the kernel's high-water mark is reset (``echo 5 > /proc/self/clear_refs``,
  Linux >= 4.0); after it, ``VmHWM`` from ``/proc/self/status`` is the peak
  resident set *during* the epoch, and the increment is that peak minus the
  resident set at the start of the epoch (``VmRSS``). None where unavailable.

Usage::

    python benchmarks/bench_memory.py --model mlp --framework rpnumpy [--synthetic --n-train N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

FRAMEWORKS = ("rpnumpy", "torch")

__all__ = ["FRAMEWORKS", "measure_training_memory", "main"]


def _status_kib(field: str) -> int | None:
    """A ``Vm*`` field of ``/proc/self/status`` in KiB, or None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the kernel's resident-set high-water mark (VmHWM) of this process; return whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def _mib(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024


def measure_training_memory(
    model: str, framework: str, *, n_train: int | None = None, n_test: int | None = None, synthetic: bool = False,
    threads: int | None = None,
) -> dict[str, Any]:
    """Build the benchmark model, train one epoch, and return the memory figures (see the module docstring).

    Must run in a process of its own: it blocks the PyTorch import for ``framework="rpnumpy"`` and the
    process-wide peak covers everything that happened in the process before.
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {list(FRAMEWORKS)}, got {framework!r}")
    if framework == "rpnumpy" and "torch" not in sys.modules:
        sys.modules["torch"] = None  # makes ``import torch`` fail: rpnumpy's process never maps it
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_mlp

    bench_mlp.configure_threads(threads)
    (x_train, y_train, _, _), data = bench_mlp.load_data(n_train, n_test, synthetic=synthetic)
    if framework == "rpnumpy":
        net, opt = bench_mlp.build_rpnumpy_model(0, model)
        run = lambda: bench_mlp.time_rpnumpy_epoch(net, opt, x_train, y_train, rng=0)  # noqa: E731
    else:
        if bench_mlp.torch is None:
            raise RuntimeError("PyTorch is not installed")
        net, opt = bench_mlp.build_torch_model(0, model)
        tx, ty = bench_mlp.torch.from_numpy(x_train), bench_mlp.torch.from_numpy(y_train)
        run = lambda: bench_mlp.time_torch_epoch(net, opt, tx, ty, rng=0)  # noqa: E731
    reset = _reset_peak()
    start_kib = _status_kib("VmRSS")
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    hwm_kib = _status_kib("VmHWM") if reset else None
    return {
        "model": model,
        "framework": framework,
        "data": data,
        "n_train": int(x_train.shape[0]),
        "epoch_seconds": seconds,
        "process_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # ru_maxrss is KiB on Linux
        "rss_before_training_mib": _mib(start_kib),
        "training_peak_mib": _mib(hwm_kib),
        "training_increment_mib": None if hwm_kib is None or start_kib is None else (hwm_kib - start_kib) / 1024,
        "torch_imported": sys.modules.get("torch") is not None,
        "method": "ru_maxrss (whole process); VmHWM after clear_refs=5 (during the epoch)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Peak resident memory of one training epoch (fresh process).")
    parser.add_argument("--model", required=True)
    parser.add_argument("--framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = measure_training_memory(args.model, args.framework, n_train=args.n_train, n_test=args.n_test,
                                     synthetic=args.synthetic, threads=args.threads)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
