r"""PRP layers (Szorc, 2025), their tied random autoencoder, and the low-rank baseline.

A *parametrized random projection* modulates a fixed random matrix
:math:`P` element-wise from both sides:

.. math:: y = \big((x \odot \alpha) P\big) \odot w + b,

for a row vector :math:`x`, with :math:`P \in \mathbb R^{d_{in}\times d_{out}}` fixed and only
:math:`\alpha \in \mathbb R^{d_{in}}`, :math:`w, b \in \mathbb R^{d_{out}}`
trained: :math:`d_{in} + 2 d_{out}` parameters instead of a dense layer's
:math:`d_{in} d_{out} + d_{out}`. The effective weight matrix is
:math:`W_{eff} = \operatorname{diag}(\alpha)\, P\, \operatorname{diag}(w) =
P \odot (\alpha w^\top)`: the random matrix times a learnable rank-one mask,
so that :math:`y = x W_{eff} + b`. A batch :math:`X` of shape ``(n, d_in)``
gives :math:`Y = ((X \odot \alpha) P) \odot w + b` (the paper's column form
is :math:`(P^\top(x \odot \alpha)) \odot w + b`, the same map).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import check_dtype, check_positive_int, seed_from
from ..hadamard import SRHT
from ..random_matrices import random_matrix
from .activations import ACTIVATIONS
from .base import Layer, config_dim

__all__ = ["PRP", "PRP_SCHEMES", "LowRank", "PRPAutoencoder"]

#: The P schemes of the paper and the library kinds that implement them. The paper's sparse ternary
#: scheme has two readings: Achlioptas' probabilities 1/6, 2/3, 1/6 ("sparse_ternary", the default
#: reading) and equal probabilities 1/3 ("ternary_equal", as published descriptions of the paper state it).
PRP_SCHEMES = ("gaussian", "sparse_ternary", "orthogonal", "ternary_equal")

#: A scheme that is ours, accepted by :class:`PRP` besides the paper's: the subsampled randomized
#: Hadamard transform, applied by the fast Walsh–Hadamard transform.
_OUR_SCHEMES = ("srht",)


def _prp_matrix(scheme: str, d_in: int, d_out: int, seed: int) -> np.ndarray:
    # The callers have validated ``scheme``. Gaussian N(0, 1/d_in), Achlioptas' ±sqrt(3/d_in) and the
    # equal-probability ±sqrt(3/(2 d_in)) share the variance 1/d_in: every column has expected squared norm 1.
    # Orthogonal columns have norm exactly 1 (rows, if d_in < d_out).
    return random_matrix(scheme, (d_in, d_out), seed)


class PRP(Layer):
    r"""Parametrized random projection, :math:`y = ((x \odot \alpha) P) \odot w + b`.

    Forward, for a batch :math:`X` of shape ``(n, d_in)``:

    .. math:: U = X \odot \alpha, \qquad Z = U P, \qquad Y = Z \odot w + b

    Backward, given :math:`\delta = \partial L/\partial Y` (``dy``):

    .. math::

        \frac{\partial L}{\partial b} = \textstyle\sum_n \delta, \qquad
        \frac{\partial L}{\partial w} = \textstyle\sum_n \delta \odot Z, \qquad
        \delta_U = (\delta \odot w)\, P^\top,

    .. math::

        \frac{\partial L}{\partial \alpha} = \textstyle\sum_n \delta_U \odot X, \qquad
        \frac{\partial L}{\partial X} = \delta_U \odot \alpha .

    One matrix product in the backward pass (:math:`\delta_U`, needed for
    :math:`\alpha` anyway) against a dense layer's two: there is no weight
    gradient :math:`X^\top \delta` because :math:`P` is fixed. In a first
    layer, where no input gradient is needed, both do two products per step
    (forward and one backward); in later layers dense does three, PRP two. :math:`P` lives in
    ``buffers`` and is rebuilt from its seed.

    Parameters
    ----------
    d_in, d_out : int
    scheme : {'gaussian', 'sparse_ternary', 'orthogonal', 'ternary_equal'}, default='gaussian'
        :math:`P_{ij} \sim N(0, 1/d_{in})`; Achlioptas' sparse ternary
        :math:`\pm\sqrt{3/d_{in}}` with probability 1/6 each and 0 otherwise
        (our default reading of the paper's ternary scheme: the published descriptions of the
        paper give equal probabilities and state the scale ambiguously); Haar-random
        orthonormal columns (rows when ``d_in < d_out``, where orthonormal
        columns are impossible); or the equal-probability ternary :math:`-a, 0, +a` with
        probability 1/3 each, :math:`a = \sqrt{3/(2d_{in})}` (the published description, scaled to
        the Gaussian variance; see :func:`~rpnumpy.random_matrices.equal_ternary_matrix`). In all
        four, columns have (expected) unit norm.
        ``'srht'`` (ours, not the paper's): the subsampled randomized Hadamard
        transform :class:`~rpnumpy.hadamard.SRHT`, entries :math:`\pm 1/\sqrt{d_{in}}`
        and columns of norm exactly 1. Forward and backward apply it with the
        fast Walsh–Hadamard transform; ``buffers["P"]`` still holds the dense
        matrix, read-only (for :attr:`effective_weight`, inspection and model files).
    rng : None, int or Generator
        Seed of :math:`P` (pass an int for reproducible results).
    dtype : float32 or float64, default=float64

    Notes
    -----
    Initialisation: :math:`\alpha = 1`, :math:`w = 1`, :math:`b = 0`, so that
    at the start the layer *is* the plain random projection :math:`XP`, with
    LeCun-like output variance :math:`\|x\|^2/d_{in}`. Zero would be a trap:
    :math:`\partial L/\partial\alpha` is proportional to :math:`w` and
    :math:`\partial L/\partial w` to :math:`\alpha`, so starting either at zero
    leaves the other without gradient. The paper's own initialisation is not
    available.
    """

    def __init__(
        self, d_in: int, d_out: int, *, scheme: str = "gaussian", rng: Any = None, dtype: Any = np.float64
    ) -> None:
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        if scheme not in PRP_SCHEMES and scheme not in _OUR_SCHEMES:
            raise ValueError(f"scheme must be one of {list(PRP_SCHEMES)} or 'srht', got {scheme!r}")
        super().__init__(check_dtype(dtype))
        self.scheme = scheme
        self.seed = seed_from(rng)
        self._srht = None  # the srht scheme's fast transform, which forward and backward apply instead of P
        if scheme == "srht":
            self._srht = SRHT(self.d_in, self.d_out, self.seed, dtype=self.dtype)
            matrix = self._srht.to_dense()
            matrix.flags.writeable = False  # editing P would not change what the transform computes
        else:
            matrix = _prp_matrix(scheme, self.d_in, self.d_out, self.seed).astype(self.dtype)
        self._set_arrays(matrix)

    @classmethod
    def _over_matrix(cls, matrix: np.ndarray) -> PRP:
        """A PRP map over a matrix another layer owns (:class:`PRPAutoencoder`'s two maps); never saved alone."""
        layer = cls.__new__(cls)
        Layer.__init__(layer, matrix.dtype)
        layer.d_in, layer.d_out = matrix.shape
        layer.scheme, layer.seed, layer._srht = "given", None, None
        layer._set_arrays(matrix)
        return layer

    def _set_arrays(self, matrix: np.ndarray) -> None:
        self.buffers["P"] = matrix
        self._add_param("alpha", np.ones(self.d_in, dtype=self.dtype))
        self._add_param("w", np.ones(self.d_out, dtype=self.dtype))
        self._add_param("b", np.zeros(self.d_out, dtype=self.dtype))

    def _project(self, u: np.ndarray) -> np.ndarray:
        """:math:`UP` (for the srht scheme by the fast transform, which equals the product with P)."""
        return u @ self.buffers["P"] if self._srht is None else self._srht.apply(u)

    def _project_transpose(self, g: np.ndarray) -> np.ndarray:
        r""":math:`g P^\top` (for the srht scheme by the fast transform)."""
        return g @ self.buffers["P"].T if self._srht is None else self._srht.apply_transpose(g)

    def _forward(self, x):
        z = self._project(x * self.params["alpha"])  # Z = (X ⊙ α) P
        y = z * self.params["w"] + self.params["b"]  # Y = Z ⊙ w + b
        return y, (x, z)

    def _param_backward(self, dy, cache):
        """Fill the gradients of α, w and b; return :math:`\\delta_U`, which the input gradient needs too."""
        x, z = cache
        np.sum(dy, axis=0, out=self.grads["b"])  # ∂L/∂b = Σ_n δ
        np.sum(dy * z, axis=0, out=self.grads["w"])  # ∂L/∂w = Σ_n δ ⊙ Z
        g_u = self._project_transpose(dy * self.params["w"])  # δ_U = (δ ⊙ w) Pᵀ
        np.sum(g_u * x, axis=0, out=self.grads["alpha"])  # ∂L/∂α = Σ_n δ_U ⊙ X
        return g_u

    def _backward(self, dy, cache):
        return self._param_backward(dy, cache) * self.params["alpha"]  # ∂L/∂X = δ_U ⊙ α

    @property
    def effective_weight(self) -> np.ndarray:
        r""":math:`W_{eff} = P \odot (\alpha w^\top)`, so that :math:`y = x W_{eff} + b`."""
        return self.buffers["P"] * np.outer(self.params["alpha"], self.params["w"])

    def inference_function(self) -> Callable[[np.ndarray], np.ndarray]:
        r"""Inference as :math:`y = x W_{eff} + b`, with :math:`W_{eff}` formed once.

        One matrix product and a bias per batch instead of the three element-wise passes of
        :math:`((x \odot \alpha) P) \odot w + b`. The SRHT scheme keeps its fast transform
        (folding would make it a dense product). See :meth:`Layer.inference_function`.
        """
        if self.scheme == "srht":
            return super().inference_function()
        weight, bias = self.effective_weight, self.params["b"].copy()

        def run(x: np.ndarray) -> np.ndarray:
            self._check_input(x)
            y = x @ weight
            y += bias
            return y

        return run

    def get_config(self) -> dict[str, Any]:
        return {"d_in": self.d_in, "d_out": self.d_out, "scheme": self.scheme, "rng": self.seed,
                **super().get_config()}

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        d_in, d_out = config_dim(config, "d_in"), config_dim(config, "d_out")
        return d_in + 2 * d_out, d_in * d_out


class LowRank(Layer):
    r"""Low-rank dense layer, :math:`y = x\,U V^\top + b` with :math:`U \in \mathbb R^{d_{in}\times r}`,
    :math:`V \in \mathbb R^{d_{out}\times r}`: the baseline PRP is compared with at equal trainable budgets.

    Forward: :math:`H = XU`, :math:`Y = HV^\top + b`. Backward, given :math:`G = \partial L/\partial Y`:

    .. math::

        \frac{\partial L}{\partial V} = G^\top H, \qquad
        \frac{\partial L}{\partial H} = G V, \qquad
        \frac{\partial L}{\partial U} = X^\top \frac{\partial L}{\partial H}, \qquad
        \frac{\partial L}{\partial b} = \textstyle\sum_n G, \qquad
        \frac{\partial L}{\partial X} = \frac{\partial L}{\partial H} U^\top .

    Trainable parameters: :math:`r(d_{in} + d_{out}) + d_{out}`
    (:meth:`rank_for_budget` finds the largest rank within a budget).

    Parameters
    ----------
    d_in, d_out, rank : int
    rng : None, int or Generator
    init : {'he', 'lecun'}, default='he'
        :math:`U_{ik} \sim N(0, 1/d_{in})` and :math:`V_{jk} \sim N(0, c/r)` with
        :math:`c = 2` (He) or 1 (LeCun), so that every entry of :math:`UV^\top`
        has the variance :math:`c/d_{in}` of the matching dense initialisation.
    dtype : float32 or float64, default=float64
    """

    def __init__(
        self, d_in: int, d_out: int, rank: int, *, rng: Any = None, init: str = "he", dtype: Any = np.float64
    ) -> None:
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        self.rank = check_positive_int(rank, "rank")
        if self.rank > min(self.d_in, self.d_out):
            raise ValueError(f"rank must be at most min(d_in, d_out)={min(self.d_in, self.d_out)}, got {rank}")
        if init not in ("he", "lecun"):
            raise ValueError(f"init must be 'he' or 'lecun', got {init!r}")
        super().__init__(check_dtype(dtype))
        self.init = init
        self.seed = seed_from(rng)
        gen = np.random.default_rng(self.seed)
        gain = 2.0 if init == "he" else 1.0
        u = gen.standard_normal((self.d_in, self.rank)) / math.sqrt(self.d_in)
        v = gen.standard_normal((self.d_out, self.rank)) * math.sqrt(gain / self.rank)
        self._add_param("U", u.astype(self.dtype))
        self._add_param("V", v.astype(self.dtype))
        self._add_param("b", np.zeros(self.d_out, dtype=self.dtype))

    @staticmethod
    def rank_for_budget(d_in: int, d_out: int, budget: int) -> int:
        """The largest rank r >= 1 with r(d_in + d_out) + d_out <= budget (1 if even rank 1 exceeds it)."""
        return max(1, (budget - d_out) // (d_in + d_out))

    def _forward(self, x):
        h = x @ self.params["U"]
        y = h @ self.params["V"].T
        y += self.params["b"]
        return y, (x, h)

    def _param_backward(self, dy, cache):
        x, h = cache
        np.matmul(dy.T, h, out=self.grads["V"])  # ∂L/∂V = Gᵀ H
        dh = dy @ self.params["V"]  # ∂L/∂H = G V
        np.matmul(x.T, dh, out=self.grads["U"])  # ∂L/∂U = Xᵀ ∂L/∂H
        np.sum(dy, axis=0, out=self.grads["b"])
        return dh

    def _backward(self, dy, cache):
        return self._param_backward(dy, cache) @ self.params["U"].T  # ∂L/∂X = ∂L/∂H Uᵀ

    def get_config(self) -> dict[str, Any]:
        return {"d_in": self.d_in, "d_out": self.d_out, "rank": self.rank, "rng": self.seed, "init": self.init,
                **super().get_config()}

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        d_in, d_out, rank = config_dim(config, "d_in"), config_dim(config, "d_out"), config_dim(config, "rank")
        return rank * (d_in + d_out) + d_out, 0


class PRPAutoencoder(Layer):
    r"""Autoencoder of two PRP layers whose decoder reuses the encoder's matrix transposed.

    .. math::

        h = g_h\big(((x \odot \alpha_e) P) \odot w_e + b_e\big), \qquad
        \hat x = g_o\big(((h \odot \alpha_d) P^\top) \odot w_d + b_d\big),

    with one fixed :math:`P \in \mathbb R^{d\times k}` (orthonormal columns by
    default): :math:`P_{dec} = P_{enc}^\top` is the *same* buffer read
    transposed (a view, not a copy). With all modulations at 1, biases at 0
    and identity activations, :math:`\hat x = x PP^\top`, the orthogonal
    projection onto a random k-dimensional subspace.

    ``tied=False`` gives the decoder an independent random matrix instead:
    then nothing ties the decoder's directions to the encoder's, the learnable
    vectors can only re-weight coordinates, and the reconstruction collapses
    towards the mean image: the failure the paper's tying avoids.

    Backward: the two PRP backward passes in sequence (see :class:`PRP`),
    through :math:`g_o` and :math:`g_h`. :math:`P` receives no update. Were it
    trainable, its gradient would be the *sum* of the encoder's and the
    decoder's contributions, because one matrix is used twice;
    :meth:`true_gradient_of_P` computes that sum for teaching and checking.

    Parameters
    ----------
    d_in : int
        Input width :math:`d` (784 for MNIST).
    k : int
        Bottleneck width.
    tied : bool, default=True
    scheme : {'orthogonal', 'gaussian', 'sparse_ternary', 'ternary_equal'}, default='orthogonal'
    hidden_activation : str or None, default=None
        :math:`g_h` (None: identity).
    output_activation : str or None, default='sigmoid'
        :math:`g_o`; sigmoid suits pixels in [0, 1].
    rng : None, int or Generator
    dtype : float32 or float64, default=float64

    Attributes
    ----------
    params : alpha_e (d), w_e (k), b_e (k), alpha_d (k), w_d (d), b_d (d)
        (d + 2k) + (k + 2d) = 3d + 3k trainable values.
    buffers : {'P': (d, k)} when tied, plus {'P_dec': (k, d)} when untied.
    """

    def __init__(
        self,
        d_in: int,
        k: int,
        *,
        tied: bool = True,
        scheme: str = "orthogonal",
        hidden_activation: str | None = None,
        output_activation: str | None = "sigmoid",
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        self.d_in = check_positive_int(d_in, "d_in")
        self.k = check_positive_int(k, "k")
        if scheme not in PRP_SCHEMES:
            raise ValueError(f"scheme must be one of {list(PRP_SCHEMES)}, got {scheme!r}")
        for name, act in (("hidden_activation", hidden_activation), ("output_activation", output_activation)):
            if act is not None and act not in ACTIVATIONS:
                raise ValueError(f"{name} must be None or one of {sorted(ACTIVATIONS)}, got {act!r}")
        if not isinstance(tied, bool):
            raise TypeError(f"tied must be a bool, got {tied!r}")
        super().__init__(check_dtype(dtype))
        self.tied, self.scheme = tied, scheme
        self.hidden_activation, self.output_activation = hidden_activation, output_activation
        self._gh = None if hidden_activation is None else ACTIVATIONS[hidden_activation]()
        self._go = None if output_activation is None else ACTIVATIONS[output_activation]()
        self.seed = seed_from(rng)
        self.buffers["P"] = _prp_matrix(scheme, self.d_in, self.k, self.seed).astype(self.dtype)
        if not tied:
            # An independent matrix of the decoder's shape, from a seed derived from ours.
            dec_seed = int(np.random.SeedSequence(self.seed).spawn(1)[0].generate_state(1, np.uint64)[0] >> 1)
            self.buffers["P_dec"] = _prp_matrix(scheme, self.k, self.d_in, dec_seed).astype(self.dtype)
        # Two PRP maps over the one matrix: the decoder's is P.T, a view of the encoder's buffer, when tied.
        self._encoder = PRP._over_matrix(self.buffers["P"])
        self._decoder = PRP._over_matrix(self.decoder_matrix)
        for side, layer in (("e", self._encoder), ("d", self._decoder)):
            for key in ("alpha", "w", "b"):
                self.params[f"{key}_{side}"] = layer.params[key]
                self.grads[f"{key}_{side}"] = layer.grads[key]

    @property
    def decoder_matrix(self) -> np.ndarray:
        """:math:`P_{dec}` of shape (k, d): ``P.T`` (a view of the encoder's buffer) when tied."""
        return self.buffers["P"].T if self.tied else self.buffers["P_dec"]

    def _forward(self, x):
        s, enc_cache = self._encoder._forward(x)  # s = ((x ⊙ α_e) P) ⊙ w_e + b_e
        h, gh_cache = (s, None) if self._gh is None else self._gh._forward(s)
        o, dec_cache = self._decoder._forward(h)  # o = ((h ⊙ α_d) P_dec) ⊙ w_d + b_d
        x_hat, go_cache = (o, None) if self._go is None else self._go._forward(o)
        return x_hat, (enc_cache, gh_cache, dec_cache, go_cache)

    def _backward_to_code(self, dy, cache):
        """Through g_o, the decoder (filling its gradients) and g_h: ∂L/∂s at the encoder's output."""
        _, gh_cache, dec_cache, go_cache = cache
        d_o = dy if self._go is None else self._go._backward(dy, go_cache)
        d_h = self._decoder._backward(d_o, dec_cache)
        return d_h if self._gh is None else self._gh._backward(d_h, gh_cache)

    def _param_backward(self, dy, cache):
        self._encoder._param_backward(self._backward_to_code(dy, cache), cache[0])

    def _backward(self, dy, cache):
        return self._encoder._backward(self._backward_to_code(dy, cache), cache[0])

    def true_gradient_of_P(self, dy: np.ndarray) -> np.ndarray:
        r"""The sensitivity :math:`\partial L/\partial P` of the last forward pass, summed over both uses of P.

        Encoder contribution :math:`(\alpha_e\odot x)^\top (\Delta_e \odot w_e)`, decoder contribution
        :math:`\big((\alpha_d\odot h)^\top(\Delta_d \odot w_d)\big)^\top` (the decoder reads :math:`P^\top`),
        where :math:`\Delta_e, \Delta_d` are the gradients at the encoder's and decoder's pre-activations.
        Never computed in training (P is fixed); for checking against finite differences. ``grads`` are
        left as they are.
        """
        if not self.tied:
            raise ValueError("true_gradient_of_P is defined for the tied autoencoder, where P is used twice")
        self._check_dy(dy)
        (x, _), gh_cache, (h, _), go_cache = self._cache
        p = self.params
        delta_d = dy if self._go is None else self._go._backward(dy, go_cache)
        d_h = ((delta_d * p["w_d"]) @ self.buffers["P"]) * p["alpha_d"]  # the decoder's input gradient
        delta_e = d_h if self._gh is None else self._gh._backward(d_h, gh_cache)
        encoder = (x * p["alpha_e"]).T @ (delta_e * p["w_e"])
        decoder = ((h * p["alpha_d"]).T @ (delta_d * p["w_d"])).T
        return encoder + decoder

    def encode(self, x: np.ndarray) -> np.ndarray:
        """The bottleneck code :math:`h` of ``x``."""
        self._check_input(x)
        s = self._encoder._forward(x)[0]
        return s if self._gh is None else self._gh._forward(s)[0]

    def get_config(self) -> dict[str, Any]:
        return {"d_in": self.d_in, "k": self.k, "tied": self.tied, "scheme": self.scheme,
                "hidden_activation": self.hidden_activation, "output_activation": self.output_activation,
                "rng": self.seed, **super().get_config()}

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        d, k = config_dim(config, "d_in"), config_dim(config, "k")
        return 3 * d + 3 * k, d * k * (1 if config.get("tied", True) else 2)
