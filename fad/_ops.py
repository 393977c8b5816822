"""Python's operators for every tracer, written once as calls of the primitives.

:class:`TracerOps` is a mixin (no state, empty ``__slots__``) that gives a tracer
class the arithmetic operators with their reflected forms, comparisons and
``bool()`` on the primal, and the conversions to ``float``/``int``/``complex`` that
refuse to drop a derivative silently.
"""

from __future__ import annotations

import builtins
import linecache
import math
import operator
import re
import sys
import types
from typing import Any

import attrs

from fad import _primitives as P
from fad._core import DECIDERS, bind, is_tracer, primal_value

__all__ = [
    "BINARY_OPERATORS",
    "TracerOps",
    "compare",
    "conversion_error",
    "register_decider",
    "structurally_equal",
]

# The arithmetic operators that Dual and TapeCodual give fast paths, by dunder name.
BINARY_OPERATORS = (
    ("add", P.add),
    ("sub", P.sub),
    ("mul", P.mul),
    ("truediv", P.truediv),
    ("pow", P.pow),
)

_CALLED_NAME = re.compile(r"((?:[A-Za-z_]\w*\s*\.\s*)*[A-Za-z_]\w*)\s*\(")
# Functions of ``math`` that fad.math mirrors but that look at the primal only.
_PREDICATES = frozenset({"isclose", "isfinite", "isinf", "isnan"})
# Functions of ``math`` that take a tracer through ``__floor__`` & co.: never the cause.
_DUNDER_DISPATCHED = frozenset({"floor", "ceil", "trunc"})


def _called(line: str, frame: Any) -> list[tuple[str, Any]]:
    """``(as written, object)`` for each function the source line calls, as it can be found.

    Each called name (``sin``, ``m.sin``, ``lib.sin``) is looked up in the frame, so
    ``from math import sin``, ``import math as m`` and a module passed as an argument
    are recognised; attribute chains are followed through modules only.
    """
    found = []
    for written in _CALLED_NAME.findall(line):
        parts = [p.strip() for p in written.split(".")]
        head = parts[0]
        if head in frame.f_locals:
            obj = frame.f_locals[head]
        elif head in frame.f_globals:
            obj = frame.f_globals[head]
        else:
            obj = getattr(builtins, head, None)
        for attr in parts[1:]:
            obj = getattr(obj, attr, None) if isinstance(obj, types.ModuleType) else None
        found.append((".".join(parts), obj))
    return found


def _math_function(called: list[tuple[str, Any]]) -> tuple[str, str] | None:
    """``(as written, name in math)`` of the first function of ``math`` called, if any."""
    for written, obj in called:
        name = getattr(obj, "__name__", "")
        if getattr(obj, "__self__", None) is math and name not in _DUNDER_DISPATCHED:
            return written, name
    return None


def _mirrored(name: str) -> bool:
    """Whether fad.math has a function ``name`` (imported late: fad.math needs no _ops)."""
    import fad.math

    return name in fad.math.__all__


def _math_hint(written: str, name: str) -> str:
    """What to use instead of ``math.<name>`` on a tracer."""
    called = f"{written}()" if written == f"math.{name}" else f"{written}() (math.{name})"
    if name in _PREDICATES:
        return (
            f"{called} needs a float: use fad.math.{name}, which looks at the primal "
            "(it has no derivative)."
        )
    if _mirrored(name):
        return (
            f"{called} needs a float, which would drop the derivative: use "
            f"fad.math.{name}, which differentiates."
        )
    return (
        f"{called} needs a plain number and has no derivative (fad.math has no {name}): "
        f"call it on x.primal, or on fad.stop_gradient(x), to use the value without its "
        "derivative."
    )


def conversion_error(value: Any, target: str, depth: int = 2) -> TypeError:
    """The error for ``float(tracer)`` and friends, naming the likely cause and fix.

    Python's ``math`` functions convert their argument with ``float()`` (or
    ``int()``), so that is the likely cause: when the source line that asked for the
    conversion calls a function of ``math`` — however it was imported, or a module
    passed as an argument — the message names it and the ``fad.math`` function to use
    instead; when the line cannot be read, the message still names that cause.
    """
    kind = type(value).__name__
    drop = "To drop the derivative on purpose, use fad.stop_gradient(x) or x.primal."
    try:
        frame = sys._getframe(depth)
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    except ValueError:  # pragma: no cover - shallow stack
        frame, line = None, ""
    called = _called(line, frame) if frame is not None and line else []
    found = _math_function(called)
    if frame is not None and frame.f_globals.get("__name__") == "statistics":
        msg = (
            f"statistics.{frame.f_code.co_name} converts its data to floats, which would "
            f"drop the derivative of a {kind}: write the mean as fad.math.fsum(xs) / len(xs) "
            f"(or sum(xs) / len(xs)), which differentiates. {drop}"
        )
        return TypeError(msg)
    if found is not None:
        msg = f"A {kind} (a value carrying a derivative) was passed to Python's math module: "
        msg += _math_hint(*found)
        if found[1] in _PREDICATES or _mirrored(found[1]):
            msg += f" {drop}"
        return TypeError(msg)
    if any(obj is getattr(builtins, target) for _, obj in called):
        return TypeError(f"{target}() of a {kind} would drop its derivative. {drop}")
    others = [w for w, obj in called if getattr(obj, "__module__", None) == "builtins"]
    if others:  # range(x) and the like; the innermost call of a line comes last
        msg = (
            f"{others[-1]}() converts its argument with {target}(), which would drop the "
            f"derivative of a {kind}. {drop}"
        )
        return TypeError(msg)
    where_int = " or its use where Python needs an int (an index)" if target == "int" else ""
    msg = (
        f"A {kind} (a value carrying a derivative) was converted with {target}(), which "
        "would drop its derivative. The likely cause is a function of Python's math "
        "module, which converts its argument so (math.sin(x), or sin(x) after `from "
        f"math import sin`){where_int}: for math, use the fad.math function of the same "
        f"name, which differentiates (fad.math.sin). {drop}"
    )
    return TypeError(msg)


