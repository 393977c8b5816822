"""IR → straight-line Python source, compiled in chunks.

One statement per operation; a guard is an ``if`` that raises :class:`GuardFailed`.
What each primitive becomes is a :class:`Table`: :data:`FLOAT_TABLE` (operators
inline, the other primitives' ``impl`` bound as local defaults: ``math.sin`` on the
float path) and :data:`TRACER_TABLE` (the same operators, the other primitives called
as fad primitives, so the code runs on tracers: ``fad.grad(fad.jit(f))``). A batched
(numpy) table plugs in the same way.

Large programs: the equations are cut into chunks of :data:`CHUNK` statements, each
a function compiled on its own (so compile time is linear in the program's size and
the parser never sees a huge body). A value used in a later chunk is passed through
the list ``m``; inputs are read from the list ``L``. Inside a chunk, variables live in
slots ``v0, v1, …`` reused once their value is dead (liveness), so a chunk's frame
stays small. Each chunk's source is registered with :mod:`linecache`, so tracebacks
show the emitted line; :attr:`Program.source` is the whole text.
"""

from __future__ import annotations

import itertools
import keyword
import linecache
import math
from collections.abc import Callable
from typing import Any

from fad._core import Primitive
from fad._ir import IR

__all__ = ["CHUNK", "FLOAT_TABLE", "TRACER_TABLE", "GuardFailed", "Program", "Table", "emit"]

CHUNK = 2000

_programs = itertools.count()


