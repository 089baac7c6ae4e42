r"""Approximating one trained dense layer: EUGen, SNNK and low-rank, error against trainable parameters.

The EUGen paper (Kim et al., "EUGens: Efficient, Unified, and General Dense Layers", NeurIPS 2025,
arXiv:2601.22563) compares EUGen layers with SNNK and low-rank layers at approximating dense layers.
This module makes that comparison for one layer of a network trained here: every approximation is
fitted in closed form (or read off the weights), with no gradient step, and scored on held-out inputs.

Protocol (ours)
---------------
1. **The layer.** A 784-256-256-10 MLP with hidden activation :math:`\sigma` is trained on MNIST
   (Adam, learning rate 1e-3, batch 128); the layer to approximate is its second hidden pair
   :math:`x \mapsto \sigma(xW + b)`, :math:`W \in \mathbb R^{256\times 256}` (65,792 parameters), for
   :math:`\sigma` = ReLU, GELU and the polynomial :math:`p(s) = s + s^2/2`
   (:class:`~rpnumpy.layers.PolynomialActivation`, the case for which Theorem 3.1 of the EUGen paper
   is exact).
2. **Inputs.** (a) MNIST hidden activations: the first hidden layer's outputs on MNIST training
   images (fit) and test images (score), i.e. the inputs the layer was trained on; (b) synthetic
   Gaussian inputs :math:`x \sim N(0, s^2 I)` with :math:`s^2` the mean squared entry of (a), so that
   :math:`E\|x\|^2` matches. The targets are the trained layer's outputs :math:`Y = \sigma(XW + b)`.
3. **The approximations**, each fitted on :data:`N_FIT` inputs:

   * EUGen (:class:`~rpnumpy.layers.EUGen`) of order 1, 2 and 3, with :math:`x_+ = [x, 1, \|x\|]`
     (the norm term) and without it (``norm_term=False``, :math:`x_+ = [x, 1]`), :math:`m` features
     per order; read-out :math:`A, b` by ridge (:func:`rpnumpy.transfer.fit_layer`);
   * SNNK (:class:`~rpnumpy.layers.SNNK`) with the ReLU tower (:math:`\kappa = 0`) and :math:`m` random
     directions; read-out :math:`V, c` by ridge on its features :math:`\Phi(X)`;
   * low-rank, two ways, both with :math:`r(d_{in} + d_{out}) + d_{out}` trainable values: the
     truncated SVD of the trained weights *inside* the activation,
     :math:`\sigma(x U_r\Sigma_r V_r^\top + b)` (:math:`r` singular triplets, no fitting), and the
     linear :class:`~rpnumpy.layers.LowRank` layer :math:`xUV^\top + c` fitted to :math:`Y` by
     reduced-rank ridge regression (:func:`~rpnumpy.transfer.fit_layer`; no activation).

   Score: relative MSE :math:`\|\hat Y - Y\|_F^2/\|Y - \bar Y\|_F^2` (:math:`1 - R^2`) on
   :data:`N_TEST` held-out inputs; trainable parameters of the approximating layer.
4. Three seeds (the network, the random features and the Gaussian inputs change with the seed).

Which parts are ours: all of the protocol above (the network, the layer chosen, the polynomial,
the Gaussian inputs' scale, the widths, the ridge :math:`\lambda = 10^{-6}\operatorname{tr}(Z^\top Z)/D`
of :func:`~rpnumpy.transfer.fit_layer`, the low-rank variant). The EUGen layer's reading of
:math:`x_+` is discussed in :mod:`rpnumpy.layers.eugen`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..fast.optim import FusedAdam
from ..layers import GELU, SNNK, Dense, EUGen, Layer, LowRank, PolynomialActivation, ReLU, Sequential
from ..losses import SoftmaxCrossEntropy
from ..training import fit
from ..transfer import fit_layer
from ._closer_common import dataset, group_by, mean_std, relative_mse, single_blas_thread

__all__ = ["ACTIVATIONS", "render", "run_unit", "units"]

#: The hidden activations of the trained network: name -> (label, factory).
ACTIVATIONS = ("relu", "gelu", "poly")
LABELS = {"relu": "ReLU", "gelu": "GELU", "poly": "s + s²/2"}
POLY = (0.0, 1.0, 0.5)
WIDTHS = (784, 256, 256, 10)
LR = 1e-3
BATCH = 128
EPOCHS = 3
SEEDS = (0, 1, 2)
N_FIT = 10_000
N_TEST = 5_000
EUGEN_MS = (8, 32, 128)
SNNK_MS = (32, 128, 512)
RANKS = (4, 16, 64)
INPUTS = ("mnist", "gaussian")
#: The parameter budget of the summary line, as a fraction of the dense layer's parameters.
BUDGET_FRACTION = 0.55


def units(quick: bool = False) -> list[dict[str, Any]]:
    """One unit per (activation, seed), both input kinds inside. Quick: 2000 images, 1 epoch, small widths."""
    if quick:
        sizes = {"n_train": 2000, "epochs": 1, "n_fit": 1000, "n_test": 500,
                 "eugen_ms": [4, 8], "snnk_ms": [16], "ranks": [4]}
        seeds: tuple[int, ...] = (0,)
    else:
        sizes = {"n_train": None, "epochs": EPOCHS, "n_fit": N_FIT, "n_test": N_TEST,
                 "eugen_ms": list(EUGEN_MS), "snnk_ms": list(SNNK_MS), "ranks": list(RANKS)}
        seeds = SEEDS
    return [{"experiment": "layer_approximation", "activation": activation, "seed": seed, "dataset": "mnist",
             "widths": list(WIDTHS), "lr": LR, "batch_size": BATCH, "orders": [1, 2, 3], "l2_relative": 1e-6,
             **sizes}
            for seed in seeds for activation in ACTIVATIONS]


def _activation(name: str) -> Layer:
    return {"relu": ReLU, "gelu": GELU}[name]() if name != "poly" else PolynomialActivation(list(POLY))


def trained_network(config: dict[str, Any]) -> Sequential:
    """The MLP with hidden activation ``config["activation"]``, trained on MNIST as the config says."""
    seed, widths, name = config["seed"], config["widths"], config["activation"]
    layers: list[Layer] = []
    for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(Dense(d_in, d_out, rng=100 * seed + i, dtype=np.float32))
        if i < len(widths) - 2:
            layers.append(_activation(name))
    model = Sequential(*layers)
    x_train, y_train, _, _ = dataset(config["dataset"], config["n_train"])
    fit(model, x_train, y_train, loss=SoftmaxCrossEntropy(), optimizer=FusedAdam(model, lr=config["lr"]),
        epochs=config["epochs"], batch_size=config["batch_size"], rng=seed, progress=False)
    return model


def _inputs(model: Sequential, config: dict[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The fit and test inputs of the second hidden layer (float64): MNIST hidden activations and Gaussian."""
    x_train, _, x_test, _ = dataset(config["dataset"], config["n_fit"], config["n_test"])
    first = Sequential(*model.layers[:2]).inference_function()
    mnist = (first(x_train).astype(np.float64), first(x_test).astype(np.float64))
    scale = float(np.sqrt(np.mean(mnist[0] ** 2)))
    gen = np.random.default_rng(config["seed"] + 10)
    d = mnist[0].shape[1]
    gaussian = (scale * gen.standard_normal((config["n_fit"], d)), scale * gen.standard_normal((config["n_test"], d)))
    return {"mnist": mnist, "gaussian": gaussian}


