"""Gradient-check exchange files and ``python -m rpnumpy gradcheck``: writing, reading, comparing, catching bugs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rpnumpy.cli import main
from rpnumpy.layers import PRP
from rpnumpy.testing.cases import LAYER_CASES, LayerCase, get_case, registry_summary
from rpnumpy.testing.exchange import (
    DEFAULT_TOLERANCE,
    FORMAT_NAME,
    ExchangeFileError,
    case_filename,
    compare_case,
    exchange_case,
    read_case,
    write_case,
    write_registered_cases,
)


@pytest.fixture(scope="module")
def cases_dir(tmp_path_factory):
    """Every registered case, written once (the command does this too, and checks each by central differences:
    tests/test_layer_contract.py checks every case that way, and test_the_command_checks_what_it_writes the command).
    """
    out = tmp_path_factory.mktemp("cases")
    written = write_registered_cases(out)
    assert [name for name, _ in written] == [case.name for case in LAYER_CASES]
    assert all(path == out / case_filename(name) and path.is_file() for name, path in written)
    return out


def _file(tmp_path, name="PRP[gaussian]", seed=0):
    layer, x, dy = get_case(name).sample(seed)
    return write_case(exchange_case(layer, x, dy, name=name), tmp_path / case_filename(name))


def _resave(path, target, **changes):
    with np.load(path, allow_pickle=False) as archive:
        contents = {k: archive[k] for k in archive.files}
    contents.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del contents[key]
    np.savez(target, **contents)
    return target


def test_the_command_writes_one_documented_file_per_case(cases_dir, capsys):
    files = sorted(cases_dir.glob("*.npz"))
    assert len(files) == len(LAYER_CASES)
    with np.load(cases_dir / "PRP-gaussian.npz", allow_pickle=False) as archive:
        keys = set(archive.files)
        assert str(archive["format"]) == FORMAT_NAME and int(archive["format_version"]) == 1
        spec = json.loads(str(archive["layer"]))
        seed = int(archive["seed/P"])
        matrix = archive["buffer/P"]
    assert keys == {"format", "format_version", "case", "layer", "producer", "input", "upstream", "output",
                    "grad_input", "param/alpha", "param/w", "param/b", "grad/alpha", "grad/w", "grad/b",
                    "buffer/P", "seed/P"}
    # The seed is the one the configuration records, and it rebuilds the stored matrix.
    assert spec["class"] == "PRP" and spec["config"]["rng"] == seed
    from rpnumpy.random_matrices import random_matrix

    np.testing.assert_array_equal(random_matrix("gaussian", matrix.shape, seed), matrix)
    template = read_case(cases_dir / "HalfLayer-template-relu.npz")
    assert template.seeds == {"R": -1}  # built from data: no seed rebuilds it


def test_files_written_by_rpnumpy_agree_with_rpnumpy(cases_dir, capsys):
    assert main(["gradcheck", "--compare", str(cases_dir)]) == 0
    out = capsys.readouterr().out
    assert f"{len(LAYER_CASES)} of {len(LAYER_CASES)} files agree with rpnumpy (tolerance 1e-10)" in out
    assert "MISMATCH" not in out and "equals the matrix its seed rebuilds" in out


def test_the_module_entry_point_compares_in_a_fresh_process(cases_dir, tmp_path):
    """``python -m rpnumpy gradcheck --compare``: every layer class a file may name is known (SNNK, EUGen too)."""
    for name in ("SNNK-gaussian-orthogonal.npz", "EUGen-order3-orthogonal-train_G-no-bias.npz"):
        (tmp_path / name).write_bytes((cases_dir / name).read_bytes())
    result = subprocess.run([sys.executable, "-m", "rpnumpy", "gradcheck", "--compare", str(tmp_path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 of 2 files agree with rpnumpy" in result.stdout


def test_the_command_checks_what_it_writes(tmp_path, monkeypatch, capsys):
    """``gradcheck --out`` samples each case once and checks exactly the layer, x and upstream gradient it writes."""
    import rpnumpy.testing.cases

    names = ["PRP[gaussian]", "FullyBundledNetwork[relu,relu,relu_bias]"]
    samples, checked = [], []
    sample, check = LayerCase.sample, rpnumpy.testing.cases.check_case_gradients

    def counting_sample(self, *args, **kwargs):
        samples.append(self.name)
        return sample(self, *args, **kwargs)

    def recording_check(case, layer, x, **kwargs):
        checked.append((case.name, {k: v.copy() for k, v in layer.params.items()}, x.copy(), kwargs["dy"].copy()))
        return check(case, layer, x, **kwargs)

    monkeypatch.setattr(LayerCase, "sample", counting_sample)
    monkeypatch.setattr(rpnumpy.testing.cases, "check_case_gradients", recording_check)
    assert main(["gradcheck", "--out", str(tmp_path), "--case", names[0], "--case", names[1]]) == 0
    assert samples == names and [c[0] for c in checked] == names
    for name, params, x, dy in checked:
        written = read_case(tmp_path / case_filename(name))
        np.testing.assert_array_equal(written.input, x)
        np.testing.assert_array_equal(written.upstream, dy)
        assert written.params.keys() == params.keys()
        for key in params:
            np.testing.assert_array_equal(written.params[key], params[key])
    out = capsys.readouterr().out
    assert "2 exchange files written" in out and "0 central-difference checks above 1e-07" in out
    assert all(line.split()[-2] == "pass" for line in out.splitlines() if line.startswith(tuple(names)))


def test_write_read_round_trip(tmp_path):
    path = _file(tmp_path, "Sequential[PRP-GELU-HalfLayer]")
    case = read_case(path)
    layer, x, dy = get_case("Sequential[PRP-GELU-HalfLayer]").sample(0)
    assert case.name == "Sequential[PRP-GELU-HalfLayer]" and case.spec["class"] == "Sequential"
    np.testing.assert_array_equal(case.input, x)
    np.testing.assert_array_equal(case.upstream, dy)
    np.testing.assert_array_equal(case.output, layer.forward(x))
    np.testing.assert_array_equal(case.grad_input, layer.backward(dy))
    assert case.params.keys() == case.grads.keys() == layer.params.keys()
    assert case.buffers.keys() == case.seeds.keys() == {"0.P", "2.R"}
    assert case.seeds["2.R"] == layer.layers[2].seed
    assert compare_case(case).passed


def test_a_broken_backward_pass_in_rpnumpy_is_caught(tmp_path, monkeypatch, capsys):
    """Files computed correctly, then rpnumpy's PRP backward loses the factor alpha of dL/dx: exit status 1."""
    path = _file(tmp_path)

    def without_alpha(self, dy, cache):
        return self._param_backward(dy, cache)  # the bug: should be g_u * alpha

    monkeypatch.setattr(PRP, "_backward", without_alpha)
    assert main(["gradcheck", "--compare", str(path)]) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and line.split()}
    assert "MISMATCH" in rows["grad_input"]
    for name in ("output", "grad/alpha", "grad/w", "grad/b"):
        assert rows[name].rstrip().endswith("ok"), rows[name]
    assert "0 of 1 files agree with rpnumpy" in out and "mismatches: PRP[gaussian]" in out


