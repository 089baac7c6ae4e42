"""The benchmark harness runs and produces well-formed results.

Benchmarks are never timed here: these tests only run ``benchmarks/bench_mlp.py``
on a tiny synthetic data set (no network, no MNIST files needed) and check the
shape of what it reports.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_mlp.py"
TORCH_MISSING = "PyTorch is not installed: the PyTorch half of the benchmark cannot run"
#: A tiny, network-free command line: 512 synthetic training and 300 test images, no pauses.
TINY = ["--synthetic", "--n-train", "512", "--n-test", "300", "--pause", "0"]


@pytest.fixture(scope="module")
def bench():
    """The benchmark script as a module, loaded from its path (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("bench_mlp", BENCH_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_mlp"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_mlp", None)


@pytest.fixture(scope="module")
def tiny(bench):
    return bench.synthetic_data(512, 300, seed=0)


def _positive(x) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_synthetic_data_has_mnist_shapes(bench, tiny):
    x_train, y_train, x_test, y_test = tiny
    assert x_train.shape == (512, 784) and x_test.shape == (300, 784)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert set(np.unique(y_test)) <= set(range(10))


def test_time_rpnumpy_epoch_and_inference(bench, tiny):
    x_train, y_train, x_test, _ = tiny
    model, opt = bench.build_rpnumpy_model(seed=0)
    result = bench.time_rpnumpy_epoch(model, opt, x_train, y_train, rng=0)
    assert set(result) == {"seconds", "loss", "train_accuracy"}
    assert _positive(result["seconds"]) and math.isfinite(result["loss"])
    assert 0.0 <= result["train_accuracy"] <= 1.0
    assert opt.t == math.ceil(512 / bench.BATCH_SIZE)  # one epoch of batches of 128 went through fit
    assert _positive(bench.time_rpnumpy_inference(model, x_test))


def test_machine_info_is_complete_and_json_serialisable(bench):
    info = bench.machine_info()
    for key in ("date_utc", "cpu_model", "logical_cpus", "numpy", "numpy_blas", "torch", "env", "python"):
        assert key in info
    assert info["logical_cpus"] >= 1 and info["cpu_model"]
    assert set(info["numpy_blas"]) >= {"library", "version", "threads", "source"}
    json.dumps(info)


def test_run_benchmark_without_torch(bench, tiny):
    results = bench.run_benchmark(*tiny, repeats=1, epochs_warmup=0, with_torch=False, pause=0.0,
                                  log=lambda _msg: None)
    assert results["torch"] is None
    assert results["ratio"] == {"train": None, "inference": None}
    rp = results["rpnumpy"]
    assert _positive(rp["train_seconds"]["median"]) and _positive(rp["inference_seconds"]["median"])
    assert rp["epochs"] == 1 and len(rp["train_seconds"]["all"]) == 1


def test_main_reports_torch_missing_and_exits_0(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "torch", None)
    out = tmp_path / "r.json"
    status = bench.main([*TINY, "--repeats", "1", "--epochs-warmup", "0", "--quiet", "--json", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "PyTorch is not installed" in printed and "unavailable" in printed
    report = json.loads(out.read_text())
    assert report["config"]["torch_available"] is False
    assert report["results"]["ratio"] == {"train": None, "inference": None}
    assert report["machine"]["torch"] is None


def test_time_torch_epoch_and_inference(bench, tiny):
    pytest.importorskip("torch", reason=TORCH_MISSING)
    x_train, y_train, x_test, y_test = tiny
    model, opt = bench.build_torch_model(seed=0)
    result = bench.time_torch_epoch(model, opt, x_train, y_train, rng=0)
    assert set(result) == {"seconds", "loss", "train_accuracy"}
    assert _positive(result["seconds"]) and math.isfinite(result["loss"])
    assert _positive(bench.time_torch_inference(model, x_test))
    assert 0.0 <= bench.torch_accuracy(model, x_test, y_test) <= 1.0


def test_main_with_torch_writes_well_formed_json(bench, tmp_path, capsys):
    pytest.importorskip("torch", reason=TORCH_MISSING)
    out = tmp_path / "sub" / "results.json"
    status = bench.main([*TINY, "--repeats", "2", "--epochs-warmup", "1", "--json", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "rpnumpy/PyTorch" in printed and "CPU:" in printed
    report = json.loads(out.read_text())
    assert set(report) >= {"config", "machine", "results", "sanity"}
    cfg, res = report["config"], report["results"]
    assert (cfg["n_train"], cfg["n_test"], cfg["repeats"], cfg["data"]) == (512, 300, 2, "synthetic")
    assert cfg["threads"] == report["machine"]["torch"]["threads"]
    for name in ("rpnumpy", "torch"):
        fw = res[name]
        for key in ("train_seconds", "inference_seconds"):
            assert len(fw[key]["all"]) == 2
            assert all(_positive(t) for t in fw[key]["all"])
            assert fw[key]["min"] <= fw[key]["median"] <= fw[key]["max"]
        assert fw["epochs"] == 3 and len(fw["test_accuracy_per_epoch"]) == 3
        assert 0.0 <= fw["test_accuracy"] <= 1.0
    for key in ("train", "inference"):
        expected = res["rpnumpy"][f"{key}_seconds"]["median"] / res["torch"][f"{key}_seconds"]["median"]
        assert res["ratio"][key] == pytest.approx(expected)
    assert report["sanity"]["checked"] is False  # synthetic data: no accuracy threshold


def test_bad_arguments_are_refused(bench):
    for argv in (["--repeats", "0"], ["--epochs-warmup", "-1"], ["--n-train", "0"], ["--n-test", "0"],
                 ["--threads", "0"]):
        with pytest.raises(SystemExit):
            bench.main(argv)


def test_half_model_runs_in_both_frameworks_with_r_fixed(bench, tiny):
    x_train, y_train, x_test, _ = tiny
    model, opt = bench.build_rpnumpy_model(seed=0, model="half")
    r_before = model.buffers["0.R"].copy()
    bench.time_rpnumpy_epoch(model, opt, x_train, y_train, rng=0)
    assert model.n_params == 2 * 1024 + 1024 * 10 + 10 and np.array_equal(model.buffers["0.R"], r_before)
    torch = pytest.importorskip("torch", reason=TORCH_MISSING)
    t_model, t_opt = bench.build_torch_model(seed=0, model="half")
    assert sum(p.numel() for p in t_model.parameters()) == model.n_params  # R is a buffer, not a parameter
    r_torch = t_model[0].R.clone()
    bench.time_torch_epoch(t_model, t_opt, x_train, y_train, rng=0)
    assert torch.equal(t_model[0].R, r_torch)
    assert _positive(bench.time_torch_inference(t_model, x_test))
    with pytest.raises(ValueError, match=r"model must be one of \['half', 'mlp', 'prp'\], got 'cnn'"):
        bench.run_benchmark(*tiny, repeats=1, model="cnn")


def test_prp_model_has_the_papers_parameter_count_in_both_frameworks(bench, tiny):
    model, opt = bench.build_rpnumpy_model(seed=0, model="prp")
    assert model.n_params == 3108
    bench.time_rpnumpy_epoch(model, opt, *tiny[:2], rng=0)
    pytest.importorskip("torch", reason=TORCH_MISSING)
    t_model, t_opt = bench.build_torch_model(seed=0, model="prp")
    assert sum(p.numel() for p in t_model.parameters()) == 3108
    assert _positive(bench.time_torch_epoch(t_model, t_opt, *tiny[:2], rng=0)["seconds"])
