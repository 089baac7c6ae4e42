"""The student edition: every solution replaced by a stub, every output cleared.

A code cell tagged ``solution`` holds only imports and function definitions. In the student
edition each top-level function keeps its decorators, its ``def`` line (however many lines the
signature takes) and its docstring; its body becomes ::

    raise NotImplementedError("Exercise N.k: write this function")

where ``N.k`` is the number in the heading (``### Exercise N.k: title``) of the closest cell tagged
``exercise`` above it. The exercise checks of :mod:`rpnumpy.exercises` report such a stub as "not
implemented yet", so the student edition runs to its end. The functions are found with :mod:`ast`
(not by pattern matching); a solution cell holding anything else (a statement, a magic, a syntax
error) is refused with a :class:`SolutionCellError` naming the notebook and the cell.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

from .notebooks import NOTEBOOK_GLOB, cell_source, cell_tags

__all__ = ["STUDENT_NOTE", "SolutionCellError", "build_student", "student_notebook", "stub_solution"]

#: The markdown cell the student edition inserts after each notebook's first cell.
STUDENT_NOTE = (
    "> **Student edition.** The function of each exercise below is a stub that raises "
    "`NotImplementedError`: write its body, run its cell, then run the check in the cell after it. "
    "Until then the check says \"not implemented yet\" and the rest of the notebook runs as usual."
)

_EXERCISE_HEADING = re.compile(r"Exercise\s+(\d+\.\d+)", re.IGNORECASE)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_IMPORTS = (ast.Import, ast.ImportFrom)


class SolutionCellError(ValueError):
    """A cell tagged ``solution`` that the student edition cannot stub safely."""


def _offsets(source: str) -> list[int]:
    """Character offset of the start of every line (1-based line numbers index it directly).

    Lines end at ``\n`` only, as the parser counts them (``str.splitlines`` would also split at a form
    feed or a Unicode line separator inside a docstring).
    """
    starts = [0, 0]
    for line in source.split("\n"):
        starts.append(starts[-1] + len(line) + 1)
    return starts


def _position(source: str, starts: list[int], line: int, byte_col: int) -> int:
    """Character offset of an AST position (its column counts UTF-8 bytes)."""
    text = source[starts[line]:starts[line + 1]] if line + 1 < len(starts) else source[starts[line]:]
    return starts[line] + len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def _docstring_node(node: ast.AST) -> ast.Expr | None:
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first
    return None


def _stub_function(source: str, starts: list[int], node: ast.FunctionDef, message: str) -> str:
    """The text of ``node`` with its body replaced by ``raise NotImplementedError(message)``."""
    first_line = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    begin = starts[first_line]
    body = node.body[0]
    header = source[begin:_position(source, starts, body.lineno, body.col_offset)]
    lines = header.split("\n")
    while len(lines) > 1 and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
        lines.pop()  # blank lines and comments between the signature and the body
    header = "\n".join(lines).rstrip()
    before_body = source[starts[body.lineno]:_position(source, starts, body.lineno, body.col_offset)]
    indent = before_body if not before_body.strip() else " " * (node.col_offset + 4)
    parts = [header]
    docstring = _docstring_node(node)
    if docstring is not None:
        text = source[_position(source, starts, docstring.lineno, docstring.col_offset):
                      _position(source, starts, docstring.end_lineno, docstring.end_col_offset)]
        parts.append(indent + text)
    parts.append(f"{indent}raise NotImplementedError({json.dumps(message)})")
    return "\n".join(parts)


def stub_solution(source: str, message: str, where: str = "the solution cell") -> str:
    """The source of a solution cell with every top-level function's body replaced by a stub.

    Parameters
    ----------
    source : str
        The cell's source: imports and function definitions only.
    message : str
        The message of the ``NotImplementedError`` each stub raises.
    where : str
        Names the cell in error messages (e.g. ``"01_half_layers.ipynb, cell 12"``).

    Raises
    ------
    SolutionCellError
        If the source does not parse, or holds anything but imports and function definitions.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise SolutionCellError(f"{where}: a cell tagged 'solution' must be plain Python (imports and function "
                                f"definitions, no IPython magic); it does not parse: {exc.msg} "
                                f"(line {exc.lineno})") from None
    for node in tree.body:
        if not isinstance(node, _FUNCTIONS + _IMPORTS):
            snippet = ast.get_source_segment(source, node) or type(node).__name__
            raise SolutionCellError(
                f"{where}: a cell tagged 'solution' may hold only imports and function definitions; line "
                f"{node.lineno} holds {type(node).__name__.lower()} {snippet.splitlines()[0][:60]!r}: move it to "
                f"another cell")
    starts = _offsets(source)
    pieces, cursor = [], 0
    for node in tree.body:
        if not isinstance(node, _FUNCTIONS):
            continue
        first_line = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        begin = starts[first_line]
        pieces.append(_drop_indented_comments(source[cursor:begin]))
        pieces.append(_stub_function(source, starts, node, message) + "\n")
        cursor = starts[node.end_lineno + 1]  # the rest of the last line can only be a comment
    pieces.append(_drop_indented_comments(source[cursor:]))
    stubbed = "".join(pieces)
    return stubbed if source.endswith("\n") else stubbed.rstrip("\n")


