"""Faster forms of algorithms whose plain, textbook forms live elsewhere in rpnumpy.

Read the plain form first: every function and class here computes what its plain twin computes,
with fewer passes over memory, less allocation or a structured algorithm, and the tests check
that the two agree (bit for bit where the operations are the same, otherwise to a stated
tolerance). Where speed matters, rpnumpy uses these by default.

===========================  ====================================================  =========================
fast form                    plain form                                            where it is used
===========================  ====================================================  =========================
:class:`FusedAdam`           :class:`rpnumpy.optim.Adam`                           experiments, benchmarks
:class:`BatchBuffer`         fancy indexing ``x[rows]`` in :func:`~rpnumpy.training.fit`  ``fit`` (default)
:func:`fwht_blocked`         :func:`rpnumpy.hadamard.fwht` (radix 2)               :class:`~rpnumpy.hadamard.SRHT`
:func:`eugen_inference`      ``EUGen.forward`` without a cache                     ``EUGen.inference_function``
===========================  ====================================================  =========================
"""

import importlib
from typing import Any

#: Where each name lives; imported on first use, so that a module of rpnumpy can use one fast form
#: without importing the others (and the modules they depend on).
_PLACES = {
    "BatchBuffer": "batches",
    "FusedAdam": "optim",
    "eugen_inference": "eugen",
    "fwht_blocked": "hadamard",
}

__all__ = sorted(_PLACES)


def __getattr__(name: str) -> Any:
    if name not in _PLACES:
        raise AttributeError(f"module 'rpnumpy.fast' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_PLACES[name]}"), name)


def __dir__() -> list[str]:
    return __all__
