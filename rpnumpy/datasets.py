"""MNIST and Fashion-MNIST: reading, verifying and downloading the original IDX files.

The data sets are never stored in the repository. A loader looks for the four
original files of a data set in a short list of folders (see
:func:`candidate_dirs`), verifies every file it loads by the sha256 of its
*decompressed* contents, and, when the files are nowhere to be found, downloads
them from public mirrors into the user's cache.

Look-up order for data set ``name`` (``"mnist"`` or ``"fashion-mnist"``):

1. ``<data_dir>/<name>/`` when ``data_dir`` is passed (then it is the only
   folder searched, and also where missing files are downloaded to);
2. ``$RPNUMPY_DATA/<name>/``;
3. the user's cache, ``$XDG_CACHE_HOME/rpnumpy/<name>/`` or
   ``~/.cache/rpnumpy/<name>/``;
4. for Fashion-MNIST only, ``/usr/share/datasets/fashion-mnist/`` where
   Debian's package ``dataset-fashion-mnist`` installs the four files.

The first folder that holds all four files is used.

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
import http.client
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._validation import check_dtype

__all__ = [
    "CHECKSUMS",
    "DATA_ENV_VAR",
    "DEBIAN_FASHION_MNIST_DIR",
    "FILENAMES",
    "MIRRORS",
    "MNIST_GZ_SHA256",
    "DatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "cache_dir",
    "candidate_dirs",
    "download_file",
    "download_from_mirrors",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "write_idx",
]

PathLike = str | os.PathLike

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

#: Seconds a download may wait on a connect or a read before it gives up.
DEFAULT_TIMEOUT = 30.0

_PRETTY_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20

# IDX type code -> big-endian NumPy dtype.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# (kind, itemsize) of a native dtype -> IDX type code.
_IDX_CODES: dict[tuple[str, int], int] = {(dt.kind, dt.itemsize): code for code, dt in _IDX_DTYPES.items()}
_IDX_KNOWN = ", ".join(f"0x{code:02X} ({dt.newbyteorder('=').name})" for code, dt in _IDX_DTYPES.items())


# --------------------------------------------------------------------------- errors


class DatasetError(ValueError):
    """A data file is missing, corrupt, not what it claims to be, or could not be downloaded."""


class DownloadError(DatasetError):
    """A download failed; nothing was left behind.

    Attributes
    ----------
    attempts : list of (str, str)
        Every URL tried, with the reason it failed, in the order tried.
    """

    def __init__(self, message: str, attempts: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.attempts: list[tuple[str, str]] = list(attempts)


class DatasetNotFoundError(DatasetError):
    """The files of a data set were found nowhere and could not be downloaded.

    Attributes
    ----------
    searched : list of pathlib.Path
        Every folder looked in, in look-up order.
    attempts : list of (str, str)
        Every URL tried, with the reason it failed (empty when no download was attempted).
    """

    def __init__(
        self, message: str, searched: Sequence[Path] = (), attempts: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(message)
        self.searched: list[Path] = list(searched)
        self.attempts: list[tuple[str, str]] = list(attempts)


# --------------------------------------------------------------------------- IDX format


def _decompress(raw: bytes, source: object) -> bytes:
    """Return ``raw`` gunzipped if it starts with the gzip magic bytes, else ``raw`` itself."""
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(
            f"{source}: corrupt gzip data: the file starts like a gzip file but cannot be "
            f"decompressed ({type(exc).__name__}: {exc})"
        ) from exc


def _parse_idx(buf: bytes, source: object, *, suffix_gz: bool = False) -> np.ndarray:
    """Parse IDX bytes into a read-only, big-endian view of ``buf`` (no copy)."""
    n = len(buf)
    if n < 4:
        raise DatasetError(
            f"{source}: truncated header: an IDX file starts with a 4-byte magic number, "
            f"but only {n} byte(s) were found"
        )
    if buf[0] != 0 or buf[1] != 0:
        hint = " (the name ends in .gz but the content is not gzip-compressed)" if suffix_gz else ""
        raise DatasetError(
            f"{source}: wrong magic number: an IDX file must start with two zero bytes, "
            f"found 0x{buf[0]:02X} 0x{buf[1]:02X}; this is not an IDX file{hint}"
        )
    code, ndim = buf[2], buf[3]
    dtype = _IDX_DTYPES.get(code)
    if dtype is None:
        raise DatasetError(
            f"{source}: wrong magic number: unknown IDX type code 0x{code:02X}; known codes are {_IDX_KNOWN}"
        )
    if ndim == 0:
        raise DatasetError(f"{source}: invalid IDX header: the number of dimensions must be >= 1, found 0")
    header = 4 + 4 * ndim
    if n < header:
        raise DatasetError(
            f"{source}: truncated header: {ndim} dimension(s) need a {header}-byte header, "
            f"but the file holds only {n} byte(s)"
        )
    shape = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    count = 1
    for d in shape:
        count *= d
    expected = count * dtype.itemsize
    found = n - header
    if found != expected:
        what = "truncated payload" if found < expected else "trailing bytes"
        raise DatasetError(
            f"{source}: {what}: the header declares shape {shape} of {dtype.newbyteorder('=').name}, "
            f"which is {expected} byte(s) of data, but {found} byte(s) follow the header"
        )
    return np.frombuffer(buf, dtype=dtype, count=count, offset=header).reshape(shape)


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Compression is recognised from the content (gzip's magic
        bytes), so a ``.gz`` file and a decompressed one are both accepted.

    Returns
    -------
    numpy.ndarray
        A new, writable array in native byte order with the shape stored in
        the header and the dtype given by the type code (uint8, int8, int16,
        int32, float32 or float64).

    Raises
    ------
    DatasetError
        If the gzip stream is corrupt, the magic number is wrong (first two
        bytes not zero, or an unknown type code), the header is truncated, or
        the payload is shorter (truncated) or longer (trailing bytes) than the
        header declares. The message names the file, the rule and what was found.
    FileNotFoundError
        If ``path`` does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.idx.gz"
    >>> _ = write_idx(p, np.arange(6, dtype=np.int16).reshape(2, 3))
    >>> read_idx(p)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int16)
    """
    path = Path(path)
    buf = _decompress(path.read_bytes(), path)
    arr = _parse_idx(buf, path, suffix_gz=path.name.endswith(".gz"))
    return arr.astype(arr.dtype.newbyteorder("="), copy=True)