# Tracer classes whose values decide comparisons themselves (they record them).
_DECIDERS = DECIDERS


def register_decider(cls: type) -> type:
    """Mark ``cls`` as a tracer that decides comparisons: ``cls.decide(name, a, b)``.

    A comparison (or ``bool()``) of tracers strips tracers off both operands, down to
    plain values; it stops at a value of a decider class and asks that class for the
    outcome instead. ``name`` is ``"eq"``, ``"ne"``, ``"lt"``, ``"le"``, ``"gt"``,
    ``"ge"`` or ``"truth"`` (then ``b`` is ``None``). ``fad.jit``'s recorder is one: it
    records the outcome as a guard.
    """
    _DECIDERS.add(cls)
    return cls


def _decision_operand(value: Any) -> Any:
    """``value`` with tracers taken off, down to a plain value or a decider's value."""
    while True:
        t = type(value)
        if t is float or t is int or t in _DECIDERS:
            return value
        if not is_tracer(value):
            return value
        value = value.primal


def _compare(name: str, op: Any, x: Any, y: Any) -> bool:
    """``op(x, y)`` on the values under the tracers, or a decider's outcome."""
    a = _decision_operand(x)
    b = _decision_operand(y)
    ta = type(a)
    tb = type(b)
    if ta in _DECIDERS or tb in _DECIDERS:
        if ta in _DECIDERS and (tb not in _DECIDERS or a.level >= b.level):
            return bool(a.decide(name, a, b))
        return bool(b.decide(name, a, b))
    return bool(op(a, b))


# numpy's binary ufuncs that are Python operators, for a numpy float scalar and a tracer.
_SCALAR_OPERATORS = {
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "true_divide": operator.truediv,
    "divide": operator.truediv,
    "power": operator.pow,
}


