"""fad's three reverse strategies (naive, memo, tape): how their cost grows, measured.

Usage::

    python benchmarks/strategies.py [--quick] [--clock wall|cpu] [--only SECTIONS]

Prints Markdown tables of ratios measured in one run (medians of interleaved samples,
see ``benchmarks/harness.py``) and writes them as JSON to
``benchmarks/results/strategies.json`` (plus PNG plots when matplotlib is installed):

- ``growth``: gradient of ``y = sin(y)*y + 0.5`` repeated d times (the two uses of y
  get different cotangents) and of ``y = sin(y*y) + 0.5`` (the two uses of y, in y*y,
  get the same cotangent), for every strategy, as a multiple of the same code on
  plain floats, from d = 4 to d = 100 000. ``cache`` is naive coduals with
  ``functools.cache`` on every backpropagator (the one-line idea; defined here, not in
  fad). ``cache (limit raised)`` runs cache with ``sys.setrecursionlimit(10**6)`` in
  a thread with a 512 MiB stack, to show that its limit is Python's recursion and not
  its cost; memo needs no such help (an explicit stack).
- ``deep``: ``mode="tape"`` on ``y = 0.999*y + 0.001*sin(y)``, 10⁶ steps (4·10⁶
  recorded operations), in a child process: time, ratio to floats, peak memory; and
  what memo and naive raise on a chain deeper than the recursion limit.
- ``rosenbrock``: the cheap-gradient table, tape ``grad`` of Rosenbrock in n = 10² to
  10⁵ dimensions over the same loop on floats; and memo against tape for n inputs.
- ``memory``: peak bytes (``tracemalloc``) per recorded operation, per strategy.

``--quick`` keeps the whole run under about 30 seconds (smaller sizes, fewer repeats).
``--write-docs`` puts the tables into docs/strategies.md; ``--from-json FILE`` renders
a saved run again. ``python -m fad bench`` calls :func:`main`.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fad
from benchmarks.harness import interleaved, machine
from benchmarks.workloads import count_ops, rosenbrock
from fad._core import FadRecursionError, register_tracer
from fad.tracers.codual import Codual

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
Scalars = Sequence[Any]


# --- the programs: written once, run on floats (m = math) and on tracers (m = fad.math) --


def reuse_chain(xs: Scalars, m: Any, d: int) -> Any:
    """``y = sin(y) * y + 0.5``, d times: each use of y receives its own cotangent."""
    y = xs[0]
    for _ in range(d):
        y = m.sin(y) * y + 0.5
    return y


def same_ct_chain(xs: Scalars, m: Any, d: int) -> Any:
    """``y = sin(y * y) + 0.5``, d times: the two uses of y (in y*y) get one cotangent."""
    y = xs[0]
    for _ in range(d):
        y = m.sin(y * y) + 0.5
    return y


def reuse_chain2(xs: Scalars, m: Any, d: int) -> Any:
    """:func:`reuse_chain` from ``y = x₀·x₁``: the same program on two inputs."""
    return reuse_chain([xs[0] * xs[1]], m, d)


def damped_chain(xs: Scalars, m: Any, d: int) -> Any:
    """``y = 0.999*y + 0.001*sin(y)``, d times (four operations a step)."""
    y = xs[0]
    for _ in range(d):
        y = 0.999 * y + 0.001 * m.sin(y)
    return y


def plain_chain(xs: Scalars, m: Any, d: int) -> Any:
    """``y = 0.9*sin(y) + 0.1``, d times: deep, but every value is used once."""
    y = xs[0]
    for _ in range(d):
        y = 0.9 * m.sin(y) + 0.1
    return y


# --- the one-line idea: naive coduals with functools.cache on each backpropagator ------


@register_tracer
class CachedCodual(Codual):
    """Naive coduals whose backpropagators are ``functools.cache``-d on the cotangent.

    A backpropagator returns ``{input index: cotangent}``; a call with a cotangent it
    has seen before returns the cached dict. That saves work only where two uses of a
    value pass equal cotangents. (For the benchmark only: ``mode=CachedCodual``.)
    """

    __slots__ = ()
    mode_name = "cache"

    @classmethod
    def combine(
        cls, edges: tuple[tuple[Callable[[Any], Any], Any], ...]
    ) -> Callable[[Any], Any]:
        @functools.cache
        def backprop(k: Any) -> dict[int, Any]:
            total: dict[int, Any] = {}
            for b, partial in edges:
                for i, v in b(partial * k).items():
                    total[i] = total[i] + v if i in total else v
            return total

        return backprop

    @classmethod
    def leaf(cls, index: int, n_inputs: int = 0) -> Callable[[Any], Any]:
        @functools.cache
        def backprop(k: Any) -> dict[int, Any]:
            return {index: k}

        return backprop


STRATEGIES: dict[str, Any] = {
    "naive": "naive",
    "cache": CachedCodual,
    "memo": "memo",
    "tape": "tape",
}


# --- helpers ----------------------------------------------------------------------------


def grad_thunk(f: Callable[..., Any], n: int, mode: Any, **kw: Any) -> Callable[[], Any]:
    """A call of ``grad`` of ``f(xs, fad.math, **kw)`` at a fixed point of n scalars."""
    xs = [0.3 + 0.4 * ((i * 7) % 11) / 11 for i in range(n)]

    def fun(xs: list[Any]) -> Any:
        return f(xs, fad.math, **kw)

    g = fad.grad(fun, mode=mode)
    return lambda: g(xs)


def float_thunk(f: Callable[..., Any], n: int, **kw: Any) -> Callable[[], Any]:
    xs = [0.3 + 0.4 * ((i * 7) % 11) / 11 for i in range(n)]
    return lambda: f(xs, math, **kw)


def with_deep_recursion(thunk: Callable[[], Any], limit: int = 10**6) -> Callable[[], Any]:
    """``thunk`` with the recursion limit raised (run it in a thread with a large stack)."""

    def run() -> Any:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(limit)
        try:
            return thunk()
        finally:
            sys.setrecursionlimit(old)

    return run


def in_big_stack_thread(fn: Callable[[], Any], stack_mb: int = 512) -> Any:
    """Run ``fn`` in a thread with a ``stack_mb`` MiB stack; return or raise its result."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the caller
            box["error"] = exc

    old = threading.stack_size(stack_mb * 1024 * 1024)
    try:
        t = threading.Thread(target=target)
        t.start()
        t.join()
    finally:
        threading.stack_size(old)
    if "error" in box:
        raise box["error"]
    return box["value"]


