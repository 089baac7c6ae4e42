"""The 'eugen' chapter in quick mode: every section runs, the report and results_eugen.json are complete."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rpnumpy.experiments.eugen as eugen_chapter
from rpnumpy.experiments.report import RunContext, run_chapters
from rpnumpy.polyfit import fit_polynomial


@pytest.mark.data
def test_quick_eugen_chapter(mnist, tmp_path):
    out = tmp_path / "eugen"
    ctx = RunContext(out_dir=out, quick=True, progress=False, download=False)
    run_chapters(["eugen"], ctx)
    text = (out / "report.md").read_text()
    for heading in ("### Headline", "### Variants of the transfer", "### Matched trainable parameters",
                    "### Speed and accuracy on MNIST", "### Calibration-set size"):
        assert heading in text
    assert "The issue asks for at least 95% of the teacher's MNIST accuracy" in text
    assert "up to 27% faster inference (abstract)" in text

    results = json.loads((out / "results_eugen.json").read_text())
    settings = eugen_chapter.QUICK
    assert results["settings"]["quick"] is True and results["settings"]["m"] == settings.m
    headline = results["headline"]
    assert set(headline) == {"mnist", "fashion-mnist"}
    # Merged EUGen(784->256) with M = 1 + 2 * 32 = 65, plus the re-fitted Dense(256->10).
    assert headline["mnist"]["trainable"] == 65 * 256 + 256 + 256 * 10 + 10 == 19_466
    assert headline["mnist"]["teacher_trainable"] == 535_818
    assert headline["mnist"]["fixed"] == 786 * 32 * 3  # G_11, G_21, G_22, each (d + 2) x m
    for res in headline.values():
        assert len(res["seeds"]) == len(settings.seeds)
        for run in res["seeds"]:
            assert run["retained"] == pytest.approx(run["accuracy"] / run["teacher_accuracy"])
            assert run["transfer_seconds"] > 0 and run["inference_ratio"] > 0
            assert [layer["action"] for layer in run["layers"]] == ["merged", "copied", "refit"]
            assert [layer["coefficients"] for layer in run["layers"]] == [None, None, None]  # ridge: no polynomial
        assert 0.1 < res["accuracy"]["mean"] <= 1.0

    matched = results["matched"]
    budget = 65 * 256 + 256
    assert set(matched) >= {"EUGen k=1, m=64", "EUGen k=2, m=32, no norm", "EUGen k=3, m=22", "SNNK relu, D=65",
                            "low-rank, r=16"}
    for name, res in matched.items():
        assert abs(res["mnist"]["trainable"] - 2570 - budget) <= 0.05 * budget, name
    variants = results["variants"]
    # The data-free noise analysis uses the transfer's recorded fit: a_0..a_k of ReLU on [-R, R], k = order.
    noise = variants["data_free_noise"]
    assert noise["interval"] > 0 and len(noise["coefficients"]) == settings.order + 1
    np.testing.assert_array_equal(noise["coefficients"],
                                  fit_polynomial(lambda t: np.maximum(t, 0.0), settings.order, noise["interval"]))
    assert variants["unmerged, student inputs"]["mnist"]["trainable"] == 65 * 512 + 512 + 65 * 256 + 256 + 2570
    assert "teacher" in results["speed"] and "dense 784-16-10" in results["speed"]
    assert set(results["calibration"]) == {str(n) for n in settings.calibration_sizes}
    for name in ("eugen_speed_accuracy", "eugen_calibration"):
        assert (out / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
