"""The layer contract that every rpnumpy layer follows.

A layer is three dictionaries of arrays and two methods::

    layer.params    trainable arrays, updated in place by an optimizer
    layer.grads     their gradients, same keys and shapes, overwritten by backward
    layer.buffers   fixed random matrices: never in params, never updated

    y  = layer.forward(x)     # caches what backward needs
    dx = layer.backward(dy)   # fills layer.grads, returns dL/dx

Inside, each layer is written in the CS231n style: a pure
``_forward(x) -> (y, cache)`` and a ``_backward(dy, cache) -> dx`` that consumes
the cache, fills ``grads`` and returns the input gradient. ``forward`` and
``backward`` add what every layer needs once: the checks of ``x`` and ``dy``,
and keeping the cache.

The first layer of a network needs no ``dL/dx`` (nobody uses the gradient of the
pixels), so ``backward(dy, input_grad=False)`` returns None. A layer whose input
gradient costs a matrix product of its own (:class:`~rpnumpy.layers.Dense`,
:class:`~rpnumpy.layers.HalfLayer`, ...) also implements
``_param_backward(dy, cache)``, which fills ``grads`` only; for the others the
full ``_backward`` runs and its ``dx`` is dropped, and a layer without parameters
does no work at all.

Rules every layer keeps
-----------------------
* ``grads[k]`` is allocated once, with the shape and dtype of ``params[k]``,
  and ``backward`` writes into it in place. An optimizer can therefore hold
  references to both dictionaries' arrays for the whole of training.
* ``backward`` overwrites, it does not accumulate: calling it twice with the
  same ``dy`` gives the same ``grads``.
* ``dy`` must have the shape and dtype of the last output: anything else is
  refused before any work starts (a ``(1, d)`` or ``(d,)`` array would
  otherwise broadcast into wrong gradients without an error).
* A fixed random matrix lives in ``buffers`` and gets no gradient computed for
  it (no matrix product is spent on a gradient nobody uses). It is rebuilt from
  ``(kind, shape, seed)``, which ``get_config`` records.
* dtypes are preserved and never changed silently: a layer built with
  ``dtype=np.float32`` refuses float64 input with a ``TypeError`` rather than
  up-casting, and vice versa.

Saved models name each layer by its class. Every public layer class of rpnumpy
is registered under its own name (``"Dense"``, ``"HalfLayer"``) when it is
defined, that is when ``rpnumpy`` is imported; a class defined elsewhere is
registered under its module and name (``"__main__.MyLayer"``), so a student's
own ``class ReLU(Layer)`` can never stand in for rpnumpy's when a file is
loaded. Private classes (a leading underscore) and classes defined inside a
function are not registered.

Rebuilding a layer from a configuration (:func:`layer_from_config`, which
:func:`rpnumpy.io.load_model` uses) trusts nothing in it: a configuration must
record the seed of every random draw (``rng``, an int: without it every load
would draw new matrices), may hold only the keys ``get_config`` writes (no
private constructor argument such as ``_zero_v``), may nest at most
:data:`MAX_CONFIG_DEPTH` layers deep, and its sizes are computed from it
(:meth:`Layer.config_sizes`) and checked against a limit before anything is
allocated.
"""

from __future__ import annotations

import inspect
import numbers
import threading
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .._validation import check_dtype, check_float_array, check_positive_int

__all__ = [
    "LAYER_REGISTRY",
    "MAX_CONFIG_DEPTH",
    "Layer",
    "Sequential",
    "config_dim",
    "declared_sizes",
    "layer_from_config",
    "layer_spec",
    "registered_name",
]

#: Every registered layer class by the name saved models use for it (see the module docstring).
LAYER_REGISTRY: dict[str, type[Layer]] = {}

#: Marks a layer whose forward has not run yet (a cache may legitimately be None).
_NO_CACHE = object()

#: Deepest nesting of layer specs (a Sequential inside a Sequential ...) that :func:`layer_from_config` rebuilds.
MAX_CONFIG_DEPTH = 16

#: How deep the current thread is inside nested :func:`layer_from_config` and :func:`declared_sizes` calls.
_NESTING = threading.local()


def registered_name(cls: type) -> str:
    """The name a model file uses for the layer class ``cls``.

    rpnumpy's own classes go by their class name; any other class by its module and qualified
    name, so that it cannot clash with a built-in.
    """
    module = cls.__module__
    if module == "rpnumpy" or module.startswith("rpnumpy."):
        return cls.__name__
    return f"{module}.{cls.__qualname__}"


