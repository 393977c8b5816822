"""Dual numbers ``(a, b)``: forward mode, the tangent carried beside the primal."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from fad._core import GENERIC, Primitive, bind, is_tracer, partials_at, register_tracer
from fad._ops import BINARY_OPERATORS
from fad.tracers._build import (
    TracerBase,
    install_fast_paths,
    keep_fast_paths_off_subclasses,
    twin,
)

__all__ = ["Dual"]


def _check_real(value: Any, field: str) -> None:
    """Refuse a ``Dual`` field that is not a real scalar or a tracer, naming the field."""
    t = type(value)
    if t is float or t is int or is_tracer(value):
        return
    if t is bool or not isinstance(value, numbers.Real):
        msg = (
            f"fad.Dual: the {field} must be a real scalar (float, int) or a fad tracer, "
            f"got a {t.__name__} ({value!r})."
        )
        raise TypeError(msg)


@register_tracer
@attrs.frozen(eq=False, repr=False, weakref_slot=False, init=False)  # TracerBase: weakref
class Dual(TracerBase):
    """A dual number: a primal value and its tangent (directional derivative).

    The rule for every primitive is derived from its partials: the tangent of
    ``f(x₁, …, xₙ)`` is ``Σ ∂ᵢf · ẋᵢ``. ``level`` tells which transform made it; a
    Dual made by hand has level 0. A subclass stays that subclass through every
    operation.

    Example:
        >>> import fad
        >>> x = fad.Dual(3.0, 1.0)
        >>> y = x * x + 2 * x
        >>> (y.primal, y.tangent)
        (15.0, 8.0)
    """

    primal: Any
    tangent: Any
    level: int = 0

    def __init__(self, primal: Any, tangent: Any, level: int = 0) -> None:
        # Written out to check what a user passes; fad's own rules build Duals from
        # values that are already checked, through the twin (fad/tracers/_build.py).
        _check_real(primal, "primal")
        _check_real(tangent, "tangent")
        object.__setattr__(self, "primal", primal)
        object.__setattr__(self, "tangent", tangent)
        object.__setattr__(self, "level", level)

    def __repr__(self) -> str:
        level = f", level={self.level}" if self.level else ""
        return f"{type(self).__name__}({self.primal!r}, {self.tangent!r}{level})"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        keep_fast_paths_off_subclasses(cls, Dual, FAST_OPERATORS)

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        """Dual rule of ``prim``: value of the primals, tangent Σ ∂ᵢ·ẋᵢ."""
        primals = []  # a loop, not a comprehension: see TapeCodual.apply
        traced = []
        for i, a in enumerate(args):
            if type(a) is cls and a.level == level:
                primals.append(a.primal)
                traced.append(i)
            else:
                primals.append(a)
        ans = prim(*primals)
        if prim.partials is None:
            return ans
        tangent: Any = None
        for i, d in zip(traced, partials_at(prim, ans, primals, traced), strict=True):
            term = _times(d, args[i].tangent)
            tangent = term if tangent is None else tangent + term
        if cls is Dual:
            return _new_dual(ans, tangent, level)
        return cls(ans, tangent, level)  # a user's subclass: its own __init__


def _times(d: Any, tangent: Any) -> Any:
    """``d · tangent``, the one product of Dual's rule (skipped for a float ±1)."""
    if type(d) is float:
        if d == 1.0:
            return tangent
        if d == -1.0:
            return -tangent
    return d * tangent


_Twin = twin(Dual)  # see fad/tracers/_build.py


def _new_dual(primal: Any, tangent: Any, level: int) -> Dual:
    """Build a Dual without the frozen ``__init__``: fill its twin, then freeze it."""
    d = _Twin()
    d.primal = primal
    d.tangent = tangent
    d.level = level
    d.__class__ = Dual
    dual: Dual = d
    return dual


# --- fast paths ---------------------------------------------------------------------
# Operators derived from the registry like ``apply`` (the same impl, partials and
# ``_times``), that skip the generic dispatch when the primals are floats and the
# other operand is a number or a Dual of the same level; anything else goes through
# ``bind``. Figures in docs/benchmarks.md; tests/test_generic.py checks them bit for
# bit against ``apply``.


def _fast_binary(prim: Primitive) -> tuple[Callable[..., Any], Callable[..., Any]]:
    impl = prim.impl
    assert prim.partials is not None
    d0, d1 = prim.partials
    c0, c1 = prim.linear if prim.linear is not None else (None, None)

    def op(self: Dual, other: Any) -> Any:
        t = type(other)
        a = self.primal
        if type(a) is float:
            if t is float or t is int:
                ans = impl(a, other)
                d = d0(ans, a, other) if c0 is None else c0
                return _new_dual(ans, _times(d, self.tangent), self.level)
            if t is Dual and other.level == self.level:
                b = other.primal
                if type(b) is float:
                    ans = impl(a, b)
                    if c0 is None:
                        tangent = _times(d0(ans, a, b), self.tangent) + _times(
                            d1(ans, a, b), other.tangent
                        )
                    else:
                        tangent = _times(c0, self.tangent) + _times(c1, other.tangent)
                    return _new_dual(ans, tangent, self.level)
        if t is not float and isinstance(other, float):  # np.float64: as the float
            return op(self, float(other))
        return bind(prim, self, other)

    def rop(self: Dual, other: Any) -> Any:
        t = type(other)
        b = self.primal
        if type(b) is float and (t is float or t is int):
            ans = impl(other, b)
            d = d1(ans, other, b) if c1 is None else c1
            return _new_dual(ans, _times(d, self.tangent), self.level)
        if t is not float and isinstance(other, float):  # np.float64: as the float
            return rop(self, float(other))
        return bind(prim, other, self)

    return op, rop


FAST_OPERATORS: dict[str, Callable[..., Any]] = {}
for _name, _prim in BINARY_OPERATORS:
    FAST_OPERATORS[f"__{_name}__"], FAST_OPERATORS[f"__r{_name}__"] = _fast_binary(_prim)


def use_fast_paths(on: bool) -> None:
    """Install the fast paths (``on``) or route every operation through ``apply``.

    Done once at import, off under ``FAD_GENERIC=1``; tests/test_generic.py switches
    it to compare both ways in one process.
    """
    install_fast_paths(Dual, FAST_OPERATORS, on)


use_fast_paths(not GENERIC)
