r"""Half layers (Alpaydin, 2025): a fixed random projection with two trainable weights per unit.

Each unit :math:`h` of a half layer computes

.. math:: a_h = r_h^\top x, \qquad z_h = g(u_h\, a_h + u_{h0}),

where the random vector :math:`r_h` is drawn once and never trained, and only
the scale :math:`u_h` and the shift :math:`u_{h0}` are learned: two trainable
numbers per unit, whatever the fan-in. In matrix form, for a batch :math:`X`
(``x`` in code) of shape ``(n, d_in)`` and ``R`` of shape ``(d_in, d_out)``
whose column ``h`` is :math:`r_h`:

.. math:: A = XR, \qquad S = A \odot u + u_0, \qquad Z = g(S).

(The paper writes :math:`R` as ``(H, d)`` acting on column vectors; rpnumpy's
row-vector convention stores its transpose, as :class:`~rpnumpy.layers.Dense`
does.) The direction of each unit's weight vector :math:`u_h r_h` is fixed;
training chooses only its length and sign and the unit's threshold.

The four random-weight schemes
------------------------------
``"normal"`` (N)
    :math:`r_{hj} \sim N(0, 1)`, as the paper's "random unit-normal weights".
``"binary"`` (B)
    :math:`r_{hj} = \pm 1` with probability 1/2 each; one bit per weight
    (:func:`~rpnumpy.random_matrices.pack_binary_matrix`).
``"mexican_hat"`` (M)
    Difference-of-Gaussians receptive fields on the image grid,
    :func:`~rpnumpy.random_matrices.mexican_hat_matrix`. The recipe (centre
    box, widths, polarity, unit norm) is **ours**: the paper's public text
    names the scheme but does not specify it.
``"template"`` (T)
    Columns are randomly chosen training examples, mean-centred over the
    training set and scaled to unit norm (:func:`template_matrix`), so
    :math:`a_h` is a linear-kernel similarity to a "landmark" example. Also
    **ours**: descriptions of the paper name a template scheme, its public
    text does not describe it. Built from data, so saved models store this
    matrix (the other three are stored as their seed).

One more scheme is **ours** (not the paper's): ``"srht"``, a subsampled
randomized Hadamard transform (:class:`~rpnumpy.hadamard.SRHT`) with entries
:math:`\pm 1` like B, whose columns are sign-flipped Hadamard columns
(exactly orthogonal when ``d_in`` is a power of two and ``d_out <= d_in``).
Forward and backward apply it with the fast Walsh–Hadamard transform,
:math:`O(d' \log d')` per row (:math:`d'` is ``d_in`` rounded up to a power
of two) instead of the :math:`O(d_{in} d_{out})` of a dense product. ``R`` is
still kept in ``buffers`` (for :meth:`HalfLayer.standardize`, inspection and
model files, and read-only), but no product with it is computed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import check_dtype, check_float_array, check_positive_int, seed_from
from ..hadamard import SRHT
from ..random_matrices import gaussian_matrix, mexican_hat_matrix, rademacher_matrix
from .activations import ACTIVATIONS
from .base import _NO_CACHE, Layer, config_dim

__all__ = ["HalfLayer", "HALF_SCHEMES", "template_matrix", "true_gradient_of_R"]

#: Scheme names, and the paper's one-letter codes for them.
HALF_SCHEMES = {"N": "normal", "B": "binary", "M": "mexican_hat", "T": "template"}

#: A scheme that is ours, accepted besides the paper's (see the module docstring).
_OUR_SCHEMES = ("srht",)


def template_matrix(
    x_train: np.ndarray, d_out: int, seed: int, *, labels: np.ndarray | None = None, dtype: Any = np.float64
) -> np.ndarray:
    r"""The template scheme (T): columns are training examples, centred and normalised.

    ``d_out`` rows of ``x_train`` are drawn without replacement (if
    ``labels`` is given, as evenly as possible from every class), the
    training-set mean :math:`\bar x` is subtracted and each column is scaled to
    unit L2 norm:

    .. math:: r_h = \frac{x^{(t_h)} - \bar x}{\|x^{(t_h)} - \bar x\|}.

    Only training examples may be used, never test ones. The construction
    is ours (see the module docstring).

    Parameters
    ----------
    x_train : ndarray of shape (n_samples, d_in)
    d_out : int
        Number of templates (at most ``n_samples``).
    seed : int
    labels : ndarray of int, optional
        Class labels for a class-balanced draw.
    dtype : float32 or float64

    Returns
    -------
    ndarray of shape (d_in, d_out)
    """
    check_float_array(x_train, "x_train", ndim=2)
    d_out = check_positive_int(d_out, "d_out")
    dtype = check_dtype(dtype)
    n = x_train.shape[0]
    if d_out > n:
        raise ValueError(f"d_out={d_out} templates need at least as many training examples, got {n}")
    rng = np.random.default_rng(seed)
    if labels is None:
        chosen = rng.choice(n, size=d_out, replace=False)
    else:
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
        classes = np.unique(labels)
        per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
        # Round-robin over classes, so every class gets floor or ceil of d_out / K templates.
        order = [idx[i] for i in range(max(len(p) for p in per_class)) for idx in per_class if i < len(idx)]
        chosen = np.array(order[:d_out])
    mean = x_train.mean(axis=0, dtype=np.float64)
    matrix = x_train[chosen].astype(np.float64).T - mean[:, None]
    norms = np.linalg.norm(matrix, axis=0)
    norms[norms == 0] = 1.0
    matrix /= norms
    return matrix.astype(dtype, copy=False)


def _image_shape(value: Any) -> tuple[int, int]:
    """``image_shape`` as a pair of positive ints (height, width), else a TypeError/ValueError naming it."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"image_shape must be None or a pair of positive ints (height, width), got {value!r}")
    return check_positive_int(value[0], "image_shape[0]"), check_positive_int(value[1], "image_shape[1]")


