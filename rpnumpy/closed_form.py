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

:func:`ridge_normal_equations` is this solve written as it reads, for a :math:`Z` held in memory:
the Gram matrix :math:`\tilde Z^\top\tilde Z` and :math:`\tilde Z^\top Y` formed, and the system solved
by a dense solver (the least-squares solution when it is singular). Forming :math:`\tilde Z^\top\tilde Z`
squares the condition number :math:`\kappa` of the design: its relative error is about
:math:`10^{-16}\kappa^2` (:math:`10^{-4}` at :math:`\kappa = 10^6`).

:class:`RidgeAccumulator` streams the data instead, one mini-batch at a time, so it never has to
be in memory at once (memory :math:`O((D + t)^2)` whatever :math:`N` is), and keeps the
triangular factor of a QR decomposition of :math:`[\mathbf 1, Z, Y]` rather than the Gram matrix.
With ``l2 = 0`` it returns the minimum-norm least-squares solution, as ``numpy.linalg.lstsq`` of
:math:`[Z, \mathbf 1]` does, to about :math:`10^{-16}\kappa` relative (wide designs with fewer
samples than features, and collinear or dead features, included); with ``l2 > 0`` the penalised
system of the centred data, to about :math:`10^{-16}\kappa_\lambda^2` with
:math:`\kappa_\lambda^2 = (\sigma_{max}^2 + \lambda)/(\sigma_{min}^2 + \lambda)`. On well-conditioned
data the two forms agree to rounding (tested). An explicit inverse is never formed. Everything is
computed in float64 whatever the features' dtype: accumulating :math:`Z^\top Z` over 60,000
samples in float32 loses about four digits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

from ._blas import one_blas_thread
from ._validation import check_positive_float, check_positive_int

__all__ = ["RIDGE_METHODS", "RidgeAccumulator", "fit_ridge", "ridge_l2_from_trace", "ridge_normal_equations"]


