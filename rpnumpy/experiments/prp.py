"""Chapter 'prp': PRP classifiers and autoencoders against dense and low-rank baselines.

Models (all float32, Adam, batch 128):

* ``dense``: MLP 784-512-256-10 with ReLU, every weight trained (535,818 parameters);
* ``prp-<scheme>``: the same shape with every layer a PRP layer (3,108 parameters);
* ``lowrank``: the same shape with rank-1 low-rank layers, also 3,108 parameters
  (r(d_in + d_out) + d_out per layer equals PRP's d_in + 2 d_out at r = 1).

Learning rates come from the learning-rate range test, run on MNIST once for
each family (dense, PRP, low-rank); the PRP schemes share the Gaussian PRP's rate.

Units: the three range tests; one training run per (model, data set, seed), whose config names
the range test that gives its rate (:func:`classifier_unit` reads that unit's result); the
storage accounting of each model; one autoencoder per (model, seed); the JL study.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..fast.optim import FusedAdam
from ..jl import distortion_ratios, fraction_within, jl_projection_matrix, johnson_lindenstrauss_min_dim
from ..layers import PRP, PRPAutoencoder
from ..losses import MeanSquaredError, SoftmaxCrossEntropy
from ..lr_finder import LRRangeResult, lr_range_test
from ..models import dense_autoencoder_params, dense_mlp, lowrank_autoencoder, lowrank_mlp, prp_mlp
from ..storage import bits_per_accuracy_point, storage_report
from ..training import evaluate, fit
from . import units
from .half import DATASETS, QUICK_SUBSET, by_model, train_config, train_cost, train_label, train_unit
from .report import RunContext, Section, chapter

EPOCHS = 10
SEEDS = (0, 1, 2)
SCHEMES = ("gaussian", "sparse_ternary", "ternary_equal", "orthogonal")
AE_K = 64
AE_EPOCHS = 10
AE_MODELS = ("prp-tied", "prp-untied", "lowrank")

#: What descriptions of the paper report (secondary sources; not verified against the paper's tables).
REPORTED = {
    "dense": "97.79% on MNIST, 535,818 parameters",
    "prp-gaussian": "91.66% on MNIST, 3,108 parameters (172x fewer); scheme not stated",
}

#: Range-test family of each classifier, and the family's largest rate tried.
FAMILY = {"dense": "dense", "lowrank": "lowrank", **{f"prp-{scheme}": "prp" for scheme in SCHEMES}}
LR_MAX = {"dense": 1.0, "prp": 10.0, "lowrank": 10.0}
BUILDERS = {"dense": dense_mlp, "prp": prp_mlp, "lowrank": lowrank_mlp}


def _size(quick: bool) -> dict[str, Any]:
    return {"seeds": SEEDS[:2] if quick else SEEDS, "epochs": 1 if quick else EPOCHS,
            "subset": QUICK_SUBSET if quick else None, "steps": 60 if quick else 300}


def _intro(ctx: RunContext) -> None:
    ctx.results["prp"] = {}


# -- 1. learning-rate range tests -------------------------------------------------------------------------------
def range_config(family: str, quick: bool) -> dict[str, Any]:
    size = _size(quick)
    return {"family": family, "steps": size["steps"], "lr_min": 1e-5, "lr_max": LR_MAX[family],
            "subset": list(size["subset"]) if size["subset"] else None}


def range_units(quick: bool) -> list[dict[str, Any]]:
    return [range_config(family, quick) for family in BUILDERS]


def range_unit(config: dict[str, Any]) -> dict[str, Any]:
    """The range test of one family on MNIST (seed 0), with the suggested rate rounded to one digit."""
    x, y = units.dataset("mnist", config["subset"])[:2]
    build = BUILDERS[config["family"]]
    result = lr_range_test(lambda: (lambda m: (m, FusedAdam(m)))(build(0)), x, y, loss=SoftmaxCrossEntropy(),
                           lr_min=config["lr_min"], lr_max=config["lr_max"], steps=config["steps"], rng=0)
    return {"lrs": result.lrs, "losses": result.losses, "smoothed": result.smoothed,
            "suggested_lr": result.suggested_lr, "best_lr": result.best_lr, "lr": float(f"{result.suggested_lr:.1g}")}


def range_render(ctx: RunContext, results: list) -> None:
    from matplotlib.figure import Figure

    lrs = {config["family"]: result["lr"] for config, result in results}
    size = _size(ctx.quick)
    fig = Figure(figsize=(5, 3.8))
    ax = fig.subplots()
    for config, r in results:
        test = LRRangeResult(np.array(r["lrs"]), np.array(r["losses"]), np.array(r["smoothed"]), r["suggested_lr"],
                             r["best_lr"])
        test.plot(ax, label=f"{config['family']}: suggested {r['lr']:g}")
    ax.legend()
    ax.set_title("learning-rate range test (MNIST)")
    ctx.figure(fig, "prp_lr_range", "Learning-rate range tests; dotted lines mark the suggested rates.")
    ctx.results["prp_lrs"] = lrs
    ctx.text(
        f"Learning-rate range test ({size['steps']} steps, rates from 1e-5 up, loss smoothed, suggestion = rate at "
        f"the minimum / 10, rounded to one digit): dense **{lrs['dense']:g}**, PRP **{lrs['prp']:g}**, "
        f"low-rank **{lrs['lowrank']:g}**. "
        f"Training: Adam, batch 128, float32, {size['epochs']} epoch(s), seeds {list(size['seeds'])}."
        + (" *Quick run: 3,000 training images, 1 epoch — not the published numbers.*" if ctx.quick else "")
    )


# -- 2. classifiers -------------------------------------------------------------------------------------------------
def classifier_units(quick: bool) -> list[dict[str, Any]]:
    size = _size(quick)
    return [{**train_config(model, dataset, seed, epochs=size["epochs"], lr=None, subset=size["subset"]),
             "lr_from": range_config(FAMILY[model], quick)}
            for model in FAMILY for dataset in DATASETS for seed in size["seeds"]]


def classifier_unit(config: dict[str, Any]) -> dict[str, Any]:
    """A training run (:func:`~rpnumpy.experiments.half.train_unit`) at the rate of its family's range test."""
    lr = units.result_of(range_unit, config["lr_from"])["lr"]
    return train_unit({**config, "lr": lr})


