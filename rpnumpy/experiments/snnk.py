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

Units: one kernel curve (d, r, activation, draws); one training run per (model, data set,
seed); one toy fit per (towers, m); one closed-form-against-Adam race per task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..bundling import FullyBundledNetwork
from ..features import FEATURE_MAPS, random_feature_tower
from ..layers import Dense
from ..losses import MeanSquaredError
from ..optim import Adam
from ..training import fit
from .foundations import MLP_EPOCHS, MLP_LR
from .half import DATASETS, QUICK_SUBSET, by_model, train_configs, train_section
from .report import RunContext, Section, chapter

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
    runs = {lr: _adam_run(net, (z_train, y_train, z_test, y_test), lr=lr, epochs=epochs, seed=seed,
                          start_seconds=feature_seconds, target=closed_test, labels=labels) for lr in lrs}
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


def _adam_run(net: FullyBundledNetwork, features: tuple[np.ndarray, ...], *, lr: float, epochs: int, seed: int,
              start_seconds: float, target: float, labels: tuple[np.ndarray, ...] | None) -> dict[str, Any]:
    """Adam on the head ``V, c`` of ``net`` over precomputed features; the test MSE after every epoch (untimed)."""
    z_train, y_train, z_test, y_test = features
    head = Dense(net.tower.n_features, net.head.d_out, rng=seed, init="lecun", dtype=net.dtype)
    optimizer, gen = Adam(head, lr=lr), np.random.default_rng(seed)
    elapsed, curve = start_seconds, []
    for _ in range(epochs):
        start = time.perf_counter()
        fit(head, z_train, y_train, loss=MeanSquaredError(), optimizer=optimizer, epochs=1, batch_size=RACE_BATCH,
            rng=gen, progress=False)
        elapsed += time.perf_counter() - start
        prediction = head.forward(z_test)
        curve.append((elapsed, _mse(prediction, y_test)))
    reached = next((i for i, (_, loss) in enumerate(curve) if loss <= target), None)
    best = int(np.argmin([loss for _, loss in curve]))
    run = {"seconds": [t for t, _ in curve], "test_mse": [loss for _, loss in curve],
           "reached_epoch": None if reached is None else reached + 1,
           "reached_seconds": None if reached is None else curve[reached][0],
           "best_epoch": best + 1, "best_seconds": curve[best][0], "best_test_mse": curve[best][1]}
    if labels is not None:
        run["final_test_accuracy"] = float(np.mean(prediction.argmax(1) == labels[1]))  # the last epoch's
    return run


# -- the chapter ----------------------------------------------------------------------------
def _intro(ctx: RunContext) -> None:
    ctx.results["snnk"] = {"quick": ctx.quick, "seed": 0}
    ctx.text(
        "Sehanobish, Choromanski et al., *Scalable Neural Network Kernels* (ICLR 2024). The paper's abstract claims "
        "SNNK layers give \"up to 5x reduction in the number of trainable parameters, while maintaining competitive "
        "accuracy\", and that the fully bundled network's optimal parameters \"can be expressed via explicit formulae "
        "for several loss functions (e.g. mean squared error), opening a possibility to bypass backpropagation\". "
        "Its tables are not available; every number below is ours, measured in this run."
        + (" *Quick run: small grids and data subsets — not the published numbers.*" if ctx.quick else "")
    )


def _fmt(value: float) -> str:
    return f"{value:.1e}"


# -- 1. kernel estimation: one unit per curve ---------------------------------------------------------------------
def kernel_units(quick: bool) -> list[dict[str, Any]]:
    ms = [16, 64, 256] if quick else list(KERNEL_MS)
    cells = ((8, 0.5),) if quick else KERNEL_CELLS
    redraws = 10 if quick else KERNEL_REDRAWS
    return [{"d": d, "r": r, "activation": activation, "draws": draws, "ms": ms, "redraws": redraws, "seed": 0}
            for d, r in cells for activation in FEATURE_MAPS for draws in DRAWS
            if not (activation == "gaussian" and r * r >= 0.5)]  # infinite variance (no mean for r >= 1)


def kernel_unit(config: dict[str, Any]) -> dict[str, Any]:
    """One MSE-against-m curve (see :func:`kernel_mse`; the seed of every point is ``seed + d``)."""
    d, r, activation, draws = config["d"], config["r"], config["activation"], config["draws"]
    points = [kernel_mse(activation, d, r, m, draws, config["redraws"], config["seed"] + d) for m in config["ms"]]
    return {"mse": [p["mse"] for p in points], "predicted_iid": [p["predicted"] for p in points]}


