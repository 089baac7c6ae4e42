"""Old import paths that keep working for now, with a ``DeprecationWarning`` naming the new place."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["DEPRECATED_MODULES", "moved_names", "warn_moved"]

#: Modules that only forward to their new place (importing one warns).
DEPRECATED_MODULES = (
    "rpnumpy.chapters",
    "rpnumpy.chapters.eugen",
    "rpnumpy.chapters.foundations",
    "rpnumpy.chapters.half",
    "rpnumpy.chapters.prp",
    "rpnumpy.chapters.snnk",
    "rpnumpy.exchange",
    "rpnumpy.layer_cases",
    "rpnumpy.report",
)


def warn_moved(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` (a module or a name) now lives at ``new``."""
    warnings.warn(f"{old} has moved to {new}; the old name will be removed in a later version",
                  DeprecationWarning, stacklevel=stacklevel)


def moved_names(module: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for names that moved out of ``module``.

    ``names`` maps each old name to ``"new.module:new_name"``; the value is imported when the old name
    is first read, with a warning.
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        target_module, _, target_name = names[name].partition(":")
        warn_moved(f"{module}.{name}", f"{target_module}.{target_name}")
        return getattr(importlib.import_module(target_module), target_name)

    return __getattr__