def test_a_file_from_a_broken_implementation_is_caught(tmp_path, capsys):
    """Someone's NumPy Dense layer with a wrong weight gradient: the table points at grad/W, exit status 1."""
    case = read_case(_file(tmp_path, "Dense"))
    x, dy, w, b = case.input, case.upstream, case.params["W"], case.params["b"]
    theirs = tmp_path / "theirs.npz"
    _resave(tmp_path / "Dense.npz", theirs, output=x @ w + b, grad_input=dy @ w.T,
            **{"grad/W": x.T @ dy / len(x), "grad/b": dy.sum(axis=0),  # the bug: a mean, not a sum, over the batch
               "producer": np.array("a hand-written layer")})
    assert main(["gradcheck", "--compare", str(theirs)]) == 1
    out = capsys.readouterr().out
    assert "produced by a hand-written layer" in out
    mismatched = [line.split()[0] for line in out.splitlines() if "MISMATCH" in line]
    assert mismatched == ["grad/W"]


def test_the_tolerance_option(tmp_path, capsys):
    path = _file(tmp_path, "Dense")
    case = read_case(path)
    nudged = _resave(path, tmp_path / "nudged.npz", output=case.output * (1 + 1e-12))  # relative error ~1e-12
    assert main(["gradcheck", "--compare", str(nudged)]) == 0
    assert main(["gradcheck", "--compare", str(nudged), "--tolerance", "1e-13"]) == 1
    assert "tolerance 1e-13" in capsys.readouterr().out
    assert DEFAULT_TOLERANCE == 1e-10


