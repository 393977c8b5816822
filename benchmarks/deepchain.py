"""One library's gradient of a deep chain, alone in this process: time and peak memory.

``compare.py`` runs this once per library, so that each peak resident set size
(``VmHWM``, else ``getrusage().ru_maxrss``) belongs to one library only. Usage::

    python benchmarks/deepchain.py --lib fad --depth 333333

prints one JSON line: ``status``, ``time_s`` and ``cpu_s`` (wall clock and CPU time
of forward + backward, from a float to the derivative), ``maxrss_mb`` (the process's
peak) and ``base_mb`` (the peak after the import and a warm-up on a short chain,
before the measured call).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import workloads as W
from benchmarks.libs import LIBRARIES, Library


def _maxrss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux's ``VmHWM`` first: ``getrusage``'s ``ru_maxrss`` survives ``exec`` and so
    would start at the parent's peak at the time of the fork.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _library(name: str) -> Library:
    aliases = {"plain": "plain floats"}
    for cls in LIBRARIES:
        lib = cls()
        if lib.name == aliases.get(name, name):
            return lib
    msg = f"deepchain.py: no library named {name!r}."
    raise SystemExit(msg)


def main(argv: list[str] | None = None) -> int:
    """Measure one library; print the JSON line."""
    p = argparse.ArgumentParser(prog="benchmarks/deepchain.py", description=__doc__.splitlines()[0])
    p.add_argument("--lib", required=True)
    p.add_argument("--depth", type=int, required=True)
    opts = p.parse_args(argv)
    lib = _library(opts.lib)
    lib.load()

    def thunk(depth: int) -> Any:
        def f(xs: Any, m: Any) -> Any:
            return W.chain(xs, m, depth)

        if lib.name == "plain floats":
            return lib.value(f, [0.7])
        return lib.grad(f, None, (), [0.7])

    out: dict[str, Any] = {"status": "ok"}
    thunk(10)()
    out["base_mb"] = _maxrss_mb()
    run = thunk(opts.depth)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        raw = run()
        out["time_s"] = time.perf_counter() - t0
        out["cpu_s"] = time.process_time() - c0
        out["answer"] = lib.to_floats(raw)
    except RecursionError:
        out = {"status": "error", "reason": "RecursionError (recursive backward pass)"}
    except MemoryError:
        out = {"status": "error", "reason": "MemoryError"}
    out["maxrss_mb"] = _maxrss_mb()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
