"""fad.special at n inputs: is a gradient of logsumexp / softmax linear in n?

For n = 10², 10³, 10⁴ (``--quick``: up to 10³) it times one ``fad.grad`` (tape) of

- ``logsumexp``: the one registry entry of n terms;
- the same value written with fad.math (max shift, ``exp``, ``fsum``, ``log``), no rule;
- a weighted sum of ``softmax``, and of ``log_softmax``;

and prints a table of the times, each relative to the version without the rule, and
the log-log slope of each column from the smallest n to the largest (1 = linear).
Times are the best of a few runs of process CPU time, all in one run.

Run from the repository root: ``python -m benchmarks.special [--quick]``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import fad
import fad.math as fm
import fad.special as fs
from fad._core import primal_value


def lse_rule(xs: Sequence[Any]) -> Any:
    return fs.logsumexp(xs)


def lse_without_rule(xs: Sequence[Any]) -> Any:
    m = max(float(primal_value(x)) for x in xs)
    return m + fm.log(fm.fsum([fm.exp(x - m) for x in xs]))


def softmax_sum(xs: Sequence[Any]) -> Any:
    return fm.fsum([s * (i % 3) for i, s in enumerate(fs.softmax(xs))])


def log_softmax_sum(xs: Sequence[Any]) -> Any:
    return fm.fsum([s * (i % 3) for i, s in enumerate(fs.log_softmax(xs))])


CASES: dict[str, Callable[[Sequence[Any]], Any]] = {
    "logsumexp": lse_rule,
    "same without the rule": lse_without_rule,
    "softmax · w": softmax_sum,
    "log_softmax · w": log_softmax_sum,
}


def best_time(fun: Callable[[], Any], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.process_time()
        fun()
        best = min(best, time.process_time() - start)
    return best


def main(argv: list[str]) -> int:
    sizes = [100, 1000] if "--quick" in argv else [100, 1000, 10_000]
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for n in sizes:
        xs = [math.sin(i) * 5.0 for i in range(n)]
        for name, fun in CASES.items():
            grad = fad.grad(fun)
            repeat = 5 if n < 10_000 else 3
            times[name].append(best_time(lambda grad=grad, xs=xs: grad(xs), repeat))
    base = times["same without the rule"]
    header = "".join(f"{'n = ' + str(n):>22}" for n in sizes)
    print(f"{'fad.grad (tape)':<24}{header}   slope")
    for name, ts in times.items():
        pairs = zip(ts, base, strict=True)
        cells = "".join(f"{t * 1e3:>10.2f} ms ({t / b:4.2f}×)" for t, b in pairs)
        slope = math.log(ts[-1] / ts[0]) / math.log(sizes[-1] / sizes[0])
        print(f"{name:<24}{cells}   {slope:5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