def _low_rank(dense: Dense, activation: Layer, rank: int) -> tuple[Any, int]:
    """:math:`x \\mapsto \\sigma(xU_r\\Sigma_rV_r^\\top + b)` and its trainable values r(d_in + d_out) + d_out."""
    u, s, vt = np.linalg.svd(dense.params["W"].astype(np.float64), full_matrices=False)
    left, right = u[:, :rank] * s[:rank], vt[:rank]
    b = dense.params["b"].astype(np.float64)
    act = activation.inference_function()
    return (lambda x: act((x @ left) @ right + b)), rank * (dense.d_in + dense.d_out) + dense.d_out


def _approximations(config: dict[str, Any], dense: Dense, activation: Layer) -> list[tuple[dict[str, Any], Any, int]]:
    """Every approximating layer, fitted later: (description, layer or function, trainable values)."""
    seed, d_in, d_out = config["seed"], dense.d_in, dense.d_out
    items: list[tuple[dict[str, Any], Any, int]] = []
    for order in config["orders"]:
        for norm_term in (True, False):
            for m in config["eugen_ms"]:
                layer = EUGen(d_in, d_out, m, order, norm_term=norm_term, rng=seed * 1000 + m, dtype=np.float64)
                items.append(({"method": "eugen", "order": order, "norm_term": norm_term, "width": m}, layer,
                              layer.n_params))
    for m in config["snnk_ms"]:
        layer = SNNK(d_in, d_out, m, activation="relu", rng=seed * 1000 + m + 1, dtype=np.float64)
        items.append(({"method": "snnk", "order": None, "norm_term": None, "width": m}, layer, layer.n_params))
    for rank in config["ranks"]:
        function, n_params = _low_rank(dense, activation, rank)
        items.append(({"method": "low_rank_svd", "order": None, "norm_term": None, "width": rank}, function, n_params))
        layer = LowRank(d_in, d_out, rank, rng=seed, dtype=np.float64)
        items.append(({"method": "low_rank_ridge", "order": None, "norm_term": None, "width": rank}, layer,
                      layer.n_params))
    return items


