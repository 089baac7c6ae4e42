"""Old import paths that keep working for now, with a ``DeprecationWarning`` naming the new place."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "DEPRECATED_MODULES",
    "moved_attribute",
    "moved_names",
    "renamed_config_keys",
    "renamed_keywords",
    "warn_moved",
]

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


def moved_attribute(owner: str, old: str, new: str) -> property:
    """A read-only property ``old`` that warns and returns the attribute ``new`` (``owner`` names the class)."""

    def getter(self: Any) -> Any:
        warn_moved(f"{owner}.{old}", f"{owner}.{new}")
        return getattr(self, new)

    return property(getter, doc=f"Deprecated alias of ``{new}``.")


def renamed_keywords(
    owner: str, old_kwargs: Mapping[str, Any], renames: Mapping[str, tuple[str, Any, Any]]
) -> dict[str, Any]:
    """Resolve keyword arguments of ``owner`` that were renamed, accepting the old spelling with a warning.

    Parameters
    ----------
    owner : str
        The callable, as users write it (``"rpnumpy.layers.SNNK"``).
    old_kwargs : mapping
        The keywords the callable received beyond its own (its ``**kwargs``).
    renames : mapping
        ``{old name: (new name, value received under the new name, its default)}``.

    Returns
    -------
    dict
        ``{new name: value}``, the old spelling's value where only that was given.

    Raises
    ------
    TypeError
        For a keyword that is neither an old name nor known, and for both spellings at once.
    """
    unknown = sorted(set(old_kwargs) - set(renames))
    if unknown:
        raise TypeError(f"{owner}() got an unexpected keyword argument {unknown[0]!r}")
    values = {}
    for old, (new, value, default) in renames.items():
        if old in old_kwargs:
            if value is not default and value != default:
                raise TypeError(f"{owner}() got both {new}= and its old name {old}=; pass only {new}=")
            warn_moved(f"{owner}({old}=...)", f"{owner}({new}=...)", stacklevel=4)
            value = old_kwargs[old]
        values[new] = value
    return values


def renamed_config_keys(owner: str, config: Mapping[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """A saved config whose old keys are renamed to the new ones, so that files written before a rename load.

    A ``DeprecationWarning`` says which keys were old (saving the object again writes the new ones); its
    message does not say "has moved to", because the file, not the caller's code, holds the old name.
    """
    old = [key for key in renames if key in config]
    if not old:
        return dict(config)
    clashes = [key for key in old if renames[key] in config]
    if clashes:
        raise ValueError(f"a {owner} config must not hold both {clashes[0]!r} and {renames[clashes[0]]!r}")
    new = {renames.get(key, key): value for key, value in config.items()}
    warnings.warn(
        f"this {owner} config uses the old keys {old}, now {[renames[key] for key in old]}; it loads, and saving "
        f"it again writes the new keys",
        DeprecationWarning,
        stacklevel=3,
    )
    return new
