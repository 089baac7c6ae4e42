r"""Chapter 'snnk': universal random features, SNNK layers and fully bundled networks.

Sehanobish, Choromanski et al., "Scalable Neural Network Kernels" (ICLR 2024, arXiv:2310.13225).
What the paper claims is quoted as the paper's; every number in this chapter is
measured here (float64 for the kernel study, float32 for the networks). The
derivations are in :mod:`rpnumpy.features`. Two tables of reference values,
computed with an independent NumPy implementation of the same protocols (not
taken from the paper, whose tables are not available), are stored in this
module for comparison: :data:`REFERENCE_MSE` and :data:`TOY_REFERENCE`.

Three experiments:

1. **Point-wise kernel estimation**: the MSE of
   :math:`\Phi(x)^\top\Psi(w, b)` against :math:`f(w^\top x + b)` (the arc-cosine
   kernel for relu) as a function of the number of random directions ``m``, for
   i.i.d. and orthogonal draws, against the reference table.
2. **SNNK hidden layer on MNIST / Fashion-MNIST**: the 784-256-10 MLP with its
   hidden ``Dense + ReLU`` replaced by ``SNNK(784 → 256, m)`` (as the paper's
   code replaces ``Linear + GELU``), trained with the dense MLP's recipe;
   accuracy and trainable parameters.
3. **Fully bundled networks** :math:`\hat y = V z(x) + c`: closed-form ridge fit
   against Adam on the same fixed features, on synthetic regression and on
   MNIST with one-hot targets (wall-clock time to equal test loss).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..bundling import FullyBundledNetwork, one_hot
from ..features import FEATURE_MAPS, random_feature_tower
from ..layers import Dense
from ..losses import MeanSquaredError
from ..models import mnist_mlp, snnk_mlp
from ..optim import Adam
from ..training import fit
from .foundations import MLP_EPOCHS, MLP_LR
from .half import DATASETS, Runner, summarize
from .report import RunContext, chapter

# -- 1. kernel estimation -------------------------------------------------------------
KERNEL_MS = (16, 64, 256, 1024, 4096)
#: (d, r): input dimension and the norm of every x and w.
KERNEL_CELLS = ((8, 0.5), (8, 1.0), (32, 0.5), (32, 1.0))
KERNEL_POINTS = 20  # 20 x and 20 (w, b): 400 pairs
KERNEL_REDRAWS = 50
DRAWS = ("iid", "orthogonal")

#: Reference MSEs from an independent NumPy implementation of the same protocol (float64, M = 0, 400 pairs,
#: 50 redraws of G), m = 16 / 64 / 256 / 1024. Not taken from the paper.
REFERENCE_MSE: dict[tuple[int, float, str], dict[str, tuple[float, ...]]] = {
    (8, 0.5, "cos"): {"iid": (2.0e-2, 4.8e-3, 1.2e-3, 3.1e-4), "orthogonal": (1.6e-2, 4.7e-3, 1.0e-3, 2.6e-4)},
    (8, 0.5, "relu"): {"iid": (1.1e-3, 2.7e-4, 6.7e-5, 1.7e-5), "orthogonal": (7.9e-4, 2.1e-4, 4.5e-5, 1.2e-5)},
    (8, 0.5, "exp"): {"iid": (6.0e-2, 1.6e-2, 3.8e-3, 1.0e-3), "orthogonal": (5.8e-2, 1.3e-2, 3.7e-3, 8.7e-4)},
    (8, 1.0, "cos"): {"iid": (2.0e-1, 4.0e-2, 1.2e-2, 2.9e-3), "orthogonal": (1.3e-1, 3.6e-2, 9.2e-3, 2.3e-3)},
    (32, 0.5, "cos"): {"iid": (2.2e-2, 4.9e-3, 1.3e-3, 3.2e-4), "orthogonal": (1.8e-2, 4.1e-3, 9.5e-4, 2.4e-4)},
    (32, 0.5, "sin"): {"iid": (2.0e-2, 5.2e-3, 1.3e-3, 3.4e-4), "orthogonal": (1.8e-2, 4.1e-3, 1.1e-3, 2.5e-4)},
    (32, 0.5, "relu"): {"iid": (9.6e-4, 2.2e-4, 5.8e-5, 1.5e-5), "orthogonal": (7.6e-4, 1.5e-4, 3.9e-5, 9.5e-6)},
    (32, 1.0, "cos"): {"iid": (1.8e-1, 4.9e-2, 1.3e-2, 3.1e-3), "orthogonal": (1.7e-1, 3.4e-2, 8.8e-3, 2.1e-3)},
    (32, 1.0, "exp"): {"iid": (5.8e-1, 1.5e-1, 4.3e-2, 1.0e-2), "orthogonal": (1.0e0, 9.0e-2, 3.5e-2, 7.5e-3)},
}
REFERENCE_MS = (16, 64, 256, 1024)


def kernel_points(d: int, r: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """20 inputs and 20 weights of norm exactly ``r`` (uniform directions) and biases b ~ U(-1, 1)."""
    gen = np.random.default_rng(seed)
    x = gen.standard_normal((KERNEL_POINTS, d))
    w = gen.standard_normal((KERNEL_POINTS, d))
    x *= r / np.linalg.norm(x, axis=1, keepdims=True)
    w *= r / np.linalg.norm(w, axis=1, keepdims=True)
    return x, w, gen.uniform(-1.0, 1.0, KERNEL_POINTS)


def kernel_mse(activation: str, d: int, r: float, m: int, draws: str, redraws: int, seed: int) -> dict[str, float]:
    """MSE of the estimate over 400 (x, w) pairs and ``redraws`` independent draws of G, and the i.i.d. prediction.

    The estimator is unbiased, so its MSE is its variance: ``predicted`` is the
    mean over the pairs of the tower's :meth:`~rpnumpy.features.RandomFeatureTower.predicted_variance`.
    """
    x, w, b = kernel_points(d, r, seed)
    bias = None if activation == "relu" else b  # the ReLU tower has no bias
    seeds = np.random.default_rng([seed, m, DRAWS.index(draws), FEATURE_MAPS.index(activation)])
    errors, target = [], None
    for _ in range(redraws):
        tower = random_feature_tower(activation, d, m, draws=draws, rng=seeds)
        if target is None:  # f(w^T x + b) does not depend on G: computed once, from the first draw's tower
            target = tower.target(x, w, bias)
        errors.append(np.mean((tower.estimate(x, w, bias) - target) ** 2))
    return {"mse": float(np.mean(errors)), "predicted": float(np.mean(tower.predicted_variance(x, w, bias)))}


def loglog_slope(ms: tuple[int, ...], values: list[float]) -> float:
    """Least-squares slope of log(value) against log(m)."""
    return float(np.polyfit(np.log(ms), np.log(values), 1)[0])


def kernel_study(ms: tuple[int, ...], cells: tuple, redraws: int, seed: int) -> dict[str, Any]:
    """The MSE-against-m curves for every cell, activation and kind of draws (gaussian skipped where r^2 >= 1/2)."""
    curves: dict[str, Any] = {}
    for d, r in cells:
        for activation in FEATURE_MAPS:
            if activation == "gaussian" and r * r >= 0.5:
                continue  # infinite variance (and for r >= 1 no mean): nothing to measure
            for draws in DRAWS:
                points = [kernel_mse(activation, d, r, m, draws, redraws, seed + d) for m in ms]
                curves[f"d={d} r={r} {activation} {draws}"] = {
                    "d": d, "r": r, "activation": activation, "draws": draws, "ms": list(ms),
                    "mse": [p["mse"] for p in points], "predicted_iid": [p["predicted"] for p in points],
                    "slope": loglog_slope(ms, [p["mse"] for p in points]),
                }
    return curves


def reference_comparison(curves: dict[str, Any]) -> list[dict[str, Any]]:
    """Our MSE over the reference table's, cell by cell (only the cells we measured)."""
    rows = []
    for (d, r, activation), by_draws in REFERENCE_MSE.items():
        for draws, reference in by_draws.items():
            curve = curves.get(f"d={d} r={r} {activation} {draws}")
            if curve is None:
                continue
            ours = [curve["mse"][curve["ms"].index(m)] for m in REFERENCE_MS if m in curve["ms"]]
            ratios = [o / ref for o, ref in zip(ours, reference)]
            rows.append({"d": d, "r": r, "activation": activation, "draws": draws, "ours": ours,
                         "reference": list(reference[:len(ours)]), "ratios": ratios})
    return rows


