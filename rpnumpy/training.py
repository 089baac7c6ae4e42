"""Mini-batch training, evaluation and prediction.

:func:`fit` is the textbook loop: every epoch shuffles the rows, and for every mini-batch

1. ``out = model.forward(xb)`` and ``loss.forward(out, yb)``;
2. ``model.backward(loss.backward(), input_grad=False)``: the first layer is asked for no input
   gradient (nobody uses the gradient of the pixels), which saves a matrix product;
3. ``optimizer.step()``.

Everything is checked before the first step changes the model (data, validation data, labels
against the model's output, the optimizer's ownership of the model's arrays), and a run that
diverges stops with :class:`TrainingDivergedError` instead of returning a broken model. float32
data and a float32 model stay float32 end to end.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import as_generator, check_float_array, check_positive_float, check_positive_int
from .fast.batches import BatchBuffer
from .losses import Loss, SoftmaxCrossEntropy
from .optim import Optimizer

__all__ = ["History", "TrainingDivergedError", "fit", "evaluate", "predict"]

#: A batch loss this many times the first batch's loss (or the floor below) counts as divergence.
DIVERGENCE_FACTOR = 1e4
_DIVERGENCE_FLOOR = 1e-3


class TrainingDivergedError(FloatingPointError):
    """Training diverged; ``history`` holds the epochs completed before, ``epoch`` and ``step`` where it happened."""

    def __init__(self, message: str, history: History, epoch: int = 0, step: int = 0) -> None:
        super().__init__(message)
        self.history, self.epoch, self.step = history, epoch, step


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


def _check_samples(x: Any, model: Any, name: str) -> None:
    check_float_array(x, name, dtype=model.dtype)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {x.shape}")


def _check_optimizer(optimizer: Any, model: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a rpnumpy.optim.Optimizer, got {type(optimizer).__name__}")
    own = list(model.params.values())
    if len(own) != len(optimizer.params) or any(a is not b for a, b in zip(own, optimizer.params)):
        raise ValueError(
            "optimizer must be built on this model (optimizer = Adam(model)): it holds other arrays than "
            "model.params, so its steps would not train the model. Was it built before model.astype(...) "
            "or for another model?"
        )


def _check_data(model, x_train, y_train, loss, validation_data) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Every check of :func:`fit` that looks at data; returns the (x, y, name) pairs to evaluate on."""
    pairs = [(x_train, y_train, "train")]
    if validation_data is not None:
        if not (isinstance(validation_data, tuple) and len(validation_data) == 2):
            raise TypeError("validation_data must be a pair (x_test, y_test)")
        pairs.append((validation_data[0], validation_data[1], "test"))
    for x, y, name in pairs:
        with _naming(name):
            _check_samples(x, model, f"x_{name}")
            if not isinstance(y, np.ndarray):
                raise TypeError(f"y_{name} must be a numpy.ndarray, got {type(y).__name__}")
            if y.ndim == 0 or y.shape[0] != x.shape[0]:
                raise ValueError(f"x_{name} and y_{name} must have the same number of samples, "
                                 f"got {x.shape[0]} and {y.shape[0] if y.ndim else 'a 0-d array'}")
            if x.shape[1:] != x_train.shape[1:]:
                raise ValueError(f"x_{name} has samples of shape {x.shape[1:]}, x_train {x_train.shape[1:]}")
    # One forward pass of one sample gives the output's shape, against which every target is checked.
    try:
        out = model.inference_function()(x_train[:1])
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"x_train does not fit the model: {exc}") from exc
    for x, y, name in pairs:
        with _naming(name):
            loss.check_target(y, np.broadcast_to(out, (x.shape[0], *out.shape[1:])), f"y_{name}")
    return pairs


