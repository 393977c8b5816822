"""fad.special at n inputs: is a gradient of logsumexp / softmax linear in n?

For n = 10², 10³, 10⁴ (``--quick``: up to 10³) it times one ``fad.grad`` (tape) of

- ``logsumexp``: the one registry entry of n terms;
- the same value written with fad.math (max shift, ``exp``, ``fsum``, ``log``), no rule;
- a weighted sum of ``softmax``, and of ``log_softmax``;

and prints a table of the times, each relative to the version without the rule, and
the log-log slope of each column from the smallest n to the largest (1 = linear).
Times are the best of a few runs of process CPU time, all in one run.

With ``--accuracy`` it instead compares the values with SciPy's at 2,000 random points
per function over the ranges printed, and prints the largest relative difference.

Run from the repository root: ``python -m benchmarks.special [--quick | --accuracy]``.
"""

from __future__ import annotations

import math
import random
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


def accuracy() -> None:
    import numpy as np  # optional: only this report needs numpy and SciPy
    import scipy.special as sp

    rng = random.Random(0)

    def u(lo: float, hi: float) -> float:
        return rng.uniform(lo, hi)

    def e(lo: float, hi: float) -> float:
        return 10.0 ** rng.uniform(lo, hi)

    table: list[tuple[str, str, Callable[[], tuple[float, ...]], Any, Any]] = [
        ("sigmoid", "x in [-745, 745]", lambda: (u(-745, 745),), fs.sigmoid, sp.expit),
        ("softplus", "x in [-745, 745]", lambda: (u(-745, 745),), fs.softplus, _softplus(np)),
        ("logaddexp", "x, y in [-745, 745]", lambda: (u(-745, 745), u(-745, 745)),
         fs.logaddexp, np.logaddexp),
        ("ndtr", "x in [-37, 8]", lambda: (u(-37, 8),), fs.ndtr, sp.ndtr),
        ("log_ndtr", "x = -10^[-3, 5]", lambda: (-e(-3, 5),), fs.log_ndtr, sp.log_ndtr),
        ("ndtri", "p = 10^[-300, -0.3]", lambda: (e(-300, -0.3),), fs.ndtri, sp.ndtri),
        ("erfinv", "y in (-1, 1)", lambda: (u(-1, 1),), fs.erfinv, sp.erfinv),
        ("erfinv", "y = 1 - 10^[-16, -1]", lambda: (1.0 - e(-16, -1),), fs.erfinv, sp.erfinv),
        ("xlogy", "x in [-5, 5], y = 10^[-300, 300]", lambda: (u(-5, 5), e(-300, 300)),
         fs.xlogy, sp.xlogy),
        ("betaln", "a, b = 10^[-3, 3]", lambda: (e(-3, 3), e(-3, 3)), fs.betaln, sp.betaln),
        ("gammainc", "a = 10^[-3, 2], x = a·10^[-2, 1]", lambda: _gamma_point(rng),
         fs.gammainc, sp.gammainc),
        ("gammaincc", "a = 10^[-3, 2], x = a·10^[-2, 1]", lambda: _gamma_point(rng),
         fs.gammaincc, sp.gammaincc),
    ]
    print(f"{'function':<11}{'points':<36}{'largest relative difference from SciPy':>40}")
    for name, where, draw, ours, theirs in table:
        worst = 0.0
        for _ in range(2000):
            args = draw()
            mine, other = ours(*args), float(theirs(*args))
            if mine != other and abs(other) > 1e-300:
                worst = max(worst, abs(mine - other) / abs(other))
        print(f"{name:<11}{where:<36}{worst:>40.2g}")


def _softplus(np: Any) -> Callable[[float], Any]:
    return lambda x: np.logaddexp(0.0, x)


def _gamma_point(rng: random.Random) -> tuple[float, float]:
    a = 10.0 ** rng.uniform(-3, 2)
    return a, a * 10.0 ** rng.uniform(-2, 1)


def main(argv: list[str]) -> int:
    if "--accuracy" in argv:
        accuracy()
        return 0
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