# -- 2. SNNK layers on MNIST ------------------------------------------------------------
#: The tower widths tried: relu (D = m) and cos (D = 2m), so both sweep D = 16 ... 512.
SNNK_WIDTHS = {"relu": (16, 64, 256, 512), "cos": (8, 32, 128, 256)}
#: Input norm for the trig towers (our recipe): every image is rescaled to norm 1 by L2Normalize.
TRIG_RADIUS = 1.0
SEEDS = (0, 1, 2)


# -- 3. fully bundled networks ------------------------------------------------------------
#: Ridge penalties tried by the closed form, relative to trace(ZᵀZ)/D, chosen on the last 10% of the training rows.
L2_GRID = (1e-8, 1e-6, 1e-4, 1e-2)
ADAM_LRS = (1e-3, 3e-3, 1e-2)
RACE_BATCH = 128
#: The reference toy run (the same independent implementation): ridge 1e-3, test MSE for m = 64 / 256 / 1024.
TOY_REFERENCE = {"cos": (0.046, 0.033, 0.010), "relu": (0.038, 0.029, 0.037), "relu-relu": (0.065, 0.024, 0.018)}
TOY_VARIANCE = 0.284  # the reference run's var(y_test); our teacher's differs, so MSEs are also shown divided by it
TOY_TOWERS = {"cos": ["cos"], "relu": ["relu"], "relu-relu": ["relu", "relu"]}