class GuardFailed(Exception):
    """Raised by emitted code when guard ``index`` does not hold at the call's point."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


_INFIX = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "truediv": "{0} / {1}",
    "floordiv": "{0} // {1}",
    "mod": "{0} % {1}",
    "neg": "-{0}",
    "pos": "+{0}",
    "eq": "{0} == {1}",
    "ne": "{0} != {1}",
    "lt": "{0} < {1}",
    "le": "{0} <= {1}",
    "gt": "{0} > {1}",
    "ge": "{0} >= {1}",
    "truth": "bool({0})",
    "select": "({1} if {0} else {2})",
}


class Table:
    """How each primitive is written in emitted code.

    Args:
        name: the table's name (in the source's header comment).
        infix: primitive name → a format template (``"{0} * {1}"``) for operators.
        callee: the object a call of a primitive with no template goes to
            (``prim.impl`` for floats, ``prim`` itself for tracers).
        integral_pow_inline: write ``x ** c`` inline for a constant integral exponent
            (exact and never complex on floats).
        prologue: lines put at the top of every chunk (a batched table unpacks its
            buffers there).
        names: objects the emitted code may name (its guards' helpers); also reserved,
            so that no bound object takes one of these names.
    """

    def __init__(
        self,
        name: str,
        infix: dict[str, str],
        callee: Callable[[Primitive], Any],
        *,
        integral_pow_inline: bool = True,
        prologue: str = "",
        names: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.infix = infix
        self.callee = callee
        self.integral_pow_inline = integral_pow_inline
        self.prologue = prologue
        self.names = dict(names or {})

    def into(self, prim: Primitive, consts: list[Any]) -> tuple[Any, tuple[int, ...]] | None:
        """A function writing ``prim``'s result into a given array, and which arguments
        it takes: ``(f, (0, 1))`` for ``f(x, y, out=buffer)``. None where there is none;
        only a table whose programs take buffers (see :func:`emit`'s ``dests``) has any.
        """
        return None

    def guard(self, predicate: str, outcome: bool, index: int) -> str:
        """The statement checking guard ``index``: ``predicate`` must be ``outcome``.

        On numbers (and tracers) an ``if`` that raises :class:`GuardFailed`; a batched
        table may override it (to partition a batch by outcome, say).
        """
        cond = f"not {predicate}" if outcome else predicate
        return f"    if {cond}:\n        raise GuardFailed({index})"

    def template(self, prim: Primitive, consts: list[Any]) -> str | None:
        """The template for ``prim`` with these argument constants (None: variables)."""
        name = prim.name
        if name == "pow" and self.integral_pow_inline and len(consts) == 2:
            c = consts[1]
            if (type(c) is int) or (type(c) is float and c.is_integer() and abs(c) < 2**53):
                return "{0} ** {1}"
            return None
        t = self.infix.get(name)
        if t is not None and t.count("{") == len(consts):
            return t
        return None


FLOAT_TABLE = Table("float", _INFIX, lambda prim: prim.impl)
TRACER_TABLE = Table("tracer", _INFIX, lambda prim: prim)


class Program:
    """A compiled program: ``program(leaves) -> tuple of outputs``.

    Attributes:
        source: the emitted Python source (all chunks).
        namespace: the names the source refers to (callables and constants).
    """

    def __init__(self, chunks: list[str], namespace: dict[str, Any], label: str) -> None:
        self.chunks = chunks
        self.namespace = namespace
        self.label = label
        self.run: Callable[[list[Any]], tuple[Any, ...]] = _compile(chunks, namespace, label)

    @property
    def source(self) -> str:
        """The whole emitted source."""
        return "\n".join(self.chunks)

    def __call__(self, leaves: list[Any]) -> tuple[Any, ...]:
        return self.run(leaves)

    def __reduce__(self) -> Any:
        return (Program, (self.chunks, self.namespace, self.label))


def _compile(chunks: list[str], namespace: dict[str, Any], label: str) -> Any:
    ns = dict(namespace)
    ns["GuardFailed"] = GuardFailed
    serial = next(_programs)
    for k, src in enumerate(chunks):
        filename = f"<fad.jit {label} #{serial} part {k}>"
        lines = src.splitlines(keepends=True)
        linecache.cache[filename] = (len(src), None, lines, filename)
        exec(compile(src, filename, "exec"), ns)
    run: Any = ns["program"]
    return run


def _identifier(text: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in text) or "f"
    if out[0].isdigit() or keyword.iskeyword(out):
        out = "_" + out
    return out


# the names of the emitted code's own variables (W, O, OK: a batched table's buffers)
_RESERVED = frozenset(("L", "m", "program", "GuardFailed", "W", "O", "OK"))


class _Names:
    """Names for the objects the source refers to (one per object)."""

    def __init__(self, reserved: Any = ()) -> None:
        self.by_id: dict[int, str] = {}
        self.namespace: dict[str, Any] = {}
        self.reserved = frozenset(reserved)

    def bind(self, obj: Any, hint: str) -> str:
        name = self.by_id.get(id(obj))
        if name is not None:
            return name
        base = _identifier(hint)
        name = base
        k = 1
        while name in self.namespace or name in _RESERVED or name in self.reserved:
            name = f"{base}_{k}"
            k += 1
        self.by_id[id(obj)] = name
        self.namespace[name] = obj
        return name


def _const_text(c: Any, names: _Names) -> str:
    t = type(c)
    if t is float:
        if math.isfinite(c):
            text = repr(c)
            return f"({text})" if text.startswith("-") else text
        return names.bind(c, "inf" if c > 0 else ("minf" if c < 0 else "nan"))
    if t is int:
        return f"({c})" if c < 0 else repr(c)
    if t is bool or c is None:
        return repr(c)
    return names.bind(c, "const")


class _Chunk:
    """The state of one chunk being written: its lines and its slots."""

    def __init__(
        self, n_in: int, mslot: dict[int, int], const_texts: dict[int, str], names: _Names
    ) -> None:
        self.n_in = n_in
        self.mslot = mslot
        self.const_texts = const_texts
        self.names = names
        self.lines: list[str] = []
        self.slot_of: dict[int, str] = {}
        self.free: list[int] = []
        self.used: set[str] = set()
        self.n_slots = 0

    def new_slot(self) -> str:
        if self.free:
            return f"v{self.free.pop()}"
        self.n_slots += 1
        return f"v{self.n_slots - 1}"

    def text(self, a: int) -> str:
        """The text of atom ``a``, loading it into a slot at its first use here."""
        if a < 0:
            t = self.const_texts[a]
            if t in self.names.namespace:
                self.used.add(t)
            return t
        s = self.slot_of.get(a)
        if s is None:
            s = self.slot_of[a] = self.new_slot()
            src = f"L[{a}]" if a < self.n_in else f"m[{self.mslot[a]}]"
            self.lines.append(f"    {s} = {src}")
        return s


def emit(
    ir: IR,
    table: Table,
    label: str = "f",
    chunk: int = CHUNK,
    dests: dict[int, str] | None = None,
) -> Program:
    """Emit and compile ``ir`` with ``table``.

    ``dests`` maps variables to the text of the array their equation writes into
    (``"W[3]"``, names the table's prologue defines): the equation is then written
    ``f(x, y, out=W[3])`` with the function of :meth:`Table.into` (which must have
    one for it). Whoever plans ``dests`` answers for the buffers' lifetimes.
    """
    n_in = ir.n_inputs
    n_eq = len(ir.prims)
    names = _Names(table.names)
    dests = dests or {}
    guard_of = {g.var: (k, g.outcome) for k, g in enumerate(ir.guards)}
    # The chunk where each variable is last used (outputs: after the last chunk).
    n_chunks = max(1, -(-n_eq // chunk))
    last_chunk = [-1] * (n_in + n_eq)
    for i, atoms in enumerate(ir.args):
        c = i // chunk
        for a in atoms:
            if a >= 0:
                last_chunk[a] = c
    for a in ir.outputs:
        if a >= 0:
            last_chunk[a] = n_chunks - 1
    const_texts = {}
    for k, c in enumerate(ir.consts):
        const_texts[-1 - k] = _const_text(c, names)
    mslot: dict[int, int] = {}  # variable -> index in m, for values crossing chunks
    chunks: list[str] = []
    for c in range(n_chunks):
        lo, hi = c * chunk, min(n_eq, (c + 1) * chunk)
        last_local: dict[int, int] = {}
        for i in range(lo, hi):
            for a in ir.args[i]:
                if a >= 0:
                    last_local[a] = i
        if c == n_chunks - 1:
            for a in ir.outputs:
                if a >= 0:
                    last_local[a] = n_eq
        w = _Chunk(n_in, mslot, const_texts, names)
        lines, slot_of, free, used_names, text = w.lines, w.slot_of, w.free, w.used, w.text
        new_slot = w.new_slot

        for i in range(lo, hi):
            prim = ir.prims[i]
            atoms = ir.args[i]
            var = n_in + i
            texts = [text(a) for a in atoms]
            consts = [ir.consts[-1 - a] if a < 0 else None for a in atoms]
            dest = dests.get(var)
            template = table.template(prim, consts) if dest is None else None
            if dest is not None:
                into = table.into(prim, consts)
                assert into is not None, (prim.name, var)
                fname = names.bind(into[0], getattr(into[0], "__name__", prim.name))
                used_names.add(fname)
                expr = f"{fname}({', '.join(texts[k] for k in into[1])}, out={dest})"
            elif template is not None:
                expr = template.format(*texts)
            else:
                fname = names.bind(table.callee(prim), prim.name)
                used_names.add(fname)
                expr = f"{fname}({', '.join(texts)})"
            for a in set(atoms):
                if a >= 0 and last_local.get(a) == i:
                    free.append(int(slot_of.pop(a)[1:]))
            g = guard_of.get(var)
            if g is not None and last_chunk[var] == -1:
                k, outcome = g
                lines.append(table.guard(f"({expr})", outcome, k))
                continue
            crosses = last_chunk[var] > c
            if crosses:
                mslot[var] = len(mslot)
            if crosses and var not in last_local:
                lines.append(f"    m[{mslot[var]}] = {expr}")
                continue
            s = slot_of[var] = new_slot()
            lines.append(f"    {s} = {expr}")
            if g is not None:
                k, outcome = g
                lines.append(table.guard(s, outcome, k))
            if crosses:
                lines.append(f"    m[{mslot[var]}] = {s}")
        if c == n_chunks - 1:
            outs = [text(a) for a in ir.outputs]
            lines.append(f"    return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
        defaults = "".join(f", {n}={n}" for n in sorted(used_names))
        body = "\n".join(lines or ["    pass"])
        chunks.append(f"def part{c}(L, m{defaults}):\n{table.prologue}{body}\n")
    size = len(mslot)
    head = f"# fad.jit: {label}, {ir.n_ops} operations, {len(ir.guards)} guards, {table.name}\n"
    chunks[0] = head + chunks[0]
    main = ["def program(L):", f"    m = [None] * {size}" if size else "    m = None"]
    for c in range(n_chunks - 1):
        main.append(f"    part{c}(L, m)")
    main.append(f"    return part{n_chunks - 1}(L, m)")
    chunks.append("\n".join(main) + "\n")
    return Program(chunks, {**table.names, **names.namespace}, label)
