"""The errors of :mod:`rpnumpy.datasets`: one base class and two refinements.

:class:`DatasetError` is a ``ValueError`` raised for a data file that is missing,
corrupt, not what it claims to be, or could not be downloaded. Its message
names the file (or URL), the rule that was broken and what was found.
:class:`DownloadError` (a download failed, nothing was left behind) and
:class:`DatasetNotFoundError` (a data set's files were found nowhere) derive
from it and carry what was tried as attributes, so a caller can catch
``DatasetError`` alone or tell the cases apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["DatasetError", "DatasetNotFoundError", "DownloadError"]


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