def teacher_task(n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, ...]:
    r"""The reference toy run's teacher: :math:`y = \sum_{j\le 16} v_j \sin(w_j^\top x + b_j) + 0.05\,\epsilon`.

    :math:`d = 8`, :math:`x \sim N(0, I/8)`. The teacher's draws are ours (the
    reference run's are not recorded): :math:`w_j \sim N(0, I_8)`,
    :math:`b_j \sim U(-\pi, \pi)`, :math:`v_j \sim N(0, 1/16)`, always from seed 0;
    ``seed`` drives the samples.
    """
    teacher = np.random.default_rng(0)
    w, b, v = teacher.standard_normal((8, 16)), teacher.uniform(-np.pi, np.pi, 16), teacher.standard_normal(16) / 4
    gen = np.random.default_rng(seed)
    x = gen.standard_normal((n_train + n_test, 8)) / np.sqrt(8)
    y = (np.sin(x @ w + b) @ v + 0.05 * gen.standard_normal(n_train + n_test))[:, None]
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def friedman_task(n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, ...]:
    r"""Friedman #1: :math:`y = 10\sin(\pi x_1x_2) + 20(x_3 - \tfrac12)^2 + 10x_4 + 5x_5 + \epsilon`.

    :math:`x \sim U[0,1]^{10}` (five of the ten inputs are noise), :math:`\epsilon \sim N(0, 1)`.
    Targets standardised with the training mean and standard deviation, so a
    test MSE is the fraction of variance left unexplained.
    """
    gen = np.random.default_rng(seed)
    x = gen.uniform(0.0, 1.0, (n_train + n_test, 10))
    y = (10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2 + 10 * x[:, 3] + 5 * x[:, 4]
         + gen.standard_normal(n_train + n_test))
    mean, std = y[:n_train].mean(), y[:n_train].std()
    y = ((y - mean) / std)[:, None]
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def _mse(prediction: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((prediction.astype(np.float64) - target) ** 2))


