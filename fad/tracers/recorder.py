"""The recording tracer of ``fad.jit``: each primitive application becomes an equation.

A :class:`Recorded` value is ``(value, var, recording)``: the concrete value at the
recording point (so that Python control flow runs as it would on numbers) and the
variable of the :class:`Recording` that computes it. Its ``apply`` computes the value
with the primitive (on the values, which may be lower-level tracers) and appends one
equation. Every decision on a recorded value is recorded too, as a *guard*:

- comparisons and ``bool()`` (``fad._ops`` asks :meth:`Recorded.decide`), which is
  also how the partials of ``abs``, ``pow``, ``sqrt``, … decide at their kinks;
- ``int()`` (a guard on ``trunc x``), ``operator.index`` (on an int value), and
  ``float()`` and ``.primal`` (an equality guard on the value: never wrong, but the
  program then holds at that one point only).

Transforms nest over it unchanged: under ``fad.jit(fad.grad(f))`` the recorder is
the outer level, so the tape's forward operations, the registry's partials and the
tape's backward sweep (its generic, non-float sweep, since the partials are recorded
values) all become equations.
"""

from __future__ import annotations

import collections
import operator
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

from fad import _primitives as P
from fad._core import Primitive, bind, is_tracer, register_tracer
from fad._ir import COMPARISONS, IR, Guard
from fad._ops import TracerOps, compare, register_decider

__all__ = ["Recorded", "Recording", "concrete"]

_FAD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_DECIDE = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


_recent = threading.local()


def recent_decisions() -> collections.deque[tuple[Recording, Guard, int, Any, int]]:
    """The latest guards of this thread: ``(recording, guard, id(frame), code, lasti)``.

    The site is the innermost user frame and its instruction (the comparison), so that
    ``fad.where`` / ``fad.cond`` can tell the guard of their own condition argument.
    """
    d: collections.deque[tuple[Recording, Guard, int, Any, int]] | None = getattr(
        _recent, "d", None
    )
    if d is None:
        d = _recent.d = collections.deque(maxlen=64)
    return d


def _note_site(rec: Recording, guard: Guard, depth: int) -> None:
    try:
        frame: Any = sys._getframe(depth)
    except ValueError:  # pragma: no cover - shallow stack
        return
    while frame is not None and frame.f_code.co_filename.startswith((_FAD_DIR, "<fad")):
        frame = frame.f_back
    if frame is not None:
        recent_decisions().append((rec, guard, id(frame), frame.f_code, frame.f_lasti))


def user_line(depth: int = 2) -> str:
    """``file:line: code`` of the innermost frame outside fad (and its emitted code)."""
    import linecache

    try:
        frame: Any = sys._getframe(depth)
    except ValueError:  # pragma: no cover - shallow stack
        return "<unknown>"
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith((_FAD_DIR, "<fad")):
            code = linecache.getline(name, frame.f_lineno).strip()
            return f"{name}:{frame.f_lineno}: {code}"
        frame = frame.f_back
    return "<unknown>"


class Recording:
    """The program being recorded: equations appended as the user's code runs."""

    __slots__ = (
        "args",
        "const_ids",
        "consts",
        "guards",
        "level",
        "n_inputs",
        "prims",
        "tainted",
        "types",
    )

    def __init__(self, level: int) -> None:
        self.level = level
        self.n_inputs = 0
        self.prims: list[Primitive] = []
        self.args: list[tuple[int, ...]] = []
        self.types: list[type] = []
        self.consts: list[Any] = []
        self.const_ids: dict[Any, int] = {}
        self.guards: list[Guard] = []
        # A constant that is a tracer (a closed-over value of an enclosing transform)
        # makes the program valid for this call only: it is then not cached.
        self.tainted = False

    def inputs(self, values: Sequence[Any]) -> list[Recorded]:
        """One recorded input per value (call once, before any equation)."""
        self.n_inputs = len(values)
        self.types = [type(v) for v in values]
        return [Recorded(v, i, self) for i, v in enumerate(values)]

    def const(self, value: Any) -> int:
        """The atom of a constant."""
        t = type(value)
        key: Any
        if t is float:
            key = value.hex() if value == 0 or value != value else value
        elif t is int or t is bool:
            key = (t, value)
        else:
            if is_tracer(value):
                self.tainted = True
            self.consts.append(value)
            return -len(self.consts)
        atom = self.const_ids.get(key)
        if atom is None:
            self.consts.append(value)
            atom = self.const_ids[key] = -len(self.consts)
        return atom

    def atom(self, value: Any) -> int:
        """The atom of a value: its variable if recorded here, else a constant."""
        if type(value) is Recorded and value.recording is self:
            return value.var
        return self.const(value)

    def equation(self, prim: Primitive, atoms: tuple[int, ...], value: Any) -> int:
        """Append ``prim(*atoms)`` with its value at the recording point; its variable."""
        self.prims.append(prim)
        self.args.append(atoms)
        t = type(value)
        if t is not float and t is not int and t is not bool:
            self.tainted = self.tainted or is_tracer(value)
        self.types.append(t)
        return len(self.types) - 1

    def guard(self, var: int, outcome: bool) -> None:
        """Record that the predicate ``var`` had value ``outcome``."""
        g = Guard(var, outcome, user_line(3))
        self.guards.append(g)
        _note_site(self, g, 2)

    def decide(self, name: str, atoms: tuple[int, ...], outcome: Any) -> bool:
        """Record a predicate equation and its guard; return the outcome as a bool."""
        b = bool(outcome)
        self.guard(self.equation(COMPARISONS[name], atoms, b), b)
        return b

    def equal_guard(self, x: Recorded) -> None:
        """Guard that ``x`` keeps its value (NaN: stays NaN)."""
        v = x.value
        if v != v:
            self.decide("ne", (x.var, x.var), True)
        else:
            self.decide("eq", (x.var, self.const(v)), True)

    def to_ir(self, outputs: Sequence[Any]) -> IR:
        """The recorded program with these outputs (recorded values or constants)."""
        out_atoms = [self.atom(o) for o in outputs]
        return IR(
            self.n_inputs,
            self.prims,
            self.args,
            self.types,
            self.consts,
            out_atoms,
            self.guards,
        )


