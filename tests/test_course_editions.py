"""The student edition and the rendered book (``rpnumpy.course``), built and opened.

The student edition is built from a small synthetic notebook made here (exercise and solution cells,
checks from :mod:`rpnumpy.exercises`) and executed to its end; it is also built from the committed
notebooks and inspected. The book is built once per session from the committed notebooks (nothing
executed) and from a two-notebook synthetic course with a figure; a headless Chromium opens every page.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rpnumpy.course.notebooks import cell_tags, opening_sections
from rpnumpy.course.student import SolutionCellError, stub_solution

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM_MISSING = "Chromium not found: apt-get install chromium chromium-driver (CI installs it in .ci/run)"

SOLUTION_AFFINE = '''import numpy as np
from typing import no_type_check


@no_type_check
def affine_backward(
    dout,
    cache,  # (x, W, b)
):
    """The backward pass of y = xW + b: returns (dx, dW, db), δ Wᵀ, xᵀ δ and Σₙ δₙ."""
    x, W, b = cache
    def batch_sum(a):
        return a.sum(axis=0)
    dx = dout @ W.T
    dW = x.T @ dout  # the batch is summed by the product
    return dx, dW, batch_sum(dout)
'''

SOLUTION_RELU = '''def relu_backward(dout, x):
    """The backward pass of ReLU: dout where x > 0, else 0."""
    return dout * (x > 0)


def unused_helper(a, b=2): return a * b
'''


def _cell(kind: str, source: str, *tags: str, **fields):
    maker = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = maker(source, metadata={"tags": list(tags)} if tags else {})
    for key, value in fields.items():
        cell[key] = value
    return cell


def _opening(number: str, title: str, previous: str | None = None) -> str:
    needs = f"[the notebook before]({previous}) and CS231n's notes on backpropagation" if previous else "NumPy"
    return (f"# {number}. {title}\n\nA synthetic notebook about {title.lower()}, with $y = xW + b$.\n\n"
            f"- **What you will learn**:\n  - derive the backward pass\n  - check it\n"
            f"- **What you need to know first**: {needs}.\n"
            f"- **How long it runs**: about 3 s in full, 2 s with `RPNUMPY_SMOKE=1`.\n"
            f"- **The papers**: none.\n")


def synthetic_notebook(number: str = "00", title: str = "Backward passes", figure: bytes | None = None):
    """A course notebook in the conventions: opening cell, two exercises, checks, later cells, a summary."""
    cells = [
        _cell("markdown", _opening(number, title)),
        _cell("code", "import os\nimport numpy as np\nfrom rpnumpy.exercises import check_affine_backward, "
                      "check_relu_backward\nSMOKE = os.environ.get('RPNUMPY_SMOKE') == '1'\nprint('smoke', SMOKE)"),
        _cell("markdown", "### Exercise 0.1: the affine layer's backward pass\n\nWrite `affine_backward`: "
                          "$\\partial L/\\partial x = \\delta W^\\top$.", "exercise"),
        _cell("code", SOLUTION_AFFINE, "solution"),
        _cell("code", "check_affine_backward(affine_backward)"),
        _cell("markdown", "### Exercise 0.2: ReLU's backward pass\n\n$$\\delta \\odot [x > 0]$$", "exercise"),
        _cell("code", SOLUTION_RELU, "solution"),
        _cell("code", "check_relu_backward(relu_backward)"),
        _cell("code", "from rpnumpy.layers import ReLU\nprint('later cells use the library:', "
                      "ReLU().forward(np.array([[-1.0, 2.0]])))"),
        _cell("markdown", "## Summary\n\n- one\n- two\n- three\n- four\n\nNext: [the next](01_next.ipynb)"),
    ]
    if figure is not None:
        output = nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(figure).decode(),
                                                              "text/plain": "<Figure>"})
        cells.insert(8, _cell("code", "fig, ax = plt.subplots()\nplt.show()", outputs=[output], execution_count=3))
        cells.insert(9, _cell("markdown", "What to see: a line, $\\alpha$ against $w$."))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _write(folder: Path, name: str, nb) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return folder / name


def _body_only_lines(source: str) -> set[str]:
    """Stripped lines of the function bodies (docstrings excluded) that appear nowhere else in the cell."""
    tree = ast.parse(source)
    lines = source.splitlines()
    body, kept = set(), set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            statements = node.body[1:] if isinstance(node.body[0], ast.Expr) and isinstance(
                getattr(node.body[0], "value", None), ast.Constant) else node.body
            first = statements[0].lineno if statements else node.end_lineno + 1
            body.update(line.strip() for line in lines[first - 1:node.end_lineno])
            kept.update(line.strip() for line in lines[(node.decorator_list or [node])[0].lineno - 1:first - 1])
        else:
            kept.update(line.strip() for line in lines[node.lineno - 1:node.end_lineno])
    return {line for line in body - kept if line and not line.startswith("#")}


def _assert_stubbed(original: str, stubbed: str, where: str) -> None:
    """Every function keeps its signature and docstring and only raises; no line of a body survives."""
    before, after = ast.parse(original), ast.parse(stubbed)
    functions = [n for n in before.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    stubs = [n for n in after.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    assert [f.name for f in functions] == [s.name for s in stubs], where
    for function, stub in zip(functions, stubs, strict=True):
        assert ast.dump(function.args) == ast.dump(stub.args), f"{where}: {function.name}'s signature changed"
        assert [ast.dump(d) for d in function.decorator_list] == [ast.dump(d) for d in stub.decorator_list]
        assert ast.get_docstring(function) == ast.get_docstring(stub), f"{where}: {function.name}'s docstring"
        last = stub.body[-1]
        assert isinstance(last, ast.Raise) and last.exc.func.id == "NotImplementedError", where
        assert len(stub.body) == (2 if ast.get_docstring(function) is not None else 1), where
    imports = [ast.dump(n) for n in before.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert imports == [ast.dump(n) for n in after.body if isinstance(n, ast.Import | ast.ImportFrom)], where
    surviving = _body_only_lines(original) & {line.strip() for line in stubbed.splitlines()}
    assert not surviving, f"{where}: solution lines left in the student edition: {sorted(surviving)}"


# -- the student edition ---------------------------------------------------------------------------------------


def test_a_stub_keeps_imports_decorators_signature_and_docstring_and_nothing_of_the_body():
    for source in (SOLUTION_AFFINE, SOLUTION_RELU):
        stubbed = stub_solution(source, "Exercise 0.1: write this function")
        _assert_stubbed(source, stubbed, "synthetic solution")
        assert 'raise NotImplementedError("Exercise 0.1: write this function")' in stubbed
    stubbed = stub_solution(SOLUTION_AFFINE, "Exercise 0.1: write this function")
    assert "    cache,  # (x, W, b)\n):\n" in stubbed  # the multi-line signature, as written
    assert "batch_sum" not in stubbed and "dout @ W.T" not in stubbed and "summed by" not in stubbed
    namespace: dict = {}
    exec(stubbed, namespace)  # a valid cell: the stub raises the exercise's message
    with pytest.raises(NotImplementedError, match="Exercise 0.1"):
        namespace["affine_backward"](None, None)


@pytest.mark.parametrize(("source", "what"), [
    ("import numpy as np\nx = np.ones(3)\n\ndef f(x):\n    return x\n", "line 2 holds assign"),
    ("def f(x):\n    return x\n\nprint(f(1))\n", "line 4 holds expr"),
    ("%timeit 1\ndef f(x):\n    return x\n", "does not parse"),
    ("class Model:\n    pass\n", "line 1 holds classdef"),
])
def test_a_solution_cell_with_anything_but_imports_and_functions_is_refused(tmp_path, source, what):
    with pytest.raises(SolutionCellError, match=what):
        stub_solution(source, "m", "x.ipynb, cell 3")
    nb = synthetic_notebook()
    nb.cells[6].source = source
    _write(tmp_path / "course", "00_synthetic.ipynb", nb)
    from rpnumpy.course.__main__ import main

    with pytest.raises(SolutionCellError, match=r"00_synthetic\.ipynb, cell 6: .*" + what):
        from rpnumpy.course import build_student
        build_student(tmp_path / "course", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written
    assert main(["student", "--notebooks", str(tmp_path / "course"), "--out", str(tmp_path / "out")]) == 1


def test_a_markdown_cell_tagged_solution_is_refused():
    from rpnumpy.course import student_notebook

    nb = synthetic_notebook()
    nb.cells[3] = _cell("markdown", "def f(): pass", "solution")
    with pytest.raises(SolutionCellError, match="x.ipynb, cell 3: .*must be a code cell"):
        student_notebook(nb, "x.ipynb")


def _execute(path: Path, timeout: int = 120):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                   allow_errors=False).execute()
    return nb


def _text(cell) -> str:
    return "".join(output.get("text", "") + output.get("data", {}).get("text/plain", "")
                   for output in cell.get("outputs", []))


def test_the_student_edition_of_a_synthetic_notebook_runs_to_the_end(tmp_path, monkeypatch):
    from rpnumpy.course import build_student

    monkeypatch.setenv("RPNUMPY_SMOKE", "1")
    source = _write(tmp_path / "course", "00_synthetic.ipynb", synthetic_notebook())
    (tmp_path / "course" / "README.md").write_text("# index\n")
    written = build_student(tmp_path / "course", tmp_path / "student")
    assert [p.name for p in written] == ["00_synthetic.ipynb"] and (tmp_path / "student" / "README.md").exists()

    original, student = nbformat.read(source, as_version=4), nbformat.read(written[0], as_version=4)
    assert student.cells[1].source.startswith("> **Student edition.**")
    del student.cells[1]
    assert len(student.cells) == len(original.cells)
    for index, (before, after) in enumerate(zip(original.cells, student.cells, strict=True)):
        if "solution" in cell_tags(before):
            _assert_stubbed(before.source, after.source, f"cell {index}")
        else:
            assert after.source == before.source
    assert 'raise NotImplementedError("Exercise 0.2: write this function")' in student.cells[6].source

    executed = _execute(written[0])
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "the student edition runs to its end"
    checks = [cell for cell in code if cell.source.startswith("check_")]
    assert len(checks) == 2
    for cell in checks:
        assert "not implemented yet" in _text(cell), _text(cell)
    assert "smoke True" in _text(code[0]) and "later cells use the library" in _text(code[-1])

    reference = _execute(source)  # the same notebook with its solutions: both checks pass
    verdicts = [_text(cell) for cell in reference.cells
                if cell.cell_type == "code" and cell.source.startswith("check_")]
    assert len(verdicts) == 2 and all(re.search(r": correct$", text, re.M) for text in verdicts), verdicts


def _used_names(source: str) -> set[str]:
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def test_the_student_edition_of_the_course_builds_and_keeps_every_other_cell(tmp_path):
    """The committed notebooks, with or without solution cells yet: stubs, outputs cleared, the rest unchanged."""
    done = subprocess.run([sys.executable, "-m", "rpnumpy.course", "student", "--notebooks", str(NOTEBOOKS),
                           "--out", str(tmp_path / "student")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    originals = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert sorted(p.name for p in (tmp_path / "student").glob("*.ipynb")) == [p.name for p in originals]
    for path in originals:
        original = nbformat.read(path, as_version=4)
        student = nbformat.read(tmp_path / "student" / path.name, as_version=4)
        assert "student-note" in cell_tags(student.cells[1])
        del student.cells[1]
        assert len(student.cells) == len(original.cells)
        solution_names: set[str] = set()
        for index, (before, after) in enumerate(zip(original.cells, student.cells, strict=True)):
            where = f"{path.name}, cell {index}"
            if after.cell_type == "code":
                assert after.outputs == [] and after.execution_count is None, where
            if "solution" in cell_tags(before):
                _assert_stubbed(before.source, after.source, where)
                solution_names |= {n.name for n in ast.parse(before.source).body if isinstance(n, ast.FunctionDef)}
                continue
            assert after.source == before.source, where
            if before.cell_type == "code" and solution_names:
                check_call = re.fullmatch(r"\s*check_\w+\((\w+)\)\s*", before.source)
                used = set() if check_call else _used_names(before.source) & solution_names
                assert not used, (f"{where} uses the student's {sorted(used)}: later cells use the library's "
                                  "functions, so that the student edition runs with every exercise a stub")


def test_the_opening_cell_is_read_in_either_layout():
    bullets = _opening("03", "Towers", "02_x.ipynb")
    sections = opening_sections(bullets)
    assert sections["What you will learn"] == "- derive the backward pass\n  - check it"
    assert sections["How long it runs"] == "about 3 s in full, 2 s with `RPNUMPY_SMOKE=1`."
    assert "[the notebook before](02_x.ipynb)" in sections["What you need to know first"]
    headings = ("# 03. T\n\nThe papers behind it: what you will learn is in them.\n\n## What you will learn\n\n"
                "1. derive\n2. check\n\n## How long it runs\n\nAbout 4 minutes in full.\n")
    sections = opening_sections(headings)
    assert sections == {"What you will learn": "1. derive\n2. check", "How long it runs": "About 4 minutes in full."}


# -- the book ---------------------------------------------------------------------------------------------------


def _png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot([0, 1, 2], [0, 1, 0])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _needs_book_tools() -> None:
    pytest.importorskip("nbconvert")
    from rpnumpy.course.book import mathjax_source

    try:
        mathjax_source()
    except ModuleNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    """The book of the committed notebooks, built once (nothing executed)."""
    _needs_book_tools()
    from rpnumpy.course import build_book

    out = tmp_path_factory.mktemp("book")
    start = time.perf_counter()
    pages = build_book(NOTEBOOKS, out)
    print(f"book of {len(pages) - 1} notebooks built in {time.perf_counter() - start:.1f} s")
    return out


@pytest.fixture(scope="session")
def mini_book(tmp_path_factory):
    """A two-notebook synthetic course with a figure, its opening cells in the course's layout, and its book."""
    _needs_book_tools()
    from rpnumpy.course import build_book

    source = tmp_path_factory.mktemp("mini_course")
    first = synthetic_notebook("00", "Backward passes", figure=_png())
    first.cells[-1].source += "\n\nThe index: [the course](README.md#notation)."
    second = synthetic_notebook("01", "Towers")
    second.cells[0].source = _opening("01", "Towers", "00_back.ipynb")
    second.cells.append(_cell("markdown", "Previous: [00](00_back.ipynb)"))
    _write(source, "00_back.ipynb", first)
    _write(source, "01_next.ipynb", second)
    (source / "README.md").write_text("# Course\n\n## Notation\n\n| symbol | meaning |\n| --- | --- |\n"
                                      "| $\\kappa$ | the ReLU tower's floor |\n\n## After\n\nnot in the book\n")
    out = tmp_path_factory.mktemp("mini_book")
    build_book(source, out)
    return out


