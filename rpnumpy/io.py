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

Loading uses ``np.load(..., allow_pickle=False)``: a model file can never run
code. Writing goes to a temporary file in the same folder that is renamed into
place, so an interrupted save leaves no half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .layers.base import Layer, layer_from_config, layer_spec

__all__ = [
    "ModelFileError",
    "check_archive_header",
    "load_model",
    "load_stored_arrays",
    "model_file_size",
    "read_npz_archive",
    "save_model",
    "write_npz_atomically",
]

FORMAT_NAME = "rpnumpy-model"
FORMAT_VERSION = 1


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
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT_NAME),
        "format_version": np.array(FORMAT_VERSION),
        "config": np.array(json.dumps(spec)),
    }
    arrays.update({f"param/{k}": v for k, v in model.params.items()})
    rebuildable = model.rebuildable_buffers
    arrays.update({f"buffer/{k}": v for k, v in model.buffers.items() if store_buffers or k not in rebuildable})
    return write_npz_atomically(path, arrays)


def write_npz_atomically(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` through a temporary file in the same folder.

    The file appears complete or not at all: an error (or an interrupt) midway leaves no
    half-written file and no temporary behind.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load_model(path: str | os.PathLike) -> Layer:
    """Load a model saved by :func:`save_model`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        If the file is not an rpnumpy model archive, its configuration is not
        valid, a parameter is missing, extra, or has the wrong shape or dtype,
        or a stored buffer differs from the one its seed rebuilds.
    """
    contents = read_npz_archive(path, error=ModelFileError, kind="model file")
    return _model_from_arrays(contents, str(path))


def read_npz_archive(path: str | os.PathLike, *, error: type[Exception], kind: str) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive ``path``, read completely with ``allow_pickle=False``.

    Shared by :func:`load_model` and :func:`rpnumpy.testing.exchange.read_case`. Either every array is
    read, or ``error`` is raised and nothing is returned: a file that is no zip archive, a single
    ``.npy`` array, an archive with an object (pickled) or damaged array are all refused.

    Parameters
    ----------
    path : str or path-like
    error : type of Exception
        Raised (from the underlying exception) for a file that exists but cannot be read as an archive.
    kind : str
        What the file should be, for the messages: ``"model file"``, ``"exchange file"``.

    Returns
    -------
    dict of str to ndarray
        The archive's entries by name.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    error
        If the file is not a readable ``.npz`` archive.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} at {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise error(f"{path} is not a readable .npz archive: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a .npy file: np.load returned the array itself
        raise error(f"{path} is a single .npy array, not an rpnumpy {kind} (a .npz archive)")
    with archive:
        try:
            return {name: archive[name] for name in archive.files}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise error(f"{path}: an array in the archive cannot be read: {exc}") from exc


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
        raise error(f"{where}: format must be {format_name!r}, got {contents['format']!r}")
    version = contents["format_version"]
    if version.shape != () or not np.issubdtype(version.dtype, np.integer) or int(version) != format_version:
        raise error(f"{where}: format_version must be {format_version}, got {version!r}")
    try:
        return json.loads(str(contents[spec_key]))
    except json.JSONDecodeError as exc:
        raise error(f"{where}: the {spec_key} entry is not valid JSON: {exc}") from exc


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
    rebuildable = model.rebuildable_buffers
    absent = sorted(set(model.buffers) - rebuildable - set(buffers))
    if absent:
        raise error(f"{head}buffers {absent} cannot be rebuilt from a seed and are missing from the file")
    for key, value in params.items():
        np.copyto(model.params[key], value)
    for key, value in buffers.items():
        if key not in rebuildable:
            np.copyto(model.buffers[key], value)


def _model_from_arrays(contents: dict[str, np.ndarray], where: str) -> Layer:
    for key in ("format", "format_version", "config"):
        if key not in contents:
            raise ModelFileError(f"{where} is not an rpnumpy model file: the entry {key!r} is missing")
    spec = check_archive_header(contents, format_name=FORMAT_NAME, format_version=FORMAT_VERSION, spec_key="config",
                                error=ModelFileError, where=where)
    try:
        model = layer_from_config(spec)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: the config does not describe a valid model: {exc}") from exc
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

