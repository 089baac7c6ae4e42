"""The README's figures, taken from the committed notebooks' outputs.

A code cell tagged ``figure:<name>`` names the figure it draws; :func:`export_figures` writes its
(first) PNG output to ``<out>/<name>.png``. The README embeds those files, so every figure it
shows is one a notebook draws, from the notebook's own run, and a test checks that the files in
``docs/figures/`` are byte for byte the notebooks' current outputs.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from .._files import atomic_write
from .notebooks import NOTEBOOK_GLOB, cell_tags

__all__ = ["FIGURE_TAG", "export_figures", "notebook_figures"]

#: The prefix of the cell tag that names a figure for the README.
FIGURE_TAG = "figure:"


def notebook_figures(notebooks: Path | str) -> dict[str, bytes]:
    """``{name: PNG bytes}`` of every cell tagged ``figure:<name>`` in the course's notebooks.

    Raises
    ------
    ValueError
        If a tagged cell has no PNG output (the notebook was executed without an inline backend,
        or not at all) or two cells claim the same name.
    """
    figures: dict[str, bytes] = {}
    for path in sorted(Path(notebooks).glob(NOTEBOOK_GLOB)):
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        for index, cell in enumerate(cells):
            for tag in sorted(t for t in cell_tags(cell) if t.startswith(FIGURE_TAG)):
                name = tag[len(FIGURE_TAG):]
                images = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
                if not images:
                    raise ValueError(f"{path.name} cell {index} is tagged {tag!r} but has no PNG output; "
                                     f"execute the notebook with an inline backend")
                if name in figures:
                    raise ValueError(f"two cells are tagged {tag!r}; each figure name is used once")
                data = images[0]
                figures[name] = base64.b64decode("".join(data) if isinstance(data, list) else data)
    return figures


def export_figures(notebooks: Path | str, out: Path | str) -> list[Path]:
    """Write every tagged figure to ``out/<name>.png`` (atomically); return the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, png in notebook_figures(notebooks).items():
        written.append(atomic_write(out / f"{name}.png", lambda handle, png=png: handle.write(png)))
    return written