def _pages(folder: Path) -> list[Path]:
    return sorted(folder.glob("[0-9][0-9]_*.html"))


class _Anchors(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.anchors: list[dict[str, str]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.anchors.append(dict(attrs))


def _hrefs(text: str | list[dict[str, str]], rel: str | None = None) -> list[str]:
    anchors = _Anchors(text).anchors if isinstance(text, str) else text
    return [a.get("href", "") for a in anchors if rel is None or a.get("rel") == rel]


def test_the_book_has_an_index_and_a_page_per_notebook_linked_in_order(book):
    names = [p.stem for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]
    assert [p.stem for p in _pages(book)] == names
    assert set(_hrefs((book / "index.html").read_text(encoding="utf-8"))) >= {f"{name}.html" for name in names}
    for i, page in enumerate(_pages(book)):
        text = _Anchors(page.read_text(encoding="utf-8")).anchors
        assert _hrefs(text).count("index.html") >= 2, page.name  # top and bottom
        assert _hrefs(text, "prev") == ([f"{names[i - 1]}.html"] * 2 if i > 0 else []), page.name
        assert _hrefs(text, "next") == ([f"{names[i + 1]}.html"] * 2 if i + 1 < len(names) else []), page.name
        local = [href for href in _hrefs(text) if not re.match(r"[a-z]+:", href)]
        assert not [href for href in local if ".ipynb" in href], f"{page.name} links a notebook file"


EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//"""
                      r"""|import\(\s*["'](?:https?:)?//|url\(\s*["']?(?:https?:)?//""", re.IGNORECASE)


def test_the_book_loads_nothing_from_outside_itself(book, mini_book):
    assert EXTERNAL.search('<script src="https://cdn.example/x.js">') and EXTERNAL.search("<link href='//x/y.css'>")
    assert not EXTERNAL.search('<a href="https://arxiv.org/abs/2506.04352">')  # a link the reader follows is fine
    for folder in (book, mini_book):
        assert (folder / "mathjax" / "tex-svg-full.js").exists() and (folder / "mathjax" / "LICENSE").exists()
        for page in [folder / "index.html", *_pages(folder)]:
            text = page.read_text(encoding="utf-8")
            assert not EXTERNAL.search(text), f"{page.name}: {EXTERNAL.search(text).group(0)}"
            sources = re.findall(r'<script[^>]*\bsrc="([^"?]+)', text)
            assert sources == ["mathjax/tex-svg-full.js"], (page.name, sources)
            assert all((folder / s).exists() for s in sources)


def test_the_book_embeds_every_figure_and_reads_the_opening_cells(book, mini_book):
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        figures = sum("image/png" in output.get("data", {})
                      for cell in json.loads(path.read_text())["cells"] for output in cell.get("outputs", []))
        page = (book / f"{path.stem}.html").read_text(encoding="utf-8")
        assert page.count('src="data:image/png;base64,') == figures, path.name
    page = (mini_book / "00_back.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 1
    assert {"01_next.html", "index.html#notation"} <= set(_hrefs(page))
    index = (mini_book / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>(.*?)</tr>", index, re.S)
    assert len(rows) == 2
    assert ">00. Backward passes</a>" in rows[0] and ">01. Towers</a>" in rows[1]
    assert "about 3 s in full, 2 s with <code>RPNUMPY_SMOKE=1</code>" in rows[0]
    assert all('<td class="exercises">2</td>' in row for row in rows)
    assert "the ReLU tower's floor" in index and "not in the book" not in index


# -- the book in a browser ---------------------------------------------------------------------------------------


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium driven by Selenium, offline: every host name fails to resolve."""
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        _missing(CHROMIUM_MISSING)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium not installed: pip install -e '.[test]'")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900", "--host-resolver-rules=MAP * ~NOTFOUND",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


_WAIT_FOR_MATHJAX = """const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup) { done('MathJax did not load'); return; }
MathJax.startup.promise.then(() => done('typeset'), (error) => done('MathJax failed: ' + error));"""

_PAGE_REPORT = """const clone = document.body.cloneNode(true);
clone.querySelectorAll('pre, code, script, style, math, mjx-assistive-mml').forEach(e => e.remove());
return {
  text: clone.textContent,
  typeset: document.querySelectorAll('mjx-container').length,
  errors: [...document.querySelectorAll('[data-mjx-error]')].map(e => e.getAttribute('data-mjx-error')
                                                                              || e.textContent),
  images: document.images.length,
  broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80)),
};"""

#: Math that MathJax left as typed: a $...$ or $$...$$ pair around TeX (a backslash, ^, _, a brace, or one letter).
RAW_MATH = re.compile(r"\$\$?(?=[^$]{1,400}?\$)(?:[^$]*?[\\^_{}][^$]*?|\s*[A-Za-z]\s*)\$\$?")


def test_every_page_of_the_book_loads_typesets_its_math_and_decodes_its_images(book, mini_book, browser, tmp_path):
    assert RAW_MATH.search("costs $x$ here") and RAW_MATH.search("$$\\alpha_1$$") and RAW_MATH.search("$a^2$")
    assert not RAW_MATH.search("prices: $5 and $6") and not RAW_MATH.search("no math")
    start = time.perf_counter()
    pages = [book / "index.html", *_pages(book), mini_book / "index.html", *_pages(mini_book)]
    reports = {}
    for page in pages:
        browser.get(page.as_uri())
        assert browser.execute_async_script(_WAIT_FOR_MATHJAX) == "typeset", page.name
        report = reports[page] = browser.execute_script(_PAGE_REPORT)
        severe = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert not severe, f"{page}: console errors: {severe}"
        assert not report["broken"], f"{page}: images that do not decode: {report['broken']}"
        raw = RAW_MATH.findall(report["text"])
        assert not raw, f"{page}: math left untypeset: {raw[:5]}"
        assert not report["errors"], f"{page}: formulas MathJax could not typeset: {report['errors']}"
        if "$" in page.read_text(encoding="utf-8").split("<body", 1)[1]:
            assert report["typeset"] > 0, f"{page}: math in the page but none typeset"
    assert reports[mini_book / "00_back.html"]["images"] == 1  # the figure, decoded
    browser.get(_pages(book)[min(3, len(_pages(book)) - 1)].as_uri())
    browser.execute_async_script(_WAIT_FOR_MATHJAX)
    screenshot = tmp_path / "book-page.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
    print(f"{len(pages)} pages opened in {time.perf_counter() - start:.1f} s; screenshot: {screenshot}")
