"""What ``python -m fad`` shows: fad in one screen, in a few seconds.

Four short sections, each a function that prints (and returns nothing):

1. :func:`duality`: a dual number, its codual, and back again.
2. :func:`newton`: the codual example: the derivative of Newton's square root by
   every tracer and every reverse strategy, all with the same answer.
3. :func:`session`: ``grad``, ``jvp``, ``vjp`` and ``hessian`` on a small function.
4. :func:`growth`: the three reverse strategies on a program that reuses values:
   naive doubles its cost at every step, memo and tape grow linearly.

Everything but the timings in the growth table is deterministic, and the tests
check it (tests/test_demo.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import fad
from fad._core import FadRecursionError
from fad.tree import tree_map

__all__ = ["duality", "growth", "main", "newton", "newton_sqrt", "session"]

Print = Callable[[str], None]


def _heading(out: Print, text: str) -> None:
    out("")
    out(text)
    out("-" * len(text))


def duality(out: Print = print) -> None:
    """A Dual, its Codual ``(a, λk. k·b)``, and back ``(a, B(1))``."""
    _heading(out, "1. Dual and codual numbers: one number, both ways")
    d = fad.Dual(3.0, 0.5)
    out(f"  d = fad.Dual(3.0, 0.5)            {d!r}   (value, tangent)")
    c = fad.to_codual(d)
    out(f"  c = fad.to_codual(d)              {type(c).__name__}(3.0, k -> k * 0.5)")
    out(f"  c.backprop(2.0)                   {c.backprop(2.0)!r}   (k * tangent)")
    out(f"  fad.to_dual(c)                    {fad.to_dual(c)!r}   (value, backprop(1))")
    lhs = fad.to_codual(fad.math.sin(d)).backprop(1.0)
    rhs = fad.math.sin(c).backprop(1.0)
    out("  the mapping commutes with every primitive:")
    out(f"  to_codual(sin(d)).backprop(1.0)   {lhs:.12f}")
    out(f"  sin(to_codual(d)).backprop(1.0)   {rhs:.12f}   (= 0.5 * cos(3))")


def newton_sqrt(a: Any, steps: int = 20) -> Any:
    """√a by Newton's iteration ``X = (X + a/X) / 2`` from ``X = 1``: plain Python."""
    x = 1.0
    for _ in range(steps):
        x = (x + a / x) / 2
    return x


def newton(out: Print = print) -> None:
    """d√a/da at a = 2 through 20 Newton steps, by every tracer and strategy."""
    _heading(out, "2. Differentiating Newton's square root (20 steps of X = (X + a/X) / 2)")
    exact = 1 / (2 * math.sqrt(2.0))
    rows: list[tuple[str, float]] = [
        ("Dual(2.0, 1.0): forward mode", newton_sqrt(fad.Dual(2.0, 1.0)).tangent),
        (
            "Codual(2.0, k -> k): naive codual",
            newton_sqrt(fad.Codual(2.0, lambda k: k)).backprop(1.0),
        ),
    ]
    for mode in ("tape", "memo", "naive"):
        value = fad.grad(newton_sqrt, mode=mode)(2.0)
        rows.append((f'fad.grad(newton_sqrt, mode="{mode}")', value))
    out(f"  sqrt(2) = {newton_sqrt(2.0)!r}, exact d/da = 1/(2 sqrt 2) = {exact:.15f}")
    out("")
    out(f"  {'computed by':<40} {'d sqrt(a)/da':>18} {'error':>9}")
    for name, value in rows:
        out(f"  {name:<40} {value:>18.15f} {abs(value - exact):>9.1e}")
    out("  The naive coduals are the slow ones: each step uses X twice, so their backward")
    out("  pass makes 2**20 calls (section 4 shows how that grows).")


_SESSION = [
    "f = lambda x, y: fad.math.sin(x) * y + x * x",
    "f(1.0, 2.0)",
    "fad.grad(f)(1.0, 2.0)",
    "fad.grad(f, argnums=(0, 1))(1.0, 2.0)",
    "fad.jvp(f, (1.0, 2.0), (1.0, 0.0))",
    "y, f_vjp = fad.vjp(f, 1.0, 2.0)",
    "f_vjp(1.0)",
    "fad.hessian(lambda p: p[0] ** 2 * p[1] + p[1] ** 3)([1.0, 2.0])",
]


def _rounded(value: Any) -> Any:
    return tree_map(lambda v: round(v, 6) if isinstance(v, float) else v, value)


def session(out: Print = print) -> None:
    """A short interactive session with the transforms (floats shown to 6 places)."""
    _heading(out, "3. The transforms, as in JAX (floats rounded to 6 places)")
    namespace: dict[str, Any] = {"fad": fad}
    for line in _SESSION:
        out(f"  >>> {line}")
        if "=" in line.split("(")[0]:
            exec(line, namespace)  # the demo runs its own fixed lines
        else:
            out(f"  {_rounded(eval(line, namespace))!r}")


def _chain(y: Any, depth: int) -> Any:
    for _ in range(depth):
        y = fad.math.sin(y) * y + 0.5
    return y


def _time_grad(mode: str, depth: int, budget: float = 0.05) -> float:
    """Seconds for one ``grad`` of the chain: the best of repeats within ``budget``."""
    g = fad.grad(lambda y: _chain(y, depth), mode=mode)
    best = math.inf
    spent = 0.0
    while spent < budget:
        t0 = time.perf_counter()
        g(0.3)
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
        if dt > budget / 3:
            break
    return best


def growth(out: Print = print) -> None:
    """Time of ``grad`` of ``y = sin(y) * y + 0.5`` repeated d times, per strategy."""
    _heading(out, "4. Three reverse strategies on y = sin(y) * y + 0.5, repeated d times")
    out("  milliseconds per fad.grad (best of a few runs on this machine)")
    out("")
    out(f"  {'d':>6} {'naive':>10} {'memo':>10} {'tape':>10}")
    naive_depths = {4, 8, 12, 16}
    too_deep: set[str] = set()  # strategies that hit the recursion limit at a smaller d
    for depth in (4, 8, 12, 16, 100, 1000, 10000, 100000):
        cells = []
        for mode in ("naive", "memo", "tape"):
            if mode == "naive" and depth not in naive_depths:
                cells.append("skipped")
            elif mode in too_deep:
                cells.append("too deep")
            else:
                try:
                    cells.append(f"{_time_grad(mode, depth) * 1e3:.3f}")
                except FadRecursionError:
                    too_deep.add(mode)
                    cells.append("too deep")
        out(f"  {depth:>6} {cells[0]:>10} {cells[1]:>10} {cells[2]:>10}")
    out("")
    out("  naive calls each backpropagator once per path: its time doubles with every step")
    out("  (skipped past d = 16: 2**d paths).")
    out("  memo caches B(1) per value (B(k) = k * B(1)), computed on an explicit stack:")
    out('  linear at any depth. tape (the default, mode="tape") runs each record once, last')
    out("  to first, in a loop: linear at any depth, and cheaper.")


def main(out: Print = print) -> int:
    """Run the four sections."""
    t0 = time.perf_counter()
    out(f"fad {_version()}: dual and codual numbers, automatic differentiation in pure Python")
    duality(out)
    newton(out)
    session(out)
    growth(out)
    out("")
    out(f"Done in {time.perf_counter() - t0:.1f} s. More: python -m fad --help")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fad")
    except PackageNotFoundError:  # not installed: running from a checkout
        return "(from source)"
