"""What an immutable three-field tracer costs to make and to read, by construction.

fad makes one tracer per recorded operation, so the cost of building an immutable
``(primal, index, trace)`` record is on the hot path. This script measures the
options side by side, in one run, as ns per construction and per attribute read,
and as a ratio to a plain mutable ``__slots__`` class::

    python benchmarks/construction.py [--repeats 7]

Medians of interleaved ``timeit`` samples of CPU time (garbage collector off, as
timeit does).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import platform
import statistics
import sys
import time
import timeit
from collections import namedtuple
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path
from typing import Any

import attrs

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fad.tracers._build import twin


class Plain:
    """Mutable, slotted, hand-written ``__init__``: the reference."""

    __slots__ = ("index", "primal", "trace")

    def __init__(self, primal: Any, index: int, trace: Any) -> None:
        self.primal = primal
        self.index = index
        self.trace = trace


@attrs.frozen(eq=False)
class AttrsFrozen:
    primal: Any
    index: int
    trace: Any


@attrs.frozen(eq=False, weakref_slot=False)
class AttrsFrozenNoWeakref:
    """The same without a ``__weakref__`` slot, so that a mutable twin can become one."""

    primal: Any
    index: int
    trace: Any


@attrs.define(eq=False)
class AttrsMutable:
    primal: Any
    index: int
    trace: Any


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class DataclassFrozen:
    primal: Any
    index: int
    trace: Any


NamedTuple = namedtuple("NamedTuple", ["primal", "index", "trace"])


class TupleRecord(tuple[Any, Any, Any]):
    """A tuple subclass with named read-only fields."""

    __slots__ = ()
    primal = property(itemgetter(0))
    index = property(itemgetter(1))
    trace = property(itemgetter(2))


_new = object.__new__
_sets = tuple(AttrsFrozen.__dict__[f].__set__ for f in ("primal", "index", "trace"))


def attrs_frozen_bypass(primal: Any, index: int, trace: Any) -> AttrsFrozen:
    """The attrs frozen class built by ``object.__new__`` and the slots' setters."""
    set_primal, set_index, set_trace = _sets
    c = _new(AttrsFrozen)
    set_primal(c, primal)
    set_index(c, index)
    set_trace(c, trace)
    return c


_Twin = twin(AttrsFrozenNoWeakref)


def attrs_frozen_twin(primal: Any, index: int, trace: Any) -> AttrsFrozenNoWeakref:
    """Fill a mutable twin, then give it the frozen class (fad's way, fad/tracers/_build.py)."""
    c = _Twin()
    c.primal = primal
    c.index = index
    c.trace = trace
    c.__class__ = AttrsFrozenNoWeakref
    record: AttrsFrozenNoWeakref = c
    return record


_tuple_new = tuple.__new__


def tuple_record(primal: Any, index: int, trace: Any) -> TupleRecord:
    return _tuple_new(TupleRecord, (primal, index, trace))


INLINED = "`attrs.frozen`, slots: mutable twin + `__class__`, inlined (tape.py's fast path)"

OPTIONS: dict[str, Callable[[Any, int, Any], Any]] = {
    "plain `__slots__` class (mutable)": Plain,
    "`attrs.define`, slots (mutable)": AttrsMutable,
    "`attrs.frozen`, slots: `__init__`": AttrsFrozen,
    "`attrs.frozen`, slots: `__new__` + slot setters": attrs_frozen_bypass,
    "`attrs.frozen`, slots: mutable twin + `__class__` (fad)": attrs_frozen_twin,
    INLINED: attrs_frozen_twin,
    "`dataclass(frozen, slots)`: `__init__`": DataclassFrozen,
    "`namedtuple`": NamedTuple,
    "`tuple` subclass + `property(itemgetter)`": tuple_record,
}


def main(argv: list[str] | None = None) -> int:
    """Print a Markdown table: ns to construct, ns to read ``.primal``, ratio to plain."""
    p = argparse.ArgumentParser(prog="benchmarks/construction.py", description=__doc__)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--quick", action="store_true", help="3 repeats")
    p.add_argument("--write-docs", action="store_true", help="put the table in docs/benchmarks.md")
    opts = p.parse_args(sys.argv[1:] if argv is None else argv)
    repeats = 3 if opts.quick else opts.repeats
    number = 100_000
    trace = object()

    def clock(stmt: str, ns: dict[str, Any]) -> float:
        return timeit.timeit(stmt, globals=ns, number=number, timer=time.process_time)

    make: dict[str, list[float]] = {name: [] for name in OPTIONS}
    read: dict[str, list[float]] = {name: [] for name in OPTIONS}
    for r in range(repeats):
        names = list(OPTIONS)
        names = names[r % len(names) :] + names[: r % len(names)]
        for name in names:
            ns = {"ctor": OPTIONS[name], "trace": trace, "obj": OPTIONS[name](1.5, 7, trace)}
            stmt = "ctor(1.5, 7, trace)"
            if name == INLINED:
                ns.update(Twin=_Twin, cls=AttrsFrozenNoWeakref)
                stmt = "c = Twin(); c.primal = 1.5; c.index = 7; c.trace = trace; c.__class__ = cls"
            make[name].append(clock(stmt, ns) / number)
            read[name].append(clock("obj.primal", ns) / number)
    base_make = statistics.median(make["plain `__slots__` class (mutable)"])
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"attrs {importlib.metadata.version('attrs')}; `python benchmarks/construction.py`.",
        "",
        "| record | construct | × plain | read `.primal` |",
        "|---|---|---|---|",
    ]
    for name in OPTIONS:
        m, rd = statistics.median(make[name]), statistics.median(read[name])
        lines.append(f"| {name} | {m * 1e9:.0f} ns | {m / base_make:.2f} | {rd * 1e9:.0f} ns |")
    lines.append(
        f"\nCPU time (process_time), medians of {repeats} interleaved samples of {number} "
        "calls; timeit's loop is included, the same for every row."
    )
    markdown = "\n".join(lines)
    print(markdown)
    if opts.write_docs:
        from benchmarks.compare import write_docs

        write_docs(markdown, section="construction")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
