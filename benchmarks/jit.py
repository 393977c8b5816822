"""fad.jit: run time against plain floats and the eager tape, compile cost, guards.

Run from the repository root: ``python benchmarks/jit.py`` (``--quick`` for a short
run). Every ratio of a table is measured in the same run, the calls interleaved
(``benchmarks/harness.py``), on the process's CPU time (steadier on a shared machine).

1. ``fad.jit(fad.grad(rosenbrock))`` at n = 10⁴ (the scalar loop of
   ``benchmarks/workloads.py``) against the function on plain floats, the jitted
   primal and the eager tape gradient.
2. Recording + clean-up + emission + compile, per operation, for programs of 10³ to
   10⁵ operations (the gradient of Rosenbrock at growing n): time, the log-log slope
   of time against size, and peak memory per operation (tracemalloc, a separate run).
3. ``fad.jit(fad.hessian(f))`` against ``fad.hessian(f)`` on Rosenbrock-30.
4. The cost of one guard in emitted code: a program of 2,000 additions with and
   without a comparison guarding each.
5. With jax installed: end to end (compile + N calls) against
   ``jax.jit(jax.grad(f))`` on Rosenbrock n = 1001 (8,000 primal operations).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fad
from benchmarks.harness import interleaved
from benchmarks.workloads import rosenbrock


def _time(thunks: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    first = {}
    for name, thunk in thunks.items():
        thunk()  # records a jitted function: not part of the sample size
        t0 = time.process_time()
        thunk()
        first[name] = time.process_time() - t0
    timings = interleaved(
        thunks, first, repeats=repeats, min_sample=0.05, cell_budget=10.0, clock="cpu"
    )
    return {name: t.median for name, t in timings.items()}


def run_time(n: int, repeats: int) -> None:
    xs = [0.5 + 1.0 / (i + 2) for i in range(n)]

    def f(v: list[Any]) -> Any:
        return rosenbrock(v, fad.math)

    def f_floats(v: list[float]) -> float:
        result: float = rosenbrock(v, math)
        return result

    jit_primal = fad.jit(f)
    jit_grad = fad.jit(fad.grad(f))
    assert jit_primal(xs) == f_floats(xs)
    assert jit_grad(xs) == fad.grad(f)(xs)
    eager = fad.grad(f)
    t = _time(
        {
            "floats": lambda: f_floats(xs),
            "jit primal": lambda: jit_primal(xs),
            "jit grad": lambda: jit_grad(xs),
            "eager grad": lambda: eager(xs),
        },
        repeats,
    )
    ops = jit_grad.specializations[0].ir.n_ops
    print(f"\n## Rosenbrock, n = {n}: {ops} operations in the jitted gradient\n")
    print("| call | ms | ratio |")
    print("|---|---:|---|")
    print(f"| f on floats | {t['floats'] * 1e3:.2f} | 1 |")
    ratio = t["jit primal"] / t["floats"]
    print(f"| fad.jit(f) | {t['jit primal'] * 1e3:.2f} | {ratio:.2f}x floats |")
    print(
        f"| fad.jit(fad.grad(f)) | {t['jit grad'] * 1e3:.2f} | "
        f"{t['jit grad'] / t['floats']:.2f}x floats (target <= 5), "
        f"{t['jit grad'] / t['jit primal']:.2f}x jit primal (target <= 4) |"
    )
    print(
        f"| fad.grad(f), eager tape | {t['eager grad'] * 1e3:.2f} | "
        f"{t['eager grad'] / t['jit grad']:.1f}x slower than jit (target >= 5) |"
    )
    print(f"\nper operation of the jitted gradient: {t['jit grad'] / ops * 1e9:.0f} ns")


def compile_cost(sizes: list[int]) -> None:
    print("\n## Record + clean-up + emit + compile (fad.jit(fad.grad(rosenbrock)))\n")
    print("| operations | s | µs per op | peak KB per op |")
    print("|---:|---:|---:|---:|")
    points = []
    for n in sizes:
        xs = [0.5 + 1.0 / (i + 2) for i in range(n)]

        def f(v: list[Any]) -> Any:
            return rosenbrock(v, fad.math)

        best = math.inf
        ops = 0
        for _ in range(2):
            j = fad.jit(fad.grad(f))
            t0 = time.process_time()
            j(xs)
            best = min(best, time.process_time() - t0)
            ops = j.specializations[0].ir.n_ops
        tracemalloc.start()
        fad.jit(fad.grad(f))(xs)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        points.append((ops, best))
        print(f"| {ops} | {best:.3f} | {best / ops * 1e6:.1f} | {peak / ops / 1024:.2f} |")
    (n0, t0_), (n1, t1_) = points[0], points[-1]
    slope = math.log(t1_ / t0_) / math.log(n1 / n0)
    print(f"\nlog-log slope {n0} -> {n1} operations: {slope:.2f} (target <= 1.1)")


def hessian_speed(repeats: int) -> None:
    xs = [0.5 + 1.0 / (i + 2) for i in range(30)]

    def f(v: list[Any]) -> Any:
        return rosenbrock(v, fad.math)

    jh = fad.jit(fad.hessian(f))
    eager = fad.hessian(f)
    assert jh(xs) == eager(xs)
    t = _time({"jit": lambda: jh(xs), "eager": lambda: eager(xs)}, repeats)
    print("\n## Hessian of Rosenbrock-30\n")
    print(
        f"fad.jit(fad.hessian(f)) {t['jit'] * 1e3:.3f} ms, fad.hessian(f) "
        f"{t['eager'] * 1e3:.2f} ms: {t['eager'] / t['jit']:.1f}x faster (target >= 5)"
    )


def guard_cost(repeats: int, k: int = 2000) -> None:
    def plain(x: Any) -> Any:
        y = x
        for _ in range(k):
            y = y + x
        return y

    def guarded(x: Any) -> Any:
        y = x
        for _ in range(k):
            if y > -1e300:
                y = y + x
        return y

    jp, jg = fad.jit(plain), fad.jit(guarded)
    assert jp(0.5) == jg(0.5)
    assert len(jg.specializations[0].ir.guards) == k
    t = _time({"plain": lambda: jp(0.5), "guarded": lambda: jg(0.5)}, repeats)
    per = (t["guarded"] - t["plain"]) / k
    print("\n## Guards\n")
    print(
        f"{k} additions: {t['plain'] * 1e6:.0f} µs; with a guard before each: "
        f"{t['guarded'] * 1e6:.0f} µs; one guard costs {per * 1e9:.1f} ns (target <= 15)"
    )


def jax_comparison(n: int, repeats: int) -> None:
    """End to end (compile + N calls) against ``jax.jit(jax.grad(f))``, if jax is here."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        print("\n## jax: not installed, comparison skipped")
        return
    jax.config.update("jax_enable_x64", True)
    xs = [0.5 + 1.0 / (i + 2) for i in range(n)]

    def f(v: list[Any]) -> Any:
        return rosenbrock(v, fad.math)

    def f_jax(v: list[Any]) -> Any:
        return rosenbrock(v, jnp)

    t0 = time.perf_counter()
    fj = fad.jit(fad.grad(f))
    fj(xs)
    fad_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    jj = jax.jit(jax.grad(f_jax))
    out = jj(xs)
    jax.block_until_ready(out)
    jax_compile = time.perf_counter() - t0
    assert max(abs(float(a) - b) for a, b in zip(out, fj(xs), strict=True)) < 1e-9

    def jax_call() -> None:
        jax.block_until_ready(jj(xs))

    t = _time({"fad": lambda: fj(xs), "jax": jax_call}, repeats)
    ops = fj.specializations[0].ir.n_ops
    print(f"\n## Against jax.jit(jax.grad(f)), Rosenbrock n = {n} ({8 * (n - 1)} primal ops)\n")
    print("| | compile + first call, s | per call, ms |")
    print("|---|---:|---:|")
    print(f"| fad.jit(fad.grad(f)) ({ops} ops) | {fad_compile:.2f} | {t['fad'] * 1e3:.3f} |")
    print(f"| jax.jit(jax.grad(f)) | {jax_compile:.2f} | {t['jax'] * 1e3:.3f} |")
    fad_total = [fad_compile + k * t["fad"] for k in (1, 10**4)]
    jax_total = [jax_compile + k * t["jax"] for k in (1, 10**4)]
    print(
        f"\nend to end, N = 1: fad {fad_total[0]:.2f} s, jax {jax_total[0]:.2f} s; "
        f"N = 10^4: fad {fad_total[1]:.2f} s, jax {jax_total[1]:.2f} s"
    )
    if t["fad"] > t["jax"] and fad_compile < jax_compile:
        crossover = (jax_compile - fad_compile) / (t["fad"] - t["jax"])
        print(f"crossover: jax is ahead from N = {crossover:.0f} calls on")
    elif fad_compile < jax_compile:
        print("fad is ahead for every N")
    else:
        print("jax is ahead for every N")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
    parser.add_argument("--no-jax", action="store_true", help="skip the jax comparison")
    parser.add_argument(
        "--large", action="store_true", help="also compile 10^6 operations (~15 s, 1 GB)"
    )
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    run_time(10**3 if args.quick else 10**4, repeats)
    sizes = [91, 910] if args.quick else [91, 910, 9091]
    compile_cost([*sizes, 90910] if args.large else sizes)
    hessian_speed(repeats)
    guard_cost(repeats)
    if not args.no_jax:
        jax_comparison(1001, repeats)


if __name__ == "__main__":
    main()
