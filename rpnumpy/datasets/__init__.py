"""Data sets: the IDX file format, verified downloads, and the MNIST and Fashion-MNIST loaders.

The code is split by concern; every public name is importable from here:

* :mod:`rpnumpy.datasets.idx` -- the IDX format (header, type codes,
  big-endian sizes): :func:`read_idx`, :func:`write_idx`.
* :mod:`rpnumpy.datasets.download` -- downloads that are verified by
  checksum and moved into place atomically: :func:`download_file`,
  :func:`download_from_mirrors`.
* :mod:`rpnumpy.datasets.mnist` -- MNIST and Fashion-MNIST: their file names,
  checksums and mirrors, the folders searched for them
  (:func:`candidate_dirs`, the environment variable ``RPNUMPY_DATA``, the
  user's cache) and the loaders :func:`load_mnist`, :func:`load_fashion_mnist`,
  :func:`load_dataset`.
* :mod:`rpnumpy.datasets.errors` -- :class:`DatasetError` and its
  refinements :class:`DownloadError` and :class:`DatasetNotFoundError`.

The data sets are never stored in the repository; ``data/README.md`` says
where the loaders look and how the files are verified.

Examples
--------
>>> from rpnumpy.datasets import load_mnist
>>> x_train, y_train, x_test, y_test = load_mnist()  # doctest: +SKIP
>>> x_train.shape, x_train.dtype, y_train.dtype  # doctest: +SKIP
((60000, 784), dtype('float32'), dtype('int64'))
"""

from .download import DEFAULT_DEADLINE, DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, download_file, download_from_mirrors
from .errors import DatasetError, DatasetNotFoundError, DownloadError
from .idx import PathLike, read_idx, write_idx
from .mnist import (
    CHECKSUMS,
    DATA_ENV_VAR,
    DEBIAN_FASHION_MNIST_DIR,
    DECOMPRESSED_BYTES,
    FILENAMES,
    MIRRORS,
    MNIST_GZ_SHA256,
    cache_dir,
    candidate_dirs,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
)

__all__ = [
    "CHECKSUMS",
    "DATA_ENV_VAR",
    "DEBIAN_FASHION_MNIST_DIR",
    "DECOMPRESSED_BYTES",
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "FILENAMES",
    "MIRRORS",
    "MNIST_GZ_SHA256",
    "DatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "PathLike",
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
