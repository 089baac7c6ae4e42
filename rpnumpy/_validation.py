"""Input validation shared by the whole library.

Every check raises before any work starts, with a message that names the
parameter, states the rule and shows the value received, in the style of
scikit-learn's validation messages::

    ValueError: d_out must be a positive int, got -3

Nothing here uses ``assert``: assertions vanish under ``python -O`` and give
the reader no hint of what was expected.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = [
    "as_generator",
    "as_real_array",
    "check_float_array",
    "check_open_unit",
    "check_points",
    "check_positive_ints",
    "check_seeds",
    "check_positive_int",
    "check_positive_float",
    "check_probability",
    "check_real",
    "check_real_vector",
    "check_seed",
    "check_dtype",
]

#: Floating dtypes a layer may be built with.
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 1, else raise.

    Booleans are refused even though ``bool`` is a subclass of ``int``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive int, got {value!r} of type {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a ``float`` if it is finite and > 0 (or >= 0), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    rule = ">= 0" if allow_zero else "> 0"
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {rule}, got {value!r}")
    return value


def check_real(value: Any, name: str) -> float:
    """Return ``value`` as a ``float`` if it is a finite real number, else raise.

    A non-number (booleans included) raises ``TypeError``; a non-finite
    number (``nan``, ``inf``) raises ``ValueError``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_real_vector(values: Any, name: str) -> np.ndarray:
    """A list, tuple or 1-D array of real numbers as a float64 vector, else a ``TypeError`` naming ``name``.

    Strings, booleans, nested sequences and complex numbers are refused (``np.asarray`` would turn
    ``"abc"`` into an error about floats that names nothing, and drop imaginary parts with a warning).
    """
    if isinstance(values, np.ndarray):
        ok = values.ndim == 1 and values.dtype.kind in "iuf"
    else:
        ok = isinstance(values, (list, tuple)) and all(
            isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values)
    if not ok:
        raise TypeError(f"{name} must be a list, tuple or 1-D array of real numbers, got {values!r}")
    return np.asarray(values, dtype=np.float64)


def check_probability(value: Any, name: str, *, allow_zero: bool = True, allow_one: bool = False) -> float:
    """Return ``value`` as a float in [0, 1) (endpoints as allowed), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    low_ok = value > 0 or (allow_zero and value == 0)
    high_ok = value < 1 or (allow_one and value == 1)
    if not (np.isfinite(value) and low_ok and high_ok):
        lo = "[0" if allow_zero else "(0"
        hi = "1]" if allow_one else "1)"
        raise ValueError(f"{name} must lie in {lo}, {hi}, got {value!r}")
    return value


def check_dtype(dtype: Any, name: str = "dtype") -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise ``TypeError``.

    None is refused too: ``np.dtype(None)`` would silently mean float64.
    """
    if dtype is None:
        raise TypeError(f"{name} must be float32 or float64, got None (np.dtype(None) would silently mean float64)")
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from exc
    if resolved not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {resolved}")
    return resolved


def check_seed(seed: Any, name: str = "seed") -> int:
    """Return ``seed`` as a Python int if it is an integer in [0, 2**63), else raise."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{name} must be a non-negative int (a random matrix is stored as its seed), "
            f"got {seed!r} of type {type(seed).__name__}"
        )
    if not 0 <= seed < 2**63:
        raise ValueError(f"{name} must lie in [0, 2**63), got {seed!r}")
    return int(seed)


def as_generator(rng: Any, name: str = "rng") -> np.random.Generator:
    """Normalise ``rng`` to a :class:`numpy.random.Generator` (Scientific Python SPEC 7).

    Parameters
    ----------
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` draws fresh entropy from the operating system; an int or a
        ``SeedSequence`` seeds a new PCG64 generator; a ``Generator`` is used
        as it is (and advanced by the caller's draws).
    name : str
        The parameter name shown in the error message.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise TypeError(
            f"{name} must be None, an int seed, a numpy.random.SeedSequence or a "
            f"numpy.random.Generator, got {rng!r} of type {type(rng).__name__}"
        )
    if rng < 0:
        raise ValueError(f"{name} must be a non-negative int seed, got {rng!r}")
    return np.random.default_rng(int(rng))


def seed_from(rng: Any, name: str = "rng") -> int:
    """Turn ``rng`` into one int seed, so that what it drives can be stored as that seed.

    An int is returned unchanged (after validation); a Generator or None
    yields a fresh seed drawn from it. Layers call this once at construction
    and then build every fixed random matrix from the returned seed, which is
    what lets a saved model store the seed instead of the matrix.
    """
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return check_seed(rng, name)
    return int(as_generator(rng, name).integers(0, 2**63 - 1))


def check_float_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtype: np.dtype | None = None,
) -> np.ndarray:
    """Check that ``x`` is a floating NumPy array of the expected rank and dtype.

    Nothing is converted: a float32 array stays float32 and an integer array
    is refused, because a silent cast would either hide a bug or cost a copy
    in a training loop.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must have dtype float32 or float64, got {x.dtype}; "
            f"convert it explicitly, e.g. {name}.astype(np.float32)"
        )
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype} but {dtype} was expected; dtypes are never "
            f"changed silently: convert the array or build the layer with dtype={x.dtype}"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in allowed:
            rule = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {rule} dimensions, got shape {x.shape}")
    return x


def check_points(x: Any, name: str) -> np.ndarray:
    """A 2-D float32/float64 array of finite values, one point per row (:func:`check_float_array` plus finiteness)."""
    x = check_float_array(x, name, ndim=2)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must hold finite values only, got {int(np.count_nonzero(~np.isfinite(x)))} NaN/inf")
    return x


def check_open_unit(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a real number in the open interval (0, 1), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    if not 0 < value < 1:  # also refuses NaN
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {value!r}")
    return float(value)


def check_seeds(seeds: Any, name: str = "seeds") -> list[int]:
    """A non-empty list of seeds, each checked by :func:`check_seed`."""
    checked = [check_seed(s, f"{name}[]") for s in seeds]
    if not checked:
        raise ValueError(f"{name} must hold at least one seed, got an empty sequence")
    return checked


def check_positive_ints(values: Any, name: str) -> np.ndarray:
    """A non-empty sequence of positive ints (booleans refused), as an int64 array."""
    as_list = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if not as_list:
        raise ValueError(f"{name} must hold at least one value, got an empty sequence")
    for value in as_list:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must hold positive ints, got {value!r} in {as_list!r}")
    return np.array(as_list, dtype=np.int64)


def describe_bad(values: np.ndarray, bad: np.ndarray, original: Any) -> str:
    """The offending value(s) for an error message: the value itself if scalar, else the first few."""
    if np.ndim(original) == 0:
        return repr(original)
    shown = values[bad].ravel()[:5].tolist()
    more = " ..." if int(np.count_nonzero(bad)) > 5 else ""
    return f"{shown}{more} (at {int(np.count_nonzero(bad))} of {values.size} positions)"


def as_real_array(value: Any, name: str) -> np.ndarray:
    """``value`` as an integer or floating array; booleans, complex numbers and non-numbers raise ``TypeError``.

    An object array of Python ints (beyond the int64 range) becomes float64.
    """
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise TypeError(f"{name} must be a real number or an array of them, got {value!r}") from exc
    if array.dtype == object and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in array.ravel().tolist()
    ):
        array = array.astype(np.float64)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"{name} must be a real number or an array of them, got {value!r} of dtype {array.dtype}")
    return array
