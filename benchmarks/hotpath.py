"""Where fad's time goes on the scalar-loop Rosenbrock gradient (for hot-path work).

Usage::

    python benchmarks/hotpath.py [--n 10000] [--mode tape] [--top 15]

Prints the forward (recording) and backward (reverse sweep) CPU times apart, per primal
op, the share of one ``fad.grad`` call spent in Python's cycle collector, then
cProfile's top functions by own time for one ``fad.grad`` call. cProfile
adds a fixed cost per Python call, so it inflates functions that are called often
and do little: read its shares as "where the calls are", and the first lines (no
profiler) for the real times.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fad
from benchmarks import workloads as W
from benchmarks.libs import Fad


def collector_share(call: Callable[[], object]) -> tuple[int, float]:
    """Collections of the cycle collector during ``call()``, and their share of its time."""
    spent = [0.0]
    started = [0.0]
    count = [0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - started[0]
            count[0] += 1

    gc.callbacks.append(callback)
    try:
        t0 = time.perf_counter()
        call()
        elapsed = time.perf_counter() - t0
    finally:
        gc.callbacks.remove(callback)
    return count[0], spent[0] / elapsed


def main(argv: list[str] | None = None) -> int:
    """Time forward and backward apart, then profile one gradient."""
    p = argparse.ArgumentParser(prog="benchmarks/hotpath.py", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000, help="Rosenbrock dimension")
    p.add_argument("--mode", default="tape", help="reverse strategy (tape, memo, naive)")
    p.add_argument("--top", type=int, default=15, help="functions to list")
    p.add_argument("--repeats", type=int, default=5)
    opts = p.parse_args(argv)
    lib = Fad()
    lib.load()
    m = lib.m
    xs = [0.5 + 0.5 * (i % 7) / 7 for i in range(opts.n)]
    ops = W.count_ops(W.rosenbrock, xs)

    def f(v: Any) -> Any:
        return W.rosenbrock(v, m)

    fwd, bwd, total = [], [], []
    for _ in range(opts.repeats):
        t0 = time.process_time()
        _, pullback = fad.vjp(f, xs, mode=opts.mode)
        t1 = time.process_time()
        pullback(1.0)
        t2 = time.process_time()
        fad.grad(f, mode=opts.mode)(xs)
        t3 = time.process_time()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
        total.append(t3 - t2)
    per = 1e6 / ops
    head = f"Rosenbrock n = {opts.n} ({ops} primal ops), fad mode={opts.mode!r}"
    print(f"{head}, medians of {opts.repeats}:")
    print(f"  forward (recording) {statistics.median(fwd) * per:.3f} µs/op")
    print(f"  backward (sweep)    {statistics.median(bwd) * per:.3f} µs/op")
    print(f"  fad.grad in all     {statistics.median(total) * per:.3f} µs/op")
    count, share = collector_share(lambda: fad.grad(f, mode=opts.mode)(xs))
    print(f"  cycle collector     {count} collections, {share:.1%} of one fad.grad")
    prof = cProfile.Profile()
    g = fad.grad(f, mode=opts.mode)
    prof.enable()
    g(xs)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(opts.top)
    text = out.getvalue()
    root = str(Path(fad.__file__).resolve().parent.parent) + "/"
    print(text.replace(root, ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