def test_a_file_may_bring_its_own_fixed_matrix(tmp_path):
    """A file may bring its own fixed matrix (not the seed's): rpnumpy computes with it and says so."""
    case = read_case(_file(tmp_path))
    p = np.random.default_rng(7).standard_normal(case.buffers["P"].shape)
    x, dy, a = case.input, case.upstream, case.params
    z = (x * a["alpha"]) @ p
    g_u = (dy * a["w"]) @ p.T
    own = _resave(tmp_path / "PRP-gaussian.npz", tmp_path / "own.npz", **{
        "buffer/P": p, "output": z * a["w"] + a["b"], "grad_input": g_u * a["alpha"],
        "grad/alpha": (g_u * x).sum(0), "grad/w": (dy * z).sum(0), "grad/b": dy.sum(0)})
    result = compare_case(read_case(own))
    assert result.passed, str(result)
    note = next(row.note for row in result.rows if row.name == "buffer/P")
    assert note.startswith("stored matrix used; it differs from its seed's")


def test_a_fixed_operator_cannot_be_swapped_for_another_matrix(tmp_path):
    """The srht scheme applies its matrix as a fast transform built from the seed: a file's other matrix is refused."""
    path = _file(tmp_path, "PRP[srht]")
    assert compare_case(read_case(path)).passed
    other = _resave(path, tmp_path / "other.npz", **{"buffer/P": -read_case(path).buffers["P"]})
    problems = compare_case(read_case(other)).problems
    assert problems and "applies that matrix as a fixed operator" in problems[0]


