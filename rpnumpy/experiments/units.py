"""Units of work: the resumable pieces a chapter is made of.

A *unit* is one call ``run_unit(config) -> result`` of a pure function: ``config`` is a
JSON-serialisable dict (data set, model name, seed, epochs, ...) and so is the result. The
runner stores every finished unit as ``<report folder>/units/<name>-<key>.json``, where the key
is a hash of the function's name, the config and ``rpnumpy.__version__``; the file is written
atomically (a temporary file, then a rename), so an interrupted run loses at most the unit in
progress, and a rerun reads what is done instead of recomputing it.

The results a chapter renders always come from the stored JSON (a fresh result is written,
then read back), so a report is the same whether its units ran in one go or over several
interrupted runs. Wall-clock times are kept in the unit files (``"seconds"``) and in
``run.log``, never in the report body, unless they are the measured quantity of a unit.

Units may need data or another unit's result: :func:`dataset` loads a data set once per process
(from the run's data folder), :func:`result_of` gives another unit's result (stored, or computed
and stored now), and :func:`artifact_dir` is a folder for files a unit writes beside its result
(a trained model, for instance) that a later unit reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Environment",
    "Progress",
    "Unit",
    "UnitStore",
    "artifact_dir",
    "dataset",
    "environment",
    "jsonable",
    "result_of",
    "unit_key",
]

UnitFunction = Callable[[dict[str, Any]], dict[str, Any]]


def _version() -> str:
    from .. import __version__

    return __version__


def function_name(function: UnitFunction) -> str:
    """``module.qualname`` without the ``rpnumpy.experiments.`` prefix: the stable name of a unit's kind."""
    name = f"{function.__module__}.{function.__qualname__}"
    return name.removeprefix("rpnumpy.experiments.")


def jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays, tuples and non-string keys turned into plain JSON types."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def unit_key(function: UnitFunction, config: dict[str, Any], version: str | None = None) -> str:
    """The file name (without ``.json``) of a unit: ``<short name>-<16 hex digits of SHA-256>``.

    The hash covers the function's name, the config (keys sorted) and the library version, so
    a change to any of them makes a new unit instead of reusing a stale one.
    """
    name = function_name(function)
    text = json.dumps({"function": name, "config": jsonable(config), "version": version or _version()},
                      sort_keys=True)
    short = name.rsplit(".", 2)[-2:]
    return "-".join(short).replace("_", "-") + "-" + hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Unit:
    """One unit of work: ``function(config)``, with its expected cost (any positive weight, about seconds)."""

    function: UnitFunction
    config: dict[str, Any]
    cost: float = 1.0
    label: str = ""

    @property
    def key(self) -> str:
        return unit_key(self.function, self.config)

    def describe(self) -> str:
        return self.label or function_name(self.function).rsplit(".", 1)[-1] + " " + json.dumps(self.config)[:60]


class UnitStore:
    """The stored units of one report folder: ``<folder>/units/<key>.json``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder) / "units"

    def path(self, unit: Unit) -> Path:
        return self.folder / f"{unit.key}.json"

    def load(self, unit: Unit) -> dict[str, Any] | None:
        """The stored result of ``unit``, or None if it has not finished (or its file does not match it)."""
        path = self.path(unit)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if record.get("config") != jsonable(unit.config) or record.get("version") != _version():
            return None
        return record["result"]

    def save(self, unit: Unit, result: dict[str, Any], seconds: float) -> dict[str, Any]:
        """Write the unit's record atomically and return the result as read back from JSON."""
        record = {"function": function_name(unit.function), "config": jsonable(unit.config), "version": _version(),
                  "seconds": round(seconds, 3), "result": jsonable(result)}
        text = json.dumps(record, indent=1, allow_nan=True)  # dict order kept: it is the order of the tables
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{unit.key}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path(unit))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return json.loads(text)["result"]

    def clear(self) -> None:
        """Remove every stored unit (``--fresh``)."""
        if self.folder.exists():
            for path in self.folder.iterdir():
                if path.is_file():
                    path.unlink()


@dataclass
class Environment:
    """Where units find their data and store their files; set by the runner, not part of any unit's key."""

    out_dir: Path = Path("reports")
    data_dir: str | None = None
    download: bool = True
    store: UnitStore | None = None
    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    data: dict[tuple, tuple] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


_ENV = Environment()


def environment(env: Environment | None = None) -> Environment:
    """The current environment; with an argument, install it (and return it)."""
    global _ENV
    if env is not None:
        _ENV = env
    return _ENV


