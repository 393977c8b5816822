"""``mode="tape"`` (the default): coduals whose backpropagators run bottom-up.

The codual rule gives each value the backpropagator ``B(k) = Σ Bᵢ(∂ᵢ · k)``. Its
data is just the list of edges ``(argument, ∂ᵢ)``. The :class:`Tape` records that
data for every value, in creation order, instead of a closure over it. Creation order
is a topological order of the program, so running the records once each, last to
first, with the *summed* cotangent of every use of a value (the bottom-up table of
dynamic programming) calls every backpropagator exactly once: reverse mode at a
constant multiple of the function's own cost, for any number of inputs, with a loop
instead of recursion.

The tape has one way in and two ways out: :meth:`Tape.push` records a value,
:meth:`Tape.backward` sweeps last to first (reverse mode) and :meth:`Tape.forward`
first to last (``fad.linearize``). No other module reads or writes its storage.

A :class:`TapeCodual` is ``(primal, index, tape)``: its backpropagator is "add k to
the cotangent of entry ``index`` of the tape", and :attr:`TapeCodual.backprop` gives
it as a function for the duality mapping.
"""

from __future__ import annotations

import textwrap
import weakref
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import attrs

from fad._core import (
    GENERIC,
    Primitive,
    Pullback,
    UnexpectedTracerError,
    bind,
    on_finish,
    partials_at,
    register_tracer,
)
from fad._ops import BINARY_OPERATORS
from fad.tracers._build import (
    TracerBase,
    install_fast_paths,
    keep_fast_paths_off_subclasses,
    twin,
)

__all__ = ["NO_PARENT", "Tape", "TapeCodual"]


# The parent of an unused second edge (a value of one traced argument): the sweeps
# skip it.
NO_PARENT = -1


class _Closed:
    """The recording end of a finished transform's tape: it refuses every entry."""

    __slots__ = ("level",)

    def __init__(self, level: int) -> None:
        self.level = level

    def append(self, _: Any) -> NoReturn:
        msg = (
            f"a tracer of a fad transform that has finished (level {self.level}) was used "
            "in an operation: it leaked out of the function it was made for, for example "
            "kept in a global, a cache or an object across calls. Pass such values in as "
            "arguments and return results; keep a plain number with fad.stop_gradient(x) "
            "or x.primal."
        )
        raise UnexpectedTracerError(msg)


