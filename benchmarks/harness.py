"""Timing, progress and machine description for the benchmark scripts.

Timing rules (every figure in the tables follows them):

- Each library's call is first run once (warm-up, compilation for ``jax.jit``,
  cross-check of its answer); that first time is kept apart as ``first_s``.
- One *sample* runs the call ``number`` times in a row, ``number`` chosen from the
  warm-up so that a sample lasts at least ``min_sample`` seconds; ``gc.collect()``
  runs before each sample, outside the timing, and the collector stays on inside it
  (reference cycles are part of a library's cost; ``--gc-off`` turns it off inside
  samples, as ``timeit`` does). The libraries' modules, imported before any timing,
  are frozen out of the collector (``gc.freeze``), so that a library's collections
  do not scan the other libraries' objects.
- Samples of the libraries are *interleaved*: round r times every library once, in
  an order rotated by r, so a change of machine load hits all of them alike.
- The figure is the median of a library's samples, per call.
- The clock is the wall clock (``time.perf_counter``) or, with ``--clock cpu``, the
  CPU time of the process (``time.process_time``: all its threads, none of the time
  it waits for a core), the steadier measure on a machine shared with other work.
  Both are recorded in the JSON.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CLOCKS", "Progress", "Timing", "interleaved", "machine"]

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


class Progress:
    """A one-line progress bar on stderr (no dependency); silent when not a terminal."""

    def __init__(self, total: int, *, enabled: bool | None = None) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.start = time.perf_counter()
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def advance(self, steps: int = 1, label: str = "") -> None:
        self.done = min(self.done + steps, self.total)
        if not self.enabled:
            return
        width = 30
        filled = width * self.done // self.total
        elapsed = time.perf_counter() - self.start
        bar = "#" * filled + "." * (width - filled)
        line = f"\r[{bar}] {self.done}/{self.total} {elapsed:5.0f}s {label}"[:110]
        sys.stderr.write(line.ljust(110))
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 110 + "\r")
            sys.stderr.flush()


@dataclass
class Timing:
    """The samples of one library on one workload size (seconds per call)."""

    number: int
    rounds: int
    samples: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def interleaved(
    thunks: dict[str, Callable[[], Any]],
    first: dict[str, float],
    *,
    repeats: int,
    min_sample: float,
    cell_budget: float,
    gc_off: bool = False,
    clock: str = "wall",
    progress: Progress | None = None,
    label: str = "",
) -> dict[str, Timing]:
    """Time every thunk ``repeats`` times, interleaved; see the module docstring.

    ``first`` holds each thunk's warm-up time, from which ``number`` is chosen; a slow
    library gets fewer rounds, so that its samples stay within ``cell_budget`` seconds.
    """
    timings: dict[str, Timing] = {}
    for name, t1 in first.items():
        t1 = max(t1, 1e-7)
        number = max(1, min(100_000, int(min_sample / t1) + 1)) if t1 < min_sample else 1
        rounds = max(1, min(repeats, int(cell_budget / (t1 * number))))
        timings[name] = Timing(number, rounds)
    names = list(thunks)
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)] if names else []
        for name in order:
            tm = timings[name]
            if r >= tm.rounds:
                continue
            thunk = thunks[name]
            gc.collect()
            if gc_off:
                gc.disable()
            try:
                w0, c0 = time.perf_counter(), time.process_time()
                for _ in range(tm.number):
                    thunk()
                tm.wall.append((time.perf_counter() - w0) / tm.number)
                tm.cpu.append((time.process_time() - c0) / tm.number)
                tm.samples.append(tm.cpu[-1] if clock == "cpu" else tm.wall[-1])
            finally:
                gc.enable()
        if progress is not None:
            progress.advance(1, label)
    return timings


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(versions: dict[str, str]) -> dict[str, Any]:
    """What the figures were measured on: CPUs, load, Python, library versions, date."""
    try:
        load: Sequence[float] = os.getloadavg()
    except OSError:  # pragma: no cover - not on Linux
        load = ()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "loadavg": [round(x, 2) for x in load],
        "versions": versions,
    }
