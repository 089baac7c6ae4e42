"""Saving and loading models: round trips, malformed files, and nothing half-written."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from rpnumpy.io import ModelFileError, load_model, load_stored_arrays, model_file_size, read_npz_archive, save_model
from rpnumpy.layers import GELU, Dense, Flatten, Layer, ReLU, Sequential


def _model(dtype=np.float64):
    return Sequential(Flatten(), Dense(12, 5, rng=3, dtype=dtype), ReLU(), Dense(5, 2, rng=4, dtype=dtype), GELU())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip(tmp_path, rng, dtype):
    model = _model(dtype)
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape)  # "trained" values, not the seeded initial ones
    path = save_model(model, tmp_path / "m.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    loaded = load_model(path)
    assert repr(loaded) == repr(model)
    for key in model.params:
        np.testing.assert_array_equal(loaded.params[key], model.params[key])
        assert loaded.params[key].dtype == dtype
    x = rng.standard_normal((3, 3, 4)).astype(dtype)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    with np.load(path, allow_pickle=False) as archive:  # plain npz, no pickle needed
        assert json.loads(str(archive["config"]))["class"] == "Sequential"


class WithBuffer(Layer):
    """A minimal layer with a seeded fixed matrix, to test buffer storage."""

    def __init__(self, d=4, seed=0, dtype="float64"):
        super().__init__(dtype)
        from rpnumpy.random_matrices import gaussian_matrix

        self.d, self.seed = d, seed
        self.buffers["R"] = gaussian_matrix((d, d), seed, dtype=self.dtype)
        self._add_param("u", np.ones(d, dtype=self.dtype))

    def _forward(self, x):
        return (x @ self.buffers["R"]) * self.params["u"], x

    def get_config(self):
        return {"d": self.d, "seed": self.seed, **super().get_config()}


def test_buffers_rebuilt_from_seed_or_stored_and_verified(tmp_path):
    layer = WithBuffer(d=64, seed=9)
    small, big = model_file_size(layer), model_file_size(layer, store_buffers=True)
    assert big - small >= 64 * 64 * 8  # the matrix itself
    loaded = load_model(save_model(layer, tmp_path / "a.npz"))
    np.testing.assert_array_equal(loaded.buffers["R"], layer.buffers["R"])
    loaded = load_model(save_model(layer, tmp_path / "b.npz", store_buffers=True))
    np.testing.assert_array_equal(loaded.buffers["R"], layer.buffers["R"])
    # A stored matrix that does not match its seed is refused.
    arrays = dict(np.load(tmp_path / "b.npz", allow_pickle=False))
    arrays["buffer/R"] = arrays["buffer/R"] + 1
    np.savez(tmp_path / "c.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"stored buffer 'R' differs from the matrix its seed rebuilds"):
        load_model(tmp_path / "c.npz")


def _rewrite(src, dst, change):
    arrays = dict(np.load(src, allow_pickle=False))
    change(arrays)
    with open(dst, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a.pop("config"), r"not an rpnumpy model file: the entry 'config' is missing"),
        (lambda a: a.update(format=np.array("other")), r"format must be 'rpnumpy-model'"),
        (lambda a: a.update(format_version=np.array(99)), r"format_version must be 1, got"),
        (lambda a: a.update(config=np.array("{not json")), r"the config entry is not valid JSON"),
        (lambda a: a.update(config=np.array('{"class": "Bogus", "config": {}}')), r"unknown layer class 'Bogus'"),
        (lambda a: a.pop("param/1.W"), r"parameters do not match the config \(missing \['1.W'\], unexpected \[\]\)"),
        (lambda a: a.update({"param/1.W": np.zeros((3, 3))}),
         r"parameter '1.W' must have shape \(12, 5\) and dtype float64, got shape \(3, 3\)"),
        (lambda a: a.update({"param/1.W": a["param/1.W"].astype(np.float32)}),
         r"got shape \(12, 5\) and dtype float32"),
        (lambda a: a.update({"buffer/9.R": np.zeros(2)}), r"buffers \['9.R'\] are not part of the configured model"),
    ],
)
def test_malformed_files_are_refused(tmp_path, change, match):
    good = save_model(_model(), tmp_path / "good.npz")
    _rewrite(good, tmp_path / "bad.npz", change)
    with pytest.raises(ModelFileError, match=match):
        load_model(tmp_path / "bad.npz")


def test_not_an_archive_truncated_pickled_and_missing(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFileError, match=r"is not a readable .npz archive"):
        load_model(tmp_path / "text.npz")
    good = save_model(_model(), tmp_path / "good.npz")
    data = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "cut.npz")
    np.savez(tmp_path / "obj.npz", config=np.array([{"a": 1}], dtype=object), format=np.array("rpnumpy-model"),
             format_version=np.array(1))
    with pytest.raises(ModelFileError, match=r"cannot be read: Object arrays cannot be loaded when allow_pickle=False"):
        load_model(tmp_path / "obj.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ModelFileError, match=r"single .npy array"):
        load_model(tmp_path / "single.npy")
    with pytest.raises(FileNotFoundError, match=r"no model file at"):
        load_model(tmp_path / "absent.npz")
    assert zipfile.is_zipfile(good)


def test_a_matrix_built_from_data_is_stored_and_required(tmp_path):
    """A buffer no seed rebuilds (the template scheme's R) is always stored, loaded as stored, and required."""
    from rpnumpy.testing.cases import get_case

    layer = get_case("HalfLayer[template,relu]").sample(0)[0]
    assert "R" not in layer.rebuildable_buffers
    path = save_model(layer, tmp_path / "t.npz")
    np.testing.assert_array_equal(load_model(path).buffers["R"], layer.buffers["R"])
    _rewrite(path, tmp_path / "no_r.npz", lambda a: a.pop("buffer/R"))
    with pytest.raises(ModelFileError, match=r"buffers \['R'\] cannot be rebuilt from a seed and are missing"):
        load_model(tmp_path / "no_r.npz")


def test_stored_arrays_are_checked_before_anything_is_copied():
    model = _model()
    before = {k: v.copy() for k, v in model.params.items()}
    params = {k: np.full_like(v, 7.0) for k, v in model.params.items()}
    params["3.b"] = np.zeros(5)  # the last one has the wrong shape: no parameter may have been overwritten
    with pytest.raises(ValueError, match=r"^parameter '3.b' must have shape \(2,\) and dtype float64"):
        load_stored_arrays(model, params, {}, error=ValueError)
    for key, value in model.params.items():
        np.testing.assert_array_equal(value, before[key])
    params["3.b"] = np.full(2, 7.0)
    load_stored_arrays(model, params, {}, error=ValueError)
    assert all(np.all(v == 7.0) for v in model.params.values())


def test_read_npz_archive_reads_everything_or_raises_the_given_error(tmp_path):
    class Refused(ValueError):
        pass

    np.savez(tmp_path / "a.npz", x=np.arange(3), y=np.array("text"))
    contents = read_npz_archive(tmp_path / "a.npz", error=Refused, kind="thing")
    assert sorted(contents) == ["x", "y"] and str(contents["y"]) == "text"
    np.save(tmp_path / "b.npy", np.arange(3))
    with pytest.raises(Refused, match=r"b.npy is a single .npy array, not an rpnumpy thing \(a .npz archive\)"):
        read_npz_archive(tmp_path / "b.npy", error=Refused, kind="thing")
    with pytest.raises(FileNotFoundError, match=r"no thing at"):
        read_npz_archive(tmp_path / "c.npz", error=Refused, kind="thing")


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    model = _model()
    target = tmp_path / "m.npz"
    save_model(model, target)
    before = target.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(OSError, match="disk full"):
        save_model(model, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temporary file left
    assert target.read_bytes() == before  # the old file is intact
    with pytest.raises(TypeError, match=r"model must be a rpnumpy Layer, got dict"):
        save_model({}, tmp_path / "x.npz")
