r"""The fully bundled network :math:`\hat y = z(x)V + c`, fitted in closed form or by gradient descent."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._deprecation import renamed_keywords
from .._validation import (
    check_dtype,
    check_float_array,
    check_positive_float,
    check_positive_int,
    check_probability,
    seed_from,
)
from ..closed_form import RidgeAccumulator, ridge_l2_from_trace
from ..layers import Dense, Sequential
from ..training import predict
from .towers import InputTower

__all__ = ["ClosedFormFit", "FullyBundledNetwork", "one_hot"]


def one_hot(labels: np.ndarray, n_classes: int, dtype: Any = np.float64) -> np.ndarray:
    """Rows of the identity: ``one_hot([2, 0], 3) = [[0, 0, 1], [1, 0, 0]]``, the MSE targets of a classifier."""
    n_classes = check_positive_int(n_classes, "n_classes")
    if not isinstance(labels, np.ndarray) or not np.issubdtype(labels.dtype, np.integer) or labels.ndim != 1:
        raise TypeError(f"labels must be a 1-D integer numpy array, got {getattr(labels, 'dtype', type(labels))}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes - 1}], got values from {labels.min()} to {labels.max()}")
    out = np.zeros((labels.size, n_classes), dtype=check_dtype(dtype))
    out[np.arange(labels.size), labels] = 1
    return out


@dataclass
class ClosedFormFit:
    r"""What :meth:`FullyBundledNetwork.fit_closed_form` did.

    Attributes
    ----------
    l2 : float
        The absolute penalty :math:`\lambda` of the final solve.
    chosen : float
        The candidate it came from, as given (relative if ``relative``).
    relative : bool
    validation_mse : dict of float to float
        Held-out MSE of each candidate (empty when only one was given).
    accumulator : RidgeAccumulator
        The sums over every row.
    """

    l2: float
    chosen: float
    relative: bool
    validation_mse: dict[float, float]
    accumulator: RidgeAccumulator


class FullyBundledNetwork(Sequential):
    r"""The fully bundled network :math:`\hat y = z(x)\,V + c`: a fixed input tower and a trained linear head.

    A :class:`~rpnumpy.layers.Sequential` of two layers: the parameter-free
    :class:`InputTower` :math:`z = \Phi_L\circ\dots\circ\Phi_1` and a
    :class:`~rpnumpy.layers.Dense` head whose ``W`` is ``V`` (shape
    ``(D_L, d_out)``, the paper's :math:`V^\top`) and whose ``b`` is :math:`c`.
    Trainable parameters: :math:`d_{out}(D_L + 1)` whatever the depth.

    Fitting, two ways, the same model
    ---------------------------------
    * :meth:`fit_closed_form`: the MSE optimum (ridge, intercept unpenalised),
      streaming :math:`Z^\top Z, Z^\top Y` over mini-batches.
    * back-propagation: ``rpnumpy.training.fit(net, x, Y, loss=MeanSquaredError(), ...)``
      trains the head (the tower has no parameters), recomputing the features at
      every step; or compute ``Z = net.features(x)`` once and train ``net.head``
      on ``Z`` (the same updates, much cheaper).

    Parameters
    ----------
    tower : InputTower
    head : Dense
        ``head.d_in`` must equal ``tower.n_features``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((500, 3)); y = np.sin(x @ [1.0, -0.5, 0.3])[:, None]
    >>> net = FullyBundledNetwork.build(3, 1, [256], "relu", relu_bias=True, rng=0)
    >>> _ = net.fit_closed_form(x, y, l2=1e-6)
    >>> bool(np.mean((net.predict(x) - y) ** 2) < 1e-3), net.n_params
    (True, 257)
    """

    def __init__(self, tower: InputTower, head: Dense) -> None:
        if not isinstance(tower, InputTower):
            raise TypeError(f"tower must be an InputTower, got {type(tower).__name__}")
        if not isinstance(head, Dense):
            raise TypeError(f"head must be a Dense layer, got {type(head).__name__}")
        if head.d_in != tower.n_features:
            raise ValueError(f"head.d_in must equal tower.n_features={tower.n_features}, got {head.d_in}")
        super().__init__(tower, head)

    @classmethod
    def build(
        cls,
        d_in: int,
        d_out: int,
        widths: int | Sequence[int],
        activations: str | Sequence[str] = "relu",
        *,
        variance_param: float = 0.0,
        draws: str = "iid",
        kappa: float = 0.0,
        radius: float | None = None,
        relu_bias: bool = False,
        rng: Any = None,
        dtype: Any = np.float64,
        **renamed: Any,
    ) -> FullyBundledNetwork:
        """A new network: the tower as :class:`InputTower`, the head a LeCun-initialised Dense layer.

        The arguments are :class:`InputTower`'s (``M``: the deprecated spelling of ``variance_param``)
        and ``d_out``. ``rng`` gives one seed; the tower and the head get the first and second int drawn
        from it.
        """
        variance_param = renamed_keywords("rpnumpy.bundling.FullyBundledNetwork.build", renamed,
                                          {"M": ("variance_param", variance_param, 0.0)})["variance_param"]
        seeds = np.random.default_rng(seed_from(rng))
        tower_seed, head_seed = (int(s) for s in seeds.integers(0, 2**63 - 1, size=2))
        tower = InputTower(d_in, widths, activations, variance_param=variance_param, draws=draws, kappa=kappa,
                           radius=radius, relu_bias=relu_bias, rng=tower_seed, dtype=dtype)
        head = Dense(tower.n_features, check_positive_int(d_out, "d_out"), rng=head_seed, init="lecun",
                     dtype=tower.dtype)
        return cls(tower, head)

    @property
    def tower(self) -> InputTower:
        return self.layers[0]

    @property
    def head(self) -> Dense:
        return self.layers[1]

    @property
    def V(self) -> np.ndarray:
        """The read-out matrix, shape ``(D_L, d_out)`` (the head's ``W``; the paper's :math:`V^\\top`)."""
        return self.head.params["W"]

    @property
    def c(self) -> np.ndarray:
        """The read-out intercept, shape ``(d_out,)``."""
        return self.head.params["b"]

    def features(self, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
        """:math:`z(x)` for all rows of ``x``, computed in batches: shape ``(n, D_L)``, the network's dtype."""
        check_float_array(x, "x", ndim=2, dtype=self.dtype)
        return predict(self.tower, x, batch_size=batch_size)

    def predict(self, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
        """:math:`z(x) V + c` for all rows of ``x``, in batches."""
        check_float_array(x, "x", ndim=2, dtype=self.dtype)
        return predict(self, x, batch_size=batch_size)

    def _check_xy(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Validate a training set; return ``y`` as a 2-D array."""
        check_float_array(x, "x", ndim=2, dtype=self.dtype)
        if x.shape[1] != self.tower.d_in:
            raise ValueError(f"x has {x.shape[1]} features but the network expects d_in={self.tower.d_in}")
        d_out = self.head.d_out
        check_float_array(y, "y", ndim=(1, 2))
        if y.ndim == 1 and d_out == 1:
            y = y[:, None]
        if y.shape != (x.shape[0], d_out):
            raise ValueError(f"y must have shape ({x.shape[0]}, {d_out}) to match x and the head, got {y.shape}")
        return y

    def accumulate(self, x: np.ndarray, y: np.ndarray, *, batch_size: int = 2048) -> RidgeAccumulator:
        r"""Stream ``x`` through the tower in mini-batches and accumulate :math:`Z^\top Z` and :math:`Z^\top Y`.

        Only one batch of features is in memory at a time.

        Parameters
        ----------
        x : ndarray of shape (n, d_in), the network's dtype
        y : ndarray of shape (n, d_out), or (n,) when ``d_out == 1``
            Regression targets (one-hot rows for a classifier, see :func:`one_hot`).
        batch_size : int, default=2048
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        y = self._check_xy(x, y)
        acc = RidgeAccumulator(self.tower.n_features, self.head.d_out)
        for lo in range(0, x.shape[0], batch_size):
            acc.update(self.tower.forward(x[lo:lo + batch_size]), y[lo:lo + batch_size])
        return acc

    def fit_closed_form(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        l2: float | Sequence[float] = 0.0,
        relative: bool = False,
        validation_fraction: float = 0.1,
        batch_size: int = 2048,
    ) -> ClosedFormFit:
        r"""Set ``V, c`` to the least-squares optimum on ``(x, y)``, without back-propagation.

        .. math:: (V, c) = \arg\min \|Z V + \mathbf 1 c^\top - Y\|_F^2 + \lambda\|V\|_F^2

        solved from the normal equations of :class:`~rpnumpy.closed_form.RidgeAccumulator`
        (Cholesky; the minimum-norm least-squares solution when the system is
        singular, e.g. ``l2 = 0`` with dead ReLU features or fewer samples
        than features). The intercept is never penalised. One pass over the
        data whatever the number of penalties tried.

        Parameters
        ----------
        x, y, batch_size
            As for :meth:`accumulate`.
        l2 : float or sequence of float, default=0.0
            :math:`\lambda \ge 0`. Several values: the last ``validation_fraction``
            of the rows is held out (shuffle the rows first if they are ordered),
            each value is solved on the rest and scored by the held-out MSE,
            and the best is solved again on all rows (the held-out sums are
            simply added to the others).
        relative : bool, default=False
            Read ``l2`` relative to the features' scale:
            :math:`\lambda = l_2\,\operatorname{tr}(Z^\top Z)/D` (see
            :func:`~rpnumpy.closed_form.ridge_l2_from_trace`).
        validation_fraction : float in (0, 1), default=0.1
            Only used when several ``l2`` are given.

        Returns
        -------
        ClosedFormFit
            The penalty used, the held-out scores, and the accumulated sums
            (to re-solve for another penalty: ``net.set_readout(*fit.accumulator.solve(l2))``).
        """
        candidates = [l2] if isinstance(l2, numbers.Real) or not isinstance(l2, Sequence) else list(l2)
        if not candidates:
            raise ValueError("l2 must be a number >= 0 or a non-empty sequence of them, got an empty sequence")
        candidates = [check_positive_float(value, "l2", allow_zero=True) for value in candidates]
        if not isinstance(relative, (bool, np.bool_)):
            raise TypeError(f"relative must be a bool, got {type(relative).__name__}")
        validation_fraction = check_probability(validation_fraction, "validation_fraction", allow_zero=False)
        batch_size = check_positive_int(batch_size, "batch_size")
        y = self._check_xy(x, y)

        def absolute(acc: RidgeAccumulator, value: float) -> float:
            return ridge_l2_from_trace(acc, value) if relative else value

        scores: dict[float, float] = {}
        if len(candidates) == 1:
            chosen = candidates[0]
            acc = self.accumulate(x, y, batch_size=batch_size)
        else:
            n_held = round(validation_fraction * x.shape[0])
            n_fit = x.shape[0] - n_held
            if n_held < 1 or n_fit < 1:
                raise ValueError(
                    f"validation_fraction={validation_fraction} of {x.shape[0]} rows leaves {n_fit} to fit and "
                    f"{n_held} to validate; both must be >= 1"
                )
            acc = self.accumulate(x[:n_fit], y[:n_fit], batch_size=batch_size)
            z_held, y_held = self.features(x[n_fit:], batch_size=batch_size), y[n_fit:]
            for value in candidates:
                coef, intercept = acc.solve(absolute(acc, value))
                residual = z_held @ coef + intercept - y_held
                scores[value] = float(np.mean(residual * residual))
            chosen = min(candidates, key=scores.__getitem__)
            acc.update(z_held, y_held)  # the sums are additive: now over every row
        used = absolute(acc, chosen)
        self.set_readout(*acc.solve(used))
        return ClosedFormFit(l2=used, chosen=chosen, relative=bool(relative), validation_mse=scores, accumulator=acc)

    def set_readout(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        """Copy ``coef`` (D_L, d_out) and ``intercept`` (d_out,) into the head, cast to its dtype."""
        np.copyto(self.head.params["W"], coef, casting="unsafe")
        np.copyto(self.head.params["b"], intercept, casting="unsafe")

    def astype(self, dtype: Any) -> FullyBundledNetwork:
        return type(self)(self.tower.astype(dtype), self.head.astype(dtype))


