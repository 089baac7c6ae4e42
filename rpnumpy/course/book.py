"""The rendered book: an index page and one HTML page per notebook, readable offline.

Each notebook is rendered from its committed outputs (nothing is executed) by nbconvert's
``HTMLExporter`` with the JupyterLab template: figures are embedded as ``data:`` URIs, and every
page has links to the previous and the next notebook and to the index. Math is typeset in the
browser by MathJax 3 (its single-file TeX-to-SVG build, ``tex-svg-full.js``), copied into the book
(``mathjax/``) from the ``django-static-mathjax`` package on PyPI (plain MathJax files, no Django
needed): a page loads nothing from outside the book, and SVG output needs no web fonts, so the pages
also work opened straight from disk.

The index (``index.html``) holds the course's table: each notebook with what it teaches, how long it
runs and its number of exercises, read from the notebooks' first cells and tags
(:mod:`rpnumpy.course.notebooks`), then the notation table of ``notebooks/README.md``.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import shutil
from pathlib import Path
from typing import Any

from .notebooks import CourseNotebook, read_course

__all__ = ["MATHJAX_DIR", "MATHJAX_SCRIPT", "build_book", "copy_mathjax", "mathjax_head", "mathjax_source"]

#: Where the book keeps its copy of MathJax, relative to the book's folder.
MATHJAX_DIR = "mathjax"

#: The MathJax 3 component the pages load: TeX input with every extension, SVG output (no fonts to fetch).
MATHJAX_SCRIPT = "tex-svg-full.js"

#: MathJax's settings: the delimiters of the notebooks' markdown (as in Jupyter), AMS equation numbers, and
#: TeX errors shown as errors (without the noerrors and noundefined packages, a typo would be shown as
#: if it were math, and the browser test could not see it).
_MATHJAX_SETTINGS = {
    "tex": {"inlineMath": [["$", "$"], ["\\(", "\\)"]], "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
            "processEscapes": True, "processEnvironments": True, "tags": "ams",
            "packages": {"[-]": ["noerrors", "noundefined"]}},
    "svg": {"fontCache": "global"},
    "options": {"enableMenu": False},
}

_CSS = """
nav.book-nav { display: flex; justify-content: space-between; gap: 1em; max-width: 1100px; margin: 0 auto;
  padding: 0.6em 1em; font-family: system-ui, sans-serif; font-size: 15px; border-bottom: 1px solid #ddd; }
nav.book-nav.bottom { border-bottom: none; border-top: 1px solid #ddd; margin-top: 2em; }
nav.book-nav a { text-decoration: none; color: #1a5fb4; }
nav.book-nav a:hover { text-decoration: underline; }
nav.book-nav .book-prev, nav.book-nav .book-next { flex: 1; }
nav.book-nav .book-next { text-align: right; }
"""

_INDEX_CSS = """
body { font-family: system-ui, sans-serif; line-height: 1.5; max-width: 1100px; margin: 2em auto; padding: 0 1em;
  color: #222; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.4em 0.6em; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
th.notebook { width: 20%; } th.runtime { width: 18%; } th.exercises { width: 6em; }
td.exercises { text-align: center; }
td p { margin: 0; }
code { background: #f5f5f5; padding: 0 0.2em; }
a.anchor-link { display: none; }
"""

#: The page template: JupyterLab's, with local MathJax, without require.js, widgets and mermaid (all from CDNs).
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}{{ resources.book_mathjax }}{%- endblock html_head_js_mathjax -%}
{% block extra_css %}<style type="text/css">{{ resources.book_css }}</style>{% endblock extra_css %}
{%- block body_header -%}{{ super() }}{{ resources.book_nav_top }}{%- endblock body_header -%}
{% block body_footer %}{{ resources.book_nav_bottom }}{{ super() }}{% endblock body_footer %}
"""


def mathjax_source() -> Path:
    """The folder of MathJax 3's browser components (``es5/``) in the ``django-static-mathjax`` package.

    The package is located, not imported.

    Raises
    ------
    ModuleNotFoundError
        If the package is not installed.
    """
    spec = importlib.util.find_spec("mathjax")
    folder = (Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
              if spec is not None and spec.submodule_search_locations else None)
    if folder is None or not (folder / "es5" / MATHJAX_SCRIPT).exists():
        raise ModuleNotFoundError("the book needs MathJax 3 from the package django-static-mathjax: "
                                  "pip install -e '.[notebooks]'", name="mathjax")
    return folder


def copy_mathjax(out: Path) -> Path:
    """Copy MathJax's component and its licence into ``out/mathjax``; returns the component's path."""
    source, target = mathjax_source(), out / MATHJAX_DIR
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "es5" / MATHJAX_SCRIPT, target / MATHJAX_SCRIPT)
    shutil.copyfile(source / "LICENSE", target / "LICENSE")
    return target / MATHJAX_SCRIPT


def mathjax_head(prefix: str = MATHJAX_DIR) -> str:
    """The ``<head>`` scripts that load the book's copy of MathJax from ``prefix`` (relative to the page)."""
    settings = json.dumps(_MATHJAX_SETTINGS)
    return (f"<script>window.MathJax = {settings};</script>\n"
            f'<script src="{prefix}/{MATHJAX_SCRIPT}"></script>\n')


def _page(item: CourseNotebook) -> str:
    return item.stem + ".html"


def _label(item: CourseNotebook) -> str:
    return html.escape(item.title)


def _nav(course: list[CourseNotebook], index: int, where: str) -> str:
    previous = course[index - 1] if index > 0 else None
    following = course[index + 1] if index + 1 < len(course) else None
    prev = (f'<a rel="prev" href="{_page(previous)}">← Previous: {_label(previous)}</a>' if previous else "")
    nxt = (f'<a rel="next" href="{_page(following)}">Next: {_label(following)} →</a>' if following else "")
    return (f'<nav class="book-nav {where}"><span class="book-prev">{prev}</span>'
            f'<span class="book-index"><a href="index.html">Course index</a></span>'
            f'<span class="book-next">{nxt}</span></nav>')


def _relink(page: str, stems: set[str]) -> str:
    """Links to the course's notebooks point at their pages; links to the course's README at the index."""

    def replace(match: re.Match) -> str:
        target, anchor = match.group(1), match.group(2) or ""
        name = target.removeprefix("./")
        if name.endswith(".ipynb") and name[:-len(".ipynb")] in stems:
            return f'href="{name[:-len(".ipynb")]}.html{anchor}"'
        if name == "README.md":
            return f'href="index.html{anchor}"'
        return match.group(0)

    return re.sub(r'href="([^"#]*)(#[^"]*)?"', replace, page)


def _unchanged(markup: Any) -> str:
    return markup.decode() if isinstance(markup, bytes) else str(markup)


def _exporter() -> Any:
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"rpnumpy_book.html.j2": _TEMPLATE})],
                            template_file="rpnumpy_book.html.j2", embed_images=True)
    # The template passes every highlighted code cell through bleach; the course's notebooks are the
    # project's own, Pygments' markup is class-only spans, and the sanitizer takes half the build time.
    exporter.register_filter("clean_html", _unchanged)
    return exporter