@contextlib.contextmanager
def _naming(name: str) -> Iterator[None]:
    """Prefix the message of a ValueError/TypeError about the validation data with ``validation_data: ``."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        if name != "test":
            raise
        raise type(exc)(f"validation_data: {exc}") from exc


@np.errstate(over="ignore", invalid="ignore")  # divergence is reported as TrainingDivergedError, not warnings
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
    batch_buffer: bool = True,
    divergence_factor: float | None = DIVERGENCE_FACTOR,
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
        Built on ``model`` (after any ``astype``).
    epochs : int, default=10
    batch_size : int, default=128
        The last batch of an epoch may be smaller.
    validation_data : (x_test, y_test), optional
        Evaluated after every epoch.
    rng : None, int or Generator
        Drives the shuffling (pass an int for reproducible runs).
    progress : bool, default=True
        Print one line per epoch (loss, accuracies, seconds).
    description : str, default='train'
        Label of those lines.
    batch_buffer : bool, default=True
        Gather each mini-batch into one buffer reused for the whole run
        (:class:`rpnumpy.fast.BatchBuffer`) instead of a new array per step
        (``x_train[rows]``). The batches, and so the training, are the same.
    divergence_factor : float or None, default=1e4
        Stop when a batch loss or the validation loss exceeds this factor times the first batch's
        loss (at least ``1e-3``); None checks only for non-finite values.

    Returns
    -------
    History

    Raises
    ------
    TrainingDivergedError
        If a batch loss is NaN, infinite or ``divergence_factor`` times the first one, if a
        parameter is not finite at the end of an epoch, or if the validation loss is not finite or
        ``divergence_factor`` times the first batch loss.
        It names the epoch and step. The model is left as the last optimizer step made it (its
        parameters may be non-finite): rebuild it, or reload a saved copy, before using it again.
        NumPy's overflow and invalid-value warnings are silenced inside ``fit``: what they would
        announce is reported by this error.
    ValueError, TypeError
        For bad data, labels, validation data or an optimizer built for other arrays, before any
        parameter is changed.
    """
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a rpnumpy.losses.Loss, got {type(loss).__name__}")
    _check_optimizer(optimizer, model)
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if divergence_factor is not None:
        divergence_factor = check_positive_float(divergence_factor, "divergence_factor")
    gen = as_generator(rng)
    _check_data(model, x_train, y_train, loss, validation_data)
    classify = isinstance(loss, SoftmaxCrossEntropy)
    gather = BatchBuffer(x_train, y_train, batch_size).gather if batch_buffer else (
        lambda rows: (x_train[rows], y_train[rows]))

    n = x_train.shape[0]
    n_batches = math.ceil(n / batch_size)
    history = History()
    limit = math.inf
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = gen.permutation(n)
        total_loss, correct = 0.0, 0
        for step in range(1, n_batches + 1):
            xb, yb = gather(order[(step - 1) * batch_size: step * batch_size])
            out = model.forward(xb)
            batch_loss = loss.forward(out, yb)
            if not math.isfinite(batch_loss) or batch_loss > limit:
                raise _diverged(f"the loss became {batch_loss:.4g}", history, epoch, step, n_batches, optimizer)
            if divergence_factor is not None and limit == math.inf:
                limit = divergence_factor * max(batch_loss, _DIVERGENCE_FLOOR)
            model.backward(loss.backward(), input_grad=False)
            optimizer.step()
            total_loss += batch_loss * len(xb)
            if classify:
                correct += int(np.count_nonzero(out.argmax(axis=1) == yb))
        bad = [key for key, value in model.params.items() if not np.isfinite(value).all()]
        if bad:
            raise _diverged(f"parameters {bad} became non-finite", history, epoch, n_batches, n_batches, optimizer)
        scores = None if validation_data is None else evaluate(model, *validation_data, loss=loss)
        if scores is not None and not (math.isfinite(scores["loss"]) and scores["loss"] <= limit):
            raise _diverged(f"the validation loss became {scores['loss']:.4g}", history, epoch, n_batches,
                            n_batches, optimizer)
        history.loss.append(total_loss / n)  # the epoch is recorded once it passed every check
        if classify:
            history.train_accuracy.append(correct / n)
        if scores is not None:
            history.test_loss.append(scores["loss"])
            if classify:
                history.test_accuracy.append(scores["accuracy"])
        history.epoch_seconds.append(time.perf_counter() - start)
        if progress:
            print(_epoch_line(description, epoch, epochs, history, classify), flush=True)
    return history


def _diverged(what: str, history: History, epoch: int, step: int, n_batches: int, optimizer: Optimizer):
    return TrainingDivergedError(
        f"{what} at epoch {epoch}, step {step} of {n_batches}: training diverged. Try a smaller learning "
        f"rate (now {optimizer.lr:g}) or check the inputs for NaN/inf. The model holds the parameters of "
        f"that step: rebuild or reload it before using it.",
        history, epoch, step,
    )


def _epoch_line(description: str, epoch: int, epochs: int, history: History, classify: bool) -> str:
    parts = [f"loss {history.loss[-1]:.4f}"]
    if classify:
        parts.append(f"train acc {history.train_accuracy[-1]:.4f}")
    if history.test_accuracy:
        parts.append(f"test acc {history.test_accuracy[-1]:.4f}")
    return f"{description} epoch {epoch}/{epochs}: " + ", ".join(parts) + f" ({history.epoch_seconds[-1]:.1f} s)"


def predict(model: Any, x: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
    """The model's outputs on ``x``, computed in batches and stacked.

    Uses the model's :meth:`~rpnumpy.layers.Layer.inference_function`, built once per call: no
    cache is kept (a pending ``backward`` is not disturbed), and layers that can fold their fixed
    and trainable arrays into one weight do so. The outputs equal ``model.forward(x)`` up to
    rounding. For a classifier they are logits; ``predict(model, x).argmax(1)`` gives the class
    labels. An empty ``x`` (no samples) gives an empty output of the model's output shape.
    """
    check_float_array(x, "x", dtype=model.dtype)
    if x.ndim == 0:
        raise ValueError("x must have a first axis of samples, got a 0-d array")
    batch_size = check_positive_int(batch_size, "batch_size")
    run = model.inference_function()
    if x.shape[0] == 0:
        return run(x)
    outputs = [run(x[lo: lo + batch_size]) for lo in range(0, x.shape[0], batch_size)]
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
    _check_samples(x, model, "x")
    if not isinstance(y, np.ndarray):
        raise TypeError(f"y must be a numpy.ndarray, got {type(y).__name__}")
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(f"x and y must have the same number of samples, got {x.shape[0]} and "
                         f"{y.shape[0] if y.ndim else 'a 0-d array'}")
    classify = np.issubdtype(y.dtype, np.integer)
    if loss is None:
        if not classify:
            raise ValueError("loss must be given when y does not hold integer class labels")
        loss = SoftmaxCrossEntropy()
    batch_size = check_positive_int(batch_size, "batch_size")
    total, correct = 0.0, 0
    run = model.inference_function()
    first = run(x[:1])  # the output's shape, against which the targets are checked before the work starts
    loss.check_target(y, np.broadcast_to(first, (x.shape[0], *first.shape[1:])), "y")
    for lo in range(0, x.shape[0], batch_size):
        out = run(x[lo: lo + batch_size])
        yb = y[lo: lo + batch_size]
        total += loss.forward(out, yb) * out.shape[0]
        if classify:
            correct += int(np.count_nonzero(out.argmax(axis=1) == yb))
    scores = {"loss": total / x.shape[0]}
    if classify:
        scores["accuracy"] = correct / x.shape[0]
    return scores