def race(build: Callable[[], FullyBundledNetwork], data: tuple[np.ndarray, ...], *, epochs: int,
         lrs: tuple[float, ...] = ADAM_LRS, seed: int = 0, labels: tuple[np.ndarray, ...] | None = None
         ) -> dict[str, Any]:
    """Closed form against Adam on the same fully bundled model: wall-clock time to equal test MSE.

    * Closed form: ``fit_closed_form`` from the raw inputs (features, ZᵀZ and ZᵀY
      in one streaming pass, a solve per candidate penalty of :data:`L2_GRID`
      scored on the last 10% of the training rows, a final solve): all timed.
    * Adam: the training features are computed once (timed, and counted in
      Adam's time), then the head ``V, c`` is trained from a LeCun initialisation,
      batch 128, for ``epochs`` epochs at each rate of ``lrs``. After every epoch
      the test MSE is measured *outside* the clock.
    * "Time to equal loss": Adam's time until its test MSE first reaches the
      closed form's test MSE. If no rate gets there within the budget we
      report its best (lowest test MSE over epochs and rates, and its time)
      and say so. The rate reported is the one that reaches first, or else
      the one with the lowest test MSE.
    """
    x_train, y_train, x_test, y_test = data
    net = build()
    start = time.perf_counter()
    result = net.fit_closed_form(x_train, y_train, l2=L2_GRID, relative=True)
    closed_seconds = time.perf_counter() - start

    start = time.perf_counter()
    z_train = net.features(x_train)
    feature_seconds = time.perf_counter() - start
    z_test = net.features(x_test)
    # The closed form's predictions from these features (untimed): each set's features are computed only once.
    closed_prediction = net.head.forward(z_test)
    closed_test = _mse(closed_prediction, y_test)
    out: dict[str, Any] = {
        "n_train": len(x_train), "n_features": net.tower.n_features, "trainable": net.n_params,
        "closed_seconds": closed_seconds, "closed_test_mse": closed_test,
        "closed_train_mse": _mse(net.head.forward(z_train), y_train), "l2_relative": result.chosen, "l2": result.l2,
    }
    if labels is not None:
        out["closed_test_accuracy"] = float(np.mean(closed_prediction.argmax(1) == labels[1]))
    out["feature_seconds"] = feature_seconds
    runs = {}
    for lr in lrs:
        head = Dense(net.tower.n_features, net.head.d_out, rng=seed, init="lecun", dtype=net.dtype)
        optimizer, gen = Adam(head, lr=lr), np.random.default_rng(seed)
        elapsed, curve = feature_seconds, []
        for _ in range(epochs):
            start = time.perf_counter()
            fit(head, z_train, y_train, loss=MeanSquaredError(), optimizer=optimizer, epochs=1, batch_size=RACE_BATCH,
                rng=gen, progress=False)
            elapsed += time.perf_counter() - start
            prediction = head.forward(z_test)
            curve.append((elapsed, _mse(prediction, y_test)))
        reached = next((i for i, (_, loss) in enumerate(curve) if loss <= closed_test), None)
        best = int(np.argmin([loss for _, loss in curve]))
        run = {"seconds": [t for t, _ in curve], "test_mse": [loss for _, loss in curve],
               "reached_epoch": None if reached is None else reached + 1,
               "reached_seconds": None if reached is None else curve[reached][0],
               "best_epoch": best + 1, "best_seconds": curve[best][0], "best_test_mse": curve[best][1]}
        if labels is not None:
            run["final_test_accuracy"] = float(np.mean(prediction.argmax(1) == labels[1]))  # the last epoch's
        runs[lr] = run
    reaching = [lr for lr in lrs if runs[lr]["reached_seconds"] is not None]
    if reaching:
        chosen = min(reaching, key=lambda lr: runs[lr]["reached_seconds"])
        adam_seconds = runs[chosen]["reached_seconds"]
    else:
        chosen = min(lrs, key=lambda lr: runs[lr]["best_test_mse"])
        adam_seconds = runs[chosen]["best_seconds"]
    out.update({"epochs": epochs, "runs": {str(lr): run for lr, run in runs.items()}, "adam_lr": chosen,
                "adam_reached": bool(reaching), "adam_seconds": adam_seconds,
                "adam_best_test_mse": runs[chosen]["best_test_mse"], "adam_budget_seconds": runs[chosen]["seconds"][-1],
                "time_ratio": adam_seconds / closed_seconds})
    return out


# -- the chapter ----------------------------------------------------------------------------
@chapter("snnk", "SNNK: universal random features, SNNK layers and fully bundled networks")
def run(ctx: RunContext) -> None:
    quick = ctx.quick
    results: dict[str, Any] = {"quick": quick, "seed": ctx.seed}
    ctx.text(
        "Sehanobish, Choromanski et al., *Scalable Neural Network Kernels* (ICLR 2024). The paper's abstract claims "
        "SNNK layers give \"up to 5x reduction in the number of trainable parameters, while maintaining competitive "
        "accuracy\", and that the fully bundled network's optimal parameters \"can be expressed via explicit formulae "
        "for several loss functions (e.g. mean squared error), opening a possibility to bypass backpropagation\". "
        "Its tables are not available; every number below is ours, measured in this run."
        + (" *Quick run: small grids and data subsets — not the published numbers.*" if quick else "")
    )
    _kernel_section(ctx, results, quick)
    _snnk_section(ctx, results, quick)
    _bundled_section(ctx, results, quick)
    ctx.results["snnk"] = results
    (ctx.out_dir / "results_snnk.json").write_text(json.dumps(results, indent=1))


def _fmt(value: float) -> str:
    return f"{value:.1e}"