def ridge_normal_equations(
    Z: np.ndarray, Y: np.ndarray, l2: float = 0.0, *, fit_intercept: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    r"""Ridge regression by its normal equations, for features held in memory: the plain form.

    .. math:: \tilde Z = [Z, \mathbf 1], \qquad
              (\tilde Z^\top \tilde Z + \Lambda) \begin{bmatrix} V \\ c^\top \end{bmatrix} = \tilde Z^\top Y,
              \qquad \Lambda = \operatorname{diag}(\lambda, \dots, \lambda, 0).

    The intercept's row of :math:`\Lambda` is 0: :math:`c` is not penalised. With :math:`\lambda > 0`
    the system is positive definite and solved by Cholesky. With :math:`\lambda = 0` it may be
    singular (fewer samples than features, collinear or dead features); it is then solved through
    its eigen-decomposition :math:`U \operatorname{diag}(w) U^\top`, eigenvalues below
    :math:`\epsilon\max(N, D+1)\max_i w_i` (the rounding noise of forming :math:`\tilde Z^\top\tilde Z`)
    counting as zero: the minimum-norm solution. Forming :math:`\tilde Z^\top\tilde Z` squares the
    design's condition number :math:`\kappa`: expect a relative error of about :math:`10^{-16}\kappa^2`.
    :class:`RidgeAccumulator` computes the same solution streamed, and by default more accurately.

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
    Z = _real_array(Z, "Z").astype(np.float64)
    Y = _real_array(Y, "Y").astype(np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Z.ndim != 2 or Y.ndim != 2 or Y.shape[0] != Z.shape[0] or Z.shape[0] == 0:
        raise ValueError(f"Z must be (N, D) and Y (N, t) or (N,) with the same N >= 1, got {Z.shape} and {Y.shape}")
    l2 = check_positive_float(l2, "l2", allow_zero=True)
    D = Z.shape[1]
    Z_tilde = np.hstack([Z, np.ones((Z.shape[0], 1))]) if fit_intercept else Z
    system = Z_tilde.T @ Z_tilde
    rhs = Z_tilde.T @ Y
    solution = _solve_normal_equations(system, rhs, l2, D, Z.shape[0])
    return solution[:D], (solution[D] if fit_intercept else np.zeros(Y.shape[1]))


def _solve_normal_equations(system: np.ndarray, rhs: np.ndarray, l2: float, D: int, n_samples: int) -> np.ndarray:
    """Solve ``(system + Λ) x = rhs`` as :func:`ridge_normal_equations` describes (Cholesky, or eigh when l2 = 0)."""
    system = system.copy()
    system[np.arange(D), np.arange(D)] += l2  # lambda on the diagonal, except the intercept's entry
    if l2 > 0:
        factor = scipy.linalg.cho_factor(system, lower=True, check_finite=False)
        return scipy.linalg.cho_solve(factor, rhs, check_finite=False)
    w, U = np.linalg.eigh(system)
    keep = w > np.finfo(np.float64).eps * max(n_samples, len(w)) * max(w.max(), 0.0)
    return U[:, keep] @ ((U[:, keep].T @ rhs) / w[keep, None])


#: How :class:`RidgeAccumulator` keeps its data: a QR factor (accurate) or the Gram matrix (fast).
RIDGE_METHODS = ("qr", "gram")

#: The QR method collects the rows of new batches in a buffer of at least 8192 rows and four times as
#: many rows as the factor has columns (each QR then costs about 2.3 times the work of adding the rows
#: to a Gram matrix), but of at most this many values (and at least as many rows as columns).
_BUFFER_VALUES = 2**24


class RidgeAccumulator:
    r"""Ridge regression with an unpenalised intercept, streamed over mini-batches.

    Two ways to keep what the solve needs, in memory :math:`O((D + t)^2)` whatever :math:`N` is:

    ``method="qr"`` (the default): the triangular factor :math:`R` of the growing matrix
    :math:`[Z, \mathbf 1, Y] = QR` (features, the column of ones, targets; :math:`Q` orthonormal and
    never kept). A mini-batch :math:`B` changes :math:`R` to the factor of
    :math:`\begin{bmatrix} R \\ B \end{bmatrix}` (a streaming "tall-skinny" QR, TSQR): rows are
    collected in a buffer (at least 8192 rows, at most :math:`2^{24}` values) and factorised with it
    by LAPACK's Householder QR, on one BLAS thread (the factor's bits do not depend on the thread
    count). With
    :math:`R = \begin{bmatrix} R_{11} & R_{12} \\ 0 & R_{22}\end{bmatrix}`,
    :math:`\|\tilde Z x - Y\|^2 = \|R_{11}x - R_{12}\|^2 + \|R_{22}\|^2` for
    :math:`\tilde Z = [Z, \mathbf 1]` and every :math:`x`, so

    * ``l2 = 0``: :math:`R_{11}x \approx R_{12}` has the least-squares solutions of the original
      problem, with the same norms. It is solved by back substitution when :math:`R_{11}` is square
      and well conditioned, else (fewer samples than features, collinear or dead features) by an
      SVD with ``numpy.linalg.lstsq``'s cutoff (singular values below
      :math:`\epsilon\max(N, D+1)\,\sigma_{max}` count as zero): the minimum-norm least-squares
      solution, its norm counting :math:`V` and :math:`c` together, as ``numpy.linalg.lstsq`` returns
      it for :math:`[Z, \mathbf 1]`. The design's condition number :math:`\kappa` is not squared:
      expect the accuracy of ``lstsq`` itself, about :math:`10^{-16}\kappa` relative. At
      :math:`\kappa = 10^6` the two agree to :math:`10^{-10}` when the rows fit in one buffer (see
      above), and otherwise to about :math:`2\cdot 10^{-10}`, the level at which LAPACK's own
      least-squares drivers (``gelsd``, ``gelsy``) differ from each other (both tested).
    * ``l2 > 0``: the penalised normal equations written with the factor,
      :math:`(R_{11}^\top R_{11} + \Lambda)x = R_{11}^\top R_{12}`, solved by Cholesky; their condition
      number :math:`\kappa_\lambda^2 \approx (\sigma_{max}^2 + \lambda)/(\sigma_{min}^2 + \lambda)` (for the
      singular values :math:`\sigma` of the design), which the penalty bounds, gives a relative error
      of about :math:`10^{-16}\kappa_\lambda^2`.

    ``method="gram"``: the sums :math:`\tilde Z^\top\tilde Z` and :math:`\tilde Z^\top Y`, solved as
    :func:`ridge_normal_equations` solves them. About four times less work per row than the QR
    factor (one symmetric product instead of a Householder QR), and as accurate for ``l2 > 0``
    (both solve the penalised normal equations); with ``l2 = 0`` it squares :math:`\kappa` (a
    relative error of about :math:`10^{-16}\kappa^2`, and singular values of the design below
    about :math:`10^{-7}\sigma_{max}` are lost). Choose it for large problems solved with a penalty.

    Parameters
    ----------
    n_features : int
        :math:`D`, the width of the feature batches.
    n_targets : int
        :math:`t`, the width of the target batches (1 for a 1-D target).
    fit_intercept : bool, default=True
        Fit the intercept :math:`c` (never penalised). If False, :math:`c = 0`.
    method : {'qr', 'gram'}, default='qr'

    Attributes
    ----------
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

    def __init__(self, n_features: int, n_targets: int, *, fit_intercept: bool = True, method: str = "qr") -> None:
        self.n_features = check_positive_int(n_features, "n_features")
        self.n_targets = check_positive_int(n_targets, "n_targets")
        if not isinstance(fit_intercept, (bool, np.bool_)):
            raise TypeError(f"fit_intercept must be a bool, got {type(fit_intercept).__name__}")
        if method not in RIDGE_METHODS:
            raise ValueError(f"method must be one of {list(RIDGE_METHODS)}, got {method!r}")
        self.fit_intercept = bool(fit_intercept)
        self.method = method
        self._p = self.n_features + int(self.fit_intercept)  # columns of the design: [Z, 1] or Z
        width = self._p + self.n_targets
        if method == "qr":
            # The factor's rows (at most `width`) on top, then room for the buffered rows of new batches.
            self._capacity = max(width, min(max(4 * width, 8192), _BUFFER_VALUES // width))
            self._stack = np.zeros((width + self._capacity, width))
            self._factor_rows = self._buffered = 0
        else:
            self._gram = np.zeros((self._p, self._p))
            self._moment = np.zeros((self._p, self.n_targets))
            self._batch_gram = np.empty((self.n_features, self.n_features))  # one batch's Z^T Z (scratch)
        self.n_samples = 0

    def update(self, Z: np.ndarray, Y: np.ndarray) -> None:
        """Add a mini-batch: features ``Z`` of shape (n, D), targets ``Y`` of shape (n, t) or (n,).

        Raises
        ------
        TypeError
            If ``Z`` or ``Y`` does not hold real numbers (complex values are refused, not cut).
        ValueError
            If the shapes do not match the accumulator or the values are not finite.
        """
        Z = _real_array(Z, "Z")
        Y = _real_array(Y, "Y")
        if Y.ndim == 1:
            Y = Y[:, None]
        if Z.ndim != 2 or Z.shape[1] != self.n_features:
            raise ValueError(f"Z must have shape (n, {self.n_features}), got {Z.shape}")
        if Y.ndim != 2 or Y.shape != (Z.shape[0], self.n_targets):
            raise ValueError(f"Y must have shape ({Z.shape[0]}, {self.n_targets}) to match Z, got {Y.shape}")
        if not (np.isfinite(Z).all() and np.isfinite(Y).all()):
            raise ValueError("Z and Y must be finite; a feature map overflowed or the data holds NaN/inf")
        if self.method == "qr":
            self._update_factor(Z, Y)
        else:
            self._update_sums(Z.astype(np.float64, copy=False), Y.astype(np.float64, copy=False))
        self.n_samples += Z.shape[0]

    def _update_factor(self, Z: np.ndarray, Y: np.ndarray) -> None:
        D, done = self.n_features, 0
        while done < Z.shape[0]:
            if self._buffered == self._capacity:
                self._factorise()
            take = min(Z.shape[0] - done, self._capacity - self._buffered)
            rows = self._stack[self._factor_rows + self._buffered:][:take]
            rows[:, :D] = Z[done:done + take]
            rows[:, D:self._p] = 1.0  # the column of ones, if there is an intercept
            rows[:, self._p:] = Y[done:done + take]
            self._buffered += take
            done += take

    def _factorise(self) -> None:
        """Replace the factor and the buffered rows below it by the factor of both (Householder QR)."""
        if self._buffered == 0:
            return
        used = self._factor_rows + self._buffered
        width = self._stack.shape[1]
        # On one BLAS thread: the factor's bits do not depend on the thread count, and the panel steps of
        # the QR do not wait for threads that share their cores with other processes.
        with one_blas_thread():
            r = scipy.linalg.qr(self._stack[:used], mode="r", check_finite=False)[0][: min(used, width)]
        self._factor_rows = r.shape[0]
        self._stack[: r.shape[0]] = r
        self._buffered = 0

    def _update_sums(self, Z: np.ndarray, Y: np.ndarray) -> None:
        D = self.n_features
        # NumPy recognises Z.T @ Z and computes it with BLAS syrk (one triangle, mirrored), so every
        # batch's product, and hence the sum, is exactly symmetric.
        np.matmul(Z.T, Z, out=self._batch_gram)
        self._gram[:D, :D] += self._batch_gram
        self._moment[:D] += Z.T @ Y
        if self.fit_intercept:
            column_sums = Z.sum(axis=0)
            self._gram[:D, D] += column_sums
            self._gram[D, :D] += column_sums
            self._gram[D, D] += Z.shape[0]
            self._moment[D] += Y.sum(axis=0)

    @property
    def factor(self) -> np.ndarray:
        r"""The QR method's triangular factor of :math:`[Z, \mathbf 1, Y]` (:math:`[Z, Y]` without intercept).

        Shape ``(k, D + 1 + t)`` with :math:`k = \min(N, D + 1 + t)` rows, upper trapezoidal. A copy.
        """
        if self.method != "qr":
            raise AttributeError("only method='qr' keeps a factor")
        self._factorise()
        return self._stack[: self._factor_rows].copy()

    @property
    def gram(self) -> np.ndarray:
        r""":math:`\tilde Z^\top\tilde Z` for :math:`\tilde Z = [Z, \mathbf 1]`, shape (D + 1, D + 1) (or (D, D)).

        Kept by ``method="gram"``; computed as :math:`R_{11}^\top R_{11}` by ``method="qr"``.
        """
        if self.method == "gram":
            return self._gram
        a = self.factor[:, : self._p]
        return a.T @ a

    @property
    def moment(self) -> np.ndarray:
        r""":math:`\tilde Z^\top Y`, shape (D + 1, t): kept, or computed as :math:`R_{11}^\top R_{12}`."""
        if self.method == "gram":
            return self._moment
        r = self.factor
        return r[:, : self._p].T @ r[:, self._p:]

    def feature_square_sum(self) -> float:
        r""":math:`\operatorname{tr}(Z^\top Z) = \sum_{n,j} Z_{nj}^2`, the squared norms of the feature columns."""
        if self.method == "gram":
            return float(np.trace(self._gram[: self.n_features, : self.n_features]))
        return float(np.sum(self.factor[:, : self.n_features] ** 2))

    def solve(self, l2: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        r"""The ridge solution for the data accumulated so far (see the class docstring for the method).

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
        if self.method == "gram":
            solution = _solve_normal_equations(self._gram, self._moment, l2, D, self.n_samples)
        else:
            r = self.factor
            design, targets = r[:, : self._p], r[:, self._p:]
            if l2 == 0:
                solution = _least_squares(design, targets, self.n_samples)
            else:
                solution = _solve_normal_equations(design.T @ design, design.T @ targets, l2, D, self.n_samples)
        intercept = solution[D] if self.fit_intercept else np.zeros(self.n_targets)
        return solution[:D], intercept


def _least_squares(design: np.ndarray, targets: np.ndarray, n_samples: int) -> np.ndarray:
    """The minimum-norm solution of ``design @ x ≈ targets`` with ``numpy.linalg.lstsq``'s cutoff.

    ``design`` is an upper-trapezoidal factor of data with ``n_samples`` rows: back substitution when
    it is square and far from the cutoff (its reciprocal condition number estimated in the 1-norm,
    within a factor ``D`` of the 2-norm's, is compared with a margin), an SVD otherwise.
    """
    k, p = design.shape
    cutoff = np.finfo(np.float64).eps * max(n_samples, p)
    if k == p:
        rcond, info = scipy.linalg.lapack.dtrcon(design, norm="1", uplo="U")
        if info == 0 and rcond > 1e3 * p * cutoff:
            return scipy.linalg.solve_triangular(design, targets, lower=False, check_finite=False)
    return scipy.linalg.lstsq(design, targets, cond=cutoff, lapack_driver="gelsd", check_finite=False)[0]


def _real_array(value: Any, name: str) -> np.ndarray:
    """``value`` as an array of real numbers (bool, int or float), else a TypeError naming ``name``."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (int or float), got dtype {array.dtype}; complex values "
                        f"are refused, not cut to their real part")
    return array


def ridge_l2_from_trace(acc: RidgeAccumulator, relative: float) -> float:
    r"""A penalty scaled to the features: :math:`\lambda = \text{relative}\cdot\operatorname{tr}(Z^\top Z)/D`.

    The mean squared feature norm sets the scale at which :math:`\lambda` starts
    to matter, so a relative value (1e-6 … 1e-3) transfers between feature maps
    of very different magnitudes.
    """
    relative = check_positive_float(relative, "relative", allow_zero=True)
    return relative * acc.feature_square_sum() / acc.n_features


def fit_ridge(
    Z: np.ndarray,
    Y: np.ndarray,
    l2: float = 0.0,
    *,
    fit_intercept: bool = True,
    batch_size: Any = None,
    method: str = "qr",
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression of ``Y`` on ``Z`` in one call (see :class:`RidgeAccumulator`).

    Parameters
    ----------
    Z : ndarray of shape (N, D), N >= 1
    Y : ndarray of shape (N, t) or (N,)
    l2 : float, default=0.0
    fit_intercept : bool, default=True
    batch_size : int or None
        Accumulate in chunks of this many rows (None: all at once). The result
        does not depend on it beyond round-off.
    method : {'qr', 'gram'}, default='qr'
        As in :class:`RidgeAccumulator`.

    Returns
    -------
    coef : ndarray of shape (D, t)
    intercept : ndarray of shape (t,)
    """
    Z = _real_array(Z, "Z")
    Y = _real_array(Y, "Y")
    if Z.ndim != 2:
        raise ValueError(f"Z must be 2-D (samples, features), got shape {Z.shape}")
    if Z.shape[0] == 0 or Z.shape[1] == 0:
        raise ValueError(f"Z must hold at least one sample and one feature, got shape {Z.shape}")
    if Y.ndim not in (1, 2) or Y.shape[0] != Z.shape[0]:
        raise ValueError(f"Y must have shape ({Z.shape[0]},) or ({Z.shape[0]}, t) to match Z, got {Y.shape}")
    l2 = check_positive_float(l2, "l2", allow_zero=True)
    acc = RidgeAccumulator(Z.shape[1], 1 if Y.ndim == 1 else Y.shape[1], fit_intercept=fit_intercept, method=method)
    step = Z.shape[0] if batch_size is None else check_positive_int(batch_size, "batch_size")
    for start in range(0, Z.shape[0], step):
        acc.update(Z[start : start + step], Y[start : start + step])
    return acc.solve(l2)
