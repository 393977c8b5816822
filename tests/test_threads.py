"""Eight threads differentiating at once, nested, each get their own right answer.

Each transform call takes its own level from a process-wide counter and keeps its
recording in its own objects, so threads never see each other's perturbations. The
threads start together (a barrier), the interpreter switches threads every few
microseconds, and every answer is checked against the closed form of its
derivatives.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import fad

MODES = ("tape", "memo", "naive")

# f, f', f'' and a parameter a: eight different functions, one per thread.
Case = tuple[
    Callable[[Any, float], Any], Callable[[float, float], float], Callable[[float, float], float]
]

CASES: list[Case] = [
    (
        lambda x, a: fad.math.sin(a * x),
        lambda x, a: a * math.cos(a * x),
        lambda x, a: -a * a * math.sin(a * x),
    ),
    (
        lambda x, a: fad.math.exp(a * x),
        lambda x, a: a * math.exp(a * x),
        lambda x, a: a * a * math.exp(a * x),
    ),
    (lambda x, a: a * x**3, lambda x, a: 3 * a * x**2, lambda x, a: 6 * a * x),
    (
        lambda x, a: fad.math.log(x + a),
        lambda x, a: 1 / (x + a),
        lambda x, a: -1 / (x + a) ** 2,
    ),
    (
        lambda x, a: x * fad.math.sin(x) * a,  # x used twice: paths add up
        lambda x, a: a * (math.sin(x) + x * math.cos(x)),
        lambda x, a: a * (2 * math.cos(x) - x * math.sin(x)),
    ),
    (lambda x, a: 1 / (x + a), lambda x, a: -1 / (x + a) ** 2, lambda x, a: 2 / (x + a) ** 3),
    (
        lambda x, a: fad.math.tanh(a * x),
        lambda x, a: a * (1 - math.tanh(a * x) ** 2),
        lambda x, a: -2 * a * a * math.tanh(a * x) * (1 - math.tanh(a * x) ** 2),
    ),
    (
        lambda x, a: fad.math.sqrt(x * x + a),
        lambda x, a: x / math.sqrt(x * x + a),
        lambda x, a: a / (x * x + a) ** 1.5,
    ),
]

ITERATIONS = 120


def close(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


@contextmanager
def frequent_switches() -> Iterator[None]:
    """Make the interpreter switch threads every 10 µs (instead of 5 ms)."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def worker(k: int, barrier: threading.Barrier, errors: list[str], done: list[int]) -> None:
    f, df, d2f = CASES[k]
    mode = MODES[k % len(MODES)]
    barrier.wait()
    count = 0
    for it in range(ITERATIONS):
        x = 0.3 + 0.01 * it + 0.05 * k  # a different point per thread and iteration
        a = 1.0 + 0.1 * k

        def g(x: Any, a: float = a) -> Any:
            return f(x, a)

        checks = {
            "grad": (fad.grad(g, mode=mode)(x), df(x, a)),
            "grad of grad": (fad.grad(fad.grad(g, mode=mode), mode=mode)(x), d2f(x, a)),
            "jvp of grad": (fad.jvp(fad.grad(g, mode=mode), (x,), (1.0,))[1], d2f(x, a)),
            "grad of jvp": (
                fad.grad(lambda x: fad.jvp(g, (x,), (1.0,))[1], mode=mode)(x),
                d2f(x, a),
            ),
            # The parameter as a second argument: mixed partial d/da d/dx of g.
            "grad of grad, two arguments": (
                fad.grad(lambda x, a: fad.grad(f)(x, a), 1, mode=mode)(x, a),
                (df(x, a + 1e-6) - df(x, a - 1e-6)) / 2e-6,
            ),
        }
        for name, (got, want) in checks.items():
            tol_ok = (
                math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6)
                if name.endswith("two arguments")  # against a central difference
                else close(got, want)
            )
            if not tol_ok:
                errors.append(f"thread {k} ({mode}), iteration {it}, {name}: {got} != {want}")
        count += 1
    done.append(count)


def test_eight_threads_get_their_own_nested_gradients() -> None:
    n = 8
    barrier = threading.Barrier(n)
    errors: list[str] = []
    done: list[int] = []
    threads = [threading.Thread(target=worker, args=(k, barrier, errors, done)) for k in range(n)]
    with frequent_switches():
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert done == [ITERATIONS] * n  # every thread ran to the end (no silent crash)


def test_threads_share_one_outer_transform() -> None:
    """Threads differentiating inside one outer jvp see its tracer as a constant.

    The outer forward-mode tracer crosses into every thread; each thread's reverse
    transform, nested inside it, must keep its own perturbation apart from it.
    """
    n = 8
    results: list[tuple[int, Any]] = []
    barrier = threading.Barrier(n)

    def outer(c: Any) -> Any:
        def run(k: int) -> None:
            barrier.wait()
            for _ in range(20):
                # d/dx (c * x**2) = 2 c x at x = k + 1, so d/dc of that is 2 (k + 1).
                g = fad.grad(lambda x: c * x * x, mode=MODES[k % 3])(float(k + 1))
                results.append((k, g))

        threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
        with frequent_switches():
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return c

    fad.jvp(outer, (1.5,), (1.0,))
    assert len(results) == 20 * n
    for k, g in results:
        assert type(g) is fad.Dual
        assert g.primal == 2 * 1.5 * (k + 1)
        assert g.tangent == 2.0 * (k + 1)
