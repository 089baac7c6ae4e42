r"""Johnson–Lindenstrauss: how far the library's random matrices preserve distances.

The lemma
---------
Let :math:`0 < \varepsilon < 1` and let :math:`x_1, \dots, x_n` be any
:math:`n` points of :math:`\mathbb{R}^d`. If

.. math::

    k \;\ge\; \frac{4 \ln n}{\varepsilon^2/2 - \varepsilon^3/3},

then a suitably scaled random projection :math:`f(x) = xR`,
:math:`R \in \mathbb{R}^{d \times k}`, satisfies

.. math::

    (1 - \varepsilon)\,\|x_i - x_j\|^2 \;<\; \|f(x_i) - f(x_j)\|^2 \;<\; (1 + \varepsilon)\,\|x_i - x_j\|^2
    \qquad \text{for every pair } i < j

with positive probability, so such a map exists (Johnson & Lindenstrauss,
1984; this constant is Dasgupta & Gupta's, 2003). The bound on :math:`k`
depends on :math:`n` and :math:`\varepsilon` only, **not on the original
dimension** :math:`d`.

The proof bounds each tail of one pair's ratio
:math:`\|f(u)-f(v)\|^2/\|u-v\|^2` by
:math:`\exp(-k(\varepsilon^2/2 - \varepsilon^3/3)/2) \le 1/n^2` and takes a
union bound over the :math:`n(n-1)/2` pairs: every pair is within
:math:`(1 \pm \varepsilon)` with probability at least :math:`1/n`, which is all
the bound *guarantees*. Both steps are loose: for a Gaussian matrix a pair's
ratio is exactly :math:`\chi^2_k/k`, which for :math:`n = 100`,
:math:`\varepsilon = 0.2` and the bound's :math:`k = 1063` leaves the band with
probability :math:`7.2 \times 10^{-6}`, 28 times below the :math:`2/n^2` the
proof allows. A projection to the bound's :math:`k` keeps
every pair within :math:`(1 \pm \varepsilon)` in most trials (for
:math:`n = 100`, :math:`\varepsilon = 0.2`: about 94 % of seeds for the
Gaussian, more for the binary and orthogonal kinds), while a far smaller
:math:`k` already keeps most pairs there (see :func:`fraction_within`).

The families
------------
The library's matrices (:mod:`rpnumpy.random_matrices`) are scaled for layers,
:math:`\operatorname{Var} R_{ij} = 1/d_{in}` ("fan_in"), so that
:math:`E\|xR\|^2 = (k/d)\,\|x\|^2`. A JL projection must instead preserve
squared norms in expectation, :math:`E\|xR\|^2 = \|x\|^2`, which needs the
factor :math:`\sqrt{d/k}` (derived for each kind in :func:`jl_scale`, applied by
:func:`jl_projection_matrix`):

* ``gaussian``: :math:`N(0, 1/k)` entries, so
  :math:`E\|xR\|^2 = \sum_{j=1}^k E(x \cdot r_j)^2 = k \cdot \|x\|^2/k`.
* ``rademacher`` (binary): :math:`\pm 1/\sqrt{k}`, the same second moments.
* ``sparse_ternary``: :math:`\pm\sqrt{3/k}` with probability 1/6 each, else 0
  (Achlioptas, 2003): the same second moments, and the same fourth moments.
* ``ternary_equal``: :math:`-a, 0, +a` with probability 1/3 each, :math:`a = \sqrt{3/(2k)}`:
  the same second moments, smaller even moments of every higher order
  (:func:`~rpnumpy.random_matrices.equal_ternary_matrix`).
* ``gaussian_orthogonal``: columns marginally exactly :math:`N(0, I/k)`,
  orthogonal to each other.
* ``orthogonal``: for :math:`d \ge k`, :math:`\sqrt{d/k}\,Q` with
  :math:`Q^\top Q = I`, a projection onto a uniformly random
  :math:`k`-dimensional subspace, rescaled; for :math:`d < k`, :math:`Q` with
  :math:`QQ^\top = I`, an isometry.
* ``srht``: the subsampled randomized Hadamard transform (Ailon & Chazelle
  2009; Tropp 2011), entries :math:`\pm 1/\sqrt{k}` after scaling by
  :math:`\sqrt{d/k}`; :math:`\mathbb E\|xS\|^2 = \|x\|^2` over the coordinate
  sampling, for any :math:`x` (:mod:`rpnumpy.hadamard`).

Dasgupta & Gupta's proof is for the random-subspace projection (the
``orthogonal`` kind) and covers i.i.d. Gaussian entries with the same tail
bounds; Achlioptas (2003) proves that the ±1 and sparse ternary matrices have
tails no heavier than the Gaussian's, so the same :math:`k` applies to them. His
argument needs only symmetric i.i.d. entries whose even moments are at most the
Gaussian's, which the equal-probability ternary entries also have.
The ``gaussian_orthogonal`` kind is not covered by these proofs; this module
checks it empirically like the others. ``mexican_hat`` is not a JL family at
all (see :func:`jl_scale`).

References
----------
* W. B. Johnson and J. Lindenstrauss, "Extensions of Lipschitz mappings into a
  Hilbert space", Contemporary Mathematics 26 (1984), 189–206.
* S. Dasgupta and A. Gupta, "An elementary proof of a theorem of Johnson and
  Lindenstrauss", Random Structures & Algorithms 22(1) (2003), 60–65: the bound
  :math:`k \ge 4 \ln n / (\varepsilon^2/2 - \varepsilon^3/3)` and the tail bounds above.
* D. Achlioptas, "Database-friendly random projections: Johnson–Lindenstrauss
  with binary coins", Journal of Computer and System Sciences 66(4) (2003), 671–687.
* N. Ailon and B. Chazelle, "The fast Johnson–Lindenstrauss transform and
  approximate nearest neighbors", SIAM Journal on Computing 39(1) (2009), 302–322.
* J. A. Tropp, "Improved analysis of the subsampled randomized Hadamard
  transform", Advances in Adaptive Data Analysis 3(1–2) (2011), 115–126.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._deprecation import moved_names
from ._validation import (
    as_real_array,
    check_open_unit,
    check_points,
    check_positive_int,
    check_positive_ints,
    check_probability,
    check_seed,
    check_seeds,
    describe_bad,
)
from .random_matrices import random_matrix

__all__ = [
    "JL_KINDS", "johnson_lindenstrauss_min_dim", "jl_scale", "jl_projection_matrix", "pairwise_sq_distances",
    "distortion_ratios", "distortion_report", "fraction_within", "smallest_k_reaching",
]

#: The plots moved to :mod:`rpnumpy.plotting`; reading one of these names here warns and forwards.
_MOVED_PLOTS = ("plot_min_dim", "plot_distance_scatter", "plot_ratio_hist", "plot_fraction_within")
__getattr__ = moved_names(__name__, {name: f"rpnumpy.plotting:{name}" for name in _MOVED_PLOTS})

#: The families of :data:`rpnumpy.random_matrices.MATRIX_KINDS` that are JL projections once scaled.
JL_KINDS = ("gaussian", "rademacher", "sparse_ternary", "ternary_equal", "orthogonal", "gaussian_orthogonal", "srht")

#: Kinds whose constructors take ``variance=``; the JL scaling is then ``variance='fan_out'``.
_VARIANCE_KINDS = frozenset({"gaussian", "rademacher", "sparse_ternary", "ternary_equal", "gaussian_orthogonal"})

_NOT_JL = {"mexican_hat": (
    "'mexican_hat' is not a Johnson-Lindenstrauss family: its columns are localised centre-surround "
    "filters on an image grid, not isotropic random directions, so E[R R^T] is not a multiple of the "
    "identity and E||xR||^2 depends on x (pixels near the border and high spatial frequencies are "
    "suppressed); no scale factor makes it norm-preserving. Use one of "
)}


def johnson_lindenstrauss_min_dim(n_samples: ArrayLike, eps: ArrayLike = 0.1) -> int | np.ndarray:
    r"""Smallest target dimension the Johnson–Lindenstrauss bound allows.

    .. math::

        k = \left\lceil \frac{4 \ln n}{\varepsilon^2/2 - \varepsilon^3/3} \right\rceil .

    With :math:`k` at least this, a random projection scaled as in
    :func:`jl_projection_matrix` keeps every one of the :math:`n(n-1)/2`
    pairwise squared distances of any :math:`n` points within a factor
    :math:`(1 \pm \varepsilon)` with probability at least :math:`1/n`
    (Dasgupta & Gupta, 2003; see the module docstring), so an
    :math:`\varepsilon`-distortion embedding into :math:`\mathbb{R}^k` exists.
    The value does not depend on the original dimension :math:`d`: when it is
    :math:`\ge d` the bound says nothing useful for that data.

    This is the *smallest integer satisfying* the inequality (the ceiling).
    scikit-learn's function of the same name truncates instead, so its value
    is one less whenever the bound is not an integer.

    Parameters
    ----------
    n_samples : int or array_like of int
        Number of points :math:`n \ge 1` (integer-valued floats such as
        ``1e6`` are accepted). :math:`n = 1` gives 0: there is no pair.
    eps : float or array_like of float, default=0.1
        Maximum distortion :math:`\varepsilon`, in the open interval (0, 1).
        Broadcast against ``n_samples``.

    Returns
    -------
    int or ndarray of int64
        A Python ``int`` when both arguments are scalars (exact, however large:
        ``n_samples=100, eps=1e-5`` gives 368,416,070,987), otherwise an int64
        array of the broadcast shape.

    Raises
    ------
    TypeError
        If an argument is not real-valued (booleans are refused).
    ValueError
        If some ``eps`` is outside (0, 1) or some ``n_samples`` is not an integer >= 1.
    OverflowError
        If an array result does not fit in int64 (only for ``eps`` below about 1e-9).

    Examples
    --------
    >>> johnson_lindenstrauss_min_dim(100, eps=0.2)
    1063
    >>> johnson_lindenstrauss_min_dim([100, 10_000], eps=0.5).tolist()
    [222, 443]
    """
    n = as_real_array(n_samples, "n_samples")
    e = as_real_array(eps, "eps")
    e_float = e.astype(np.float64)
    bad_eps = ~np.isfinite(e_float) | (e_float <= 0) | (e_float >= 1)
    if np.any(bad_eps):
        raise ValueError(f"eps must lie in the open interval (0, 1), got {describe_bad(e, bad_eps, eps)}")
    n_float = n.astype(np.float64)
    if np.issubdtype(n.dtype, np.floating):
        bad_n = ~np.isfinite(n_float) | (n_float < 1) | (n_float != np.floor(n_float))
    else:
        bad_n = n < 1
    if np.any(bad_n):
        raise ValueError(f"n_samples must be integers >= 1, got {describe_bad(n, bad_n, n_samples)}")
    # eps^2 (1/2 - eps/3) is the same denominator without forming the two nearly equal powers separately.
    bound = 4.0 * np.log(n_float) / (e_float * e_float * (0.5 - e_float / 3.0))
    k = np.ceil(bound)
    if n.ndim == 0 and e.ndim == 0:
        return int(k)  # float -> Python int is exact and cannot overflow
    too_big = k > np.iinfo(np.int64).max
    if np.any(too_big):
        raise OverflowError(
            f"the bound exceeds the int64 range at {int(np.count_nonzero(too_big))} of {k.size} positions "
            f"(eps too small); call the function with scalars to get an exact Python int"
        )
    return k.astype(np.int64)


def _check_kind(kind: Any) -> str:
    if isinstance(kind, str) and kind in _NOT_JL:
        raise ValueError(f"{_NOT_JL[kind]}{list(JL_KINDS)}")
    if not isinstance(kind, str) or kind not in JL_KINDS:
        raise ValueError(f"kind must be one of {list(JL_KINDS)}, got {kind!r}")
    return kind


def jl_scale(kind: str, d_in: int, k: int) -> float:
    r"""Factor that makes the library's default matrix a norm-preserving projection.

    ``jl_scale(kind, d_in, k) * random_matrix(kind, (d_in, k), seed)`` (the
    library defaults: ``variance='fan_in'`` or ``scale=1``) satisfies
    :math:`E_R\|xR\|^2 = \|x\|^2` for every fixed :math:`x`, the expectation
    being over the seed.

    * ``gaussian``, ``rademacher``, ``sparse_ternary``, ``ternary_equal``, ``gaussian_orthogonal``:
      the entries (the columns, for ``gaussian_orthogonal``, which are
      marginally :math:`N(0, I/d_{in})`) have variance :math:`1/d_{in}`, so
      :math:`E\|xR\|^2 = \sum_{j=1}^k E(x \cdot r_j)^2 = (k/d_{in})\|x\|^2`
      and the factor is :math:`\sqrt{d_{in}/k}`: variance :math:`1/k`, the
      ``variance='fan_out'`` convention.
    * ``orthogonal`` with :math:`d_{in} \ge k`: the columns are orthonormal and
      Haar-distributed, so :math:`\|xQ\|^2` is the squared norm of the
      orthogonal projection of :math:`x` onto a uniformly random
      :math:`k`-dimensional subspace, whose mean is :math:`(k/d_{in})\|x\|^2`
      (by symmetry each of the :math:`d_{in}` directions of an orthonormal
      basis completing it carries the same share). The factor is again
      :math:`\sqrt{d_{in}/k}`, the column norm passed as ``scale``.
    * ``orthogonal`` with :math:`d_{in} < k`: the rows are orthonormal, the map
      is an isometry (:math:`\|xQ\| = \|x\|` exactly) and the factor is 1.

    Parameters
    ----------
    kind : str
        One of :data:`JL_KINDS`.
    d_in : int
        Original dimension :math:`d`.
    k : int
        Target dimension.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For ``'mexican_hat'``: its columns are localised image filters, not
        isotropic random directions, so :math:`E[RR^\top]` is not a multiple
        of the identity and no factor makes :math:`E\|xR\|^2 = \|x\|^2` for
        every :math:`x`. Also for unknown kinds and non-positive sizes.
    """
    kind = _check_kind(kind)
    d_in = check_positive_int(d_in, "d_in")
    k = check_positive_int(k, "k")
    if kind == "orthogonal" and d_in < k:
        return 1.0
    return math.sqrt(d_in / k)


def jl_projection_matrix(kind: str, d_in: int, k: int, seed: int, *, dtype: Any = np.float64) -> np.ndarray:
    r"""The ``(d_in, k)`` matrix of a family, scaled so that :math:`E\|xR\|^2 = \|x\|^2`.

    Built by :func:`rpnumpy.random_matrices.random_matrix` with
    ``variance='fan_out'`` (variance :math:`1/k`) for the Gaussian, binary,
    sparse ternary and Gaussian-orthogonal kinds and with
    ``scale=jl_scale('orthogonal', d_in, k)`` for the orthogonal kind, so it is
    the same seeded matrix a layer would use, times :func:`jl_scale`. Apply it
    as ``x @ R``.

    Parameters
    ----------
    kind : str
        One of :data:`JL_KINDS` (``'mexican_hat'`` raises, see :func:`jl_scale`).
    d_in, k : int
        Original and target dimension.
    seed : int
    dtype : float32 or float64, default=float64

    Returns
    -------
    ndarray of shape (d_in, k)

    Notes
    -----
    Cost: ``'orthogonal'`` needs a QR factorisation of a ``d_in x k`` matrix,
    :math:`O(d_{in} k^2)`; ``'gaussian_orthogonal'`` draws whole
    ``d_in x d_in`` orthogonal blocks, :math:`O(d_{in}^3)` time and
    :math:`8 d_{in}^2` bytes even when :math:`k \ll d_{in}`, which makes it
    impractical for :math:`d_{in}` in the tens of thousands.
    """
    kind = _check_kind(kind)
    scale = jl_scale(kind, d_in, k)
    seed = check_seed(seed)
    if kind in _VARIANCE_KINDS:
        return random_matrix(kind, (d_in, k), seed, variance="fan_out", dtype=dtype)
    return random_matrix(kind, (d_in, k), seed, scale=scale, dtype=dtype)


def pairwise_sq_distances(x: np.ndarray, *, method: str = "gram") -> np.ndarray:
    r"""All pairwise squared Euclidean distances, as a condensed vector.

    Entry order is that of :func:`scipy.spatial.distance.pdist`: pairs
    :math:`(0,1), (0,2), \dots, (0,n-1), (1,2), \dots`, i.e. the strict upper
    triangle row by row, :math:`n(n-1)/2` values.

    Parameters
    ----------
    x : ndarray of shape (n_samples, n_features), float32 or float64
        One point per row. Computed in float64 whatever the input dtype.
    method : {'gram', 'exact'}, default='gram'
        ``'gram'`` uses :math:`\|x_i - x_j\|^2 = G_{ii} + G_{jj} - 2G_{ij}`
        with :math:`G = \tilde x \tilde x^\top` of the centred points
        :math:`\tilde x = x - \bar x` (centring changes no distance and
        reduces cancellation), one BLAS matrix product. Rounding can make a
        tiny distance slightly negative, so results are clipped at 0, and
        pairs of identical rows are set to exactly 0. The absolute error is
        about machine epsilon times the largest :math:`\|\tilde x_i\|^2`, so
        distances far smaller than the spread of the data lose relative
        accuracy. ``'exact'`` calls :func:`scipy.spatial.distance.pdist`
        (``'sqeuclidean'``): differences first, no cancellation, slower for
        many features. Both need :math:`O(n^2)` memory.

    Returns
    -------
    ndarray of float64, shape (n_samples * (n_samples - 1) // 2,)
    """
    x = check_points(x, "x")
    n = x.shape[0]
    x64 = x.astype(np.float64, copy=False)
    if method == "exact":
        from scipy.spatial.distance import pdist

        return pdist(x64, "sqeuclidean")
    if method != "gram":
        raise ValueError(f"method must be 'gram' or 'exact', got {method!r}")
    centred = x64 - x64.mean(axis=0)
    gram = centred @ centred.T
    sq_norms = np.diag(gram).copy()
    rows, cols = np.triu_indices(n, k=1)
    distances = sq_norms[rows] + sq_norms[cols] - 2.0 * gram[rows, cols]
    np.maximum(distances, 0.0, out=distances)
    # Identical rows: G_ii + G_jj - 2 G_ij need not round to exactly 0 (BLAS may sum the three
    # products in different orders), and a pair with zero distance must be recognisable as such.
    _, inverse = np.unique(x64, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if np.unique(inverse).size < n:
        distances[inverse[rows] == inverse[cols]] = 0.0
    return distances


def _ratios(original: np.ndarray, projected_points: np.ndarray, method: str) -> np.ndarray:
    """Projected / original squared distance over the pairs with original distance > 0."""
    nonzero = original > 0
    return pairwise_sq_distances(projected_points, method=method)[nonzero] / original[nonzero]


def distortion_ratios(x: np.ndarray, projected: np.ndarray, *, method: str = "gram") -> np.ndarray:
    r"""Ratios :math:`\|f(x_i) - f(x_j)\|^2 / \|x_i - x_j\|^2` over all pairs with :math:`x_i \ne x_j`.

    A ratio of 1 means the pair's distance is preserved exactly; the
    Johnson–Lindenstrauss property at distortion :math:`\varepsilon` is
    :math:`|r - 1| < \varepsilon` for every ratio. Pairs at zero original
    distance (duplicate points) are left out, as in scikit-learn's tests.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
        Original points.
    projected : ndarray of shape (n_samples, k)
        The same points after the map, row for row (e.g. ``x @ R``).
    method : {'gram', 'exact'}, default='gram'
        See :func:`pairwise_sq_distances`.

    Returns
    -------
    ndarray of float64
        One ratio per pair with non-zero original distance, in
        :func:`pairwise_sq_distances` order.
    """
    x = check_points(x, "x")
    projected = check_points(projected, "projected")
    if projected.shape[0] != x.shape[0]:
        raise ValueError(f"projected must have one row per row of x ({x.shape[0]}), got shape {projected.shape}")
    return _ratios(pairwise_sq_distances(x, method=method), projected, method)


def _check_kinds(kinds: Iterable[str]) -> list[str]:
    if isinstance(kinds, str):
        raise TypeError(f"kinds must be a sequence of kind names, got the string {kinds!r}; write [{kinds!r}]")
    kinds = [_check_kind(kind) for kind in kinds]
    if not kinds:
        raise ValueError("kinds must name at least one kind, got an empty sequence")
    return kinds


def _within_stats(ratios: np.ndarray, eps: float) -> tuple[float, float, bool]:
    deviation = np.abs(ratios - 1.0)
    within = deviation < eps
    return float(within.mean()), float(deviation.max()), bool(within.all())


def distortion_report(
    x: np.ndarray,
    k: int | str,
    eps: float,
    *,
    kinds: Sequence[str] = JL_KINDS,
    seeds: Iterable[int] = range(10),
    method: str = "gram",
) -> list[dict[str, Any]]:
    r"""How well each family, projected to ``k`` dimensions, keeps the pairwise distances of ``x``.

    For every kind and every seed, :math:`R` = :func:`jl_projection_matrix`
    ``(kind, d, k, seed)`` and the ratios :math:`r` of :func:`distortion_ratios`
    of ``x`` and ``x @ R`` are summarised: the fraction of pairs with
    :math:`|r - 1| < \varepsilon`, the worst :math:`|r - 1|`, and whether every
    pair is within :math:`(1 \pm \varepsilon)` (the JL event). The original
    distances are computed once.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d), float32 or float64
    k : int or 'auto'
        Target dimension; ``'auto'`` takes
        :func:`johnson_lindenstrauss_min_dim` ``(n_samples, eps)``.
    eps : float in (0, 1)
    kinds : sequence of str, default=JL_KINDS
    seeds : iterable of int, default=range(10)
        One trial per seed, the same seeds for every kind.
    method : {'gram', 'exact'}, default='gram'
        See :func:`pairwise_sq_distances`.

    Returns
    -------
    list of dict
        One row per kind, ready for a table (e.g. ``pandas.DataFrame(rows)``),
        with scalar entries

        ``kind``, ``k``, ``eps``, ``n_pairs`` (pairs with non-zero distance),
        ``n_trials``, ``trials_all_within`` (fraction of trials in which every
        pair is within :math:`1 \pm \varepsilon`), ``fraction_within`` (mean
        over trials of the fraction of pairs within), ``min_fraction_within``,
        ``max_abs_deviation`` (worst :math:`|r - 1|` over all trials),
        ``median_max_abs_deviation`` (median over trials of each trial's worst)

        and per-trial arrays (in ``seeds`` order) ``seeds``,
        ``fraction_within_by_seed``, ``max_abs_deviation_by_seed``,
        ``all_within_by_seed``.
    """
    x = check_points(x, "x")
    eps = check_open_unit(eps, "eps")
    kinds = _check_kinds(kinds)
    seeds = check_seeds(seeds)
    n, d = x.shape
    if n < 2:
        raise ValueError(f"x must hold at least 2 points to have a pair, got shape {x.shape}")
    if isinstance(k, str):
        if k != "auto":
            raise ValueError(f"k must be a positive int or 'auto', got {k!r}")
        k = johnson_lindenstrauss_min_dim(n, eps)
    k = check_positive_int(k, "k")
    x64 = x.astype(np.float64, copy=False)
    original = pairwise_sq_distances(x64, method=method)
    n_pairs = int(np.count_nonzero(original > 0))
    if n_pairs == 0:
        raise ValueError("x has no pair of distinct points: every ratio would be 0/0")
    rows = []
    for kind in kinds:
        trials = [_within_stats(_ratios(original, x64 @ jl_projection_matrix(kind, d, k, seed), method), eps)
                  for seed in seeds]
        fractions, deviations, all_within = (np.array(column) for column in zip(*trials))
        rows.append(
            {
                "kind": kind,
                "k": k,
                "eps": eps,
                "n_pairs": n_pairs,
                "n_trials": len(seeds),
                "trials_all_within": float(all_within.mean()),
                "fraction_within": float(fractions.mean()),
                "min_fraction_within": float(fractions.min()),
                "max_abs_deviation": float(deviations.max()),
                "median_max_abs_deviation": float(np.median(deviations)),
                "seeds": np.array(seeds, dtype=np.int64),
                "fraction_within_by_seed": fractions,
                "max_abs_deviation_by_seed": deviations,
                "all_within_by_seed": all_within,
            }
        )
    return rows


def fraction_within(
    x: np.ndarray,
    ks: Sequence[int],
    eps: float,
    kind: str = "gaussian",
    seeds: Iterable[int] = range(5),
    *,
    method: str = "gram",
) -> np.ndarray:
    r"""Fraction of pairs kept within :math:`(1 \pm \varepsilon)` as a function of the target dimension.

    For a single pair and a Gaussian projection the ratio is
    :math:`\chi^2_k/k`, with standard deviation :math:`\sqrt{2/k}`, so the
    fraction of pairs within :math:`(1 \pm \varepsilon)` is roughly
    :math:`P(|\chi^2_k/k - 1| < \varepsilon)`, which depends on :math:`k` only,
    not on :math:`n`; it reaches 95 % near :math:`k \approx 2(1.96/\varepsilon)^2`
    (192 for :math:`\varepsilon = 0.2`), whatever the number of points. Only
    the demand that *every* pair be within, which the JL bound addresses,
    brings in :math:`\ln n`.

    Parameters
    ----------
    x : ndarray of shape (n_samples, d)
    ks : sequence of int
        Target dimensions to try.
    eps : float in (0, 1)
    kind : str, default='gaussian'
        One of :data:`JL_KINDS`.
    seeds : iterable of int, default=range(5)
    method : {'gram', 'exact'}, default='gram'

    Returns
    -------
    ndarray of float64, shape (len(ks), len(seeds))
        ``out[i, s]``: the fraction of pairs (with non-zero original distance)
        within :math:`(1 \pm \varepsilon)` for ``ks[i]`` and the ``s``-th seed.
    """
    x = check_points(x, "x")
    ks_arr = check_positive_ints(ks, "ks")
    eps = check_open_unit(eps, "eps")
    kind = _check_kind(kind)
    seeds = check_seeds(seeds)
    x64 = x.astype(np.float64, copy=False)
    original = pairwise_sq_distances(x64, method=method)
    if not np.any(original > 0):
        raise ValueError("x has no pair of distinct points: every ratio would be 0/0")
    out = np.empty((ks_arr.size, len(seeds)))
    for i, k in enumerate(ks_arr.tolist()):
        for s, seed in enumerate(seeds):
            ratios = _ratios(original, x64 @ jl_projection_matrix(kind, x.shape[1], k, seed), method)
            out[i, s] = _within_stats(ratios, eps)[0]
    return out


def smallest_k_reaching(ks: Sequence[int], fractions: ArrayLike, target: float = 0.95) -> int | None:
    """Smallest ``k`` of the grid from which on the fraction stays at or above ``target``.

    Parameters
    ----------
    ks : sequence of int
        Increasing target dimensions.
    fractions : array_like, shape (len(ks),) or (len(ks), n_seeds)
        As returned by :func:`fraction_within`. With several seeds the
        *smallest* fraction over the seeds is used: every seed must reach the
        target.
    target : float in (0, 1], default=0.95

    Returns
    -------
    int or None
        The smallest ``ks[i]`` such that the fraction is >= ``target`` at
        ``ks[i]`` and at every larger ``k`` of the grid; ``None`` if the last
        one already falls short.
    """
    ks_arr = check_positive_ints(ks, "ks")
    if np.any(np.diff(ks_arr) <= 0):
        raise ValueError(f"ks must be strictly increasing, got {ks_arr.tolist()}")
    target = check_probability(target, "target", allow_zero=False, allow_one=True)
    values = np.asarray(fractions, dtype=np.float64)
    if values.ndim not in (1, 2) or values.shape[0] != ks_arr.size:
        raise ValueError(f"fractions must have shape ({ks_arr.size},) or ({ks_arr.size}, n_seeds), got {values.shape}")
    worst = values if values.ndim == 1 else values.min(axis=1)
    reached = worst >= target
    if not reached[-1]:
        return None
    first = ks_arr.size - int(np.argmin(reached[::-1])) if not reached.all() else 0
    return int(ks_arr[first])
