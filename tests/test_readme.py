"""What the README promises a newcomer: its first two commands, its figures, its counts and its course table."""

from __future__ import annotations

import re
from pathlib import Path

from rpnumpy.course import notebook_figures, read_course
from rpnumpy.testing import LAYER_CASES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_first_two_commands_are_the_demo_and_the_tests():
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block, "the README opens with a shell block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands[:2] == ["make demo", "make test"]


def test_the_readme_embeds_at_least_three_figures_that_exist_under_docs():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", README)
    assert len(images) >= 3, images
    for image in images:
        assert image.startswith("docs/") and (ROOT / image).is_file(), image


def test_the_figures_under_docs_figures_are_the_notebooks_current_outputs():
    """``python -m rpnumpy.course figures`` wrote them; a re-executed notebook must be exported again."""
    figures = notebook_figures(ROOT / "notebooks")
    on_disk = {path.stem: path.read_bytes() for path in (ROOT / "docs" / "figures").glob("*.png")}
    assert set(on_disk) == set(figures)
    for name, png in figures.items():
        assert on_disk[name] == png, f"docs/figures/{name}.png differs from its notebook's output: re-export it"


def test_the_layer_and_case_counts_are_the_registrys():
    match = re.search(r"(\d+) layers, (\d+) cases", README)
    assert match, "the README states how many layers and cases the registry holds"
    assert int(match.group(1)) == len({case.layer for case in LAYER_CASES})
    assert int(match.group(2)) == len(LAYER_CASES)


def test_the_course_table_states_each_notebooks_exercises():
    rows = {}
    for line in README.splitlines():
        link = re.match(r"\| \[[^\]]+\]\(notebooks/([^)]+\.ipynb)\) \|.*\| (\d+) \|$", line)
        if link:
            rows[link.group(1)] = int(link.group(2))
    course = read_course(ROOT / "notebooks")
    assert set(rows) == {notebook.path.name for notebook in course}
    for notebook in course:
        assert rows[notebook.path.name] == notebook.exercises, notebook.path.name
