"""Command line: ``python -m rpnumpy.course student|book|figures [--notebooks DIR] [--out DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rpnumpy.course",
        description="Build the course's student edition, its rendered book or the README's figures.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, default, text in [
        ("student", "build/student", "the notebooks with every solution replaced by a stub, outputs cleared"),
        ("book", "build/book", "an index page and one HTML page per notebook, math typeset offline"),
        ("figures", "docs/figures", "the figures of the cells tagged figure:<name>, as <name>.png"),
    ]:
        command = sub.add_parser(name, help=text, description=f"Write {text}.")
        command.add_argument("--notebooks", type=Path, default=Path("notebooks"),
                             help="folder of the course notebooks (default: notebooks)")
        command.add_argument("--out", type=Path, default=Path(default), help=f"output folder (default: {default})")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .book import build_book
    from .figures import export_figures
    from .student import SolutionCellError, build_student

    build = {"student": build_student, "book": build_book, "figures": export_figures}[args.command]
    try:
        written = build(args.notebooks, args.out)
    except (SolutionCellError, FileNotFoundError, ModuleNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} files to {args.out}: " + ", ".join(path.name for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