def run_unit(config: dict[str, Any]) -> dict[str, Any]:
    """Train the network, then fit every approximation of its second hidden layer on both kinds of input."""
    with single_blas_thread():
        model = trained_network(config)
        dense, activation = model.layers[2].astype(np.float64), model.layers[3]
        target = Sequential(dense, activation).inference_function()
        inputs = _inputs(model, config)
        rows = []
        for kind, (x_fit, x_test) in inputs.items():
            y_fit, y_test = target(x_fit), target(x_test)
            for description, layer, n_params in _approximations(config, dense, activation):
                if isinstance(layer, Layer):
                    fit_layer(layer, x_fit, y_fit, l2_relative=config["l2_relative"])
                    predict = layer.inference_function()
                else:
                    predict = layer
                rows.append({"inputs": kind, **description, "params": int(n_params),
                             "relative_mse": relative_mse(predict(x_test), y_test)})
    return {"activation": config["activation"], "seed": config["seed"], "dense_params": int(dense.n_params),
            "rows": rows}


def _label(row: dict[str, Any]) -> str:
    if row["method"] == "eugen":
        return f"EUGen order {row['order']}" + ("" if row["norm_term"] else ", no norm term")
    return {"snnk": "SNNK (relu)", "low_rank_svd": "low-rank (SVD inside σ)",
            "low_rank_ridge": "low-rank ridge (linear)"}[row["method"]]


