"""A self-contained HTML page from the report's Markdown, without any dependency.

The reports use a small part of Markdown: headings (``#`` to ``####``), paragraphs, tables,
lists (``-``), images (``![caption](path)``), bold, emphasis and inline code. This renders
exactly that, escapes everything else, and embeds every image as a ``data:`` URI, so the page
opens in any browser without a network and without the figures folder.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

__all__ = ["inline", "markdown_to_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45;
       color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
code { background: #f3f3f3; padding: 0 0.2rem; }
img { max-width: 100%; }
"""

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def _data_uri(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    kind = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}.get(path.suffix.lower(), "image/png")
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def inline(text: str, base: Path | None = None) -> str:
    """Escape ``text`` and render images, links, inline code, bold and emphasis."""
    pieces, last, out = [], 0, []
    for match in re.finditer(r"`([^`]+)`", text):  # code spans first: nothing inside them is formatted
        pieces.append((text[last:match.start()], False))
        pieces.append((match.group(1), True))
        last = match.end()
    pieces.append((text[last:], False))
    for piece, is_code in pieces:
        if is_code:
            out.append(f"<code>{html.escape(piece)}</code>")
            continue
        piece = html.escape(piece, quote=False)

        def image(m: re.Match) -> str:
            uri = _data_uri((base or Path(".")) / html.unescape(m.group(2))) if base else None
            alt = html.escape(html.unescape(m.group(1)))
            return f'<img alt="{alt}" src="{uri}">' if uri else f"[missing figure: {alt}]"

        piece = _IMAGE.sub(image, piece)
        # Links to other files of the report folder stay relative; a web address is shown as text, not linked.
        piece = _LINK.sub(lambda m: m.group(1) if re.match(r"[a-z]+://", m.group(2)) else
                          f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', piece)
        piece = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", piece)
        piece = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", piece)
        out.append(piece)
    return "".join(out)


def _table(lines: list[str], base: Path | None) -> str:
    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip().strip("|").split("|")]

    head, rows = cells(lines[0]), [cells(line) for line in lines[2:]]
    parts = ["<table>", "<tr>" + "".join(f"<th>{inline(c, base)}</th>" for c in head) + "</tr>"]
    parts += ["<tr>" + "".join(f"<td>{inline(c, base)}</td>" for c in row) + "</tr>" for row in rows]
    return "\n".join(parts + ["</table>"])


def _block(block: str, base: Path | None) -> str:
    lines = block.split("\n")
    heading = re.match(r"(#{1,6}) (.*)", lines[0])
    if heading and len(lines) == 1:
        level = len(heading.group(1))
        return f"<h{level}>{inline(heading.group(2), base)}</h{level}>"
    if len(lines) >= 2 and lines[0].lstrip().startswith("|") and re.fullmatch(r"\s*\|[\s\-:|]+\|\s*", lines[1]):
        return _table(lines, base)
    if all(line.startswith(("- ", "  ")) for line in lines) and lines[0].startswith("- "):
        items, current = [], []
        for line in lines:
            if line.startswith("- ") and current:
                items.append(" ".join(current))
                current = []
            current.append(line[2:].strip())
        items.append(" ".join(current))
        return "<ul>\n" + "\n".join(f"<li>{inline(item, base)}</li>" for item in items) + "\n</ul>"
    if lines[0].startswith("```"):
        body = "\n".join(lines[1:-1] if lines[-1].startswith("```") else lines[1:])
        return f"<pre><code>{html.escape(body)}</code></pre>"
    if heading:  # a heading followed by text in the same block
        return _block(lines[0], base) + "\n" + _block("\n".join(lines[1:]), base)
    return f"<p>{inline(' '.join(line.strip() for line in lines), base)}</p>"


def markdown_to_html(markdown: str, base: Path | None = None, title: str = "rpnumpy report") -> str:
    """The page for ``markdown``; images are read relative to ``base`` and embedded as data URIs."""
    blocks = [b.strip("\n") for b in re.split(r"\n\s*\n", markdown) if b.strip()]
    body = "\n".join(_block(block, base) for block in blocks)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
