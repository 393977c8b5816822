"""Cost of a fad.math function on plain floats, against its twin in Python's math module.

For every function of fad.math that has a twin in :mod:`math` (on this Python), times
``math.NAME(*args)`` and ``fad.math.NAME(*args)`` written as in user code (one module
attribute each), and the generic rule that tracers take (the primitive applied, what
every call paid before the float fast path), interleaved round by round so that a
change of machine load hits all of them alike. The figure is the fastest round per
call, less the cost of an empty loop (its fastest round); the ratio is fad.math over
math. Target of issue 11: at most 1.5; the last line gives the cost of the cheapest
Python function that calls math.sin, a floor for any wrapper. Run from the root::

    python benchmarks/mathcost.py [--rounds 15] [--number 20000]
    python benchmarks/mathcost.py --instructions   # valgrind's counts instead of times
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fad.math as fm

# name -> arguments (a point of the function's domain, floats)
UNARY = [
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "atanh",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "cbrt",
    "fabs",
    "erf",
    "erfc",
    "gamma",
    "lgamma",
    "degrees",
    "radians",
    "floor",
    "ceil",
    "trunc",
    "isfinite",
    "isinf",
    "isnan",
]
POINTS: dict[str, tuple[Any, ...]] = {
    **dict.fromkeys(UNARY, (0.5,)),
    "acosh": (1.5,),
    **dict.fromkeys(("atan2", "pow", "copysign", "fmod", "remainder", "hypot"), (0.5, 1.5)),
    "ldexp": (0.5, 3),
    "fma": (0.5, 1.5, 2.5),
    "isclose": (0.5, 0.5),
}


def _cheapest_wrapper(x: float) -> float:
    """The least a Python function standing in for math.sin can do: call it."""
    return math.sin(x)


def per_call(stmt: str, namespace: dict[str, Any], number: int) -> float:
    """CPU seconds per execution of ``stmt`` (process time: steadier on a shared machine)."""
    timer = timeit.Timer(stmt, timer=time.process_time, globals=namespace)
    return timer.timeit(number) / number


Row = tuple[str, float, float, float]


def measure(rounds: int, number: int) -> tuple[list[Row], float, float]:
    """Per function: (name, math, fad.math, generic) seconds per call; and the floor."""
    names = [n for n in POINTS if hasattr(math, n)]
    rows: dict[str, list[list[float]]] = {n: [[], [], []] for n in names}
    floor: list[float] = []
    base: list[float] = []
    empties: list[float] = []
    for _ in range(rounds):
        empties.append(per_call("pass", {}, number))
        for name in names:
            args = POINTS[name]
            fun = getattr(fm, name)
            generic: Callable[..., Any] = getattr(fun, "__wrapped__", fun)
            ns = {"math": math, "fm": fm, "generic": generic, "a": args}
            call = ", ".join(f"a[{i}]" for i in range(len(args)))
            # the arguments are unpacked alike in the three statements
            for k, stmt in enumerate(
                (f"math.{name}({call})", f"fm.{name}({call})", f"generic({call})")
            ):
                rows[name][k].append(per_call(stmt, ns, number))
        ns = {"math": math, "wrapper": _cheapest_wrapper, "x": 0.5}
        floor.append(per_call("wrapper(x)", ns, number))
        base.append(per_call("math.sin(x)", ns, number))
    empty = min(empties)  # the loop's own cost, least disturbed of the rounds
    table = [(n, min(r[0]) - empty, min(r[1]) - empty, min(r[2]) - empty) for n, r in rows.items()]
    return table, min(base) - empty, min(floor) - empty


_CHILD = """
import math, sys
sys.path.insert(0, {root!r})
import fad.math as fm
def wrapper(x):
    return math.sin(x)
x = 0.5
for _ in range({n}):
    {stmt}
"""


def instructions(stmt: str, n: int = 50_000) -> float:
    """Instructions per execution of ``stmt`` under callgrind (runs of n and 2n, less the
    same loop of ``pass``): a figure the machine's load does not move."""
    from benchmarks.instructions import callgrind

    root = str(Path(__file__).resolve().parent.parent)

    def per(s: str) -> float:
        runs = [callgrind(_CHILD.format(root=root, n=k, stmt=s)) for k in (n, 2 * n)]
        return (runs[1] - runs[0]) / n

    return per(stmt) - per("pass")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions (valgrind) for sin, exp, atan2 and the cheapest wrapper",
    )
    opts = parser.parse_args(argv)
    if opts.instructions:
        print("| call | instructions | ratio to math |")
        print("|---|---|---|")
        for name, args in (("sin", "x"), ("exp", "x"), ("atan2", "x, x")):
            m = instructions(f"math.{name}({args})")
            f = instructions(f"fm.{name}({args})")
            print(f"| math.{name} / fm.{name} | {m:.0f} / {f:.0f} | {f / m:.2f} |")
        m, w = instructions("math.sin(x)"), instructions("wrapper(x)")
        print(f"| `def f(x): return math.sin(x)` | {w:.0f} | {w / m:.2f} |")
        return 0
    table, sin, wrapper = measure(opts.rounds, opts.number)
    rounds = f"fastest of {opts.rounds} rounds of {opts.number} calls"
    print(f"Python {sys.version.split()[0]}; {rounds}, CPU ns per call")
    print()
    print("| function | math | fad.math | ratio | generic rule (bind) | ratio |")
    print("|---|---|---|---|---|---|")
    for name, m, f, g in table:
        cells = f"{m * 1e9:.0f} | {f * 1e9:.0f} | {f / m:.2f} | {g * 1e9:.0f} | {g / m:.1f}"
        print(f"| {name} | {cells} |")
    ratios = [f / m for _, m, f, _ in table]
    print()
    print(
        f"fad.math / math: median {statistics.median(ratios):.2f}, "
        f"max {max(ratios):.2f} ({table[ratios.index(max(ratios))][0]})"
    )
    print(
        f"The cheapest Python wrapper, `def f(x): return math.sin(x)`: {wrapper * 1e9:.0f} ns, "
        f"{wrapper / sin:.2f} x math.sin ({sin * 1e9:.0f} ns)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
