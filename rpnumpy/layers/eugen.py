r"""EUGen layers (Kim et al., NeurIPS 2025): norm-augmented random features with Hadamard products.

An EUGen layer of order :math:`k` replaces a dense layer :math:`y = \sigma(xW + b)` by a linear
read-out of random polynomial features of the *augmented* input

.. math:: x_+ = [\,x,\ 1,\ \|x\|\,] \in \mathbb R^{d+2}.

For every order :math:`i = 1..k` and factor :math:`j = 1..i` there is an independent random
matrix :math:`G_{ij}`; the order-:math:`i` feature block is the Hadamard product of the
:math:`i` projections,

.. math::

    Q_{ij} = x_+ G_{ij} \in \mathbb R^{m}, \qquad
    H_i = Q_{i1} \odot \cdots \odot Q_{ii}, \qquad
    F(x) = [\,1,\ H_1,\ \dots,\ H_k\,] \in \mathbb R^{D},\ D = 1 + mk,

and the layer computes :math:`y = F(x)\,A + b` with the read-out :math:`A` trainable.

What is the paper's and what is ours
------------------------------------
* **The paper's** (as its public summaries state it): the Hadamard-product features of
  independent random projections shared by an input side :math:`f(x)` and a weight side
  :math:`g(w)`; the direct dependence on the input norm; trainable :math:`A` with
  optionally trainable :math:`G`; i.i.d., Rademacher or Gaussian-orthogonal rows; and
  Theorem 3.1: for :math:`\sigma(s) = \sum_i a_i s^i`,
  :math:`E[g(w)^\top f(x)] = \sigma(w_+^\top x_+)` exactly, negative :math:`a_i` included.
* **Ours**: the reading :math:`x_+ = [x, 1, \|x\|]` with *both* a one (carrying the bias)
  and the norm (summaries disagree; one writes :math:`[x, \|x\|]`), so that
  :math:`w_+ = [w, b, c]` turns the estimated pre-activation into :math:`xw^\top + b + c\|x\|`;
  a single constant feature for order 0; the balanced scaling of
  :func:`balanced_scales`; the variance formulas of :func:`estimator_variance`; the
  subgradient convention at :math:`x = 0`; the default initialisation of :math:`A`;
  the seeding scheme and the storage of all :math:`G_{ij}` side by side in one array.

Row convention
--------------
The paper writes :math:`G_{ij} \in \mathbb R^{m\times(d+2)}` acting on column vectors and
:math:`y = A f(x)` with :math:`A \in \mathbb R^{d_{out}\times D}`. rpnumpy applies matrices to row
vectors, so the stored block :math:`G_{ij}` is the paper's :math:`G_{ij}^\top` (shape
``(d+2, m)``; column :math:`r` is the paper's row :math:`r`) and the stored ``A`` is the
paper's :math:`A^\top` (shape ``(1 + m k, d_out)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import check_dtype, check_float_array, check_positive_int, check_real_vector, seed_from
from ..random_matrices import random_matrix
from .base import Layer, config_dim

__all__ = ["EUGen", "EUGEN_DRAWS", "balanced_scales", "estimator_variance", "hadamard_features"]

#: Row distributions of the G_ij and the library kind that draws each. All have
#: E[g gᵀ] = I (unit-variance entries), which Theorem 3.1 needs.
EUGEN_DRAWS = {"iid": "gaussian", "rademacher": "rademacher", "orthogonal": "gaussian_orthogonal"}


def _block_offset(order: int, factor: int, m: int) -> int:
    """First column of block G_{order,factor} in the side-by-side storage (blocks (1,1), (2,1), (2,2), (3,1), ...)."""
    return m * (order * (order - 1) // 2 + factor - 1)


def _order_slice(order: int, m: int) -> slice:
    """The columns of all i factors of order i = ``order``: they are contiguous."""
    return slice(_block_offset(order, 1, m), _block_offset(order + 1, 1, m))


def _as_coefficients(coefficients: Any) -> np.ndarray:
    """The polynomial coefficients a_0..a_k as a float64 vector, validated."""
    a = check_real_vector(coefficients, "coefficients")
    if a.size == 0 or not np.all(np.isfinite(a)):
        rule = "be finite" if a.size else "be a non-empty 1-D sequence a_0..a_k"
        raise ValueError(f"coefficients must {rule}, got {coefficients!r}")
    return a


def _check_coefficients(coefficients: Any, order: int) -> np.ndarray:
    """Validated coefficients, padded with zeros to length order + 1."""
    a = _as_coefficients(coefficients)
    if a.size > order + 1:
        raise ValueError(
            f"coefficients has degree {a.size - 1} but the layer's order is {order}: "
            f"a polynomial of degree k needs order >= k (pass at most {order + 1} coefficients)"
        )
    return np.pad(a, (0, order + 1 - a.size))


def hadamard_features(z_plus: np.ndarray, G: np.ndarray, m: int, order: int) -> np.ndarray:
    r"""The feature map :math:`[1, H_1, \dots, H_k]` of already augmented rows.

    Used by both sides of the estimator: :math:`f(x) = ` ``hadamard_features(x₊, ...)`` and,
    before the coefficients are applied, :math:`g(w)` from ``hadamard_features(w₊, ...)``.

    Parameters
    ----------
    z_plus : ndarray of shape (n, p)
        Augmented vectors (:math:`x_+` or :math:`w_+`).
    G : ndarray of shape (p, m k (k+1)/2)
        The blocks :math:`G_{ij}` side by side in the order (1,1), (2,1), (2,2), (3,1), ...
    m, order : int

    Returns
    -------
    ndarray of shape (n, 1 + m k)
    """
    return _features_from_projections(z_plus @ G, m, order)


def _features_from_projections(projections: np.ndarray, m: int, order: int) -> np.ndarray:
    r""":math:`[1, H_1, \dots, H_k]` from the projections :math:`Q_{ij}` side by side: :math:`H_i = \prod_j Q_{ij}`."""
    n = projections.shape[0]
    blocks = [np.ones((n, 1), dtype=projections.dtype)]
    for i in range(1, order + 1):
        start = _block_offset(i, 1, m)
        H = projections[:, start: start + m]  # Q_i1
        for j in range(1, i):  # H_i = Q_i1 ⊙ Q_i2 ⊙ ... ⊙ Q_ii
            H = H * projections[:, start + j * m: start + (j + 1) * m]
        blocks.append(H)
    return np.concatenate(blocks, axis=1)


def balanced_scales(coefficients: Any, m: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-order scales that split :math:`a_i/m` evenly between the two sides (ours).

    Theorem 3.1 puts all of :math:`a_i/m` on the weight side. The same estimator with
    :math:`\sqrt{|a_i|/m}` on the input side and :math:`\operatorname{sign}(a_i)\sqrt{|a_i|/m}`
    on the weight side has the same value to round-off, with both sides of the same
    magnitude. It equals multiplying every entry of every :math:`G_{ij}` by
    :math:`(|a_i|/m)^{1/(2i)}` and putting the sign on the weight side only (our derivation;
    a secondary write-up quotes a per-entry scale of this form).

    Parameters
    ----------
    coefficients : sequence of float
        :math:`a_0..a_k`.
    m : int

    Returns
    -------
    input_scale, weight_scale : ndarray of shape (k + 1,)
        Order 0 gets :math:`\sqrt{|a_0|}` and :math:`\operatorname{sign}(a_0)\sqrt{|a_0|}`
        (there is one constant feature, not m).
    """
    a = _as_coefficients(coefficients)
    m = check_positive_int(m, "m")
    per_feature = np.abs(a) / m
    per_feature[0] = abs(a[0])
    input_scale = np.sqrt(per_feature)
    return input_scale, np.sign(a) * input_scale


