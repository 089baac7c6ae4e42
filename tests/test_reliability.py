"""Regression tests of issue 15, "Nothing silent": one section per finding, named ``test_finding_<n>_...``.

1. fit refuses an optimizer built for other arrays.        8. empty batches: a clear error or an empty result.
2. fit stops on divergence instead of returning a broken   9. model, exchange and data files: sizes checked
   model.                                                     before anything is allocated.
3. backward checks dy (shape and dtype).                  10. gradcheck --compare exit codes and escaped text.
4. load_model builds exactly the saved model.             11. downloads: overall deadline and size cap.
5. every random matrix is the same on 1 and 2 threads.    12. dtype=None and the smaller refusals.
6. atomic writes clean up, keep modes, follow symlinks.   13. closed forms: lstsq's minimum-norm solution.
7. fit refuses bad data before the first step.

The classes of bad input over every public layer and function are swept in tests/test_bad_input_sweep.py.
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import rpnumpy
from rpnumpy import (
    PRP,
    SGD,
    Dense,
    HalfLayer,
    Layer,
    MeanSquaredError,
    PolynomialActivation,
    PRPAutoencoder,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
    TrainingDivergedError,
    evaluate,
    fit,
    load_model,
    predict,
    save_model,
)
from rpnumpy.closed_form import RidgeAccumulator, fit_ridge, ridge_normal_equations
from rpnumpy.datasets import DatasetError, DownloadError, download_file
from rpnumpy.gradcheck import relative_error
from rpnumpy.io import ModelFileError
from rpnumpy.layers import Flatten, Sigmoid, Tanh
from rpnumpy.layers.base import MAX_CONFIG_DEPTH, layer_from_config, registered_name
from rpnumpy.testing import LAYER_CASES, get_case

ACTIVATIONS = [ReLU, Sigmoid, Tanh, rpnumpy.Sin, rpnumpy.Cos, rpnumpy.GELU]


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])[y] + 0.5 * rng.standard_normal((n, 2))
    return x, y


def _mlp():
    return Sequential(Dense(2, 8, rng=0), ReLU(), Dense(8, 3, rng=1))


def _snapshot(model):
    return {k: v.copy() for k, v in model.params.items()}


def _unchanged(model, before):
    return all(np.array_equal(model.params[k], v) for k, v in before.items())


def _run(script: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True,
                            check=False, env=None if env is None else {**os.environ, **env}, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


# -- finding 1: an optimizer built for other arrays trains nothing -------------------------------------------


def test_finding_1_an_optimizer_built_before_astype_is_refused_before_any_step():
    x, y = _blobs()
    model = _mlp()
    optimizer = SGD(model, lr=0.1)  # built on the float64 model ...
    model32 = model.astype(np.float32)  # ... which is then converted: the optimizer holds the old arrays
    before = _snapshot(model32)
    with pytest.raises(ValueError, match=r"optimizer must be built on this model .*before model.astype"):
        fit(model32, x.astype(np.float32), y, loss=SoftmaxCrossEntropy(), optimizer=optimizer, epochs=3,
            progress=False)
    assert _unchanged(model32, before)
    with pytest.raises(ValueError, match=r"optimizer must be built on this model"):
        fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(_mlp(), lr=0.1), progress=False)


# -- finding 2: divergence is an error ---------------------------------------------------------------------


def test_finding_2_one_step_with_lr_1e300_is_divergence_not_a_model():
    """One step (one batch, one epoch): the training loss was finite before the step, the model after it is not."""
    x, y = _blobs()
    model = _mlp()
    with pytest.raises(TrainingDivergedError, match=r"at epoch 1, step 1 of 1: training diverged") as info:
        fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(model, lr=1e300), epochs=1, batch_size=300,
            rng=0, progress=False, validation_data=(x, y))
    assert (info.value.epoch, info.value.step, info.value.history.epochs) == (1, 1, 0)


@pytest.mark.parametrize(("lr", "order"), [(1e20, 1e39), (1e47, 1e93)])
def test_finding_2_a_finite_but_exploded_validation_loss_is_divergence(lr, order):
    """With lr 1e20 and 1e47 one step leaves finite parameters and validation losses of about 1e39 and 1e93."""
    x, y = _blobs()
    model = _mlp()
    with pytest.raises(TrainingDivergedError, match=r"the validation loss became [0-9.]+e\+\d+ at epoch 1") as info:
        fit(model, x, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(model, lr=lr), epochs=1, batch_size=300,
            rng=0, progress=False, validation_data=(x, y))
    assert order < float(str(info.value).split("became ")[1].split()[0]) < 1e4 * order


@pytest.mark.parametrize("target", [1e42, 1e96])
def test_finding_2_an_exploding_training_loss_stops_fit(target):
    """A regression whose loss grows geometrically towards 1e42 or 1e96 is stopped at 1e4 times its first loss."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 4))
    y = x @ rng.standard_normal((4, 1))
    model = Dense(4, 1, rng=0)
    with pytest.raises(TrainingDivergedError, match=r"the loss became") as info:
        fit(model, x, y, loss=MeanSquaredError(), optimizer=SGD(model, lr=3.0), epochs=200, batch_size=16,
            rng=0, progress=False, divergence_factor=target)
    loss = float(str(info.value).split("became ")[1].split()[0])
    assert target * 1e-6 < loss < np.inf  # stopped where it passed the limit, before overflowing


