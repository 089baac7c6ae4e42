"""The benchmark harness runs and produces well-formed results.

Benchmarks are never timed here: these tests only run ``benchmarks/bench_mlp.py``
on a tiny synthetic data set (no network, no MNIST files needed) and check the
shape of what it reports.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
BENCH_PATH = BENCH_DIR / "bench_mlp.py"
TORCH_MISSING = "PyTorch is not installed: the PyTorch half of the benchmark cannot run"
#: A tiny, network-free command line: 512 synthetic training and 300 test images, no pauses.
TINY = ["--synthetic", "--n-train", "512", "--n-test", "300", "--pause", "0"]


def _load(name: str):
    """A benchmark script as a module, loaded from its path (the scripts are not part of the package)."""
    spec = importlib.util.spec_from_file_location(name, BENCH_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    yield _load("bench_mlp")
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
    assert results["ratio"] == results["paired_ratio"] == {"train": None, "inference": None}
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
        rounds = [a / b for a, b in zip(res["rpnumpy"][f"{key}_seconds"]["all"], res["torch"][f"{key}_seconds"]["all"])]
        assert min(rounds) <= res["paired_ratio"][key] <= max(rounds)
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
    buffers = {name: tensor.clone() for name, tensor in t_model.named_buffers()}
    assert [tuple(b.shape) for b in buffers.values()] == [(784, 1024)]  # R, and nothing else, is fixed
    bench.time_torch_epoch(t_model, t_opt, x_train, y_train, rng=0)
    assert all(torch.equal(tensor, buffers[name]) for name, tensor in t_model.named_buffers())
    assert _positive(bench.time_torch_inference(t_model, x_test))
    with pytest.raises(ValueError, match=re.escape(f"model must be one of {sorted(bench.MODELS)}, got 'cnn'")):
        bench.run_benchmark(*tiny, repeats=1, model="cnn")


@pytest.mark.parametrize("model", ["mlp", "half", "prp", "snnk", "eugen"])
def test_the_pytorch_twin_starts_from_the_same_weights(bench, tiny, model):
    """The PyTorch model is rpnumpy's, parameter for parameter: their first outputs agree to float32 rounding."""
    torch = pytest.importorskip("torch", reason=TORCH_MISSING)
    net, _ = bench.build_rpnumpy_model(seed=3, model=model)
    twin, _ = bench.build_torch_model(seed=3, model=model)
    x = tiny[2][:20]
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    ours = net.forward(x)
    assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(ours).max()


def test_prp_model_has_the_papers_parameter_count_in_both_frameworks(bench, tiny):
    model, opt = bench.build_rpnumpy_model(seed=0, model="prp")
    assert model.n_params == 3108
    bench.time_rpnumpy_epoch(model, opt, *tiny[:2], rng=0)
    pytest.importorskip("torch", reason=TORCH_MISSING)
    t_model, t_opt = bench.build_torch_model(seed=0, model="prp")
    assert sum(p.numel() for p in t_model.parameters()) == 3108
    assert _positive(bench.time_torch_epoch(t_model, t_opt, *tiny[:2], rng=0)["seconds"])


# --------------------------------------------------------------------------- FLOP counts, peak, memory, SRHT, suite


def test_matmul_flops_count_exactly_the_products_computed(bench):
    mlp, _ = bench.build_rpnumpy_model(0, "mlp")
    # forward x W1, h W2; backward dW2, dh = dy W2^T, dW1 (no input gradient for the first layer)
    assert bench.model_matmul_flops(mlp) == 2 * (2 * 784 * 256 + 3 * 256 * 10)
    assert bench.model_matmul_flops(mlp, train=False) == 2 * (784 * 256 + 256 * 10)
    half, _ = bench.build_rpnumpy_model(0, "half")
    assert bench.model_matmul_flops(half) == 2 * (784 * 1024 + 3 * 1024 * 10)  # nothing backward for R
    prp, _ = bench.build_rpnumpy_model(0, "prp")
    assert bench.model_matmul_flops(prp) == 4 * (784 * 512 + 512 * 256 + 256 * 10)  # one product back per layer
    snnk, _ = bench.build_rpnumpy_model(0, "snnk")
    m = bench.SNNK_M
    assert bench.model_matmul_flops(snnk) == 2 * (784 * m + 2 * m * 256 + 3 * 256 * 10)
    eugen, _ = bench.build_rpnumpy_model(0, "eugen")
    m = bench.EUGEN_M
    assert bench.model_matmul_flops(eugen) == 2 * (786 * 3 * m + 2 * (1 + 2 * m) * 256 + 3 * 256 * 10)