class Tape:
    """The record of one reverse-mode transform call.

    Entry ``i`` (the value with index ``i``) is two edges, kept in four parallel lists:
    parent ``_parent1[i]`` with partial ``_partial1[i]`` and ``_parent2[i]`` with
    ``_partial2[i]``. A value of one traced argument has second parent ``NO_PARENT``
    and partial ``0.0``; a value of k > 2 traced arguments is recorded as a chain of
    k - 1 two-edge entries joined by partials 1.0. The first ``len(inputs)`` entries
    are the inputs (no edges).

    Why four lists of numbers rather than one tuple per entry: ints and floats are not
    tracked by Python's cycle collector, so recording creates no tracked object that
    outlives the operation, and the collector does not run again and again over a
    growing tape (figures in docs/benchmarks.md). Four list appends also cost less
    than building a tuple and appending it.

    When the transform that made the tape finishes, the tape is *closed*: its
    recording end is swapped for one that refuses entries, so a leaked tracer fails
    loudly at no cost to the operations of live ones.
    """

    __slots__ = (
        "__weakref__",
        "_inputs",
        "_numeric",
        "_parent1",
        "_parent2",
        "_partial1",
        "_partial2",
        "_recording",
        "_tracer",
        "_twin",
        "level",
    )

    def __init__(self, level: int, tracer: type[TapeCodual] | None = None) -> None:
        self.level = level
        self._inputs = 0
        self._numeric = True  # every partial is a float or an int (no tracer: no nesting)
        self._parent1: list[int] = []
        self._partial1: list[Any] = []
        self._parent2: list[int] = []
        self._partial2: list[Any] = []
        self._recording: Any = self._parent1  # the list push appends to first
        cls = TapeCodual if tracer is None else tracer
        self._tracer = cls
        self._twin = _twin_of(cls)
        on_finish(level, weakref.ref(self))

    def __len__(self) -> int:
        return len(self._parent1)

    @property
    def n_in(self) -> int:
        """How many inputs the tape has (its first entries)."""
        return self._inputs

    def close(self) -> None:
        """Refuse further entries: the transform that made this tape has finished."""
        self._recording = _Closed(self.level)

    def inputs(self, primals: Sequence[Any]) -> list[TapeCodual]:
        """Push the inputs, one per primal (entries ``0 … len(primals) - 1``, no edges)."""
        if len(self) or self._inputs:
            msg = "Tape.inputs: the inputs must be the first entries of a tape"
            raise ValueError(msg)
        made = [self.push(p, NO_PARENT, 0.0) for p in primals]
        self._inputs = len(made)
        return made

    # ``push(primal, parent1, d1, parent2=NO_PARENT, d2=0.0, more=())`` records a value
    # with edges (parent1, d1), (parent2, d2) and the (parent, ∂) pairs of ``more`` (a
    # chain of entries for k > 2 arguments) and returns its tracer, of the tape's
    # tracer class. Every recording goes through it; it is built from ``_RECORD``
    # below, which the fast paths inline.
    push: Callable[..., TapeCodual]

    def edges(self, index: int) -> tuple[tuple[int, Any], ...]:
        """The ``(parent, ∂)`` edges of entry ``index`` (none for an input)."""
        p, q = self._parent1[index], self._parent2[index]
        if p == NO_PARENT:
            return ()
        if q == NO_PARENT:
            return ((p, self._partial1[index]),)
        return ((p, self._partial1[index]), (q, self._partial2[index]))

    @property
    def entries(self) -> list[tuple[Any, ...]]:
        """Every entry as a flat tuple ``(parent, ∂, …)`` without unused edges (to inspect)."""
        return [tuple(x for edge in self.edges(i) for x in edge) for i in range(len(self))]

    def backward(self, seeds: Sequence[tuple[int, Any]]) -> list[Any]:
        """The cotangent of every entry pulled back from ``seeds`` (index, cotangent).

        Runs each entry once, last to first. When every partial and seed is a number
        (the common, unnested case) the sweep runs on a list of floats; otherwise
        ``None`` stands for a zero cotangent while sweeping, so that a tracer cotangent
        whose primal is zero still propagates its derivative. Zeros come back as 0.0.
        """
        if self._numeric and all(type(ct) is float for _, ct in seeds):
            return self._backward_floats(seeds)
        parent1, partial1 = self._parent1, self._partial1
        parent2, partial2 = self._parent2, self._partial2
        adj: list[Any] = [None] * len(parent1)
        for index, ct in seeds:
            a = adj[index]
            adj[index] = ct if a is None else a + ct
        for i in range(len(parent1) - 1, self._inputs - 1, -1):
            g = adj[i]
            if g is None:
                continue
            p = parent1[i]
            a = adj[p]
            adj[p] = partial1[i] * g if a is None else a + partial1[i] * g
            p = parent2[i]
            if p != NO_PARENT:
                a = adj[p]
                adj[p] = partial2[i] * g if a is None else a + partial2[i] * g
        return [0.0 if g is None else g for g in adj]

    def _backward_floats(self, seeds: Sequence[tuple[int, Any]]) -> list[Any]:
        """:meth:`backward` when everything is a number: the hot loop of reverse mode."""
        n = len(self._parent1)
        adj = [0.0] * n
        for index, ct in seeds:
            adj[index] += ct
        edges = zip(  # stops with the range, before the inputs' entries
            range(n - 1, self._inputs - 1, -1),
            reversed(self._parent1),
            reversed(self._partial1),
            reversed(self._parent2),
            reversed(self._partial2),
            strict=False,
        )
        for i, p, d, q, c in edges:
            g = adj[i]
            if g != 0.0:
                adj[p] += d * g
                if q != NO_PARENT:  # cheaper than adding 0.0 · g to a spare slot
                    adj[q] += c * g
        return adj

    def forward(self, tangents: Sequence[Any]) -> list[Any]:
        """The tangent of every entry for ``tangents`` on the inputs (a forward sweep).

        ``None`` (or a float zero) is a zero tangent, skipped while sweeping; zeros come
        back as ``None``, so that a caller can tell "nothing flowed" from a number.
        """
        parent1, partial1 = self._parent1, self._partial1
        parent2, partial2 = self._parent2, self._partial2
        tan: list[Any] = [None] * len(parent1)
        for i, t in enumerate(tangents):
            tan[i] = None if type(t) is float and t == 0.0 else t
        for i in range(self._inputs, len(parent1)):
            acc: Any = None
            t = tan[parent1[i]]
            if t is not None:
                acc = partial1[i] * t
            q = parent2[i]
            if q != NO_PARENT and (t := tan[q]) is not None:
                term = partial2[i] * t
                acc = term if acc is None else acc + term
            tan[i] = acc
        return tan

    def index_of(self, value: Any) -> int | None:
        """The entry of ``value`` if it is a tracer of this tape, else ``None``."""
        if isinstance(value, TapeCodual) and value.tape is self:
            return value.index
        return None

    def pullback(self, outputs: Sequence[Any], cotangents: Sequence[Any]) -> list[Any]:
        """Cotangents of the inputs for ``cotangents`` on ``outputs`` (a reverse sweep)."""
        seeds = []
        for out, ct in zip(outputs, cotangents, strict=True):
            index = self.index_of(out)
            if index is not None:
                seeds.append((index, ct))
        return self.backward(seeds)[: self._inputs]


