"""MNIST and Fashion-MNIST: where their files are, how they are checked, and the loaders.

Both data sets come as the same four gzip-compressed IDX files (see
:mod:`rpnumpy.datasets.idx`): training images and labels, test images and
labels, under the names in :data:`FILENAMES`. The data sets are never stored
in the repository. A loader looks for the four files in a short list of
folders (see :func:`candidate_dirs`), verifies every file it loads by the
sha256 of its *decompressed* contents (:data:`CHECKSUMS`), decompressing it
as a stream that stops at the file's known size (:data:`DECOMPRESSED_BYTES`,
so that a small corrupt file cannot make it inflate gigabytes), and, when the
files are nowhere to be found, downloads them from public mirrors
(:data:`MIRRORS`, through :mod:`rpnumpy.datasets.download`) into the user's
cache.

Look-up order for data set ``name`` (``"mnist"`` or ``"fashion-mnist"``):

1. ``<data_dir>/<name>/`` when ``data_dir`` is passed (then it is the only
   folder searched, and also where missing files are downloaded to);
2. ``$RPNUMPY_DATA/<name>/``;
3. the user's cache, ``$XDG_CACHE_HOME/rpnumpy/<name>/`` or
   ``~/.cache/rpnumpy/<name>/``;
4. for Fashion-MNIST only, ``/usr/share/datasets/fashion-mnist/`` where
   Debian's package ``dataset-fashion-mnist`` installs the four files.

The first folder that holds all four files is used. Each images file must
hold uint8 images of shape (n, 28, 28) and its labels file n uint8 labels;
the loaders return the images flattened to rows of 784 values scaled to
[0, 1] and the labels as int64.

Examples
--------
>>> from rpnumpy.datasets import load_mnist
>>> x_train, y_train, x_test, y_test = load_mnist()  # doctest: +SKIP
>>> x_train.shape, x_train.dtype, y_train.dtype  # doctest: +SKIP
((60000, 784), dtype('float32'), dtype('int64'))
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_dtype
from .download import DEFAULT_TIMEOUT, download_from_mirrors, gzip_size_bound
from .errors import DatasetError, DatasetNotFoundError, DownloadError
from .idx import GZIP_MAGIC, PathLike, parse_idx

__all__ = [
    "CHECKSUMS",
    "DATA_ENV_VAR",
    "DEBIAN_FASHION_MNIST_DIR",
    "DECOMPRESSED_BYTES",
    "FILENAMES",
    "MIRRORS",
    "MNIST_GZ_SHA256",
    "cache_dir",
    "candidate_dirs",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
]

#: Environment variable naming a folder that holds ``mnist/`` and/or ``fashion-mnist/``.
DATA_ENV_VAR = "RPNUMPY_DATA"

#: Where Debian's package ``dataset-fashion-mnist`` puts the four files (no sub-folder).
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

#: The four original file names, the same for both data sets.
FILENAMES: tuple[str, str, str, str] = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

#: Size of every file's decompressed contents, the same for both data sets: an IDX header (16 bytes for
#: images, 8 for labels) and one byte per pixel or label, 60,000 training and 10,000 test samples.
#: Reading and downloading stop at these sizes (a file of the original data sets is never larger).
DECOMPRESSED_BYTES: dict[str, int] = {
    "train-images-idx3-ubyte.gz": 16 + 60_000 * 28 * 28,
    "train-labels-idx1-ubyte.gz": 8 + 60_000,
    "t10k-images-idx3-ubyte.gz": 16 + 10_000 * 28 * 28,
    "t10k-labels-idx1-ubyte.gz": 8 + 10_000,
}

#: sha256 of the *decompressed* contents of every file, per data set. One rule
#: for both data sets: Debian recompresses Fashion-MNIST, so only the
#: decompressed bytes are the same everywhere.
CHECKSUMS: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

#: sha256 of the original MNIST ``.gz`` files, for reference only (loading
#: checks :data:`CHECKSUMS`, which does not depend on how a file was compressed).
MNIST_GZ_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: Base URLs tried in order when a file has to be downloaded.
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}

_PRETTY_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


# --------------------------------------------------------------------------- look-up


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or name not in CHECKSUMS:
        valid = ", ".join(repr(k) for k in CHECKSUMS)
        raise ValueError(f"name must be one of {valid}, got {name!r}")
    return name


def cache_dir() -> Path:
    """Return the user's cache folder for rpnumpy: ``$XDG_CACHE_HOME/rpnumpy`` or ``~/.cache/rpnumpy``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base.absolute() / "rpnumpy"


