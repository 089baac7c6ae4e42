r"""Adapters and uptraining at small scale: does "5× fewer trainable parameters at competitive accuracy" hold?

The SNNK paper (Sehanobish, Choromanski et al., "Scalable Neural Network Kernels", ICLR 2024,
arXiv:2310.13225) reports up to 5× fewer trainable parameters from SNNK layers inside *pretrained*
networks: SNNK adapters, and "uptraining", where pretrained feed-forward blocks are replaced by
ReLU-SNNK layers initialised from their dense weights. Their experiments are on large pretrained
models; this one asks the same question of a network small enough to train here.

Protocol (ours)
---------------
1. **Pretraining.** A ReLU MLP 784-256-256-10 (:func:`rpnumpy.models.teacher_mlp`) is trained on
   MNIST with Adam (:class:`rpnumpy.fast.FusedAdam`, learning rate 1e-3, batch 128), once per seed.
   The trained weights are a pure function of the pretraining configuration; they are cached on
   disk (:func:`pretrained_backbone`) so that the units of one seed train them once.
2. **Adaptation to Fashion-MNIST** (same input size, ten new classes), each method with a new
   output layer (:mod:`rpnumpy.models_adapters`) and the same optimiser and epochs:

   * full fine-tuning (every weight trained);
   * linear probe (only the new output layer): the floor;
   * dense bottleneck adapters of width :math:`r` after each hidden ReLU,
     :math:`h + \mathrm{ReLU}(hW_{down} + b_{down})W_{up} + b_{up}` with :math:`W_{up} = 0` at the start,
     backbone frozen;
   * SNNK adapters with :math:`m` random directions after each hidden ReLU,
     :math:`h + \Phi(h)V + b`, :math:`\Phi(h) = \max(hG, 0)/\sqrt m`, :math:`V = 0` at the start, backbone frozen;
   * uptraining: the last hidden ``Dense + ReLU`` replaced by a ReLU-SNNK layer with
     :math:`V = \Phi(W^\top)^\top` (:func:`rpnumpy.models_adapters.uptraining_layer`), with the SNNK
     authors' input normalisation and :math:`\kappa = -5` (as their public code does), and without
     normalisation at :math:`\kappa = 0` (the arc-cosine kernel); the first layer frozen, the SNNK
     layer and the output layer trained. How far the initialised layer is from the dense layer it
     replaces is measured before training (relative error of its outputs, raw and after the best
     scalar rescaling).
3. Three seeds; the table gives the mean ± standard deviation of the Fashion-MNIST test accuracy and
   the trainable parameters of every method (the new output layer included).

The verdict is computed from the table: a method based on SNNK "holds the claim" against a
baseline (full fine-tuning or a bottleneck adapter) when it trains at most a fifth of the
baseline's parameters and its mean accuracy is at most :data:`COMPETITIVE_GAP` below the
baseline's.

Which parts are ours: the whole protocol (network, data sets, epochs, widths, seeds, the
placement of one adapter after every hidden layer, the zero start of both adapters' read-outs,
the bottleneck's ReLU), and the definition of "competitive". From the SNNK authors' code (as
described publicly, not from the paper's text): uptraining with :math:`V = \Psi(W)`, the
normalised inputs and :math:`\kappa = -5`, and SNNK adapter widths of 8 to 64.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..fast.optim import FusedAdam
from ..io import load_model, save_model
from ..layers import Sequential
from ..losses import SoftmaxCrossEntropy
from ..models import teacher_mlp
from ..models_adapters import adapter_mlp, fine_tuned_mlp, linear_probe_mlp, uptrained_mlp, uptraining_layer
from ..training import evaluate, fit
from ._closer_common import dataset, group_by, mean_std, single_blas_thread

__all__ = ["COMPETITIVE_GAP", "METHODS", "pretrained_backbone", "render", "run_unit", "units"]

#: Widths of the pretrained MLP.
WIDTHS = (784, 256, 256, 10)
LR = 1e-3
BATCH = 128
PRETRAIN_EPOCHS = 3
ADAPT_EPOCHS = 3
SEEDS = (0, 1, 2)
ADAPTER_WIDTHS = (8, 16, 64)
#: The method families, in table order; the widths are those of :data:`ADAPTER_WIDTHS` where one applies.
METHODS = ("full", "linear_probe", "bottleneck", "snnk_adapter", "uptrain_normalised_k-5", "uptrain_raw_k0")
LABELS = {
    "full": "full fine-tuning",
    "linear_probe": "linear probe (head only)",
    "bottleneck": "dense bottleneck adapters",
    "snnk_adapter": "SNNK adapters (relu, κ = 0)",
    "uptrain_normalised_k-5": "uptraining, normalised, κ = −5",
    "uptrain_raw_k0": "uptraining, raw, κ = 0",
}
#: "Competitive": mean accuracy at most this far below the baseline's (1 percentage point; ours).
COMPETITIVE_GAP = 0.01
#: Bump when the pretraining code changes, so that no stale cached backbone is used.
_CACHE_VERSION = 1


def units(quick: bool = False) -> list[dict[str, Any]]:
    """One unit per (method, width, seed). Quick: 2000 training images, 1 epoch, width 8, one seed."""
    if quick:
        data = {"n_train": 2000, "n_test": 1000}
        epochs, seeds, widths = 1, (0,), (8,)
    else:
        data = {"n_train": None, "n_test": None}
        epochs, seeds, widths = ADAPT_EPOCHS, SEEDS, ADAPTER_WIDTHS
    pretrain = {"dataset": "mnist", **data, "epochs": 1 if quick else PRETRAIN_EPOCHS}
    configs = []
    for seed in seeds:
        for method in METHODS:
            for width in ([None] if method in ("full", "linear_probe") else widths):
                configs.append({
                    "experiment": "adapters", "method": method, "width": width, "seed": seed,
                    "widths": list(WIDTHS), "lr": LR, "batch_size": BATCH, "pretrain": pretrain,
                    "adapt": {"dataset": "fashion_mnist", **data, "epochs": epochs},
                })
    return configs


def _cache_path(seed: int, pretrain: dict[str, Any], widths: list[int]) -> Path:
    key = json.dumps({"v": _CACHE_VERSION, "seed": seed, "pretrain": pretrain, "widths": widths, "lr": LR,
                      "batch": BATCH}, sort_keys=True)
    key_hash = hashlib.sha256(key.encode()).hexdigest()[:16]
    root = Path(os.environ.get("RPNUMPY_EXPERIMENT_CACHE", Path(tempfile.gettempdir()) / "rpnumpy-experiment-cache"))
    return root / f"adapters-backbone-{key_hash}.npz"


def pretrained_backbone(seed: int, pretrain: dict[str, Any], widths: list[int] | tuple[int, ...] = WIDTHS
                        ) -> tuple[Sequential, float]:
    """The MLP pretrained on ``pretrain["dataset"]`` from ``seed``, and its test accuracy there.

    A pure function of its arguments: the first call trains it and stores it (atomically) under
    ``$RPNUMPY_EXPERIMENT_CACHE`` (default: ``<temp dir>/rpnumpy-experiment-cache``), later calls
    load it. The accuracy is recomputed from the loaded weights.
    """
    widths = [int(w) for w in widths]
    x_train, y_train, x_test, y_test = dataset(pretrain["dataset"], pretrain["n_train"], pretrain["n_test"])
    path = _cache_path(seed, pretrain, widths)
    model = None
    if path.exists():
        try:
            model = load_model(path)
        except (OSError, ValueError):
            model = None  # a damaged cache file: train again and overwrite it
    if model is None:
        model = teacher_mlp(seed, tuple(widths))
        fit(model, x_train, y_train, loss=SoftmaxCrossEntropy(), optimizer=FusedAdam(model, lr=LR),
            epochs=pretrain["epochs"], batch_size=BATCH, rng=seed, progress=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(model, path)
    return model, evaluate(model, x_test, y_test)["accuracy"]


def _adapted(backbone: Sequential, method: str, width: int | None, seed: int) -> Sequential:
    if method == "full":
        return fine_tuned_mlp(backbone, seed)
    if method == "linear_probe":
        return linear_probe_mlp(backbone, seed)
    if method == "bottleneck":
        return adapter_mlp(backbone, "bottleneck", width, seed)
    if method == "snnk_adapter":
        return adapter_mlp(backbone, "snnk", width, seed)
    if method == "uptrain_normalised_k-5":
        return uptrained_mlp(backbone, width, seed, kappa=-5.0, normalise=True)
    if method == "uptrain_raw_k0":
        return uptrained_mlp(backbone, width, seed, kappa=0.0, normalise=False)
    raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")


def uptraining_init_error(backbone: Sequential, method: str, width: int, seed: int, x: np.ndarray) -> dict[str, float]:
    r"""How far the initialised SNNK layer is from the ``Dense + ReLU`` it replaces, on inputs ``x``.

    Returns the relative errors :math:`\|\hat Y - Y\|_F/\|Y\|_F` (raw) and
    :math:`\min_\alpha\|\alpha\hat Y - Y\|_F/\|Y\|_F` (after the best scalar rescaling), and the
    correlation of the entries, with :math:`Y = \mathrm{ReLU}(hW + b)` the dense layer's outputs and
    :math:`h` its inputs (the first hidden layer's outputs on ``x``).
    """
    first, second = backbone.layers[0], backbone.layers[2]
    h = np.maximum(first.inference_function()(x), 0)
    y = np.maximum(second.inference_function()(h), 0).astype(np.float64)
    normalise = method == "uptrain_normalised_k-5"
    layer = uptraining_layer(second, width, kappa=-5.0 if normalise else 0.0, normalise=normalise, rng=seed + 200)
    y_hat = layer.inference_function()(h).astype(np.float64)
    norm = np.linalg.norm(y)
    alpha = float(np.sum(y * y_hat) / np.sum(y_hat * y_hat))
    return {"init_relative_error": float(np.linalg.norm(y_hat - y) / norm),
            "init_relative_error_best_scale": float(np.linalg.norm(alpha * y_hat - y) / norm),
            "init_correlation": float(np.corrcoef(y.ravel(), y_hat.ravel())[0, 1])}


def run_unit(config: dict[str, Any]) -> dict[str, Any]:
    """Pretrain (or load) the backbone of ``config["seed"]``, adapt it by ``config["method"]``, evaluate."""
    with single_blas_thread():
        seed, method, width = config["seed"], config["method"], config["width"]
        backbone, mnist_accuracy = pretrained_backbone(seed, config["pretrain"], config["widths"])
        adapt = config["adapt"]
        x_train, y_train, x_test, y_test = dataset(adapt["dataset"], adapt["n_train"], adapt["n_test"])
        result: dict[str, Any] = {"method": method, "width": width, "seed": seed,
                                  "pretrained_mnist_accuracy": mnist_accuracy}
        if method.startswith("uptrain"):
            result.update(uptraining_init_error(backbone, method, width, seed, x_test[:2000]))
        model = _adapted(backbone, method, width, seed)
        history = fit(model, x_train, y_train, loss=SoftmaxCrossEntropy(), optimizer=FusedAdam(model, lr=config["lr"]),
                      epochs=adapt["epochs"], batch_size=config["batch_size"], rng=seed + 7, progress=False)
        result["trainable_params"] = int(model.n_params)
        result["train_accuracy"] = float(history.train_accuracy[-1])
        result["test_accuracy"] = float(evaluate(model, x_test, y_test)["accuracy"])
    return result


def _rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (method, width): the mean, std and seeds of the accuracy, the trainable parameters."""
    rows = []
    for (method, width), group in group_by(results, ("method", "width")).items():
        accuracy = [r["test_accuracy"] for r in group]
        row = {"method": method, "width": width, "params": group[0]["trainable_params"],
               "mean": float(np.mean(accuracy)), "std": float(np.std(accuracy, ddof=1)) if len(accuracy) > 1 else 0.0,
               "accuracy": accuracy, "n": len(group)}
        if "init_relative_error" in group[0]:
            row["init"] = [r["init_relative_error"] for r in group]
            row["init_scaled"] = [r["init_relative_error_best_scale"] for r in group]
        rows.append(row)
    order = {name: i for i, name in enumerate(METHODS)}
    return sorted(rows, key=lambda row: (order.get(row["method"], 99), row["width"] or 0))


def verdict(rows: list[dict[str, Any]]) -> str:
    """One sentence: does some SNNK method reach a baseline's accuracy (within the gap) with ≤ 1/5 of its parameters?"""
    baselines = [row for row in rows if row["method"] in ("full", "bottleneck")]
    snnk = [row for row in rows if row["method"] in ("snnk_adapter", "uptrain_normalised_k-5", "uptrain_raw_k0")]
    wins = []
    for base in baselines:
        for row in snnk:
            if row["params"] * 5 <= base["params"] and row["mean"] >= base["mean"] - COMPETITIVE_GAP:
                wins.append((base, row))

    def name(row: dict[str, Any]) -> str:
        return LABELS[row["method"]] + (f" (width {row['width']})" if row["width"] else "")

    if not wins:
        best = max(snnk, key=lambda row: row["mean"], default=None)
        detail = "" if best is None else (
            f"; the best SNNK method, {name(best)}, reaches {best['mean']:.4f} with {best['params']:,} parameters")
        return (f"At this scale the claim does not hold: no SNNK adapter or uptrained network comes within "
                f"{COMPETITIVE_GAP:.0%} (absolute) of full fine-tuning or of any dense bottleneck adapter while "
                f"training at most a fifth of its parameters{detail}.")
    base, row = max(wins, key=lambda pair: pair[0]["params"] / pair[1]["params"])
    return (f"At this scale the claim holds in {len(wins)} comparison(s): for instance {name(row)} reaches "
            f"{row['mean']:.4f} with {row['params']:,} trainable parameters against {base['mean']:.4f} for "
            f"{name(base)} with {base['params']:,} ({base['params'] / row['params']:.1f}× fewer), "
            f"\"competitive\" meaning at most {COMPETITIVE_GAP:.0%} (absolute) lower mean accuracy.")


def render(results: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The table (accuracy mean ± std, trainable parameters, initial error of uptraining), the verdict, the plot."""
    rows = _rows(results)
    seeds = sorted({r["seed"] for r in results})
    mnist = [group[0]["pretrained_mnist_accuracy"] for group in group_by(results, ("seed",)).values()]
    lines = [
        "## Adapters and uptraining at small scale (MNIST → Fashion-MNIST)",
        "",
        f"Pretrained 784-256-256-10 ReLU MLP, MNIST test accuracy {mean_std(mnist)} over seeds {seeds}. "
        "Fashion-MNIST test accuracy after adaptation, mean ± std over the seeds; trainable parameters include "
        "the new output layer (2,570).",
        "",
        "| method | width r / m | trainable parameters | test accuracy | relative error at init (raw / best scale) |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        init = (f"{mean_std(row['init'], 3)} / {mean_std(row['init_scaled'], 3)}" if "init" in row else "")
        width = "" if row["width"] is None else str(row["width"])
        lines.append(f"| {LABELS[row['method']]} | {width} | {row['params']:,} | "
                     f"{mean_std(row['accuracy'])} | {init} |")
    lines += ["", "**Verdict.** " + verdict(rows), ""]
    return "\n".join(lines), {"adapters_accuracy_vs_params.png": _plot(rows)}


def _plot(rows: list[dict[str, Any]]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.subplots()
    markers = dict(zip(METHODS, ("*", "v", "s", "o", "D", "^")))
    for method in METHODS:
        family = [row for row in rows if row["method"] == method]
        if not family:
            continue
        x = [row["params"] for row in family]
        ax.errorbar(x, [row["mean"] for row in family], yerr=[row["std"] for row in family], marker=markers[method],
                    capsize=3, linestyle="-" if len(family) > 1 else "none", label=LABELS[method])
        for row in family:
            if row["width"] is not None:
                ax.annotate(str(row["width"]), (row["params"], row["mean"]), textcoords="offset points",
                            xytext=(4, -10), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (log scale)")
    ax.set_ylabel("Fashion-MNIST test accuracy")
    ax.set_title("Adapting an MNIST-pretrained MLP to Fashion-MNIST")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
