"""Atomic file writes that leave nothing behind: model files, exchange files, IDX files and downloads.

A file is written to a temporary file in the target's folder, flushed to disk and renamed onto the
target (``os.replace``, atomic within one file system): a reader sees the old file or the whole new
one, never a half-written one. Four more rules:

* **Every failure cleans up.** An exception (an interrupt included) deletes the temporary file
  and leaves an existing target as it was.
* **A killed writer is cleaned up by the next one.** SIGKILL, or SIGTERM without a handler, ends
  a process before any clean-up can run. Temporary files are therefore named
  ``.<target name>.<pid>.<8 hex digits><suffix>``, and every write first deletes the temporary
  files of the same target whose process no longer exists (on POSIX systems, where that can be
  asked without side effects). Another live process's temporary file is left alone.
* **An existing file keeps its permission bits**; a new one gets those ``open()`` would give
  (0666 less the umask), not the 0600 of :func:`tempfile.mkstemp`.
* **A symbolic link is written through**: its target file is replaced, the link stays a link.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_output", "atomic_write", "remove_stale_temporaries"]


def _temporary_pattern(target: Path, suffix: str) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.[0-9a-f]{{8}}{re.escape(suffix)}")


def _process_exists(pid: int) -> bool:
    """True unless the process ``pid`` is certainly gone (always True where that cannot be asked safely)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def remove_stale_temporaries(target: str | os.PathLike, suffix: str = ".tmp") -> list[Path]:
    """Delete the temporary files of ``target`` left by writers that were killed; return what was deleted.

    Only files named as :func:`atomic_output` names them, whose process id is not this process's and
    belongs to no running process, are deleted. Errors (a read-only folder, a file deleted meanwhile)
    are ignored: this is housekeeping, never a reason for a write to fail.
    """
    target = Path(target)
    pattern = _temporary_pattern(target, suffix)
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent if str(target.parent) else "."):
            match = pattern.fullmatch(entry.name)
            if match and int(match.group(1)) != os.getpid() and not _process_exists(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _resolve(path: Path) -> Path:
    """The file a write to ``path`` should replace: the final target of a symbolic link, else ``path``."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, suffix: str = ".tmp") -> Iterator[tuple[BinaryIO, Path]]:
    """Open a temporary file for ``path``; on a clean exit, move it into place (see the module docstring).

    Yields ``(file, temporary_path)``: the file is open for binary writing, and the path lets the
    caller read back what it wrote (after ``file.flush()``), to verify a download, say. On exit the
    file is flushed, synced to disk, given the target's permission bits and renamed onto the target;
    on an exception it is deleted and the exception propagates.

    Parameters
    ----------
    path : str or path-like
        The file to write (its folder must exist). A symbolic link is written through.
    suffix : str, default=".tmp"
        Ends the temporary file's name (``".part"`` for downloads).
    """
    target = _resolve(Path(path))
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None  # a new file: the mode os.open gives, 0666 less the umask
    remove_stale_temporaries(target, suffix)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 32 random bits
        raise FileExistsError(f"cannot create a temporary file next to {target}")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle, tmp
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object], *, suffix: str = ".tmp") -> Path:
    """Write ``path`` atomically: ``write(file)`` fills a temporary file, which then replaces ``path``.

    See :func:`atomic_output` for the rules. Returns ``Path(path)``.
    """
    with atomic_output(path, suffix=suffix) as (handle, _):
        write(handle)
    return Path(path)