@pytest.mark.parametrize("model", ["snnk", "eugen"])
def test_snnk_and_eugen_models_train_in_both_frameworks(bench, tiny, model):
    assert set(bench.MODELS) == {"mlp", "half", "prp", "snnk", "eugen"}  # no model depends on an optional import
    x_train, y_train, x_test, _ = tiny
    net, opt = bench.build_rpnumpy_model(0, model)
    assert _positive(bench.time_rpnumpy_epoch(net, opt, x_train, y_train, rng=0)["seconds"])
    assert all(key.endswith(("V", "b", "A", "W")) for key in net.params)  # the random matrices are buffers
    pytest.importorskip("torch", reason=TORCH_MISSING)
    t_net, t_opt = bench.build_torch_model(0, model)
    assert sum(p.numel() for p in t_net.parameters()) == net.n_params
    assert _positive(bench.time_torch_epoch(t_net, t_opt, x_train, y_train, rng=0)["seconds"])
    assert _positive(bench.time_torch_inference(t_net, x_test))


def test_profile_and_peak_options(bench, tmp_path):
    out = tmp_path / "r.json"
    assert bench.main([*TINY, "--repeats", "1", "--epochs-warmup", "0", "--quiet", "--no-torch",
                       "--peak-gflops", "50", "--profile", "4", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    res = report["results"]
    assert res["matmul_flops"]["train_epoch"] == 512 * bench.model_matmul_flops(bench.build_rpnumpy_model()[0])
    expected = res["matmul_flops"]["train_epoch"] / res["rpnumpy"]["train_seconds"]["median"] / 50e9
    assert res["peak_fraction"]["rpnumpy"] == pytest.approx(expected) and res["peak_fraction"]["torch"] is None
    assert bench.peak_fractions(res, 50.0) == res["peak_fraction"]  # the one formula, shared with bench_suite
    assert bench.peak_fractions(res, None) == {"rpnumpy": None, "torch": None}
    rows = res["rpnumpy_profile"]["rows"]
    assert len(rows) == 4 and rows[0]["own_seconds"] >= rows[-1]["own_seconds"] > 0
    assert len(res["rpnumpy"]["load_average"]) == 1


def test_matmul_peak_on_small_matrices():
    peak = _load("bench_peak").measure_matmul_peak((64, 128), repeats=2)
    assert set(peak["per_size"]) == {"64", "128"} and peak["peak_size"] in (64, 128)
    assert peak["peak_gflops"] == max(row["gflops"] for row in peak["per_size"].values()) > 0
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        _load("bench_peak").measure_matmul_peak((64,), repeats=0)


def test_blas_comparison_times_the_same_products_in_both_libraries():
    pytest.importorskip("torch")
    rows = _load("bench_peak").compare_blas(((8, 16, 4), (32, 16, 8)), rounds=2, calls=3, pause=0.0)
    assert [row["shape"] for row in rows] == [[8, 16, 4], [32, 16, 8]]
    for row in rows:
        assert _positive(row["numpy_seconds"]) and _positive(row["torch_seconds"])
        assert row["ratio"] == pytest.approx(row["numpy_seconds"] / row["torch_seconds"])
    with pytest.raises(ValueError, match="rounds and calls must be >= 1"):
        _load("bench_peak").compare_blas(((8, 16, 4),), rounds=0)


def test_srht_timing_rows_and_crossover():
    srht = _load("bench_srht")
    rows = srht.time_projections((64, 128), 16, batch=8, repeats=2)
    assert [r["d"] for r in rows] == [64, 128] and all(r["max_abs_error"] < 1e-4 for r in rows)
    assert all(_positive(r[key]) for r in rows for key in ("dense_forward", "srht_forward", "srht_backward"))
    fake = [{"d": d, "dense_forward": 1.0, "srht_forward": s} for d, s in ((1, 0.5), (2, 2.0), (4, 0.5), (8, 0.1))]
    assert srht.crossover(fake) == 4  # faster at 1, but not from 1 on
    assert srht.crossover(fake[:2]) is None


def test_memory_measurement_in_a_fresh_process():
    """bench_memory blocks the torch import for rpnumpy, so it only ever runs in a process of its own."""
    command = [sys.executable, str(BENCH_DIR / "bench_memory.py"), "--model", "mlp", "--framework", "rpnumpy",
               *TINY[:5]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["torch_imported"] is False and result["n_train"] == 512
    assert result["process_peak_mib"] > 10
    if result["training_peak_mib"] is not None:  # Linux: the epoch's own high-water mark
        assert result["training_peak_mib"] >= result["rss_before_training_mib"] > 10


@pytest.fixture(scope="module")
def quick_suite():
    """bench_suite and the results of one quick run (MLP only); tests deep-copy the results before changing them."""
    suite = _load("bench_suite")
    results = suite.run_suite(["mlp"], repeats=1, quick=True, retries=0, srht_dims=(64,), srht_ks=(16,),
                              log=lambda _msg: None)
    yield suite, results
    sys.modules.pop("bench_suite", None)


def test_suite_quick_run_writes_results_markdown(quick_suite, tmp_path):
    suite, results = quick_suite
    text = suite.write_results_md(results, tmp_path / "RESULTS.md")
    assert "Quick run on synthetic data" in text and "Not in this run: pass `--closed-form" in text
    assert "## Machine" in text and "float32 matmul peak" in text
    if results["blas"] is not None:  # with PyTorch: one row per product timed
        blas_rows = [line for line in text.splitlines() if line.startswith("| 128 x 784 @ 784 x ")]
        assert len(blas_rows) == len(results["blas"]) == 2
    table = suite.summary_table(results)
    assert len(table) == 2 + 1 + len(results["extra_comparisons"]) and table[2].startswith("| MLP 784-256-10")
    report = results["comparisons"]["mlp"]["results"]
    assert report["peak_fraction"]["rpnumpy"] > 0 and report["matmul_flops"]["train_epoch"] > 0
    assert set(results["memory"]["mlp"]) <= {"rpnumpy", "torch"} and results["file_sizes"]["mlp"]["seeds_bytes"] > 0
    assert "sanity check failed" not in text.lower()  # synthetic data: the check is not applied
    srht_rows = [line for line in text.splitlines() if line.startswith("| 64 |")]
    assert len(srht_rows) == 1 and "0.0 ms" not in srht_rows[0]
    json.dumps(results)


def test_suite_renders_results_without_pytorch(quick_suite, tmp_path):
    """Every PyTorch figure None (as when PyTorch is not installed): rendered as n/a, no crash."""
    suite, results = quick_suite
    results = copy.deepcopy(results)
    results["machine"]["torch"] = None
    results["extra_comparisons"] = {}  # the fused-Adam comparison only runs with PyTorch
    results["blas"] = None
    for report in results["comparisons"].values():
        res = report["results"]
        res["torch"] = None
        res["ratio"] = {"train": None, "inference": None}
        res["paired_ratio"] = {"train": None, "inference": None}
        res["peak_fraction"]["torch"] = None
    for per_fw in results["memory"].values():
        per_fw.pop("torch", None)
    text = suite.write_results_md(results, tmp_path / "RESULTS.md")
    assert "- PyTorch: not installed" in text
    row = suite.summary_table(results)[2]
    assert row.startswith("| MLP 784-256-10") and "| n/a |" in row
    accuracy = next(line for line in text.splitlines() if line.startswith("| test accuracy after"))
    assert accuracy.endswith("| n/a | |")
    assert "- mlp: train ratio n/a (target <= 0.8): n/a" in text
    assert (tmp_path / "RESULTS.md").read_text(encoding="utf-8") == text


def test_suite_flags_a_run_that_failed_the_sanity_check(quick_suite, tmp_path):
    suite, results = quick_suite
    results = copy.deepcopy(results)
    problem = "rpnumpy reached only 0.1000 test accuracy (expected > 0.9)"
    results["comparisons"]["mlp"]["sanity"] = {"checked": True, "threshold": 0.9, "problems": [problem]}
    text = suite.write_results_md(results, tmp_path / "RESULTS.md")
    row = suite.summary_table(results)[2]
    assert row.startswith("| MLP 784-256-10 (ReLU) (**sanity check failed**) |")
    section = text.split("### MLP 784-256-10 (ReLU)\n", 1)[1]
    assert section.lstrip().startswith("**Sanity check failed**") and problem in section.split("###", 1)[0]
    for comparison in results["extra_comparisons"].values():  # the fused-Adam run passed: not flagged
        assert not suite._sanity_problems(comparison)


def test_precise_time_keeps_three_significant_digits(quick_suite):
    suite, _ = quick_suite
    precise = suite._precise
    assert [precise(v) for v in (None, 4.26e-5, 1.5e-7, 9.996e-4, 1.234e-3, 0.0456, 0.9996, 2.5)] == [
        "n/a", "42.6 µs", "0.150 µs", "1.00 ms", "1.23 ms", "45.6 ms", "1.00 s", "2.50 s"]
    assert suite._ms(4.26e-5) == "0.0 ms"  # why the SRHT tables need precise


def _race(ratio, reached):
    return {"n_train": 20000, "n_features": 256, "closed_seconds": 0.05, "closed_test_mse": 0.0318,
            "adam_lr": 0.01, "adam_reached": reached, "adam_seconds": 0.05 * ratio, "adam_best_test_mse": 0.0322,
            "time_ratio": ratio, "runs": {"0.01": {"seconds": [0.1]}}}


def test_closed_form_races_are_read_from_a_full_snnk_run_and_rendered(tmp_path):
    suite = _load("bench_suite")
    path = tmp_path / "results_snnk.json"
    path.write_text(json.dumps({"quick": False, "seed": 0,
                                "race": {"teacher-256": _race(20.4, False), "mnist-2048": _race(0.8, True)}}))
    closed = suite.closed_form_results(path)
    assert set(closed["races"]) == {"teacher-256", "mnist-2048"}
    assert "runs" not in closed["races"]["teacher-256"]  # the curves stay in the chapter's file
    lines = suite._closed_form_lines(closed)
    teacher = next(line for line in lines if line.startswith("| teacher-256 | 20,000 | 256 |"))
    assert "never reached" in teacher and teacher.endswith("| 20.4x |")
    assert any(line.startswith("| mnist-2048 |") and "never reached" not in line and "0.8x" in line for line in lines)
    json.dumps(closed)

    path.write_text(json.dumps({"quick": True, "seed": 0, "race": {"teacher-256": _race(3.0, True)}}))
    with pytest.raises(ValueError, match="quick run"):
        suite.closed_form_results(path)
    path.write_text(json.dumps({"quick": False, "kernel": {}}))
    with pytest.raises(ValueError, match="no 'race' results"):
        suite.closed_form_results(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read as JSON"):
        suite.closed_form_results(path)


def test_suite_reports_the_demo_timing(quick_suite, tmp_path):
    import copy

    suite, results = quick_suite
    assert "## The demo (`make demo`)\n\nNot in this run" in suite.write_results_md(results, tmp_path / "R.md")
    results = copy.deepcopy(results)

    def stats(values):
        return {"runs": values, "median": sorted(values)[1], "min": min(values), "max": max(values),
                "spread": (max(values) - min(values)) / sorted(values)[1]}

    results["demo"] = {"quick": False, "wall": stats([137.3, 178.7, 237.8]), "cpu": stats([77.2, 93.5, 114.7]),
                       "load_average_at_end": 9.0, "target_seconds": suite.DEMO_TARGET_SECONDS}
    text = suite.write_results_md(results, tmp_path / "RESULTS.md")
    assert "median **179 s wall** (spread 56%: 137–238 s), 94 s CPU" in text
    assert "300 s wall on 2 cores: **met**" in text
    assert "| 3 | 237.8 s | 114.7 s |" in text
    results["demo"]["wall"] = stats([290.0, 310.0, 330.0])
    assert "**NOT met**" in suite.write_results_md(results, tmp_path / "RESULTS.md")
