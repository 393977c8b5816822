"""``fad.primitive``: define a new elementary function once, differentiate it everywhere.

A primitive is a value on plain numbers and one partial derivative per argument.
Each partial is called as ``partial(ans, *args)``, where ``ans`` is the primitive's
own value at ``args`` (so ``exp`` can say ``lambda ans, x: ans``), and is written with
fad's operations (``+ - * / **`` and :mod:`fad.math`), so that it is differentiable
again. From that one definition every tracer derives its rule: ``Dual`` (forward),
each reverse strategy (``"tape"``, ``"memo"``, ``"naive"``, user tracers), nesting to
any order, and Taylor mode (:class:`~fad.tracers.jet.Jet`, :func:`fad.taylor`).

Nothing is registered globally: the returned :class:`~fad._core.Primitive` is the
whole definition, and every tracer reads its partials when it meets it.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import Any

from fad._core import Primitive, is_tracer

__all__ = ["primitive"]


def _zero(*_: Any) -> float:
    return 0.0


def _positional_arity(fn: Callable[..., Any]) -> int | None:
    """How many positional arguments ``fn`` takes, or None if it takes any number."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    n = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            n += 1
    return n


def _checked(impl: Callable[..., Any], label: str) -> Callable[..., Any]:
    """``impl``, refusing a result that is not a real scalar (a list, a complex, None)."""

    def checked_impl(*args: Any) -> Any:
        out = impl(*args)
        t = type(out)
        if t is float or t is int:  # the common case, checked first
            return out
        if t is not bool and isinstance(out, numbers.Real) and not is_tracer(out):
            return out
        msg = (
            f"fad.primitive {label!r}: impl returned a {t.__name__} ({out!r}) for arguments "
            f"{args!r}; impl must return one real scalar (a float or an int). For several "
            "outputs define one primitive per output."
        )
        raise TypeError(msg)

    checked_impl.__name__ = getattr(impl, "__name__", label)
    checked_impl.__doc__ = getattr(impl, "__doc__", None)
    return checked_impl


def primitive(
    impl: Callable[..., Any],
    *partials: Callable[..., Any] | None,
    name: str | None = None,
) -> Primitive:
    """Define a new elementary function by its value and its partial derivatives.

    Args:
        impl: the function on plain numbers (``float``/``int``), e.g. ``math.erf`` or a
            ``lambda``. fad calls it only with plain numbers, never with tracers.
        *partials: one per argument of ``impl``: ``partial_i(ans, *args)`` returns
            ∂ans/∂argᵢ, where ``ans = impl(*args)``. Write it with fad operations
            (arithmetic and :mod:`fad.math`), not with Python's ``math``, so that it
            can itself be differentiated (second and higher derivatives, Taylor
            mode). ``None`` stands for a zero partial (an argument the function does
            not depend on smoothly, such as an integer order). Giving no partials at
            all defines a function with zero derivative (a step function).
        name: the name used in error messages; defaults to ``impl.__name__``.

    Returns:
        A :class:`~fad._core.Primitive`: call it on numbers or on any tracers.

    Raises:
        TypeError: if the number of partials does not match the arguments of
            ``impl``, or a partial does not take ``(ans, *args)``; when the primitive
            is applied, if ``impl`` returns anything but one real scalar.

    Example:
        >>> import math
        >>> import fad
        >>> softplus = fad.primitive(
        ...     lambda x: math.log1p(math.exp(x)),
        ...     lambda ans, x: 1.0 / (1.0 + fad.math.exp(-x)),
        ...     name="softplus",
        ... )
        >>> round(softplus(0.0), 6), fad.grad(softplus)(0.0)
        (0.693147, 0.5)
        >>> round(fad.derivative(softplus, order=2)(0.0), 6)
        0.25
    """
    label = name if name is not None else getattr(impl, "__name__", "primitive")
    if not callable(impl):
        msg = (
            f"fad.primitive got impl={impl!r}, which is not callable; pass the function "
            "on plain numbers first."
        )
        raise TypeError(msg)
    arity = _positional_arity(impl)
    if partials and arity is not None and arity != len(partials):
        msg = (
            f"fad.primitive {label!r}: impl takes {arity} argument(s) but {len(partials)} "
            "partial(s) were given; give one partial per argument, each "
            "partial(ans, *args) -> ∂ans/∂arg (None for a zero partial)."
        )
        raise TypeError(msg)
    fns: list[Callable[..., Any]] = []
    for i, p in enumerate(partials):
        if p is None:
            fns.append(_zero)
            continue
        if not callable(p):
            msg = (
                f"fad.primitive {label!r}: partial {i} is {p!r}, not a function "
                "(ans, *args) -> value."
            )
            raise TypeError(msg)
        p_arity = _positional_arity(p)
        if p_arity is not None and p_arity != len(partials) + 1:
            msg = (
                f"fad.primitive {label!r}: partial {i} takes {p_arity} argument(s); partials "
                f"are called as partial(ans, *args), with {len(partials) + 1} arguments here "
                "(write `lambda ans, x: ...`, ans being the function's value)."
            )
            raise TypeError(msg)
        fns.append(p)
    return Primitive(label, _checked(impl, label), fns if fns else None)
