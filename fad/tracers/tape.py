"""``mode="tape"`` (the default): coduals whose backpropagators run bottom-up.

The codual rule gives each value the backpropagator ``B(k) = Σ Bᵢ(∂ᵢ · k)``. Its
data is just the list of edges ``(argument, ∂ᵢ)``. The tape records that data for
every value, in creation order, instead of a closure over it. Creation order is a
topological order of the program, so running the records once each, last to first,
with the *summed* cotangent of every use of a value (the bottom-up table of dynamic
programming) calls every backpropagator exactly once: reverse mode at a constant
multiple of the function's own cost, for any number of inputs, with a loop instead
of recursion.

A :class:`TapeCodual` is ``(primal, index, trace)``: its backpropagator is "add k to
the cotangent of entry ``index`` of the trace", and :attr:`TapeCodual.backprop` gives
it as a function for the duality mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from fad._core import Primitive, Pullback, bind, register_tracer
from fad._ops import BINARY_OPERATORS, TracerOps
from fad.tracers._build import twin

__all__ = ["SINK", "TapeCodual", "Trace"]


# The parent index of an unused second edge (a value of one traced argument): the
# sweeps skip it.
SINK = -1


class Trace:
    """The tape of one reverse-mode transform call.

    Entry ``i`` (the value with index ``i``) is two edges, kept in four parallel lists:
    ``parent1[i]`` with partial ``partial1[i]`` and ``parent2[i]`` with ``partial2[i]``.
    A value of one traced argument has ``parent2[i] == SINK`` and ``partial2[i] == 0.0``;
    a value of k > 2 traced arguments is recorded as a chain of k - 1 two-edge entries
    joined by partials 1.0. The first ``n_inputs`` entries are the inputs (no edges).

    Why four lists of numbers rather than one tuple per entry: ints and floats are not
    tracked by Python's cycle collector, so recording creates no tracked object that
    outlives the operation, and the collector does not run again and again over a
    growing tape. On the scalar-loop Rosenbrock at n = 10⁴, one ``fad.grad`` with a
    tuple per entry ran 122 collections, 16–18 % of its time; with the four lists it
    runs 14, about 1.5 % (``python benchmarks/hotpath.py``). Four list appends also
    cost less than building a tuple and appending it.
    """

    __slots__ = (
        "__weakref__",
        "level",
        "n_inputs",
        "parent1",
        "parent2",
        "partial1",
        "partial2",
        "plain",
    )

    def __init__(self, level: int, n_inputs: int) -> None:
        self.level = level
        self.n_inputs = n_inputs
        self.plain = True  # every recorded partial is a float or an int (no nesting)
        self.parent1: list[int] = [SINK] * n_inputs
        self.partial1: list[Any] = [0.0] * n_inputs
        self.parent2: list[int] = [SINK] * n_inputs
        self.partial2: list[Any] = [0.0] * n_inputs

    def __len__(self) -> int:
        return len(self.parent1)

    def record(self, edges: Sequence[tuple[int, Any]]) -> int:
        """Append a value with these ``(parent index, ∂)`` edges; return its index."""
        if self.plain and any(type(d) is not float and type(d) is not int for _, d in edges):
            self.plain = False
        parent1, partial1 = self.parent1, self.partial1
        parent2, partial2 = self.parent2, self.partial2
        p, d = edges[0]
        q, c = edges[1] if len(edges) > 1 else (SINK, 0.0)
        parent1.append(p)
        partial1.append(d)
        parent2.append(q)
        partial2.append(c)
        for q, c in edges[2:]:  # k > 2 arguments: chain the sum through two-edge entries
            parent1.append(len(parent1) - 1)
            partial1.append(1.0)
            parent2.append(q)
            partial2.append(c)
        return len(parent1) - 1

    @property
    def entries(self) -> list[tuple[Any, ...]]:
        """Every entry as a flat tuple ``(parent, ∂, …)`` without unused edges (to inspect)."""
        out: list[tuple[Any, ...]] = []
        for e in zip(self.parent1, self.partial1, self.parent2, self.partial2, strict=True):
            out.append(() if e[0] == SINK else e[:2] if e[2] == SINK else e)
        return out

    def backward(self, seeds: Sequence[tuple[int, Any]]) -> list[Any]:
        """Sum of the cotangents pulled back from ``seeds`` (index, cotangent), per entry.

        Runs each entry once, last to first, and returns the adjoint of every entry.
        When every partial and seed is a number (the common, unnested case) the sweep
        runs on a list of floats; otherwise ``None`` stands for a zero cotangent, so
        that a tracer cotangent whose primal is zero still propagates its derivative.
        """
        if self.plain and all(type(ct) is float for _, ct in seeds):
            return self._backward_floats(seeds)
        parent1, partial1 = self.parent1, self.partial1
        parent2, partial2 = self.parent2, self.partial2
        adj: list[Any] = [None] * len(parent1)
        for index, ct in seeds:
            a = adj[index]
            adj[index] = ct if a is None else a + ct
        for i in range(len(parent1) - 1, self.n_inputs - 1, -1):
            g = adj[i]
            if g is None:
                continue
            p = parent1[i]
            a = adj[p]
            adj[p] = partial1[i] * g if a is None else a + partial1[i] * g
            p = parent2[i]
            if p != SINK:
                a = adj[p]
                adj[p] = partial2[i] * g if a is None else a + partial2[i] * g
        return adj

    def _backward_floats(self, seeds: Sequence[tuple[int, Any]]) -> list[Any]:
        """:meth:`backward` when everything is a number: the hot loop of reverse mode."""
        n = len(self.parent1)
        adj = [0.0] * n
        for index, ct in seeds:
            adj[index] += ct
        edges = zip(  # stops with the range, before the inputs' entries
            range(n - 1, self.n_inputs - 1, -1),
            reversed(self.parent1),
            reversed(self.partial1),
            reversed(self.parent2),
            reversed(self.partial2),
            strict=False,
        )
        for i, p, d, q, c in edges:
            g = adj[i]
            if g != 0.0:
                adj[p] += d * g
                if q != SINK:  # cheaper than adding 0.0 · g to a spare slot
                    adj[q] += c * g
        return adj

    def pullback(self, outputs: Sequence[Any], cotangents: Sequence[Any]) -> list[Any]:
        """Cotangents of the inputs for ``cotangents`` on ``outputs`` (a reverse sweep)."""
        seeds = [
            (out.index, ct)
            for out, ct in zip(outputs, cotangents, strict=True)
            if type(out) is TapeCodual and out.trace is self
        ]
        adj = self.backward(seeds)
        return [0.0 if g is None else g for g in adj[: self.n_inputs]]


@register_tracer
@attrs.frozen(eq=False, repr=False, weakref_slot=False)  # no weakref: see _build.py
class TapeCodual(TracerOps):
    """A codual recorded on a :class:`Trace`: the tape strategy (``mode="tape"``)."""

    primal: Any
    index: int
    trace: Trace

    mode_name = "tape"

    @property
    def level(self) -> int:
        """The level of the transform that made this value."""
        return self.trace.level

    @property
    def backprop(self) -> Callable[[Any], list[Any]]:
        """``B(k)``: the cotangents of the trace's inputs for cotangent ``k`` on this value."""

        def backprop(k: Any) -> list[Any]:
            return self.trace.pullback([self], [k])

        return backprop

    def __repr__(self) -> str:
        return f"TapeCodual({self.primal!r}, index={self.index}, level={self.level})"

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        """Codual rule of ``prim``, its edges recorded as one tape entry."""
        if len(args) == 1:  # fast path for unary functions of a float (sin, exp, ...)
            a = args[0]
            x = a.primal
            if type(x) is float:
                ans = prim.impl(x)
                if prim.partials is None:
                    return ans
                tr: Trace = a.trace
                d = prim.partials[0](ans, x)
                if type(d) is not float:
                    tr.plain = False
                parent1 = tr.parent1
                parent1.append(a.index)
                tr.partial1.append(d)
                tr.parent2.append(SINK)
                tr.partial2.append(0.0)
                return _new_tape(ans, len(parent1) - 1, tr)
        trace: Any = None
        primals = []
        for a in args:
            if type(a) is cls and a.trace.level == level:
                trace = a.trace
                primals.append(a.primal)
            else:
                primals.append(a)
        ans = prim(*primals)
        partials = prim.partials
        if partials is None:
            return ans
        linear = prim.linear
        # A loop, not a comprehension: a comprehension would make this function's
        # variables closure cells, created on every call, the fast path's too.
        edges = []
        for i, a in enumerate(args):
            if type(a) is cls and a.trace is trace:
                d = linear[i] if linear is not None else partials[i](ans, *primals)
                edges.append((a.index, d))
        return _new_tape(ans, trace.record(edges), trace)

    @classmethod
    def seed(cls, primals: Sequence[Any], level: int) -> tuple[list[Any], Pullback]:
        """One input per primal on a fresh trace; the pullback is its reverse sweep."""
        trace = Trace(level, len(primals))
        inputs = [_new_tape(p, i, trace) for i, p in enumerate(primals)]
        return inputs, trace.pullback