class HalfLayer(Layer):
    r"""Half layer :math:`z = g(u \odot (xR) + u_0)` with :math:`R` fixed and only :math:`u, u_0` trained.

    Forward, for a batch :math:`X` (``x``) of shape ``(n, d_in)``:

    .. math:: A = XR, \qquad S = A \odot u + u_0, \qquad Z = g(S)

    Backward, given :math:`\partial L/\partial Z`, with
    :math:`\Delta = \partial L/\partial S = \partial L/\partial Z \odot g'(S)`:

    .. math::

        \frac{\partial L}{\partial u_h} = \sum_t \Delta_{th} A_{th}, \qquad
        \frac{\partial L}{\partial u_{h0}} = \sum_t \Delta_{th}, \qquad
        \frac{\partial L}{\partial X} = (\Delta \odot u)\, R^\top .

    Nothing is computed for :math:`R`: it sits in ``buffers``, it receives no
    update (``buffer_grads["R"]`` is exactly zero) and no matrix product is
    spent on it. The *sensitivity* :math:`\partial L/\partial R = X^\top(\Delta
    \odot u)` is not zero; :func:`true_gradient_of_R` computes it for teaching.
    As the first layer of a network the input gradient is skipped too, so a
    training step costs one matrix product (``xR``) against a dense layer's
    two.

    Parameters
    ----------
    d_in, d_out : int
        Input width and number of half units :math:`H`.
    scheme : {'normal', 'binary', 'mexican_hat', 'template', 'srht'} or {'N', 'B', 'M', 'T'}
        How :math:`R` is drawn (see the module docstring; ``'srht'`` is ours
        and applied by the fast Walsh–Hadamard transform).
    activation : str or None, default='relu'
        :math:`g`: a name from :data:`~rpnumpy.layers.ACTIVATIONS`, or None for
        the identity.
    rng : None, int or Generator
        Seed of :math:`R` (pass an int for reproducible results). The layer
        records one int seed, and :math:`R` is a pure function of
        ``(scheme, shape, seed)`` except for the template scheme.
    templates : ndarray of shape (n_samples, d_in), optional
        Training examples, required by the template scheme.
    template_labels : ndarray, optional
        Their labels, for a class-balanced choice of templates.
    image_shape : (int, int), optional
        Image grid of the Mexican-hat scheme (default: square).
    dtype : float32 or float64, default=float64

    Attributes
    ----------
    params : {'u': (d_out,), 'u0': (d_out,)}
        Initialised to :math:`u_h = 1/\|r_h\|` (every effective weight vector
        :math:`u_h r_h` starts with unit length, whatever the scheme's scale)
        and :math:`u_{h0} = 0`. :meth:`standardize` offers a data-dependent
        start instead.
    buffers : {'R': (d_in, d_out)}

    Examples
    --------
    >>> import numpy as np
    >>> from rpnumpy.layers import Dense, HalfLayer, Sequential
    >>> model = Sequential(HalfLayer(784, 256, scheme="N", rng=0), Dense(256, 10, rng=1))
    >>> model.n_params, model.n_buffer_values
    (3082, 200704)
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        scheme: str = "normal",
        activation: str | None = "relu",
        rng: Any = None,
        templates: np.ndarray | None = None,
        template_labels: np.ndarray | None = None,
        image_shape: tuple[int, int] | None = None,
        dtype: Any = np.float64,
    ) -> None:
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        scheme = HALF_SCHEMES.get(scheme, scheme)
        if scheme not in HALF_SCHEMES.values() and scheme not in _OUR_SCHEMES:
            raise ValueError(
                f"scheme must be one of {sorted(HALF_SCHEMES.values())} or {sorted(HALF_SCHEMES)} or 'srht', "
                f"got {scheme!r}"
            )
        if activation is not None and activation not in ACTIVATIONS:
            raise ValueError(f"activation must be None or one of {sorted(ACTIVATIONS)}, got {activation!r}")
        super().__init__(check_dtype(dtype))
        self.scheme = scheme
        self.activation = activation
        self.image_shape = None if image_shape is None else _image_shape(image_shape)
        self.seed = seed_from(rng)
        self._g = None if activation is None else ACTIVATIONS[activation]()
        shape = (self.d_in, self.d_out)
        self._srht = None  # the srht scheme's fast transform, which forward and backward apply instead of R
        if scheme == "normal":
            matrix = gaussian_matrix(shape, self.seed, variance=1.0)
        elif scheme == "binary":
            matrix = rademacher_matrix(shape, self.seed, variance=1.0)
        elif scheme == "mexican_hat":
            matrix = mexican_hat_matrix(shape, self.seed, image_shape=self.image_shape)
        elif scheme == "srht":  # entries exactly ±1, like the binary scheme; R is the transform's dense matrix
            self._srht = SRHT(self.d_in, self.d_out, self.seed, scale=float(np.sqrt(self.d_in)), dtype=self.dtype)
            matrix = self._srht.to_dense()
        else:
            if templates is None:
                raise ValueError("the template scheme needs templates=x_train (training examples, never test ones)")
            check_float_array(templates, "templates", ndim=2)
            if templates.shape[1] != self.d_in:
                raise ValueError(f"templates have {templates.shape[1]} features but d_in={self.d_in}")
            matrix = template_matrix(templates, self.d_out, self.seed, labels=template_labels)
        self.buffers["R"] = np.ascontiguousarray(matrix, dtype=self.dtype)
        if self._srht is not None:
            self.buffers["R"].flags.writeable = False  # editing R would not change what the transform computes
        norms = np.linalg.norm(self.buffers["R"].astype(np.float64), axis=0)
        norms[norms == 0] = 1.0
        self._add_param("u", (1.0 / norms).astype(self.dtype))
        self._add_param("u0", np.zeros(self.d_out, dtype=self.dtype))

    @property
    def rebuildable_buffers(self) -> set[str]:
        return set() if self.scheme == "template" else {"R"}

    def _project(self, x: np.ndarray) -> np.ndarray:
        """:math:`A = xR` (for the srht scheme by the fast transform, which equals the product with R)."""
        return x @ self.buffers["R"] if self._srht is None else self._srht.apply(x)

    def _project_transpose(self, g: np.ndarray) -> np.ndarray:
        r""":math:`g R^\top` (for the srht scheme by the fast transform)."""
        return g @ self.buffers["R"].T if self._srht is None else self._srht.apply_transpose(g)

    def _forward(self, x):
        a = self._project(x)  # A = xR
        s = a * self.params["u"] + self.params["u0"]  # S = A ⊙ u + u0
        if self._g is None:
            return s, (x, a, None)
        z, g_cache = self._g._forward(s)  # Z = g(S)
        return z, (x, a, g_cache)

    def _param_backward(self, dz, cache):
        """Fill the gradients of u and u0; return Δ = ∂L/∂S, which the input gradient needs too."""
        x, a, g_cache = cache
        delta = dz if self._g is None else self._g._backward(dz, g_cache)  # Δ = ∂L/∂Z ⊙ g'(S)
        np.sum(delta * a, axis=0, out=self.grads["u"])  # ∂L/∂u_h = Σ_t Δ_th A_th
        np.sum(delta, axis=0, out=self.grads["u0"])  # ∂L/∂u_h0 = Σ_t Δ_th
        return delta

    def _backward(self, dz, cache):
        delta = self._param_backward(dz, cache)
        return self._project_transpose(delta * self.params["u"])  # ∂L/∂x = (Δ ⊙ u) Rᵀ

    def inference_function(self) -> Callable[[np.ndarray], np.ndarray]:
        r"""Inference as :math:`z = g(x (R \odot u) + u_0)`, with the column-scaled :math:`R \odot u` formed once.

        One matrix product per batch, without the pass that multiplies :math:`xR` by :math:`u`.
        The SRHT scheme keeps its fast transform. See :meth:`Layer.inference_function`.
        """
        if self.scheme == "srht":
            return super().inference_function()
        weight = self.buffers["R"] * self.params["u"]
        bias = self.params["u0"].copy()
        activation = None if self._g is None else self._g.inference_function()

        def run(x: np.ndarray) -> np.ndarray:
            self._check_input(x)
            s = x @ weight
            s += bias
            return s if activation is None else activation(s)

        return run

    def standardize(self, x: np.ndarray) -> HalfLayer:
        r"""Data-dependent start: :math:`u_h = 1/\sigma(a_h)`, :math:`u_{h0} = -\bar a_h/\sigma(a_h)`.

        Every unit's pre-activation :math:`s_h` then has mean 0 and variance 1
        over ``x`` (a sample of training inputs), so a ReLU unit starts active
        on about half of the data. Our suggestion, not the paper's.
        Returns ``self``.
        """
        self._check_input(x)
        a = self._project(x)
        mean = a.mean(axis=0, dtype=np.float64)
        std = a.std(axis=0, dtype=np.float64)
        std[std == 0] = 1.0
        self.params["u"][...] = 1.0 / std
        self.params["u0"][...] = -mean / std
        return self

    def get_config(self) -> dict[str, Any]:
        config = {
            "d_in": self.d_in,
            "d_out": self.d_out,
            "scheme": self.scheme,
            "activation": self.activation,
            "rng": self.seed,
        }
        if self.image_shape is not None:
            config["image_shape"] = list(self.image_shape)
        return {**config, **super().get_config()}

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        d_in, d_out = config_dim(config, "d_in"), config_dim(config, "d_out")
        return 2 * d_out, d_in * d_out

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HalfLayer:
        """Rebuild from ``get_config()``.

        A template layer's matrix was built from training data, which the config does not hold: it
        is rebuilt from zero templates (a zero matrix), and :func:`~rpnumpy.io.load_model` (or
        :meth:`astype`) then copies the stored matrix into it.
        """
        if config.get("scheme") == "template":
            d_in, d_out = config.get("d_in"), config.get("d_out")
            if not (isinstance(d_in, int) and isinstance(d_out, int) and d_in > 0 and d_out > 0):
                raise ValueError(f"a template HalfLayer config needs positive int d_in and d_out, got {config!r}")
            return cls(**config, templates=np.zeros((d_out, d_in)))
        return cls(**config)


def true_gradient_of_R(layer: HalfLayer, dz: np.ndarray) -> np.ndarray:
    r"""The sensitivity :math:`\partial L/\partial R = X^\top(\Delta \odot u)` for the last forward pass.

    This is what backpropagation *would* give if :math:`R` were trainable. It
    is not zero. A half layer never computes it during training (that would
    cost an extra ``d_in x n x d_out`` matrix product per step) and never
    applies it: :math:`R` is fixed, so its update is zero. Provided for
    teaching and for checking against finite differences.

    Parameters
    ----------
    layer : HalfLayer
        After a ``forward`` call.
    dz : ndarray
        Upstream gradient :math:`\partial L/\partial Z` for that forward pass.
    """
    if not isinstance(layer, HalfLayer):
        raise TypeError(f"layer must be a HalfLayer, got {type(layer).__name__}")
    if layer._cache is _NO_CACHE:
        raise RuntimeError("true_gradient_of_R needs a forward pass of the layer first")
    check_float_array(dz, "dz", dtype=layer.dtype)
    x, a, g_cache = layer._cache
    delta = dz if layer._g is None else layer._g._backward(dz, g_cache)
    return x.T @ (delta * layer.params["u"])
