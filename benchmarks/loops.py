"""Checkpointed loops and implicit roots against the plain tape, from one run.

Usage::

    python benchmarks/loops.py [--steps 1000000] [--snapshots 0]

Part 1, a scalar time stepper ``x ← x + h·(p·sin x − x)``, ``h = 1/T``, run
``T = --steps`` times,
differentiated with respect to ``(x0, p)`` by ``mode="tape"``:

- ``plain tape``: a Python ``for`` loop over the tracers (every step on the tape);
- ``fori_loop(checkpoint="binomial")`` (default snapshots ⌈√T⌉, and
  ``--snapshots s`` when given) and ``fori_loop(checkpoint=k)``.

For each: the wall time of one gradient (the median of ``--repeats`` runs, the
variants interleaved), the peak of memory allocated during one gradient (tracemalloc,
in a separate run, since tracing slows Python down), and the largest relative
difference of the gradient from the plain tape's. The table prints each ratio to the
plain tape.

Part 2, ``fad.custom_root`` on ``x² − a`` solved by 50 Newton iterations: the cost of
the derivative (``fad.grad`` of a ``custom_root`` whose solve returns the root found
before, so only the transform and the implicit derivative are timed) in units of one
evaluation of ``f`` and its derivative at the root (``fad.value_and_grad`` and
``fad.jvp`` of ``f``), beside the gradient through the 50 unrolled iterations; and the
errors of the first and second derivatives against ``1/(2√a)`` and ``−1/(4 a^{3/2})``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import math
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``fad`` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fad

H = [1e-6]  # the time step: 1/steps, so that the trajectory spans t in [0, 1]


def step(x: Any, p: Any) -> Any:
    return x + H[0] * (p * fad.math.sin(x) - x)


def plain(steps: int) -> Callable[[float, float], Any]:
    def f(x: Any, p: Any) -> Any:
        for _ in range(steps):
            x = step(x, p)
        return x

    return f


def looped(steps: int, **kw: Any) -> Callable[[float, float], Any]:
    def f(x: Any, p: Any) -> Any:
        return fad.fori_loop(0, steps, lambda i, c: (step(c[0], c[1]), c[1]), (x, p), **kw)[0]

    return f


def _time(fun: Callable[[], Any]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fun()
    return time.perf_counter() - t0


def _peak(fun: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fun()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def loops_table(steps: int, snapshots: int, repeats: int) -> None:
    H[0] = 1.0 / steps
    variants: dict[str, Callable[[float, float], Any]] = {"plain tape": plain(steps)}
    variants['fori_loop(checkpoint="binomial")'] = looped(steps, checkpoint="binomial")
    if snapshots:
        variants[f'fori_loop(checkpoint="binomial", snapshots={snapshots})'] = looped(
            steps, checkpoint="binomial", snapshots=snapshots
        )
    k = max(1, math.isqrt(steps))
    variants[f"fori_loop(checkpoint={k})"] = looped(steps, checkpoint=k)
    grads = {name: fad.grad(f, argnums=(0, 1)) for name, f in variants.items()}
    point = (0.5, 1.5)
    results = {name: g(*point) for name, g in grads.items()}  # warm-up and answers
    times: dict[str, list[float]] = {name: [] for name in grads}
    for r in range(repeats):
        names = list(grads)
        names = names[r % len(names) :] + names[: r % len(names)]
        for name in names:
            g = grads[name]
            times[name].append(_time(functools.partial(g, *point)))
    peaks = {name: _peak(functools.partial(g, *point)) for name, g in grads.items()}
    ref = results["plain tape"]
    t_ref = statistics.median(times["plain tape"])
    print(f"time stepper, {steps} steps, gradient wrt (x0, p) = {ref}")
    head = ["time s", "time/tape", "peak MB", "mem/tape", "rel diff"]
    print(f"{'variant':55} " + " ".join(f"{h:>9}" for h in head))
    for name in grads:
        t = statistics.median(times[name])
        diff = max(abs(a - b) / abs(b) for a, b in zip(results[name], ref, strict=True))
        print(
            f"{name:55} {t:9.2f} {t / t_ref:9.2f} {peaks[name] / 1e6:9.2f} "
            f"{peaks[name] / peaks['plain tape']:9.4f} {diff:9.1e}"
        )


def newton(f: Callable[[Any], Any], x: Any) -> Any:
    for _ in range(50):
        x = x - f(x) / fad.derivative(f)(x)
    return x


def root_sqrt(a: Any) -> Any:
    return fad.custom_root(lambda x: x * x - a, 1.0, newton, lambda g, y: y / g(1.0))


def unrolled_sqrt(a: Any) -> Any:
    return newton(lambda x: x * x - a, 1.0)


def _best(fun: Callable[[], Any], n: int) -> float:
    best = math.inf
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(n):
            fun()
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def root_table() -> None:
    a = 2.0
    root = root_sqrt(a)

    def derivative_only(b: Any) -> Any:  # custom_root with the solve already done
        return fad.custom_root(lambda x: x * x - b, 1.0, lambda f, x: root, lambda g, y: y / g(1.0))

    def f(x: Any, b: Any) -> Any:
        return x * x - b

    n = 300
    t = {
        "solve alone": _best(lambda: root_sqrt(a), n // 10),
        "grad through custom_root": _best(lambda: fad.grad(root_sqrt)(a), n // 10),
        "grad through the unrolled iterations": _best(lambda: fad.grad(unrolled_sqrt)(a), n // 10),
        "grad of custom_root, solve done (derivative cost)": _best(
            lambda: fad.grad(derivative_only)(a), n
        ),
        "value_and_grad of f at the root": _best(lambda: fad.value_and_grad(f, (0, 1))(root, a), n),
        "jvp of f at the root": _best(lambda: fad.jvp(f, (root, a), (1.0, 1.0)), n),
    }
    d1 = fad.grad(root_sqrt)(a)
    d2 = fad.grad(fad.grad(root_sqrt))(a)
    d2_taylor = fad.derivative(root_sqrt, 2)(a)
    exact1 = 0.5 / math.sqrt(a)
    exact2 = -0.25 * a**-1.5
    print()
    print("custom_root: sqrt(a) by 50 Newton iterations, a = 2 (best of 7 batches)")
    for name, seconds in t.items():
        print(f"  {name:52} {seconds * 1e6:9.1f} us")
    cost = t["grad of custom_root, solve done (derivative cost)"]
    vg, jv = t["value_and_grad of f at the root"], t["jvp of f at the root"]
    unrolled = t["grad through the unrolled iterations"] - t["solve alone"]
    rows = [
        ("derivative cost / value_and_grad of f at the root", f"{cost / vg:9.2f}"),
        ("derivative cost / jvp of f at the root", f"{cost / jv:9.2f}"),
        ("unrolled derivative cost / value_and_grad of f", f"{unrolled / vg:9.2f}"),
        ("|d/da - 1/(2 sqrt a)|", f"{abs(d1 - exact1):9.1e}"),
        (
            "|d2/da2 - closed form| / |closed| (grad of grad)",
            f"{abs(d2 - exact2) / abs(exact2):9.1e}",
        ),
        (
            "|d2/da2 - closed form| / |closed| (Taylor)",
            f"{abs(d2_taylor - exact2) / abs(exact2):9.1e}",
        ),
    ]
    for name, v in rows:
        print(f"  {name:52} {v}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--snapshots", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    loops_table(args.steps, args.snapshots, args.repeats)
    root_table()


if __name__ == "__main__":
    main()