def _register(cls: type[Layer]) -> None:
    if cls.__name__.startswith("_") or "<locals>" in cls.__qualname__:
        return
    name = registered_name(cls)
    known = LAYER_REGISTRY.get(name)
    if known is not None and known is not cls and "." not in name:
        raise RuntimeError(
            f"two rpnumpy layer classes are both called {name!r} ({known.__module__} and {cls.__module__}): "
            f"saved models could not tell them apart"
        )
    # A class defined outside rpnumpy may be defined again under the same name (a notebook cell run
    # twice): the newest definition is the one that loads.
    LAYER_REGISTRY[name] = cls


class Layer:
    """Base class of all layers.

    Subclasses implement ``_forward(x) -> (y, cache)`` and ``_backward(dy, cache) -> dx``
    (filling ``grads``), optionally ``_param_backward(dy, cache)`` (``grads`` only, see the
    module docstring), and ``get_config()`` if they take constructor arguments.
    Parameter-free element-wise layers set ``dtype = None`` and accept either float dtype.

    Attributes
    ----------
    params : dict of str to ndarray
        Trainable arrays.
    grads : dict of str to ndarray
        Gradients of the loss with respect to ``params``, same keys.
    buffers : dict of str to ndarray
        Fixed (random) arrays; not trainable.
    dtype : numpy.dtype or None
        The float dtype of the layer's arrays and of the inputs it accepts.
    """

    #: Number of input dimensions ``forward`` accepts (None: any).
    input_ndim: ClassVar[int | tuple[int, ...] | None] = 2

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls)

    def __init__(self, dtype: Any = None) -> None:
        self.dtype = None if dtype is None else check_dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self._cache: Any = _NO_CACHE
        self._output: tuple[tuple[int, ...], np.dtype] | None = None

    # -- the contract -------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Compute the layer's output and keep what ``backward`` needs.

        Parameters
        ----------
        x : ndarray
            A batch of inputs, float32 or float64 (the layer's dtype).

        Returns
        -------
        ndarray
            The output batch, in the same dtype.
        """
        self._check_input(x)
        y, self._cache = self._forward(x)
        self._output = (y.shape, y.dtype)
        return y

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Back-propagate ``dy = dL/dy``: fill ``grads`` and return ``dL/dx``.

        Parameters
        ----------
        dy : ndarray
            Gradient of the loss with respect to the last ``forward`` output: the same shape
            and dtype as that output.
        input_grad : bool, default=True
            If False the input gradient is not computed and None is returned.
            The first layer of a network needs no ``dL/dx``; for a dense layer
            that saves one of its three matrix products.

        Returns
        -------
        ndarray or None
        """
        self._check_dy(dy)
        if input_grad:
            return self._backward(dy, self._cache)
        if self.params:
            self._param_backward(dy, self._cache)
        return None

    def inference_function(self) -> Callable[[np.ndarray], np.ndarray]:
        r"""A function ``f(x)`` computing this layer's output for inference, with no cache kept.

        ``f(x)`` equals ``forward(x)`` up to floating-point rounding but never touches the cache
        (a ``backward`` after it still uses the last ``forward``), and it may take a faster route
        prepared once when the function is built: a layer whose fixed random matrix and trainable
        vectors combine into one weight folds them (:class:`~rpnumpy.layers.PRP`:
        :math:`W_{eff} = P \odot \alpha w^\top`; :class:`~rpnumpy.layers.HalfLayer`:
        :math:`R \odot u`), so that a batch costs one matrix product and a bias. The function
        holds the parameters of the moment it was built: build it again after training changes
        them. :func:`rpnumpy.training.predict` and :func:`~rpnumpy.training.evaluate` build it
        once per call.

        Returns
        -------
        callable
            ``f(x) -> y``, checking ``x`` as ``forward`` does.
        """

        def run(x: np.ndarray) -> np.ndarray:
            self._check_input(x)
            return self._forward(x)[0]

        return run

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement _forward(x) -> (y, cache)")

    def _backward(self, dy: np.ndarray, cache: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement _backward(dy, cache) -> dx")

    def _param_backward(self, dy: np.ndarray, cache: Any) -> None:
        """Fill ``grads`` without the input gradient; by default the whole ``_backward``, dx dropped."""
        self._backward(dy, cache)

    # -- checks ---------------------------------------------------------------
    def _check_input(self, x: np.ndarray) -> None:
        check_float_array(x, "x", ndim=self.input_ndim, dtype=self.dtype)
        d_in = getattr(self, "d_in", None)  # layers with a fixed input width declare it as d_in
        if d_in is not None and x.ndim == 2 and x.shape[1] != d_in:
            raise ValueError(f"x has {x.shape[1]} features but the layer expects d_in={d_in}")

    def _check_dy(self, dy: np.ndarray) -> None:
        if self._cache is _NO_CACHE or self._output is None:
            raise RuntimeError(f"{type(self).__name__}.backward was called before forward")
        shape, dtype = self._output
        check_float_array(dy, "dy", dtype=dtype)
        if dy.shape != shape:
            raise ValueError(
                f"dy must have the shape of the last output of {type(self).__name__}, {shape}, got {dy.shape}"
            )

    # -- bookkeeping --------------------------------------------------------
    def _add_param(self, name: str, value: np.ndarray) -> None:
        """Register a trainable array and allocate its gradient once."""
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    @property
    def n_params(self) -> int:
        """Number of trainable scalars."""
        return sum(p.size for p in self.params.values())

    @property
    def n_buffer_values(self) -> int:
        """Number of fixed (non-trainable) scalars in ``buffers``."""
        return sum(b.size for b in self.buffers.values())

    @property
    def buffer_grads(self) -> dict[str, np.ndarray]:
        """The update each buffer receives: exactly zero, because buffers are not parameters.

        Nothing is computed to produce it: no matrix product is spent on a
        gradient for a fixed random matrix, and no optimizer ever sees one.
        The true sensitivity of the loss to a buffer is generally *not* zero;
        layers that teach the difference offer it separately.
        """
        return {key: np.zeros_like(value) for key, value in self.buffers.items()}

    @property
    def rebuildable_buffers(self) -> set[str]:
        """Buffers that ``from_config(get_config())`` rebuilds bit for bit (from their seeds).

        Saved models store every other buffer (one built from data, say).
        """
        return set(self.buffers)

    def zero_grad(self) -> None:
        """Set every gradient to zero in place."""
        for g in self.grads.values():
            g.fill(0)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as JSON-serialisable values.

        Together with ``params`` this fully determines the layer: fixed random
        matrices are rebuilt from the seeds recorded here.
        """
        return {} if self.dtype is None else {"dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Build a layer from ``get_config()``'s output (parameters freshly initialised)."""
        return cls(**config)

    #: Config keys the layer has renamed, old -> new: older model files that use them still load.
    RENAMED_CONFIG_KEYS: ClassVar[dict[str, str]] = {}

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int] | None:
        """``(trainable values, fixed values)`` of a layer built from ``config``, computed without building it.

        :func:`layer_from_config` checks them against a limit, and :func:`rpnumpy.io.load_model`
        the trainable count against the parameters a file stores, before anything is allocated.
        Every layer of rpnumpy answers; the default, None, means "unknown" (a class defined
        elsewhere is then built without the check). Raises ``ValueError``/``TypeError`` for a
        size that is not a positive int.
        """
        return None

    def astype(self, dtype: Any) -> Layer:
        """Return a copy of the layer with parameters and buffers in ``dtype``.

        Buffers are rebuilt from their seeds, so a float32 layer converted to
        float64 uses the same random matrix (drawn in float64, never a widened
        float32 copy). Used to gradient-check in float64 a model trained in
        float32.
        """
        dtype = check_dtype(dtype)
        config = self.get_config()
        if self.dtype is not None:
            config["dtype"] = dtype.name
        new = type(self).from_config(config)
        for key, value in self.params.items():
            np.copyto(new.params[key], value, casting="unsafe")
        for key in set(self.buffers) - self.rebuildable_buffers:
            np.copyto(new.buffers[key], self.buffers[key], casting="unsafe")
        return new

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def layer_spec(layer: Layer) -> dict[str, Any]:
    """``{"class": name, "config": {...}}``: what a model file records of ``layer``.

    Raises
    ------
    ValueError
        If the layer's class is not registered (a private class, or one defined inside a
        function), so that a file that could never be loaded is not written.
    """
    name = registered_name(type(layer))
    if LAYER_REGISTRY.get(name) is not type(layer):
        raise ValueError(
            f"layer class {type(layer).__qualname__} is not registered, so a saved model could not be loaded: "
            f"define it at the top level of a module, with a name that does not start with '_'"
        )
    return {"class": name, "config": layer.get_config()}


def config_dim(config: dict[str, Any], key: str, default: Any = None) -> int:
    """``config[key]`` (or ``default`` when absent) as a positive int, for :meth:`Layer.config_sizes`."""
    return check_positive_int(config.get(key, default), f"config[{key!r}]")


def _check_spec(spec: Any) -> tuple[type[Layer], dict[str, Any]]:
    """The registered class and the config of ``{"class": name, "config": {...}}``, or a ValueError."""
    if not isinstance(spec, dict) or "class" not in spec or "config" not in spec:
        raise ValueError(f"a layer spec must be a dict with keys 'class' and 'config', got {_short(spec)}")
    name = spec["class"]
    if not isinstance(name, str) or name not in LAYER_REGISTRY:
        hint = " (a class defined outside rpnumpy loads once its module has been imported)" if "." in str(name) else ""
        raise ValueError(f"unknown layer class {_short(name)}{hint}; rpnumpy's layers: "
                         f"{sorted(n for n in LAYER_REGISTRY if '.' not in n)}")
    config = spec["config"]
    if not isinstance(config, dict) or not all(isinstance(key, str) for key in config):
        raise ValueError(f"the config of layer {name} must be a dict with str keys, got {_short(config)}")
    private = sorted(key for key in config if key.startswith("_"))
    if private:
        raise ValueError(f"the config of layer {name} holds private entries {private}: a configuration sets "
                         f"only the arguments get_config() records")
    if "rng" in inspect.signature(LAYER_REGISTRY[name].__init__).parameters:
        seed = config.get("rng")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f"the config of layer {name} must record its seed as an int 'rng', got {_short(seed)}: "
                             f"without it every rebuild would draw different random matrices")
    return LAYER_REGISTRY[name], config


