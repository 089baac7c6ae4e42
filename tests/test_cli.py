"""The main job: ``python -m rpnumpy`` writes a report, and says where it looked when data is missing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rpnumpy import datasets
from rpnumpy.cli import main


@pytest.mark.data
def test_quick_foundations_chapter_writes_report_with_passing_checks(mnist, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["reproduce", "foundations", "--quick", "--no-progress", "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "## Foundations" in text
    assert "| Dense-ReLU-Dense |" in text and "FAIL" not in text
    assert "predictions identical to the original: **True**" in text
    for name in ("foundations_learning_curves.png", "foundations_first_layer.png"):
        assert (out / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "mlp_784_256_10.npz").exists()
    assert len(list((out / "units").glob("*.json"))) == 2
    assert f"report written to {out / 'report.md'}" in capsys.readouterr().out
    html = (out / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == 2 and "<table>" in html


def test_missing_data_says_where_it_looked(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    monkeypatch.setenv("RPNUMPY_DATA", str(tmp_path / "env-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = main(["reproduce", "foundations", "--quick", "--no-download", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert "error:" in err and str(tmp_path / "env-data" / "mnist") in err and str(tmp_path / "cache") in err
    assert "RPNUMPY_DATA" in err
    monkeypatch.setitem(datasets.MIRRORS, "mnist", ["http://127.0.0.1:9/closed/"])  # a refused connection
    code = main(["demo", "--quick", "--data-dir", str(empty), "--out", str(tmp_path / "r2")])
    err = capsys.readouterr().err
    assert code == 2 and str(empty / "mnist") in err and "http://127.0.0.1:9/closed/" in err
    assert list(empty.rglob("*.gz")) == [] and list(empty.rglob("*.tmp")) == []


def test_chapter_listing_and_unknown_chapter(capsys):
    assert main(["chapters"]) == 0
    assert "foundations" in capsys.readouterr().out
    assert main(["reproduce", "nope"]) == 2
    assert "unknown chapter 'nope'; available: foundations, half, prp, snnk, eugen, all" in capsys.readouterr().err


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "rpnumpy", "chapters"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "foundations" in result.stdout


@pytest.mark.data
def test_quick_half_chapter(mnist, tmp_path):
    import json

    out = tmp_path / "half"
    assert main(["reproduce", "half", "--quick", "--no-progress", "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "| `rnd-256-N` | 3,082 | 200,704 |" in text and "| `mlp-16` | 12,730 | 0 |" in text
    assert "### CNN" in text and "### Memory of rnd-1024" in text
    results = json.loads((out / "results_half.json").read_text())
    assert results["quick"] is True and set(results["summary"]["rnd-256-N"]) == {"mnist", "fashion-mnist"}
    assert (out / "figures" / "half_width_sweep.png").exists()


@pytest.mark.data
def test_quick_prp_chapter(mnist, tmp_path):
    import json

    out = tmp_path / "prp"
    assert main(["reproduce", "prp", "--quick", "--no-progress", "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "| `prp-gaussian` | 3,108 | 535,040 |" in text and "| `dense` | 535,818 | 0 |" in text
    assert "Parameter reduction of the all-PRP MLP: **172x**" in text
    assert "rpnumpy's own figure" in text and "### Autoencoders on MNIST" in text
    results = json.loads((out / "results_prp.json").read_text())
    assert set(results["lrs"]) == {"dense", "prp", "lowrank"}
    assert results["summary"]["jl"]["bound_k"] == 1063
    for name in ("prp_lr_range", "prp_autoencoders", "prp_jl_mnist"):
        assert (out / "figures" / f"{name}.png").exists()
