"""Time one training epoch and one inference pass of the same MLP in rpnumpy and in PyTorch (CPU).

The default model is the classic MNIST baseline: 784-256-10, ReLU, float32, Adam
(lr=1e-3, betas (0.9, 0.999), eps 1e-8), softmax cross-entropy, batch 128
(``--model`` picks the half-layer, PRP, SNNK or EUGen model instead).
Both frameworks run **in the same process**, on the same data, with the same
number of threads:

* rpnumpy trains through :func:`rpnumpy.training.fit` (``epochs=1``,
  ``progress=False``): the real library path, not a special benchmark loop.
  Inference is :func:`rpnumpy.training.predict` with batch 1000.
* PyTorch trains the model's twin, built from the same initial weights
  (:class:`rpnumpy.testing.torch_reference.TorchTwin`: the parameters are
  ``torch.nn.Parameter`` objects, the fixed matrices registered buffers, the forward
  pass the PyTorch reference the tests compare rpnumpy with), with
  ``torch.optim.Adam`` and ``torch.nn.CrossEntropyLoss`` in a plain, idiomatic
  loop: once per epoch the training tensor is shuffled (one ``randperm`` and one
  gather), then the batches are contiguous slices of it; no ``DataLoader``. Like
  ``fit``, the loop accumulates the epoch's loss and training accuracy. Inference
  runs the model over batches of 1000 under ``torch.inference_mode()``.

The machine's description is :mod:`machine`'s, the models and their FLOP
counts are :mod:`models`' (both beside this file).

Protocol: ``--epochs-warmup`` untimed epochs (and inference passes) per
framework, then ``--repeats`` timed rounds. A round times one epoch and one
inference pass of each framework, always in the same order (rpnumpy, PyTorch,
rpnumpy, PyTorch, ...): both frameworks share the machine's noise, and every
timed run of one framework comes right after a run of the other, so all runs of
a framework start from the same state. (Swapping the order every other round
would let half of one framework's runs follow a run of itself; on some machines
that makes the times bimodal, e.g. when touching fresh memory costs more after
the other framework has churned through some.) Before each timed run the
garbage collector runs and the script pauses briefly, so that the other
framework's worker threads have gone idle. Each model keeps training from round
to round; the test accuracy is measured (untimed) after every epoch.

Reported: every time, their medians and min/max, the ratios rpnumpy/PyTorch of
the medians (> 1 means rpnumpy is slower), the test accuracies (a sanity
check that both train: each should be > 0.9 after one full epoch on the 60,000
images), and, for each timed epoch, the share of the machine's CPUs that
*other* processes used meanwhile (from ``/proc/stat``), with a warning when
the times were disturbed.

Threads: PyTorch gets ``torch.set_num_threads(K)`` with K the number of
threads numpy's BLAS uses (by default OpenBLAS uses one per CPU, i.e.
``os.cpu_count()``). ``--threads K`` sets both (numpy's BLAS through
``threadpoolctl`` when installed, otherwise through OpenBLAS's own
``openblas_set_num_threads``).

``OPENBLAS_CORETYPE``: on some machines this environment variable is set for
compatibility (it forces OpenBLAS onto an older CPU kernel, e.g. Haswell on an
AVX-512 machine) and slows numpy down. This script never changes it; it prints
its value when it is set, together with the kernel OpenBLAS actually chose.

Usage::

    python benchmarks/bench_mlp.py [--repeats 5] [--epochs-warmup 1] [--n-train N]
                                   [--json out.json] [--threads K]

and, for smoke tests and diagnosis: ``--n-test N``, ``--synthetic``,
``--no-torch``, ``--pause S``, ``--quiet`` (see ``--help``).

The MNIST files are found by :func:`rpnumpy.datasets.load_mnist` (set
``RPNUMPY_DATA`` to a folder holding ``mnist/``). ``--synthetic`` replaces
them by random data of the same shapes (for smoke tests; the accuracies then
mean nothing). If PyTorch is not installed, rpnumpy is timed alone, the ratios
are reported as unavailable and the exit status is still 0.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

try:
    import rpnumpy  # noqa: F401
except ImportError:  # run as ``python benchmarks/bench_mlp.py`` from a checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

sys.path.insert(0, str(Path(__file__).resolve().parent))  # machine.py and models.py beside this file

from machine import _cpu_clock, _load_average, _others_share, configure_threads, machine_info  # noqa: E402
from models import (  # noqa: E402
    ARCHITECTURE,
    EUGEN_M,
    MODELS,
    SNNK_M,
    _check_model,
    build_rpnumpy_model,
    build_torch_model,
    load_data,
    model_matmul_flops,
    peak_fractions,
    synthetic_data,
)

from rpnumpy.fast.optim import FusedAdam  # noqa: E402
from rpnumpy.layers import Sequential  # noqa: E402
from rpnumpy.losses import SoftmaxCrossEntropy  # noqa: E402
from rpnumpy.training import evaluate, fit, predict  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

__all__ = [
    "ARCHITECTURE",
    "EUGEN_M",
    "MODELS",
    "SNNK_M",
    "build_rpnumpy_model",
    "build_torch_model",
    "configure_threads",
    "load_data",
    "machine_info",
    "main",
    "model_matmul_flops",
    "peak_fractions",
    "synthetic_data",
    "run_benchmark",
    "time_rpnumpy_epoch",
    "time_rpnumpy_inference",
    "time_torch_epoch",
    "time_torch_inference",
    "torch_accuracy",
]

BATCH_SIZE = 128
INFERENCE_BATCH_SIZE = 1000
#: Every final test accuracy must exceed this after full-MNIST epochs.
SANITY_ACCURACY = 0.9
#: Above this share of the CPUs used by other processes during a timed epoch, the report warns.
NOISY_SHARE = 0.05
#: Seconds to wait before each timed run (lets the other framework's threads go idle).
PAUSE_SECONDS = 0.2


# --------------------------------------------------------------------------- rpnumpy


def time_rpnumpy_epoch(
    model: Sequential, optimizer: FusedAdam, x: np.ndarray, y: np.ndarray, *, batch_size: int = BATCH_SIZE,
    rng: int = 0,
) -> dict[str, float]:
    """Train one epoch with ``rpnumpy.training.fit``; return its wall time, mean loss and train accuracy."""
    start = time.perf_counter()
    hist = fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=optimizer, epochs=1, batch_size=batch_size,
               rng=rng, progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "loss": hist.loss[-1], "train_accuracy": hist.train_accuracy[-1]}


def time_rpnumpy_inference(
    model: Sequential, x: np.ndarray, *, batch_size: int = INFERENCE_BATCH_SIZE
) -> float:
    """Wall time of ``rpnumpy.training.predict`` over ``x``."""
    start = time.perf_counter()
    logits = predict(model, x, batch_size=batch_size)
    seconds = time.perf_counter() - start
    assert logits.shape == (x.shape[0], ARCHITECTURE[-1])
    return seconds


def profile_rpnumpy_epoch(
    model: Sequential, optimizer: FusedAdam, x: np.ndarray, y: np.ndarray, *, rows: int = 12, rng: int = 10**6
) -> dict[str, Any]:
    """One more (untimed) training epoch under cProfile: where rpnumpy's time goes.

    Returns ``{"total_seconds", "rows": [{"function", "calls", "own_seconds", "cumulative_seconds"}]}`` with
    the ``rows`` functions of largest own time (time inside NumPy/BLAS calls is charged to the Python
    function making them, so a layer's ``_forward`` holds its matrix products). cProfile adds a small
    overhead per Python call; the shares are what matters.
    """
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    time_rpnumpy_epoch(model, optimizer, x, y, rng=rng)
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        where = f"{Path(filename).name}:{line}({name})" if line else name
        entries.append({"function": where, "calls": calls, "own_seconds": own, "cumulative_seconds": cumulative})
    entries.sort(key=lambda e: e["own_seconds"], reverse=True)
    return {"total_seconds": stats.total_tt, "rows": entries[:rows]}



# --------------------------------------------------------------------------- PyTorch


def time_torch_epoch(
    model: Any, optimizer: Any, x: Any, y: Any, *, batch_size: int = BATCH_SIZE, rng: int = 0
) -> dict[str, float]:
    """Train one epoch in the plain PyTorch loop; return its wall time, mean loss and train accuracy.

    ``x``/``y`` are CPU tensors (or arrays, converted without copying before
    the clock starts). Once per epoch the data are shuffled with one gather;
    the batches are contiguous slices of the shuffled tensors.
    """
    if torch is None:
        raise RuntimeError("PyTorch is not installed")
    x = torch.as_tensor(x)
    y = torch.as_tensor(y)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(rng)
    n = x.shape[0]
    model.train()
    start = time.perf_counter()
    order = torch.randperm(n, generator=gen)
    xs, ys = x[order], y[order]
    total_loss, correct = 0.0, 0
    for lo in range(0, n, batch_size):
        xb, yb = xs[lo : lo + batch_size], ys[lo : lo + batch_size]
        optimizer.zero_grad(set_to_none=True)
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * xb.shape[0]
        correct += int((out.argmax(dim=1) == yb).sum())
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "loss": total_loss / n, "train_accuracy": correct / n}


def time_torch_inference(model: Any, x: Any, *, batch_size: int = INFERENCE_BATCH_SIZE) -> float:
    """Wall time of a batched forward pass over ``x`` under ``torch.inference_mode()``."""
    if torch is None:
        raise RuntimeError("PyTorch is not installed")
    x = torch.as_tensor(x)
    model.eval()
    start = time.perf_counter()
    with torch.inference_mode():
        logits = torch.cat([model(x[lo : lo + batch_size]) for lo in range(0, x.shape[0], batch_size)])
    seconds = time.perf_counter() - start
    assert tuple(logits.shape) == (x.shape[0], ARCHITECTURE[-1])
    return seconds


def torch_accuracy(model: Any, x: Any, y: Any, *, batch_size: int = INFERENCE_BATCH_SIZE) -> float:
    """Test accuracy of the PyTorch model (untimed)."""
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    model.eval()
    correct = 0
    with torch.inference_mode():
        for lo in range(0, x.shape[0], batch_size):
            correct += int((model(x[lo : lo + batch_size]).argmax(dim=1) == y[lo : lo + batch_size]).sum())
    return correct / x.shape[0]


# --------------------------------------------------------------------------- protocol


def _settle(pause: float) -> None:
    gc.collect()
    if pause > 0:
        time.sleep(pause)


def _summary(values: list[float]) -> dict[str, Any]:
    return {
        "all": values,
        "median": statistics.median(values) if values else None,
        "min": min(values) if values else None,
        "max": max(values) if values else None,
    }


def run_benchmark(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    repeats: int = 5,
    epochs_warmup: int = 1,
    with_torch: bool = True,
    seed: int = 0,
    pause: float = PAUSE_SECONDS,
    log: Callable[[str], None] = print,
    model: str = "mlp",
    profile_rows: int = 0,
    torch_fused_adam: bool = False,
) -> dict[str, Any]:
    """Warm up, then time ``repeats`` interleaved rounds; return the raw times and their summaries.

    The result holds, per framework (``"rpnumpy"``, ``"torch"``): ``train_seconds``
    and ``inference_seconds`` (``all``/``median``/``min``/``max``), the
    per-epoch ``train_loss`` and ``test_accuracy``, the final
    ``test_accuracy`` and ``epochs``, and ``others_cpu_share``: for each timed
    training epoch, the fraction of the machine's CPU capacity that *other*
    processes used meanwhile (None where it cannot be measured), and
    ``load_average`` (``os.getloadavg()`` after each timed epoch); ``ratio``
    with ``train`` and ``inference`` (rpnumpy/PyTorch medians, None without
    PyTorch) and ``paired_ratio`` (the median over rounds of each round's
    rpnumpy/PyTorch ratio); ``matmul_flops`` (see :func:`model_matmul_flops`) of a training
    epoch and of an inference pass; and, with ``profile_rows > 0``,
    ``rpnumpy_profile``: one more rpnumpy epoch under cProfile (untimed), its
    ``profile_rows`` most expensive functions by own time.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if epochs_warmup < 0:
        raise ValueError(f"epochs_warmup must be >= 0, got {epochs_warmup}")
    with_torch = with_torch and torch is not None

    _check_model(model)
    rp_model, rp_opt = build_rpnumpy_model(seed, model)
    runners: dict[str, dict[str, Callable[..., Any]]] = {
        "rpnumpy": {
            "epoch": lambda r: time_rpnumpy_epoch(rp_model, rp_opt, x_train, y_train, rng=r),
            "infer": lambda: time_rpnumpy_inference(rp_model, x_test),
            "accuracy": lambda: evaluate(rp_model, x_test, y_test)["accuracy"],
        }
    }
    if with_torch:
        t_model, t_opt = build_torch_model(seed, model, fused_adam=torch_fused_adam)
        tx_train, ty_train = torch.from_numpy(x_train), torch.from_numpy(y_train)
        tx_test, ty_test = torch.from_numpy(x_test), torch.from_numpy(y_test)
        runners["torch"] = {
            "epoch": lambda r: time_torch_epoch(t_model, t_opt, tx_train, ty_train, rng=r),
            "infer": lambda: time_torch_inference(t_model, tx_test),
            "accuracy": lambda: torch_accuracy(t_model, tx_test, ty_test),
        }
    record = {
        name: {"train_seconds": [], "inference_seconds": [], "train_loss": [], "test_accuracy": [],
               "others_cpu_share": [], "load_average": []}
        for name in runners
    }

    def one_epoch(name: str, epoch: int, timed: bool) -> None:
        run, rec = runners[name], record[name]
        if timed:
            _settle(pause)
        clock = _cpu_clock()
        result = run["epoch"](seed + epoch)
        others = _others_share(clock)
        if timed:
            _settle(pause)
        infer_seconds = run["infer"]()
        rec["train_loss"].append(result["loss"])
        rec["test_accuracy"].append(run["accuracy"]())
        if timed:
            rec["train_seconds"].append(result["seconds"])
            rec["inference_seconds"].append(infer_seconds)
            rec["others_cpu_share"].append(others)
            rec["load_average"].append(_load_average())
        log(
            f"  {'timed' if timed else 'warm-up'} epoch {epoch + 1} {name:<8} "
            f"train {result['seconds']:8.3f} s   "
            f"inference {infer_seconds * 1e3:8.1f} ms   loss {result['loss']:.4f}   "
            f"test acc {rec['test_accuracy'][-1]:.4f}"
            + ("" if others is None else f"   other processes {others:4.0%} of the CPUs")
        )

    for epoch in range(epochs_warmup + repeats):
        for name in runners:  # always the same order: rpnumpy, torch, rpnumpy, torch, ...
            one_epoch(name, epoch, timed=epoch >= epochs_warmup)

    results: dict[str, Any] = {}
    for name, rec in record.items():
        results[name] = {
            "train_seconds": _summary(rec["train_seconds"]),
            "inference_seconds": _summary(rec["inference_seconds"]),
            "train_loss": rec["train_loss"],
            "test_accuracy_per_epoch": rec["test_accuracy"],
            "test_accuracy": rec["test_accuracy"][-1],
            "epochs": len(rec["train_loss"]),
            "others_cpu_share": rec["others_cpu_share"],
            "load_average": rec["load_average"],
        }
    results["matmul_flops"] = {
        "train_epoch": model_matmul_flops(rp_model) * int(x_train.shape[0]),
        "inference": model_matmul_flops(rp_model, train=False) * int(x_test.shape[0]),
    }
    if profile_rows:
        results["rpnumpy_profile"] = profile_rpnumpy_epoch(rp_model, rp_opt, x_train, y_train, rows=profile_rows)
    if not with_torch:
        results["torch"] = None
    if with_torch:
        rp, tc = results["rpnumpy"], results["torch"]
        results["ratio"] = {
            "train": rp["train_seconds"]["median"] / tc["train_seconds"]["median"],
            "inference": rp["inference_seconds"]["median"] / tc["inference_seconds"]["median"],
        }
        # Each round's rpnumpy run and the PyTorch run right after it see nearly the same machine, so the
        # median of the per-round ratios resists a slow drift of the machine's speed better.
        results["paired_ratio"] = {
            key: statistics.median(a / b for a, b in zip(rp[f"{key}_seconds"]["all"], tc[f"{key}_seconds"]["all"]))
            for key in ("train", "inference")
        }
    else:
        results["ratio"] = {"train": None, "inference": None}
        results["paired_ratio"] = {"train": None, "inference": None}
    return results


# --------------------------------------------------------------------------- report


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "n/a"
    return f"{s:.3f} s" if s >= 1 else f"{s * 1e3:.1f} ms"


def format_report(report: dict[str, Any]) -> str:
    """The human-readable table and machine context for ``main``'s result."""
    cfg, res, mach = report["config"], report["results"], report["machine"]
    rp, tc, ratio = res["rpnumpy"], res["torch"], res["ratio"]

    def cell(fw: dict | None, key: str, stat: str = "median", suffix: str = "") -> str:
        return "n/a" if fw is None else _fmt_seconds(fw[key][stat]) + suffix

    def ratio_cell(r: float | None) -> str:
        return "unavailable" if r is None else f"{r:.2f}"

    lines = [
        f"{cfg['description']} (float32, Adam lr={cfg['lr']:g}, softmax cross-entropy), "
        f"data: {cfg['data']}",
        f"train: one epoch over {cfg['n_train']:,} images, batch {cfg['batch_size']}; inference: "
        f"{cfg['n_test']:,} images, batch {cfg['inference_batch_size']}",
        f"{cfg['epochs_warmup']} warm-up epoch(s) excluded; {cfg['repeats']} timed rounds, interleaved; "
        f"threads: {cfg['threads']} (numpy's BLAS{'' if tc is None else ' and torch'})",
        "",
        f"{'':<26}{'rpnumpy':>14}{'PyTorch':>14}{'rpnumpy/PyTorch':>18}",
        f"{'train epoch, median':<26}{cell(rp, 'train_seconds'):>14}{cell(tc, 'train_seconds'):>14}"
        f"{ratio_cell(ratio['train']):>18}",
        f"{'  min .. max':<26}"
        f"{cell(rp, 'train_seconds', 'min', ' ..'):>14}{cell(tc, 'train_seconds', 'min', ' ..'):>14}",
        f"{'':<26}{cell(rp, 'train_seconds', 'max'):>14}{cell(tc, 'train_seconds', 'max'):>14}",
        f"{'inference, median':<26}{cell(rp, 'inference_seconds'):>14}{cell(tc, 'inference_seconds'):>14}"
        f"{ratio_cell(ratio['inference']):>18}",
        f"{'  min .. max':<26}"
        f"{cell(rp, 'inference_seconds', 'min', ' ..'):>14}"
        f"{cell(tc, 'inference_seconds', 'min', ' ..'):>14}",
        f"{'':<26}{cell(rp, 'inference_seconds', 'max'):>14}{cell(tc, 'inference_seconds', 'max'):>14}",
        f"{'test accuracy, 1st epoch':<26}{rp['test_accuracy_per_epoch'][0]:>14.4f}"
        f"{'n/a' if tc is None else format(tc['test_accuracy_per_epoch'][0], '.4f'):>14}",
        f"{'test accuracy, final':<26}{rp['test_accuracy']:>14.4f}"
        f"{'n/a' if tc is None else format(tc['test_accuracy'], '.4f'):>14}"
        f"{'(after ' + str(rp['epochs']) + ' epochs)':>18}",
    ]
    if tc is None:
        lines.append("PyTorch is not installed: rpnumpy was timed alone, the ratios are unavailable.")
    flops, peak = res["matmul_flops"], report.get("peak")
    lines.append(
        f"matrix-product FLOPs: {flops['train_epoch'] / 1e9:.2f} GFLOP per training epoch (forward and backward), "
        f"{flops['inference'] / 1e9:.2f} GFLOP per inference pass"
    )
    if peak is not None:
        fractions = res["peak_fraction"]
        parts = [f"{name} {fractions[name]:.0%}" for name in ("rpnumpy", "torch") if fractions.get(name) is not None]
        lines.append(
            f"float32 matmul peak {peak['peak_gflops']:.0f} GFLOP/s ({peak['source']}); training at "
            + ", ".join(parts) + " of it"
        )
    blas, t = mach["numpy_blas"], mach["torch"]
    lines += [
        "",
        f"date (UTC):   {mach['date_utc']}",
        f"CPU:          {mach['cpu_model']} (family/model/stepping {mach['cpu_family_model_stepping']}; "
        f"{', '.join(mach['cpu_simd'])})",
        f"cores:        {mach['logical_cpus']} logical, {mach['usable_cpus']} usable by this process",
        f"python:       {mach['python']} on {mach['platform']}",
        f"numpy:        {mach['numpy']}, BLAS {blas['library']} {blas['version']}, "
        f"{blas['threads']} thread(s), "
        f"kernel {blas['architecture']} (via {blas['source']})",
        "torch:        "
        + ("not installed" if t is None else f"{t['version']}, BLAS {t['blas']}, {t['threads']} thread(s), "
           f"CPU capability {t['cpu_capability']}"),
        f"rpnumpy:      {mach['rpnumpy']}",
    ]
    load = [mach.get("load_average_before"), mach.get("load_average_after")]
    if load[0] is not None and load[1] is not None:
        lines.append(f"load average: {load[0]} before, {load[1]} after (1, 5, 15 min)")
    shares = {
        name: [v for v in fw["others_cpu_share"] if v is not None]
        for name, fw in (("rpnumpy", rp), ("PyTorch", tc)) if fw is not None
    }
    if all(shares.values()):
        lines.append(
            "other procs:  share of the CPUs used by other processes during the timed epochs: "
            + ", ".join(f"{name} median {statistics.median(v):.0%} max {max(v):.0%}"
                        for name, v in shares.items())
        )
        if max(max(v) for v in shares.values()) > NOISY_SHARE:
            lines.append(
                "warning:      other processes competed for the CPUs during timed runs: these times are "
                "unreliable; rerun on a quiet machine"
            )
    env = mach["env"]
    if "OPENBLAS_CORETYPE" in env:
        lines.append(
            f"note:         OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} is set (left unchanged); "
            "it can force OpenBLAS onto a slower kernel than this CPU supports"
        )
    other = {k: v for k, v in env.items() if k != "OPENBLAS_CORETYPE"}
    if other:
        lines.append("env:          " + ", ".join(f"{k}={v}" for k, v in other.items()))
    sanity = report["sanity"]
    if not sanity["checked"]:
        lines.append("sanity check: not applied (only meaningful on the full MNIST data)")
    elif not sanity["problems"]:
        lines.append(f"sanity check: passed (every final test accuracy > {sanity['threshold']})")
    for problem in sanity["problems"]:
        lines.append(f"SANITY CHECK FAILED: {problem}")
    return "\n".join(lines)


def _sanity(results: dict[str, Any], data: str, n_train: int, n_test: int) -> dict[str, Any]:
    checked = data == "mnist" and n_train >= 60000 and n_test >= 10000
    problems = []
    if checked:
        for name in ("rpnumpy", "torch"):
            if results.get(name) is not None and not results[name]["test_accuracy"] > SANITY_ACCURACY:
                problems.append(
                    f"{name} reached only {results[name]['test_accuracy']:.4f} test accuracy "
                    f"(expected > {SANITY_ACCURACY})"
                )
    return {"checked": checked, "threshold": SANITY_ACCURACY, "problems": problems}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time one training epoch and one inference pass of a 784-256-10 MLP "
        "in rpnumpy and in PyTorch.",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--epochs-warmup", type=int, default=1, help="untimed warm-up epochs (default 1)")
    parser.add_argument("--n-train", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--n-test", type=int, default=None,
                        help="use only the first N test images for inference (default: all 10,000)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="also write the results as JSON")
    parser.add_argument("--threads", type=int, default=None, metavar="K",
                        help="threads for numpy's BLAS and torch (default: what numpy's BLAS uses)")
    parser.add_argument("--synthetic", action="store_true",
                        help="random data of MNIST's shapes instead of MNIST (smoke tests)")
    parser.add_argument("--no-torch", action="store_true", help="time rpnumpy alone")
    parser.add_argument("--model", choices=sorted(MODELS), default="mlp",
                        help="; ".join(f"{name}: {spec.description}" for name, spec in MODELS.items())
                        + " (default: mlp)")
    peak = parser.add_mutually_exclusive_group()
    peak.add_argument("--peak-gflops", type=float, default=None, metavar="G",
                      help="float32 matmul peak to report the training FLOP rate against (GFLOP/s)")
    peak.add_argument("--measure-peak", action="store_true",
                      help="measure the float32 matmul peak first (bench_peak.py, square 2048-4096)")
    parser.add_argument("--torch-fused-adam", action="store_true",
                        help="give PyTorch its fused Adam kernel (fused=True) instead of its default implementation")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                      help="also profile one more rpnumpy epoch (cProfile) and keep its N top functions")
    parser.add_argument("--pause", type=float, default=PAUSE_SECONDS,
                        help=f"seconds to wait before each timed run (default {PAUSE_SECONDS})")
    parser.add_argument("--quiet", action="store_true", help="print only the final table")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.epochs_warmup < 0:
        parser.error("--epochs-warmup must be >= 0")
    if args.n_train is not None and args.n_train < 1:
        parser.error("--n-train must be >= 1")
    if args.n_test is not None and args.n_test < 1:
        parser.error("--n-test must be >= 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.peak_gflops is not None and not args.peak_gflops > 0:
        parser.error("--peak-gflops must be > 0")
    if args.profile < 0:
        parser.error("--profile must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line; return the exit status (1 only if the sanity check fails)."""
    args = _parse_args(argv)
    log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, flush=True))
    if torch is None:
        print("PyTorch is not installed (import torch failed): timing rpnumpy alone; "
              "the rpnumpy/PyTorch ratios will be reported as unavailable.", flush=True)
    threads = configure_threads(args.threads)
    load_before = _load_average()
    if "OPENBLAS_CORETYPE" in os.environ:
        log(f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} is set; leaving it unchanged.")

    peak = None
    if args.peak_gflops is not None:
        peak = {"peak_gflops": args.peak_gflops, "source": "given with --peak-gflops"}
    elif args.measure_peak:
        if str(Path(__file__).resolve().parent) not in sys.path:  # the sibling script, also when imported by path
            sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_peak import measure_matmul_peak

        peak = {**measure_matmul_peak(), "source": "measured in this process"}
        log(f"float32 matmul peak: {peak['peak_gflops']:.1f} GFLOP/s")
    (x_train, y_train, x_test, y_test), data = load_data(args.n_train, args.n_test, synthetic=args.synthetic)
    log(f"data: {data}, {x_train.shape[0]:,} training and {x_test.shape[0]:,} test images; "
        f"threads: {threads}")
    results = run_benchmark(
        x_train, y_train, x_test, y_test,
        repeats=args.repeats, epochs_warmup=args.epochs_warmup, with_torch=not args.no_torch,
        pause=args.pause, log=log, model=args.model, profile_rows=args.profile, torch_fused_adam=args.torch_fused_adam,
    )
    results["peak_fraction"] = peak_fractions(results, None if peak is None else peak["peak_gflops"])
    report = {
        "benchmark": "bench_mlp",
        "config": {
            "model": args.model,
            "description": MODELS[args.model].description,
            "dtype": "float32",
            "optimizer": "adam",
            "lr": MODELS[args.model].lr,
            "torch_adam": "fused=True" if args.torch_fused_adam else "default",
            "batch_size": BATCH_SIZE,
            "inference_batch_size": INFERENCE_BATCH_SIZE,
            "n_train": int(x_train.shape[0]),
            "n_test": int(x_test.shape[0]),
            "data": data,
            "repeats": args.repeats,
            "epochs_warmup": args.epochs_warmup,
            "threads": threads,
            "interleaved": True,
            "pause_seconds": args.pause,
            "torch_available": torch is not None,
            "command": "python benchmarks/bench_mlp.py " + " ".join(sys.argv[1:] if argv is None else argv),
        },
        "machine": {
            **machine_info(with_torch=torch is not None),
            "load_average_before": load_before,
            "load_average_after": _load_average(),
        },
        "results": results,
        "peak": peak,
        "sanity": _sanity(results, data, int(x_train.shape[0]), int(x_test.shape[0])),
    }
    print()
    print(format_report(report), flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 1 if report["sanity"]["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
