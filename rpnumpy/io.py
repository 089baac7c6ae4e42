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

import numpy as np

from .layers.base import Layer, layer_from_config

__all__ = ["ModelFileError", "save_model", "load_model", "model_file_size", "write_npz_atomically"]

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
    spec = {"class": type(model).__name__, "config": model.get_config()}
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
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{path} is not a readable .npz archive: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ModelFileError(f"{path} is a single .npy array, not an rpnumpy model archive (.npz)")
    with archive:
        try:
            contents = {name: archive[name] for name in archive.files}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ModelFileError(f"{path}: an array in the archive cannot be read: {exc}") from exc
    return _model_from_arrays(contents, str(path))


def _model_from_arrays(contents: dict[str, np.ndarray], where: str) -> Layer:
    for key in ("format", "format_version", "config"):
        if key not in contents:
            raise ModelFileError(f"{where} is not an rpnumpy model file: the entry {key!r} is missing")
    if contents["format"].shape != () or str(contents["format"]) != FORMAT_NAME:
        raise ModelFileError(f"{where}: format must be {FORMAT_NAME!r}, got {contents['format']!r}")
    version = contents["format_version"]
    if version.shape != () or not np.issubdtype(version.dtype, np.integer) or int(version) != FORMAT_VERSION:
        raise ModelFileError(f"{where}: format_version must be {FORMAT_VERSION}, got {version!r}")
    try:
        spec = json.loads(str(contents["config"]))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{where}: the config entry is not valid JSON: {exc}") from exc
    try:
        model = layer_from_config(spec)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: the config does not describe a valid model: {exc}") from exc

    stored_params = {k[len("param/"):]: v for k, v in contents.items() if k.startswith("param/")}
    stored_buffers = {k[len("buffer/"):]: v for k, v in contents.items() if k.startswith("buffer/")}
    missing = sorted(set(model.params) - set(stored_params))
    extra = sorted(set(stored_params) - set(model.params))
    if missing or extra:
        raise ModelFileError(f"{where}: parameters do not match the config (missing {missing}, unexpected {extra})")
    unknown = sorted(set(stored_buffers) - set(model.buffers))
    if unknown:
        raise ModelFileError(f"{where}: buffers {unknown} are not part of the configured model")
    for key, value in stored_params.items():
        target = model.params[key]
        if value.shape != target.shape or value.dtype != target.dtype:
            raise ModelFileError(
                f"{where}: parameter {key!r} must have shape {target.shape} and dtype {target.dtype}, "
                f"got shape {value.shape} and dtype {value.dtype}"
            )
        np.copyto(target, value)
    rebuildable = model.rebuildable_buffers
    absent = sorted(set(model.buffers) - rebuildable - set(stored_buffers))
    if absent:
        raise ModelFileError(f"{where}: buffers {absent} cannot be rebuilt from a seed and are missing from the file")
    for key, value in stored_buffers.items():
        target = model.buffers[key]
        if value.shape != target.shape or value.dtype != target.dtype:
            raise ModelFileError(
                f"{where}: buffer {key!r} must have shape {target.shape} and dtype {target.dtype}, "
                f"got shape {value.shape} and dtype {value.dtype}"
            )
        if key not in rebuildable:
            np.copyto(target, value)
        elif not np.array_equal(value, target):
            raise ModelFileError(
                f"{where}: stored buffer {key!r} differs from the matrix its seed rebuilds; "
                f"the file's matrices and configuration do not belong together"
            )
    return model


def model_file_size(model: Layer, *, store_buffers: bool = False) -> int:
    """Size in bytes of the file :func:`save_model` would write (written to a temporary folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        return save_model(model, Path(tmp) / "model.npz", store_buffers=store_buffers).stat().st_size