def _kernel_section(ctx: RunContext, results: dict[str, Any], quick: bool) -> None:
    from matplotlib.figure import Figure

    ms = (16, 64, 256) if quick else KERNEL_MS
    cells = ((8, 0.5),) if quick else KERNEL_CELLS
    redraws = 10 if quick else KERNEL_REDRAWS
    start = time.perf_counter()
    curves = kernel_study(ms, cells, redraws, ctx.seed)
    comparison = reference_comparison(curves)
    seconds = time.perf_counter() - start
    within = [max(ratio, 1 / ratio) <= 2 for row in comparison for ratio in row["ratios"]]
    slopes = [c["slope"] for c in curves.values()]
    results["kernel"] = {"ms": list(ms), "redraws": redraws, "curves": curves, "reference": comparison,
                         "within_factor_2": f"{sum(within)}/{len(within)}", "seconds": seconds}
    ctx.text(
        "### 1. Point-wise kernel estimation: MSE against m\n\n"
        f"Setting (the reference table's protocol): 20 inputs x and 20 weights (w, b) with ‖x‖ = ‖w‖ = r, "
        f"b ~ U(−1, 1) (b = 0 for relu), M = 0; the MSE of Φ(x)ᵀΨ(w, b) against f(wᵀx + b) (the arc-cosine "
        f"kernel for relu), averaged over the 400 pairs and {redraws} independent draws of G; "
        f"m = {', '.join(map(str, ms))}; i.i.d. Gaussian directions or orthogonal blocks (sign-fixed QR, chi "
        f"norms). The gaussian activation is skipped at r = 1 "
        f"(its variance is infinite for ‖x‖² ≥ 1/2). Log-log slopes of MSE against m range from "
        f"{min(slopes):.2f} to {max(slopes):.2f} (1/m is −1). {seconds:.0f} s."
    )
    rows = []
    for key, c in curves.items():
        rows.append([key, *(_fmt(v) for v in c["mse"]), f"{c['slope']:.2f}",
                     _fmt(c["predicted_iid"][-1]) if c["draws"] == "iid" else ""])
    ctx.table(["d, r, f, draws", *(f"m={m}" for m in ms), "slope", f"predicted i.i.d. (m={ms[-1]})"], rows)
    ctx.text(
        f"**Against the reference table** (an independent NumPy implementation of the same protocol, not the "
        f"paper's numbers): {sum(within)} of {len(within)} cells within a factor of 2 (ratio = ours / reference)."
    )
    ctx.table(["d", "r", "f", "draws", "ours", "reference", "ratios"],
              [[row["d"], row["r"], row["activation"], row["draws"], " / ".join(_fmt(v) for v in row["ours"]),
                " / ".join(_fmt(v) for v in row["reference"]), " / ".join(f"{v:.2f}" for v in row["ratios"])]
               for row in comparison])
    fig = Figure(figsize=(5 * len(cells) if len(cells) < 3 else 10, 3.8 if len(cells) < 3 else 7.2),
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(*((1, len(cells)) if len(cells) < 3 else (2, 2)))).ravel()
    for ax, (d, r) in zip(axes, cells):
        for i, activation in enumerate(FEATURE_MAPS):
            for draws, style in zip(DRAWS, ("o-", "s--")):
                curve = curves.get(f"d={d} r={r} {activation} {draws}")
                if curve is not None:
                    ax.plot(ms, curve["mse"], style, color=f"C{i}", markersize=3,
                            label=f"{activation} {draws}" if draws == "iid" else None)
        ax.plot(ms, [2e-1 * 16 / m for m in ms], "k:", linewidth=1, label="∝ 1/m")
        ax.set(xscale="log", yscale="log", xlabel="m", ylabel="MSE", title=f"d = {d}, ‖x‖ = ‖w‖ = {r}")
        ax.legend(fontsize=7)
    ctx.figure(fig, "snnk_kernel_mse", "Kernel-estimation MSE against m; solid: i.i.d., dashed: orthogonal draws.")


