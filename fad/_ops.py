"""Python's operators for every tracer, written once as calls of the primitives.

:class:`TracerOps` is a mixin (no state, empty ``__slots__``) that gives a tracer
class the arithmetic operators with their reflected forms, comparisons and
``bool()`` on the primal, and the conversions to ``float``/``int``/``complex`` that
refuse to drop a derivative silently.
"""

from __future__ import annotations

import linecache
import operator
import re
import sys
from typing import Any

import attrs

from fad import _primitives as P
from fad._core import bind, is_tracer, primal_value

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

_MATH_CALL = re.compile(r"(?<![\w.])math\.(\w+)\s*\(")


def conversion_error(value: Any, target: str, depth: int = 2) -> TypeError:
    """The error for ``float(tracer)`` and friends, naming the likely fix.

    When the source line that asked for the conversion calls a function of Python's
    ``math`` module, the message names the ``fad.math`` function to use instead.
    """
    hint = ""
    try:
        frame = sys._getframe(depth)
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    except ValueError:  # pragma: no cover - shallow stack
        line = ""
    names = _MATH_CALL.findall(line)
    if names:
        hint = (
            f" It looks like math.{names[0]} was called on it: use fad.math.{names[0]}, "
            "which differentiates."
        )
    msg = (
        f"{target}() of a {type(value).__name__} would drop its derivative.{hint} To drop "
        "the derivative on purpose, use fad.stop_gradient(x) or x.primal."
    )
    return TypeError(msg)


# Tracer classes whose values decide comparisons themselves (they record them).
_DECIDERS: set[type] = set()


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

    def __getattr__(self, name: str) -> Any:
        # numpy calls x.sin() for np.sin on object arrays: the registry's primitives
        # by numpy's names (fad._numpy); only names missing from the class get here.
        if name.startswith("__"):
            raise AttributeError(name)
        from fad._numpy import ufunc_method

        return ufunc_method(self, name)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
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
        return len(a) == len(b) and all(
            structurally_equal(x, y) for x, y in zip(a, b, strict=True)
        )
    if callable(a):
        return a is b
    return bool(a == b) or (a != a and b != b)  # NaN equals NaN here


compare = _compare  # for decider classes, whose comparisons skip the fast path above