def first_time(thunk: Callable[[], Any]) -> tuple[float, str]:
    """Warm-up call: its time, or the name of the exception it raised."""
    gc.collect()
    t0 = time.perf_counter()
    try:
        thunk()
    except RecursionError as exc:
        return math.inf, type(exc).__name__
    return time.perf_counter() - t0, "ok"


def deepest(f: Callable[..., Any], mode: str, hi: int = 5000) -> int:
    """The largest d for which ``grad`` of ``f(·, d)`` runs at the current stack depth."""
    lo = 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            grad_thunk(f, 1, mode, d=mid)()
            lo = mid
        except RecursionError:
            hi = mid
    return lo


def fmt_ratio(x: float | None) -> str:
    if x is None:
        return ""
    if x >= 1e5:
        return f"{x:.2e}×"
    return f"{x:.0f}×" if x >= 100 else f"{x:.1f}×"


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    align = align or "l" + "r" * (len(header) - 1)
    line = "|" + "|".join(":--" if a == "l" else "--:" for a in align) + "|"
    out = ["| " + " | ".join(header) + " |", line]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


# --- growth -----------------------------------------------------------------------------


def growth(opts: argparse.Namespace) -> dict[str, Any]:
    """Time of each strategy against d, as a multiple of floats, for the two chains."""
    small = [4, 8, 12, 16, 20] if not opts.quick else [4, 7, 10, 13]
    large = [100, 1000, 10_000, 100_000] if not opts.quick else [100, 1000, 10_000]
    cache_max = deepest(same_ct_chain, STRATEGIES["cache"])  # memo has no limit (a stack)
    res: dict[str, Any] = {"cache_max_d": cache_max, "programs": {}}
    programs = {
        "y = sin(y)*y + 0.5 (different cotangents)": reuse_chain,
        "y = sin(y*y) + 0.5 (equal cotangents)": same_ct_chain,
    }
    for title, f in programs.items():
        sizes = sorted(set(small + large + [cache_max]))
        cells: dict[tuple[str, int], Callable[[], Any]] = {}
        for d in sizes:
            cells[("floats", d)] = float_thunk(f, 1, d=d)
            for name, mode in STRATEGIES.items():
                exponential = name == "naive" or (name == "cache" and f is reuse_chain)
                if exponential and d > small[-1]:
                    continue
                if name == "cache" and d > cache_max:
                    continue
                cells[(name, d)] = grad_thunk(f, 1, mode, d=d)
            if d > cache_max and f is same_ct_chain:
                cells[("cache (limit raised)", d)] = with_deep_recursion(
                    grad_thunk(f, 1, STRATEGIES["cache"], d=d)
                )
        # cache beyond its depth: record what it raises (once, at the first size).
        failure = None
        beyond = [d for d in sizes if d > cache_max]
        if beyond:
            _, failure = first_time(grad_thunk(f, 1, STRATEGIES["cache"], d=beyond[0]))

        def measure(cells: dict[tuple[str, int], Callable[[], Any]] = cells) -> Any:
            first = {}
            thunks = {}
            for key, thunk in cells.items():
                t1, status = first_time(thunk)
                if status == "ok":
                    first[f"{key[0]} d={key[1]}"] = t1
                    thunks[f"{key[0]} d={key[1]}"] = thunk
            return interleaved(
                thunks,
                first,
                repeats=opts.repeats,
                min_sample=opts.min_sample,
                cell_budget=opts.cell_budget,
                clock=opts.clock,
            )

        timings = in_big_stack_thread(measure)
        med = {k: v.median for k, v in timings.items()}
        rows_json = []
        names = ["naive", "cache", "cache (limit raised)", "memo", "tape"]
        for name in names:
            row: dict[str, Any] = {"strategy": name, "cells": {}}
            for d in sizes:
                key = f"{name} d={d}"
                if key in med:
                    row["cells"][d] = {
                        "median_s": med[key],
                        "floats_s": med[f"floats d={d}"],
                        "ratio": med[key] / med[f"floats d={d}"],
                        "rounds": len(timings[key].samples),
                    }
            rows_json.append(row)
        res["programs"][title] = {
            "sizes": sizes,
            "rows": rows_json,
            "floats_s": {d: med[f"floats d={d}"] for d in sizes},
            "cache_beyond_max": failure,
        }
    return res


