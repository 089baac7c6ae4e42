"""The main job's report: chapters that write Markdown and PNG figures into one folder.

A chapter is a function ``run(ctx: RunContext) -> None`` registered under a
name with :func:`chapter`. ``python -m rpnumpy demo`` runs every registered
chapter in order and writes ``<out>/report.md`` plus ``<out>/figures/*.png``;
``python -m rpnumpy reproduce NAME`` runs one. Later topics (half layers, PRP,
SNNK, EUGen) add their chapters by registering them in their own modules and
listing the module in :data:`CHAPTER_MODULES`.

Figures are made with :class:`matplotlib.figure.Figure` directly, so nothing
here touches pyplot's global state or chooses a backend.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CHAPTERS", "CHAPTER_MODULES", "Chapter", "RunContext", "chapter", "load_chapters", "run_chapters"]

#: Modules whose import registers chapters, in report order.
CHAPTER_MODULES = [
    "rpnumpy.experiments.foundations",
    "rpnumpy.experiments.half",
    "rpnumpy.experiments.prp",
    "rpnumpy.experiments.snnk",
    "rpnumpy.experiments.eugen",
]


@dataclass
class Chapter:
    name: str
    title: str
    run: Callable[[RunContext], None]


#: Registered chapters by name, in registration order.
CHAPTERS: dict[str, Chapter] = {}


def chapter(name: str, title: str) -> Callable[[Callable[[RunContext], None]], Callable[[RunContext], None]]:
    """Register ``run(ctx)`` as the chapter ``name`` with a human title."""

    def register(run: Callable[[RunContext], None]) -> Callable[[RunContext], None]:
        CHAPTERS[name] = Chapter(name, title, run)
        return run

    return register


def load_chapters() -> dict[str, Chapter]:
    """Import every module in :data:`CHAPTER_MODULES` and return the registry, in report order.

    The order is that of :data:`CHAPTER_MODULES` (then registration order), whatever order
    the modules happened to be imported in before.
    """
    for module in CHAPTER_MODULES:
        importlib.import_module(module)

    def position(item: tuple[str, Chapter]) -> int:
        module = item[1].run.__module__
        return CHAPTER_MODULES.index(module) if module in CHAPTER_MODULES else len(CHAPTER_MODULES)

    ordered = sorted(CHAPTERS.items(), key=position)  # stable: ties keep registration order
    CHAPTERS.clear()
    CHAPTERS.update(ordered)
    return CHAPTERS


@dataclass
class RunContext:
    """What a chapter gets: where to write, where the data is, and how big to run.

    Attributes
    ----------
    out_dir : Path
        The report folder; figures go to ``out_dir / "figures"``.
    data_dir : str or None
        Passed to the data loaders (None: their usual look-up).
    quick : bool
        A small run (a few thousand images, one epoch) for tests and smoke runs.
    seed : int
        Base seed of the run.
    progress : bool
        Show progress bars.
    download : bool
        Let the data loaders download missing data sets.
    """

    out_dir: Path
    data_dir: str | None = None
    quick: bool = False
    seed: int = 0
    progress: bool = True
    download: bool = True
    sections: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        (self.out_dir / "figures").mkdir(parents=True, exist_ok=True)

    def text(self, markdown: str) -> None:
        """Append a Markdown paragraph (or heading) to the report."""
        self.sections.append(markdown.strip("\n"))

    def table(self, header: list[str], rows: list[list[Any]]) -> None:
        """Append a Markdown table."""
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        self.sections.append("\n".join(lines))

    def figure(self, fig: Any, name: str, caption: str) -> Path:
        """Save a matplotlib Figure as ``figures/<name>.png`` and link it in the report."""
        path = self.out_dir / "figures" / f"{name}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        self.sections.append(f"![{caption}](figures/{name}.png)\n\n*{caption}*")
        return path

    def write(self, title: str = "rpnumpy report") -> Path:
        """Write ``report.md`` and return its path."""
        path = self.out_dir / "report.md"
        head = f"# {title}\n\nGenerated {time.strftime('%Y-%m-%d %H:%M')}" + (" (quick run)" if self.quick else "")
        path.write_text("\n\n".join([head, *self.sections]) + "\n", encoding="utf-8")
        return path


def run_chapters(names: list[str], ctx: RunContext) -> Path:
    """Run the named chapters into ``ctx`` and write the report."""
    registry = load_chapters()
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(f"unknown chapter(s) {unknown}; available: {list(registry)}")
    for name in names:
        item = registry[name]
        ctx.text(f"## {item.title}")
        start = time.perf_counter()
        item.run(ctx)
        ctx.text(f"*Chapter `{name}` took {time.perf_counter() - start:.1f} s.*")
    return ctx.write()
