"""Mini-batch training, evaluation and prediction.

The training loop is the textbook one, written to waste nothing:

* the data set is never copied: each epoch draws one permutation, and each
  mini-batch is gathered from it (``np.take(..., out=...)``) into one batch
  buffer allocated once per call. No array is allocated per step, the batch
  is still in the cache when the first matrix product reads it, and training
  touches no fresh memory: a shuffled copy of MNIST's training images would
  be 188 MB of new pages per call, and on the benchmark machine first-touching
  them cost up to half a second per epoch (``benchmarks/RESULTS.md``);
* float32 data and a float32 model stay float32 end to end;
* the first layer is asked for no input gradient (nobody uses ``dL/dx`` of
  the pixels), which saves a matrix product per step.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import as_generator, check_float_array, check_positive_int
from .losses import Loss, SoftmaxCrossEntropy
from .optim import Optimizer

__all__ = ["History", "TrainingDivergedError", "fit", "evaluate", "predict"]


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; ``history`` holds the epochs completed before."""

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


@dataclass
class History:
    """Per-epoch record of a training run.

    ``loss`` and ``train_accuracy`` are means over the epoch's mini-batches
    (measured while the model was changing, as Keras reports them);
    ``test_loss`` and ``test_accuracy`` are measured after the epoch on the
    validation data, if any. Accuracies are fractions in [0, 1] and are only
    recorded for classification losses.
    """

    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def as_dict(self) -> dict[str, list[float]]:
        return {
            "loss": self.loss,
            "train_accuracy": self.train_accuracy,
            "test_loss": self.test_loss,
            "test_accuracy": self.test_accuracy,
            "epoch_seconds": self.epoch_seconds,
        }


def _check_xy(x: Any, y: Any, model: Any, name: str) -> None:
    check_float_array(x, f"x_{name}", dtype=model.dtype)
    if not isinstance(y, np.ndarray):
        raise TypeError(f"y_{name} must be a numpy.ndarray, got {type(y).__name__}")
    if y.shape[0] != x.shape[0]:
        raise ValueError(
            f"x_{name} and y_{name} must have the same number of samples, got {x.shape[0]} and {y.shape[0]}"
        )


