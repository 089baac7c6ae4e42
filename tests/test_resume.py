"""Resumable reproductions: units stored atomically, keyed by config and version, skipped by a rerun.

The interruption test stops a real run of a real chapter (the quick 'foundations' chapter, two
units) with a KeyboardInterrupt raised inside its second unit, as Ctrl-C would, then reruns it:
the first unit must be read back, not recomputed, and the report must equal that of a run that
was never interrupted.
"""

from __future__ import annotations

import functools
import json

import pytest

import rpnumpy
from rpnumpy.cli import main
from rpnumpy.experiments import foundations, units
from rpnumpy.experiments.report import Section, load_chapters


def _square(config: dict) -> dict:
    return {"value": config["x"] ** 2}


def test_units_are_stored_atomically_keyed_by_config_and_version(tmp_path, monkeypatch):
    store = units.UnitStore(tmp_path)
    unit = units.Unit(_square, {"x": 3})
    assert store.load(unit) is None
    assert store.save(unit, {"value": 9}, seconds=0.5) == {"value": 9}
    assert store.load(unit) == {"value": 9}
    assert [p.name for p in store.folder.iterdir()] == [f"{unit.key}.json"]  # no temporary file left
    assert unit.key != units.Unit(_square, {"x": 4}).key
    assert unit.key == units.Unit(_square, {"x": 3}, cost=7.0).key  # the cost is not part of the key
    record = json.loads(store.path(unit).read_text())
    assert record["config"] == {"x": 3} and record["version"] == rpnumpy.__version__ and record["seconds"] == 0.5
    old_key = unit.key
    monkeypatch.setattr(rpnumpy, "__version__", "999.0")
    assert unit.key != old_key and store.load(unit) is None  # a new version: a new unit, computed again
    assert store.load(units.Unit(_square, {"x": 4})) is None


