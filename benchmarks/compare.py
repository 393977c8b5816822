"""fad against micrograd, autograd, JAX and PyTorch on the same scalar Python code.

Usage (from the repository root; the peers come with ``pip install -e .[bench]``)::

    python benchmarks/compare.py                 # the full suite (10-20 minutes)
    python benchmarks/compare.py --quick         # under a minute, smaller sizes
    python benchmarks/compare.py --only rosenbrock,mlp --libs fad,torch
    python benchmarks/compare.py --write-docs    # full run, then rewrite docs/benchmarks.md
    python benchmarks/compare.py --from-json benchmarks/results/latest.json --write-docs

Every figure is a ratio measured in the same run: each library's time per call against
the same function on plain floats, and each peer against fad (``fad N×`` = the peer
takes N times as long as fad). Times are medians of interleaved samples (see
``harness.py``); "µs/op" divides by the number of primal scalar operations of the
plain-float version. Every library's answer is checked against fad's before timing.
A library that is not installed, or cannot express a workload, is skipped with its
reason; a size whose time per call, extrapolated from the smaller sizes, exceeds
``--budget`` is timed once (full run, estimate up to 60 s) or skipped.
Tables are printed as Markdown and written, with all samples, to
``benchmarks/results/`` as JSON (and PNG plots when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import workloads as W
from benchmarks.harness import CLOCKS, Progress, interleaved, machine
from benchmarks.libs import LIBRARIES, Library, NotApplicable, Unsupported, VecWorkload, Workload

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"


# --- the workloads and their sizes ---------------------------------------------------


@dataclass
class Case:
    """One size of one workload: the function, its inputs, and its primal op count."""

    f: Workload
    xs: list[float]
    vec: VecWorkload | None = None
    data: tuple[Any, ...] = ()
    order: int = 0


@dataclass
class Spec:
    """A workload: what is differentiated, how, at which sizes."""

    name: str
    title: str
    kind: str  # "grad", "hessian" or "nth"
    size_label: str
    sizes: Sequence[int]
    quick_sizes: Sequence[int]
    make: Callable[[int], Case]
    per: str = "op"  # report µs per primal "op", or ms per "call"
    growth: str = "power"  # how to extrapolate the cost of the next size
    quick_skip: frozenset[str] = frozenset()  # libraries too slow for --quick


def _rosen_xs(n: int) -> list[float]:
    return [0.5 + 0.5 * math.sin(1.7 * i) for i in range(n)]


def _chain_case(d: int) -> Case:
    return Case(lambda xs, m: W.chain(xs, m, d), [0.7])


_MLP_INPUTS = [[x0, x1] for x0, x1, _ in W.MLP_DATA]
_MLP_TARGETS = [t for _, _, t in W.MLP_DATA]

SPECS = [
    Spec(
        "newton",
        "Newton square root, 20 steps: gradient",
        "grad",
        "steps",
        [20],
        [20],
        lambda n: Case(W.newton_sqrt, [2.0]),
    ),
    Spec(
        "rosenbrock",
        "Rosenbrock, scalar loop: gradient",
        "grad",
        "n",
        [10, 100, 1000, 10_000],
        [10, 100, 1000],
        lambda n: Case(W.rosenbrock, _rosen_xs(n), W.rosenbrock_vectorised),
    ),
    Spec(
        "chain",
        "Reuse-heavy chain y = sin(y)·y + 0.5: gradient",
        "grad",
        "d",
        [10, 100, 1000, 10_000],
        [10, 100, 1000],
        _chain_case,
    ),
    Spec(
        "mlp",
        "2-16-16-1 tanh MLP, squared loss on 50 points: gradient (337 weights)",
        "grad",
        "points",
        [50],
        [50],
        lambda n: Case(
            W.mlp_loss, W.mlp_init(), W.mlp_loss_vectorised, (_MLP_INPUTS, _MLP_TARGETS)
        ),
    ),
    Spec(
        "hessian",
        "Hessian of Rosenbrock, n = 30",
        "hessian",
        "n",
        [30],
        [30],
        lambda n: Case(W.rosenbrock, _rosen_xs(n), W.rosenbrock_vectorised),
        per="call",
        quick_skip=frozenset({"jax", "jax [vectorised]"}),
    ),
    Spec(
        "nth",
        "k-th derivative of exp(sin x) at x = 0.5",
        "nth",
        "k",
        [2, 4, 6, 8, 10],
        [4, 7, 10],
        lambda k: Case(W.exp_sin, [0.5], order=k),
        per="call",
        growth="exp",
    ),
]


# --- running -------------------------------------------------------------------------


@dataclass
class Cell:
    """One library on one size: its status, timing and answer's deviation from fad's."""

    status: str = "ok"  # "ok", "skipped" or "error"
    reason: str = ""
    first_s: float | None = None
    median_s: float | None = None
    samples: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    number: int = 0
    rel_err: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "", [])}


def _thunk(lib: Library, spec: Spec, case: Case) -> Callable[[], Any]:
    if lib.name == "plain floats":
        xs = case.xs
        return lib.value(case.f, xs)
    if spec.kind == "grad":
        return lib.grad(case.f, case.vec, case.data, case.xs)
    if spec.kind == "hessian":
        return lib.hessian(case.f, case.vec, case.xs)
    return lib.nth(case.f, case.xs[0], case.order)


def _rel_err(a: Any, b: Any) -> float:
    """max |a − b| / max(1, max |b|) over nested lists of floats."""
    fa, fb = _flat(a), _flat(b)
    if len(fa) != len(fb):
        return math.inf
    scale = max([1.0, *(abs(v) for v in fb)])
    return max((abs(x - y) for x, y in zip(fa, fb, strict=True)), default=0.0) / scale


def _flat(x: Any) -> list[float]:
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flat(item)]
    return [float(x)]


def _estimate(history: list[tuple[int, float]], size: int, growth: str) -> float | None:
    """Extrapolated seconds per call at ``size`` from the sizes measured so far."""
    if not history:
        return None
    s1, t1 = history[-1]
    if len(history) == 1:
        return t1 * size / s1 if growth == "power" else t1 * 3.0 ** (size - s1)
    s0, t0 = history[-2]
    if growth == "exp":
        rate = max(t1 / max(t0, 1e-9), 1.0) ** (1.0 / (s1 - s0))
        return float(t1 * rate ** (size - s1))
    slope = max(math.log(max(t1, 1e-9) / max(t0, 1e-9)) / math.log(s1 / s0), 1.0)
    return float(t1 * (size / s1) ** slope)


@dataclass
class Settings:
    repeats: int
    min_sample: float
    budget: float
    max_single: float
    cell_budget: float
    quick: bool
    gc_off: bool
    clock: str
    deep_ops: int
    deep_timeout: float
    deep_libs: list[str]


_PER_OP: dict[str, float] = {}
"""Each library's latest seconds per primal op on a gradient: first guess for a new workload."""


