"""The main job's report: chapters made of sections, sections made of units of work.

A chapter is registered under a name with :func:`chapter` and is a list of :class:`Section`\\ s
(see :mod:`rpnumpy.experiments` for how to add one). ``python -m rpnumpy reproduce NAME`` runs a
chapter: it lists the units of every section, runs the ones not yet stored in
``<out>/units/`` (:mod:`rpnumpy.experiments.units`), then renders each section from the stored
results into ``<out>/report.md``, ``<out>/report.html`` (self-contained) and ``<out>/figures/*.png``.
The chapter modules are listed in :data:`CHAPTER_MODULES`.

Figures are made with :class:`matplotlib.figure.Figure` directly, so nothing here touches
pyplot's global state or chooses a backend.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from . import units as _units
from .html import markdown_to_html

__all__ = ["CHAPTERS", "CHAPTER_MODULES", "Chapter", "RunContext", "Section", "chapter", "load_chapters",
           "run_chapters"]

#: Modules whose import registers chapters, in report order.
CHAPTER_MODULES = [
    "rpnumpy.experiments.foundations",
    "rpnumpy.experiments.half",
    "rpnumpy.experiments.prp",
    "rpnumpy.experiments.snnk",
    "rpnumpy.experiments.eugen",
]

Config = dict[str, Any]
Results = list[tuple[Config, dict[str, Any]]]


@dataclass
class Section:
    """A part of a chapter: its units of work and how to render their results.

    Attributes
    ----------
    name : str
        Short name, unique within the chapter.
    units : callable
        ``units(quick: bool) -> list[dict]``: the configs of its units, in report order.
    run_unit : callable
        ``run_unit(config) -> dict``: a pure function of the config, JSON-serialisable result.
    render : callable
        ``render(ctx, results)`` with ``results`` the list of ``(config, result)`` pairs in the
        order of ``units(ctx.quick)``; writes text, tables and figures through ``ctx``.
    cost : callable
        ``cost(config) -> float``: the unit's expected cost (about seconds on 2 cores), for the
        estimate of the time left; 1 for every unit if not given.
    label : callable or None
        ``label(config) -> str``: a short description for the progress display.
    """

    name: str
    units: Callable[[bool], list[Config]]
    run_unit: Callable[[Config], dict[str, Any]]
    render: Callable[[RunContext, Results], None]
    cost: Callable[[Config], float] = lambda config: 1.0
    label: Callable[[Config], str] | None = None

    @classmethod
    def from_module(cls, module: ModuleType, name: str | None = None) -> Section:
        """A section from a module defining ``run_unit``, ``units``, ``render`` (and optionally ``cost``, ``label``)."""
        return cls(name or module.__name__.rsplit(".", 1)[-1], module.units, module.run_unit, module.render,
                   getattr(module, "cost", lambda config: 1.0), getattr(module, "label", None))

    def make_units(self, quick: bool) -> list[_units.Unit]:
        return [_units.Unit(self.run_unit, config, float(self.cost(config)),
                            self.label(config) if self.label else "")
                for config in self.units(quick)]


@dataclass
class Chapter:
    """A registered chapter: a title, an introduction ``intro(ctx)`` and its sections, in order."""

    name: str
    title: str
    sections: list[Section] = field(default_factory=list)
    intro: Callable[[RunContext], None] | None = None

    @property
    def module(self) -> str:
        """The module that defines the chapter (that of its introduction, else of its first section)."""
        if self.intro is not None:
            return self.intro.__module__
        return self.sections[0].run_unit.__module__ if self.sections else ""

    def add_section(self, section: Section | ModuleType, *, after: str | None = None) -> Section:
        """Append a section (or insert it after the section named ``after``); a module is wrapped first."""
        if isinstance(section, ModuleType):
            section = Section.from_module(section)
        if any(s.name == section.name for s in self.sections):
            raise ValueError(f"chapter {self.name!r} already has a section {section.name!r}")
        names = [s.name for s in self.sections]
        if after is not None and after not in names:
            raise ValueError(f"after must name a section of {self.name!r} ({names}), got {after!r}")
        self.sections.insert(names.index(after) + 1 if after else len(self.sections), section)
        return section

    def units(self, quick: bool) -> list[list[_units.Unit]]:
        return [section.make_units(quick) for section in self.sections]

    def run(self, ctx: RunContext) -> None:
        """Run the missing units (stored under ``ctx.out_dir / "units"``) and render the chapter into ``ctx``."""
        _install_environment(ctx)
        unit_lists = self.units(ctx.quick)
        render_chapter(self, ctx, [_units.run_units(units) for units in unit_lists], unit_lists)


#: Registered chapters by name, in registration order.
CHAPTERS: dict[str, Chapter] = {}


def chapter(name: str, title: str, sections: list[Section] | None = None,
            intro: Callable[[RunContext], None] | None = None) -> Chapter:
    """Register (or return the already registered) chapter ``name`` with a human title and its sections."""
    if name not in CHAPTERS:
        CHAPTERS[name] = Chapter(name, title, list(sections or []), intro)
    return CHAPTERS[name]


def load_chapters() -> dict[str, Chapter]:
    """Import every module in :data:`CHAPTER_MODULES` and return the registry, in report order."""
    for module in CHAPTER_MODULES:
        importlib.import_module(module)

    def position(item: tuple[str, Chapter]) -> int:
        module = item[1].module
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
        The report folder; figures go to ``out_dir / "figures"``, units to ``out_dir / "units"``.
    data_dir : str or None
        Passed to the data loaders (None: their usual look-up).
    quick : bool
        A small run (a few thousand images, one epoch) for tests and smoke runs.
    seed : int
        Base seed of the demo (the chapters' seeds are part of their units' configs).
    progress : bool
        Show the progress display.
    download : bool
        Let the data loaders download missing data sets.
    fresh : bool
        Ignore (and delete) the stored units and start over.
    """

    out_dir: Path
    data_dir: str | None = None
    quick: bool = False
    seed: int = 0
    progress: bool = True
    download: bool = True
    fresh: bool = False
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
        fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
        self.sections.append(f"![{caption}](figures/{name}.png)\n\n*{caption}*")
        return path

    def write_json(self, name: str, data: Any) -> Path:
        """Write ``<out>/<name>`` as indented JSON (the chapters' ``results_*.json``)."""
        path = self.out_dir / name
        path.write_text(json.dumps(_units.jsonable(data), indent=1), encoding="utf-8")
        return path

    def write(self, title: str = "rpnumpy report") -> Path:
        """Write ``report.md`` and the self-contained ``report.html``; return the Markdown's path.

        The report holds no date or timing of the run (those go to ``run.log``), so two runs
        of the same units give the same report.
        """
        from .. import __version__

        path = self.out_dir / "report.md"
        head = f"# {title}\n\nrpnumpy {__version__}" + (" (quick run)" if self.quick else "")
        markdown = "\n\n".join([head, *self.sections]) + "\n"
        path.write_text(markdown, encoding="utf-8")
        (self.out_dir / "report.html").write_text(markdown_to_html(markdown, self.out_dir, title=title),
                                                  encoding="utf-8")
        return path

    def log(self, line: str) -> None:
        """Append a line to ``run.log`` (dates and timings of the run, kept out of the report)."""
        with open(self.out_dir / "run.log", "a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


def _install_environment(ctx: RunContext) -> _units.Environment:
    store = _units.UnitStore(ctx.out_dir)
    if ctx.fresh:
        store.clear()
    data = _units.environment().data  # keyed by where the data came from: kept across chapters and runs
    return _units.environment(_units.Environment(out_dir=ctx.out_dir, data_dir=ctx.data_dir, download=ctx.download,
                                                 store=store, data=data))


def render_chapter(item: Chapter, ctx: RunContext, results: list[list[dict[str, Any]]],
                   configs: list[list[_units.Unit]]) -> None:
    """Write the chapter's text, tables and figures from its units' results."""
    ctx.text(f"## {item.title}")
    if item.intro is not None:
        item.intro(ctx)
    for section, section_units, section_results in zip(item.sections, configs, results):
        section.render(ctx, [(unit.config, result) for unit, result in zip(section_units, section_results)])


def run_chapter(item: Chapter, ctx: RunContext, progress: _units.Progress | None = None) -> Path:
    """Run the chapter's missing units into ``ctx.out_dir``, then render and write its report."""
    env = _install_environment(ctx)
    ctx.log(f"chapter {item.name}: start (quick={ctx.quick})")
    start = time.perf_counter()
    unit_lists = item.units(ctx.quick)
    results = [_units.run_units(section_units, progress) for section_units in unit_lists]
    render_chapter(item, ctx, results, unit_lists)
    ctx.log(f"chapter {item.name}: {len(set(env.computed))} units computed, {len(set(env.skipped))} read from "
            f"{env.store.folder}, {time.perf_counter() - start:.1f} s")
    for line in env.log:
        ctx.log(line)
    return ctx.write(f"rpnumpy report: {item.name}")


def chapter_cost(item: Chapter, ctx: RunContext) -> tuple[float, float, set[str]]:
    """``(total, done, done_keys)``: the expected cost of the chapter's distinct units, of those already stored
    in ``ctx.out_dir`` (none with ``ctx.fresh``), and the stored units' files."""
    store = _units.UnitStore(ctx.out_dir)
    costs = {str(store.path(u)): (u.cost, not ctx.fresh and store.load(u) is not None)
             for units in item.units(ctx.quick) for u in units}
    done_keys = {key for key, (_, stored) in costs.items() if stored}
    return sum(c for c, _ in costs.values()), sum(costs[k][0] for k in done_keys), done_keys


def run_chapters(names: list[str], ctx: RunContext) -> Path:
    """Run the named chapters into ``ctx.out_dir`` and write one report (all their units under ``units/``)."""
    registry = load_chapters()
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(f"unknown chapter(s) {unknown}; available: {list(registry)}")
    env = _install_environment(ctx)
    plans = [chapter_cost(registry[n], ctx) for n in names]
    progress = _units.Progress(sum(p[0] for p in plans), done=sum(p[1] for p in plans),
                               done_keys=set().union(*(p[2] for p in plans)), enabled=ctx.progress)
    try:
        unit_lists = [registry[n].units(ctx.quick) for n in names]
        results = [[_units.run_units(units, progress) for units in lists] for lists in unit_lists]
    finally:
        progress.close()
    for name, lists, chapter_results in zip(names, unit_lists, results):
        render_chapter(registry[name], ctx, chapter_results, lists)
    for line in env.log:
        ctx.log(line)
    return ctx.write()
