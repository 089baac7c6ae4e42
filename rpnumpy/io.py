"""Saving and loading models in one ``.npz`` file, without pickle.

File layout (a plain NumPy ``.npz`` archive, readable with ``np.load``)::

    format           0-d str array: "rpnumpy-model"
    format_version   0-d int array: 1
    config           0-d str array: JSON {"class": ..., "config": ...}
    param/<key>      one array per trainable parameter
    buffer/<key>     fixed random matrices, only if saved with store_buffers=True

A fixed random matrix is normally *not* stored: the configuration records its
kind, shape and seed, and loading rebuilds it bit for bit. ``store_buffers=True``
stores it anyway (for exchange with other code, or to measure what the seed
saves); on loading, a stored buffer must equal the rebuilt one, which catches a
file whose matrices do not match its seeds.

Loading never unpickles (a model file can never run code) and trusts nothing in the
file. Before any array is read, the archive's directory and every array's ``.npy``
header are checked: only the entries above are allowed, every header must declare
exactly the bytes its entry holds, and the whole must stay under ``max_bytes``. The
configuration is limited in length and nesting depth, and its sizes are computed from
it (:func:`rpnumpy.layers.base.declared_sizes`) and checked against ``max_bytes``
before the model is built; a model of more than 64 MiB is built only if the file
stores as many trainable values as its configuration declares. Only then are the
arrays read. :func:`save_model` refuses to write a model these limits would refuse.

Writing goes through :func:`rpnumpy._files.atomic_write`: to a temporary file in
the same folder that is renamed into place, so an interrupted save leaves no
half-written file; the temporary files of a killed save are removed by the next
save of the same file; an existing file keeps its permissions, and a symbolic link
is written through to its target.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write
from .layers.base import MAX_CONFIG_DEPTH, Layer, declared_sizes, layer_from_config, layer_spec

__all__ = [
    "MAX_CONFIG_CHARS",
    "MAX_MODEL_BYTES",
    "ArrayHeader",
    "ModelFileError",
    "check_archive_header",
    "load_model",
    "load_stored_arrays",
    "model_file_size",
    "read_npz_archive",
    "read_npz_entries",
    "save_model",
    "scan_npz_archive",
    "write_npz_atomically",
]

FORMAT_NAME = "rpnumpy-model"
FORMAT_VERSION = 1

#: Default limit of :func:`load_model`: bytes of the archive's arrays, and of the model's arrays counted
#: at 8 bytes a value, before anything is allocated.
MAX_MODEL_BYTES = 2**31
#: Longest JSON text a configuration entry may hold.
MAX_CONFIG_CHARS = 1_000_000
#: Most entries an archive may hold.
MAX_ENTRIES = 100_000
#: Deepest JSON nesting of a configuration: three levels per nested layer spec, with room for nested values.
MAX_JSON_DEPTH = 4 * MAX_CONFIG_DEPTH + 8

#: Bytes of arrays up to which a model is built before its parameters are counted (see load_model).
_BUILD_BEFORE_COUNTING = 2**26

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


class ModelFileError(ValueError):
    """A model file is missing, malformed or does not match its configuration."""


def save_model(model: Layer, path: str | os.PathLike, *, store_buffers: bool = False) -> Path:
    """Save ``model``'s configuration and parameters (and optionally buffers) to ``path``.

    Parameters
    ----------
    model : Layer
    path : str or path-like
        Written as given (no ``.npz`` is appended).
    store_buffers : bool, default=False
        Also store the fixed random matrices that their seeds rebuild. Buffers
        that cannot be rebuilt from the configuration (a matrix built from
        training data, say) are always stored.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"model must be a rpnumpy Layer, got {type(model).__name__}")
    path = Path(path)
    spec = layer_spec(model)
    text = json.dumps(spec)
    # A file that load_model would refuse is not written.
    if _layer_depth(spec) > MAX_CONFIG_DEPTH or _json_depth(text) > MAX_JSON_DEPTH or len(text) > MAX_CONFIG_CHARS:
        raise ValueError(f"model nests layers {_layer_depth(spec)} deep in a configuration of {len(text):,} "
                         f"characters; a model file allows MAX_CONFIG_DEPTH={MAX_CONFIG_DEPTH} levels of layers, "
                         f"{MAX_JSON_DEPTH} of JSON and {MAX_CONFIG_CHARS:,} characters")
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT_NAME),
        "format_version": np.array(FORMAT_VERSION),
        "config": np.array(text),
    }
    arrays.update({f"param/{k}": v for k, v in model.params.items()})
    rebuildable = model.rebuildable_buffers
    arrays.update({f"buffer/{k}": v for k, v in model.buffers.items() if store_buffers or k not in rebuildable})
    return write_npz_atomically(path, arrays)