class TracerOps:
    """Operators of a tracer, each one call of a primitive (mixin)."""

    __slots__ = ()
    primal: Any

    def __add__(self, other: Any) -> Any:
        return bind(P.add, self, other)

    def __radd__(self, other: Any) -> Any:
        return bind(P.add, other, self)

    def __sub__(self, other: Any) -> Any:
        return bind(P.sub, self, other)

    def __rsub__(self, other: Any) -> Any:
        return bind(P.sub, other, self)

    def __mul__(self, other: Any) -> Any:
        return bind(P.mul, self, other)

    def __rmul__(self, other: Any) -> Any:
        return bind(P.mul, other, self)

    def __truediv__(self, other: Any) -> Any:
        return bind(P.truediv, self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return bind(P.truediv, other, self)

    def __pow__(self, other: Any) -> Any:
        return bind(P.pow, self, other)

    def __rpow__(self, other: Any) -> Any:
        return bind(P.pow, other, self)

    def __floordiv__(self, other: Any) -> Any:
        return bind(P.floordiv, self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return bind(P.floordiv, other, self)

    def __mod__(self, other: Any) -> Any:
        return bind(P.mod, self, other)

    def __rmod__(self, other: Any) -> Any:
        return bind(P.mod, other, self)

    def __neg__(self) -> Any:
        return bind(P.neg, self)

    def __pos__(self) -> Any:
        return bind(P.pos, self)

    def __abs__(self) -> Any:
        return bind(P.abs, self)

    def __floor__(self) -> Any:
        return bind(P.floor, self)

    def __ceil__(self) -> Any:
        return bind(P.ceil, self)

    def __trunc__(self) -> Any:
        return bind(P.trunc, self)

    def __round__(self, ndigits: int | None = None) -> Any:
        return round(primal_value(self), ndigits)

    def __divmod__(self, other: Any) -> tuple[Any, Any]:
        return bind(P.floordiv, self, other), bind(P.mod, self, other)

    def __rdivmod__(self, other: Any) -> tuple[Any, Any]:
        return bind(P.floordiv, other, self), bind(P.mod, other, self)

    # What numbers.Real gives a number: a tracer is real, its own real part.
    @property
    def real(self) -> Any:
        """The tracer itself (a real number is its own real part), derivative and all."""
        return self

    @property
    def imag(self) -> float:
        """``0.0``: a real number has no imaginary part (and it has no derivative)."""
        return 0.0

    def conjugate(self) -> Any:
        """The tracer itself: a real number is its own complex conjugate."""
        return self

    def is_integer(self) -> bool:
        """Whether the primal is a whole number (as ``float.is_integer``)."""
        v = primal_value(self)
        return isinstance(v, int) or float(v).is_integer()

    def __format__(self, spec: str) -> str:
        """``f"{x:.3f}"`` formats the primal (debug prints); ``f"{x}"`` is ``str(x)``."""
        if not spec:
            return str(self)
        return format(primal_value(self), spec)

    def as_integer_ratio(self) -> tuple[int, int]:
        """Refused: a ratio of integers cannot carry a derivative (statistics.mean asks)."""
        kind = type(self).__name__
        msg = (
            f"as_integer_ratio() of a {kind} would drop its derivative: a ratio of integers "
            "cannot carry one. statistics.mean, variance and stdev convert their data so; "
            "write the mean as sum(xs) / len(xs) (or fad.math.fsum(xs) / len(xs)), which "
            "differentiates. To drop the derivative on purpose, use fad.stop_gradient(x) "
            "or x.primal."
        )
        raise TypeError(msg)

    # Comparisons and truth act on the primal and return plain bools, so that
    # ordinary control flow works under every transform. A tracer class that records
    # decisions (jit's recorder, see ``register_decider``) is asked for the outcome;
    # such a class defines its own comparisons (reading ``.primal`` may record).
    def __eq__(self, other: object) -> bool:
        a = self.primal
        if type(a) is float and (type(other) is float or type(other) is int):
            return a == other  # one tracer over a float against a number: the common case
        return _compare("eq", operator.eq, self, other)

    def __ne__(self, other: object) -> bool:
        a = self.primal
        if type(a) is float and (type(other) is float or type(other) is int):
            return a != other  # one tracer over a float against a number: the common case
        return _compare("ne", operator.ne, self, other)

    def __lt__(self, other: Any) -> bool:
        a = self.primal
        if type(a) is float and (type(other) is float or type(other) is int):
            return a < other  # one tracer over a float against a number: the common case
        return _compare("lt", operator.lt, self, other)

    def __le__(self, other: Any) -> bool:
        a = self.primal
        if type(a) is float and (type(other) is float or type(other) is int):
            return a <= other  # one tracer over a float against a number: the common case
        return _compare("le", operator.le, self, other)

    def __gt__(self, other: Any) -> bool:
        a = self.primal
        if type(a) is float and (type(other) is float or type(other) is int):
            return a > other  # one tracer over a float against a number: the common case
        return _compare("gt", operator.gt, self, other)

    def __ge__(self, other: Any) -> bool:
        a = self.primal
        if type(a) is float and (type(other) is float or type(other) is int):
            return a >= other  # one tracer over a float against a number: the common case
        return _compare("ge", operator.ge, self, other)

    def __bool__(self) -> bool:
        value = _decision_operand(self)
        if type(value) in _DECIDERS:
            return bool(value.decide("truth", value, None))
        return bool(value)

    __hash__ = None  # type: ignore[assignment]  # equal by primal, so unhashable (as JAX)

    def __float__(self) -> float:
        raise conversion_error(self, "float")

    def __int__(self) -> int:
        raise conversion_error(self, "int")

    def __complex__(self) -> complex:
        raise conversion_error(self, "complex")

    def __index__(self) -> int:
        raise conversion_error(self, "int")

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        # ``np.float64(c) * x`` lands here: as the operator on a float, without fad._numpy
        if len(inputs) == 2 and method == "__call__" and not kwargs:
            op = _SCALAR_OPERATORS.get(ufunc.__name__)
            if op is not None:
                a, b = inputs
                if type(a) is not float and isinstance(a, float):
                    return op(float(a), b)
                if type(b) is not float and isinstance(b, float):
                    return op(a, float(b))
        # np.copysign(tracer, y) and friends: the primitive of the ufunc (fad._numpy)
        from fad._numpy import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)


def structurally_equal(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are the same value, tracer structure included.

    ``==`` on tracers compares primals only (so that control flow works under the
    transforms); this helper compares everything: the tracer class, and each field in
    turn (primal, tangent, level, …), recursively. Callables such as a codual's
    backpropagator compare by identity.

    Example:
        >>> import fad
        >>> fad.Dual(1.0, 2.0) == fad.Dual(1.0, 3.0)
        True
        >>> fad.structurally_equal(fad.Dual(1.0, 2.0), fad.Dual(1.0, 3.0))
        False
        >>> fad.structurally_equal(fad.Dual(1.0, 2.0), fad.Dual(1.0, 2.0))
        True
    """
    if type(a) is not type(b):
        return False
    if attrs.has(type(a)):
        return all(
            structurally_equal(getattr(a, f.name), getattr(b, f.name))
            for f in attrs.fields(type(a))
        )
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(structurally_equal(x, y) for x, y in zip(a, b, strict=True))
    if callable(a):
        return a is b
    return bool(a == b) or (a != a and b != b)  # NaN equals NaN here


compare = _compare  # for decider classes, whose comparisons skip the fast path above