def _short(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters (configurations may be large or crafted)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Nested:
    """Counts the nesting of spec calls on this thread; refuses more than :data:`MAX_CONFIG_DEPTH` levels."""

    def __enter__(self) -> None:
        depth = getattr(_NESTING, "depth", 0) + 1
        if depth > MAX_CONFIG_DEPTH:
            raise ValueError(f"layer specs are nested more than MAX_CONFIG_DEPTH={MAX_CONFIG_DEPTH} levels deep")
        _NESTING.depth = depth

    def __exit__(self, *exc: Any) -> None:
        _NESTING.depth -= 1


def declared_sizes(spec: dict[str, Any]) -> tuple[int, int] | None:
    """``(trainable values, fixed values)`` that ``layer_from_config(spec)`` would allocate, or None if unknown.

    Computed from the configuration alone (:meth:`Layer.config_sizes`), nothing is built.

    Raises
    ------
    ValueError
        If the spec is not a valid spec of a registered layer (see :func:`layer_from_config`).
    """
    with _Nested():
        cls, config = _check_spec(spec)
        try:
            return cls.config_sizes(config)
        except TypeError as exc:
            raise ValueError(f"invalid config for layer {spec['class']}: {exc}") from exc


def layer_from_config(spec: dict[str, Any], *, max_values: int | None = None) -> Layer:
    """Rebuild a layer from ``{"class": name, "config": {...}}``.

    The spec is checked before anything is built: the class must be registered, the config may
    hold only public keys, must record the seed ``rng`` of a layer that takes one, and may nest
    at most :data:`MAX_CONFIG_DEPTH` levels; with ``max_values`` the sizes it declares
    (:func:`declared_sizes`) must not exceed that many values. After the build, every key must
    be one that ``get_config()`` writes (a key the layer would ignore is refused too).

    Parameters
    ----------
    spec : dict
    max_values : int, optional
        Most trainable plus fixed values the layer may hold.

    Raises
    ------
    ValueError
        If the class name is not a registered layer or the config does not fit its constructor
        or breaks one of the rules above.
    """
    with _Nested():
        cls, config = _check_spec(spec)
        name = spec["class"]
        if max_values is not None:
            try:
                sizes = cls.config_sizes(config)
            except TypeError as exc:
                raise ValueError(f"invalid config for layer {name}: {exc}") from exc
            if sizes is not None and sum(sizes) > max_values:
                raise ValueError(f"layer {name} would hold {sizes[0]:,} trainable and {sizes[1]:,} fixed values, "
                                 f"more than the limit of {max_values:,}")
        try:
            layer = cls.from_config(dict(config))
        except TypeError as exc:
            raise ValueError(f"invalid config for layer {name}: {exc}") from exc
        # Keys a layer renamed (its RENAMED_CONFIG_KEYS: old -> new) load from older files and count as recorded.
        unexpected = sorted(set(config) - set(layer.get_config()) - set(cls.RENAMED_CONFIG_KEYS))
        if unexpected:
            raise ValueError(f"the config of layer {name} holds {unexpected}, which the layer does not record "
                             f"(get_config() has {sorted(layer.get_config())})")
        return layer


class Sequential(Layer):
    """A chain of layers: ``forward`` runs them in order, ``backward`` in reverse.

    ``params``, ``grads`` and ``buffers`` expose every layer's arrays under
    keys ``"<index>.<name>"`` (``"0.W"``, ``"0.b"``, ``"2.W"``, ...). The
    dictionaries hold the layers' own arrays, not copies, so an optimizer
    built on a ``Sequential`` updates the layers directly.

    Parameters
    ----------
    *layers : Layer
        The layers, first to last.

    Examples
    --------
    >>> from rpnumpy.layers import Dense, ReLU, Sequential
    >>> model = Sequential(Dense(784, 256, rng=0), ReLU(), Dense(256, 10, rng=1))
    >>> model.n_params
    203530
    """

    input_ndim = None

    def __init__(self, *layers: Layer) -> None:
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a Layer, got {type(layer).__name__}")
        dtypes = {layer.dtype for layer in layers if layer.dtype is not None}
        if len(dtypes) > 1:
            names = sorted(d.name for d in dtypes)
            raise TypeError(f"all layers must share one dtype, got a mix of {names}")
        super().__init__(dtypes.pop() if dtypes else None)
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            for key in layer.params:
                self.params[f"{i}.{key}"] = layer.params[key]
                self.grads[f"{i}.{key}"] = layer.grads[key]
            for key in layer.buffers:
                self.buffers[f"{i}.{key}"] = layer.buffers[key]

    @property
    def rebuildable_buffers(self) -> set[str]:
        return {f"{i}.{key}" for i, layer in enumerate(self.layers) for key in layer.rebuildable_buffers}

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        # Every layer checks the gradient it receives, so the last one checks dy.
        for i in range(len(self.layers) - 1, -1, -1):
            dy = self.layers[i].backward(dy, input_grad=input_grad or i > 0)
        return dy

    def inference_function(self) -> Callable[[np.ndarray], np.ndarray]:
        steps = [layer.inference_function() for layer in self.layers]

        def run(x: np.ndarray) -> np.ndarray:
            for step in steps:
                x = step(x)
            return x

        return run

    def get_config(self) -> dict[str, Any]:
        return {"layers": [layer_spec(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        return cls(*[layer_from_config(spec) for spec in cls._layer_specs(config)])

    @staticmethod
    def _layer_specs(config: dict[str, Any]) -> list[Any]:
        layers = config.get("layers") if isinstance(config, dict) else None
        if not isinstance(layers, list):
            raise ValueError(f"a Sequential config must hold a list under 'layers', got {_short(config)}")
        return layers

    @classmethod
    def config_sizes(cls, config: dict[str, Any]) -> tuple[int, int] | None:
        sizes = [declared_sizes(spec) for spec in cls._layer_specs(config)]
        if any(size is None for size in sizes):
            return None
        return sum(size[0] for size in sizes), sum(size[1] for size in sizes)

    def astype(self, dtype: Any) -> Sequential:
        return Sequential(*[layer.astype(dtype) for layer in self.layers])

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner}\n)"

    def summary(self) -> str:
        """A table of layers with trainable and fixed value counts."""
        rows = [f"{'#':>3}  {'layer':<40} {'trainable':>12} {'fixed':>12}"]
        for i, layer in enumerate(self.layers):
            rows.append(f"{i:>3}  {type(layer).__name__:<40} {layer.n_params:>12,} {layer.n_buffer_values:>12,}")
        rows.append(f"{'':>3}  {'total':<40} {self.n_params:>12,} {self.n_buffer_values:>12,}")
        return "\n".join(rows)