def fit(
    model: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    loss: Loss,
    optimizer: Optimizer,
    epochs: int = 10,
    batch_size: int = 128,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    rng: Any = None,
    progress: bool = True,
    description: str = "train",
) -> History:
    """Train ``model`` with shuffled mini-batches.

    Parameters
    ----------
    model : Layer
        Usually a :class:`~rpnumpy.layers.Sequential`.
    x_train : ndarray of shape (n_samples, ...)
        In the model's dtype (never cast here).
    y_train : ndarray
        Integer labels for :class:`~rpnumpy.losses.SoftmaxCrossEntropy`,
        targets for :class:`~rpnumpy.losses.MeanSquaredError`.
    loss : Loss
    optimizer : Optimizer
        Built on ``model``.
    epochs : int, default=10
    batch_size : int, default=128
        The last batch of an epoch may be smaller.
    validation_data : (x_test, y_test), optional
        Evaluated after every epoch.
    rng : None, int or Generator
        Drives the shuffling (pass an int for reproducible runs).
    progress : bool, default=True
        Show a tqdm progress bar per epoch.
    description : str, default='train'
        Progress-bar label.

    Returns
    -------
    History

    Raises
    ------
    TrainingDivergedError
        If the loss becomes NaN or infinite, naming the epoch and step.
    """
    _check_xy(x_train, y_train, model, "train")
    if validation_data is not None:
        if not (isinstance(validation_data, tuple) and len(validation_data) == 2):
            raise TypeError("validation_data must be a pair (x_test, y_test)")
        _check_xy(validation_data[0], validation_data[1], model, "test")
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a rpnumpy.losses.Loss, got {type(loss).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a rpnumpy.optim.Optimizer, got {type(optimizer).__name__}")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    gen = as_generator(rng)
    classify = isinstance(loss, SoftmaxCrossEntropy)

    n = x_train.shape[0]
    x_batch = np.empty((min(batch_size, n), *x_train.shape[1:]), dtype=x_train.dtype)
    y_batch = np.empty((min(batch_size, n), *y_train.shape[1:]), dtype=y_train.dtype)
    n_batches = math.ceil(n / batch_size)
    history = History()

    from tqdm.auto import tqdm

    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = gen.permutation(n)
        total_loss = 0.0
        correct = 0
        bar = tqdm(
            range(n_batches), desc=f"{description} epoch {epoch}/{epochs}", disable=not progress, leave=False
        )
        for step in bar:
            rows = order[step * batch_size : (step + 1) * batch_size]
            xb, yb = x_batch[: len(rows)], y_batch[: len(rows)]  # views of the one buffer
            # mode="clip": the indices come from a permutation, always in range, and with the
            # default mode="raise" NumPy would gather into a hidden temporary and copy it to out=.
            np.take(x_train, rows, axis=0, out=xb, mode="clip")
            np.take(y_train, rows, axis=0, out=yb, mode="clip")
            out = model.forward(xb)
            batch_loss = loss.forward(out, yb)
            if not math.isfinite(batch_loss):
                bar.close()
                raise TrainingDivergedError(
                    f"the loss became {batch_loss} at epoch {epoch}, step {step + 1} of {n_batches}: training "
                    f"diverged. Try a smaller learning rate (now {optimizer.lr:g}) or check the inputs "
                    f"for NaN/inf.",
                    history,
                )
            model.backward(loss.backward(), input_grad=False)
            optimizer.step()
            total_loss += batch_loss * len(xb)
            if classify:
                correct += int(np.count_nonzero(out.argmax(axis=1) == yb))
        bar.close()
        history.loss.append(total_loss / n)
        if classify:
            history.train_accuracy.append(correct / n)
        if validation_data is not None:
            scores = evaluate(model, *validation_data, loss=loss)
            history.test_loss.append(scores["loss"])
            if classify:
                history.test_accuracy.append(scores["accuracy"])
        history.epoch_seconds.append(time.perf_counter() - start)
        if progress:
            parts = [f"loss {history.loss[-1]:.4f}"]
            if classify:
                parts.append(f"train acc {history.train_accuracy[-1]:.4f}")
            if history.test_accuracy:
                parts.append(f"test acc {history.test_accuracy[-1]:.4f}")
            tqdm.write(f"{description} epoch {epoch}/{epochs}: " + ", ".join(parts)
                       + f" ({history.epoch_seconds[-1]:.1f} s)")
    return history


def predict(model: Any, x: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
    """The model's outputs on ``x``, computed in batches and stacked.

    Uses the model's :meth:`~rpnumpy.layers.Layer.inference_function`, built once per call: no
    cache is kept (a pending ``backward`` is not disturbed), and layers that can fold their fixed
    and trainable arrays into one weight do so. The outputs equal ``model.forward(x)`` up to
    rounding. For a classifier they are logits; ``predict(model, x).argmax(1)`` gives the class
    labels.
    """
    check_float_array(x, "x", dtype=model.dtype)
    batch_size = check_positive_int(batch_size, "batch_size")
    run = model.inference_function()
    outputs = [run(x[lo : lo + batch_size]) for lo in range(0, x.shape[0], batch_size)]
    return np.concatenate(outputs, axis=0)


def evaluate(
    model: Any, x: np.ndarray, y: np.ndarray, *, loss: Loss | None = None, batch_size: int = 1000
) -> dict[str, float]:
    """Loss and (for classification) accuracy of ``model`` on ``(x, y)``, computed like :func:`predict`.

    Parameters
    ----------
    loss : Loss, optional
        Defaults to :class:`~rpnumpy.losses.SoftmaxCrossEntropy` when ``y``
        holds integer labels.

    Returns
    -------
    dict
        ``{"loss": float, "accuracy": float}``; accuracy only for integer labels.
    """
    _check_xy(x, y, model, "test")
    classify = np.issubdtype(y.dtype, np.integer)
    if loss is None:
        if not classify:
            raise ValueError("loss must be given when y does not hold integer class labels")
        loss = SoftmaxCrossEntropy()
    batch_size = check_positive_int(batch_size, "batch_size")
    total, correct = 0.0, 0
    run = model.inference_function()
    for lo in range(0, x.shape[0], batch_size):
        out = run(x[lo : lo + batch_size])
        yb = y[lo : lo + batch_size]
        total += loss.forward(out, yb) * out.shape[0]
        if classify:
            correct += int(np.count_nonzero(out.argmax(axis=1) == yb))
    scores = {"loss": total / x.shape[0]}
    if classify:
        scores["accuracy"] = correct / x.shape[0]
    return scores