def kernel_render(ctx: RunContext, results: list) -> None:
    curves = {f"d={c['d']} r={c['r']} {c['activation']} {c['draws']}": {
        "d": c["d"], "r": c["r"], "activation": c["activation"], "draws": c["draws"], "ms": c["ms"], **res,
        "slope": loglog_slope(tuple(c["ms"]), res["mse"])} for c, res in results}
    ms, redraws = results[0][0]["ms"], results[0][0]["redraws"]
    comparison = reference_comparison(curves)
    within = [max(ratio, 1 / ratio) <= 2 for row in comparison for ratio in row["ratios"]]
    slopes = [c["slope"] for c in curves.values()]
    ctx.results["snnk"]["kernel"] = {"ms": ms, "redraws": redraws, "curves": curves, "reference": comparison,
                                     "within_factor_2": f"{sum(within)}/{len(within)}"}
    ctx.text(
        "### 1. Point-wise kernel estimation: MSE against m\n\n"
        f"Setting (the reference table's protocol): 20 inputs x and 20 weights (w, b) with ‖x‖ = ‖w‖ = r, "
        f"b ~ U(−1, 1) (b = 0 for relu), M = 0; the MSE of Φ(x)ᵀΨ(w, b) against f(wᵀx + b) (the arc-cosine "
        f"kernel for relu), averaged over the 400 pairs and {redraws} independent draws of G; "
        f"m = {', '.join(map(str, ms))}; i.i.d. Gaussian directions or orthogonal blocks (sign-fixed QR, chi "
        f"norms). The gaussian activation is skipped at r = 1 "
        f"(its variance is infinite for ‖x‖² ≥ 1/2). Log-log slopes of MSE against m range from "
        f"{min(slopes):.2f} to {max(slopes):.2f} (1/m is −1)."
    )
    rows = [[key, *(_fmt(v) for v in c["mse"]), f"{c['slope']:.2f}",
             _fmt(c["predicted_iid"][-1]) if c["draws"] == "iid" else ""] for key, c in curves.items()]
    ctx.table(["d, r, f, draws", *(f"m={m}" for m in ms), "slope", f"predicted i.i.d. (m={ms[-1]})"], rows)
    ctx.text(
        f"**Against the reference table** (an independent NumPy implementation of the same protocol, not the "
        f"paper's numbers): {sum(within)} of {len(within)} cells within a factor of 2 (ratio = ours / reference)."
    )
    ctx.table(["d", "r", "f", "draws", "ours", "reference", "ratios"],
              [[row["d"], row["r"], row["activation"], row["draws"], " / ".join(_fmt(v) for v in row["ours"]),
                " / ".join(_fmt(v) for v in row["reference"]), " / ".join(f"{v:.2f}" for v in row["ratios"])]
               for row in comparison])
    _kernel_figure(ctx, curves, ms)


def _kernel_figure(ctx: RunContext, curves: dict[str, Any], ms: list[int]) -> None:
    from matplotlib.figure import Figure

    cells = list(dict.fromkeys((c["d"], c["r"]) for c in curves.values()))
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


# -- 2. SNNK layers on MNIST: one training run per (model, data set, seed) ----------------------------------------
def _layer_models(quick: bool) -> dict[str, tuple[str, int]]:
    widths = {"relu": (64,), "cos": (32,)} if quick else SNNK_WIDTHS
    models = {"dense-256": ("-", 0)}
    models.update({f"snnk-{activation}-{m}": (activation, m) for activation, ms in widths.items() for m in ms})
    return models


def layer_units(quick: bool) -> list[dict[str, Any]]:
    return train_configs(list(_layer_models(quick)), ("mnist",) if quick else tuple(DATASETS),
                         SEEDS[:1] if quick else SEEDS, epochs=1 if quick else MLP_EPOCHS, lr=MLP_LR,
                         subset=QUICK_SUBSET if quick else None)


