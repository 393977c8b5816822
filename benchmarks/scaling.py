"""Costs that must grow like n: variadic primitives and ``np.float64`` values.

Usage::

    python benchmarks/scaling.py [--sizes 100 1000 10000] [--repeats 3]

For each workload, the time of one ``fad.grad`` at each n, the slope of log time
against log n between the smallest and the largest n (1 is linear; the target is
at most 1.1), and the ratio at the largest n to a reference computed in the same
run (target: at most 2):

- ``sumprod(v, v)``, ``hypot(*v)`` and ``dist(v, w)`` against the same sum written
  as a Python loop of ``+`` and ``*`` (no variadic primitive);
- ``np.float64`` leaves (``list(np_array)``) and an ``np.float64`` constant in a
  loop, against the same code on floats.

Best of ``--repeats`` runs, process time. numpy rows are skipped without numpy.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make fad importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fad
import fad.math as fm


def best(fun: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fun()
        times.append(time.process_time() - t0)
    return min(times)


def loop_sumprod(v: list[Any], w: list[Any]) -> Any:
    s: Any = 0.0
    for a, b in zip(v, w, strict=True):
        s = s + a * b
    return s


def loop_hypot(v: list[Any]) -> Any:
    return fm.sqrt(loop_sumprod(v, v))


def loop_dist(v: list[Any], w: list[Any]) -> Any:
    d = [a - b for a, b in zip(v, w, strict=True)]
    return fm.sqrt(loop_sumprod(d, d))


def scaled_sum(v: list[Any], c: Any) -> Any:
    s: Any = 0.0
    for a in v:
        s = s + c * a * a
    return s


Workload = tuple[str, Callable[[int], Callable[[], Any]], Callable[[int], Callable[[], Any]]]


def point(n: int) -> list[float]:
    return [0.5 + (i % 7) / 7 for i in range(n)]


def workloads() -> list[Workload]:
    rows: list[Workload] = [
        (
            "sumprod(v, v) / loop",
            lambda n: lambda: fad.grad(lambda v: fm.sumprod(v, v))(point(n)),
            lambda n: lambda: fad.grad(lambda v: loop_sumprod(v, v))(point(n)),
        ),
        (
            "hypot(*v) / loop",
            lambda n: lambda: fad.grad(lambda v: fm.hypot(*v))(point(n)),
            lambda n: lambda: fad.grad(loop_hypot)(point(n)),
        ),
        (
            "dist(v, w) / loop",
            lambda n: lambda: fad.grad(lambda v: fm.dist(v, v[::-1]))(point(n)),
            lambda n: lambda: fad.grad(lambda v: loop_dist(v, v[::-1]))(point(n)),
        ),
    ]
    try:
        import numpy as np
    except ImportError:
        return rows
    rows += [
        (
            "np.float64 leaves / floats",
            lambda n: lambda: fad.grad(lambda v: scaled_sum(v, 2.0))(list(np.array(point(n)))),
            lambda n: lambda: fad.grad(lambda v: scaled_sum(v, 2.0))(point(n)),
        ),
        (
            "np.float64 constant / float",
            lambda n: lambda: fad.grad(lambda v: scaled_sum(v, np.float64(2.0)))(point(n)),
            lambda n: lambda: fad.grad(lambda v: scaled_sum(v, 2.0))(point(n)),
        ),
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print one row per workload: times, log-log slope, ratio to the reference."""
    p = argparse.ArgumentParser(prog="benchmarks/scaling.py", description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    p.add_argument("--repeats", type=int, default=3)
    opts = p.parse_args(sys.argv[1:] if argv is None else argv)
    sizes = sorted(opts.sizes)
    head = " | ".join(f"n = {n:,}" for n in sizes)
    print(f"| workload | {head} | slope | ref. slope | ratio at n = {sizes[-1]:,} |")
    print("|:--|" + "--:|" * (len(sizes) + 3))
    for name, make, ref in workloads():
        times = [best(make(n), opts.repeats) for n in sizes]
        refs = [best(ref(n), opts.repeats) for n in sizes]
        span = math.log(sizes[-1] / sizes[0])
        slope = math.log(times[-1] / times[0]) / span
        ref_slope = math.log(refs[-1] / refs[0]) / span
        cells = " | ".join(f"{t * 1e3:.2f} ms" for t in times)
        ratio = times[-1] / refs[-1]
        print(f"| {name} | {cells} | {slope:.2f} | {ref_slope:.2f} | {ratio:.2f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