def write_npz_atomically(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically (:func:`rpnumpy._files.atomic_write`).

    The file appears complete or not at all: an error (or an interrupt) midway leaves no
    half-written file and no temporary behind, and a killed writer's temporary file is removed by
    the next write of the same file. An existing file keeps its permissions; a symbolic link is
    written through to its target.
    """
    return atomic_write(path, lambda handle: np.savez(handle, **arrays))


def load_model(path: str | os.PathLike, *, max_bytes: int = MAX_MODEL_BYTES) -> Layer:
    """Load a model saved by :func:`save_model`.

    Everything is checked before it is allocated (see the module docstring): a file can make
    this function allocate at most about ``max_bytes`` (a few times that while rebuilding
    random matrices), whatever it declares.

    Parameters
    ----------
    path : str or path-like
    max_bytes : int, default=:data:`MAX_MODEL_BYTES` (2 GiB)
        Limit on the archive's arrays and on the model's arrays (counted at 8 bytes a value).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not an rpnumpy model archive, holds unknown entries, declares more than it
        holds or more than ``max_bytes``, its configuration is not valid (too long, too deep, sizes
        that do not match the stored parameters, a missing seed), a parameter is missing, extra,
        or has the wrong shape or dtype, or a stored buffer differs from the one its seed rebuilds.
    """
    where = str(path)
    headers = scan_npz_archive(path, error=ModelFileError, kind="model file", max_bytes=max_bytes,
                               allowed=lambda key: key in _MODEL_HEADER or key.startswith(("param/", "buffer/")))
    for key in _MODEL_HEADER:
        if key not in headers:
            raise ModelFileError(f"{where} is not an rpnumpy model file: the entry {key!r} is missing")
    contents = read_npz_entries(path, headers, _MODEL_HEADER, error=ModelFileError)
    spec = check_archive_header(contents, format_name=FORMAT_NAME, format_version=FORMAT_VERSION, spec_key="config",
                                error=ModelFileError, where=where)
    params = {k[len("param/"):]: h for k, h in headers.items() if k.startswith("param/")}
    buffers = {k[len("buffer/"):]: h for k, h in headers.items() if k.startswith("buffer/")}
    try:
        sizes = declared_sizes(spec)
    except ValueError as exc:
        raise ModelFileError(f"{where}: the config does not describe a valid model: {exc}") from exc
    if sizes is not None:
        if 8 * sum(sizes) > max_bytes:
            raise ModelFileError(f"{where}: the model would hold {sum(sizes):,} values, more than max_bytes="
                                 f"{max_bytes:,} allows (8 bytes a value); pass a larger max_bytes to load it")
        stored = sum(h.size for h in params.values())
        # A small model is built and its parameters compared name by name (the clearer message); a large
        # one only if the file stores as many trainable values as its config declares.
        if sizes[0] != stored and 8 * sum(sizes) > _BUILD_BEFORE_COUNTING:
            raise ModelFileError(f"{where}: the config declares {sizes[0]:,} trainable values but the file stores "
                                 f"{stored:,}: the parameters do not belong to the config")
    try:
        model = layer_from_config(spec, max_values=max_bytes // 8)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: the config does not describe a valid model: {exc}") from exc
    _check_stored(model, params, buffers, error=ModelFileError, where=where)  # shapes and dtypes, nothing read yet
    arrays = read_npz_entries(path, headers, [k for k in headers if k not in _MODEL_HEADER], error=ModelFileError)
    return _model_from_arrays(model, arrays, where)


#: The entries of a model file besides its arrays.
_MODEL_HEADER = ("format", "format_version", "config")


@dataclass(frozen=True)
class ArrayHeader:
    """What the ``.npy`` header of one archive entry declares, read without reading the array."""

    member: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize


def scan_npz_archive(
    path: str | os.PathLike,
    *,
    error: type[Exception],
    kind: str,
    max_bytes: int = MAX_MODEL_BYTES,
    allowed: Callable[[str], bool] | None = None,
) -> dict[str, ArrayHeader]:
    """The ``.npy`` header of every entry of the archive ``path``, checked, without reading any array.

    Refused with ``error``: a file that is no zip archive (a single ``.npy`` array, say); more than
    :data:`MAX_ENTRIES` entries; an entry that is not a ``.npy`` array, appears twice, or is not
    ``allowed``; an object (pickled) dtype; a header that declares other than exactly the bytes its
    entry holds (an ``.npy`` header declaring terabytes); arrays of more than ``max_bytes`` in all.

    Parameters
    ----------
    path : str or path-like
    error : type of Exception
        Raised (from the underlying exception, if any) for a file that exists but is refused.
    kind : str
        What the file should be, for the messages: ``"model file"``, ``"exchange file"``.
    max_bytes : int, default=:data:`MAX_MODEL_BYTES`
    allowed : callable, optional
        ``allowed(name) -> bool`` for every entry name (without ``.npy``); None allows any.

    Returns
    -------
    dict of str to ArrayHeader

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} at {path}")
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic == _NPY_MAGIC:
        raise error(f"{path} is a single .npy array, not an rpnumpy {kind} (a .npz archive)")
    if not magic.startswith(_ZIP_MAGIC):
        raise error(f"{path} is not a readable .npz archive: it does not start like a zip file")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ENTRIES:
                raise error(f"{path}: {len(infos):,} entries, more than an rpnumpy {kind} may hold ({MAX_ENTRIES:,})")
            names = [info.filename for info in infos]
            odd = sorted({n for n in names if not n.endswith(".npy") or names.count(n) > 1})
            if odd:
                raise error(f"{path}: entries {_shorten(odd)} are not .npy arrays or appear twice")
            unknown = sorted(n[:-4] for n in names if allowed is not None and not allowed(n[:-4]))
            if unknown:
                raise error(f"{path}: unknown entries {_shorten(unknown)}; an rpnumpy {kind} holds no others")
            total = sum(info.file_size for info in infos)
            if total > max_bytes:
                raise error(f"{path}: the archive's arrays take {total:,} bytes, more than max_bytes={max_bytes:,}")
            return {info.filename[:-4]: _read_header(archive, info, path, error) for info in infos}
    except (OSError, zipfile.BadZipFile, EOFError, ValueError, KeyError) as exc:
        if isinstance(exc, error):
            raise
        raise error(f"{path} is not a readable .npz archive: {exc}") from exc