def _drop_indented_comments(text: str) -> str:
    """Text between top-level statements without the indented comment lines (the end of a function body)."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not (line[:1].isspace() and line.lstrip().startswith("#")))


def _clear(cell: Any) -> None:
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    for key in ("execution", "ExecuteTime", "collapsed", "scrolled"):
        cell.metadata.pop(key, None)


def student_notebook(nb: Any, name: str = "notebook") -> Any:
    """The student edition of a notebook (an ``nbformat`` node; the argument is left unchanged).

    Every solution cell is stubbed (:func:`stub_solution`), with the exercise number of the closest
    cell tagged ``exercise`` above it; every output and execution count is cleared; a note for the
    student follows the first cell.

    Raises
    ------
    SolutionCellError
        If a cell tagged ``solution`` is not a code cell of imports and function definitions.
    """
    import nbformat

    nb = copy.deepcopy(nb)
    exercise = None
    for index, cell in enumerate(nb.cells):
        tags = cell_tags(cell)
        if "exercise" in tags:
            match = _EXERCISE_HEADING.search(cell_source(cell))
            exercise = f"Exercise {match.group(1)}" if match else None
        if "solution" in tags:
            where = f"{name}, cell {index}"
            if cell.cell_type != "code":
                raise SolutionCellError(f"{where}: a cell tagged 'solution' must be a code cell; it is "
                                        f"{cell.cell_type}")
            cell.source = stub_solution(cell_source(cell), f"{exercise or 'This exercise'}: write this function",
                                        where)
        _clear(cell)
    nb.metadata.pop("widgets", None)
    if nb.cells:
        note = nbformat.v4.new_markdown_cell(STUDENT_NOTE, metadata={"tags": ["student-note"]})
        if nb.nbformat_minor >= 5:
            note["id"] = "student-edition-note"
        else:
            note.pop("id", None)
        nb.cells.insert(1, note)
    nbformat.validate(nb)
    return nb


def build_student(notebooks: str | Path, out: str | Path) -> list[Path]:
    """Write the student edition of every course notebook in ``notebooks`` into ``out``.

    The course's index (``README.md``) is copied beside them so the notebooks' links work.
    Nothing is written if a notebook's solution cell is refused.

    Returns
    -------
    list of Path
        The notebooks written.

    Raises
    ------
    FileNotFoundError
        If ``notebooks`` holds no course notebook.
    SolutionCellError
        If a cell tagged ``solution`` holds anything but imports and function definitions.
    """
    import nbformat

    notebooks, out = Path(notebooks), Path(out)
    paths = sorted(notebooks.glob(NOTEBOOK_GLOB))
    if not paths:
        raise FileNotFoundError(f"no course notebooks ({NOTEBOOK_GLOB}) in {notebooks}")
    editions = [(path, student_notebook(nbformat.read(path, as_version=4), path.name)) for path in paths]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb in editions:
        nbformat.write(nb, out / path.name)
        written.append(out / path.name)
    if (notebooks / "README.md").exists():
        shutil.copyfile(notebooks / "README.md", out / "README.md")
    return written
