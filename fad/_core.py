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
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "DECIDERS",
    "GENERIC",
    "FadRecursionError",
    "Primitive",
    "Pullback",
    "ReverseTracer",
    "Tracer",
    "UnexpectedTracerError",
    "bind",
    "check_live",
    "finish",
    "is_tracer",
    "new_level",
    "on_finish",
    "partials_at",
    "primal_value",
    "recursion_error",
    "register_tracer",
    "top_tracer",
]

GENERIC = os.environ.get("FAD_GENERIC", "") not in ("", "0")
"""``FAD_GENERIC=1`` (read once, at import): no fast paths; every operation runs ``bind``
and the tracer's ``apply``. CI runs the test suite both ways."""

_level_counter = itertools.count(1)

DECIDERS: set[type] = set()
"""Tracer classes that decide comparisons themselves (``fad._ops.register_decider``):
staging tracers such as jit's recorder, whose ``primal`` is not read without a guard."""

# The levels of the transforms now running, each with what to tell when it finishes
# (weak references to objects with a ``close()`` method, such as tapes).
_live: dict[int, list[Callable[[], Any]]] = {}


def new_level() -> int:
    """Return a level no other transform call has used (thread-safe).

    The level is *live* until :func:`check_live` is called for it, as the transform
    reads its outputs.
    """
    level = next(_level_counter)
    _live[level] = []
    return level


def on_finish(level: int, ref: Callable[[], Any]) -> None:
    """Call ``ref().close()`` (when ``ref()`` is not None) as transform ``level`` finishes."""
    hooks = _live.get(level)
    if hooks is not None:
        hooks.append(ref)


class UnexpectedTracerError(TypeError):
    """A tracer was used or returned after the transform that made it had finished.

    It happens when a function stores a tracer where it outlives the call (a global,
    a cache, an attribute) and a later call uses it. Pass such values in as arguments
    and return results; keep a plain number with ``fad.stop_gradient(x)`` or
    ``x.primal``.

    Example:
        >>> import fad
        >>> store = {}
        >>> f = lambda x: store.setdefault("x", x) * 1.0
        >>> fad.grad(f)(3.0)
        1.0
        >>> fad.grad(f)(4.0)
        Traceback (most recent call last):
        ...
        fad._core.UnexpectedTracerError: a tracer of a fad transform that has finished ...
    """


def finish(level: int) -> None:
    """End transform ``level`` without reading outputs (its function raised): close its tapes."""
    for ref in _live.pop(level, ()):
        closing = ref()
        if closing is not None:
            closing.close()


def check_live(leaves: Sequence[Any], fname: str, level: int) -> None:
    """Finish transform ``level``, whose outputs are ``leaves``: no tracer in them is stale.

    The transforms call this as they read the function's outputs. A tracer of a
    transform that has already finished (a leaked tracer, returned again) raises
    :class:`UnexpectedTracerError`; then ``level`` is no longer live and its tapes
    refuse new entries.

    Raises:
        UnexpectedTracerError: naming ``fad.{fname}`` and what to do.
    """
    for leaf in leaves:
        value = leaf
        while type(value) is not float and type(value) is not int and is_tracer(value):
            if type(value) in DECIDERS:
                break  # a staging tracer: its transform is running; its primal is not read
            other = value.level
            if other != level and other != 0 and other not in _live:
                msg = (
                    f"fad.{fname}: the function returned a {type(value).__name__} of a fad "
                    f"transform that has finished (level {other}): a tracer leaked out of "
                    "an earlier call, for example kept in a global, a cache or an object. "
                    "Pass such values in as arguments and return results; keep a plain "
                    "number with fad.stop_gradient(x) or x.primal."
                )
                raise UnexpectedTracerError(msg)
            value = value.primal
    finish(level)


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
        all_partials: optionally, ``all_partials(ans, *args)`` giving every partial
            at once, equal to ``[p(ans, *args) for p in partials]``: for functions of
            n arguments (``hypot``, ``sumprod``), where calling n partials with n
            arguments each would cost O(n²). Tracers ask :func:`partials_at`.

    Example:
        >>> import math
        >>> import fad
        >>> square = fad.primitive(lambda x: x * x, lambda ans, x: 2 * x, name="square")
        >>> fad.grad(square)(3.0)
        6.0
    """

    __slots__ = ("__name__", "all_partials", "impl", "linear", "name", "partials")

    def __init__(
        self,
        name: str,
        impl: Callable[..., Any],
        partials: Sequence[Partial] | None,
        *,
        linear: Sequence[float] | None = None,
        all_partials: Callable[..., Sequence[Any]] | None = None,
    ) -> None:
        self.name = name
        self.__name__ = name
        self.impl = impl
        self.partials: tuple[Partial, ...] | None = (
            None if partials is None else tuple(partials)
        )
        self.linear: tuple[float, ...] | None = None if linear is None else tuple(linear)
        self.all_partials = all_partials

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


def partials_at(
    prim: Primitive, ans: Any, primals: Sequence[Any], wanted: Sequence[int]
) -> list[Any]:
    """``∂ans/∂primals[i]`` for each ``i`` in ``wanted``: how every tracer asks for partials.

    The constants of a linear primitive, else one call of ``all_partials`` when the
    primitive has it, else one call of each wanted partial.
    """
    linear = prim.linear
    if linear is not None:
        return [linear[i] for i in wanted]
    every = prim.all_partials
    if every is not None:
        ds = every(ans, *primals)
        return [ds[i] for i in wanted]
    partials = prim.partials
    assert partials is not None
    return [partials[i](ans, *primals) for i in wanted]


class FadRecursionError(RecursionError):
    """A recursive reverse strategy ran past Python's recursion limit."""