def test_an_interrupted_save_leaves_the_old_file_and_no_litter(tmp_path, monkeypatch):
    store = units.UnitStore(tmp_path)
    unit = units.Unit(_square, {"x": 2})
    store.save(unit, {"value": 4}, seconds=0.1)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(units.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.save(unit, {"value": -1}, seconds=0.1)
    assert store.load(unit) == {"value": 4}
    assert [p.name for p in store.folder.iterdir()] == [f"{unit.key}.json"]


def test_a_unit_can_depend_on_another_through_the_store(tmp_path):
    env = units.environment(units.Environment(out_dir=tmp_path, store=units.UnitStore(tmp_path)))
    try:
        assert units.result_of(_square, {"x": 5}) == {"value": 25}
        assert units.result_of(_square, {"x": 5}) == {"value": 25}
        assert len(env.computed) == 1 and env.skipped == []  # read back, but computed by this run
        rerun = units.environment(units.Environment(out_dir=tmp_path, store=units.UnitStore(tmp_path)))
        assert units.result_of(_square, {"x": 5}) == {"value": 25}
        assert rerun.computed == [] and len(rerun.skipped) == 1
    finally:
        units.environment(units.Environment())


def test_sections_from_a_module_and_their_place(monkeypatch):
    import types

    module = types.ModuleType("rpnumpy.experiments.example_section")
    module.units = lambda quick: [{"x": 1}]
    module.run_unit = _square
    module.render = lambda ctx, results: ctx.text(f"x = {results[0][1]['value']}")
    item = load_chapters()["foundations"]
    monkeypatch.setattr(item, "sections", list(item.sections))
    section = item.add_section(module, after="gradchecks")
    assert isinstance(section, Section) and section.name == "example_section"
    assert [s.name for s in item.sections] == ["gradchecks", "example_section", "mlp"]
    with pytest.raises(ValueError, match="already has a section 'example_section'"):
        item.add_section(module)


def _counting(function, calls: list[str], interrupt: bool = False):
    @functools.wraps(function)  # the same name, so the same unit keys
    def wrapper(config: dict) -> dict:
        calls.append(function.__name__)
        if interrupt:
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of this unit
        return function(config)

    return wrapper


@pytest.mark.data
def test_an_interrupted_reproduction_resumes_without_recomputing_and_gives_the_same_report(mnist, tmp_path,
                                                                                          monkeypatch, capsys):
    chapter = load_chapters()["foundations"]
    gradchecks, mlp = chapter.sections
    calls: list[str] = []
    out, straight = tmp_path / "resumed", tmp_path / "straight"
    args = ["reproduce", "foundations", "--quick", "--no-progress", "--no-download"]

    monkeypatch.setattr(gradchecks, "run_unit", _counting(foundations.gradcheck_unit, calls))
    monkeypatch.setattr(mlp, "run_unit", _counting(foundations.mlp_unit, calls, interrupt=True))
    assert main([*args, "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    stored = sorted((out / "units").glob("*.json"))
    assert calls == ["gradcheck_unit", "mlp_unit"] and len(stored) == 1  # the first unit only, nothing half-written
    assert not list((out / "units").glob(".*.tmp")) and not (out / "report.md").exists()
    first = stored[0].read_bytes(), stored[0].stat().st_mtime_ns

    calls.clear()
    monkeypatch.setattr(mlp, "run_unit", _counting(foundations.mlp_unit, calls))
    assert main([*args, "--out", str(out)]) == 0
    assert calls == ["mlp_unit"]  # the finished unit was read back, not recomputed
    assert (stored[0].read_bytes(), stored[0].stat().st_mtime_ns) == first
    assert "1 units computed, 1 read from" in (out / "run.log").read_text()

    calls.clear()
    assert main([*args, "--out", str(straight)]) == 0
    assert calls == ["gradcheck_unit", "mlp_unit"]
    assert (out / "report.md").read_text() == (straight / "report.md").read_text()
    assert sorted(p.name for p in (out / "units").glob("*.json")) == sorted(
        p.name for p in (straight / "units").glob("*.json"))

    calls.clear()  # a rerun of a finished reproduction computes nothing; --fresh starts over
    assert main([*args, "--out", str(out)]) == 0 and calls == []
    assert main([*args, "--out", str(out), "--fresh"]) == 0 and calls == ["gradcheck_unit", "mlp_unit"]
    assert (out / "report.md").read_text() == (straight / "report.md").read_text()


def test_progress_off_a_terminal_is_a_status_line_with_the_time_left():
    import io

    stream = io.StringIO()
    progress = units.Progress(10.0, done=2.0, done_keys={"stored"}, interval=0.0, stream=stream)
    assert progress.bar is None and progress.remaining() is None
    progress.advance("stored", 2.0, None, "already counted")  # a unit stored before the run: not counted twice
    progress.advance("a", 4.0, 8.0, "first")
    assert progress.done == 6.0 and progress.remaining() == pytest.approx(8.0)  # 4 cost left at 2 s per unit of cost
    progress.advance("b", 4.0, 8.0, "second")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[0m00s] 20% done at the start (units stored by an earlier run), status every 0 s"
    lines = lines[1:]
    assert len(lines) == 2 and "60% done, about 0m08s left; last: first" in lines[0]
    assert "100% done" in lines[1] and "last: second" in lines[1]
    quiet = units.Progress(10.0, interval=3600.0, stream=io.StringIO())
    quiet.advance("a", 1.0, 1.0, "x")
    assert quiet.stream.getvalue().count("\n") == 1  # the first line only: at most one line per interval


def _render_squares(ctx, results) -> None:
    ctx.table(["x", "x²"], [[config["x"], result["value"]] for config, result in results])


def test_reproduce_all_runs_every_chapter_into_its_own_folder_with_one_status_display(tmp_path, monkeypatch,
                                                                                       capsys):
    from rpnumpy.experiments.report import Chapter

    calls: list[int] = []

    def square(config: dict) -> dict:
        calls.append(config["x"])
        return _square(config)

    square.__qualname__ = square.__name__ = "square"
    section = Section("squares", lambda quick: [{"x": 1}, {"x": 2}, {"x": 3}], square, _render_squares)
    registry = {"one": Chapter("one", "One", [section]), "two": Chapter("two", "Two", [section])}
    monkeypatch.setattr("rpnumpy.cli.load_chapters", lambda: registry)
    args = ["reproduce", "all", "--out", str(tmp_path), "--status-interval", "0"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert calls == [1, 2, 3, 1, 2, 3]  # each chapter stores its own units
    assert err.count("% done") == 7 and "0% done at the start" in err and "100% done" in err.splitlines()[-1]
    for name in ("one", "two"):
        assert "| 3 | 9 |" in (tmp_path / name / "report.md").read_text()
        assert len(list((tmp_path / name / "units").glob("*.json"))) == 3
    calls.clear()
    assert main(args) == 0 and calls == []  # everything stored: nothing recomputed
    assert capsys.readouterr().err.startswith("[0m00s] 100% done at the start")