def candidate_dirs(name: str, data_dir: PathLike | None = None) -> list[Path]:
    """List the folders searched for data set ``name``, in look-up order.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
        The data set.
    data_dir : str or os.PathLike, optional
        A folder holding a ``<name>/`` sub-folder. When given, ``<data_dir>/<name>``
        is the only folder searched.

    Returns
    -------
    list of pathlib.Path
        Each entry is a folder that directly holds the four files: the
        explicit ``<data_dir>/<name>`` alone, or else ``$RPNUMPY_DATA/<name>``
        (when the variable is set), the cache's ``<name>`` sub-folder (see
        :func:`cache_dir`) and, for Fashion-MNIST, Debian's
        ``/usr/share/datasets/fashion-mnist``. Duplicates are dropped.
    """
    name = _check_name(name)
    if data_dir is not None:
        return [Path(data_dir).expanduser().absolute() / name]
    dirs: list[Path] = []
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        dirs.append(Path(env).expanduser().absolute() / name)
    dirs.append(cache_dir() / name)
    if name == "fashion-mnist":
        dirs.append(Path(DEBIAN_FASHION_MNIST_DIR))
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _missing(folder: Path) -> list[str]:
    return [f for f in FILENAMES if not (folder / f).is_file()]


# --------------------------------------------------------------------------- loading


def _describe(folders: Sequence[Path]) -> list[str]:
    """One status line per searched folder: missing folder or missing files."""
    lines = []
    for d in folders:
        status = "missing " + ", ".join(_missing(d)) if d.is_dir() else "folder does not exist"
        lines.append(f"  - {d} ({status})")
    return lines


def _not_found(
    name: str,
    searched: Sequence[Path],
    status: Sequence[str],
    attempts: Sequence[tuple[str, str]],
    *,
    download_to: Path,
    downloaded: bool,
    explicit: bool,
) -> DatasetNotFoundError:
    pretty = _PRETTY_NAMES[name]
    lines = [f"{pretty} files not found. Looked for {', '.join(FILENAMES)} in:", *status]
    if explicit:
        lines.append(f"data_dir was given, so only it was searched ({DATA_ENV_VAR} and the cache were not).")
    if downloaded:
        lines.append(f"Downloading into {download_to} failed. URLs tried:")
        lines.extend(f"  - {u}: {r}" for u, r in attempts)
    else:
        lines.append("No download was attempted (download=False).")
    lines.append(
        f"To get the files: set {DATA_ENV_VAR} to a folder that contains {name}/ holding the four "
        f"original file names (e.g. {DATA_ENV_VAR}=/path/to/data with /path/to/data/{name}/{FILENAMES[0]}), "
        f"or pass data_dir=, or run with network access and download=True so that they are "
        f"downloaded into {download_to}."
    )
    if name == "fashion-mnist":
        lines.append(
            "On Debian or Ubuntu, `apt-get install dataset-fashion-mnist` installs them into "
            f"{DEBIAN_FASHION_MNIST_DIR}/, which is searched too."
        )
    return DatasetNotFoundError("\n".join(lines), searched, attempts)


def _locate(
    name: str,
    data_dir: PathLike | None,
    *,
    download: bool,
    checksums: Mapping[str, str],
    mirrors: Sequence[str],
    timeout: float,
    progress: bool | None,
) -> Path:
    """Return the folder holding all four files, downloading them if allowed and needed."""
    searched = candidate_dirs(name, data_dir)
    for folder in searched:
        if not _missing(folder):
            return folder
    status = _describe(searched)
    target = searched[0] if data_dir is not None else cache_dir() / name
    explicit = data_dir is not None
    if not download:
        raise _not_found(name, searched, status, [], download_to=target, downloaded=False, explicit=explicit)
    existed = target.is_dir()
    attempts: list[tuple[str, str]] = []
    for filename in _missing(target):
        try:
            download_from_mirrors(
                filename,
                target,
                mirrors,
                sha256_decompressed=_expected_sha256(checksums, filename),
                timeout=timeout,
                progress=progress,
                max_bytes=gzip_size_bound(DECOMPRESSED_BYTES[filename]),
                max_decompressed=DECOMPRESSED_BYTES[filename],
            )
        except DownloadError as exc:
            attempts.extend(exc.attempts)
            if not existed:  # leave no empty folder behind either
                with contextlib.suppress(OSError):
                    target.rmdir()
            raise _not_found(
                name, searched, status, attempts, download_to=target, downloaded=True, explicit=explicit
            ) from exc
    return target


