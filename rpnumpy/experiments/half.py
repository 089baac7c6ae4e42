"""Chapter 'half': reproducing the Half-layer paper's claims on MNIST and Fashion-MNIST.

Every model is trained with the same recipe (Adam, batch 128, float32) for
several seeds, and reported as mean ± standard deviation. Model names follow
descriptions of the paper: ``rnd-H-S`` is a half layer of H units with random-weight
scheme S followed by a dense softmax layer; ``mlp-k`` is a fully trained MLP
784-k-10 with ReLU.

Units: one training run (model, data set, seed) each, shared by every section that shows it
(:func:`train_unit`, also used by the PRP and SNNK chapters); the memory section is one unit.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np

from ..fast.optim import FusedAdam
from ..io import model_file_size
from ..losses import SoftmaxCrossEntropy
from ..models import build_model, half_net
from ..random_matrices import pack_binary_matrix
from ..training import evaluate, fit
from . import units
from .report import RunContext, Section, chapter

#: Training recipe of every fully connected model in this chapter.
EPOCHS = 10
LR = 3e-3
BATCH = 128
SEEDS = (0, 1, 2)
WIDTHS = (64, 128, 256, 512, 1024, 2048, 4096)
#: The CNNs train for fewer epochs at a smaller rate (they are slower and need fewer passes).
CNN_EPOCHS = 3
CNN_LR = 1e-3

DATASETS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

#: What descriptions of the paper report (secondary sources; not verified against the paper's tables).
REPORTED = {
    "rnd-256-N": "~3K parameters; similar MNIST accuracy to mlp-16 (~92–94%)",
    "mlp-16": "~12K parameters; ~92–94% on MNIST",
    "rnd-1024-N": "95.06% on MNIST",
    "rnd-1024-B": "95.23% on MNIST",
    "rnd-1024-M": "did poorly on Fashion-MNIST",
    "rnd-1024-T": "did poorly on Fashion-MNIST",
}


QUICK_SUBSET = (3000, 1000)


def train_and_score(model, data, *, epochs: int, lr: float, seed: int, progress: bool, label: str) -> tuple:
    """Train with Adam and return (train accuracy, test accuracy, seconds); accuracies measured after training."""
    x_train, y_train, x_test, y_test = data
    start = time.perf_counter()
    fit(model, x_train, y_train, loss=SoftmaxCrossEntropy(), optimizer=FusedAdam(model, lr=lr), epochs=epochs,
        batch_size=BATCH, rng=seed, progress=progress, description=label)
    seconds = time.perf_counter() - start
    return evaluate(model, x_train, y_train)["accuracy"], evaluate(model, x_test, y_test)["accuracy"], seconds


# -- the training unit, shared with the PRP and SNNK chapters -----------------------------------------------------
def train_config(model: str, dataset: str, seed: int, *, epochs: int, lr: float,
                 subset: tuple[int, int] | None) -> dict[str, Any]:
    """The config of one training run (see :func:`train_unit`)."""
    return {"model": model, "dataset": dataset, "seed": seed, "epochs": epochs, "lr": lr,
            "subset": list(subset) if subset else None}


def train_configs(models, datasets, seeds, **kwargs: Any) -> list[dict[str, Any]]:
    """Every (model, data set, seed) of the lists, in that nesting order."""
    return [train_config(m, d, s, **kwargs) for m in models for d in datasets for s in seeds]


def train_unit(config: dict[str, Any]) -> dict[str, Any]:
    """Train ``build_model(config["model"], seed)`` with Adam (batch 128); score it on the train and test sets."""
    data = units.dataset(config["dataset"], config["subset"])
    model = build_model(config["model"], config["seed"], x_train=data[0], y_train=data[1])
    train_acc, test_acc, seconds = train_and_score(model, data, epochs=config["epochs"], lr=config["lr"],
                                                   seed=config["seed"], progress=False, label=config["model"])
    return {"trainable": model.n_params, "fixed": model.n_buffer_values, "train_accuracy": train_acc,
            "test_accuracy": test_acc, "seconds": seconds}


def _epoch_seconds(model: str) -> float:
    """Rough seconds of one epoch on 60,000 images on 2 cores (for the estimate of the time left)."""
    kind, _, rest = model.partition("-")
    if kind == "rnd":
        return 1.0 + int(rest.split("-")[0]) / 256
    if kind == "cnn":
        return 40.0
    if kind in ("dense", "prp", "lowrank", "teacher") and model != "dense-256":
        return 6.0
    if kind == "snnk":
        return 4.0
    return 2.0


def train_cost(config: dict[str, Any]) -> float:
    fraction = config["subset"][0] / 60_000 if config["subset"] else 1.0
    return 1.0 + config["epochs"] * fraction * _epoch_seconds(config["model"])


def train_label(config: dict[str, Any]) -> str:
    return f"{config['model']} {config['dataset']} seed {config['seed']}"


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread over seeds of the results of :func:`train_unit` (each with its config's ``seed``)."""
    test = [r["test_accuracy"] for r in results]
    train = [r["train_accuracy"] for r in results]
    return {
        "trainable": results[0]["trainable"],
        "fixed": results[0]["fixed"],
        "test_mean": float(np.mean(test)),
        "test_std": float(np.std(test, ddof=1)) if len(test) > 1 else 0.0,
        "train_mean": float(np.mean(train)),
        "gap": float(np.mean(train) - np.mean(test)),
        "seeds": [r["seed"] for r in results],
        "seconds": float(np.mean([r["seconds"] for r in results])),
    }


