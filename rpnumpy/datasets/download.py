"""Verified downloads: fetch a file, check it, and move it into place only when it is right.

One file is downloaded by :func:`download_file`, in these steps:

1. Create the destination's folder if missing, delete the temporary files
   of earlier downloads of the same file whose process was killed, and create
   an empty temporary file, ``.<name>.<pid>.<random>.part``, in the same folder
   so that the final rename stays inside one file system
   (:func:`rpnumpy._files.atomic_output`).
2. Request the URL with ``urllib.request`` (http, https or file), sending the
   ``User-Agent: rpnumpy-datasets`` header, and stream the body into the
   temporary file in chunks of at most 1 MiB. ``timeout`` seconds bound the
   connect and every single read; ``deadline`` seconds bound the whole
   download (checked after every chunk, so a server trickling one byte a
   second cannot hold it forever); ``max_bytes`` bounds its size: a
   ``Content-Length`` above it is refused before anything is read, and a body
   without ``Content-Length`` is cut off as soon as it passes it. A tqdm
   progress bar counts the bytes when tqdm is installed and the ``progress``
   setting asks for it.
3. If the server sent ``Content-Length``, the number of bytes received must
   equal it; a shorter body means the connection was cut.
4. The sha256 of the *decompressed* contents (of the raw contents when the
   file does not start with gzip's magic bytes) must equal the expected hex
   checksum, and the contents may decompress to at most ``max_decompressed``
   bytes. Hashing the decompressed bytes makes one checksum serve every
   compression of the same data.
5. ``os.replace`` the file onto the destination (an existing destination
   keeps its permissions, a new one gets 0666 less the umask): the file
   appears whole or not at all.

On any failure (HTTP error, refused or cut connection, timeout, deadline,
size cap, short body, checksum mismatch, corrupt gzip data, an interruption
such as Ctrl-C) the temporary file is deleted and an existing destination is
left untouched; failures of steps 2 to 4 raise :class:`DownloadError` whose
``attempts`` holds the URL and the reason. A process killed by a signal
cannot delete anything; its ``.part`` file is deleted by the next download of
the same file.

:func:`download_from_mirrors` tries a list of base URLs in order, appending
the file name to each, and returns the first success; when all fail its
:class:`DownloadError` lists every URL tried with the reason it failed.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._files import atomic_output
from .._validation import check_positive_float, check_positive_int
from .errors import DatasetError, DownloadError
from .idx import GZIP_MAGIC, PathLike

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "DownloadError",
    "download_file",
    "download_from_mirrors",
    "gzip_size_bound",
]

#: Seconds a download may wait on a connect or a read before it gives up.
DEFAULT_TIMEOUT = 30.0
#: Seconds a whole download may take.
DEFAULT_DEADLINE = 900.0
#: Bytes a download may have (and its contents decompress to) unless the caller knows better.
DEFAULT_MAX_BYTES = 2**30


def gzip_size_bound(n: int) -> int:
    """An upper bound on the gzip file of ``n`` bytes of any content.

    Deflate never expands data by more than its stored blocks' 5 bytes per 64 KiB, and gzip adds
    a header and a trailer of 18 bytes: ``n + n // 1000 + 1024`` covers both with room to spare.
    """
    return n + n // 1000 + 1024

_CHUNK = 1 << 20


def _sha256_decompressed(path: PathLike, max_bytes: int | None = None) -> str:
    """Return the hex sha256 of a file's contents after gunzipping (if gzip-compressed), streamed.

    Parameters
    ----------
    path : str or os.PathLike
        The file. It is gunzipped when it starts with gzip's magic bytes.
    max_bytes : int, optional
        Refuse contents that decompress to more bytes than this (a gzip bomb is not inflated
        further).

    Returns
    -------
    str
        64 lowercase hex digits.

    Raises
    ------
    DatasetError
        If the file starts like a gzip stream but cannot be decompressed, or holds more than
        ``max_bytes``.
    """
    sha256 = hashlib.sha256()
    with open(path, "rb") as raw:
        is_gz = raw.read(2) == GZIP_MAGIC
    total = 0
    try:
        with gzip.open(path, "rb") if is_gz else open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                total += len(chunk)
                if max_bytes is not None and total > max_bytes:
                    raise DatasetError(f"the contents decompress to more than {max_bytes:,} bytes, more than the "
                                       f"file can hold")
                sha256.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(
            "the downloaded data is corrupt gzip data: it cannot be decompressed "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return sha256.hexdigest()


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


def _fetch(url: str, out: Any, *, timeout: float, deadline: float, max_bytes: int, progress: bool | None) -> None:
    """Stream ``url`` into the open file ``out``; raise ``DownloadError`` on a short read, the deadline or the cap."""
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "rpnumpy-datasets"})
    with urllib.request.urlopen(request, timeout=min(timeout, deadline)) as resp:
        header = resp.headers.get("Content-Length")
        length = int(header) if header and header.strip().isdigit() else None
        if length is not None and length > max_bytes:
            raise DownloadError(f"the server announces {length:,} bytes (Content-Length), more than the "
                                f"{max_bytes:,} this file can have; nothing was read")
        # read1 returns what one read of the connection gives (at most a chunk), so the deadline is checked
        # between reads however slowly the bytes arrive; read(n) would wait for all n bytes.
        read = getattr(resp, "read1", resp.read)
        received = 0
        bar = _make_bar(length, url.rsplit("/", 1)[-1], progress)
        try:
            while chunk := read(_CHUNK):
                received += len(chunk)
                if received > max_bytes:
                    raise DownloadError(f"the body passed {max_bytes:,} bytes, more than this file can have "
                                        f"(no Content-Length was announced); the download was stopped")
                out.write(chunk)
                if bar is not None:
                    bar.update(len(chunk))
                if time.monotonic() - started > deadline:
                    raise DownloadError(f"the deadline of {deadline:g} s for the whole download passed after "
                                        f"{received:,} bytes")
        finally:
            if bar is not None:
                bar.close()
    if length is not None and received != length:
        raise DownloadError(
            f"connection closed after {received} of {length} bytes (Content-Length); "
            "the download was interrupted"
        )


def _reason(exc: BaseException, timeout: float) -> str:
    """Say in a few words why a download failed."""
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


def _fetch_verified(
    url: str, out: Any, tmp: Path, dest: Path, expected: str, *, timeout: float, deadline: float, max_bytes: int,
    max_decompressed: int, progress: bool | None,
) -> None:
    """Fetch ``url`` into ``out`` (the file ``tmp``) and check its checksum; a failure is a ``DownloadError``."""
    try:
        _fetch(url, out, timeout=timeout, deadline=deadline, max_bytes=max_bytes, progress=progress)
        out.flush()
        actual = _sha256_decompressed(tmp, max_decompressed)
        if actual != expected:
            raise DownloadError(
                f"checksum mismatch: sha256 of the decompressed contents is {actual}, expected {expected}"
            )
    except (OSError, http.client.HTTPException, DatasetError) as exc:
        reason = _reason(exc, timeout)
        raise DownloadError(
            f"download of {url} failed: {reason}; nothing was written to {dest}", [(url, reason)]
        ) from exc


def download_file(
    url: str,
    dest: PathLike,
    *,
    sha256_decompressed: str,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool | None = None,
    deadline: float = DEFAULT_DEADLINE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_decompressed: int | None = None,
) -> Path:
    """Download one file, verify it, and move it into place atomically.

    The bytes go to a temporary file in ``dest``'s folder; the download is
    accepted only if as many bytes arrived as the server's ``Content-Length``
    announced (when it sent one) and the sha256 of the decompressed contents
    equals ``sha256_decompressed``. Only then is the file renamed to ``dest``.
    On any failure (HTTP error, connection refused or cut mid-file, timeout,
    deadline, size cap, checksum mismatch, interruption) the temporary file is
    deleted, so nothing is left behind and an existing ``dest`` is untouched.

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
    deadline : float, default 900
        Seconds the whole download may take (checked after every read, so it
        may be passed by up to ``timeout``).
    max_bytes : int, default 2**30
        Most bytes the file may have: a larger ``Content-Length`` is refused
        before anything is read, and a body without one is cut off once it
        passes this.
    max_decompressed : int, optional
        Most bytes the contents may decompress to (default: ``max_bytes``).

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
    timeout = check_positive_float(timeout, "timeout")
    deadline = check_positive_float(deadline, "deadline")
    max_bytes = check_positive_int(max_bytes, "max_bytes")
    if max_decompressed is not None:
        max_decompressed = check_positive_int(max_decompressed, "max_decompressed")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(dest, suffix=".part") as (out, tmp):
        _fetch_verified(url, out, tmp, dest, expected, timeout=timeout, deadline=deadline, max_bytes=max_bytes,
                        max_decompressed=max_bytes if max_decompressed is None else max_decompressed, progress=progress)
    return dest


def download_from_mirrors(
    filename: str,
    dest_dir: PathLike,
    base_urls: Sequence[str],
    *,
    sha256_decompressed: str,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool | None = None,
    deadline: float = DEFAULT_DEADLINE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_decompressed: int | None = None,
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
    sha256_decompressed, timeout, progress, deadline, max_bytes, max_decompressed
        As for :func:`download_file` (the deadline applies to each mirror).

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
                url, dest, sha256_decompressed=sha256_decompressed, timeout=timeout, progress=progress,
                deadline=deadline, max_bytes=max_bytes, max_decompressed=max_decompressed,
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