def test_incomplete_and_malformed_files(tmp_path, capsys):
    path = _file(tmp_path)
    no_grad = _resave(path, tmp_path / "no_grad.npz", **{"grad/w": None})
    result = compare_case(read_case(no_grad))
    assert not result.passed and any(r.name == "grad/w" and r.note == "missing from the file" for r in result.rows)
    extra = _resave(path, tmp_path / "extra.npz", **{"param/gamma": np.ones(3)})
    assert "unexpected ['gamma']" in compare_case(read_case(extra)).problems[0]
    wrong_shape = _resave(path, tmp_path / "shape.npz", output=np.zeros((2, 2)))
    assert "shape (2, 2) in the file" in str(compare_case(read_case(wrong_shape)))
    with pytest.raises(ExchangeFileError, match=r"input has dtype float32, but exchange files are float64"):
        read_case(_resave(path, tmp_path / "f32.npz", input=read_case(path).input.astype(np.float32)))
    with pytest.raises(ExchangeFileError, match=r"format must be 'rpnumpy-gradcheck'"):
        read_case(_resave(path, tmp_path / "model.npz", format=np.array("rpnumpy-model")))
    with pytest.raises(ExchangeFileError, match=r"required entries \['upstream'\] are missing"):
        read_case(_resave(path, tmp_path / "partial.npz", upstream=None))
    with pytest.raises(ExchangeFileError, match=r"unknown entries \['notes'\]"):
        read_case(_resave(path, tmp_path / "notes.npz", notes=np.array("hello")))
    bad_layer = _resave(path, tmp_path / "bad_layer.npz", layer=np.array(json.dumps({"class": "Nope", "config": {}})))
    assert "unknown layer class 'Nope'" in compare_case(read_case(bad_layer)).problems[0]
    (tmp_path / "garbage.npz").write_bytes(b"not a zip")
    assert main(["gradcheck", "--compare", str(tmp_path / "garbage.npz")]) == 2
    assert main(["gradcheck", "--compare", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "is not a readable .npz archive" in err and "no exchange file or folder at" in err
    # A single .npy array (np.load returns the array, not an archive) is refused with a clear error, no traceback.
    np.save(tmp_path / "single.npy", read_case(path).input)
    with pytest.raises(ExchangeFileError, match=r"single.npy is a single .npy array, not an rpnumpy exchange file"):
        read_case(tmp_path / "single.npy")
    assert main(["gradcheck", "--compare", str(tmp_path / "single.npy")]) == 2
    assert "is a single .npy array, not an rpnumpy exchange file" in capsys.readouterr().err
    with pytest.raises(ExchangeFileError, match=r"cannot be read: Object arrays cannot be loaded when allow_pickle"):
        read_case(_resave(path, tmp_path / "pickled.npz", producer=np.array([{"a": 1}], dtype=object)))
    with pytest.raises(ExchangeFileError, match=r"format_version must be 1, got"):
        read_case(_resave(path, tmp_path / "v2.npz", format_version=np.array(2)))
    with pytest.raises(ExchangeFileError, match=r"the layer entry is not valid JSON"):
        read_case(_resave(path, tmp_path / "json.npz", layer=np.array("{not json")))
    with pytest.raises(FileNotFoundError, match=r"no exchange file at"):
        read_case(tmp_path / "absent.npz")
    missing = _resave(path, tmp_path / "missing_param.npz", **{"param/alpha": None, "grad/alpha": None})
    assert compare_case(read_case(missing)).problems == [
        "parameters do not match the layer (missing ['alpha'], unexpected [])"]
    wrong_param = _resave(path, tmp_path / "wrong_param.npz", **{"param/w": np.zeros(2)})
    assert "parameter 'w' must have shape" in compare_case(read_case(wrong_param)).problems[0]
    stray = _resave(path, tmp_path / "stray.npz", **{"buffer/Q": np.zeros(2)})
    assert compare_case(read_case(stray)).problems == ["buffers ['Q'] are not part of the layer"]
    # A matrix built from data has no seed to rebuild it from: it must be in the file.
    template = _file(tmp_path, "HalfLayer[template,relu]")
    no_template = _resave(template, tmp_path / "no_template.npz", **{"buffer/R": None, "seed/R": None})
    assert compare_case(read_case(no_template)).problems == [
        "buffers ['R'] cannot be rebuilt from a seed and are missing from the file"]
    # A matrix a seed rebuilds may be left out: it is rebuilt, and the row says so.
    no_p = compare_case(read_case(_resave(path, tmp_path / "no_p.npz", **{"buffer/P": None, "seed/P": None})))
    assert no_p.passed
    assert [r.note for r in no_p.rows if r.name == "buffer/P"] == ["not in the file: rebuilt from its seed"]


def test_layers_without_an_input_gradient(cases_dir, tmp_path):
    """The fixed input tower computes no dL/dx: its file has no grad_input, and one that has it is refused."""
    path = cases_dir / case_filename("FullyBundledNetwork[relu,relu,relu_bias]")
    case = read_case(path)
    assert case.grad_input is None and set(case.grads) == {"1.W", "1.b"}
    assert compare_case(case).passed
    with_dx = _resave(path, tmp_path / "with_dx.npz", grad_input=np.zeros_like(case.input))
    assert compare_case(read_case(with_dx)).problems == [
        "grad_input is in the file, but the layer computes no input gradient"]
    # The other way round: a layer that has an input gradient needs it in the file.
    without_dx = _resave(_file(tmp_path, "Dense"), tmp_path / "without_dx.npz", grad_input=None)
    result = compare_case(read_case(without_dx))
    assert not result.passed and [(r.name, r.note) for r in result.rows if not r.passed] == [
        ("grad_input", "missing from the file")]


def test_float32_layers_are_refused_when_writing():
    layer, x, dy = get_case("Dense").sample(0, dtype=np.float32)
    with pytest.raises(TypeError, match=r"exchange files are float64"):
        exchange_case(layer, x, dy)


def test_list_and_unknown_case(tmp_path, capsys):
    assert main(["gradcheck", "--list"]) == 0
    out = capsys.readouterr().out
    assert "HalfLayer[binary,relu]" in out and registry_summary() in out
    assert main(["gradcheck", "--out", str(tmp_path), "--case", "Dense[huge]"]) == 2
    assert "unknown layer case 'Dense[huge]'" in capsys.readouterr().err
    assert main(["gradcheck", "--out", str(tmp_path), "--case", "PRP[orthogonal]", "--case", "Dense"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dense.npz", "PRP-orthogonal.npz"]


def test_case_filenames():
    assert case_filename("HalfLayer[binary,relu]") == "HalfLayer-binary-relu.npz"
    assert case_filename("PRPAutoencoder[tied,orthogonal,identity/sigmoid]") == (
        "PRPAutoencoder-tied-orthogonal-identity-sigmoid.npz")
    assert len({case_filename(case.name) for case in LAYER_CASES}) == len(LAYER_CASES)


@pytest.mark.torch
def test_the_documented_pytorch_example_runs_and_agrees(cases_dir, tmp_path, monkeypatch, capsys):
    """The PyTorch script of rpnumpy.testing.exchange's docstring (and the README), run as written."""
    pytest.importorskip("torch", reason="PyTorch is not installed (optional extra: pip install 'rpnumpy[torch]')")
    from rpnumpy.testing import exchange

    script = textwrap.dedent(exchange.__doc__.split("For a PRP layer in PyTorch::")[1].split("\nthen ")[0])
    (tmp_path / "cases").symlink_to(cases_dir, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    exec(compile(script, "pytorch-example", "exec"), {})
    assert main(["gradcheck", "--compare", "mine.npz"]) == 0
    out = capsys.readouterr().out
    assert "produced by torch" in out and "1 of 1 files agree with rpnumpy" in out