_Twin = twin(TapeCodual)  # see fad/tracers/_build.py


def _new_tape(primal: Any, index: int, trace: Trace) -> TapeCodual:
    """Build a TapeCodual without the frozen ``__init__``: fill its twin, then freeze it."""
    c = _Twin()
    c.primal = primal
    c.index = index
    c.trace = trace
    c.__class__ = TapeCodual
    tape: TapeCodual = c
    return tape


# --- fast paths ---------------------------------------------------------------------
# The operators below are derived from the registry like ``apply`` is: the same impl
# and the same partial functions, given the primals. They only skip the generic
# dispatch when the other operand is a number or a value of the same trace, and fall
# back to ``bind`` for everything else. A float result means that every primal and
# every partial was a number; anything else (a primal that is itself a tracer, when
# transforms nest) marks the trace as not plain, as ``apply`` does. Measured on the
# scalar-loop Rosenbrock at n = 10⁴ (``python benchmarks/instructions.py``): about
# 28 000 instructions per operation through ``bind`` and ``apply``, 7 800 with these
# (forward and backward). The three recording blocks below are written out rather than
# shared through a helper on purpose: the helper's call costs about 450 instructions,
# 10 % of ``1.0 - x`` (callgrind, 10⁵ calls).


def _fast_binary(prim: Primitive) -> tuple[Callable[..., Any], Callable[..., Any]]:
    impl = prim.impl
    assert prim.partials is not None
    d0, d1 = prim.partials
    linear = prim.linear
    Twin = _Twin

    def op(self: TapeCodual, other: Any) -> Any:
        t = type(other)
        if t is TapeCodual:
            trace = self.trace
            if other.trace is trace:
                a = self.primal
                b = other.primal
                ans = impl(a, b)
                if type(ans) is not float:
                    trace.plain = False
                parent1 = trace.parent1
                parent1.append(self.index)
                trace.parent2.append(other.index)
                if linear is not None:
                    trace.partial1.append(linear[0])
                    trace.partial2.append(linear[1])
                else:
                    trace.partial1.append(d0(ans, a, b))
                    trace.partial2.append(d1(ans, a, b))
                # _new_tape(ans, len(parent1) - 1, trace), inlined: one call less
                c = Twin()
                c.primal = ans
                c.index = len(parent1) - 1
                c.trace = trace
                c.__class__ = TapeCodual
                return c
        elif t is float or t is int:
            a = self.primal
            ans = impl(a, other)
            trace = self.trace
            if type(ans) is not float:
                trace.plain = False
            parent1 = trace.parent1
            parent1.append(self.index)
            trace.partial1.append(linear[0] if linear is not None else d0(ans, a, other))
            trace.parent2.append(SINK)
            trace.partial2.append(0.0)
            c = Twin()
            c.primal = ans
            c.index = len(parent1) - 1
            c.trace = trace
            c.__class__ = TapeCodual
            return c
        return bind(prim, self, other)

    def rop(self: TapeCodual, other: Any) -> Any:
        t = type(other)
        if t is float or t is int:
            b = self.primal
            ans = impl(other, b)
            trace = self.trace
            if type(ans) is not float:
                trace.plain = False
            parent1 = trace.parent1
            parent1.append(self.index)
            trace.partial1.append(linear[1] if linear is not None else d1(ans, other, b))
            trace.parent2.append(SINK)
            trace.partial2.append(0.0)
            c = Twin()
            c.primal = ans
            c.index = len(parent1) - 1
            c.trace = trace
            c.__class__ = TapeCodual
            return c
        return bind(prim, other, self)

    return op, rop


for _name, _prim in BINARY_OPERATORS:
    _op, _rop = _fast_binary(_prim)
    setattr(TapeCodual, f"__{_name}__", _op)
    setattr(TapeCodual, f"__r{_name}__", _rop)