def _snnk_section(ctx: RunContext, results: dict[str, Any], quick: bool) -> None:
    from matplotlib.figure import Figure

    seeds = SEEDS[:1] if quick else SEEDS
    epochs = 1 if quick else MLP_EPOCHS
    runner = Runner(ctx, seeds, epochs, (3000, 1000) if quick else None)
    datasets = ("mnist",) if quick else tuple(DATASETS)
    widths = {"relu": (64,), "cos": (32,)} if quick else SNNK_WIDTHS
    builders: dict[str, tuple[Callable, str, int]] = {"dense-256": (lambda seed, data: mnist_mlp(seed), "-", 0)}
    for activation, ms in widths.items():
        for m in ms:
            builders[f"snnk-{activation}-{m}"] = (lambda seed, data, a=activation, m=m: snnk_mlp(a, m, seed),
                                                  activation, m)
    summary: dict[str, dict[str, Any]] = {}
    for name, (build, _, _) in builders.items():
        for dataset in datasets:
            summary.setdefault(name, {})[dataset] = summarize(runner.run(name, dataset, build, lr=MLP_LR))
    dense = summary["dense-256"][datasets[0]]["trainable"]
    results["snnk_layers"] = {"epochs": epochs, "lr": MLP_LR, "seeds": list(seeds), "summary": summary}
    ctx.text(
        "### 2. SNNK layers replacing the hidden layer of an MLP\n\n"
        f"`dense-256` is the 784-256-10 ReLU MLP of the foundation chapter. `snnk-f-m` replaces its hidden "
        f"Dense(784→256)+ReLU by SNNK(784→256, m) with tower f, y = Φ(x)V + b, V trained (D = m for relu, 2m for "
        f"cos), followed by the same Dense(256→10); the trig tower gets every image rescaled to norm "
        f"{TRIG_RADIUS:g} first (L2Normalize, ours: the towers carry e^(‖x‖²/2) and MNIST images have ‖x‖ ≈ 9). "
        f"All trained the same way: Adam lr={MLP_LR:g}, batch 128, float32, {epochs} epoch(s), seeds {list(seeds)}; "
        f"test accuracy mean ± std over seeds."
    )
    rows = []
    for name, (_, activation, m) in builders.items():
        first = summary[name][datasets[0]]
        d_features = "" if m == 0 else str(m if activation == "relu" else 2 * m)
        cells = [f"`{name}`", d_features, f"{first['trainable']:,}", f"{dense / first['trainable']:.1f}x"]
        cells += [f"{100 * summary[name][ds]['test_mean']:.2f} ± {100 * summary[name][ds]['test_std']:.2f}"
                  for ds in datasets]
        rows.append(cells)
    ctx.table(["model", "D", "trainable", "fewer than dense", *(DATASETS[ds] for ds in datasets)], rows)
    for ds in datasets:
        small = [(name, res[ds]) for name, res in summary.items()
                 if name != "dense-256" and res[ds]["trainable"] * 5 <= dense]
        if small:
            name, best = max(small, key=lambda item: item[1]["test_mean"])
            results["snnk_layers"][f"best_at_5x_{ds}"] = {"model": name, **best}
            ctx.text(
                f"**{DATASETS[ds]}, what we measure:** with at least 5x fewer trainable parameters than the dense "
                f"MLP ({dense:,}), the best SNNK model is `{name}` ({best['trainable']:,} parameters): "
                f"{100 * best['test_mean']:.2f}% against the dense MLP's "
                f"{100 * summary['dense-256'][ds]['test_mean']:.2f}%."
            )
    fig = Figure(figsize=(5 * len(datasets), 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(datasets)))
    for ax, ds in zip(axes, datasets):
        for i, activation in enumerate(widths):
            names = [n for n, (_, a, _) in builders.items() if a == activation]
            ax.errorbar([summary[n][ds]["trainable"] for n in names],
                        [100 * summary[n][ds]["test_mean"] for n in names],
                        yerr=[100 * summary[n][ds]["test_std"] for n in names], fmt="o-", color=f"C{i}",
                        label=f"SNNK, {activation} tower")
        ax.plot([dense], [100 * summary["dense-256"][ds]["test_mean"]], "k*", markersize=10, label="dense 784-256-10")
        ax.axvline(dense / 5, color="gray", linestyle=":", linewidth=1, label="5x fewer than dense")
        ax.set(xscale="log", xlabel="trainable parameters", ylabel="test accuracy (%)", title=DATASETS[ds])
        ax.legend(fontsize=7)
    ctx.figure(fig, "snnk_layers", "Test accuracy against trainable parameters: SNNK hidden layers vs the dense MLP.")