def growth_markdown(res: dict[str, Any]) -> str:
    out = []
    for title, prog in res["programs"].items():
        sizes = prog["sizes"]
        d_labels = [f"d={d:,}".replace(",", " ") for d in sizes]
        header = ["strategy", *d_labels, "× per step", "slope", "µs/step"]
        rows = []
        for row in prog["rows"]:
            cells = row["cells"]
            if not cells:
                continue
            line = []
            for d in sizes:
                c = cells.get(d)
                if c is not None:
                    line.append(fmt_ratio(c["ratio"]))
                elif row["strategy"] == "cache" and d > res["cache_max_d"]:
                    line.append("RecursionError")
                else:
                    line.append("")
            done = sorted(cells)
            # Growth factor per extra step between the two largest d <= 20 of the row,
            # and the log-log slope between its two largest d (1 = linear).
            few = [d for d in done if d <= 20]
            per_step = slope = ""
            if len(few) >= 2:
                d0, d1 = few[-2], few[-1]
                factor = (cells[d1]["median_s"] / cells[d0]["median_s"]) ** (1 / (d1 - d0))
                per_step = f"{factor:.2f}"
            if len(done) >= 2 and done[-1] > 20:
                d0, d1 = done[-2], done[-1]
                grow = cells[d1]["median_s"] / cells[d0]["median_s"]
                slope = f"{math.log(grow) / math.log(d1 / d0):.2f}"
            us = cells[done[-1]]["median_s"] / done[-1] * 1e6
            rows.append([row["strategy"], *line, per_step, slope, f"{us:.3g}"])
        floats = [fmt_time(prog["floats_s"][d]) for d in sizes]
        rows.append(["(floats: time)", *floats, "", "", ""])
        out.append(f"**{title}**: time of `grad` as a multiple of the same code on floats\n")
        out.append(table(header, rows))
        out.append("")
    cache_max = res["cache_max_d"]
    out.append(
        f"cache ran to d = {cache_max} at the default recursion limit "
        f"({sys.getrecursionlimit()}): each step records 3 operations, and it recurses "
        "one Python frame per operation. memo computes its sensitivities B(1) on an "
        "explicit stack, so it runs at every d. 'cache (limit raised)' is cache with "
        "sys.setrecursionlimit(10**6) in a thread with a 512 MiB stack. '× per step': "
        "the time's growth factor per extra step between "
        "the two largest d ≤ 20 of the row (about 2 means exponential). 'slope': of log "
        "time against log d between the two largest d of the row (1 means linear). "
        "'µs/step': time per step at the largest d of the row."
    )
    return "\n".join(out)


