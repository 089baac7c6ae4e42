"""Section 3 of the 'snnk' chapter: fully bundled networks fitted in closed form (units and rendering).

The toy run (one unit per tower list and m) and the race of the closed form against Adam (one
unit per task); the tasks, :func:`~rpnumpy.experiments.snnk.race` and the reference values are in
:mod:`rpnumpy.experiments.snnk`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bundling import FullyBundledNetwork, one_hot
from . import snnk, units
from .half import DATASETS, QUICK_SUBSET
from .report import RunContext, Section

__all__ = ["race_section", "race_unit", "toy_section", "toy_unit"]


# -- 3a. the reference toy run ------------------------------------------------------------------------------------
def toy_units(quick: bool) -> list[dict[str, Any]]:
    return [{"towers": name, "m": m, "tower_seeds": [0] if quick else [0, 1, 2], "l2": 1e-3}
            for name in snnk.TOY_TOWERS for m in ((64, 256) if quick else (64, 256, 1024))]


def toy_unit(config: dict[str, Any]) -> dict[str, Any]:
    """Test MSE of the closed-form fit on the teacher task, averaged over the tower seeds."""
    x_train, y_train, x_test, y_test = snnk.teacher_task(2000, 1000, seed=1)
    errors = []
    for seed in config["tower_seeds"]:
        net = FullyBundledNetwork.build(8, 1, config["m"], snnk.TOY_TOWERS[config["towers"]], rng=seed)
        net.fit_closed_form(x_train, y_train, l2=config["l2"])
        errors.append(snnk._mse(net.predict(x_test), y_test))
    return {"test_mse": float(np.mean(errors)), "var_y_test": float(y_test.var())}


def toy_render(ctx: RunContext, results: list) -> None:
    toy: dict[str, list[float]] = {}
    for config, result in results:
        toy.setdefault(config["towers"], []).append(result["test_mse"])
    toy_ms = list(dict.fromkeys(c["m"] for c, _ in results))
    tower_seeds, var_test = results[0][0]["tower_seeds"], results[0][1]["var_y_test"]
    ctx.results["snnk"]["bundled_toy"] = {"ms": toy_ms, "test_mse": toy, "var_y_test": var_test,
                                          "tower_seeds": tower_seeds}
    ctx.text(
        "### 3. Fully bundled networks: ŷ = V z(x) + c with z fixed, fitted in closed form\n\n"
        f"**The reference toy run.** Teacher y = Σ_(j≤16) v_j sin(w_jᵀx + b_j) + 0.05ε, d = 8, x ~ N(0, I/8), "
        f"2,000 training and 1,000 test samples; our teacher draws (w_j ~ N(0, I), b_j ~ U(−π, π), v_j ~ N(0, 1/16)) "
        f"give var(y_test) = {var_test:.3f} (the reference run's: 0.284). Ridge λ = 1e-3 (absolute, as in the "
        f"reference run); test MSE averaged over {len(tower_seeds)} tower seed(s). The reference column is the "
        f"independent implementation's own toy run."
    )
    ctx.table(["towers", *(f"m={m}: MSE (÷ var)" for m in toy_ms), "reference, m = 64 / 256 / 1024: MSE (÷ 0.284)"],
              [[name, *(f"{v:.3f} ({v / var_test:.3f})" for v in values),
                " / ".join(f"{v:.3f} ({v / snnk.TOY_VARIANCE:.3f})" for v in snnk.TOY_REFERENCE[name])]
               for name, values in toy.items()])


# -- 3b. the race: closed form against Adam on the same model -------------------------------------------------------
def race_units(quick: bool) -> list[dict[str, Any]]:
    lrs = list(snnk.ADAM_LRS[1:2] if quick else snnk.ADAM_LRS)
    regression = [("teacher", 256)] if quick else [("teacher", 256), ("teacher", 1024), ("friedman1", 1024)]
    tasks = [{"task": name, "m": m, "n_train": 2000 if quick else 20_000, "n_test": 500 if quick else 2_000,
              "epochs": 10 if quick else 100, "lrs": lrs, "seed": 0} for name, m in regression]
    m = 512 if quick else 2048
    tasks += [{"task": ds, "m": m, "subset": list(QUICK_SUBSET) if quick else None, "epochs": 5 if quick else 50,
               "lrs": lrs, "seed": 0} for ds in (("mnist",) if quick else tuple(DATASETS))]
    return tasks


def race_name(config: dict[str, Any]) -> str:
    return f"{config['task']}-{config['m']}"


def race_cost(config: dict[str, Any]) -> float:
    rows = config.get("n_train") or (config["subset"][0] if config.get("subset") else 60_000)
    return 1.0 + rows * config["m"] * (config["m"] + config["epochs"] * len(config["lrs"]) * 3) / 2e10


def race_unit(config: dict[str, Any]) -> dict[str, Any]:
    """One race (:func:`~rpnumpy.experiments.snnk.race`): wall-clock times are this unit's measured quantity."""
    task, m, seed = config["task"], config["m"], config["seed"]
    labels = None
    if task == "teacher":
        data, d_in, d_out, dtype = snnk.teacher_task(config["n_train"], config["n_test"], seed=2), 8, 1, np.float64
    elif task == "friedman1":
        data, d_in, d_out, dtype = snnk.friedman_task(config["n_train"], config["n_test"], seed=3), 10, 1, np.float64
    else:
        x_tr, y_tr, x_te, y_te = units.dataset(task, config["subset"])
        data = (x_tr, one_hot(y_tr, 10, np.float32), x_te, one_hot(y_te, 10, np.float32))
        d_in, d_out, dtype = 784, 10, np.float32
        labels = (y_tr, y_te)

    def build() -> FullyBundledNetwork:
        return FullyBundledNetwork.build(d_in, d_out, m, "relu", relu_bias=True, rng=seed, dtype=dtype)

    return snnk.race(build, data, epochs=config["epochs"], lrs=tuple(config["lrs"]), seed=seed, labels=labels)