def _race_tasks(ctx: RunContext, quick: bool) -> dict[str, dict[str, Any]]:
    """The closed-form-against-Adam tasks: data, model factory, Adam's epoch budget, description."""
    from ..datasets import load_dataset

    def relu_net(d_in: int, d_out: int, m: int, dtype=np.float64) -> Callable[[], FullyBundledNetwork]:
        return lambda: FullyBundledNetwork.build(d_in, d_out, m, "relu", relu_bias=True, rng=ctx.seed, dtype=dtype)

    tasks: dict[str, dict[str, Any]] = {}
    regression = [("teacher", 256)] if quick else [("teacher", 256), ("teacher", 1024), ("friedman1", 1024)]
    for name, m in regression:
        if name == "teacher":
            data, d_in = teacher_task(2000 if quick else 20_000, 500 if quick else 2_000, seed=2), 8
        else:
            data, d_in = friedman_task(20_000, 2_000, seed=3), 10
        tasks[f"{name}-{m}"] = {"data": data, "build": relu_net(d_in, 1, m), "epochs": 10 if quick else 100,
                                "model": f"relu tower, m = {m}"}
    m = 512 if quick else 2048
    for ds in ("mnist",) if quick else tuple(DATASETS):
        x_tr, y_tr, x_te, y_te = load_dataset(ds, ctx.data_dir, download=ctx.download)
        if quick:
            x_tr, y_tr, x_te, y_te = x_tr[:3000], y_tr[:3000], x_te[:1000], y_te[:1000]
        tasks[f"{ds}-{m}"] = {"data": (x_tr, one_hot(y_tr, 10, np.float32), x_te, one_hot(y_te, 10, np.float32)),
                              "labels": (y_tr, y_te), "epochs": 5 if quick else 50,
                              "build": relu_net(784, 10, m, np.float32), "model": f"relu tower, m = {m}"}
    return tasks