def classifier_render(ctx: RunContext, results: list) -> None:
    summary = ctx.results["prp"]
    summary.update(by_model(results))
    rows = []
    for name in FAMILY:
        first = summary[name]["mnist"]
        rows.append([f"`{name}`", f"{first['trainable']:,}", f"{first['fixed']:,}",
                     *(f"{100 * summary[name][d]['test_mean']:.2f} ± {100 * summary[name][d]['test_std']:.2f}"
                       for d in DATASETS), REPORTED.get(name, "")])
    ctx.text("### MLP 784-512-256-10: test accuracy (%), mean ± std over seeds")
    ctx.table(["model", "trainable", "fixed", "MNIST", "Fashion-MNIST", "reported (secondary source)"], rows)
    ratio = summary["dense"]["mnist"]["trainable"] / summary["prp-gaussian"]["mnist"]["trainable"]
    ctx.text(f"Parameter reduction of the all-PRP MLP: **{ratio:.0f}x** (535,818 / 3,108).")


# -- 3. storage accounting ------------------------------------------------------------------------------------------
def storage_units(quick: bool) -> list[dict[str, Any]]:
    return [{"model": name} for name in ("dense", "prp-gaussian", "lowrank")]


def storage_unit(config: dict[str, Any]) -> dict[str, Any]:
    """File sizes of the model (seed 0) with its fixed matrices regenerated from seeds or stored."""
    return storage_report(BUILDERS[FAMILY[config["model"]]](0))


def storage_render(ctx: RunContext, results: list) -> None:
    summary, rows = ctx.results["prp"], []
    for config, rep in results:
        name, accuracy = config["model"], summary[config["model"]]["mnist"]["test_mean"]
        rep = {**rep, "bits_per_point_seeded": bits_per_accuracy_point(rep["bytes_seeded"], accuracy),
               "bits_per_point_stored": bits_per_accuracy_point(rep["bytes_stored"], accuracy)}
        summary[name]["storage"] = rep
        rows.append([f"`{name}`", f"{rep['trainable']:,}", f"{rep['bytes_seeded']:,}", f"{rep['bytes_stored']:,}",
                     f"{rep['bits_per_point_seeded']:,.0f}", f"{rep['bits_per_point_stored']:,.0f}"])
    ctx.text(
        "### Storage\n\nBits per accuracy point is **rpnumpy's own figure** (8 x file bytes / MNIST test accuracy "
        "in %, lower is better), not the paper's Bit Efficiency Score, whose definition is not available."
    )
    ctx.table(["model", "trainable", "file bytes (P from seed)", "file bytes (P stored)",
               "bits/point (seed)", "bits/point (stored)"], rows)