# --- the deep chain, in a child process --------------------------------------------------


def _maxrss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def deep_child(steps: int) -> dict[str, Any]:
    """In this (child) process: floats, then tape grad, of the damped chain."""
    xs = [0.7]
    grad_thunk(damped_chain, 1, "tape", d=1000)()  # warm-up
    gc.collect()
    base = _maxrss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    damped_chain(xs, math, steps)
    floats_s, floats_cpu = time.perf_counter() - t0, time.process_time() - c0
    g = fad.grad(lambda xs: damped_chain(xs, fad.math, steps))
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        value = g(xs)[0]
        status = "ok"
    except RecursionError as exc:  # pragma: no cover - what the tape must never do
        value, status = math.nan, type(exc).__name__
    time_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    closed = 1.0
    y = xs[0]
    for _ in range(steps):
        closed *= 0.999 + 0.001 * math.cos(y)
        y = 0.999 * y + 0.001 * math.sin(y)
    return {
        "steps": steps,
        "ops": 4 * steps,
        "status": status,
        "grad": value,
        "closed_form": closed,
        "time_s": time_s,
        "cpu_s": cpu_s,
        "floats_s": floats_s,
        "floats_cpu_s": floats_cpu,
        "maxrss_mb": _maxrss_mb(),
        "base_mb": base,
    }


def deep(opts: argparse.Namespace) -> dict[str, Any]:
    steps = opts.deep_steps or (100_000 if opts.quick else 1_000_000)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-deep", str(steps)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH", "")]
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        child: dict[str, Any] = {"status": f"child failed: {proc.stderr.strip()[-300:]}"}
    else:
        child = json.loads(proc.stdout.strip().splitlines()[-1])
    errors = {}
    d = sys.getrecursionlimit() + 100
    for mode in ("memo", "naive"):
        try:
            grad_thunk(damped_chain, 1, mode, d=d)()
            errors[mode] = {"type": "none", "names_tape": False}
        except RecursionError as exc:
            errors[mode] = {
                "type": type(exc).__name__,
                "is_fad_error": isinstance(exc, FadRecursionError),
                "names_tape": 'mode="tape"' in str(exc),
                "message": str(exc),
            }
    return {"tape": child, "recursive_steps": d, "recursive": errors}


