"""Chapter 'half': reproducing the Half-layer paper's claims on MNIST and Fashion-MNIST.

Every model is trained with the same recipe (Adam, batch 128, float32) for
several seeds, and reported as mean ± standard deviation. Model names follow
descriptions of the paper: ``rnd-H-S`` is a half layer of H units with random-weight
scheme S followed by a dense softmax layer; ``mlp-k`` is a fully trained MLP
784-k-10 with ReLU.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..datasets import load_dataset
from ..fast.optim import FusedAdam
from ..io import model_file_size
from ..losses import SoftmaxCrossEntropy
from ..models import cnn, half_net, mlp
from ..random_matrices import pack_binary_matrix
from ..training import evaluate, fit
from .report import RunContext, chapter

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


@dataclass
class RunResult:
    name: str
    dataset: str
    seed: int
    trainable: int
    fixed: int
    train_accuracy: float
    test_accuracy: float
    seconds: float


def train_and_score(model, data, *, epochs: int, lr: float, seed: int, progress: bool, label: str) -> tuple:
    """Train with Adam and return (train accuracy, test accuracy, seconds); accuracies measured after training."""
    x_train, y_train, x_test, y_test = data
    start = time.perf_counter()
    fit(model, x_train, y_train, loss=SoftmaxCrossEntropy(), optimizer=FusedAdam(model, lr=lr), epochs=epochs,
        batch_size=BATCH, rng=seed, progress=progress, description=label)
    seconds = time.perf_counter() - start
    return evaluate(model, x_train, y_train)["accuracy"], evaluate(model, x_test, y_test)["accuracy"], seconds


class Runner:
    """Trains each (model, data set, seed) once and remembers the result."""

    def __init__(self, ctx: RunContext, seeds, epochs: int, subset: tuple[int, int] | None) -> None:
        self.ctx, self.seeds, self.epochs, self.subset = ctx, seeds, epochs, subset
        self.data: dict[str, tuple] = {}
        self.results: dict[tuple[str, str, int], RunResult] = {}

    def dataset(self, name: str) -> tuple:
        if name not in self.data:
            data = load_dataset(name, self.ctx.data_dir, download=self.ctx.download)
            if self.subset:
                n_train, n_test = self.subset
                data = (data[0][:n_train], data[1][:n_train], data[2][:n_test], data[3][:n_test])
            self.data[name] = data
        return self.data[name]

    def run(self, name: str, dataset: str, build, *, epochs: int | None = None, lr: float = LR) -> list[RunResult]:
        out = []
        for seed in self.seeds:
            key = (name, dataset, seed)
            if key not in self.results:
                data = self.dataset(dataset)
                model = build(seed, data)
                train_acc, test_acc, seconds = train_and_score(
                    model, data, epochs=epochs or self.epochs, lr=lr, seed=seed, progress=self.ctx.progress,
                    label=f"{name} {dataset} seed {seed}",
                )
                self.results[key] = RunResult(name, dataset, seed, model.n_params, model.n_buffer_values,
                                              train_acc, test_acc, seconds)
            out.append(self.results[key])
        return out


def _builder(name: str):
    """Model factory from a name: rnd-H-S or mlp-k."""
    kind, width, *rest = name.split("-")
    width = int(width)
    if kind == "mlp":
        return lambda seed, data: mlp(width, seed)
    scheme = rest[0]
    return lambda seed, data: half_net(width, scheme, seed, x_train=data[0], y_train=data[1])


def _pct(res: dict[str, Any]) -> str:
    """Test accuracy as 'mean ± std' in percent."""
    return f"{100 * res['test_mean']:.2f} ± {100 * res['test_std']:.2f}"


def summarize(results: list[RunResult]) -> dict[str, Any]:
    test = [r.test_accuracy for r in results]
    train = [r.train_accuracy for r in results]
    return {
        "trainable": results[0].trainable,
        "fixed": results[0].fixed,
        "test_mean": float(np.mean(test)),
        "test_std": float(np.std(test, ddof=1)) if len(test) > 1 else 0.0,
        "train_mean": float(np.mean(train)),
        "gap": float(np.mean(train) - np.mean(test)),
        "seeds": [r.seed for r in results],
        "seconds": float(np.mean([r.seconds for r in results])),
    }


@chapter("half", "Half layers: fixed random projections with two trainable weights per unit")
def run(ctx: RunContext) -> None:
    from matplotlib.figure import Figure

    quick = ctx.quick
    seeds = SEEDS[:2] if quick else SEEDS
    epochs = 1 if quick else EPOCHS
    widths = (64, 256) if quick else WIDTHS
    runner = Runner(ctx, seeds, epochs, (3000, 1000) if quick else None)
    ctx.text(
        f"Recipe: Adam lr={LR:g}, batch {BATCH}, float32, {epochs} epoch(s), seeds {list(seeds)}; "
        f"accuracies are mean ± std over seeds, measured after training on the full training and test sets. "
        f"`rnd-H-S`: HalfLayer(784→H, scheme S, ReLU) + Dense(H→10); `mlp-k`: 784-k-10 ReLU MLP. "
        f"Initialisation: u_h = 1/‖r_h‖, u_h0 = 0; output layer LeCun normal."
        + (" *Quick run: 3,000 training images, 1 epoch — not the published numbers.*" if quick else "")
    )
    summary: dict[str, dict[str, Any]] = {}

    def record(name: str, dataset: str, **kwargs) -> dict[str, Any]:
        res = summarize(runner.run(name, dataset, kwargs.pop("build", None) or _builder(name), **kwargs))
        summary.setdefault(name, {})[dataset] = res
        return res

    # 1-3: the named comparisons.
    names = ["rnd-256-N", "mlp-4", "mlp-16", "rnd-1024-N", "rnd-1024-B", "rnd-1024-M", "rnd-1024-T"]
    if quick:
        names = ["rnd-256-N", "mlp-4", "mlp-16", "rnd-256-B", "rnd-256-M", "rnd-256-T"]
    rows = []
    for name in names:
        cells = [f"`{name}`"]
        for dataset in DATASETS:
            res = record(name, dataset)
            cells.append(_pct(res))
        cells[1:1] = [f"{res['trainable']:,}", f"{res['fixed']:,}"]
        cells.append(REPORTED.get(name, ""))
        rows.append(cells)
    ctx.text("### Parameter-matched comparisons and random-weight schemes (test accuracy, %)")
    ctx.table(["model", "trainable", "fixed", "MNIST", "Fashion-MNIST", "reported (secondary source)"], rows)

    # 4: width sweep against MLPs with equal trainable parameters (mlp-k, k = H/64).
    sweep = {}
    for dataset in DATASETS:
        for width in widths:
            matched = max(1, width // 64)
            sweep[(dataset, width)] = (record(f"rnd-{width}-N", dataset), record(f"mlp-{matched}", dataset), matched)
    ctx.text(
        "### Width sweep: half layers against MLPs with the same number of trainable parameters\n\n"
        "`mlp-k` with k = H/64 has about as many trainable parameters as `rnd-H-N` (2H + 11H + 10 vs 795k + 10)."
    )
    sweep_rows = []
    for (dataset, width), (half_res, mlp_res, matched) in sweep.items():
        sweep_rows.append([
            DATASETS[dataset], width, f"{half_res['trainable']:,}", f"{100 * half_res['train_mean']:.2f}",
            f"{100 * half_res['test_mean']:.2f}", f"{100 * half_res['gap']:.2f}", f"mlp-{matched}",
            f"{mlp_res['trainable']:,}", f"{100 * mlp_res['test_mean']:.2f}", f"{100 * mlp_res['gap']:.2f}",
        ])
    ctx.table(["data", "H", "trainable", "half train %", "half test %", "half gap", "MLP", "MLP trainable",
               "MLP test %", "MLP gap"], sweep_rows)
    fig = Figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 2)
    for ax, dataset in zip(axes, DATASETS):
        hs = list(widths)
        half_test = [100 * sweep[(dataset, w)][0]["test_mean"] for w in hs]
        half_train = [100 * sweep[(dataset, w)][0]["train_mean"] for w in hs]
        mlp_test = [100 * sweep[(dataset, w)][1]["test_mean"] for w in hs]
        mlp_train = [100 * sweep[(dataset, w)][1]["train_mean"] for w in hs]
        ax.plot(hs, half_train, "o--", color="C0", label="half, train")
        ax.plot(hs, half_test, "o-", color="C0", label="half, test")
        ax.plot(hs, mlp_train, "s--", color="C1", label="matched MLP, train")
        ax.plot(hs, mlp_test, "s-", color="C1", label="matched MLP, test")
        ax.set_xscale("log", base=2)
        ax.set(xlabel="half units H (MLP: H/64 hidden units)", ylabel="accuracy (%)", title=DATASETS[dataset])
        ax.legend(fontsize=8)
    ctx.figure(fig, "half_width_sweep", "Train and test accuracy against width, half layers vs parameter-matched MLPs.")

    # 5: CNN with a half layer against the same CNN with a dense layer.
    cnn_rows = []
    for dataset in DATASETS:
        cells = [DATASETS[dataset]]
        for head in ("half", "dense"):
            res = record(f"cnn-{head}", dataset, build=lambda seed, data, head=head: cnn(head, seed),
                         epochs=1 if quick else CNN_EPOCHS, lr=CNN_LR)
            cells += [f"{res['trainable']:,}", _pct(res)]
        cnn_rows.append(cells)
    ctx.text(
        f"### CNN: conv(1→16, 5×5) + ReLU + max-pool 2 + [half(3136→256) or dense(3136→256)+ReLU] + dense(256→10)\n\n"
        f"Adam lr={CNN_LR:g}, {1 if quick else CNN_EPOCHS} epoch(s)."
    )
    ctx.table(["data", "half: trainable", "half: test %", "dense: trainable", "dense: test %"], cnn_rows)

    # 6: memory.
    model = half_net(1024, "N", 0)
    with_seed, with_matrix = model_file_size(model), model_file_size(model, store_buffers=True)
    packed = pack_binary_matrix(half_net(1024, "B", 0).buffers["0.R"]).nbytes
    ctx.results["half_memory"] = {"file_seed": with_seed, "file_matrix": with_matrix, "binary_packed": packed}
    ctx.text(
        "### Memory of rnd-1024 (float32)\n\n"
        f"Saved with R regenerated from its seed: **{with_seed:,} bytes**; with R stored: {with_matrix:,} bytes "
        f"({with_matrix / with_seed:.0f}x). A binary (B) R packed one bit per weight: {packed:,} bytes "
        f"(float32: {784 * 1024 * 4:,})."
    )
    ctx.results["half"] = summary
    path = ctx.out_dir / "results_half.json"
    path.write_text(json.dumps({"epochs": epochs, "lr": LR, "seeds": list(seeds), "quick": quick,
                                "summary": summary}, indent=1))
