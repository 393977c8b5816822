"""The heart of fad: primitives, levels, and the dispatch that picks a tracer.

Every elementary operation is a :class:`Primitive`: a value on plain numbers and one
partial derivative per argument, the partials written with fad's own operations so
that they can be differentiated again. Calling a primitive runs :func:`bind`, which
looks at the arguments, finds the tracer of the highest *level* among them and hands
the primitive to that tracer class's ``apply``. A tracer class turns the single
definition into its own rule (tangent = Σ ∂ᵢ·ṫᵢ for ``Dual``, backprop
k ↦ Σ Bᵢ(∂ᵢ·k) for ``Codual``), so every rule is derived by code from one source.

Levels: every transform call takes a fresh integer from a process-wide counter
(``itertools.count`` is atomic under the GIL, so threads never share a level). A
tracer made by an enclosing transform has a smaller level than one made by an inner
transform, so the inner one is on top and sees the outer one as a constant. Tracers
a user builds by hand have level 0. That is what keeps perturbations of nested
transforms apart.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "FadRecursionError",
    "Primitive",
    "Pullback",
    "ReverseTracer",
    "Tracer",
    "bind",
    "is_tracer",
    "new_level",
    "primal_value",
    "register_tracer",
    "top_tracer",
]

_level_counter = itertools.count(1)


def new_level() -> int:
    """Return a level no other transform call has used (thread-safe)."""
    return next(_level_counter)


Partial = Callable[..., Any]


class Primitive:
    """An elementary function defined once: its value and its partial derivatives.

    Args:
        name: the name used in error messages and graphs (``"sin"``).
        impl: the function on plain numbers (``math.sin``). It is only ever called
            with ``float``/``int`` arguments.
        partials: one function per argument, ``partial_i(ans, *args)``, giving
            ∂ans/∂argᵢ. Written with fad operations, so they work on tracers and
            nest. ``None`` marks a function with zero derivative (``floor``): its
            result on tracers is the plain value.
        linear: for linear primitives (``add``, ``neg``), the constant partials;
            tracers use them to skip the multiplications (a fast path).

    Example:
        >>> import math
        >>> import fad
        >>> square = fad.primitive(lambda x: x * x, lambda ans, x: 2 * x, name="square")
        >>> fad.grad(square)(3.0)
        6.0
    """

    __slots__ = ("__name__", "impl", "linear", "name", "partials")

    def __init__(
        self,
        name: str,
        impl: Callable[..., Any],
        partials: Sequence[Partial] | None,
        *,
        linear: Sequence[float] | None = None,
    ) -> None:
        self.name = name
        self.__name__ = name
        self.impl = impl
        self.partials: tuple[Partial, ...] | None = None if partials is None else tuple(partials)
        self.linear: tuple[float, ...] | None = None if linear is None else tuple(linear)

    def __call__(self, *args: Any) -> Any:  # replaced by ``bind`` itself below
        return bind(self, *args)

    def __repr__(self) -> str:
        return f"<fad primitive {self.name}>"


@runtime_checkable
class Tracer(Protocol):
    """What a value must provide to carry a derivative through fad.

    ``Dual``, the codual classes and ``Jet`` satisfy it, and so can a user's own
    class (see docs/tracers.md). A tracer holds a ``primal`` (the ordinary value,
    itself perhaps a tracer of a lower level) and a ``level``; its class's
    ``apply`` turns one :class:`Primitive` into that tracer's rule.
    """

    @property
    def primal(self) -> Any: ...

    @property
    def level(self) -> int: ...

    @classmethod
    def apply(cls, prim: Primitive, args: Sequence[Any], level: int) -> Any:
        """Apply ``prim`` to ``args``, at least one of which is this class at ``level``.

        Arguments that are not this class at ``level`` are constants here (numbers
        or tracers of lower levels).
        """
        ...


Pullback = Callable[[Sequence[Any], Sequence[Any]], list[Any]]
"""``pullback(outputs, cotangents) -> input cotangents`` of a reverse strategy."""


@runtime_checkable
class ReverseTracer(Tracer, Protocol):
    """A tracer class that can serve as a reverse-mode strategy (``mode=``)."""

    @classmethod
    def seed(cls, primals: Sequence[Any], level: int) -> tuple[list[Any], Pullback]:
        """Make one input tracer per primal, and the pullback of the recording.

        The pullback maps the function's outputs (tracers of ``level`` or constants)
        and a cotangent for each to one cotangent per input. It may be called any
        number of times and must give the same answer each time.
        """
        ...


class FadRecursionError(RecursionError):
    """A recursive reverse strategy ran past Python's recursion limit."""