def _markdown(text: str) -> str:
    from nbconvert.filters import markdown2html

    return markdown2html(text)


def _notation(readme: Path) -> str:
    """The ``## Notation`` section of the course's README, as markdown ("" if there is none)."""
    if not readme.exists():
        return ""
    match = re.search(r"^## Notation.*?(?=^## |\Z)", readme.read_text(encoding="utf-8"), flags=re.M | re.S)
    return match.group(0) if match else ""


def _index(course: list[CourseNotebook], notation: str) -> str:
    rows = []
    for item in course:
        run_time = _markdown(item.run_time) if item.run_time else "—"
        rows.append(f'<tr><td><a href="{_page(item)}">{_label(item)}</a></td>'
                    f"<td>{_markdown(item.introduction)}</td><td>{run_time}</td>"
                    f'<td class="exercises">{item.exercises}</td></tr>')
    total = sum(item.exercises for item in course)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>rpnumpy: the course</title>
<style type="text/css">{_INDEX_CSS}</style>
{mathjax_head()}</head>
<body>
<main>
<h1>rpnumpy: the course</h1>
<p>Neural layers built on fixed random matrices, in plain NumPy: {len(course)} notebooks, {total} exercises.
Each page is a notebook with the outputs of its full run; open the notebooks themselves (or the student
edition, <code>make student</code>) to run them and do the exercises.</p>
<table>
<thead><tr><th class="notebook">notebook</th><th>what it teaches</th><th class="runtime">how long it runs</th>
<th class="exercises">exercises</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<section id="notation">{_markdown(notation) if notation else ""}</section>
</main>
</body>
</html>
"""


def build_book(notebooks: str | Path, out: str | Path) -> list[Path]:
    """Write the book of the course notebooks in ``notebooks`` into ``out``.

    Nothing is executed: the pages show the outputs committed in the notebooks.

    Returns
    -------
    list of Path
        The pages written, the index first.

    Raises
    ------
    FileNotFoundError
        If ``notebooks`` holds no course notebook.
    ModuleNotFoundError
        If nbconvert or django-static-mathjax (the ``notebooks`` extra) is missing.
    """
    import nbformat

    notebooks, out = Path(notebooks), Path(out)
    course = read_course(notebooks)
    exporter = _exporter()
    out.mkdir(parents=True, exist_ok=True)
    copy_mathjax(out)
    stems = {item.stem for item in course}
    pages = [out / "index.html"]
    pages[0].write_text(_index(course, _notation(notebooks / "README.md")), encoding="utf-8")
    for index, item in enumerate(course):
        nb = nbformat.read(item.path, as_version=4)
        nb.metadata["title"] = item.title
        body, _ = exporter.from_notebook_node(nb, resources={
            "metadata": {"name": item.stem, "path": str(item.path.parent)},
            "book_mathjax": mathjax_head(),
            "book_css": _CSS,
            "book_nav_top": _nav(course, index, "top"),
            "book_nav_bottom": _nav(course, index, "bottom"),
        })
        page = out / _page(item)
        page.write_text(_relink(body, stems), encoding="utf-8")
        pages.append(page)
    return pages