# -- finding 3: backward checks dy -------------------------------------------------------------------------


def _dy_variants(dy):
    return {"(1, d)": dy[:1], "(d,)": dy[0], "0-d": np.array(1.0)}


@pytest.mark.parametrize("build", [lambda: HalfLayer(6, 4, rng=0), lambda: PRPAutoencoder(6, 3, rng=0)]
                         + [lambda cls=cls: cls() for cls in ACTIVATIONS],
                         ids=["HalfLayer", "PRPAutoencoder"] + [cls.__name__ for cls in ACTIVATIONS])
def test_finding_3_backward_refuses_a_dy_that_would_broadcast(build):
    layer = build()
    x = np.random.default_rng(0).standard_normal((5, 6))
    dy = np.ones_like(layer.forward(x))
    for label, bad in _dy_variants(dy).items():
        with pytest.raises(ValueError, match=r"dy must have the shape of the last output"):
            layer.backward(bad)
        assert label


@pytest.mark.parametrize("layer", [ReLU(), Flatten(), rpnumpy.Reshape((6,))], ids=["ReLU", "Flatten", "Reshape"])
def test_finding_3_a_float32_dy_for_a_float64_output_is_refused(layer):
    x = np.random.default_rng(0).standard_normal((5, 6))
    y = layer.forward(x)
    with pytest.raises(TypeError, match=r"dy has dtype float32 but float64 was expected"):
        layer.backward(y.astype(np.float32))
    assert layer.backward(np.ones_like(y)).dtype == np.float64


# -- finding 4: load_model builds exactly the model that was saved -----------------------------------------


class ReLU(Layer):  # noqa: F811 (a student's own ReLU, defined after importing rpnumpy's on purpose)
    """A student's ReLU under the same class name as rpnumpy's: it must never replace it in a saved model."""

    input_ndim = None

    def _forward(self, x):
        return np.zeros_like(x), None


StudentReLU = ReLU
ReLU = rpnumpy.ReLU


def test_finding_4_a_students_relu_never_replaces_rpnumpys_when_loading(tmp_path):
    assert registered_name(StudentReLU) != "ReLU" and registered_name(rpnumpy.ReLU) == "ReLU"
    model = Sequential(Dense(3, 4, rng=0), rpnumpy.ReLU(), Dense(4, 2, rng=1))
    path = save_model(model, tmp_path / "m.npz")
    x = np.random.default_rng(0).standard_normal((5, 3))
    loaded = load_model(path)
    assert type(loaded[1]) is rpnumpy.ReLU
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", model.forward(x))
    _run("""
        import sys
        import numpy as np
        import rpnumpy
        from rpnumpy.layers import Layer

        class ReLU(Layer):
            input_ndim = None

            def _forward(self, x):
                return np.zeros_like(x), None

        model = rpnumpy.load_model(sys.argv[1] + "/m.npz")
        assert type(model[1]) is rpnumpy.ReLU, type(model[1])
        assert np.array_equal(model.forward(np.load(sys.argv[1] + "/x.npy")), np.load(sys.argv[1] + "/y.npy"))
    """, str(tmp_path))


def _rewrite_config(path, target, change):
    with np.load(path, allow_pickle=False) as archive:
        contents = {k: archive[k] for k in archive.files}
    spec = json.loads(str(contents["config"]))
    change(spec)
    contents["config"] = np.array(json.dumps(spec))
    np.savez(target, **contents)
    return target


def test_finding_4_a_config_without_its_seed_is_refused_not_drawn_from_entropy(tmp_path):
    path = save_model(HalfLayer(16, 4, rng=3), tmp_path / "half.npz")
    no_seed = _rewrite_config(path, tmp_path / "no_seed.npz", lambda spec: spec["config"].pop("rng"))
    with pytest.raises(ModelFileError, match=r"must record its seed as an int 'rng', got None"):
        load_model(no_seed)
    for seed in (None, 1.5, "3", True):
        bad = _rewrite_config(path, tmp_path / "bad_seed.npz", lambda spec, s=seed: spec["config"].update(rng=s))
        with pytest.raises(ModelFileError, match=r"'rng'"):
            load_model(bad)
    x = np.random.default_rng(0).standard_normal((2, 16))
    outputs = {float(load_model(path).forward(x).sum()) for _ in range(3)}
    assert len(outputs) == 1  # three loads of one file: one model