def _summary(results: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """(inputs, activation, label, width) -> params and the relative MSEs over seeds."""
    flat = [{"activation": r["activation"], "seed": r["seed"], **row, "label": _label(row)}
            for r in results for row in r["rows"]]
    summary = {}
    for key, group in group_by(flat, ("inputs", "activation", "label", "width")).items():
        summary[key] = {"params": group[0]["params"], "errors": [g["relative_mse"] for g in group]}
    return summary


def render(results: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """One table per kind of input (relative MSE mean ± std per activation, trainable parameters), and the plot."""
    summary = _summary(results)
    activations = [a for a in ACTIVATIONS if any(key[1] == a for key in summary)]
    seeds = sorted({r["seed"] for r in results})
    dense_params = results[0]["dense_params"] if results else 0
    lines = ["## Approximating one trained dense layer (256 → 256) in closed form", "",
             f"Relative MSE (1 − R²) on held-out inputs, mean ± std over seeds {seeds}; the dense layer has "
             f"{dense_params:,} parameters. EUGen and SNNK read-outs by ridge, low-rank by truncated SVD of W inside "
             "the activation (no fitting) or by reduced-rank ridge (a linear layer).", ""]
    for kind in INPUTS:
        rows = sorted({(key[2], key[3]) for key in summary if key[0] == kind},
                      key=lambda lw: (lw[0], lw[1]))
        if not rows:
            continue
        title = "MNIST hidden activations" if kind == "mnist" else "synthetic Gaussian inputs (matched scale)"
        lines += [f"### Inputs: {title}", "",
                  "| approximation | m or r | trainable parameters | " + " | ".join(LABELS[a] for a in activations)
                  + " |", "| --- | ---: | ---: |" + " ---: |" * len(activations)]
        for label, width in rows:
            params = next(summary[(kind, a, label, width)]["params"] for a in activations
                          if (kind, a, label, width) in summary)
            cells = [mean_std(summary[(kind, a, label, width)]["errors"], 3) if (kind, a, label, width) in summary
                     else "" for a in activations]
            lines.append(f"| {label} | {width} | {params:,} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _best_within_budget(summary, activations, dense_params)
    return "\n".join(lines), {"layer_approximation.png": _plot(summary, activations)}


def _best_within_budget(summary: dict[tuple, dict[str, Any]], activations: list[str], dense_params: int) -> list[str]:
    """For every input kind and activation, the lowest mean error with about half the dense layer's parameters or less.

    "About half": at most :data:`BUDGET_FRACTION` of them, so that the widths of every family that land near one
    half (33,024 to 33,280 of 65,792 at the full sizes) compete.
    """
    budget = int(BUDGET_FRACTION * dense_params)
    lines = [f"Lowest mean relative MSE with at most {BUDGET_FRACTION:.0%} of the dense layer's parameters "
             f"(≤ {budget:,}):", ""]
    for kind in INPUTS:
        for activation in activations:
            within = [(float(np.mean(value["errors"])), key, value["params"]) for key, value in summary.items()
                      if key[:2] == (kind, activation) and value["params"] <= budget]
            if within:
                error, key, params = min(within)
                lines.append(f"- {kind} inputs, {LABELS[activation]}: {key[2]} ({key[3]}), {params:,} parameters, "
                             f"relative MSE {error:.3f}")
    return lines + [""]


def _plot(summary: dict[tuple, dict[str, Any]], activations: list[str]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * max(len(activations), 1), 7.5))
    axes = fig.subplots(len(INPUTS), max(len(activations), 1), squeeze=False, sharey=True)
    styles = {}
    for order, colour in zip((1, 2, 3), ("tab:blue", "tab:orange", "tab:green")):
        styles[f"EUGen order {order}"] = {"color": colour, "linestyle": "-", "marker": "o"}
        styles[f"EUGen order {order}, no norm term"] = {"color": colour, "linestyle": "--", "marker": "x"}
    styles["SNNK (relu)"] = {"color": "tab:red", "linestyle": "-", "marker": "s"}
    styles["low-rank (SVD inside σ)"] = {"color": "black", "linestyle": "-.", "marker": "D"}
    styles["low-rank ridge (linear)"] = {"color": "grey", "linestyle": ":", "marker": "d"}
    for i, kind in enumerate(INPUTS):
        for j, activation in enumerate(activations):
            ax = axes[i][j]
            for label, style in styles.items():
                keys = sorted((key for key in summary if key[:3] == (kind, activation, label)),
                              key=lambda key: summary[key]["params"])
                if keys:
                    ax.plot([summary[k]["params"] for k in keys],
                            [max(float(np.mean(summary[k]["errors"])), 1e-6) for k in keys], label=label, **style)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.set_title(f"{LABELS[activation]}, {'MNIST activations' if kind == 'mnist' else 'Gaussian inputs'}",
                         fontsize=9)
            ax.set_xlabel("trainable parameters")
            if j == 0:
                ax.set_ylabel("relative MSE (1 − R²)")
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    return fig