def estimator_variance(
    u: np.ndarray, v: np.ndarray, coefficients: Any, m: int, *, draws: str = "iid"
) -> np.ndarray:
    r"""Variance of the Theorem 3.1 estimator of :math:`\sigma(u^\top v)` (our derivation).

    With :math:`s = u^\top v`, independent orders and :math:`m` independent rows per
    :math:`G_{ij}`:

    .. math::

        \operatorname{Var} = \sum_{i=1}^{k} \frac{a_i^2}{m}
            \Big[\big(\|u\|^2\|v\|^2 + 2 s^2 - 2\rho\big)^i - s^{2i}\Big],

    where :math:`\rho = 0` for Gaussian rows (Isserlis:
    :math:`E[(g^\top u)^2 (g^\top v)^2] = \|u\|^2\|v\|^2 + 2s^2`) and
    :math:`\rho = \sum_t u_t^2 v_t^2` for Rademacher rows (their fourth moment is 1, not 3).
    Order 0 is a constant and adds nothing. The derivation: the :math:`i` factors of order :math:`i`
    are independent, so :math:`E[Z^2] = \prod_j E[(g_j^\top u)^2 (g_j^\top v)^2]`, and the orders are
    independent of each other, so their variances add.

    Gaussian-orthogonal rows are marginally Gaussian but coupled within a block, which
    lowers the variance (the quasi-Monte-Carlo effect). No closed form is implemented:
    ``draws="orthogonal"`` returns the i.i.d. Gaussian value, the reference it improves on.

    Parameters
    ----------
    u : ndarray of shape (l, p)
        Weight-side vectors :math:`w_+`.
    v : ndarray of shape (n, p)
        Input-side vectors :math:`x_+`.
    coefficients : sequence of float
        :math:`a_0..a_k`.
    m : int
        Rows per matrix.
    draws : {'iid', 'rademacher', 'orthogonal'}, default='iid'

    Returns
    -------
    ndarray of shape (n, l)
    """
    if draws not in EUGEN_DRAWS:
        raise ValueError(f"draws must be one of {list(EUGEN_DRAWS)}, got {draws!r}")
    m = check_positive_int(m, "m")
    u = np.atleast_2d(np.asarray(u, dtype=np.float64))
    v = np.atleast_2d(np.asarray(v, dtype=np.float64))
    if u.ndim != 2 or v.ndim != 2 or u.shape[1] != v.shape[1]:
        raise ValueError(f"u and v must be (l, p) and (n, p) arrays of the same width p, "
                         f"got shapes {u.shape} and {v.shape}")
    a = _as_coefficients(coefficients)
    s = v @ u.T
    second_moment = np.outer((v**2).sum(1), (u**2).sum(1)) + 2 * s**2
    if draws == "rademacher":
        second_moment -= 2 * (v**2) @ (u**2).T
    variance = np.zeros_like(s)
    for i in range(1, a.size):
        variance += a[i] ** 2 / m * (second_moment**i - s ** (2 * i))
    return variance


