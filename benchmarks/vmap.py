"""fad.vmap: one compiled numpy program over a batch, against a loop of jitted calls.

Run from the repository root: ``python benchmarks/vmap.py`` (``--quick`` for a short
run, ``--part 1`` for one part only). Every ratio is measured in the same run; times
are the best of a few repeats of the process's CPU time (wall time for the process
pool).

1. ``fad.jit(fad.vmap(fad.grad(f)))`` over B = 10⁴ points, for Rosenbrock n = 100
   (the scalar loop of ``benchmarks/workloads.py``) and the per-example loss of the
   2-16-16-1 tanh MLP (its weights unmapped, one data point per batch element):
   ns per operation per point (operations of the primal, as counted by
   ``workloads.count_ops``, and of the recorded gradient program), and the speed-up
   over a Python loop of ``fad.jit(fad.grad(f))`` (timed on a sample of the points).
   ``jax.jit(jax.vmap(jax.grad(f)))`` beside it when JAX is installed.
2. 10⁵ points of the Rosenbrock gradient split over a process pool
   (``fad.parallel.map_chunks``, the same chunks for one worker and for two): one
   worker against two, after start-up (the pool's start and a first small call,
   reported apart), for a batch already in shared memory, a numpy batch copied into
   it, and a pickled one; with the workers' CPU time over the wall time, which shows
   whether two really ran at once.
3. ``fad.jacrev`` of a jitted 100 → 100 map (each output reads 3 inputs): the folded
   float program (every row in one run, seeds as constants), the numpy sweep (the
   recorded VJP once on arrays of 100 seeds), the ordinary path (a tape pullback per
   output) and 100 runs of the jitted VJP on one seed each; then a dense 100 → 100
   map, where the cost model takes the numpy sweep. ``--part 3`` runs only this part.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

import fad
from benchmarks import workloads as W
from fad.parallel import map_chunks


def best(
    thunk: Callable[[], Any], repeats: int, clock: Callable[[], float] = time.process_time
) -> float:
    t_best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        thunk()
        t_best = min(t_best, clock() - t0)
    return t_best


def rosen(v: Any) -> Any:
    return W.rosenbrock(v, fad.math)


def mlp(w: Any, p: Any, m: Any) -> Any:
    """The squared loss of the workload's MLP at one data point ``p = (x0, x1, target)``."""
    x0, x1, target = p[0], p[1], p[2]
    H = W.HIDDEN
    h1 = [m.tanh(w[2 * j] * x0 + w[2 * j + 1] * x1 + w[W._B1 + j]) for j in range(H)]
    h2 = []
    for j in range(H):
        z = w[W._B2 + j]
        for k in range(H):
            z = z + w[W._W2 + H * j + k] * h1[k]
        h2.append(m.tanh(z))
    out = w[W._B3]
    for k in range(H):
        out = out + w[W._W3 + k] * h2[k]
    return (out - target) ** 2


def mlp_point(w: Any, p: Any) -> Any:
    return mlp(w, p, fad.math)


def rosen_grad(v: Any) -> Any:  # module level: pickled by reference to the workers
    return fad.grad(rosen)(v)


def cyc(v: Any) -> Any:
    n = len(v)
    return [
        fad.math.sin(v[i]) * v[(i + 1) % n]
        + fad.math.exp(0.1 * v[(i + 7) % n]) * v[i]
        - fad.math.tanh(v[(i + 1) % n] * v[(i + 7) % n])
        for i in range(n)
    ]


