"""What the course's notebooks say about themselves: title, objectives, run time, exercises.

Read from the notebook files as plain JSON (no Jupyter package needed): the first cell gives the
title (its ``# `` heading), the introduction (the first paragraph after it) and the labelled parts
of the course's opening cell; the cell tags give the number of exercises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LABELS", "NOTEBOOK_GLOB", "CourseNotebook", "cell_source", "cell_tags", "opening_sections",
           "read_course"]

#: The file names of the course's notebooks: two digits, an underscore, a name.
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"

#: The labelled parts of a notebook's first cell, in the order the course's conventions give them.
LABELS = ("What you will learn", "What you need to know first", "How long it runs", "The papers")


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (a notebook file may store it as a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def cell_tags(cell: dict[str, Any]) -> set[str]:
    """The tags of a cell (``metadata.tags``)."""
    return set(cell.get("metadata", {}).get("tags", []))


def opening_sections(markdown: str) -> dict[str, str]:
    """The labelled parts of an opening cell, label -> its markdown text (labels absent are left out).

    A label counts where it starts a line (after a bullet, a heading's ``#`` or a bold ``**``) and
    ends its line or is followed by a colon or a dash, so the same words in a sentence do not. A part
    runs from its label to the next label's line, so both a one-line part
    (``- **How long it runs**: ...``) and a nested list or a section under a heading are read.
    """
    found = []
    for label in LABELS:
        match = re.search(rf"^[ \t]*(?:[-*+][ \t]+)?(?:#+[ \t]*)?(?:\*\*|__)?{re.escape(label)}"
                          r"(?=[*_]*[ \t]*(?:[:.\-–—]|$))", markdown, flags=re.IGNORECASE | re.MULTILINE)
        if match:
            found.append((match.start(), match.end(), label))
    found.sort()
    sections = {}
    for i, (_, end, label) in enumerate(found):
        stop = found[i + 1][0] if i + 1 < len(found) else len(markdown)
        text = re.sub(r"^[*_]*[ \t]*[:.\-–—]?", "", markdown[end:stop])  # a bold label's closing ** and colon
        sections[label] = text.strip()
    return sections


def _title_and_introduction(markdown: str) -> tuple[str, str]:
    title, paragraphs, current = "", [], []
    for line in markdown.splitlines():
        if not title and line.startswith("# "):
            title = line[2:].strip()
            continue
        if line.strip() and not line.lstrip().startswith("#"):
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    introduction = next((p for p in paragraphs if not any(label.lower() in p.lower() for label in LABELS)), "")
    return title, introduction


@dataclass(frozen=True)
class CourseNotebook:
    """One notebook of the course, as its first cell and its tags describe it.

    Attributes
    ----------
    path : Path
        The ``.ipynb`` file.
    number : str
        Its two-digit number (``"00"``), from the file name.
    title : str
        The first cell's ``#`` heading (the file name if there is none).
    introduction : str
        The first paragraph of the first cell (markdown).
    sections : dict of str to str
        The labelled parts of the first cell (:data:`LABELS`), markdown.
    exercises : int
        Cells tagged ``exercise``.
    solutions : int
        Cells tagged ``solution``.
    """

    path: Path
    number: str
    title: str
    introduction: str
    sections: dict[str, str]
    exercises: int
    solutions: int

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def run_time(self) -> str | None:
        """The "How long it runs" text of the first cell, or None."""
        return self.sections.get("How long it runs")

    @classmethod
    def read(cls, path: str | Path) -> CourseNotebook:
        path = Path(path)
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        first = cell_source(cells[0]) if cells and cells[0]["cell_type"] == "markdown" else ""
        title, introduction = _title_and_introduction(first)
        return cls(
            path=path,
            number=path.name[:2],
            title=title or path.stem,
            introduction=introduction,
            sections=opening_sections(first),
            exercises=sum("exercise" in cell_tags(cell) for cell in cells),
            solutions=sum("solution" in cell_tags(cell) for cell in cells),
        )


def read_course(directory: str | Path) -> list[CourseNotebook]:
    """The course's notebooks in ``directory`` (files ``NN_name.ipynb``), in order.

    Raises
    ------
    FileNotFoundError
        If ``directory`` holds no such notebook.
    """
    directory = Path(directory)
    paths = sorted(directory.glob(NOTEBOOK_GLOB))
    if not paths:
        raise FileNotFoundError(f"no course notebooks ({NOTEBOOK_GLOB}) in {directory}")
    return [CourseNotebook.read(path) for path in paths]