def run_spec(
    spec: Spec, sizes: Sequence[int], libs: list[Library], st: Settings, progress: Progress
) -> dict[str, Any]:
    """Measure every library on every size of ``spec``; return the JSON-ready result."""
    out: dict[str, Any] = {
        "name": spec.name,
        "title": spec.title,
        "kind": spec.kind,
        "per": spec.per,
        "growth": spec.growth,
        "size_label": spec.size_label,
        "sizes": [],
    }
    history: dict[str, list[tuple[int, float]]] = {lib.name: [] for lib in libs}
    dead: dict[str, str] = {}
    for size in sizes:
        case = spec.make(size)
        ops = W.count_ops(case.f, case.xs)
        cells: dict[str, Cell] = {}
        thunks: dict[str, Callable[[], Any]] = {}
        first: dict[str, float] = {}
        reference: Any = None
        reference_name = ""
        label = f"{spec.name} {spec.size_label}={size}"
        for lib in libs:
            cell = cells[lib.name] = Cell()
            progress.advance(1, f"{label} {lib.name}")
            if lib.name in dead:
                cell.status, cell.reason = "skipped", dead[lib.name]
                continue
            try:
                thunk = _thunk(lib, spec, case)
            except NotApplicable:
                del cells[lib.name]
                continue
            except Unsupported as exc:
                cell.status, cell.reason = "skipped", str(exc)
                continue
            if st.quick and lib.name in spec.quick_skip:
                cell.status, cell.reason = "skipped", "seconds per call: left out of --quick"
                continue
            estimate = _estimate(history[lib.name], size, spec.growth)
            if estimate is None and spec.kind == "grad" and lib.name in _PER_OP:
                estimate = _PER_OP[lib.name] * ops
            if estimate is not None and estimate > st.budget:
                over = f"estimated {estimate:.3g} s per call, over the --budget of {st.budget:g} s"
                dead[lib.name] = "over the --budget at a smaller size"
                if estimate > st.max_single:
                    cell.status, cell.reason = "skipped", over
                    continue
                cell.reason = over
            now = CLOCKS[st.clock]
            try:
                t0 = now()
                raw = thunk()
                t1 = cell.first_s = now() - t0
                if t1 <= 3 * st.budget and not cell.reason:  # warm caches and compiled kernels
                    t0 = now()
                    thunk()
                    t1 = now() - t0
            except RecursionError:
                cell.status, cell.reason = "error", "RecursionError (recursive backward pass)"
                dead[lib.name] = "RecursionError at a smaller size"
                continue
            except Exception as exc:
                cell.status, cell.reason = (
                    "error",
                    f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}",
                )
                traceback.print_exc(limit=2, file=sys.stderr)
                continue
            history[lib.name].append((size, t1))
            if lib.name != "plain floats":
                answer = lib.to_floats(raw)
                if reference is None:
                    reference, reference_name = answer, lib.name
                else:
                    cell.rel_err = _rel_err(answer, reference)
                    if cell.rel_err > 1e-6:
                        cell.reason = (
                            f"answer differs from {reference_name}'s "
                            f"(relative error {cell.rel_err:.2g})"
                        )
            if t1 > st.budget:
                cell.samples, cell.number, cell.median_s = [t1], 1, t1
                cell.reason = (cell.reason + "; " if cell.reason else "") + "one run"
                continue
            thunks[lib.name], first[lib.name] = thunk, t1
        timings = interleaved(
            thunks,
            first,
            repeats=st.repeats,
            min_sample=st.min_sample,
            cell_budget=st.cell_budget,
            gc_off=st.gc_off,
            clock=st.clock,
            progress=progress,
            label=label,
        )
        for name, tm in timings.items():
            cell = cells[name]
            cell.samples, cell.number, cell.median_s = tm.samples, tm.number, tm.median
            cell.wall, cell.cpu = tm.wall, tm.cpu
            history[name][-1] = (size, tm.median)
            if spec.kind == "grad":
                _PER_OP[name] = tm.median / ops
        out["sizes"].append(
            {"size": size, "ops": ops, "cells": {k: c.as_json() for k, c in cells.items()}}
        )
    return out


