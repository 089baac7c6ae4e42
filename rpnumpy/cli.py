"""Command line: ``python -m rpnumpy [demo|reproduce NAME|chapters]``.

``demo`` (the default, behind ``make demo``) runs every chapter of the report;
``reproduce NAME`` runs one chapter; ``chapters`` lists them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .datasets import DatasetError
from .report import RunContext, load_chapters, run_chapters


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: reports/<command>)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $RPNUMPY_DATA, then the cache)")
    parser.add_argument("--quick", action="store_true", help="small data and one epoch: a smoke run")
    parser.add_argument("--seed", type=int, default=0, help="base random seed (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--no-download", action="store_true", help="never download data sets")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rpnumpy", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="run every chapter and write the report (default)")
    _common(demo)
    reproduce = sub.add_parser("reproduce", help="run one chapter")
    reproduce.add_argument("name", help="chapter name (see 'chapters')")
    _common(reproduce)
    sub.add_parser("chapters", help="list the chapters")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["demo", *argv]
    args = build_parser().parse_args(argv)
    registry = load_chapters()
    if args.command == "chapters":
        for name, item in registry.items():
            print(f"{name:<14} {item.title}")
        return 0
    names = list(registry) if args.command == "demo" else [args.name]
    if args.command == "reproduce" and args.name not in registry:
        print(f"error: unknown chapter {args.name!r}; available: {', '.join(registry)}", file=sys.stderr)
        return 2
    out = args.out or Path("reports") / (args.command if args.command == "demo" else args.name)
    ctx = RunContext(out, data_dir=args.data_dir, quick=args.quick, seed=args.seed, progress=not args.no_progress,
                     download=not args.no_download)
    try:
        path = run_chapters(names, ctx)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"report written to {path}")
    return 0
