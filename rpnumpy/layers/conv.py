r"""Convolution and max pooling on ``(n, channels, height, width)`` batches.

Both layers use the NCHW layout and follow the :class:`~rpnumpy.layers.base.Layer`
contract. :class:`Conv2D` is a cross-correlation (the kernel is not flipped),
as in every deep-learning framework, computed by *im2col*: every receptive
field of the padded input is copied into a column of a matrix
:math:`X_{col}`, so that the whole convolution is one (batched) matrix
product

.. math:: Y = W_{mat} X_{col} + b,

where :math:`W_{mat}` is the kernel reshaped to ``(out_channels,
in_channels*kh*kw)``. The backward pass is two more matrix products and a
*col2im*: the column gradient is added back into the padded input, one kernel
offset :math:`(u, v)` at a time (``kh*kw`` strided array additions, not a loop
over pixels), and the padding is cut off.

Input batches of flat images (MNIST rows of 784 values) must be reshaped by
the caller, ``x.reshape(-1, 1, 28, 28)`` (a view, no copy).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._validation import check_dtype, check_float_array, check_positive_int, seed_from
from .base import Layer, config_dim
from .core import INIT_VARIANCE

__all__ = ["Conv2D", "MaxPool2D"]


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _pair(value: Any, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """Return ``value`` as a ``(height, width)`` pair of ints ``>= minimum``, else raise.

    Accepts an int (used for both) or a tuple/list of two ints.
    """
    rule = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be {rule} or a pair of them (height, width), got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be {rule} or a pair of them (height, width), got {value!r}")
    return pair


def _unpair(pair: tuple[int, int]) -> int | list[int]:
    """A pair as stored in a config: one int if both entries agree, else a JSON list."""
    return pair[0] if pair[0] == pair[1] else [pair[0], pair[1]]


def _out_size(size: int, window: int, stride: int) -> int:
    return (size - window) // stride + 1


def _check_nchw(x: np.ndarray, layer: str, dtype: np.dtype | None) -> None:
    check_float_array(x, "x", dtype=dtype)
    if x.ndim != 4:
        raise ValueError(
            f"x must have 4 dimensions (n, channels, height, width) for {layer}, got shape {x.shape}; "
            f"reshape a batch of flat images first, e.g. x.reshape(-1, 1, 28, 28)"
        )


def _window(u: int, v: int, stride: tuple[int, int], out_hw: tuple[int, int]) -> tuple[slice, ...]:
    """Index of ``x[:, :, s_h i + u, s_w j + v]`` for all ``i < Ho``, ``j < Wo`` (a strided view)."""
    (sh, sw), (ho, wo) = stride, out_hw
    return (slice(None), slice(None), slice(u, u + sh * (ho - 1) + 1, sh), slice(v, v + sw * (wo - 1) + 1, sw))


def _scatter_add_windows(
    target: np.ndarray, values: np.ndarray, stride: tuple[int, int], out_hw: tuple[int, int]
) -> None:
    r"""col2im: ``target[:, :, s_h i + u, s_w j + v] += values[:, :, u, v, i, j]`` for all ``u, v, i, j``.

    ``target`` has shape ``(n, c, H, W)`` and ``values`` ``(n, c, kh, kw, Ho, Wo)``.
    One strided in-place addition per kernel offset :math:`(u, v)`; overlapping
    windows (stride smaller than the kernel) add up correctly because the
    offsets are processed one after the other.
    """
    for u in range(values.shape[2]):
        for v in range(values.shape[3]):
            target[_window(u, v, stride, out_hw)] += values[:, :, u, v]


class Conv2D(Layer):
    r"""2-D convolution (cross-correlation) of an NCHW batch, computed by im2col.

    Forward, for :math:`x` of shape ``(n, C, H, W)`` zero-padded by
    :math:`(p_h, p_w)` to :math:`\tilde x`, kernel :math:`W` of shape
    ``(F, C, kh, kw)``, bias :math:`b` of shape ``(F,)`` and strides
    :math:`(s_h, s_w)`:

    .. math::

        y_{n f i j} = b_f + \sum_{c=0}^{C-1}\sum_{u=0}^{k_h-1}\sum_{v=0}^{k_w-1}
                      W_{f c u v}\, \tilde x_{n,\,c,\,s_h i + u,\,s_w j + v},

    with output size :math:`H_o = \lfloor (H + 2p_h - k_h)/s_h \rfloor + 1` (and
    likewise :math:`W_o`). In matrix form, with the receptive fields of sample
    :math:`n` as the columns of :math:`X^{(n)}_{col}` (shape
    ``(C*kh*kw, Ho*Wo)``) and :math:`W_{mat}` the kernel as an ``(F, C*kh*kw)``
    matrix, :math:`Y^{(n)} = W_{mat} X^{(n)}_{col} + b\,\mathbf 1^\top`.

    Backward, given :math:`\delta = \partial L/\partial y` of shape ``(n, F, Ho, Wo)``:

    .. math::

        \frac{\partial L}{\partial W_{f c u v}} =
            \sum_{n,i,j} \delta_{n f i j}\, \tilde x_{n,\,c,\,s_h i+u,\,s_w j+v}
            \quad\Big(= \textstyle\sum_n \Delta^{(n)} X^{(n)\top}_{col}\Big), \qquad
        \frac{\partial L}{\partial b_f} = \sum_{n,i,j} \delta_{n f i j},

    .. math::

        \frac{\partial L}{\partial \tilde x_{n c p q}} =
            \sum_{f}\sum_{\substack{u,v,i,j:\\ s_h i+u=p,\ s_w j+v=q}}
            W_{f c u v}\, \delta_{n f i j}
            \quad\Big(= \operatorname{col2im}\big(W_{mat}^\top \Delta^{(n)}\big)\Big),

    and :math:`\partial L/\partial x` is :math:`\partial L/\partial \tilde x`
    with the padding cut off. The col2im and the product
    :math:`W_{mat}^\top\Delta` are skipped with ``backward(dy, input_grad=False)``
    (the first layer of a network needs no input gradient).

    Parameters
    ----------
    in_channels, out_channels : int
        :math:`C` and :math:`F`.
    kernel_size : int or (int, int)
        :math:`(k_h, k_w)`; an int means a square kernel.
    stride : int or (int, int), default=1
        :math:`(s_h, s_w)`, positive.
    padding : int or (int, int), default=0
        Zeros added on each side, :math:`(p_h, p_w)`, non-negative.
    rng : None, int or numpy.random.Generator
        Randomness for the initial ``W`` (pass an int for reproducible results).
    init : {'he', 'lecun', 'glorot'}, default='he'
        :math:`W \sim N(0, \sigma^2)` with :math:`\sigma^2 = 2/\text{fan}_{in}`,
        :math:`1/\text{fan}_{in}` or :math:`2/(\text{fan}_{in} + \text{fan}_{out})`,
        where :math:`\text{fan}_{in} = C k_h k_w` and :math:`\text{fan}_{out} = F k_h k_w`.
        ``b`` starts at zero.
    dtype : float32 or float64, default=float64

    Notes
    -----
    The column matrix (``n * C*kh*kw * Ho*Wo`` values) is kept between
    ``forward`` and ``backward``; for a batch of 128 MNIST images and a 5x5
    kernel on one channel that is 2.5 million values.

    Examples
    --------
    >>> import numpy as np
    >>> conv = Conv2D(1, 8, 5, padding=2, rng=0)
    >>> conv.forward(np.zeros((2, 1, 28, 28))).shape
    (2, 8, 28, 28)
    """

    input_ndim = 4

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        rng: Any = None,
        init: str = "he",
        dtype: Any = np.float64,
    ) -> None:
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding", minimum=0)
        if init not in INIT_VARIANCE:
            raise ValueError(f"init must be one of {sorted(INIT_VARIANCE)}, got {init!r}")
        super().__init__(check_dtype(dtype))
        self.init = init
        self.seed = seed_from(rng)
        kh, kw = self.kernel_size
        fan_in, fan_out = self.in_channels * kh * kw, self.out_channels * kh * kw
        std = math.sqrt(INIT_VARIANCE[init](fan_in, fan_out))
        shape = (self.out_channels, self.in_channels, kh, kw)
        w = np.random.default_rng(self.seed).standard_normal(shape) * std
        self._add_param("W", w.astype(self.dtype))
        self._add_param("b", np.zeros(self.out_channels, dtype=self.dtype))

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        kh, kw = _pair(config.get("kernel_size"), "config['kernel_size']")
        out_channels = config_dim(config, "out_channels")
        return out_channels * config_dim(config, "in_channels") * kh * kw + out_channels, 0

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """The output shape ``(n, out_channels, Ho, Wo)`` for an input of shape ``(n, C, H, W)``."""
        n, _, h, w = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (n, self.out_channels, _out_size(h + 2 * ph, kh, sh), _out_size(w + 2 * pw, kw, sw))

    def _check_input(self, x: np.ndarray) -> None:
        _check_nchw(x, "Conv2D", self.dtype)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x has {x.shape[1]} channels but the layer expects in_channels={self.in_channels}")
        (ph, pw), (kh, kw) = self.padding, self.kernel_size
        padded = (x.shape[2] + 2 * ph, x.shape[3] + 2 * pw)
        if kh > padded[0] or kw > padded[1]:
            raise ValueError(
                f"kernel_size {self.kernel_size} is larger than the padded input {padded} "
                f"(height, width of x {x.shape[2:]} plus padding={self.padding} on each side)"
            )

    def _pad(self, x: np.ndarray) -> np.ndarray:
        ph, pw = self.padding
        if ph == 0 and pw == 0:
            return x
        n, c, h, w = x.shape
        xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        xp[:, :, ph : ph + h, pw : pw + w] = x
        return xp

    def _forward(self, x):
        n = x.shape[0]
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        out_shape = self.output_shape(x.shape)
        ho, wo = out_shape[2:]
        # (n, C, Hp-kh+1, Wp-kw+1, kh, kw) view of every window, then every stride-th one.
        windows = sliding_window_view(self._pad(x), (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        # im2col: (n, C, kh, kw, Ho, Wo) -> (n, C*kh*kw, Ho*Wo); the reshape makes the one copy.
        cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, self.in_channels * kh * kw, ho * wo)
        w_mat = self.params["W"].reshape(self.out_channels, self.in_channels * kh * kw)
        y = np.matmul(w_mat, cols)  # (n, F, Ho*Wo): already NCHW-contiguous
        y += self.params["b"][:, None]
        return y.reshape(out_shape), (x.shape, cols, out_shape)

    def _param_backward(self, dy, cache):
        _, cols, out_shape = cache
        n, f = out_shape[:2]
        delta = dy.reshape(n, f, out_shape[2] * out_shape[3])  # a view when dy is contiguous
        # dW = sum_n Delta_n X_col_n^T, as one batched product and a sum over the batch.
        np.sum(np.matmul(delta, cols.transpose(0, 2, 1)), axis=0, out=self.grads["W"].reshape(f, cols.shape[1]))
        np.sum(dy, axis=(0, 2, 3), out=self.grads["b"])

    def _backward(self, dy, cache):
        self._param_backward(dy, cache)
        x_shape, cols, out_shape = cache
        n, f = out_shape[:2]
        ho, wo = out_shape[2:]
        delta = dy.reshape(n, f, ho * wo)
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        c, h, w = x_shape[1:]
        w_mat = self.params["W"].reshape(f, c * kh * kw)
        dcols = np.matmul(w_mat.T, delta).reshape(n, c, kh, kw, ho, wo)
        dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dy.dtype)
        _scatter_add_windows(dxp, dcols, self.stride, (ho, wo))
        return dxp[:, :, ph : ph + h, pw : pw + w]

    def get_config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": _unpair(self.kernel_size),
            "stride": _unpair(self.stride),
            "padding": _unpair(self.padding),
            "rng": self.seed,
            "init": self.init,
            **super().get_config(),
        }


class MaxPool2D(Layer):
    r"""2-D max pooling of an NCHW batch, without padding (floor mode).

    Forward, for windows of size :math:`(k_h, k_w)` moved by strides :math:`(s_h, s_w)`:

    .. math::

        y_{n c i j} = \max_{0 \le u < k_h,\ 0 \le v < k_w} x_{n,\,c,\,s_h i + u,\,s_w j + v},
        \qquad H_o = \lfloor (H - k_h)/s_h \rfloor + 1,

    and likewise :math:`W_o`. The position of the maximum, :math:`(u^*_{ncij},
    v^*_{ncij})`, is the **first** maximal entry of the window in row-major
    order, so every window has exactly one winner even when values tie.

    Backward, given :math:`\delta = \partial L/\partial y`:

    .. math::

        \frac{\partial L}{\partial x_{n c p q}} =
            \sum_{i,j} \delta_{n c i j}\,
            [\,p = s_h i + u^*_{ncij}\,]\,[\,q = s_w j + v^*_{ncij}\,],

    i.e. each :math:`\delta_{ncij}` goes to its window's winner; with
    overlapping windows one input may collect several. The sum of ``dx``
    equals the sum of ``dy``.

    Both passes loop over the :math:`k_h k_w` window offsets :math:`(u, v)`,
    never over pixels: the forward pass keeps a running maximum of the strided
    views :math:`x_{:,:,s_h i+u,\,s_w j+v}` and the index of the offset that
    set it (a strict ``>``, which is what makes the first maximum win); the
    backward pass sends :math:`\delta` to the view of the winning offset. When
    the windows do not overlap (``stride >= pool_size``, the default) each
    input belongs to at most one window and the gradient is written in place;
    when they overlap it is added. Any input size is accepted: rows and
    columns that no window reaches (when :math:`H - k_h` is not a multiple of
    :math:`s_h`, say 7 rows pooled by 2) are dropped, as in PyTorch's default
    ``ceil_mode=False``, and get a zero gradient.

    Parameters
    ----------
    pool_size : int or (int, int), default=2
        :math:`(k_h, k_w)`.
    stride : int or (int, int), optional
        :math:`(s_h, s_w)`; defaults to ``pool_size`` (non-overlapping windows).

    Notes
    -----
    Parameter-free: accepts float32 or float64 and returns the same dtype.
    ``dy`` must have the dtype of the last input.
    """

    input_ndim = 4

    def __init__(self, pool_size: int | tuple[int, int] = 2, stride: int | tuple[int, int] | None = None) -> None:
        super().__init__()
        self.pool_size = _pair(pool_size, "pool_size")
        self.stride = self.pool_size if stride is None else _pair(stride, "stride")

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int]:
        return 0, 0

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """The output shape ``(n, C, Ho, Wo)`` for an input of shape ``(n, C, H, W)``."""
        n, c, h, w = input_shape
        (kh, kw), (sh, sw) = self.pool_size, self.stride
        return (n, c, _out_size(h, kh, sh), _out_size(w, kw, sw))

    def _check_input(self, x: np.ndarray) -> None:
        _check_nchw(x, "MaxPool2D", None)
        (kh, kw), (h, w) = self.pool_size, x.shape[2:]
        if kh > h or kw > w:
            raise ValueError(f"pool_size {self.pool_size} is larger than the input's (height, width) {(h, w)}")

    def _offsets(self) -> list[tuple[int, int]]:
        kh, kw = self.pool_size
        return [(u, v) for u in range(kh) for v in range(kw)]  # row-major: the tie-breaking order

    def _forward(self, x):
        out_shape = self.output_shape(x.shape)
        offsets = self._offsets()
        # One strided view per window offset (u, v), each of shape (n, C, Ho, Wo): a running
        # maximum over kh*kw views is several times faster than an argmax over a copied
        # (n, C, Ho, Wo, kh*kw) window array, whose last axis is only a few entries long.
        y = x[_window(*offsets[0], self.stride, out_shape[2:])].copy()
        winner = np.zeros(out_shape, dtype=np.uint8 if len(offsets) <= 256 else np.intp)
        for k, (u, v) in enumerate(offsets[1:], start=1):
            candidate = x[_window(u, v, self.stride, out_shape[2:])]
            better = np.greater(candidate, y).view(np.uint8)  # strict: on a tie the earlier offset keeps it
            np.maximum(y, candidate, out=y)
            # winner <= k - 1 so far, hence "k where better, else winner" is max(winner, k * better);
            # plain arithmetic, several times faster than a masked copy.
            np.maximum(winner, np.multiply(better, k, dtype=winner.dtype), out=winner)
        return y, (x.shape, x.dtype, winner)

    def _backward(self, dy, cache):
        x_shape, dtype, winner = cache
        (kh, kw), (sh, sw) = self.pool_size, self.stride
        overlapping = sh < kh or sw < kw
        dx = np.zeros(x_shape, dtype=dtype)
        for k, (u, v) in enumerate(self._offsets()):
            target = dx[_window(u, v, self.stride, winner.shape[2:])]  # a view into dx
            routed = dy * (winner == k)  # faster than a masked copy; dy is finite
            if overlapping:  # an input may win several windows: add
                target += routed
            else:  # every input belongs to at most one window: write
                target[...] = routed
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"pool_size": _unpair(self.pool_size), "stride": _unpair(self.stride)}
