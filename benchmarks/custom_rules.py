"""Custom rules with n inputs: cost against n, and against the same code without the rule.

The workload is the usual reason to write a rule: ``logsumexp`` of n inputs, as a
``custom_jvp`` (its JVP is the softmax-weighted sum of the tangents) and as a
``custom_vjp`` (its ``bwd`` scales the softmax by g), beside the same function written
without a rule. Each row times ``fad.grad`` (tape, the default), ``fad.jvp`` (Dual) and
prints, for each rule, its time, the ratio to the code without the rule, and the
log-log slope of time against n between the smallest and the largest n. Targets:
slope ≤ 1.1 and ratio ≤ 2. Usage::

    python benchmarks/custom_rules.py [--quick] [--clock cpu]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``fad`` importable from the repo
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fad
import fad.math as fm

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def lse_plain(xs: Sequence[Any]) -> Any:
    m = fad.stop_gradient(max(xs))
    return m + fm.log(fm.fsum([fm.exp(x - m) for x in xs]))


@fad.custom_jvp
def lse_jvp(xs: Sequence[float]) -> float:
    m = max(xs)
    return m + math.log(math.fsum(math.exp(x - m) for x in xs))


@lse_jvp.defjvp
def _lse_jvp_rule(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (xs,), (xs_dot,) = primals, tangents
    ans = lse_jvp(xs)
    return ans, fm.fsum([fm.exp(x - ans) * t for x, t in zip(xs, xs_dot, strict=True)])


@fad.custom_vjp
def lse_vjp(xs: Sequence[float]) -> float:
    m = max(xs)
    return m + math.log(math.fsum(math.exp(x - m) for x in xs))


def _lse_fwd(xs: Sequence[Any]) -> tuple[Any, Any]:
    ans = lse_vjp(xs)
    return ans, [fm.exp(x - ans) for x in xs]


def _lse_bwd(res: list[Any], g: Any) -> tuple[list[Any]]:
    return ([p * g for p in res],)


lse_vjp.defvjp(_lse_fwd, _lse_bwd)

FUNCS: dict[str, Callable[[Sequence[Any]], Any]] = {
    "no rule": lse_plain,
    "custom_jvp": lse_jvp,
    "custom_vjp": lse_vjp,
}


def _time(call: Callable[[], Any], clock: Callable[[], float], min_time: float) -> float:
    """Median per-call time of 5 samples, each at least ``min_time`` long."""
    call()
    t0 = clock()
    call()
    once = max(clock() - t0, 1e-7)
    number = max(1, int(min_time / once))
    samples = []
    for _ in range(5):
        t0 = clock()
        for _ in range(number):
            call()
        samples.append((clock() - t0) / number)
    samples.sort()
    return samples[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n up to 10³, short samples")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    args = parser.parse_args(argv)
    clock = CLOCKS[args.clock]
    sizes = [100, 1000] if args.quick else [100, 1000, 10000]
    min_time = 0.02 if args.quick else 0.1
    transforms: dict[str, Callable[[Callable[[Any], Any], list[float]], Any]] = {
        "grad": lambda f, xs: fad.grad(f)(xs),
        "jvp": lambda f, xs: fad.jvp(f, (xs,), ([1.0] * len(xs),)),
    }
    ok = True
    for tname, transform in transforms.items():
        times: dict[str, list[float]] = {name: [] for name in FUNCS}
        for n in sizes:
            xs = [math.sin(0.37 * i) for i in range(n)]
            want = transform(lse_plain, xs)
            for name, f in FUNCS.items():
                got = transform(f, xs)
                flat_w, flat_g = fad.tree.tree_leaves(want), fad.tree.tree_leaves(got)
                assert all(
                    math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
                    for a, b in zip(flat_w, flat_g, strict=True)
                ), f"{tname} of {name} disagrees with the code without the rule"
                times[name].append(_time(partial(transform, f, xs), clock, min_time))
        print(f"\nfad.{tname} of logsumexp, n inputs ({args.clock} time per call, ms)\n")
        print("| function | " + " | ".join(f"n = {n}" for n in sizes) + " | slope | ratio |")
        print("|---|" + "---|" * (len(sizes) + 2))
        base = times["no rule"]
        for name, ts in times.items():
            slope = math.log(ts[-1] / ts[0]) / math.log(sizes[-1] / sizes[0])
            ratio = max(t / b for t, b in zip(ts, base, strict=True))
            cells = " | ".join(f"{t * 1e3:.3g}" for t in ts)
            print(f"| {name} | {cells} | {slope:.2f} | {ratio:.2f} |")
            if name != "no rule" and (slope > 1.1 or ratio > 2.0):
                ok = False
    print(
        "\nslope: log-log slope of time against n; ratio: the largest ratio to the code "
        "without the rule. Targets: slope ≤ 1.1, ratio ≤ 2." + ("" if ok else "  NOT MET.")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