def _expected_sha256(checksums: Mapping[str, str], filename: str) -> str:
    checksum = checksums.get(filename)
    if not checksum:
        raise DatasetError(f"no pinned sha256 for {filename}; the checksum table has {sorted(checksums)}")
    return checksum.strip().lower()


def _read_capped(path: Path, max_bytes: int) -> bytearray:
    """The contents of ``path``, gunzipped if they start with gzip's magic bytes, read as a stream of at most
    ``max_bytes`` decompressed bytes; a larger file or a corrupt gzip stream raises ``DatasetError``."""
    with open(path, "rb") as raw:
        is_gz = raw.read(2) == GZIP_MAGIC
    buf = bytearray()
    try:
        with gzip.open(path, "rb") if is_gz else open(path, "rb") as stream:
            while chunk := stream.read(min(1 << 20, max_bytes + 1 - len(buf))):
                buf += chunk
                if len(buf) > max_bytes:
                    raise DatasetError(f"{path}: the contents are larger than the {max_bytes:,} bytes this file "
                                       f"holds in the original data set; reading stopped there")
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(
            f"{path}: corrupt gzip data: the file starts like a gzip file but cannot be "
            f"decompressed ({type(exc).__name__}: {exc})"
        ) from exc
    return buf


def _read_verified(path: Path, expected: str, max_bytes: int) -> np.ndarray:
    """Read an IDX file (at most ``max_bytes`` decompressed), verify the sha256 of its decompressed bytes."""
    advice = (
        f"Delete {path} and run again: with download=True the loader downloads a fresh copy "
        "(or copy the original file there)."
    )
    try:
        buf = _read_capped(path, max_bytes)
    except DatasetError as exc:
        raise DatasetError(f"{exc}. {advice}") from exc
    actual = hashlib.sha256(buf).hexdigest()
    if actual != expected:
        raise DatasetError(
            f"{path}: checksum mismatch: sha256 of the decompressed contents is {actual}, "
            f"expected {expected}. The file is corrupt or not the original. {advice}"
        )
    return parse_idx(buf, path)


