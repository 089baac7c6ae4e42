"""The IDX file format: parse, read and write the files MNIST and Fashion-MNIST are stored in.

IDX is the format of the MNIST database (Yann LeCun, Corinna Cortes and
Christopher J.C. Burges, "The MNIST database of handwritten digits"). A file
holds one n-dimensional array, every multi-byte number big-endian (most
significant byte first):

============  ================  ==================================================
offset        size (bytes)      content
============  ================  ==================================================
0             2                 two zero bytes
2             1                 type code of the elements (table below)
3             1                 number of dimensions ``d``, 1 to 255
4             4 ``d``           the sizes ``n_1, ..., n_d``, unsigned 32-bit each
4 + 4 ``d``   the rest          ``n_1 n_2 ... n_d`` elements in row-major (C)
                                order: the last index changes fastest
============  ================  ==================================================

The first four bytes together are the *magic number*, ``0x0000TTDD`` with
``TT`` the type code and ``DD`` the number of dimensions. Type codes:

====  ====================  ==========  ==================
code  element               bytes each  NumPy dtype
====  ====================  ==========  ==================
0x08  unsigned byte         1           ``uint8``
0x09  signed byte           1           ``int8``
0x0B  short integer         2           ``>i2`` (int16)
0x0C  integer               4           ``>i4`` (int32)
0x0D  float                 4           ``>f4`` (float32)
0x0E  double                8           ``>f8`` (float64)
====  ====================  ==========  ==================

A file is therefore exactly ``4 + 4 d + itemsize * n_1 ... n_d`` bytes long.
MNIST's training images start ``00 00 08 03`` followed by 60000, 28, 28
(a 16-byte header, then 47,040,000 pixels); its training labels start
``00 00 08 01`` followed by 60000 (an 8-byte header, then 60,000 labels).

The files are distributed gzip-compressed under names ending in ``.gz``.
:func:`read_idx` recognises compression from the content (gzip's magic bytes
``1f 8b``), not from the name, so a decompressed file under the original name
is read too. :func:`write_idx` compresses when the name ends in ``.gz``, with
a zero timestamp in the gzip header so that equal arrays give equal bytes, and
writes atomically (:func:`atomic_write`).

A file that breaks any of these rules raises :class:`DatasetError` naming the
file, the rule and what was found.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .._files import atomic_write as _atomic_write
from .errors import DatasetError

__all__ = [
    "GZIP_MAGIC",
    "IDX_DTYPES",
    "PathLike",
    "atomic_write",
    "maybe_gunzip",
    "parse_idx",
    "read_idx",
    "write_idx",
]

PathLike = str | os.PathLike

#: The two bytes every gzip stream starts with.
GZIP_MAGIC = b"\x1f\x8b"

#: IDX type code -> big-endian NumPy dtype of the elements.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# (kind, itemsize) of a dtype in any byte order -> IDX type code.
_IDX_CODES: dict[tuple[str, int], int] = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}
_IDX_KNOWN = ", ".join(f"0x{code:02X} ({dt.newbyteorder('=').name})" for code, dt in IDX_DTYPES.items())


def maybe_gunzip(raw: bytes, source: object) -> bytes:
    """Return ``raw`` gunzipped if it starts with the gzip magic bytes, else ``raw`` itself.

    Parameters
    ----------
    raw : bytes
        The contents of a file, compressed or not.
    source : object
        What the bytes came from (a path), named in the error message.

    Returns
    -------
    bytes
        The decompressed contents.

    Raises
    ------
    DatasetError
        If ``raw`` starts like a gzip stream but cannot be decompressed.
    """
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(
            f"{source}: corrupt gzip data: the file starts like a gzip file but cannot be "
            f"decompressed ({type(exc).__name__}: {exc})"
        ) from exc


def _parse_header(buf: bytes, source: object, *, suffix_gz: bool) -> tuple[np.dtype, tuple[int, ...], int]:
    """Check the magic number and the sizes; return the big-endian dtype, the shape and the header length."""
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
    dtype = IDX_DTYPES.get(code)
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
    return dtype, shape, header


def parse_idx(buf: bytes, source: object, *, suffix_gz: bool = False) -> np.ndarray:
    """Parse the (decompressed) bytes of an IDX file, without copying them.

    Parameters
    ----------
    buf : bytes
        The whole file, header and payload.
    source : object
        What the bytes came from (a path), named in every error message.
    suffix_gz : bool, default False
        The file's name ends in ``.gz``; only adds a hint to a wrong-magic error.

    Returns
    -------
    numpy.ndarray
        A read-only view of ``buf`` in the file's big-endian dtype, with the
        shape declared in the header.

    Raises
    ------
    DatasetError
        If the magic number is wrong (first two bytes not zero, or an unknown
        type code), the number of dimensions is zero, the header is truncated,
        or the payload is shorter (truncated) or longer (trailing bytes) than
        the header declares.
    """
    dtype, shape, header = _parse_header(buf, source, suffix_gz=suffix_gz)
    count = 1
    for d in shape:
        count *= d
    expected = count * dtype.itemsize
    found = len(buf) - header
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
    buf = maybe_gunzip(path.read_bytes(), path)
    arr = parse_idx(buf, path, suffix_gz=path.name.endswith(".gz"))
    return arr.astype(arr.dtype.newbyteorder("="), copy=True)


def atomic_write(dest: PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Write ``dest`` through a temporary file in the same folder and ``os.replace`` it into place.

    ``write`` receives the temporary file, open for binary writing. The file is flushed and synced
    to disk and renamed to ``dest``; a rename within one folder is atomic, so a reader sees either
    the old file or the whole new one. On any failure the temporary file is removed and ``dest`` is
    left as it was; the temporary files of a writer that was killed are removed by the next write of
    ``dest``. An existing ``dest`` keeps its permissions (a new one gets 0666 less the umask), and a
    symbolic link is written through to its target. The rules are :func:`rpnumpy._files.atomic_write`'s.
    """
    _atomic_write(dest, write)


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
    payload = header + np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    atomic_write(path, lambda f: f.write(payload))
    return path
