r"""Where EUGen gets faster than the dense layer it replaces, and what the speed costs in accuracy.

The EUGen paper (Kim et al., "EUGens: Efficient, Unified, and General Dense Layers", NeurIPS 2025,
arXiv:2601.22563) reports "up to 27% faster inference" on large models (the paper's claim, quoted,
not measured here). An EUGen layer of order :math:`k` with :math:`m` features per order replaces
:math:`\mathrm{ReLU}(xW + b)`, :math:`W \in \mathbb R^{d\times d}`, by :math:`y = F(x)A + b`
(:class:`~rpnumpy.layers.EUGen`). Counting multiply-adds per input row (our derivation):

.. math::

    \text{dense: } d^2, \qquad
    \text{EUGen: } \underbrace{(d+2)\,m\,\tfrac{k(k+1)}{2}}_{x_+ G} + \underbrace{(1 + mk)\,d}_{F A}
    \;\overset{k=2}{=}\; (d+2)\,3m + (1+2m)\,d \approx 5md,

so for order 2 the ratio is about :math:`5m/d`: EUGen can only be faster once :math:`d` exceeds
about :math:`5m`, and then by a factor that grows with :math:`d`. This module measures where the
crossover really lies and how large the saving gets.

Protocol (ours)
---------------
* **Timing.** For every :math:`d` in 256 … 8192 and :math:`m` in :data:`MS`: the inference of
  ``Sequential(Dense(d, d), ReLU())`` (its :meth:`~rpnumpy.layers.Layer.inference_function`) against
  ``EUGen(d, d, m, order=2)`` through its fastest inference path
  (:func:`rpnumpy.fast.eugen_inference`), float32, a batch of :data:`BATCH` rows, one BLAS thread
  (reproducible on a shared machine), one warm-up call and then :data:`REPEATS` interleaved timing
  samples of each, a sample being the mean time of as many back-to-back calls as make the dense
  layer's last :data:`MIN_SAMPLE_SECONDS`; the table gives the medians of the samples and their
  ratio, next to the multiply-add ratio above.
* **Accuracy at each point.** The EUGen layer's read-out is fitted in closed form (ridge,
  :func:`rpnumpy.transfer.fit_layer`, float64) to a dense ReLU layer with random He weights
  (:math:`N(0, 2/d)`) and a :math:`N(0, 0.1^2)` bias, on synthetic Gaussian inputs
  :math:`x \sim N(0, I_d)`; the error is the relative MSE :math:`\|\hat Y - Y\|^2/\|Y - \bar Y\|^2` on
  fresh inputs. To keep the fit cheap at large :math:`d`, only :data:`N_OUTPUTS` output units are
  fitted and scored (the ridge problem separates by output column, so this is an unbiased
  subsample of the full layer's error), from :data:`N_FIT` inputs.

A random dense layer on isotropic inputs is the hardest case for any random-feature layer: its
linear part alone spreads over all :math:`d` input directions, of which :math:`m` random features
see about :math:`m/d`. A trained layer on real activations (low effective rank) is easier; see the
layer-approximation experiment (:mod:`rpnumpy.experiments.layer_approximation`). Trained layers at
:math:`d = 8192` are out of reach here.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..layers import Dense, EUGen, ReLU, Sequential
from ..transfer import fit_layer
from ._closer_common import relative_mse, single_blas_thread

__all__ = ["DS", "MS", "PAPER_CLAIM", "render", "run_unit", "units"]

DS = (256, 512, 1024, 2048, 4096, 8192)
MS = (8, 32, 128)
ORDER = 2
BATCH = 256
REPEATS = 7
N_FIT = 4096
N_TEST = 2048
N_OUTPUTS = 256
#: A timing sample lasts at least this long (several calls for the small widths).
MIN_SAMPLE_SECONDS = 0.02
#: The paper's reported inference speed-up: "up to 27% faster inference" (EUGen paper, abstract).
PAPER_CLAIM = 0.27


def units(quick: bool = False) -> list[dict[str, Any]]:
    """One unit per width d (all m inside, timed interleaved). Quick: d = 256, 512, m = 8, 32, small fits."""
    if quick:
        ds, ms, repeats, n_fit, n_test, n_outputs = (256, 512), (8, 32), 3, 512, 256, 32
    else:
        ds, ms, repeats, n_fit, n_test, n_outputs = DS, MS, REPEATS, N_FIT, N_TEST, N_OUTPUTS
    return [{"experiment": "eugen_speed", "d": d, "ms": list(ms), "order": ORDER, "batch": BATCH,
             "repeats": repeats, "seed": 0, "dtype": "float32", "blas_threads": 1,
             "fit": {"n_fit": n_fit, "n_test": n_test, "n_outputs": min(n_outputs, d), "weights": "he-random",
                     "inputs": "gaussian", "l2_relative": 1e-6}}
            for d in ds]


def multiply_adds(d: int, m: int, order: int = ORDER) -> tuple[int, int]:
    """Multiply-adds per input row of Dense(d, d) and of EUGen(d, d, m, order) (see the module docstring)."""
    return d * d, (d + 2) * m * order * (order + 1) // 2 + (1 + m * order) * d


def _timed(run: Any, x: np.ndarray, calls: int) -> float:
    """Seconds per call, averaged over ``calls`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        run(x)
    return (time.perf_counter() - start) / calls


def _timings(config: dict[str, Any]) -> tuple[float, dict[int, float]]:
    d, dtype, seed = config["d"], np.dtype(config["dtype"]), config["seed"]
    x = np.random.default_rng(seed).standard_normal((config["batch"], d)).astype(dtype)
    dense = Sequential(Dense(d, d, rng=seed, dtype=dtype), ReLU()).inference_function()
    eugens = {m: EUGen(d, d, m, config["order"], rng=seed + m, dtype=dtype).inference_function()
              for m in config["ms"]}
    for run in eugens.values():
        run(x)  # warm-up: buffers allocated, pages touched
    # Each timing sample is the mean of enough back-to-back calls of the dense layer to last about
    # MIN_SAMPLE_SECONDS (the same number of calls for every layer), above the clock's and the scheduler's noise.
    calls = max(1, math.ceil(MIN_SAMPLE_SECONDS / _timed(dense, x, 1)))
    dense_times: list[float] = []
    eugen_times: dict[int, list[float]] = {m: [] for m in eugens}
    for _ in range(config["repeats"]):  # interleaved, so that a burst of load on the machine hits all alike
        dense_times.append(_timed(dense, x, calls))
        for m, run in eugens.items():
            eugen_times[m].append(_timed(run, x, calls))
    return float(np.median(dense_times)), {m: float(np.median(t)) for m, t in eugen_times.items()}


def _approximation_errors(config: dict[str, Any]) -> dict[int, float]:
    d, seed, fit = config["d"], config["seed"], config["fit"]
    gen = np.random.default_rng(seed + 1)
    n_out = fit["n_outputs"]
    w = gen.standard_normal((d, n_out)) * math.sqrt(2.0 / d)  # the first n_out columns of a He-initialised W
    b = 0.1 * gen.standard_normal(n_out)
    x_fit = gen.standard_normal((fit["n_fit"], d))
    x_test = gen.standard_normal((fit["n_test"], d))
    y_fit, y_test = np.maximum(x_fit @ w + b, 0), np.maximum(x_test @ w + b, 0)
    errors = {}
    for m in config["ms"]:
        student = EUGen(d, n_out, m, config["order"], rng=seed + m, dtype=np.float64)
        fit_layer(student, x_fit, y_fit, l2_relative=fit["l2_relative"])
        errors[m] = relative_mse(student.inference_function()(x_test), y_test)
    return errors


def run_unit(config: dict[str, Any]) -> dict[str, Any]:
    """Median inference times of Dense + ReLU and EUGen at one width, and EUGen's fitted approximation error."""
    with single_blas_thread():
        dense_seconds, eugen_seconds = _timings(config)
        errors = _approximation_errors(config)
    rows = []
    for m in config["ms"]:
        dense_ops, eugen_ops = multiply_adds(config["d"], m, config["order"])
        rows.append({"m": m, "eugen_seconds": eugen_seconds[m], "time_ratio": eugen_seconds[m] / dense_seconds,
                     "multiply_add_ratio": eugen_ops / dense_ops, "relative_mse": errors[m]})
    return {"d": config["d"], "batch": config["batch"], "dense_seconds": dense_seconds, "eugen": rows}


def _crossover(points: list[tuple[int, float]]) -> str:
    """Where the time ratio first falls below 1, interpolated geometrically between the measured widths."""
    points = sorted(points)
    if points[0][1] < 1:
        return f"below {points[0][0]}"
    for (d0, r0), (d1, r1) in zip(points, points[1:]):
        if r0 >= 1 > r1:
            t = math.log(r0) / (math.log(r0) - math.log(r1))
            return f"≈ {d0 * (d1 / d0) ** t:,.0f}"
    return f"above {points[-1][0]}"


def _series(results: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    series: dict[int, list[dict[str, Any]]] = {}
    for result in sorted(results, key=lambda r: r["d"]):
        for row in result["eugen"]:
            series.setdefault(row["m"], []).append({"d": result["d"], "dense_seconds": result["dense_seconds"], **row})
    return series


def render(results: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The timing and accuracy table, the crossover per m, the largest saving next to the paper's claim, the plot."""
    series = _series(results)
    batch = results[0]["batch"] if results else BATCH
    lines = ["## Where EUGen gets faster (inference, order 2, float32, one BLAS thread)", "",
             f"Median time of one batch of {batch} rows. Ratio = EUGen time / (Dense + ReLU) time (below 1: EUGen "
             "is faster); multiply-add ratio = the operation count's prediction; relative MSE = 1 − R² of the EUGen "
             "layer fitted in closed form to a random dense ReLU layer on Gaussian inputs.", "",
             "| d | Dense + ReLU (ms) | m | EUGen (ms) | time ratio | multiply-add ratio | relative MSE |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for result in sorted(results, key=lambda r: r["d"]):
        for row in result["eugen"]:
            lines.append(f"| {result['d']:,} | {1e3 * result['dense_seconds']:.2f} | {row['m']} | "
                         f"{1e3 * row['eugen_seconds']:.2f} | {row['time_ratio']:.3f} | "
                         f"{row['multiply_add_ratio']:.3f} | {row['relative_mse']:.3f} |")
    lines += ["", "| m | crossover width d (time ratio = 1) | largest measured saving (at d) | relative MSE there |",
              "| ---: | --- | --- | ---: |"]
    best_overall = None
    for m, points in series.items():
        best = min(points, key=lambda p: p["time_ratio"])
        if best_overall is None or best["time_ratio"] < best_overall["time_ratio"]:
            best_overall = best
        saving = 1 - best["time_ratio"]
        lines.append(f"| {m} | {_crossover([(p['d'], p['time_ratio']) for p in points])} | "
                     f"{saving:.1%} (d = {best['d']:,}) | {best['relative_mse']:.3f} |")
    if best_overall is not None:
        lines += ["", f"Largest saving measured: {1 - best_overall['time_ratio']:.1%} of the dense layer's inference "
                  f"time (EUGen {1 / best_overall['time_ratio']:.1f}× faster) at d = {best_overall['d']:,}, "
                  f"m = {best_overall['m']}, where the fitted EUGen layer's relative MSE is "
                  f"{best_overall['relative_mse']:.3f}. The paper's claim: up to {PAPER_CLAIM:.0%} faster inference "
                  f"(on large models, with EUGen layers accurate enough to keep the model's quality)."]
        accurate = [p for points in series.values() for p in points if p["relative_mse"] <= 0.5]
        fast_accurate = [p for p in accurate if p["time_ratio"] < 1]
        if fast_accurate:
            p = min(fast_accurate, key=lambda p: p["time_ratio"])
            lines.append(f"Among the points where the fit explains at least half of the variance (relative MSE ≤ 0.5), "
                         f"the largest saving is {1 - p['time_ratio']:.1%} (d = {p['d']:,}, m = {p['m']}).")
        else:
            lines.append("No measured point is both faster than the dense layer and explains at least half of the "
                         "random dense layer's output variance (relative MSE ≤ 0.5).")
    lines.append("")
    return "\n".join(lines), {"eugen_speed_crossover.png": _plot(series)}


def _plot(series: dict[int, list[dict[str, Any]]]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    ax, ax_err = fig.subplots(1, 2)
    for m, points in series.items():
        d = [p["d"] for p in points]
        line, = ax.plot(d, [p["time_ratio"] for p in points], marker="o", label=f"m = {m} (measured)")
        ax.plot(d, [p["multiply_add_ratio"] for p in points], linestyle=":", color=line.get_color(),
                label=f"m = {m} (multiply-adds)")
        ax_err.plot(d, [p["relative_mse"] for p in points], marker="o", color=line.get_color(), label=f"m = {m}")
    ax.axhline(1.0, color="black", linewidth=1)
    ax.axhline(1 - PAPER_CLAIM, color="grey", linestyle="--", label="the paper's claim: 27% faster")
    for axis in (ax, ax_err):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("width d (Dense d→d)")
        axis.grid(True, which="both", alpha=0.3)
    ax.set_yscale("log")
    ax.set_ylabel("EUGen time / (Dense + ReLU) time")
    ax.set_title("Inference time ratio (below 1: EUGen faster)")
    ax.legend(fontsize=7)
    ax_err.set_ylabel("relative MSE (1 − R²)")
    ax_err.set_title("EUGen fitted to a random dense ReLU layer")
    ax_err.legend(fontsize=7)
    fig.tight_layout()
    return fig