def test_finding_4_private_or_unrecorded_entries_cannot_change_what_is_rebuilt(tmp_path):
    """A ``_matrix``-style entry (a private constructor argument) could hand the layer its matrix and so pass the
    check of stored buffers against their seeds: every key the layer does not record is refused."""
    path = save_model(get_case("SNNK[relu,iid]").build(), tmp_path / "snnk.npz", store_buffers=True)
    private = _rewrite_config(path, tmp_path / "private.npz", lambda spec: spec["config"].update(_zero_v=True))
    with pytest.raises(ModelFileError, match=r"private entries \['_zero_v'\]"):
        load_model(private)
    half = save_model(HalfLayer(16, 4, rng=3), tmp_path / "half.npz", store_buffers=True)
    matrix = _rewrite_config(half, tmp_path / "matrix.npz", lambda spec: spec["config"].update(_matrix=[[0.0]]))
    with pytest.raises(ModelFileError, match=r"private entries \['_matrix'\]"):
        load_model(matrix)
    ignored = _rewrite_config(half, tmp_path / "templates.npz",
                              lambda spec: spec["config"].update(templates=[[0.0] * 16] * 4))
    with pytest.raises(ModelFileError, match=r"holds \['templates'\], which the layer does not record"):
        load_model(ignored)
    with np.load(half, allow_pickle=False) as archive:  # and a stored buffer is still checked against its seed
        contents = {k: archive[k] for k in archive.files}
    contents["buffer/R"] = contents["buffer/R"][::-1].copy()
    np.savez(tmp_path / "swapped.npz", **contents)
    with pytest.raises(ModelFileError, match=r"stored buffer 'R' differs from the matrix its seed rebuilds"):
        load_model(tmp_path / "swapped.npz")


# -- finding 5: the same matrix on any number of BLAS threads ----------------------------------------------

_THREADS_SCRIPT = """
import hashlib, json, sys
import numpy as np
import threadpoolctl
import rpnumpy
from rpnumpy.bundling import InputTower
from rpnumpy.random_matrices import MATRIX_KINDS, random_matrix

mode, folder = sys.argv[1], sys.argv[2]
threads = max(info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas")

def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]

hashes = {}
for kind in MATRIX_KINDS:
    shapes = [(784, 256), (256, 784), (300, 200)] if kind != "mexican_hat" else [(784, 64)]
    for shape in shapes:
        hashes[f"{kind}{shape}"] = digest(random_matrix(kind, shape, 11))
layers = {
    "PRP": rpnumpy.PRP(784, 256, scheme="orthogonal", rng=5),
    "PRPAutoencoder": rpnumpy.PRPAutoencoder(784, 128, rng=6),
    "PRPAutoencoder-untied": rpnumpy.PRPAutoencoder(300, 100, tied=False, rng=6),
    "SNNK": rpnumpy.SNNK(300, 10, 256, activation="cos", draws="orthogonal", rng=7),
    "EUGen": rpnumpy.EUGen(300, 10, 200, 2, draws="orthogonal", rng=8),
    "InputTower": InputTower(300, [256, 128], ["relu", "cos"], draws="orthogonal", radius=1.0, rng=9),
}
for name, layer in layers.items():
    hashes.update({f"{name}.{k}": digest(v) for k, v in layer.buffers.items()})
    if mode == "save":
        rpnumpy.save_model(layer, f"{folder}/{name}.npz", store_buffers=True)
    else:
        loaded = rpnumpy.load_model(f"{folder}/{name}.npz")
        assert all(np.array_equal(loaded.buffers[k], v) for k, v in layer.buffers.items())
print(json.dumps({"threads": threads, "hashes": hashes}))
"""


def test_finding_5_every_random_matrix_is_bit_identical_on_1_and_2_blas_threads(tmp_path):
    """A file saved with stored buffers on 2 threads loads on 1, and every kind hashes the same on both."""
    runs = {}
    for threads, mode in ((2, "save"), (1, "load")):
        env = {"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        runs[threads] = json.loads(_run(_THREADS_SCRIPT, mode, str(tmp_path), env=env).stdout)
    assert runs[2]["threads"] == 2 and runs[1]["threads"] == 1
    assert runs[1]["hashes"] == runs[2]["hashes"]
    assert len(runs[1]["hashes"]) >= 25


# -- finding 6: atomic writes --------------------------------------------------------------------------------

_STUCK_WRITER = """
import sys, time
import numpy as np
from rpnumpy.io import save_model
from rpnumpy.layers import Dense

def stuck(handle, **arrays):  # writes a little, then hangs: the process is killed mid-write
    handle.write(b"half a model")
    handle.flush()
    print("writing", flush=True)
    time.sleep(120)

np.savez = stuck
save_model(Dense(3, 2, rng=0), sys.argv[1])
"""


def _killed_mid_write(script: str, target: Path, sig: int) -> list[Path]:
    """Start ``script`` writing ``target``, kill it with ``sig`` once it writes, return the files it left."""
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), str(target)], stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout.readline().strip() == "writing"
        process.send_signal(sig)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    return sorted(p for p in target.parent.iterdir() if p.name.startswith(f".{target.name}."))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_finding_6_a_killed_save_leaves_the_target_intact_and_the_next_save_cleans_up(tmp_path, sig):
    target = tmp_path / "m.npz"
    save_model(Dense(3, 2, rng=1), target)
    before = target.read_bytes()
    leftovers = _killed_mid_write(_STUCK_WRITER, target, sig)
    assert len(leftovers) == 1 and leftovers[0].name.endswith(".tmp")  # nothing could clean up after a kill
    assert target.read_bytes() == before
    other = tmp_path / "other.npz"  # a different target does not touch it
    save_model(Dense(3, 2, rng=2), other)
    assert leftovers[0].exists()
    save_model(Dense(3, 2, rng=3), target)  # the next save of the same target removes it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "other.npz"]
    assert load_model(target).get_config()["rng"] == 3


