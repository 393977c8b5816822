"""Instructions per primal op of a tape gradient, counted by valgrind: a noise-free figure.

Usage::

    python benchmarks/instructions.py [--n 10000] [--mode tape] [--workload rosenbrock]

Times on a shared machine move by ±30 % from run to run; the number of instructions
the CPU executes does not. This script runs the workload's gradient under
``valgrind --tool=callgrind`` in a child process, twice (0 and 2 gradient calls
after the same warm-up), and divides the difference by the primal op count, so the
cost of starting Python and importing fad cancels out. It is the figure quoted
behind the hot-path choices (docs/benchmarks.md). It needs valgrind on ``PATH``
(``apt install valgrind``) and says so in one line when it is missing. The counts
say nothing of cache misses: confirm a change with ``benchmarks/compare.py`` too.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import workloads as W

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import sys
sys.path.insert(0, {root!r})
import fad
from benchmarks import workloads as W
xs = [0.5 + 0.5 * (i % 7) / 7 for i in range({n})]
f = lambda v: W.{workload}(v, fad.math)
g = fad.grad(f, mode={mode!r})
g(xs)
for _ in range({calls}):
    g(xs)
"""


def callgrind(code: str) -> int:
    """Instructions executed by a child Python running ``code`` (callgrind's total)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/callgrind.out",
                sys.executable,
                "-c",
                code,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    found = re.search(r"Collected\s*:\s*(\d+)", out.stderr) or re.search(
        r"I\s+refs:\s*([\d,]+)", out.stderr
    )
    if found is None:
        msg = f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}"
        raise RuntimeError(msg)
    return int(found.group(1).replace(",", ""))


def count(n: int, mode: str, workload: str, calls: int) -> int:
    """Instructions executed by the child process of the workload's gradient."""
    return callgrind(CHILD.format(root=str(ROOT), n=n, mode=mode, workload=workload, calls=calls))


def main(argv: list[str] | None = None) -> int:
    """Print instructions per primal op of one gradient."""
    p = argparse.ArgumentParser(prog="benchmarks/instructions.py", description=__doc__)
    p.add_argument("--n", type=int, default=10_000, help="dimension (Rosenbrock)")
    p.add_argument("--mode", default="tape", help="reverse strategy (tape, memo, naive)")
    p.add_argument("--workload", default="rosenbrock", choices=["rosenbrock"])
    opts = p.parse_args(sys.argv[1:] if argv is None else argv)
    if shutil.which("valgrind") is None:
        print("benchmarks/instructions.py: skipped, valgrind is not installed")
        return 0
    xs = [0.5 + 0.5 * (i % 7) / 7 for i in range(opts.n)]
    ops = W.count_ops(W.rosenbrock, xs)
    base = count(opts.n, opts.mode, opts.workload, 0)
    two = count(opts.n, opts.mode, opts.workload, 2)
    per_op = (two - base) / 2 / ops
    print(
        f"{opts.workload} n = {opts.n} ({ops} primal ops), fad.grad mode={opts.mode!r}: "
        f"{per_op:,.0f} instructions per primal op (callgrind)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