# type -> True for tracer classes, False for plain numbers; filled lazily.
_kinds: dict[type, bool] = {float: False, int: False, bool: False}


def register_tracer(cls: type) -> type:
    """Mark ``cls`` as a tracer class (done for fad's own; optional for users)."""
    _kinds[cls] = True
    return cls


def _kind(t: type, value: Any, prim: Primitive | None) -> bool:
    kind = _kinds.get(t)
    if kind is not None:
        return kind
    if isinstance(value, Tracer):
        _kinds[t] = True
        return True
    if isinstance(value, numbers.Real):
        _kinds[t] = False
        return False
    where = f"fad.{prim.name}" if prim is not None else "fad"
    msg = (
        f"{where} got an argument of type {t.__name__} ({value!r}); fad differentiates "
        "real scalars: float, int or a fad tracer."
    )
    raise TypeError(msg)


def is_tracer(value: Any) -> bool:
    """Return whether ``value`` is a fad tracer (of any level); never raises."""
    t = type(value)
    kind = _kinds.get(t)
    if kind is not None:
        return kind
    if isinstance(value, Tracer):
        _kinds[t] = True
        return True
    return False


def primal_value(value: Any) -> Any:
    """Strip every tracer off ``value`` and return the plain value inside."""
    while _kinds.get(type(value)) or (type(value) not in _kinds and isinstance(value, Tracer)):
        value = value.primal
    return value


def top_tracer(args: Sequence[Any], where: Primitive | str) -> tuple[type | None, int]:
    """The class and level of the highest tracer among ``args`` (``(None, -1)``: none).

    Raises:
        TypeError: for an argument that is neither a real number nor a tracer, or two
            tracers of different classes at the same level (naming ``where``).
    """
    top: type | None = None
    level = -1
    for arg in args:
        t = type(arg)
        if t is float or t is int:
            continue
        kind = _kinds.get(t)  # _kind(), inlined for the types already seen: one call less
        if kind is None:
            kind = _kind(t, arg, where if isinstance(where, Primitive) else None)
        if kind:
            arg_level = arg.level
            if arg_level > level:
                top, level = t, arg_level
            elif arg_level == level and t is not top:
                other = top.__name__ if top is not None else "tracer"
                name = where.name if isinstance(where, Primitive) else where
                msg = (
                    f"fad.{name} got a {t.__name__} and a {other} of the same "
                    f"level {level}; tracers of different kinds combine only when one "
                    "comes from a transform nested inside the other."
                )
                raise TypeError(msg)
    return top, level


def bind(prim: Primitive, *args: Any) -> Any:
    """Apply ``prim`` to ``args``: on numbers directly, else by the top tracer's rule."""
    for arg in args:  # plain floats and ints, the common case, without a call
        t = type(arg)
        if t is not float and t is not int:
            break
    else:
        return prim.impl(*args)
    top, level = top_tracer(args, prim)
    if top is None:
        return prim.impl(*args)
    return top.apply(prim, args, level)  # type: ignore[attr-defined]


# ``prim(*args)`` is ``bind(prim, *args)``: set the function itself as the method, so
# that calling a primitive costs one Python call, not two.
Primitive.__call__ = bind  # type: ignore[method-assign, assignment]


def check_recursion(mode: str) -> FadRecursionError:
    """The error a recursive strategy raises when a program is too deep for it."""
    return FadRecursionError(
        f'mode="{mode}" backpropagates by recursion, one Python frame per step of the '
        "program, and this program is deeper than Python's recursion limit. Use "
        'mode="tape" (the default), which runs its backward pass as a loop.'
    )