def test_finding_6_a_live_writers_temporary_file_is_left_alone(tmp_path):
    target = tmp_path / "m.npz"
    live = tmp_path / f".m.npz.{os.getppid()}.0123abcd.tmp"  # a running process (our parent) is writing it
    live.write_bytes(b"in progress")
    save_model(Dense(3, 2, rng=1), target)
    assert live.exists()


def test_finding_6_an_interrupted_download_leaves_a_part_file_that_the_next_download_removes(tmp_path):
    payload = gzip.compress(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"\x01\x02\x03", mtime=0)
    source = tmp_path / "served.gz"
    source.write_bytes(payload)
    import hashlib

    digest = hashlib.sha256(gzip.decompress(payload)).hexdigest()
    dest = tmp_path / "cache" / "labels.gz"
    script = """
        import sys, time
        import rpnumpy.datasets.download as download

        def stuck(url, out, **kwargs):
            out.write(b"partial")
            out.flush()
            print("writing", flush=True)
            time.sleep(120)

        download._fetch = stuck
        download.download_file("file:///nowhere", sys.argv[1], sha256_decompressed="0" * 64)
    """
    dest.parent.mkdir()
    leftovers = _killed_mid_write(script, dest, signal.SIGTERM)
    assert len(leftovers) == 1 and leftovers[0].name.endswith(".part")
    download_file(source.as_uri(), dest, sha256_decompressed=digest, progress=False)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["labels.gz"]
    assert dest.read_bytes() == payload


def test_finding_6_an_existing_files_mode_is_kept_and_a_new_one_follows_the_umask(tmp_path):
    from rpnumpy.datasets import write_idx

    target = tmp_path / "m.npz"
    save_model(Dense(3, 2, rng=1), target)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # as open() would create it, not mkstemp's 0600
    for mode in (0o640, 0o604, 0o600):
        target.chmod(mode)
        save_model(Dense(3, 2, rng=2), target)
        assert stat.S_IMODE(target.stat().st_mode) == mode
    idx = tmp_path / "a.idx"
    write_idx(idx, np.arange(3, dtype=np.uint8))
    idx.chmod(0o640)
    write_idx(idx, np.arange(4, dtype=np.uint8))
    assert stat.S_IMODE(idx.stat().st_mode) == 0o640