def layer_render(ctx: RunContext, results: list) -> None:
    summary = by_model(results)
    models, first = _layer_models(ctx.quick), results[0][0]
    datasets = tuple(dict.fromkeys(c["dataset"] for c, _ in results))
    dense = summary["dense-256"][datasets[0]]["trainable"]
    layers = ctx.results["snnk"]["snnk_layers"] = {"epochs": first["epochs"], "lr": MLP_LR,
                                                   "seeds": sorted({c["seed"] for c, _ in results}), "summary": summary}
    ctx.text(
        "### 2. SNNK layers replacing the hidden layer of an MLP\n\n"
        f"`dense-256` is the 784-256-10 ReLU MLP of the foundation chapter. `snnk-f-m` replaces its hidden "
        f"Dense(784→256)+ReLU by SNNK(784→256, m) with tower f, y = Φ(x)V + b, V trained (D = m for relu, 2m for "
        f"cos), followed by the same Dense(256→10); the trig tower gets every image rescaled to norm "
        f"{TRIG_RADIUS:g} first (L2Normalize, ours: the towers carry e^(‖x‖²/2) and MNIST images have ‖x‖ ≈ 9). "
        f"All trained the same way: Adam lr={MLP_LR:g}, batch 128, float32, {first['epochs']} epoch(s), seeds "
        f"{layers['seeds']}; test accuracy mean ± std over seeds."
    )
    rows = []
    for name, (activation, m) in models.items():
        res = summary[name][datasets[0]]
        d_features = "" if m == 0 else str(m if activation == "relu" else 2 * m)
        rows.append([f"`{name}`", d_features, f"{res['trainable']:,}", f"{dense / res['trainable']:.1f}x",
                     *(f"{100 * summary[name][ds]['test_mean']:.2f} ± {100 * summary[name][ds]['test_std']:.2f}"
                       for ds in datasets)])
    ctx.table(["model", "D", "trainable", "fewer than dense", *(DATASETS[ds] for ds in datasets)], rows)
    for ds in datasets:
        small = [(name, res[ds]) for name, res in summary.items()
                 if name != "dense-256" and res[ds]["trainable"] * 5 <= dense]
        if small:
            name, best = max(small, key=lambda item: item[1]["test_mean"])
            layers[f"best_at_5x_{ds}"] = {"model": name, **best}
            ctx.text(
                f"**{DATASETS[ds]}, what we measure:** with at least 5x fewer trainable parameters than the dense "
                f"MLP ({dense:,}), the best SNNK model is `{name}` ({best['trainable']:,} parameters): "
                f"{100 * best['test_mean']:.2f}% against the dense MLP's "
                f"{100 * summary['dense-256'][ds]['test_mean']:.2f}%."
            )
    _layer_figure(ctx, summary, models, datasets, dense)


def _layer_figure(ctx: RunContext, summary: dict, models: dict, datasets: tuple, dense: int) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5 * len(datasets), 3.6))
    axes = np.atleast_1d(fig.subplots(1, len(datasets)))
    activations = list(dict.fromkeys(a for a, _ in models.values() if a != "-"))
    for ax, ds in zip(axes, datasets):
        for i, activation in enumerate(activations):
            names = [n for n, (a, _) in models.items() if a == activation]
            ax.errorbar([summary[n][ds]["trainable"] for n in names],
                        [100 * summary[n][ds]["test_mean"] for n in names],
                        yerr=[100 * summary[n][ds]["test_std"] for n in names], fmt="o-", color=f"C{i}",
                        label=f"SNNK, {activation} tower")
        ax.plot([dense], [100 * summary["dense-256"][ds]["test_mean"]], "k*", markersize=10, label="dense 784-256-10")
        ax.axvline(dense / 5, color="gray", linestyle=":", linewidth=1, label="5x fewer than dense")
        ax.set(xscale="log", xlabel="trainable parameters", ylabel="test accuracy (%)", title=DATASETS[ds])
        ax.legend(fontsize=7)
    ctx.figure(fig, "snnk_layers", "Test accuracy against trainable parameters: SNNK hidden layers vs the dense MLP.")


from .snnk_bundled import race_section, toy_section  # noqa: E402  (section 3 uses the functions above)

CHAPTER = chapter("snnk", "SNNK: universal random features, SNNK layers and fully bundled networks", intro=_intro,
                  sections=[Section("kernel", kernel_units, kernel_unit, kernel_render,
                                    lambda c: 0.5 + sum(c["ms"]) * c["redraws"] / 20_000),
                            train_section("layers", layer_units, layer_render), toy_section, race_section])


from . import adapters  # noqa: E402
from ._closer_common import closer_section  # noqa: E402

CHAPTER.add_section(closer_section(
    adapters, {"adapters_accuracy_vs_params.png": "Fashion-MNIST test accuracy against trainable parameters: "
               "full fine-tuning, a linear probe, bottleneck and SNNK adapters, and uptraining, mean ± std over "
               "seeds."}, cost=lambda config: 40.0))


def run(ctx: RunContext) -> None:
    """Run this chapter into ``ctx``, its units stored under ``ctx.out_dir / "units"`` (:meth:`.report.Chapter.run`)."""
    CHAPTER.run(ctx)
