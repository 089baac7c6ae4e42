"""Chapter 'prp': PRP classifiers and autoencoders against dense and low-rank baselines.

Models (all float32, Adam, batch 128):

* ``dense``: MLP 784-512-256-10 with ReLU, every weight trained (535,818 parameters);
* ``prp-<scheme>``: the same shape with every layer a PRP layer (3,108 parameters);
* ``lowrank``: the same shape with rank-1 low-rank layers, also 3,108 parameters
  (r(d_in + d_out) + d_out per layer equals PRP's d_in + 2 d_out at r = 1).

Learning rates come from the learning-rate range test, run on MNIST once for
each family (dense, PRP, low-rank); the PRP schemes share the Gaussian PRP's rate.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..fast.optim import FusedAdam
from ..jl import distortion_ratios, fraction_within, jl_projection_matrix, johnson_lindenstrauss_min_dim
from ..layers import PRP, PRPAutoencoder
from ..losses import MeanSquaredError, SoftmaxCrossEntropy
from ..lr_finder import lr_range_test
from ..models import dense_autoencoder_params, dense_mlp, lowrank_autoencoder, lowrank_mlp, prp_mlp
from ..storage import storage_report
from ..training import evaluate, fit
from .half import DATASETS, Runner, summarize
from .report import RunContext, chapter

EPOCHS = 10
SEEDS = (0, 1, 2)
SCHEMES = ("gaussian", "sparse_ternary", "ternary_equal", "orthogonal")
AE_K = 64
AE_EPOCHS = 10

#: What descriptions of the paper report (secondary sources; not verified against the paper's tables).
REPORTED = {
    "dense": "97.79% on MNIST, 535,818 parameters",
    "prp-gaussian": "91.66% on MNIST, 3,108 parameters (172x fewer); scheme not stated",
}


@chapter("prp", "PRP layers: element-wise modulated random matrices, autoencoders and JL geometry")
def run(ctx: RunContext) -> None:
    from matplotlib.figure import Figure

    quick = ctx.quick
    seeds = SEEDS[:2] if quick else SEEDS
    epochs = 1 if quick else EPOCHS
    runner = Runner(ctx, seeds, epochs, (3000, 1000) if quick else None)
    mnist = runner.dataset("mnist")

    # 1. Learning-rate range tests, dense and PRP separately.
    steps = 60 if quick else 300
    tests = {
        "dense": lr_range_test(lambda: (lambda m: (m, FusedAdam(m)))(dense_mlp(0)), mnist[0], mnist[1],
                               loss=SoftmaxCrossEntropy(), lr_min=1e-5, lr_max=1.0, steps=steps, rng=0),
        "prp": lr_range_test(lambda: (lambda m: (m, FusedAdam(m)))(prp_mlp(0)), mnist[0], mnist[1],
                             loss=SoftmaxCrossEntropy(), lr_min=1e-5, lr_max=10.0, steps=steps, rng=0),
        "lowrank": lr_range_test(lambda: (lambda m: (m, FusedAdam(m)))(lowrank_mlp(0)), mnist[0], mnist[1],
                                 loss=SoftmaxCrossEntropy(), lr_min=1e-5, lr_max=10.0, steps=steps, rng=0),
    }
    lrs = {name: float(f"{t.suggested_lr:.1g}") for name, t in tests.items()}
    fig = Figure(figsize=(5, 3.8))
    ax = fig.subplots()
    for name, result in tests.items():
        result.plot(ax, label=f"{name}: suggested {lrs[name]:g}")
    ax.legend()
    ax.set_title("learning-rate range test (MNIST)")
    ctx.figure(fig, "prp_lr_range", "Learning-rate range tests; dotted lines mark the suggested rates.")
    ctx.text(
        f"Learning-rate range test ({steps} steps, rates from 1e-5 up, loss smoothed, suggestion = rate at the "
        f"minimum / 10, rounded to one digit): dense **{lrs['dense']:g}**, PRP **{lrs['prp']:g}**, "
        f"low-rank **{lrs['lowrank']:g}**. "
        f"Training: Adam, batch 128, float32, {epochs} epoch(s), seeds {list(seeds)}."
        + (" *Quick run: 3,000 training images, 1 epoch — not the published numbers.*" if quick else "")
    )

    # 2. Classifiers.
    summary: dict[str, dict[str, Any]] = {}
    builders = {"dense": (lambda s, d: dense_mlp(s), lrs["dense"]),
                "lowrank": (lambda s, d: lowrank_mlp(s), lrs["lowrank"])}
    for scheme in SCHEMES:
        builders[f"prp-{scheme}"] = (lambda s, d, scheme=scheme: prp_mlp(s, scheme), lrs["prp"])
    rows = []
    for name, (build, lr) in builders.items():
        row = [f"`{name}`"]
        for dataset in DATASETS:
            res = summarize(runner.run(name, dataset, build, lr=lr))
            summary.setdefault(name, {})[dataset] = res
            row.append(f"{100 * res['test_mean']:.2f} ± {100 * res['test_std']:.2f}")
        row[1:1] = [f"{res['trainable']:,}", f"{res['fixed']:,}"]
        rows.append(row + [REPORTED.get(name, "")])
    ctx.text("### MLP 784-512-256-10: test accuracy (%), mean ± std over seeds")
    ctx.table(["model", "trainable", "fixed", "MNIST", "Fashion-MNIST", "reported (secondary source)"], rows)
    ratio = summary["dense"]["mnist"]["trainable"] / summary["prp-gaussian"]["mnist"]["trainable"]
    ctx.text(f"Parameter reduction of the all-PRP MLP: **{ratio:.0f}x** (535,818 / 3,108).")

    # 3. Storage accounting.
    storage_rows = []
    for name in ("dense", "prp-gaussian", "lowrank"):
        model = dense_mlp(0) if name == "dense" else prp_mlp(0) if name == "prp-gaussian" else lowrank_mlp(0)
        rep = storage_report(model, summary[name]["mnist"]["test_mean"])
        summary[name]["storage"] = rep
        storage_rows.append([f"`{name}`", f"{rep['trainable']:,}", f"{rep['bytes_seeded']:,}",
                             f"{rep['bytes_stored']:,}", f"{rep['bits_per_point_seeded']:,.0f}",
                             f"{rep['bits_per_point_stored']:,.0f}"])
    ctx.text(
        "### Storage\n\nBits per accuracy point is **rpnumpy's own figure** (8 x file bytes / MNIST test accuracy "
        "in %, lower is better), not the paper's Bit Efficiency Score, whose definition is not available."
    )
    ctx.table(["model", "trainable", "file bytes (P from seed)", "file bytes (P stored)",
               "bits/point (seed)", "bits/point (stored)"], storage_rows)

    # 4. Autoencoders on MNIST.
    x_train, _, x_test, _ = mnist
    ae_epochs = 1 if quick else AE_EPOCHS
    mean_error = float(((x_test - x_train.mean(0)) ** 2).mean())
    ae_rows, ae_models = [], {}
    for name in ("prp-tied", "prp-untied", "lowrank"):
        errors = []
        for seed in seeds:
            if name == "lowrank":
                model = lowrank_autoencoder(ae_models["prp-tied"].n_params, seed)  # the tied model's budget
            else:
                model = PRPAutoencoder(784, AE_K, tied=(name == "prp-tied"), rng=seed, dtype=np.float32)
            fit(model, x_train, x_train, loss=MeanSquaredError(), optimizer=FusedAdam(model, lr=1e-2), epochs=ae_epochs,
                rng=seed, progress=ctx.progress, description=f"AE {name} seed {seed}")
            errors.append(evaluate(model, x_test, x_test, loss=MeanSquaredError())["loss"])
            ae_models[name] = model
        errors = np.array(errors)
        summary.setdefault(f"ae-{name}", {})["mnist"] = {"mse_mean": float(errors.mean()),
                                                          "mse_std": float(errors.std(ddof=1)) if len(errors) > 1
                                                          else 0.0, "trainable": model.n_params}
        ae_rows.append([f"`{name}`", f"{model.n_params:,}", f"{errors.mean():.4f} ± "
                        f"{errors.std(ddof=1) if len(errors) > 1 else 0:.4f}",
                        f"{100 * (1 - errors.mean() / mean_error):.1f}%"])
    dense_ae = dense_autoencoder_params(AE_K)
    summary["ae-mean-image"] = {"mnist": {"mse": mean_error}}
    ctx.text(
        f"### Autoencoders on MNIST (bottleneck k = {AE_K}, sigmoid output, Adam lr=1e-2, {ae_epochs} epoch(s))\n\n"
        f"Predicting the mean training image gives MSE {mean_error:.4f}. A dense autoencoder 784-{AE_K}-784 would "
        f"train {dense_ae:,} parameters: {dense_ae / ae_models['prp-tied'].n_params:.0f}x the tied PRP one."
    )
    ctx.table(["model", "trainable", "test MSE", "share of the mean-image error removed"], ae_rows)
    fig = Figure(figsize=(8, 3.4))
    axes = fig.subplots(4, 8)
    for j in range(8):
        axes[0, j].imshow(x_test[j].reshape(28, 28), cmap="gray_r")
        for i, name in enumerate(("prp-tied", "prp-untied", "lowrank"), start=1):
            axes[i, j].imshow(ae_models[name].forward(x_test[j:j + 1]).reshape(28, 28), cmap="gray_r")
    for ax in axes.ravel():
        ax.set_axis_off()
    for i, name in enumerate(("original", "prp-tied", "prp-untied", "lowrank")):
        axes[i, 0].set_title(name, fontsize=7, loc="left")
    ctx.figure(fig, "prp_autoencoders", "Test digits and their reconstructions (rows: original, tied PRP, "
               "untied PRP, low-rank at the same budget).")

    # 5. JL: distortion of pairwise distances of MNIST images under every family, against the bound.
    n_points = 100 if quick else 300
    eps = 0.2
    points = x_test[:n_points].astype(np.float64)
    ks = (16, 64, 256) if quick else (16, 32, 64, 128, 256, 512)
    fractions = {kind: fraction_within(points, ks, eps, kind, seeds=range(2 if quick else 5)).mean(axis=1)
                 for kind in ("gaussian", "rademacher", "sparse_ternary", "orthogonal", "gaussian_orthogonal")}
    bound = int(johnson_lindenstrauss_min_dim(n_points, eps))
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.subplots()
    for kind, frac in fractions.items():
        ax.plot(ks, np.asarray(frac), "o-", label=kind)
    ax.axvline(bound, color="k", linestyle="--", linewidth=1, label=f"JL bound k={bound}")
    ax.set(xscale="log", xlabel="target dimension k", ylabel=f"fraction of pairs within 1±{eps}",
           title=f"MNIST, {n_points} images, d=784")
    ax.legend(fontsize=7)
    ctx.figure(fig, "prp_jl_mnist", "Johnson–Lindenstrauss on MNIST: the bound is loose for real images.")
    # PRP's own projection at initialisation (alpha = w = 1): x -> x P with the JL scaling sqrt(784/k).
    layer = PRP(784, 256, rng=0)
    projected = layer.forward(points) * np.sqrt(784 / 256)
    ratios = distortion_ratios(points, projected)
    within = float(np.mean(np.abs(ratios - 1) < eps))
    same = bool(np.allclose(projected, points @ jl_projection_matrix("gaussian", 784, 256, 0), rtol=1e-10))
    summary["jl"] = {"bound_k": bound, "ks": list(ks), "fractions": {k: list(map(float, v))
                                                                      for k, v in fractions.items()},
                     "prp_init_within": within}
    ctx.text(
        f"For {n_points} points and ε = {eps} the JL bound asks for k ≥ {bound}. "
        f"PRP(784→256) at initialisation (α = w = 1, Gaussian P, rescaled by √(784/256)) keeps "
        f"{100 * within:.1f}% of the pairwise squared distances within 1 ± {eps}"
        + (" (the same map as the library's JL-scaled Gaussian projection with that seed)." if same else ".")
    )
    ctx.results["prp"] = summary
    (ctx.out_dir / "results_prp.json").write_text(json.dumps({"epochs": epochs, "lrs": lrs, "seeds": list(seeds),
                                                              "quick": quick, "summary": summary}, indent=1))