def run_deep(st: Settings, progress: Progress) -> dict[str, Any]:
    """The deep chain, one child process per library: time and peak memory (maxrss)."""
    depth = st.deep_ops // 3
    out: dict[str, Any] = {"ops": 3 * depth, "depth": depth, "cells": {}}
    script = Path(__file__).resolve().parent / "deepchain.py"
    for name in st.deep_libs:
        progress.advance(1, f"deep chain {3 * depth} ops {name}")
        cmd = [sys.executable, str(script), "--lib", name, "--depth", str(depth)]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=st.deep_timeout, check=False
            )
        except subprocess.TimeoutExpired:
            out["cells"][name] = {
                "status": "skipped",
                "reason": f"over the {st.deep_timeout:g} s timeout",
            }
            continue
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if lines:
            cell = out["cells"][name] = json.loads(lines[-1])
            if cell.get("status") == "ok":
                cell["seconds"] = cell["cpu_s"] if st.clock == "cpu" else cell["time_s"]
                ref = out["cells"].get("fad", {}).get("answer")
                if name not in ("plain", "fad") and ref is not None:
                    cell["rel_err"] = _rel_err(cell["answer"], ref)
        else:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            out["cells"][name] = {
                "status": "error",
                "reason": f"exit {proc.returncode}: {tail[:160]}",
            }
    return out


# --- reporting -----------------------------------------------------------------------


def _fmt_time(s: float) -> str:
    if s >= 1.0:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def _fmt_ratio(r: float) -> str:
    return f"{r:.2g}×" if r < 10 else f"{r:.0f}×"


