"""Command line: ``python -m rpnumpy [demo|reproduce NAME|all|chapters|gradcheck]``.

``demo`` (the default, behind ``make demo``) is a guided tour of every part of the project in a
few minutes, at reduced budgets, with a summary table; ``reproduce NAME`` runs one chapter at full
size and ``reproduce all`` every chapter (resumable: finished units of work are stored in the
report folder and skipped by a rerun; ``--fresh`` starts over); ``chapters`` lists them;
``gradcheck`` writes a gradient-check exchange file for every registered layer case, or
compares files produced elsewhere with ``--compare`` (see :mod:`rpnumpy.testing.exchange`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .datasets import DatasetError
from .experiments.report import RunContext, load_chapters

if TYPE_CHECKING:
    import numpy as np

    from .layers.base import Layer
    from .testing.cases import LayerCase


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: reports/<command>)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $RPNUMPY_DATA, then the cache)")
    parser.add_argument("--quick", action="store_true", help="small data and one epoch: a smoke run")
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    parser.add_argument("--no-download", action="store_true", help="never download data sets")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rpnumpy", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="a guided tour of every part in a few minutes, reduced budgets (default)")
    _common(demo)
    demo.add_argument("--seed", type=int, default=0, help="random seed of the tour (default 0)")
    reproduce = sub.add_parser(
        "reproduce", help="run one chapter, or 'all', at full size (resumable)",
        description="Run a chapter (or 'all' of them, each into reports/<chapter>) at full size. Every finished "
        "unit of work is stored under <out>/units/ and skipped by a rerun; the report is rendered from the stored "
        "units. On a terminal one progress bar shows the whole run; otherwise a status line every 30 s.")
    reproduce.add_argument("name", help="chapter name (see 'chapters'), or 'all'")
    _common(reproduce)
    reproduce.add_argument("--fresh", action="store_true", help="delete the stored units and start over")
    reproduce.add_argument("--status-interval", type=float, default=30.0,
                           help="seconds between status lines when the output is not a terminal (default 30)")
    sub.add_parser("chapters", help="list the chapters")
    _gradcheck_parser(sub)
    return parser


def _gradcheck_parser(sub: argparse._SubParsersAction) -> None:
    from .testing.exchange import DEFAULT_TOLERANCE

    gradcheck = sub.add_parser(
        "gradcheck",
        help="write gradient-check exchange files (.npz) for every layer case, or compare files made elsewhere",
        description="Without --compare: write one exchange file per registered layer case into --out and check "
        "each against central differences. With --compare: recompute the given file(s) with rpnumpy and print "
        "a relative-error table per array and file; the exit status is 0 if every file was compared and agrees, "
        "1 if a file mismatched (an array differs by more than --tolerance, or is missing), 2 if a file could "
        "not be used (unreadable, malformed, not runnable, nothing to compare). "
        "The file format is documented in rpnumpy.testing.exchange.",
    )
    gradcheck.add_argument("--out", type=Path, default=Path("reports") / "gradcheck",
                           help="folder for the files (default: reports/gradcheck)")
    gradcheck.add_argument("--seed", type=int, default=0, help="base random seed of the cases (default 0)")
    gradcheck.add_argument("--case", action="append", dest="cases", metavar="NAME",
                           help="only this case (repeatable; see --list)")
    gradcheck.add_argument("--list", action="store_true", help="list the registered cases and exit")
    gradcheck.add_argument("--compare", type=Path, metavar="FILE_OR_DIR",
                           help="compare an exchange file, or every .npz file of a folder, with rpnumpy")
    gradcheck.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                           help=f"largest accepted relative error per array (default {DEFAULT_TOLERANCE:g})")


def _run_gradcheck(args: argparse.Namespace) -> int:
    """The ``gradcheck`` command: 0 if everything agrees, 1 on a mismatch, 2 on unusable input."""
    from .gradcheck import PASS_THRESHOLD
    from .testing.cases import LAYER_CASES, check_case_gradients, get_case, registry_summary
    from .testing.exchange import write_registered_cases

    if args.list:
        for case in LAYER_CASES:
            print(f"{case.name:<62} {case.description}")
        print(registry_summary())
        return 0
    if args.compare is not None:
        return _compare(args.compare, args.tolerance)
    # The files are only worth sharing if rpnumpy's own gradients are right: each case is checked by central
    # differences on exactly the layer, input and upstream gradient its file holds.
    failures = 0

    def check(case: LayerCase, layer: Layer, x: np.ndarray, dy: np.ndarray, path: Path) -> None:
        nonlocal failures
        report = check_case_gradients(case, layer, x, dy=dy)
        failures += not report.passed()
        verdict = "pass" if report.passed() else "FAIL"
        print(f"{case.name:<62} {report.max_relative_error:>19.1e} {verdict:>6}  {path}")

    try:
        for name in args.cases or []:
            get_case(name)  # an unknown name: exit status 2 before anything is written
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{'case':<62} {'central-difference check':>26}  file")
    written = write_registered_cases(args.out, seed=args.seed, names=args.cases, on_written=check)
    print(f"{len(written)} exchange files written to {args.out} (format: rpnumpy.testing.exchange); "
          f"{failures} central-difference checks above {PASS_THRESHOLD:g}")
    return 1 if failures else 0


def _compare(path: Path, tolerance: float) -> int:
    """``gradcheck --compare``: every file reported; 0 if all agree, 1 if any mismatched, 2 if any was unusable."""
    from .testing.exchange import compare_path, printable

    try:
        results = compare_path(path, tolerance=tolerance)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {printable(exc, 2000)}", file=sys.stderr)
        return 2
    for result in results:
        print(result, end="\n\n")
    by_status = {status: [printable(r.name, 80) for r in results if r.status == status]
                 for status in ("mismatch", "unusable")}
    for result in results:
        if result.status == "unusable":
            print(f"error: {printable(result.path)}: {printable('; '.join(result.problems), 2000)}", file=sys.stderr)
    agree = len(results) - len(by_status["mismatch"]) - len(by_status["unusable"])
    print(f"{agree} of {len(results)} files agree with rpnumpy (tolerance {tolerance:g})"
          + "".join(f"; {label}: {', '.join(names)}" for label, names in
                    (("mismatches", by_status["mismatch"]), ("unusable", by_status["unusable"])) if names))
    return 2 if by_status["unusable"] else 1 if by_status["mismatch"] else 0


def _run_demo(args: argparse.Namespace) -> int:
    from .experiments.demo import run_demo

    ctx = RunContext(args.out or Path("reports") / "demo", data_dir=args.data_dir, quick=args.quick, seed=args.seed,
                     progress=not args.no_progress, download=not args.no_download)
    run_demo(ctx)
    return 0


def _run_reproduce(args: argparse.Namespace, registry: dict) -> int:
    """``reproduce NAME|all``: one progress display over every chapter's units; each chapter its own folder."""
    from .experiments.report import chapter_cost, run_chapter
    from .experiments.units import Progress

    names = list(registry) if args.name == "all" else [args.name]
    if args.name == "all":
        root = args.out or Path("reports")
        outs = {name: root / name for name in names}
    else:
        outs = {args.name: args.out or Path("reports") / args.name}
    contexts = {name: RunContext(outs[name], data_dir=args.data_dir, quick=args.quick, progress=not args.no_progress,
                                 download=not args.no_download, fresh=args.fresh) for name in names}
    plans = [chapter_cost(registry[name], contexts[name]) for name in names]  # (total, done, stored units)
    progress = Progress(sum(p[0] for p in plans), done=sum(p[1] for p in plans),
                        done_keys=set().union(*(p[2] for p in plans)), enabled=not args.no_progress,
                        interval=args.status_interval)
    try:
        for name in names:
            path = run_chapter(registry[name], contexts[name], progress)
            print(f"report written to {path}", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: the finished units are stored; rerun the same command to resume", file=sys.stderr)
        return 130
    finally:
        progress.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["demo", *argv]
    args = build_parser().parse_args(argv)
    if args.command == "gradcheck":
        return _run_gradcheck(args)
    registry = load_chapters()
    if args.command == "chapters":
        for name, item in registry.items():
            print(f"{name:<14} {item.title}")
        return 0
    if args.command == "reproduce" and args.name != "all" and args.name not in registry:
        print(f"error: unknown chapter {args.name!r}; available: {', '.join(registry)}, all", file=sys.stderr)
        return 2
    try:
        return _run_demo(args) if args.command == "demo" else _run_reproduce(args, registry)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
