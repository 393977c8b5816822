"""Cost of the k-th derivative: nested forward mode against Taylor mode (``fad.taylor``).

For ``f(x) = exp(sin(x)) · sqrt(1 + x²)`` and k = 1 … 12, times

- *nesting*: ``fad.jvp`` nested k times (what ``fad.derivative`` did before Taylor
  mode; every level doubles the work, so the cost grows like 2ᵏ or faster), and
- *taylor*: one pass of ``fad.taylor(f, x, k)`` on truncated Taylor series (cost
  polynomial in k),

as ratios to one plain evaluation of ``f`` on a float, then times ``taylor`` at k = 20.
Each figure is the best of several runs (at least ``--budget`` seconds of them), so
machine noise inflates no entry. Both routes' answers are compared, too.

Usage::

    python -m fad bench --suite taylor [--quick]
    python benchmarks/taylor.py [--quick] [--max-nest K]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make fad importable from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fad
import fad.math as fm

X = 0.3


def f(x: Any) -> Any:
    return fm.exp(fm.sin(x)) * fm.sqrt(1.0 + x * x)


def nested(fun: Callable[[Any], Any], k: int) -> Callable[[Any], Any]:
    """The k-th derivative by nesting forward mode k times."""
    for _ in range(k):
        fun = _d(fun)
    return fun


def _d(fun: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda x: fad.jvp(fun, (x,), (1.0,))[1]


def best_time(call: Callable[[], Any], budget: float, min_runs: int = 3) -> float:
    """The fastest of repeated runs of ``call`` (at least ``min_runs``, about ``budget`` s)."""
    best = math.inf
    runs = 0
    start = time.perf_counter()
    while runs < min_runs or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
        runs += 1
        if best > budget:  # one run is already longer than the budget: enough
            break
    return best


def growth(times: dict[int, float], lo: int, hi: int) -> tuple[float, float]:
    """(per-step factor t(k+1)/t(k), log-log slope d log t / d log k) between lo and hi."""
    factor = (times[hi] / times[lo]) ** (1.0 / (hi - lo))
    slope = math.log(times[hi] / times[lo]) / math.log(hi / lo)
    return factor, slope


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/taylor.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="shorter timing budgets (about 20 s)")
    parser.add_argument("--max-nest", type=int, default=12, help="largest k timed by nesting")
    parser.add_argument("--budget", type=float, default=None, help="seconds of runs per entry")
    opts = parser.parse_args([] if argv is None else argv)
    budget = opts.budget if opts.budget is not None else (0.05 if opts.quick else 0.3)
    max_nest = min(opts.max_nest, 10) if opts.quick and opts.max_nest == 12 else opts.max_nest

    plain = best_time(lambda: f(X), budget, min_runs=200)
    print(
        f"f(x) = exp(sin(x)) * sqrt(1 + x*x) at x = {X}; "
        f"one plain evaluation: {plain * 1e6:.1f} µs"
    )
    print("cost of the k-th derivative, as a multiple of one plain evaluation\n")
    print("|  k | nesting (×plain) | taylor (×plain) | nesting / taylor | agree (rel. diff) |")
    print("|---:|-----------------:|----------------:|-----------------:|------------------:|")
    nest_t: dict[int, float] = {}
    tay_t: dict[int, float] = {}
    for k in range(1, 13):
        series = fad.taylor(f, X, k)
        tay_t[k] = best_time(lambda k=k: fad.taylor(f, X, k), budget)  # type: ignore[misc]
        if k <= max_nest:
            d_k = nested(f, k)
            value = d_k(X)
            nest_t[k] = best_time(lambda d_k=d_k: d_k(X), budget, min_runs=1)  # type: ignore[misc]
            diff = abs(value - series[k]) / max(abs(value), 1e-300)
            nest = f"{nest_t[k] / plain:16.0f}"
            ratio = f"{nest_t[k] / tay_t[k]:16.2f}"
            agree = f"{diff:17.1e}"
        else:
            nest, ratio, agree = f"{'(skipped)':>16}", f"{'':>16}", f"{'':>17}"
        print(f"| {k:2d} | {nest} | {tay_t[k] / plain:15.0f} | {ratio} | {agree} |", flush=True)

    print()
    hi = max(nest_t)
    if hi >= 6:
        factor, _ = growth(nest_t, hi - 4, hi)
        print(
            f"nesting: each order multiplies the cost by {factor:.2f} (k = {hi - 4} → {hi}): "
            "exponential, ≥ 2ᵏ"
        )
    factor, slope = growth(tay_t, 6, 12)
    print(
        f"taylor:  each order multiplies the cost by {factor:.2f} (k = 6 → 12); "
        f"cost ∝ k^{slope:.1f}: polynomial"
    )
    t20 = best_time(lambda: fad.taylor(f, X, 20), budget)
    d20 = fad.taylor(f, X, 20)[20]
    verdict = "under" if t20 < 1.0 else "NOT under"
    print(
        f"k = 20 by taylor: {t20 * 1e3:.1f} ms ({t20 / plain:.0f} × plain), {verdict} a "
        f"second; f⁽²⁰⁾({X}) = {d20:.6e}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