def _shorten(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(n[:60]) for n in names[:limit])
    return f"[{shown}{', ...' if len(names) > limit else ''}] ({len(names)})"


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, error: type[Exception]) -> ArrayHeader:
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise error(f"{path}: entry {info.filename!r} is a .npy array of version {version}, not 1.0 or 2.0")
        header = ArrayHeader(info.filename, tuple(shape), np.dtype(dtype), bool(fortran))
        if header.dtype.hasobject:
            raise error(f"{path}: an array in the archive cannot be read: Object arrays cannot be loaded when "
                        f"allow_pickle=False (entry {info.filename!r}); a model file never holds pickled data")
        if member.tell() + header.nbytes != info.file_size:
            raise error(f"{path}: entry {info.filename!r} declares shape {header.shape} of {header.dtype} "
                        f"({header.nbytes:,} bytes) but holds {info.file_size - member.tell():,} bytes")
    return header


def read_npz_entries(
    path: str | os.PathLike, headers: dict[str, ArrayHeader], keys: Iterable[str], *, error: type[Exception]
) -> dict[str, np.ndarray]:
    """Read the entries ``keys`` of an archive scanned by :func:`scan_npz_archive` (``allow_pickle=False``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            contents = {}
            for key in keys:
                with archive.open(headers[key].member) as member:
                    contents[key] = np.lib.format.read_array(member, allow_pickle=False)
            return contents
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise error(f"{path}: an array in the archive cannot be read: {exc}") from exc


def read_npz_archive(
    path: str | os.PathLike,
    *,
    error: type[Exception],
    kind: str,
    max_bytes: int = MAX_MODEL_BYTES,
    allowed: Callable[[str], bool] | None = None,
) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive ``path``, read completely with ``allow_pickle=False``.

    :func:`scan_npz_archive` (with ``error``, ``kind``, ``max_bytes`` and ``allowed``) checks the
    archive first, then every entry is read: either every array is read, or ``error`` is raised and
    nothing is returned.

    Returns
    -------
    dict of str to ndarray
        The archive's entries by name.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    error
        If the file is refused by the scan or an array cannot be read.
    """
    headers = scan_npz_archive(path, error=error, kind=kind, max_bytes=max_bytes, allowed=allowed)
    return read_npz_entries(path, headers, headers, error=error)


