"""Sparse Jacobians and Hessians by colouring, against the dense transforms.

Two workloads, all figures from one run:

1. the Jacobian of a tridiagonal residual ``r_i = u_{i-1} - 2u_i + u_{i+1} + sin(u_i)``
   (a 1-d discretised Laplacian with a nonlinearity) at n = 10⁴:
   :func:`fad.sparse_jacobian` (3 colours: 3 JVPs) against dense :func:`fad.jacfwd`
   (n JVPs). Dense at n = 10⁴ is 10⁴ JVPs of 10⁴ inputs, too long to run here: it is
   *estimated* by the n² law (n JVPs, each over the n-long program) from the dense
   run measured at n = 10³; the measured points and their growth are printed.
   (``fad.jacfwd`` seeds one input per JVP and leaves the others plain floats, so
   its JVPs are much cheaper than one JVP with a full seed; n × one full JVP would
   overstate dense);
2. the Hessian of the scalar-loop Rosenbrock function (``benchmarks/workloads.py``)
   at n = 10⁴: :func:`fad.sparse_hessian` against one :func:`fad.grad` (the ratio),
   its entries against the closed form, and at n = 10³ against dense
   :func:`fad.hessian` (measured) and, with ``--jax``, ``jax.jit(jax.hessian)`` of the
   same loop (its compile shown apart: JAX unrolls the loop).

The first call of a sparse transform detects the pattern and colours it; later calls
with the same input structure run only the sweeps. Both are shown. Times are the
best of repeated runs (at least ``--budget`` seconds of them; a run longer than the
budget counts once), in CPU time of the process (``time.process_time``: the machine
these figures come from is shared, and CPU time does not count the waits for a core).

Usage::

    python benchmarks/sparse.py [--quick] [--budget SECONDS] [--jax]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make fad importable from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fad
import fad.math as fm
from benchmarks.workloads import rosenbrock
from fad import _coloring
from fad._sparse_ad import run_sweeps
from fad._sparse_args import flat_call

CLOCK = time.process_time  # CPU time of this process: steadier on a shared machine


def best_time(call: Callable[[], Any], budget: float, min_runs: int = 3) -> float:
    """The fastest of repeated runs of ``call`` (at least ``min_runs``, about ``budget`` s)."""
    best = math.inf
    runs = 0
    start = CLOCK()
    while runs < min_runs or CLOCK() - start < budget:
        t0 = CLOCK()
        call()
        best = min(best, CLOCK() - t0)
        runs += 1
        if best > budget:
            break
    return best


def once(call: Callable[[], Any]) -> tuple[float, Any]:
    t0 = CLOCK()
    out = call()
    return CLOCK() - t0, out


def residual(u: list[Any]) -> list[Any]:
    """A 1-d Laplacian residual with u = 0 outside, plus sin(u): tridiagonal Jacobian."""
    n = len(u)
    out = []
    for i in range(n):
        left = u[i - 1] if i > 0 else 0.0
        right = u[i + 1] if i < n - 1 else 0.0
        out.append(left - 2.0 * u[i] + right + fm.sin(u[i]))
    return out


def ros(x: list[Any]) -> Any:
    return rosenbrock(x, fm)


def ros_hessian_entry(x: list[float], i: int, j: int) -> float:
    """The closed form of the Rosenbrock Hessian."""
    n = len(x)
    if i == j:
        h = 200.0 if i > 0 else 0.0
        if i < n - 1:
            h += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        return h
    if abs(i - j) == 1:
        return -400.0 * x[min(i, j)]
    return 0.0


def fmt(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.1f} ms"


def _dense_jacobian(u: list[float]) -> Callable[[], Any]:
    jitted = fad.jit(residual)  # dense jacfwd of the same jitted function
    jitted(u)
    return lambda: fad.jacfwd(jitted)(u)


def jacobian_table(n: int, dense_ns: list[int], budget: float) -> None:
    rng = random.Random(0)
    u = [rng.uniform(-1.0, 1.0) for _ in range(n)]
    print(f"## Tridiagonal Jacobian (1-d Laplacian residual + sin), n = {n}\n")
    t_detect, pattern = once(lambda: fad.jacobian_sparsity(residual)(u))
    rows = pattern.row_cols()
    t_color, colors = once(lambda: _coloring.column_coloring(rows, n))
    jac = fad.sparse_jacobian(residual)
    t_first, first = once(lambda: jac(u))
    t_sweeps = best_time(lambda: jac(u), budget)
    dense_points = {}
    for k in dense_ns:
        dense_points[k] = best_time(_dense_jacobian(u[:k]), budget, min_runs=1)
    k_hi = max(dense_ns)
    k_lo = min(dense_ns)
    slope = math.log(dense_points[k_hi] / dense_points[k_lo]) / math.log(k_hi / k_lo)
    dense_by_law = dense_points[k_hi] * (n / k_hi) ** 2
    # the values, checked against dense jacfwd where it was measured
    small = u[:k_hi]
    sparse_small = fad.sparse_jacobian(residual)(small).todense()
    dense_small = fad.jacfwd(residual)(small)
    err = max(abs(a - b) for ra, rb in zip(sparse_small, dense_small, strict=True)
              for a, b in zip(ra, rb, strict=True))
    print("| step | time |")
    print("|---|---:|")
    print(f"| detect the pattern (`fad.jacobian_sparsity`, nnz = {pattern.nnz}) "
          f"| {fmt(t_detect)} |")
    print(f"| colour the columns ({_coloring.n_colors(colors)} colours) | {fmt(t_color)} |")
    print(f"| `sparse_jacobian`, first call (detect + colour + record the {first.n_colors} "
          f"JVPs) | {fmt(t_first)} |")
    print(f"| `sparse_jacobian`, later calls (one jitted program of {first.n_colors} JVPs "
          f"+ recovery) | {fmt(t_sweeps)} |")
    for k in dense_ns:
        print(f"| dense `fad.jacfwd(fad.jit(f))` at n = {k} (measured, {k} JVPs) "
              f"| {fmt(dense_points[k])} |")
    print(f"| dense `fad.jacfwd(fad.jit(f))` at n = {n}, estimated by the n² law from "
          f"n = {k_hi} | {fmt(dense_by_law)} |")
    print()
    print(f"- measured growth of dense jacfwd from n = {k_lo} to {k_hi}: n^{slope:.2f}")
    print(f"- dense (estimated) / sparse at n = {n}: {dense_by_law / t_sweeps:.0f}× for later "
          f"calls, {dense_by_law / t_first:.0f}× for the first call")
    print(f"- max |sparse - dense| at n = {k_hi}: {err:.1e}\n")


def jax_hessian(n: int, budget: float) -> tuple[float, float, Callable[[list[float]], Any]] | None:
    """``jax.jit(jax.hessian)`` of the same scalar-loop Rosenbrock: (compile + first call,
    later calls, the function), in CPU time; ``None`` when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
        import numpy as np
    except ImportError:
        return None
    config: Any = jax.config
    config.update("jax_enable_x64", True)
    config.update("jax_platforms", "cpu")
    h = jax.jit(jax.hessian(lambda v: rosenbrock(v, jnp)))

    def run(x: list[float]) -> Any:
        return h(np.asarray(x)).block_until_ready()

    x0 = [0.5] * n
    t_first, _ = once(lambda: run(x0))
    return t_first, best_time(lambda: run(x0), budget, min_runs=1), run