def deep_markdown(res: dict[str, Any]) -> str:
    c = res["tape"]
    out = []
    if c.get("status") == "ok":
        rows = [
            [
                f"{c['steps']:,}".replace(",", " "),
                f"{c['ops']:,}".replace(",", " "),
                fmt_time(c["time_s"]),
                fmt_time(c["floats_s"]),
                fmt_ratio(c["time_s"] / c["floats_s"]),
                f"{c['maxrss_mb'] - c['base_mb']:.0f} MB",
                f"{(c['maxrss_mb'] - c['base_mb']) * 2**20 / c['ops']:.0f}",
                f"{abs(c['grad'] - c['closed_form']) / abs(c['closed_form']):.1e}",
            ]
        ]
        out.append(
            table(
                [
                    "steps",
                    "operations",
                    "tape grad",
                    "floats",
                    "ratio",
                    "peak memory",
                    "bytes/op",
                    "rel. error vs closed form",
                ],
                rows,
            )
        )
    else:
        out.append(f"tape on the deep chain: {c.get('status')}")
    out.append("")
    out.append(
        f"On the same chain, {res['recursive_steps']} steps (deeper than the recursion limit):"
    )
    for mode, e in res["recursive"].items():
        if e["type"] == "none":
            out.append(f"- mode=\"{mode}\" differentiates it (no recursion).")
            continue
        names = "names mode=\"tape\"" if e["names_tape"] else "does NOT name the tape"
        out.append(f"- mode=\"{mode}\" raises {e['type']} ({names}).")
    out.append(
        "\nWall clock; peak memory is the child process's VmHWM after the call minus before "
        "it (after import and warm-up)."
    )
    return "\n".join(out)


# --- Rosenbrock: the cheap-gradient table, and memo with n inputs ---------------------


def cheap(opts: argparse.Namespace) -> dict[str, Any]:
    sizes = [100, 1000, 10_000, 100_000] if not opts.quick else [100, 1000, 10_000]
    small = [100, 300, 1000, 3000] if not opts.quick else [100, 300, 1000]
    thunks: dict[str, Callable[[], Any]] = {}
    for n in sizes:
        thunks[f"floats n={n}"] = float_thunk(rosenbrock, n)
        thunks[f"tape n={n}"] = grad_thunk(rosenbrock, n, "tape")
    for n in small:
        thunks.setdefault(f"floats n={n}", float_thunk(rosenbrock, n))
        thunks.setdefault(f"tape n={n}", grad_thunk(rosenbrock, n, "tape"))
        for mode in ("naive", "memo"):  # the loop's sum is a chain of 2n additions
            thunks[f"{mode} n={n}"] = with_deep_recursion(grad_thunk(rosenbrock, n, mode))

    def measure() -> Any:
        first = {k: first_time(t)[0] for k, t in thunks.items()}
        return interleaved(
            thunks,
            first,
            repeats=opts.repeats,
            min_sample=opts.min_sample,
            cell_budget=opts.cell_budget,
            clock=opts.clock,
        )

    timings = in_big_stack_thread(measure)
    med: dict[str, float] = {k: v.median for k, v in timings.items()}

    def ratio(mode: str, n: int) -> float:
        return med[f"{mode} n={n}"] / med[f"floats n={n}"]

    tape = {n: ratio("tape", n) for n in sizes}
    spread_from = 1000 if 1000 in tape else sizes[0]
    flat = max(v for n, v in tape.items() if n >= spread_from) / min(
        v for n, v in tape.items() if n >= spread_from
    )
    return {
        "sizes": sizes,
        "tape_ratio": tape,
        "floats_s": {n: med[f"floats n={n}"] for n in sizes},
        "tape_s": {n: med[f"tape n={n}"] for n in sizes},
        "spread": flat,
        "spread_from": spread_from,
        "n_inputs": {
            "sizes": small,
            "ratio": {m: {n: ratio(m, n) for n in small} for m in ("naive", "memo", "tape")},
        },
    }