class EUGen(Layer):
    r"""EUGen layer of order :math:`k`: :math:`y = F(x) A + b`, :math:`F = [1, H_1, \dots, H_k]`.

    Forward, for a batch :math:`X` of shape ``(n, d)`` (row-wise norms :math:`\nu = \|x\|`):

    .. math::

        X_+ = [X,\ 1,\ \nu], \qquad Q_{ij} = X_+ G_{ij}, \qquad
        H_i = \textstyle\bigodot_{j=1}^{i} Q_{ij}, \qquad
        Y = [1, H_1, \dots, H_k]\, A + b .

    Backward, given :math:`\delta = \partial L/\partial Y` (``dy``), with :math:`\partial L/\partial H_i`
    the block of :math:`\partial L/\partial F = \delta A^\top` that multiplies :math:`H_i`:

    .. math::

        \frac{\partial L}{\partial A} = F^\top \delta, \qquad
        \frac{\partial L}{\partial b} = \textstyle\sum_n \delta, \qquad
        \frac{\partial L}{\partial Q_{ij}} = \frac{\partial L}{\partial H_i}
            \odot \underbrace{\textstyle\prod_{l<j} Q_{il}}_{\text{prefix}}
            \odot \underbrace{\textstyle\prod_{l>j} Q_{il}}_{\text{suffix}},

    .. math::

        \frac{\partial L}{\partial G_{ij}} = X_+^\top \frac{\partial L}{\partial Q_{ij}}, \qquad
        \frac{\partial L}{\partial X_+} = \sum_{i,j} \frac{\partial L}{\partial Q_{ij}} G_{ij}^\top, \qquad
        \frac{\partial L}{\partial X} = \frac{\partial L}{\partial X_+}[:, :d]
            + \frac{\partial L}{\partial X_+}[:, d{+}1] \odot \frac{X}{\nu} .

    The prefix and suffix products avoid dividing :math:`H_i` by :math:`Q_{ij}` (which fails where a
    projection is zero). :math:`\partial L/\partial G_{ij}` is computed only when ``train_G=True``; with
    fixed :math:`G` no matrix product is spent on it, and with ``input_grad=False`` as well not even
    :math:`\partial L/\partial F` is formed. The column of ones has no gradient.

    **The norm at x = 0** is not differentiable: its subdifferential there is the unit
    ball. We use the subgradient **0** (its minimum-norm element): the term
    :math:`X/\nu` is replaced by 0 on rows with :math:`\nu = 0`, by an explicit mask, so
    every non-zero row gets the exact gradient (no :math:`\max(\nu, \epsilon)`, which would
    bend the gradient of tiny inputs). The forward pass is finite at 0 (:math:`\nu = 0`). Only the
    norm column's contribution is affected; the rest of :math:`\partial L/\partial X` is the usual one.

    Parameters
    ----------
    d_in, d_out : int
    m : int
        Features per order (rows of each paper's :math:`G_{ij}`).
    order : int, default=2
        :math:`k`. Each of the :math:`k(k+1)/2` factors has its own matrix.
    norm_term : bool, default=True
        Append :math:`\|x\|` to :math:`x_+`. ``False`` gives :math:`x_+ = [x, 1]`.
    draws : {'iid', 'rademacher', 'orthogonal'}, default='iid'
        Entries :math:`N(0, 1)`; :math:`\pm 1`; or Gaussian-orthogonal blocks (the paper's
        rows, our columns, orthogonal within blocks of :math:`d+2` and rescaled by chi
        norms, so each is marginally exactly :math:`N(0, I)`). Unit variance in all three:
        :math:`E[g g^\top] = I`, as Theorem 3.1 needs.
    train_G : bool, default=False
        Make the :math:`G_{ij}` trainable (``params["G"]``, initialised from the seed)
        instead of fixed (``buffers["G"]``, rebuilt from the seed).
    bias : bool, default=True
        Add the output bias ``b``. It duplicates the row of ``A`` that multiplies the
        constant feature (both receive :math:`\sum_n \delta`); ``bias=False`` removes the
        duplicate. Kept by default so that ``A`` holds exactly the paper's weight-side
        features :math:`g(w_r)` while ``b`` is free.
    rng : None, int or Generator
        The layer's seed; every :math:`G_{ij}` and the initial ``A`` derive from it.
    dtype : float32 or float64, default=float64

    Attributes
    ----------
    params : ``"A"`` of shape (1 + m k, d_out), the paper's :math:`A^\top`; ``"b"`` (d_out,)
        if ``bias``; ``"G"`` if ``train_G``.
    buffers : ``"G"`` of shape (d+2, m k(k+1)/2) if not ``train_G``: the blocks
        :math:`G_{ij}` (each the paper's :math:`G_{ij}^\top`) side by side in the order
        (1,1), (2,1), (2,2), (3,1), ...; :meth:`projection` returns one block as a view.
    n_features : int
        :math:`D = 1 + m k`.

    Notes
    -----
    **Seeds** (ours). ``SeedSequence(seed)`` spawns two children, one for the matrices and
    one for the initial ``A``; the matrix child spawns one grandchild per block, in the
    block order above. Block :math:`(i, j)` therefore does not depend on :math:`k`: layers
    of orders 2 and 3 with the same seed share :math:`G_{11}, G_{21}, G_{22}`.

    **Initialisation of A** (ours). The constant row is 0, ``b = 0``, and the order-:math:`i`
    rows are :math:`N(0, 1/(k\,m\,q^i))` with :math:`q = 2d + 1` (:math:`d + 1` without the
    norm term). For Gaussian :math:`G`, :math:`E[H_{i,r}^2] = \|x_+\|^{2i}`, and
    :math:`q = E\|x_+\|^2` for inputs with unit-variance entries (:math:`\|x\|^2 \approx d`),
    so each output then has variance about 1 at the start: the LeCun convention of
    :class:`~rpnumpy.layers.Dense`. Inputs of another scale should be normalised (the
    estimator's variance grows like :math:`\|x_+\|^{2i}`) or ``A`` overwritten, e.g. by a
    closed-form fit. The paper's own initialisation is not available.

    Examples
    --------
    >>> import numpy as np
    >>> layer = EUGen(8, 3, m=16, order=2, rng=0)
    >>> layer.n_features, layer.params["A"].shape, layer.buffers["G"].shape
    (33, (33, 3), (10, 48))
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        m: int,
        order: int = 2,
        *,
        norm_term: bool = True,
        draws: str = "iid",
        train_G: bool = False,
        bias: bool = True,
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        self.m = check_positive_int(m, "m")
        self.order = check_positive_int(order, "order")
        for name, flag in (("norm_term", norm_term), ("train_G", train_G), ("bias", bias)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        if draws not in EUGEN_DRAWS:
            raise ValueError(f"draws must be one of {list(EUGEN_DRAWS)}, got {draws!r}")
        super().__init__(check_dtype(dtype))
        self.norm_term, self.draws, self.train_G, self.bias = norm_term, draws, train_G, bias
        self.seed = seed_from(rng)
        self.n_features = 1 + self.m * self.order

        matrix_seq, a_seq = np.random.SeedSequence(self.seed).spawn(2)
        G = self._draw_matrices(matrix_seq).astype(self.dtype)
        if train_G:
            self._add_param("G", G)
        else:
            self.buffers["G"] = G
        self._add_param("A", self._initial_A(np.random.default_rng(a_seq)).astype(self.dtype))
        if bias:
            self._add_param("b", np.zeros(self.d_out, dtype=self.dtype))

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        d_in, d_out, m = config_dim(config, "d_in"), config_dim(config, "d_out"), config_dim(config, "m")
        order = config_dim(config, "order", 2)
        width_plus = d_in + (2 if config.get("norm_term", True) else 1)
        g = width_plus * m * (order * (order + 1) // 2)
        a = (1 + m * order) * d_out + (d_out if config.get("bias", True) else 0)
        return (a + g, 0) if config.get("train_G", False) else (a, g)

    # -- construction -------------------------------------------------------
    @property
    def width_plus(self) -> int:
        """Length of :math:`x_+`: d + 2 with the norm term, d + 1 without."""
        return self.d_in + (2 if self.norm_term else 1)

    @property
    def n_blocks(self) -> int:
        """Number of matrices :math:`G_{ij}`: k(k+1)/2."""
        return self.order * (self.order + 1) // 2

    def _draw_matrices(self, seq: np.random.SeedSequence) -> np.ndarray:
        kind = EUGEN_DRAWS[self.draws]
        seeds = [int(child.generate_state(1, np.uint64)[0] >> 1) for child in seq.spawn(self.n_blocks)]
        blocks = [random_matrix(kind, (self.width_plus, self.m), s, variance=1.0) for s in seeds]
        return np.ascontiguousarray(np.concatenate(blocks, axis=1))

    def _initial_A(self, gen: np.random.Generator) -> np.ndarray:
        q = self.d_in + 1 + (self.d_in if self.norm_term else 0)  # E||x+||^2: 2d + 1, or d + 1 without the norm
        A = np.zeros((self.n_features, self.d_out))
        for i in range(1, self.order + 1):
            std = 1.0 / math.sqrt(self.order * self.m * q**i)
            A[1 + (i - 1) * self.m: 1 + i * self.m] = gen.standard_normal((self.m, self.d_out)) * std
        return A

    @property
    def G(self) -> np.ndarray:
        """All :math:`G_{ij}` side by side, shape (p, m k(k+1)/2): the parameter or the buffer."""
        return self.params["G"] if self.train_G else self.buffers["G"]

    def projection(self, i: int, j: int) -> np.ndarray:
        """The block :math:`G_{ij}` (a view, shape ``(p, m)``; the paper's :math:`G_{ij}^\\top`)."""
        i = check_positive_int(i, "i")
        j = check_positive_int(j, "j")
        if i > self.order or j > i:
            raise ValueError(f"need 1 <= j <= i <= order={self.order}, got i={i}, j={j}")
        start = _block_offset(i, j, self.m)
        return self.G[:, start: start + self.m]

    # -- feature maps ---------------------------------------------------------
    def augment(self, x: np.ndarray) -> np.ndarray:
        """:math:`x_+ = [x, 1, \\|x\\|]` row-wise (``[x, 1]`` without the norm term)."""
        x_plus = np.empty((x.shape[0], self.width_plus), dtype=x.dtype)
        x_plus[:, : self.d_in] = x
        x_plus[:, self.d_in] = 1
        if self.norm_term:
            x_plus[:, self.d_in + 1] = np.sqrt(np.einsum("ij,ij->i", x, x))
        return x_plus

    def augment_weights(self, w: np.ndarray, b: np.ndarray | None = None, c: Any = None) -> np.ndarray:
        """:math:`w_+ = [w, b, c]` row-wise (``[w, b]`` without the norm term); None means 0.

        ``w`` must have the layer's dtype; ``b`` and ``c`` (scalars or one value per row) are
        written into the result, in the layer's dtype.
        """
        w = check_float_array(w, "w", ndim=2, dtype=self.dtype)
        if w.shape[1] != self.d_in:
            raise ValueError(f"w must have shape (l, d_in={self.d_in}), got {w.shape}")
        w_plus = np.zeros((w.shape[0], self.width_plus), dtype=self.dtype)
        w_plus[:, : self.d_in] = w
        if b is not None:
            w_plus[:, self.d_in] = self._per_neuron(b, "b", w.shape[0])
        if c is not None:
            c_values = self._per_neuron(c, "c", w.shape[0])
            if not self.norm_term and np.any(c_values != 0):
                raise ValueError("c must be None or 0 for a layer built with norm_term=False (x₊ has no ‖x‖ entry)")
            if self.norm_term:
                w_plus[:, self.d_in + 1] = c_values
        return w_plus

    def features(self, x: np.ndarray, *, coefficients: Any = None) -> np.ndarray:
        r"""The input-side features :math:`F(x) = [1, H_1, \dots, H_k]`, shape (n, n_features).

        No cache is kept (this is not a training forward pass).

        Parameters
        ----------
        x : ndarray of shape (n, d_in)
        coefficients : sequence of float, optional
            If given, return the *balanced* input side instead: block :math:`i` times
            :math:`\sqrt{|a_i|/m}`, the constant times :math:`\sqrt{|a_0|}` (see
            :func:`balanced_scales`); pair it with ``weight_features(..., balanced=True)``.
        """
        self._check_input(x)
        F = hadamard_features(self.augment(x), self.G, self.m, self.order)
        if coefficients is not None:
            F *= self._per_feature(balanced_scales(_check_coefficients(coefficients, self.order), self.m)[0])
        return F

    def weight_features(
        self, w: np.ndarray, b: np.ndarray | None, coefficients: Any, c: Any = None, *, balanced: bool = False
    ) -> np.ndarray:
        r"""Data-free weight side :math:`g(w_+)` of Theorem 3.1, one row per neuron.

        With :math:`w_+ = [w, b, c]` and :math:`\sigma(s) = \sum_i a_i s^i`:

        .. math:: g_0 = a_0, \qquad g_i = \frac{a_i}{m} \bigodot_{j=1}^{i} (w_+ G_{ij}),

        so that ``features(x) @ weight_features(w, b, a, c).T`` is an unbiased estimate of
        :math:`\sigma(x w^\top + b + c\|x\|)`, for any real :math:`a_i` (Theorem 3.1: the
        factors are independent with :math:`E[g g^\top] = I`, so
        :math:`E\prod_j (g_j^\top w_+)(g_j^\top x_+) = (w_+^\top x_+)^i`). Setting
        ``layer.params["A"][...] = weight_features(W.T, b, a).T`` turns the layer into the
        unbiased random-feature approximation of the dense layer :math:`\sigma(xW + b)`.

        Parameters
        ----------
        w : ndarray of shape (l, d_in)
            One neuron per row (a :class:`~rpnumpy.layers.Dense` stores ``W.T`` of this).
            Must have the layer's dtype.
        b : ndarray of shape (l,) or None
            Biases (None: 0).
        coefficients : sequence of float
            :math:`a_0..a_{k'}` with :math:`k' \le` ``order`` (padded with zeros).
        c : float or ndarray of shape (l,), optional
            Coefficients of :math:`\|x\|` (None: 0). Needs ``norm_term=True`` unless 0.
        balanced : bool, default=False
            Return the balanced weight side (:func:`balanced_scales`), to be paired with
            ``features(x, coefficients=a)``; the product is the same estimate.

        Returns
        -------
        ndarray of shape (l, n_features), in the layer's dtype.
        """
        a = _check_coefficients(coefficients, self.order)
        g = hadamard_features(self.augment_weights(w, b, c), self.G, self.m, self.order)
        if balanced:
            scale = balanced_scales(a, self.m)[1]
        else:
            scale = a / self.m
            scale[0] = a[0]
        g *= self._per_feature(scale)
        return g

    def _per_feature(self, per_order: np.ndarray) -> np.ndarray:
        """Expand one value per order (0..k) to one per feature column, in the layer's dtype."""
        return np.concatenate([per_order[:1], np.repeat(per_order[1:], self.m)]).astype(self.dtype)

    def _per_neuron(self, value: Any, name: str, n_neurons: int) -> np.ndarray:
        array = np.full(n_neurons, value) if np.ndim(value) == 0 else np.asarray(value)
        if array.shape != (n_neurons,):
            raise ValueError(f"{name} must be a scalar or have shape ({n_neurons},), got shape {array.shape}")
        if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must hold finite numbers, got {value!r}")
        return array

    def predicted_variance(
        self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, coefficients: Any, c: Any = None
    ) -> np.ndarray:
        r"""Variance over the draw of :math:`G` of ``features(x) @ weight_features(w, b, a, c).T``.

        :func:`estimator_variance` at :math:`u = w_+`, :math:`v = x_+` with this layer's ``m``
        and ``draws`` (exact for i.i.d. Gaussian and Rademacher rows; for orthogonal rows
        the i.i.d. value, which they improve on). Shape (n, l), float64.
        """
        self._check_input(x)
        a = _check_coefficients(coefficients, self.order)
        u = self.augment_weights(w, b, c).astype(np.float64)
        return estimator_variance(u, self.augment(x).astype(np.float64), a, self.m, draws=self.draws)

    def inference_function(self) -> Callable[[np.ndarray], np.ndarray]:
        """Inference with no cache by :func:`rpnumpy.fast.eugen_inference`; equal to ``forward`` up to rounding."""
        from ..fast.eugen import eugen_inference

        return eugen_inference(self)

    # -- the layer contract ---------------------------------------------------
    def _forward(self, x):
        x_plus = self.augment(x)  # X₊ = [X, 1, ‖x‖]
        projections = x_plus @ self.G  # every Q_ij = X₊ G_ij at once: the blocks G_ij sit side by side
        F = _features_from_projections(projections, self.m, self.order)  # [1, H_1, ..., H_k]
        y = F @ self.params["A"]
        if self.bias:
            y += self.params["b"]
        return y, (x, x_plus, projections, F)

    def _param_backward(self, dy, cache):
        """Fill the gradients of A, b (and G when it is trained); return ∂L/∂Q when it was needed for G."""
        x, x_plus, projections, F = cache
        np.matmul(F.T, dy, out=self.grads["A"])  # ∂L/∂A = Fᵀ δ
        if self.bias:
            np.sum(dy, axis=0, out=self.grads["b"])  # ∂L/∂b = Σ_n δ
        if not self.train_G:
            return None
        dP = self._projection_grads(dy, projections)
        np.matmul(x_plus.T, dP, out=self.grads["G"])  # ∂L/∂G_ij = X₊ᵀ ∂L/∂Q_ij, all blocks at once
        return dP

    def _projection_grads(self, dy, projections):
        """∂L/∂Q_ij for every block: ∂L/∂H_i times the product of the other factors of H_i."""
        dF = dy @ self.params["A"].T  # ∂L/∂F = δ Aᵀ
        dP = np.empty_like(projections)
        for i in range(1, self.order + 1):
            dH = dF[:, 1 + (i - 1) * self.m: 1 + i * self.m]
            factors = projections[:, _order_slice(i, self.m)].reshape(-1, i, self.m)
            dP[:, _order_slice(i, self.m)] = _product_rule(dH, factors).reshape(-1, i * self.m)
        return dP

    def _backward(self, dy, cache):
        x, x_plus, projections, F = cache
        dP = self._param_backward(dy, cache)
        if dP is None:
            dP = self._projection_grads(dy, projections)
        dx_plus = dP @ self.G.T  # ∂L/∂X₊ = Σ_ij ∂L/∂Q_ij G_ijᵀ
        dx = dx_plus[:, : self.d_in].copy()
        if self.norm_term:
            norms = x_plus[:, self.d_in + 1: self.d_in + 2]
            # d‖x‖/dx = x/‖x‖ where x ≠ 0; the subgradient 0 at x = 0 (see the class docstring).
            unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
            dx += dx_plus[:, self.d_in + 1: self.d_in + 2] * unit
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"d_in": self.d_in, "d_out": self.d_out, "m": self.m, "order": self.order,
                "norm_term": self.norm_term, "draws": self.draws, "train_G": self.train_G, "bias": self.bias,
                "rng": self.seed, **super().get_config()}


def _product_rule(dH: np.ndarray, factors: np.ndarray) -> np.ndarray:
    r"""Gradients of :math:`H = \prod_j Q_j` w.r.t. each factor, without dividing by any :math:`Q_j`.

    ``factors`` has shape (n, i, m); returns :math:`\partial L/\partial H \odot \prod_{l<j} Q_l \odot \prod_{l>j} Q_l`
    for every j, shape (n, i, m), from an exclusive prefix and an exclusive suffix product.
    """
    i = factors.shape[1]
    grads = np.empty_like(factors)
    grads[:, 0] = dH
    for j in range(1, i):  # grads[:, j] = dH * Q_0 * ... * Q_{j-1}   (prefix)
        np.multiply(grads[:, j - 1], factors[:, j - 1], out=grads[:, j])
    suffix = np.ones_like(dH)
    for j in range(i - 2, -1, -1):  # times Q_{j+1} * ... * Q_{i-1}     (suffix)
        suffix *= factors[:, j + 1]
        grads[:, j] *= suffix
    return grads