# -- 4. autoencoders on MNIST -----------------------------------------------------------------------------------------
def autoencoder_units(quick: bool) -> list[dict[str, Any]]:
    size = _size(quick)
    return [{"model": name, "seed": seed, "k": AE_K, "epochs": 1 if quick else AE_EPOCHS, "lr": 1e-2,
             "subset": list(size["subset"]) if size["subset"] else None}
            for name in AE_MODELS for seed in size["seeds"]]


def autoencoder_cost(config: dict[str, Any]) -> float:
    return 1.0 + 3.0 * config["epochs"] * (config["subset"][0] / 60_000 if config["subset"] else 1.0)


def autoencoder_unit(config: dict[str, Any]) -> dict[str, Any]:
    """Train one autoencoder (the low-rank one at the tied PRP autoencoder's budget); its test MSE."""
    x_train, _, x_test, _ = units.dataset("mnist", config["subset"])
    seed, k = config["seed"], config["k"]
    if config["model"] == "lowrank":
        model = lowrank_autoencoder(PRPAutoencoder(784, k, tied=True, rng=seed).n_params, seed)
    else:
        model = PRPAutoencoder(784, k, tied=(config["model"] == "prp-tied"), rng=seed, dtype=np.float32)
    fit(model, x_train, x_train, loss=MeanSquaredError(), optimizer=FusedAdam(model, lr=config["lr"]),
        epochs=config["epochs"], rng=seed, progress=False)
    return {"mse": evaluate(model, x_test, x_test, loss=MeanSquaredError())["loss"], "trainable": model.n_params,
            "mean_image_mse": float(((x_test - x_train.mean(0)) ** 2).mean()),
            "reconstructions": model.forward(x_test[:8])}


def autoencoder_render(ctx: RunContext, results: list) -> None:
    summary, rows, last = ctx.results["prp"], [], {}
    mean_error = results[0][1]["mean_image_mse"]
    for name in AE_MODELS:
        runs = [r for c, r in results if c["model"] == name]
        errors = np.array([r["mse"] for r in runs])
        std = float(errors.std(ddof=1)) if len(errors) > 1 else 0.0
        last[name] = runs[-1]
        summary[f"ae-{name}"] = {"mnist": {"mse_mean": float(errors.mean()), "mse_std": std,
                                           "trainable": runs[0]["trainable"]}}
        rows.append([f"`{name}`", f"{runs[0]['trainable']:,}", f"{errors.mean():.4f} ± {std:.4f}",
                     f"{100 * (1 - errors.mean() / mean_error):.1f}%"])
    summary["ae-mean-image"] = {"mnist": {"mse": mean_error}}
    dense_ae = dense_autoencoder_params(AE_K)
    ctx.text(
        f"### Autoencoders on MNIST (bottleneck k = {AE_K}, sigmoid output, Adam lr=1e-2, {results[0][0]['epochs']} "
        f"epoch(s))\n\nPredicting the mean training image gives MSE {mean_error:.4f}. A dense autoencoder "
        f"784-{AE_K}-784 would train {dense_ae:,} parameters: {dense_ae / last['prp-tied']['trainable']:.0f}x the "
        f"tied PRP one."
    )
    ctx.table(["model", "trainable", "test MSE", "share of the mean-image error removed"], rows)
    _autoencoder_figure(ctx, {name: np.array(r["reconstructions"]) for name, r in last.items()})


def _autoencoder_figure(ctx: RunContext, reconstructions: dict[str, np.ndarray]) -> None:
    from matplotlib.figure import Figure

    originals = units.dataset("mnist")[2][:8]
    fig = Figure(figsize=(8, 3.4))
    axes = fig.subplots(4, 8)
    for j in range(8):
        axes[0, j].imshow(originals[j].reshape(28, 28), cmap="gray_r")
        for i, name in enumerate(AE_MODELS, start=1):
            axes[i, j].imshow(reconstructions[name][j].reshape(28, 28), cmap="gray_r")
    for ax in axes.ravel():
        ax.set_axis_off()
    for i, name in enumerate(("original", *AE_MODELS)):
        axes[i, 0].set_title(name, fontsize=7, loc="left")
    ctx.figure(fig, "prp_autoencoders", "Test digits and their reconstructions (rows: original, tied PRP, "
               "untied PRP, low-rank at the same budget).")


