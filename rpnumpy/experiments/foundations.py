"""Chapter 'foundations': a NumPy MLP on real MNIST, gradient-checked, saved and reloaded.

Two sections, one unit each: the gradient checks of the core layers, and the MLP (trained,
gradient-checked in float64, saved and reloaded).
"""

from __future__ import annotations

import numpy as np

from ..fast.optim import FusedAdam
from ..gradcheck import PASS_THRESHOLD, check_gradients, check_loss_gradient
from ..io import load_model, model_file_size, save_model
from ..layers import ACTIVATIONS, Dense, Flatten, ReLU, Sequential
from ..losses import MeanSquaredError, SoftmaxCrossEntropy
from ..models import mnist_mlp
from ..training import evaluate, fit, predict
from . import units
from .report import RunContext, Section, chapter

#: The published configuration of the foundation MLP.
MLP_EPOCHS = 10
MLP_BATCH = 128
MLP_LR = 1e-3


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal draws pushed at least 0.1 away from 0, so a check never straddles a ReLU kink."""
    u = rng.standard_normal(shape)
    return np.sign(u) * (0.1 + np.abs(u))


def standard_gradchecks(seed: int = 0) -> list[tuple[str, object]]:
    """Gradient checks (float64) of every core layer, activation, loss and a two-layer model."""
    rng = np.random.default_rng(seed)
    checks: list[tuple[str, object]] = []
    checks.append(("Dense(5, 4)", check_gradients(Dense(5, 4, rng=seed), rng.standard_normal((3, 5)), rng=seed)))
    checks.append(("Flatten", check_gradients(Flatten(), rng.standard_normal((3, 2, 4)), rng=seed)))
    for cls in ACTIVATIONS.values():
        checks.append((cls.__name__, check_gradients(cls(), away_from_zero(rng, (4, 6)), rng=seed)))
    labels = rng.integers(0, 5, size=6)
    logits, prediction, target = rng.standard_normal((6, 5)), rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    checks.append(("SoftmaxCrossEntropy", check_loss_gradient(SoftmaxCrossEntropy(), logits, labels)))
    checks.append(("MeanSquaredError", check_loss_gradient(MeanSquaredError(), prediction, target)))
    model = Sequential(Dense(6, 5, rng=seed), ReLU(), Dense(5, 3, rng=seed + 1))
    checks.append(("Dense-ReLU-Dense", check_gradients(model, rng.standard_normal((4, 6)), rng=seed)))
    return checks


def _intro(ctx: RunContext) -> None:
    n_train, n_test = (5000, 1000) if ctx.quick else (60_000, 10_000)
    ctx.text(
        f"MNIST: {n_train:,} training and {n_test:,} test images, float32 in [0, 1]."
        + (" *Quick run: a subset and one epoch; the numbers are not the published ones.*" if ctx.quick else "")
    )


# -- 1. gradient checks ----------------------------------------------------------------------------------------
def gradcheck_units(quick: bool) -> list[dict]:
    return [{"seed": 0}]


def gradcheck_unit(config: dict) -> dict:
    """Every core layer, activation and loss against central differences."""
    return {"rows": [[name, report.max_relative_error, bool(report.passed())]
                     for name, report in standard_gradchecks(config["seed"])]}


def gradcheck_render(ctx: RunContext, results: list) -> None:
    ((_, result),) = results
    ctx.text("### Gradient checks (float64, central differences, random upstream gradient)")
    rows = [[name, f"{error:.1e}", "pass" if passed else "FAIL"] for name, error, passed in result["rows"]]
    ctx.table(["layer / loss", "max relative error", f"verdict (< {PASS_THRESHOLD:.0e})"], rows)
    ctx.results["gradchecks"] = {r[0]: float(r[1]) for r in rows}


# -- 2. the MLP ---------------------------------------------------------------------------------------------------
MODEL_FILE = "mlp_784_256_10.npz"


def mlp_units(quick: bool) -> list[dict]:
    return [{"seed": 0, "epochs": 1 if quick else MLP_EPOCHS, "batch": MLP_BATCH, "lr": MLP_LR,
             "subset": [5000, 1000] if quick else None}]


def mlp_cost(config: dict) -> float:
    return 4.0 * config["epochs"] * (config["subset"][0] / 60_000 if config["subset"] else 1.0) + 5


def mlp_unit(config: dict) -> dict:
    """Train the 784-256-10 MLP, gradient-check it in float64, save and reload it."""
    seed = config["seed"]
    x_train, y_train, x_test, y_test = units.dataset("mnist", config["subset"])
    model = mnist_mlp(seed)
    history = fit(
        model, x_train, y_train, loss=SoftmaxCrossEntropy(), optimizer=FusedAdam(model, lr=config["lr"]),
        epochs=config["epochs"], batch_size=config["batch"], validation_data=(x_test, y_test), rng=seed,
        progress=False, description="MLP 784-256-10",
    )
    report = check_gradients(model.astype(np.float64), x_test[:4].astype(np.float64), rng=seed, max_entries=300)
    path = save_model(model, units.environment().out_dir / MODEL_FILE)
    reloaded = load_model(path)
    return {
        "n_params": model.n_params, "loss": history.loss, "train_accuracy": history.train_accuracy,
        "test_loss": history.test_loss, "test_accuracy": history.test_accuracy,
        "epoch_seconds": history.epoch_seconds, "first_layer": model.params["0.W"][:, :16].T,
        "trained_gradcheck": report.max_relative_error, "trained_gradcheck_markdown": report.to_markdown(),
        "file_bytes": model_file_size(model),
        "reload_identical": bool(np.array_equal(predict(model, x_test), predict(reloaded, x_test))),
        "reload_accuracy": evaluate(reloaded, x_test, y_test)["accuracy"],
    }


def mlp_render(ctx: RunContext, results: list) -> None:
    ((config, r),) = results
    final = r["test_accuracy"][-1]
    ctx.results.update(mlp_test_accuracy=final, trained_model_gradcheck=r["trained_gradcheck"],
                       reload_identical=r["reload_identical"])
    ctx.text(
        f"### Training: MLP 784-256-10 (ReLU), Adam lr={config['lr']:g}, batch {config['batch']}, float32, "
        f"seed {config['seed']}\n\nTrainable parameters: {r['n_params']:,}. Final test accuracy after "
        f"{config['epochs']} epoch(s): **{100 * final:.2f}%**."
    )
    ctx.table(
        ["epoch", "train loss", "train acc. (running)", "test loss", "test acc."],
        [[i + 1, f"{r['loss'][i]:.4f}", f"{100 * r['train_accuracy'][i]:.2f}%", f"{r['test_loss'][i]:.4f}",
          f"{100 * r['test_accuracy'][i]:.2f}%"] for i in range(len(r["loss"]))],
    )
    _mlp_figures(ctx, r)
    ctx.text("### The trained model, converted to float64 and gradient-checked (300 random entries per array)")
    ctx.text(r["trained_gradcheck_markdown"])
    ctx.text(
        f"### Saved and reloaded\n\n`{MODEL_FILE}`: {r['file_bytes']:,} bytes. Reloaded with "
        f"`allow_pickle=False`; predictions identical to the original: **{r['reload_identical']}**; test accuracy "
        f"{100 * r['reload_accuracy']:.2f}%."
    )


def _mlp_figures(ctx: RunContext, r: dict) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.5))
    ax1, ax2 = fig.subplots(1, 2)
    epochs_axis = np.arange(1, len(r["loss"]) + 1)
    ax1.plot(epochs_axis, r["loss"], "o-", label="train (running mean)")
    ax1.plot(epochs_axis, r["test_loss"], "s-", label="test")
    ax1.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax1.legend()
    ax2.plot(epochs_axis, 100 * np.array(r["train_accuracy"]), "o-", label="train (running)")
    ax2.plot(epochs_axis, 100 * np.array(r["test_accuracy"]), "s-", label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax2.legend()
    ctx.figure(fig, "foundations_learning_curves", "Learning curves of the 784-256-10 MLP on MNIST.")
    fig = Figure(figsize=(8, 2.2))
    for column, ax in zip(r["first_layer"], fig.subplots(2, 8).ravel()):
        ax.imshow(np.reshape(column, (28, 28)), cmap="RdBu_r")
        ax.set_axis_off()
    ctx.figure(fig, "foundations_first_layer", "Incoming weights of the first 16 hidden units (red positive).")


CHAPTER = chapter("foundations", "Foundations: a NumPy MLP on MNIST, checked by central differences", intro=_intro,
                  sections=[Section("gradchecks", gradcheck_units, gradcheck_unit, gradcheck_render),
                            Section("mlp", mlp_units, mlp_unit, mlp_render, mlp_cost)])


def run(ctx: RunContext) -> None:
    """Run this chapter into ``ctx``, its units stored under ``ctx.out_dir / "units"`` (:meth:`.report.Chapter.run`)."""
    CHAPTER.run(ctx)
