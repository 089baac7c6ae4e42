r"""Fixed random matrices used by the random-projection layers.

Every function here is a *pure* function of ``(shape, seed)`` plus its own
keyword arguments: the same seed always gives a bit-identical matrix, on any
machine with the same NumPy, because the draws come from a fresh PCG64
generator seeded with that int. That is what lets a model store a seed (eight
bytes) instead of a matrix (megabytes), and :func:`random_matrix` dispatches on
the kind's name so a layer's configuration can rebuild its buffer from
``(kind, shape, seed)`` alone.

The orthogonal kinds also factorise their draws (a QR decomposition), whose
rounding in a multi-threaded BLAS depends on how the work is split between the
threads. The factorisation therefore always runs on one BLAS thread, so that
the matrix is the same bit for bit whatever the number of threads (tested in
subprocesses with 1 and 2).

Orientation
-----------
A matrix of shape ``(d_in, d_out)`` is applied to row vectors: ``y = x @ R``
with ``x`` of shape ``(n_samples, d_in)``. Output unit ``j`` sees column ``j``.

Variance convention
-------------------
Unless stated otherwise the entries have mean 0 and variance

* ``"fan_in"`` (the default): :math:`\operatorname{Var} R_{ij} = 1/d_{in}`. Each
  output :math:`y_j = \sum_i x_i R_{ij}` then has :math:`E[y_j^2] = \|x\|^2/d_{in}`,
  the mean square of the input: activations keep their scale through the layer
  (LeCun initialisation), and every column has expected squared norm 1. This is
  the scale of the PRP layer's Gaussian scheme, :math:`P_{ij} \sim N(0, 1/d_{in})`.
* ``"fan_out"``: :math:`\operatorname{Var} R_{ij} = 1/d_{out}`, so
  :math:`E\|xR\|^2 = \|x\|^2`: squared distances are preserved in expectation,
  the Johnson–Lindenstrauss scaling of scikit-learn's random projections.
* a positive float: that variance exactly (``1.0`` gives the unit-normal and
  ±1 binary weights of the Half-layer paper).

All matrices are drawn in float64 and then cast if ``dtype=np.float32`` is
asked for, so a float32 matrix is exactly the rounded float64 one with the same
seed (a model trained in float32 and checked in float64 uses the same matrix).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg

from ._blas import one_blas_thread
from ._validation import check_dtype, check_positive_float, check_positive_int, check_seed
from .hadamard import SRHT

__all__ = [
    "MATRIX_KINDS",
    "gaussian_matrix",
    "rademacher_matrix",
    "sparse_ternary_matrix",
    "equal_ternary_matrix",
    "orthogonal_matrix",
    "gaussian_orthogonal_matrix",
    "srht_matrix",
    "random_matrix",
    "mexican_hat_matrix",
    "pack_binary_matrix",
    "unpack_binary_matrix",
]


def _check_shape(shape: Any) -> tuple[int, int]:
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be a pair (d_in, d_out), got {shape!r}")
    return (check_positive_int(shape[0], "shape[0]"), check_positive_int(shape[1], "shape[1]"))


def _resolve_variance(variance: Any, shape: tuple[int, int]) -> float:
    if variance == "fan_in":
        return 1.0 / shape[0]
    if variance == "fan_out":
        return 1.0 / shape[1]
    if isinstance(variance, str):
        raise ValueError(f"variance must be 'fan_in', 'fan_out' or a positive float, got {variance!r}")
    return check_positive_float(variance, "variance")


def _generator(seed: int) -> np.random.Generator:
    return np.random.default_rng(check_seed(seed))


def gaussian_matrix(
    shape: tuple[int, int], seed: int, *, variance: float | str = "fan_in", dtype: Any = np.float64
) -> np.ndarray:
    r"""I.i.d. Gaussian matrix, :math:`R_{ij} \sim N(0, \sigma^2)`.

    Parameters
    ----------
    shape : (int, int)
        ``(d_in, d_out)``.
    seed : int
        Non-negative seed; the matrix is a pure function of ``(shape, seed, variance)``.
    variance : {'fan_in', 'fan_out'} or float, default='fan_in'
        :math:`\sigma^2`: ``1/d_in``, ``1/d_out`` or the given number (see the
        module docstring for why ``1/d_in`` is the default).
    dtype : float32 or float64, default=float64

    Returns
    -------
    ndarray of shape (d_in, d_out)
    """
    shape = _check_shape(shape)
    dtype = check_dtype(dtype)
    std = math.sqrt(_resolve_variance(variance, shape))
    matrix = _generator(seed).standard_normal(shape)
    matrix *= std
    return matrix.astype(dtype, copy=False)


def rademacher_matrix(
    shape: tuple[int, int], seed: int, *, variance: float | str = "fan_in", dtype: Any = np.float64
) -> np.ndarray:
    r"""Random signs, :math:`R_{ij} = \pm\sigma` with probability 1/2 each.

    The variance is :math:`\sigma^2` exactly, as for the Gaussian matrix, so the
    two are interchangeable in a layer. ``variance=1.0`` gives the ±1 *binary*
    weights of the Half-layer paper's scheme B, which can be stored one bit per
    entry (``np.packbits(R > 0)``).

    Parameters
    ----------
    shape, seed, variance, dtype
        As in :func:`gaussian_matrix`.
    """
    shape = _check_shape(shape)
    dtype = check_dtype(dtype)
    std = math.sqrt(_resolve_variance(variance, shape))
    bits = _generator(seed).integers(0, 2, size=shape, dtype=np.int8)
    return np.where(bits == 1, std, -std).astype(dtype, copy=False)


def sparse_ternary_matrix(
    shape: tuple[int, int], seed: int, *, variance: float | str = "fan_in", dtype: Any = np.float64
) -> np.ndarray:
    r"""Achlioptas' sparse ternary matrix.

    .. math::

        R_{ij} = \sqrt{3}\,\sigma \times
        \begin{cases} +1 & \text{with probability } 1/6 \\
                       0 & \text{with probability } 2/3 \\
                      -1 & \text{with probability } 1/6 \end{cases}

    With the default ``variance='fan_in'`` the non-zero value is
    :math:`\pm\sqrt{3/d_{in}}`. The variance is :math:`3\sigma^2 \cdot (1/3) =
    \sigma^2`, the same as the Gaussian matrix, so the projection has the same
    second moments while two thirds of the entries are zero (Achlioptas, 2003:
    "Database-friendly random projections", J. Comput. Syst. Sci. 2003). This is the library's
    default reading of the PRP paper's sparse ternary scheme (our choice); published descriptions
    of the paper give the values :math:`\{-a, 0, +a\}`, :math:`a = \sqrt{3/d_{in}}`, "with equal
    probability", which is :func:`equal_ternary_matrix`.

    Parameters
    ----------
    shape, seed, variance, dtype
        As in :func:`gaussian_matrix`.
    """
    shape = _check_shape(shape)
    dtype = check_dtype(dtype)
    value = math.sqrt(3.0 * _resolve_variance(variance, shape))
    u = _generator(seed).random(shape)
    matrix = np.zeros(shape)
    matrix[u < 1.0 / 6.0] = -value
    matrix[u >= 5.0 / 6.0] = value
    return matrix.astype(dtype, copy=False)


def equal_ternary_matrix(
    shape: tuple[int, int], seed: int, *, variance: float | str = "fan_in", dtype: Any = np.float64
) -> np.ndarray:
    r"""The equal-probability ternary matrix: :math:`R_{ij} \in \{-a, 0, +a\}` with probability 1/3 each.

    .. math::

        R_{ij} = \sqrt{3/2}\,\sigma \times
        \begin{cases} +1 & \text{with probability } 1/3 \\
                       0 & \text{with probability } 1/3 \\
                      -1 & \text{with probability } 1/3 \end{cases}

    **The scale.** :math:`\mathbb E R_{ij}^2 = \tfrac23 a^2`, so :math:`a = \sqrt{3/2}\,\sigma` gives
    the variance :math:`\sigma^2` of every other kind here: with the default ``variance='fan_in'``,
    :math:`a = \sqrt{3/(2d_{in})}` and :math:`\operatorname{Var}R_{ij} = 1/d_{in}`, as for the
    Gaussian and Achlioptas' :func:`sparse_ternary_matrix`, so the schemes are interchangeable in a
    layer. The published descriptions of the PRP paper (Szorc, arXiv:2512.13480) give
    :math:`a = \sqrt{3/d_{in}}` "with equal probability"; taken literally that is
    :math:`\operatorname{Var}R_{ij} = 2/d_{in}`, twice the Gaussian scheme's, which
    ``variance=2/d_in`` reproduces exactly. We keep the variance convention (our choice): the
    literal values would only scale every output by :math:`\sqrt2`, which a PRP layer's trainable
    output scale absorbs, but would break the comparison with the other schemes at equal variance.

    One third of the entries are zero (Achlioptas' scheme: two thirds). The fourth moment is
    :math:`\mathbb E R_{ij}^4 = \tfrac23 a^4 = 1.5\sigma^4` (Achlioptas': :math:`3\sigma^4`, the
    Gaussian's), and every even moment :math:`\tfrac23(3/2)^q\sigma^{2q}` is at most the Gaussian's
    :math:`(2q - 1)!!\,\sigma^{2q}`: for a symmetric distribution that is what Achlioptas' proof
    needs, so the Johnson–Lindenstrauss bound holds for it as for his two matrices.

    Parameters
    ----------
    shape, seed, variance, dtype
        As in :func:`gaussian_matrix`.
    """
    shape = _check_shape(shape)
    dtype = check_dtype(dtype)
    value = math.sqrt(1.5 * _resolve_variance(variance, shape))
    signs = _generator(seed).integers(-1, 2, size=shape, dtype=np.int8)  # -1, 0, +1 with probability 1/3 each
    return (signs * value).astype(dtype, copy=False)


def _haar_orthonormal_columns(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """An ``(n, k)`` matrix with orthonormal columns, Haar-distributed (requires n >= k)."""
    a = rng.standard_normal((n, k))
    with one_blas_thread():  # the same bits whatever the process's thread count (see the module docstring)
        q, r = scipy.linalg.qr(a, mode="economic")
    # QR alone is not Haar: LAPACK's sign convention biases Q. Multiplying
    # column j by sign(R_jj) makes the factorisation unique with a positive
    # diagonal, and then Q is exactly Haar-distributed (Mezzadri, 2007).
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    q *= signs
    return q


def orthogonal_matrix(
    shape: tuple[int, int], seed: int, *, scale: float = 1.0, dtype: Any = np.float64
) -> np.ndarray:
    r"""Haar-random matrix with orthonormal columns or rows.

    For ``d_in >= d_out`` the columns are orthonormal, :math:`R^\top R = I`, so
    :math:`x \mapsto xR` is the orthogonal projection onto a uniformly random
    ``d_out``-dimensional subspace (in its own coordinates). For
    ``d_in < d_out`` orthonormal columns are impossible and the *rows* are
    orthonormal instead, :math:`R R^\top = I`: ``x -> xR`` is then an
    isometric embedding, :math:`\|xR\| = \|x\|`.

    Built by QR of a Gaussian matrix with the sign fix
    :math:`Q \leftarrow Q\,\operatorname{diag}(\operatorname{sign} R_{jj})`,
    without which QR is not Haar-distributed.

    Scaling: every column (or row) has norm ``scale``. Each entry has variance
    :math:`\text{scale}^2/\max(d_{in}, d_{out})`; with the default ``scale=1``
    and ``d_in >= d_out`` that is ``1/d_in``, the same as the Gaussian
    ``fan_in`` convention, so the kinds are interchangeable in a layer.

    Parameters
    ----------
    shape : (int, int)
        ``(d_in, d_out)``.
    seed : int
    scale : float, default=1.0
        Norm of every column (or row).
    dtype : float32 or float64, default=float64
    """
    d_in, d_out = _check_shape(shape)
    dtype = check_dtype(dtype)
    scale = check_positive_float(scale, "scale")
    rng = _generator(seed)
    if d_in >= d_out:
        q = _haar_orthonormal_columns(d_in, d_out, rng)
    else:
        q = _haar_orthonormal_columns(d_out, d_in, rng).T
    if scale != 1.0:
        q *= scale
    return np.ascontiguousarray(q, dtype=dtype)


def gaussian_orthogonal_matrix(
    shape: tuple[int, int], seed: int, *, variance: float | str = "fan_in", dtype: Any = np.float64
) -> np.ndarray:
    r"""Orthogonal random features: Gaussian-like columns, orthogonal within blocks.

    Column ``j`` of the result is a random direction for output unit ``j`` (a
    row of :math:`W` in :math:`Wx`). The columns are drawn in blocks of
    ``d_in``: within a block they are exactly orthogonal (a Haar orthogonal
    ``d_in x d_in`` matrix), different blocks are independent, and every
    column is then rescaled to an independent :math:`\chi_{d_{in}}`-distributed
    norm times :math:`\sigma`.

    Why the chi norms: a Gaussian vector :math:`g \sim N(0, \sigma^2 I_d)` is a
    uniformly random direction times an independent norm
    :math:`\sigma\chi_d`. Orthogonal blocks keep each column's direction
    uniform while coupling the columns, so every single column is
    *marginally exactly* :math:`N(0, \sigma^2 I)`. Unbiased random-feature
    estimators stay unbiased and their variance drops (Yu et al., 2016,
    "Orthogonal Random Features").

    Parameters
    ----------
    shape : (int, int)
        ``(d_in, d_out)``; ``d_out`` may exceed ``d_in`` (several blocks).
    seed : int
    variance : {'fan_in', 'fan_out'} or float, default='fan_in'
        :math:`\sigma^2`, as in :func:`gaussian_matrix`. Pass ``1.0`` for the
        unit-variance directions that random-feature maps use.
    dtype : float32 or float64, default=float64
    """
    d_in, d_out = _check_shape(shape)
    dtype = check_dtype(dtype)
    std = math.sqrt(_resolve_variance(variance, (d_in, d_out)))
    rng = _generator(seed)
    # Blocks of d_in columns; the last one only as wide as needed. The first m columns of a Haar
    # d x d orthogonal matrix are exactly a Haar d x m frame, so drawing just those (QR of a d x m
    # Gaussian) gives the same distribution at O(d m^2) cost instead of O(d^3).
    widths = [min(d_in, d_out - start) for start in range(0, d_out, d_in)]
    matrix = np.concatenate([_haar_orthonormal_columns(d_in, w, rng) for w in widths], axis=1)
    norms = np.sqrt(rng.chisquare(d_in, size=d_out))
    matrix *= norms * std
    return np.ascontiguousarray(matrix, dtype=dtype)


def mexican_hat_matrix(
    shape: tuple[int, int],
    seed: int,
    *,
    image_shape: tuple[int, int] | None = None,
    margin: int | None = None,
    dtype: Any = np.float64,
) -> np.ndarray:
    r"""Random difference-of-Gaussians ("Mexican hat") receptive fields on an image grid.

    Column ``j`` is a centre-surround filter over the ``image_shape`` pixel
    grid (flattened row-major, like MNIST's 784 = 28x28 pixels):

    .. math::

        r_j(p) = \pm\Big(\frac{e^{-\|p-c_j\|^2/2\sigma_j^2}}{2\pi\sigma_j^2}
                 - \frac{e^{-\|p-c_j\|^2/2(1.6\sigma_j)^2}}{2\pi(1.6\sigma_j)^2}\Big),

    then scaled to unit L2 norm. The centre :math:`c_j` is uniform over the
    grid less a ``margin`` on every side (default: a seventh of the side, 4
    pixels for 28x28, which keeps fields on MNIST's central 20x20 box), the
    centre width :math:`\sigma_j \sim U[1, 3]` pixels, the surround is
    :math:`1.6\sigma_j` wide (the usual DoG approximation of a Laplacian of
    Gaussian), and the sign (on- or off-centre) is a fair coin.

    **This recipe is ours.** The Half-layer paper names the scheme ("random
    Mexican hats", for image inputs) but its public text does not give the
    construction. With unit-norm columns the entry
    variance averages :math:`1/d_{in}`, the library's ``fan_in`` convention.

    Parameters
    ----------
    shape : (int, int)
        ``(d_in, d_out)`` with ``d_in = image_shape[0] * image_shape[1]``.
    seed : int
    image_shape : (int, int), optional
        Defaults to a square image, ``d_in`` must then be a perfect square.
    margin : int, optional
        Pixels kept free of centres on each side.
    dtype : float32 or float64, default=float64
    """
    d_in, d_out = _check_shape(shape)
    dtype = check_dtype(dtype)
    if image_shape is None:
        side = math.isqrt(d_in)
        if side * side != d_in:
            raise ValueError(f"image_shape is needed when d_in is not a perfect square, got d_in={d_in}")
        image_shape = (side, side)
    height = check_positive_int(image_shape[0], "image_shape[0]")
    width = check_positive_int(image_shape[1], "image_shape[1]")
    if height * width != d_in:
        raise ValueError(f"image_shape {tuple(image_shape)} has {height * width} pixels but d_in={d_in}")
    if margin is None:
        margin = min(height, width) // 7
    if not 0 <= margin < (min(height, width) + 1) // 2:
        raise ValueError(f"margin must lie in [0, {(min(height, width) + 1) // 2}), got {margin!r}")
    rng = _generator(seed)
    cy = rng.uniform(margin, height - 1 - margin, size=d_out)
    cx = rng.uniform(margin, width - 1 - margin, size=d_out)
    sigma = rng.uniform(1.0, 3.0, size=d_out)
    sign = np.where(rng.random(d_out) < 0.5, -1.0, 1.0)
    rows, cols = np.divmod(np.arange(d_in), width)
    dist2 = (rows[:, None] - cy) ** 2 + (cols[:, None] - cx) ** 2
    surround = 1.6 * sigma
    matrix = np.exp(-dist2 / (2 * sigma**2)) / (2 * np.pi * sigma**2)
    matrix -= np.exp(-dist2 / (2 * surround**2)) / (2 * np.pi * surround**2)
    matrix *= sign / np.linalg.norm(matrix, axis=0)
    return matrix.astype(dtype, copy=False)


def pack_binary_matrix(matrix: np.ndarray) -> np.ndarray:
    """Store a ±c matrix one bit per entry: ``np.packbits(matrix > 0)`` (row-major).

    A 784 x 1024 binary matrix takes 100,352 bytes packed, against 3,211,264 in
    float32. :func:`unpack_binary_matrix` inverts it given the shape and ``c``.
    """
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2:
        raise ValueError("matrix must be a 2-D numpy.ndarray")
    magnitudes = np.unique(np.abs(matrix))
    if magnitudes.size != 1 or magnitudes[0] == 0:
        raise ValueError(f"matrix must hold a single value ±c with c > 0, got magnitudes {magnitudes[:5]}")
    return np.packbits(matrix > 0)


def unpack_binary_matrix(
    packed: np.ndarray, shape: tuple[int, int], *, value: float = 1.0, dtype: Any = np.float64
) -> np.ndarray:
    """Rebuild the ±``value`` matrix of ``shape`` from :func:`pack_binary_matrix`'s bits."""
    shape = _check_shape(shape)
    dtype = check_dtype(dtype)
    n = shape[0] * shape[1]
    if packed.dtype != np.uint8 or packed.size != -(-n // 8):
        raise ValueError(f"packed must be {-(-n // 8)} uint8 bytes for shape {shape}, got {packed.size} {packed.dtype}")
    bits = np.unpackbits(packed, count=n).reshape(shape)
    return np.where(bits == 1, value, -value).astype(dtype)


def srht_matrix(shape: tuple[int, int], seed: int, *, scale: float = 1.0, dtype: Any = np.float64) -> np.ndarray:
    r"""The subsampled randomized Hadamard transform as a dense matrix, entries :math:`\pm\,\text{scale}/\sqrt{d_{in}}`.

    :math:`S = c\,D H_{d'} P` with random signs :math:`D`, the :math:`\pm 1`
    Hadamard matrix of order :math:`d' = 2^{\lceil\log_2 d_{in}\rceil}`, ``d_out``
    of its columns drawn without replacement (from several independent
    blocks when ``d_out > d'``) and :math:`c = \text{scale}/\sqrt{d_{in}}`; see
    :class:`rpnumpy.hadamard.SRHT`, which applies the same matrix in
    :math:`O(d'\log d')` per row without forming it. Every column has norm
    exactly ``scale``; with the default ``scale=1`` the entries have variance
    :math:`1/d_{in}`, the ``fan_in`` convention of the other kinds, and
    ``scale=sqrt(d_in / d_out)`` gives the Johnson–Lindenstrauss SRHT
    (:math:`E\|xS\|^2 = \|x\|^2`).

    Parameters
    ----------
    shape : (int, int)
        ``(d_in, d_out)``.
    seed : int
    scale : float, default=1.0
        Norm of every column.
    dtype : float32 or float64, default=float64
    """
    d_in, d_out = _check_shape(shape)
    dtype = check_dtype(dtype)
    return SRHT(d_in, d_out, seed, scale=scale).to_dense().astype(dtype, copy=False)


#: Name -> constructor, for rebuilding a buffer from ``(kind, shape, seed)``.
MATRIX_KINDS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian": gaussian_matrix,
    "rademacher": rademacher_matrix,
    "sparse_ternary": sparse_ternary_matrix,
    "ternary_equal": equal_ternary_matrix,
    "orthogonal": orthogonal_matrix,
    "gaussian_orthogonal": gaussian_orthogonal_matrix,
    "mexican_hat": mexican_hat_matrix,
    "srht": srht_matrix,
}


def random_matrix(kind: str, shape: tuple[int, int], seed: int, **kwargs: Any) -> np.ndarray:
    """Build a fixed random matrix by the name of its kind.

    Parameters
    ----------
    kind : str
        One of :data:`MATRIX_KINDS`: ``'gaussian'``, ``'rademacher'``,
        ``'sparse_ternary'`` (Achlioptas), ``'ternary_equal'``, ``'orthogonal'``,
        ``'gaussian_orthogonal'``, ``'mexican_hat'``, ``'srht'``.
    shape : (int, int)
    seed : int
    **kwargs
        Passed on (``variance``, ``scale``, ``dtype``).

    Examples
    --------
    >>> import numpy as np
    >>> a = random_matrix("gaussian", (784, 256), seed=7)
    >>> b = random_matrix("gaussian", (784, 256), seed=7)
    >>> bool(np.array_equal(a, b))
    True
    """
    if kind not in MATRIX_KINDS:
        raise ValueError(f"kind must be one of {sorted(MATRIX_KINDS)}, got {kind!r}")
    return MATRIX_KINDS[kind](shape, seed, **kwargs)