@register_tracer
@attrs.frozen(eq=False, repr=False, weakref_slot=False)  # TracerBase has the weakref slot
class TapeCodual(TracerBase):
    """A codual recorded on a :class:`Tape`: the tape strategy (``mode="tape"``)."""

    primal: Any
    index: int
    tape: Tape

    mode_name = "tape"

    @property
    def level(self) -> int:
        """The level of the transform that made this value."""
        return self.tape.level

    @property
    def backprop(self) -> Callable[[Any], list[Any]]:
        """``B(k)``: the cotangents of the tape's inputs for cotangent ``k`` on this value."""

        def backprop(k: Any) -> list[Any]:
            return self.tape.pullback([self], [k])

        return backprop

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.primal!r}, index={self.index}, level={self.level})"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        keep_fast_paths_off_subclasses(cls, TapeCodual, FAST_OPERATORS)

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        """Codual rule of ``prim``, its edges recorded as one tape entry (or a chain)."""
        if len(args) == 1 and FAST_UNARY:  # unary functions of a float (sin, exp, ...)
            a = args[0]
            x = a.primal
            if type(x) is float:
                ans = prim.impl(x)
                partials = prim.partials
                if partials is None:
                    return ans
                return _push1(a.tape, ans, a.index, partials[0](ans, x))
        tape: Any = None
        primals = []  # a loop, not a comprehension: see below
        for a in args:
            if type(a) is cls and a.tape.level == level:
                tape = a.tape
                primals.append(a.primal)
            else:
                primals.append(a)
        ans = prim(*primals)
        if prim.partials is None:
            return ans
        traced = []
        for i, a in enumerate(args):
            if type(a) is cls and a.tape is tape:
                traced.append(i)
        ds = partials_at(prim, ans, primals, traced)
        if len(traced) == 1:
            return tape.push(ans, args[traced[0]].index, ds[0])
        more = [(args[i].index, d) for i, d in zip(traced[2:], ds[2:], strict=True)]
        return tape.push(ans, args[traced[0]].index, ds[0], args[traced[1]].index, ds[1], more)

    @classmethod
    def seed(cls, primals: Sequence[Any], level: int) -> tuple[list[Any], Pullback]:
        """One input per primal on a fresh tape; the pullback is its reverse sweep."""
        tape = Tape(level, cls)
        return list(tape.inputs(primals)), tape.pullback


_twins: dict[type, Any] = {}


def _twin_of(cls: type[TapeCodual]) -> Any:
    """The mutable twin of ``cls`` (None when ``cls`` must be built by its ``__init__``)."""
    if cls not in _twins:
        try:
            _twins[cls] = twin(cls)
        except TypeError:  # not a plain field store: build it by calling it
            _twins[cls] = None
    return _twins[cls]


# --- the recording, written once -----------------------------------------------------
# ``_RECORD`` appends one entry and builds its tracer. ``Tape.push`` is made from it,
# and the fast paths below have it inlined, made from the same text at import: a call
# of ``push`` would cost them too much of an operation (docs/benchmarks.md). A value
# that is not a float (its arguments are tracers of an enclosing transform) may have
# tracer partials: the sweeps then leave their float loop.

_RECORD = """
tape._recording.append({parent1})  # a closed tape raises UnexpectedTracerError here
partial1 = tape._partial1
partial1.append({d1})
tape._parent2.append({parent2})
tape._partial2.append({d2})
if type({primal}) is not float:
    tape._numeric = False
twin = tape._twin
if twin is None:  # a user's subclass: its own __init__, validators and all
    return tape._tracer({primal}, len(partial1) - 1, tape)
made = twin()  # see fad/tracers/_build.py
made.primal = {primal}
made.index = len(partial1) - 1
made.tape = tape
made.__class__ = tape._tracer
return made
"""


def _record(indent: int, primal: str, parent1: str, d1: str, parent2: str, d2: str) -> str:
    """``_RECORD`` for these argument expressions, indented to sit in a function body."""
    code = _RECORD.format(primal=primal, parent1=parent1, d1=d1, parent2=parent2, d2=d2)
    return textwrap.indent(code.strip("\n"), " " * indent)


_PUSH = f"""
def push(tape, primal, parent1, d1, parent2=NO_PARENT, d2=0.0, more=()):
    if more:  # k > 2 arguments: the first entries of a chain, each summing one more edge
        for q, c in more:
            tape.push(0.0, parent1, d1, parent2, d2)  # a link: its tracer is not needed
            parent1, d1, parent2, d2 = len(tape) - 1, 1.0, q, c
    if tape._numeric and not (
        (type(d1) is float or type(d1) is int) and (type(d2) is float or type(d2) is int)
    ):  # a partial closing over a tracer (fad.primitive), even of a float value
        tape._numeric = False
{_record(4, "primal", "parent1", "d1", "parent2", "d2")}


def push1(tape, primal, parent1, d1):  # one parent: the unary fast path of ``apply``
    if tape._numeric and not (type(d1) is float or type(d1) is int):
        tape._numeric = False
{_record(4, "primal", "parent1", "d1", "NO_PARENT", "0.0")}
"""

