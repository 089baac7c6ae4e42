"""The 'snnk' chapter in quick mode: every section runs, writes its tables, figures and results."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rpnumpy.experiments.snnk as snnk_chapter  # registers the chapter (also listed in CHAPTER_MODULES)
from rpnumpy.cli import main


def test_kernel_mse_matches_the_predicted_variance_and_falls_like_one_over_m():
    ms = (16, 64, 256)
    mse = [snnk_chapter.kernel_mse("cos", 8, 0.5, m, "iid", 20, 0) for m in ms]
    for point in mse:  # unbiased estimator: MSE = variance; 20 redraws of 400 (correlated) pairs
        assert 0.7 < point["mse"] / point["predicted"] < 1.4
    assert -1.2 < snnk_chapter.loglog_slope(ms, [p["mse"] for p in mse]) < -0.8


def test_tasks_are_reproducible_and_standardised():
    a, b = snnk_chapter.friedman_task(500, 100, seed=3), snnk_chapter.friedman_task(500, 100, seed=3)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert abs(a[1].mean()) < 1e-12 and a[1].std() == pytest.approx(1.0)
    x, y, x_test, y_test = snnk_chapter.teacher_task(300, 50, seed=1)
    assert x.shape == (300, 8) and y.shape == (300, 1) and x_test.shape == (50, 8)


@pytest.mark.data
def test_quick_snnk_chapter(mnist, tmp_path):
    out = tmp_path / "snnk"
    assert main(["reproduce", "snnk", "--quick", "--no-progress", "--no-download", "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "### 1. Point-wise kernel estimation" in text and "### 3. Fully bundled networks" in text
    # Parameter counts are exact: 784-256-10 dense, and SNNK with D = 64 (relu m = 64, cos m = 32).
    assert "| `dense-256` |  | 203,530 | 1.0x |" in text
    assert "| `snnk-relu-64` | 64 | 19,210 | 10.6x |" in text and "| `snnk-cos-32` | 64 | 19,210 | 10.6x |" in text
    results = json.loads((out / "results_snnk.json").read_text())
    assert results["quick"] is True
    kernel = results["kernel"]
    slopes = [curve["slope"] for curve in kernel["curves"].values()]
    assert all(-1.3 < s < -0.7 for s in slopes), slopes
    ratios = [r for row in kernel["reference"] for r in row["ratios"]]
    assert len(ratios) == 18 and sum(0.5 <= r <= 2 for r in ratios) >= 16
    for name, race in results["race"].items():
        assert race["closed_test_mse"] <= race["adam_best_test_mse"], name  # the optimum is no worse than Adam's
        assert race["time_ratio"] == pytest.approx(race["adam_seconds"] / race["closed_seconds"])
    assert set(results["race"]) == {"teacher-256", "mnist-512"}
    assert results["snnk_layers"]["summary"]["snnk-relu-64"]["mnist"]["trainable"] == 19_210
    for name in ("snnk_kernel_mse", "snnk_layers", "snnk_bundled_race"):
        assert (out / "figures" / f"{name}.png").exists()