def cheap_markdown(res: dict[str, Any]) -> str:
    sizes = res["sizes"]
    n_label = [f"n = {n:,}".replace(",", " ") for n in sizes]
    rows = [
        ["tape grad / floats", *[fmt_ratio(res["tape_ratio"][n]) for n in sizes]],
        ["tape grad (time)", *[fmt_time(res["tape_s"][n]) for n in sizes]],
        ["floats (time)", *[fmt_time(res["floats_s"][n]) for n in sizes]],
    ]
    out = [
        "**Cheap gradient**: Rosenbrock, a Python loop over n scalars\n",
        table(["", *n_label], rows),
        "",
        f"Largest over smallest ratio from n = {res['spread_from']:,} up: "
        f"{res['spread']:.2f} (flat means within 1.25).",
        "",
        "**n inputs**: the same function, every strategy, as a multiple of floats\n",
    ]
    small = res["n_inputs"]["sizes"]
    rows = [
        [m, *[fmt_ratio(res["n_inputs"]["ratio"][m][n]) for n in small]]
        for m in ("naive", "memo", "tape")
    ]
    out.append(table(["strategy", *[f"n = {n}" for n in small]], rows))
    out.append(
        "\nmemo's sensitivities are sparse vectors over the inputs: the running sum of the "
        "loop depends on every input seen so far, so B(1) of the k-th partial sum has k "
        "entries and the whole costs O(n²) (the ratio grows like n once that term "
        "dominates), while the tape's ratio stays flat. naive is linear on this program: "
        "no value is reused along a chain. naive and memo run here with the recursion "
        "limit raised (10⁶, in a thread with a 512 MiB stack): at the default limit "
        "neither reaches n = 1000, the sum being a chain of 2n additions."
    )
    return "\n".join(out)


# --- memory -----------------------------------------------------------------------------