def table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def part1(B: int, sample: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    rows = [
        [
            "workload",
            "primal ops",
            "grad IR ops",
            "vmap total",
            "ns/primal op/pt",
            "ns/IR op/pt",
            "loop of jit(grad)",
            "speed-up",
        ]
    ]
    jax_rows = []
    cases = []
    X = rng.uniform(-1.0, 1.0, size=(B, 100))
    cases.append(
        (
            "Rosenbrock n=100",
            rosen,
            (X,),
            (0,),
            lambda i: (X[i].tolist(),),
            W.count_ops(W.rosenbrock, X[0].tolist()),
        )
    )
    w = W.mlp_init()
    P = np.array([W.MLP_DATA[i % len(W.MLP_DATA)] for i in range(B)]) + rng.normal(
        0.0, 0.01, size=(B, 3)
    )
    n_mlp = W.count_ops(lambda xs, m: mlp(xs[:-3], xs[-3:], m), [*w, *P[0].tolist()])
    cases.append(
        ("MLP per-example", mlp_point, (w, P), (None, 0), lambda i: (w, P[i].tolist()), n_mlp)
    )
    for name, f, args, in_axes, point, n_ops in cases:
        g = fad.grad(f)
        vg = fad.jit(fad.vmap(g, in_axes=in_axes))
        t0 = time.process_time()
        out = vg(*args)
        first = time.process_time() - t0
        t = best(lambda vg=vg, args=args: vg(*args), repeats)
        jg = fad.jit(g)
        ref = jg(*point(0))
        got0 = [float(v) for v in out[0]]
        assert np.allclose(got0, ref, rtol=1e-13, atol=1e-13), name
        pts = [point(i) for i in range(sample)]
        t_loop = best(lambda pts=pts, jg=jg: [jg(*p) for p in pts], max(1, repeats // 2))
        t_loop *= B / sample
        ir_ops = fad.make_ir(g)(*point(0)).n_ops
        rows.append(
            [
                name,
                str(n_ops),
                str(ir_ops),
                f"{t * 1e3:.1f} ms (first {first * 1e3:.0f} ms)",
                f"{t / B / n_ops * 1e9:.2f}",
                f"{t / B / ir_ops * 1e9:.2f}",
                f"{t_loop * 1e3:.0f} ms",
                f"{t_loop / t:.0f}×",
            ]
        )
        jax_rows.append((name, f, args, in_axes, t))
    print(
        f"\n1. fad.jit(fad.vmap(fad.grad(f))) over B = {B} points (CPU time, best of {repeats})\n"
    )
    table(rows)
    try:
        import jax
    except ImportError:
        print("\n(JAX is not installed: no jax.jit(jax.vmap(jax.grad(f))) column.)")
        return
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    class JM:
        sin, cos, exp, tanh = jnp.sin, jnp.cos, jnp.exp, jnp.tanh

    jrows = [["workload", "jax compile + first run", "jax run", "fad run", "fad / jax"]]
    for name, f, args, in_axes, t_fad in jax_rows:
        if f is rosen:

            def jf(v: Any) -> Any:
                return W.rosenbrock([v[i] for i in range(100)], JM)

            jargs = (jnp.asarray(args[0]),)
        else:

            def jf(wv: Any, p: Any) -> Any:  # the same scalar code on jax values
                return mlp([wv[i] for i in range(W.MLP_N_WEIGHTS)], [p[0], p[1], p[2]], JM)

            jargs = (jnp.asarray(args[0]), jnp.asarray(args[1]))
        jv = jax.jit(jax.vmap(jax.grad(jf), in_axes=in_axes))
        t0 = time.perf_counter()
        jv(*jargs).block_until_ready()
        comp = time.perf_counter() - t0
        tj = best(lambda jv=jv, jargs=jargs: jv(*jargs).block_until_ready(), 5)
        jrows.append(
            [
                name,
                f"{comp:.2f} s",
                f"{tj * 1e3:.1f} ms",
                f"{t_fad * 1e3:.1f} ms",
                f"{t_fad / tj:.1f}",
            ]
        )
    print("\n   jax.jit(jax.vmap(jax.grad(f))), the same scalar code, float64\n")
    table(jrows)


def _pid_after(delay: float) -> int:  # module level: run by the pool's workers
    time.sleep(delay)
    return os.getpid()


def _median(xs: list[float]) -> float:
    ys = sorted(xs)
    return (ys[(len(ys) - 1) // 2] + ys[len(ys) // 2]) / 2


def _pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes: forked, unless JAX (multithreaded, so unsafe to
    fork) is loaded here (part 1), then from a fork server."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver") if "jax" in sys.modules else None
    return ProcessPoolExecutor(workers, mp_context=ctx)


def _spin(n: int) -> int:  # module level: a control task of pure Python, no memory
    s = 0
    for i in range(n):
        s += i
    return s


def _control(repeats: int) -> float:
    """The speed-up of 2 workers over 1 on two equal pure-Python tasks: what the machine
    offers right now (2 when two cores are free)."""
    best_of = {}
    for workers in (1, 2):
        with _pool(workers) as ex:
            list(ex.map(_spin, [10] * workers))
            best_of[workers] = best(
                lambda ex=ex: list(ex.map(_spin, [2_000_000] * 2)), repeats, time.perf_counter
            )
    return best_of[1] / best_of[2]


def _cpu_seconds(pids: set[int]) -> float | None:
    """User + system CPU time of the processes ``pids`` so far (Linux ``/proc``)."""
    total = 0
    try:
        for pid in pids:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def part2(B: int, repeats: int) -> None:
    from fad.parallel import shared_array

    rng = np.random.default_rng(1)
    data = rng.uniform(-1.0, 1.0, size=(B, 100))
    f = fad.vmap(rosen_grad)
    n_chunks = max(4, B // 6250)  # chunks of ~6000 points: their columns stay in cache
    bounds = [(i * B // n_chunks, (i + 1) * B // n_chunks) for i in range(n_chunks)]
    control_before = _control(repeats)
    want = f(data)  # records the program (in this process, then pickled with f)
    here = [
        best(lambda: f(data), repeats, time.perf_counter),
        best(
            lambda: np.concatenate([f(data[lo:hi]) for lo, hi in bounds]),
            repeats,
            time.perf_counter,
        ),
    ]
    rows = [
        [
            "batch",
            "workers",
            "start-up",
            "run: best",
            "run: spread",
            "worker CPU / wall",
            "speed-up: best",
            "median",
            "paired",
        ]
    ]
    times: dict[tuple[str, int], float] = {}
    medians: dict[tuple[str, int], float] = {}
    with shared_array(data.shape) as X:
        X[...] = data
        cases: list[tuple[str, Any, bool | None]] = [
            ("in a shared_array (not copied)", X, None),
            ("numpy, copied to shared memory", data, None),
            ("numpy, pickled (shared=False)", data, False),
        ]
        for label, batch, shared in cases:
            with ExitStack() as stack:
                pools, start, pids = {}, {}, {}
                for workers in (1, 2):
                    t0 = time.perf_counter()
                    ex = stack.enter_context(_pool(workers))
                    warm = batch[: 64 * n_chunks]
                    map_chunks(f, warm, executor=ex, n_chunks=n_chunks, shared=shared)
                    start[workers] = time.perf_counter() - t0
                    # sleeping tasks reach every worker: their pids, for their CPU time
                    pids[workers] = set(ex.map(_pid_after, [0.05] * (2 * workers)))
                    assert len(pids[workers]) == workers, (label, pids)
                    pools[workers] = ex
                runs: dict[int, list[float]] = {1: [], 2: []}
                busy: dict[int, list[float]] = {1: [], 2: []}
                for _ in range(repeats):  # 1 and 2 workers in turn: under the same load
                    for workers, ex in pools.items():
                        c0 = _cpu_seconds(pids[workers])
                        t0 = time.perf_counter()
                        out = map_chunks(f, batch, executor=ex, n_chunks=n_chunks, shared=shared)
                        runs[workers].append(time.perf_counter() - t0)
                        c1 = _cpu_seconds(pids[workers])
                        if c0 is not None and c1 is not None:
                            busy[workers].append((c1 - c0) / runs[workers][-1])
                        assert np.array_equal(out, want), label
                        del out
            for workers in (1, 2):
                r = runs[workers]
                t, med = min(r), sorted(r)[len(r) // 2]
                times[label, workers] = t
                medians[label, workers] = med
                rows.append(
                    [
                        label,
                        str(workers),
                        f"{start[workers] * 1e3:.0f} ms",
                        f"{t * 1e3:.0f} ms",
                        f"{t * 1e3:.0f}–{max(r) * 1e3:.0f} ms",
                        f"{busy[workers][r.index(t)]:.2f}" if busy[workers] else "n/a",
                        f"{times[label, 1] / t:.2f}×",
                        f"{medians[label, 1] / med:.2f}×",
                        f"{_median([a / b for a, b in zip(runs[1], r, strict=True)]):.2f}×",
                    ]
                )
    print(
        f"\n2. the Rosenbrock-100 gradient at B = {B} points over a process pool: "
        f"fad.parallel.map_chunks in {n_chunks} chunks\n   (wall time over {repeats} runs "
        "of each, 1 and 2 workers in turn; "
        "start-up = the pool's start and a first small call; speed-up against 1 worker,\n"
        "   the same batch, chunks and mechanism: of the best runs, of the medians, and the "
        "median of the ratios\n   of runs made one after the other; worker CPU / wall of "
        "the best run, near the number of workers\n   when they ran at once)\n"
    )
    table(rows)
    print(
        f"\n   control: 2 workers against 1 on two equal pure-Python tasks, "
        f"{control_before:.2f}× before and {_control(repeats):.2f}× after (2× when two "
        "cores are free)"
    )
    print(
        f"   in this process, no pool: one call on the batch {here[0] * 1e3:.0f} ms, "
        f"the same {n_chunks} chunks in turn, joined {here[1] * 1e3:.0f} ms (best of {repeats})"
    )


def dense100(v: Any) -> Any:
    """A 100 → 100 map whose every output reads every input (a dense Jacobian)."""
    s = sum(fad.math.sin(a) for a in v)
    return [s * a for a in v]


def batched(jac: Any) -> Any:
    """``jac``, a BatchedJacobian (its counters and plans read below)."""
    from fad._batched import BatchedJacobian

    assert isinstance(jac, BatchedJacobian)
    return jac


def part3(repeats: int) -> None:
    from fad import _batched

    n = 100
    x = [0.01 * i + 0.3 for i in range(n)]
    vjp1 = fad.jit(lambda v, ct: fad.vjp(cyc, v)[1](ct)[0])
    eye = np.eye(n).tolist()
    vjp1(x, eye[0])

    def plan_of(fun: Any, numpy: bool) -> Any:
        old = _batched.FLOAT_PER_NUMPY_OP
        _batched.FLOAT_PER_NUMPY_OP = -(10**9) if numpy else 10**9  # force the choice
        try:
            jac = batched(fad.jacrev(fad.jit(fun)))
            jac(x)
        finally:
            _batched.FLOAT_PER_NUMPY_OP = old
        return jac

    auto = batched(fad.jacrev(fad.jit(cyc)))
    t0 = time.process_time()
    auto(x)  # records the VJP, folds the seeds, compiles
    t_first = time.process_time() - t0
    folded, swept = plan_of(cyc, False), plan_of(cyc, True)
    generic = auto.generic  # the ordinary path: a tape pullback per output leaf
    want = generic(x)
    for jac in (auto, folded, swept):
        assert np.allclose(jac(x), want, rtol=1e-14, atol=0)
    assert folded.last_plan.kind == "folded"
    assert swept.last_plan.kind == "numpy"
    sweeps = folded.n_sweeps
    folded(x)
    assert folded.n_sweeps == sweeps + 1  # one run of one program per Jacobian
    linear = folded.last_plan.linear
    n_linear = _batched._count_linear(linear, range(n, 2 * n))
    t_fold = best(lambda: folded(x), repeats)
    t_np = best(lambda: swept(x), repeats)
    t_gen = best(lambda: generic(x), repeats)
    t_one = best(lambda: [vjp1(x, e) for e in eye], repeats)
    print(
        f"\n3. batched seeds: fad.jacrev of a jitted 100 → 100 map (CPU time, best of {repeats})\n"
    )
    print(
        f"   cyc (each output reads 3 inputs): the recorded VJP has {linear.n_ops} operations, "
        f"{n_linear} of them linear in the seed;\n   the folded program has "
        f"{folded.last_plan.ir.n_ops} operations for all 100 rows (the cost model chose "
        f"{auto.last_plan.kind});\n   the first call (record, fold, compile) took "
        f"{t_first * 1e3:.0f} ms.\n"
    )
    rows = [
        ["jacrev of cyc at 100 points", "time", "folded is faster by"],
        ["folded float program: one run", f"{t_fold * 1e3:.3f} ms", "1"],
        ["numpy sweep: one run on 100 seeds", f"{t_np * 1e3:.3f} ms", f"{t_np / t_fold:.1f}×"],
        ["ordinary path: 100 tape pullbacks", f"{t_gen * 1e3:.3f} ms", f"{t_gen / t_fold:.1f}×"],
        [
            "100 runs of the jitted VJP, one seed each",
            f"{t_one * 1e3:.3f} ms",
            f"{t_one / t_fold:.1f}×",
        ],
    ]
    table(rows)
    # the cost model's other side: a dense Jacobian, where folding writes the map 100 times
    d_auto = batched(fad.jacrev(fad.jit(dense100)))
    d_auto(x)
    d_fold, d_np = plan_of(dense100, False), plan_of(dense100, True)
    want = d_auto.generic(x)
    for jac in (d_auto, d_fold, d_np):
        assert np.allclose(jac(x), want, rtol=1e-13, atol=1e-13)
    n_lin = _batched._count_linear(d_fold.last_plan.linear, range(n, 2 * n))
    td_fold = best(lambda: d_fold(x), repeats)
    td_np = best(lambda: d_np(x), repeats)
    td_gen = best(lambda: d_auto.generic(x), repeats)
    print(
        f"\n   dense (every output reads every input): {n_lin} linear operations; folded, "
        f"{d_fold.last_plan.ir.n_ops} (the cost model chose {d_auto.last_plan.kind})\n"
    )
    table(
        [
            ["jacrev of dense at 100 points", "time", "numpy sweep is faster by"],
            ["numpy sweep: one run on 100 seeds", f"{td_np * 1e3:.3f} ms", "1"],
            ["folded float program", f"{td_fold * 1e3:.3f} ms", f"{td_fold / td_np:.2f}×"],
            ["ordinary path", f"{td_gen * 1e3:.3f} ms", f"{td_gen / td_np:.2f}×"],
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--part", type=int, action="append", choices=(1, 2, 3), help="only these")
    a = ap.parse_args()
    parts = set(a.part or (1, 2, 3))
    # part -> (the function, its arguments for a full run, for a --quick one)
    runs: dict[int, tuple[Callable[..., None], tuple[int, ...], tuple[int, ...]]] = {
        1: (part1, (10_000, 200, 5), (2000, 50, 2)),
        2: (part2, (100_000, 3), (20_000, 2)),
        3: (part3, (7,), (3,)),
    }
    for k, (run, full, quick) in runs.items():
        if k in parts:
            run(*(quick if a.quick else full))


if __name__ == "__main__":
    main()
