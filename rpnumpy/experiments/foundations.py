"""Chapter 'foundations': a NumPy MLP on real MNIST, gradient-checked, saved and reloaded."""

from __future__ import annotations

import numpy as np

from ..datasets import load_mnist
from ..fast.optim import FusedAdam
from ..gradcheck import PASS_THRESHOLD, check_gradients, check_loss_gradient
from ..io import load_model, model_file_size, save_model
from ..layers import ACTIVATIONS, Dense, Flatten, ReLU, Sequential
from ..losses import MeanSquaredError, SoftmaxCrossEntropy
from ..models import mnist_mlp
from ..training import evaluate, fit, predict
from .report import RunContext, chapter

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


@chapter("foundations", "Foundations: a NumPy MLP on MNIST, checked by central differences")
def run(ctx: RunContext) -> None:
    from matplotlib.figure import Figure

    seed = ctx.seed
    x_train, y_train, x_test, y_test = load_mnist(ctx.data_dir, download=ctx.download)
    epochs = MLP_EPOCHS
    if ctx.quick:
        x_train, y_train, x_test, y_test = x_train[:5000], y_train[:5000], x_test[:1000], y_test[:1000]
        epochs = 1
    ctx.text(
        f"MNIST: {len(x_train):,} training and {len(x_test):,} test images, float32 in [0, 1]."
        + (" *Quick run: a subset and one epoch; the numbers are not the published ones.*" if ctx.quick else "")
    )

    # 1. Every layer, activation and loss against central differences.
    ctx.text("### Gradient checks (float64, central differences, random upstream gradient)")
    rows = []
    for name, report in standard_gradchecks(seed):
        rows.append([name, f"{report.max_relative_error:.1e}", "pass" if report.passed() else "FAIL"])
    ctx.table(["layer / loss", "max relative error", f"verdict (< {PASS_THRESHOLD:.0e})"], rows)
    ctx.results["gradchecks"] = {r[0]: float(r[1]) for r in rows}

    # 2. Train the MLP in float32.
    model = mnist_mlp(seed)
    history = fit(
        model, x_train, y_train, loss=SoftmaxCrossEntropy(), optimizer=FusedAdam(model, lr=MLP_LR),
        epochs=epochs, batch_size=MLP_BATCH, validation_data=(x_test, y_test), rng=seed,
        progress=ctx.progress, description="MLP 784-256-10",
    )
    final = history.test_accuracy[-1]
    ctx.results["mlp_test_accuracy"] = final
    ctx.results["mlp_epoch_seconds"] = float(np.median(history.epoch_seconds))
    ctx.text(
        f"### Training: MLP 784-256-10 (ReLU), Adam lr={MLP_LR:g}, batch {MLP_BATCH}, float32, seed {seed}\n\n"
        f"Trainable parameters: {model.n_params:,}. Final test accuracy after {epochs} epoch(s): "
        f"**{100 * final:.2f}%**. Median epoch time {ctx.results['mlp_epoch_seconds']:.2f} s."
    )
    ctx.table(
        ["epoch", "train loss", "train acc. (running)", "test loss", "test acc.", "seconds"],
        [
            [i + 1, f"{history.loss[i]:.4f}", f"{100 * history.train_accuracy[i]:.2f}%",
             f"{history.test_loss[i]:.4f}", f"{100 * history.test_accuracy[i]:.2f}%", f"{history.epoch_seconds[i]:.2f}"]
            for i in range(history.epochs)
        ],
    )
    fig = Figure(figsize=(9, 3.5))
    ax1, ax2 = fig.subplots(1, 2)
    epochs_axis = np.arange(1, history.epochs + 1)
    ax1.plot(epochs_axis, history.loss, "o-", label="train (running mean)")
    ax1.plot(epochs_axis, history.test_loss, "s-", label="test")
    ax1.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax1.legend()
    ax2.plot(epochs_axis, 100 * np.array(history.train_accuracy), "o-", label="train (running)")
    ax2.plot(epochs_axis, 100 * np.array(history.test_accuracy), "s-", label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax2.legend()
    ctx.figure(fig, "foundations_learning_curves", "Learning curves of the 784-256-10 MLP on MNIST.")

    fig = Figure(figsize=(8, 2.2))
    axes = fig.subplots(2, 8)
    w = model.params["0.W"]
    for j, ax in enumerate(axes.ravel()):
        ax.imshow(w[:, j].reshape(28, 28), cmap="RdBu_r")
        ax.set_axis_off()
    ctx.figure(fig, "foundations_first_layer", "Incoming weights of the first 16 hidden units (red positive).")

    # 3. Check the trained model itself, in float64.
    model64 = model.astype(np.float64)
    report = check_gradients(model64, x_test[:4].astype(np.float64), rng=seed, max_entries=300)
    ctx.results["trained_model_gradcheck"] = report.max_relative_error
    ctx.text("### The trained model, converted to float64 and gradient-checked (300 random entries per array)")
    ctx.text(report.to_markdown())

    # 4. Save, reload, compare.
    path = save_model(model, ctx.out_dir / "mlp_784_256_10.npz")
    reloaded = load_model(path)
    same = bool(np.array_equal(predict(model, x_test), predict(reloaded, x_test)))
    scores = evaluate(reloaded, x_test, y_test)
    ctx.results["reload_identical"] = same
    ctx.text(
        f"### Saved and reloaded\n\n`{path.name}`: {model_file_size(model):,} bytes. Reloaded with "
        f"`allow_pickle=False`; predictions identical to the original: **{same}**; test accuracy "
        f"{100 * scores['accuracy']:.2f}%."
    )