# The fast paths: derived from the registry like ``apply`` (the same impl and partial
# functions, given the primals), they skip the generic dispatch (figures in
# docs/benchmarks.md) when the other operand is a number or a value of the same tape,
# and fall back to ``bind`` for the rest. Each operator's text is made for its
# primitive (:func:`_partial_code`): a constant partial is written as the constant, a
# partial that is one of the arguments (``mul``'s) as that argument, any other as a
# call of the registry's function. tests/test_generic.py checks them against ``apply``
# bit for bit.
_FAST_BINARY = """
def fast_binary(prim, impl, d0, d1, c0, c1):
    def op(self, other):
        t = type(other)
        if t is TapeCodual:
            tape = self.tape
            if other.tape is tape:
                a = self.primal
                b = other.primal
                ans = impl(a, b)
                da = {da}
                db = {db}
{record_same}
        elif t is float or t is int:
            a = self.primal
            b = other
            ans = impl(a, b)
            da = {da}
            tape = self.tape
{record_left}
        elif isinstance(other, float):  # a float subclass (np.float64): as the float
            return op(self, float(other))
        return bind(prim, self, other)

    def rop(self, other):
        t = type(other)
        if t is float or t is int:
            a = other
            b = self.primal
            ans = impl(a, b)
            db = {db}
            tape = self.tape
{record_right}
        if isinstance(other, float):  # a float subclass (np.float64): as the float
            return rop(self, float(other))
        return bind(prim, other, self)

    return op, rop
"""

_made: dict[str, Any] = {"NO_PARENT": NO_PARENT, "TapeCodual": TapeCodual, "bind": bind}
exec(compile(_PUSH, "<fad.tracers.tape: _RECORD>", "exec"), _made)
Tape.push = _made["push"]
_push1 = _made["push1"]


class _Probe:
    """An argument of a partial function, telling which one it returns (if it does)."""


def _partial_code(prim: Primitive, k: int) -> str:
    """The expression of ``prim``'s partial ``k`` in the fast path's text.

    ``c{k}`` for a linear primitive's constant, ``a``/``b`` when the registry's partial
    returns that argument itself (probed once, on placeholders), else the call.
    """
    if prim.linear is not None:
        return f"c{k}"
    assert prim.partials is not None
    args = (_Probe(), _Probe(), _Probe())
    try:
        got = prim.partials[k](*args)
    except Exception:  # any partial that computes a value: called at run time
        got = None
    if got is args[1]:
        return "a"
    if got is args[2]:
        return "b"
    return f"d{k}(ans, a, b)"


def _fast_binary(prim: Primitive) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The fast ``__op__`` and ``__rop__`` of a binary primitive (from ``_FAST_BINARY``)."""
    assert prim.partials is not None
    d0, d1 = prim.partials
    c0, c1 = prim.linear if prim.linear is not None else (None, None)
    code = _FAST_BINARY.format(
        da=_partial_code(prim, 0),
        db=_partial_code(prim, 1),
        record_same=_record(16, "ans", "self.index", "da", "other.index", "db"),
        record_left=_record(12, "ans", "self.index", "da", "NO_PARENT", "0.0"),
        record_right=_record(12, "ans", "self.index", "db", "NO_PARENT", "0.0"),
    )
    namespace = dict(_made)
    exec(compile(code, f"<fad.tracers.tape: fast {prim.name}>", "exec"), namespace)
    made: tuple[Callable[..., Any], Callable[..., Any]] = namespace["fast_binary"](
        prim, prim.impl, d0, d1, c0, c1
    )
    return made


FAST_UNARY = False  # the unary fast path at the top of ``TapeCodual.apply``
FAST_OPERATORS: dict[str, Callable[..., Any]] = {}
for _name, _prim in BINARY_OPERATORS:
    FAST_OPERATORS[f"__{_name}__"], FAST_OPERATORS[f"__r{_name}__"] = _fast_binary(_prim)


def use_fast_paths(on: bool) -> None:
    """Install the fast paths (``on``) or route every operation through ``apply``.

    Done once at import, off under ``FAD_GENERIC=1``; tests/test_generic.py switches
    it to compare both ways in one process.
    """
    global FAST_UNARY  # one switch, read by apply
    FAST_UNARY = on
    install_fast_paths(TapeCodual, FAST_OPERATORS, on)


use_fast_paths(not GENERIC)