def dataset(name: str, subset: Iterable[int] | None = None) -> tuple:
    """``(x_train, y_train, x_test, y_test)`` of a data set, the first ``subset = (n_train, n_test)`` rows if given.

    Loaded once per process from the run's data folder.
    """
    from ..datasets import load_dataset

    subset = tuple(subset) if subset else None
    # Where the loaders look is part of the key: the data folder, and the variables of their usual look-up.
    source = (_ENV.data_dir, os.environ.get("RPNUMPY_DATA"), os.environ.get("XDG_CACHE_HOME"))
    key, whole = (name, subset, source), (name, None, source)
    if key not in _ENV.data:
        if whole not in _ENV.data:
            _ENV.data[whole] = load_dataset(name, _ENV.data_dir, download=_ENV.download)
        data = _ENV.data[whole]
        if subset:
            n_train, n_test = subset
            data = (data[0][:n_train], data[1][:n_train], data[2][:n_test], data[3][:n_test])
        _ENV.data[key] = data
    return _ENV.data[key]


def artifact_dir() -> Path:
    """A folder for the files units write beside their results (``<report folder>/units/files``)."""
    folder = (_ENV.store.folder if _ENV.store else _ENV.out_dir / "units") / "files"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_unit(unit: Unit) -> dict[str, Any]:
    """The unit's result: read from the store if it is there, else computed, stored and read back."""
    store = _ENV.store
    if store is not None:
        stored = store.load(unit)
        if stored is not None:
            if unit.key not in _ENV.skipped and unit.key not in _ENV.computed:
                _ENV.skipped.append(unit.key)
            return stored
    start = time.perf_counter()
    result = unit.function(dict(unit.config))
    seconds = time.perf_counter() - start
    _ENV.computed.append(unit.key)
    _ENV.log.append(f"computed {unit.key} in {seconds:.1f} s: {unit.describe()}")
    if store is None:
        return json.loads(json.dumps(jsonable(result)))
    return store.save(unit, result, seconds)


def result_of(function: UnitFunction, config: dict[str, Any]) -> dict[str, Any]:
    """Another unit's result, from the store or computed (and stored) now: how a unit depends on another."""
    return run_unit(Unit(function, config))


class Progress:
    """One display for a whole run: a tqdm bar on a terminal, else a status line every ``interval`` seconds.

    Steps are units weighted by their expected cost, each counted once (by its file); the units
    already stored when the run starts (``done``, their keys in ``done_keys``) count as done at
    once. The estimate of the time left scales the time spent per unit of cost on the units
    computed so far.
    """

    def __init__(self, total_cost: float, *, done: float = 0.0, done_keys: Iterable[str] = (), enabled: bool = True,
                 interval: float = 30.0, stream: Any = None) -> None:
        self.total, self.done, self.enabled, self.interval = total_cost, done, enabled, interval
        self.counted = set(done_keys)
        self.stream = stream or sys.stderr
        self.start = self.last = time.monotonic()
        self.computed_cost, self.computed_seconds = 0.0, 0.0
        self.bar = None
        if enabled and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=round(total_cost, 1), initial=round(done, 1), unit="cost", file=self.stream,
                            dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} [{elapsed}<{remaining}] {postfix}")
        elif enabled:
            print(f"[0m00s] {self._percent()} done at the start (units stored by an earlier run), status every "
                  f"{interval:g} s", file=self.stream, flush=True)

    def _percent(self) -> str:
        return f"{100 * self.done / self.total:.0f}%" if self.total > 0 else "100%"

    def remaining(self) -> float | None:
        """Seconds left at the rate of the units computed so far (None before the first)."""
        if self.computed_cost <= 0:
            return None
        return (self.total - self.done) * self.computed_seconds / self.computed_cost

    def advance(self, key: str, cost: float, seconds: float | None, label: str) -> None:
        """Unit ``key`` finished (``seconds`` None: it was read from the store); a unit already counted is ignored."""
        if key in self.counted:
            return
        self.counted.add(key)
        self.done += cost
        if seconds is not None:
            self.computed_cost += cost
            self.computed_seconds += seconds
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(label[:40], refresh=False)
            self.bar.update(cost)
            return
        now = time.monotonic()
        if now - self.last >= self.interval or self.done >= self.total - 1e-9:
            self.last = now
            left = self.remaining()
            eta = "unknown" if left is None else _duration(left)
            print(f"[{_duration(now - self.start)}] {self._percent()} done, "
                  f"about {eta} left; last: {label}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def run_units(units: list[Unit], progress: Progress | None = None) -> list[dict[str, Any]]:
    """Run (or read back) every unit in order; their results in the same order."""
    results = []
    for unit in units:
        before = len(_ENV.computed)
        start = time.perf_counter()
        results.append(run_unit(unit))
        if progress is not None:
            fresh = len(_ENV.computed) > before
            key = str(_ENV.store.path(unit)) if _ENV.store else unit.key
            progress.advance(key, unit.cost, time.perf_counter() - start if fresh else None, unit.describe())
    return results