def test_finding_6_a_symlink_is_written_through_to_its_target(tmp_path):
    real = tmp_path / "store" / "model.npz"
    real.parent.mkdir()
    save_model(Dense(3, 2, rng=1), real)
    link = tmp_path / "current.npz"
    link.symlink_to(real)
    save_model(Dense(3, 2, rng=2), link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load_model(real).get_config()["rng"] == 2
    assert sorted(p.name for p in real.parent.iterdir()) == ["model.npz"]
    dangling = tmp_path / "next.npz"
    dangling.symlink_to(tmp_path / "store" / "new.npz")  # a link to a file not written yet: it is created
    save_model(Dense(3, 2, rng=3), dangling)
    assert dangling.is_symlink() and load_model(tmp_path / "store" / "new.npz").get_config()["rng"] == 3


def test_finding_6_any_failure_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "m.npz"
    save_model(Dense(3, 2, rng=1), target)
    before = target.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(Dense(3, 2, rng=2), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"] and target.read_bytes() == before


# -- finding 7: bad data refused before the first step ---------------------------------------------------------


def test_finding_7_bad_validation_data_and_labels_are_refused_before_training_changes_the_model():
    x, y = _blobs()
    model = _mlp()
    before, optimizer, loss = _snapshot(model), SGD(model, lr=0.1), SoftmaxCrossEntropy()
    bad_label = y.copy()
    bad_label[-1] = 3  # the last sample of the last batch: found only after training, before
    refusals = {
        "validation data of the wrong width": dict(validation_data=(np.ones((5, 3)), y[:5])),
        "validation labels out of range": dict(validation_data=(x[:5], np.array([0, 1, 2, 7, 1]))),
        "float validation labels": dict(validation_data=(x[:5], y[:5].astype(float))),
        "a bad training label": dict(y_train=bad_label),
    }
    for what, change in refusals.items():
        kwargs = dict(x_train=x, y_train=y, loss=loss, optimizer=optimizer, epochs=2, progress=False) | change
        with pytest.raises((ValueError, TypeError), match=r"y_train|validation_data"):
            fit(model, **kwargs)
        assert _unchanged(model, before), what


# -- finding 8: empty batches -----------------------------------------------------------------------------------


def test_finding_8_empty_batches_give_empty_results_or_clear_errors():
    from rpnumpy.fast import fwht_blocked
    from rpnumpy.hadamard import SRHT, fwht

    srht = SRHT(10, 4, seed=0)
    assert srht.apply(np.zeros((0, 10))).shape == (0, 4)
    assert srht.apply_transpose(np.zeros((0, 4))).shape == (0, 10)
    assert fwht(np.zeros((0, 8))).shape == fwht_blocked(np.zeros((0, 8))).shape == (0, 8)
    assert Flatten().forward(np.zeros((0, 3, 4))).shape == (0, 12)
    model = _mlp()
    assert predict(model, np.zeros((0, 2))).shape == (0, 3)
    with pytest.raises(ValueError, match=r"x must hold at least one sample, got shape \(0, 2\)"):
        evaluate(model, np.zeros((0, 2)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match=r"x_train must hold at least one sample"):
        fit(model, np.zeros((0, 2)), np.zeros(0, dtype=int), loss=SoftmaxCrossEntropy(), optimizer=SGD(model, lr=1),
            progress=False)
    with pytest.raises(ValueError, match=r"Z must hold at least one sample and one feature, got shape \(0, 3\)"):
        fit_ridge(np.zeros((0, 3)), np.zeros(0))
    with pytest.raises(ValueError, match=r"prediction must hold at least one value"):
        SoftmaxCrossEntropy().forward(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match=r"prediction must hold at least one value"):
        MeanSquaredError().forward(np.zeros((0, 3)), np.zeros((0, 3)))
    acc = RidgeAccumulator(3, 1)
    acc.update(np.zeros((0, 3)), np.zeros(0))  # an empty mini-batch adds nothing
    with pytest.raises(ValueError, match=r"no data accumulated yet"):
        acc.solve()


# -- finding 9: sizes checked before anything is allocated -----------------------------------------------------


def _peak_bytes(call) -> int:
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def _refused_cheaply(call, error, match, limit=16 * 2**20):
    def attempt():
        with pytest.raises(error, match=match):
            call()

    peak = _peak_bytes(attempt)
    assert peak < limit, f"{peak / 2**20:.1f} MiB allocated before the refusal"


def test_finding_9_a_small_config_declaring_a_huge_layer_is_refused_before_it_is_built(tmp_path):
    path = save_model(Dense(3, 2, rng=0), tmp_path / "small.npz")
    huge = _rewrite_config(path, tmp_path / "huge.npz", lambda spec: spec["config"].update(d_in=10_000, d_out=10_000))
    assert huge.stat().st_size < 2_000
    _refused_cheaply(lambda: load_model(huge), ModelFileError,
                     r"declares 100,010,000 trainable values but the file stores 8")
    # A layer whose large part is rebuilt from a seed (never stored) is bounded by max_bytes.
    path = save_model(HalfLayer(3, 2, rng=0), tmp_path / "half.npz")
    wide = _rewrite_config(path, tmp_path / "wide.npz", lambda spec: spec["config"].update(d_in=10**6, d_out=2))
    _refused_cheaply(lambda: load_model(wide, max_bytes=2**20), ModelFileError,
                     r"the model would hold 2,000,004 values, more than max_bytes=1,048,576")


def _zip_member(archive: zipfile.ZipFile, name: str, header: bytes, payload_bytes: int) -> None:
    with archive.open(name, "w", force_zip64=True) as member:
        member.write(header)
        chunk = bytes(2**20)
        for _ in range(payload_bytes // len(chunk)):
            member.write(chunk)


def test_finding_9_an_extra_large_member_is_refused_unread(tmp_path):
    path = save_model(Dense(3, 2, rng=0), tmp_path / "m.npz")
    header = np.lib.format.header_data_from_array_1_0(np.zeros(0))
    header["shape"] = (2**25,)  # 256 MiB of zeros, about 256 KiB compressed
    import io as _io

    buffer = _io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        _zip_member(archive, "notes.npy", buffer.getvalue(), 2**28)
    assert path.stat().st_size < 2**20
    _refused_cheaply(lambda: load_model(path), ModelFileError, r"unknown entries \['notes'\]")


def test_finding_9_an_npy_header_declaring_8_tb_is_refused_cleanly(tmp_path):
    header = {"descr": "<f8", "fortran_order": False, "shape": (2**40,)}
    import io as _io

    buffer = _io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    (tmp_path / "huge.npy").write_bytes(buffer.getvalue() + bytes(64))
    _refused_cheaply(lambda: load_model(tmp_path / "huge.npy"), ModelFileError, r"is a single .npy array")
    path = save_model(Dense(3, 2, rng=0), tmp_path / "m.npz")  # the same header inside a model archive
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("buffer/0.R.npy", buffer.getvalue() + bytes(64))
    _refused_cheaply(lambda: load_model(path), ModelFileError,
                     r"entry 'buffer/0.R.npy' declares shape \(1099511627776,\) of float64 \(8,796,093,022,208 bytes\)")


@pytest.mark.parametrize("name", [case.name for case in LAYER_CASES])
def test_finding_9_every_config_declares_the_sizes_of_the_layer_it_builds(name):
    """The sizes load_model checks before building are exactly those of the layer the config builds."""
    from rpnumpy.layers.base import declared_sizes, layer_spec

    layer = get_case(name).build()
    assert declared_sizes(layer_spec(layer)) == (layer.n_params, layer.n_buffer_values)


def test_finding_9_configs_are_limited_in_depth(tmp_path):
    path = save_model(Dense(3, 2, rng=0), tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as archive:
        contents = {k: archive[k] for k in archive.files}
    contents["config"] = np.array("[" * 100_000 + "]" * 100_000)
    np.savez(tmp_path / "deep.npz", **contents)
    with pytest.raises(ModelFileError, match=r"nested 100000 levels deep"):
        load_model(tmp_path / "deep.npz")
    spec = {"class": "ReLU", "config": {}}
    for _ in range(MAX_CONFIG_DEPTH):
        spec = {"class": "Sequential", "config": {"layers": [spec]}}
    with pytest.raises(ValueError, match=r"nested more than MAX_CONFIG_DEPTH=16 levels"):
        layer_from_config(spec)
    layer_from_config(spec["config"]["layers"][0])  # one level less is fine
    model = rpnumpy.ReLU()
    for _ in range(MAX_CONFIG_DEPTH - 1):
        model = Sequential(model)
    load_model(save_model(model, tmp_path / "deepest.npz"))
    with pytest.raises(ValueError, match=r"model nests layers 17 deep"):  # a file that would be refused is not written
        save_model(Sequential(model), tmp_path / "too_deep.npz")
    assert not (tmp_path / "too_deep.npz").exists()


def test_finding_9_a_small_corrupt_labels_file_is_not_inflated_before_its_checksum_is_refused(tmp_path, monkeypatch):
    import hashlib

    from rpnumpy.datasets import CHECKSUMS, FILENAMES, load_mnist, write_idx

    folder = tmp_path / "mnist"
    folder.mkdir()
    sums = {}
    for name in FILENAMES:
        write_idx(folder / name, np.zeros((1, 28, 28) if "images" in name else (1,), dtype=np.uint8))
        sums[name] = hashlib.sha256(gzip.decompress((folder / name).read_bytes())).hexdigest()
    monkeypatch.setitem(CHECKSUMS, "mnist", sums)  # the images pass, so the labels file is read
    with gzip.open(folder / FILENAMES[1], "wb", compresslevel=9) as bomb:  # 256 MiB of zeros, 250 KiB on disk
        chunk = bytes(2**20)
        for _ in range(256):
            bomb.write(chunk)
    assert (folder / FILENAMES[1]).stat().st_size < 2**20
    _refused_cheaply(lambda: load_mnist(tmp_path, download=False), DatasetError,
                     r"larger than the 60,008 bytes this file holds")


def test_finding_9_unknown_members_are_refused(tmp_path):
    path = save_model(Dense(3, 2, rng=0), tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as archive:
        contents = {k: archive[k] for k in archive.files}
    np.savez(tmp_path / "extra.npz", **contents, readme=np.array("hello"))
    with pytest.raises(ModelFileError, match=r"unknown entries \['readme'\]"):
        load_model(tmp_path / "extra.npz")


# -- finding 10: gradcheck --compare -------------------------------------------------------------------------


def _exchange_file(folder, name="PRP[gaussian]", **changes):
    from rpnumpy.testing.exchange import case_filename, exchange_case, write_case

    layer, x, dy = get_case(name).sample(0)
    path = write_case(exchange_case(layer, x, dy, name=name), folder / case_filename(name))
    if changes:
        with np.load(path, allow_pickle=False) as archive:
            contents = {k: archive[k] for k in archive.files}
        contents.update(changes)
        np.savez(path, **contents)
    return path


def test_finding_10_exit_codes_every_file_reported(tmp_path, capsys):
    from rpnumpy.cli import main

    good = _exchange_file(tmp_path)
    assert main(["gradcheck", "--compare", str(good)]) == 0
    bad = _exchange_file(tmp_path, "Dense")
    with np.load(bad) as archive:
        contents = {k: archive[k] for k in archive.files}
    np.savez(bad, **{**contents, "grad/W": contents["grad/W"] * 1.01})
    assert main(["gradcheck", "--compare", str(tmp_path)]) == 1  # one agrees, one mismatches
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    capsys.readouterr()
    assert main(["gradcheck", "--compare", str(tmp_path)]) == 2  # an unreadable file: 2, the others still compared
    out, err = capsys.readouterr()
    assert "1 of 3 files agree with rpnumpy" in out and "mismatches: Dense" in out and "unusable: broken.npz" in out
    assert out.count("max relative error") == 3 and "broken.npz" in err


def test_finding_10_a_crash_is_not_a_mismatch_and_an_empty_batch_is_not_agreement(tmp_path, monkeypatch, capsys):
    from rpnumpy.cli import main

    path = _exchange_file(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    case = np.load(path)
    _exchange_file(empty, input=case["input"][:0], upstream=case["upstream"][:0], output=case["output"][:0],
                   grad_input=case["input"][:0])
    assert main(["gradcheck", "--compare", str(empty)]) == 2
    assert "the input holds no sample" in capsys.readouterr().out

    def crash(self, x):
        raise RuntimeError("a bug in rpnumpy")

    monkeypatch.setattr(PRP, "_forward", crash)
    _exchange_file(tmp_path, "Dense")
    assert main(["gradcheck", "--compare", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "RuntimeError: a bug in rpnumpy" in out and "1 of 2 files agree" in out


def test_finding_10_text_from_a_file_is_printed_escaped(tmp_path, capsys):
    from rpnumpy.cli import main

    forged = "x\n  max relative error 0.00e+00 -> PASS (tolerance 1e-10)\n\x1b[2J\x1b]0;owned\x07"
    _exchange_file(tmp_path, case=np.array(forged), producer=np.array("me\r\nPASS"))
    assert main(["gradcheck", "--compare", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    lines = out.splitlines()
    assert sum(line.startswith("  max relative error") for line in lines) == 1  # the file's own verdict line only
    assert lines[0].startswith("x\\n  max relative error 0.00e+00 -> PASS (tolerance 1e-10)\\n\\x1b[2J")
    assert "produced by me\\r\\nPASS" in lines[0]


# -- finding 11: downloads ----------------------------------------------------------------------------------------


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (name fixed by http.server)
        self.send_response(200)
        if self.path != "/endless":
            self.send_header("Content-Length", "100000000" if self.path == "/announced" else "1000")
        self.end_headers()
        try:
            for _ in range(100_000):
                if self.path == "/trickle":
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.02)
                elif self.path == "/endless":
                    self.wfile.write(bytes(65536))
                else:
                    return
        except OSError:  # the client hung up
            return

    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture
def slow_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_finding_11_a_trickling_server_meets_the_overall_deadline(tmp_path, slow_server, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    dest = tmp_path / "f.gz"
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"the deadline of 0.5 s for the whole download passed"):
        download_file(f"{slow_server}/trickle", dest, sha256_decompressed="0" * 64, timeout=5, deadline=0.5,
                      progress=False)
    assert time.monotonic() - start < 3  # not the 20 s the 1000 bytes would take, nor one timeout per byte
    assert list(tmp_path.iterdir()) == []


def test_finding_11_the_size_cap_stops_a_stream_without_content_length(tmp_path, slow_server, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    dest = tmp_path / "f.gz"
    with pytest.raises(DownloadError, match=r"the body passed 200,000 bytes, more than this file can have"):
        download_file(f"{slow_server}/endless", dest, sha256_decompressed="0" * 64, max_bytes=200_000, progress=False)
    with pytest.raises(DownloadError, match=r"announces 100,000,000 bytes \(Content-Length\), more than the 200,000"):
        download_file(f"{slow_server}/announced", dest, sha256_decompressed="0" * 64, max_bytes=200_000,
                      progress=False)
    assert list(tmp_path.iterdir()) == []


def test_finding_11_the_loaders_cap_each_file_at_its_known_size(tmp_path, monkeypatch):
    from rpnumpy.datasets import mnist

    calls = []

    def record(filename, dest_dir, base_urls, **kwargs):
        calls.append((filename, kwargs["max_bytes"], kwargs["max_decompressed"]))
        raise DownloadError("stop here", [("url", "stop here")])

    monkeypatch.setattr(mnist, "download_from_mirrors", record)
    with pytest.raises(DatasetError):
        mnist.load_mnist(tmp_path, progress=False)
    filename, max_bytes, max_decompressed = calls[0]
    assert max_decompressed == mnist.DECOMPRESSED_BYTES[filename]
    assert max_decompressed < max_bytes < 1.01 * max_decompressed + 2048


# -- finding 12: the smaller ones -----------------------------------------------------------------------------------


TYPED_LAYERS = {case.layer: case for case in LAYER_CASES if "dtype" in case.build().get_config()}


@pytest.mark.parametrize("name", sorted(TYPED_LAYERS))
def test_finding_12_dtype_none_is_refused_by_every_layer_with_a_dtype(name):
    layer = TYPED_LAYERS[name].build()
    config = layer.get_config()
    with pytest.raises(TypeError, match=r"dtype must be float32 or float64, got None"):
        type(layer).from_config({**config, "dtype": None})


def test_finding_12_clean_errors_for_bad_image_shape_coefficients_complex_input_and_radius():
    with pytest.raises(TypeError, match=r"image_shape must be None or a pair of positive ints .*'ab'"):
        HalfLayer(4, 3, scheme="mexican_hat", image_shape="ab", rng=0)
    with pytest.raises(TypeError, match=r"coefficients must be a list, tuple or 1-D array of real numbers, got 'abc'"):
        PolynomialActivation("abc")
    z = np.random.default_rng(0).standard_normal((20, 3))
    with pytest.raises(TypeError, match=r"Z must hold real numbers .* complex values are refused"):
        fit_ridge(z + 1j, z[:, 0])
    with pytest.raises(TypeError, match=r"Y must hold real numbers"):
        fit_ridge(z, z[:, 0] + 1j)


def test_finding_12_l2_normalize_refuses_a_negative_radius():
    from rpnumpy.bundling import l2_normalize

    with pytest.raises(ValueError, match=r"radius must be a finite number > 0, got -1.0"):
        l2_normalize(np.ones((2, 3)), radius=-1)


# -- finding 13: closed forms ------------------------------------------------------------------------------------


def _with_intercept(coef, intercept):
    return np.vstack([coef, intercept[None, :]])


@pytest.mark.parametrize(("n", "d"), [(5, 9), (30, 100), (50, 200), (199, 200)])
def test_finding_13_wide_designs_get_lstsqs_minimum_norm_solution(n, d):
    rng = np.random.default_rng(n)
    Z, Y = rng.standard_normal((n, d)), rng.standard_normal((n, 3))
    expected = np.linalg.lstsq(np.hstack([Z, np.ones((n, 1))]), Y, rcond=None)[0]
    for batch in (None, 7):
        assert relative_error(_with_intercept(*fit_ridge(Z, Y, batch_size=batch)), expected) < 1e-10
    assert relative_error(_with_intercept(*ridge_normal_equations(Z, Y)), expected) < 1e-10
    no_intercept = np.linalg.lstsq(Z, Y, rcond=None)[0]
    assert relative_error(fit_ridge(Z, Y, fit_intercept=False)[0], no_intercept) < 1e-10


def _ill_conditioned(seed, n=400, d=30, condition=1e6):
    """Z such that [Z, 1] has condition number ``condition`` exactly (centred columns, singular values from
    sqrt(n)/condition to sqrt(n), the column of ones contributing sqrt(n))."""
    rng = np.random.default_rng(seed)
    centred = rng.standard_normal((n, d))
    centred -= centred.mean(axis=0)
    U, _ = np.linalg.qr(centred)
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Z = U @ np.diag(np.sqrt(n) * np.logspace(0, -np.log10(condition), d)) @ V.T
    return Z, Z @ rng.standard_normal((d, 2)) + 1.5 + rng.standard_normal((n, 2))


@pytest.mark.parametrize("seed", range(4))
def test_finding_13_an_ill_conditioned_design_is_solved_to_lstsqs_accuracy(seed, monkeypatch):
    Z, Y = _ill_conditioned(seed)
    design = np.hstack([Z, np.ones((len(Z), 1))])
    assert np.linalg.cond(design) == pytest.approx(1e6, rel=1e-6)
    expected = np.linalg.lstsq(design, Y, rcond=None)[0]
    for batch in (None, 37):  # the 400 rows fit in one buffer: one factorisation, as lstsq's
        assert relative_error(_with_intercept(*fit_ridge(Z, Y, batch_size=batch)), expected) < 1e-10
    # Factors merged every 40 rows: as close as LAPACK's two least-squares drivers are to each other.
    import scipy.linalg

    import rpnumpy.closed_form

    monkeypatch.setattr(rpnumpy.closed_form, "_BUFFER_VALUES", 40 * 33)
    merged = _with_intercept(*fit_ridge(Z, Y, batch_size=37))
    drivers = relative_error(scipy.linalg.lstsq(design, Y, lapack_driver="gelsy")[0], expected)
    assert relative_error(merged, expected) < max(3 * drivers, 1e-10) < 1e-9
    # The normal equations square the condition number: the plain form and the Gram method are far off,
    # as their docstrings say (about 1e-16 * 1e12).
    assert relative_error(_with_intercept(*fit_ridge(Z, Y, method="gram")), expected) > 1e-8


def test_finding_13_collinear_and_dead_features_get_the_minimum_norm_solution():
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((300, 8))
    Z[:, 3] = 0.0
    Z[:, 5] = 2 * Z[:, 1] - Z[:, 2]
    Y = rng.standard_normal((300, 2))
    expected = np.linalg.lstsq(np.hstack([Z, np.ones((300, 1))]), Y, rcond=None)[0]
    for method in ("qr", "gram"):
        got = _with_intercept(*fit_ridge(Z, Y, method=method, batch_size=64))
        assert relative_error(got, expected) < 1e-10, method


@pytest.mark.parametrize("l2", [1e-3, 10.0])
def test_finding_13_both_methods_solve_the_penalised_problem_alike(l2):
    Z, Y = _ill_conditioned(0, condition=1e3)
    qr, gram = fit_ridge(Z, Y, l2, batch_size=50), fit_ridge(Z, Y, l2, method="gram", batch_size=50)
    plain = ridge_normal_equations(Z, Y, l2)
    for got in (qr, gram):
        assert relative_error(_with_intercept(*got), _with_intercept(*plain)) < 1e-10
    residual = Z @ qr[0] + qr[1] - Y
    assert np.abs(Z.T @ residual + l2 * qr[0]).max() < 1e-8 * np.abs(Z.T @ Y).max()  # the gradient vanishes
    assert np.abs(residual.sum(axis=0)).max() < 1e-8 * np.abs(Y).sum()  # the intercept is not penalised


def test_finding_13_the_streamed_sums_still_answer_gram_moment_and_trace():
    rng = np.random.default_rng(0)
    Z, Y = rng.standard_normal((200, 6)), rng.standard_normal((200, 2))
    qr, gram = RidgeAccumulator(6, 2), RidgeAccumulator(6, 2, method="gram")
    for lo in range(0, 200, 32):
        qr.update(Z[lo:lo + 32], Y[lo:lo + 32])
        gram.update(Z[lo:lo + 32], Y[lo:lo + 32])
    design = np.hstack([Z, np.ones((200, 1))])
    for acc in (qr, gram):
        assert relative_error(acc.gram, design.T @ design) < 1e-13
        assert relative_error(acc.moment, design.T @ Y) < 1e-13
        assert acc.feature_square_sum() == pytest.approx(float(np.sum(Z * Z)), rel=1e-13)
    with pytest.raises(ValueError, match=r"method must be one of \['qr', 'gram'\]"):
        RidgeAccumulator(6, 2, method="svd")