def by_model(results: list[tuple[dict, dict]]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{model: {dataset: summary over seeds}}`` from (config, result) pairs of training units."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for config, result in results:
        groups[(config["model"], config["dataset"])].append({**result, "seed": config["seed"]})
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (model, dataset), runs in groups.items():
        out.setdefault(model, {})[dataset] = summarize(runs)
    return out


def train_section(name: str, configs, render) -> Section:
    """A section whose units are training runs (:func:`train_unit`)."""
    return Section(name, configs, train_unit, render, train_cost, train_label)


def _pct(res: dict[str, Any]) -> str:
    """Test accuracy as 'mean ± std' in percent."""
    return f"{100 * res['test_mean']:.2f} ± {100 * res['test_std']:.2f}"


def _size(quick: bool) -> dict[str, Any]:
    return {"seeds": SEEDS[:2] if quick else SEEDS, "epochs": 1 if quick else EPOCHS,
            "widths": (64, 256) if quick else WIDTHS, "subset": QUICK_SUBSET if quick else None}


def _intro(ctx: RunContext) -> None:
    size = _size(ctx.quick)
    ctx.text(
        f"Recipe: Adam lr={LR:g}, batch {BATCH}, float32, {size['epochs']} epoch(s), seeds {list(size['seeds'])}; "
        f"accuracies are mean ± std over seeds, measured after training on the full training and test sets. "
        f"`rnd-H-S`: HalfLayer(784→H, scheme S, ReLU) + Dense(H→10); `mlp-k`: 784-k-10 ReLU MLP. "
        f"Initialisation: u_h = 1/‖r_h‖, u_h0 = 0; output layer LeCun normal."
        + (" *Quick run: 3,000 training images, 1 epoch — not the published numbers.*" if ctx.quick else "")
    )
    ctx.results["half"] = {}


# -- 1-3: the named comparisons --------------------------------------------------------------------------------
def _names(quick: bool) -> list[str]:
    if quick:
        return ["rnd-256-N", "mlp-4", "mlp-16", "rnd-256-B", "rnd-256-M", "rnd-256-T"]
    return ["rnd-256-N", "mlp-4", "mlp-16", "rnd-1024-N", "rnd-1024-B", "rnd-1024-M", "rnd-1024-T"]


def comparison_units(quick: bool) -> list[dict[str, Any]]:
    size = _size(quick)
    return train_configs(_names(quick), DATASETS, size["seeds"], epochs=size["epochs"], lr=LR, subset=size["subset"])


def comparison_render(ctx: RunContext, results: list) -> None:
    summary = by_model(results)
    ctx.results["half"].update(summary)
    rows = []
    for name, res in summary.items():
        first = res["mnist"]
        rows.append([f"`{name}`", f"{first['trainable']:,}", f"{first['fixed']:,}",
                     *(_pct(res[d]) for d in DATASETS), REPORTED.get(name, "")])
    ctx.text("### Parameter-matched comparisons and random-weight schemes (test accuracy, %)")
    ctx.table(["model", "trainable", "fixed", "MNIST", "Fashion-MNIST", "reported (secondary source)"], rows)


# -- 4: width sweep against MLPs with equal trainable parameters (mlp-k, k = H/64) ------------------------------
def sweep_units(quick: bool) -> list[dict[str, Any]]:
    size = _size(quick)
    return [train_config(model, dataset, seed, epochs=size["epochs"], lr=LR, subset=size["subset"])
            for dataset in DATASETS for width in size["widths"]
            for model in (f"rnd-{width}-N", f"mlp-{max(1, width // 64)}") for seed in size["seeds"]]


def sweep_render(ctx: RunContext, results: list) -> None:
    summary = by_model(results)
    ctx.results["half"].update(summary)
    widths = sorted({int(c["model"].split("-")[1]) for c, _ in results if c["model"].startswith("rnd")})
    sweep = {(d, w): (summary[f"rnd-{w}-N"][d], summary[f"mlp-{max(1, w // 64)}"][d], max(1, w // 64))
             for d in DATASETS for w in widths}
    ctx.text(
        "### Width sweep: half layers against MLPs with the same number of trainable parameters\n\n"
        "`mlp-k` with k = H/64 has about as many trainable parameters as `rnd-H-N` (2H + 11H + 10 vs 795k + 10)."
    )
    rows = [[DATASETS[d], w, f"{h['trainable']:,}", f"{100 * h['train_mean']:.2f}", f"{100 * h['test_mean']:.2f}",
             f"{100 * h['gap']:.2f}", f"mlp-{k}", f"{m['trainable']:,}", f"{100 * m['test_mean']:.2f}",
             f"{100 * m['gap']:.2f}"] for (d, w), (h, m, k) in sweep.items()]
    ctx.table(["data", "H", "trainable", "half train %", "half test %", "half gap", "MLP", "MLP trainable",
               "MLP test %", "MLP gap"], rows)
    _sweep_figure(ctx, sweep, widths)


def _sweep_figure(ctx: RunContext, sweep: dict, widths: list[int]) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6))
    for ax, dataset in zip(fig.subplots(1, 2), DATASETS):
        for index, (model, style, color) in enumerate(((0, "o", "C0"), (1, "s", "C1"))):
            label = "half" if index == 0 else "matched MLP"
            for part, line in (("train_mean", "--"), ("test_mean", "-")):
                ax.plot(widths, [100 * sweep[(dataset, w)][model][part] for w in widths], style + line, color=color,
                        label=f"{label}, {part.split('_')[0]}")
        ax.set_xscale("log", base=2)
        ax.set(xlabel="half units H (MLP: H/64 hidden units)", ylabel="accuracy (%)", title=DATASETS[dataset])
        ax.legend(fontsize=8)
    ctx.figure(fig, "half_width_sweep", "Train and test accuracy against width, half layers vs parameter-matched MLPs.")


# -- 5: CNN with a half layer against the same CNN with a dense layer ------------------------------------------
def cnn_units(quick: bool) -> list[dict[str, Any]]:
    size = _size(quick)
    return train_configs(["cnn-half", "cnn-dense"], DATASETS, size["seeds"], epochs=1 if quick else CNN_EPOCHS,
                         lr=CNN_LR, subset=size["subset"])


def cnn_render(ctx: RunContext, results: list) -> None:
    summary = by_model(results)
    ctx.results["half"].update(summary)
    epochs = results[0][0]["epochs"]
    rows = [[DATASETS[d], *(cell for head in ("cnn-half", "cnn-dense")
                            for cell in (f"{summary[head][d]['trainable']:,}", _pct(summary[head][d])))]
            for d in DATASETS]
    ctx.text(
        f"### CNN: conv(1→16, 5×5) + ReLU + max-pool 2 + [half(3136→256) or dense(3136→256)+ReLU] + dense(256→10)\n\n"
        f"Adam lr={CNN_LR:g}, {epochs} epoch(s)."
    )
    ctx.table(["data", "half: trainable", "half: test %", "dense: trainable", "dense: test %"], rows)


# -- 6: memory ------------------------------------------------------------------------------------------------------
def memory_units(quick: bool) -> list[dict[str, Any]]:
    return [{"width": 1024, "seed": 0}]


def memory_unit(config: dict[str, Any]) -> dict[str, Any]:
    """File sizes of rnd-1024 with R regenerated from its seed or stored, and a binary R packed to bits."""
    model = half_net(config["width"], "N", config["seed"])
    return {"file_seed": model_file_size(model), "file_matrix": model_file_size(model, store_buffers=True),
            "binary_packed": pack_binary_matrix(half_net(config["width"], "B", config["seed"]).buffers["0.R"]).nbytes}


def memory_render(ctx: RunContext, results: list) -> None:
    ((config, r),) = results
    ctx.results["half_memory"] = r
    with_seed, with_matrix = r["file_seed"], r["file_matrix"]
    ctx.text(
        f"### Memory of rnd-{config['width']} (float32)\n\n"
        f"Saved with R regenerated from its seed: **{with_seed:,} bytes**; with R stored: {with_matrix:,} bytes "
        f"({with_matrix / with_seed:.0f}x). A binary (B) R packed one bit per weight: {r['binary_packed']:,} bytes "
        f"(float32: {784 * config['width'] * 4:,})."
    )
    size = _size(ctx.quick)
    ctx.write_json("results_half.json", {"epochs": size["epochs"], "lr": LR, "seeds": list(size["seeds"]),
                                         "quick": ctx.quick, "summary": ctx.results["half"]})


CHAPTER = chapter("half", "Half layers: fixed random projections with two trainable weights per unit", intro=_intro,
                  sections=[train_section("comparisons", comparison_units, comparison_render),
                            train_section("sweep", sweep_units, sweep_render),
                            train_section("cnn", cnn_units, cnn_render),
                            Section("memory", memory_units, memory_unit, memory_render)])


def run(ctx: RunContext) -> None:
    """Run this chapter into ``ctx``, its units stored under ``ctx.out_dir / "units"`` (:meth:`.report.Chapter.run`)."""
    CHAPTER.run(ctx)
