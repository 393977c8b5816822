"""``python -m fad``: the demo, the benchmark suite, and a graph picture.

Run ``python -m fad --help`` for the commands. With no command it runs the demo.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from fad import _demo

__all__ = ["find_benchmarks", "main"]

_DESCRIPTION = """\
fad: dual and codual numbers, automatic differentiation with a JAX-style API.

With no command, runs the demo (a few seconds): the duality on one number, Newton's
square root differentiated by every tracer and reverse strategy, a grad/jvp/vjp/hessian
session, and the growth of the three reverse strategies' cost."""

_EPILOG = """\
examples:
  python -m fad                      the demo
  python -m fad bench --help         the benchmark suite's own options
  python -m fad viz --steps 3        DOT text of Newton's square root (3 steps)
  python -m fad viz -o newton.svg    ... rendered with Graphviz, if installed

docs: docs/ in the repository (mkdocs serve)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fad",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fad {_demo._version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="run the demo (the default)")
    sub.add_parser(
        "bench",
        help="run the benchmark suite (benchmarks/run_all.py in the repository); "
        "arguments after 'bench' go to the suite",
        add_help=False,
    )
    viz = sub.add_parser(
        "viz",
        help="print the reverse-mode graph of Newton's square root as Graphviz DOT",
    )
    viz.add_argument("--steps", type=int, default=2, help="Newton steps (default 2)")
    viz.add_argument("--at", type=float, default=2.0, help="the point a (default 2.0)")
    viz.add_argument(
        "-o", "--output", help="render to this file (.svg, .png, .pdf) with Graphviz's dot"
    )
    return parser


def find_benchmarks(cwd: Path | None = None, package_parent: Path | None = None) -> Path | None:
    """``benchmarks/run_all.py`` of fad's repository, or ``None``.

    The suite lives in the repository, not in the installed package. It is looked
    for beside the package first (an editable install from a checkout), then in the
    current directory and its parents (a checkout with fad installed otherwise).
    """
    here = (cwd or Path.cwd()).resolve()
    beside = package_parent or Path(__file__).resolve().parent.parent
    for d in (beside, here, *here.parents):
        path = d / "benchmarks" / "run_all.py"
        if path.is_file():
            return path
    return None


def _bench(argv: Sequence[str]) -> int:
    path = find_benchmarks()
    if path is None:
        print(
            "python -m fad bench: the benchmark suite (benchmarks/run_all.py) was not found.\n"
            "It lives in fad's source repository, not in the installed package: run this\n"
            'command from a checkout of the repository (pip install -e ".[bench]" there\n'
            "installs the libraries it compares fad with).",
            file=sys.stderr,
        )
        return 2
    # benchmarks/ is a package of the repository: import it from the repository root
    sys.path.insert(0, str(path.parent.parent))
    module = importlib.import_module("benchmarks.run_all")
    result = module.main(list(argv))
    return int(result or 0)


def _viz(steps: int, at: float, output: str | None) -> int:
    from fad import viz

    dot = viz.to_dot(lambda a: _demo.newton_sqrt(a, steps), at)
    if output is None:
        print(dot)
        return 0
    if viz.render(dot, output):
        print(f"wrote {output}")
        return 0
    print(dot)
    print(
        f"python -m fad viz: Graphviz's dot program is not installed, so {output} was not "
        "written; the DOT text is above.",
        file=sys.stderr,
    )
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m fad [demo | bench ... | viz ...]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "bench":  # everything after "bench" belongs to the suite
        return _bench(args[1:])
    ns = _parser().parse_args(args)
    if ns.command == "viz":
        return _viz(ns.steps, ns.at, ns.output)
    return _demo.main()


if __name__ == "__main__":
    sys.exit(main())