def _read_split(
    folder: Path, img_file: str, lbl_file: str, checksums: Mapping[str, str], dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Read, verify and check one images/labels pair; return images as rows in [0, 1] and int64 labels."""
    img_path, lbl_path = folder / img_file, folder / lbl_file
    images = _read_verified(img_path, _expected_sha256(checksums, img_file), DECOMPRESSED_BYTES[img_file])
    labels = _read_verified(lbl_path, _expected_sha256(checksums, lbl_file), DECOMPRESSED_BYTES[lbl_file])
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetError(
            f"{img_path}: expected uint8 images of shape (n, 28, 28), "
            f"found {images.dtype.newbyteorder('=')} of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(
            f"{lbl_path}: expected uint8 labels of shape (n,), "
            f"found {labels.dtype.newbyteorder('=')} of shape {labels.shape}"
        )
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(
            f"image/label count mismatch: {img_path} holds {images.shape[0]} images "
            f"but {lbl_path} holds {labels.shape[0]} labels"
        )
    x = images.reshape(images.shape[0], 28 * 28).astype(dtype)
    np.divide(x, 255, out=x)
    return x, labels.astype(np.int64)


def _load(
    name: str,
    data_dir: PathLike | None = None,
    *,
    download: bool = True,
    dtype: Any = np.float32,
    checksums: Mapping[str, str] | None = None,
    mirrors: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shared loader; ``checksums`` (file name -> SHA-256 checksum) and ``mirrors`` default to the module tables."""
    name = _check_name(name)
    if dtype is None:  # np.dtype(None) would silently mean float64
        raise TypeError("dtype must be float32 or float64, got None")
    dtype = check_dtype(dtype, "dtype")
    checksums = CHECKSUMS[name] if checksums is None else checksums
    mirrors = MIRRORS[name] if mirrors is None else mirrors
    folder = _locate(
        name,
        data_dir,
        download=download,
        checksums=checksums,
        mirrors=mirrors,
        timeout=timeout,
        progress=progress,
    )
    x_train, y_train = _read_split(folder, FILENAMES[0], FILENAMES[1], checksums, dtype)
    x_test, y_test = _read_split(folder, FILENAMES[2], FILENAMES[3], checksums, dtype)
    return x_train, y_train, x_test, y_test


def load_mnist(
    data_dir: PathLike | None = None,
    *,
    download: bool = True,
    dtype: Any = np.float32,
    progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load MNIST, finding, verifying and if needed downloading the four original files.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        A folder holding ``mnist/`` with the four original files. When given
        it is the only folder searched, and missing files are downloaded into
        it. Otherwise the look-up order of :func:`candidate_dirs` applies and
        downloads go to the user's cache.
    download : bool, default True
        Download missing files from :data:`MIRRORS` (over the network).
    dtype : float32 or float64, default float32
        Dtype of the image arrays.
    progress : bool or None, default None
        Download progress bar: ``None`` shows it only on a terminal.

    Returns
    -------
    x_train : numpy.ndarray, shape (60000, 784)
        Training images, one flattened 28x28 image per row, scaled to [0, 1].
    y_train : numpy.ndarray of int64, shape (60000,)
        Training labels 0..9.
    x_test : numpy.ndarray, shape (10000, 784)
        Test images.
    y_test : numpy.ndarray of int64, shape (10000,)
        Test labels.

    Raises
    ------
    TypeError
        If ``dtype`` is not float32 or float64.
    DatasetNotFoundError
        If the files are found nowhere and cannot be downloaded; the message
        lists every folder searched and every URL tried, and says how to get them.
    DatasetError
        If a file fails verification (sha256 of the decompressed contents),
        is not a valid IDX file, or image and label counts disagree.
    """
    return _load("mnist", data_dir, download=download, dtype=dtype, progress=progress)


def load_fashion_mnist(
    data_dir: PathLike | None = None,
    *,
    download: bool = True,
    dtype: Any = np.float32,
    progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load Fashion-MNIST, finding, verifying and if needed downloading the four original files.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        A folder holding ``fashion-mnist/`` with the four original files. When given
        it is the only folder searched, and missing files are downloaded into
        it. Otherwise the look-up order of :func:`candidate_dirs` applies and
        downloads go to the user's cache.
    download : bool, default True
        Download missing files from :data:`MIRRORS` (over the network).
    dtype : float32 or float64, default float32
        Dtype of the image arrays.
    progress : bool or None, default None
        Download progress bar: ``None`` shows it only on a terminal.

    Returns
    -------
    x_train : numpy.ndarray, shape (60000, 784)
        Training images, one flattened 28x28 image per row, scaled to [0, 1].
    y_train : numpy.ndarray of int64, shape (60000,)
        Training labels 0..9.
    x_test : numpy.ndarray, shape (10000, 784)
        Test images.
    y_test : numpy.ndarray of int64, shape (10000,)
        Test labels.

    Raises
    ------
    TypeError
        If ``dtype`` is not float32 or float64.
    DatasetNotFoundError
        If the files are found nowhere and cannot be downloaded; the message
        lists every folder searched and every URL tried, and says how to get them.
    DatasetError
        If a file fails verification (sha256 of the decompressed contents),
        is not a valid IDX file, or image and label counts disagree.

    Notes
    -----
    Debian's ``apt-get install dataset-fashion-mnist`` installs the files into
    ``/usr/share/datasets/fashion-mnist/``, which is searched last.
    """
    return _load("fashion-mnist", data_dir, download=download, dtype=dtype, progress=progress)


def load_dataset(
    name: str,
    data_dir: PathLike | None = None,
    *,
    download: bool = True,
    dtype: Any = np.float32,
    progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load a data set by name: ``"mnist"`` or ``"fashion-mnist"``.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
        The data set.
    data_dir, download, dtype, progress
        As for :func:`load_mnist`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x_train, y_train, x_test, y_test)`` as for :func:`load_mnist`.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names).
    """
    return _load(_check_name(name), data_dir, download=download, dtype=dtype, progress=progress)