def _cell_text(spec: dict[str, Any], row: dict[str, Any], name: str, fad_name: str) -> str:
    cell = row["cells"].get(name)
    if cell is None:
        return ""
    if cell.get("status") != "ok":
        return "—"
    t = cell["median_s"]
    main = f"{t / row['ops'] * 1e6:.3g} µs" if spec["per"] == "op" else _fmt_time(t)
    plain = row["cells"].get("plain floats", {}).get("median_s")
    fad_t = row["cells"].get(fad_name, {}).get("median_s")
    notes = []
    if name == "plain floats":
        pass
    elif name.startswith("fad") and plain:
        notes.append(f"{_fmt_ratio(t / plain)} floats")
    elif fad_t:
        notes.append(f"fad {_fmt_ratio(t / fad_t)}")
    if cell.get("number") == 1 and len(cell.get("samples", [])) == 1:
        notes.append("1 run")
    if cell.get("rel_err", 0.0) > 1e-6:
        notes.append("**differs**")
    return main + (f" ({', '.join(notes)})" if notes else "")


def spec_table(spec: dict[str, Any]) -> str:
    """One Markdown table: a row per library, a column per size."""
    rows = spec["sizes"]
    names = list(dict.fromkeys(name for row in rows for name in row["cells"]))
    unit = "µs per primal op" if spec["per"] == "op" else "time per call"
    head = [f"library ({unit})"] + [
        f"{spec['size_label']} = {r['size']} ({r['ops']} ops)" for r in rows
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    reasons: dict[str, str] = {}
    for name in names:
        texts = [_cell_text(spec, row, name, "fad") for row in rows]
        if all(t in ("", "—") for t in texts):
            why = next(
                (row["cells"][name].get("reason", "") for row in rows if name in row["cells"]), ""
            )
            if why:
                reasons[name] = why
            continue
        lines.append(f"| {name} | " + " | ".join(texts) + " |")
        for row in rows:
            cell = row["cells"].get(name, {})
            if cell.get("reason"):
                reasons.setdefault(
                    f"{name} at {spec['size_label']} = {row['size']}", cell["reason"]
                )
    out = "\n".join(lines)
    if reasons:
        out += "\n\n" + "\n".join(f"- {k}: {v}" for k, v in reasons.items())
    return out


def deep_table(deep: dict[str, Any]) -> str:
    lines = [
        f"Chain y = sin(y)·y + 0.5, depth {deep['depth']} ({deep['ops']} primal ops), "
        "gradient; one child process per library, peak resident memory (VmHWM).",
        "",
        "| library | time | µs per op | peak RSS | RSS above the warmed-up process |",
        "|---|---|---|---|---|",
    ]
    for name, c in deep["cells"].items():
        if c.get("status") != "ok":
            lines.append(f"| {name} | — ({c.get('reason', '')}) | | | |")
            continue
        differs = " (**differs** from fad)" if c.get("rel_err", 0.0) > 1e-6 else ""
        lines.append(
            f"| {name} | {_fmt_time(c['seconds'])}{differs} | "
            f"{c['seconds'] / deep['ops'] * 1e6:.3g} | "
            f"{c['maxrss_mb']:.0f} MB | {c['maxrss_mb'] - c['base_mb']:.0f} MB |"
        )
    return "\n".join(lines)


def _cell(res: dict[str, Any], spec: str, size: int, lib: str) -> dict[str, Any]:
    for s in res["specs"]:
        if s["name"] == spec:
            for row in s["sizes"]:
                if row["size"] == size:
                    return row["cells"].get(lib, {})  # type: ignore[no-any-return]
    return {}


def _median(res: dict[str, Any], spec: str, size: int, lib: str) -> tuple[float, int] | None:
    for s in res["specs"]:
        if s["name"] == spec:
            for row in s["sizes"]:
                if row["size"] == size:
                    cell = row["cells"].get(lib, {})
                    if cell.get("status") == "ok":
                        return cell["median_s"], row["ops"]
    return None


def _largest_common(res: dict[str, Any], spec: str, libs: Sequence[str]) -> int | None:
    for s in res["specs"]:
        if s["name"] == spec:
            ok = [
                row["size"]
                for row in s["sizes"]
                if all(row["cells"].get(lib, {}).get("status") == "ok" for lib in libs)
            ]
            return max(ok) if ok else None
    return None


def _ran_at_all(res: dict[str, Any], spec: str, lib: str) -> bool:
    """Whether ``lib`` has a cell in ``spec`` (it was installed and selected)."""
    return any(lib in row["cells"] for s in res["specs"] if s["name"] == spec for row in s["sizes"])


def targets(res: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each target of issue 6 this run can judge."""
    out: list[tuple[str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "**missed**")

    m = _median(res, "rosenbrock", 10_000, "fad")
    fastest = min(_cell(res, "rosenbrock", 10_000, "fad").get("samples") or [math.nan])
    out.append(
        (
            "tape grad, Rosenbrock n = 10⁴: ≤ 1 µs per primal op",
            f"{m[0] / m[1] * 1e6:.3g} µs (median; fastest sample {fastest / m[1] * 1e6:.3g} µs)"
            if m
            else "not run",
            verdict(m[0] / m[1] * 1e6 <= 1.0 if m else None),
        )
    )
    for peer, factor, size in (
        ("micrograd", 4, 100),
        ("torch", 7, None),
        ("autograd", 20, None),
        ("jax", 100, None),
    ):
        n = size or _largest_common(res, "rosenbrock", ["fad", peer])
        a, b = (_median(res, "rosenbrock", n, lib) if n else None for lib in ("fad", peer))
        text = f"{b[0] / a[0]:.3g}× at n = {n}" if a and b else "not run"
        out.append(
            (
                f"Rosenbrock gradient: ≥ {factor}× faster than {peer}"
                + (f" (n = {size})" if size else ""),
                text,
                verdict(b[0] / a[0] >= factor if a and b else None),
            )
        )
    a, b = _median(res, "mlp", 50, "fad"), _median(res, "mlp", 50, "micrograd")
    out.append(
        (
            "MLP gradient: ≥ 4× faster than micrograd",
            f"{b[0] / a[0]:.3g}×" if a and b else "not run",
            verdict(b[0] / a[0] >= 4 if a and b else None),
        )
    )
    for spec, size, what in (
        ("hessian", 30, "Hessian of Rosenbrock-30"),
        ("nth", 10, "10th derivative of exp(sin x)"),
    ):
        fad_t = _median(res, spec, size, "fad")
        peers = [(lib, _median(res, spec, size, lib)) for lib in ("autograd", "jax", "torch")]
        ran = [(lib, m) for lib, m in peers if m]
        if fad_t and ran:
            slowest = min(m[0] / fad_t[0] for _, m in ran)
            text = ", ".join(f"{lib} {m[0] / fad_t[0]:.3g}×" for lib, m in ran)
            missing = [lib for lib, m in peers if not m and _ran_at_all(res, spec, lib)]
            if missing:
                text += "; not timed: " + ", ".join(missing) + " (see below)"
            out.append(
                (
                    f"{what}: faster than every peer's eager nested version",
                    text,
                    verdict(slowest > 1),
                )
            )
        else:
            out.append((f"{what}: faster than every peer's eager nested version", "not run", "n/a"))
    deep = res.get("deep")
    if deep:
        f, t = deep["cells"].get("fad", {}), deep["cells"].get("torch", {})
        if f.get("status") == "ok" and t.get("status") == "ok":
            text = (
                f"{deep['ops']} ops: fad {_fmt_time(f['seconds'])}, {f['maxrss_mb']:.0f} MB; "
                f"torch {_fmt_time(t['seconds'])}, {t['maxrss_mb']:.0f} MB"
            )
            ok = f["seconds"] < t["seconds"] and f["maxrss_mb"] < t["maxrss_mb"]
            out.append(
                ("deep chain: fad tape in less time and memory than torch", text, verdict(ok))
            )
    return out


def render(res: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    mach = res["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in mach["versions"].items())
    parts = [
        f"- Date: {mach['date']}",
        f"- Machine: {mach['nproc']} CPUs, {mach['cpu']}; {mach['platform']}",
        f"- Load average at the start (the machine is shared): {mach['loadavg']}",
        f"- {mach['python']}; {versions}",
        f"- Command: `{res['command']}`",
        "- Clock: "
        + (
            "CPU time of the process (`time.process_time`), as the machine is shared"
            if res.get("settings", {}).get("clock") == "cpu"
            else "wall clock (`time.perf_counter`)"
        ),
        *(f"- Not installed: {line}" for line in res.get("skipped_libraries", [])),
        "",
        "Each cell: median time per primal scalar operation (or per call), forward and backward "
        "from plain floats to the gradient; in brackets, fad's time over the plain-float "
        "evaluation of the same function, or a peer's time over fad's (fad N× = fad is N times "
        "faster). [vectorised] rows run the array form of the same function, not the scalar code.",
        "",
        "### Targets (issue 6)",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in targets(res)),
    ]
    for spec in res["specs"]:
        parts += ["", f"### {spec['title']}", "", spec_table(spec)]
    if res.get("deep"):
        parts += ["", "### Deep chain: time and memory", "", deep_table(res["deep"])]
    return "\n".join(parts) + "\n"


def write_docs(markdown: str, section: str = "benchmarks") -> None:
    """Put ``markdown`` between the ``section`` markers of docs/benchmarks.md.

    The rest of the page is kept; markers that are missing are added at the end.
    """
    begin = f"<!-- {section}:begin (generated by benchmarks/"
    end = f"<!-- {section}:end -->"
    script = "compare.py" if section == "benchmarks" else f"{section}.py"
    begin_line = f"{begin}{script} --write-docs) -->"
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    if begin not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{begin_line}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    DOCS.write_text(f"{head}{begin_line}\n\n{markdown}\n{end}{tail}", encoding="utf-8")


def plot(res: dict[str, Any], path: Path) -> bool:
    """Log-log plots of µs per op (or time per call) against size; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    specs = [s for s in res["specs"] if len(s["sizes"]) > 1]
    if not specs:
        return False
    fig, axes = plt.subplots(1, len(specs), figsize=(5.5 * len(specs), 4.6), squeeze=False)
    order = [cls.name for cls in LIBRARIES]
    palette = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]  # no grey
    colours: dict[str, Any] = {n: palette[i % len(palette)] for i, n in enumerate(order[2:])}
    colours.update({"plain floats": "grey", "fad": "black"})
    for ax, spec in zip(axes[0], specs, strict=True):
        names = {n for row in spec["sizes"] for n in row["cells"]}
        for name in sorted(names, key=lambda n: order.index(n) if n in order else len(order)):
            pts = [
                (
                    row["size"],
                    row["cells"][name]["median_s"] / (row["ops"] if spec["per"] == "op" else 1),
                )
                for row in spec["sizes"]
                if row["cells"].get(name, {}).get("status") == "ok"
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                scale = 1e6 if spec["per"] == "op" else 1e3
                ax.plot(
                    xs,
                    [y * scale for y in ys],
                    marker="o",
                    label=name,
                    color=colours.get(name),
                    linestyle="--" if "vectorised" in name else "-",
                    linewidth=2.8 if name == "fad" else 1.2,
                )
        ax.set_xscale("log" if spec["growth"] == "power" else "linear")
        ax.set_yscale("log")
        ax.set_xlabel(spec["size_label"])
        ax.set_ylabel("µs per primal op" if spec["per"] == "op" else "ms per call")
        ax.set_title(spec["title"], fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6, loc="best", framealpha=0.6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


# --- main ----------------------------------------------------------------------------


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks/compare.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="smaller sizes, fewer repeats: under a minute"
    )
    p.add_argument(
        "--only", help="comma-separated workloads: " + ",".join(s.name for s in SPECS) + ",deep"
    )
    p.add_argument(
        "--libs", help="comma-separated libraries (fad,micrograd,autograd,jax,torch,...)"
    )
    p.add_argument("--repeats", type=int, help="samples per library and size (default 9, quick 3)")
    p.add_argument(
        "--budget",
        type=float,
        help="s per call: a size estimated slower runs once (up to 60 s), default 5, quick 0.3",
    )
    p.add_argument("--deep-ops", type=int, help="ops of the deep chain (default 10⁶, quick 3·10⁴)")
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall clock, or the process's CPU time (steadier on a busy machine)",
    )
    p.add_argument(
        "--gc-off",
        action="store_true",
        help="disable the garbage collector inside samples (as timeit does); default on",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--write-docs", action="store_true", help="rewrite the tables in docs/benchmarks.md"
    )
    p.add_argument("--from-json", type=Path, help="render a saved result instead of measuring")
    return p.parse_args(argv)


QUICK_SKIP = {"jax [vectorised]"}
"""Left out of --quick: eager JAX recompiles its array ops, about a second per call."""


def _select_libs(
    libs_opt: str | None, quick: bool
) -> tuple[list[Library], dict[str, str], list[str]]:
    wanted = None if libs_opt is None else {x.strip() for x in libs_opt.split(",")}
    libs: list[Library] = []
    versions: dict[str, str] = {}
    skipped: list[str] = []
    for cls in LIBRARIES:
        lib = cls()
        base = lib.name.split(" ")[0]
        if wanted is not None and lib.name != "plain floats" and not ({lib.name, base} & wanted):
            continue
        if quick and lib.name in QUICK_SKIP and (wanted is None or lib.name not in wanted):
            continue
        try:
            lib.load()
        except ImportError as exc:
            skipped.append(
                f"{lib.name}: not installed ({exc}); `pip install -e .[bench]` brings it"
            )
            continue
        versions.setdefault(lib.dist, lib.version)
        libs.append(lib)
    return libs, versions, skipped


def main(argv: list[str] | None = None) -> int:
    """Run the suite (or render a saved one); print Markdown; write JSON, PNG, docs."""
    opts = _parse(list(sys.argv[1:] if argv is None else argv))
    if opts.from_json:
        res = json.loads(opts.from_json.read_text(encoding="utf-8"))
    else:
        quick = opts.quick
        st = Settings(
            repeats=opts.repeats or (3 if quick else 9),
            min_sample=0.002 if quick else 0.02,
            budget=opts.budget or (0.3 if quick else 5.0),
            max_single=0.0 if quick else 60.0,
            quick=quick,
            gc_off=opts.gc_off,
            clock=opts.clock,
            cell_budget=0.5 if quick else 8.0,
            deep_ops=opts.deep_ops or (30_000 if quick else 1_000_000),
            deep_timeout=60.0 if quick else 600.0,
            deep_libs=[],
        )
        only = None if opts.only is None else {x.strip() for x in opts.only.split(",")}
        unknown = (only or set()) - {s.name for s in SPECS} - {"deep"}
        if unknown:
            print(
                f"compare.py: unknown workload(s) {sorted(unknown)} in --only; "
                f"choose from {[s.name for s in SPECS] + ['deep']}.",
                file=sys.stderr,
            )
            return 2
        libs, versions, skipped = _select_libs(opts.libs, quick)
        for line in skipped:
            print(f"skipped {line}", file=sys.stderr)
        # Every library is imported now. Freeze those modules out of the cycle collector,
        # so that no library's collections scan the others' (a few 100 000 objects for
        # torch and jax): as if each ran in a process of its own.
        gc.collect()
        gc.freeze()
        specs = [s for s in SPECS if only is None or s.name in only]
        run_deep_chain = only is None or "deep" in only
        st.deep_libs = [
            n
            for n in ("plain", "fad", "torch", "micrograd", "autograd")
            if n == "plain" or any(lib.name == n for lib in libs)
        ]
        if quick:
            st.deep_libs = [n for n in st.deep_libs if n != "autograd"]
        total = sum(
            len(s.quick_sizes if quick else s.sizes) * (len(libs) + st.repeats) for s in specs
        )
        total += len(st.deep_libs) if run_deep_chain else 0
        progress = Progress(total, enabled=False if opts.no_progress else None)
        command = "python benchmarks/compare.py " + " ".join(
            argv if argv is not None else sys.argv[1:]
        )
        res = {
            "machine": machine(versions),
            "command": command.strip(),
            "skipped_libraries": skipped,
            "settings": st.__dict__,
            "specs": [],
        }
        spent: dict[str, float] = {}
        for spec in specs:
            w0 = time.perf_counter()
            res["specs"].append(
                run_spec(spec, spec.quick_sizes if quick else spec.sizes, libs, st, progress)
            )
            spent[spec.name] = time.perf_counter() - w0
        if run_deep_chain:
            w0 = time.perf_counter()
            res["deep"] = run_deep(st, progress)
            spent["deep"] = time.perf_counter() - w0
        progress.close()
        res["seconds_per_workload"] = spent
        print(
            "wall seconds per workload: " + ", ".join(f"{k} {v:.0f}" for k, v in spent.items()),
            file=sys.stderr,
        )
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        for name in (f"compare-{stamp}.json", "latest.json"):
            (RESULTS / name).write_text(json.dumps(res, indent=1), encoding="utf-8")
        print(f"results: {RESULTS / f'compare-{stamp}.json'}", file=sys.stderr)
    markdown = render(res)
    print(markdown)
    plotted = plot(res, RESULTS / "compare.png")
    if plotted:
        print(f"plot: {RESULTS / 'compare.png'}", file=sys.stderr)
    if opts.write_docs:
        if plotted:
            shutil.copyfile(RESULTS / "compare.png", DOCS.parent / "img" / "benchmarks.png")
            markdown += "\n![Time per primal op and per call against size](img/benchmarks.png)\n"
        write_docs(markdown)
        print(f"rewrote the tables in {DOCS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