def race_render(ctx: RunContext, results: list) -> None:
    races = {race_name(c): r for c, r in results}
    lrs = results[0][0]["lrs"]
    ctx.results["snnk"]["race"] = races
    ctx.text(
        "**Closed form against Adam on the same model.** Each model is a fully bundled network with one ReLU tower "
        "with a random bias (z = max([x, 1]G, 0)/√m), so its only parameters are V and c. *Closed form*: "
        "`fit_closed_form` from the raw inputs — one streaming pass for ZᵀZ and ZᵀY, ridge λ chosen among "
        f"{', '.join(f'{v:g}' for v in snnk.L2_GRID)} × tr(ZᵀZ)/D on the last 10% of the training rows, final Cholesky "
        "solve — all timed. *Adam*: the training features computed once (timed), then V, c trained from a LeCun "
        f"initialisation, batch {snnk.RACE_BATCH}, at rates {', '.join(f'{v:g}' for v in lrs)}; the test MSE is "
        "measured after every epoch outside the clock. **Time to equal loss** = Adam's time until its test MSE "
        "first reaches the closed form's test MSE (the fastest rate); when no rate reaches it within the budget, "
        "Adam's time to its own best test MSE is reported instead and marked \"never\" (the best epoch is picked on "
        "the test set, which favours Adam; the time to equal loss is then longer than the whole budget, shown in "
        "brackets). Regression targets are standardised for Friedman #1; MNIST and "
        "Fashion-MNIST use one-hot targets and float32. One run each (seed "
        f"{results[0][0]['seed']}), wall-clock on a shared 2-core machine (the times are what this section measures)."
    )
    ctx.table(["task", "model", "train rows", "trainable", "closed form: time", "closed form: test MSE",
               "Adam: time to equal loss (or to its best)", "Adam: best test MSE", "Adam reached it?",
               "time ratio Adam / closed form"],
              [_race_row(c, r) for c, r in results])
    layers = ctx.results["snnk"].get("snnk_layers", {}).get("summary", {})
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
    _race_figure(ctx, races)
    ctx.write_json("results_snnk.json", ctx.results["snnk"])


def _race_row(config: dict[str, Any], r: dict[str, Any]) -> list[str]:
    reached = "yes" if r["adam_reached"] else f"never in {r['epochs']} epochs ({r['adam_budget_seconds']:.2f} s)"
    accuracy = f" ({100 * r['closed_test_accuracy']:.2f}% acc.)" if "closed_test_accuracy" in r else ""
    adam_acc = r["runs"][str(r["adam_lr"])].get("final_test_accuracy")
    ratio = f"{r['time_ratio']:.1f}x"
    if not r["adam_reached"]:
        ratio += f" (> {r['adam_budget_seconds'] / r['closed_seconds']:.1f}x to equal loss)"
    return [race_name(config), f"relu tower, m = {config['m']}", f"{r['n_train']:,}", f"{r['trainable']:,}",
            f"{r['closed_seconds']:.2f} s", f"{r['closed_test_mse']:.4g}{accuracy}",
            f"{r['adam_seconds']:.2f} s (lr {r['adam_lr']:g})",
            f"{r['adam_best_test_mse']:.4g}"
            + (f" ({100 * adam_acc:.2f}% acc. after the last epoch)" if adam_acc else ""),
            reached, ratio]


def _race_figure(ctx: RunContext, races: dict[str, Any]) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

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


toy_section = Section("toy", toy_units, toy_unit, toy_render, lambda c: 0.5 + len(c["tower_seeds"]) * c["m"] / 512)
race_section = Section("race", race_units, race_unit, race_render, race_cost, race_name)