def _layer_depth(spec: Any) -> int:
    """How deep layer specs are nested in ``spec`` (1 for a layer without sub-layers)."""
    depth, level = 0, [spec]
    while level:
        depth += 1
        level = [sub for item in level for sub in item.get("config", {}).get("layers", [])]
    return depth


def _json_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in a JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", re.sub(r'"(?:[^"\\]|\\.)*"', "", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def check_archive_header(
    contents: dict[str, np.ndarray],
    *,
    format_name: str,
    format_version: int,
    spec_key: str,
    error: type[Exception],
    where: str,
) -> Any:
    """Check an archive's ``format`` and ``format_version`` entries and parse its JSON entry ``spec_key``.

    The entries must be present (the caller checks that, with its own message).

    Parameters
    ----------
    contents : dict of str to ndarray
        As returned by :func:`read_npz_archive`.
    format_name : str
        The required 0-d string ``format``.
    format_version : int
        The required 0-d integer ``format_version``.
    spec_key : str
        The 0-d string entry holding JSON (``"config"``, ``"layer"``).
    error : type of Exception
        Raised on a mismatch.
    where : str
        The file, to start every message.

    Returns
    -------
    object
        The parsed JSON.
    """
    if contents["format"].shape != () or str(contents["format"]) != format_name:
        raise error(f"{where}: format must be {format_name!r}, got {_cut(repr(contents['format']))}")
    version = contents["format_version"]
    if version.shape != () or not np.issubdtype(version.dtype, np.integer) or int(version) != format_version:
        raise error(f"{where}: format_version must be {format_version}, got {_cut(repr(version))}")
    entry = contents[spec_key]
    if entry.shape != () or entry.dtype.kind != "U":
        raise error(f"{where}: the {spec_key} entry must be a 0-d str array, got shape {entry.shape} of {entry.dtype}")
    text = str(entry)
    if len(text) > MAX_CONFIG_CHARS:
        raise error(f"{where}: the {spec_key} entry holds {len(text):,} characters, more than {MAX_CONFIG_CHARS:,}")
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise error(f"{where}: the {spec_key} entry is nested {_json_depth(text)} levels deep, more than "
                    f"{MAX_JSON_DEPTH}")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise error(f"{where}: the {spec_key} entry is not valid JSON: {exc}") from exc


def _cut(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_stored_arrays(
    model: Layer,
    params: dict[str, np.ndarray],
    buffers: dict[str, np.ndarray],
    *,
    error: type[Exception],
    where: str = "",
    config_name: str = "the config",
    model_name: str = "the configured model",
) -> None:
    """Check stored parameters and buffers against ``model``; copy the parameters and unseeded buffers in.

    The checks, all before anything is copied: the parameter names are exactly the model's;
    every stored buffer is one of the model's; every stored array has its target's shape and
    dtype; every buffer that no seed rebuilds (``model.rebuildable_buffers``) is stored. Then the
    parameters and the stored buffers no seed rebuilds are copied into ``model``. What to do with
    a stored buffer that a seed rebuilds is the caller's policy (:func:`load_model` requires it to
    equal the rebuilt one; :mod:`rpnumpy.testing.exchange` uses it instead).

    Parameters
    ----------
    model : Layer
        Built from the file's configuration.
    params, buffers : dict of str to ndarray
        The file's ``param/*`` and ``buffer/*`` entries, without the prefix.
    error : type of Exception
        Raised on the first mismatch.
    where : str, optional
        The file, to start every message.
    config_name, model_name : str, default="the config", "the configured model"
        What the file's configuration and the model are called in the messages.
    """
    _check_stored(model, params, buffers, error=error, where=where, config_name=config_name, model_name=model_name)
    rebuildable = model.rebuildable_buffers
    for key, value in params.items():
        np.copyto(model.params[key], value)
    for key, value in buffers.items():
        if key not in rebuildable:
            np.copyto(model.buffers[key], value)


def _check_stored(
    model: Layer,
    params: dict[str, Any],
    buffers: dict[str, Any],
    *,
    error: type[Exception],
    where: str = "",
    config_name: str = "the config",
    model_name: str = "the configured model",
) -> None:
    """The checks of :func:`load_stored_arrays`; ``params`` and ``buffers`` need only ``shape`` and ``dtype``."""
    head = f"{where}: " if where else ""
    missing, extra = sorted(set(model.params) - set(params)), sorted(set(params) - set(model.params))
    if missing or extra:
        raise error(f"{head}parameters do not match {config_name} (missing {missing}, unexpected {extra})")
    unknown = sorted(set(buffers) - set(model.buffers))
    if unknown:
        raise error(f"{head}buffers {unknown} are not part of {model_name}")
    for kind, stored, targets in (("parameter", params, model.params), ("buffer", buffers, model.buffers)):
        for key, value in stored.items():
            target = targets[key]
            if value.shape != target.shape or value.dtype != target.dtype:
                raise error(
                    f"{head}{kind} {key!r} must have shape {target.shape} and dtype {target.dtype}, "
                    f"got shape {value.shape} and dtype {value.dtype}"
                )
    absent = sorted(set(model.buffers) - model.rebuildable_buffers - set(buffers))
    if absent:
        raise error(f"{head}buffers {absent} cannot be rebuilt from a seed and are missing from the file")


def _model_from_arrays(model: Layer, contents: dict[str, np.ndarray], where: str) -> Layer:
    """Copy a model file's arrays into ``model`` (built from its config) after checking the stored buffers."""
    stored_buffers = {k[len("buffer/"):]: v for k, v in contents.items() if k.startswith("buffer/")}
    load_stored_arrays(model, {k[len("param/"):]: v for k, v in contents.items() if k.startswith("param/")},
                       stored_buffers, error=ModelFileError, where=where)
    for key, value in stored_buffers.items():
        if key in model.rebuildable_buffers and not np.array_equal(value, model.buffers[key]):
            raise ModelFileError(
                f"{where}: stored buffer {key!r} differs from the matrix its seed rebuilds; "
                f"the file's matrices and configuration do not belong together"
            )
    return model


def model_file_size(model: Layer, *, store_buffers: bool = False) -> int:
    """Size in bytes of the file :func:`save_model` would write (written to a temporary folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        return save_model(model, Path(tmp) / "model.npz", store_buffers=store_buffers).stat().st_size