# -- 5. JL: distortion of pairwise distances of MNIST images under every family, against the bound ---------------
def jl_units(quick: bool) -> list[dict[str, Any]]:
    ks = [16, 64, 256] if quick else [16, 32, 64, 128, 256, 512]
    return [{"n_points": 100 if quick else 300, "eps": 0.2, "ks": ks,
             "n_seeds": 2 if quick else 5, "prp_k": 256}]


def jl_unit(config: dict[str, Any]) -> dict[str, Any]:
    """Share of pairs within 1 ± eps for every family and k, the bound, and PRP's own projection at initialisation."""
    points = units.dataset("mnist")[2][:config["n_points"]].astype(np.float64)
    ks, eps = tuple(config["ks"]), config["eps"]
    fractions = {kind: fraction_within(points, ks, eps, kind, seeds=range(config["n_seeds"])).mean(axis=1)
                 for kind in ("gaussian", "rademacher", "sparse_ternary", "orthogonal", "gaussian_orthogonal")}
    k = config["prp_k"]
    # PRP's own projection at initialisation (alpha = w = 1): x -> x P with the JL scaling sqrt(784/k).
    projected = PRP(784, k, rng=0).forward(points) * np.sqrt(784 / k)
    ratios = distortion_ratios(points, projected)
    same = bool(np.allclose(projected, points @ jl_projection_matrix("gaussian", 784, k, 0), rtol=1e-10))
    return {"bound_k": int(johnson_lindenstrauss_min_dim(config["n_points"], eps)), "ks": list(ks),
            "fractions": fractions, "prp_init_within": float(np.mean(np.abs(ratios - 1) < eps)), "prp_same_map": same}


def jl_render(ctx: RunContext, results: list) -> None:
    from matplotlib.figure import Figure

    ((config, r),) = results
    n_points, eps, bound = config["n_points"], config["eps"], r["bound_k"]
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.subplots()
    for kind, frac in r["fractions"].items():
        ax.plot(r["ks"], np.asarray(frac), "o-", label=kind)
    ax.axvline(bound, color="k", linestyle="--", linewidth=1, label=f"JL bound k={bound}")
    ax.set(xscale="log", xlabel="target dimension k", ylabel=f"fraction of pairs within 1±{eps}",
           title=f"MNIST, {n_points} images, d=784")
    ax.legend(fontsize=7)
    ctx.figure(fig, "prp_jl_mnist", "Johnson–Lindenstrauss on MNIST: the bound is loose for real images.")
    summary = ctx.results["prp"]
    summary["jl"] = {key: r[key] for key in ("bound_k", "ks", "fractions", "prp_init_within")}
    ctx.text(
        f"For {n_points} points and ε = {eps} the JL bound asks for k ≥ {bound}. "
        f"PRP(784→{config['prp_k']}) at initialisation (α = w = 1, Gaussian P, rescaled by √(784/{config['prp_k']})) "
        f"keeps {100 * r['prp_init_within']:.1f}% of the pairwise squared distances within 1 ± {eps}"
        + (" (the same map as the library's JL-scaled Gaussian projection with that seed)." if r["prp_same_map"]
           else ".")
    )
    size = _size(ctx.quick)
    ctx.write_json("results_prp.json", {"epochs": size["epochs"], "lrs": ctx.results["prp_lrs"],
                                        "seeds": list(size["seeds"]), "quick": ctx.quick, "summary": summary})


CHAPTER = chapter(
    "prp", "PRP layers: element-wise modulated random matrices, autoencoders and JL geometry", intro=_intro,
    sections=[Section("lr_range", range_units, range_unit, range_render, lambda c: 2.0 + c["steps"] / 30),
              Section("classifiers", classifier_units, classifier_unit, classifier_render, train_cost, train_label),
              Section("storage", storage_units, storage_unit, storage_render),
              Section("autoencoders", autoencoder_units, autoencoder_unit, autoencoder_render, autoencoder_cost),
              Section("jl", jl_units, jl_unit, jl_render, lambda c: 2.0 + c["n_points"] / 20)])


def run(ctx: RunContext) -> None:
    """Run this chapter into ``ctx``, its units stored under ``ctx.out_dir / "units"`` (:meth:`.report.Chapter.run`)."""
    CHAPTER.run(ctx)