def _atomic_write(dest: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``dest`` through a temporary file in the same folder and ``os.replace`` it into place.

    On any failure the temporary file is removed and ``dest`` is left as it was.
    """
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_idx(path: PathLike, array: Any) -> Path:
    """Write an array as an IDX file, gzip-compressed if the name ends in ``.gz``.

    The file is written atomically: to a temporary file in the same folder,
    then renamed into place, so a failure never leaves a partial file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    array : array_like
        Data of dtype uint8, int8, int16, int32, float32 or float64 (any byte
        order) with 1 to 255 dimensions, each smaller than 2**32.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If the dtype cannot be stored in IDX.
    ValueError
        If the array has no dimensions, more than 255, or one of 2**32 or more.
    """
    path = Path(path)
    arr = np.asarray(array)
    code = _IDX_CODES.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        raise TypeError(
            f"array dtype {arr.dtype} cannot be stored in an IDX file; supported dtypes are "
            "uint8, int8, int16, int32, float32 and float64"
        )
    if not 1 <= arr.ndim <= 255:
        raise ValueError(f"an IDX file holds an array of 1 to 255 dimensions, got shape {arr.shape}")
    if any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"every IDX dimension must be < 2**32, got shape {arr.shape}")
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(arr, dtype=_IDX_DTYPES[code]).tobytes()
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    _atomic_write(path, lambda f: f.write(payload))
    return path


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


# --------------------------------------------------------------------------- download


def _make_bar(total: int | None, desc: str, progress: bool | None) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is cosmetic: download without it
        return None
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=None if progress is None else not progress,
        leave=False,
    )


def _sha256_decompressed(path: Path) -> str:
    """sha256 of the file's contents after gunzipping (if gzip-compressed), streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        is_gz = raw.read(2) == _GZIP_MAGIC
    try:
        with gzip.open(path, "rb") if is_gz else open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(
            "the downloaded data is corrupt gzip data: it cannot be decompressed "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return digest.hexdigest()


def _fetch(url: str, tmp: Path, *, timeout: float, progress: bool | None) -> None:
    """Stream ``url`` into ``tmp``; raise ``DownloadError`` on a short read."""
    request = urllib.request.Request(url, headers={"User-Agent": "rpnumpy-datasets"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        header = resp.headers.get("Content-Length")
        length = int(header) if header and header.strip().isdigit() else None
        received = 0
        bar = _make_bar(length, url.rsplit("/", 1)[-1], progress)
        try:
            with open(tmp, "wb") as out:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    if length is not None and received != length:
        raise DownloadError(
            f"connection closed after {received} of {length} bytes (Content-Length); "
            "the download was interrupted"
        )


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, urllib.error.URLError):
        if isinstance(exc.reason, TimeoutError):
            return f"timed out after {timeout:g} s"
        return f"cannot connect: {exc.reason}"
    if isinstance(exc, http.client.IncompleteRead):
        return (
            f"connection closed mid-file (IncompleteRead: a read got {len(exc.partial)} bytes, "
            f"{exc.expected} more were expected)"
        )
    if isinstance(exc, DatasetError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def download_file(
    url: str,
    dest: PathLike,
    *,
    sha256_decompressed: str,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool | None = None,
) -> Path:
    """Download one file, verify it, and move it into place atomically.

    The bytes go to a temporary file in ``dest``'s folder; the download is
    accepted only if as many bytes arrived as the server's ``Content-Length``
    announced (when it sent one) and the sha256 of the decompressed contents
    equals ``sha256_decompressed``. Only then is the file renamed to ``dest``.
    On any failure (HTTP error, connection refused or cut mid-file, timeout,
    checksum mismatch, interruption) the temporary file is deleted, so nothing
    is left behind and an existing ``dest`` is untouched.

    Parameters
    ----------
    url : str
        The file's URL (``urllib.request`` handles it: http, https, file).
    dest : str or os.PathLike
        Final path. Missing parent folders are created.
    sha256_decompressed : str
        Expected hex sha256 of the contents after gunzipping (of the raw
        contents if the file is not gzip-compressed).
    timeout : float, default 30
        Seconds to wait on a connect or on any single read.
    progress : bool or None, default None
        Show a tqdm progress bar in bytes: ``None`` shows it only on a
        terminal, ``True`` always, ``False`` never.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        A :class:`DatasetError` naming the URL and why the download failed.
    """
    dest = Path(dest)
    expected = sha256_decompressed.strip().lower()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            _fetch(url, tmp, timeout=timeout, progress=progress)
            actual = _sha256_decompressed(tmp)
            if actual != expected:
                raise DownloadError(
                    f"checksum mismatch: sha256 of the decompressed contents is {actual}, expected {expected}"
                )
        except (OSError, http.client.HTTPException, DatasetError) as exc:
            reason = _reason(exc, timeout)
            raise DownloadError(
                f"download of {url} failed: {reason}; nothing was written to {dest}", [(url, reason)]
            ) from exc
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return dest


def download_from_mirrors(
    filename: str,
    dest_dir: PathLike,
    base_urls: Sequence[str],
    *,
    sha256_decompressed: str,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool | None = None,
) -> Path:
    """Download ``filename`` into ``dest_dir`` from the first of ``base_urls`` that works.

    Each mirror is tried in order with :func:`download_file` (so a failed
    attempt leaves nothing behind) until one succeeds.

    Parameters
    ----------
    filename : str
        The file name, appended to each base URL and used in ``dest_dir``.
    dest_dir : str or os.PathLike
        Destination folder (created if missing).
    base_urls : sequence of str
        Mirror base URLs, tried in order.
    sha256_decompressed, timeout, progress
        As for :func:`download_file`.

    Returns
    -------
    pathlib.Path
        The downloaded file.

    Raises
    ------
    DownloadError
        If every mirror failed (or none was given); the message lists every URL
        tried and why it failed, and ``attempts`` holds the same pairs.
    """
    dest = Path(dest_dir) / filename
    attempts: list[tuple[str, str]] = []
    for base in base_urls:
        url = base if base.endswith("/") else base + "/"
        url += filename
        try:
            return download_file(
                url, dest, sha256_decompressed=sha256_decompressed, timeout=timeout, progress=progress
            )
        except DownloadError as exc:
            attempts.extend(exc.attempts or [(url, str(exc))])
    if not attempts:
        raise DownloadError(f"cannot download {filename}: no mirror URL was given")
    tried = "\n".join(f"  - {u}: {r}" for u, r in attempts)
    raise DownloadError(
        f"cannot download {filename} into {dest_dir}; every mirror failed and nothing was left behind. "
        f"URLs tried:\n{tried}",
        attempts,
    )


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
                sha256_decompressed=_expected_digest(checksums, filename),
                timeout=timeout,
                progress=progress,
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


def _expected_digest(checksums: Mapping[str, str], filename: str) -> str:
    digest = checksums.get(filename)
    if not digest:
        raise DatasetError(f"no pinned sha256 for {filename}; the checksum table has {sorted(checksums)}")
    return digest.strip().lower()


def _read_verified(path: Path, expected: str) -> np.ndarray:
    """Read an IDX file, verify the sha256 of its decompressed bytes, return a read-only view."""
    advice = (
        f"Delete {path} and run again: with download=True the loader downloads a fresh copy "
        "(or copy the original file there)."
    )
    try:
        buf = _decompress(path.read_bytes(), path)
    except DatasetError as exc:
        raise DatasetError(f"{exc}. {advice}") from exc
    actual = hashlib.sha256(buf).hexdigest()
    if actual != expected:
        raise DatasetError(
            f"{path}: checksum mismatch: sha256 of the decompressed contents is {actual}, "
            f"expected {expected}. The file is corrupt or not the original. {advice}"
        )
    return _parse_idx(buf, path)


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
    """Shared loader; ``checksums`` (file name -> digest) and ``mirrors`` default to the module tables."""
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
    out: list[np.ndarray] = []
    for img_file, lbl_file in (FILENAMES[0:2], FILENAMES[2:4]):
        img_path, lbl_path = folder / img_file, folder / lbl_file
        images = _read_verified(img_path, _expected_digest(checksums, img_file))
        labels = _read_verified(lbl_path, _expected_digest(checksums, lbl_file))
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
        out.extend((x, labels.astype(np.int64)))
    return out[0], out[1], out[2], out[3]


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