@register_decider
@register_tracer
class Recorded(TracerOps):
    """A value being recorded by ``fad.jit``: its value here and its variable."""

    __slots__ = ("recording", "value", "var")

    def __init__(self, value: Any, var: int, recording: Recording) -> None:
        self.value = value
        self.var = var
        self.recording = recording

    @property
    def level(self) -> int:
        """The level of the jit call recording this value."""
        return self.recording.level

    @property
    def primal(self) -> Any:
        """The value at the recording point, guarded to stay the same (never wrong)."""
        self.recording.equal_guard(self)
        return self.value

    def __repr__(self) -> str:
        return f"Recorded({self.value!r}, var={self.var}, level={self.level})"

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        """Compute ``prim`` on the values and record it as one equation."""
        rec: Any = None
        values = []
        for a in args:
            if type(a) is cls and a.recording.level == level:
                rec = a.recording
                values.append(a.value)
            else:
                values.append(a)
        ans = prim(*values)
        atoms = []
        for a in args:
            if type(a) is cls and a.recording is rec:
                atoms.append(a.var)
            else:
                atoms.append(rec.const(a))
        return cls(ans, rec.equation(prim, tuple(atoms), ans), rec)

    @classmethod
    def decide(cls, name: str, a: Any, b: Any) -> bool:
        """The outcome of comparison ``name`` of ``a`` and ``b``, recorded as a guard."""
        rec: Recording
        if type(a) is cls and (type(b) is not cls or a.level >= b.level):
            rec = a.recording
        else:
            rec = b.recording
        va = a.value if type(a) is cls and a.recording is rec else a
        if name == "truth":
            return rec.decide(name, (rec.atom(a),), bool(va))
        vb = b.value if type(b) is cls and b.recording is rec else b
        return rec.decide(name, (rec.atom(a), rec.atom(b)), _DECIDE[name](va, vb))

    # Comparisons go to the decision machinery directly (TracerOps' fast path would
    # read .primal, which records an equality guard).
    def __eq__(self, other: object) -> bool:
        return compare("eq", operator.eq, self, other)

    def __ne__(self, other: object) -> bool:
        return compare("ne", operator.ne, self, other)

    def __lt__(self, other: Any) -> bool:
        return compare("lt", operator.lt, self, other)

    def __le__(self, other: Any) -> bool:
        return compare("le", operator.le, self, other)

    def __gt__(self, other: Any) -> bool:
        return compare("gt", operator.gt, self, other)

    def __ge__(self, other: Any) -> bool:
        return compare("ge", operator.ge, self, other)

    __hash__ = None  # equal by value, so unhashable (as every tracer)

    def __bool__(self) -> bool:
        return self.decide("truth", self, None)

    def __float__(self) -> float:
        self.recording.equal_guard(self)
        return float(self.value)

    def __int__(self) -> int:
        t = bind(P.trunc, self)  # a recorded trunc; int() is trunc on numbers
        value = t.value if type(t) is Recorded else t
        if type(t) is Recorded:
            t.recording.decide("eq", (t.var, t.recording.const(value)), True)
        return int(value)

    def __index__(self) -> int:
        if type(self.value) is not int:
            msg = f"'{type(self.value).__name__}' object cannot be interpreted as an integer"
            raise TypeError(msg)
        self.recording.equal_guard(self)
        return self.value

    def __complex__(self) -> complex:
        self.recording.equal_guard(self)
        return complex(self.value)


def concrete(value: Any) -> Any:
    """``value`` with every tracer taken off, recorded values included, unguarded."""
    while True:
        if type(value) is Recorded:
            value = value.value
        elif is_tracer(value):
            value = value.primal
        else:
            return value


def _warm_up() -> None:
    """Let fad.tree classify Recorded once, on a throw-away recording.

    ``isinstance(value, Tracer)`` (a runtime protocol check) reads ``.primal`` on
    Python < 3.12, which guards; ``fad.tree`` asks it once per type and caches the
    answer, so the first real recording must not be the one that pays it.
    """
    from fad.tree import tree_flatten

    tree_flatten(Recorded(0.0, 0, Recording(0)))


_warm_up()