def peak_bytes(thunk: Callable[[], Any]) -> float:
    """Peak traced memory of one call of ``thunk`` above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        thunk()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return float(peak - base)


def memory(opts: argparse.Namespace) -> dict[str, Any]:
    workloads: dict[str, tuple[Callable[..., Any], int, dict[str, Any], dict[str, Any]]] = {
        # title: (program, inputs, kwargs, per-mode overrides of kwargs)
        "y = 0.9 sin(y) + 0.1, d = 250 (no reuse)": (plain_chain, 1, {"d": 250}, {}),
        "y = sin(y)*y + 0.5, d = 300": (
            reuse_chain,
            1,
            {"d": 300},
            {"naive": {"d": 12 if opts.quick else 14}},
        ),
        "the same from y = x₀·x₁ (2 inputs), d = 300": (
            reuse_chain2,
            2,
            {"d": 300},
            {"naive": {"d": 12 if opts.quick else 14}},
        ),
        "Rosenbrock, n = 200": (rosenbrock, 200, {}, {}),
        "Rosenbrock, n = 10 000 (tape only)": (
            rosenbrock,
            10_000,
            {},
            {"memo": None, "naive": None},
        ),
    }
    res: dict[str, Any] = {}
    for title, (f, n, kw, override) in workloads.items():
        row: dict[str, Any] = {}
        for mode in ("naive", "memo", "tape"):
            if mode in override and override[mode] is None:
                continue
            args = {**kw, **(override.get(mode) or {})}
            xs = [0.3 + 0.4 * ((i * 7) % 11) / 11 for i in range(n)]
            ops = count_ops(functools.partial(f, **args), xs)
            thunk = grad_thunk(f, n, STRATEGIES[mode], **args)
            thunk()  # warm-up
            b = peak_bytes(thunk)
            row[mode] = {"ops": ops, "peak_bytes": b, "per_op": b / ops, "kwargs": args}
        res[title] = row
    return res


def memory_markdown(res: dict[str, Any]) -> str:
    rows = []
    for title, row in res.items():
        line = [title]
        for mode in ("naive", "memo", "tape"):
            c = row.get(mode)
            if c is None:
                line.append("")
                continue
            note = f" (d = {c['kwargs']['d']})" if c["kwargs"] != row["tape"]["kwargs"] else ""
            line.append(f"{c['per_op']:,.0f}{note}".replace(",", " "))
        line.append(f"{row['tape']['ops']:,}".replace(",", " "))
        rows.append(line)
    return "\n".join(
        [
            "**Memory**: peak bytes allocated during one `grad` call, per recorded operation "
            "(tracemalloc)\n",
            table(["program", "naive", "memo", "tape", "operations"], rows),
            "",
            "Peak of tracemalloc during the call, over the operations the function "
            "records. naive keeps a closure per value; with several inputs its "
            "backpropagators return lazy sums, one leaf per path. memo keeps a "
            "backpropagator object and a sensitivity dict per value, as large as the number "
            "of inputs the value depends on. The tape keeps two edges per operation in "
            "lists of numbers, and one adjoint per value during the backward pass.",
        ]
    )


# --- plots -------------------------------------------------------------------------------


def plot(res: dict[str, Any], path: Path) -> bool:
    """Time against d for each strategy (log-log); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    programs = res.get("growth", {}).get("programs", {})
    panels = len(programs) + (1 if "rosenbrock" in res else 0)
    if not panels:
        return False
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.4), squeeze=False)
    for ax, (title, prog) in zip(axes[0], programs.items(), strict=False):
        for row in prog["rows"]:
            pts = sorted((int(d), c["median_s"]) for d, c in row["cells"].items())
            if pts:
                ds, ts = zip(*pts, strict=True)
                ax.plot(ds, [t * 1e3 for t in ts], marker="o", label=row["strategy"])
        fl = sorted((int(d), t) for d, t in prog["floats_s"].items())
        ax.plot([d for d, _ in fl], [t * 1e3 for _, t in fl], "k--", label="floats")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("d (steps)")
        ax.set_ylabel("ms per grad")
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    if "rosenbrock" in res:
        ax = axes[0][-1]
        r = res["rosenbrock"]
        ax.plot(r["sizes"], [r["tape_ratio"][n] for n in r["sizes"]], marker="o", label="tape")
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("n (dimensions)")
        ax.set_ylabel("grad time / float time")
        ax.set_title("Rosenbrock: cheap gradient", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


# --- main --------------------------------------------------------------------------------

SECTIONS = ("growth", "deep", "rosenbrock", "memory")


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="benchmarks/strategies.py", description=__doc__.splitlines()[0]
    )
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (~30 s)")
    p.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="cpu",
        help="clock for samples: process CPU time (default; steadier on a shared machine) or wall",
    )
    p.add_argument("--repeats", type=int, help="samples per cell (default 7, quick 3)")
    p.add_argument("--deep-steps", type=int, help="steps of the deep chain (default 10⁶)")
    p.add_argument("--json", type=Path, help="where to write the JSON (default results/)")
    p.add_argument(
        "--write-docs", action="store_true", help="put the tables into docs/strategies.md"
    )
    p.add_argument("--from-json", type=Path, help="render a saved run instead of measuring")
    p.add_argument("--child-deep", type=int, help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    if opts.repeats is None:
        opts.repeats = 3 if opts.quick else 7
    opts.min_sample = 0.02 if opts.quick else 0.1
    opts.cell_budget = 0.5 if opts.quick else 4.0
    return opts


DOCS = Path(__file__).resolve().parent.parent / "docs" / "strategies.md"
BEGIN, END = "<!-- strategies-tables:begin -->", "<!-- strategies-tables:end -->"
RENDER: dict[str, Callable[[dict[str, Any]], str]] = {
    "growth": lambda r: growth_markdown(r),
    "deep": lambda r: deep_markdown(r),
    "rosenbrock": lambda r: cheap_markdown(r),
    "memory": lambda r: memory_markdown(r),
}


def _int_keys(obj: Any) -> Any:
    """JSON turns int keys into strings: turn them back (to re-render a saved run)."""
    if isinstance(obj, dict):
        return {
            (int(k) if isinstance(k, str) and k.isdigit() else k): _int_keys(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_int_keys(v) for v in obj]
    return obj


def heading(res: dict[str, Any]) -> str:
    info = res["machine"]
    return (
        f"fad reverse strategies, {info['date']}, {info['python']}, {info['nproc']} CPUs "
        f"({info['cpu']}), load {info['loadavg']}, clock {res['clock']}"
        f"{', quick' if res['quick'] else ''}"
    )


def write_docs(res: dict[str, Any], command: str) -> None:
    """Put the tables of ``res`` between the markers of docs/strategies.md."""
    parts = [f"Measured with `{command}`: {heading(res)}."]
    parts += [RENDER[name](res[name]) for name in SECTIONS if name in res]
    body = "\n\n".join(parts)
    text = DOCS.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        msg = f"{DOCS} has no {BEGIN} ... {END} markers to put the tables between."
        raise SystemExit(msg)
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOCS.write_text(f"{head}{BEGIN}\n\n{body}\n\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections, print their tables, write the JSON (and plots)."""
    args = list(sys.argv[1:] if argv is None else argv)
    opts = _parse(args)
    if opts.child_deep:
        print(json.dumps(deep_child(opts.child_deep)))
        return 0
    command = " ".join(
        ["python benchmarks/strategies.py", *(a for a in args if a != "--write-docs")]
    )
    if opts.from_json:
        saved: dict[str, Any] = _int_keys(json.loads(opts.from_json.read_text(encoding="utf-8")))
        print(heading(saved) + "\n")
        for name in SECTIONS:
            if name in saved:
                print(RENDER[name](saved[name]) + "\n")
        if opts.write_docs:
            write_docs(saved, saved.get("command", command))
            print(f"tables written to {DOCS}")
        return 0
    sections = opts.only.split(",") if opts.only else list(SECTIONS)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        print(f"benchmarks/strategies.py: unknown sections {sorted(unknown)}; use {SECTIONS}.")
        return 2
    info = machine({"fad": "0.1.0", "python": sys.version.split()[0]})
    res: dict[str, Any] = {
        "machine": info,
        "quick": opts.quick,
        "clock": opts.clock,
        "command": command,
    }
    print(heading(res) + "\n")
    # Everything is imported now: freeze it out of the cycle collector (as compare.py
    # does), so that a full collection during a sample scans what the sample made, not
    # the modules that happen to be loaded in this process.
    gc.collect()
    gc.freeze()
    runs = {"growth": growth, "deep": deep, "rosenbrock": cheap, "memory": memory}
    for name in sections:
        t0 = time.perf_counter()
        res[name] = runs[name](opts)
        print(RENDER[name](res[name]))
        print(f"\n({name}: {time.perf_counter() - t0:.0f} s)\n", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = opts.json or RESULTS / ("strategies-quick.json" if opts.quick else "strategies.json")
    path.write_text(json.dumps(res, indent=1, default=str), encoding="utf-8")
    print(f"JSON: {path}")
    png = path.with_suffix(".png")
    if plot(res, png):
        print(f"plot: {png}")
    if opts.write_docs:
        write_docs(res, command)
        print(f"tables written to {DOCS}")
        if png.exists():
            shutil.copyfile(png, DOCS.parent / "img" / "strategies.png")
            print(f"plot copied to {DOCS.parent / 'img' / 'strategies.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