def hessian_table(n: int, n_dense: int, budget: float, with_jax: bool = False) -> None:
    rng = random.Random(1)
    x = [rng.uniform(-1.0, 1.0) for _ in range(n)]
    print(f"## Hessian of the scalar-loop Rosenbrock function, n = {n}\n")
    grad = fad.jit(fad.grad(ros))
    grad(x)
    grad(x)  # recorded, then compiled
    t_grad = best_time(lambda: grad(x), budget)
    t_detect, pattern = once(lambda: fad.hessian_sparsity(ros)(x))
    rows = pattern.row_cols()
    t_color, colors = once(lambda: _coloring.star_coloring(rows))
    hess = fad.sparse_hessian(ros)
    t_first, first = once(lambda: hess(x))
    t_sweeps = best_time(lambda: hess(x), budget)
    call = flat_call(ros, 0, (0,), (x,), {}, "bench")
    seeds = [[1.0 if colors[j] == c else 0.0 for j in range(n)] for c in range(first.n_colors)]
    t_fwd = best_time(lambda: run_sweeps(call, "hvp_fwd", seeds), budget)
    t_rev = best_time(lambda: run_sweeps(call, "hvp", seeds), budget)
    err = max(
        abs(v - ros_hessian_entry(x, i, j)) / max(1.0, abs(ros_hessian_entry(x, i, j)))
        for i, j, v in first.entries()
    )
    k = first.n_colors
    print(f"| step | time | × one jitted gradient ({fmt(t_grad)}) |")
    print("|---|---:|---:|")
    print(f"| detect the pattern (`fad.hessian_sparsity`, nnz = {pattern.nnz}) "
          f"| {fmt(t_detect)} | {t_detect / t_grad:.1f} |")
    print(f"| star colouring ({_coloring.n_colors(colors)} colours) | {fmt(t_color)} "
          f"| {t_color / t_grad:.2f} |")
    print(f"| `sparse_hessian`, first call | {fmt(t_first)} | {t_first / t_grad:.1f} |")
    print(f"| `sparse_hessian`, later calls (one jitted program of {k} HVPs, reverse over "
          f"reverse) | {fmt(t_sweeps)} | {t_sweeps / t_grad:.1f} |")
    print(f"| the {k} HVPs run eagerly, reverse over reverse | {fmt(t_rev)} "
          f"| {t_rev / t_grad:.1f} |")
    print(f"| the {k} HVPs run eagerly, forward over reverse | {fmt(t_fwd)} "
          f"| {t_fwd / t_grad:.1f} |")
    print()
    later = hess(x)
    err = max(err, max(
        abs(v - ros_hessian_entry(x, i, j)) / max(1.0, abs(ros_hessian_entry(x, i, j)))
        for i, j, v in later.entries()
    ))
    print(f"- max relative error of the {first.nnz} entries against the closed form "
          f"(first and later calls): {err:.1e}")
    print(f"- (colours + 2) × one jitted gradient = {(k + 2) * t_grad * 1e3:.0f} ms; later "
          f"calls take {t_sweeps / t_grad:.1f} jitted gradients\n")

    xs = x[:n_dense]
    print(f"### side by side at n = {n_dense}\n")
    t_dense = best_time(lambda: fad.hessian(ros)(xs), budget, min_runs=1)
    hess_small = fad.sparse_hessian(ros)
    t_first_small, _ = once(lambda: hess_small(xs))
    t_small = best_time(lambda: hess_small(xs), budget)
    dense = fad.hessian(ros)(xs)
    small_dense = hess_small(xs).todense()
    diff = max(abs(small_dense[i][j] - dense[i][j]) for i in range(n_dense)
               for j in range(n_dense))
    print("| | time | dense / this |")
    print("|---|---:|---:|")
    print(f"| dense `fad.hessian` ({n_dense} reverse sweeps) | {fmt(t_dense)} | 1 |")
    print(f"| `sparse_hessian`, first call | {fmt(t_first_small)} "
          f"| {t_dense / t_first_small:.0f} |")
    print(f"| `sparse_hessian`, later calls | {fmt(t_small)} | {t_dense / t_small:.0f} |")
    jax_times = jax_hessian(n_dense, budget) if with_jax else None
    if jax_times is not None:
        t_compile, t_jax, run = jax_times
        print(f"| `jax.jit(jax.hessian)` of the same loop, compile + first call "
              f"| {fmt(t_compile)} | {t_dense / t_compile:.2f} |")
        print(f"| `jax.jit(jax.hessian)`, later calls | {fmt(t_jax)} | {t_dense / t_jax:.1f} |")
        jax_err = max(abs(float(a) - b) for ra, rb in zip(run(xs), dense, strict=True)
                      for a, b in zip(ra, rb, strict=True))
    print()
    print(f"- max |sparse - dense| at n = {n_dense}: {diff:.1e}")
    if jax_times is not None:
        print(f"- max |jax - dense| at n = {n_dense}: {jax_err:.1e}")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/sparse.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="n = 10³ instead of 10⁴ (seconds)")
    parser.add_argument("--budget", type=float, default=None, help="seconds of runs per entry")
    parser.add_argument(
        "--jax", action="store_true", help="add jax.jit(jax.hessian) at n = 10³ (a long compile)"
    )
    opts = parser.parse_args([] if argv is None else argv)
    budget = opts.budget if opts.budget is not None else (0.05 if opts.quick else 1.0)
    n = 1_000 if opts.quick else 10_000
    dense_ns = [100, 200] if opts.quick else [250, 500, 1000]
    n_dense = 200 if opts.quick else 1_000
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"Python {sys.version.split()[0]}, {when}\n")
    jacobian_table(n, dense_ns, budget)
    hessian_table(n, n_dense, budget, with_jax=opts.jax)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
