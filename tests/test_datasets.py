"""Tests for rpnumpy.datasets: IDX files, look-up, verification, downloads and the real data sets.

Downloads are tested against a local HTTP server on 127.0.0.1 only; an autouse
fixture points every mirror at a closed local port so that no test can reach
the internet by mistake.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from rpnumpy import datasets
from rpnumpy.datasets import (
    CHECKSUMS,
    FILENAMES,
    DatasetError,
    DatasetNotFoundError,
    DownloadError,
    candidate_dirs,
    download_file,
    download_from_mirrors,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    mnist,
    read_idx,
    write_idx,
)

# Captured at import, before the autouse fixture removes it for the other tests.
REAL_DATA = os.environ.get("RPNUMPY_DATA")
REFUSED = "http://127.0.0.1:9/never/"  # nothing listens on the discard port: connection refused


def listing(folder: Path) -> list[str]:
    """Sorted names in ``folder`` (hidden temp files included); [] if it does not exist."""
    return sorted(os.listdir(folder)) if folder.exists() else []


def gunzip_sha256(path: Path) -> str:
    return hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()


def make_fake(folder: Path, *, n_train: int = 20, n_test: int = 10, seed: int = 0, n_train_labels=None):
    """Write a tiny fake MNIST (28x28 uint8 images, uint8 labels) with the original file names.

    Returns the arrays by file name and the decompressed-sha256 table.
    """
    rng = np.random.default_rng(seed)
    arrays = {
        FILENAMES[0]: rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        FILENAMES[1]: rng.integers(
            0, 10, size=n_train if n_train_labels is None else n_train_labels, dtype=np.uint8
        ),
        FILENAMES[2]: rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        FILENAMES[3]: rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    arrays[FILENAMES[0]][0, 0, 0] = 255  # make sure both ends of the scale occur
    arrays[FILENAMES[0]][0, 0, 1] = 0
    folder.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name, arr in arrays.items():
        write_idx(folder / name, arr)
        sums[name] = gunzip_sha256(folder / name)
    return arrays, sums


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No RPNUMPY_DATA, a private cache, no Debian folder, no reachable mirror, no proxy."""
    monkeypatch.delenv("RPNUMPY_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(mnist, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    for name in list(datasets.MIRRORS):
        monkeypatch.setitem(datasets.MIRRORS, name, [REFUSED])
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.routes``: path -> (behaviour, body)."""

    def do_GET(self):  # noqa: N802 (name fixed by http.server)
        server = self.server
        server.requests.append(self.path)
        kind, body = server.routes.get(self.path, ("404", b""))
        if kind == "404":
            self.send_error(404, "Not Found")
            return
        if kind == "chunked-cut":  # chunked encoding, cut inside a chunk
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            self.wfile.write(b"%x\r\n" % len(body) + body[:50])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if kind != "no-length":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind in ("ok", "no-length"):
            self.wfile.write(body)
        elif kind == "cut":  # announce the full size, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif kind == "stall":  # send a little, then go silent until the test ends
            self.wfile.write(body[:100])
            self.wfile.flush()
            server.release.wait(10)

    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture
def server():
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.routes = {}
    srv.requests = []
    srv.release = threading.Event()
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def fake(tmp_path):
    """A fake MNIST written to tmp_path/'served', returned as (folder, arrays, checksums)."""
    folder = tmp_path / "served"
    arrays, sums = make_fake(folder)
    return folder, arrays, sums


def serve(srv, prefix: str, folder: Path, kind: str = "ok") -> str:
    """Register the four files of ``folder`` under ``/prefix/`` and return that base URL."""
    for name in FILENAMES:
        srv.routes[f"/{prefix}/{name}"] = (kind, (folder / name).read_bytes())
    return f"{srv.base}/{prefix}/"


# --------------------------------------------------------------------------- IDX format

SHAPES = [(7,), (3, 4), (2, 3, 5), (2, 1, 2, 3)]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", [".idx", ".idx.gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    for i, shape in enumerate(SHAPES):
        if info is not None:
            arr = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
        else:
            arr = rng.standard_normal(shape).astype(dtype)
        path = write_idx(tmp_path / f"a{i}{suffix}", arr)
        raw = path.read_bytes()
        assert raw.startswith(b"\x1f\x8b") == suffix.endswith(".gz")
        back = read_idx(path)
        assert back.dtype == np.dtype(dtype) and back.dtype.isnative
        assert back.shape == shape
        assert back.flags.writeable
        np.testing.assert_array_equal(back, arr)
    assert listing(tmp_path) == sorted(f"a{i}{suffix}" for i in range(len(SHAPES)))


def test_idx_header_layout_is_big_endian(tmp_path):
    arr = np.array([[1, -2, 70000]], dtype=np.int32)
    raw = write_idx(tmp_path / "x.idx", arr).read_bytes()
    assert raw[:4] == b"\x00\x00\x0c\x02"
    assert raw[4:12] == b"\x00\x00\x00\x01\x00\x00\x00\x03"
    assert raw[12:] == arr.astype(">i4").tobytes()
    # a hand-made big-endian float64 file
    header = b"\x00\x00\x0e\x01\x00\x00\x00\x02"
    (tmp_path / "y.idx").write_bytes(header + np.array([1.5, -3.0], ">f8").tobytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "y.idx"), [1.5, -3.0])


def test_idx_accepts_big_endian_input_and_raw_content_named_gz(tmp_path):
    arr = np.arange(6, dtype=">i2").reshape(2, 3)
    write_idx(tmp_path / "be.idx", arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "be.idx"), arr)
    # an uncompressed IDX file under a .gz name is still read (compression is detected from content)
    (tmp_path / "raw.gz").write_bytes((tmp_path / "be.idx").read_bytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "raw.gz"), arr)


def test_write_idx_rejects_bad_input_and_leaves_nothing(tmp_path):
    with pytest.raises(TypeError, match=r"dtype uint16 cannot be stored in an IDX file.*uint8, int8"):
        write_idx(tmp_path / "a.idx", np.zeros(3, np.uint16))
    with pytest.raises(TypeError, match="dtype bool"):
        write_idx(tmp_path / "b.idx.gz", np.zeros(3, bool))
    with pytest.raises(ValueError, match=r"1 to 255 dimensions, got shape \(\)"):
        write_idx(tmp_path / "c.idx", np.float32(1.0))
    assert listing(tmp_path) == []


def test_write_idx_is_atomic(tmp_path, monkeypatch):
    path = write_idx(tmp_path / "a.idx.gz", np.arange(3, dtype=np.uint8))
    write_idx(path, np.arange(5, dtype=np.uint8))  # replaces an existing file
    np.testing.assert_array_equal(read_idx(path), np.arange(5))

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated"):
        write_idx(path, np.arange(9, dtype=np.uint8))
    monkeypatch.undo()
    assert listing(tmp_path) == ["a.idx.gz"]  # no temp file left
    np.testing.assert_array_equal(read_idx(path), np.arange(5))  # old content intact


def _good_idx() -> bytes:
    return b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03" + bytes(range(6))


def _corrupt_crc() -> bytes:
    gz = bytearray(gzip.compress(_good_idx()))
    gz[-8] ^= 0xFF  # flip a byte of the CRC32 trailer
    return bytes(gz)


BAD_FILES = [
    (
        "magic.idx",
        b"\x01\x00\x08\x01\x00\x00\x00\x01\x00",
        r"wrong magic number: .*two zero bytes, found 0x01 0x00",
    ),
    ("magic.gz", b"PK\x03\x04 not an idx file", r"wrong magic number: .*found 0x50 0x4B.*name ends in \.gz"),
    (
        "code.idx",
        b"\x00\x00\x0a\x01\x00\x00\x00\x01\x00",
        r"unknown IDX type code 0x0A; known codes are 0x08 \(uint8\)",
    ),
    ("short.idx", b"\x00\x00", r"truncated header: .*4-byte magic number, but only 2 byte\(s\)"),
    (
        "dims.idx",
        b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00",
        r"truncated header: 3 dimension\(s\) need a 16-byte header",
    ),
    ("zero.idx", b"\x00\x00\x08\x00", r"number of dimensions must be >= 1, found 0"),
    (
        "payload.idx",
        _good_idx()[:-2],
        r"truncated payload: .*shape \(2, 3\) of uint8, which is 6 byte\(s\).*but 4 byte",
    ),
    (
        "trailing.idx",
        _good_idx() + b"\x00\x00\x00",
        r"trailing bytes: .*6 byte\(s\) of data, but 9 byte\(s\)",
    ),
    ("payload.gz", gzip.compress(_good_idx()[:-1]), r"truncated payload: .*but 5 byte"),
    ("cut.gz", gzip.compress(_good_idx())[:-12], r"corrupt gzip data: .*cannot be decompressed"),
    ("crc.gz", _corrupt_crc(), r"corrupt gzip data: .*CRC"),
    ("garbage.gz", b"\x1f\x8b" + b"\xff" * 40, r"corrupt gzip data"),
]


@pytest.mark.parametrize(("fname", "content", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_read_idx_rejects_bad_files(tmp_path, fname, content, message):
    path = tmp_path / fname
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)  # the message names the file
    assert isinstance(info.value, ValueError)
    assert listing(tmp_path) == [fname]  # nothing else was created


# --------------------------------------------------------------------------- download_file and mirrors


def test_download_file_success(tmp_path, server, fake):
    folder, arrays, sums = fake
    base = serve(server, "m", folder)
    dest = tmp_path / "dl" / FILENAMES[1]
    out = download_file(base + FILENAMES[1], dest, sha256_decompressed=sums[FILENAMES[1]], progress=False)
    assert out == dest
    assert dest.read_bytes() == (folder / FILENAMES[1]).read_bytes()
    np.testing.assert_array_equal(read_idx(dest), arrays[FILENAMES[1]])
    assert listing(dest.parent) == [FILENAMES[1]]


def test_download_without_content_length(tmp_path, server, fake):
    folder, _, sums = fake
    base = serve(server, "m", folder, kind="no-length")
    dest = tmp_path / "dl" / FILENAMES[3]
    download_file(base + FILENAMES[3], dest, sha256_decompressed=sums[FILENAMES[3]], progress=False)
    assert listing(dest.parent) == [FILENAMES[3]]


def test_interrupted_download_leaves_nothing(tmp_path, server, fake):
    folder, _, sums = fake
    base = serve(server, "m", folder, kind="cut")
    dest = tmp_path / "dl" / FILENAMES[0]
    size = (folder / FILENAMES[0]).stat().st_size
    with pytest.raises(DownloadError, match=rf"connection closed after {size // 2} of {size} bytes") as info:
        download_file(base + FILENAMES[0], dest, sha256_decompressed=sums[FILENAMES[0]], progress=False)
    msg = str(info.value)
    assert base + FILENAMES[0] in msg and "nothing was written" in msg
    assert listing(dest.parent) == []


def test_incomplete_chunked_download_leaves_nothing(tmp_path, server, fake):
    folder, _, sums = fake
    base = serve(server, "m", folder, kind="chunked-cut")
    dest = tmp_path / "dl" / FILENAMES[0]
    with pytest.raises(DownloadError, match=r"connection closed mid-file \(IncompleteRead"):
        download_file(base + FILENAMES[0], dest, sha256_decompressed=sums[FILENAMES[0]], progress=False)
    assert listing(dest.parent) == []


def test_download_timeout_leaves_nothing(tmp_path, server, fake):
    folder, _, sums = fake
    base = serve(server, "m", folder, kind="stall")
    dest = tmp_path / "dl" / FILENAMES[0]
    with pytest.raises(DownloadError, match=r"timed out after 0\.3 s"):
        download_file(
            base + FILENAMES[0], dest, sha256_decompressed=sums[FILENAMES[0]], timeout=0.3, progress=False
        )
    assert listing(dest.parent) == []


def test_download_checksum_mismatch_leaves_nothing_and_keeps_old_file(tmp_path, server, fake):
    folder, _, _ = fake
    base = serve(server, "m", folder)
    dest = tmp_path / "dl" / FILENAMES[1]
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    actual = gunzip_sha256(folder / FILENAMES[1])
    with pytest.raises(DownloadError, match=rf"checksum mismatch: .* is {actual}, expected {'0' * 64}"):
        download_file(base + FILENAMES[1], dest, sha256_decompressed="0" * 64, progress=False)
    assert listing(dest.parent) == [FILENAMES[1]]
    assert dest.read_bytes() == b"old"


def test_download_corrupt_gzip_leaves_nothing(tmp_path, server):
    server.routes["/m/x.gz"] = ("ok", gzip.compress(_good_idx())[:-12])
    dest = tmp_path / "dl" / "x.gz"
    with pytest.raises(DownloadError, match=r"x\.gz failed: the downloaded data is corrupt gzip data"):
        download_file(f"{server.base}/m/x.gz", dest, sha256_decompressed="0" * 64, progress=False)
    assert listing(dest.parent) == []


def test_all_mirrors_404(tmp_path, server, fake):
    _, _, sums = fake
    bases = [f"{server.base}/a/", f"{server.base}/b"]  # with and without trailing slash
    dest_dir = tmp_path / "dl"
    with pytest.raises(DownloadError, match="every mirror failed") as info:
        download_from_mirrors(
            FILENAMES[3], dest_dir, bases, sha256_decompressed=sums[FILENAMES[3]], progress=False
        )
    urls = [f"{server.base}/a/{FILENAMES[3]}", f"{server.base}/b/{FILENAMES[3]}"]
    assert [u for u, _ in info.value.attempts] == urls
    for url in urls:
        assert f"{url}: HTTP 404 Not Found" in str(info.value)
    assert listing(dest_dir) == []


def test_connection_refused_is_reported(tmp_path, fake):
    _, _, sums = fake
    pattern = r"127\.0\.0\.1:9/never/t10k-labels-idx1-ubyte\.gz: cannot connect"
    with pytest.raises(DownloadError, match=pattern):
        download_from_mirrors(
            FILENAMES[3], tmp_path / "dl", [REFUSED], sha256_decompressed=sums[FILENAMES[3]]
        )
    assert listing(tmp_path / "dl") == []


def test_404_then_good_mirror(tmp_path, server, fake):
    folder, _, sums = fake
    good = serve(server, "good", folder)
    out = download_from_mirrors(
        FILENAMES[2],
        tmp_path / "dl",
        [f"{server.base}/missing/", good],
        sha256_decompressed=sums[FILENAMES[2]],
        progress=False,
    )
    assert out.read_bytes() == (folder / FILENAMES[2]).read_bytes()
    assert server.requests == [f"/missing/{FILENAMES[2]}", f"/good/{FILENAMES[2]}"]
    assert listing(tmp_path / "dl") == [FILENAMES[2]]


def test_no_mirror_given(tmp_path):
    with pytest.raises(DownloadError, match="no mirror URL was given"):
        download_from_mirrors(FILENAMES[0], tmp_path, [], sha256_decompressed="0" * 64)


# --------------------------------------------------------------------------- loaders with downloads


def test_load_mnist_downloads_into_data_dir(tmp_path, server, fake, monkeypatch):
    folder, arrays, sums = fake
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [f"{server.base}/missing/", serve(server, "good", folder)])
    monkeypatch.setitem(datasets.CHECKSUMS, "mnist", sums)
    data_dir = tmp_path / "data"
    x_train, y_train, x_test, y_test = load_mnist(data_dir, progress=False)

    assert x_train.shape == (20, 784) and x_test.shape == (10, 784)
    assert y_train.shape == (20,) and y_test.shape == (10,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    np.testing.assert_allclose(x_train, arrays[FILENAMES[0]].reshape(20, 784) / 255.0, rtol=1e-6)
    np.testing.assert_allclose(x_test, arrays[FILENAMES[2]].reshape(10, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y_train, arrays[FILENAMES[1]])
    np.testing.assert_array_equal(y_test, arrays[FILENAMES[3]])
    assert listing(data_dir / "mnist") == sorted(FILENAMES)
    assert listing(tmp_path / "xdg") == []  # an explicit data_dir is where downloads go
    assert len(server.requests) == 8  # each file: 404 on the first mirror, then the second

    # Second call: found on disk, no request made.
    again = load_dataset("mnist", data_dir, download=False, dtype=np.float64)
    assert len(server.requests) == 8
    assert again[0].dtype == np.float64
    np.testing.assert_allclose(again[0], x_train, rtol=1e-6)


def test_load_fashion_mnist_downloads_into_cache(tmp_path, server, fake, monkeypatch):
    folder, arrays, sums = fake
    monkeypatch.setitem(datasets.MIRRORS, "fashion-mnist", [serve(server, "f", folder)])
    monkeypatch.setitem(datasets.CHECKSUMS, "fashion-mnist", sums)
    x_train, y_train, x_test, y_test = load_fashion_mnist(dtype=np.float64, progress=False)
    assert x_train.dtype == np.float64 and x_train.shape == (20, 784)
    assert 0.0 <= x_test.min() and x_test.max() <= 1.0
    np.testing.assert_array_equal(y_test, arrays[FILENAMES[3]])
    assert listing(tmp_path / "xdg" / "rpnumpy" / "fashion-mnist") == sorted(FILENAMES)


def test_only_missing_files_are_downloaded(tmp_path, server, fake, monkeypatch):
    folder, _, sums = fake
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [serve(server, "m", folder)])
    monkeypatch.setitem(datasets.CHECKSUMS, "mnist", sums)
    target = tmp_path / "data" / "mnist"
    target.mkdir(parents=True)
    for name in FILENAMES[:3]:
        (target / name).write_bytes((folder / name).read_bytes())
    load_mnist(tmp_path / "data", progress=False)
    assert server.requests == [f"/m/{FILENAMES[3]}"]


def test_load_all_mirrors_404_lists_dirs_and_urls(tmp_path, server, fake, monkeypatch):
    _, _, sums = fake
    bases = [f"{server.base}/one/", f"{server.base}/two/"]
    monkeypatch.setitem(datasets.MIRRORS, "mnist", bases)
    monkeypatch.setitem(datasets.CHECKSUMS, "mnist", sums)
    monkeypatch.setenv("RPNUMPY_DATA", str(tmp_path / "env"))
    with pytest.raises(DatasetNotFoundError, match="MNIST files not found") as info:
        load_mnist(progress=False)
    err = info.value
    msg = str(err)
    searched = [tmp_path / "env" / "mnist", tmp_path / "xdg" / "rpnumpy" / "mnist"]
    assert err.searched == searched
    for d in searched:
        assert f"  - {d} (folder does not exist)" in msg
    assert f"Downloading into {searched[1]} failed" in msg
    # The first missing file fails on both mirrors, and the loader stops there.
    for base in bases:
        assert f"{base}{FILENAMES[0]}: HTTP 404 Not Found" in msg
    assert [u for u, _ in err.attempts] == [b + FILENAMES[0] for b in bases]
    assert "set RPNUMPY_DATA to a folder that contains mnist/" in msg
    assert listing(searched[1]) == []  # nothing left behind in the cache


def test_load_interrupted_download_leaves_nothing(tmp_path, server, fake, monkeypatch):
    folder, _, sums = fake
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [serve(server, "m", folder, kind="cut")])
    monkeypatch.setitem(datasets.CHECKSUMS, "mnist", sums)
    pattern = r"/m/train-images-idx3-ubyte\.gz: connection closed after"
    with pytest.raises(DatasetNotFoundError, match=pattern):
        load_mnist(tmp_path / "data", progress=False)
    assert listing(tmp_path / "data" / "mnist") == []


def test_load_download_checksum_mismatch_leaves_nothing(tmp_path, server, fake, monkeypatch):
    folder, _, _ = fake
    monkeypatch.setitem(datasets.MIRRORS, "mnist", [serve(server, "m", folder)])
    # the pinned table (real MNIST digests) does not match the fake files
    pattern = rf"checksum mismatch: .*expected {CHECKSUMS['mnist'][FILENAMES[0]]}"
    with pytest.raises(DatasetNotFoundError, match=pattern):
        load_mnist(tmp_path / "data", progress=False)
    assert listing(tmp_path / "data" / "mnist") == []


# --------------------------------------------------------------------------- loaders: files on disk


def test_checksum_mismatch_on_disk(tmp_path):
    folder = tmp_path / "data" / "mnist"
    make_fake(folder)
    expected = CHECKSUMS["mnist"][FILENAMES[0]]
    actual = gunzip_sha256(folder / FILENAMES[0])
    path = re.escape(str(folder / FILENAMES[0]))
    pattern = (
        rf"{path}: checksum mismatch: sha256 of the decompressed contents is {actual}, "
        rf"expected {expected}\..*Delete {path}"
    )
    with pytest.raises(DatasetError, match=pattern):
        load_mnist(tmp_path / "data", download=False)
    assert listing(folder) == sorted(FILENAMES)


def test_corrupt_gzip_on_disk(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "mnist"
    _, sums = make_fake(folder)
    monkeypatch.setitem(datasets.CHECKSUMS, "mnist", sums)
    path = folder / FILENAMES[2]
    path.write_bytes(path.read_bytes()[:-20])
    escaped = re.escape(str(path))
    with pytest.raises(DatasetError, match=rf"{escaped}: corrupt gzip data.*Delete {escaped}"):
        load_mnist(tmp_path / "data", download=False)
    assert listing(folder) == sorted(FILENAMES)


def test_image_label_count_mismatch(tmp_path):
    folder = tmp_path / "data" / "mnist"
    _, sums = make_fake(folder, n_train_labels=19)
    pattern = r"image/label count mismatch: .*holds 20 images but .*holds 19 labels"
    with pytest.raises(DatasetError, match=pattern):
        mnist._load("mnist", tmp_path / "data", download=False, checksums=sums)
    assert listing(folder) == sorted(FILENAMES)


def test_image_shape_must_be_28x28(tmp_path):
    folder = tmp_path / "data" / "mnist"
    _, sums = make_fake(folder)
    write_idx(folder / FILENAMES[2], np.zeros((10, 27, 28), np.uint8))
    sums[FILENAMES[2]] = gunzip_sha256(folder / FILENAMES[2])
    pattern = r"expected uint8 images of shape \(n, 28, 28\), found uint8 of shape \(10, 27, 28\)"
    with pytest.raises(DatasetError, match=pattern):
        mnist._load("mnist", tmp_path / "data", download=False, checksums=sums)
    assert listing(folder) == sorted(FILENAMES)


def test_missing_checksum_entry(tmp_path):
    make_fake(tmp_path / "data" / "mnist")
    with pytest.raises(DatasetError, match="no pinned sha256 for train-images-idx3-ubyte.gz"):
        mnist._load("mnist", tmp_path / "data", download=False, checksums={})


@pytest.mark.parametrize("dtype", [np.int32, np.float16, "uint8", "nonsense", None])
def test_bad_dtype(dtype, tmp_path):
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        load_mnist(tmp_path, download=False, dtype=dtype)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("name", ["MNIST", "fashion_mnist", "cifar10", 3])
def test_bad_name(name, tmp_path):
    with pytest.raises(ValueError, match=r"name must be one of 'mnist', 'fashion-mnist', got"):
        load_dataset(name, tmp_path, download=False)
    with pytest.raises(ValueError, match="name must be one of"):
        candidate_dirs(name)


# --------------------------------------------------------------------------- look-up order


def test_candidate_dirs_order(tmp_path, monkeypatch):
    monkeypatch.setenv("RPNUMPY_DATA", str(tmp_path / "env"))
    xdg = tmp_path / "xdg" / "rpnumpy"
    assert candidate_dirs("mnist") == [tmp_path / "env" / "mnist", xdg / "mnist"]
    assert candidate_dirs("fashion-mnist") == [
        tmp_path / "env" / "fashion-mnist",
        xdg / "fashion-mnist",
        tmp_path / "no-debian",
    ]
    assert candidate_dirs("fashion-mnist", tmp_path / "explicit") == [tmp_path / "explicit" / "fashion-mnist"]
    assert candidate_dirs("mnist", str(tmp_path / "explicit")) == [tmp_path / "explicit" / "mnist"]


def test_cache_defaults_to_home_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets.cache_dir() == tmp_path / "home" / ".cache" / "rpnumpy"
    assert candidate_dirs("mnist") == [tmp_path / "home" / ".cache" / "rpnumpy" / "mnist"]


def test_debian_location_is_used_for_fashion_mnist(tmp_path, monkeypatch):
    debian = tmp_path / "debian-share"
    arrays, sums = make_fake(debian, seed=4)  # the files sit directly in the folder
    monkeypatch.setattr(mnist, "DEBIAN_FASHION_MNIST_DIR", debian)
    monkeypatch.setitem(datasets.CHECKSUMS, "fashion-mnist", sums)
    _, y_train, _, _ = load_fashion_mnist(download=False)
    np.testing.assert_array_equal(y_train, arrays[FILENAMES[1]])
    assert debian not in candidate_dirs("mnist")


def test_explicit_data_dir_beats_env(tmp_path, monkeypatch):
    _, sums_env = make_fake(tmp_path / "env" / "mnist", seed=1)
    make_fake(tmp_path / "explicit" / "mnist", seed=2)
    monkeypatch.setenv("RPNUMPY_DATA", str(tmp_path / "env"))
    monkeypatch.setitem(datasets.CHECKSUMS, "mnist", sums_env)
    load_mnist(download=False)  # the env folder verifies
    # With data_dir given, its (different) files are the ones read: they fail the env files' digests.
    explicit_file = re.escape(str(tmp_path / "explicit" / "mnist" / FILENAMES[0]))
    with pytest.raises(DatasetError, match=rf"{explicit_file}: checksum mismatch"):
        load_mnist(tmp_path / "explicit", download=False)
    # An explicit folder without the files is the only one searched, even though the env folder has them.
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(tmp_path / "nowhere", download=False)
    assert info.value.searched == [tmp_path / "nowhere" / "mnist"]
    assert "data_dir was given, so only it was searched" in str(info.value)
    assert str(tmp_path / "env") not in str(info.value)


def test_env_beats_cache(tmp_path, monkeypatch):
    env_arrays, sums_env = make_fake(tmp_path / "env" / "mnist", seed=1)
    make_fake(tmp_path / "xdg" / "rpnumpy" / "mnist", seed=2)
    monkeypatch.setenv("RPNUMPY_DATA", str(tmp_path / "env"))
    monkeypatch.setitem(datasets.CHECKSUMS, "mnist", sums_env)
    _, y_train, _, _ = load_mnist(download=False)
    np.testing.assert_array_equal(y_train, env_arrays[FILENAMES[1]])


def test_incomplete_folder_is_skipped(tmp_path, monkeypatch):
    make_fake(tmp_path / "env" / "mnist", seed=1)
    (tmp_path / "env" / "mnist" / FILENAMES[3]).unlink()
    cache_arrays, sums_cache = make_fake(tmp_path / "xdg" / "rpnumpy" / "mnist", seed=2)
    monkeypatch.setenv("RPNUMPY_DATA", str(tmp_path / "env"))
    monkeypatch.setitem(datasets.CHECKSUMS, "mnist", sums_cache)
    _, y_train, _, _ = load_mnist(download=False)
    np.testing.assert_array_equal(y_train, cache_arrays[FILENAMES[1]])


def test_not_found_lists_every_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("RPNUMPY_DATA", str(tmp_path / "env"))
    (tmp_path / "xdg" / "rpnumpy" / "fashion-mnist").mkdir(parents=True)
    (tmp_path / "xdg" / "rpnumpy" / "fashion-mnist" / FILENAMES[1]).write_bytes(b"")
    expected = candidate_dirs("fashion-mnist")
    assert len(expected) == 3
    with pytest.raises(DatasetNotFoundError, match="Fashion-MNIST files not found") as info:
        load_fashion_mnist(download=False)
    err = info.value
    msg = str(err)
    assert err.searched == expected
    assert err.attempts == []
    listed = [line[4:].split(" (")[0] for line in msg.splitlines() if line.startswith("  - ")]
    assert listed == [str(d) for d in expected]  # exactly the folders searched, in order
    assert f"  - {expected[0]} (folder does not exist)" in msg
    missing = ", ".join(f for f in FILENAMES if f != FILENAMES[1])
    assert f"  - {expected[1]} (missing {missing})" in msg
    assert "No download was attempted (download=False)" in msg
    assert "RPNUMPY_DATA" in msg
    assert "apt-get install dataset-fashion-mnist" in msg


def test_not_found_mnist_does_not_mention_apt(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(download=False)
    assert "apt-get" not in str(info.value)
    assert info.value.searched == [tmp_path / "xdg" / "rpnumpy" / "mnist"]
    assert isinstance(info.value, DatasetError)


# --------------------------------------------------------------------------- real data (RPNUMPY_DATA)


def _require_real_data() -> str:
    if not REAL_DATA:
        if os.environ.get("CI"):
            pytest.fail(
                "RPNUMPY_DATA is not set but CI is: CI must point RPNUMPY_DATA at the shared data "
                "folder (e.g. RPNUMPY_DATA=../shared/data)"
            )
        pytest.skip(
            "RPNUMPY_DATA is not set; set it to a folder holding mnist/ and fashion-mnist/ "
            "(e.g. RPNUMPY_DATA=../shared/data) to run the real-data tests"
        )
    return REAL_DATA


@pytest.fixture(scope="module")
def real_sets():
    root = _require_real_data()
    with pytest.MonkeyPatch.context() as mp:  # load through the RPNUMPY_DATA look-up path
        mp.setenv("RPNUMPY_DATA", root)
        return {name: load_dataset(name, download=False) for name in ("mnist", "fashion-mnist")}


@pytest.mark.data
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_data_shapes_and_ranges(real_sets, name):
    x_train, y_train, x_test, y_test = real_sets[name]
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))


@pytest.mark.data
def test_real_mnist_known_facts(real_sets):
    _, y_train, _, y_test = real_sets["mnist"]
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    counts = np.bincount(y_test, minlength=10)
    assert counts.sum() == 10000
    assert counts[1] == 1135
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.data
def test_real_fashion_mnist_known_facts(real_sets):
    _, y_train, _, y_test = real_sets["fashion-mnist"]
    assert np.bincount(y_train).tolist() == [6000] * 10  # balanced classes
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert y_train[0] == 9  # the first training item is an ankle boot


@pytest.mark.data
def test_real_read_idx_raw_headers():
    root = Path(_require_real_data())
    labels = read_idx(root / "mnist" / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert gunzip_sha256(root / "fashion-mnist" / FILENAMES[3]) == CHECKSUMS["fashion-mnist"][FILENAMES[3]]
