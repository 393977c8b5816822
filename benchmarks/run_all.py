"""Run every benchmark suite of fad, one after the other (``python -m fad bench``).

Usage::

    python benchmarks/run_all.py [--quick] [--suite NAME ...] [-- ARGS FOR compare]

``--quick`` is passed to every suite (each keeps to about a minute with it);
``--suite`` picks suites (``compare``, ``strategies``, ``taylor``; all by default);
arguments after ``--`` go to ``compare`` only (``--only``, ``--write-docs``, ...).
Each suite is a module of this folder with ``main(argv: list[str]) -> int``; one that
is missing is reported in a line and skipped.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SUITES = ("compare", "strategies", "taylor")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen suites; return 0 when every suite that ran returned 0."""
    args = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, extra = args[:cut], args[cut + 1 :]
    parser = argparse.ArgumentParser(
        prog="fad bench",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="compare's own options: python benchmarks/compare.py --help",
    )
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute each)")
    parser.add_argument(
        "--suite", action="append", choices=SUITES, help="suite to run (repeatable; default all)"
    )
    opts = parser.parse_args(args)
    status = 0
    for name in opts.suite or SUITES:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ImportError as exc:
            print(
                f"[fad bench] suite {name!r} skipped: benchmarks/{name}.py does not import ({exc})."
            )
            continue
        suite_argv = (["--quick"] if opts.quick else []) + (extra if name == "compare" else [])
        print(f"\n## benchmarks/{name}.py {' '.join(suite_argv)}\n", flush=True)
        code = module.main(suite_argv)
        status = status or int(code or 0)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