# type -> whether its values are tracers (True) or plain numbers (False); filled as
# types are met, so that the runtime-checkable Protocol's slow isinstance runs once
# per type (np.float64 is a float subclass: a number, as cheap as a float).
_is_tracer_type: dict[type, bool] = {float: False, int: False, bool: False}


_FLOAT_SUBCLASSES: set[type] = set()  # met so far; bind gives tracers floats instead


def register_tracer(cls: type) -> type:
    """Mark ``cls`` as a tracer class (done for fad's own; optional for users)."""
    _is_tracer_type[cls] = True
    return cls


class ArrayArgumentError(TypeError):
    """A numpy array where a primitive takes scalars: :func:`bind` maps it elementwise."""


def _kind(t: type, value: Any, prim: Primitive | None) -> bool:
    kind = _is_tracer_type.get(t)
    if kind is not None:
        return kind
    if isinstance(value, (float, int)):  # float and int subclasses (np.float64): numbers
        _is_tracer_type[t] = False
        if isinstance(value, float):
            _FLOAT_SUBCLASSES.add(t)
        return False
    if isinstance(value, Tracer):
        _is_tracer_type[t] = True
        return True
    if isinstance(value, numbers.Real):
        _is_tracer_type[t] = False
        return False
    where = f"fad.{prim.name}" if prim is not None else "fad"
    msg = (
        f"{where} got an argument of type {t.__name__} ({value!r}); fad differentiates "
        "real scalars: float, int or a fad tracer."
    )
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        raise ArrayArgumentError(msg)
    raise TypeError(msg)


def is_tracer(value: Any) -> bool:
    """Return whether ``value`` is a fad tracer (of any level); never raises."""
    t = type(value)
    kind = _is_tracer_type.get(t)
    if kind is not None:
        return kind
    if isinstance(value, (float, int)):
        _is_tracer_type[t] = False
        if isinstance(value, float):
            _FLOAT_SUBCLASSES.add(t)
        return False
    if isinstance(value, Tracer):
        _is_tracer_type[t] = True
        return True
    if isinstance(value, numbers.Real):
        _is_tracer_type[t] = False
    return False


def primal_value(value: Any) -> Any:
    """Strip every tracer off ``value`` and return the plain value inside."""
    while is_tracer(value):
        value = value.primal
    return value


def top_tracer(args: Sequence[Any], where: Primitive | str) -> tuple[type | None, int, bool]:
    """The class and level of the highest tracer among ``args`` (``(None, -1)``: none).

    The third value tells whether an argument is a float subclass (``np.float64``),
    which :func:`bind` makes a float for the tracers' rules.

    Raises:
        TypeError: for an argument that is neither a real number nor a tracer, or two
            tracers of different classes at the same level (naming ``where``).
    """
    top: type | None = None
    level = -1
    float_like = False
    for arg in args:
        t = type(arg)
        if t is float or t is int:
            continue
        kind = _is_tracer_type.get(t)  # _kind(), inlined for the types already seen: one call less
        if kind is None:
            kind = _kind(t, arg, where if isinstance(where, Primitive) else None)
        if not kind:
            if t in _FLOAT_SUBCLASSES:
                float_like = True
        else:
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
    return top, level, float_like


def bind(prim: Primitive, *args: Any) -> Any:
    """Apply ``prim`` to ``args``: on numbers directly, else by the top tracer's rule.

    Beside tracers, a float subclass (``np.float64``) is made a float, so that the
    tracers' rules and fast paths see the types they expect.
    """
    # The common cases without a call: plain numbers, and tracers of known types whose
    # levels decide; anything else (a new type, a number subclass, two kinds at one
    # level) takes the full search of top_tracer, which also raises its errors.
    top: type | None = None
    level = -1
    for arg in args:
        t = type(arg)
        if t is float or t is int:
            continue
        if _is_tracer_type.get(t) is not True:
            break
        arg_level = arg.level
        if arg_level > level:
            top, level = t, arg_level
        elif arg_level == level and t is not top:
            break
    else:
        if top is None:
            return prim.impl(*args)
        return top.apply(prim, args, level)  # type: ignore[attr-defined]
    try:
        top, level, float_like = top_tracer(args, prim)
    except ArrayArgumentError:  # ``x * ndarray``: the primitive at each element
        from fad._numpy import elementwise

        return elementwise(prim, args)
    if top is None:
        return prim.impl(*args)
    if float_like:
        args = tuple(float(a) if type(a) in _FLOAT_SUBCLASSES else a for a in args)
    return top.apply(prim, args, level)  # type: ignore[attr-defined]


# ``prim(*args)`` is ``bind(prim, *args)``: set the function itself as the method, so
# that calling a primitive costs one Python call, not two.
Primitive.__call__ = bind  # type: ignore[method-assign, assignment]


def recursion_error(mode: str) -> FadRecursionError:
    """The error a recursive strategy raises when a program is too deep for it."""
    return FadRecursionError(
        f'mode="{mode}" backpropagates by recursion, one Python frame per step of the '
        'program, and this program is deeper than Python\'s recursion limit. Use '
        'mode="tape" (the default), which runs its backward pass as a loop.'
    )
