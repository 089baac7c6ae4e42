r"""Ridge regression in closed form, accumulated over mini-batches.

Both the fully bundled SNNK network and EUGen's layer-wise transfer end in the
same problem: fixed features :math:`Z \in \mathbb R^{N\times D}`, targets
:math:`Y \in \mathbb R^{N\times t}`, and a linear read-out
:math:`\hat Y = Z V + \mathbf 1 c^\top` to fit by least squares,

.. math:: \min_{V, c}\ \|Z V + \mathbf 1 c^\top - Y\|_F^2 + \lambda \|V\|_F^2 .

The intercept :math:`c` is not penalised. Writing :math:`\tilde Z = [Z, \mathbf 1]`
and :math:`\Lambda = \operatorname{diag}(\lambda, \dots, \lambda, 0)`, the optimum
solves the normal equations

.. math:: (\tilde Z^\top \tilde Z + \Lambda)\, \begin{bmatrix} V \\ c^\top \end{bmatrix} = \tilde Z^\top Y .

:func:`ridge_normal_equations` is this solve written as it reads, for a :math:`Z` held in memory.
Everything the solve needs is in the Gram matrix :math:`\tilde Z^\top\tilde Z`
(size :math:`(D+1)^2`) and :math:`\tilde Z^\top Y` (size :math:`(D+1)t`), and both
are sums over samples. :class:`RidgeAccumulator` adds them up one mini-batch at
a time, so the data never has to be in memory at once: memory is
:math:`O(D^2 + Dt)` whatever :math:`N` is. The two agree to rounding (tested).

The system is solved by a Cholesky factorisation (it is symmetric positive
definite when :math:`\lambda > 0` and :math:`\tilde Z` has a non-zero column of
ones). When it is singular (``l2 = 0`` with collinear or dead features, or
fewer samples than features), the minimum-norm least-squares solution of the
normal equations is returned instead. An explicit inverse is never formed.
Sums are kept in float64 whatever the features' dtype: accumulating
:math:`Z^\top Z` over 60,000 samples in float32 loses about four digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

from ._validation import check_positive_float, check_positive_int

__all__ = ["RidgeAccumulator", "fit_ridge", "ridge_l2_from_trace", "ridge_normal_equations"]


def ridge_normal_equations(
    Z: np.ndarray, Y: np.ndarray, l2: float = 0.0, *, fit_intercept: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    r"""Ridge regression by its normal equations, for features held in memory: the plain form.

    .. math:: \tilde Z = [Z, \mathbf 1], \qquad
              (\tilde Z^\top \tilde Z + \Lambda) \begin{bmatrix} V \\ c^\top \end{bmatrix} = \tilde Z^\top Y,
              \qquad \Lambda = \operatorname{diag}(\lambda, \dots, \lambda, 0).

    The intercept's row of :math:`\Lambda` is 0: :math:`c` is not penalised. A singular system
    (:math:`\lambda = 0` with collinear features) is solved in the least-squares sense.
    :class:`RidgeAccumulator` computes the same solution from sums over mini-batches.

    Parameters
    ----------
    Z : ndarray of shape (N, D)
    Y : ndarray of shape (N, t) or (N,)
    l2 : float >= 0, default=0.0
    fit_intercept : bool, default=True

    Returns
    -------
    coef : ndarray of shape (D, t), float64
    intercept : ndarray of shape (t,), float64
    """
    Z = np.asarray(Z, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Z.ndim != 2 or Y.ndim != 2 or Y.shape[0] != Z.shape[0]:
        raise ValueError(f"Z must be (N, D) and Y (N, t) or (N,) with the same N, got {Z.shape} and {Y.shape}")
    l2 = check_positive_float(l2, "l2", allow_zero=True)
    D = Z.shape[1]
    Z_tilde = np.hstack([Z, np.ones((Z.shape[0], 1))]) if fit_intercept else Z
    system = Z_tilde.T @ Z_tilde
    system[np.arange(D), np.arange(D)] += l2  # lambda on the diagonal, except the intercept's entry
    rhs = Z_tilde.T @ Y
    try:
        solution = np.linalg.solve(system, rhs)
    except np.linalg.LinAlgError:
        solution = np.linalg.lstsq(system, rhs, rcond=None)[0]
    return solution[:D], (solution[D] if fit_intercept else np.zeros(Y.shape[1]))


class RidgeAccumulator:
    r"""Streaming sums for ridge regression with an unpenalised intercept.

    Parameters
    ----------
    n_features : int
        :math:`D`, the width of the feature batches.
    n_targets : int
        :math:`t`, the width of the target batches (1 for a 1-D target).
    fit_intercept : bool, default=True
        Fit the intercept :math:`c` (never penalised). If False, :math:`c = 0`.

    Attributes
    ----------
    gram : ndarray of shape (D + 1, D + 1) or (D, D), float64
        :math:`\tilde Z^\top \tilde Z` so far (the last row and column belong to the
        column of ones when ``fit_intercept``).
    moment : ndarray of shape (D + 1, t) or (D, t), float64
        :math:`\tilde Z^\top Y` so far.
    n_samples : int
        Rows accumulated so far.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.standard_normal((100, 3)); Y = Z @ [1.0, -2.0, 0.5] + 3.0
    >>> acc = RidgeAccumulator(3, 1)
    >>> for start in range(0, 100, 32):
    ...     acc.update(Z[start:start + 32], Y[start:start + 32])
    >>> coef, intercept = acc.solve()
    >>> np.round(coef.ravel(), 6).tolist(), np.round(intercept, 6).tolist()
    ([1.0, -2.0, 0.5], [3.0])
    """

    def __init__(self, n_features: int, n_targets: int, *, fit_intercept: bool = True) -> None:
        self.n_features = check_positive_int(n_features, "n_features")
        self.n_targets = check_positive_int(n_targets, "n_targets")
        if not isinstance(fit_intercept, (bool, np.bool_)):
            raise TypeError(f"fit_intercept must be a bool, got {type(fit_intercept).__name__}")
        self.fit_intercept = bool(fit_intercept)
        size = self.n_features + int(self.fit_intercept)
        self.gram = np.zeros((size, size))
        self.moment = np.zeros((size, self.n_targets))
        self._batch_gram = np.empty((self.n_features, self.n_features))  # one batch's Z^T Z (scratch)
        self.n_samples = 0

    def update(self, Z: np.ndarray, Y: np.ndarray) -> None:
        """Add a mini-batch: features ``Z`` of shape (n, D), targets ``Y`` of shape (n, t) or (n,).

        Raises
        ------
        ValueError
            If the shapes do not match the accumulator or the values are not finite.
        """
        Z = np.asarray(Z)
        Y = np.asarray(Y)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Z.ndim != 2 or Z.shape[1] != self.n_features:
            raise ValueError(f"Z must have shape (n, {self.n_features}), got {Z.shape}")
        if Y.ndim != 2 or Y.shape != (Z.shape[0], self.n_targets):
            raise ValueError(f"Y must have shape ({Z.shape[0]}, {self.n_targets}) to match Z, got {Y.shape}")
        if not (np.isfinite(Z).all() and np.isfinite(Y).all()):
            raise ValueError("Z and Y must be finite; a feature map overflowed or the data holds NaN/inf")
        Z = Z.astype(np.float64, copy=False)
        Y = Y.astype(np.float64, copy=False)
        D = self.n_features
        # NumPy recognises Z.T @ Z and computes it with BLAS syrk (one triangle, mirrored), so every
        # batch's product, and hence the sum, is exactly symmetric. (SciPy's own syrk would run in a
        # second OpenBLAS runtime, whose threads contend with NumPy's on the same cores.)
        np.matmul(Z.T, Z, out=self._batch_gram)
        self.gram[:D, :D] += self._batch_gram
        self.moment[:D] += Z.T @ Y
        if self.fit_intercept:
            column_sums = Z.sum(axis=0)
            self.gram[:D, D] += column_sums
            self.gram[D, :D] += column_sums
            self.gram[D, D] += Z.shape[0]
            self.moment[D] += Y.sum(axis=0)
        self.n_samples += Z.shape[0]

    def solve(self, l2: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        r"""The ridge solution for the data accumulated so far.

        Parameters
        ----------
        l2 : float, default=0.0
            :math:`\lambda \ge 0`, the penalty on :math:`V` (not on the intercept).

        Returns
        -------
        coef : ndarray of shape (D, t), float64
        intercept : ndarray of shape (t,), float64
            Zeros when ``fit_intercept`` is False.
        """
        l2 = check_positive_float(l2, "l2", allow_zero=True)
        if self.n_samples == 0:
            raise ValueError("no data accumulated yet: call update(Z, Y) before solve()")
        D = self.n_features
        system = self.gram.copy()
        system[np.arange(D), np.arange(D)] += l2
        try:
            factor = scipy.linalg.cho_factor(system, lower=True, check_finite=False)
            solution = scipy.linalg.cho_solve(factor, self.moment, check_finite=False)
        except np.linalg.LinAlgError:
            solution = None
        if solution is None or not np.isfinite(solution).all():
            # Singular system: the minimum-norm solution of the (consistent) normal equations.
            solution = scipy.linalg.lstsq(system, self.moment, check_finite=False)[0]
        coef = solution[:D]
        intercept = solution[D] if self.fit_intercept else np.zeros(self.n_targets)
        return coef, intercept


def ridge_l2_from_trace(acc: RidgeAccumulator, relative: float) -> float:
    r"""A penalty scaled to the features: :math:`\lambda = \text{relative}\cdot\operatorname{tr}(Z^\top Z)/D`.

    The mean squared feature norm sets the scale at which :math:`\lambda` starts
    to matter, so a relative value (1e-6 … 1e-3) transfers between feature maps
    of very different magnitudes.
    """
    relative = check_positive_float(relative, "relative", allow_zero=True)
    D = acc.n_features
    return relative * float(np.trace(acc.gram[:D, :D])) / D


def fit_ridge(
    Z: np.ndarray, Y: np.ndarray, l2: float = 0.0, *, fit_intercept: bool = True, batch_size: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression of ``Y`` on ``Z`` in one call (see :class:`RidgeAccumulator`).

    Parameters
    ----------
    Z : ndarray of shape (N, D)
    Y : ndarray of shape (N, t) or (N,)
    l2 : float, default=0.0
    fit_intercept : bool, default=True
    batch_size : int or None
        Accumulate in chunks of this many rows (None: all at once). The result
        does not depend on it beyond round-off.

    Returns
    -------
    coef : ndarray of shape (D, t)
    intercept : ndarray of shape (t,)
    """
    Z = np.asarray(Z)
    Y = np.asarray(Y)
    if Z.ndim != 2:
        raise ValueError(f"Z must be 2-D (samples, features), got shape {Z.shape}")
    n_targets = 1 if Y.ndim == 1 else Y.shape[-1]
    acc = RidgeAccumulator(Z.shape[1], n_targets, fit_intercept=fit_intercept)
    step = Z.shape[0] if batch_size is None else check_positive_int(batch_size, "batch_size")
    for start in range(0, max(Z.shape[0], 1), step):
        acc.update(Z[start : start + step], Y[start : start + step])
    return acc.solve(l2)