def _bundled_section(ctx: RunContext, results: dict[str, Any], quick: bool) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    # 3a. The reference toy run: one tower seed per row in quick mode, three otherwise.
    toy_ms = (64, 256) if quick else (64, 256, 1024)
    tower_seeds = (0,) if quick else (0, 1, 2)
    x_train, y_train, x_test, y_test = teacher_task(2000, 1000, seed=1)
    toy: dict[str, list[float]] = {}
    for name, towers in TOY_TOWERS.items():
        for m in toy_ms:
            errors = []
            for seed in tower_seeds:
                net = FullyBundledNetwork.build(8, 1, m, towers, rng=seed)
                net.fit_closed_form(x_train, y_train, l2=1e-3)
                errors.append(_mse(net.predict(x_test), y_test))
            toy.setdefault(name, []).append(float(np.mean(errors)))
    results["bundled_toy"] = {"ms": list(toy_ms), "test_mse": toy, "var_y_test": float(y_test.var()),
                              "tower_seeds": list(tower_seeds)}
    ctx.text(
        "### 3. Fully bundled networks: ŷ = V z(x) + c with z fixed, fitted in closed form\n\n"
        f"**The reference toy run.** Teacher y = Σ_(j≤16) v_j sin(w_jᵀx + b_j) + 0.05ε, d = 8, x ~ N(0, I/8), "
        f"2,000 training and 1,000 test samples; our teacher draws (w_j ~ N(0, I), b_j ~ U(−π, π), v_j ~ N(0, 1/16)) "
        f"give var(y_test) = {y_test.var():.3f} (the reference run's: 0.284). Ridge λ = 1e-3 (absolute, as in the "
        f"reference run); test MSE averaged over {len(tower_seeds)} tower seed(s). The reference column is the "
        f"independent implementation's own toy run."
    )
    var_test = float(y_test.var())
    ctx.table(["towers", *(f"m={m}: MSE (÷ var)" for m in toy_ms), "reference, m = 64 / 256 / 1024: MSE (÷ 0.284)"],
              [[name, *(f"{v:.3f} ({v / var_test:.3f})" for v in values),
                " / ".join(f"{v:.3f} ({v / TOY_VARIANCE:.3f})" for v in TOY_REFERENCE[name])]
               for name, values in toy.items()])

    # 3b. The race: closed form against Adam on the same model.
    tasks = _race_tasks(ctx, quick)
    lrs = ADAM_LRS[1:2] if quick else ADAM_LRS
    races = {name: race(task["build"], task["data"], epochs=task["epochs"], lrs=lrs, seed=ctx.seed,
                        labels=task.get("labels")) for name, task in tasks.items()}
    results["race"] = races
    ctx.text(
        "**Closed form against Adam on the same model.** Each model is a fully bundled network with one ReLU tower "
        "with a random bias (z = max([x, 1]G, 0)/√m), so its only parameters are V and c. *Closed form*: "
        "`fit_closed_form` from the raw inputs — one streaming pass for ZᵀZ and ZᵀY, ridge λ chosen among "
        f"{', '.join(f'{v:g}' for v in L2_GRID)} × tr(ZᵀZ)/D on the last 10% of the training rows, final Cholesky "
        "solve — all timed. *Adam*: the training features computed once (timed), then V, c trained from a LeCun "
        f"initialisation, batch {RACE_BATCH}, at rates {', '.join(f'{v:g}' for v in lrs)}; the test MSE is "
        "measured after every epoch outside the clock. **Time to equal loss** = Adam's time until its test MSE "
        "first reaches the closed form's test MSE (the fastest rate); when no rate reaches it within the budget, "
        "Adam's time to its own best test MSE is reported instead and marked \"never\" (the best epoch is picked on "
        "the test set, which favours Adam; the time to equal loss is then longer than the whole budget, shown in "
        "brackets). Regression targets are standardised for Friedman #1; MNIST and "
        "Fashion-MNIST use one-hot targets and float32. One run each (seed "
        f"{ctx.seed}), wall-clock on a shared 2-core machine."
    )
    rows = []
    for name, r in races.items():
        reached = ("yes" if r["adam_reached"] else
                   f"never in {r['epochs']} epochs ({r['adam_budget_seconds']:.2f} s)")
        accuracy = (f" ({100 * r['closed_test_accuracy']:.2f}% acc.)" if "closed_test_accuracy" in r else "")
        adam_acc = r["runs"][str(r["adam_lr"])].get("final_test_accuracy")
        ratio = f"{r['time_ratio']:.1f}x"
        if not r["adam_reached"]:
            ratio += f" (> {r['adam_budget_seconds'] / r['closed_seconds']:.1f}x to equal loss)"
        rows.append([name, tasks[name]["model"], f"{r['n_train']:,}", f"{r['trainable']:,}",
                     f"{r['closed_seconds']:.2f} s", f"{r['closed_test_mse']:.4g}{accuracy}",
                     f"{r['adam_seconds']:.2f} s (lr {r['adam_lr']:g})",
                     f"{r['adam_best_test_mse']:.4g}" + (f" ({100 * adam_acc:.2f}% acc. after the last epoch)"
                                                         if adam_acc else ""),
                     reached, ratio])
    ctx.table(["task", "model", "train rows", "trainable", "closed form: time", "closed form: test MSE",
               "Adam: time to equal loss (or to its best)", "Adam: best test MSE", "Adam reached it?",
               "time ratio Adam / closed form"], rows)
    layers = results.get("snnk_layers", {}).get("summary", {})
    for name, r in races.items():
        dataset = name.rsplit("-", 1)[0]
        if "closed_test_accuracy" in r and dataset in layers.get("dense-256", {}):
            dense = layers["dense-256"][dataset]
            ctx.text(
                f"For comparison with section 2 ({DATASETS[dataset]}): the fully bundled `{name}` network, fitted in "
                f"closed form, has {r['trainable']:,} trainable parameters ({dense['trainable'] / r['trainable']:.1f}x "
                f"fewer than the dense MLP) and {100 * r['closed_test_accuracy']:.2f}% test accuracy (one tower seed), "
                f"against the dense MLP's {100 * dense['test_mean']:.2f}%."
            )
    n_cols = min(3, len(races))
    n_rows = -(-len(races) // n_cols)
    fig = Figure(figsize=(4.4 * n_cols, 3.6 * n_rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols)).ravel()
    for ax in axes[len(races):]:
        ax.set_axis_off()
    for ax, (name, r) in zip(axes, races.items()):
        for i, (lr, run) in enumerate(r["runs"].items()):
            ax.plot(run["seconds"], run["test_mse"], "-", color=f"C{i}", label=f"Adam lr {float(lr):g}")
        ax.axhline(r["closed_test_mse"], color="k", linestyle="--", linewidth=1, label="closed form (test MSE)")
        ax.axvline(r["closed_seconds"], color="k", linestyle=":", linewidth=1, label="closed form done")
        ax.set(xscale="log", yscale="log", xlabel="wall-clock seconds", ylabel="test MSE", title=name)
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on axes spanning under a decade
        ax.legend(fontsize=7)
    ctx.figure(fig, "snnk_bundled_race", "Adam's test MSE against wall-clock time (features included), with the "
               "closed form's test MSE (dashed) and its total time (dotted).")
